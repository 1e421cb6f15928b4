"""Without xdist, a crash would end pytest itself: a supervisor outlives it and resumes the run.

A run that is not distributed (``-p no:xdist``, ``-n 0``) and has matrix
cases to run forks once collection is done (:func:`supervise`): the child
runs the tests as pytest always does, the parent waits.  Forking there costs
a few milliseconds: no framework is imported yet (a target's driver is
imported when its first case runs).  Every test report of the child is
appended to a journal.  When the child dies in a case (its state file names
it, ``bn_behaviour.isolation``), the parent records the fault in the journal
and forks again from the same point: the new child replays the journal's
reports (the terminal, ``--bn-report``, junitxml and the exit status see every
test once), reports the crashed case as failed with status ``crash`` (or
``timeout``, for a hang killed in C code), and runs the rest.  Each fault
consumes one test, so the loop ends.  The parent ignores Ctrl-C (the child
handles it as pytest does), forwards SIGTERM and SIGHUP to the child, and
exits with the last child's status.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import warnings
from typing import Optional

import pytest

from .faults import describe, mark


class Journal:
    """The supervised run's test reports and faults, one JSON line each, appended as they happen."""

    def __init__(self, path: str):
        self.path = path
        self.done: dict[str, list] = {}
        self.faults: dict[str, tuple[dict, str]] = {}
        self.captured: tuple[str, str] = ("", "")
        self.replaying = False
        self._file = None

    def load(self) -> None:
        try:
            with open(self.path) as f:
                lines = [json.loads(line) for line in f if line.endswith("\n")]
        except OSError:
            lines = []
        for entry in lines:
            if "fault" in entry:
                self.faults[entry["nodeid"]] = (entry["fault"], entry["detail"])
            else:
                self.done.setdefault(entry["nodeid"], []).append(entry["report"])

    def append(self, entry: dict) -> None:
        if self._file is None:
            self._file = open(self.path, "a")  # open while the run lasts
        self._file.write(json.dumps(entry, default=repr) + "\n")  # a test's odd user_properties as text
        self._file.flush()


def supervise(guard, session) -> None:
    """Fork, wait, resume after a crash; return only in a child, which runs the tests."""
    journal = Journal(os.path.join(guard.ensure_folder(), "journal.jsonl"))
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    while True:
        sys.stdout.flush()
        sys.stderr.flush()
        with warnings.catch_warnings():  # Python 3.12+ warns of fork() beside threads (OpenBLAS, a framework's pools)
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            for sig, handler in handlers.items():  # pytest's, not the supervisor's
                signal.signal(sig, signal.SIG_DFL if handler is None else handler)
            _child(guard, journal, session)
            return
        status, stopping = _wait(pid)
        nodeid, fault, detail = guard.diagnose(str(pid), None, *_signal_or_code(status))
        if nodeid is None or stopping:
            _finish(guard, status)
        journal.append({"nodeid": nodeid, "fault": fault, "detail": detail})
        print(f"\nbn-behaviour: the pytest process stopped in {nodeid} ({describe(fault)}); resuming after it"
              " in a new process", file=sys.stderr, flush=True)


def _signal_or_code(status: int) -> tuple[Optional[int], Optional[int]]:
    code = os.waitstatus_to_exitcode(status)
    return (-code, None) if code < 0 else (None, code)


def _wait(pid: int) -> tuple[int, bool]:
    """The child's wait status, and whether the supervisor was told to stop meanwhile."""
    stopping = []

    def forward(signum, frame):
        stopping.append(signum)
        os.kill(pid, signum)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the child, in the same process group, gets it too
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    _, status = os.waitpid(pid, 0)
    return status, bool(stopping)


def _finish(guard, status: int) -> None:
    """End the supervisor as its last child ended."""
    code = os.waitstatus_to_exitcode(status)
    if guard.folder:
        shutil.rmtree(guard.folder, ignore_errors=True)
    os._exit(128 - code if code < 0 else code)


def _child(guard, journal: Journal, session) -> None:
    journal.load()
    guard.journal = journal
    if journal.faults:
        capman = session.config.pluginmanager.getplugin("capturemanager")
        try:  # what the crashed process wrote to the captured file descriptors
            journal.captured = capman.read_global_capture() if capman and capman.is_globally_capturing() else ("", "")
        except (AssertionError, OSError, ValueError):
            pass
    session.config.pluginmanager.register(_Replay(guard, journal), "bn_behaviour_replay")


class _Replay:
    """The child's side: journal each report; replay the earlier children's tests, fail the crashed ones.
    ``guard`` is the process's ``bn_behaviour.isolation.Guard``."""

    def __init__(self, guard, journal: Journal):
        self.guard, self.journal = guard, journal

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        done, fault = self.journal.done.get(item.nodeid), self.journal.faults.get(item.nodeid)
        if done is None and fault is None:
            return None
        config = item.config
        if fault is not None:
            report = pytest.TestReport(nodeid=item.nodeid, location=item.location, keywords={}, outcome="failed",
                                       longrepr=None, when="call", user_properties=[])
            mark(report, item.nodeid, fault[0], self.guard.entries(), longrepr=fault[1])
            out, err = self.journal.captured
            report.sections += [(f"Captured {n} before the crash", t) for n, t in (("stdout", out), ("stderr", err))
                                if t]
            self.journal.captured = ("", "")
            reports = [report]
        else:
            reports = [config.hook.pytest_report_from_serializable(config=config, data=d) for d in done]
        self.journal.replaying = True
        try:
            item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            for report in reports:
                item.ihook.pytest_runtest_logreport(report=report)
            item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        finally:
            self.journal.replaying = False
        return True

    def pytest_runtest_logreport(self, report):
        if not self.journal.replaying:
            config = self.guard.config
            data = config.hook.pytest_report_to_serializable(config=config, report=report)
            if data is not None:
                self.journal.append({"nodeid": report.nodeid, "report": data})
