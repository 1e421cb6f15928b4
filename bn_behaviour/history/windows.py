"""Day windows: where ``bn-behaviour bisect`` located each change between two stored versions.

``windows.toml`` (package data, so the page renders without network) holds one ``[[window]]`` per
change: the ``target``, the two stored versions it lies between (``good``, ``bad``), the last daily
build that behaves like ``good`` and the first that does not (``last_good`` / ``first_bad``; empty:
that end itself), the ``rows`` that change there, and, where reading the upstream history of the
window found it, the ``change`` that explains it (a pull request) with a ``note``.  ``bisect --record``
writes them (:func:`record`); ``docs/history.md`` and ``bn-behaviour history ROW`` show them.

>>> w = Window("keras-tensorflow", "3.15.1", "3.16.0.dev2", "3.16.0.dev2026091504", "3.16.0.dev2026091604", ("r",))
>>> w.days
'2026-09-15 to 2026-09-16'
>>> w.text()
'changed between keras-nightly 3.16.0.dev2026091504 (2026-09-15) and keras-nightly 3.16.0.dev2026091604 (2026-09-16)'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional

import tomllib

from ..rules.deviations import unknown_keys
from . import line_of
from .nightly import day, nightly_for

FILE = Path(__file__).with_name("windows.toml")
HEADER = """\
# Day windows: where `bn-behaviour bisect` located each change of docs/history.md between two stored
# versions (bn_behaviour/history/windows.py). One [[window]] per change: the target, the stored versions it
# lies between (good, bad), the last daily build behaving like `good` and the first that does not
# (last_good / first_bad; "" = that end itself), the rows, and where the upstream history of the window
# explains it, the change (a pull request) and a note. Written by `bn-behaviour bisect ... --record`.
"""


@dataclass(frozen=True)
class Window:
    target: str
    good: str
    bad: str
    last_good: str
    first_bad: str
    rows: tuple[str, ...]
    change: str = ""
    note: str = ""
    skipped: tuple[str, ...] = ()  #: builds inside the window that did not run

    @property
    def days(self) -> str:
        since, until = day(self.last_good or self.good), day(self.first_bad or self.bad)
        return f"{since or 'release ' + self.good} to {until or 'release ' + self.bad}"

    def between(self) -> str:
        """The two builds (or ends) the change lies between."""
        nightly = nightly_for(line_of(self.target) or self.target, self.bad)
        dist, released = (nightly.dist, nightly.replaces[0]) if nightly else ("the daily build", "release")
        ends = [f"{dist} {v} ({day(v)})" if day(v) else f"{released} {v}" for v in
                (self.last_good or self.good, self.first_bad or self.bad)]
        return f"between {ends[0]} and {ends[1]}"

    def text(self, link: bool = False) -> str:
        """The window in one phrase (``link``: the change as a Markdown link)."""
        out = f"changed {self.between()}"
        if self.change:
            out += f": [{short(self.change)}]({self.change})" if link else f": {self.change}"
        return out + (f" ({self.note})" if self.note else "")


def short(url: str) -> str:
    """
    >>> short("https://github.com/keras-team/keras/pull/23364")
    'keras#23364'
    >>> short("https://github.com/keras-team/tf-keras/commit/9ea08683acc821229d4b3736770390780d7d3809")
    'tf-keras@9ea08683ac'
    """
    parts = url.rstrip("/").split("/")
    if len(parts) > 4 and parts[-2] == "commit":
        return f"{parts[-3]}@{parts[-1][:10]}"
    return f"{parts[-3]}#{parts[-1]}" if len(parts) > 4 and parts[-2] in ("pull", "issues") else url


KEYS = tuple(f.name for f in fields(Window))


def load(path: Path = FILE) -> list[Window]:
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text())
    typo = unknown_keys(data, ("window",), str(path))
    if typo:
        raise ValueError(typo)
    out = []
    for i, w in enumerate(data.get("window", [])):
        typo = unknown_keys(w, KEYS, f"{path}: [[window]] {i}")
        if typo:
            raise ValueError(typo)
        out.append(Window(**{**w, "rows": tuple(w["rows"]), "skipped": tuple(w.get("skipped", ()))}))
    return out


def for_row(windows: list[Window], target: str, row: str) -> list[Window]:
    return [w for w in windows if w.target == target and row in w.rows]


def dump(windows: list[Window]) -> str:
    """``windows.toml``'s text (the header, then each window; lists one item a line)."""
    parts = [HEADER]
    for w in windows:
        lines = ["[[window]]"]
        for k in KEYS:
            v = getattr(w, k)
            if isinstance(v, tuple):
                if v or k == "rows":
                    lines.append(f"{k} = [\n" + "".join(f"  {json.dumps(x)},\n" for x in v) + "]")
            elif v or k in ("last_good", "first_bad"):
                lines.append(f"{k} = {json.dumps(v)}")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def record(found: list[Window], path: Path = FILE) -> list[Window]:
    """Merge ``found`` into the file: a window of the same target and ends replaces the rows it holds (a cited
    change and note already written for the same builds are kept)."""
    held = load(path)
    out: list[Window] = []
    for w in held:
        same = [f for f in found if (f.target, f.good, f.bad) == (w.target, w.good, w.bad)]
        rows = tuple(r for r in w.rows if not any(r in f.rows for f in same))
        if rows:
            out.append(Window(**{**_fields(w), "rows": rows}))
    for f in found:
        old = next((w for w in held if _same_builds(w, f)), None)
        kept = next((i for i, w in enumerate(out) if _same_builds(w, f)), None)  # rows of the same change: one window
        rows = tuple(sorted({*f.rows, *(out[kept].rows if kept is not None else ())}))
        merged = Window(**{**_fields(f), "rows": rows, "change": f.change or (old.change if old else ""),
                           "note": f.note or (old.note if old else "")})
        if kept is None:
            out.append(merged)
        else:
            out[kept] = merged
    path.write_text(dump(out))
    return out


def _same_builds(a: Window, b: Window) -> bool:
    return (a.target, a.good, a.bad, a.last_good, a.first_bad) == (b.target, b.good, b.bad, b.last_good, b.first_bad)


def _fields(w: Window) -> dict:
    return {k: getattr(w, k) for k in KEYS}


def window_of(windows: list[Window], target: str, row: str, good: str, bad: str) -> Optional[Window]:
    """The window of ``row`` between stored versions ``good`` and ``bad``, if bisected."""
    return next((w for w in for_row(windows, target, row) if (w.good, w.bad) == (good, bad)), None)
