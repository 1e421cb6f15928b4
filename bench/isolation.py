"""Benchmark: a report's single worker under xdist (``-n 1``) against the in-process supervisor.

    python bench/isolation.py keras-torch tf1                 # every matrix case, 3 runs of each mode
    python bench/isolation.py tf1 --cases quick --repeat 5    # the quick answer's rows only

``bn-behaviour report`` runs a target that gets one core in the pytest process itself
(``bn_behaviour/command/run.py``: ``-n 0``), where ``bn_behaviour.isolation.supervisor`` forks once and
resumes the run after a crash.  Running those targets with ``-n 1`` instead (xdist replaces a
crashed worker) would let the supervisor go; issue 22 deletes it if ``-n 1`` costs under 5%.
For each target this times the same cases, in the report's own pytest command, with

* ``-n 1``: one xdist worker (a second interpreter, a round trip per case);
* ``-p no:xdist``: no xdist at all, the supervisor's path (``-n 0`` takes it too);

alternating the modes (ABBA order, so neither always runs first on a warm disk cache), and
prints each mode's runs, their medians and the ratio ``-n 1 / supervisor``; it checks that both
modes ran the same cases with the same statuses.  The wall time includes the framework's import
(in the worker under ``-n 1``), as a report pays it.  On a shared machine, run it when idle.
Writes the results as JSON to ``--out`` when given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = {"n1": ["-n", "1"], "supervisor": ["-p", "no:xdist"]}
#: The ratio under which the issue deletes the supervisor.
THRESHOLD = 1.05


def case_ids(target: str, cases: str, sample: int) -> list[str] | None:
    """The IDs to run (None: every matrix case, as ``bn-behaviour report`` runs), every ``sample``-th."""
    from bn_behaviour import matrices
    from bn_behaviour.command import quick
    from bn_behaviour.targets import require

    if cases == "all" and sample == 1:
        return None
    found = matrices.generate(require(target))
    ids = [c.id for name, cs in found.items() for c in cs if cases == "all" or name == "main"]
    if cases == "quick":
        wanted = set(quick.selection())
        ids = [i for i in ids if i in wanted]
    return ids[::sample]


def command(target: str, report: Path, ids: Path | None, mode: str) -> list[str]:
    """``bn_behaviour.command.run.run_target``'s pytest command, with ``mode``'s arguments for its workers."""
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "bn_behaviour", "-q", "-p", "no:cacheprovider",
           "-o", "addopts=", "--bn-target", target, "--bn-report", str(report), *MODES[mode]]
    return cmd + (["--bn-ids", str(ids)] if ids else [])


def run_once(target: str, work: Path, ids: Path | None, mode: str) -> tuple[float, Counter]:
    """One timed run: its wall time and its report's statuses."""
    report = work / f"{target}-{mode}.json"
    report.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BN_BEHAVIOUR_")}
    start = time.perf_counter()
    proc = subprocess.run(command(target, report, ids, mode), cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1) or not report.exists():  # 1: a case that differs is still timed
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise SystemExit(f"bench: {target} {mode} exited {proc.returncode}: " + " | ".join(tail))
    data = json.loads(report.read_text())
    statuses = Counter(f"{key[:-len('cases')] or 'main_'}{c['status']}" for key, cs in data.items()
                       if key.endswith("cases") and isinstance(cs, list) for c in cs)
    return wall, statuses


def measure(target: str, cases: str, sample: int, repeat: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bn-bench-isolation-"))
    ids = case_ids(target, cases, sample)
    ids_file = None
    if ids is not None:
        ids_file = work / f"{target}-ids.txt"
        ids_file.write_text("\n".join(ids) + "\n")
    walls: dict[str, list[float]] = {m: [] for m in MODES}
    seen: dict[str, Counter] = {}
    order = [m for r in range(repeat) for m in (list(MODES) if r % 2 == 0 else list(MODES)[::-1])]
    for mode in order:
        print(f"bench: {target} {mode} (run {len(walls[mode]) + 1} of {repeat}) ...", flush=True)
        wall, statuses = run_once(target, work, ids_file, mode)
        walls[mode].append(round(wall, 2))
        if seen.setdefault(mode, statuses) != statuses:
            raise SystemExit(f"bench: {target} {mode}: statuses changed between runs: {seen[mode]} != {statuses}")
    shutil.rmtree(work, ignore_errors=True)
    if seen["n1"] != seen["supervisor"]:
        raise SystemExit(f"bench: {target}: the modes ran different cases: {seen['n1']} != {seen['supervisor']}")
    median = {m: round(statistics.median(w), 2) for m, w in walls.items()}
    ratio = round(median["n1"] / median["supervisor"], 3)
    return {"target": target, "cases": sum(seen["n1"].values()), "selection": cases, "sample": sample,
            "runs_s": walls, "median_s": median, "ratio_n1_to_supervisor": ratio,
            "statuses": dict(sorted(seen["n1"].items()))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("targets", nargs="+", metavar="TARGET", help="targets to measure (e.g. keras-torch tf1)")
    p.add_argument("--cases", choices=("all", "main", "quick"), default="all",
                   help="all: every matrix case, as the report runs (default); main: the main matrix; "
                   "quick: the quick answer's rows")
    p.add_argument("--sample", type=int, default=1, help="take every N-th of those cases (default 1: all)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each mode, alternating (default 3)")
    p.add_argument("--out", default=None, help="write the results as JSON to this file")
    args = p.parse_args()
    if args.sample < 1 or args.repeat < 1:
        p.error("--sample and --repeat must be 1 or more")
    results = {"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} cores, Python "
               f"{platform.python_version()}, {platform.system()}", "targets": []}
    for target in args.targets:
        res = measure(target, args.cases, args.sample, args.repeat)
        results["targets"].append(res)
        runs = {m: ", ".join(f"{w:.1f}" for w in ws) for m, ws in res["runs_s"].items()}
        print(f"{target}: {res['cases']} cases ({args.cases}, every {args.sample}); "
              f"-n 1 median {res['median_s']['n1']:.1f} s (runs {runs['n1']}); "
              f"supervisor median {res['median_s']['supervisor']:.1f} s (runs {runs['supervisor']}); "
              f"ratio {res['ratio_n1_to_supervisor']:.3f} "
              f"({'under' if res['ratio_n1_to_supervisor'] < THRESHOLD else 'not under'} {THRESHOLD})", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
