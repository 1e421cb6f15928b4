"""The fused path of tf_keras: BatchNormalization(fused=True) on (N, H, W, C) images.

tf_keras uses the fused kernel (``tf.compat.v1.nn.fused_batch_norm``) only for
4-D and 5-D inputs, so the main matrix's (N, C) batches never reach it.  This
second, smaller matrix runs a representative subset of the scenarios (see
:data:`SUBSET`) on the same seeded samples shaped as two 2x2 images, judged by
the same rule and the same known deviations.  IDs are the scenario's ID with
``-input=4d``, e.g. ``test_fused[functional-frozen=layer-...-input=4d]``; the
main matrix's IDs do not change.  On any other target the tests are skipped.

The fused kernel's moving variance is Bessel-corrected: the kernel returns the
unbiased batch variance and tf_keras keeps it (``_bessels_correction_test_only
= True`` in BatchNormalizationBase), while the 2-D path keeps the biased one.
So ``moving_stats = updated`` is checked here with the Bessel convention, and
:func:`test_fused_variance_convention` checks the convention itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from bn_behaviour import reference, rules
from bn_behaviour.case import CaseResult, judge
from bn_behaviour.deviations import find
from bn_behaviour.observation import ATOL, RTOL, classify
from bn_behaviour.plugin import STASH, parametrize_cases, scenario_param
from bn_behaviour.scenario import Scenario

#: The only target with a fused path to run.
TARGET = "tf_keras"
#: The fused kernel's moving-variance convention (True: Bessel-corrected).
FUSED_BESSEL = True
#: Axis values of the subset; every other axis takes all its values.  The bare
#: layer, a functional model and the fine-tuning guide's base(inputs,
#: training=False), each unfrozen, frozen, or frozen and then unfrozen.
SUBSET = {
    "model": ("layer", "functional", "base_training_false"),
    "frozen": ("none", "layer", "unfrozen"),
}
SUFFIX = "-input=4d"


def fused_scenarios(target) -> list[Scenario]:
    return [
        s
        for s in target.scenarios()
        if all(getattr(s, axis) in values for axis, values in SUBSET.items())
    ]


def _skip_reason(session):
    if session.target.name != TARGET:
        return f"the fused 4-D path is a {TARGET} matrix; the target is {session.target.name}"
    return session.missing()


def _params(session) -> list:
    params = []
    for s in fused_scenarios(session.target):
        p = scenario_param(session, s)  # the main matrix's marks: its known deviation, if any
        params.append(pytest.param(*p.values, id=f"{s.id}{SUFFIX}", marks=p.marks))
    return params


def pytest_generate_tests(metafunc):
    parametrize_cases(metafunc, "fused_scenario", _skip_reason, _params, f"skipped{SUFFIX}")


def observe_fused(target, s: Scenario) -> CaseResult:
    """Run ``s`` on the fused 4-D path and classify it with the fused variance convention."""
    raw = target.load_driver().run(s, fused=True)
    raw.bessel = FUSED_BESSEL
    observed = classify(raw).as_dict()
    exp = rules.expected_by(target.rule, s)
    return CaseResult(target.name, s, raw, observed, exp, rules.violations(s, observed, exp))


def test_fused(fused_scenario, bn_target, bn_deviations):
    """The scenario on the fused path behaves as the documented rule says (or as its known deviation records)."""
    result = observe_fused(bn_target, fused_scenario)
    judge(result, find(bn_deviations, fused_scenario))


def test_fused_variance_convention(request, bn_target):
    """One training call on the fused path moves the variance by the Bessel-corrected batch variance."""
    why = _skip_reason(request.config.stash[STASH])
    if why:
        pytest.skip(why)
    raw = bn_target.load_driver().run(Scenario("layer", "none", "before_compile", "call", "true"), fused=True)
    assert raw.x.ndim == 4 and raw.error is None, raw.error
    old = raw.before["moving_mean"], raw.before["moving_variance"]
    moved = raw.after["moving_variance"]
    for bessel, expected_match in ((True, True), (False, False)):
        _, var = reference.updated_moving_stats(raw.x, *old, momentum=raw.momentum, bessel=bessel)
        assert np.allclose(moved, var, rtol=RTOL, atol=ATOL) is expected_match, (bessel, moved, var)
