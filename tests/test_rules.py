"""The documented rule, checked against sentences of the docs it cites."""

import pytest

from bn_behaviour.cases.scenario import Scenario, generate
from bn_behaviour.rules.tf2 import expected, trainable_states, violations


def scen(model, frozen, when, path, training="none"):
    return Scenario(model, frozen, when, path, training)


@pytest.mark.parametrize(
    "scenario, mode, moving, affine",
    [
        # BN: "trainable = False on the layer means that the layer will be subsequently run in inference mode"
        (scen("layer", "layer", "before_compile", "call", "true"), "inference", "unchanged", "n/a"),
        (scen("layer", "none", "before_compile", "call", "true"), "training", "updated", "n/a"),
        # FAQ: no training argument outside fit() means inference
        (scen("layer", "none", "before_compile", "call", "none"), "inference", "unchanged", "n/a"),
        # fit() runs in training mode and trains gamma/beta
        (scen("functional", "none", "before_compile", "fit"), "training", "updated", "updated"),
        # BN: trainable on a model reaches every inner layer
        (scen("nested", "outer_model", "before_compile", "fit"), "inference", "unchanged", "unchanged"),
        # BN: a change after compile() counts only after compile() again
        (scen("functional", "layer", "after_compile", "fit"), "training", "updated", "updated"),
        (scen("functional", "layer", "after_compile_recompile", "fit"), "inference", "unchanged", "unchanged"),
        (scen("functional", "unfrozen", "after_fit", "fit"), "inference", "unchanged", "unchanged"),
        (scen("functional", "unfrozen", "after_fit_recompile", "fit"), "training", "updated", "updated"),
        # GUIDE: base(inputs, training=False) stays in inference mode when unfrozen, weights still train
        (scen("base_training_false", "unfrozen", "after_fit_recompile", "fit"), "inference", "unchanged", "updated"),
        # evaluate()/predict() never train
        (scen("functional", "none", "before_compile", "evaluate"), "inference", "unchanged", "n/a"),
        # FAQ: Dropout(0.5)(x, training=True) "Applies dropout at training time *and* inference time":
        # a value given when the graph is built holds whatever the model is called with
        (scen("node_training_true", "none", "before_compile", "predict"), "training", "updated", "n/a"),
        (scen("node_training_false", "none", "before_compile", "fit"), "inference", "unchanged", "updated"),
        (scen("node_training_true", "layer", "before_compile", "evaluate"), "inference", "unchanged", "n/a"),
        # a subclass' call() passing training=False: the layer's own argument
        (scen("subclassed_training_false", "none", "before_compile", "call", "true"), "inference", "unchanged", "n/a"),
        # the outer value reaches a layer through a custom layer that does not forward it, and TimeDistributed
        (scen("wrapped", "none", "before_compile", "fit"), "training", "updated", "updated"),
        (scen("time_distributed", "inner_model", "before_compile", "fit"), "inference", "unchanged", "unchanged"),
        # BN: "training=False (which is the default)": another layer's signature default is that layer's own
        (scen("after_default_training_true", "none", "before_compile", "call"), "inference", "unchanged", "n/a"),
    ],
    ids=lambda v: v.id if isinstance(v, Scenario) else None,
)
def test_documented_expectations(scenario, mode, moving, affine):
    e = expected(scenario)
    assert (e["mode"], e["moving_stats"], e["affine"]) == (mode, moving, affine)


def test_outer_then_layer_trains_statistics_but_not_gamma_beta():
    """The layer is trainable again (training mode), but the frozen outer model lists no
    trainable weights, so fit() has nothing to update."""
    e = expected(scen("functional", "outer_then_layer", "before_compile", "fit"))
    assert (e["mode"], e["affine"], e["trainable_weights"], e["model_trainable_weights"]) == (
        "training", "unchanged", ["beta", "gamma"], []
    )


def test_states_follow_the_recursive_rule():
    initial, after = trainable_states(scen("nested", "inner_model", "after_fit", "fit"))
    assert initial == {"layer": True, "inner": True, "outer": True}
    assert after == {"layer": False, "inner": False, "outer": True}


def test_every_scenario_has_a_complete_expectation():
    for s in generate():
        e = expected(s)
        assert e["mode"] in ("training", "inference")
        assert (e["moving_stats"] == "updated") == (e["mode"] == "training")


def test_an_observation_equal_to_the_expectation_breaks_no_rule():
    s = scen("functional", "layer", "before_compile", "fit")
    assert violations(s, dict(expected(s))) == {}


def test_each_broken_field_names_its_rule():
    s = scen("functional", "layer", "before_compile", "fit")
    obs = dict(expected(s), mode="training", moving_stats="updated", error="ValueError: x")
    assert sorted(violations(s, obs)) == ["mode", "moving_stats", "no_error"]
