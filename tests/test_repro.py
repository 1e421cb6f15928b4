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

from bn_behaviour.case import observe
from bn_behaviour.observation import ATOL, RTOL, STATE_NAMES
from bn_behaviour.repro import snippet
from bn_behaviour.scenario import Scenario
from bn_behaviour.targets import require

TARGET = "keras-tensorflow"
SCENARIOS = [
    Scenario("layer", "layer", "before_compile", "call", "true"),
    Scenario("functional", "unfrozen", "after_fit_recompile", "fit", "none"),
    Scenario("nested", "outer_then_layer", "after_compile", "train_on_batch", "none"),
    Scenario("base_training_false", "none", "before_compile", "fit", "none"),
    Scenario("subclassed", "layer", "after_fit", "custom_loop", "true"),
    Scenario("sequential", "layer_ctor", "before_compile", "call_graph", "false"),
    Scenario("functional", "outer_model", "after_fit", "predict", "none"),
]

RUNNER = """
import contextlib, io, json, sys
out = []
for code in json.load(sys.stdin):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(code, {"__name__": "__snippet__"})
    out.append(buf.getvalue())
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def printed():
    codes = [snippet(TARGET, s) for s in SCENARIOS]
    proc = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(codes), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = {}
    for s, text in zip(SCENARIOS, json.loads(proc.stdout.splitlines()[-1])):
        values = {}
        for line in text.splitlines():
            name, _, rest = line.partition(" ")
            if name in STATE_NAMES or name == "output[0]":
                values[name] = np.array(ast.literal_eval(rest))
        result[s.id] = values
    return result


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_snippet_reproduces_the_driver(scenario, printed):
    result = observe(require(TARGET), scenario)
    got = printed[scenario.id]
    for name in STATE_NAMES:
        np.testing.assert_allclose(got[name], result.raw.after[name], rtol=RTOL, atol=ATOL, err_msg=name)
    if "output[0]" in got:
        np.testing.assert_allclose(got["output[0]"], result.raw.output[0], rtol=RTOL, atol=ATOL)
