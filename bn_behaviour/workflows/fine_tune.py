"""The fine-tuning guide end to end: a small conv net pre-trained, frozen, fine-tuned on shifted data.

The Keras transfer-learning guide (https://keras.io/guides/transfer_learning/)
freezes a pre-trained base with ``base_model.trainable = False``, calls it as
``base_model(inputs, training=False)`` under a new head, trains the head, then
unfreezes (``base_model.trainable = True``), compiles again with a low
learning rate and trains end to end; "we pass training=False when calling
the base model ... so that the batchnorm statistics don't get updated even
after we unfreeze the base model for fine-tuning".  So: after the frozen
step every variable of the base (its convolution, BatchNormalization's
gamma/beta and moving statistics) is bit-identical and the head has
learned; after the unfrozen step the base's weights have moved but its
BatchNormalization statistics are still bit-identical.

The base is ``Input(8, 8, 3) -> Conv2D(4, 3) -> BatchNormalization -> ReLU ->
GlobalAveragePooling2D``, pre-trained with a Dense head for one epoch on
seeded images; the fine-tuning data are the same images scaled and shifted
(``SHIFT``), as a new domain would be.  ``path=custom_loop`` is a custom
training step calling ``model(x, training=True)``, as Keras' "writing a training
loop from scratch" guides write it (a GradientTape on TensorFlow, the backend's
idiomatic step on JAX and PyTorch: bn_behaviour.targets.keras3_backends); the
transfer-learning guide's own loop calls ``model(inputs)`` without ``training``.

>>> sorted(VARIANTS)[0]
'step=frozen-path=custom_loop'
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from ..cases import inputs
from .base import Workflow, mismatch, raised
from .frameworks import bn, format_error, keras_api, values

WORKFLOW = Workflow(
    name="fine_tune",
    title="The fine-tuning guide end to end on a small convolutional network",
    rule="after training the new head on a base frozen with trainable = False and called with training=False, "
    "every variable of the base is bit-identical; after unfreezing and training end to end, the base's weights "
    "move but its BatchNormalization statistics stay bit-identical",
    source="https://keras.io/guides/transfer_learning/",
)

VARIANTS = {
    "step=frozen-path=fit": "the new head trained with fit() on a base frozen as the guide says.",
    "step=frozen-path=custom_loop": "the new head trained with a custom training step calling model(x, training=True) "
    "on the frozen base.",
    "step=unfrozen-path=fit": "after the frozen step, the base unfrozen, compiled again and trained end to end "
    "with fit().",
    "step=unfrozen-path=custom_loop": "after the frozen step, the base unfrozen and the whole model trained with "
    "a custom training step calling model(x, training=True).",
}
FIELDS = ("base_bn_stats", "base_weights", "base_gamma", "base_beta", "head_weights", "error")
IMAGE = (8, 8, inputs.CHANNELS)
SAMPLES = 32
#: The fine-tuning domain: the pre-training images times SCALE plus SHIFT.
SCALE, SHIFT = 1.5, 2.0
BN_STATS = ("moving_mean", "moving_variance")
#: Learning rates of the guide's Adam: pre-training and the new head (Adam's default); the end-to-end step
#: (the guide's ``Adam(1e-5)``, "a very low learning rate").
LR_HEAD, LR_FINE = 1e-3, 1e-5
#: The guide's optimiser, for fit() and for the custom training step alike.
OPTIMIZER = "Adam"


def exclusion(target, variant: str) -> Optional[str]:
    return None  # every Keras-style target runs every variant


def expected(target, variant: str) -> dict:
    frozen = variant.startswith("step=frozen")
    moved = "identical" if frozen else "changed"
    return {"base_bn_stats": "identical", **dict.fromkeys(("base_weights", "base_gamma", "base_beta"), moved),
            "head_weights": "changed", "error": None}



def check_no_error(variant, observed, exp) -> Optional[str]:
    """The guide's recipe runs on this target."""
    return raised(observed)


def check_bn_statistics_kept(variant, observed, exp) -> Optional[str]:
    """The base's BatchNormalization moving statistics are bit-identical after either step (the guide:
    training=False keeps them from being updated, even once the base is unfrozen)."""
    return mismatch(observed, exp, "base_bn_stats", "the base's moving statistics")


def check_base_weights(variant, observed, exp) -> Optional[str]:
    """The base's weights (convolution, gamma/beta) are bit-identical while it is frozen and move once it is
    unfrozen and trained end to end (the guide's two steps)."""
    return mismatch(observed, exp, "base_weights", "the base's weights")


def check_head_learns(variant, observed, exp) -> Optional[str]:
    """The new head's weights move: the fine-tuning step really trained (otherwise the other checks prove nothing)."""
    return mismatch(observed, exp, "head_weights", "the head's weights")


