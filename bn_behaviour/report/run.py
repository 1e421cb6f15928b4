"""``bn-behaviour report``: run every matrix per target, merge, write, and end on the answer.

Each target runs in its own pytest process (its backend is fixed before any
framework import), over every matrix the package holds (``pytest --pyargs
bn_behaviour``: the test modules are the list); their JSON reports are merged
(:func:`bn_behaviour.report.format.merge`) into ``behaviour.json`` and
rendered as ``behaviour.md`` (one row per case, one column per target) and
``behaviour.html`` (the same grid, coloured and filterable).  The targets
start longest first as cores free up (:mod:`.plan`); while they run, stderr
shows each one's cases done, elapsed and left (:mod:`.progress`, fed by the
plugin's ``--bn-progress``).  The command ends on the answer (:mod:`.ending`):
versions and counts, the recipe table, how many rows the implementations
disagree on, the files written; ``--full`` prints every row first.

``--quick`` runs only the rows the answer needs (:mod:`.quick`: every recipe's
row and one row per documented statement, through ``--bn-ids``), into its own
folder (``quick``) unless ``--out`` says otherwise: under a minute for every
installed target instead of about seven.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

from .. import matrices
from ..targets import TARGETS, environment, resolve
from . import documents, ending, plan, quick, reading
from .format import merge
from .page import html
from .progress import Monitor, Track, clock

#: Where ``--quick`` writes when ``--out`` is not given (never over a full report's folder).
QUICK_OUT = "quick"


def run_all(order: list[tuple[str, int]], out: Path, cores: int, tracks: dict[str, Track],
            ids: Optional[Path] = None) -> dict[str, dict]:
    """Run the plan's targets, each starting as soon as its workers' cores are free (in plan order)."""
    free, done = threading.Semaphore(cores), {}

    def one(name: str, n: int) -> None:
        track = tracks[name]
        try:
            track.start(time.monotonic())
            done[name] = run_target(name, out, str(n), track.path, ids)
        finally:
            track.end(time.monotonic(), done.get(name, {}).get("error") or (None if name in done else "no report"))
            for _ in range(min(n, cores)):
                free.release()

    threads = []
    for name, n in order:
        for _ in range(min(n, cores)):
            free.acquire()
        threads.append(threading.Thread(target=one, args=(name, n)))
        threads[-1].start()
    for t in threads:
        t.join()
    return done


def run_target(name: str, out: Path, workers: str, progress: Optional[Path] = None,
               ids: Optional[Path] = None) -> dict:
    """Run every matrix (or the cases ``ids`` lists) for one target in a fresh pytest process; return its report."""
    path = out / f"{name}.json"
    path.unlink(missing_ok=True)  # a report left by an earlier run is not this run's
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "bn_behaviour", "-q", "-p", "no:cacheprovider",
           "-o", "addopts=", "--bn-target", name, "--bn-report", str(path),
           # One worker runs in the pytest process itself (its supervisor still isolates a crash): no
           # second interpreter importing the framework, no round trip per case.
           "-n", "0" if workers == "1" else workers]
    cmd += ["--bn-progress", str(progress)] if progress else []
    cmd += ["--bn-ids", str(ids)] if ids else []
    proc = subprocess.run(cmd, capture_output=True, text=True, env=environment.for_child())
    if not path.exists():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        return {"target": {"name": name}, "error": " | ".join(tail)}
    return json.loads(path.read_text())


def case_count(name: str, ids: Optional[set[str]] = None) -> int:
    """How many cases the target runs (of ``ids`` only, when given).

    >>> case_count("tf1"), case_count("tf1", {"layer-frozen=none-when=before_compile-path=call-training=none", "x"})
    (96, 1)
    """
    found = matrices.generate(TARGETS[name]).values()
    return sum(len(cases) if ids is None else sum(c.id in ids for c in cases) for cases in found)


def heading(order: list[tuple[str, int]], cost: dict[str, plan.Work], cores: int, kind: str) -> str:
    """The first progress line: what runs, on how many cores, for about how long.

    >>> heading([("a", 1), ("b", 1)], {"a": plan.Work(10.0, 90.0), "b": plan.Work(10.0, 40.0)}, 2, "full")
    'bn-behaviour report: 2 targets (a, b) on 2 cores, about 1:40 in all'
    """
    names = ", ".join(n for n, _ in order)
    about = clock(plan.simulate(order, cost, cores))
    what = "the quick answer's rows of " if kind == "quick" else ""
    return (f"bn-behaviour report: {what}{len(order)} target{'s' * (len(order) > 1)} ({names}) on {cores} "
            f"core{'s' * (cores > 1)}, about {about} in all")


def fresh_runs(names: list[str], out: Path, workers: str, kind: str, ids: Optional[list[str]]) -> dict[str, dict]:
    """Run ``names`` with progress on stderr; record how long each took; their reports by name."""
    if not names:
        return {}
    selected = set(ids) if ids is not None else None
    totals = {n: case_count(n, selected) for n in names}
    before = plan.recorded(out, kind)
    cost = {n: plan.estimate(TARGETS[n], totals[n], before.get(n)) for n in names}
    cores = os.cpu_count() or 1
    order = plan.schedule(cost, workers, cores)
    with tempfile.TemporaryDirectory(prefix="bn-behaviour-report-") as tmp:
        ids_file = None
        if ids is not None:
            ids_file = Path(tmp) / "ids.txt"
            ids_file.write_text("".join(i + "\n" for i in ids))
        tracks = {n: Track(n, totals[n], Path(tmp) / f"{n}.progress", plan.wall(cost[n], w), w) for n, w in order}
        with Monitor(list(tracks.values()), heading(order, cost, cores, kind)):
            reports = run_all(order, out, cores, tracks, ids_file)
    plan.record(out, kind, {n: {"seconds": round(t.elapsed(0.0), 1), "start": round(t.first[0] - t.started, 1),
                                "workers": t.workers, "cases": t.total}
                            for n, t in tracks.items() if t.ended is not None and not t.error and t.first})
    return reports


def main(args) -> int:
    kind = "quick" if getattr(args, "quick", False) else "full"
    out = Path(args.out or (QUICK_OUT if kind == "quick" else "."))
    out.mkdir(parents=True, exist_ok=True)
    names = [resolve(n).name for n in args.target] if args.target else list(TARGETS)
    skipped = {n: TARGETS[n].missing() for n in names if TARGETS[n].missing()}
    todo = [n for n in names if n not in skipped]
    reuse = [n for n in todo if args.reuse and (out / f"{n}.json").exists()]
    ids = quick.selection() if kind == "quick" else None
    reused = {n: reading.load(out / f"{n}.json", reading.PER_TARGET) for n in reuse}  # refused before any run
    fresh = fresh_runs([n for n in todo if n not in reuse], out, args.workers, kind, ids)
    reports = [fresh[n] if n in fresh else reused[n] for n in todo]
    merged = merge(reports, skipped)
    (out / "behaviour.json").write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")
    (out / "behaviour.md").write_text(documents.behaviour_md(merged))
    (out / "behaviour.html").write_text(html(merged))
    if getattr(args, "full", False):
        ending.full_table(merged, sys.stdout)
    note = (f"Quick answer: {len(ids)} rows (every recipe's, one per documented statement); every row: "
            f"bn-behaviour report" if ids is not None else "")
    ending.show(merged, out, sys.stdout, note)
    return 1 if ending.failed(merged) else 0
