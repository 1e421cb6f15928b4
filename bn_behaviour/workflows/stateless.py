"""The Keras JAX guide's stateless training loop, written on the TensorFlow and PyTorch backends.

The Keras guide "Writing a training loop from scratch in JAX"
(https://keras.io/guides/writing_a_custom_training_loop_in_jax/) trains through the stateless API:
``model.stateless_call(trainable_values, non_trainable_values, x, training=...)`` returns the outputs and
the new non-trainable values (the moving statistics), a gradient is taken over the trainable values, and
``optimizer.stateless_apply(optimizer_values, grads, trainable_values)`` returns the new ones; the loop
writes them back to the variables.  ``stateless_call`` and ``stateless_apply`` are backend-neutral
Keras 3 methods (``keras.Layer.stateless_call``: "Call the layer without any side effects"), so people
port the loop to the other backends, taking the gradient with that backend's own tool:
``tf.GradientTape`` on TensorFlow, ``torch.autograd.grad`` on PyTorch (both eager, as written; the JAX
step is ``jax.jit``-ed as the guide does), and applying it with ``stateless_apply`` where the backend's
optimizer has it (:data:`STATELESS_APPLY`).

The rule is the main matrix's for a custom loop (``rules.tf2``, ``path=custom_loop``): ``training``
reaches the BatchNormalization, no argument means inference, and ``trainable = False`` on the base
forces inference (a frozen base's gamma/beta are not among the trainable values the loop passes).
keras#20378: the guides first omitted ``training=True``, so ``training=none`` is a row of its own.

On keras-jax this loop is the main matrix's ``custom_loop`` path (``targets/keras3_backends.py``):
those rows, not these, answer there.  tf_keras has no stateless API.

>>> sorted(VARIANTS)[:2]
['frozen=inner_model-training=false', 'frozen=inner_model-training=none']
>>> scenario("frozen=none-training=true").id
'nested-frozen=none-when=before_compile-path=custom_loop-training=true'
"""

from __future__ import annotations

import warnings
from typing import Callable, Optional

import numpy as np

from ..cases import inputs
from ..cases.scenario import Scenario
from ..rules import tf2
from ..rules.observation import classify_affine, classify_mode, classify_moving_stats
from ..rules.reference import EPSILON, MOMENTUM
from .base import Workflow, mismatch, raised
from .frameworks import bn, format_error, keras_api, numpy, state, values

WORKFLOW = Workflow(
    name="stateless",
    title="The Keras JAX guide's stateless training loop on the TensorFlow and PyTorch backends",
    rule="model.stateless_call(trainable, non_trainable, x, training=...) in a training step behaves as the "
    "custom loop calling the model: training reaches the BatchNormalization, no argument means inference, and "
    "a base with trainable = False runs in inference mode and keeps its moving statistics and gamma/beta",
    source="https://keras.io/guides/writing_a_custom_training_loop_in_jax/",
)

FROZEN = {"none": "nothing frozen", "inner_model": "the base frozen (base.trainable = False) before the loop"}
TRAINING = {"true": "training=True", "false": "training=False", "none": "no training argument (keras#20378)"}
VARIANTS = {f"frozen={f}-training={t}": f"one stateless training step with {TRAINING[t]}, {FROZEN[f]}."
            for f in FROZEN for t in TRAINING}
FIELDS = ("mode", "moving_stats", "affine", "head", "error")
#: The guide's network and optimiser: a ``Dense`` before the BatchNormalization in the base, a ReLU and a
#: ``Dense(1)`` head after it; ``Adam(1e-3)`` (the guide's), which moves every float32 weight it updates.
UNITS, OPTIMIZER, LEARNING_RATE = 8, "Adam", 1e-3


def scenario(variant: str) -> Scenario:
    """The main-matrix row this variant is on keras-jax (whose rule it is judged by everywhere)."""
    frozen, training = (part.split("=")[1] for part in variant.split("-"))
    return Scenario("nested", frozen, "before_compile", "custom_loop", training)


def exclusion(target, variant: str) -> Optional[str]:
    if target.implementation != "keras":
        return "tf_keras and TF1 have no stateless API (stateless_call and stateless_apply are Keras 3's)"
    if target.backend == "jax":
        return ("this is keras-jax's custom_loop path: the main matrix's rows nested-frozen={none,inner_model}-"
                "when=before_compile-path=custom_loop-training=* run this very step (jax.jit over stateless_call, "
                "optimizer.stateless_apply)")
    return None


def expected(target, variant: str) -> dict:
    rule = tf2.expected(scenario(variant))
    return {"mode": rule["mode"], "moving_stats": rule["moving_stats"], "affine": rule["affine"],
            "head": "updated", "error": None}


def check_no_error(variant, observed, exp) -> Optional[str]:
    """The guide's step runs on this backend."""
    return raised(observed)


def check_mode(variant, observed, exp) -> Optional[str]:
    """The statistics that normalised the batch are the ones the custom-loop rule names (NumPy reference)."""
    return mismatch(observed, exp, "mode", "mode")


def check_moving_statistics(variant, observed, exp) -> Optional[str]:
    """The new non-trainable values stateless_call returns move the moving statistics exactly one momentum
    step when the BatchNormalization ran in training mode, and not at all otherwise."""
    return mismatch(observed, exp, "moving_stats", "moving statistics")


