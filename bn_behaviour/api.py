"""The public Python API: the matrix's cases inside a consumer's own test files.

In the spirit of scikit-learn's ``parametrize_with_checks``::

    import bn_behaviour
    from my_library import MyBatchNorm

    @bn_behaviour.parametrize(layer=MyBatchNorm, model="functional", path=["fit", "call"])
    def test_my_batchnorm(bn_case):
        bn_case.check()        # fails with the broken rule, expected vs observed, and a repro

Nothing here imports a framework until a case runs.

>>> len(scenarios(model="layer", path="call"))
12
>>> scenarios(model="mlp")
Traceback (most recent call last):
...
ValueError: unknown model value(s) ['mlp']; valid values: layer, sequential, functional, subclassed, nested, base_training_false
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional, Union

from . import deviations as dev
from .scenario import AXES, Scenario
from .targets import Target, require

Values = Union[str, Iterable[str], None]


def _as_tuple(axis: str, values: Values) -> Optional[tuple[str, ...]]:
    if values is None:
        return None
    values = (values,) if isinstance(values, str) else tuple(values)
    bad = [v for v in values if v not in AXES[axis]]
    if bad:
        raise ValueError(f"unknown {axis} value(s) {bad}; valid values: {', '.join(AXES[axis])}")
    return values


def scenarios(target: Optional[str] = None, **axes: Values) -> list[Scenario]:
    """The target's scenarios (default target if None), filtered by axis values.

    ``axes`` maps an axis name to a value or a list of values.
    """
    unknown = set(axes) - set(AXES)
    if unknown:
        raise ValueError(f"unknown axis {sorted(unknown)}; valid axes: {', '.join(AXES)}")
    wanted = {a: _as_tuple(a, v) for a, v in axes.items() if v is not None}
    from .targets import resolve

    return [
        s
        for s in resolve(target).scenarios()
        if all(getattr(s, a) in values for a, values in wanted.items())
    ]


def observe(scenario: Scenario, target: Optional[str] = None, layer=None):
    """Run one scenario on the real framework; returns a :class:`bn_behaviour.case.CaseResult`.

    ``layer`` replaces the BatchNormalization class under test (Keras-style targets).
    """
    from .case import observe as _observe

    return _observe(require(target), scenario, layer)


@dataclass
class Case:
    """One scenario bound to a target, a layer class and its known deviation (if any)."""

    scenario: Scenario
    target: str
    layer: Any = None
    deviation: Optional[dev.Deviation] = None

    @property
    def id(self) -> str:
        return self.scenario.id

    def observe(self):
        return observe(self.scenario, self.target, self.layer)

    def check(self):
        """Observe and judge: pass, fail naming the broken rule (with a repro), or raise
        :class:`bn_behaviour.case.DeviationObserved` when exactly the known deviation is seen
        (:func:`parametrize` marks those cases as strict xfails)."""
        from .case import judge

        result = self.observe()
        judge(result, self.deviation)
        return result


def known_deviations(target: Optional[str] = None, deviations: Optional[str] = None) -> list[dev.Deviation]:
    """The consumer's entries (a TOML file in the suite's format) then the suite's, for the installed version.

    The suite's entries describe the framework (Model, trainer, tracing) as
    much as the layer, so they apply to a custom layer too.
    """
    t: Target = require(target)
    extra = dev.load_file(deviations) if deviations else []
    return dev.applicable(extra + dev.builtin(t.name), t.version())


def parametrize(layer=None, target: Optional[str] = None, deviations: Optional[str] = None, **axes: Values):
    """``pytest.mark.parametrize("bn_case", ...)`` over the matching scenarios, IDs = scenario IDs.

    A case with a known deviation is a strict xfail, as in the suite's own matrix.
    """
    import pytest

    from .case import DeviationObserved

    name = target or _default()
    entries = known_deviations(name, deviations)
    params = []
    for s in scenarios(name, **axes):
        entry = dev.find(entries, s)
        marks = []
        if entry is not None:
            marks = [pytest.mark.xfail(reason=f"known deviation {entry.label()}", strict=True,
                                       raises=DeviationObserved)]
        params.append(pytest.param(Case(s, name, layer, entry), id=s.id, marks=marks))
    return pytest.mark.parametrize("bn_case", params)


def _default() -> str:
    from .targets import default_name

    return default_name()
