"""BatchNormalization layers that break the process, not the rule (``tests/test_fault_isolation.py``).

Each behaves like the genuine ``keras.layers.BatchNormalization`` except when
called with ``training=True`` (the matrix's ``path=call-training=true``
scenarios, and the training steps of ``fit``):

* :class:`AbortingBN` aborts the process (SIGABRT), as a failed C++ check of a
  framework does;
* :class:`ExitingBN` ends the process with ``os._exit(3)``, leaving no
  faulthandler dump, as a kill (SIGKILL, the OOM killer) does;
* :class:`HangingBN` loops forever in Python: SIGALRM interrupts it (so would
  it interrupt ``time.sleep(10**6)``: a sleep returns to Python on a signal);
* :class:`CHangingBN` locks a mutex it holds, in C, like a deadlock inside a
  framework's kernel: the thread never returns to Python, so no Python signal
  handler runs, and only a process kill ends it.

This module imports Keras, so it is imported only in a process whose
``KERAS_BACKEND`` is set (``--bn-layer tests.faulty_layers:AbortingBN``);
``tests/conftest.py`` keeps doctest collection out.
"""

from __future__ import annotations

import ctypes
import os
import time

import keras

BN = keras.layers.BatchNormalization


class AbortingBN(BN):
    def call(self, inputs, training=None, mask=None):
        if training is True:
            os.abort()
        return super().call(inputs, training=training, mask=mask)


class ExitingBN(BN):
    def call(self, inputs, training=None, mask=None):
        if training is True:
            os._exit(3)
        return super().call(inputs, training=training, mask=mask)


class HangingBN(BN):
    def call(self, inputs, training=None, mask=None):
        while training is True:
            time.sleep(0.1)
        return super().call(inputs, training=training, mask=mask)


def deadlock() -> None:
    """Lock a default (non-recursive) pthread mutex twice: the second lock waits forever, in C."""
    libc = ctypes.CDLL(None)
    mutex = ctypes.create_string_buffer(64)  # all zeros: PTHREAD_MUTEX_INITIALIZER on Linux
    libc.pthread_mutex_lock(mutex)
    libc.pthread_mutex_lock(mutex)


class CHangingBN(BN):
    def call(self, inputs, training=None, mask=None):
        if training is True:
            deadlock()
        return super().call(inputs, training=training, mask=mask)
