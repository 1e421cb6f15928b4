"""What a matrix declares (see ``bn_behaviour.matrices``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from ..rules.observation import Observation
from ..rules.result import Result
from ..targets import Target

#: The fields of the categorical observation of one layer (main, fused and settings matrices).
OBSERVATION_FIELDS = frozenset(Observation.__dataclass_fields__)


def _nothing(case: Any, record: dict) -> str:
    return ""


def _by_id(case_id: str) -> Any:
    return case_id


def _always(case: Any) -> Optional[str]:
    return None


def _describe(case: Any) -> str:
    return case.describe()


def _no_text(key: str) -> tuple[str, str]:
    return key, ""


def axis_rank(case: Any) -> tuple[int, ...]:
    """A case's place in the order its axes declare their values (the report sorts IDs alphabetically).

    >>> from bn_behaviour.cases.scenario import Scenario
    >>> axis_rank(Scenario("layer", "none", "before_compile", "call", "none"))
    (0, 0, 0, 0, 0)
    """
    return tuple(list(type(case).AXES[axis]).index(value) for axis, value in case.axes().items())


@dataclass(frozen=True)
class PageLayout:
    """Where a matrix's rows are published (``bn_behaviour.report.pages``): the page of each row under
    ``docs/behaviour/`` and the *family* it is listed in there (one table per family, under its anchor)."""

    #: The page a case is on: a file stem under ``behaviour/`` (no two matrices share a page).
    page: Callable[[Any], str]
    #: A page's title and what it holds.
    page_text: Callable[[str], tuple[str, str]]
    #: The family a case is listed in: the part of the ID its family shares, the family's anchor on its page.
    family: Callable[[Any], str]
    #: A family's heading and intro on its page (from any of its cases).
    family_text: Callable[[Any], tuple[str, str]]
    #: How the index shows a family's IDs: ``{}`` is the family, ``…`` what its rows vary.
    pattern: str
    #: What one table of a page holds.
    tables: str
    #: The order of the rows, hence of the families and pages (None: the report's).
    rank: Optional[Callable[[Any], Any]] = axis_rank


def id_command(target: str, case: Any, layer: str = "genuine") -> str:
    """The ``bn-behaviour observe --id`` line that runs any case alone."""
    extra = "" if layer == "genuine" else f" --layer {layer}"
    return f"bn-behaviour observe --target {target} --id {case.id}{extra}"


@dataclass(frozen=True)
class Matrix:
    #: Its name (a key of ``MATRICES``, of ``Target.unsupported["matrix"]`` and of the report).
    name: str
    #: The case type (``bn_behaviour.cases.Case``).
    case_type: type
    #: The pytest function that runs it (test IDs are ``<test>[<case ID>]``) and its parameter.
    test: str
    argname: str
    #: The ID of the one skipped test collected when the target lacks the matrix.
    skipped_id: str
    #: Report keys: ``<prefix>cases`` (per-target report), ``<prefix>rows`` and ``<prefix>counts`` (merged).
    prefix: str
    #: What the pytest summary calls its cases.
    label: str
    #: Documents: the section heading ("" for the main table) and what its rows are.
    title: str
    intro: str
    #: An example ID (for error messages).
    example: str
    #: Every case of the matrix's type, in a stable order (before any exclusion).
    candidates: Callable[[], Iterable[Any]]
    #: Why a candidate does not run on a target (the stated reason), or None: the one source of
    #: both the cases a target runs (:meth:`cases_for`) and what ``bn-behaviour observe`` refuses.
    excluded: Callable[[Target, Any], Optional[str]]
    #: Run one case on the real framework and judge it: ``observe(target, case, layer_cls) -> Result``.
    observe: Callable[[Target, Any, Any], Result]
    #: Where its rows are published: the page and the family of each row.
    layout: PageLayout
    #: The ``$defs`` entry of ``report/schema.json`` its case records follow: ``layerCase`` (the observation
    #: of one layer) or ``workflowCase`` (facts of its own, always with ``error``).
    record_schema: str = "layerCase"
    #: Every field an observation of this matrix may have (what a known deviation may name).
    observed_fields: frozenset = OBSERVATION_FIELDS
    #: Why a ``--bn-layer`` class is not run here (None: it is).
    layer_note: Optional[str] = None
    #: The observation fields a table cell shows (empty: every fact).
    cell_fields: tuple[str, ...] = ("mode", "moving_stats", "affine")
    #: Documents: more for one cell, from the case and its record.
    annotate: Callable[[Any, dict], str] = _nothing
    #: Documents: the text beside a row's ID (default: the case's description).
    row_text: Callable[[Any], str] = _describe
    #: Documents: the group a case is listed under (None: one table), and a group's heading and intro.
    group: Optional[Callable[[Any], str]] = None
    group_text: Callable[[str], tuple[str, str]] = _no_text
    #: The sort key of a row ID in merged reports and documents (default: the ID).
    row_order: Callable[[str], Any] = _by_id
    #: Why the matrix runs only when asked for (``--bn-matrices``; ``bn-behaviour report`` asks for every
    #: matrix), None: it runs in every pytest run of the plugin.
    opt_in: Optional[str] = None
    #: Why one case of a default matrix runs only when its matrix is asked for by name or by ``all`` (what
    #: it costs), None: it runs whenever the matrix does.
    opt_in_case: Callable[[Any], Optional[str]] = _always

    @property
    def cases_key(self) -> str:
        return f"{self.prefix}cases"

    @property
    def rows_key(self) -> str:
        return f"{self.prefix}rows"

    @property
    def counts_key(self) -> str:
        return f"{self.prefix}counts"

    def cases_for(self, target: Target) -> list:
        """The cases ``target`` runs: every candidate it does not exclude (none where it lacks the matrix)."""
        if target.lacks(self.name):
            return []
        return [c for c in self.candidates() if self.excluded(target, c) is None]
