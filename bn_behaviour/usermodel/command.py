"""``bn-behaviour check MODEL``: the command line.

Exit 0 when every BatchNormalization does what ``--expect`` asks (or the model has none), 1 when
one does not, 2 on bad input (one line on stderr).  Progress goes to stderr.
"""

from __future__ import annotations

import sys
import time
from typing import Optional

import numpy as np

from ..isolation.stdout_guard import stdout_to_stderr
from ..matrices import known_deviations
from ..targets import TargetError, require
from . import judge, layers, paths, show, source

USAGE = ("MODEL is module:attr (a model, or a callable returning one; importing it runs your code), "
         "a .keras or .h5 file, or (--target tf_keras) a SavedModel directory")


class CheckError(Exception):
    """Bad input: one line."""


def configure(parser) -> None:
    parser.add_argument("model", help=USAGE)
    parser.add_argument("--target", default=None, help="target name (default: BN_BEHAVIOUR_TARGET or "
                        "keras-$KERAS_BACKEND); a Keras target: keras-tensorflow, keras-jax, keras-torch, tf_keras")
    parser.add_argument("--path", action="append", choices=tuple(paths.RUNS), default=None,
                        help="what to run, once on one batch (default fit; repeat for several, each on a fresh "
                        "copy of the model)")
    parser.add_argument("--expect", choices=tuple(show.EXPECT), default="rule",
                        help="exit 1 unless every BatchNormalization is as documented (rule), frozen, or training")
    parser.add_argument("--data", default=None, help="an .npz with x (or one array per input name) and "
                        "optionally y, in place of the seeded synthetic batch")
    parser.add_argument("--unsafe", action="store_true", help="load a .keras file whose config runs code "
                        "(safe_mode=False: only for files you trust)")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON (for machines)")


def _progress(start: float, what: str) -> None:
    print(f"bn-behaviour check: {what} ({time.monotonic() - start:.1f} s)", file=sys.stderr)


def _data(path: Optional[str]) -> Optional[dict]:
    if not path:
        return None
    try:
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise CheckError(f"--data {path}: not an .npz file numpy can read ({e})") from None


def check_path(make, path: str, data, target, driver, start: float) -> Optional[dict]:
    """One path on a fresh copy: the layers' records, or None when the model holds no BatchNormalization."""
    api = driver.API
    model = make()
    found = layers.find(model)
    built = getattr(model, "built", True)
    if not found and built:
        return None
    user_compiled = paths.compiled(model)
    try:
        x, y = paths.batch(model, data)
    except paths.DataError:
        if not found:  # an unbuilt model with no BatchNormalization to show before a call
            return None
        raise
    if not built or any(layers.state(f) is None for f in found):  # an inference call builds it, and shows
        model(x[0] if len(x) == 1 else x, training=False)        # what only a built layer holds (Flax's)
        found = layers.find(model)
        if not found:
            return None
    before = [layers.state(f) for f in found]
    if any(b is None for b in before):
        unread = next(f.path for f, b in zip(found, before) if b is None)
        raise CheckError(f"{unread}: a BatchNormalization whose moving statistics cannot be read (no moving_mean "
                         "and moving_variance, nor a torch module's running_mean and running_var)")
    layers.record(found)
    _progress(start, f"{path} on {len(found)} BatchNormalization layers")
    error = None
    try:
        paths.run(path, model, x, y, api, driver)
        _progress(start, f"{path} done")
    except paths.DataError:
        raise
    except Exception as e:  # noqa: BLE001  (a path that raises is a behaviour: every layer's result)
        error = source.last_line(e)
    deviations = known_deviations(target)
    judge.forget()  # configs of an earlier copy (ids may be reused)
    records = []
    for f, b in zip(found, before):
        observed = judge.observe(b, layers.state(f), f, path, error)
        s = judge.situation(f, path, api)
        records.append({"path": f.path, "class": type(f.layer).__name__, "trainable": bool(f.layer.trainable),
                        "training": ",".join(sorted(set(f.reached))) or "not called", **observed,
                        **judge.verdict(target, s, observed, deviations)})
    compile_text = ("its own compile()" if user_compiled else paths.DEFAULT_COMPILE) if path in paths.COMPILED \
        else None
    return {"path": path, "compile": compile_text, "layers": records}


def run(args) -> int:
    start = time.monotonic()
    try:
        target = require(args.target)
    except TargetError as e:
        raise CheckError(str(e)) from None
    if target.rule != "tf2" or target.layer_class is None:
        raise CheckError(f"check runs on the Keras targets (keras-tensorflow, keras-jax, keras-torch, tf_keras), "
                         f"not {target.name}")
    data = _data(args.data)
    with stdout_to_stderr():  # the frameworks' chatter: stdout carries only the answer
        target.activate()
        driver = target.load_driver()
        _progress(start, f"{target.name} imported")
        try:
            make = source.loader(args.model, driver.API, args.unsafe)
            results = [check_path(make, p, data, target, driver, start) for p in args.path or ["fit"]]
        except (source.ModelError, paths.DataError) as e:
            raise CheckError(str(e)) from None
    if results[0] is None:
        print(f"{args.model}: no BatchNormalization layer; nothing to check")
        return 0
    for r in results:
        r["summary"] = show.summary(r["path"], r["layers"], args.expect)
    doc = show.document(args.model, target, args.expect, results)
    show.emit(doc, args.json)
    return 0 if doc["ok"] else 1
