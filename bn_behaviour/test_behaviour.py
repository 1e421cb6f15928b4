"""The main matrix: every scenario, observed on the real layer and judged by the rule.

Run with ``pytest -n auto`` (or ``pytest --pyargs bn_behaviour -n auto``).
Each case's ID is its scenario; a known deviation is a strict xfail.  The
plugin parametrises ``bn_scenario`` from ``bn_behaviour.matrices``.
"""

from bn_behaviour.rules.deviations import find


def test_behaviour(bn_scenario, bn_check):
    """The scenario behaves as the documented rule says (or exactly as its known deviation records)."""
    __tracebackhide__ = True  # a failure shows the broken rule and the repro, not this frame
    bn_check(bn_scenario)


def test_deviation_entry_matches_a_scenario(bn_deviation, bn_deviations, bn_cases):
    """Every known-deviation entry that applies to this version is the one used for some case.

    An entry whose pattern matches nothing (or only cases an earlier entry
    already claims) is stale data: fix its pattern or delete it.
    """
    hits = [c.id for cases in bn_cases.values() for c in cases if find(bn_deviations, c) is bn_deviation]
    assert hits, f"known deviation {bn_deviation.id} ({bn_deviation.origin}) is used by no case"
