"""One judged case: what was observed, what the rule expected, and the verdict.

Every matrix produces a :class:`Result`; it knows its own violations (its
rule's checks run on it) and explains itself, so :func:`judge` needs nothing
from the matrix: pass, raise :class:`DeviationObserved` (the known deviation
seen exactly, a strict xfail), or fail with a message that shows the broken
rule, expected and observed values, the numbers behind them and how to
reproduce the case alone.

>>> from bn_behaviour.cases.scenario import Scenario
>>> from bn_behaviour.rules.tf2 import CHECKS
>>> s = Scenario("layer", "none", "before_compile", "call", "true")
>>> r = Result("t", s, {"mode": "training"}, {"mode": "inference"}, {"mode": CHECKS["mode"]}, subject=s)
>>> r.violations
{'mode': 'expected the batch normalised in inference mode, observed training'}
>>> print(r.explain("the documented rule is broken").splitlines()[2])  # doctest: +ELLIPSIS
  rule mode (The batch is normalised with the statistics the rule picks.): expected the batch normalised ...
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Mapping, Optional

from .checks import Check, run_checks, summary
from .deviations import Deviation


class DeviationObserved(Exception):  # noqa: N818  (a published name: test files raise and catch it)
    """Raised when a case shows exactly its known deviation (a strict xfail)."""


def _fmt(d: dict) -> str:
    return json.dumps(d, sort_keys=True)


@dataclass(frozen=True)
class Result:
    """A case observed on a target and judged by its rule."""

    target: str
    #: The case (any case type): its ID, description and axes are the result's.
    case: Any
    observed: dict
    expected: dict
    #: The rule's checks: name -> ``check(subject, observed, expected)``.
    checks: Mapping[str, Check]
    #: What the checks are given besides the observation (the scenario, a workflow variant).
    subject: Any
    #: The numbers behind the observation, for failure messages (computed only when one is written).
    evidence: Callable[[], str] = str
    #: How to run the case alone: a command line, and a standalone program where one is written.
    command: str = ""
    snippet: Optional[Callable[[], Optional[str]]] = None
    #: The documented rule in words, with its source (when the checks alone do not say it).
    rule: str = ""
    #: The class under test (``bn_behaviour.targets.layer.describe``).
    layer: str = "genuine"
    #: More for the report (e.g. ``measured``).
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.case.id

    @cached_property
    def violations(self) -> dict[str, str]:
        """Check name -> message for every check the observation breaks."""
        return self.recheck(self.expected)

    def recheck(self, expected: dict) -> dict[str, str]:
        """The checks run against another expectation (the rule with a known deviation in place)."""
        return run_checks(self.checks, self.subject, self.observed, expected)

    def record(self) -> dict:
        """The JSON-able part (what the report stores)."""
        return {"id": self.id, "scenario": self.case.axes(), "observed": self.observed, "expected": self.expected,
                "violated": sorted(self.violations), **self.extra}

    def explain(self, headline: str) -> str:
        """A failure message: the rules broken, expected vs observed, the numbers, how to reproduce."""
        lines = [headline, f"case {self.id}: {self.case.describe()}"]
        if self.rule:
            lines.append(f"documented rule: {self.rule}")
        lines += [f"  rule {name} ({summary(self.checks[name])}): {msg}" for name, msg in self.violations.items()]
        lines += [f"expected: {_fmt(self.expected)}", f"observed: {_fmt(self.observed)}"]
        evidence, code = self.evidence(), self.snippet() if self.snippet else None
        lines += [evidence] if evidence else []
        lines += ["reproduce alone:", f"  {self.command}"]
        if code:
            lines += ["standalone snippet:", code]
        return "\n".join(lines)


def judge(result: Result, deviation: Optional[Deviation]) -> None:
    """Pass, raise DeviationObserved (known deviation seen exactly), or fail naming what broke."""
    __tracebackhide__ = True
    if deviation is None:
        if result.violations:
            raise AssertionError(result.explain("the documented rule is broken"))
        return
    if not result.violations:
        return  # strict xfail turns this into "deviation is stale"
    rest = {"deviation": "not what the entry records"}
    if deviation.explains(result.observed):
        rest = result.recheck(deviation.expected_with_deviation(result.expected, result.observed))
    if rest:
        raise AssertionError(result.explain(
            f"known deviation {deviation.id} does not describe what was observed (it says {_fmt(deviation.observed)})"))
    raise DeviationObserved(f"known deviation {deviation.label()}")
