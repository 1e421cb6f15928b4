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

A run stopped short loses only the cases that were running (:mod:`.resume`): each target's
process appends every finished case to its journal (``--bn-journal``, :mod:`.journal`) and
writes its report whole, saying whether it is ``complete``; ``--reuse`` takes complete reports,
resumes a target from its journal (running only the cases it lacks) and refuses an incomplete
report it cannot finish.  An incomplete report is never merged: on Ctrl-C the command waits for
the targets' processes to write what they observed (a second Ctrl-C ends them) and says how to
continue; nothing is merged either when a target's process stopped short on its own.

``--quick`` runs only the rows the answer needs (:mod:`.quick`: every recipe's
row and one row per documented statement, through ``--bn-ids``), into its own
folder (``quick``) unless ``--out`` says otherwise: under a minute for every
installed target instead of about fifteen (866 s on this machine, 2026-12-08).
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
from ..report import documents, reading
from ..report.format import merge
from ..report.page import html
from ..targets import TARGETS, environment, resolve
from . import ending, plan, quick, resume
from .journal import observed, path_for, write_whole
from .progress import Monitor, Track, clock

#: Where ``--quick`` writes when ``--out`` is not given (never over a full report's folder).
QUICK_OUT = "quick"


class ReuseError(ValueError):
    """``--reuse`` met a report it cannot take (a one-line usage error)."""


def run_all(order: list[tuple[str, int]], out: Path, cores: int, tracks: dict[str, Track],
            ids: Optional[Path] = None, resumed: frozenset[str] = frozenset()) -> dict[str, dict]:
    """Run the plan's targets, each starting as soon as its workers' cores are free (in plan order)."""
    free, done, procs, stop = threading.Semaphore(cores), {}, {}, threading.Event()

    def one(name: str, n: int, ended: threading.Event) -> None:
        track = tracks[name]
        try:
            if not stop.is_set():
                track.start(time.monotonic())
                done[name] = run_target(name, out, str(n), track.path, ids, name in resumed, procs)
        finally:
            rep = done.get(name, {"error": "no report"})
            track.end(time.monotonic(), rep.get("error") or ("stopped short" if rep.get("complete") is False else None))
            for _ in range(min(n, cores)):
                free.release()
            ended.set()

    threads: list[threading.Event] = []
    try:
        for name, n in order:
            for _ in range(min(n, cores)):
                free.acquire()
            threads.append(threading.Event())
            threading.Thread(target=one, args=(name, n, threads[-1])).start()
        _wait(threads)
    except KeyboardInterrupt:
        stop.set()
        try:  # the targets' processes (in this process group) had the Ctrl-C too: let them write what they saw
            _wait(threads)
        except KeyboardInterrupt:  # a second one: end them (their journals keep every finished case)
            for proc in list(procs.values()):
                if proc.poll() is None:
                    proc.kill()
            _wait(threads)
        raise
    return done


def _wait(ended: list[threading.Event]) -> None:
    """Until every thread said it ended (not ``Thread.join``: before Python 3.13 a join that Ctrl-C interrupts
    marks a running thread as stopped, so the next join returns at once)."""
    for e in ended:
        while not e.wait(0.5):
            pass


def run_target(name: str, out: Path, workers: str, progress: Optional[Path] = None,
               ids: Optional[Path] = None, resumed: bool = False,
               procs: Optional[dict[str, subprocess.Popen]] = None) -> dict:
    """Run every matrix (or the cases ``ids`` lists) for one target in a fresh pytest process; return its report.
    ``resumed``: keep the target's journal, whose cases the process replays instead of running them."""
    path, journal = out / f"{name}.json", path_for(out, name)
    path.unlink(missing_ok=True)  # a report left by an earlier run is not this run's
    if not resumed:
        journal.unlink(missing_ok=True)  # nor is a journal
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "bn_behaviour", "-q", "-p", "no:cacheprovider",
           "-o", "addopts=", "--bn-target", name, "--bn-report", str(path), "--bn-journal", str(journal),
           "--bn-matrices", "all",  # the opt-in matrices too: the answer covers every matrix
           # One worker runs in the pytest process itself (its supervisor still isolates a crash): no
           # second interpreter importing the framework, no round trip per case.
           "-n", "0" if workers == "1" else workers]
    cmd += ["--bn-progress", str(progress)] if progress else []
    cmd += ["--bn-ids", str(ids)] if ids else []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment.for_child())
    if procs is not None:
        procs[name] = proc
    stdout, stderr = proc.communicate()
    found, report = resume.read(path)
    if found not in ("complete", "incomplete"):
        tail = " | ".join((stdout + stderr).strip().splitlines()[-3:])
        return {"target": {"name": name}, "error": tail, **({"complete": False} if observed(journal) else {})}
    if found == "complete":
        journal.unlink(missing_ok=True)  # every case is in the report
    return report


def case_count(name: str, ids: Optional[set[str]] = None) -> int:
    """How many cases the target runs (of ``ids`` only, when given).

    >>> case_count("tf1"), case_count("tf1", {"layer-frozen=none-when=before_compile-path=call-training=none", "x"})
    (96, 1)
    """
    found = matrices.generate(TARGETS[name]).values()
    return sum(len(cases) if ids is None else sum(c.id in ids for c in cases) for cases in found)


