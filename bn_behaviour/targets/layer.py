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

>>> load("json:dumps", {"sort_keys": True})
Bound('json:dumps', {'sort_keys': True})

A constructor argument the class or factory does not take is refused before any case runs
(:func:`check_kwargs`), naming the nearest one it takes:

>>> load("textwrap:indent", {"prefx": "> "})  # doctest: +NORMALIZE_WHITESPACE
Traceback (most recent call last):
...
bn_behaviour.targets.layer.LayerSpecError: --bn-layer-kwargs: textwrap:indent takes no argument 'prefx'
(did you mean 'prefix'?); it takes text, prefix, predicate

>>> parse_kwargs('{"momentum": 0.5}')  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
bn_behaviour.targets.layer.LayerSpecError: --bn-layer-kwargs may not set momentum: the matrix sets it ...
"""

from __future__ import annotations

import difflib
import importlib
import inspect
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


def import_object(spec: str, option: str, example: str):
    """The object ``module:attr`` names (``attr`` may be dotted), importing ``module`` with the current
    directory importable, as for ``python -m``; a one-line :class:`LayerSpecError` naming ``option`` when
    the spec is malformed, the module does not import (its exception's last line) or has no such attribute.

    >>> import_object("json:dumps", "MODEL", "m:f").__name__
    'dumps'
    >>> import_object("json", "MODEL", "my_pkg.models:build")
    Traceback (most recent call last):
    ...
    bn_behaviour.targets.layer.LayerSpecError: MODEL 'json' is not of the form module:attr (e.g. my_pkg.models:build)
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise LayerSpecError(f"{option} {spec!r} is not of the form module:attr (e.g. {example})")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # noqa: BLE001  (ImportError, or whatever the module itself raises)
        raise LayerSpecError(f"{option}: cannot import module {module_name!r} ({e})") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise LayerSpecError(f"{option}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def load(spec: str, kwargs: Optional[dict[str, Any]] = None):
    """Import ``module:attr`` and check it is a Keras layer class, or a factory (a callable that is
    not a class, returning a layer).  A plain class without ``kwargs`` is returned as is; otherwise
    a :class:`Bound` that merges ``kwargs`` into every construction.

    The current directory is importable, as for ``python -m``, so a class in
    a file outside the project works (``--bn-layer my_layers:MyBN``).
    """
    obj = import_object(spec, "--bn-layer", "my_pkg.layers:MyBatchNorm")
    if not isinstance(obj, type):
        if callable(obj) and not isinstance(obj, type(importlib)):
            check_kwargs(spec, obj, kwargs or {})
            return Bound(spec, obj, kwargs or {})  # a factory: what it returns is checked when it is called
        raise LayerSpecError(
            f"--bn-layer: {spec} is a {type(obj).__name__}, not a layer class (or a factory returning a layer)")
    if not is_layer_class(obj):
        raise LayerSpecError(
            f"--bn-layer: {spec} is a class but not a Keras layer (no {'/'.join(LAYER_MODULES)} Layer base)"
        )
    check_kwargs(spec, obj, kwargs or {})
    return Bound(spec, obj, kwargs) if kwargs else obj


def parameters(make: Callable) -> tuple[list[str], bool]:
    """The keyword arguments ``make`` (a class or a factory) names, and whether it takes no others.

    A class's ``__init__`` that takes ``**kwargs`` is followed up its MRO (as ``super().__init__(**kwargs)``
    passes them on) until one takes no ``**kwargs``: then the list is complete, unless a framework's class
    took them on the way (Keras checks those itself), as it is not for a factory taking ``**kwargs``.

    >>> class Base:
    ...     def __init__(self, axis=-1, center=True): pass
    >>> class Mine(Base):
    ...     def __init__(self, freeze=False, **kwargs): super().__init__(**kwargs)
    >>> parameters(Mine), parameters(lambda freeze, **kw: None)
    ((['freeze', 'axis', 'center'], True), (['freeze'], False))
    """
    names: list[str] = []
    framework = False  # past a framework's class taking **kwargs: its named arguments count, the list is open
    chain = [k for k in make.__mro__ if k is not object and "__init__" in vars(k)] if isinstance(make, type) \
        else [make]
    for owner in chain:
        try:
            signature = inspect.signature(vars(owner)["__init__"] if isinstance(make, type) else owner)
        except (TypeError, ValueError):  # a builtin or C constructor: nothing to read
            return names, False
        found = list(signature.parameters.values())[1 if isinstance(make, type) else 0:]
        names += [p.name for p in found if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in names]
        if not any(p.kind is p.VAR_KEYWORD for p in found):
            return names, not framework
        framework = framework or isinstance(make, type) and owner.__module__.split(".")[0] in LAYER_MODULES
    return names, False


def check_kwargs(spec: str, make: Callable, kwargs: dict[str, Any]) -> None:
    """Refuse, in one line naming it and the nearest parameter, a ``--bn-layer-kwargs`` key the class or
    factory does not take, before any case runs (each case would otherwise record the same constructor
    error).  Where :func:`parameters` is not complete, an unlisted key is tried: ``make(**kwargs)`` once,
    refused only if what it raises is about keyword arguments and names the key (Keras 3's "Unrecognized
    keyword arguments", tf_keras' "Keyword argument not understood", Python's "unexpected keyword
    argument"); a class that takes it through ``**kwargs``, or fails for another reason, is left to run.
    """
    names, complete = parameters(make)
    unknown = [k for k in kwargs if k not in names]
    if not unknown:
        return
    if complete:
        key, raised = unknown[0], ""
    else:
        try:
            make(**kwargs)
            return
        except Exception as e:  # noqa: BLE001  (whatever the class raises: only its naming the key counts)
            raised = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        named = "keyword argument" in raised.lower()  # Python's, Keras 3's and tf_keras' refusals all say so
        key = next((k for k in unknown if named and (f"'{k}'" in raised or f'"{k}"' in raised)), None)
        if key is None:
            return  # it failed otherwise: each case records that (targets.layer.unbuilt)
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    said = f" ({raised})" if raised else f"; it takes {', '.join(names) or 'no keyword argument'}"
    raise LayerSpecError(f"--bn-layer-kwargs: {spec} takes no argument {key!r}{hint}{said}")


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
