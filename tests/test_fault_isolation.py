"""A crash or a hang costs one case, never the run (``bn_behaviour/isolation/``: the guard, its supervisor).

The harness tests run three scenarios of keras-tensorflow through the real
plugin in a fresh pytest process, with a layer of ``tests/faulty_layers.py``
that aborts, loops in Python or deadlocks in C in the one called with
``training=True``, with xdist (``-n 2``) and without (``-p no:xdist``), and
read the JSON report: every collected case is there, the faulty one as
``crash`` or ``timeout`` with its cause and phase, the others as usual; and
more crashed cases than xdist replaces workers for, while crashes outside the
matrix still stop the run at xdist's cap.  The other tests render such
records (summary counts, documents, page, schema) without starting a process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.command.summary import status_counts
from bn_behaviour.isolation.faults import fault_record
from bn_behaviour.matrices import MATRICES
from bn_behaviour.report.documents import behaviour_md, rules_md
from bn_behaviour.report.format import FORMAT, merge, schema
from bn_behaviour.report.page import html
from bn_behaviour.rules.tf2 import expected
from bn_behaviour.targets import TARGETS

TARGET = "keras-tensorflow"
TESTS = Path(__file__).resolve().parent
CASES = [Scenario("layer", "none", "before_compile", "call", t).id for t in ("none", "true", "false")]
FAULTY = CASES[1]  # called with training=True: the faulty layers misbehave there
MODES = {"xdist": ("-n", "2"), "no-xdist": ("-p", "no:xdist")}
#: A few seconds above what an honest case of the selection takes on a loaded 2-core machine.
LIMIT = "10"
#: The line of tests/faulty_layers.py that aborts.
ABORT_LINE = next(n for n, line in enumerate((TESTS / "faulty_layers.py").read_text().splitlines(), 1)
                  if "os.abort()" in line)


def _valid(report: dict) -> list[str]:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed (the [test] extra has it)")
    return [e.message for e in jsonschema.Draft202012Validator(schema()).iter_errors(report)]


@pytest.fixture
def run(pytester, clean_env, tmp_path):
    """``run(layer, mode_args, *args, cases=CASES)``: run cases with a faulty layer in a fresh pytest process;
    its result and its report's records by ID, which hold every case."""
    if TARGETS[TARGET].missing():
        pytest.skip(f"{TARGET} is not installed")
    clean_env.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    pytester.makepyfile(test_matrix="from bn_behaviour.test_behaviour import test_behaviour\n")

    def go(layer: str, mode: tuple[str, ...], *args, cases=CASES):
        out = tmp_path / "report.json"
        ids = [f"test_matrix.py::test_behaviour[{i}]" for i in cases]
        result = pytester.runpytest_subprocess(*ids, "-p", "no:cacheprovider", "--bn-target", TARGET, "--bn-layer",
                                               f"faulty_layers:{layer}", "--bn-report", str(out), *mode, *args,
                                               timeout=300)
        report = json.loads(out.read_text())
        assert _valid(report) == []
        records = {c["id"]: c for c in report["cases"]}
        assert sorted(records) == sorted(cases), "every collected case is in the report"
        return result, records

    return go


def _one_faulty(result, records: dict) -> dict:
    """The run of CASES: the faulty case gave no result, the two others passed; the faulty case's record."""
    assert [records[i]["status"] for i in CASES if i != FAULTY] == ["pass", "pass"]
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*3 cases: 2 pass, 0 deviation, 0 fail, 0 skipped, 1 *",
                                 "cases that gave no result (1):", f"  {FAULTY}: *"])
    return records[FAULTY]


