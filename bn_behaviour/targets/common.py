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
from ..cases.scenario import COMPILED_PATHS, Scenario
from ..isolation.timing import PHASES
from ..rules.observation import STATE_NAMES, Facts
from .layer import unbuilt
from .network import build, change, container, freeze_at_build


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
    #: Compile the paths with XLA (``compile(jit_compile=True)``, a traced function's ``jit_compile=True``;
    #: ``torch.compile`` on the PyTorch backend); False: the framework's default.
    jit_compile: bool = False


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


def training_kwargs(s: Scenario) -> dict[str, bool]:
    return {} if s.training == "none" else {"training": s.training == "true"}


class Runner:
    """Runs one path on the built objects, with the warm-up and change at ``when``.

    A driver subclasses it with ``compile()`` and ``make_function()`` (sets
    ``self.fn``, the traced call or training step).  Every path reads the BN's
    output from the network's probe, never from the head's output.
    """

    def __init__(self, s: Scenario, objs, data: Data):
        self.s, self.objs = s, objs
        self.data = data
        self.container = container(objs)
        self.kw = training_kwargs(s)
        self.fn: Optional[Callable] = None
        #: ``Setup.jit_compile``: the driver's compile() and traced functions ask for XLA.
        self.jit_compile = False

    def compile(self) -> None:
        raise NotImplementedError

    def make_function(self) -> None:
        raise NotImplementedError

    def jit(self) -> dict:
        """``jit_compile=True`` when the case asks for it; else nothing (the framework's default)."""
        return {"jit_compile": True} if self.jit_compile else {}

    def check_jit(self) -> None:
        """After ``compile()``: a case that asked for ``jit_compile=True`` has it.  Keras falls back to
        False with only a warning ("Model doesn't support `jit_compile=True`"): an error, never a
        row that says compiled and is not."""
        if self.jit_compile and getattr(self.container, "jit_compile", None) is not True:
            raise RuntimeError("compile(jit_compile=True) left the model's jit_compile "
                               f"{getattr(self.container, 'jit_compile', None)!r}")

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
        """The observed path; returns the BN's output on ``x`` as the probe after it recorded it."""
        p, c, y, b = self.s.path, self.container, self.data.y, self.data.batch_size
        probe = self.objs["probe"]
        probe.reset()
        if p == "call":
            c(x, **self.kw)
        elif p in ("call_graph", "custom_loop"):
            self.call_traced(x)
        elif p == "predict":
            c.predict(x, batch_size=b, verbose=0)
        elif p == "predict_on_batch":
            c.predict_on_batch(x)
        elif p == "fit":
            c.fit(x, y, batch_size=b, epochs=1, shuffle=False, verbose=0)
        elif p == "train_on_batch":
            c.train_on_batch(x, y)
        elif p == "evaluate":
            c.evaluate(x, y, batch_size=b, verbose=0)
        elif p == "test_on_batch":
            c.test_on_batch(x, y)
        return probe.read()


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
        model_trainable = [v for v in runner.container.trainable_weights if id(v) in bn_vars]
        after, lists = state(bn), [weight_names(v) for v in (bn.trainable_weights, bn.non_trainable_weights,
                                                              model_trainable)]
        dtypes = variable_dtypes(bn)
    return Facts(output=output, before=before, after=after, trainable_weights=lists[0],
                 non_trainable_weights=lists[1], model_trainable_weights=lists[2], error=error,
                 variable_dtypes=dtypes)


#: File name per save format (``Setup.persist``); ``tf`` is a SavedModel folder.
SAVE_NAMES = {"keras": "model.keras", "h5": "model.h5", "tf": "model_savedmodel"}


def reload(api, objs, fmt: str, layer_cls) -> dict[str, Any]:
    """Save the outer model in ``fmt``, load it back, and return the loaded model, its layer, probe and head."""
    folder = tempfile.mkdtemp(prefix="bn-behaviour-")
    cls = layer_cls if isinstance(layer_cls, type) else type(objs["layer"])  # a --bn-layer factory: what it built
    probe_cls = type(objs["probe"])
    try:
        path = os.path.join(folder, SAVE_NAMES[fmt])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy formats warn on every save
            objs["outer"].save(path)
            loaded = api.models.load_model(path, custom_objects={cls.__name__: cls, "Probe": probe_cls},
                                           compile=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    found = {name: next(x for x in loaded.layers if isinstance(x, kind))
             for name, kind in (("layer", cls), ("probe", probe_cls), ("head", type(objs["head"])))}
    return {**found, "outer": loaded}


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
            objs = build(api, s, layer_cls, setup.data, **setup.layer)
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
    runner.jit_compile = setup.jit_compile
    return perform(runner)