def heading(order: list[tuple[str, int]], cost: dict[str, plan.Work], cores: int, kind: str,
            kept: Optional[dict[str, int]] = None) -> str:
    """The first progress line: what runs, on how many cores, for about how long (and what is resumed).

    >>> heading([("a", 1), ("b", 1)], {"a": plan.Work(10.0, 90.0), "b": plan.Work(10.0, 40.0)}, 2, "full")
    'bn-behaviour report: 2 targets (a, b) on 2 cores, about 1:40 in all'
    >>> heading([("a", 2)], {"a": plan.Work(10.0, 20.0)}, 2, "full", {"a": 71})
    'bn-behaviour report: 1 target (a) on 2 cores, about 0:22 in all; resuming a (71 cases kept)'
    """
    names = ", ".join(n for n, _ in order)
    about = clock(plan.simulate(order, cost, cores))
    what = "the quick answer's rows of " if kind == "quick" else ""
    resuming = "; resuming " + ", ".join(f"{n} ({k} cases kept)" for n, k in kept.items()) if kept else ""
    return (f"bn-behaviour report: {what}{len(order)} target{'s' * (len(order) > 1)} ({names}) on {cores} "
            f"core{'s' * (cores > 1)}, about {about} in all{resuming}")


def fresh_runs(names: list[str], out: Path, workers: str, kind: str, ids: Optional[list[str]],
               resumed: frozenset[str] = frozenset()) -> dict[str, dict]:
    """Run ``names`` (``resumed`` from their journals) with progress on stderr; record how long each complete
    fresh run took; their reports by name."""
    if not names:
        return {}
    selected = set(ids) if ids is not None else None
    totals = {n: case_count(n, selected) for n in names}
    kept = {n: min(observed(path_for(out, n)), totals[n]) for n in names if n in resumed}
    before = plan.recorded(out, kind)
    cost = {n: plan.estimate(TARGETS[n], totals[n] - kept.get(n, 0), before.get(n)) for n in names}
    cores = os.cpu_count() or 1
    order = plan.schedule(cost, workers, cores)
    with tempfile.TemporaryDirectory(prefix="bn-behaviour-report-") as tmp:
        ids_file = None
        if ids is not None:
            ids_file = Path(tmp) / "ids.txt"
            ids_file.write_text("".join(i + "\n" for i in ids))
        tracks = {n: Track(n, totals[n], Path(tmp) / f"{n}.progress", plan.wall(cost[n], w), w) for n, w in order}
        with Monitor(list(tracks.values()), heading(order, cost, cores, kind, kept)):
            reports = run_all(order, out, cores, tracks, ids_file, resumed)
    plan.record(out, kind, {n: {"seconds": round(t.elapsed(0.0), 1), "start": round(t.first[0] - t.started, 1),
                                "workers": t.workers, "cases": t.total}
                            for n, t in tracks.items() if t.ended is not None and not t.error and t.first
                            and n not in kept and reports.get(n, {}).get("complete")})
    return reports


def main(args) -> int:
    kind = "quick" if getattr(args, "quick", False) else "full"
    out = Path(args.out or (QUICK_OUT if kind == "quick" else "."))
    out.mkdir(parents=True, exist_ok=True)
    names = [resolve(n).name for n in args.target] if args.target else list(TARGETS)
    skipped = {n: TARGETS[n].missing() for n in names if TARGETS[n].missing()}
    todo = [n for n in names if n not in skipped]
    decided = resume.decide(out, todo, args.reuse)
    if decided.refused:
        raise ReuseError(resume.refusal(decided.refused, out, kind == "quick"))
    ids = quick.selection() if kind == "quick" else None
    for n, data in decided.reports.items():  # before any run
        reading.check(data, str(out / f"{n}.json"), reading.PER_TARGET)
    reused = decided.reports
    run = [n for n in todo if n not in reused]
    try:
        fresh = fresh_runs(run, out, args.workers, kind, ids, frozenset(decided.resumed))
    except KeyboardInterrupt:
        print(resume.interrupted(run, out, args.target, kind == "quick"), file=sys.stderr)
        return 130
    reports = [fresh[n] if n in fresh else reused[n] for n in todo]
    short = [r for r in reports if r.get("complete") is False]
    if short:
        print(*resume.stopped(short, out, args.target, kind == "quick"), sep="\n")
        return 1
    merged = merge(reports, skipped)
    write_whole(out / "behaviour.json", json.dumps(merged, indent=1, sort_keys=True) + "\n")
    write_whole(out / "behaviour.md", documents.behaviour_md(merged))
    write_whole(out / "behaviour.html", html(merged))
    if getattr(args, "full", False):
        ending.full_table(merged, sys.stdout)
    note = (f"Quick answer: {len(ids)} rows (every recipe's, one per documented statement); every row: "
            f"bn-behaviour report" if ids is not None else "")
    ending.show(merged, out, sys.stdout, note)
    return 1 if ending.failed(merged) else 0
