"""The fused 4-D matrix's cases: main-matrix scenarios on (N, H, W, C) images, fused kernel on.

tf_keras uses its fused kernel (``tf.compat.v1.nn.fused_batch_norm``) only
for 4-D and 5-D inputs, so the main matrix's (N, C) batches never reach it.
This matrix runs a representative subset of the main scenarios (see
:data:`SUBSET`) with ``fused=True`` on the same seeded samples shaped as two
2x2 images, judged by the same rule and the same known deviations.  Its IDs
are the scenario's with ``-input=4d``; which targets have a fused kernel is
the target's (``Target.unsupported``), and so is the kernel's moving-variance
convention (``Target.fused_bessel``).

>>> case = FusedCase(Scenario("layer", "none", "before_compile", "call", "true"))
>>> case.id
'layer-frozen=none-when=before_compile-path=call-training=true-input=4d'
>>> FusedCase.from_id(case.id) == case
True
>>> FusedCase.from_id("layer-frozen=none-when=before_compile-path=call-training=true")
Traceback (most recent call last):
...
ValueError: not a fused-matrix ID: 'layer-frozen=none-when=before_compile-path=call-training=true'
"""

from __future__ import annotations

from .scenario import AXES, CoreCase, Scenario

#: Axis values of the subset; every other axis takes all its values.  The bare
#: layer, a functional model and the fine-tuning guide's base(inputs,
#: training=False), each unfrozen, frozen, or frozen and then unfrozen.
SUBSET = {
    "model": ("layer", "functional", "base_training_false"),
    "frozen": ("none", "layer", "unfrozen"),
}


class FusedCase(CoreCase):
    """A main-matrix scenario run with ``fused=True`` on (N, H, W, C) images."""

    AXES = {**AXES, "input": {"4d": "(N, H, W, C) images through the fused kernel"}}
    AXIS, MATRIX, SAYS = ("input", "4d"), "fused", "fused=True on (N, H, W, C) images"


def in_subset(s: Scenario) -> bool:
    return all(getattr(s, axis) in values for axis, values in SUBSET.items())
