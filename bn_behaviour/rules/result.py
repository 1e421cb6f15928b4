"""One case: run a scenario on a target, compare with the rule, judge it.

Used by the pytest matrix and by ``bn-behaviour observe``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

from . import repro, rules, rules_setting
from .deviations import Deviation
from .layer import describe as describe_layer
from .observation import Raw, classify, describe_numbers
from .scenario import Scenario
from .targets import Target
from .timing import PHASES


class DeviationObserved(Exception):
    """Raised when a case shows exactly its known deviation (a strict xfail)."""


@dataclass
class CaseResult:
    target: str
    scenario: Scenario
    raw: Raw
    observed: dict
    expected: dict
    violations: dict[str, str] = field(default_factory=dict)
    layer: str = "genuine"  # bn_behaviour.layer.describe of the class under test

    def record(self) -> dict:
        """The JSON-able part (what the report stores)."""
        return {
            "id": self.scenario.id,
            "scenario": self.scenario.axes(),
            "observed": self.observed,
            "expected": self.expected,
            "violated": sorted(self.violations),
        }


def observe(target: Target, s: Scenario, layer_cls=None) -> CaseResult:
    """Run ``s`` on the real framework and classify what happened."""
    driver = target.load_driver()
    raw = driver.run(s, layer_cls)
    raw.bessel = target.bessel
    with PHASES("observe_check"):  # NumPy reference, classification, the rule's checks
        observed = classify(raw).as_dict()
        exp = rules.expected_by(target.rule, s)
        violated = rules.violations(s, observed, exp)
    return CaseResult(target.name, s, raw, observed, exp, violated, describe_layer(layer_cls))


def observe_setting(target: Target, case, layer_cls=None) -> CaseResult:
    """Run a settings-matrix case (``bn_behaviour.setting``) and judge it by ``rules_setting``."""
    from .setting import SETTINGS

    bessel = SETTINGS[case.setting].bessel.get(target.name, target.bessel)
    raw = target.load_driver().run_setting(case, bessel, layer_cls)
    observed = {**classify(raw).as_dict(), "variable_dtypes": raw.variable_dtypes}
    exp = rules_setting.expected(case)
    violated = rules_setting.violations(case, observed, exp)
    return CaseResult(target.name, case, raw, observed, exp, violated, describe_layer(layer_cls))


def _fmt(d: dict) -> str:
    return json.dumps(d, sort_keys=True)


def explain(result: CaseResult, headline: str) -> str:
    """A failure message: the rules broken, expected vs observed, and how to reproduce."""
    s = result.scenario
    lines = [headline, f"scenario {s.id}: {s.describe()}"]
    for rule, msg in result.violations.items():
        check = rules_setting.CHECKS[rule]
        doc = (check.__doc__ or "").strip().splitlines()[0]
        lines.append(f"  rule {rule} ({doc}): {msg}")
    lines += [
        f"expected: {_fmt(result.expected)}",
        f"observed: {_fmt(result.observed)}",
        describe_numbers(result.raw),
        "reproduce alone:",
        f"  {repro.command(result.target, s, result.layer)}",
    ]
    code = repro.snippet(result.target, s) if result.layer == "genuine" else None
    if code:
        lines += ["standalone snippet:", code]
    return "\n".join(lines)


def _violations(s, observed: dict, exp: dict) -> dict[str, str]:
    """The broken checks of a main-matrix scenario or of a settings-matrix case."""
    return (rules_setting.violations if hasattr(s, "setting") else rules.violations)(s, observed, exp)


def judge(result, deviation: Optional[Deviation], recheck=None, explain_fn=None) -> None:
    """Pass, raise DeviationObserved (known deviation seen exactly), or fail.

    ``recheck(observed, expected)`` re-runs the case's checks against the
    rule with the deviation in place and ``explain_fn(result, headline)``
    writes the failure; both default to the main and settings matrices' own
    (the workflow matrix passes its checks).
    """
    recheck = recheck or (lambda observed, exp: _violations(result.scenario, observed, exp))
    explain_fn = explain_fn or explain
    if deviation is None:
        if result.violations:
            raise AssertionError(explain_fn(result, "the documented rule is broken"))
        return
    if not result.violations:
        return  # strict xfail turns this into "deviation is stale"
    rest = {"deviation": "not what the entry records"}
    if deviation.explains(result.observed):
        rest = recheck(result.observed, deviation.expected_with_deviation(result.expected, result.observed))
    if rest:
        raise AssertionError(
            explain_fn(
                result,
                f"known deviation {deviation.id} does not describe what was observed"
                f" (it says {_fmt(deviation.observed)})",
            )
        )
    raise DeviationObserved(f"known deviation {deviation.label()}")
