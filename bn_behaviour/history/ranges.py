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

from ..command.summary import FAULTS
from ..matrices import vocabulary
from ..rules import deviations as dev
from .spans import MATRIX_OF
from .store import Stored


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
        for entry in entries:
            if entry.applies(version) != (entry.id in seen):
                out.append(Disagreement(entry.id, s.target, s.session, version, entry.applies(version),
                                        entry.id in seen, entry.versions))
    return out
