"""The bn-behaviour command: one-line usage errors, observe (defaults, readable answer, --json), --version, report."""

import dataclasses
import json
import subprocess
import sys

import pytest

from bn_behaviour import cli
from bn_behaviour.cases.scenario import AXES as SCENARIO_AXES
from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.matrices import why_not
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
    (["--model", "mlp"], "unknown model 'mlp'; valid values: layer, sequential"),
], ids=["unknown-target", "bad-model", "bad-training", "excluded-scenario", "lacked-matrix", "bad-id",
        "bad-model-with-defaults"])
def test_bad_input_is_one_line(capsys, clean_env, args, message):
    """The default target is the environment's (``KERAS_BACKEND``): none here, so keras-tensorflow, whatever
    target this pytest process runs."""
    assert cli.main(["observe", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bn-behaviour: error: ") and message in err
    assert len(err.splitlines()) == 1


def test_defaults_complete_the_axes_and_are_said_on_stderr(capsys):
    """The defaults complete a bare layer to path=fit, which it cannot take: the matrix's own one-line error,
    after the line saying what was assumed."""
    assert cli.main(["observe", "--target", "keras-tensorflow", "--model", "layer"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "assumed: --frozen none --when before_compile --path fit --training none",
        "bn-behaviour: error: layer-frozen=none-when=before_compile-path=fit-training=none is not in the "
        "keras-tensorflow main matrix: path=fit needs compile(); a bare layer has none",
    ]


@pytest.mark.parametrize("name", [n for n, t in TARGETS.items() if t.layer_class])
def test_the_defaults_are_a_case_of_every_keras_target(name):
    assert list(cli.OBSERVE_DEFAULTS) == list(SCENARIO_AXES)
    assert why_not(TARGETS[name], Scenario(**cli.OBSERVE_DEFAULTS)) is None


def test_version_names_the_frameworks_without_importing_them():
    code = ("import sys\nfrom bn_behaviour import cli\ntry:\n    cli.main(['--version'])\nexcept SystemExit as e:\n"
            "    heavy = [m for m in ('keras', 'tensorflow', 'tf_keras', 'jax', 'torch') if m in sys.modules]\n"
            "    print(e.code, heavy, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stderr.strip() == "0 []"
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("bn-behaviour 0.") and [line.split()[0] for line in lines[1:]] == list(cli.FRAMEWORKS)
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # a version or "not installed"


def test_target_without_driver_is_a_usage_error(capsys, monkeypatch):
    # tf1 has a driver now; take it away for this test.
    monkeypatch.setitem(TARGETS, "tf1", dataclasses.replace(TARGETS["tf1"], driver=""))
    assert cli.main(["observe", "--target", "tf1", *AXES]) == 2
    assert "cannot run" in capsys.readouterr().err


@pytest.mark.harness
def test_observe_prints_the_observation_in_a_fresh_process(clean_env):
    proc = run_cli("observe", "--target", "keras-tensorflow", *AXES, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["id"] == "functional-frozen=layer-when=before_compile-path=predict-training=none"
    assert out["observed"]["mode"] == "inference"  # predict() never uses batch statistics
    assert out["versions"]["keras"]


@pytest.mark.harness
def test_workflow_stdout_is_only_the_json_though_export_prints(clean_env):
    """model.export() prints its endpoints (and TensorFlow writes to descriptor 1): stderr gets them."""
    case = "workflow=export-format=tf_saved_model-frozen=none"
    proc = run_cli("workflow", case, "--target", "keras-tensorflow", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["id"] == case
    assert "Saved artifact at" in proc.stderr


@pytest.mark.harness
def test_observe_answers_readably_by_default(clean_env):
    proc = run_cli("observe", "--target", "keras-tensorflow")
    assert proc.returncode == 0, proc.stderr
    assert "assumed: --model functional --frozen none --when before_compile --path fit --training none" in proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split(":")[0] in ("PASS", "KNOWN DEVIATION", "FAIL")
    assert lines[1] == "case      functional-frozen=none-when=before_compile-path=fit-training=none"
    assert any(line.startswith("target    keras-tensorflow (keras ") for line in lines)
    assert any(line[2:].startswith("mode ") for line in lines)  # observed next to the rule, field by field
    assert ("repro     bn-behaviour observe --target keras-tensorflow --model functional --frozen none --when "
            "before_compile --path fit --training none") in lines
    assert len(lines) < 40  # one screen


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




def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    """`bn-behaviour ... | head` closes the pipe early: the command ends with status 0, no traceback."""
    rows = [{"id": f"layer-frozen=none-when=before_compile-path=call-training=true-{i}",
             "cases": {t: {"status": "pass", "observed": {"mode": m, "moving_stats": "updated", "affine": "n/a",
                                                          "error": None}}
                       for t, m in (("keras-tensorflow", "training"), ("tf_keras", "inference"))}}
            for i in range(3000)]
    merged = {"format": 1, "targets": [{"name": "keras-tensorflow"}, {"name": "tf_keras"}], "skipped_targets": {},
              "rows": rows}
    (tmp_path / "behaviour.json").write_text(json.dumps(merged))
    script = ("import os, sys\n"
              "r, w = os.pipe(); os.close(r); os.dup2(w, 1)  # a reader that already stopped\n"
              "from bn_behaviour.cli import main\n"
              f"sys.exit(main(['disagree', {str(tmp_path / 'behaviour.json')!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr


def test_code_prints_the_row_program_without_running_it(capsys):
    """``observe --code`` prints the row's standalone program (the one tests/test_repro.py checks against the
    driver) without running it; a target without a program writer is one line."""
    row = "nested-frozen=inner_model-when=before_compile-path=custom_loop-training=true"
    assert cli.main(["observe", "--target", "keras-tensorflow", "--id", row, "--code"]) == 0
    code = capsys.readouterr().out
    assert code.startswith(f"# bn-behaviour scenario {row}") and "base.trainable = False" in code
    compile(code, row, "exec")
    assert cli.main(["observe", "--target", "keras-jax", "--id", row, "--code"]) == 0
    code = capsys.readouterr().out
    assert "model.stateless_call(" in code and "jax.value_and_grad" in code  # the Keras JAX guide's loop
    compile(code, row, "exec")
    assert cli.main(["observe", "--target", "keras-torch", "--id", row, "--code"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no standalone program is written" in err
