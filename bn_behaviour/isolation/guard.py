"""A crash or a hang costs one case, never the run.

Third-party BatchNormalization classes and nightly builds abort processes and
deadlock.  Every process that runs matrix cases keeps a small state file in a
folder the run shares, ``<name>.state`` (the node ID of the case it runs and
the last phase that case entered: ``bn_behaviour.isolation.timing`` names them), and
points :mod:`faulthandler` at ``<name>.dump``; whoever outlives the process
reads both and records the case with the status ``crash`` or ``timeout``:

* **crash**, the process died (a signal, ``abort()``, a segfault, an
  ``_exit``).  Under xdist the controller turns xdist's "worker crashed"
  report into the case's record (``pytest_handlecrashitem``) and xdist
  replaces the worker: the guard keeps xdist's cap on replaced workers itself,
  not counting crashed cases (``pytest_testnodedown``, ``--max-worker-restart``);
  without xdist, :mod:`bn_behaviour.isolation.supervisor` forks the pytest process once
  collection is done and resumes after the crashed case.  What ended the
  process is read from its dump (``bn_behaviour.isolation.faults.diagnose``), and from
  its wait status where a parent waits for it (the supervisor).
* **timeout** (``--bn-case-timeout``): at the limit SIGALRM raises
  :class:`CaseTimeout` inside the case (a Python-level hang: a loop, a
  sleep).  A hang in C code that never returns to Python cannot see it:
  faulthandler's watchdog thread, which needs no GIL, dumps the stacks and
  ends the process ``grace`` seconds later, and the dump names it a timeout.
"""

from __future__ import annotations

import faulthandler
import glob
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from typing import Callable, Optional

import pytest

from . import supervisor
from .faults import CASE_KEY, case_id_of, describe, diagnose, mark
from .timing import PHASES

__all__ = ["CASE_KEY", "DEFAULT_TIMEOUT", "CaseTimeout", "Guard", "add_options"]
#: The slowest honest cases (workflows) take seconds to ~30 s, several times that on a loaded machine.
DEFAULT_TIMEOUT = 300.0
FOLDER_KEY = "bn_behaviour_fault_dir"  # the shared folder, handed to xdist workers in ``workerinput``
PREFIX = "bn-behaviour-faults-"  # <PREFIX><owner pid>-<random> in the temporary directory
NO_CAP = 2**31 - 1  # --max-worker-restart for xdist when the guard keeps the cap


def add_options(group) -> None:
    default = os.environ.get("BN_BEHAVIOUR_CASE_TIMEOUT") or DEFAULT_TIMEOUT  # a string is parsed as the option's
    group.addoption("--bn-case-timeout", type=float, default=default,
                    metavar="SECONDS", help=f"time limit of one case, recorded as status timeout (default "
                    f"{DEFAULT_TIMEOUT:g}; 0: none) (env BN_BEHAVIOUR_CASE_TIMEOUT)")
    group.addoption("--bn-isolate", choices=("auto", "off"), default=os.environ.get("BN_BEHAVIOUR_ISOLATE", "auto"),
                    help="auto (default): a case that crashes its process is recorded as status crash and the run "
                    "goes on (xdist replaces the worker; without xdist a supervisor process resumes the run); "
                    "off: no supervisor without xdist (env BN_BEHAVIOUR_ISOLATE)")


def grace(seconds: float) -> float:
    """How long after the limit a hang in C code is ended by killing its process.

    >>> grace(300), grace(3)
    (30.0, 1.0)
    """
    return min(30.0, max(1.0, seconds / 10))


class CaseTimeout(BaseException):
    """Raised in a case at its time limit: a BaseException, so the ``except Exception`` that records a
    framework's error as a behaviour (and the framework's own) let it through."""

    def __init__(self, fault: dict):
        super().__init__(describe(fault))
        self.fault = fault


class Tracker:
    """A process's state file: the case it runs and its phase, rewritten in place at each step."""

    def __init__(self, path: str):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self.nodeid: Optional[str] = None
        self.phase: Optional[str] = None
        self._resume: Optional[str] = None
        self._size = 0

    def at(self, phase: Optional[str], nodeid: Optional[str] = "") -> None:
        if nodeid != "":
            self.nodeid = nodeid
        self.phase = phase
        data = json.dumps({"nodeid": self.nodeid, "phase": phase}).encode()
        self._size = max(self._size, len(data))
        os.pwrite(self.fd, data.ljust(self._size), 0)

    def watch(self, phase: str, entering: bool) -> None:
        """A phase of ``bn_behaviour.isolation.timing`` entered or left (``PHASES.watch``): the last one entered
        is the phase, but the framework's ``import`` (once per process) only while it lasts."""
        if self.nodeid is None:
            return
        if entering:
            if phase == "import":
                self._resume = self.phase
            self.at(phase)
        elif phase == "import":
            self.at(self._resume)

    def close(self) -> None:
        os.close(self.fd)


