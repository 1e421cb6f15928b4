"""What ``bn-behaviour report --reuse`` takes from ``--out``, and what it says when a run stops short.

Each target leaves two files in ``--out``: its report ``<target>.json`` (written whole by the
plugin: ``complete`` says whether every case the run selected finished) and, while it runs, its
journal ``<target>.journal.jsonl`` (:mod:`.journal`: every finished case, appended as it finishes;
removed once the report is complete).  With ``--reuse`` a target is

* **reused** when its report says ``complete: true`` (every case its run selected finished: a report of a
  plain ``pytest`` run, without ``--bn-matrices all``, lacks the opt-in matrices, as ``options.bn_matrices``
  says);
* **resumed** when its journal is there: its pytest process replays the journal's cases and runs
  only the others;
* **refused** when its report is incomplete (or says nothing, being older, or is not whole JSON)
  and no journal is left to finish it from: one line says to run it without ``--reuse``;
* else run afresh.

>>> import tempfile
>>> out = Path(tempfile.mkdtemp())
>>> (out / "a.json").write_text('{"complete": true}'), (out / "b.json").write_text('{"complete": false}')
(18, 19)
>>> (out / "c.json").write_text('{"complete": fal'), (out / "d.journal.jsonl").write_text("")
(16, 0)
>>> [read(out / f"{n}.json")[0] for n in "abcde"]
['complete', 'incomplete', 'not whole', 'absent', 'absent']
>>> decide(out, list("abcde"), reuse=True)
Decision(reused=['a'], resumed=['d'], refused=[('b', 'incomplete'), ('c', 'not whole')])
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..report.reading import INCOMPLETE, completeness
from .journal import observed, path_for

#: Why a report cannot be reused as it is, by its state (:func:`read`).
WHY = {**INCOMPLETE, "not whole": "is not a whole JSON report"}


def read(path: Path) -> tuple[str, Optional[dict]]:
    """The report at ``path`` parsed once: its state (``complete``, ``incomplete``, ``unknown``: no ``complete``
    key, older; ``not whole`` or ``absent``) and its data (None unless a JSON object)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return "absent", None
    except (OSError, ValueError):
        return "not whole", None
    if not isinstance(data, dict):
        return "not whole", None
    return completeness(data), data


@dataclass
class Decision:
    reused: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (target, its report's state)
    #: The reused reports as read (each parsed once; the caller checks them against the schema).
    reports: dict[str, dict] = field(default_factory=dict, repr=False)


def decide(out: Path, names: list[str], reuse: bool) -> Decision:
    """Which targets ``--reuse`` takes as they are, which it resumes from their journal, which it refuses."""
    d = Decision()
    for name in names if reuse else []:
        found, data = read(out / f"{name}.json")
        if found == "complete":
            d.reused.append(name)
            d.reports[name] = data
        elif path_for(out, name).exists():
            d.resumed.append(name)
        elif found != "absent":
            d.refused.append((name, found))
    return d


def command(targets: Optional[list[str]], out: Path, quick: bool, reuse: bool) -> str:
    """The ``bn-behaviour report`` command line for these targets and folder.

    >>> command(["tf1"], Path("D"), quick=True, reuse=True)
    'bn-behaviour report --target tf1 --out D --quick --reuse'
    """
    parts = ["bn-behaviour report", *(f"--target {t}" for t in targets or []), f"--out {out}"]
    return " ".join(parts + ["--quick"] * quick + ["--reuse"] * reuse)


def refusal(refused: list[tuple[str, str]], out: Path, quick: bool) -> str:
    """One line: which reports ``--reuse`` cannot take, and the command that runs their targets again.

    >>> refusal([("tf1", "incomplete")], Path("D"), False)  # doctest: +NORMALIZE_WHITESPACE
    '--reuse: D/tf1.json is incomplete (its run stopped before every case finished) and has no journal to
    finish it from (D/tf1.journal.jsonl): run `bn-behaviour report --target tf1 --out D` without --reuse'
    """
    said = "; ".join(f"{out / (name + '.json')} {WHY[why]} and has no journal to finish it from "
                     f"({path_for(out, name)})" for name, why in refused)
    return f"--reuse: {said}: run `{command([n for n, _ in refused], out, quick, False)}` without --reuse"


def kept(names: list[str], out: Path) -> str:
    """How many finished cases each target's journal keeps.

    >>> kept(["tf1"], Path("/nonexistent"))
    'tf1 0'
    """
    return ", ".join(f"{name} {observed(path_for(out, name))}" for name in names)


def interrupted(names: list[str], out: Path, targets: Optional[list[str]], quick: bool) -> str:
    """The line ``bn-behaviour report`` ends on when Ctrl-C stops it."""
    return (f"bn-behaviour report: interrupted; the cases that finished are kept ({kept(names, out)}), and "
            f"`{command(targets, out, quick, True)}` runs only the others")


def stopped(reports: list[dict], out: Path, targets: Optional[list[str]], quick: bool) -> list[str]:
    """What ``bn-behaviour report`` says instead of an answer when a target's run stopped short."""
    names = [r["target"]["name"] for r in reports]
    lines = [f"{r['target']['name']}: its run stopped before every case finished"
             + (f" ({r['error']})" if r.get("error") else "") for r in reports]
    return lines + [f"Nothing merged: the answer would lack their other cases. The finished ones are kept "
                    f"({kept(names, out)}); `{command(targets, out, quick, True)}` runs only the others."]
