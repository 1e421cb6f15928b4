"""The seed's example, run on the real TF1 layer: what its numbers and its prose say.

The seed (../shared/seeds/001_*.txt) builds ``tf.layers.batch_normalization``
on a 1x2x2x4 image with beta 1, gamma 2, moving mean 0, moving variance 1
and the default momentum (0.99) and epsilon, runs ``sess.run([update_ops,
out])`` once per case, and prints three cases.  The image is the one
``tests/test_reference.py`` reconstructs from the printed numbers.

What really happens (asserted below, test IDs named after the seed's cases):

* ``training=False-trainable=False``: printed output reproduced; the moving
  statistics (0, 1) and epsilon normalise, nothing is updated.
* ``training=True-trainable=False``: printed output reproduced, but it is
  the *batch* statistics that normalise (the prose says the moving ones);
  the moving statistics stay unchanged, as the prose says, because the
  frozen layer puts nothing in UPDATE_OPS.
* ``training=True-trainable=True``: the printed moving statistics after one
  update, to float32 precision (Bessel-corrected batch variance).

The TF1 part runs in a fresh subprocess: ``tf.compat.v1.layers`` exists only
if TF_USE_LEGACY_KERAS=1 is set before TensorFlow first resolves it, which
this process may already have done for Keras 3.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose
from test_reference import (
    F32,
    SEED_INFERENCE_OUT,
    SEED_MOMENTUM,
    SEED_MOVING_MEAN,
    SEED_MOVING_VAR,
    SEED_TRAINING_OUT,
    seed_image,
)

from bn_behaviour.rules import reference as ref
from bn_behaviour.rules.observation import ATOL, RTOL
from bn_behaviour.targets import TARGETS

#: Starts other Python processes (a framework import each): run with `pytest -m harness`.
pytestmark = pytest.mark.harness

GAMMA, BETA = 2.0 * np.ones(4), np.ones(4)
MOVING_MEAN, MOVING_VAR = np.zeros(4), np.ones(4)
#: The seed's three cases: test ID -> (training, trainable).
CASES = {
    "training=False-trainable=False": (False, False),
    "training=True-trainable=False": (True, False),
    "training=True-trainable=True": (True, True),
}
#: The same 4 pixels fed as a (4, 4) matrix instead of an image (not in the seed).
FLAT = "rank-2-training=True-trainable=True"

# The seed's graph, verbatim apart from resource variables being read by object.
SEED_RUNNER = r"""
import inspect, json, sys, warnings
import numpy as np
import tensorflow as tf
warnings.simplefilter("ignore")
v1 = tf.compat.v1
p = json.load(sys.stdin)
img = np.array(p["image"], np.float32)
c = v1.constant_initializer
out_all = {"defaults": {k: v.default for k, v in inspect.signature(
    v1.layers.batch_normalization).parameters.items() if k in ("momentum", "epsilon")}}
for name, (shape, training, trainable) in p["cases"].items():
    g = tf.Graph()
    with g.as_default():
        _input = v1.placeholder(tf.float32, shape=shape, name="input")
        out = v1.layers.batch_normalization(
            _input,
            beta_initializer=c(np.array(p["beta"], np.float32)),
            gamma_initializer=c(np.array(p["gamma"], np.float32)),
            moving_mean_initializer=c(np.array(p["moving_mean"], np.float32)),
            moving_variance_initializer=c(np.array(p["moving_var"], np.float32)),
            training=training, trainable=trainable)
        update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
        trainable_names = sorted(v.name for v in v1.trainable_variables())
        init_op = v1.global_variables_initializer()
        variables = {v.name.split("/")[-1][:-2]: v for v in v1.global_variables()}
        with v1.Session(graph=g) as sess:
            sess.run(init_op)
            before = sess.run(variables)
            ops, o = sess.run([update_ops, out], feed_dict={_input: img.reshape(shape)})
            after = sess.run(variables)
    out_all[name] = {
        "out": o.reshape(-1, 4).tolist(),
        "update_ops": len(update_ops),
        "trainable_variables": trainable_names,
        "before": {k: v.tolist() for k, v in before.items()},
        "after": {k: v.tolist() for k, v in after.items()},
    }
