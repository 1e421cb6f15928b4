"""The plugin is a guest in every pytest run of the environment (``bn_behaviour/guest.py``, docs/vendoring.md).

A host project uses Keras with its own backend (``keras.json`` under a
``KERAS_HOME`` it controls, KERAS_BACKEND unset) and its own TensorFlow log
level (``TF_CPP_MIN_LOG_LEVEL=1``).  Its test records what it sees: the
variables a target sets, at import and when it runs, and Keras's backend.
Each run is a fresh pytest process with the installed plugin.
"""

import importlib.util
import json

import pytest

from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.targets import TARGETS

#: Starts other Python processes (a framework import each): run with `pytest -m harness`.
pytestmark = pytest.mark.harness

#: The host's own backend: one the suite's default target (keras-tensorflow) does not use.
HOST_BACKEND = next((b for b in ("jax", "torch") if importlib.util.find_spec(b)), None)
HOST_LOG_LEVEL = "1"
CASE = Scenario("layer", "layer", "before_compile", "call", "true").id
MODES = {"no-xdist": ("-p", "no:xdist"), "xdist": ("-n", "2")}

HOST_TEST = '''
import json
import os

NAMES = %r
AT_IMPORT = {k: os.environ.get(k) for k in NAMES}


def test_host_keras():
    at_test = {k: os.environ.get(k) for k in NAMES}
    import keras

    seen = {"at_import": AT_IMPORT, "at_test": at_test, "backend": keras.backend.backend()}
    with open(os.path.join(os.path.dirname(__file__), "seen.json"), "w") as f:
        json.dump(seen, f)
    print("\\nhost saw", json.dumps(seen, sort_keys=True))
'''


@pytest.fixture
def host(pytester, clean_env):
    """``host(*args)``: run the host project's test (and ``args``) in a fresh pytest process; the result,
    what the host's test saw, and whatever bn-behaviour left in the process's temporary directory."""
    if HOST_BACKEND is None or TARGETS["keras-tensorflow"].missing():
        pytest.skip("needs keras-tensorflow and jax or torch")
    names = sorted({"KERAS_BACKEND", *(k for t in TARGETS.values() for k in t.env)})
    pytester.makepyfile(test_host=HOST_TEST % (names,))
    (pytester.path / "keras_home").mkdir()
    (pytester.path / "keras_home" / "keras.json").write_text(json.dumps({"backend": HOST_BACKEND}))
    tmp = pytester.path / "tmp"
    tmp.mkdir()
    clean_env.setenv("KERAS_HOME", str(pytester.path / "keras_home"))
    clean_env.setenv("TF_CPP_MIN_LOG_LEVEL", HOST_LOG_LEVEL)
    clean_env.setenv("TMPDIR", str(tmp))

    def run(*args):
        result = pytester.runpytest_subprocess("test_host.py", "-p", "no:cacheprovider", "-s", *args, timeout=600)
        seen = pytester.path / "seen.json"
        return result, json.loads(seen.read_text()) if seen.exists() else None, \
            sorted(p.name for p in tmp.iterdir() if p.name.startswith("bn-behaviour"))

    return run


def _host_env(**changes):
    """What the host set: its log level, nothing else of a target's variables (``changes`` on top)."""
    env = {k: None for k in sorted({"KERAS_BACKEND", *(k for t in TARGETS.values() for k in t.env)})}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": HOST_LOG_LEVEL, **changes}


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_a_run_without_bn_cases_is_left_as_it_was(host, mode):
    """Without a bn case the plugin sets no variable (the host's keras.json backend holds, its log level
    stays), makes no folder, and writes no line, with xdist (which configures workers) and without."""
    result, seen, left = host(*mode)
    result.assert_outcomes(passed=1)
    assert seen == {"at_import": _host_env(), "at_test": _host_env(), "backend": HOST_BACKEND}
    assert left == []
    assert [line for line in result.outlines + result.errlines
            if "bn-behaviour" in line and not line.startswith("plugins:")] == []  # pytest's header names it


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_with_bn_cases_the_session_is_the_targets_but_the_hosts_variables_stay(host, mode):
    """A bn case collected (no --bn-* option: the default target, keras-tensorflow) starts the target at its
    collection, before the case imports Keras: the host's module, collected first, saw the environment as
    it was; its test runs in the target's process (KERAS_BACKEND=tensorflow: one process has one Keras
    backend) with its own log level untouched, and the case passes."""
    result, seen, left = host("--pyargs", f"bn_behaviour.test_behaviour::test_behaviour[{CASE}]", *mode)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*bn-behaviour summary: keras-tensorflow*", "1 cases: 1 pass,*"])
    assert seen == {"at_import": _host_env(), "at_test": _host_env(KERAS_BACKEND="tensorflow"),
                    "backend": "tensorflow"}
    assert left == []


def test_a_target_conflicting_with_the_hosts_backend_is_a_one_line_usage_error(host, clean_env):
    """The host chose KERAS_BACKEND; --bn-target asks for another backend: refused in one line naming both,
    never overridden."""
    clean_env.setenv("KERAS_BACKEND", HOST_BACKEND)
    result, seen, _ = host("--bn-target", "keras-tensorflow")
    assert result.ret == pytest.ExitCode.USAGE_ERROR and seen is None
    assert result.errlines[0] == (f"ERROR: --bn-target: keras-tensorflow runs with KERAS_BACKEND=tensorflow, but "
                                  f"the environment sets KERAS_BACKEND={HOST_BACKEND}: unset KERAS_BACKEND for "
                                  f"this run, or choose the target it names (keras-{HOST_BACKEND})")


def test_keras_imported_on_the_hosts_backend_before_the_first_case_is_refused(host, pytester):
    """A host conftest imports Keras (on its keras.json backend) before bn cases are collected: the default
    target cannot run in this process, and its collection fails in one line instead of running the cases
    on the host's backend under keras-tensorflow's name."""
    pytester.makeconftest("import keras\n")
    result, _, _ = host("--pyargs", f"bn_behaviour.test_behaviour::test_behaviour[{CASE}]", "-p", "no:xdist")
    result.stdout.fnmatch_lines([
        "bn-behaviour: --bn-target not given (default keras-$KERAS_BACKEND): keras-tensorflow runs Keras on "
        f"tensorflow, but this process imported Keras on {HOST_BACKEND} before bn-behaviour could set "
        f"KERAS_BACKEND: run it in a process of its own, or choose keras-{HOST_BACKEND}"])
    assert result.ret != pytest.ExitCode.OK
