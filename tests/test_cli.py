"""The bn-behaviour command: one-line usage errors, observe, report."""

import dataclasses
import json
import subprocess
import sys

import pytest

from bn_behaviour import cli
from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.report import documents
from bn_behaviour.report.format import merge
from bn_behaviour.targets import TARGETS

AXES = ["--model", "functional", "--frozen", "layer", "--when", "before_compile", "--path", "predict",
        "--training", "none"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "bn_behaviour.cli", *args], capture_output=True, text=True)


@pytest.mark.parametrize("args, message", [
    (["--target", "keras-tf", *AXES], "unknown target 'keras-tf'; valid targets: keras-tensorflow"),
    (["--model", "mlp", *AXES[2:]], "unknown model 'mlp'; valid values: layer, sequential"),
    ([*AXES[:-1], "maybe"], "unknown training 'maybe'; valid values: none, true, false"),
    (["--model", "layer", "--frozen", "none", "--when", "before_compile", "--path", "fit", "--training", "none"],
     "is not in the keras-tensorflow main matrix: path=fit needs compile(); a bare layer has none"),
    (["--target", "keras-tensorflow", "--id", "layer-frozen=none-when=before_compile-path=call-training=true-input=4d"],
     "is not in the keras-tensorflow fused matrix: Keras 3 has no fused kernel"),
    (["--id", "layer-frozen=sideways"], "is not a case ID of any matrix"),
    (["--model", "layer"], "give every axis or --id ID; missing --frozen, --when, --path, --training"),
], ids=["unknown-target", "bad-model", "bad-training", "excluded-scenario", "lacked-matrix", "bad-id",
        "missing-axes"])
def test_bad_input_is_one_line(capsys, args, message):
    assert cli.main(["observe", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bn-behaviour: error: ") and message in err
    assert len(err.splitlines()) == 1


def test_target_without_driver_is_a_usage_error(capsys, monkeypatch):
    # tf1 has a driver now; take it away for this test.
    monkeypatch.setitem(TARGETS, "tf1", dataclasses.replace(TARGETS["tf1"], driver=""))
    assert cli.main(["observe", "--target", "tf1", *AXES]) == 2
    assert "cannot run" in capsys.readouterr().err


@pytest.mark.harness
def test_observe_prints_the_observation_in_a_fresh_process():
    proc = run_cli("observe", "--target", "keras-tensorflow", *AXES)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["id"] == "functional-frozen=layer-when=before_compile-path=predict-training=none"
    assert out["observed"]["mode"] == "inference"  # predict() never uses batch statistics
    assert out["versions"]["keras"]


def _case(sid, status, mode="inference"):
    return {"id": sid, "scenario": Scenario.from_id(sid).axes(), "status": status,
            "observed": {"mode": mode, "moving_stats": "unchanged", "affine": "n/a", "error": None}}


def test_merge_and_markdown_put_targets_side_by_side():
    sid = "layer-frozen=layer-when=before_compile-path=call-training=true"
    a = {"target": {"name": "keras-tensorflow", "versions": {"keras": "3"}}, "cases": [_case(sid, "pass")]}
    b = {"target": {"name": "tf1", "versions": {"tensorflow": "2"}}, "cases": [_case(sid, "fail", "training")]}
    merged = merge([a, b], {"keras-jax": "jax is not installed"})
    md = documents.behaviour_md(merged)
    assert f'<a id="{sid}"></a>' in md
    assert "| infer / same / - | train / same / - (FAIL) |" in md
    assert "**keras-jax**: skipped, jax is not installed" in md
