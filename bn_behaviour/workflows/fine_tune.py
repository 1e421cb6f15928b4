"""The fine-tuning guide end to end: a small conv net pre-trained, frozen, fine-tuned on shifted data.

The Keras transfer-learning guide (https://keras.io/guides/transfer_learning/)
freezes a pre-trained base with ``base_model.trainable = False``, calls it as
``base_model(inputs, training=False)`` under a new head, trains the head, then
unfreezes it (``base_model.trainable = True``), compiles again with "a very low
learning rate" and trains end to end.  Its reason for ``training=False``: "We
make sure to pass `training=False` when calling the base model, so that it runs
in inference mode, so that batchnorm statistics don't get updated even after we
unfreeze the base model for fine-tuning"; without it, "When you unfreeze a model
that contains `BatchNormalization` layers in order to do fine-tuning, you should
keep the `BatchNormalization` layers in inference mode by passing
`training=False` when calling the base model.  Otherwise the updates applied to
the non-trainable weights will suddenly destroy what the model has learned."
So: after the frozen step every variable of the base (convolutions,
BatchNormalization gamma/beta and moving statistics) is bit-identical and the
head has learned; after the unfrozen step the base's weights have moved but its
BatchNormalization statistics are still bit-identical, unless the base was
called without ``training=False`` (``call=plain``: then they move).

The base is ``Input(8, 8, 3) -> [Conv2D(4, 3) -> BatchNormalization -> ReLU] x 2
-> GlobalAveragePooling2D``, pre-trained under a Dense head on seeded images;
the fine-tuning images are those scaled and shifted (``SCALE``, ``SHIFT``), as a
new domain would be.  ``path=custom_loop`` is the guide's own loop ("Transfer
learning & fine-tuning with a custom training loop": ``predictions =
model(inputs)``, gradients of ``model.trainable_weights``) written the
backend's idiomatic way (bn_behaviour.targets.keras3_backends); ``training=true``
calls ``model(inputs, training=True)`` instead, as Keras's "Writing a training
loop from scratch in TensorFlow" guide does.

>>> sorted(VARIANTS)[0]
'step=frozen-path=custom_loop'
>>> _parse("step=unfrozen-call=plain-path=fit")
{'step': 'unfrozen', 'call': 'plain', 'path': 'fit'}
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import inputs
from ..workflow import Workflow
from .frameworks import bn, keras_api, not_keras

WORKFLOW = Workflow(
    name="fine_tune",
    title="The fine-tuning guide end to end on a small convolutional network",
    rule="after training the new head on a base frozen with trainable = False and called with training=False, "
    "every variable of the base is bit-identical; after unfreezing and training end to end, the base's weights "
    "move but its BatchNormalization statistics stay bit-identical (they move if the base is not called with "
    "training=False)",
    source="https://keras.io/guides/transfer_learning/",
)

VARIANTS = {
    "step=frozen-path=fit": "the new head trained with fit() on a base frozen as the guide says.",
    "step=frozen-path=custom_loop": "the new head trained with the guide's own training loop (model(inputs)) "
    "on the frozen base.",
    "step=unfrozen-path=fit": "after the frozen step, the base unfrozen, compiled again and trained end to end "
    "with fit().",
    "step=unfrozen-path=custom_loop": "after the frozen step, the base unfrozen and the whole model trained with "
    "the guide's own training loop (model(inputs)).",
    "step=unfrozen-path=custom_loop-training=true": "after the frozen step, the base unfrozen and the whole model "
    "trained with a loop calling model(inputs, training=True), as the guide to writing a training loop from "
    "scratch does.",
    "step=unfrozen-call=plain-path=fit": "the guide's two steps with fit(), but the base called as base_model(inputs) "
    "without training=False (the counter-example the guide warns about).",
}
FIELDS = ("base_bn_stats", "base_weights", "head_weights", "error")
IMAGE = (8, 8, inputs.CHANNELS)
SAMPLES, EPOCHS, FILTERS = 32, 2, 4
#: The fine-tuning domain: the pre-training images times SCALE plus SHIFT.
SCALE, SHIFT = 1.5, 2.0
BN_STATS = ("moving_mean", "moving_variance")
#: SGD learning rates: pre-training, the new head (on features up to ~13, larger diverges), the end-to-end
#: step ("a very low learning rate").
LR_PRE, LR_HEAD, LR_FINE = 1e-2, 1e-3, 1e-4


def _parse(variant: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in variant.split("-"))


def exclusion(target: str, variant: str) -> str | None:
    return not_keras(target)


def expected(target: str, variant: str) -> dict:
    v = _parse(variant)
    frozen = v["step"] == "frozen"
    return {"base_bn_stats": "changed" if v.get("call") == "plain" else "identical",
            "base_weights": "identical" if frozen else "changed", "head_weights": "changed", "error": None}


def _fact(observed, exp, key, what) -> str | None:
    if observed["error"] is None and observed[key] != exp[key]:
        return f"expected {what} {exp[key]}, observed {observed[key]}"
    return None


def check_no_error(variant, observed, exp) -> str | None:
    """The guide's recipe runs on this target."""
    return None if observed["error"] is None else f"expected no error, observed {observed['error']}"


def check_bn_statistics_kept(variant, observed, exp) -> str | None:
    """The base's BatchNormalization moving statistics are bit-identical after either step (training=False).

    The guide: training=False keeps them from being updated "even after we unfreeze the base model for
    fine-tuning"; called without it, the unfrozen base's statistics move (the guide's warning: "Otherwise the
    updates applied to the non-trainable weights will suddenly destroy what the model has learned").
    """
    return _fact(observed, exp, "base_bn_stats", "the base's moving statistics")


