"""The suite catches broken layers: every mutant of tests/mutants.py breaks the rule it claims.

One fresh Keras 3 / TensorFlow process (the test process may hold Keras on
another backend) runs :data:`SUBSET` on every layer of the catalogue through
the main matrix's ``observe`` and returns the rules each case violates.  A
mutant is caught when some case violates the rule its ``BREAKS`` names; the
controls (the genuine layer, the unchanged split, the faithful
re-implementation) must violate nothing.  The kill table is recorded on the
test report and printed by ``tests/conftest.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.matrices import known_deviations
from bn_behaviour.rules import deviations as dev
from bn_behaviour.rules.tf2 import CHECKS
from bn_behaviour.targets import TARGETS

#: Starts other Python processes (a framework import each): run with `pytest -m harness`.
pytestmark = pytest.mark.harness

TARGET = "keras-tensorflow"
#: The report key tests/conftest.py prints.
KEY = "bn_mutation"


def _subset() -> list[Scenario]:
    """Bare calls over ``training`` x freezing (and a constructor freeze), a traced call, one
    traced training step each way, fit() with and without a freeze (of the layer, of a base
    model) and predict(): every mode, update and weight-list decision of the rule, on cases
    the genuine layer follows (checked by test_subset_is_documented_behaviour)."""
    calls = [
        Scenario("layer", frozen, "before_compile", "call", training)
        for frozen in ("none", "layer", "unfrozen")
        for training in ("none", "true", "false")
    ]
    return calls + [
        Scenario("layer", "layer_ctor", "before_compile", "call", "true"),
        Scenario("layer", "layer", "before_compile", "call_graph", "true"),
        Scenario("layer", "none", "before_compile", "custom_loop", "true"),
        Scenario("functional", "layer", "before_compile", "custom_loop", "none"),
        Scenario("functional", "none", "before_compile", "fit", "none"),
        Scenario("functional", "layer", "before_compile", "fit", "none"),
        Scenario("nested", "inner_model", "before_compile", "fit", "none"),
        Scenario("functional", "none", "before_compile", "predict", "none"),
    ]


SUBSET = _subset()

# Runs in a fresh process: the target's environment first, then Keras (through mutants).
RUNNER = """
import gc, json, sys
from bn_behaviour.targets import require
target = require(%r)
target.activate()
ids, tests_dir = json.load(sys.stdin)
sys.path.insert(0, tests_dir)
import mutants
target.load_driver()
# The driver's clear_session() runs gc.collect() before every case; freezing the
# import-time heap (TensorFlow's modules) makes each collection skip it: ~0.2 s a case.
gc.freeze()
from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.matrices import MATRICES
from bn_behaviour.targets.common import format_error

out = []
for kind, layers in (("control", mutants.CONTROLS), ("mutant", mutants.MUTANTS)):
    for cls in layers:
        runs = []
        for sid in ids:
            try:
                runs.append([sid, MATRICES['main'].observe(target, Scenario.from_id(sid), cls).violations])
            except Exception as e:  # the driver itself failed: not a catch
                runs.append([sid, {"crash": format_error(e)}])
        out.append({"name": cls.__name__, "kind": kind, "breaks": getattr(cls, "BREAKS", None), "runs": runs})
print(json.dumps(out))
""" % TARGET


def run_catalogue() -> list[dict]:
    """Every layer of tests/mutants.py on SUBSET: name, kind, claimed rule, violations per case."""
    env = dict(os.environ, **TARGETS[TARGET].env)
    env.pop("BN_BEHAVIOUR_TARGET", None)
    payload = json.dumps([[s.id for s in SUBSET], str(Path(__file__).parent)])
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER], input=payload, capture_output=True, text=True, env=env, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def kill_row(layer: dict) -> dict:
    """One line of the table: the rules violated, whether the claimed one is among them, and
    the first case violating it (else the first failing case)."""
    failing = [(sid, v) for sid, v in layer["runs"] if v]
    violated = sorted({rule for _, v in failing for rule in v})
    claimed = [sid for sid, v in failing if layer["breaks"] in v]
    first = (claimed or [sid for sid, _ in failing] or ["-"])[0]
    return {
        "mutant": layer["name"],
        "breaks": layer["breaks"],
        "violated": violated,
        "first": first,
        "caught": bool(claimed) and "crash" not in violated,
    }


def test_a_kill_needs_the_claimed_rule():
    """Failing another rule, or crashing the driver, is no kill; the first case named is one
    that breaks the claimed rule."""
    runs = [["a", {}], ["b", {"mode": "m"}], ["c", {"moving_stats": "s"}]]
    assert kill_row({"name": "M", "breaks": "moving_stats", "runs": runs})["caught"]
    assert kill_row({"name": "M", "breaks": "moving_stats", "runs": runs})["first"] == "c"
    assert not kill_row({"name": "M", "breaks": "affine", "runs": runs})["caught"]
    crash = [["a", {"crash": "ValueError: x"}]]
    assert not kill_row({"name": "M", "breaks": "crash", "runs": crash})["caught"]


def test_subset_is_documented_behaviour():
    """Each case of SUBSET runs on the target and has no known deviation of the genuine layer,
    so a violation there is the layer's own doing."""
    target = TARGETS[TARGET]
    entries = known_deviations(target)
    runnable = set(target.scenarios())
    assert [s.id for s in SUBSET if s not in runnable] == []
    assert {s.id: dev.find(entries, s).id for s in SUBSET if dev.find(entries, s)} == {}


def test_suite_catches_every_mutant(record_property):
    if TARGETS[TARGET].missing():
        pytest.skip(f"{TARGET} is not installed")
    layers = run_catalogue()
    controls = [layer for layer in layers if layer["kind"] == "control"]
    rows = [kill_row(layer) for layer in layers if layer["kind"] == "mutant"]
    caught = sum(r["caught"] for r in rows)
    record_property(KEY, {"kill_rate": f"{caught}/{len(rows)}", "rows": rows})

    assert [r["mutant"] for r in rows if r["breaks"] not in CHECKS] == [], "BREAKS must name a check"
    broken_controls = {
        c["name"]: {sid: v for sid, v in c["runs"] if v} for c in controls if any(v for _, v in c["runs"])
    }
    assert broken_controls == {}, "layers that follow the rule must pass every case"
    missed = {r["mutant"]: f"claims {r['breaks']}, violated {r['violated']}" for r in rows if not r["caught"]}
    assert missed == {}, f"mutants the suite does not catch ({caught}/{len(rows)} caught)"
