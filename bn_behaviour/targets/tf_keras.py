"""Driver for Keras 2 (``tf_keras``): performs a scenario on the real layer and records raw facts.

The same scenario semantics as the Keras 3 driver (the ordering lives in
bn_behaviour.targets.common); only the framework calls differ: tf_keras
models and optimiser (``apply_gradients`` in the custom loop), metric
variables through ``add_weight``.  On TensorFlow before 2.16, whose own
``tf.keras`` is Keras 2, that is the module observed.  TF_USE_LEGACY_KERAS=1 is set by the
target registry before this module is imported.

The fused 4-D matrix (``bn_behaviour.cases.fused``) passes ``fused=True`` and
(N, H, W, C) images in its ``Setup``; on the default (N, C) batches tf_keras never fuses.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

try:
    import tf_keras
except ImportError:  # TensorFlow before 2.16 ships Keras 2 itself, as tf.keras (Target.missing checks)
    tf_keras = tf.keras

from ..cases import inputs
from ..cases.scenario import Scenario
from ..rules.observation import Facts
from . import common

#: The Keras module this driver drives (the workflow matrix builds its models with it).
API = tf_keras
common.freeze_import_garbage()


class CaptureOutput(tf_keras.metrics.Metric):
    """A metric that keeps the last ``y_pred`` (the workflows read a model's output through it)."""

    def __init__(self, shape):
        super().__init__(name="capture_output")
        self.value = self.add_weight(name="value", shape=shape, initializer="zeros")
        self.count = self.add_weight(name="count", shape=(), initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.value.assign(tf.cast(y_pred, self.value.dtype))
        self.count.assign_add(1.0)

    def result(self):
        return tf.identity(self.count)

    def reset_state(self):
        # tf_keras's default assigns the scalar 0 to every variable, which
        # fails on the non-scalar ``value``.
        for v in self.variables:
            v.assign(tf.zeros_like(v))


def _train_step(container, kw, learning_rate: float = inputs.LEARNING_RATE, optimizer: str = "SGD",
                jit_compile: bool = False):
    """One GradientTape step with ``optimizer.apply_gradients``, as the tf_keras guide writes it
    (``jit_compile=True``: compiled with XLA)."""
    opt = getattr(tf_keras.optimizers, optimizer)(learning_rate)

    @tf.function(jit_compile=jit_compile or None)
    def step(x, y):
        with tf.GradientTape() as tape:
            out = container(x, **kw)
            loss = tf.reduce_mean(tf.square(tf.cast(out, tf.float32) - y))  # float32 under mixed policies
        variables = container.trainable_weights
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))
        return out

    return step


#: The custom training step the workflows use (bn_behaviour.workflows).
train_step = _train_step


class Runner(common.Runner):
    """The shared ordering (bn_behaviour.targets.common) with tf_keras's compile and traced functions."""

    def compile(self):
        self.container.compile(optimizer=tf_keras.optimizers.SGD(inputs.LEARNING_RATE), loss="mse", **self.jit())
        self.check_jit()

    def make_function(self):
        if self.s.path == "custom_loop":
            self.fn = _train_step(self.container, self.kw, jit_compile=self.jit_compile)
        else:
            self.fn = tf.function(lambda x: self.container(x, **self.kw), jit_compile=self.jit_compile or None)


def run(s: Scenario, setup: common.Setup, layer_cls=None) -> Facts:
    """Perform ``s`` on the real layer as ``setup`` says and return what happened.

    A mask is passed as a tensor: a functional model's ``call`` documents "A mask can be either a
    tensor or None" (a NumPy mask fails inside a tf.function, where tf_keras tags it as a tensor).
    """
    if setup.mask is not None:
        setup = dataclasses.replace(setup, mask=tf.constant(setup.mask))
    return common.run_case(tf_keras, s, setup, layer_cls or tf_keras.layers.BatchNormalization, Runner,
                           tf_keras.backend.clear_session, tf_keras.mixed_precision.set_global_policy)
