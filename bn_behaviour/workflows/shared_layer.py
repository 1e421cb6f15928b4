"""One BatchNormalization shared by two models compiled with different ``trainable`` values (the GAN workflow).

The Keras FAQ ("What's the difference between the training argument in
call() and the trainable attribute?") describes it: compiling a model is
meant to freeze its behaviour, "the trainable attribute values at the time
the model is compiled should be preserved throughout the lifetime of that
model, until compile is called again"; so after ``discriminator.compile()``,
``discriminator.trainable = False`` and ``gan.compile()``, training the
discriminator updates its weights and training the GAN does not.  With the
BatchNormalization docstring (trainable=False runs the layer in inference
mode), that predicts: through the discriminator (compiled trainable) the
shared layer trains (batch statistics, moving statistics and gamma/beta
move); through the GAN (compiled with it frozen) nothing of it moves.

The discriminator is ``Input(3) -> BatchNormalization -> Dense(1)`` (so the
shared layer sees the data itself), the generator ``Input(2) -> Dense(3)``,
the GAN ``generator -> discriminator``; each case builds them afresh, follows
the FAQ's order, and trains one model once.

>>> sorted(VARIANTS)[0]
'trained=discriminator-path=fit'
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from ..cases import inputs
from ..rules.observation import classify_moving_stats
from ..rules.reference import MOMENTUM
from .base import Workflow, raised
from .frameworks import bn, format_error, keras_api, state

WORKFLOW = Workflow(
    name="shared_layer",
    title="A BatchNormalization shared by a discriminator and a GAN",
    rule="the trainable value at each model's compile() holds for that model: trained through the discriminator "
    "(compiled trainable) the shared layer trains, trained through the GAN (compiled after discriminator.trainable "
    "= False) nothing of it moves",
    source="https://keras.io/getting_started/faq/#whats-the-difference-between-the-training-argument-in-call-and-the-trainable-attribute",
)

VARIANTS = {
    "trained=discriminator-path=fit": "the discriminator (compiled before discriminator.trainable = False) trained "
    "with fit().",
    "trained=discriminator-path=train_on_batch": "the discriminator (compiled before discriminator.trainable = False) "
    "trained with train_on_batch().",
    "trained=gan-path=fit": "the GAN (compiled after discriminator.trainable = False) trained with fit().",
    "trained=gan-path=train_on_batch": "the GAN (compiled after discriminator.trainable = False) trained with "
    "train_on_batch().",
}
FIELDS = ("moving_stats", "affine", "error")
LATENT = 2


def exclusion(target, variant: str) -> Optional[str]:
    return None  # every Keras-style target runs every variant


def expected(target, variant: str) -> dict:
    if variant.startswith("trained=discriminator"):
        return {"moving_stats": "updated", "affine": "updated", "error": None}
    return {"moving_stats": "unchanged", "affine": "unchanged", "error": None}


def check_no_error(variant, observed, exp) -> Optional[str]:
    """The FAQ's workflow runs: neither model's training raises."""
    return raised(observed)


def check_moving_statistics(variant, observed, exp) -> Optional[str]:
    """Through the discriminator the shared layer takes one moving-average step on its batch; through the GAN
    its moving statistics stay put (FAQ: the trainable value at compile time holds; docstring: frozen BN is
    in inference mode)."""
    if observed["error"] is None and observed["moving_stats"] != exp["moving_stats"]:
        return f"expected moving statistics {exp['moving_stats']}, observed {observed['moving_stats']}"
    return None


def check_gamma_beta(variant, observed, exp) -> Optional[str]:
    """gamma/beta are trained through the discriminator and not through the GAN (FAQ)."""
    if observed["error"] is None and observed["affine"] != exp["affine"]:
        return f"expected gamma/beta {exp['affine']}, observed {observed['affine']}"
    return None


CHECKS = {"no_error": check_no_error, "moving_statistics": check_moving_statistics, "gamma_beta": check_gamma_beta}


def observe(target, variant: str):
    api = keras_api(target)
    x, y = inputs.batch(), np.ones((inputs.BATCH_SIZE, 1), np.float32)
    z = np.random.default_rng(inputs.SEED + 7).normal(size=(inputs.BATCH_SIZE, LATENT)).astype(np.float32)
    d_in = api.Input((inputs.CHANNELS,))
    shared = bn(api)
    discriminator = api.Model(d_in, api.layers.Dense(1)(shared(d_in)), name="discriminator")
    g_in = api.Input((LATENT,))
    generator = api.Model(g_in, api.layers.Dense(inputs.CHANNELS)(g_in), name="generator")
    gan_in = api.Input((LATENT,))
    gan = api.Model(gan_in, discriminator(generator(gan_in)), name="gan")
    sgd = lambda: api.optimizers.SGD(inputs.LEARNING_RATE)  # noqa: E731
    discriminator.compile(optimizer=sgd(), loss="mse")
    discriminator.trainable = False
    gan.compile(optimizer=sgd(), loss="mse")
    model, data = (discriminator, x) if variant.startswith("trained=discriminator") else (gan, z)
    before, error = state(shared), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf_keras warns about the trainable/compile discrepancy
        try:
            if variant.endswith("path=fit"):
                model.fit(data, y, batch_size=inputs.BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
            else:
                model.train_on_batch(data, y)
        except Exception as e:  # noqa: BLE001  (an error is a behaviour to record)
            error = format_error(e)
    after = state(shared)
    moving = classify_moving_stats(x, before, after, momentum=MOMENTUM, bessel=False)
    if moving == "updated_otherwise" and model is gan:
        moving = "updated"  # the GAN's batch is the generator's output: any step is the rule broken
    affine = "unchanged" if all(np.array_equal(before[k], after[k]) for k in ("gamma", "beta")) else "updated"
    numbers = (f"moving mean {before['moving_mean'].round(4).tolist()} -> {after['moving_mean'].round(4).tolist()}; "
               f"gamma {before['gamma'].round(4).tolist()} -> {after['gamma'].round(4).tolist()}")
    return {"moving_stats": moving, "affine": affine, "error": error}, numbers
