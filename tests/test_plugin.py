"""The pytest plugin, driven through ``pytester`` in fresh processes.

Each run selects a few matrix cases by node ID from a test file that imports
the suite's test function, so the real plugin (loaded from its pytest11 entry
point) parametrises, runs and reports them.
"""

import json

import pytest

from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.targets import TARGETS

#: Starts other Python processes (a framework import each): run with `pytest -m harness`.
pytestmark = pytest.mark.harness


CASES = [
    Scenario("layer", "none", "before_compile", "call", "true"),
    Scenario("layer", "layer", "before_compile", "call", "true"),
    Scenario("functional", "layer", "before_compile", "predict", "none"),
]


TARGET = "keras-tensorflow"


@pytest.fixture
def matrix(pytester, clean_env):
    """Run chosen matrix cases of keras-tensorflow in a fresh pytest process."""
    if TARGETS[TARGET].missing():
        pytest.skip(f"{TARGET} is not installed")
    pytester.makepyfile(test_matrix="from bn_behaviour.test_behaviour import test_behaviour\n")

    def run(*args, cases=CASES):
        ids = [f"test_matrix.py::test_behaviour[{s.id}]" for s in cases]
        return pytester.runpytest_subprocess(*ids, "-p", "no:cacheprovider", "--bn-target", TARGET, *args)

    return run


def test_unknown_target_is_a_usage_error_listing_names(pytester, clean_env):
    pytester.makepyfile("def test_nothing(): pass\n")
    result = pytester.runpytest_subprocess("--bn-target", "keras-tensorflw")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--bn-target: unknown target 'keras-tensorflw'; valid targets: keras-tensorflow, keras-jax,*"]
    )
    assert "Traceback" not in result.stderr.str()


def test_unknown_matrix_is_a_usage_error_naming_the_nearest(pytester, clean_env):
    pytester.makepyfile("def test_nothing(): pass\n")
    result = pytester.runpytest_subprocess("--bn-matrices", "main,compield")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --bn-matrices: unknown matrix 'compield' (did you mean 'compiled'?); "
                                 "valid: all, main, *"])
    assert "Traceback" not in result.stderr.str()


def test_an_opt_in_matrix_is_one_skipped_test_unless_asked_for(pytester, clean_env, tmp_path):
    """The compiled matrix (``Matrix.opt_in``) is left out of a default run, with the option that runs it;
    ``--bn-matrices compiled`` runs its cases, and the report records what was asked for."""
    if TARGETS[TARGET].missing():
        pytest.skip(f"{TARGET} is not installed")
    pytester.makepyfile(test_c="from bn_behaviour.test_compiled import test_compiled\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--bn-target", TARGET, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*the compiled matrix is opt-in (*): --bn-matrices all or compiled runs it*"])
    row = "functional-frozen=layer-when=before_compile-path=fit-training=none-jit_compile=true"
    report = tmp_path / "r.json"
    result = pytester.runpytest_subprocess(f"test_c.py::test_compiled[{row}]", "-p", "no:cacheprovider",
                                           "--bn-target", TARGET, "--bn-matrices", "compiled",
                                           "--bn-report", str(report))
    result.assert_outcomes(passed=1)
    data = json.loads(report.read_text())
    assert data["options"]["bn_matrices"] == ["compiled"] and [c["id"] for c in data["compiled_cases"]] == [row]


def test_a_declared_variance_update_is_the_one_judged(matrix, tmp_path):
    """``--bn-variance bessel`` judges the class's moving variance by the unbiased update: the genuine Keras 3
    layer (biased) then fails the row where it moves its statistics, names the option in its repro line, and
    the report records the declaration; a value from the environment that is not a convention is one line."""
    row = Scenario("layer", "none", "before_compile", "call", "true")
    report = tmp_path / "r.json"
    result = matrix("--bn-variance", "bessel", "--bn-report", str(report), "--bn-xfail", "skip", cases=[row])
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*updated_otherwise*", "*bn-behaviour observe --target keras-tensorflow *"
                                 " --variance bessel*"])
    data = json.loads(report.read_text())
    assert data["options"]["bn_variance"] == "bessel" and data["target"]["variance_convention"] == "bessel"
    matrix(cases=[row]).assert_outcomes(passed=1)  # the same row judged by the target's own update


def test_an_unknown_variance_from_the_environment_is_one_line(pytester, clean_env):
    clean_env.setenv("BN_BEHAVIOUR_VARIANCE", "unbiased")
    pytester.makepyfile("def test_nothing(): pass\n")
    result = pytester.runpytest_subprocess("--bn-target", TARGET)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --bn-variance: variance 'unbiased' is not one of biased, bessel"])
    assert "Traceback" not in result.stderr.str()


