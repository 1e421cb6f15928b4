"""The public Python API: the matrices' cases inside a consumer's own test files.

In the spirit of scikit-learn's ``parametrize_with_checks``::

    import bn_behaviour
    from my_library import MyBatchNorm

    @bn_behaviour.parametrize(layer=MyBatchNorm, model="functional", path=["fit", "call"])
    def test_my_batchnorm(bn_case):
        bn_case.check()        # fails with the broken rule, expected vs observed, and a repro

The same generator feeds the suite's own pytest parametrisation
(``bn_behaviour.matrices``): ``matrix`` picks one of its matrices (default
``main``), and the axes filter its cases.  Nothing here imports a framework
until a case runs.

>>> len(scenarios(model="layer", path="call"))
12
>>> scenarios(model="mlp")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: unknown model value(s) ['mlp']; valid values: layer, sequential, functional, subclassed, nested, ...
>>> len(cases("tf_keras", matrix="fused", model="layer", path="call"))
9
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional, Union

import pytest

from . import matrices
from .matrices import MATRICES, matrix_of
from .rules import deviations as dev
from .rules.result import DeviationObserved, Result, judge
from .targets import default_name, require, resolve

Values = Union[str, Iterable[str], None]


def _wanted(matrix: str, axes: dict[str, Values]) -> dict[str, tuple[str, ...]]:
    if matrix not in MATRICES:
        raise ValueError(f"unknown matrix {matrix!r}; valid: {', '.join(MATRICES)}")
    valid = MATRICES[matrix].case_type.AXES
    unknown = set(axes) - set(valid)
    if unknown:
        raise ValueError(f"unknown axis {sorted(unknown)}; valid axes: {', '.join(valid)}")
    out = {}
    for axis, values in axes.items():
        if values is None:
            continue
        values = (values,) if isinstance(values, str) else tuple(values)
        bad = [v for v in values if v not in valid[axis]]
        if bad:
            raise ValueError(f"unknown {axis} value(s) {bad}; valid values: {', '.join(valid[axis])}")
        out[axis] = values
    return out


def cases(target: Optional[str] = None, matrix: str = "main", **axes: Values) -> list:
    """The target's cases of one matrix (default target if None), filtered by axis values.

    ``axes`` maps an axis name to a value or a list of values.
    """
    wanted = _wanted(matrix, axes)
    return [c for c in MATRICES[matrix].cases_for(resolve(target))
            if all(c.axes()[a] in values for a, values in wanted.items())]


def scenarios(target: Optional[str] = None, **axes: Values) -> list:
    """The target's main-matrix scenarios, filtered by axis values (``cases(target, "main", **axes)``)."""
    return cases(target, "main", **axes)


def observe(case, target: Optional[str] = None, layer=None) -> Result:
    """Run one case of any matrix on the real framework; returns a :class:`bn_behaviour.rules.result.Result`.

    ``layer`` replaces the BatchNormalization class under test (targets with a layer class).
    """
    return matrix_of(case).observe(require(target), case, layer)


@dataclass
class Case:
    """One case bound to a target, a layer class and its known deviation (if any)."""

    scenario: Any
    target: str
    layer: Any = None
    deviation: Optional[dev.Deviation] = None

    @property
    def id(self) -> str:
        return self.scenario.id

    def observe(self) -> Result:
        return observe(self.scenario, self.target, self.layer)

    def check(self) -> Result:
        """Observe and judge: pass, fail naming the broken rule (with a repro), or raise
        :class:`bn_behaviour.rules.result.DeviationObserved` when exactly the known deviation is seen
        (:func:`parametrize` marks those cases as strict xfails)."""
        __tracebackhide__ = True
        result = self.observe()
        judge(result, self.deviation)
        return result


def known_deviations(target: Optional[str] = None, deviations: Optional[str] = None) -> list[dev.Deviation]:
    """The consumer's entries (a TOML file in the suite's format) then the suite's, for the installed version.

    The suite's entries describe the framework (Model, trainer, tracing) as
    much as the layer, so they apply to a custom layer too.
    """
    extra = matrices.load_deviations(deviations) if deviations else []
    return matrices.known_deviations(require(target), extra)


def parametrize(layer=None, target: Optional[str] = None, deviations: Optional[str] = None, matrix: str = "main",
                **axes: Values):
    """``pytest.mark.parametrize("bn_case", ...)`` over the matching cases, IDs = case IDs.

    ``deviations`` is a TOML file of the consumer's own known deviations, checked before the
    suite's; a case with a known deviation is a strict xfail, as in the suite's own matrix.
    """
    name = target or default_name()
    entries = known_deviations(name, deviations)
    params = []
    for c in cases(name, matrix, **axes):
        entry = dev.find(entries, c)
        marks = []
        if entry is not None:
            marks = [pytest.mark.xfail(reason=f"known deviation {entry.label()}", strict=True,
                                       raises=DeviationObserved)]
        params.append(pytest.param(Case(c, name, layer, entry), id=c.id, marks=marks))
    return pytest.mark.parametrize("bn_case", params)