def check_base_weights(variant, observed, exp) -> str | None:
    """The base's weights (convolutions, gamma/beta) are bit-identical while frozen, and move once unfrozen.

    The guide's two steps: ``trainable = False`` excludes them from training; unfrozen, compiled again and
    trained end to end, they are trained (at a very low learning rate, but bit-for-bit they move).
    """
    return _fact(observed, exp, "base_weights", "the base's weights")


def check_head_learns(variant, observed, exp) -> str | None:
    """The new head's weights move: the fine-tuning step really trained (otherwise the other checks prove nothing)."""
    return _fact(observed, exp, "head_weights", "the head's weights")


CHECKS = {"no_error": check_no_error, "bn_statistics_kept": check_bn_statistics_kept,
          "base_weights": check_base_weights, "head_learns": check_head_learns}


def images() -> tuple[np.ndarray, np.ndarray]:
    """Seeded pre-training images and targets (the target is a fixed linear read-out of the image).

    >>> x, y = images()
    >>> x.shape, y.shape, x.dtype
    ((32, 8, 8, 3), (32, 1), dtype('float32'))
    """
    rng = np.random.default_rng(inputs.SEED + 11)
    x = rng.normal(1.0, 2.0, size=(SAMPLES, *IMAGE)).astype(np.float32)
    y = x.mean(axis=(1, 2)) @ np.array([[1.0], [-0.5], [0.25]], np.float32)
    return x, y.astype(np.float32)


def _values(variables) -> list[np.ndarray]:
    """Copies of the variables' values."""
    return [np.array(v.numpy(), copy=True) for v in variables]


def _same(a: list, b: list) -> str:
    """``identical`` when every array is bit-for-bit equal, else ``changed``.

    >>> _same([np.zeros(2)], [np.zeros(2)]), _same([np.zeros(2)], [np.array([0.0, 1e-12])])
    ('identical', 'changed')
    """
    return "identical" if all(np.array_equal(x, y) for x, y in zip(a, b, strict=True)) else "changed"


def _base(api):
    """The base (two conv blocks, each BatchNormalization built by ``frameworks.bn``) and its BN layers."""
    inp = api.Input(IMAGE)
    x, norms = inp, []
    for _ in range(2):
        norms.append(bn(api))
        x = api.layers.ReLU()(norms[-1](api.layers.Conv2D(FILTERS, 3, padding="same")(x)))
    return api.Model(inp, api.layers.GlobalAveragePooling2D()(x), name="base"), norms


def observe(target, variant: str):
    from ..targets.common import format_error

    v = _parse(variant)
    api = keras_api(target)
    driver = target.load_driver()
    x, y = images()
    x_new = (x * SCALE + SHIFT).astype(np.float32)
    base, norms = _base(api)
    pre_in = api.Input(IMAGE)
    pre = api.Model(pre_in, api.layers.Dense(1)(base(pre_in)))
    pre.compile(optimizer=api.optimizers.SGD(LR_PRE), loss="mse")
    pre.fit(x, y, batch_size=inputs.BATCH_SIZE, epochs=EPOCHS, shuffle=False, verbose=0)
    # The guide: freeze, call with training=False, a new head.
    base.trainable = False
    new_in = api.Input(IMAGE)
    head = api.layers.Dense(1)
    features = base(new_in) if v.get("call") == "plain" else base(new_in, training=False)
    model = api.Model(new_in, head(features))
    loop = None if v["path"] == "fit" else {"training": True} if v.get("training") == "true" else {}
    stats = [getattr(n, k) for n in norms for k in BN_STATS]
    weights = [w for w in base.weights if not any(w is s for s in stats)]
    error = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if v["step"] == "unfrozen":
                _train(api, driver, model, x_new, y, loop, LR_HEAD)
                base.trainable = True  # the guide's second step: unfreeze, compile again, low learning rate
            stats_before, weights_before, head_before = _values(stats), _values(weights), _values(head.weights)
            _train(api, driver, model, x_new, y, loop, LR_FINE if v["step"] == "unfrozen" else LR_HEAD)
        except Exception as e:  # noqa: BLE001 (an error is a behaviour to record)
            error = format_error(e)
    if error is None and not all(np.isfinite(a).all() for a in _values(model.weights)):
        error = "FloatingPointError: training diverged (a variable is not finite)"
    if error:
        return {"base_bn_stats": "n/a", "base_weights": "n/a", "head_weights": "n/a", "error": error}, error
    stats_after, weights_after = _values(stats), _values(weights)
    observed = {"base_bn_stats": _same(stats_before, stats_after), "base_weights": _same(weights_before, weights_after),
                "head_weights": _same(head_before, _values(head.weights)), "error": None}
    shift = lambda a, b: max(float(np.max(np.abs(p - q))) for p, q in zip(a, b))
    numbers = (f"first BN moving mean {np.round(stats_before[0], 5).tolist()} -> "
               f"{np.round(stats_after[0], 5).tolist()}; largest change: moving statistics "
               f"{shift(stats_before, stats_after):.3g}, base weights {shift(weights_before, weights_after):.3g}")
    return observed, numbers


def _train(api, driver, model, x, y, loop: dict | None, learning_rate: float) -> None:
    """``EPOCHS`` epochs: compile and fit() (``loop`` None), or the custom loop calling ``model(x, **loop)``."""
    if loop is None:
        model.compile(optimizer=api.optimizers.SGD(learning_rate), loss="mse")
        model.fit(x, y, batch_size=inputs.BATCH_SIZE, epochs=EPOCHS, shuffle=False, verbose=0)
        return
    step = driver.train_step(model, loop, learning_rate)
    for _ in range(EPOCHS):
        for i in range(0, len(x), inputs.BATCH_SIZE):
            step(x[i:i + inputs.BATCH_SIZE], y[i:i + inputs.BATCH_SIZE])
