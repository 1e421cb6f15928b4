"""The compiled matrix (``bn_behaviour.cases.compiled``): main scenarios with ``jit_compile=True``.

IDs are the scenario's ID with ``-jit_compile=true``, e.g.
``test_compiled[nested-frozen=inner_model-...-jit_compile=true]``.  The matrix is opt-in
(``--bn-matrices all``, which ``bn-behaviour report`` passes); otherwise, and on a target
without a compiler to drive (``Target.unsupported["matrix"]``), one skipped test says why.
"""


def test_compiled(bn_compiled_case, bn_check):
    """The compiled scenario behaves as the documented rule says, as its uncompiled core does (the same
    known deviations select it, so a compiled step that behaves otherwise fails the run)."""
    __tracebackhide__ = True  # a failure shows the broken rule and the repro, not this frame
    bn_check(bn_compiled_case)
