"""The matrices: each declared once here, and every later stage loops over this registry.

A :class:`Matrix` joins the stages for one kind of case: its case type
(``bn_behaviour.cases``), its candidates and why a target excludes one, how it
observes and judges one (a :class:`bn_behaviour.rules.result.Result`), and
how it appears in reports (its keys, its records' schema), documents and
pages.  The pytest plugin, the public API, the report merge and schema,
``diff``, the documents, the page, the summary and the known deviations read
:data:`MATRICES`; none of them asks which kind a case is.  Adding a matrix is
its case type, one module here, one entry below and its
``bn_behaviour/test_<name>.py`` entry point, whose test ID prefix is public
(``docs/architecture.md``; ``tests/test_new_matrix.py`` adds one that way).

>>> list(MATRICES)
['main', 'fused', 'settings', 'workflows', 'compiled']
>>> [m.cases_key for m in MATRICES.values()]
['cases', 'fused_cases', 'settings_cases', 'workflow_cases', 'compiled_cases']
>>> case_from_id("layer-frozen=none-when=before_compile-path=call-training=true-input=4d")[0].name
'fused'
"""

from __future__ import annotations

from typing import Iterable, Optional

from ..rules import deviations as dev
from ..targets import Target
from . import compiled, fused, main, settings, workflows
from .matrix import Matrix

MATRICES: dict[str, Matrix] = {m.name: m for m in (main.MATRIX, fused.MATRIX, settings.MATRIX, workflows.MATRIX,
                                                   compiled.MATRIX)}
_BY_TYPE = {m.case_type: m for m in MATRICES.values()}


class DuplicateCaseError(ValueError):
    """Two generated cases share an ID (IDs are report keys and document anchors)."""


def matrix_of(case) -> Matrix:
    """The matrix a case belongs to (by its type)."""
    return _BY_TYPE[type(case)]


def case_from_id(case_id: str) -> tuple[Matrix, object]:
    """The matrix and the case a published ID names; ``ValueError`` naming the forms when none parses."""
    for m in MATRICES.values():
        try:
            return m, m.case_type.from_id(case_id)
        except ValueError:
            continue
    raise ValueError(f"{case_id!r} is not a case ID of any matrix ({', '.join(m.example for m in MATRICES.values())})")


def select(spec: Optional[str]) -> list[str]:
    """The matrices a ``--bn-matrices`` value names, in registry order: ``all``, comma-separated names,
    or None for every matrix but the opt-in ones; ``ValueError`` (one line) for an unknown name.

    >>> select(None)
    ['main', 'fused', 'settings', 'workflows']
    >>> select("all")[-1], select("compiled")
    ('compiled', ['compiled'])
    >>> select("compield")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown matrix 'compield' (did you mean 'compiled'?); valid: all, main, fused, ..., compiled
    """
    if spec is None:
        return [name for name, m in MATRICES.items() if not m.opt_in]
    names = {n.strip() for n in spec.split(",") if n.strip()}
    for name in sorted(names - {"all", *MATRICES}):
        raise ValueError(f"unknown matrix {name!r}{dev.nearest(name, MATRICES)}; valid: all, {', '.join(MATRICES)}")
    return [name for name in MATRICES if name in names or "all" in names]


def asked(spec: Optional[str], cases: dict[str, list]) -> tuple[dict[str, list], dict[str, dict[str, int]]]:
    """The cases a run with ``--bn-matrices spec`` runs: a default run (None) leaves out each matrix's opt-in
    cases (``Matrix.opt_in_case``); also, per matrix, why each left-out group was left out and how many.

    >>> from bn_behaviour.targets import TARGETS
    >>> run, left = asked(None, generate(TARGETS["keras-tensorflow"]))
    >>> [(m, sum(n.values())) for m, n in left.items()], len(asked("all", generate(TARGETS["keras-tensorflow"]))[1])
    ([('workflows', 4)], 0)
    """
    if spec is not None:
        return cases, {}
    run: dict[str, list] = {}
    left: dict[str, dict[str, int]] = {}
    for name, held in cases.items():
        why = {c.id: MATRICES[name].opt_in_case(c) for c in held}
        run[name] = [c for c in held if not why[c.id]]
        for reason in filter(None, why.values()):
            left.setdefault(name, {}).setdefault(reason, 0)
            left[name][reason] += 1
    return run, left


def why_not(target: Target, case) -> Optional[str]:
    """Why ``case`` does not run on ``target`` (the target lacks its matrix, or the matrix excludes it), or None."""
    m = matrix_of(case)
    return target.lacks(m.name) or m.excluded(target, case)


def generate(target: Target) -> dict[str, list]:
    """Every matrix's cases for ``target`` (empty where it lacks the matrix); duplicate IDs are refused.

    >>> from bn_behaviour.targets import TARGETS
    >>> {name: len(cases) for name, cases in generate(TARGETS["tf_keras"]).items()}
    {'main': 1632, 'fused': 285, 'settings': 113, 'workflows': 32, 'compiled': 82}
    """
    out: dict[str, list] = {}
    seen: dict[str, str] = {}
    for m in MATRICES.values():
        out[m.name] = m.cases_for(target)
        for case in out[m.name]:
            if case.id in seen:
                raise DuplicateCaseError(f"case ID {case.id} is generated by both the {seen[case.id]} and the "
                                         f"{m.name} matrix")
            seen[case.id] = m.name
    return out


def vocabulary() -> dev.Vocabulary:
    """Every axis (with its values) and every observed field that a known deviation may name."""
    axes: dict[str, set] = {}
    for m in MATRICES.values():
        for axis, values in m.case_type.AXES.items():
            axes.setdefault(axis, set()).update(values)
    return dev.Vocabulary(axes=axes, observed=frozenset().union(*(m.observed_fields for m in MATRICES.values())))


def load_deviations(path: str) -> list[dev.Deviation]:
    """A consumer's deviation file (``--bn-deviations``), checked against the vocabulary."""
    return dev.load_file(path, vocabulary())


def known_deviations(target: Target, extra: Iterable[dev.Deviation] = (), version: Optional[str] = None) -> list:
    """The consumer's entries, then the suite's, that apply to the installed (or given) version."""
    own = dev.builtin(target.name, vocabulary())
    return dev.applicable([*extra, *own], version or target.version())
