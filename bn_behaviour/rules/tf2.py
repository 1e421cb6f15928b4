"""The documented TF2 / Keras rule: what each scenario should do.

Sources (each check below names the sentence it enforces):

* BN   -- the ``keras.layers.BatchNormalization`` docstring,
  https://keras.io/api/layers/normalization_layers/batch_normalization/
* GUIDE -- the Keras transfer-learning and fine-tuning guide,
  https://keras.io/guides/transfer_learning/
* FAQ  -- the Keras FAQ on ``training`` versus ``trainable``,
  https://keras.io/getting_started/faq/#whats-the-difference-between-the-training-argument-in-call-and-the-trainable-attribute
* LAYER_DOC, SUBCLASSING, TIME_DISTRIBUTED -- how ``training`` reaches a layer
  inside a model (the ``Layer`` call documentation, the subclassing guide's
  "privileged training argument", the ``TimeDistributed`` page); see
  :func:`training_flag`.

TIME_DISTRIBUTED says the wrapper "allows to apply a layer to every temporal
slice of an input" and nothing about a layer with batch statistics: normalising
each timestep's slice as its own batch (one moving step per timestep) and
normalising the N*T samples at once (one step) both apply the layer to every
slice.  That is a documented ambiguity: the rule predicts training or inference
mode as for any model, the classification accepts either form of batch
statistics (``observation.classify_mode``, ``classify_moving_stats``), and the
report publishes which one each target took (``statistics``), unjudged.

The rule only reads the scenario; it never looks at an observation.

>>> e = expected(Scenario("functional", "layer", "before_compile", "fit", "none"))
>>> e["mode"], e["moving_stats"], e["affine"]
('inference', 'unchanged', 'unchanged')
>>> expected(Scenario("functional", "layer", "after_fit", "fit", "none"))["mode"]
'training'
"""

from __future__ import annotations

from typing import Optional

from ..cases.scenario import (
    COMPILED_TRAINING_PATHS,
    MODELS_WITH_INNER,
    TRAINING_PATHS,
    Scenario,
)
from .checks import Check, run_checks
from .observation import expectation

BN_DOC = "https://keras.io/api/layers/normalization_layers/batch_normalization/"
GUIDE = "https://keras.io/guides/transfer_learning/"
#: The Layer class documentation on the ``training`` call argument.
LAYER_DOC = "https://keras.io/api/layers/base_layer/"
SUBCLASSING = ("https://keras.io/guides/making_new_layers_and_models_via_subclassing/"
               "#privileged-training-argument-in-the-call-method")
TIME_DISTRIBUTED = "https://keras.io/api/layers/recurrent_layers/time_distributed/"
FAQ = (
    "https://keras.io/getting_started/faq/"
    "#whats-the-difference-between-the-training-argument-in-call-and-the-trainable-attribute"
)

State = dict[str, bool]  # object ("layer", "inner", "outer") -> trainable


def _objects(model: str) -> list[str]:
    objs = ["layer"]
    if model in MODELS_WITH_INNER:
        objs.append("inner")
    if model != "layer":
        objs.append("outer")
    return objs


def trainable_states(s: Scenario) -> tuple[State, State]:
    """``trainable`` of every object before and after the scenario's change.

    Setting ``trainable`` on a model sets it on every inner layer (BN, GUIDE).  ``unfrozen`` freezes the
    base and unfreezes it (GUIDE's fine-tuning step): the outer model, which holds the head, stays trainable.

    >>> trainable_states(Scenario("nested", "outer_then_layer", "after_fit", "fit", "none"))
    ({'layer': False, 'inner': False, 'outer': False}, {'layer': True, 'inner': False, 'outer': False})
    """
    objs = _objects(s.model)
    everything = lambda value: {o: value for o in objs}  # noqa: E731
    initial = everything(True)
    if s.frozen == "layer_ctor":
        initial["layer"] = False
    if s.frozen == "outer_then_layer":
        initial = everything(False)
    if s.frozen == "unfrozen":  # the base (inner object) where the model has one, else the outermost object
        initial = {o: o == "outer" and "inner" in objs for o in objs}
    after = dict(initial)
    if s.frozen == "layer":
        after["layer"] = False
    elif s.frozen == "inner_model":
        after.update(inner=False, layer=False)
    elif s.frozen == "outer_model":
        after = everything(False)
    elif s.frozen == "outer_then_layer":
        after["layer"] = True
    elif s.frozen == "unfrozen":
        after = everything(True)
    return initial, after


def change_in_effect(s: Scenario) -> bool:
    """Whether the ``trainable`` change counts for the path that runs.

    BN: "If the value of the trainable attribute is changed after calling
    compile() on a model, the new value doesn't take effect for this model
    until compile() is called again."  That sentence is about the compiled
    training step; an eager or traced call reads the attribute (BN: the
    layer "will be subsequently run in inference mode").
    """
    return not (s.path in COMPILED_TRAINING_PATHS and s.when in ("after_compile", "after_fit"))


def effective_state(s: Scenario) -> State:
    initial, after = trainable_states(s)
    return after if change_in_effect(s) else initial


#: The ``training`` value a model's graph gives its BN whatever the outer call says: a node built with an
#: explicit value (FAQ: ``Dropout(0.5)(x, training=True)`` "Applies dropout at training time *and* inference
#: time"; GUIDE: ``base(inputs, training=False)``), a subclass' ``call()`` passing one (LAYER_DOC: the
#: argument given to a layer's call is the mode it runs in).
FIXED_TRAINING = {
    "base_training_false": False,
    "node_training_false": False,
    "node_training_true": True,
    "subclassed_training_false": False,
}


