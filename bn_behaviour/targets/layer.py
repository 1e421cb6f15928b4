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
>>> load("bn_behaviour.cases.inputs:CHANNELS")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
bn_behaviour.targets.layer.LayerSpecError: --bn-layer: bn_behaviour.cases.inputs:CHANNELS is a int, not a layer ...

A factory (any callable that is not a class: it is called with the constructor's
keyword arguments and must return a layer) or a class with ``kwargs``
(``--bn-layer-kwargs``) loads as a :class:`Bound`, called like the class:

>>> load("bn_behaviour.cases.inputs:batch", {"freeze": True})
Bound('bn_behaviour.cases.inputs:batch', {'freeze': True})
>>> parse_kwargs('{"momentum": 0.5}')  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
bn_behaviour.targets.layer.LayerSpecError: --bn-layer-kwargs may not set momentum: the matrix sets it ...
"""

from __future__ import annotations

import importlib
import json
import shlex
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from ..cases import inputs
from ..rules.observation import STATE_NAMES, Facts

#: Frameworks whose ``Layer`` base class makes a class a layer.
LAYER_MODULES = ("keras", "tf_keras")


class LayerSpecError(Exception):
    """A ``--bn-layer`` / ``BN_BEHAVIOUR_LAYER`` value that cannot be used."""


#: Constructor arguments the matrix itself passes (``targets.network.layer_kwargs``): never the consumer's.
RESERVED = ("momentum", "epsilon", "gamma_initializer", "beta_initializer", "moving_mean_initializer",
            "moving_variance_initializer", "trainable")


def parse_kwargs(text: Optional[str]) -> dict[str, Any]:
    """``--bn-layer-kwargs`` / ``BN_BEHAVIOUR_LAYER_KWARGS``: a JSON object of constructor arguments.

    >>> parse_kwargs('{"training": false}'), parse_kwargs(None)
    ({'training': False}, {})
    >>> parse_kwargs('[1]')
    Traceback (most recent call last):
    ...
    bn_behaviour.targets.layer.LayerSpecError: --bn-layer-kwargs '[1]' is not a JSON object (e.g. '{"freeze": true}')
    """
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as e:
        raise LayerSpecError(f"--bn-layer-kwargs {text!r} is not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise LayerSpecError(f"--bn-layer-kwargs {text!r} is not a JSON object (e.g. '{{\"freeze\": true}}')")
    taken = [k for k in RESERVED if k in value]
    if taken:
        raise LayerSpecError(f"--bn-layer-kwargs may not set {', '.join(taken)}: the matrix sets it (every case's "
                             "reference depends on it)")
    return value


class Bound:
    """A class or factory with the consumer's constructor arguments, called as the drivers call a class.

    The case's own arguments are merged over ``kwargs`` (``parse_kwargs`` refuses the reserved
    ones, so the two never clash on those); what the call returns must be a Keras layer.
    """

    def __init__(self, spec: str, make: Callable, kwargs: dict[str, Any]):
        self.spec, self.make, self.kwargs = spec, make, dict(kwargs)
        self.__name__ = getattr(make, "__name__", spec.rpartition(":")[2])

    def __call__(self, **kwargs):
        layer = self.make(**{**self.kwargs, **kwargs})
        if not is_layer_class(type(layer)):
            raise TypeError(f"{self.spec} returned a {type(layer).__name__}, not a Keras layer")
        return layer

    def __repr__(self) -> str:
        return f"Bound({self.spec!r}, {self.kwargs!r})"

    def describe(self) -> str:
        """The ``--layer`` value of a repro command (with ``--layer-kwargs`` when there are any)."""
        if not self.kwargs:
            return self.spec
        return f"{self.spec} --layer-kwargs {shlex.quote(json.dumps(self.kwargs, sort_keys=True))}"


def load(spec: str, kwargs: Optional[dict[str, Any]] = None):
    """Import ``module:attr`` and check it is a Keras layer class, or a factory (a callable that is
    not a class, returning a layer).  A plain class without ``kwargs`` is returned as is; otherwise
    a :class:`Bound` that merges ``kwargs`` into every construction.

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
        if callable(obj) and not isinstance(obj, type(importlib)):
            return Bound(spec, obj, kwargs or {})  # a factory: checked when it is called
        raise LayerSpecError(
            f"--bn-layer: {spec} is a {type(obj).__name__}, not a layer class (or a factory returning a layer)")
    if not is_layer_class(obj):
        raise LayerSpecError(
            f"--bn-layer: {spec} is a class but not a Keras layer (no {'/'.join(LAYER_MODULES)} Layer base)"
        )
    return Bound(spec, obj, kwargs) if kwargs else obj


#: Appended to the error of a case whose layer could not be constructed or built.
UNBUILT = "(constructing the layer)"


def unbuilt(error: str):
    """The facts of a case whose layer raised while constructed or built (``error``): no output, the
    starting values unchanged, no weights.  A ``--bn-layer`` class is observed, never a traceback."""
    start = {k: np.full(inputs.CHANNELS, v, dtype=np.float64) for k, v in zip(
        STATE_NAMES, (inputs.GAMMA, inputs.BETA, inputs.MOVING_MEAN, inputs.MOVING_VARIANCE))}
    return Facts(output=None, before=start, after=dict(start), trainable_weights=[], non_trainable_weights=[],
                 model_trainable_weights=[], error=f"{error} {UNBUILT}")


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
    if isinstance(cls, Bound):
        return cls.describe()
    return f"{cls.__module__}:{cls.__qualname__}"
