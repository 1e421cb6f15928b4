"""One BatchNormalization shared by two models compiled with different ``trainable`` values (the GAN workflow).

The Keras FAQ ("How can I freeze layers and do fine-tuning?", **Interaction
between `trainable` and `compile()`**): "Calling `compile()` on a model is meant
to "freeze" the behavior of that model.  This implies that the `trainable`
attribute values at the time the model is compiled should be preserved
throughout the lifetime of that model, until `compile` is called again", and
for two models sharing layers "model A and B are using different `trainable`
values for the shared layers.  This mechanism is critical for most existing GAN
implementations", whose order it gives: ``discriminator.compile(...)`` ("the
weights of `discriminator` should be updated when `discriminator` is trained"),
``discriminator.trainable = False``, ``gan.compile(...)`` ("`discriminator` is a
submodel of `gan`, which should not be updated when `gan` is trained").  Keras
3's BatchNormalization docstring says the same of the layer: "If the value of
the `trainable` attribute is changed after calling `compile()` on a model, the
new value doesn't take effect for this model until `compile()` is called
again".  Which statistics the shared layer uses follows from the value each
model holds: trainable, it normalises with "the mean and variance of the
current batch" under ``fit()`` (docstring, ``training=True``) and takes a
moving-average step; frozen, "setting `bn.trainable = False` will *also* force
the layer to run in inference mode" (FAQ, special case of BatchNormalization),
with no update.  So: through the discriminator the shared layer trains (batch
statistics, one moving-average step, gamma/beta move); through the GAN it is
in inference mode and nothing of it moves.

The discriminator is ``Input(3) -> BatchNormalization -> Dense(1)`` (so the
shared layer sees the data itself), the generator ``Input(2) -> Dense(3)``,
the GAN ``generator -> discriminator``; each case builds them afresh, follows
the FAQ's order, and trains one model for one step on one batch.  The mode is
read from the loss the step reports (computed on the forward pass, before the
update), against the NumPy forward pass with each of the two statistics.

>>> sorted(VARIANTS)[0]
'trained=discriminator-path=fit'
>>> round(_mse(np.array([[1.0], [3.0]]), np.ones((2, 1))), 3)
2.0
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import inputs, reference
from ..observation import ATOL, RTOL, classify_moving_stats
from ..workflow import Workflow
from .frameworks import bn, keras_api, not_keras, state

WORKFLOW = Workflow(
    name="shared_layer",
    title="A BatchNormalization shared by a discriminator and a GAN",
    rule="the trainable value at each model's compile() holds for that model: trained through the discriminator "
    "(compiled trainable) the shared layer trains (batch statistics, moving statistics and gamma/beta move), "
    "trained through the GAN (compiled after discriminator.trainable = False) it runs in inference mode and "
    "nothing of it moves",
    source="https://keras.io/getting_started/faq/#how-can-i-freeze-layers-and-do-finetuning",
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
FIELDS = ("mode", "moving_stats", "affine", "error")
LATENT = 2


def exclusion(target: str, variant: str) -> str | None:
    return not_keras(target)


def expected(target: str, variant: str) -> dict:
    if variant.startswith("trained=discriminator"):
        return {"mode": "training", "moving_stats": "updated", "affine": "updated", "error": None}
    return {"mode": "inference", "moving_stats": "unchanged", "affine": "unchanged", "error": None}


def _fact(observed, exp, key, what) -> str | None:
    if observed["error"] is None and observed[key] != exp[key]:
        return f"expected {what} {exp[key]}, observed {observed[key]}"
    return None


def check_no_error(variant, observed, exp) -> str | None:
    """The FAQ's workflow runs: neither model's training raises."""
    return None if observed["error"] is None else f"expected no error, observed {observed['error']}"


def check_mode(variant, observed, exp) -> str | None:
    """Training mode through the discriminator, inference mode through the GAN.

    The FAQ and the BatchNormalization docstring: each model keeps the trainable value it was compiled with; a
    trainable BatchNormalization under fit() normalises with "the mean and variance of the current batch", a
    frozen one is forced "to run in inference mode" (FAQ, special case of BatchNormalization).
    """
    return _fact(observed, exp, "mode", "the shared layer's mode")


def check_moving_statistics(variant, observed, exp) -> str | None:
    """One moving-average step on the batch it saw through the discriminator, none through the GAN.

    Same documents as ``check_mode``: training mode updates the moving statistics, inference mode does not.
    """
    return _fact(observed, exp, "moving_stats", "moving statistics")


def check_gamma_beta(variant, observed, exp) -> str | None:
    """gamma/beta are trained through the discriminator and not through the GAN.

    The FAQ's comments on its GAN order: the discriminator's weights "should be updated when `discriminator` is
    trained" and "should not be updated when `gan` is trained".
    """
    return _fact(observed, exp, "affine", "gamma/beta")


CHECKS = {"no_error": check_no_error, "mode": check_mode, "moving_statistics": check_moving_statistics,
          "gamma_beta": check_gamma_beta}


def _mse(out, y) -> float:
    return float(np.mean(np.square(np.asarray(out, np.float64) - y)))


def _loss_mode(loss: float | None, seen, before, dense, y) -> tuple[str, float, float]:
    """Which statistics produced ``loss``: ``(mode, reference training loss, reference inference loss)``."""
    kernel, bias = (np.asarray(w, np.float64) for w in dense)
    train = _mse(reference.training_output(seen, before["gamma"], before["beta"]) @ kernel + bias, y)
    infer = _mse(reference.inference_output(seen, before["moving_mean"], before["moving_variance"], before["gamma"],
                                            before["beta"]) @ kernel + bias, y)
    if loss is None:
        return "n/a", train, infer
    close = lambda ref: bool(np.isclose(loss, ref, rtol=RTOL, atol=ATOL))
    return ("training" if close(train) else "inference" if close(infer) else "neither"), train, infer


def observe(target, variant: str):
    from ..targets.common import format_error

    api = keras_api(target)
    x, y = inputs.batch(), np.ones((inputs.BATCH_SIZE, 1), np.float32)
    z = np.random.default_rng(inputs.SEED + 7).normal(size=(inputs.BATCH_SIZE, LATENT)).astype(np.float32)
    d_in = api.Input((inputs.CHANNELS,))
    shared, d_dense = bn(api), api.layers.Dense(1)
    discriminator = api.Model(d_in, d_dense(shared(d_in)), name="discriminator")
    g_in = api.Input((LATENT,))
    g_dense = api.layers.Dense(inputs.CHANNELS)
    generator = api.Model(g_in, g_dense(g_in), name="generator")
    gan_in = api.Input((LATENT,))
    gan = api.Model(gan_in, discriminator(generator(gan_in)), name="gan")
    sgd = lambda: api.optimizers.SGD(inputs.LEARNING_RATE)
    # The FAQ's order.
    discriminator.compile(optimizer=sgd(), loss="mse")
    discriminator.trainable = False
    gan.compile(optimizer=sgd(), loss="mse")
    on_gan = variant.startswith("trained=gan")
    model, data = (gan, z) if on_gan else (discriminator, x)
    before = state(shared)
    dense = [np.array(w) for w in d_dense.get_weights()]
    # What the shared layer sees: the batch, or the generator's output on z.
    kernel, bias = (np.asarray(w, np.float64) for w in g_dense.get_weights())
    seen = z.astype(np.float64) @ kernel + bias if on_gan else x.astype(np.float64)
    loss, error = None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns about the trainable change since compile()
        try:
            if variant.endswith("path=fit"):
                history = model.fit(data, y, batch_size=inputs.BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
                loss = history.history["loss"][0]
            else:
                loss = model.train_on_batch(data, y)
            loss = float(np.ravel(np.asarray(loss, np.float64))[0])
        except Exception as e:  # noqa: BLE001 (an error is a behaviour to record)
            error = format_error(e)
    after = state(shared)
    mode, train, infer = _loss_mode(loss, seen, before, dense, y)
    moving = classify_moving_stats(seen, before, after, reference.MOMENTUM, bessel=False)
    affine = "unchanged" if all(np.array_equal(before[k], after[k]) for k in ("gamma", "beta")) else "updated"
    numbers = (f"loss {loss} (reference: training {train:.6g}, inference {infer:.6g}); moving mean "
               f"{before['moving_mean'].round(4).tolist()} -> {after['moving_mean'].round(4).tolist()}; "
               f"gamma {before['gamma'].round(4).tolist()} -> {after['gamma'].round(4).tolist()}")
    return {"mode": mode, "moving_stats": moving, "affine": affine, "error": error}, numbers
