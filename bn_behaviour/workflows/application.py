"""The transfer-learning guide's recipe end to end on real keras.applications architectures.

The Keras transfer-learning guide (https://keras.io/guides/transfer_learning/)
builds its model as ``x = data_augmentation(inputs)`` (``RandomFlip("horizontal")``
and ``RandomRotation(0.1)`` in a ``Sequential``), ``Rescaling(scale=1 / 127.5,
offset=-1)``, ``x = base_model(x, training=False)``, ``GlobalAveragePooling2D``,
``Dropout(0.2)``, ``Dense(1)`` (the Keras 2 edition's form, augmentation inside
the model), with ``base_model.trainable = False``, then compiles and fits.  Its
"Build a model" section: "We make sure to pass `training=False` when calling
the base model, so that it runs in inference mode, so that batchnorm
statistics don't get updated even after we unfreeze the base model for
fine-tuning."  Then it unfreezes (``base_model.trainable = True``), compiles
again with ``Adam(1e-5)  # Low learning rate`` and fits: "let's unfreeze the
base model and train the entire model end-to-end with a low learning rate.
Importantly, although the base model becomes trainable, it is still running
in inference mode since we passed `training=False` when calling it when we
built the model. This means that the batch normalization layers inside won't
update their batch statistics."  ``Model.predict``'s docstring sends "layers
such as `BatchNormalization` that behave differently during inference" to
``model(x, training=False)`` as its equivalent: prediction is inference.

So after either step no BatchNormalization layer of the base has moved its
moving statistics; gamma/beta stay bit-identical while the base is frozen and
are trained once it is unfrozen; ``model.predict()`` afterwards changes no
variable of the model.

The base is ``keras.applications.<Architecture>(weights=None, include_top=False)``
at the smallest input it accepts (32x32; no download), the data ``SAMPLES``
seeded pixel images with binary labels (one batch: one step per ``fit()``).
The optimiser is the guide's: ``Adam()`` for the head, ``Adam(1e-5)`` end to
end.  A pretrained base's BatchNormalization layers hold the statistics of
the data they were trained on; with ``weights=None`` they would hold the
initial 0 and 1, and a base run in inference mode with those passes
gradients of about 1e-12 to gamma, too small for any learning rate to move
it.  So the base is first calibrated as pretraining would leave it
(:func:`calibrate`: each layer's moving statistics set to the batch
statistics of the images, through one training-mode call with momentum 0),
and gamma and beta are judged separately (``base_gamma``, ``base_beta``:
"changed" when the layer's weight moved in any BatchNormalization layer of
the base; the numbers count each).

>>> sorted(VARIANTS)[0]
'model=mobilenet_v2-step=frozen-path=fit'
>>> expected(None, "model=resnet50-step=unfrozen-path=fit")["bn_layers_moved"]
'0/53'
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from ..cases import inputs
from .base import Workflow, mismatch, raised
from .frameworks import format_error, keras_api, values

WORKFLOW = Workflow(
    name="application",
    title="The transfer-learning guide's recipe on keras.applications architectures",
    rule="with the base frozen (trainable = False) and called as base_model(x, training=False) behind the "
    "guide's data augmentation, training the head leaves every BatchNormalization of the base bit-identical; "
    "after unfreezing and training end to end, gamma/beta are trained but the moving statistics stay "
    "bit-identical; predict() afterwards changes no variable",
    source="https://keras.io/guides/transfer_learning/",
    opt_in="two whole keras.applications networks, each trained frozen and then end to end: about 60 s of "
    "one core on keras-tensorflow (2026-12-08), a sixth of the default run's work",
)

#: Architecture name -> (keras.applications constructor, its extra arguments, BatchNormalization layers).
#: MobileNetV2: Conv1, the first block's depthwise and project, 16 blocks x (expand, depthwise, project),
#: Conv_1: 1 + 2 + 48 + 1 = 52.  ResNet50: conv1, 16 bottleneck blocks x 3, one shortcut per stage x 4:
#: 1 + 48 + 4 = 53.  (ResNet50 rather than EfficientNetB0: both steps of EfficientNetB0 took about three
#: times as long on keras-jax and tf_keras, and about as long on keras-tensorflow and keras-torch.)
ARCHITECTURES = {
    "mobilenet_v2": ("MobileNetV2", {"alpha": 0.35}, 52),
    "resnet50": ("ResNet50", {}, 53),
}
STEPS = {
    "frozen": "the guide's first step: the base frozen, called with training=False behind the data "
    "augmentation, the new head trained with fit()",
    "unfrozen": "after the first step, the base unfrozen, compiled again with a low learning rate and the "
    "whole model trained with fit()",
}
VARIANTS = {
    f"model={name}-step={step}-path=fit": f"{ARCHITECTURES[name][0]} (weights=None, 32x32): {what}, "
    "then predict()."
    for name in ARCHITECTURES for step, what in STEPS.items()
}
FIELDS = ("base_bn_stats", "bn_layers_moved", "base_gamma", "base_beta", "predict_changes", "error")
IMAGE = (32, 32, inputs.CHANNELS)
SAMPLES = 8
#: Learning rates of the guide's Adam: the new head (Adam's default); the end-to-end step (the guide's 1e-5,
#: "a very low learning rate").
LR_HEAD, LR_FINE = 1e-3, 1e-5
BN_STATS = ("moving_mean", "moving_variance")


def _parse(variant: str) -> tuple[str, str]:
    parts = dict(p.split("=", 1) for p in variant.split("-"))
    return parts["model"], parts["step"]


def exclusion(target, variant: str) -> Optional[str]:
    return None  # keras.applications ships with every Keras-style target


def expected(target, variant: str) -> dict:
    name, step = _parse(variant)
    return {"base_bn_stats": "identical", "bn_layers_moved": f"0/{ARCHITECTURES[name][2]}",
            **dict.fromkeys(("base_gamma", "base_beta"), "identical" if step == "frozen" else "changed"),
            "predict_changes": "nothing", "error": None}



def check_no_error(variant, observed, exp) -> Optional[str]:
    """The guide's recipe builds and runs on this target with a real keras.applications base."""
    return raised(observed)


