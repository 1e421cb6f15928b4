"""The layer under test: the genuine BatchNormalization, or a class named ``module:attr``.

A consumer points the matrix at their own class (a subclass, a
re-implementation, a layer from another library).  Bad specs are one-line
usage errors naming the problem.

>>> load("no_colon")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
bn_behaviour.targets.layer.LayerSpecError: --bn-layer 'no_colon' is not of the form module:attr (e.g. ...)
>>> load("bn_behaviour_no_such_module:BN")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
bn_behaviour.targets.layer.LayerSpecError: --bn-layer: cannot import module 'bn_behaviour_no_such_module' (...)
>>> load("bn_behaviour.cases.inputs:batch")
Traceback (most recent call last):
...
bn_behaviour.targets.layer.LayerSpecError: --bn-layer: bn_behaviour.cases.inputs:batch is a function, not a layer class
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

#: Frameworks whose ``Layer`` base class makes a class a layer.
LAYER_MODULES = ("keras", "tf_keras")


class LayerSpecError(Exception):
    """A ``--bn-layer`` / ``BN_BEHAVIOUR_LAYER`` value that cannot be used."""


def load(spec: str) -> type:
    """Import ``module:attr`` and check it is a Keras layer class.

    The current directory is importable, as for ``python -m``, so a class in
    a file outside the project works (``--bn-layer my_layers:MyBN``).
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise LayerSpecError(
            f"--bn-layer {spec!r} is not of the form module:attr (e.g. my_pkg.layers:MyBatchNorm)"
        )
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # noqa: BLE001  (ImportError, or whatever the module itself raises)
        raise LayerSpecError(f"--bn-layer: cannot import module {module_name!r} ({e})") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise LayerSpecError(f"--bn-layer: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        kind = "function" if callable(obj) else type(obj).__name__
        raise LayerSpecError(f"--bn-layer: {spec} is a {kind}, not a layer class")
    if not is_layer_class(obj):
        raise LayerSpecError(
            f"--bn-layer: {spec} is a class but not a Keras layer (no {'/'.join(LAYER_MODULES)} Layer base)"
        )
    return obj


def is_layer_class(cls: type) -> bool:
    """Whether a class derives from ``keras`` or ``tf_keras``'s ``Layer``, without importing either.

    >>> is_layer_class(int)
    False
    """
    return any(
        base.__name__ == "Layer" and base.__module__.split(".")[0] in LAYER_MODULES
        for base in cls.__mro__
    )


def describe(cls) -> str:
    """``module:QualName`` (the --bn-layer form) for reports, or ``genuine`` when None.

    >>> describe(None), describe(LayerSpecError)
    ('genuine', 'bn_behaviour.targets.layer:LayerSpecError')
    """
    if cls is None:
        return "genuine"
    return f"{cls.__module__}:{cls.__qualname__}"
