"""What each BatchNormalization of a user's model did, against the documented rule for its situation.

A layer's situation is the main-matrix row it is (:func:`situation`): the shape that holds it (read
from the model's public structure and, for functional models, the ``training`` its nodes fix in
``get_config()``), how it is frozen (its own ``trainable`` and its holders'), the path.  The row's
documented rule (``bn_behaviour.rules``, as every matrix row is judged) gives the expected mode,
moving statistics and gamma/beta; the statements of ``docs/rules.md`` about that row name what is
kept or broken; a known deviation of the target whose pattern selects the row and whose observation
is this one names the cause.  ``when`` is always ``before_compile``: the check sees the model's state,
not the order the user changed it in (a change after ``compile()`` is the matrix's question).

The layer's mode is read from its moving statistics: a Keras BatchNormalization normalises with the
batch's statistics exactly when it moves them (every row of the main matrix checks the two together
against the NumPy reference), so "moved" is "batch statistics" and "unchanged" is "moving statistics".
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..cases.scenario import TRAINING_PATHS, Scenario
from ..rules import RULES, tf2
from ..rules.deviations import Deviation
from ..rules.rulebook import STATEMENTS
from .layers import Found

#: The facts a layer's line shows and its rule is checked on.
FIELDS = ("mode", "moving_stats", "affine")
#: The scenario each path is (``custom_loop``: the guide's step, called with ``training=True``).
PATH_TRAINING = {"custom_loop": "true"}


def _nodes_kwargs(entry: dict) -> list[dict]:
    """The call arguments of each node of a layer entry of a functional config (Keras 3's
    ``{"args", "kwargs"}`` nodes, tf_keras' ``[[name, node, tensor, kwargs], ...]``).

    >>> _nodes_kwargs({"inbound_nodes": [{"args": [], "kwargs": {"training": False}}]})
    [{'training': False}]
    >>> _nodes_kwargs({"inbound_nodes": [[["input_1", 0, 0, {"training": True}]]]})
    [{'training': True}]
    """
    out = []
    for node in entry.get("inbound_nodes") or ():
        if isinstance(node, dict):
            out.append(node.get("kwargs") or {})
        else:
            out.append(next((item[3] for item in node if isinstance(item, (list, tuple)) and len(item) > 3
                             and isinstance(item[3], dict)), {}))
    return out


#: ``get_config()`` of each holder already read, by ``id`` (a large model's config takes a while, and every
#: BatchNormalization of a base asks for the base's); :func:`forget` empties it for the next copy.
_CONFIGS: dict[int, Optional[dict]] = {}


def forget() -> None:
    _CONFIGS.clear()


def _config(holder) -> Optional[dict]:
    """A functional or Sequential holder's config (its ``layers``), None for any other."""
    if id(holder) not in _CONFIGS:
        try:
            config = holder.get_config()
        except Exception:  # noqa: BLE001  (a subclassed model has none)
            config = None
        _CONFIGS[id(holder)] = config if isinstance(config, dict) and isinstance(config.get("layers"), list) \
            else None
    return _CONFIGS[id(holder)]


def fixed_training(holder, child_name: str) -> Optional[bool]:
    """The ``training`` every node of ``child_name`` in ``holder``'s graph fixes, or None."""
    config = _config(holder)
    if config is None:
        return None
    entry = next((e for e in config["layers"] if (e.get("config") or {}).get("name", e.get("name")) == child_name),
                 None)
    values = {kw.get("training") for kw in _nodes_kwargs(entry or {})}
    return values.pop() if len(values) == 1 and isinstance(next(iter(values)), bool) else None


def situation(found: Found, path: str, api) -> Scenario:
    """The main-matrix row ``found`` is in on ``path``."""
    layer, chain = found.layer, found.ancestors
    root, holder = chain[0], chain[-1]
    own = fixed_training(holder, layer.name)
    outer_false = any(fixed_training(chain[i], chain[i + 1].name) is False for i in range(len(chain) - 1))
    models = [a for a in chain if isinstance(a, api.Model)]
    if own is not None:
        model = "node_training_true" if own else "node_training_false"
    elif outer_false:
        model = "base_training_false"
    elif type(holder).__name__ == "TimeDistributed":
        model = "time_distributed"
    elif not isinstance(holder, api.Model):
        model = "wrapped"
    elif len(models) > 1:
        model = "nested"
    elif isinstance(root, api.Sequential):
        model = "sequential"
    else:
        model = "functional" if _config(root) is not None else "subclassed"
    if layer.trainable:
        frozen = "outer_then_layer" if not all(a.trainable for a in chain) else "none"
    elif not root.trainable:
        frozen = "outer_model"
    else:
        frozen = "inner_model" if not all(a.trainable for a in chain[1:]) else "layer"
    return Scenario(model, frozen, "before_compile", path, PATH_TRAINING.get(path, "none"))


def observe(before: dict, after: dict, found: Found, path: str, error: Optional[str] = None) -> dict:
    """The layer's facts from its variables before and after the path (which raised ``error``, if any)."""
    if error:
        return {"mode": "n/a", "moving_stats": "n/a", "affine": "n/a", "error": error}
    if not found.reached:
        return {"mode": "n/a", "moving_stats": "n/a", "affine": "n/a", "error": None}
    moved = any(not np.array_equal(before[k], after[k]) for k in ("moving_mean", "moving_variance"))
    affine = [k for k in ("gamma", "beta") if k in before]
    trained = any(not np.array_equal(before[k], after[k]) for k in affine)
    return {"mode": "training" if moved else "inference", "moving_stats": "updated" if moved else "unchanged",
            "affine": ("updated" if trained else "unchanged") if path in TRAINING_PATHS and affine else "n/a",
            "error": None}


def verdict(target, s: Scenario, observed: dict, deviations: list[Deviation]) -> dict:
    """The rule's expectation for row ``s``, the statements kept and broken, the known deviation."""
    if observed["mode"] == "n/a" and not observed["error"]:
        return {"row": s.id, "expected": None, "broken": [], "statements": [], "deviation": None,
                "deviation_source": None, "ok": True, "note": "not called on this path"}
    expected = RULES[target.rule](s)
    if observed["affine"] == "n/a" or expected["affine"] == "n/a":
        expected = {**expected, "affine": observed["affine"]}
    checked = ("no_error",) if observed["error"] else FIELDS  # a path that raised has no other fact
    violated = {k for k in checked if tf2.CHECKS[k](s, observed, expected)}
    about = [st for st in STATEMENTS if st.applies_to(target.rule) and st.about(s)]
    broken = [st.id for st in about if violated & set(st.checks)]
    known = next((d for d in deviations if d.matches(s) and d.explains(observed)), None) if violated else None
    return {"row": s.id, "expected": {k: expected[k] for k in FIELDS}, "broken": broken,
            "statements": [st.id for st in about], "deviation": known.id if known else None,
            "deviation_source": known.source if known else None, "ok": not violated,
            "note": f"{s.path} raised {observed['error']}" if observed["error"] else None}
