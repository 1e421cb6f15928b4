"""Driver for Keras 2 (``tf_keras``): performs a scenario on the real layer and records raw facts.

The same scenario semantics as the Keras 3 driver (the ordering lives in
bn_behaviour.targets.common); only the framework calls differ: tf_keras
models and optimiser (``apply_gradients`` in the custom loop), metric
variables through ``add_weight``.  On TensorFlow before 2.16, whose own
``tf.keras`` is Keras 2, that is the module observed.  TF_USE_LEGACY_KERAS=1 is set by the
target registry before this module is imported.

``run(s, fused=True)`` is the fused path: the layer is built with
``fused=True`` and runs on (N, H, W, C) images (bn_behaviour/test_fused.py);
on the default (N, C) batches tf_keras never fuses.
"""

from __future__ import annotations

import tensorflow as tf

try:
    import tf_keras
except ImportError:  # TensorFlow before 2.16 ships Keras 2 itself, as tf.keras (Target.missing checks)
    tf_keras = tf.keras

from .. import inputs
from ..observation import Raw
from ..scenario import Scenario
from ..timing import PHASES
from . import common

#: The Keras module this driver drives (the workflow matrix builds its models with it).
API = tf_keras
common.freeze_import_garbage()


class CaptureOutput(tf_keras.metrics.Metric):
    """A metric that keeps the last ``y_pred`` so compiled paths reveal the layer's output."""

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


def _train_step(container, kw, learning_rate: float = inputs.LEARNING_RATE):
    """One GradientTape step with ``optimizer.apply_gradients``, as the tf_keras guide writes it."""
    opt = tf_keras.optimizers.SGD(learning_rate)

    @tf.function
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
        self.capture = CaptureOutput(self.data.x.shape)
        self.container.compile(
            optimizer=tf_keras.optimizers.SGD(inputs.LEARNING_RATE),
            loss="mse",
            metrics=[self.capture],
        )

    def make_function(self):
        if self.s.path == "custom_loop":
            self.fn = _train_step(self.container, self.kw)
        else:
            self.fn = tf.function(lambda x: self.container(x, **self.kw))


def run(s: Scenario, layer_cls=None, fused: bool = False) -> Raw:
    """Perform ``s`` on the real layer and return what happened.

    ``fused=True``: BatchNormalization(fused=True) on the (N, H, W, C) batches.
    """
    layer_cls = layer_cls or tf_keras.layers.BatchNormalization
    with PHASES("build"):
        common.fresh_session(tf_keras.backend.clear_session)
        tf_keras.utils.set_random_seed(inputs.SEED)
        data = common.image_data() if fused else common.flat_data()
        extra = {"fused": True} if fused else {}
        objs = common.build(tf_keras, s, layer_cls, data.shape, **extra)
    return common.perform(Runner(s, objs, data))


def run_setting(case, bessel: bool = False, layer_cls=None) -> Raw:
    """Perform a settings-matrix case (``bn_behaviour.setting``) under its precision policy."""
    common.fresh_session(tf_keras.backend.clear_session)
    tf_keras.utils.set_random_seed(inputs.SEED)
    tf_keras.mixed_precision.set_global_policy(case.precision)
    try:
        layer_cls = layer_cls or tf_keras.layers.BatchNormalization
        return common.perform_setting(tf_keras, case, layer_cls, Runner, bessel)
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")
