"""The settings matrix (``bn_behaviour.cases.setting``): layer settings and precision policies.

Each case is a core scenario of the main matrix with one layer setting under
one precision policy, judged by ``bn_behaviour.rules.setting`` and the same
known-deviation files (entries that name ``setting`` select these cases).
IDs: ``test_setting[<core scenario ID>-setting=<name>-precision=<policy>]``.
"""


def test_setting(bn_setting, bn_check):
    """The core scenario keeps its documented behaviour with this setting and policy, variables stay float32."""
    __tracebackhide__ = True  # a failure shows the broken rule and the repro, not this frame
    bn_check(bn_setting)
