"""The compiled matrix's cases: main-matrix scenarios run with the paths compiled.

Keras 3 turns ``jit_compile="auto"`` off on a machine with no accelerator on
TensorFlow (``keras/src/trainers/trainer.py``: "Disable XLA on CPU-only
machines") and always on PyTorch, so the main matrix's ``fit()`` there runs a
plain ``tf.function`` (eager PyTorch); on a GPU the same ``compile()`` gives an
XLA-compiled step.  A compiled case runs its core scenario with
``compile(jit_compile=True)`` (``fit``, ``train_on_batch``, ``evaluate``,
``predict``: XLA on TensorFlow, ``torch.compile`` on PyTorch) or with
``tf.function(jit_compile=True)`` around the traced call and the custom training
step, judged by the same rule and the same known deviations as its core (a
pattern of the main matrix selects it too, so a compiled row that behaves
otherwise than its core fails the run).  Its ID is the core's with
``-jit_compile=true``; which scenarios the matrix runs, and why not the rest,
is ``bn_behaviour.matrices.compiled``'s.

>>> from bn_behaviour.cases.scenario import Scenario
>>> case = CompiledCase(Scenario("nested", "inner_model", "after_fit", "fit", "none"))
>>> case.id
'nested-frozen=inner_model-when=after_fit-path=fit-training=none-jit_compile=true'
>>> CompiledCase.from_id(case.id) == case
True
>>> CompiledCase.from_id("nested-frozen=inner_model-when=after_fit-path=fit-training=none")
Traceback (most recent call last):
...
ValueError: not a compiled-matrix ID: 'nested-frozen=inner_model-when=after_fit-path=fit-training=none'
"""

from __future__ import annotations

from .scenario import AXES, CoreCase

#: The one value of the axis (the main matrix's rows are the framework's default, ``jit_compile="auto"``).
JIT_COMPILE = {
    "true": "compile(jit_compile=True) for the compile()-based paths and jit_compile=True on the traced "
    "function and training step: XLA on TensorFlow, torch.compile on PyTorch",
}


class CompiledCase(CoreCase):
    """A main-matrix scenario with its paths compiled (``jit_compile=True``)."""

    AXES = {**AXES, "jit_compile": JIT_COMPILE}
    AXIS, MATRIX, SAYS = ("jit_compile", "true"), "compiled", "compiled (jit_compile=True)"


SUFFIX = CompiledCase.suffix()
