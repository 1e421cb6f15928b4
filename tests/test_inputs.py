"""The seeded inputs make training and inference mode clearly different."""

import numpy as np

from bn_behaviour.cases import inputs
from bn_behaviour.rules import reference as ref
from bn_behaviour.rules.observation import ATOL, RTOL


def _gap(moving_mean, moving_var):
    x = inputs.batch()
    g, b = np.full(3, inputs.GAMMA), np.full(3, inputs.BETA)
    train = ref.training_output(x, g, b)
    infer = ref.inference_output(x, moving_mean, moving_var, g, b)
    return np.abs(train - infer).max(axis=0)  # the clearest gap per channel


def test_every_channel_separates_the_modes_at_the_start():
    gap = _gap(np.full(3, inputs.MOVING_MEAN), np.full(3, inputs.MOVING_VARIANCE))
    assert (gap > 0.5).all(), gap
    largest = np.abs(inputs.batch()).max() * inputs.GAMMA + inputs.BETA
    assert 0.5 > 100 * (ATOL + RTOL * largest)  # the tolerance is far below the gap


def test_modes_still_separate_after_a_warm_up_step():
    mean, var = ref.updated_moving_stats(inputs.warmup_batch(), np.zeros(3), np.ones(3))
    assert (_gap(mean, var) > 0.5).all()


def test_the_variance_conventions_are_distinguishable():
    """A biased and a Bessel-corrected moving update differ by far more than the tolerance."""
    x = inputs.batch()
    _, biased = ref.updated_moving_stats(x, np.zeros(3), np.ones(3))
    _, bessel = ref.updated_moving_stats(x, np.zeros(3), np.ones(3), bessel=True)
    assert (np.abs(biased - bessel) > 10 * (ATOL + RTOL * np.abs(bessel))).all()


def test_inputs_are_deterministic():
    assert np.array_equal(inputs.batch(), inputs.batch())
    assert not np.array_equal(inputs.batch(), inputs.warmup_batch())