def check_gamma_beta(variant, observed, exp) -> Optional[str]:
    """gamma/beta move with stateless_apply unless the base is frozen (they are then not trainable values)."""
    return mismatch(observed, exp, "affine", "gamma/beta")


def check_head_learns(variant, observed, exp) -> Optional[str]:
    """The head's kernel moves: the step really trained (otherwise the other checks prove nothing)."""
    return mismatch(observed, exp, "head", "head kernel")


CHECKS = {"no_error": check_no_error, "mode": check_mode, "moving_statistics": check_moving_statistics,
          "gamma_beta": check_gamma_beta, "head_learns": check_head_learns}


def _tensorflow_gradient(loss: Callable, trainable: list) -> tuple:
    import tensorflow as tf

    trainable = [tf.convert_to_tensor(v) for v in trainable]
    with tf.GradientTape() as tape:
        tape.watch(trainable)
        value, aux = loss(trainable)
    return tape.gradient(value, trainable), aux


def _torch_gradient(loss: Callable, trainable: list) -> tuple:
    import torch

    trainable = [v.detach().clone().requires_grad_(True) for v in trainable]
    value, aux = loss(trainable)
    return list(torch.autograd.grad(value, trainable)), aux


#: Each backend's own gradient tool, as a port of the guide's ``jax.value_and_grad`` writes it.
GRADIENTS: dict[str, Callable] = {"tensorflow": _tensorflow_gradient, "torch": _torch_gradient}
#: How each backend's port applies the gradients: the guide's ``optimizer.stateless_apply`` where Keras has
#: it; the TensorFlow optimizer's raises ("stateless_apply is not supported with the TensorFlow backend (as
#: it is incompatible with tf.distribute)", keras/src/backend/tensorflow/optimizer.py), so a port there
#: calls ``optimizer.apply(grads, model.trainable_variables)``, Keras' stateful update.
STATELESS_APPLY: dict[str, bool] = {"tensorflow": False, "torch": True}


def observe(target, variant: str):
    api = keras_api(target)
    s = scenario(variant)
    x, y = inputs.batch(), inputs.target()[:, :1]
    inp = api.Input((inputs.CHANNELS,))
    dense, norm = api.layers.Dense(UNITS, name="dense"), bn(api)
    base = api.Model(inp, norm(dense(inp)), name="base")
    if s.frozen == "inner_model":
        base.trainable = False
    outer_in = api.Input((inputs.CHANNELS,))
    probe = base(outer_in)
    head = api.layers.Dense(1, name="head")
    model = api.Model(outer_in, [head(api.layers.ReLU()(probe)), probe])  # the BN's output beside the prediction
    kw = {} if s.training == "none" else {"training": s.training == "true"}
    before, head_before = state(norm), values([head.kernel])
    kernel, bias = values([dense.kernel, dense.bias])
    seen = x.astype(np.float64) @ kernel + bias  # the batch the BN saw: the step ran on these weights
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = _step(api, target.backend, model, x, y, kw)
        except Exception as e:  # noqa: BLE001  (an error is a behaviour to record)
            error = format_error(e)
            return {**dict.fromkeys(FIELDS, "n/a"), "error": error}, error
    after = state(norm)
    observed = {"mode": classify_mode(seen, out, before, epsilon=EPSILON),
                "moving_stats": classify_moving_stats(seen, before, after, momentum=MOMENTUM,
                                                      bessel=target.bessel),
                "affine": classify_affine(before, after, trains=True),
                "head": "unchanged" if np.array_equal(head_before[0], values([head.kernel])[0]) else "updated",
                "error": None}
    numbers = (f"BN output first row {np.round(out[0], 4).tolist()}; moving mean "
               f"{before['moving_mean'].round(4).tolist()} -> {after['moving_mean'].round(4).tolist()}")
    return observed, numbers


def _step(api, backend: str, model, x, y, kw) -> np.ndarray:
    """One step of the guide's loop with ``backend``'s gradient; the new values written back as the guide
    does; the BN's output (NumPy)."""
    opt = getattr(api.optimizers, OPTIMIZER)(LEARNING_RATE)
    opt.build(model.trainable_variables)
    non_trainable = [v.value for v in model.non_trainable_variables]

    def loss(trainable):
        (pred, out), new = model.stateless_call(trainable, non_trainable, x, **kw)
        return api.ops.mean(api.ops.square(api.ops.subtract(pred, y))), (out, new)

    grads, (out, new) = GRADIENTS[backend](loss, [v.value for v in model.trainable_variables])
    written = [(model.non_trainable_variables, new)]
    if STATELESS_APPLY[backend]:
        trainable, opt_vars = opt.stateless_apply([v.value for v in opt.variables], grads,
                                                  [v.value for v in model.trainable_variables])
        written += [(model.trainable_variables, trainable), (opt.variables, opt_vars)]
    else:
        opt.apply(grads, model.trainable_variables)
    for variables, new_values in written:  # PyTorch's new values carry autograd history: written without it
        for v, value in zip(variables, new_values):
            v.assign(api.ops.stop_gradient(value))
    return numpy(api, api.ops.stop_gradient(out))
