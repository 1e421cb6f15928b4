"""The standalone snippet in every failure message reproduces what the driver observed.

All snippets run in one fresh process (each in its own namespace); their
printed variables must equal the driver's for the same scenario.
"""

import ast
import json
import subprocess
import sys

import numpy as np
import pytest

from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.rules.observation import ATOL, RTOL, STATE_NAMES
from bn_behaviour.targets import TARGETS, environment
from bn_behaviour.targets.repro import snippet

#: Starts other Python processes (a framework import each): run with `pytest -m harness`.
pytestmark = pytest.mark.harness

#: The scenarios whose snippets are checked, per target with a snippet writer.
SCENARIOS = {
    "keras-tensorflow": [
        Scenario("layer", "layer", "before_compile", "call", "true"),
        Scenario("layer", "layer_ctor", "before_compile", "custom_loop", "true"),
        Scenario("functional", "unfrozen", "after_fit_recompile", "fit", "none"),
        Scenario("nested", "outer_then_layer", "after_compile", "train_on_batch", "none"),
        Scenario("nested", "unfrozen", "after_fit", "custom_loop", "true"),
        Scenario("base_training_false", "none", "before_compile", "fit", "none"),
        Scenario("subclassed", "layer", "after_fit", "custom_loop", "true"),
        Scenario("sequential", "layer_ctor", "before_compile", "call_graph", "false"),
        Scenario("functional", "outer_model", "after_fit", "predict", "none"),
        Scenario("node_training_false", "none", "before_compile", "fit", "none"),
        Scenario("node_training_true", "none", "before_compile", "predict", "none"),
        Scenario("subclassed_training_false", "none", "before_compile", "custom_loop", "true"),
        Scenario("wrapped", "inner_model", "before_compile", "fit", "none"),
        Scenario("after_default_training_true", "none", "before_compile", "call", "none"),
        Scenario("time_distributed", "none", "before_compile", "train_on_batch", "none"),
    ],
    # The Keras JAX guide's loop (jax.jit over stateless_call, keras#20378: training omitted), every training value.
    "keras-jax": [
        Scenario("functional", "none", "before_compile", "custom_loop", "none"),
        Scenario("functional", "none", "before_compile", "custom_loop", "true"),
        Scenario("functional", "layer", "before_compile", "custom_loop", "false"),
        Scenario("nested", "unfrozen", "after_fit_recompile", "custom_loop", "true"),
        Scenario("base_training_false", "inner_model", "before_compile", "custom_loop", "none"),
        Scenario("layer", "layer_ctor", "before_compile", "custom_loop", "true"),
        Scenario("sequential", "layer_ctor", "before_compile", "call_graph", "false"),
        Scenario("nested", "unfrozen", "after_fit", "call_graph", "true"),
        Scenario("functional", "unfrozen", "after_fit_recompile", "fit", "none"),
    ],
    "tf1": [
        Scenario("layer", "layer_ctor", "before_compile", "custom_loop", "true"),
        Scenario("layer", "none", "before_compile", "call", "true"),
        Scenario("nested", "inner_model", "after_fit", "custom_loop", "true"),
        Scenario("nested", "unfrozen", "after_fit_recompile", "custom_loop", "true"),
        Scenario("nested", "outer_model", "after_fit", "custom_loop", "none"),
    ],
}
#: Compiled-matrix rows whose snippets are checked (``jit_compile=True``), per target with a compiled writer:
#: each compiled path's shape (a compiled fit after a frozen base's first fit, XLA traced call and step).
COMPILED = {
    "keras-tensorflow": [
        Scenario("nested", "inner_model", "after_fit", "fit", "none"),
        Scenario("nested", "none", "before_compile", "call_graph", "true"),
        Scenario("nested", "inner_model", "after_fit", "custom_loop", "true"),
    ],
}
CASES = [(t, s, False) for t, scenarios in SCENARIOS.items() for s in scenarios] + [
    (t, s, True) for t, scenarios in COMPILED.items() for s in scenarios]

# Runs in a fresh process per target (the test process may hold Keras on another backend):
# each snippet in its own namespace, then the driver on the same scenario.
RUNNER = """
import contextlib, io, json, sys
from bn_behaviour.cases.scenario import Scenario, data
from bn_behaviour.targets import require
from bn_behaviour.targets.common import Setup

target, cases = json.load(sys.stdin)
driver_module = require(target).load_driver()
out = []
for sid, jit, code in cases:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(code, {"__name__": "__snippet__"})
    s = Scenario.from_id(sid)
    facts = driver_module.run(s, Setup(data=data(s), jit_compile=jit))
    driver = {k: v.tolist() for k, v in facts.after.items()}
    if facts.output is not None:
        driver["output[0]"] = facts.output[0].tolist()
    out.append([buf.getvalue(), driver])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def runs():
    """(target, scenario ID) -> (values the snippet printed, values the driver recorded)."""
    result = {}
    for target in dict.fromkeys(t for t, _, _ in CASES):
        if TARGETS[target].missing():
            continue
        cases = [(s, jit) for t, s, jit in CASES if t == target]
        payload = json.dumps([target, [[s.id, jit, snippet(target, s, jit)] for s, jit in cases]])
        # As bn-behaviour runs a target's child (a pytest run with bn cases has set its own target's variables).
        proc = subprocess.run([sys.executable, "-c", RUNNER], input=payload, capture_output=True, text=True,
                              env=environment.for_child())
        assert proc.returncode == 0, proc.stderr[-2000:]
        for (s, jit), (text, driver) in zip(cases, json.loads(proc.stdout.splitlines()[-1])):
            printed = {}
            for line in text.splitlines():
                name, _, rest = line.partition(" ")
                if name in STATE_NAMES or name == "output[0]":
                    printed[name] = np.array(ast.literal_eval(rest.split("  #")[0]))
            result[target, s.id, jit] = printed, driver
    return result


@pytest.mark.parametrize("target,scenario,jit", CASES,
                         ids=[f"{t}:{s.id}{'-jit_compile=true' * jit}" for t, s, jit in CASES])
def test_snippet_reproduces_the_driver(target, scenario, jit, runs):
    """The snippet prints the BN's output (read by its probe) and variables; they equal the driver's (with
    ``jit``: the compiled row's snippet against the driver compiling the same paths)."""
    if (target, scenario.id, jit) not in runs:
        pytest.skip(f"{target} is not installed")
    printed, driver = runs[target, scenario.id, jit]
    assert set(STATE_NAMES) <= set(printed)
    for name, value in printed.items():
        if name == "output[0]" and name not in driver:
            continue  # the driver recorded no output (an error); the snippet's probe kept its zeros
        np.testing.assert_allclose(value, driver[name], rtol=RTOL, atol=ATOL, err_msg=name)
