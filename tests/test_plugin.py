"""The pytest plugin, driven through ``pytester`` in fresh processes.

Each run selects a few matrix cases by node ID from a test file that imports
the suite's test function, so the real plugin (loaded from its pytest11 entry
point) parametrises, runs and reports them.
"""

import json

import pytest

from bn_behaviour.scenario import Scenario

CASES = [
    Scenario("layer", "none", "before_compile", "call", "true"),
    Scenario("layer", "layer", "before_compile", "call", "true"),
    Scenario("functional", "layer", "before_compile", "predict", "none"),
]


@pytest.fixture
def matrix(pytester):
    pytester.makepyfile(test_matrix="from bn_behaviour.test_behaviour import test_behaviour\n")

    def run(*args, cases=CASES):
        ids = [f"test_matrix.py::test_behaviour[{s.id}]" for s in cases]
        return pytester.runpytest_subprocess(*ids, "-p", "no:cacheprovider", *args)

    return run


def test_unknown_target_is_a_usage_error_listing_names(pytester):
    pytester.makepyfile("def test_nothing(): pass\n")
    result = pytester.runpytest_subprocess("--bn-target", "keras-tensorflw")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--bn-target: unknown target 'keras-tensorflw'; valid targets: keras-tensorflow, keras-jax,*"]
    )
    assert "Traceback" not in result.stderr.str()


def test_unknown_target_from_the_environment(pytester, monkeypatch):
    monkeypatch.setenv("BN_BEHAVIOUR_TARGET", "tf2")
    pytester.makepyfile("def test_nothing(): pass\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown target 'tf2'*"])


def test_unrelated_suites_do_not_import_frameworks(pytester):
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