def test_unknown_target_from_the_environment(pytester, clean_env):
    clean_env.setenv("BN_BEHAVIOUR_TARGET", "tf2")
    pytester.makepyfile("def test_nothing(): pass\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown target 'tf2'*"])


def test_unrelated_suites_do_not_import_frameworks(pytester, clean_env):
    """The plugin loads in every pytest run of the environment; it must stay light."""
    pytester.makepyfile(
        "import sys\n"
        "def test_light():\n"
        "    heavy = [m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules]\n"
        "    assert not heavy, heavy\n"
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_report_and_summary(matrix, tmp_path):
    out = tmp_path / "r.json"
    result = matrix("--bn-report", str(out))
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*bn-behaviour summary: keras-tensorflow*", "3 cases: 3 pass, 0 deviation, 0 fail*"])
    report = json.loads(out.read_text())
    assert report["target"]["name"] == "keras-tensorflow"
    assert report["target"]["versions"]["keras"] and report["target"]["versions"]["tensorflow"]
    assert [c["id"] for c in report["cases"]] == sorted(s.id for s in CASES)
    for case in report["cases"]:
        assert case["status"] == "pass"
        assert set(case["observed"]) >= {"mode", "moving_stats", "affine", "trainable_weights", "error"}
        assert case["scenario"] == Scenario.from_id(case["id"]).axes()


def test_report_is_identical_with_xdist(matrix, tmp_path):
    serial, parallel = tmp_path / "serial.json", tmp_path / "parallel.json"
    matrix("-n", "0", "--bn-report", str(serial)).assert_outcomes(passed=3)
    matrix("-n", "2", "--bn-report", str(parallel)).assert_outcomes(passed=3)
    assert serial.read_text() == parallel.read_text()


def test_test_ids_read_as_scenarios(matrix):
    result = matrix("--collect-only", "-q")
    expected = "test_matrix.py::test_behaviour[layer-frozen=layer-when=before_compile-path=call-training=true]"
    assert expected in result.stdout.lines


PASSING = Scenario("layer", "none", "before_compile", "call", "true")  # the rule: training mode


def _deviation_file(pytester, **fields):
    entry = {"id": "consumer-entry", "reason": "a test entry", "source": "https://example.org/entry",
             "match": {"model": "layer", "frozen": "none", "path": "call", "training": "true"}}
    entry.update(fields)
    lines = ["[[deviation]]"]
    for key, value in entry.items():
        lines.append(f"{key} = {json.dumps(value) if isinstance(value, str) else _inline(value)}")
    return pytester.makefile(".toml", deviations="\n".join(lines) + "\n")


def _inline(d):
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in d.items()) + " }"


def test_a_vanished_deviation_fails_and_names_its_entry(matrix, pytester, tmp_path):
    """The case follows the rule, but an entry says it deviates: an unexpected pass is a failure."""
    path = _deviation_file(pytester, observed={"mode": "inference", "moving_stats": "unchanged"})
    out = tmp_path / "r.json"
    result = matrix("--bn-deviations", str(path), "--bn-report", str(out), cases=[PASSING])
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*known deviation consumer-entry: a test entry*"])
    assert json.loads(out.read_text())["cases"][0]["status"] == "fail"


def test_a_deviation_that_misdescribes_the_observation_fails(matrix, pytester):
    """Only the exact recorded deviation is an expected failure."""
    scenario = Scenario("layer", "layer", "after_fit", "call_graph", "true")  # stale trace: training mode
    path = _deviation_file(pytester, match={"model": "layer", "frozen": "layer", "when": "after_fit",
                                            "path": "call_graph", "training": "true"},
                           observed={"mode": "neither"})
    result = matrix("--bn-deviations", str(path), cases=[scenario])
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*known deviation consumer-entry does not describe what was observed*"])


def test_a_recorded_deviation_is_an_expected_failure(matrix, tmp_path):
    scenario = Scenario("layer", "layer", "after_fit", "call_graph", "true")
    out = tmp_path / "r.json"
    result = matrix("--bn-report", str(out), cases=[scenario])
    result.assert_outcomes(xfailed=1)
    case = json.loads(out.read_text())["cases"][0]
    assert (case["status"], case["deviation"]) == ("deviation", "traced-function-keeps-stale-trainable")


def test_a_bad_deviation_file_is_a_usage_error(pytester):
    path = pytester.makefile(".toml", bad='[[deviation]]\nid = "x"\n')
    pytester.makepyfile("def test_nothing(): pass\n")
    result = pytester.runpytest_subprocess("--bn-deviations", str(path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--bn-deviations: *deviation 'x' has no 'match'*"])
