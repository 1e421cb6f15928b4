"""What every workflow needs from a Keras-style target: its Keras module, a fresh start, a small model."""

from __future__ import annotations

import numpy as np

from ..cases import inputs
from ..targets.common import format_error, fresh_session, state
from ..targets.network import layer_kwargs

__all__ = ["bn", "format_error", "keras_api", "numpy", "state", "values"]


def keras_api(target):
    """The target's Keras module (``keras`` or ``tf_keras``), environment in place, session cleared, seeded."""
    api = target.load_driver().API
    fresh_session(api.backend.clear_session)
    api.utils.set_random_seed(inputs.SEED)
    return api


def numpy(api, x) -> np.ndarray:
    """A framework tensor as float64 NumPy (torch outputs carry autograd history)."""
    convert = getattr(getattr(api, "ops", None), "convert_to_numpy", None)
    return np.asarray(convert(x) if convert else np.asarray(x), dtype=np.float64)


def values(variables) -> list[np.ndarray]:
    """Copies of the variables' current values (a step later, the variables hold new ones); arrays pass as they are.

    >>> values([np.zeros(2)])
    [array([0., 0.])]
    """
    return [np.array(v.numpy() if hasattr(v, "numpy") else v, copy=True) for v in variables]


def bn(api, **extra):
    """The suite's BatchNormalization (its starting values, momentum and epsilon), plus ``extra`` arguments."""
    return api.layers.BatchNormalization(**{**layer_kwargs(api.initializers.Constant), **extra})
