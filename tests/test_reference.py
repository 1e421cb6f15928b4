"""The NumPy reference against hand-derived values and the seed's printed numbers.

The seed (../shared/seeds/001_*.txt, a public answer about
``tf.layers.batch_normalization``) prints, for a random 1x2x2x4 image with
beta 1, gamma 2, moving mean 0 and moving variance 1:

* the first pixel ``[4, 5, 9, 0]`` and its inference output ``[9, 11, 19, 1]``
  (rounded);
* with ``training=True`` the first pixel's output ``[2, 2, 3, -1]`` (rounded);
* after one update with momentum 0.99, moving mean
  ``[0.03249997 0.03499997 0.06499994 0.02749997]`` and moving variance
  ``[1.0791667 1.1266665 1.0999999 1.0925]``.

The image itself is not printed; its channels are reconstructed here from
those numbers (integers 0..9, as ``np.random.randint(0, 10)`` draws).
"""

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose

from bn_behaviour.rules import reference as ref

SEED_PIXEL = np.array([4.0, 5.0, 9.0, 0.0])
SEED_INFERENCE_OUT = np.array([9.0, 11.0, 19.0, 1.0])
SEED_TRAINING_OUT = np.array([2.0, 2.0, 3.0, -1.0])
SEED_MOVING_MEAN = np.array([0.03249997, 0.03499997, 0.06499994, 0.02749997])
SEED_MOVING_VAR = np.array([1.0791667, 1.1266665, 1.0999999, 1.0925])
SEED_MOMENTUM = 0.99
# float32 printing: 7-8 significant digits, and the seed's values went through
# float32 arithmetic; 2 ulp at 1.0 is 2.4e-7.
F32 = dict(rtol=0, atol=3e-7)


def _channel_candidates(mean_update, var_update, bessel, containing=None):
    """Every multiset of four integers in 0..9 whose one-step update gives the printed
    values (and that holds ``containing``, the printed first pixel's value, if given)."""
    batch_mean = mean_update / (1 - SEED_MOMENTUM)
    batch_var = (var_update - SEED_MOMENTUM * 1.0) / (1 - SEED_MOMENTUM)
    found = []
    for values in itertools.combinations_with_replacement(range(10), 4):
        m, v = ref.batch_moments(np.array(values, float)[:, None], bessel=bessel)
        if abs(m[0] - batch_mean) < 1e-4 and abs(v[0] - batch_var) < 1e-4:
            if containing is None or containing in values:
                found.append(values)
    return found


def seed_image():
    """The seed's image, channel by channel (pixel order within a channel is free).

    The first pixel is the printed ``[4, 5, 9, 0]``; the other three pixels of
    each channel are the rest of that channel's unique multiset.
    """
    channels = []
    for c in range(4):
        (values,) = _channel_candidates(
            SEED_MOVING_MEAN[c], SEED_MOVING_VAR[c], bessel=True, containing=int(SEED_PIXEL[c])
        )
        rest = list(values)
        rest.remove(int(SEED_PIXEL[c]))
        channels.append([SEED_PIXEL[c]] + rest)
    return np.array(channels, dtype=np.float32).T  # (4 pixels, 4 channels)


def test_seed_image_channels_are_unique_under_bessel_variance():
    """The printed moving statistics and first pixel pin each channel's values down
    (Bessel-corrected update); without the pixel, channel 1 would also admit (1, 2, 2, 9)."""
    for c in range(4):
        candidates = _channel_candidates(
            SEED_MOVING_MEAN[c], SEED_MOVING_VAR[c], bessel=True, containing=int(SEED_PIXEL[c])
        )
        assert len(candidates) == 1, (c, candidates)


def test_seed_numbers_are_not_consistent_with_a_biased_update():
    """No integer image explains the printed moving variance with the biased variance:
    the seed's layer (TF1 ``tf.layers.batch_normalization``) keeps the Bessel-corrected one."""
    assert not any(
        _channel_candidates(SEED_MOVING_MEAN[c], SEED_MOVING_VAR[c], bessel=False) for c in range(4)
    )


def test_seed_moving_statistics_after_one_update():
    img = seed_image()
    mean, var = ref.updated_moving_stats(
        img, np.zeros(4), np.ones(4), momentum=SEED_MOMENTUM, bessel=True
    )
    assert_allclose(mean, SEED_MOVING_MEAN, **F32)
    assert_allclose(var, SEED_MOVING_VAR, **F32)


def test_seed_inference_output():
    """training=False: the moving statistics (0, 1) normalise, so out = 2 * x / sqrt(1 + eps) + 1."""
    out = ref.inference_output(seed_image(), np.zeros(4), np.ones(4), gamma=2.0 * np.ones(4), beta=np.ones(4))
    assert_allclose(np.round(out[0]), SEED_INFERENCE_OUT)


