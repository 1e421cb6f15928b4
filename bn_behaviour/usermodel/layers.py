"""Every BatchNormalization of a model: where it is, what it holds, what ``training`` reached it.

A layer counts when it reads as one (:data:`READERS`): Keras' own class and its subclasses, any
third-party class with ``moving_mean`` / ``moving_variance`` (``docs/clients.md``'s among them), a
``TorchModuleWrapper`` holding a ``torch.nn`` BatchNorm, and every Flax BatchNorm inside a ``FlaxLayer`` /
``JaxLayer`` (each ``batch_stats`` entry with ``mean`` and ``var``: one layer of the model holds
several, each listed at its path in the Flax module, e.g. ``flax_layer/BatchNorm_0``); before the
model is built, a class named as one.  They are found through what a model shows
publicly: a model's ``layers``, a wrapper's ``layer`` (``TimeDistributed``, ``Bidirectional``'s
``forward_layer`` / ``backward_layer``), and the public attributes of any other layer holding layers
(a subclassed layer's ``self.bn``).  A layer reached twice (shared) is listed once, at its first path.

>>> path_of(["base", "block1", "bn"])
'base/block1/bn'
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

#: Where a wrapper keeps the layer(s) it wraps.
WRAPPED = ("layer", "forward_layer", "backward_layer")


@dataclass
class Found:
    """One BatchNormalization: the layer, the objects from the model down to its holder, its path."""

    layer: Any
    ancestors: list  #: the model first, the object holding the layer last
    path: str
    #: Where in the layer's variables it is (a Flax module's path inside a ``FlaxLayer``; ``()``: the layer is one).
    part: tuple = ()
    #: The ``training`` values its ``call`` received (``true`` / ``false`` / ``none`` / ``symbolic``).
    reached: list = field(default_factory=list)


def path_of(names: list[str]) -> str:
    return "/".join(names)


def _is_layer(obj) -> bool:
    return callable(getattr(obj, "call", None)) and hasattr(obj, "trainable") and hasattr(obj, "weights")


def children(obj) -> list:
    """The layers ``obj`` holds, in its own order: a model's ``layers``, a wrapper's, else its public
    attributes (and the layers in its public lists)."""
    if isinstance(getattr(obj, "layers", None), (list, tuple)):
        return list(obj.layers)
    out = [getattr(obj, name) for name in WRAPPED if _is_layer(getattr(obj, name, None))]
    if out:
        return out
    for name, value in vars(obj).items():
        if name.startswith("_"):
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        out += [v for v in values if _is_layer(v)]
    return out


def find(model) -> list[Found]:
    """Every BatchNormalization under ``model``, depth first in the model's order."""
    found: list[Found] = []
    seen: set[int] = set()

    def walk(obj, ancestors: list, names: list[str]) -> None:
        for child in children(obj):
            if id(child) in seen:
                continue
            seen.add(id(child))
            here = [*names, child.name]
            if is_batch_norm(child):
                found.extend(Found(child, [*ancestors, obj], path_of([*here, *part]), part)
                             for part in tables(child) or [()])
            else:
                walk(child, [*ancestors, obj], here)

    walk(model, [], [])
    return found


def _array(v) -> np.ndarray:
    if hasattr(v, "detach"):  # a torch tensor
        v = v.detach().cpu()
    return np.array(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float64)


def _keras_state(layer) -> Optional[dict]:
    if getattr(layer, "moving_mean", None) is None or getattr(layer, "moving_variance", None) is None:
        return None
    out = {"moving_mean": layer.moving_mean, "moving_variance": layer.moving_variance,
           "gamma": getattr(layer, "gamma", None), "beta": getattr(layer, "beta", None)}
    return {(): {k: _array(v) for k, v in out.items() if v is not None}}


def _torch_state(layer) -> Optional[dict]:
    module = getattr(layer, "module", None)
    if getattr(module, "running_mean", None) is None or not hasattr(module, "running_var"):
        return None
    out = {"moving_mean": module.running_mean, "moving_variance": module.running_var,
           "gamma": getattr(module, "weight", None), "beta": getattr(module, "bias", None)}
    return {(): {k: _array(v) for k, v in out.items() if v is not None}}


