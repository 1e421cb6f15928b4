"""The documented TF1 rule, checked against the sentences of the docs it cites (no TensorFlow)."""


import pytest

from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.rules import RULES, tf2
from bn_behaviour.rules.tf1 import expected
from bn_behaviour.targets import TARGETS


def scen(frozen, path, training):
    return Scenario("layer", frozen, "before_compile", path, training)


@pytest.mark.parametrize(
    "scenario, mode, moving, affine",
    [
        # API training: "training mode (normalized with statistics of the current batch)";
        # API Note: the moving statistics are updated when the UPDATE_OPS run.
        (scen("none", "call", "true"), "training", "updated", "n/a"),
        # API training: "inference mode (normalized with moving statistics)"
        (scen("none", "call", "false"), "inference", "unchanged", "n/a"),
        # API: training defaults to False, so no argument means inference
        (scen("none", "call", "none"), "inference", "unchanged", "n/a"),
        # TF2 doc: "In 1.*, setting layer.trainable = False would freeze the layer
        # but would not switch it to inference mode."
        (scen("layer_ctor", "call", "true"), "training", "updated", "n/a"),
        (scen("layer_ctor", "call", "false"), "inference", "unchanged", "n/a"),
        # OPT: minimize() updates TRAINABLE_VARIABLES; API trainable: gamma/beta are in it only if True
        (scen("none", "custom_loop", "true"), "training", "updated", "updated"),
        (scen("none", "custom_loop", "none"), "inference", "unchanged", "updated"),
        (scen("layer_ctor", "custom_loop", "true"), "training", "updated", "unchanged"),
        (scen("layer_ctor", "custom_loop", "false"), "inference", "unchanged", "unchanged"),
    ],
    ids=lambda v: v.id if isinstance(v, Scenario) else None,
)
def test_documented_expectations(scenario, mode, moving, affine):
    e = expected(scenario)
    assert (e["mode"], e["moving_stats"], e["affine"], e["error"]) == (mode, moving, affine, None)


@pytest.mark.parametrize("path", ["call", "custom_loop"])
def test_trainable_false_only_leaves_trainable_variables(path):
    """API trainable: "if True also add variables to the graph collection
    GraphKeys.TRAINABLE_VARIABLES"; the moving statistics are never in it."""
    frozen, free = expected(scen("layer_ctor", path, "true")), expected(scen("none", path, "true"))
    assert free["trainable_weights"] == free["model_trainable_weights"] == ["beta", "gamma"]
    assert free["non_trainable_weights"] == ["moving_mean", "moving_variance"]
    assert frozen["trainable_weights"] == frozen["model_trainable_weights"] == []
    assert frozen["non_trainable_weights"] == ["beta", "gamma", "moving_mean", "moving_variance"]


def test_tf1_and_tf2_rules_differ_exactly_on_frozen_training():
    """The seed's point: trainable=False switches to inference mode in TF2 only."""
    s = scen("layer_ctor", "call", "true")
    assert tf2.expected(s)["mode"] == "inference"
    assert expected(s)["mode"] == "training"
    assert tf2.expected(scen("none", "call", "true"))["mode"] == expected(scen("none", "call", "true"))["mode"]


def test_registered_next_to_the_unchanged_tf2_rule():
    assert RULES["tf1"] is expected
    assert RULES["tf2"] is tf2.expected
    assert TARGETS["tf1"].rule == "tf1"


def test_every_tf1_scenario_has_a_complete_expectation():
    scenarios = TARGETS["tf1"].scenarios()
    assert len(scenarios) == 12  # layer x {none, layer_ctor} x {call, custom_loop} x 3 training values
    keys = set(tf2.expected(scenarios[0]))
    for s in scenarios:
        e = RULES["tf1"](s)
        assert set(e) == keys and e["mode"] in ("training", "inference")
        assert tf2.violations(s, e, e) == {}
