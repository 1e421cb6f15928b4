"""What a consumer vendoring the suite relies on: --bn-layer, --bn-xfail, provenance, --pyargs.

Each run is a fresh pytest process (pytester) selecting a few keras-tensorflow cases.
"""

import json

import pytest

from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.targets import TARGETS

#: Starts other Python processes (a framework import each): run with `pytest -m harness`.
pytestmark = pytest.mark.harness

TARGET = "keras-tensorflow"
FOLLOWS_RULE = Scenario("layer", "layer", "before_compile", "call", "true")
DEVIATES = Scenario("layer", "layer", "after_fit", "call_graph", "true")  # stale tf.function trace

MY_LAYERS = '''
import keras


class MyBatchNorm(keras.layers.BatchNormalization):
    """A consumer's subclass that changes nothing: it must follow the rule."""


class NotALayer:
    pass
'''


@pytest.fixture
def run(pytester, clean_env):
    if TARGETS[TARGET].missing():
        pytest.skip(f"{TARGET} is not installed")
    pytester.makepyfile(test_matrix="from bn_behaviour.test_behaviour import test_behaviour\n",
                        my_layers=MY_LAYERS)

    def go(*args, cases=(FOLLOWS_RULE,)):
        ids = [f"test_matrix.py::test_behaviour[{s.id}]" for s in cases]
        return pytester.runpytest_subprocess(*ids, "-p", "no:cacheprovider", "--bn-target", TARGET, *args)

    return go


def test_a_layer_class_from_a_file_outside_the_project(run, tmp_path):
    out = tmp_path / "r.json"
    result = run("--bn-layer", "my_layers:MyBatchNorm", "--bn-report", str(out))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*layer under test: my_layers:MyBatchNorm*"])
    report = json.loads(out.read_text())
    assert report["layer"] == "my_layers:MyBatchNorm"
    assert report["options"]["bn_layer"] == "my_layers:MyBatchNorm"


@pytest.mark.parametrize("spec, message", [
    ("my_layers", "is not of the form module:attr"),
    ("no_such_module_here:BN", "cannot import module 'no_such_module_here'"),
    ("my_layers:Missing", "module 'my_layers' has no attribute 'Missing'"),
    ("my_layers:NotALayer", "is a class but not a Keras layer"),
    ("my_layers:keras", "is a module, not a layer class"),
], ids=["no-colon", "unimportable", "no-attribute", "not-a-layer", "not-a-class"])
def test_bad_layer_specs_are_one_line_usage_errors(run, spec, message):
    result = run("--bn-layer", spec)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_layer_on_tf1_is_a_usage_error(pytester, clean_env):
    if TARGETS["tf1"].missing():
        pytest.skip("tf1 is not installed")
    pytester.makepyfile("def test_nothing(): pass\n")
    result = pytester.runpytest_subprocess("--bn-target", "tf1", "--bn-layer", "x:y")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--bn-layer applies to keras-tensorflow, keras-jax, keras-torch, tf_keras, tf1-keras, not tf1*"])


def test_xfail_skip_does_not_run_known_deviations(run, tmp_path):
    out = tmp_path / "r.json"
    result = run("--bn-xfail", "skip", "--bn-report", str(out), cases=(FOLLOWS_RULE, DEVIATES))
    result.assert_outcomes(passed=1, skipped=1)
    assert json.loads(out.read_text())["options"]["bn_xfail"] == "skip"


def test_xfail_lenient_lets_a_vanished_deviation_pass(run, pytester):
    stale = pytester.makefile(".toml", stale=(
        '[[deviation]]\nid = "stale"\nreason = "r"\nsource = "https://example.org/stale"\n'
        'match = { model = "layer", frozen = "layer", when = "before_compile", path = "call", training = "true" }\n'
        'observed = { mode = "training" }\n'))
    run("--bn-deviations", str(stale)).assert_outcomes(failed=1)  # strict by default
    run("--bn-deviations", str(stale), "--bn-xfail", "lenient").assert_outcomes(xpassed=1)


def test_report_records_its_provenance(run, tmp_path):
    out = tmp_path / "r.json"
    run("--bn-report", str(out)).assert_outcomes(passed=1)
    report = json.loads(out.read_text())
    assert report["suite"]["name"] == "bn-behaviour" and report["suite"]["version"]
    assert "git_revision" in report["suite"]  # the commit when run from a checkout, else null
    assert report["layer"] == "genuine"
    assert report["options"] == {"bn_target": TARGET, "bn_layer": None, "bn_deviations": [], "bn_xfail": "strict",
                                 "bn_matrices": ["main", "fused", "settings", "workflows"], "bn_variance": None}
    assert set(report["target"]["versions"]) >= {"keras", "tensorflow", "numpy"}


def test_pyargs_collects_the_matrix_from_an_empty_directory(pytester, clean_env):
    result = pytester.runpytest_subprocess("--pyargs", "bn_behaviour.test_behaviour", "--collect-only", "-q",
                                           "-p", "no:cacheprovider", "--bn-target", TARGET)
    result.stdout.fnmatch_lines([f"*test_behaviour*{FOLLOWS_RULE.id}*"])
    assert result.ret == pytest.ExitCode.OK


def test_a_conftest_may_also_load_the_plugin(pytester, clean_env):
    """The copied-folder route (pytest_plugins in a conftest) coexists with the installed entry point."""
    pytester.makeconftest('pytest_plugins = ["bn_behaviour.plugin"]\n')
    pytester.makepyfile("def test_nothing(): pass\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--bn-xfail", "lenient").assert_outcomes(passed=1)