def training_flag(s: Scenario) -> bool:
    """The ``training`` value the BN layer receives.

    fit()/train_on_batch() run in training mode, evaluate()/predict() in
    inference mode; an explicit ``training`` argument wins, and no argument
    means inference (FAQ).  A value fixed inside the model (:data:`FIXED_TRAINING`)
    wins over the outer call: ``base(inputs, training=False)`` keeps the base in
    inference mode whatever the outer call says (GUIDE).  Otherwise the outer
    value reaches the layer through every layer between them: a custom layer
    that neither takes nor forwards ``training`` (SUBCLASSING: the built-in loops
    use the layer "correctly ... in training and inference"; LAYER_DOC), a layer
    whose own ``call`` defaults ``training=True`` (that default is the
    signature's, for that layer's own call), ``TimeDistributed`` (TIME_DISTRIBUTED:
    the wrapper applies the layer to every temporal slice).

    >>> training_flag(Scenario("node_training_true", "none", "before_compile", "predict", "none"))
    True
    >>> training_flag(Scenario("after_default_training_true", "none", "before_compile", "call", "none"))
    False
    """
    if s.model in FIXED_TRAINING:
        return FIXED_TRAINING[s.model]
    if s.path in COMPILED_TRAINING_PATHS:
        return True
    if s.path in ("call", "call_graph", "custom_loop"):
        return s.training == "true"
    return False


def expected(s: Scenario) -> dict:
    """The observation the documented rule predicts for ``s``."""
    eff = effective_state(s)
    _, now = trainable_states(s)
    mode = "training" if training_flag(s) and eff["layer"] else "inference"
    if s.path in TRAINING_PATHS:
        affine = "updated" if all(eff.values()) else "unchanged"
    else:
        affine = "n/a"
    return expectation(mode, affine, layer_trainable=now["layer"], model_trainable=all(now.values()))


# --- checks: one per documented behaviour -----------------------------------


def check_no_error(s: Scenario, observed: dict, exp: dict) -> Optional[str]:
    """The path runs without raising.

    Nothing in BN, GUIDE or FAQ allows any of these scenarios to fail: they
    are the documented ways to freeze, unfreeze, compile and run a model.
    """
    if observed["error"] != exp["error"]:
        return f"expected no error, got {observed['error']}"
    return None


def check_mode(s: Scenario, observed: dict, exp: dict) -> Optional[str]:
    """The batch is normalised with the statistics the rule picks.

    BN: with ``training=True`` the layer uses the batch's mean and variance,
    otherwise the moving ones; ``trainable = False`` on a BatchNormalization
    makes it run in inference mode.  Observed by comparing the output with the
    NumPy reference computed both ways.
    """
    if observed["mode"] != exp["mode"]:
        return f"expected the batch normalised in {exp['mode']} mode, observed {observed['mode']}"
    return None


def check_moving_stats(s: Scenario, observed: dict, exp: dict) -> Optional[str]:
    """Moving statistics move exactly when the batch is normalised in training mode.

    BN: moving_mean and moving_var "are updated each time the layer is called
    in training mode" by ``moving * momentum + batch * (1 - momentum)``; a
    frozen layer's "state updates will not be run".  ``updated`` means the
    values equal the reference update with the target's variance convention.
    """
    if observed["moving_stats"] != exp["moving_stats"]:
        return f"expected moving statistics {exp['moving_stats']}, observed {observed['moving_stats']}"
    return None


def check_affine(s: Scenario, observed: dict, exp: dict) -> Optional[str]:
    """gamma and beta are trained exactly when they are trainable weights of the trained object.

    BN: a frozen layer's "trainable weights will not be updated during fit()
    or train_on_batch()"; GUIDE: freezing a model freezes all its children,
    and a frozen model has no trainable weights to update.
    """
    if observed["affine"] != exp["affine"]:
        return f"expected gamma/beta {exp['affine']}, observed {observed['affine']}"
    return None


def check_weight_lists(s: Scenario, observed: dict, exp: dict) -> Optional[str]:
    """The layer's trainable / non-trainable weight lists follow its current ``trainable``.

    GUIDE: "Setting layer.trainable to False moves all the layer's weights
    from trainable to non-trainable"; the moving statistics are always
    non-trainable (BN).  The model's trainable weights include gamma/beta only
    while the layer and every model around it are trainable (GUIDE: freezing
    a model freezes its children).
    """
    for key in ("trainable_weights", "non_trainable_weights", "model_trainable_weights"):
        if observed[key] != exp[key]:
            return f"expected {key} {exp[key]}, observed {observed[key]}"
    return None


#: Every check, in the order failures are reported.
CHECKS: dict[str, Check] = {
    "no_error": check_no_error,
    "mode": check_mode,
    "moving_stats": check_moving_stats,
    "affine": check_affine,
    "weight_lists": check_weight_lists,
}


def violations(s: Scenario, observed: dict, exp: Optional[dict] = None) -> dict[str, str]:
    """Check name -> message for every check the observation breaks (against :func:`expected` by default)."""
    return run_checks(CHECKS, s, observed, expected(s) if exp is None else exp)