def check_gamma(variant, observed, exp) -> Optional[str]:
    """The base's BatchNormalization gamma on its own: bit-identical while the base is frozen, trained once
    it is unfrozen (inference mode keeps the statistics, not the trainable weights)."""
    return mismatch(observed, exp, "base_gamma", "the base's gamma")


def check_beta(variant, observed, exp) -> Optional[str]:
    """beta likewise."""
    return mismatch(observed, exp, "base_beta", "the base's beta")


CHECKS = {"no_error": check_no_error, "bn_statistics_kept": check_bn_statistics_kept,
          "base_weights": check_base_weights, "gamma": check_gamma, "beta": check_beta,
          "head_learns": check_head_learns}


def images() -> tuple[np.ndarray, np.ndarray]:
    """Seeded pre-training images and targets (the target is a fixed linear read-out of the image)."""
    rng = np.random.default_rng(inputs.SEED + 11)
    x = rng.normal(1.0, 2.0, size=(SAMPLES, *IMAGE)).astype(np.float32)
    y = x.mean(axis=(1, 2)) @ np.array([[1.0], [-0.5], [0.25]], np.float32)
    return x, y.astype(np.float32)


def _same(a: list, b: list) -> str:
    return "identical" if all(np.array_equal(x, y) for x, y in zip(a, b)) else "changed"


def observe(target, variant: str):
    api = keras_api(target)
    driver = target.load_driver()
    x, y = images()
    x_new = (x * SCALE + SHIFT).astype(np.float32)
    inp = api.Input(IMAGE)
    norm = bn(api)
    feat = api.layers.GlobalAveragePooling2D()(api.layers.ReLU()(norm(api.layers.Conv2D(4, 3, padding="same")(inp))))
    base = api.Model(inp, feat, name="base")
    pre = api.Model(inp, api.layers.Dense(1)(base(inp)))
    pre.compile(optimizer=getattr(api.optimizers, OPTIMIZER)(LR_HEAD), loss="mse")
    pre.fit(x, y, batch_size=inputs.BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
    # The guide: freeze, call with training=False, a new head.
    base.trainable = False
    new_in = api.Input(IMAGE)
    head = api.layers.Dense(1)
    model = api.Model(new_in, head(base(new_in, training=False)))
    custom = variant.endswith("custom_loop")
    error = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if variant.startswith("step=unfrozen"):
                _train(api, driver, model, x_new, y, custom, LR_HEAD)
                base.trainable = True  # the guide's second step: unfreeze, compile again, low learning rate
            base_before = values(base.weights)
            stats_before, head_before = values([getattr(norm, k) for k in BN_STATS]), values(head.weights)
            affine_before = values([norm.gamma, norm.beta])
            _train(api, driver, model, x_new, y, custom, LR_FINE if variant.startswith("step=unfrozen") else LR_HEAD)
        except Exception as e:  # noqa: BLE001  (an error is a behaviour to record)
            error = format_error(e)
    if error:
        return {**dict.fromkeys(FIELDS, "n/a"), "error": error}, error
    stats_after = values([getattr(norm, k) for k in BN_STATS])
    weights = [v for v in base.weights if not any(v is getattr(norm, k) for k in BN_STATS)]
    before_w = [b for v, b in zip(base.weights, base_before) if any(v is w for w in weights)]
    gamma, beta = values([norm.gamma, norm.beta])
    observed = {"base_bn_stats": _same(stats_before, stats_after), "base_weights": _same(before_w, values(weights)),
                "base_gamma": _same(affine_before[:1], [gamma]), "base_beta": _same(affine_before[1:], [beta]),
                "head_weights": _same(head_before, values(head.weights)), "error": None}
    numbers = (f"moving mean {np.round(stats_before[0], 5).tolist()} -> {np.round(stats_after[0], 5).tolist()}; "
               f"moving variance {np.round(stats_before[1], 5).tolist()} -> {np.round(stats_after[1], 5).tolist()}")
    return observed, numbers


def _train(api, driver, model, x, y, custom: bool, learning_rate: float) -> None:
    """One epoch: compile and fit(), or a custom training step calling ``model(x, training=True)``."""
    if not custom:
        model.compile(optimizer=getattr(api.optimizers, OPTIMIZER)(learning_rate), loss="mse")
        model.fit(x, y, batch_size=inputs.BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
        return
    step = driver.train_step(model, {"training": True}, learning_rate, OPTIMIZER)
    for i in range(0, len(x), inputs.BATCH_SIZE):
        step(x[i:i + inputs.BATCH_SIZE], y[i:i + inputs.BATCH_SIZE])
