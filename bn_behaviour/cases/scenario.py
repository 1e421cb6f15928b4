"""Scenarios: what a user does with a BatchNormalization layer.

A scenario is one value on each axis.  The axes, their values and the rules
that exclude meaningless combinations are data; every name here is part of
the public contract (documents cite the IDs built from them), so values may be
added but never renamed.

>>> s = Scenario("functional", "layer", "after_fit", "fit", "none")
>>> s.id
'functional-frozen=layer-when=after_fit-path=fit-training=none'
>>> Scenario.from_id(s.id) == s
True
>>> exclusion_reason(Scenario("layer", "outer_model", "before_compile", "call", "true"))
'frozen=outer_model needs a model around the layer; model=layer has none'
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import ClassVar, Iterator

from .inputs import Data, flat_data, sequence_data

#: Every axis, in ID order, with its values and what each value means.
AXES: dict[str, dict[str, str]] = {
    "model": {
        "layer": "a bare BatchNormalization",
        "sequential": "a Sequential model holding the layer",
        "functional": "a functional model holding the layer",
        "subclassed": "a keras.Model subclass holding the layer as an attribute",
        "nested": "the layer inside an inner model, used inside an outer functional model",
        "base_training_false": "the fine-tuning guide's pattern: x = base(inputs, training=False) in the outer model",
        "node_training_false": "a functional model whose BN node is built as bn(x, training=False)",
        "node_training_true": "a functional model whose BN node is built as bn(x, training=True)",
        "subclassed_training_false": "a keras.Model subclass whose call() calls its BN with training=False",
        "wrapped": "the layer inside a custom Layer whose call(self, x) neither takes nor forwards training, "
        "used in a functional model (frozen=inner_model freezes that custom layer)",
        "after_default_training_true": "a functional model with a pass-through custom layer whose "
        "call(self, x, training=True) defaults training to True, placed in front of the layer",
        "time_distributed": "TimeDistributed(BatchNormalization()) in a functional model on a (batch, time, "
        "features) input of three timesteps whose statistics differ (frozen=inner_model freezes the "
        "TimeDistributed wrapper)",
    },
    "frozen": {
        "none": "nothing is frozen",
        "layer": "layer.trainable = False",
        "layer_ctor": "BatchNormalization(trainable=False)",
        "inner_model": "inner_model.trainable = False",
        "outer_model": "outer_model.trainable = False",
        "outer_then_layer": "the outer model is frozen, then layer.trainable = True",
        "unfrozen": "the base (the inner object, where the model has one; else the outermost object) is frozen, "
        "then set back to trainable = True",
    },
    "when": {
        "before_compile": "before compile() and before any traced step",
        "after_compile": "after compile(), without compiling again",
        "after_compile_recompile": "after compile(), then compile() again",
        "after_fit": "after the first training step, without compiling (or tracing) again",
        "after_fit_recompile": "after the first training step, then compile() (or a new traced function) again",
    },
    "path": {
        "call": "an eager __call__",
        "call_graph": "the call inside a traced function (tf.function)",
        "fit": "model.fit() for one step",
        "train_on_batch": "model.train_on_batch()",
        "evaluate": "model.evaluate()",
        "test_on_batch": "model.test_on_batch()",
        "predict": "model.predict()",
        "predict_on_batch": "model.predict_on_batch()",
        "custom_loop": "one traced GradientTape step with optimizer.apply()",
    },
    "training": {
        "none": "no training argument",
        "true": "training=True",
        "false": "training=False",
    },
}

#: Models whose BN sits inside an inner object between it and the outer model: an inner model (the
#: "base" of the fine-tuning guide) or a layer wrapping it (frozen=inner_model freezes that object).
MODELS_WITH_INNER = frozenset({"nested", "base_training_false", "wrapped", "time_distributed"})
#: Models that ask how ``training`` travels through a real graph to the layer (issue 13): each holds the
#: layer behind something that could pass, bake or hide ``training``.  They are crossed with every path
#: and training value, but only with the freezes that name an object they have, made before compile.
PROPAGATION_MODELS = frozenset({"node_training_false", "node_training_true", "subclassed_training_false",
                                "wrapped", "after_default_training_true", "time_distributed"})
#: The ``frozen`` values the propagation models are crossed with (see :func:`exclusion_reason`).
PROPAGATION_FROZEN = frozenset({"none", "layer", "inner_model", "outer_model"})
#: Why each other ``frozen`` value would repeat a question for the propagation models.
_PROPAGATION_FROZEN_SAME = {
    "layer_ctor": "trainable=False at construction freezes as frozen=layer does before compile()",
    "outer_then_layer": "setting the layer's trainable back to True inside a frozen model is the plain"
    " models' question",
    "unfrozen": "freezing and unfreezing the same object before compile() leaves it as frozen=none does",
}
#: Models whose input has a time axis: (batch, time, features).
SEQUENCE_MODELS = frozenset({"time_distributed"})
#: Paths that go through compile(): fit() and friends.
COMPILED_PATHS = frozenset(
    {"fit", "train_on_batch", "evaluate", "test_on_batch", "predict", "predict_on_batch"}
)
#: Compiled paths that run a training step.
COMPILED_TRAINING_PATHS = frozenset({"fit", "train_on_batch"})
#: Paths that run a traced function the suite builds itself.
TRACED_PATHS = frozenset({"call_graph", "custom_loop"})
#: Paths that change variables (and so have an `affine` observation).
TRAINING_PATHS = COMPILED_TRAINING_PATHS | {"custom_loop"}
#: Paths where the caller passes `training=` itself.
PATHS_WITH_TRAINING_ARG = frozenset({"call"}) | TRACED_PATHS
#: `frozen` values that set `trainable` once, at construction, or never.
FROZEN_WITHOUT_CHANGE = frozenset({"none", "layer_ctor"})
#: `frozen` values that need a model around the layer.
FROZEN_NEEDS_MODEL = frozenset({"outer_model", "outer_then_layer"})


@dataclass(frozen=True, order=True)
class Scenario:
    """One point of the main matrix."""

    AXES: ClassVar[dict[str, dict[str, str]]]  # set below: the module's AXES
    PATTERN_NEEDS: ClassVar[frozenset[str]] = frozenset()

    model: str
    frozen: str
    when: str
    path: str
    training: str

    def __post_init__(self) -> None:
        for axis, value in self.axes().items():
            if value not in AXES[axis]:
                raise ValueError(
                    f"unknown {axis} {value!r}; valid values: {', '.join(AXES[axis])}"
                )

    @property
    def id(self) -> str:
        """The permanent ID: the model, then ``axis=value`` for the other axes."""
        return "-".join(
            [self.model] + [f"{axis}={getattr(self, axis)}" for axis in list(AXES)[1:]]
        )

    @classmethod
    def from_id(cls, scenario_id: str) -> "Scenario":
        """Parse an ID back into a scenario (inverse of :attr:`id`).

        >>> Scenario.from_id("layer-frozen=none-when=before_compile-path=call-training=true").path
        'call'
        """
        model, *rest = scenario_id.split("-")
        if not all("=" in part for part in rest):
            raise ValueError(f"not a scenario ID: {scenario_id!r}")
        values = dict(part.split("=", 1) for part in rest)
        if sorted(values) != sorted(list(AXES)[1:]):
            raise ValueError(f"not a scenario ID: {scenario_id!r}")
        return cls(model=model, **values)

    def axes(self) -> dict[str, str]:
        return {axis: getattr(self, axis) for axis in AXES}

    def describe(self) -> str:
        """The row's one-sentence, plain-English description (documents cite it with the ID).

        >>> print(Scenario("functional", "layer", "after_compile", "fit", "none").describe())  # doctest: +ELLIPSIS
        A BatchNormalization in a functional model, frozen on the layer after compile() without compiling again, ...
        >>> Scenario("layer", "none", "before_compile", "call", "true").describe()
        'A bare BatchNormalization, nothing frozen, called eagerly with training=True.'
        """
        frozen = _FROZEN_PHRASE[self.frozen]
        if self.frozen == "inner_model" and self.model in _WRAPPER_PHRASE:
            frozen = f"frozen through the {_WRAPPER_PHRASE[self.model]} around it"
        if self.frozen not in FROZEN_WITHOUT_CHANGE:
            traced = self.path in TRACED_PATHS or self.path == "call"
            frozen += " " + (_WHEN_TRACED if traced else _WHEN_PHRASE)[self.when]
        training = _TRAINING_PHRASE[self.training]
        return f"{_MODEL_PHRASE[self.model]}, {frozen}, {_PATH_PHRASE[self.path]}{training}."


Scenario.AXES = AXES


# The phrases describe() joins into a sentence, one per axis value.
_MODEL_PHRASE = {
    "layer": "A bare BatchNormalization",
    "sequential": "A BatchNormalization in a Sequential model",
    "functional": "A BatchNormalization in a functional model",
    "subclassed": "A BatchNormalization held by a keras.Model subclass",
    "nested": "A BatchNormalization in an inner model used by an outer functional model",
    "base_training_false": "A BatchNormalization in a base model called with training=False by the outer model",
    "node_training_false": "A BatchNormalization node built with bn(x, training=False) in a functional model",
    "node_training_true": "A BatchNormalization node built with bn(x, training=True) in a functional model",
    "subclassed_training_false": "A BatchNormalization called with training=False by a keras.Model subclass",
    "wrapped": "A BatchNormalization inside a custom layer that does not forward training, in a functional model",
    "after_default_training_true": "A BatchNormalization after a pass-through layer whose call() defaults"
    " training to True, in a functional model",
    "time_distributed": "A BatchNormalization wrapped in TimeDistributed in a functional model",
}
_FROZEN_PHRASE = {
    "none": "nothing frozen",
    "layer": "frozen on the layer",
    "layer_ctor": "built with trainable=False",
    "inner_model": "frozen through the inner model",
    "outer_model": "frozen through the outer model",
    "outer_then_layer": "frozen through the outer model and then unfrozen on the layer",
    "unfrozen": "frozen and then unfrozen on the same object",
}
#: The inner object of the models whose inner object is a layer, not a model.
_WRAPPER_PHRASE = {"wrapped": "custom layer", "time_distributed": "TimeDistributed wrapper"}
_WHEN_PHRASE = {
    "before_compile": "before compile()",
    "after_compile": "after compile() without compiling again",
    "after_compile_recompile": "after compile() and then compiled again",
    "after_fit": "after a first training step without compiling again",
    "after_fit_recompile": "after a first training step and then compiled again",
}
_WHEN_TRACED = {
    "before_compile": "before any traced step",
    "after_fit": "after a first traced step (the traced function is reused)",
    "after_fit_recompile": "after a first traced step (a new function is traced)",
}
_PATH_PHRASE = {
    "call": "called eagerly",
    "call_graph": "called inside tf.function",
    "fit": "trained with fit()",
    "train_on_batch": "trained with train_on_batch()",
    "evaluate": "evaluated with evaluate()",
    "test_on_batch": "evaluated with test_on_batch()",
    "predict": "run by predict()",
    "predict_on_batch": "run by predict_on_batch()",
    "custom_loop": "trained by a GradientTape step with optimizer.apply()",
}
_TRAINING_PHRASE = {"none": "", "true": " with training=True", "false": " with training=False"}


def exclusion_reason(s: Scenario) -> str | None:
    """Why a combination is not generated, or None when it is meaningful."""
    has_model = s.model != "layer"
    if s.frozen == "inner_model" and s.model not in MODELS_WITH_INNER:
        return f"frozen=inner_model needs an inner model; model={s.model} has none"
    if s.model in PROPAGATION_MODELS and s.frozen not in PROPAGATION_FROZEN:
        return (f"model={s.model} asks how training reaches the layer; frozen={s.frozen} asks nothing new of it"
                f" ({_PROPAGATION_FROZEN_SAME[s.frozen]})")
    if s.model in PROPAGATION_MODELS and s.when != "before_compile":
        return (f"model={s.model} asks how training reaches the layer, not when a trainable change is read:"
                " the compile() and tracing order (when) is answered by the plain models")
    if s.frozen in FROZEN_NEEDS_MODEL and not has_model:
        return f"frozen={s.frozen} needs a model around the layer; model=layer has none"
    if s.path in COMPILED_PATHS and not has_model:
        return f"path={s.path} needs compile(); a bare layer has none"
    if s.path not in PATHS_WITH_TRAINING_ARG and s.training != "none":
        return f"path={s.path} takes no training argument"
    if s.frozen in FROZEN_WITHOUT_CHANGE and s.when != "before_compile":
        return f"frozen={s.frozen} changes nothing later; only when=before_compile applies"
    if s.path == "call" and s.when != "before_compile":
        return "an eager call compiles and traces nothing; only when=before_compile applies"
    if s.path in TRACED_PATHS and s.when in ("after_compile", "after_compile_recompile"):
        return f"path={s.path} does not use compile(); when=before_compile covers it"
    return None


def data(s: Scenario) -> Data:
    """The batches ``s`` runs on: (batch, time, features) for the models with a time axis, else (N, C).

    >>> data(Scenario("time_distributed", "none", "before_compile", "call", "true")).x.shape
    (8, 3, 3)
    """
    return sequence_data() if s.model in SEQUENCE_MODELS else flat_data()


def all_combinations() -> Iterator[Scenario]:
    """Every combination of the axes' values, in a stable order (made once: scenarios are immutable)."""
    yield from _combinations()