def test_seed_training_output_uses_batch_statistics():
    """training=True: the printed ``[2, 2, 3, -1]`` is the batch-statistics output
    (the seed's prose says the moving statistics are used; its own numbers say otherwise)."""
    img = seed_image()
    g, b = 2.0 * np.ones(4), np.ones(4)
    out = ref.training_output(img, g, b)
    assert_allclose(np.round(out[0]), SEED_TRAINING_OUT)
    with_moving = ref.inference_output(img, np.zeros(4), np.ones(4), g, b)
    assert not np.array_equal(np.round(with_moving[0]), SEED_TRAINING_OUT)


@pytest.mark.parametrize(
    "momentum, moving, batch, expected",
    [
        (0.99, 0.0, 1.0, 0.01),
        (0.9, 1.0, 3.0, 1.2),
        (0.0, 5.0, 2.0, 2.0),
        (1.0, 5.0, 2.0, 5.0),
    ],
    ids=["keras-default", "momentum-0.9", "momentum-0-takes-batch", "momentum-1-keeps-moving"],
)
def test_moving_update_hand_derived(momentum, moving, batch, expected):
    assert_allclose(ref.moving_update(np.array([moving]), np.array([batch]), momentum), [expected])


def test_biased_and_bessel_variance_hand_derived():
    x = np.array([[1.0], [2.0], [3.0], [6.0]])  # mean 3, squared deviations 4+1+0+9=14
    assert_allclose(ref.batch_moments(x)[1], [14 / 4])
    assert_allclose(ref.batch_moments(x, bessel=True)[1], [14 / 3])


def test_epsilon_inside_the_square_root():
    x = np.array([[0.0], [2.0]])  # mean 1, biased var 1
    out = ref.training_output(x, gamma=np.ones(1), beta=np.zeros(1), epsilon=3.0)
    assert_allclose(out[:, 0], [-0.5, 0.5])  # (x - 1) / sqrt(1 + 3)


def test_channel_axis_first():
    x = np.arange(8.0).reshape(2, 2, 2)  # channels on axis 1
    mean, _ = ref.batch_moments(x, axis=1)
    assert_allclose(mean, [x[:, 0].mean(), x[:, 1].mean()])


def test_ghost_batches_differ_from_the_whole_batch_and_from_each_other():
    """The suite's batch tells a ghost-batch output from a whole-batch one for every split into
    sub-batches of 4, and the two ways tf_keras could split it (contiguous, strided) apart."""
    from bn_behaviour.cases import inputs
    from bn_behaviour.rules import reference
    from bn_behaviour.rules.observation import _close

    x, g, b = inputs.batch(), np.full(3, 2.0), np.ones(3)
    whole = reference.training_output(x, g, b)
    outs = [reference.ghost_training_output(x, g, b, p) for p in reference.ghost_partitions(8, 4)]
    assert not any(_close(whole, o) for o in outs)
    contiguous, strided = ((0, 1, 2, 3), (4, 5, 6, 7)), ((0, 2, 4, 6), (1, 3, 5, 7))
    assert not _close(reference.ghost_training_output(x, g, b, contiguous),
                      reference.ghost_training_output(x, g, b, strided))


def test_renorm_clipping_of_the_setting_bites_on_the_suite_batch():
    """With the settings matrix's clipping, d is clipped on every channel and r on those whose batch
    sigma exceeds 1.5, so the renorm output is neither plain batch normalisation nor inference."""
    from bn_behaviour.cases import inputs
    from bn_behaviour.cases.setting import RENORM_CLIPPING
    from bn_behaviour.rules import reference
    from bn_behaviour.rules.observation import _close

    x, g, b = inputs.batch(), np.full(3, 2.0), np.ones(3)
    r, d = reference.renorm_correction(x, np.zeros(3), np.ones(3), RENORM_CLIPPING)
    assert np.all(r <= 1.5) and np.sum(r == 1.5) == 2  # channel 0's sigma_B is 1.47 (< rmax)
    np.testing.assert_array_equal(np.abs(d), [0.5] * 3)
    out = reference.renorm_training_output(x, g, b, np.zeros(3), np.ones(3), RENORM_CLIPPING)
    assert not _close(out, reference.training_output(x, g, b))
    assert not _close(out, reference.inference_output(x, np.zeros(3), np.ones(3), g, b))


def test_renorm_moving_stats_average_sigma_not_variance():
    """Algorithm 1 of the Batch Renormalization paper averages sigma; hand-derived on two samples."""
    from bn_behaviour.rules import reference

    mean, var = reference.renorm_moving_stats(np.array([[0.0], [4.0]]), np.zeros(1), np.ones(1), momentum=0.5,
                                              epsilon=0.0)
    np.testing.assert_allclose(mean, [1.0])
    np.testing.assert_allclose(var, [1.5 ** 2])  # sigma: 0.5 * 1 + 0.5 * 2