class Alarm:
    """The time limit of one case: SIGALRM raises :class:`CaseTimeout` (main thread only), and
    faulthandler ends the process ``grace`` seconds later if the case never returns to Python.
    Another SIGALRM timer (pytest-timeout's) keeps its deadline."""

    def __init__(self, seconds: float, dump, tracker: Optional[Tracker]):
        self.seconds, self.dump, self.tracker = seconds, dump, tracker
        self.armed, self.signal, self.previous, self.other = False, False, None, None

    def __enter__(self) -> Alarm:
        now = time.monotonic()
        self.deadline, self.armed = now + self.seconds, True
        if self.dump is not None:
            faulthandler.dump_traceback_later(self.seconds + grace(self.seconds), exit=True, file=self.dump)
        self.signal = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        if self.signal:
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            other = signal.setitimer(signal.ITIMER_REAL, self.seconds)[0]
            self.other = now + other if other else None
            if other and other < self.seconds:
                signal.setitimer(signal.ITIMER_REAL, other)
        return self

    def _fire(self, signum, frame) -> None:
        __tracebackhide__ = True
        if not self.armed:
            return
        now = time.monotonic()
        if now < self.deadline - 1e-3:  # the other timer's deadline came first
            self.other = None
            signal.setitimer(signal.ITIMER_REAL, self.deadline - now)
            if callable(self.previous):
                self.previous(signum, frame)
            return
        self.cancel()
        phase = self.tracker.phase if self.tracker else None
        raise CaseTimeout({"kind": "timeout", "signal": None, "signum": None, "exit_code": None, "phase": phase,
                           "seconds": self.seconds,
                           "where": f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"})

    def cancel(self) -> None:
        if not self.armed:
            return
        self.armed = False
        if self.signal:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL if self.previous is None else self.previous)
            if self.other is not None:
                signal.setitimer(signal.ITIMER_REAL, max(self.other - time.monotonic(), 1e-3))
        if self.dump is not None:
            faulthandler.cancel_dump_traceback_later()

    def __exit__(self, *exc) -> None:
        self.cancel()


def _sweep() -> None:
    """Remove the folders of runs killed outright (SIGKILL to the whole process group): their owner is gone."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), f"{PREFIX}*-*")):
        pid = os.path.basename(path)[len(PREFIX):].split("-")[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}") and sys.platform.startswith("linux"):
            shutil.rmtree(path, ignore_errors=True)


#: Sessions in progress in this process: more than one is a run inside a test (pytester), never supervised.
SESSIONS = [0]


class Guard:
    """The plugin's fault handling in one pytest process (controller, worker, or both without xdist)."""

    def __init__(self, config, entries: Callable[[], list], prepare: Callable[[], object], asked: bool = True):
        self.config = config
        self.entries, self.prepare = entries, prepare
        self.timeout = config.getoption("bn_case_timeout")
        if self.timeout < 0:
            raise pytest.UsageError("--bn-case-timeout must be 0 (no limit) or more seconds")
        winput = getattr(config, "workerinput", None)
        self.folder: Optional[str] = winput.get(FOLDER_KEY) if winput else None
        self.name: Optional[str] = winput["workerid"] if winput else None
        self.owner: Optional[int] = None  # the process that made the folder removes it
        self.tracker: Optional[Tracker] = None
        self.dump = None
        self.alarm: Optional[Alarm] = None
        self.journal = None  # set in a supervised process (bn_behaviour.isolation.supervisor)
        self.restart_cap: Optional[int] = None  # xdist's cap on crashed workers, when the guard keeps it
        self.crashes = 0  # crashed workers that count against it
        self.down = ""  # the xdist worker that went down last
        if asked:  # a run that asks for no bn case keeps xdist's options as its user set them
            self._take_over_restart_cap(config)

    def folder_path(self) -> str:
        """The shared folder's path, chosen once by the process that removes it; nothing is made yet."""
        if self.folder is None:
            self.owner = os.getpid()
            self.folder = os.path.join(tempfile.gettempdir(), f"{PREFIX}{self.owner}-{secrets.token_hex(6)}")
        return self.folder

    def ensure_folder(self) -> str:
        """The shared folder, made by the first process that runs a case (a run without cases makes none)."""
        folder = self.folder_path()
        if not os.path.isdir(folder):
            _sweep()
            os.makedirs(folder, mode=0o700, exist_ok=True)  # xdist's workers may race to make it
        return folder

    def diagnose(self, name: str, nodeid: Optional[str], signum=None, exit_code=None):
        return diagnose(self.ensure_folder(), name, nodeid, signum, exit_code, self.timeout)

    # -- the xdist controller ------------------------------------------------
    def _take_over_restart_cap(self, config) -> None:
        """xdist stops replacing crashed workers after ``--max-worker-restart`` crashes (default 4 per worker,
        against a collection that crashes every worker it starts).  A crashed case costs one case and the run
        goes on, so when the user set no cap, the guard keeps xdist's default itself and counts only the
        other crashes: xdist is told there is none (the option, read when xdist's session starts)."""
        workers = config.getoption("numprocesses", None)
        if (getattr(config, "workerinput", None) is None and workers and not config.option.collectonly
                and config.getoption("maxworkerrestart", None) is None):
            self.restart_cap = 4 * int(workers)  # xdist's default, get_default_max_worker_restart
            config.option.maxworkerrestart = str(NO_CAP)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):
        if self.restart_cap is not None and self.crashes > self.restart_cap:
            # where xdist checks its own cap: a crashed worker is about to be replaced
            pytest.exit(f"maximum crashed workers reached: {self.restart_cap} (crashes outside bn-behaviour's cases;"
                        " --max-worker-restart sets the cap)")
        node.workerinput[FOLDER_KEY] = self.folder_path()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        self.down = node.workerinput.get("workerid", "")  # the worker pytest_handlecrashitem is about, if any
        if error is not None:  # xdist counts every worker that went down with an error
            self.crashes += 1

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem, report, sched):
        if not case_id_of(crashitem):
            return  # not a matrix case: xdist's own report stands (and its crash counts against the cap)
        _, fault, detail = self.diagnose(self.down, crashitem)
        mark(report, crashitem, fault, self.entries(), longrepr=f"{report.longrepr}\n{detail}")
        self.crashes -= 1  # a crashed case is not counted (pytest_testnodedown came first)

    # -- a process that runs cases -------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session):
        SESSIONS[0] += 1

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        config = self.config
        if (config.option.collectonly or config.pluginmanager.has_plugin("dsession")
                or not any(item.get_closest_marker("bn_scenario") for item in session.items)):
            return None
        if (self.name is None and config.getoption("bn_isolate") == "auto" and SESSIONS[0] == 1
                and hasattr(os, "fork")):
            supervisor.supervise(self, session)  # returns in the process that runs the cases
        self.start(self.name or str(os.getpid()))
        return None

    def start(self, name: str) -> None:
        folder = self.ensure_folder()
        self.tracker = Tracker(os.path.join(folder, f"{name}.state"))
        self.dump = open(os.path.join(folder, f"{name}.dump"), "w")  # open while cases run
        faulthandler.enable(file=self.dump, all_threads=True)
        PHASES.watch = self.tracker.watch

    def pytest_runtest_logstart(self, nodeid, location):
        if self.tracker is not None:
            self.tracker.at("setup", nodeid)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        if self.tracker is None or not item.get_closest_marker("bn_scenario"):
            return (yield)
        self.tracker.at("call")
        if not self.timeout:
            return (yield)
        self.prepare()  # the framework's import, once per process, is not the case's time
        with Alarm(self.timeout, self.dump, self.tracker) as self.alarm:
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.excinfo is not None and isinstance(call.excinfo.value, CaseTimeout):
            mark(report, item.nodeid, call.excinfo.value.fault, self.entries())
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item):
        if self.tracker is not None:
            self.tracker.at("teardown")

    def pytest_runtest_logfinish(self, nodeid, location):
        if self.tracker is not None:
            self.tracker.at(None, None)

    def pytest_enter_pdb(self):
        if self.alarm is not None:
            self.alarm.cancel()  # no limit while someone debugs

    def pytest_sessionfinish(self, session):
        SESSIONS[0] -= 1
        if self.tracker is not None:
            self.tracker.at(None, None)  # the run ended: whatever stops the process now is not a case's
            PHASES.watch = None
            if sys.__stderr__ is not None:
                faulthandler.enable(file=sys.__stderr__, all_threads=True)
            self.tracker.close()
            self.dump.close()
            self.tracker = None

    def pytest_unconfigure(self, config):
        if self.owner == os.getpid() and self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
