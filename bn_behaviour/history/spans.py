"""Version spans: where along a release line each behaviour of a row starts and ends.

A row's history is one *point* per stored version (in ``versions.toml`` order): a key that says which
behaviour it is and the text that shows it.  Consecutive equal keys form a *span*, named by the first
and last version it covers (the version of the target's implementation, :attr:`Stored.release`).
A row *changes* when its ``observed`` block is not the same on every version that ran it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Optional

from ..command.summary import FAULTS
from ..matrices import MATRICES
from ..report.documents import cell, inline_code
from .store import KEYS, Stored

#: The text of a version that ran without the row (the row is not in that version's matrix).
ABSENT = "not run"
#: The matrix of each report key (its cell fields name what a cell shows).
MATRIX_OF = {m.cases_key: m for m in MATRICES.values()}

Release = tuple[str, str]


@dataclass(frozen=True)
class Point:
    release: Release
    key: str
    text: str


@dataclass(frozen=True)
class Span:
    text: str
    first: Release
    last: Release
    count: int


def spans(points: Iterable[Point]) -> list[Span]:
    """Consecutive points with the same key, as spans.

    >>> ps = [Point(("keras", v), k, k.upper()) for v, k in (("3.0", "a"), ("3.1", "a"), ("3.2", "b"))]
    >>> [(s.text, s.first[1], s.last[1], s.count) for s in spans(ps)]
    [('A', '3.0', '3.1', 2), ('B', '3.2', '3.2', 1)]
    """
    out: list[Span] = []
    last_key = None
    for p in points:
        if out and p.key == last_key:
            out[-1] = Span(out[-1].text, out[-1].first, p.release, out[-1].count + 1)
        else:
            out.append(Span(p.text, p.release, p.release, 1))
        last_key = p.key
    return out


def names(releases: Iterable[Release]) -> list[str]:
    """Versions as a reader reads them: the distribution where it differs from the one before.

    >>> names([("tf_keras", "2.12.0"), ("tf_keras", "2.13.0"), ("tensorflow", "2.14.1")])
    ['tf_keras 2.12.0', '2.13.0', 'tensorflow 2.14.1']
    """
    said: Optional[str] = None
    out = []
    for dist, version in releases:
        out.append(version if dist == said else f"{dist} {version}")
        said = dist
    return out


def describe(items: list[Span]) -> str:
    """Spans as one sentence; a version names its distribution where it differs from the one before.

    >>> print(describe([Span("train / upd / -", ("keras", "3.0.5"), ("keras", "3.15.1"), 8),
    ...                 Span("infer / same / -", ("keras", "3.16.0.dev2"), ("keras", "3.16.0.dev2"), 1)]))
    train / upd / - from keras 3.0.5 to 3.15.1; infer / same / - in 3.16.0.dev2
    """
    said = iter(names(r for s in items for r in (s.first, s.last)[: 1 if s.count == 1 else 2]))
    return "; ".join(f"{s.text} in {next(said)}" if s.count == 1 else f"{s.text} from {next(said)} to {next(said)}"
                     for s in items)


def key_of(sessions: Iterable[Stored], row_id: str) -> Optional[str]:
    """The report key (matrix) of a row ID in the stored sessions."""
    return next((k for s in sessions for k in KEYS if row_id in s.rows.get(k, {})), None)


def _detail(observed: dict, others: list[dict]) -> str:
    """The facts that tell ``observed`` apart from blocks a cell shows the same way.

    >>> _detail({"mode": "training", "trainable_weights": ["beta", "gamma"], "error": None},
    ...         [{"mode": "training", "trainable_weights": [], "error": None}])
    ' (trainable_weights: beta+gamma)'
    >>> _detail({"mode": "training", "trainable_weights": []}, [{"mode": "training", "trainable_weights": ["beta"]}])
    ' (trainable_weights: none)'
    >>> _detail({"error": "ValueError: bad"}, [{"error": "ValueError: worse"}])
    ' (error: `ValueError: bad`)'
    """
    keys = sorted({k for o in others for k in {*o, *observed} if o.get(k) != observed.get(k)})
    if not keys:
        return ""

    def value(k):
        v = observed.get(k)
        if k == "error" and v:
            return inline_code(v, limit=100)
        return "+".join(v) if isinstance(v, list) else str(v)

    return " (" + ", ".join(f"{k}: {value(k) or 'none'}" for k in keys) + ")"


def row_points(sessions: list[Stored], row_id: str, link: bool = True) -> list[Point]:
    """One point per session that ran: the row's cell (with its verdict), or :data:`ABSENT`.

    Distinct ``observed`` blocks that a cell shows alike get the facts that tell them apart."""
    key = key_of(sessions, row_id)
    fields = MATRIX_OF[key].cell_fields if key else ()
    records = [s.record(row_id) for s in sessions]
    blocks = {json.dumps(r["observed"], sort_keys=True): r["observed"] for r in records if r}
    plain = {k: cell({"observed": o, "status": "pass"}, fields=fields) for k, o in blocks.items()}
    points = []
    for s, r in zip(sessions, records):
        if r is None:
            points.append(Point(s.release, ABSENT, ABSENT))
            continue
        k = json.dumps(r["observed"], sort_keys=True)
        same = [blocks[o] for o, text in plain.items() if text == plain[k] and o != k]
        text = cell(r, link=link, fields=fields)
        if same and r["status"] not in FAULTS:
            text = plain[k] + _detail(r["observed"], same) + text[len(plain[k]):]
        points.append(Point(s.release, f"{k} {text}", text))
    return points


def changes(sessions: list[Stored], row_id: str) -> bool:
    """Whether the row's ``observed`` block differs between the sessions that ran it.

    >>> rec = lambda mode: {"observed": {"mode": mode}, "status": "pass"}
    >>> a = Stored("a", "l", "keras-jax", {"keras": "3.0"}, rows={"cases": {"x": rec("training")}})
    >>> b = Stored("b", "l", "keras-jax", {"keras": "3.1"}, rows={"cases": {"x": rec("inference")}})
    >>> changes([a, b], "x"), changes([a, a], "x")
    (True, False)
    """
    return _varies([r["observed"] for s in sessions if (r := s.record(row_id))])


def verdict_changes(sessions: list[Stored], row_id: str) -> bool:
    """Whether the row's verdict (status, known deviation) differs between the sessions that ran it."""
    return _varies([(r["status"], r.get("deviation")) for s in sessions if (r := s.record(row_id))])


def _varies(values: list) -> bool:
    """
    >>> _varies([{"a": 1}, {"a": 1}]), _varies([{"a": 1}, {"a": 2}]), _varies([])
    (False, True, False)
    """
    return any(v != values[0] for v in values[1:])
