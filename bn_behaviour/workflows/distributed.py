"""A replicated training step: MirroredStrategy over two logical CPUs, synchronized or not.

The ``synchronized`` argument's docstring (Keras 3, and tf_keras'
BatchNormalization): "If True, synchronizes the global batch statistics
(mean and variance) for the layer across all devices at each training step
in a distributed training strategy. If False, each replica uses its own local
batch statistics."  Keras 3 adds "Only applicable with the TensorFlow
backend" and rejects ``synchronized=True`` elsewhere.  A frozen layer
(``trainable = False``) runs in inference mode, replicated or not.

The global batch (8 samples) is split into two replicas of 4 (replica ``i``
gets rows ``4i .. 4i+3``); the second half is shifted by ``HALF_OFFSET`` so the
per-replica statistics differ clearly from the global ones.  Each replica
runs the layer with ``training=True`` under ``strategy.run`` in a
``tf.function``.  TensorFlow must be told about the logical devices before it
starts, so the replicated part runs in a fresh interpreter
(``python -m bn_behaviour.workflows.distributed TARGET VARIANT`` prints the
raw numbers as JSON); the NumPy reference classifies them here.

How a *non*-synchronized step aggregates the replicas' moving statistics is
not documented: it is observed (``updated_mean_of_replicas``: the replicas'
updates averaged; ``updated_replica_<i>_only``: one replica's update kept, the
others' lost) and reported, not checked.

>>> split(np.arange(16.0).reshape(8, 2))[1][0].tolist()  # replica 1 starts at row 4
[8.0, 9.0]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Optional

import numpy as np

from .. import inputs, reference
from ..observation import ATOL, RTOL
from ..workflow import Workflow
from .frameworks import not_keras

WORKFLOW = Workflow(
    name="distributed",
    title="A training step replicated over two devices",
    rule="with synchronized=True the batch statistics are the global batch's, with synchronized=False each "
    "replica's own; a frozen layer stays in inference mode and updates nothing; synchronized=True is rejected "
    "on backends other than TensorFlow",
    source="https://keras.io/api/layers/normalization_layers/batch_normalization/",
)

VARIANTS = {
    "sync=true-frozen=none": "BatchNormalization(synchronized=True) under MirroredStrategy over two logical CPUs, "
    "one replicated training-mode step.",
    "sync=false-frozen=none": "BatchNormalization(synchronized=False) under MirroredStrategy over two logical CPUs, "
    "one replicated training-mode step.",
    "sync=true-frozen=layer": "BatchNormalization(synchronized=True) frozen (trainable=False) under MirroredStrategy, "
    "one replicated call with training=True.",
    "sync=false-frozen=layer": "BatchNormalization(synchronized=False) frozen under MirroredStrategy, one replicated "
    "call with training=True.",
    "sync=true-backend=not_tensorflow": "BatchNormalization(synchronized=True) constructed on a backend other than "
    "TensorFlow.",
}
FIELDS = ("statistics", "moving_stats", "error")
#: Added to the second replica's rows (the first keeps inputs.batch()'s rows 0-3).
HALF_OFFSET = 4.0
REPLICAS = 2
TF_TARGETS = ("keras-tensorflow", "tf_keras")


def exclusion(target: str, variant: str) -> Optional[str]:
    if not_keras(target):
        return not_keras(target)
    if variant.endswith("backend=not_tensorflow"):
        return None if target not in TF_TARGETS else f"{target} runs on TensorFlow, where synchronized=True is valid"
    if target not in TF_TARGETS:
        return f"{target}: MirroredStrategy is TensorFlow's (and synchronized=True is rejected here)"
    return None


def expected(target: str, variant: str) -> dict:
    if variant.endswith("backend=not_tensorflow"):
        return {"statistics": "n/a", "moving_stats": "n/a", "error": "ValueError"}
    if variant.endswith("frozen=layer"):
        return {"statistics": "moving", "moving_stats": "unchanged", "error": None}
    sync = variant.startswith("sync=true")
    return {"statistics": "global" if sync else "per_replica",
            "moving_stats": "updated_global" if sync else None,  # None: not documented, observed only
            "error": None}


def check_error(variant, observed, exp) -> Optional[str]:
    """synchronized=True raises ValueError off TensorFlow ("Only applicable with the TensorFlow backend"),
    and nothing raises on TensorFlow."""
    want, got = exp["error"], observed["error"]
    if (want is None) != (got is None) or (want and not str(got).startswith(want)):
        return f"expected error {want}, observed {got}"
    return None


def check_batch_statistics(variant, observed, exp) -> Optional[str]:
    """Each replica's rows are normalised by the global batch's statistics when synchronized, by the
    replica's own otherwise, and by the moving statistics when the layer is frozen (the synchronized
    docstring; the BatchNormalization docstring on trainable=False)."""
    if observed["error"] is None and observed["statistics"] != exp["statistics"]:
        return f"expected {exp['statistics']} statistics, observed {observed['statistics']}"
    return None


def check_moving_statistics(variant, observed, exp) -> Optional[str]:
    """Synchronized: the moving statistics take one step with the global batch's moments; frozen: unchanged.
    (Not synchronized: how the replicas' updates combine is undocumented, so it is only reported.)"""
    if observed["error"] is None and exp["moving_stats"] is not None and observed["moving_stats"] != exp["moving_stats"]:
        return f"expected moving statistics {exp['moving_stats']}, observed {observed['moving_stats']}"
    return None


CHECKS = {"error": check_error, "batch_statistics": check_batch_statistics,
          "moving_statistics": check_moving_statistics}


def global_batch() -> np.ndarray:
    x = inputs.batch().astype(np.float64)
    x[len(x) // REPLICAS:] += HALF_OFFSET
    return x.astype(np.float32)


def split(x: np.ndarray) -> list[np.ndarray]:
    """The replicas' shares of a global batch, in replica order."""
    return np.split(np.asarray(x), REPLICAS)


def classify(raw: dict) -> dict:
    """``statistics`` and ``moving_stats`` from the child's raw numbers, by the NumPy reference."""
    x, out = global_batch(), np.asarray(raw["output"], np.float64)
    g, b = np.full(inputs.CHANNELS, inputs.GAMMA), np.full(inputs.CHANNELS, inputs.BETA)
    m0, v0 = np.full(inputs.CHANNELS, inputs.MOVING_MEAN), np.full(inputs.CHANNELS, inputs.MOVING_VARIANCE)
    candidates = {
        "global": reference.training_output(x, g, b),
        "per_replica": np.concatenate([reference.training_output(part, g, b) for part in split(x)]),
        "moving": reference.inference_output(x, m0, v0, g, b),
    }
    statistics = next((k for k, ref in candidates.items() if np.allclose(out, ref, RTOL, ATOL)), "neither")
    after = np.asarray(raw["moving_mean"], np.float64), np.asarray(raw["moving_variance"], np.float64)
    replica_moments = [reference.batch_moments(part) for part in split(x)]
    steps = {
        "unchanged": (m0, v0),
        "updated_global": reference.updated_moving_stats(x, m0, v0),
        "updated_mean_of_replicas": tuple(np.mean([reference.moving_update(s0, m[i]) for m in replica_moments], 0)
                                          for i, s0 in enumerate((m0, v0))),
        **{f"updated_replica_{r}_only": reference.updated_moving_stats(part, m0, v0)
           for r, part in enumerate(split(x))},
    }
    moving = next((k for k, ref in steps.items()
                   if all(np.allclose(a, r, RTOL, ATOL) for a, r in zip(after, ref))), "updated_otherwise")
    return {"statistics": statistics, "moving_stats": moving, "error": None}


def observe(target, variant: str):
    from ..targets.common import format_error

    if variant.endswith("backend=not_tensorflow"):
        from .frameworks import bn, keras_api

        api = keras_api(target)
        try:
            bn(api, synchronized=True)
        except Exception as e:  # the documented rejection
            return {"statistics": "n/a", "moving_stats": "n/a", "error": format_error(e)}, str(e)
        return {"statistics": "n/a", "moving_stats": "n/a", "error": None}, "constructed without error"
    env = {**os.environ, **target.env}
    proc = subprocess.run([sys.executable, "-m", __name__, target.name, variant], env=env, capture_output=True,
                          text=True, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"statistics": "n/a", "moving_stats": "n/a", "error": f"ChildProcessError: {tail}"}, proc.stderr[-2000:]
    raw = json.loads(lines[-1])
    if raw.get("error"):
        return {"statistics": "n/a", "moving_stats": "n/a", "error": raw["error"]}, raw["error"]
    numbers = (f"replica outputs row 0 and 4: {np.round(raw['output'][0], 4).tolist()}, "
               f"{np.round(raw['output'][4], 4).tolist()}; moving mean after {np.round(raw['moving_mean'], 4).tolist()}, "
               f"variance after {np.round(raw['moving_variance'], 4).tolist()}")
    return classify(raw), numbers


def _replicated(target_name: str, variant: str) -> dict:
    """In a fresh interpreter: two logical CPUs, the strategy, one replicated step; raw numbers."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * REPLICAS)
    from ..targets import require
    from ..targets.common import format_error
    from .frameworks import bn, keras_api

    api = keras_api(require(target_name))
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(REPLICAS)])
    parts = split(global_batch())
    try:
        with strategy.scope():
            layer = bn(api, synchronized=variant.startswith("sync=true"))
            layer.build((None, inputs.CHANNELS))
            if variant.endswith("frozen=layer"):
                layer.trainable = False
        dist = strategy.experimental_distribute_values_from_function(
            lambda ctx: tf.constant(parts[ctx.replica_id_in_sync_group]))

        @tf.function
        def step(xs):
            return strategy.run(lambda x: layer(x, training=True), args=(xs,))

        outs = strategy.experimental_local_results(step(dist))
    except Exception as e:  # an error is a behaviour to record
        return {"error": format_error(e)}
    return {"output": np.concatenate([np.asarray(o) for o in outs]).tolist(),
            "moving_mean": np.asarray(layer.moving_mean.numpy()).tolist(),
            "moving_variance": np.asarray(layer.moving_variance.numpy()).tolist(), "error": None}


if __name__ == "__main__":
    print(json.dumps(_replicated(sys.argv[1], sys.argv[2])))