print(json.dumps(out_all))
"""


@pytest.fixture(scope="module")
def seed_runs():
    """case -> what the real layer did, from one fresh process."""
    why = TARGETS["tf1"].missing()
    if why:
        pytest.skip(f"tf1 target not available: {why}")
    image = seed_image()  # (4 pixels, 4 channels); the seed's img is (2, 2, 4)
    cases = {k: [(1, 2, 2, 4), tr, tb] for k, (tr, tb) in CASES.items()}
    cases[FLAT] = [(4, 4), True, True]
    payload = dict(
        image=image.tolist(), beta=BETA.tolist(), gamma=GAMMA.tolist(),
        moving_mean=MOVING_MEAN.tolist(), moving_var=MOVING_VAR.tolist(), cases=cases,
    )
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-c", SEED_RUNNER], input=json.dumps(payload),
        capture_output=True, text=True, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = json.loads(proc.stdout.splitlines()[-1])
    for run in runs.values():
        if "out" in run:
            run["out"] = np.array(run["out"])
    return runs


def _moving(run, when):
    return np.array(run[when]["moving_mean"]), np.array(run[when]["moving_variance"])


def test_seed_uses_the_default_momentum_and_epsilon(seed_runs):
    """The seed passes neither; its numbers need momentum 0.99 (and the reference's epsilon)."""
    assert seed_runs["defaults"] == {"momentum": SEED_MOMENTUM, "epsilon": ref.EPSILON}


@pytest.mark.parametrize(
    "case, printed",
    [
        ("training=False-trainable=False", SEED_INFERENCE_OUT),
        ("training=True-trainable=False", SEED_TRAINING_OUT),
        ("training=True-trainable=True", SEED_TRAINING_OUT),  # "The out is same as above"
    ],
    ids=list(CASES),
)
def test_printed_output_of_the_first_pixel(seed_runs, case, printed):
    assert_allclose(np.round(seed_runs[case]["out"][0]), printed)


@pytest.mark.parametrize(
    "case, mode",
    [
        ("training=False-trainable=False", "inference"),
        # The prose: "normalized using moving_avg, moving_var, gamma and beta" -- wrong.
        ("training=True-trainable=False", "training"),
        ("training=True-trainable=True", "training"),
    ],
    ids=list(CASES),
)
def test_statistics_that_normalise(seed_runs, case, mode):
    """training picks the statistics; trainable=False does not switch to inference mode (TF1)."""
    img, out = seed_image(), seed_runs[case]["out"]
    batch = ref.training_output(img, GAMMA, BETA)
    moving = ref.inference_output(img, MOVING_MEAN, MOVING_VAR, GAMMA, BETA)
    used, other = (batch, moving) if mode == "training" else (moving, batch)
    assert_allclose(out, used, rtol=RTOL, atol=ATOL)
    assert not np.allclose(out, other, rtol=RTOL, atol=ATOL)


def test_inference_output_is_normalised_not_only_scaled(seed_runs):
    """training=False: the prose says "scaled/shifted using gamma and beta"; the output is
    gamma * (x - 0) / sqrt(1 + eps) + beta, visibly not gamma * x + beta (19 vs 18.99 for x = 9)."""
    out = seed_runs["training=False-trainable=False"]["out"]
    assert np.abs(out - (GAMMA * seed_image() + BETA)).max() > 1e-3


@pytest.mark.parametrize("case", ["training=False-trainable=False", "training=True-trainable=False"],
                         ids=["training=False-trainable=False", "training=True-trainable=False"])
def test_frozen_layer_updates_nothing(seed_runs, case):
    """trainable=False: UPDATE_OPS is empty, so sess.run([update_ops, out]) changes no variable,
    even with training=True (the prose is right: "The averages are not updated")."""
    run = seed_runs[case]
    assert run["update_ops"] == 0
    assert run["trainable_variables"] == []
    assert run["after"] == run["before"]


def test_trainable_layer_prints_the_seed_moving_statistics(seed_runs):
    """training=True, trainable=True: one update gives the printed values to float32 precision,
    and they are the Bessel-corrected update of the reconstructed image."""
    run = seed_runs["training=True-trainable=True"]
    assert run["update_ops"] == 2
    assert run["trainable_variables"] == ["batch_normalization/beta:0", "batch_normalization/gamma:0"]
    mean, var = _moving(run, "after")
    assert_allclose(mean, SEED_MOVING_MEAN, **F32)
    assert_allclose(var, SEED_MOVING_VAR, **F32)
    assert_allclose(var, ref.updated_moving_stats(seed_image(), MOVING_MEAN, MOVING_VAR, bessel=True)[1], **F32)


def test_the_same_pixels_as_a_matrix_take_the_biased_variance(seed_runs):
    """Not in the seed: fed as a (4, 4) matrix, the layer takes its non-fused kernel, whose
    moving variance uses the biased batch variance, so the printed values do not come out.
    This is why the tf1 driver feeds images (Target.bessel=True)."""
    mean, var = _moving(seed_runs[FLAT], "after")
    biased = ref.updated_moving_stats(seed_image(), MOVING_MEAN, MOVING_VAR, bessel=False)
    assert_allclose(mean, SEED_MOVING_MEAN, **F32)
    assert_allclose(var, biased[1], rtol=0, atol=1e-6)
    assert not np.allclose(var, SEED_MOVING_VAR, rtol=0, atol=1e-4)
