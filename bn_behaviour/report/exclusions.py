"""``docs/exclusions.md``: every reason a case is not run, as the code states it.

For each matrix of the registry, every candidate case is asked why each target
does not run it (``Matrix.excluded``: the generator's own reason, then the
target's ``unsupported`` entry); the document lists each distinct reason with
how many candidates it excludes on each target and one example ID.  It reads
the code, not a report, so it cannot describe a target as it was: the page is
rendered by ``bn-behaviour docs`` and checked by ``docs --check`` like the others.

>>> from bn_behaviour.matrices import MATRICES
>>> rows = reasons(MATRICES["main"], ["tf1"])
>>> any("no compile()/fit()" in r for r in rows)
True
"""

from __future__ import annotations

from ..matrices import MATRICES
from ..matrices.matrix import Matrix
from ..targets import TARGETS

INTRO = ("Why each candidate case is not run: the matrices' generators (a combination that asks nothing, or"
         " nothing new) and each target's `unsupported` entries (`bn_behaviour/targets/__init__.py`: what the"
         " implementation lacks or repeats). Rendered from the code by `bn-behaviour docs`; a number is how many"
         " candidates the reason excludes on that target (the first reason that applies counts), the example"
         " is one of them.")


def reasons(matrix: Matrix, targets: list[str]) -> dict[str, dict]:
    """Reason -> {"counts": {target: n}, "example": a case ID}, in the order first met."""
    out: dict[str, dict] = {}
    for case in matrix.candidates():
        for name in targets:
            why = matrix.excluded(TARGETS[name], case) if not TARGETS[name].lacks(matrix.name) else None
            if why:
                entry = out.setdefault(why, {"counts": {}, "example": case.id})
                entry["counts"][name] = entry["counts"].get(name, 0) + 1
    return out


def _lacks(targets: list[str]) -> list[str]:
    rows = [f"| {m.name} | {t} | {TARGETS[t].lacks(m.name)} |" for m in MATRICES.values() for t in targets
            if TARGETS[t].lacks(m.name)]
    return ["## Matrices a target does not run", "", "| matrix | target | reason |", "|---|---|---|", *rows, ""]


def exclusions_md(merged: dict) -> str:
    """The document; ``merged`` only names the targets (every registered one when it has none)."""
    targets = [t["name"] for t in merged.get("targets", [])] or list(TARGETS)
    lines = ["# Exclusions", "", INTRO, "", *_lacks(targets)]
    for matrix in MATRICES.values():
        rows = reasons(matrix, targets)
        lines += [f"## {matrix.name} matrix", "", f"| reason | {' | '.join(targets)} | example |",
                  "|---|" + "---:|" * len(targets) + "---|"]
        for why, entry in rows.items():
            counts = " | ".join(str(entry["counts"].get(t, "")) for t in targets)
            lines.append(f"| {why.replace('|', '/')} | {counts} | `{entry['example']}` |")
        lines.append("")
    return "\n".join(lines)
