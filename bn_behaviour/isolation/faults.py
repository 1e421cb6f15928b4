"""What a case that gave no result is, and how it is recorded (``bn_behaviour.isolation`` detects it).

A **fault** is a dict (``report/schema.json``, ``$defs/fault``): ``kind``
(``crash``: the process died; ``timeout``: the case ran past its limit), the
``signal`` and ``signum`` or the ``exit_code`` that ended the process, the
last ``phase`` the case entered, the limit in ``seconds`` and ``where``, the
innermost Python frame.  The case's record carries it, its status is the
kind, and its observation holds placeholders and the one-line description as
its ``error``.

What ended the process is read from what it left (:func:`diagnose`): its
faulthandler dump names a fatal signal (``Fatal Python error: Aborted``) or a
hang it ended itself (``Timeout (0:05:30)!``, then ``_exit(1)``).  A process
that leaves no dump was killed (SIGKILL, SIGTERM) or exited (``os._exit``, C
``exit()``): only a parent that waits for it, the supervisor without xdist,
learns that signal or exit code; under xdist the fault says "no dump".

>>> describe({"kind": "crash", "signal": "SIGABRT", "signum": 6, "exit_code": None, "phase": "step"})
'Crash: SIGABRT (signal 6) in phase step'
>>> describe({"kind": "crash", "signal": None, "signum": None, "exit_code": None, "phase": "build"})
'Crash: killed or exited, no dump, in phase build'
>>> describe({"kind": "timeout", "seconds": 300.0, "phase": "compile_trace"})
'Timeout: no result after 300 s, in phase compile_trace'
>>> case_id_of("test_behaviour.py::test_behaviour[layer-frozen=none-when=before_compile-path=call-training=true]")
'layer-frozen=none-when=before_compile-path=call-training=true'
>>> case_id_of("tests/test_x.py::test_other[1-2]") is None
True
"""

from __future__ import annotations

import json
import os
import re
import signal
from typing import Optional

from ..matrices import case_from_id
from ..rules import deviations as dev

#: The key of a case's record among a test report's ``user_properties``.
CASE_KEY = "bn_behaviour_case"
#: faulthandler's words for the fatal signals it reports ("Fatal Python error: Aborted").
FATAL = {"Segmentation fault": "SIGSEGV", "Aborted": "SIGABRT", "Floating-point exception": "SIGFPE",
         "Floating point exception": "SIGFPE", "Bus error": "SIGBUS", "Illegal instruction": "SIGILL"}
#: The observation of a layer case that gave none (the placeholders of ``report/schema.json``).
NOT_OBSERVED = {"mode": "n/a", "moving_stats": "n/a", "affine": "n/a", "trainable_weights": [],
                "non_trainable_weights": [], "model_trainable_weights": []}
_FRAME = re.compile(r'^  File "(.+)", line (\d+) in (.+)$', re.M)


def describe(fault: dict) -> str:
    """The fault in one line, ``Class: message`` like a recorded error."""
    phase = fault.get("phase") or "unknown"
    if fault["kind"] == "timeout":
        return f"Timeout: no result after {fault['seconds']:g} s, in phase {phase}"
    if fault.get("signal"):
        cause = f"{fault['signal']} (signal {fault['signum']})" if fault.get("signum") else fault["signal"]
    elif fault.get("exit_code") is not None:
        cause = f"exit code {fault['exit_code']}"
    else:  # no dump, and no parent that waited for it (xdist)
        cause = "killed or exited, no dump,"
    return f"Crash: {cause} in phase {phase}"


def case_id_of(nodeid: str) -> Optional[str]:
    """The matrix case a test runs, read from its ID (``<test>[<case ID>]``), or None."""
    m = re.search(r"\[(.+)\]$", nodeid)
    if not m:
        return None
    try:
        case_from_id(m.group(1))
    except ValueError:
        return None
    return m.group(1)


def fault_record(case_id: str, fault: dict, entries: list) -> tuple[str, dict]:
    """(matrix name, report record) of a case that gave no result."""
    matrix, case = case_from_id(case_id)
    entry = dev.find(entries, case)
    error = describe(fault)
    observed = {**NOT_OBSERVED, "error": error} if "mode" in matrix.observed_fields else {"error": error}
    return matrix.name, {"id": case.id, "scenario": case.axes(), "observed": observed, "expected": {},
                         "violated": [], "deviation": entry.id if entry else None,
                         "deviation_source": entry.source if entry else None, "fault": fault}