@functools.cache
def _combinations() -> tuple[Scenario, ...]:
    return tuple(Scenario(*values) for values in itertools.product(*AXES.values()))


def generate() -> list[Scenario]:
    """Every meaningful scenario, in a stable order."""
    return [s for s in all_combinations() if exclusion_reason(s) is None]


def excluded() -> dict[str, list[str]]:
    """Excluded combinations grouped by reason (for the docs and the CLI)."""
    out: dict[str, list[str]] = {}
    for s in all_combinations():
        reason = exclusion_reason(s)
        if reason is not None:
            out.setdefault(reason, []).append(s.id)
    return out


@dataclass(frozen=True, order=True)
class CoreCase:
    """A main-matrix scenario (its *core*) run one other way: one more axis with one value, whose
    ``-axis=value`` ends the ID (the fused and compiled matrices).  A subclass declares the axis
    (:attr:`AXIS`), what the value means (``AXES[axis]``), its matrix's name and the words the
    description ends with; a pattern of the main matrix selects its cases too (the same known deviations).

    >>> class Loud(CoreCase):
    ...     AXIS, MATRIX, SAYS = ("volume", "loud"), "loud", "loudly"
    ...     AXES = {**AXES, "volume": {"loud": "loudly"}}
    >>> case = Loud(Scenario("layer", "none", "before_compile", "call", "true"))
    >>> case.id, Loud.from_id(case.id) == case, case.axes()["volume"]
    ('layer-frozen=none-when=before_compile-path=call-training=true-volume=loud', True, 'loud')
    >>> Loud.from_id(case.core.id)
    Traceback (most recent call last):
    ...
    ValueError: not a loud-matrix ID: 'layer-frozen=none-when=before_compile-path=call-training=true'
    """

    AXES: ClassVar[dict] = AXES
    PATTERN_NEEDS: ClassVar[frozenset[str]] = frozenset()
    #: (axis, value) the case adds to its core's, and the name of its matrix (for errors).
    AXIS: ClassVar[tuple[str, str]]
    MATRIX: ClassVar[str]
    #: What the description says after the core's.
    SAYS: ClassVar[str]

    core: Scenario

    @classmethod
    def suffix(cls) -> str:
        return f"-{cls.AXIS[0]}={cls.AXIS[1]}"

    @property
    def id(self) -> str:
        return f"{self.core.id}{self.suffix()}"

    @classmethod
    def from_id(cls, case_id: str):
        if not case_id.endswith(cls.suffix()):
            raise ValueError(f"not a {cls.MATRIX}-matrix ID: {case_id!r}")
        return cls(Scenario.from_id(case_id[: -len(cls.suffix())]))

    def axes(self) -> dict[str, str]:
        return {**self.core.axes(), self.AXIS[0]: self.AXIS[1]}

    def describe(self) -> str:
        return f"{self.core.describe()[:-1]}; {self.SAYS}."
