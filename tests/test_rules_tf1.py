"""The documented TF1 rule, checked against the sentences of the docs it cites (no TensorFlow)."""


import pytest

from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.rules import RULES, tf2
from bn_behaviour.rules.tf1 import expected
from bn_behaviour.targets import TARGETS


def scen(frozen, path, training, model="layer", when="before_compile"):
    return Scenario(model, frozen, when, path, training)


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
        # COLL: a freeze after the build only takes variables out of TRAINABLE_VARIABLES; it touches
        # neither the mode nor UPDATE_OPS
        (scen("layer", "call", "true"), "training", "updated", "n/a"),
        (scen("inner_model", "call", "true", "nested"), "training", "updated", "n/a"),
        (scen("outer_model", "call", "none", "nested"), "inference", "unchanged", "n/a"),
        # OPT: var_list is read when minimize() builds the train op: frozen before it, gamma/beta stay
        (scen("inner_model", "custom_loop", "true", "nested"), "training", "updated", "unchanged"),
        (scen("layer", "custom_loop", "false"), "inference", "unchanged", "unchanged"),
        # ... the train op built before the freeze keeps its var_list (the traced step reused)
        (scen("inner_model", "custom_loop", "true", "nested", "after_fit"), "training", "updated", "updated"),
        (scen("outer_model", "custom_loop", "none", "nested", "after_fit"), "inference", "unchanged", "updated"),
        (scen("layer", "custom_loop", "false", when="after_fit"), "inference", "unchanged", "updated"),
        # ... a new train op built after the freeze leaves them out
        (scen("outer_model", "custom_loop", "true", "nested", "after_fit_recompile"), "training", "updated",
         "unchanged"),
        (scen("layer", "custom_loop", "none", when="after_fit_recompile"), "inference", "unchanged", "unchanged"),
        # the scopes of model=nested change nothing by themselves
        (scen("none", "custom_loop", "true", "nested"), "training", "updated", "updated"),
        (scen("layer_ctor", "call", "true", "nested"), "training", "updated", "n/a"),
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


@pytest.mark.parametrize("frozen, model", [("layer", "layer"), ("layer", "nested"), ("inner_model", "nested"),
                                           ("outer_model", "nested")])
@pytest.mark.parametrize("when", ["before_compile", "after_fit", "after_fit_recompile"])
def test_a_later_freeze_empties_the_weight_lists_whatever_the_train_op(frozen, model, when):
    """COLL: the scope's variables leave TRAINABLE_VARIABLES, the collection the weight lists are read
    from (and minimize()'s default var_list, OPT), whether or not the train op that runs still has them."""
    e = expected(scen(frozen, "custom_loop", "true", model, when))
    assert e["trainable_weights"] == e["model_trainable_weights"] == []
    assert e["non_trainable_weights"] == ["beta", "gamma", "moving_mean", "moving_variance"]
    assert e["affine"] == ("updated" if when == "after_fit" else "unchanged")


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
    # {layer, nested} x ({none, layer_ctor}: 2 paths; {layer, unfrozen (+ inner_model, outer_model on
    # nested)}: call + custom_loop x 3 when values) x 3 training values
    assert len(scenarios) == 96
    assert {s.model for s in scenarios} == {"layer", "nested"}
    assert {s.path for s in scenarios} == {"call", "custom_loop"}
    keys = set(tf2.expected(scenarios[0]))
    for s in scenarios:
        e = RULES["tf1"](s)
        assert set(e) == keys and e["mode"] in ("training", "inference")
        assert tf2.violations(s, e, e) == {}