def mark(report, nodeid: str, fault: dict, entries: list, longrepr=None) -> None:
    """Make ``report`` the failed call of a case that gave no result, carrying its record."""
    report.when, report.outcome = "call", "failed"
    if longrepr is not None:
        report.longrepr = longrepr
    case_id = case_id_of(nodeid)
    if case_id:
        name, record = fault_record(case_id, fault, entries)
        report.user_properties.append((CASE_KEY, {"matrix": name, "record": record, "status": fault["kind"]}))


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def where(dump: str) -> Optional[str]:
    """The innermost frame of the thread that ran the case, in a faulthandler dump (the thread whose
    stack holds pytest's runner, else the first one).

    >>> where('Fatal Python error: Aborted\\n\\nCurrent thread 0x1 (most recent call first):\\n'
    ...       '  File "/x/layers.py", line 9 in call\\n  File "/y/_pytest/runner.py", line 3 in f\\n')
    '/x/layers.py:9 in call'
    """
    stacks = [_FRAME.findall(block) for block in re.split(r"\n(?=(?:Current thread|Thread) 0x)", dump)]
    stacks = [s for s in stacks if s]
    if not stacks:
        return None
    path, line, func = next((s for s in stacks if any("_pytest" in p for p, _, _ in s)), stacks[0])[0]
    return f"{path}:{line} in {func}"


def diagnose(folder: str, name: str, nodeid: Optional[str], signum: Optional[int] = None,
             exit_code: Optional[int] = None, timeout: float = 0.0) -> tuple[Optional[str], dict, str]:
    r"""What ended process ``name``: its state file, its faulthandler dump and, from a parent that waited for
    it, its ``signum`` or ``exit_code``; (the node ID it was running or None, the fault, a longer text for the
    test report).

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "gw0.dump"), "w") as f:
    ...     _ = f.write('Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent call first):\n'
    ...                 '  File "/x/layers.py", line 9 in call\n')
    >>> fault = diagnose(folder, "gw0", None)[1]
    >>> fault["signal"], fault["signum"], fault["exit_code"], fault["where"]
    ('SIGSEGV', 11, None, '/x/layers.py:9 in call')
    >>> with open(os.path.join(folder, "gw0.dump"), "w") as f:
    ...     _ = f.write('Timeout (0:00:11)!\nThread 0x1 (most recent call first):\n  File "/x/c.py", line 3 in lock\n')
    >>> fault = diagnose(folder, "gw0", None, timeout=10.0)[1]
    >>> fault["kind"], fault["seconds"], fault["exit_code"]
    ('timeout', 10.0, 1)
    >>> os.remove(os.path.join(folder, "gw0.dump"))
    >>> _, fault, detail = diagnose(folder, "gw0", None)
    >>> fault["signal"], fault["exit_code"], detail.splitlines()[1][:40]
    (None, None, 'It left no faulthandler dump: it was kil')
    """
    try:
        state = json.loads(_read(os.path.join(folder, f"{name}.state")) or "{}")
    except ValueError:
        state = {}
    running = state.get("nodeid")
    dump = _read(os.path.join(folder, f"{name}.dump"))
    fatal = re.search(r"Fatal Python error: (.+)", dump)
    if signum is None and fatal and fatal.group(1).strip() in FATAL:
        signum = int(getattr(signal, FATAL[fatal.group(1).strip()]))
    kind = "timeout" if dump.startswith("Timeout (") else "crash"
    if kind == "timeout" and signum is None and exit_code is None:
        exit_code = 1  # faulthandler.dump_traceback_later(exit=True) ends the process with _exit(1)
    phase = state.get("phase") if nodeid is None or running == nodeid else None
    fault = {"kind": kind,
             "signal": signal_name(signum) if signum else None, "signum": signum,
             "exit_code": None if signum else exit_code, "phase": phase, "seconds": None, "where": where(dump)}
    if fault["kind"] == "timeout":
        fault["seconds"] = timeout
    how = "did not return and was killed" if fault["kind"] == "timeout" else "died"
    detail = f"bn-behaviour: the process running this case {how}. {describe(fault)}."
    if signum is None and exit_code is None and not dump.strip():
        detail += ("\nIt left no faulthandler dump: it was killed (SIGKILL, SIGTERM: the OOM killer, a CI limit) or"
                   " exited (os._exit, C exit()); run it without xdist (-p no:xdist) to learn its signal or exit code.")
    if fault["where"]:
        detail += f"\nLast Python frame: {fault['where']}"
    if dump.strip():
        detail += "\n\nfaulthandler (the test runner's frames left out):\n" + trim(dump)
    return running, fault, detail


def signal_name(signum: int) -> str:
    """
    >>> signal_name(6), signal_name(99)
    ('SIGABRT', 'signal 99')
    """
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def trim(dump: str) -> str:
    r"""A faulthandler dump without the test runner's frames (pytest, pluggy, xdist, execnet) and the module list.

    >>> trim('Fatal Python error: Aborted\n  File "/x/layers.py", line 9 in call\n'
    ...      '  File "/v/_pytest/runner.py", line 3 in f\nExtension modules: numpy (total: 1)\n')
    'Fatal Python error: Aborted\n  File "/x/layers.py", line 9 in call'
    """
    return "\n".join(line for line in dump.strip().splitlines() if not line.startswith("Extension modules:")
                     and not (_FRAME.match(line) and re.search(r"[/\\](_pytest|pluggy|xdist|execnet)[/\\]", line)))
