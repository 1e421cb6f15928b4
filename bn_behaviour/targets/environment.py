"""A target's environment variables: put in place before any framework import, never over the user's.

A target runs with its ``env`` (``KERAS_BACKEND`` for Keras 3's backends,
``TF_USE_LEGACY_KERAS`` for Keras 2, TensorFlow's quiet log level, JAX's
compilation cache).  :func:`apply` sets each variable the user has not set and
leaves every one the user set as it is.  A variable of :data:`DECIDING` set to
another value, or Keras already imported on another backend, means this
process cannot run the target: :func:`apply` returns the one-line reason.

>>> print(conflict("keras-tensorflow", {"KERAS_BACKEND": "tensorflow"}, {"KERAS_BACKEND": "jax"}, ["keras-jax"]))
... # doctest: +NORMALIZE_WHITESPACE
keras-tensorflow runs with KERAS_BACKEND=tensorflow, but the environment sets KERAS_BACKEND=jax:
unset KERAS_BACKEND for this run, or choose the target it names (keras-jax)
>>> conflict("tf_keras", {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"},
...          {"TF_USE_LEGACY_KERAS": "true", "TF_CPP_MIN_LOG_LEVEL": "0"}, []) is None
True
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from typing import Iterable, Mapping, Optional

#: Variables that choose the implementation (name -> how its value is read; TensorFlow reads
#: TF_USE_LEGACY_KERAS as a flag).  The others (log level, caches) only keep the user's value.
DECIDING = {"KERAS_BACKEND": str, "TF_USE_LEGACY_KERAS": lambda v: v.lower() in ("1", "true")}
#: An ``env`` value standing for a fresh folder of this process, removed when it exits.
PROCESS_DIR = "<a fresh folder of this process>"


def process_dir() -> str:
    path = tempfile.mkdtemp(prefix="bn-behaviour-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def conflict(name: str, env: Mapping[str, str], environ: Mapping[str, str], targets: Iterable[str]) -> Optional[str]:
    """Why target ``name``, needing ``env``, cannot run with the variables ``environ`` sets, or None."""
    for k, read in DECIDING.items():
        have, want = environ.get(k), env.get(k)
        if have is not None and want is not None and read(have) != read(want):
            alt = f", or choose the target it names (keras-{have})" if f"keras-{have}" in targets else ""
            return (f"{name} runs with {k}={want}, but the environment sets {k}={have}: unset {k} for this run"
                    f"{alt}")
    return None


def apply(name: str, env: Mapping[str, str], targets: Iterable[str]) -> Optional[str]:
    """Set each variable of ``env`` the user has not set; or, changing nothing, why this process cannot
    run target ``name`` (a conflicting variable, Keras imported on another backend)."""
    why = conflict(name, env, os.environ, targets)
    backend, keras = env.get("KERAS_BACKEND"), sys.modules.get("keras")
    running = getattr(getattr(keras, "backend", None), "backend", lambda: backend)()
    if why is None and backend and running != backend:
        why = (f"{name} runs Keras on {backend}, but this process imported Keras on {running} before "
               f"bn-behaviour could set KERAS_BACKEND: run it in a process of its own, or choose keras-{running}")
    if why is None:
        for k, v in env.items():
            if k not in os.environ:
                os.environ[k] = process_dir() if v == PROCESS_DIR else v
    return why


def for_child(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment of a child process running a target its command line names (``bn-behaviour report``
    runs each target so): ``environ`` without the variables that choose an implementation, which would
    conflict with every other target; the child's target sets them.

    >>> for_child({"KERAS_BACKEND": "jax", "TF_USE_LEGACY_KERAS": "1", "PATH": "/bin"})
    {'PATH': '/bin'}
    """
    return {k: v for k, v in environ.items() if k not in DECIDING}
