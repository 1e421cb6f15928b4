"""The journal of a run: every finished matrix case as it finishes, so an interrupted run loses only what ran.

``--bn-journal PATH`` (``bn-behaviour report`` passes ``<out>/<target>.journal.jsonl``): the plugin's
controller (the xdist controller, or the one pytest process) appends every test report of a matrix case
to PATH, one JSON line each, written whole by one ``write()`` on a file opened for appending (nothing
is buffered in the process, so a killed process leaves every finished case).  A case that crashed or
ran out of time (``bn_behaviour.isolation``) is a test report like any other.

The first line is the run's **head**: the report's provenance (``format``, ``suite``, ``layer``,
``options``, ``target`` with its versions, :meth:`bn_behaviour.plugin.Session.head`).  A run given a
PATH that starts with its own head **replays** the cases the journal holds as finished instead of
running them: their reports go through pytest's own hooks as if they had just run (so the terminal,
``--bn-report``, junitxml and the exit status see them as before), then the other cases run and are
appended.  A journal with another head (another target, version, layer or option) is started afresh.

Reading: a line that is not whole (no newline: the process died while writing it, or the disk was
full) or is no JSON object is ignored; per test, the last report of each phase counts; a case is
finished when its ``call`` report is there, or a ``setup`` report that did not pass (a skip, an error).

>>> case = "test_behaviour.py::test_behaviour[a]"
>>> reports = {case: {"setup": {"when": "setup", "outcome": "passed"}}}
>>> finished(reports[case]), finished({**reports[case], "call": {"when": "call", "outcome": "failed"}})
(False, True)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import pytest

from ..isolation.faults import case_id_of

#: The key of the head line.
HEAD = "head"
#: The order a test's reports are replayed in.
PHASES = ("setup", "call", "teardown")
#: What xdist adds to a report it carries from a worker: that run's, never replayed.
XDIST = ("node", "item_index", "worker_id", "testrun_uid")


def path_for(out: Path, target: str) -> Path:
    """Where ``bn-behaviour report`` keeps a target's journal (not ``.json``: a report folder's ``*.json``
    are reports)."""
    return Path(out) / f"{target}.journal.jsonl"


def read(path) -> tuple[Optional[dict], dict[str, dict[str, dict]]]:
    """(the head, node ID -> phase -> its last report) of the journal at ``path``; (None, {}) when there
    is none.  Lines that are not whole or not JSON objects are left out."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None, {}
    head, reports = None, {}
    for n, line in enumerate(data.split(b"\n")[:-1]):  # the last piece has no newline: not whole
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if n == 0 and HEAD in entry:
            head = entry[HEAD]
        elif isinstance(entry.get("report"), dict) and entry["report"].get("when") in PHASES:
            reports.setdefault(entry.get("nodeid"), {})[entry["report"]["when"]] = entry["report"]
    return head, reports


def finished(phases: dict[str, dict]) -> bool:
    """Whether a test's reports say it finished: its call, or a setup that did not pass."""
    return "call" in phases or phases.get("setup", {}).get("outcome", "passed") != "passed"


def done(path) -> dict[str, dict[str, dict]]:
    """Node ID -> phase -> report of every matrix case the journal at ``path`` holds as finished."""
    return {nodeid: phases for nodeid, phases in read(path)[1].items()
            if isinstance(nodeid, str) and case_id_of(nodeid) and finished(phases)}


def observed(path) -> int:
    """How many matrix cases the journal at ``path`` holds as finished."""
    return len(done(path))


def _line(entry: dict) -> bytes:
    return (json.dumps(entry, sort_keys=True, default=repr) + "\n").encode()


class Journal:
    """The plugin's journal in one pytest process: the controller appends, a process that runs tests replays.

    ``head`` is this run's; the journal's cases are replayed only when its head is the same."""

    def __init__(self, config, path: str, head: dict, controller: bool):
        self.config, self.path = config, str(path)
        self.head = json.loads(json.dumps(head, sort_keys=True, default=repr))  # as it reads back
        old, _ = read(self.path)
        self.same = old == self.head
        self.replay = done(self.path) if self.same else {}
        #: Why the journal was started afresh (another run's head), for the terminal summary.
        self.restarted = old is not None and not self.same
        #: Why appending stopped (a full disk), for the terminal summary.
        self.failed: Optional[str] = None
        self.fd: Optional[int] = None
        self.controller = controller
        if controller:
            try:
                self.fd = self._open()
            except OSError as e:
                raise pytest.UsageError(f"--bn-journal {self.path}: {e}") from None

    def _open(self) -> int:
        if not self.same:  # a new journal, whole or not at all: write beside it, then replace
            tmp = f"{self.path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(_line({HEAD: self.head}))
            os.replace(tmp, self.path)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        if os.path.getsize(self.path) and not _ends_with_newline(self.path):
            os.write(fd, b"\n")  # end a line a killed run left half written: the next entry starts whole
        return fd

    # -- the controller: append ----------------------------------------------
    def pytest_runtest_logreport(self, report) -> None:
        if self.fd is None or report.nodeid in self.replay or not case_id_of(report.nodeid):
            return
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        if data is None:
            return
        line = _line({"nodeid": report.nodeid, "report": {k: v for k, v in data.items() if k not in XDIST}})
        try:
            written = os.write(self.fd, line)
        except OSError as e:
            written, self.failed = 0, str(e)
        if written < len(line):  # a full disk: the run goes on; the cases from here on are not kept
            self.failed = self.failed or f"wrote {written} of {len(line)} bytes"
            self.pytest_sessionfinish(None)

    # -- a process that runs tests: replay -----------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        phases = self.replay.get(item.nodeid)
        if phases is None:
            return None
        hook, config = item.ihook, item.config
        hook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for when in PHASES:
            if when in phases:
                report = config.hook.pytest_report_from_serializable(config=config, data=phases[when])
                hook.pytest_runtest_logreport(report=report)
        hook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def pytest_terminal_summary(self, terminalreporter) -> None:
        said = [f"{len(self.replay)} finished cases replayed from it, not run again"] * bool(self.replay) + [
            "written by a run of another target, version or options: started afresh"] * self.restarted + [
            f"appending stopped ({self.failed}): the cases that finished after are not kept"] * bool(self.failed)
        if said and self.controller:
            terminalreporter.write_line(f"bn-behaviour journal {self.path}: {'; '.join(said)}")

    def pytest_sessionfinish(self, session) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def write_whole(path, text: str) -> None:
    """Write ``path`` whole or not at all (a killed process, a full disk): beside it, then replace it."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
