"""What every workflow needs from a Keras-style target: its Keras module, a fresh start, a small model.

>>> KERAS_TARGETS
('keras-tensorflow', 'keras-jax', 'keras-torch', 'tf_keras')
>>> not_keras("tf1")
'tf1 has no Keras model: the workflows are Keras workflows'
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import inputs
from ..targets.common import fresh_session, layer_kwargs, state  # noqa: F401  (re-exported for the workflows)

KERAS_TARGETS = ("keras-tensorflow", "keras-jax", "keras-torch", "tf_keras")


def not_keras(target: str) -> Optional[str]:
    """The exclusion reason of every workflow on a target without Keras models."""
    return None if target in KERAS_TARGETS else f"{target} has no Keras model: the workflows are Keras workflows"


def keras_api(target):
    """The target's Keras module (``keras`` or ``tf_keras``), environment in place, session cleared, seeded."""
    api = target.load_driver().API
    fresh_session(api.backend.clear_session)
    api.utils.set_random_seed(inputs.SEED)
    return api


def backend(target) -> str:
    """``tensorflow``, ``jax`` or ``torch`` (tf_keras runs on TensorFlow)."""
    return target.env.get("KERAS_BACKEND", "tensorflow")


def numpy(api, x) -> np.ndarray:
    """A framework tensor as float64 NumPy (torch outputs carry autograd history)."""
    convert = getattr(getattr(api, "ops", None), "convert_to_numpy", None)
    return np.asarray(convert(x) if convert else np.asarray(x), dtype=np.float64)


def bn(api, **extra):
    """The suite's BatchNormalization (its starting values, momentum and epsilon), plus ``extra`` arguments."""
    from ..scenario import Scenario

    s = Scenario("layer", "none", "before_compile", "call", "none")
    return api.layers.BatchNormalization(**{**layer_kwargs(s, api.initializers.Constant), **extra})
