"""The seeded data every scenario runs on, and the layer's starting state.

The batch is chosen so that training mode and inference mode differ clearly:
its channel means are far from the initial moving mean (0) and its variances
far from the initial moving variance (1).  ``tests/test_inputs.py`` checks
the gap against the comparison tolerance.

>>> batch().shape
(8, 3)
>>> batch().dtype
dtype('float32')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BATCH_SIZE = 8
CHANNELS = 3
SEED = 20261123
#: Starting values of the layer's variables (constant initialisers).
GAMMA = 2.0
BETA = 1.0
MOVING_MEAN = 0.0
MOVING_VARIANCE = 1.0
#: ``momentum`` and ``epsilon`` every case passes to the layer: the documented defaults of Keras'
#: BatchNormalization (its docstring), passed explicitly so the reference never reads them back
#: from the layer under test.  Settings override them.
MOMENTUM = 0.99
EPSILON = 1e-3
#: Learning rate of the SGD optimiser used by every training path.
LEARNING_RATE = 0.1

CHANNEL_MEANS = [3.0, -2.0, 5.0]
CHANNEL_STDS = [2.0, 1.5, 3.0]


def _draw(offset: int, mean=CHANNEL_MEANS, std=CHANNEL_STDS) -> np.ndarray:
    rng = np.random.default_rng(SEED + offset)
    return rng.normal(mean, std, size=(BATCH_SIZE, CHANNELS)).astype(np.float32)


def batch() -> np.ndarray:
    """The batch the observed path runs on."""
    return _draw(0)


def warmup_batch() -> np.ndarray:
    """The batch of the first training step (``when=after_fit*``)."""
    return _draw(1)


def target() -> np.ndarray:
    """Regression targets for the loss (mean squared error)."""
    return _draw(2, 0.0, 1.0)


#: The (N, H, W, C) images of the 4-D cases: the seeded samples as two 2x2 images, so each
#: channel holds the same 8 values as the flat batch and the separations tests/test_inputs.py
#: proves (modes, variance conventions) hold.
IMAGE_SHAPE = (2, 2, 2, CHANNELS)


@dataclass(frozen=True)
class Data:
    """The batches one case runs on: observed ``x``, warm-up ``warm``, targets ``y``."""

    x: np.ndarray
    warm: np.ndarray
    y: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        """The per-sample shape (what ``Input(shape)`` takes)."""
        return tuple(self.x.shape[1:])

    @property
    def batch_size(self) -> int:
        return int(self.x.shape[0])


def flat_data() -> Data:
    """The (N, C) batches of the main matrix.

    >>> flat_data().x.shape
    (8, 3)
    """
    return Data(batch(), warmup_batch(), target())


#: Timesteps of the (batch, time, features) sequences of ``TimeDistributed``.
TIMESTEPS = 3
#: Each later timestep's channel means and deviations: far from the first's and from each other's, so
#: statistics per timestep and statistics pooled over the N*T samples normalise differently.
TIMESTEP_MEANS = ([-4.0, 6.0, 0.0], [1.0, 1.0, -6.0])
TIMESTEP_STDS = ([0.5, 3.0, 1.0], [4.0, 0.7, 2.0])


def sequence_data() -> Data:
    """(batch, time, features) sequences of :data:`TIMESTEPS` timesteps (``TimeDistributed``).

    The first timestep holds the flat batches; each later one a seeded batch of its own channel means and
    deviations, so an implementation that normalises each timestep's slice on its own and one that pools
    the N*T samples give different outputs and moving statistics (tests/test_inputs.py proves the gap).

    >>> sequence_data().x.shape
    (8, 3, 3)
    """
    flat = flat_data()
    later = [[_draw(10 * (t + 1), m, s), _draw(10 * (t + 1) + 1, m, s), _draw(10 * (t + 1) + 2, 0.0, 1.0)]
             for t, (m, s) in enumerate(zip(TIMESTEP_MEANS, TIMESTEP_STDS))]  # x, warm-up, targets
    steps = [[flat.x, flat.warm, flat.y], *later]
    return Data(*(np.stack([step[k] for step in steps], axis=1) for k in range(3)))


def image_data() -> Data:
    """The same batches reshaped to (N, H, W, C) images.

    >>> image_data().x.shape
    (2, 2, 2, 3)
    """
    flat = flat_data()
    return Data(*(a.reshape(IMAGE_SHAPE) for a in (flat.x, flat.warm, flat.y)))
