"""How ``bn-behaviour report`` ends: the answer, not the table.

Per target its versions and counts; the at-a-glance recipe table (:mod:`.glance`); how many
rows the implementations disagree on, per matrix, with the command that lists them
(:mod:`.disagreements`); where the files were written.  On a terminal the recipe table is
rich's; otherwise (CI's ``> table.txt``) plain text.  The whole table of every row is printed
only on request (``--full``, :func:`full_table`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from ..matrices import MATRICES
from ..report import disagreements, documents, glance
from ..report.documents import cell

#: The recipe table's heading (the same rows open ``docs/fine-tuning.md``).
HEADING = "What each way of freezing BatchNormalization does (fine-tuning.md tells each one):"


def target_lines(merged: dict) -> list[str]:
    """Per target: its versions, then each matrix's counts (and its error); then the skipped targets.

    >>> print(*target_lines({"targets": [{"name": "t", "versions": {"keras": "3.1"}, "counts": {"pass": 2},
    ...                                   "fused_counts": {"pass": 0}}], "skipped_targets": {"u": "pip install u"}}),
    ...       sep="\\n")
    t (keras 3.1): 2 pass
    u: skipped, pip install u
    """
    lines = []
    for t in merged["targets"]:
        parts = [("" if m.name == "main" else f"{m.label}: ") + ", ".join(f"{v} {k}" for k, v in counts.items())
                 for m in MATRICES.values() if sum((counts := t.get(m.counts_key) or {}).values())]
        versions = ", ".join(f"{k} {v}" for k, v in (t.get("versions") or {}).items())
        lines.append(f"{t['name']}{f' ({versions})' if versions else ''}: {'; '.join(parts)}"
                     + (f"; error: {t['error']}" if t.get("error") else ""))
    return lines + [f"{n}: skipped, {why}" for n, why in (merged.get("skipped_targets") or {}).items()]


def failed(merged: dict) -> bool:
    """Whether a target's run broke (an error) or a case failed."""
    return any(t.get("error") or any((t.get(m.counts_key) or {}).get("fail") for m in MATRICES.values())
               for t in merged["targets"])


def glance_lines(merged: dict) -> list[str]:
    """The recipe table as aligned plain text: the recipe's anchor, then one word per target ("-": not about it).

    >>> print(*glance_lines({"targets": [{"name": "tf1", "rule": "tf1"}], "rows": []}), sep="\\n")
    recipe  tf1
    """
    names = [t["name"] for t in merged["targets"]]
    table = [["recipe", *names]] + [[r.id, *(w[n] or "-" for n in names)] for r, w in glance.rows(merged)]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  ".join(text.ljust(w) for text, w in zip(row, widths)).rstrip() for row in table]


def glance_table(merged: dict):
    """The recipe table for rich: the recipe's title, one word per target ("works" green, else red)."""
    from rich.table import Table

    table = Table(show_lines=False)
    table.add_column("recipe")
    names = [t["name"] for t in merged["targets"]]
    for n in names:
        table.add_column(n)
    for recipe, w in glance.rows(merged):
        table.add_row(_plain(recipe.title), *(_STYLE.get(w[n], "[bold red]{}[/]").format(_plain(w[n])) for n in names))
    return table


#: rich markup of a word of the recipe table (any other word: a failure, in bold red).
_STYLE = {"works": "[green]{}[/]", "": "[dim]-[/]{}"}


def _plain(text: str) -> str:
    """Text shown as it is by rich (its markup opens with ``[``)."""
    return text.replace("[", "\\[")


def disagreement_lines(merged: dict, source: Path) -> list[str]:
    """How many shared rows the targets disagree on, per matrix, and the command that lists them.

    >>> disagreement_lines({"targets": [], "rows": []}, Path("out/behaviour.json"))
    ['No row is shared by two targets: nothing to compare.']
    """
    found = disagreements.counts(merged)
    if not found:
        return ["No row is shared by two targets: nothing to compare."]
    total = sum(n for n, _ in found.values())
    per = ", ".join(f"{name} {n} of {shared}" for name, (n, shared) in found.items())
    if not total:
        return [f"The implementations agree on every row they share ({per})."]
    return [f"The implementations disagree on {total} rows ({per}); list them with:",
            f"  bn-behaviour disagree {source}"]


def written_line(out: Path) -> str:
    return f"wrote {out / 'behaviour.json'}, {out / 'behaviour.md'} and {out / 'behaviour.html'}"


def show(merged: dict, out: Path, stream: TextIO, note: str = "") -> None:
    """Print the ending on ``stream``: rich's recipe table on a terminal, plain text otherwise."""
    console = None
    if stream.isatty():
        try:
            from rich.console import Console

            console = Console(file=stream)
        except ImportError:  # rich comes with Keras
            console = None

    def say(*lines: str) -> None:
        for line in lines:
            if console is None:
                stream.write(line + "\n")
            else:
                console.print(line, markup=False, highlight=False)

    say(*target_lines(merged), "", HEADING)
    if console is None:
        say(*glance_lines(merged))
    else:
        console.print(glance_table(merged))
    say("", *disagreement_lines(merged, out / "behaviour.json"), *([note] if note else []), written_line(out))
    stream.flush()


def full_table(merged: dict, stream: TextIO) -> None:
    """Every row of every target (``--full``): rich's table, or Markdown without rich."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # rich comes with Keras; fall back to Markdown
        stream.write(documents.behaviour_md(merged))
        return
    names = [t["name"] for t in merged["targets"]]
    table = Table(title="BatchNormalization behaviour", show_lines=False)
    table.add_column("scenario")
    for n in names:
        table.add_column(n)
    for row in merged["rows"]:
        table.add_row(row["id"], *[cell(row["cases"].get(n)) for n in names])
    Console(file=stream, width=None if stream.isatty() else 200).print(table)