def check_bn_statistics_kept(variant, observed, exp) -> Optional[str]:
    """The base's BatchNormalization moving statistics are bit-identical after the step (the guide: with
    training=False "the batchnorm statistics don't get updated", "even after we unfreeze the base model")."""
    return mismatch(observed, exp, "base_bn_stats", "the base's moving statistics")


def check_no_bn_layer_moved(variant, observed, exp) -> Optional[str]:
    """None of the base's BatchNormalization layers moved its statistics, counted layer by layer out of
    the architecture's known number (the guide keeps every one of them in inference mode)."""
    return mismatch(observed, exp, "bn_layers_moved", "BatchNormalization layers with moved statistics")


def check_gamma(variant, observed, exp) -> Optional[str]:
    """gamma is bit-identical while the base is frozen (trainable = False) and trained once it is
    unfrozen and the model is trained end to end (the guide's two steps; inference mode keeps the
    statistics, not the trainable weights)."""
    return mismatch(observed, exp, "base_gamma", "the base's gamma")


def check_beta(variant, observed, exp) -> Optional[str]:
    """beta likewise: bit-identical while the base is frozen, trained once it is unfrozen."""
    return mismatch(observed, exp, "base_beta", "the base's beta")


def check_predict_changes_nothing(variant, observed, exp) -> Optional[str]:
    """``model.predict()`` after the step changes no variable of the whole model (prediction is inference:
    augmentation, Dropout and BatchNormalization all run in inference mode)."""
    return mismatch(observed, exp, "predict_changes", "predict() to change")


CHECKS = {"no_error": check_no_error, "bn_statistics_kept": check_bn_statistics_kept,
          "no_bn_layer_moved": check_no_bn_layer_moved, "gamma": check_gamma, "beta": check_beta,
          "predict_changes_nothing": check_predict_changes_nothing}


def images() -> tuple[np.ndarray, np.ndarray]:
    """Seeded pixel images in [0, 255] (what the guide's Rescaling expects) and binary labels."""
    rng = np.random.default_rng(inputs.SEED + 23)
    x = rng.uniform(0.0, 255.0, size=(SAMPLES, *IMAGE)).astype(np.float32)
    y = (np.arange(SAMPLES) % 2).reshape(-1, 1).astype(np.float32)
    return x, y


def _moved(before: list, after: list) -> list[bool]:
    return [not np.array_equal(b, a) for b, a in zip(before, after)]


