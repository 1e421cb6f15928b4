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


def test_timesteps_separate_per_timestep_from_pooled_statistics():
    """TimeDistributed's sequences: a BN normalising each timestep on its own and one pooling the N*T
    samples differ in output and in moving statistics by far more than the tolerance, and both differ
    from inference mode."""
    x = inputs.sequence_data().x
    assert x.shape == (inputs.BATCH_SIZE, inputs.TIMESTEPS, inputs.CHANNELS)
    g, b = np.full(3, inputs.GAMMA), np.full(3, inputs.BETA)
    pooled = ref.training_output(x, g, b)
    per_step = ref.per_timestep_training_output(x, g, b)
    infer = ref.inference_output(x, np.zeros(3), np.ones(3), g, b)
    for a, c in ((pooled, per_step), (pooled, infer), (per_step, infer)):
        assert np.abs(a - c).max() > 0.5
    one = ref.updated_moving_stats(x, np.zeros(3), np.ones(3))
    each = ref.per_timestep_moving_stats(x, np.zeros(3), np.ones(3))
    for o, e in zip(one, each):
        assert (np.abs(o - e) > 10 * (ATOL + RTOL * np.abs(e))).all()