@pytest.mark.harness
@pytest.mark.parametrize("mode", MODES)
def test_a_crash_costs_one_case(run, mode):
    result, records = run("AbortingBN", MODES[mode])
    case = _one_faulty(result, records)
    assert case["status"] == "crash"
    fault = case["fault"]
    assert (fault["kind"], fault["signal"], fault["signum"], fault["phase"]) == ("crash", "SIGABRT", 6, "step")
    assert fault["where"].endswith(f"faulty_layers.py:{ABORT_LINE} in call")
    assert case["observed"]["error"] == "Crash: SIGABRT (signal 6) in phase step"
    result.stdout.fnmatch_lines(["*Crash: SIGABRT (signal 6) in phase step*",
                                 f"*faulty_layers.py*line {ABORT_LINE} in call"])
    if mode == "no-xdist":
        result.stderr.fnmatch_lines(["*the pytest process stopped in *training=true* resuming after it*"])


@pytest.mark.harness
@pytest.mark.parametrize("mode", MODES)
def test_a_python_level_hang_is_interrupted_at_the_limit(run, mode):
    result, records = run("HangingBN", MODES[mode], "--bn-case-timeout", LIMIT)
    case = _one_faulty(result, records)
    assert case["status"] == "timeout"
    fault = case["fault"]
    assert (fault["kind"], fault["seconds"], fault["phase"], fault["signal"]) == ("timeout", float(LIMIT), "step", None)
    assert "faulty_layers.py" in fault["where"]
    result.stdout.fnmatch_lines([f"*CaseTimeout: Timeout: no result after {LIMIT} s, in phase step"])


@pytest.mark.harness
@pytest.mark.parametrize("mode", MODES)
def test_a_hang_in_c_code_is_killed_after_the_limit(run, mode):
    """SIGALRM cannot interrupt a thread blocked in C; faulthandler's watchdog ends the process."""
    result, records = run("CHangingBN", MODES[mode], "--bn-case-timeout", LIMIT)
    case = _one_faulty(result, records)
    assert case["status"] == "timeout"
    fault = case["fault"]
    assert (fault["kind"], fault["seconds"], fault["phase"], fault["exit_code"]) == ("timeout", float(LIMIT), "step", 1)
    assert fault["where"].endswith("in deadlock")
    result.stdout.fnmatch_lines(["*did not return and was killed*", "Timeout (0:00:11)!"])


@pytest.mark.harness
@pytest.mark.parametrize("mode", MODES)
def test_a_process_that_leaves_no_dump_is_a_crash_of_unknown_cause_under_xdist(run, mode):
    """``os._exit(3)`` leaves no faulthandler dump, as a SIGKILL does: without xdist the supervisor, which waits
    for its child, records the exit code; under xdist nothing the worker left says how it ended, and the
    record says so rather than guessing (``bn_behaviour.isolation.faults.diagnose``)."""
    result, records = run("ExitingBN", MODES[mode])
    case = _one_faulty(result, records)
    fault = case["fault"]
    assert (case["status"], fault["kind"], fault["phase"], fault["where"]) == ("crash", "crash", "step", None)
    if mode == "no-xdist":
        assert (fault["signal"], fault["exit_code"]) == (None, 3)
        assert case["observed"]["error"] == "Crash: exit code 3 in phase step"
    else:
        assert (fault["signal"], fault["signum"], fault["exit_code"]) == (None, None, None)
        assert case["observed"]["error"] == "Crash: killed or exited, no dump, in phase step"
        result.stdout.fnmatch_lines(["*It left no faulthandler dump: it was killed*"])


@pytest.mark.harness
def test_crashed_cases_do_not_use_up_xdist_worker_restarts(run):
    """xdist stops replacing crashed workers after 4 per worker (against crashing collections); a crashed case
    costs one case, so the run goes on past that (``Guard.pytest_testnodedown`` and ``pytest_handlecrashitem``
    keep the cap instead of xdist)."""
    crashing = [Scenario("layer", frozen, "before_compile", path, "true").id
                for frozen in ("none", "layer") for path in ("call", "call_graph", "custom_loop")][:5]
    result, records = run("AbortingBN", ("-n", "1"), cases=crashing)
    assert [records[i]["status"] for i in crashing] == ["crash"] * 5
    result.assert_outcomes(failed=5)
    assert "maximum crashed workers reached" not in result.stdout.str()