def calibrate(base, norms, x) -> None:
    """Give every BatchNormalization of the base the statistics pretraining would have left: one call in
    training mode with momentum 0 sets each layer's moving statistics to the batch statistics of its input
    (layer after layer, each normalised as in training); then the momentum and the freeze are put back."""
    momenta, frozen = [n.momentum for n in norms], not base.trainable
    for n in norms:
        n.momentum = 0.0
    base.trainable = True  # a frozen BatchNormalization would run in inference mode
    base(x, training=True)
    base.trainable = not frozen
    for n, m in zip(norms, momenta):
        n.momentum = m


def build(api, name: str):
    """The guide's model around ``name``'s base; returns (model, base, the base's BatchNormalization layers)."""
    constructor, extra, _ = ARCHITECTURES[name]
    base = getattr(api.applications, constructor)(weights=None, include_top=False, input_shape=IMAGE, **extra)
    layers = api.layers
    data_augmentation = api.Sequential([layers.RandomFlip("horizontal", seed=inputs.SEED),
                                        layers.RandomRotation(0.1, seed=inputs.SEED + 1)])
    base.trainable = False
    inp = api.Input(IMAGE)
    x = layers.Rescaling(scale=1 / 127.5, offset=-1)(data_augmentation(inp))
    x = base(x, training=False)
    x = layers.Dropout(0.2, seed=inputs.SEED + 2)(layers.GlobalAveragePooling2D()(x))
    model = api.Model(inp, layers.Dense(1)(x))
    return model, base, [lay for lay in base.layers if isinstance(lay, layers.BatchNormalization)]


def observe(target, variant: str):
    api = keras_api(target)
    name, step = _parse(variant)
    x, y = images()
    error = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model, base, norms = build(api, name)
            calibrate(base, norms, api.layers.Rescaling(scale=1 / 127.5, offset=-1)(x))
            if step == "unfrozen":
                _fit(api, model, x, y, LR_HEAD)
                base.trainable = True  # the guide's second step: unfreeze, compile again, low learning rate
            stats_before = [values([getattr(n, k) for k in BN_STATS]) for n in norms]
            affine_before = [values([n.gamma, n.beta]) for n in norms]
            _fit(api, model, x, y, LR_FINE if step == "unfrozen" else LR_HEAD)
            stats_after = [values([getattr(n, k) for k in BN_STATS]) for n in norms]
            affine_after = [values([n.gamma, n.beta]) for n in norms]
            everything = values(model.variables)
            model.predict(x, batch_size=SAMPLES, verbose=0)
            predicted = _moved(everything, values(model.variables))
        except Exception as e:  # noqa: BLE001  (an error is a behaviour to record)
            error = format_error(e)
    if error:
        return {**dict.fromkeys(FIELDS, "n/a"), "error": error}, error
    moved = [any(_moved(b, a)) for b, a in zip(stats_before, stats_after)]
    gamma, beta = (sum(not np.array_equal(b[i], a[i]) for b, a in zip(affine_before, affine_after)) for i in (0, 1))
    observed = {"base_bn_stats": "changed" if any(moved) else "identical",
                "bn_layers_moved": f"{sum(moved)}/{len(norms)}",
                "base_gamma": "changed" if gamma else "identical", "base_beta": "changed" if beta else "identical",
                "predict_changes": "something" if any(predicted) else "nothing", "error": None}
    first = norms[0].name
    largest = max(float(np.max(np.abs(a - b))) for s, t in zip(stats_before, stats_after) for b, a in zip(s, t))
    numbers = (f"moving statistics moved in {sum(moved)}/{len(norms)} BatchNormalization layers (largest change "
               f"{largest:.3g}; {first} moving mean {np.round(stats_before[0][0][:3], 5).tolist()} -> "
               f"{np.round(stats_after[0][0][:3], 5).tolist()}); gamma moved in {gamma}/{len(norms)} layers, "
               f"beta in {beta}/{len(norms)}; predict() changed {sum(predicted)} of {len(predicted)} variables")
    return observed, numbers


def _fit(api, model, x, y, learning_rate: float) -> None:
    """The guide's compile() (Adam, binary cross-entropy on logits, binary accuracy) and one epoch of fit()."""
    model.compile(optimizer=api.optimizers.Adam(learning_rate),
                  loss=api.losses.BinaryCrossentropy(from_logits=True), metrics=[api.metrics.BinaryAccuracy()])
    model.fit(x, y, batch_size=SAMPLES, epochs=1, shuffle=False, verbose=0)
