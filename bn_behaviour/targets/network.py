"""Stage 2: the network every Keras-style case runs, built with the driver's framework.

A user's network, not a lone layer: the BatchNormalization (inside the base where the shape has one),
a probe that records its output, a trainable head (docs/model.md, "The network every row runs").
Which objects a scenario freezes, at build and at ``when``, is here too.  Nothing here imports a
framework: ``api`` is the Keras module (``keras`` or ``tf_keras``) the driver passes in.

>>> without_inner = {"layer": "bn", "outer": "model"}
>>> outermost(without_inner), base(without_inner)
('model', 'model')
>>> base({"layer": "bn", "inner": "base", "outer": "model"})
'base'
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import numpy as np

from ..cases import inputs
from ..cases.inputs import Data
from ..cases.scenario import SEQUENCE_MODELS, Scenario

#: The generation of how the suite builds what it observes; reports record it (``suite.harness``) and the
#: history compares only observations of the current one.  1: a lone BatchNormalization in every model,
#: TimeDistributed on one timestep, SGD in the workflows (before issue 21); 2: every model a network
#: (BN, probe, trainable head), three timesteps, the guide's Adam in the workflows.
HARNESS = 2


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
    """A subclass of the framework's ``Model`` holding the layer and the rest of the network after it:
    ``subclassed`` forwards its own ``training`` to the BN; with ``training=False``
    (``subclassed_training_false``) its ``call()`` passes False."""
    fixed = training

    class Holder(model_cls):
        def __init__(self, bn, after, **kwargs):
            super().__init__(**kwargs)
            self.bn, self.probe, self.head = bn, *after

        def call(self, x, training=None):
            return self.head(self.probe(self.bn(x, training=training if fixed is None else fixed)))

    return Holder


@functools.cache
def chain_class(layer_cls: type) -> type:
    """``model=layer``: the bare BN and its trainable neighbour, chained by the loop's own code (no model).

    The loop calls the BN itself with the path's ``training`` (and mask), then the next layer: what a
    hand-written network of layers does.  Only the BN is ever frozen; the neighbour stays trainable.
    """

    class Chain(layer_cls):
        def __init__(self, bn, after, **kwargs):
            super().__init__(**kwargs)
            self.bn, self.probe, self.head = bn, *after
            self.supports_masking = True

        def build(self, input_shape):
            self.built = True  # its parts are built already

        def call(self, x, training=None, mask=None):
            kw = {} if mask is None else {"mask": mask}
            return self.head(self.probe(self.bn(x, training=training, **kw)))

    return Chain


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


@functools.cache
def probe_class(layer_cls: type, cast: Callable) -> type:
    """The probe: an identity layer placed right after the BN (or the object whose output is the BN's),
    keeping what passed through it in two non-trainable float32 variables, ``value`` (the batch) and
    ``count`` (how many calls).  Every path reads the BN's own output there, whatever follows it.

    A variable the layer assigns in ``call`` is state every backend carries through a compiled or traced
    step (as the BN's moving statistics are).  ``compute_output_shape`` spares Keras 3 a symbolic trace
    of ``call`` when a functional model is built (its batch size is not the variable's).
    """

    class Probe(layer_cls):
        def __init__(self, batch_shape, **kwargs):
            super().__init__(**kwargs)
            self.batch_shape = tuple(batch_shape)
            self.supports_masking = True
            # Keras 3 autocasts a float variable read inside a mixed-precision call, and on torch an assign
            # to such a variable there is lost: the probe's, like the BN's moving statistics, never autocast.
            # Keras 2 says so with experimental_autocast (up to tf_keras 2.17 an AutocastVariable read as
            # float16 refused the float32 assign: the probe, not the BN, raised on every mixed-precision row).
            exact = {"autocast": False} if "autocast" in inspect.signature(self.add_weight).parameters else \
                {"experimental_autocast": False} if ".engine." in layer_cls.__module__ else {}
            self.value = self.add_weight(name="value", shape=self.batch_shape, initializer="zeros",
                                         trainable=False, dtype="float32", **exact)
            self.count = self.add_weight(name="count", shape=(), initializer="zeros", trainable=False,
                                         dtype="float32", **exact)
            self.built = True  # its state is complete: a model holding it has nothing left to build

        def call(self, x):
            if x.shape[0] in (None, self.batch_shape[0]):  # not a shape-inference trace on a stand-in batch
                self.value.assign(cast(x, "float32"))
                self.count.assign(self.count + 1.0)
            return x

        def reset(self) -> None:
            self.count.assign(0.0)

        def read(self):
            """The BN's output on the last batch, or None when nothing passed since :meth:`reset`."""
            return np.array(self.value.numpy()) if float(np.asarray(self.count.numpy())) >= 1 else None

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            return {**super().get_config(), "batch_shape": list(self.batch_shape)}

    return Probe


#: The mixed-precision guide: "the last layer of the model" should output float32 (its example gives the
#: output layer ``dtype='float32'``); a float16 head overflows the first loss-scaled gradients, so a
#: one-step ``fit()`` under ``mixed_float16`` would skip its only step.  Under float32 it changes nothing.
MIXED_PRECISION_GUIDE = "https://keras.io/api/mixed_precision/"


def head_layer(api, units: int):
    """The network's head: a trainable ``Dense`` after the BN, outside every object a scenario freezes
    (but the whole model), seeded so that every case starts from the same weights, in float32 whatever the
    policy (:data:`MIXED_PRECISION_GUIDE`)."""
    return api.layers.Dense(units, kernel_initializer=api.initializers.GlorotUniform(seed=inputs.SEED),
                            dtype="float32", name="head")


def _cast(api) -> Callable:
    """The framework's cast: ``keras.ops.cast`` (Keras 3) or ``tf_keras.backend.cast``."""
    return api.ops.cast if hasattr(api, "ops") else api.backend.cast


def build(api, s: Scenario, layer_cls, data: Data, **extra) -> dict[str, Any]:
    """The network around the layer: ``layer``, ``probe``, ``head``, and ``inner`` / ``outer`` (or, for
    ``model=layer``, ``net``, the layer chained with its neighbour).

    Every shape is a network a user trains: the BN, then a probe that records its output, then a
    trainable head (``Dense``).  Where the shape has an inner object (the fine-tuning guide's base, a
    custom layer, ``TimeDistributed``) the BN is inside it and the probe and head are outside it, in the
    outer model.  ``api`` is the Keras module (``keras`` or ``tf_keras``); ``data`` the case's batches
    (a per-sample shape with its time axis for ``time_distributed``, whose layer is built on one
    timestep's shape); ``extra`` more constructor arguments.
    """
    shape = data.shape
    bn = layer_cls(**{**layer_kwargs(api.initializers.Constant, s.frozen == "layer_ctor"), **extra})
    bn.build((None, *(shape[1:] if s.model in SEQUENCE_MODELS else shape)))
    after = (probe_class(api.layers.Layer, _cast(api))(data.x.shape, name="probe"), head_layer(api, shape[-1]))
    after[1].build((None, *shape))
    objs: dict[str, Any] = {"layer": bn, "probe": after[0], "head": after[1]}
    x = api.Input(shape) if s.model != "layer" else None

    def network(inner_out):
        return after[1](after[0](inner_out))

    if s.model == "layer":
        objs["net"] = chain_class(api.layers.Layer)(bn, after)
        objs["net"].build((None, *shape))
    elif s.model == "sequential":
        objs["outer"] = api.Sequential([x, bn, *after])
    elif s.model in ("functional", "node_training_false", "node_training_true"):
        kw = {"training": s.model.endswith("true")} if s.model.startswith("node_") else {}
        objs["outer"] = api.Model(x, network(bn(x, **kw)))
    elif s.model in ("subclassed", "subclassed_training_false"):
        objs["outer"] = holder_class(api.Model, False if s.model.endswith("false") else None)(bn, after)
        objs["outer"].build((None, *shape))
    elif s.model in ("nested", "base_training_false"):
        xi = api.Input(shape)
        inner = api.Model(xi, bn(xi), name="inner")
        kw = {"training": False} if s.model == "base_training_false" else {}
        objs["inner"], objs["outer"] = inner, api.Model(x, network(inner(x, **kw)))
    elif s.model in ("wrapped", "time_distributed"):
        inner = wrapper_class(api.layers.Layer)(bn) if s.model == "wrapped" else api.layers.TimeDistributed(bn)
        objs["inner"], objs["outer"] = inner, api.Model(x, network(inner(x)))
    elif s.model == "after_default_training_true":
        objs["outer"] = api.Model(x, network(bn(pass_through_class(api.layers.Layer)()(x))))
    return objs


def outermost(objs):
    """The outermost object a scenario can freeze: the model, or the bare layer."""
    return objs.get("outer", objs["layer"])


def base(objs):
    """What ``frozen=unfrozen`` freezes and unfreezes: the object holding the BN that the head is outside
    of (the inner model, custom layer or wrapper where the shape has one), else the outermost object."""
    return objs.get("inner", outermost(objs))


def container(objs):
    """The object every path runs: the model, or (``model=layer``) the layer chained with its neighbour."""
    return objs.get("outer", objs.get("net"))


def freeze_at_build(s: Scenario, objs) -> None:
    if s.frozen == "outer_then_layer":
        outermost(objs).trainable = False
    elif s.frozen == "unfrozen":
        base(objs).trainable = False


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
        base(objs).trainable = True
