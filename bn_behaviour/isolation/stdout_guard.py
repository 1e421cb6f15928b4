"""Stdout carries only a command's result: what frameworks write there meanwhile goes to stderr.

Keras prints (``model.export()`` lists its endpoints with ``print``), TensorFlow's
C++ code writes to file descriptor 1, and a ``bn-behaviour`` command's stdout
must still be only its answer, so that ``| jq`` works.  :func:`stdout_to_stderr`
points both ``sys.stdout`` and descriptor 1 at stderr while a case runs, and
puts both back afterwards (C stdio buffers are flushed first, so nothing
written inside arrives on stdout later).

>>> with stdout_to_stderr():
...     print("framework chatter")  # goes to stderr
>>> print("the result")
the result
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from typing import Iterator


def _flush_c_stdio() -> None:
    """Flush the C library's stdout buffer (C/C++ ``printf``/``std::cout`` output not yet written)."""
    if os.name == "posix":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send Python-level (``sys.stdout``) and descriptor-level (fd 1) stdout to stderr; restore both after."""
    saved_stream = sys.stdout
    if saved_stream is not None:
        saved_stream.flush()
    _flush_c_stdio()
    try:
        saved_fd = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no descriptor 1 (or 2): only the Python level can be redirected
        saved_fd = None
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        _flush_c_stdio()
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)
        sys.stdout = saved_stream
