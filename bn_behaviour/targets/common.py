"""What every Keras-style driver does the same way, whatever the framework.

A driver builds the layer and the models around it with its own framework
(Keras 3, or Keras 2 as ``tf_keras``); the order in which a scenario then
acts (freeze at build, change at ``when``, warm-up step, observed path) and
the facts read back are the same for all of them, so they live here once
(:func:`execute`).  Nothing here imports a framework: the drivers pass their
objects in.

>>> format_error(ValueError("bad <Variable at 0x7f3a2c> here\\nmore"))
'ValueError: bad <Variable at 0x...> here'
>>> weight_names([type("V", (), {"name": "inner/batch_normalization/gamma:0"})()])
['gamma']
>>> from bn_behaviour.rules.reference import batch_moments
>>> images, flat = inputs.image_data().x, inputs.flat_data().x
>>> all(np.array_equal(a, b) for a, b in zip(batch_moments(images), batch_moments(flat)))
True
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from ..cases import inputs
from ..cases.inputs import Data, flat_data
from ..cases.scenario import COMPILED_PATHS, SEQUENCE_MODELS, Scenario
from ..rules.observation import STATE_NAMES, Facts
from ..timing import PHASES
from .layer import unbuilt


@dataclass(frozen=True)
class Setup:
    """How a case sets the layer up beyond its scenario (derived from the case by its matrix)."""

    data: Data = field(default_factory=flat_data)
    #: Constructor arguments on top of the starting values (``fused``, ``axis``, momentum, ...).
    layer: dict[str, Any] = field(default_factory=dict)
    #: The dtype policy the case runs under.
    precision: str = "float32"
    #: Save format the model goes through after the freeze and before it runs (``keras``, ``h5``, ``tf``).
    persist: Optional[str] = None
    #: A mask passed to the call (positions that count for the batch statistics).
    mask: Optional[np.ndarray] = None


def layer_kwargs(constant, frozen_ctor: bool = False) -> dict[str, Any]:
    """The layer's constructor arguments: the starting values, the documented ``momentum`` and
    ``epsilon`` (passed explicitly: the reference uses these constants, never what the layer
    under test reports about itself), and ``trainable=False`` when frozen at construction.

    ``constant`` is the framework's ``initializers.Constant``.
    """
    kwargs: dict[str, Any] = dict(
        momentum=inputs.MOMENTUM,
        epsilon=inputs.EPSILON,
        gamma_initializer=constant(inputs.GAMMA),
        beta_initializer=constant(inputs.BETA),
        moving_mean_initializer=constant(inputs.MOVING_MEAN),
        moving_variance_initializer=constant(inputs.MOVING_VARIANCE),
    )
    if frozen_ctor:
        kwargs["trainable"] = False
    return kwargs


@functools.cache
def holder_class(model_cls: type, training=None) -> type:
    """A subclass of the framework's ``Model`` holding the layer: ``subclassed`` forwards its own
    ``training`` to it; with ``training=False`` (``subclassed_training_false``) its ``call()`` passes False."""
    fixed = training

    class Holder(model_cls):
        def __init__(self, bn, **kwargs):
            super().__init__(**kwargs)
            self.bn = bn

        def call(self, x, training=None):
            return self.bn(x, training=training if fixed is None else fixed)

    return Holder


@functools.cache
def wrapper_class(layer_cls: type) -> type:
    """``wrapped``: a custom ``Layer`` holding the BN; its ``call(self, x)`` neither takes nor forwards ``training``."""

    class Wrapper(layer_cls):
        def __init__(self, bn, **kwargs):
            super().__init__(**kwargs)
            self.bn = bn

        def call(self, x):
            return self.bn(x)

    return Wrapper


@functools.cache
def pass_through_class(layer_cls: type) -> type:
    """``after_default_training_true``: a custom ``Layer`` returning its input, whose ``call`` defaults
    ``training`` to True (as the image preprocessing and augmentation layers' ``call`` does)."""

    class PassThrough(layer_cls):
        def call(self, x, training=True):
            return x

    return PassThrough


def build(api, s: Scenario, layer_cls, shape=(inputs.CHANNELS,), **extra) -> dict[str, Any]:
    """The layer and the objects around it: ``layer``, ``inner``, ``outer``.

    ``api`` is the Keras module (``keras`` or ``tf_keras``); ``shape`` the
    per-sample input shape (with its time axis for ``time_distributed``,
    whose layer is built on one timestep's shape); ``extra`` more constructor arguments.
    """
    bn = layer_cls(**{**layer_kwargs(api.initializers.Constant, s.frozen == "layer_ctor"), **extra})
    bn.build((None, *(shape[1:] if s.model in SEQUENCE_MODELS else shape)))
    objs: dict[str, Any] = {"layer": bn}
    x = api.Input(shape) if s.model != "layer" else None
    if s.model == "sequential":
        objs["outer"] = api.Sequential([x, bn])
    elif s.model in ("functional", "node_training_false", "node_training_true"):
        kw = {"training": s.model.endswith("true")} if s.model.startswith("node_") else {}
        objs["outer"] = api.Model(x, bn(x, **kw))
    elif s.model in ("subclassed", "subclassed_training_false"):
        objs["outer"] = holder_class(api.Model, False if s.model.endswith("false") else None)(bn)
        objs["outer"].build((None, *shape))
    elif s.model in ("nested", "base_training_false"):
        xi = api.Input(shape)
        inner = api.Model(xi, bn(xi), name="inner")
        kw = {"training": False} if s.model == "base_training_false" else {}
        objs["inner"], objs["outer"] = inner, api.Model(x, inner(x, **kw))
    elif s.model in ("wrapped", "time_distributed"):
        inner = wrapper_class(api.layers.Layer)(bn) if s.model == "wrapped" else api.layers.TimeDistributed(bn)
        objs["inner"], objs["outer"] = inner, api.Model(x, inner(x))
    elif s.model == "after_default_training_true":
        objs["outer"] = api.Model(x, bn(pass_through_class(api.layers.Layer)()(x)))
    return objs


def freeze_import_garbage() -> None:
    """Move everything alive after the framework import out of the garbage collector's reach.

    Every case starts with ``clear_session()``, which runs ``gc.collect()``
    over all of TensorFlow's / Keras' module objects (~0.2 s a case);
    ``gc.freeze()`` exempts those long-lived objects, so collecting sees only
    what the cases create.  It changes no observation (checked on 40 cases).
    """
    gc.freeze()


def fresh_session(clear: Callable[[], None]) -> None:
    """``clear()`` (the framework's ``clear_session()``, which collects garbage), then freeze the survivors.

    What survives a case (the framework's caches, pytest's records) would
    otherwise be traversed again by every later case's full collection, so a
    case's set-up grew with the number of cases before it (0.025 s for the
    first hundred, 0.1 s on average over the whole matrix: bench/run.py's
    ``build`` phase).  Freezing keeps each collection to what the last case created.
    """
    clear()
    # Keras 3's clear_session() has collected already (this pass sees only its survivors); tf_keras' has not.
    gc.collect()
    gc.freeze()


def format_error(e: BaseException) -> str:
    """``Class: first line`` with addresses masked, so reports are deterministic."""
    first = (str(e).strip().splitlines() or [""])[0]
    first = re.sub(r"0x[0-9a-fA-F]+", "0x...", first)[:300]
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def weight_names(variables) -> list[str]:
    """Bare variable names: ``inner/bn/gamma:0`` -> ``gamma``."""
    return [v.name.split("/")[-1].split(":")[0] for v in variables]


#: The variables Batch Renormalization adds (``renorm=True``); read when the layer has them.
RENORM_STATE = ("moving_stddev", "renorm_mean", "renorm_stddev")


def state(bn) -> dict[str, np.ndarray]:
    """The layer's variables as float64; an absent gamma (scale=False) reads as 1, beta (center=False) as 0."""
    out = {k: np.array(v.numpy(), dtype=np.float64) for k in (*STATE_NAMES, *RENORM_STATE)
           if (v := getattr(bn, k, None)) is not None}
    channels = out["moving_mean"].shape
    out.setdefault("gamma", np.ones(channels))
    out.setdefault("beta", np.zeros(channels))
    return out


def variable_dtypes(bn) -> str:
    """``float32`` when every variable of the layer is, else ``name=dtype`` for each one that is not."""
    dtypes = {weight_names([v])[0]: str(getattr(v.dtype, "name", v.dtype)) for v in bn.weights}
    odd = sorted(f"{k}={d}" for k, d in dtypes.items() if d != "float32")
    return ", ".join(odd) or "float32"


def outermost(objs):
    return objs.get("outer", objs["layer"])


def freeze_at_build(s: Scenario, objs) -> None:
    if s.frozen in ("outer_then_layer", "unfrozen"):
        outermost(objs).trainable = False


def change(s: Scenario, objs) -> None:
    """The scenario's ``trainable`` change, made at its ``when``."""
    if s.frozen == "layer":
        objs["layer"].trainable = False
    elif s.frozen == "inner_model":
        objs["inner"].trainable = False
    elif s.frozen == "outer_model":
        objs["outer"].trainable = False
    elif s.frozen == "outer_then_layer":
        objs["layer"].trainable = True
    elif s.frozen == "unfrozen":
        outermost(objs).trainable = True


def training_kwargs(s: Scenario) -> dict[str, bool]:
    return {} if s.training == "none" else {"training": s.training == "true"}


class Runner:
    """Runs one path on the built objects, with the warm-up and change at ``when``.

    A driver subclasses it with ``compile()`` (sets ``self.capture``, a metric
    keeping ``y_pred`` in ``value`` and counting calls in ``count``) and
    ``make_function()`` (sets ``self.fn``, the traced call or training step).
    """

    def __init__(self, s: Scenario, objs, data: Data):
        self.s, self.objs = s, objs
        self.data = data
        self.container = outermost(objs)
        self.kw = training_kwargs(s)
        self.capture: Any = None
        self.fn: Optional[Callable] = None

    def compile(self) -> None:
        raise NotImplementedError

    def make_function(self) -> None:
        raise NotImplementedError

    def warm_up(self):
        d = self.data
        if self.s.path in COMPILED_PATHS:
            self.container.fit(d.warm, d.y, batch_size=d.batch_size, verbose=0)
        else:
            self.call_traced(d.warm)

    def call_traced(self, x):
        if self.s.path == "custom_loop":
            return self.fn(x, self.data.y)
        return self.fn(x)

    def prepare(self) -> None:
        """Everything up to (not including) the observed path, per ``when``."""
        s, compiled = self.s, self.s.path in COMPILED_PATHS
        setup = self.compile if compiled else self.make_function
        if s.path == "call":
            change(s, self.objs)
            return
        if s.when == "before_compile":
            change(s, self.objs)
            setup()
            return
        setup()
        if s.when.startswith("after_fit"):
            self.warm_up()
        change(s, self.objs)
        if s.when.endswith("_recompile"):
            setup()

    def run(self, x) -> Optional[np.ndarray]:
        """The observed path; returns the layer's output when the path reveals it."""
        p, c, y, b = self.s.path, self.container, self.data.y, self.data.batch_size
        if p == "call":
            return np.asarray(c(x, **self.kw))
        if p in ("call_graph", "custom_loop"):
            return np.asarray(self.call_traced(x))
        if p == "predict":
            return np.asarray(c.predict(x, batch_size=b, verbose=0))
        if p == "predict_on_batch":
            return np.asarray(c.predict_on_batch(x))
        self.capture.reset_state()
        if p == "fit":
            c.fit(x, y, batch_size=b, epochs=1, shuffle=False, verbose=0)
        elif p == "train_on_batch":
            c.train_on_batch(x, y)
        elif p == "evaluate":
            c.evaluate(x, y, batch_size=b, verbose=0)
        elif p == "test_on_batch":
            c.test_on_batch(x, y)
        if float(np.asarray(self.capture.count)) < 1:
            return None
        return np.asarray(self.capture.value)


def perform(runner: Runner) -> Facts:
    """Freeze at build, prepare, run the observed path and read the facts back."""
    s, objs, x = runner.s, runner.objs, runner.data.x
    bn = objs["layer"]
    freeze_at_build(s, objs)
    with PHASES("read_back"):
        before, output, error = state(bn), None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with PHASES("compile_trace"):  # compile or trace, warm-up step, the change at `when`
                runner.prepare()
            with PHASES("read_back"):
                before = state(bn)
            with PHASES("step"):  # the observed path
                output = runner.run(x)
        except Exception as e:  # noqa: BLE001  (an error is a behaviour to record)
            error = format_error(e)
    with PHASES("read_back"):
        bn_vars = [id(v) for v in bn.weights]
        model_trainable = [v for v in outermost(objs).trainable_weights if id(v) in bn_vars]
        after, lists = state(bn), [weight_names(v) for v in (bn.trainable_weights, bn.non_trainable_weights,
                                                              model_trainable)]
        dtypes = variable_dtypes(bn)
    return Facts(output=output, before=before, after=after, trainable_weights=lists[0],
                 non_trainable_weights=lists[1], model_trainable_weights=lists[2], error=error,
                 variable_dtypes=dtypes)


#: File name per save format (``Setup.persist``); ``tf`` is a SavedModel folder.
SAVE_NAMES = {"keras": "model.keras", "h5": "model.h5", "tf": "model_savedmodel"}


def reload(api, objs, fmt: str, layer_cls) -> dict[str, Any]:
    """Save the outer model in ``fmt``, load it back, and return the loaded model and its layer."""
    folder = tempfile.mkdtemp(prefix="bn-behaviour-")
    cls = layer_cls if isinstance(layer_cls, type) else type(objs["layer"])  # a --bn-layer factory: what it built
    try:
        path = os.path.join(folder, SAVE_NAMES[fmt])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy formats warn on every save
            objs["outer"].save(path)
            loaded = api.models.load_model(path, custom_objects={cls.__name__: cls}, compile=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    layer = next(x for x in loaded.layers if isinstance(x, cls))
    return {"layer": layer, "outer": loaded}


def run_case(api, s: Scenario, setup: Setup, layer_cls, runner_cls: type[Runner], clear: Callable[[], None],
             set_policy: Callable[[str], None]) -> Facts:
    """A driver's ``run``: a fresh seeded session, the case's precision policy (set back to float32
    after), then :func:`execute`.  ``clear`` and ``set_policy`` are the framework's."""
    with PHASES("build"):
        fresh_session(clear)
        api.utils.set_random_seed(inputs.SEED)
    if setup.precision == "float32":
        return execute(api, s, setup, layer_cls, runner_cls)
    set_policy(setup.precision)
    try:
        return execute(api, s, setup, layer_cls, runner_cls)
    finally:
        set_policy("float32")


def execute(api, s: Scenario, setup: Setup, layer_cls, runner_cls: type[Runner]) -> Facts:
    """Build ``s`` as ``setup`` says, run it and read the facts back.  ``api`` is the Keras module."""
    with PHASES("build"):
        try:
            objs = build(api, s, layer_cls, setup.data.shape, **setup.layer)
            state(objs["layer"])
        except Exception as e:  # noqa: BLE001  (a --bn-layer class that cannot be built: the case's observation)
            return unbuilt(format_error(e))
        if setup.persist:
            change(s, objs)  # the core's freeze, made before saving
            objs = reload(api, objs, setup.persist, layer_cls)
            s = dataclasses.replace(s, frozen="none")  # not again: the loaded model must remember it
    runner = runner_cls(s, objs, setup.data)
    if setup.mask is not None:
        runner.kw["mask"] = setup.mask
    return perform(runner)
