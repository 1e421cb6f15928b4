"""The fused 4-D matrix (``bn_behaviour.cases.fused``): main scenarios with ``fused=True`` on images.

IDs are the scenario's ID with ``-input=4d``, e.g.
``test_fused[functional-frozen=layer-...-input=4d]``; on a target without a
fused kernel (``Target.unsupported["matrix"]``) one skipped test says why.
"""

from __future__ import annotations

import numpy as np
import pytest

from bn_behaviour.cases.inputs import image_data
from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.rules import reference
from bn_behaviour.rules.observation import ATOL, RTOL
from bn_behaviour.targets.common import Setup


def test_fused(bn_fused_case, bn_check):
    """The scenario on the fused path behaves as the documented rule says (or as its known deviation records)."""
    __tracebackhide__ = True  # a failure shows the broken rule and the repro, not this frame
    bn_check(bn_fused_case)


def test_fused_variance_convention(bn_target):
    """One training call on the fused path moves the variance by the convention the target declares
    for its fused kernel (``Target.fused_bessel``), and not by the other one."""
    if bn_target.lacks("fused") or bn_target.missing():
        pytest.skip(bn_target.lacks("fused") or bn_target.missing())
    data = image_data()
    facts = bn_target.load_driver().run(Scenario("layer", "none", "before_compile", "call", "true"),
                                        Setup(data=data, layer={"fused": True}))
    assert data.x.ndim == 4 and facts.error is None, facts.error
    old = facts.before["moving_mean"], facts.before["moving_variance"]
    moved = facts.after["moving_variance"]
    for bessel in (True, False):
        _, var = reference.updated_moving_stats(data.x, *old, momentum=bn_target.momentum, bessel=bessel)
        assert np.allclose(moved, var, rtol=RTOL, atol=ATOL) is (bessel == bn_target.fused_bessel), (bessel, moved, var)