def _flax_state(layer) -> Optional[dict]:
    """A ``JaxLayer`` / ``FlaxLayer``'s Flax BatchNorms: each ``batch_stats`` entry holding ``mean`` and ``var``,
    with the ``scale`` / ``bias`` at the same path of its ``params``."""
    held, trained = getattr(layer, "state", None), getattr(layer, "params", None)
    stats = held.get("batch_stats") if isinstance(held, dict) else None
    if not isinstance(stats, dict):
        return None
    params = trained.get("params", {}) if isinstance(trained, dict) else {}
    out: dict = {}

    def walk(tree: dict, own: dict, at: tuple) -> None:
        if "mean" in tree and "var" in tree and not isinstance(tree["mean"], dict):
            names = {"moving_mean": tree["mean"], "moving_variance": tree["var"],
                     "gamma": own.get("scale"), "beta": own.get("bias")}
            out[at] = {k: _array(v) for k, v in names.items() if v is not None}
            return
        for key, sub in tree.items():
            if isinstance(sub, dict):
                walk(sub, own.get(key, {}) if isinstance(own, dict) else {}, (*at, key))

    walk(stats, params, ())
    return out or None


#: How each kind of BatchNormalization shows its variables: per BatchNormalization it holds (by its
#: :attr:`Found.part`), ``moving_mean``, ``moving_variance`` and, where it has them, ``gamma`` / ``beta``, as
#: float64 arrays (None: not this kind).
READERS: tuple[Callable[[Any], Optional[dict]], ...] = (_keras_state, _torch_state, _flax_state)


def tables(layer) -> dict[tuple, dict[str, np.ndarray]]:
    """Every BatchNormalization ``layer`` holds, by its part (``{(): ...}`` for one that is one; empty: none)."""
    for read in READERS:
        try:
            values = read(layer)
        except Exception:  # noqa: BLE001  (a property that cannot be read yet: an unbuilt layer)
            values = None
        if values:
            return values
    return {}


def state(found: Found) -> Optional[dict[str, np.ndarray]]:
    """The variables of the BatchNormalization ``found`` is, or None when they cannot be read (yet)."""
    return tables(found.layer).get(found.part)


def is_batch_norm(layer) -> bool:
    """A layer that holds moving statistics, or (not built yet) whose class or a base is a BatchNorm.

    >>> class SyncBatchNormalization: pass
    >>> is_batch_norm(SyncBatchNormalization()), is_batch_norm(object())
    (True, False)
    """
    return bool(tables(layer)) or any("batchnorm" in c.__name__.lower() for c in type(layer).__mro__)


def describe_training(value) -> str:
    """How a ``training`` value reads: ``true``, ``false``, ``none``, or ``symbolic`` (a tensor: tf_keras'
    learning phase inside a graph).

    >>> describe_training(True), describe_training(None), describe_training(np.bool_(False))
    ('true', 'none', 'false')
    """
    if value is None:
        return "none"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return "symbolic"


def record(found: list[Found]) -> None:
    """Make each layer of ``found`` note the ``training`` its ``call`` receives (at trace time in a compiled
    step, as Python sees it), for every BatchNormalization it is (a ``FlaxLayer`` may be several).  Done on
    the check's own copy of the model only."""
    held: dict[int, list[Found]] = {}
    for f in found:
        held.setdefault(id(f.layer), []).append(f)
    for group in held.values():
        _note_training(group)


def _note_training(group: list[Found]) -> None:
    layer = group[0].layer
    original = layer.call
    signature = inspect.signature(original)

    def call(*args, **kwargs):
        try:
            given = signature.bind_partial(*args, **kwargs).arguments.get("training")
        except TypeError:
            given = kwargs.get("training")
        for f in group:
            f.reached.append(describe_training(given))
        return original(*args, **kwargs)

    layer.call = call
