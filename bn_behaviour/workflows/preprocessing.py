"""An image preprocessing layer in front of a BatchNormalization: whose ``training`` reaches the BN.

The BatchNormalization docstring
(https://keras.io/api/layers/normalization_layers/batch_normalization/;
tf_keras' says the same): "**During training** (i.e. when using `fit()` or
when calling the layer/model with the argument `training=True`), the layer
normalizes its output using the mean and standard deviation of the current
batch of inputs"; "**During inference** (i.e. when using `evaluate()` or
`predict()` or when calling the layer/model with the argument
`training=False` (which is the default), the layer normalizes its output
using a moving average"; the moving statistics "are updated each time the
layer in called in training mode" (sic).  A layer's own
``call`` signature default (``RandomFlip``'s ``training=True``, and from
Keras 3.6 every image preprocessing layer's,
``BaseImagePreprocessingLayer.call(self, data, training=True)``) is a default of that layer's call: it
decides what the preprocessing layer does, not the mode of the layers after
it.  So whatever the preprocessing layer is, the BN follows the outer call:
``predict()`` and a plain ``model(x)`` normalise with the moving statistics
and leave them unchanged, ``fit()`` normalises with the batch's statistics
and takes one moving-average step.

The model is ``Input(image) -> <layer> -> BatchNormalization`` on
``inputs.image_data()``; every layer is chosen so the BN's batch has the
channel statistics of the images (the separations tests/test_inputs.py
proves hold): ``Resizing`` doubles height and width by nearest-neighbour
copies, ``CenterCrop`` crops to the images' own size, ``RandomFlip`` (seeded)
permutes pixels within an image, ``Rescaling(1.0)`` (no ``training``
argument: the control) keeps the values.  The BN is always judged on the
batch it really saw: ``predict()`` and ``model(x)`` run a probe model, the same
layers with both the preprocessing layer's and the BN's outputs.  ``fit()``
reveals the BN's output through the suite's capture metric (the driver's
``CaptureOutput``) but not which images RandomFlip flipped; a flip permutes
pixels within an image, which changes no channel statistic, and the BN is
per channel monotone (gamma > 0), so fit's output is judged as pixel values
sorted within each image and channel (:func:`canonical`) against the
reference on the sorted inference-mode preprocessing output.

>>> sorted(VARIANTS)[:2]
['layer=center_crop-path=call', 'layer=center_crop-path=fit']
>>> expected(None, "layer=resizing-path=call")
{'mode': 'inference', 'moving_stats': 'unchanged', 'error': None}
>>> canonical(np.array([[[[2.0], [1.0]], [[0.0], [3.0]]]])).ravel().tolist()
[0.0, 1.0, 2.0, 3.0]
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from ..cases import inputs
from ..rules.observation import classify_mode, classify_moving_stats
from ..rules.reference import EPSILON, MOMENTUM, batch_moments
from .base import Workflow, raised
from .frameworks import bn, format_error, keras_api, numpy, state

WORKFLOW = Workflow(
    name="preprocessing",
    title="An image preprocessing layer in front of a BatchNormalization",
    rule="the BatchNormalization follows the outer call whatever the layer before it defaults training to: "
    "predict() and model(x) without training normalise with the moving statistics and leave them unchanged, "
    "fit() normalises with the batch's statistics and updates them",
    source="https://keras.io/api/layers/normalization_layers/batch_normalization/",
)

LAYERS = {
    "resizing": "Resizing to twice the height and width, nearest neighbour (its call() defaults training=True "
    "from Keras 3.6; tf_keras' takes no training)",
    "center_crop": "CenterCrop to the images' own size (its call() defaults training=True from Keras 3.6; "
    "tf_keras' takes no training)",
    "random_flip": "a seeded RandomFlip (its call() defaults training=True)",
    "rescaling": "Rescaling(1.0) (its call() takes no training argument: the control)",
}
PATHS = {
    "predict": "run with predict()",
    "call": "called as model(x) without a training argument",
    "fit": "trained one step with compile() and fit() on one batch",
}
VARIANTS = {f"layer={layer}-path={path}": f"{what}, then the BatchNormalization; the model {how}."
            for layer, what in LAYERS.items() for path, how in PATHS.items()}
FIELDS = ("mode", "moving_stats", "error")


def _parts(variant: str) -> tuple[str, str]:
    """``(layer, path)`` of a variant ID."""
    parts = dict(p.split("=", 1) for p in variant.split("-"))
    return parts["layer"], parts["path"]


def exclusion(target, variant: str) -> Optional[str]:
    return None  # every Keras-style target has the four layers and the three paths


def expected(target, variant: str) -> dict:
    """The outer call decides: fit() trains the BN, predict() and a call without training do not."""
    training = _parts(variant)[1] == "fit"
    return {"mode": "training" if training else "inference", "moving_stats": "updated" if training else "unchanged",
            "error": None}


def check_no_error(variant, observed, exp) -> Optional[str]:
    """The model builds and runs: a preprocessing layer in front of a BN is an ordinary functional model."""
    return raised(observed)


def check_mode(variant, observed, exp) -> Optional[str]:
    """The BN normalises with the statistics the outer call picks, not the preprocessing layer's default.

    The batch's in fit(), the moving ones in predict() and in model(x) without training ("training=False
    (which is the default)"); a signature default belongs to that layer's own call.
    """
    if observed["error"] is None and observed["mode"] != exp["mode"]:
        return f"expected the batch normalised in {exp['mode']} mode, observed {observed['mode']}"
    return None


def check_moving_statistics(variant, observed, exp) -> Optional[str]:
    """The moving statistics take one momentum step on the BN's batch in fit() only.

    They stay put in predict() and model(x) (docstring: they are updated each time the layer is called in
    training mode, with ``moving * momentum + batch * (1 - momentum)``).
    """
    if observed["error"] is None and observed["moving_stats"] != exp["moving_stats"]:
        return f"expected moving statistics {exp['moving_stats']}, observed {observed['moving_stats']}"
    return None


CHECKS = {"no_error": check_no_error, "mode": check_mode, "moving_statistics": check_moving_statistics}


def canonical(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> (N, H*W, C) with each image's pixels sorted per channel: what no flip changes."""
    a = np.asarray(images, np.float64)
    return np.sort(a.reshape(a.shape[0], -1, a.shape[-1]), axis=1)


