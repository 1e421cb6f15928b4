"""The documented rules as citable statements: what each promises, where, and which rows prove it.

``bn_behaviour.rules.tf2`` predicts one observation per scenario; this module cuts
that prediction into the sentences people quote (``docs/rules.md`` has one
section per statement).  A statement names its source, the rows it is about
(a predicate on the scenario, built from the rule's own functions) and the
checks that decide it there.  On a target, it *holds* when none of those rows
breaks one of those checks, whether or not a known deviation excuses the row.

>>> [r.id for r in STATEMENTS if r.rule == "tf1"]  # doctest: +NORMALIZE_WHITESPACE
['tf1-training-picks-statistics', 'tf1-trainable-keeps-batch-statistics', 'tf1-trainable-variables',
 'tf1-documented-usage-does-not-raise']
>>> r = by_id("frozen-bn-runs-in-inference")
>>> r.about(Scenario("functional", "layer", "before_compile", "fit", "none"))
True
>>> r.about(Scenario("functional", "none", "before_compile", "fit", "none"))
False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..cases.scenario import (
    AXES,
    COMPILED_PATHS,
    COMPILED_TRAINING_PATHS,
    FROZEN_WITHOUT_CHANGE,
    PATHS_WITH_TRAINING_ARG,
    TRACED_PATHS,
    TRAINING_PATHS,
    Scenario,
)
from . import tf1, tf1_keras, tf2

MODE = ("mode", "moving_stats")


@dataclass(frozen=True)
class Statement:
    id: str  #: permanent anchor in docs/rules.md
    rule: str  #: the documented rule it belongs to (``Target.rule``)
    text: str
    source: str
    about: Callable[[Scenario], bool]
    checks: tuple[str, ...]

    def applies_to(self, rule: str) -> bool:
        """Whether targets judged by ``rule`` are held to this statement (their own, or one they inherit).

        >>> by_id("frozen-bn-runs-in-inference").applies_to("tf1-keras")
        False
        >>> by_id("fit-trains-evaluate-infers").applies_to("tf1-keras")
        True
        """
        inherits, replaced = INHERITED.get(rule, (None, ()))
        return rule == self.rule or (inherits == self.rule and self.id not in replaced)

    def verdict(self, cases: list[dict]) -> tuple[list[str], list[str]]:
        """(IDs of the rows this statement is about, IDs of those that break it).

        >>> case = {"id": "x", "scenario": dict(model="layer", frozen="none", when="before_compile",
        ...         path="call", training="true"), "violated": ["mode"]}
        >>> by_id("training-argument-picks-statistics").verdict([case])
        (['x'], ['x'])
        """
        rows, broken = [], []
        for case in cases:
            if self.about(Scenario(**case["scenario"])):
                rows.append(case["id"])
                if set(case.get("violated", ())) & set(self.checks):
                    broken.append(case["id"])
        return rows, broken


#: rule -> (the rule whose statements it shares, the statement IDs it replaces with its own).
INHERITED: dict[str, tuple[str, tuple[str, ...]]] = {"tf1-keras": (tf1_keras.INHERITS, tf1_keras.REPLACES)}


# Scopes are narrowed so that a row speaks to the statement it is about: rows whose change
# happened after compile() or a first traced step belong to the ordering statements, and
# rows of the guide's base(inputs, training=False) pattern to that statement alone.


#: Models that hold the layer directly (or in a model called without training): where the outer call's
#: ``training`` is the layer's.  The other models ask how ``training`` travels and have statements of their own.
DIRECT_MODELS = frozenset(m for m in AXES["model"] if m not in tf2.FIXED_TRAINING and m not in
                          ("wrapped", "after_default_training_true", "time_distributed"))


def _plain(s: Scenario) -> bool:
    """Not the training=False pattern, and the trainable change was made before compile()/tracing."""
    return s.model != "base_training_false" and (s.when == "before_compile" or s.when.endswith("_recompile"))


def _frozen_while_training(s: Scenario) -> bool:
    return _plain(s) and tf2.training_flag(s) and not tf2.effective_state(s)["layer"]


def _model_change(s: Scenario) -> bool:
    return _plain(s) and s.frozen in ("inner_model", "outer_model")


def _later_change(s: Scenario) -> bool:
    return s.model != "base_training_false" and s.frozen not in FROZEN_WITHOUT_CHANGE


STATEMENTS: tuple[Statement, ...] = (
    Statement(
        "training-argument-picks-statistics", "tf2",
        "With nothing frozen, training=True normalises with the batch's statistics and updates the moving"
        " ones; training=False or no argument uses the moving statistics and changes nothing.",
        tf2.FAQ,
        lambda s: s.frozen == "none" and s.model in DIRECT_MODELS and s.path in PATHS_WITH_TRAINING_ARG,
        MODE,
    ),
    Statement(
        "fit-trains-evaluate-infers", "tf2",
        "fit() and train_on_batch() run the layer in training mode; evaluate(), test_on_batch(), predict()"
        " and predict_on_batch() run it in inference mode.",
        tf2.FAQ,
        lambda s: s.frozen == "none" and s.model in DIRECT_MODELS and s.path in COMPILED_PATHS,
        MODE + ("affine",),
    ),
    Statement(
        "frozen-bn-runs-in-inference", "tf2",
        "A BatchNormalization whose trainable is False runs in inference mode even when called with"
        " training=True or inside fit(): it uses the moving statistics and does not update them.",
        tf2.BN_DOC,
        _frozen_while_training,
        MODE,
    ),
    Statement(
        "frozen-weights-not-trained", "tf2",
        "The weights of a frozen layer, or of any layer inside a frozen model, are not updated by fit(),"
        " train_on_batch() or an optimizer step.",
        tf2.GUIDE,
        lambda s: _plain(s) and s.path in TRAINING_PATHS and not all(tf2.effective_state(s).values()),
        ("affine",),
    ),
    Statement(
        "model-trainable-sets-inner-layers", "tf2",
        "Setting trainable on a model sets it on every layer inside it, nested models included.",
        tf2.GUIDE,
        _model_change,
        MODE + ("affine", "weight_lists"),
    ),
    Statement(
        "unfreezing-restores-training", "tf2",
        "Setting trainable back to True (on the same object, or on the layer inside a frozen model) makes the"
        " layer train again once the change is in effect.",
        tf2.GUIDE,
        lambda s: _plain(s) and s.frozen in ("unfrozen", "outer_then_layer"),
        MODE + ("affine",),
    ),
    Statement(
        "change-after-compile-needs-recompile", "tf2",
        "A trainable change made after compile() is ignored by fit() and train_on_batch() until compile()"
        " is called again.",
        tf2.BN_DOC,
        lambda s: _later_change(s) and s.path in COMPILED_TRAINING_PATHS and s.when in ("after_compile", "after_fit"),
        MODE + ("affine",),
    ),
    Statement(
        "recompile-applies-change", "tf2",
        "After compile() is called again, fit() and train_on_batch() follow the new trainable value.",
        tf2.BN_DOC,
        lambda s: _later_change(s) and s.path in COMPILED_TRAINING_PATHS and s.when.endswith("_recompile"),
        MODE + ("affine",),
    ),
    Statement(
        "traced-step-follows-change", "tf2",
        "Outside compile(), a trainable change counts from the next call: a tf.function or custom training"
        " step traced before the change follows the new value.",
        tf2.BN_DOC,
        lambda s: _later_change(s) and s.path in TRACED_PATHS and s.when == "after_fit",
        MODE + ("affine",),
    ),
    Statement(
        "base-training-false-stays-inference", "tf2",
        "A base model called with training=False inside the outer model keeps its BatchNormalization in"
        " inference mode, even after the base is unfrozen for fine-tuning.",
        tf2.GUIDE,
        lambda s: s.model == "base_training_false",
        MODE,
    ),
    Statement(
        "node-training-argument-holds", "tf2",
        "A training value given when the functional graph is built (bn(x, training=False) or"
        " bn(x, training=True)) holds whatever the model is called with: fit(), predict(), or a call with"
        " either training value.",
        tf2.FAQ,
        lambda s: s.frozen == "none" and s.model in ("node_training_false", "node_training_true"),
        MODE,
    ),
    Statement(
        "subclass-call-training-holds", "tf2",
        "A keras.Model subclass whose call() passes training=False to its BatchNormalization keeps it in"
        " inference mode under fit() and every other path.",
        tf2.LAYER_DOC,
        lambda s: s.model == "subclassed_training_false",
        MODE,
    ),
    Statement(
        "training-reaches-wrapped-layer", "tf2",
        "The outer call's training value (or fit()'s, evaluate()'s, predict()'s) reaches a BatchNormalization"
        " inside a custom layer whose call() neither takes nor forwards training, and inside TimeDistributed.",
        tf2.SUBCLASSING,
        lambda s: s.frozen == "none" and s.model in ("wrapped", "time_distributed"),
        MODE,
    ),
    Statement(
        "signature-default-stays-local", "tf2",
        "A layer whose call() defaults training to True (as image preprocessing and augmentation layers do)"
        " does not put the BatchNormalization after it in training mode: without a training argument the model"
        " runs in inference mode.",
        tf2.BN_DOC,
        lambda s: s.frozen == "none" and s.model == "after_default_training_true",
        MODE,
    ),
    Statement(
        "trainable-false-moves-weights", "tf2",
        "trainable=False moves gamma and beta from trainable_weights to non_trainable_weights; the moving"
        " statistics are always non-trainable.",
        tf2.GUIDE,
        lambda s: s.frozen != "none",
        ("weight_lists",),
    ),
    Statement(
        "documented-usage-does-not-raise", "tf2",
        "Freezing, unfreezing, compiling and running a model the documented ways never raises.",
        tf2.BN_DOC,
        lambda s: True,
        ("no_error",),
    ),
    Statement(
        "tf1-keras-frozen-keeps-batch-statistics", "tf1-keras",
        "A frozen layer of the TF1 class (tf.compat.v1.keras.layers.BatchNormalization) called in training mode"
        " still normalises with the batch's statistics (trainable=False does not switch it to inference mode),"
        " and its state updates are not run: the moving statistics stay put.",
        tf1_keras.BN2_DOC,
        _frozen_while_training,
        MODE,
    ),
    Statement(
        "tf1-training-picks-statistics", "tf1",
        "training=True normalises with the batch's statistics (the moving ones are updated when the"
        " UPDATE_OPS run); training=False, the default, uses the moving statistics.",
        tf1.API_DOC,
        lambda s: s.frozen == "none",
        MODE,
    ),
    Statement(
        "tf1-trainable-keeps-batch-statistics", "tf1",
        "trainable=False does not switch the layer to inference mode: with training=True it still uses"
        " the batch's statistics.",
        tf1.API_DOC,
        lambda s: s.frozen == "layer_ctor",
        MODE,
    ),
    Statement(
        "tf1-trainable-variables", "tf1",
        "trainable=False keeps gamma and beta out of TRAINABLE_VARIABLES, so minimize() does not train them.",
        tf1.OPTIMIZER_DOC,
        lambda s: s.frozen == "layer_ctor" or s.path in TRAINING_PATHS,
        ("affine", "weight_lists"),
    ),
    Statement(
        "tf1-documented-usage-does-not-raise", "tf1",
        "Building the layer, running its UPDATE_OPS and minimize() on its loss the documented ways never raises.",
        tf1.API_DOC,
        lambda s: True,
        ("no_error",),
    ),
)


def by_id(statement_id: str) -> Statement:
    return next(r for r in STATEMENTS if r.id == statement_id)
