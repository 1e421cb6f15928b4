"""The settings matrix: layer settings and precision policies (bn_behaviour/setting.py).

Each case is a core scenario of the main matrix with one layer setting under
one precision policy, judged by ``bn_behaviour.rules_setting`` and the same
known-deviation files (entries that name ``setting`` select these cases).
IDs: ``test_setting[<core scenario ID>-setting=<name>-precision=<policy>]``.
Settings a target lacks are not generated for it; tf1 has no settings matrix.
"""

from __future__ import annotations

from bn_behaviour import setting as settings
from bn_behaviour.case import judge, observe_setting
from bn_behaviour.deviations import find
from bn_behaviour.observation import measure
from bn_behaviour.plugin import parametrize_cases, scenario_param

#: The documented rule the settings matrix adjusts (bn_behaviour.rules_setting).
RULE = "tf2"


def _skip_reason(session):
    if session.target.rule != RULE:
        return f"the settings matrix follows the {RULE} rule; {session.target.name} follows {session.target.rule}"
    return session.missing()


def pytest_generate_tests(metafunc):
    parametrize_cases(metafunc, "bn_setting", _skip_reason, lambda session: [
        scenario_param(session, c) for c in settings.generate(session.target.name)], "skipped-setting=none")


def test_setting(bn_setting, bn_target, bn_layer, bn_deviations, bn_record_setting):
    """The core scenario keeps its documented behaviour with this setting and policy, variables stay float32."""
    result = observe_setting(bn_target, bn_setting, bn_layer)
    entry = find(bn_deviations, bn_setting)
    bn_record_setting({**result.record(), "measured": measure(result.raw, result.observed["mode"]),
                       "deviation": entry.id if entry else None,
                       "deviation_source": entry.source if entry else None})
    judge(result, entry)