def preprocessing_layer(api, name: str):
    """The layer of ``layer=<name>`` (see :data:`LAYERS`) for images of ``inputs.IMAGE_SHAPE``."""
    _, height, width, _ = inputs.IMAGE_SHAPE
    if name == "resizing":
        return api.layers.Resizing(2 * height, 2 * width, interpolation="nearest")
    if name == "center_crop":
        return api.layers.CenterCrop(height, width)
    if name == "random_flip":
        return api.layers.RandomFlip("horizontal_and_vertical", seed=inputs.SEED)
    return api.layers.Rescaling(1.0)


def _targets(data, layer: str) -> np.ndarray:
    """fit()'s regression targets: the seeded targets, with the resized images' shape for ``layer=resizing``."""
    return np.repeat(np.repeat(data.y, 2, axis=1), 2, axis=2) if layer == "resizing" else data.y


def _run(api, driver, layer: str, path: str, pre, inp, pre_out, out, data):
    """The observed path: (the batch the BN saw, the BN's output), both :func:`canonical` for fit()."""
    if path in ("predict", "call"):
        probe = api.Model(inp, [pre_out, out], name="probe")  # the model's layers, both outputs shown
        seen, output = (probe.predict(data.x, batch_size=data.batch_size, verbose=0) if path == "predict"
                        else probe(data.x))
        return numpy(api, seen), numpy(api, output)
    y = _targets(data, layer)
    model = api.Model(inp, out)
    capture = driver.CaptureOutput(y.shape)
    model.compile(optimizer=api.optimizers.SGD(inputs.LEARNING_RATE), loss="mse", metrics=[capture])
    model.fit(data.x, y, batch_size=data.batch_size, epochs=1, shuffle=False, verbose=0)
    seen = canonical(numpy(api, pre(data.x, training=False)))  # the BN's batch up to a flip of each image
    return seen, (canonical(numpy(api, capture.value)) if float(np.asarray(capture.count)) >= 1 else None)


def observe(target, variant: str):
    layer, path = _parts(variant)
    api, driver = keras_api(target), target.load_driver()
    data = inputs.image_data()
    inp = api.Input(data.shape)
    pre, norm = preprocessing_layer(api, layer), bn(api)
    pre_out = pre(inp)
    out = norm(pre_out)
    before, error, seen, output = state(norm), None, None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            seen, output = _run(api, driver, layer, path, pre, inp, pre_out, out, data)
        except Exception as e:  # noqa: BLE001  (an error is a behaviour to record)
            error = format_error(e)
    after = state(norm)
    if error:
        return {"mode": "n/a", "moving_stats": "n/a", "error": error}, error
    mode = classify_mode(seen, output, before, epsilon=EPSILON)
    # (N, H, W, C) images with the default fused=None take the fused kernel where the target has one
    # (the settings matrix's channels_last): its moving-variance convention is the target's fused one.
    moving = classify_moving_stats(seen, before, after, momentum=MOMENTUM, bessel=target.convention(True))
    kept = all(np.allclose(a, b) for a, b in zip(batch_moments(seen), batch_moments(data.x)))
    reference = canonical(data.x) if path == "fit" else data.x
    same = seen.shape == reference.shape and bool(np.array_equal(seen, reference))
    first = None if output is None else np.round(output.reshape(-1, output.shape[-1])[0], 4).tolist()
    numbers = (f"BN input shape {list(seen.shape)}{' (fit: pixels sorted per image and channel)' * (path == 'fit')}"
               f", equal to the images{' up to flips' * (path == 'fit')}: {same}, channel statistics the images': "
               f"{kept}; BN output first pixel {first}; moving mean "
               f"{before['moving_mean'].round(4).tolist()} -> {after['moving_mean'].round(4).tolist()}, variance "
               f"{before['moving_variance'].round(4).tolist()} -> {after['moving_variance'].round(4).tolist()}")
    return {"mode": mode, "moving_stats": moving, "error": None}, numbers
