"""The NumPy reference for batch normalisation.

Pure NumPy in float64; it never imports the code under test.  The formulas
are the ones in the Keras BatchNormalization docstring:

* training mode: ``gamma * (x - mean(x)) / sqrt(var(x) + epsilon) + beta``
  with the batch's biased variance;
* inference mode: the same with the moving mean and variance;
* moving update: ``moving = moving * momentum + batch * (1 - momentum)``,
  where the batch variance is biased or Bessel-corrected depending on the
  implementation (each target states its convention).

>>> x = np.array([[1.0], [3.0]])
>>> batch_moments(x)
(array([2.]), array([1.]))
>>> batch_moments(x, bessel=True)[1]
array([2.])
>>> normalise(x, np.array([2.0]), np.array([1.0]), gamma=np.array([2.0]), beta=np.array([1.0]), epsilon=0.0)
array([[-1.],
       [ 3.]])
>>> moving_update(np.array([0.0]), np.array([2.0]), momentum=0.75)
array([0.5])
"""

from __future__ import annotations

from typing import Optional

import numpy as np

#: The Keras BatchNormalization defaults (keras.layers.BatchNormalization docstring).
MOMENTUM = 0.99
EPSILON = 1e-3


def _reduce_axes(x: np.ndarray, axis: int) -> tuple[int, ...]:
    axis = axis % x.ndim
    return tuple(i for i in range(x.ndim) if i != axis)


def _per_channel(v: np.ndarray, x: np.ndarray, axis: int) -> np.ndarray:
    """Reshape a per-channel vector so it broadcasts against ``x``."""
    shape = [1] * x.ndim
    shape[axis % x.ndim] = -1
    return np.asarray(v, dtype=np.float64).reshape(shape)


def batch_moments(
    x: np.ndarray, axis: int = -1, bessel: bool = False, mask: Optional[np.ndarray] = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and variance of a batch (biased unless ``bessel``).

    ``mask`` (the input's shape without the channel axis, true = counts)
    restricts the statistics to the unmasked positions, as the Keras 3
    docstring's ``mask`` argument says.

    >>> batch_moments(np.array([[1.0], [3.0], [100.0]]), mask=np.array([True, True, False]))
    (array([2.]), array([1.]))
    """
    x = np.asarray(x, dtype=np.float64)
    red = _reduce_axes(x, axis)
    weights = np.ones(x.shape) if mask is None else np.broadcast_to(
        np.expand_dims(np.asarray(mask, np.float64), axis % x.ndim), x.shape)
    count = weights.sum(axis=red)
    mean = (x * weights).sum(axis=red) / count
    var = (np.square(x - _per_channel(mean, x, axis)) * weights).sum(axis=red) / count
    if bessel:
        var = var * count / (count - 1)
    return mean, var


def normalise(
    x: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    epsilon: float = EPSILON,
    axis: int = -1,
) -> np.ndarray:
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta`` per channel."""
    x = np.asarray(x, dtype=np.float64)
    c = lambda v: _per_channel(v, x, axis)  # noqa: E731
    return c(gamma) * (x - c(mean)) / np.sqrt(c(var) + epsilon) + c(beta)


def training_output(x, gamma, beta, epsilon=EPSILON, axis=-1, mask=None) -> np.ndarray:
    """The output when the batch is normalised with its own (unmasked) statistics."""
    mean, var = batch_moments(x, axis, mask=mask)
    return normalise(x, mean, var, gamma, beta, epsilon, axis)


def inference_output(x, moving_mean, moving_var, gamma, beta, epsilon=EPSILON, axis=-1):
    """The output when the batch is normalised with the moving statistics."""
    return normalise(x, moving_mean, moving_var, gamma, beta, epsilon, axis)


def moving_update(moving: np.ndarray, batch: np.ndarray, momentum: float = MOMENTUM):
    """One step of the exponential moving average, Keras convention."""
    return np.asarray(moving, np.float64) * momentum + np.asarray(batch, np.float64) * (
        1.0 - momentum
    )


def updated_moving_stats(
    x, moving_mean, moving_var, momentum=MOMENTUM, axis=-1, bessel=False, mask=None
) -> tuple[np.ndarray, np.ndarray]:
    """The moving mean and variance after one training step on ``x``."""
    mean, var = batch_moments(x, axis, bessel=bessel, mask=mask)
    return moving_update(moving_mean, mean, momentum), moving_update(moving_var, var, momentum)
