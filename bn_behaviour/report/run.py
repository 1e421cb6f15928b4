"""``bn-behaviour report``: run the matrix per target, merge, write and print the table.

Each target runs in its own pytest process (its backend is fixed before any
framework import); their JSON reports are merged into ``behaviour.json`` and
rendered as ``behaviour.md`` (one row per scenario, one column per target)
and ``behaviour.html`` (the same grid, coloured and filterable).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import documents
from .documents import cell
from .page import html
from .summary import status_counts
from .targets import TARGETS, resolve

def schedule(n_targets: int, workers: str, cores: int) -> tuple[int, str]:
    """How many targets run at once and the xdist workers each gets.

    >>> schedule(5, "auto", 2)
    (2, '1')
    >>> schedule(1, "auto", 2)
    (1, 'auto')
    >>> schedule(3, "4", 8)
    (2, '4')
    """
    if workers != "auto":
        return max(1, min(n_targets, cores // max(1, int(workers)))), workers
    if n_targets <= 1:
        return 1, "auto"
    concurrent = max(1, min(n_targets, cores))
    return concurrent, str(max(1, cores // concurrent))


def run_target(name: str, out: Path, workers: str) -> dict:
    """Run the matrix for one target in a fresh pytest process; return its report."""
    path = out / f"{name}.json"
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "bn_behaviour.test_behaviour", "bn_behaviour.test_settings",
           "bn_behaviour.test_workflows",
           "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--bn-target", name, "--bn-report", str(path),
           "-n", workers]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if not path.exists():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        return {"target": {"name": name}, "error": " | ".join(tail), "cases": []}
    return json.loads(path.read_text())


def merge(reports: list[dict], skipped: dict[str, str]) -> dict:
    targets, rows, settings_rows, workflow_rows = [], {}, {}, {}
    for rep in reports:
        name = rep["target"]["name"]
        extra, flows = rep.get("settings_cases", []), rep.get("workflow_cases", [])
        targets.append({**rep["target"], "counts": status_counts(rep["cases"]),
                        "settings_counts": status_counts(extra), "workflow_counts": status_counts(flows),
                        "error": rep.get("error")})
        for store, cases in ((rows, rep["cases"]), (settings_rows, extra), (workflow_rows, flows)):
            for case in cases:
                store.setdefault(case["id"], {})[name] = case
    return {
        "targets": targets,
        "skipped_targets": skipped,
        "rows": [{"id": k, "cases": rows[k]} for k in sorted(rows)],
        "settings_rows": [{"id": k, "cases": settings_rows[k]} for k in sorted(settings_rows)],
        "workflow_rows": [{"id": k, "cases": workflow_rows[k]} for k in _workflow_order(workflow_rows)],
    }


def _workflow_order(rows: dict) -> list[str]:
    """Workflow rows in the registry's order (the order the documents present them)."""
    from .workflow import all_cases

    order = {c.id: i for i, c in enumerate(all_cases())}
    return sorted(rows, key=lambda k: (order.get(k, len(order)), k))


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
    run = [n for n in todo if n not in reuse]
    concurrent, workers = schedule(len(run), args.workers, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=concurrent) as pool:
        fresh = dict(zip(run, pool.map(lambda n: run_target(n, out, workers), run)))
    reports = [fresh[n] if n in fresh else json.loads((out / f"{n}.json").read_text()) for n in todo]
    merged = merge(reports, skipped)
    (out / "behaviour.json").write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")
    (out / "behaviour.md").write_text(documents.behaviour_md(merged))
    (out / "behaviour.html").write_text(html(merged))
    print_table(merged)
    failed = False
    for t in merged["targets"]:
        counts = ", ".join(f"{v} {k}" for k, v in t["counts"].items())
        print(f"{t['name']}: {counts}" + (f"; error: {t['error']}" if t.get("error") else ""))
        failed |= bool(t["counts"]["fail"] or t.get("error"))
    for n, why in skipped.items():
        print(f"{n}: skipped, {why}")
    print(f"wrote {out / 'behaviour.json'}, {out / 'behaviour.md'} and {out / 'behaviour.html'}")
    return 1 if failed else 0
