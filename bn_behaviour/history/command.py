"""``bn-behaviour history``: one row across every stored version, and the store's upkeep.

    bn-behaviour history ROW [--target T] [--json]    # one row, every stored version
    bn-behaviour history --refresh reports/nox         # store the sessions' reports, write docs/history.md
    bn-behaviour history --quick-run reports/quick     # the --quick rows in every environment, merged into the store
    bn-behaviour history --check                       # exit 1 when docs/history.md is stale
    bn-behaviour history                               # the stored environments

Usage errors raise :class:`HistoryError` (a ``ValueError``), which ``bn_behaviour.cli`` prints as one line.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import time
from pathlib import Path

from ..targets import resolve
from . import quick, versions, windows
from .render import COMMAND, environment_status, history_md
from .spans import row_points
from .store import DATA, Stored, StoreError, load_all, refresh

DOCS = Path("docs/history.md")


class HistoryError(ValueError):
    """A usage error of ``bn-behaviour history``."""


def configure(p: argparse.ArgumentParser) -> None:
    """The subcommand's arguments (``bn_behaviour.cli`` adds the subparser and its ``func``)."""
    p.add_argument("row", nargs="?", default=None, help="a row ID of any matrix: print it across every stored version")
    p.add_argument("--target", default=None, help="only this target's versions (default: every target)")
    p.add_argument("--json", action="store_true", help="print the row as a JSON list (one object a version)")
    p.add_argument("--refresh", default=None, metavar="DIR", help="store each session's DIR/<session>.json "
                   "(a session without one keeps what is stored) and write --docs")
    p.add_argument("--quick-run", default=None, metavar="DIR", help="run the --quick rows in every environment of "
                   "versions.toml (uv; sessions of one install share it), write DIR/<session>.json, merge them into "
                   "the store (a stored session keeps its other rows) and write --docs")
    p.add_argument("--jobs", type=int, default=2, help="with --quick-run: environments at once (default 2)")
    p.add_argument("--session", action="append", default=None, help="with --quick-run: only this session (repeat)")
    p.add_argument("--rows", default=None, metavar="FILE", help="with --quick-run: these row IDs (one a line) instead "
                   "of the quick ones, e.g. rows measured again after a fix of the suite")
    p.add_argument("--failed", nargs=2, action="append", default=[], metavar=("SESSION", "WHY"),
                   help="with --refresh: SESSION could not be installed or imported, for this reason")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when --docs is not the store's rendering")
    p.add_argument("--store", default=str(DATA), help="the store's folder (default: the package's history data)")
    p.add_argument("--docs", default=str(DOCS), help=f"the rendered page (default {DOCS})")


def row_entries(sessions: list[Stored], row_id: str, target: str | None = None) -> list[dict]:
    """One object per stored version holding the row (and per unavailable version of those targets)."""
    if target:
        sessions = [s for s in sessions if s.target == target]
    held = [s for s in sessions if s.ran and s.record(row_id)]
    if not held:
        known = sorted({i for s in sessions for i in s.records()})
        close = difflib.get_close_matches(row_id, known, n=3, cutoff=0.6)
        where = f" of target {target}" if target else ""
        raise HistoryError(f"no stored version{where} holds row {row_id!r}" +
                           (f"; closest: {', '.join(close)}" if close else ""))
    targets = {s.target for s in held}
    texts = {s.session: p.text for s, p in zip(held, row_points(held, row_id, link=False))}
    located = windows.load()
    out = []
    for s in sessions:
        if s.target not in targets or (s.ran and not s.record(row_id)):
            continue
        if s.stale:  # its rows were built another way: shown as waiting, never as an observation
            out.append({"session": s.session, "target": s.target, "versions": s.versions, "observed": None,
                        "status": "awaiting a re-run", "violated": [], "deviation": None,
                        "cell": f"measured with harness {s.harness}, not comparable"})
            continue
        r = s.record(row_id) or {}
        w = next((w for w in windows.for_row(located, s.target, row_id) if w.bad == s.release[1]), None)
        out.append({"session": s.session, "target": s.target, "versions": s.versions,
                    "observed": r.get("observed"), "status": r.get("status", "unavailable"),
                    "violated": r.get("violated", []), "deviation": r.get("deviation"),
                    "cell": texts.get(s.session, s.unavailable),
                    "window": {"good": w.good, "last_good": w.last_good, "first_bad": w.first_bad,
                               "days": w.days, "change": w.change or None} if w else None})
    return out


def _print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # rich comes with Keras; fall back to Markdown
        print(f"{title}\n\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
        print("\n".join("| " + " | ".join(r) + " |" for r in rows))
        return
    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*r)
    Console(width=200, markup=False).print(table)


def show_row(sessions: list[Stored], row_id: str, target: str | None, as_json: bool) -> int:
    entries = row_entries(sessions, row_id, target)
    if as_json:
        print(json.dumps([{k: v for k, v in e.items() if k != "cell"} for e in entries], indent=1, sort_keys=True))
        return 0
    _print_table(row_id, ["session", "target", "versions", "observed", "status"],
                 [[e["session"], e["target"], ", ".join(f"{k} {v}" for k, v in e["versions"].items()), e["cell"],
                   e["status"] + (f" ({e['deviation']})" if e["deviation"] else "")] for e in entries])
    located = windows.load()
    for target in dict.fromkeys(e["target"] for e in entries):  # the day windows bisect found
        for w in windows.for_row(located, target, row_id):
            print(f"{target}: from {w.good} to {w.bad}, {w.text()}")
    return 0


def main(args) -> int:
    folder, docs = Path(args.store), Path(args.docs)
    if args.failed and not args.refresh:
        raise HistoryError("--failed needs --refresh DIR")
    if args.quick_run and args.refresh:
        raise HistoryError("--quick-run stores what it ran: --refresh is for the full sessions' reports")
    try:
        if args.quick_run:
            start = time.monotonic()
            try:
                rows = Path(args.rows).read_text().split() if args.rows else None
            except OSError as e:
                raise HistoryError(f"--rows {args.rows}: {e.strerror}") from None
            failed = quick.run(Path(args.quick_run), args.jobs, sessions=args.session, store=folder, rows=rows,
                               say=lambda line: print(f"history: {line}", file=sys.stderr, flush=True))
            for line in refresh(Path(args.quick_run), folder, failed, merged=True):
                print(line)
            print(f"quick history: {time.monotonic() - start:.0f} s")
            args.refresh = args.quick_run  # and the page, as --refresh writes it
        elif args.refresh:
            for line in refresh(Path(args.refresh), folder, dict(args.failed)):
                print(line)
        sessions = load_all(folder)
    except StoreError as e:
        raise HistoryError(str(e)) from None
    if args.refresh:
        docs.parent.mkdir(parents=True, exist_ok=True)
        docs.write_text(history_md(sessions, versions()))
        print(f"wrote {folder} and {docs}")
    if args.check:
        if not docs.exists() or docs.read_text() != history_md(sessions, versions()):
            print(f"{docs} is stale: regenerate with `{COMMAND}` (a session without a report keeps its stored data)")
            return 1
        return 0
    if args.row:
        return show_row(sessions, args.row, resolve(args.target).name if args.target else None, args.json)
    if not args.refresh:
        stored = {s.session: s for s in sessions}
        _print_table("stored versions", ["session", "line", "target", "status"],
                     [[v.session, v.line, v.target, environment_status(stored.get(v.session))] for v in versions()])
    return 0
