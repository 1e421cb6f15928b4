"""The controller's record of a run: each finished case's progress line, the JSON report written whole
(saying whether every selected case finished), and the terminal summary.  Registered by the plugin."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Optional

import pytest

from ..isolation.faults import case_id_of
from ..isolation.timing import PHASES
from .journal import write_whole
from .summary import write_summary


def git_revision() -> Optional[str]:
    """The checkout's commit when the suite runs from a git checkout, else None."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def status_of(report) -> str:
    if hasattr(report, "wasxfail") and report.skipped:
        return "deviation"
    if report.skipped:
        return "skipped"
    return "pass" if report.passed else "fail"



class Collector:
    def __init__(self, session):
        self.session = session
        path = session.config.getoption("bn_progress")
        self.progress = open(path, "a", buffering=1) if path else None  # one line per case, flushed as written

    def pytest_collection_finish(self, session):
        self.session.selected(item.nodeid for item in session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        self.session.selected(ids)

    def pytest_runtest_logreport(self, report):
        self.session.add(report)
        if report.when == "call" or report.when == "setup" and not report.passed:
            case_id = case_id_of(report.nodeid)  # a matrix case that ran, or was skipped or errored in setup
            if case_id:
                self.session.finished.add(case_id)
                if self.progress is not None:
                    self.progress.write(case_id + "\n")

    def pytest_sessionfinish(self, session):
        if self.progress is not None:
            self.progress.close()
        path = session.config.getoption("bn_report")
        if path and self.session.all_results():
            with PHASES("report"):
                write_whole(path, json.dumps(self.session.report(), indent=1, sort_keys=True) + "\n")

    def pytest_terminal_summary(self, terminalreporter):
        write_summary(terminalreporter, self.session)
        if self.session.all_results() and not self.session.complete():
            terminalreporter.write_line("bn-behaviour: the run stopped before every selected case finished (the "
                                        "report says complete: false)", yellow=True)
