"""``bn-behaviour report``: run every matrix per target, merge, write and print the table.

Each target runs in its own pytest process (its backend is fixed before any
framework import), over every matrix the package holds (``pytest --pyargs
bn_behaviour``: the test modules are the list); their JSON reports are merged
(:func:`bn_behaviour.report.format.merge`) into ``behaviour.json`` and
rendered as ``behaviour.md`` (one row per case, one column per target) and
``behaviour.html`` (the same grid, coloured and filterable).  The targets
run one worker each, side by side, and the largest last with every core
(:func:`schedule`), so the wall time is not a tail of one target on one core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from .. import matrices
from ..targets import TARGETS, resolve
from . import documents
from .documents import cell
from .format import merge
from .page import html


def schedule(names: list[str], workers: str, cores: int) -> list[tuple[str, int]]:
    """(target, xdist workers) in start order: the others one worker each side by side, then the
    largest alone with every core, so no target runs alone on one core at the end.

    >>> schedule(["a", "b", "c"], "auto", 2)
    [('b', 1), ('c', 1), ('a', 2)]
    >>> schedule(["a"], "auto", 2), schedule(["a", "b"], "3", 8)
    ([('a', 2)], [('a', 3), ('b', 3)])
    """
    if workers != "auto":
        return [(n, int(workers)) for n in names]
    if not names:
        return []
    largest, *rest = names
    return [(n, 1) for n in rest] + [(largest, cores)]


def run_all(plan: list[tuple[str, int]], out: Path, cores: int) -> dict[str, dict]:
    """Run the plan's targets, each starting as soon as its workers' cores are free (in plan order)."""
    free, done = threading.Semaphore(cores), {}

    def one(name: str, n: int) -> None:
        try:
            done[name] = run_target(name, out, str(n))
        finally:
            for _ in range(min(n, cores)):
                free.release()

    threads = []
    for name, n in plan:
        for _ in range(min(n, cores)):
            free.acquire()
        threads.append(threading.Thread(target=one, args=(name, n)))
        threads[-1].start()
    for t in threads:
        t.join()
    return done


def run_target(name: str, out: Path, workers: str) -> dict:
    """Run every matrix for one target in a fresh pytest process; return its report."""
    path = out / f"{name}.json"
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "bn_behaviour", "-q", "-p", "no:cacheprovider",
           "-o", "addopts=", "--bn-target", name, "--bn-report", str(path), "-n", workers]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if not path.exists():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        return {"target": {"name": name}, "error": " | ".join(tail)}
    return json.loads(path.read_text())


def longest_first(names: list[str]) -> list[str]:
    """Targets by how many cases they run, most first.

    >>> longest_first(["tf1", "keras-tensorflow"])
    ['keras-tensorflow', 'tf1']
    """
    size = {n: sum(map(len, matrices.generate(TARGETS[n]).values())) for n in names}
    return sorted(names, key=lambda n: -size[n])


def print_table(merged: dict) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # rich comes with Keras; fall back to Markdown
        print(documents.behaviour_md(merged))
        return
    names = [t["name"] for t in merged["targets"]]
    table = Table(title="BatchNormalization behaviour", show_lines=False)
    table.add_column("scenario")
    for n in names:
        table.add_column(n)
    for row in merged["rows"]:
        table.add_row(row["id"], *[cell(row["cases"].get(n)) for n in names])
    Console(width=200).print(table)


def main(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [resolve(n).name for n in args.target] if args.target else list(TARGETS)
    skipped = {n: TARGETS[n].missing() for n in names if TARGETS[n].missing()}
    todo = [n for n in names if n not in skipped]
    reuse = [n for n in todo if args.reuse and (out / f"{n}.json").exists()]
    cores = os.cpu_count() or 1
    fresh = run_all(schedule(longest_first([n for n in todo if n not in reuse]), args.workers, cores), out, cores)
    reports = [fresh[n] if n in fresh else json.loads((out / f"{n}.json").read_text()) for n in todo]
    merged = merge(reports, skipped)
    (out / "behaviour.json").write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")
    (out / "behaviour.md").write_text(documents.behaviour_md(merged))
    (out / "behaviour.html").write_text(html(merged))
    print_table(merged)
    failed = False
    for t in merged["targets"]:
        parts = [("" if m.name == "main" else f"{m.label}: ") + ", ".join(f"{v} {k}" for k, v in counts.items())
                 for m in matrices.MATRICES.values() if sum((counts := t.get(m.counts_key) or {}).values())]
        print(f"{t['name']}: {'; '.join(parts)}" + (f"; error: {t['error']}" if t.get("error") else ""))
        failed |= bool(t.get("error")) or any((t.get(m.counts_key) or {}).get("fail")
                                              for m in matrices.MATRICES.values())
    for n, why in skipped.items():
        print(f"{n}: skipped, {why}")
    print(f"wrote {out / 'behaviour.json'}, {out / 'behaviour.md'} and {out / 'behaviour.html'}")
    return 1 if failed else 0
