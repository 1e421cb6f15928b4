"""Driver for Keras 3: performs a scenario on the real layer and records raw facts.

The driver does what a user does (build, freeze, compile, fit, call) and
reads the variables back; it predicts nothing.  KERAS_BACKEND must be set
before this module is imported (the target registry does it).
"""

from __future__ import annotations

import keras
import numpy as np

from ..cases import inputs
from ..cases.scenario import Scenario
from ..rules.observation import Facts
from . import common
from .keras3_backends import TRACERS

BACKEND = keras.backend.backend()
#: The Keras module this driver drives (the workflow matrix builds its models with it).
API = keras
common.freeze_import_garbage()


class CaptureOutput(keras.metrics.Metric):
    """A metric that keeps the last ``y_pred`` (the workflows read a model's output through it)."""

    def __init__(self, shape):
        super().__init__(name="capture_output")
        self.value = self.add_variable(shape=shape, initializer="zeros", name="value")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.value.assign(keras.ops.cast(y_pred, self.value.dtype))
        self.count.assign(self.count + 1.0)

    def result(self):
        # A tensor, not the variable: the JAX trainer traces result() (a variable is no JAX type).
        return keras.ops.convert_to_tensor(self.count)


# --- running a path -----------------------------------------------------------


class Runner(common.Runner):
    """The shared ordering (bn_behaviour.targets.common) with Keras 3's compile and traced functions."""

    def compile(self):
        self.container.compile(optimizer=keras.optimizers.SGD(inputs.LEARNING_RATE), loss="mse", **self.jit())
        self.check_jit()

    def make_function(self):
        trace, train_step = TRACERS[BACKEND]
        make = train_step if self.s.path == "custom_loop" else trace
        self.fn = make(self.container, self.kw, **self.jit())

    def run(self, x):
        """As the shared runner; a step that raises on JAX leaves the variables marked lost."""
        try:
            return super().run(x)
        except Exception:
            mark_lost(self.objs["layer"])
            raise


def mark_lost(bn) -> None:
    """Give NaN to the layer's variables that a failed step left without any value.

    The JAX trainer drops the variables' values while fit() runs and puts them
    back only from a step that succeeded (keras#21019), so when the first step
    raises they stay empty and reading them raises TypeError.  NaN records
    "lost" (never equal to the values before) instead of crashing the reader.
    """
    for v in bn.weights:
        if getattr(v, "_value", 0) is None:
            v.assign(np.full(v.shape, np.nan, dtype=v.dtype))


def run(s: Scenario, setup: common.Setup, layer_cls=None) -> Facts:
    """Perform ``s`` on the real layer as ``setup`` says and return what happened."""
    return common.run_case(keras, s, setup, layer_cls or keras.layers.BatchNormalization, Runner,
                           keras.utils.clear_session, keras.config.set_dtype_policy)


def train_step(container, kw, learning_rate=inputs.LEARNING_RATE, optimizer="SGD"):
    """The backend's idiomatic custom training step (bn_behaviour.targets.keras3_backends), for the workflows."""
    return TRACERS[BACKEND][1](container, kw, learning_rate, optimizer)
