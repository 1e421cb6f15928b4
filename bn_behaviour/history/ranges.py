"""The known deviations' version ranges, checked against what each stored version did.

An entry of ``bn_behaviour/deviations/<target>.toml`` says a behaviour is seen on the versions its
``versions`` range contains (``Deviation.applies``, on the target's implementation version).  The
history measures it: at a stored version, each row that breaks the documented rule (``violated`` not
empty) is *attributed* to the first entry, in file order and whatever its range, whose pattern selects
the row and which describes what was observed (``Deviation.explains``), as the suite picks the first
entry that selects a case.  An entry is *observed* at a version when a row is attributed to it there;
a disagreement is a version where that and the range differ.  (Without the attribution, an entry that
names fewer fields, e.g. only ``affine``, would count as observed wherever a neighbouring entry with
more fields, listed before it, covers the same rows.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from packaging.version import Version as PackagingVersion

from ..command.summary import FAULTS
from ..matrices import vocabulary
from ..rules import deviations as dev
from .spans import MATRIX_OF
from .store import Stored
from .windows import Window


@dataclass(frozen=True)
class Disagreement:
    entry: str
    target: str
    session: str
    version: str
    in_range: bool
    observed: bool
    versions: str  #: the entry's range

    def line(self) -> str:
        """
        >>> Disagreement("d", "keras-jax", "keras-jax-3.0.5", "3.0.5", True, False, ">=3.6").line()
        "d (keras-jax, range '>=3.6'): keras-jax-3.0.5 at 3.0.5: in range, not observed"
        """
        return (f"{self.entry} ({self.target}, range {self.versions!r}): {self.session} at {self.version}: "
                f"{'in range' if self.in_range else 'out of range'}, {'observed' if self.observed else 'not observed'}")


def attributed(entries: list[dev.Deviation], session: Stored, cases: Optional[dict] = None) -> dict[str, list[str]]:
    """Entry ID -> the IDs of the rows that break the rule at this version and that the entry describes
    (its pattern selects them, whatever its range, and no entry before it describes them).  ``cases``
    caches the parsed IDs across sessions."""
    out: dict[str, list[str]] = {}
    cases = {} if cases is None else cases
    for key, rows in session.rows.items():
        case_type = MATRIX_OF[key].case_type
        for row_id, r in rows.items():
            if r["status"] in FAULTS or not r["violated"]:
                continue
            case = cases.get(row_id) or cases.setdefault(row_id, case_type.from_id(row_id))
            entry = next((e for e in entries if e.explains(r["observed"]) and e.matches(case)), None)
            if entry:
                out.setdefault(entry.id, []).append(row_id)
    return out


def _ordered(low: str, build: str, high: str) -> bool:
    """Whether PEP 440 puts ``build`` between the window's ends (a build named for the older release, made after
    it, is before it there: no range can place it).

    >>> _ordered("3.15.1", "3.16.0.dev2026080604", "3.16.0.dev2026102704"), _ordered("3.5.0", "3.5.0.dev1", "3.6.0")
    (True, False)
    """
    return PackagingVersion(low) < PackagingVersion(build) < PackagingVersion(high)


def _ran(session: Stored, cases: dict) -> list:
    """The cases a session ran (its rows, parsed once across sessions)."""
    return [cases.get(i) or cases.setdefault(i, MATRIX_OF[key].case_type.from_id(i))
            for key, rows in session.rows.items() for i in rows]


def disagreements(sessions: list[Stored]) -> list[Disagreement]:
    """Every (entry, stored version) where the entry's range and the measurement disagree."""
    vocab, cases = vocabulary(), {}
    out = []
    for s in sessions:
        if not s.ran:
            continue
        version = s.release[1]
        entries = dev.builtin(s.target, vocab)
        seen = attributed(entries, s, cases)
        ran = _ran(s, cases) if s.suite.get("rows") == "quick" else None
        for entry in entries:
            if ran is not None and entry.id not in seen and not any(entry.matches(c) for c in ran):
                continue  # a session of the quick rows ran none of the entry's rows: it says nothing about it
            if entry.applies(version) != (entry.id in seen):
                out.append(Disagreement(entry.id, s.target, s.session, version, entry.applies(version),
                                        entry.id in seen, entry.versions))
    return out


def window_disagreements(sessions: list[Stored], found: list[Window]) -> list[Disagreement]:
    """The day windows (``windows.toml``) against the ranges: a row behaves at ``last_good`` as at the window's
    older version and at ``first_bad`` unlike it, so the entry its older observation is attributed to must
    cover ``last_good``, and, where the newer version's observation is another entry's or none, not cover
    ``first_bad``, and the newer entry cover ``first_bad``: a range ends on the build that made the change.
    Only ranges written in daily-build versions are checked, at builds PEP 440 puts between the window's
    ends (:func:`_ordered`)."""
    vocab, cases, out = vocabulary(), {}, []
    by_release = {(s.target, s.release[1]): s for s in sessions if s.ran}
    for w in found:
        ends = [by_release.get((w.target, v)) for v in (w.good, w.bad)]
        if None in ends:
            continue
        entries = dev.builtin(w.target, vocab)
        old, new = (attributed(entries, s, cases) for s in ends)
        for row in w.rows:
            named = [next((e for e in entries if row in side.get(e.id, ())), None) for side in (old, new)]
            if named[0] is named[1]:
                continue
            # The entry that vanished covers its last build and not the first without it; the one that came
            # covers its first build (an older build may have hidden it behind another error).
            checks = [(named[0], w.last_good, True), (named[0], w.first_bad, False), (named[1], w.first_bad, True)]
            for entry, build, expected in checks:
                # Only a range written in daily-build versions speaks of builds: PEP 440 puts a build made after
                # a release but named for it (3.7.0.dev2025010103, after 3.7.0) before that release.
                if entry is None or ".dev" not in entry.versions or not build or not _ordered(w.good, build, w.bad):
                    continue
                if entry.applies(build) != expected:
                    found_here = Disagreement(entry.id, w.target, f"build of window {w.good}..{w.bad}", build,
                                              entry.applies(build), expected, entry.versions)
                    if found_here not in out:
                        out.append(found_here)
    return out
