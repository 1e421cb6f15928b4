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

import numpy as np

BATCH_SIZE = 8
CHANNELS = 3
SEED = 20261123
#: Starting values of the layer's variables (constant initialisers).
GAMMA = 2.0
BETA = 1.0
MOVING_MEAN = 0.0
MOVING_VARIANCE = 1.0
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