@pytest.mark.harness
@pytest.mark.parametrize("cap", [None, "1"])
def test_crashes_outside_the_matrix_still_stop_at_xdist_restart_cap(pytester, monkeypatch, cap):
    """A guest in other runs: a test module that kills every worker collecting it still ends the run after
    xdist's cap of replaced workers (4 per worker, or ``--max-worker-restart``), with the plugin loaded, instead
    of replacing workers forever."""
    for var in ("TARGET", "REPORT", "DEVIATIONS", "LAYER", "CASE_TIMEOUT", "ISOLATE"):
        monkeypatch.delenv(f"BN_BEHAVIOUR_{var}", raising=False)
    pytester.makepyfile(test_dies="import os\nos._exit(3)\n\ndef test_never():\n    pass\n")
    args = ["--max-worker-restart", cap] if cap else []
    result = pytester.runpytest_subprocess("-n", "1", "-p", "no:cacheprovider", *args, timeout=120)
    assert result.ret != 0
    result.stdout.fnmatch_lines([f"*maximum crashed workers reached: {cap or 4}*"])
    assert result.stdout.str().count("node down") == int(cap or 4) + 1


# -- rendering records of cases that gave no result (no process started) ------------------------------------------

CRASH = {"kind": "crash", "signal": "SIGSEGV", "signum": 11, "exit_code": None, "phase": "compile_trace",
         "seconds": None, "where": "/x/layers.py:9 in call"}
TIMEOUT = {"kind": "timeout", "signal": None, "signum": None, "exit_code": None, "phase": "step", "seconds": 300.0,
           "where": None}


def _report(*faulted: tuple[str, dict]) -> dict:
    """A per-target report of CASES: the faulted ones crashed or timed out, the others passed."""
    faults = dict(faulted)
    cases = []
    for sid in CASES:
        if sid in faults:
            _, record = fault_record(sid, faults[sid], [])
            cases.append({**record, "status": faults[sid]["kind"]})
        else:
            s = Scenario.from_id(sid)
            cases.append({"id": sid, "scenario": s.axes(), "observed": expected(s), "expected": expected(s),
                          "violated": [], "status": "pass", "deviation": None, "deviation_source": None})
    return {"format": FORMAT, "suite": {"name": "bn-behaviour", "version": "0", "git_revision": None},
            "layer": "genuine", "options": {"bn_target": TARGET, "bn_layer": None, "bn_deviations": [],
                                            "bn_xfail": "strict"},
            "target": {"name": TARGET, "description": "d", "rule": "tf2", "versions": {"keras": "3"},
                       "variance_convention": "biased", "backend": None},
            **{m.cases_key: [] for m in MATRICES.values()}, "cases": cases}


def test_records_of_crashed_and_timed_out_cases_follow_the_schema():
    report = _report((CASES[0], CRASH), (CASES[1], TIMEOUT))
    assert _valid(report) == []
    merged = merge([report], {})
    assert _valid(merged) == []
    assert merged["targets"][0]["counts"] == {"pass": 1, "deviation": 0, "fail": 0, "skipped": 0, "crash": 1,
                                              "timeout": 1}
    assert _valid({**report, "cases": [{**report["cases"][0], "status": "hung"}]}), "an unknown status is refused"


def test_counts_name_crash_and_timeout_only_when_there_are_some():
    assert status_counts(_report()["cases"]) == {"pass": 3, "deviation": 0, "fail": 0, "skipped": 0}


def test_documents_and_page_show_what_ended_the_case():
    merged = merge([_report((CASES[0], CRASH), (CASES[1], TIMEOUT))], {})
    table = behaviour_md(merged)
    assert "CRASH (SIGSEGV in compile_trace)" in table and "TIMEOUT (300 s in step)" in table
    assert "1 crash, 1 timeout" in table
    assert "no result (crash or timeout) on" in rules_md(merged)
    page = html(merged)
    assert 'class="crash"' in page and 'class="timeout"' in page
    assert '<option value="crash">' in page and '<option value="timeout">' in page
