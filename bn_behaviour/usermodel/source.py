"""The model a user names, loaded as they would load it, fresh for every path.

``MODEL`` is ``module:attr`` (a model, or a callable returning one), a ``.keras`` or ``.h5`` file,
or (tf_keras) a SavedModel directory.  Nothing is ever written back: a file is read, and
``module:attr`` is imported into this process, where each path gets its own model (the callable is
called again, a module-level model is taken from the module imported again, a file is loaded again),
so no path sees what another did and the user's files and processes are untouched.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Callable

from ..targets.layer import LayerSpecError, import_object

#: The file suffixes a Keras model file has (a SavedModel is a directory holding ``saved_model.pb``).
FILES = (".keras", ".h5", ".hdf5")


class ModelError(Exception):
    """The model cannot be had: one line saying why and what to do."""


def last_line(e: BaseException) -> str:
    """``Type: the last non-empty line`` of an exception (a user's or a framework's, never its traceback),
    before the arguments Keras appends to an exception raised in a layer's ``call``.

    >>> last_line(ValueError("first\\n\\nthe point"))
    'ValueError: the point'
    >>> last_line(RuntimeError("Exception encountered when calling Mine.call().\\n\\n\\x1b[1mno\\x1b[0m\\n\\n"
    ...                        "Arguments received by Mine.call():\\n  \\u2022 training=True"))
    'RuntimeError: no'
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).split("Arguments received by", 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{type(e).__name__}: {lines[-1]}" if lines else type(e).__name__


def kind(spec: str) -> str:
    """``file``, ``savedmodel`` or ``import``.

    >>> kind("base.keras"), kind("my_pkg.models:build")
    ('file', 'import')
    """
    path = Path(spec)
    if path.suffix in FILES:
        return "file"
    if path.is_dir() and (path / "saved_model.pb").exists():
        return "savedmodel"
    return "import"


def loader(spec: str, api, unsafe: bool = False) -> Callable[[], object]:
    """A function returning a fresh copy of the model ``spec`` names at each call (:class:`ModelError`
    when it cannot give one: a malformed spec or a missing file at once, the rest at the first call)."""
    how = kind(spec)
    if how == "import":
        make = _importer(spec, api)
    else:
        if not Path(spec).exists():
            raise ModelError(f"{spec}: no such file")
        make = _file_loader(spec, api, unsafe, how)
    return make


def _is_model(obj, api) -> bool:
    return isinstance(obj, api.Model)


def _importer(spec: str, api) -> Callable[[], object]:
    try:
        obj = import_object(spec, "MODEL", "my_pkg.models:build_finetune")
    except LayerSpecError as e:
        raise ModelError(str(e)) from None
    module = sys.modules[spec.partition(":")[0]]
    given = []  # the module-level models handed out so far

    def fresh():
        nonlocal obj
        if _is_model(obj, api):  # a module-level model: the module is imported again for every later path
            if given:
                importlib.reload(module)
                obj = import_object(spec, "MODEL", "")
            given.append(obj)
            return obj
        if not callable(obj):
            raise ModelError(f"{spec} is of type {type(obj).__name__}, not a {api.__name__} model or a callable "
                             "returning one")
        try:
            model = obj()
        except Exception as e:  # noqa: BLE001  (the user's code: its last line, never a traceback)
            raise ModelError(f"{spec}() raised {last_line(e)}") from None
        if not _is_model(model, api):
            raise ModelError(f"{spec}() returned a value of type {type(model).__name__}, not a {api.__name__} model")
        return model

    return fresh


def _file_loader(spec: str, api, unsafe: bool, how: str) -> Callable[[], object]:
    if how == "savedmodel" and api.__name__ != "tf_keras":
        raise ModelError(f"{spec} is a SavedModel directory: Keras 3 loads .keras and .h5 files (a SavedModel "
                         "loads with --target tf_keras)")

    def fresh():
        try:
            kwargs = {} if how == "savedmodel" else {"safe_mode": not unsafe}
            return api.models.load_model(spec, **kwargs)
        except Exception as e:  # noqa: BLE001  (a file that is not a model, or one that would run code)
            if "safe_mode" in str(e):
                raise ModelError(f"{spec}: loading it would run code stored in the file (a Lambda layer's "
                                 "bytecode); pass --unsafe to load it, only if you trust the file") from None
            raise ModelError(f"{spec}: not a model {api.__name__} can load ({last_line(e)})") from None

    return fresh
