"""Where the implementations disagree: rows whose cells differ between the targets that have them.

A row's cell on a target is what the table shows of its observation (:func:`.documents.cell`,
without the status marks: a known deviation and a pass that observe the same agree); a row
counts when at least two targets have it.  ``bn-behaviour report`` ends on how many rows
disagree per matrix; ``bn-behaviour disagree behaviour.json`` lists them, each with the
targets grouped by what they showed.

>>> ok = {"mode": "inference", "moving_stats": "unchanged", "affine": "n/a", "error": None}
>>> row = {"id": "r", "cases": {"a": {"status": "pass", "observed": ok},
...                            "b": {"status": "deviation", "observed": dict(ok, mode="training")}}}
>>> merged = {"targets": [{"name": "a"}, {"name": "b"}], "rows": [row, {"id": "s", "cases": {"a": row["cases"]["a"]}}]}
>>> [r["id"] for r in rows(merged)["main"]], counts(merged)["main"]
(['r'], (1, 1))
>>> grouped(row, MATRICES["main"])
'infer / same / - on a; train / same / - on b'
"""

from __future__ import annotations

from ..command.summary import FAULTS
from ..matrices import MATRICES
from ..matrices.matrix import Matrix
from . import reading
from .documents import cell


def shown(case: dict, matrix: Matrix) -> str:
    """What the table shows of a case's observation (a fault: its status)."""
    if case["status"] in FAULTS:
        return case["status"]
    return cell(dict(case, status="pass"), fields=matrix.cell_fields)


def differs(row: dict, matrix: Matrix) -> bool:
    return len({shown(c, matrix) for c in row["cases"].values()}) > 1


def rows(merged: dict) -> dict[str, list[dict]]:
    """Matrix name -> its rows whose targets disagree, in report order."""
    return {name: [r for r in merged.get(m.rows_key, []) if differs(r, m)] for name, m in MATRICES.items()}


def counts(merged: dict) -> dict[str, tuple[int, int]]:
    """Matrix name -> (rows that disagree, rows at least two targets have), for matrices with such rows."""
    out = {}
    for name, m in MATRICES.items():
        shared = [r for r in merged.get(m.rows_key, []) if len(r["cases"]) > 1]
        if shared:
            out[name] = (sum(differs(r, m) for r in shared), len(shared))
    return out


def grouped(row: dict, matrix: Matrix) -> str:
    """The row's cells, each with the targets that showed it."""
    by: dict[str, list[str]] = {}
    for target, case in row["cases"].items():
        by.setdefault(shown(case, matrix), []).append(target)
    return "; ".join(f"{text} on {', '.join(names)}" for text, names in by.items())


def text_lines(merged: dict, only: str = "") -> list[str]:
    """Plain text: per matrix a heading, then one line per row (its ID: what each group of targets showed)."""
    lines = []
    for name, found in rows(merged).items():
        if found and (not only or name == only):
            m = MATRICES[name]
            lines += [f"{m.title or 'main matrix'}: {len(found)} rows", *(f"{r['id']}: {grouped(r, m)}" for r in found)]
    return lines


def markdown_lines(merged: dict, only: str = "") -> list[str]:
    """Markdown: per matrix a heading and a table, one column per target (``behaviour.md``'s cells)."""
    names = [t["name"] for t in merged["targets"]]
    lines = []
    for name, found in rows(merged).items():
        if found and (not only or name == only):
            m = MATRICES[name]
            lines += [f"## {m.title or 'Main matrix'}: {len(found)} rows", "", "| row | " + " | ".join(names) + " |",
                      "|---|" + "---|" * len(names)]
            lines += ["| " + " | ".join([r["id"], *(shown(r["cases"][n], m) if n in r["cases"] else "" for n in names)])
                      + " |" for r in found]
            lines.append("")
    return lines


def load(source: str) -> dict:
    """A merged report; ``ValueError`` naming what is wrong otherwise."""
    return reading.load(source, reading.MERGED)


def main(args) -> int:
    """``bn-behaviour disagree behaviour.json [--matrix M] [--markdown]``: print the rows; exit 0."""
    merged = load(args.source)
    lines = (markdown_lines if args.markdown else text_lines)(merged, args.matrix or "")
    print("\n".join(lines) if lines else "the targets agree on every row they share")
    return 0
