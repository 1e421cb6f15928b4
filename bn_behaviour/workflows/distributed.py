"""A replicated training step: MirroredStrategy over two logical CPUs, synchronized or not.

The ``synchronized`` argument's docstring, Keras 3 and tf_keras alike: "If
True, synchronizes the global batch statistics (mean and variance) for the
layer across all devices at each training step in a distributed training
strategy. If False, each replica uses its own local batch statistics."
(https://keras.io/api/layers/normalization_layers/batch_normalization/ ;
tf_keras: https://www.tensorflow.org/versions/r2.15/api_docs/python/tf/keras/layers/BatchNormalization ,
"there will be an `allreduce` call to aggregate batch statistics across all
replicas at every training step").  tf_keras documents
``BatchNormalization(synchronized=True)``, and that is what runs here: its
``layers.experimental.SyncBatchNormalization`` is "Deprecated. Please use
`tf.keras.layers.BatchNormalization` instead".  Keras 3 adds "Only applicable
with the TensorFlow backend", and its constructor raises ``ValueError``
("Argument synchronized=True is only supported with the TensorFlow backend.",
https://github.com/keras-team/keras/blob/master/keras/src/layers/normalization/batch_normalization.py).
A frozen layer (``trainable = False``) "will be subsequently run in inference
mode" and "its internal state will not change during training", replicated
or not.  MirroredStrategy: https://www.tensorflow.org/guide/distributed_training#mirroredstrategy .

The global batch is ``inputs.batch()`` (8 samples) with ``HALF_OFFSET`` added
to its second half, so each half's statistics differ clearly from the
global ones; replica ``i`` gets rows ``4i .. 4i+3`` (by construction, and the
child echoes its rows back to prove it).  One replicated step under
``strategy.run`` in a ``tf.function``: the layer with ``training=True`` inside
a ``GradientTape``, the mean squared error against ``inputs.target()`` over
the replica count (so the replicas' summed gradients are the global batch's,
the tf.distribute custom-loop convention), one SGD step.  TensorFlow must
know the logical devices before it starts, so this runs in a fresh
interpreter (``python -m bn_behaviour.workflows.distributed TARGET VARIANT``
prints the raw numbers as one JSON line); the NumPy reference judges them here.

Not documented, so observed and reported, never checked: how a
*non*-synchronized step combines the replicas' moving-statistics updates
(``moving_stats``: ``updated_mean_of_replicas``, ``updated_replica_<i>_only``,
...) and what becomes of the variable's per-replica copies (``moving_copies``:
``mirrored`` when every copy holds the same value, ``diverged`` when the
copies of a mirrored variable differ, ``sync_on_read`` for a variable whose
copies are per replica and aggregated when read).

>>> split(np.arange(16.0).reshape(8, 2))[1][0].tolist()
[8.0, 9.0]
>>> copies_kind("MirroredVariable", [[[1.0], [2.0]], [[1.0], [2.0]]])
'mirrored'
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from ..cases import inputs
from ..rules import reference
from ..rules.observation import ATOL, RTOL
from ..targets import require
from .base import Workflow
from .frameworks import bn, format_error, keras_api, state

WORKFLOW = Workflow(
    name="distributed",
    title="A training step replicated over two devices",
    rule="with synchronized=True each replica is normalised by the global batch's statistics, with "
    "synchronized=False by its own; a frozen layer stays in inference mode and changes nothing; "
    "synchronized=True is rejected on backends other than TensorFlow",
    source="https://keras.io/api/layers/normalization_layers/batch_normalization/",
)

VARIANTS = {
    "sync=true-frozen=none": "BatchNormalization(synchronized=True) under MirroredStrategy over two logical CPUs, "
    "one replicated training step.",
    "sync=false-frozen=none": "BatchNormalization(synchronized=False) under MirroredStrategy over two logical CPUs, "
    "one replicated training step.",
    "sync=true-frozen=layer": "BatchNormalization(synchronized=True) frozen (trainable=False) under MirroredStrategy, "
    "one replicated training step calling it with training=True.",
    "sync=false-frozen=layer": "BatchNormalization(synchronized=False) frozen under MirroredStrategy, one replicated "
    "training step calling it with training=True.",
    "sync=true-backend=not_tensorflow": "BatchNormalization(synchronized=True) constructed on a backend other than "
    "TensorFlow.",
}
#: Observed facts (what a deviation entry may name).
FIELDS = ("statistics", "moving_stats", "moving_copies", "affine", "error")
#: Added to the second replica's rows (the first keeps inputs.batch()'s rows 0-3).
HALF_OFFSET = 4.0
REPLICAS = 2
#: Expected ``moving_copies``: anything but ``diverged`` (mirrored, or per replica and aggregated on read).
IN_SYNC = "not_diverged"
#: "These variables are kept in sync with each other by applying identical updates" (tf.distribute guide).
MIRRORED_DOC = "https://www.tensorflow.org/guide/distributed_training#mirroredstrategy"
NOT_RUN = {"statistics": "n/a", "moving_stats": "n/a", "moving_copies": "n/a", "affine": "n/a"}


def exclusion(target, variant: str) -> str | None:
    if variant.endswith("backend=not_tensorflow"):
        if target.backend == "tensorflow":
            return f"{target.name} runs on TensorFlow, where synchronized=True is valid"
        return None
    if target.backend != "tensorflow":
        return f"MirroredStrategy is TensorFlow's; {target.name} is observed rejecting synchronized=True instead"
    return None


def expected(target, variant: str) -> dict:
    if variant.endswith("backend=not_tensorflow"):
        return {**NOT_RUN, "error": "ValueError"}
    if variant.endswith("frozen=layer"):
        return {"statistics": "moving", "moving_stats": "unchanged", "moving_copies": IN_SYNC, "affine": "unchanged",
                "error": None}
    sync = variant.startswith("sync=true")
    return {"statistics": "global" if sync else "per_replica",
            "moving_stats": "updated_global" if sync else None,  # None: undocumented, observed only
            "moving_copies": IN_SYNC, "affine": "updated", "error": None}


def check_error(variant, observed, exp) -> str | None:
    """synchronized=True raises ValueError off TensorFlow ("Only applicable with the TensorFlow backend";
    the constructor's ValueError), and nothing raises on TensorFlow."""
    want, got = exp["error"], observed["error"]
    if (want is None) != (got is None) or (want and not str(got).startswith(want)):
        return f"expected error {want}, observed {got}"
    return None


def check_batch_statistics(variant, observed, exp) -> str | None:
    """Each replica's rows are normalised by the global batch's statistics when synchronized, by the
    replica's own otherwise (the ``synchronized`` docstring), by the moving statistics when frozen
    (trainable=False "will be subsequently run in inference mode")."""
    if observed["error"] is None and observed["statistics"] != exp["statistics"]:
        return f"expected {exp['statistics']} statistics, observed {observed['statistics']}"
    return None


def check_moving_statistics(variant, observed, exp) -> str | None:
    """Synchronized: the moving statistics take one step with the global batch's moments (every replica
    sees the same batch statistics); frozen: unchanged.  Not synchronized: undocumented, only reported."""
    if observed["error"] is None and exp["moving_stats"] not in (None, observed["moving_stats"]):
        return f"expected moving statistics {exp['moving_stats']}, observed {observed['moving_stats']}"
    return None


def check_affine(variant, observed, exp) -> str | None:
    """gamma and beta take the SGD step, except in a frozen layer ("its trainable weights will not be
    updated"; a frozen layer has no trainable weights for the step to update)."""
    if observed["error"] is None and observed["affine"] != exp["affine"]:
        return f"expected gamma/beta {exp['affine']}, observed {observed['affine']}"
    return None


def check_replica_copies_agree(variant, observed, exp) -> str | None:
    """The moving statistics' per-replica copies never disagree: MirroredStrategy's variables "are kept in
    sync with each other by applying identical updates" (MIRRORED_DOC); a variable whose copies hold different
    values reads as whichever replica the reader is on."""
    if observed["error"] is not None or observed["moving_copies"] == "n/a":
        return None
    diverged = observed["moving_copies"] == "diverged"
    if diverged != (exp["moving_copies"] == "diverged"):
        return f"expected the copies {exp['moving_copies']}, observed {observed['moving_copies']}"
    return None


CHECKS = {"error": check_error, "batch_statistics": check_batch_statistics,
          "moving_statistics": check_moving_statistics, "affine": check_affine,
          "replica_copies_agree": check_replica_copies_agree}


def global_batch() -> np.ndarray:
    x = inputs.batch().astype(np.float64)
    x[len(x) // REPLICAS:] += HALF_OFFSET
    return x.astype(np.float32)


def split(x: np.ndarray) -> list[np.ndarray]:
    """The replicas' shares of a global batch, in replica order."""
    return np.split(np.asarray(x), REPLICAS)


def copies_kind(kind: str, copies: list) -> str:
    """``moving_copies`` from the variable's class and its per-replica ``[mean, variance]`` values."""
    if kind.startswith("SyncOnRead"):
        return "sync_on_read"
    return "mirrored" if all(np.allclose(c, copies[0], RTOL, ATOL) for c in copies) else "diverged"


def classify(raw: dict) -> dict:
    """The facts from the child's raw numbers, by the NumPy reference."""
    x, out = global_batch(), np.asarray(raw["output"], np.float64)
    b, a = ({k: np.asarray(v, np.float64) for k, v in raw[s].items()} for s in ("before", "after"))
    g0, b0, m0, v0 = b["gamma"], b["beta"], b["moving_mean"], b["moving_variance"]
    candidates = {
        "global": reference.training_output(x, g0, b0),
        "per_replica": np.concatenate([reference.training_output(part, g0, b0) for part in split(x)]),
        "moving": reference.inference_output(x, m0, v0, g0, b0),
    }
    statistics = next((k for k, ref in candidates.items() if np.allclose(out, ref, RTOL, ATOL)), "neither")
    if not np.array_equal(np.asarray(raw["rows"], np.float32), x):
        statistics = "unknown_rows"  # the replicas did not get rows 4i..4i+3
    replica_steps = [reference.updated_moving_stats(part, m0, v0) for part in split(x)]
    steps = {
        "unchanged": (m0, v0),
        "updated_global": reference.updated_moving_stats(x, m0, v0),
        "updated_mean_of_replicas": tuple(np.mean([s[i] for s in replica_steps], 0) for i in range(2)),
        **{f"updated_replica_{r}_only": s for r, s in enumerate(replica_steps)},
    }
    after = a["moving_mean"], a["moving_variance"]
    moving = next((k for k, ref in steps.items()
                   if all(np.allclose(o, r, RTOL, ATOL) for o, r in zip(after, ref))), "updated_otherwise")
    same = all(np.array_equal(a[k], b[k]) for k in ("gamma", "beta"))
    return {"statistics": statistics, "moving_stats": moving, "moving_copies": copies_kind(raw["kind"], raw["copies"]),
            "affine": "unchanged" if same else "updated", "error": None}


def _numbers(raw: dict) -> str:
    def r(v):
        return np.round(np.asarray(v, np.float64), 4).tolist()

    return (f"replica outputs, rows 0 and 4: {r(raw['output'][0])}, {r(raw['output'][4])}; moving mean after "
            f"{r(raw['after']['moving_mean'])}, variance after {r(raw['after']['moving_variance'])}; "
            f"{raw['kind']} per-replica [mean, variance]: {r(raw['copies'])}; gamma after {r(raw['after']['gamma'])}")


def observe(target, variant: str):
    if variant.endswith("backend=not_tensorflow"):
        api = keras_api(target)
        try:
            bn(api, synchronized=True)
        except Exception as e:  # noqa: BLE001  (the documented rejection)
            return {**NOT_RUN, "error": format_error(e)}, str(e)
        return {**NOT_RUN, "error": None}, "constructed without error"
    try:
        proc = subprocess.run([sys.executable, "-W", "ignore::RuntimeWarning:runpy",  # the package imported it first
                               "-m", __name__, target.name, variant], check=False,
                              capture_output=True, text=True, timeout=600)  # the child activates the target itself
    except subprocess.TimeoutExpired as e:
        return {**NOT_RUN, "error": format_error(e)}, str(e)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:  # a crash: its last stderr line, not the traceback
        tail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}, no output"])[-1]
        return {**NOT_RUN, "error": f"ChildProcessError: {tail.strip()[:300]}"}, proc.stderr[-2000:]
    raw = json.loads(lines[-1])
    if raw.get("error"):
        return {**NOT_RUN, "error": raw["error"]}, raw["error"]
    return classify(raw), _numbers(raw)


def _replicated(target_name: str, variant: str) -> dict:
    """In a fresh interpreter: two logical CPUs, the strategy, one replicated training step; raw numbers."""
    target = require(target_name)
    target.activate()  # before TensorFlow is imported
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]  # before anything runs in TensorFlow
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * REPLICAS)

    api = keras_api(target)
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(REPLICAS)])
    xs, ys = split(global_batch()), split(inputs.target())
    try:
        with strategy.scope():
            layer = bn(api, synchronized=variant.startswith("sync=true"))
            layer.build((None, inputs.CHANNELS))
            optimizer = api.optimizers.SGD(inputs.LEARNING_RATE)
        if variant.endswith("frozen=layer"):
            layer.trainable = False
        before = state(layer)
        data = strategy.experimental_distribute_values_from_function(
            lambda ctx: (tf.constant(xs[ctx.replica_id_in_sync_group]), tf.constant(ys[ctx.replica_id_in_sync_group])))

        def replica_step(x, y):
            with tf.GradientTape() as tape:
                out = layer(x, training=True)
                loss = tf.reduce_mean(tf.square(out - y)) / REPLICAS
            weights = layer.trainable_weights
            if weights:  # a frozen layer has none
                optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
            return x, out

        rows, outs = tf.function(lambda d: strategy.run(replica_step, args=d))(data)
        local = strategy.experimental_local_results
        variables = [v if isinstance(v, tf.Variable) else v.value for v in (layer.moving_mean, layer.moving_variance)]
        return {"rows": np.concatenate([np.asarray(r) for r in local(rows)]).tolist(),
                "output": np.concatenate([np.asarray(o) for o in local(outs)]).tolist(),
                "before": {k: v.tolist() for k, v in before.items()},
                "after": {k: v.tolist() for k, v in state(layer).items()},
                "kind": type(variables[0]).__name__,
                "copies": [[np.asarray(c).tolist() for c in pair] for pair in zip(*map(local, variables))],
                "error": None}
    except Exception as e:  # noqa: BLE001  (an error is a behaviour to record)
        return {"error": format_error(e)}


if __name__ == "__main__":
    print(json.dumps(_replicated(sys.argv[1], sys.argv[2])))
