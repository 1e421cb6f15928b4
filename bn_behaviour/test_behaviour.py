"""The behaviour matrix: every scenario, observed on the real layer and judged by the rule.

Run with ``pytest -n auto`` (or ``pytest --pyargs bn_behaviour -n auto``).
Each case's ID is its scenario; a known deviation is a strict xfail.
"""

from bn_behaviour.case import judge, observe
from bn_behaviour.deviations import find


def test_behaviour(bn_scenario, bn_target, bn_layer, bn_deviations, bn_record):
    """The scenario behaves as the documented rule says (or exactly as its known deviation records)."""
    result = observe(bn_target, bn_scenario, bn_layer)
    entry = find(bn_deviations, bn_scenario)
    bn_record({**result.record(), "deviation": entry.id if entry else None,
               "deviation_source": entry.source if entry else None})
    judge(result, entry)


def test_deviation_entry_matches_a_scenario(bn_deviation, bn_deviations, bn_target):
    """Every known-deviation entry that applies to this version is the one used for some scenario.

    An entry whose pattern matches nothing (or only scenarios an earlier entry
    already claims) is stale data: fix its pattern or delete it.
    """
    from bn_behaviour import setting, workflow

    cases = bn_target.scenarios() + (setting.generate(bn_target.name) if bn_target.rule == "tf2" else [])
    cases += workflow.generate(bn_target.name)
    hits = [s.id for s in cases if find(bn_deviations, s) is bn_deviation]
    assert hits, f"known deviation {bn_deviation.id} ({bn_deviation.origin}) is used by no scenario"
