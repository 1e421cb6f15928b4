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

from itertools import combinations
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


def fully_masked(mask: Optional[np.ndarray]) -> bool:
    """Whether ``mask`` leaves no position to take the batch statistics from (a fully masked
    batch, the ``masked_all`` setting); the mask has no channel axis, so every channel then has none.

    >>> fully_masked(None), fully_masked(np.array([True, False])), fully_masked(np.zeros(2, bool))
    (False, False, True)
    """
    return mask is not None and not np.any(mask)


def batch_moments(
    x: np.ndarray, axis: int = -1, bessel: bool = False, mask: Optional[np.ndarray] = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and variance of a batch (biased unless ``bessel``).

    ``mask`` (the input's shape without the channel axis, true = counts)
    restricts the statistics to the unmasked positions, as the Keras 3
    docstring's ``mask`` argument says.  A fully masked batch has no
    statistics (:func:`fully_masked`): asking for them is an error, never a
    division by zero.

    >>> batch_moments(np.array([[1.0], [3.0], [100.0]]), mask=np.array([True, True, False]))
    (array([2.]), array([1.]))
    >>> batch_moments(np.array([[1.0], [3.0]]), mask=np.array([False, False]))
    Traceback (most recent call last):
    ...
    ValueError: every position is masked out: the batch has no statistics
    """
    if fully_masked(mask):
        raise ValueError("every position is masked out: the batch has no statistics")
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


# --- TimeDistributed: the layer applied to every temporal slice ------------------------------
# The wrapper's documentation says it "allows to apply a layer to every temporal slice of an input"
# and no more: a BN applied to each slice as its own batch (statistics per timestep, one moving step
# per timestep, in time order) and one applied once to the N*T samples (pooled statistics, one step)
# both do that.  These are the per-timestep forms; the pooled ones are the plain functions above.


def per_timestep_training_output(x, gamma, beta, epsilon=EPSILON, time_axis=1) -> np.ndarray:
    """Each temporal slice of ``x`` normalised with its own batch statistics.

    >>> x = np.array([[[0.0], [10.0]], [[2.0], [14.0]]])  # (batch 2, time 2, 1 channel)
    >>> per_timestep_training_output(x, np.ones(1), np.zeros(1), epsilon=0.0)[:, :, 0]
    array([[-1., -1.],
           [ 1.,  1.]])
    """
    slices = [training_output(np.take(x, t, axis=time_axis), gamma, beta, epsilon)
              for t in range(x.shape[time_axis])]
    return np.stack(slices, axis=time_axis)


def per_timestep_moving_stats(x, moving_mean, moving_var, momentum=MOMENTUM, bessel=False, time_axis=1):
    """The moving statistics after one momentum step per temporal slice, in time order.

    >>> x = np.array([[[0.0], [10.0]], [[2.0], [14.0]]])
    >>> per_timestep_moving_stats(x, np.zeros(1), np.ones(1), momentum=0.5)[0]
    array([6.25])
    """
    mean, var = np.asarray(moving_mean, np.float64), np.asarray(moving_var, np.float64)
    for t in range(x.shape[time_axis]):
        mean, var = updated_moving_stats(np.take(x, t, axis=time_axis), mean, var, momentum, bessel=bessel)
    return mean, var


# --- layer settings that change the training-mode formulas ------------------------------------
# Ghost Batch Normalization (tf_keras ``virtual_batch_size``) and Batch Renormalization
# (``renorm``), from their documented definitions.


def ghost_partitions(n: int, size: int) -> list[tuple[tuple[int, ...], ...]]:
    """Every way to split samples ``0..n-1`` into virtual sub-batches of ``size``.

    The docstring says sub-batches are "each normalized separately" but not which samples
    form one (contiguous chunks, or every n/size-th sample), so the reference accepts any.

    >>> len(ghost_partitions(8, 4)), ghost_partitions(4, 2)
    (35, [((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))])
    """

    def split(rest: tuple[int, ...]):
        if not rest:
            yield ()
            return
        for others in combinations(rest[1:], size - 1):
            group = (rest[0], *others)
            for tail in split(tuple(i for i in rest if i not in group)):
                yield (group, *tail)

    return list(split(tuple(range(n))))


def ghost_training_output(x, gamma, beta, groups, epsilon=EPSILON, axis=-1) -> np.ndarray:
    """``virtual_batch_size``: "virtual sub-batches which are each normalized separately (with
    shared gamma, beta, and moving statistics)" (tf_keras BatchNormalization docstring);
    ``groups`` lists the samples of each sub-batch.

    >>> x = np.array([[0.0], [2.0], [10.0], [14.0]])
    >>> ghost_training_output(x, np.ones(1), np.zeros(1), ((0, 1), (2, 3)), epsilon=0.0).ravel()
    array([-1.,  1., -1.,  1.])
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    for g in groups:
        out[list(g)] = training_output(x[list(g)], gamma, beta, epsilon, axis)
    return out


def ghost_moments(x, groups, axis=-1, bessel=False) -> tuple[np.ndarray, np.ndarray]:
    """The batch moments a ghost-batch step feeds the moving statistics: the mean of the
    sub-batches' means and the mean of their variances, one update per step (the choice
    tf_keras documents in its source, ``GHOST_UPDATE_SOURCE``).

    >>> ghost_moments(np.array([[0.0], [2.0], [10.0], [14.0]]), ((0, 1), (2, 3)))
    (array([6.5]), array([2.5]))
    """
    x = np.asarray(x, dtype=np.float64)
    moments = [batch_moments(x[list(g)], axis, bessel=bessel) for g in groups]
    return np.mean([m for m, _ in moments], axis=0), np.mean([v for _, v in moments], axis=0)


#: Where tf_keras states how the moving statistics follow ghost batches (one step, averaged moments).
#: (the comment "This isn't strictly correct since in ghost batch norm, you are supposed to
#: sequentially update the moving_mean and moving_variance with each sub-batch").
GHOST_UPDATE_SOURCE = ("https://github.com/keras-team/tf-keras/blob/master/tf_keras/layers/normalization/"
                       "batch_normalization.py")
#: Batch Renormalization, Ioffe 2017, Algorithm 1 (r, d, the moving averages of mean and sigma).
RENORM_PAPER = "https://arxiv.org/abs/1702.03275"


def renorm_correction(x, renorm_mean, renorm_stddev, clipping: dict, epsilon=EPSILON, axis=-1):
    """Batch Renormalization's ``(r, d)``: ``r = sigma_B / sigma``, ``d = (mu_B - mu) / sigma``
    with ``sigma_B = sqrt(var_B + epsilon)`` (RENORM_PAPER, Algorithm 1), ``r`` clipped to
    ``[rmin, rmax]`` and ``d`` to ``[-dmax, dmax]`` (the ``renorm_clipping`` docstring).

    >>> renorm_correction(np.array([[0.0], [4.0]]), np.zeros(1), np.ones(1), {"rmax": 1.5, "dmax": 0.5}, 0.0)
    (array([1.5]), array([0.5]))
    """
    mean, var = batch_moments(x, axis)
    r = np.sqrt(var + epsilon) / np.asarray(renorm_stddev, np.float64)
    d = (mean - np.asarray(renorm_mean, np.float64)) / np.asarray(renorm_stddev, np.float64)
    r = np.clip(r, clipping.get("rmin", 0.0), clipping.get("rmax", np.inf))
    d = np.clip(d, -clipping.get("dmax", np.inf), clipping.get("dmax", np.inf))
    return r, d


def renorm_training_output(x, gamma, beta, renorm_mean, renorm_stddev, clipping: dict,
                           epsilon=EPSILON, axis=-1) -> np.ndarray:
    """``corrected_value = normalized_value * r + d``, then gamma and beta (``renorm_clipping`` docstring)."""
    x = np.asarray(x, dtype=np.float64)
    r, d = renorm_correction(x, renorm_mean, renorm_stddev, clipping, epsilon, axis)
    normalised = training_output(x, np.ones_like(r), np.zeros_like(d), epsilon, axis)
    c = lambda v: _per_channel(v, x, axis)  # noqa: E731
    return c(gamma) * (normalised * c(r) + c(d)) + c(beta)


def renorm_moving_stats(x, moving_mean, moving_stddev, momentum=MOMENTUM, epsilon=EPSILON, axis=-1):
    """The inference statistics after a renorm step: ``momentum`` "is still applied to get the means
    and variances for inference" (docstring) to the mean and, as in RENORM_PAPER's Algorithm 1, to
    ``sigma``; the variance is ``sigma**2 - epsilon`` (``sigma`` includes epsilon).

    >>> renorm_moving_stats(np.array([[0.0], [2.0]]), np.zeros(1), np.ones(1), momentum=0.5, epsilon=0.0)
    (array([0.5]), array([1.]))
    """
    mean, var = batch_moments(x, axis)
    sigma = moving_update(moving_stddev, np.sqrt(var + epsilon), momentum)
    return moving_update(moving_mean, mean, momentum), sigma * sigma - epsilon
