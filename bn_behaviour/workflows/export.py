"""Export for serving: the exported forward pass normalises with the moving statistics.

Keras 3's ``Model.export`` "Export[s] the model as an artifact for inference"
and registers "the model's forward pass only (its call() method)" as
``serve()``; tf_keras' ``Model.export`` likewise creates "a SavedModel
artifact for inference".  So whatever ``trainable`` says, the served batch is
normalised by the moving statistics the model had when exported, and serving
changes no variable (a second call gives the same output).  The model has
run one ``fit()`` step before the export, so its moving statistics are not
the initial ones.

>>> sorted(VARIANTS)[:2]
['format=tf_saved_model-frozen=layer', 'format=tf_saved_model-frozen=none']
>>> from bn_behaviour.targets import TARGETS
>>> print(exclusion(TARGETS["tf_keras"], "format=torch-frozen=none"))
format=torch is the PyTorch backend's export (torch.export); tf_keras has no such format
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from typing import Optional

import numpy as np

from ..cases import inputs
from ..rules.observation import classify_mode
from .base import Workflow
from .frameworks import bn, format_error, keras_api, state

WORKFLOW = Workflow(
    name="export",
    title="A model exported for serving",
    rule="the exported artifact is for inference: its serving function normalises with the moving "
    "statistics the model had at export, whatever trainable says, and serving changes nothing",
    source="https://keras.io/api/models/model_saving_apis/export/",
)

VARIANTS = {
    "format=tf_saved_model-frozen=none": "trained one step, exported with model.export() (a TF SavedModel) "
    "and served through its serve() endpoint.",
    "format=tf_saved_model-frozen=layer": "trained one step, the BatchNormalization frozen, exported with "
    "model.export() and served through serve().",
    "format=torch-frozen=none": "trained one step, exported with model.export(format='torch') "
    "(torch.export) and served through the exported program's module.",
    "format=torch-frozen=layer": "trained one step, the BatchNormalization frozen, exported with "
    "model.export(format='torch') and served through the exported program's module.",
}

#: Observed facts (what a deviation entry may name).
FIELDS = ("serve_mode", "serve_repeatable", "error")


def exclusion(target, variant: str) -> Optional[str]:
    if variant.startswith("format=torch") and target.backend != "torch":
        return f"format=torch is the PyTorch backend's export (torch.export); {target.name} has no such format"
    if variant.startswith("format=tf_saved_model") and target.backend == "torch":
        return ("Keras exports a TF SavedModel from the PyTorch backend through torch_xla (ImportError without it), "
                "which the suite does not install; format=torch is the PyTorch backend's own export")
    return None


def expected(target, variant: str) -> dict:
    return {"serve_mode": "inference", "serve_repeatable": True, "error": None}


def check_serves_inference(variant, observed, exp) -> Optional[str]:
    """The served batch is normalised by the moving statistics at export (inference mode).

    Model.export docstring: an artifact "for inference" holding the forward
    pass; serving is inference whatever ``trainable`` was.
    """
    if observed["error"] != exp["error"]:
        return f"expected no error, observed {observed['error']}"
    if observed["serve_mode"] != exp["serve_mode"]:
        return f"expected the moving statistics to normalise the served batch, observed {observed['serve_mode']}"
    return None


def check_serving_changes_nothing(variant, observed, exp) -> Optional[str]:
    """A second call of the served function gives the same output: serving updates no statistic."""
    if observed["error"] is None and observed["serve_repeatable"] != exp["serve_repeatable"]:
        return "the second served call gave a different output: serving changed the model's variables"
    return None


CHECKS = {"serves_inference": check_serves_inference, "serving_changes_nothing": check_serving_changes_nothing}


def _serve(api, model, fmt: str, folder: str, x: np.ndarray):
    """Export ``model`` in ``fmt`` under ``folder``, load the artifact back, return its serving function."""
    if fmt == "torch":
        import torch

        path = os.path.join(folder, "model.pt2")
        # A static signature of the served batch's shape (the dynamic batch dimension is what
        # torch.export specialises away otherwise).
        model.export(path, format="torch", input_signature=[api.InputSpec(shape=x.shape, dtype="float32")])
        program = torch.export.load(path).module()
        return lambda b: program(torch.as_tensor(b)).detach().numpy()
    import tensorflow as tf

    path = os.path.join(folder, "served")
    model.export(path)
    artifact = tf.saved_model.load(path)  # kept alive by the closure: serve() needs its variables
    return lambda b: artifact.serve(tf.constant(b)).numpy()


def observe(target, variant: str):
    fmt = variant.split("-")[0].split("=")[1]
    frozen = variant.endswith("frozen=layer")
    api = keras_api(target)
    x = inputs.batch()
    inp = api.Input((inputs.CHANNELS,))
    layer = bn(api)
    model = api.Model(inp, layer(inp))
    model.compile(optimizer=api.optimizers.SGD(inputs.LEARNING_RATE), loss="mse")
    model.fit(inputs.warmup_batch(), inputs.target(), batch_size=inputs.BATCH_SIZE, verbose=0)
    if frozen:
        layer.trainable = False
    at_export = state(layer)
    folder = tempfile.mkdtemp(prefix="bn-behaviour-export-")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            serve = _serve(api, model, fmt, folder, x)
            first, second = np.asarray(serve(x), np.float64), np.asarray(serve(x), np.float64)
    except Exception as e:  # noqa: BLE001  (an error is a behaviour to record)
        return {"serve_mode": "n/a", "serve_repeatable": None, "error": format_error(e)}, f"{target.backend}: {e}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    observed = {"serve_mode": classify_mode(x, first, at_export),
                "serve_repeatable": bool(np.array_equal(first, second)), "error": None}
    numbers = (f"served output row 0: {first[0].round(4).tolist()}; moving mean at export "
               f"{at_export['moving_mean'].round(4).tolist()}, "
               f"variance {at_export['moving_variance'].round(4).tolist()}")
    return observed, numbers
