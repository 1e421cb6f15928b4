"""The quick history: the ``--quick`` rows in every environment of the version table.

    bn-behaviour history --quick-run reports/quick        # every session's quick rows, then stored (merged)
    nox -s history-quick                                   # the same from nox

The rows are :func:`bn_behaviour.command.quick.selection`'s (every recipe's row and one row per
documented statement).  Sessions with the same install (``tensorflow-2.14``, ``tf1-keras-2.14`` and
``tf1-2.14``) share one environment, made with uv and kept in its cache (:class:`.nightly.Environment`);
in it each session's target runs its rows through this checkout's plugin (one pytest process, ``-n
0``: a few dozen rows do not pay for a second interpreter) and writes ``<session>.json`` as a full
session does; ``jobs`` environments run at once.  Storing merges (:func:`bn_behaviour.history.store.merge`):
a stored session measured on the same versions keeps its other rows, so the quick history refreshes
what the answer shows without dropping what the full history holds.
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Optional

from ..command.quick import selection
from ..targets import ALIASES
from . import Version, versions
from .nightly import CACHE, Environment, NightlyError, uv
from .store import DATA, read

#: The version key a report records for each distribution installed under another name (a daily build).
NIGHTLY_KEYS = {alias: dist for dist, aliases in ALIASES.items() for alias in aliases}


def pinned(v: Version, stored: dict[str, dict]) -> Version:
    """``v`` with each daily build it installs unpinned pinned to the build its stored session ran: the quick
    history measures the stored versions again (a newer build is the full session's to store).

    >>> v = Version("keras-nightly", "l", "keras-tensorflow", ("tensorflow==2.21.0", "--pre", "keras-nightly"), "w")
    >>> pinned(v, {"keras-nightly": {"keras": "3.16.0.dev2026102704"}}).install
    ('tensorflow==2.21.0', '--pre', 'keras-nightly==3.16.0.dev2026102704')
    >>> pinned(v, {}).install[-1]
    'keras-nightly'
    """
    held = stored.get(v.session, {})
    install = tuple(f"{r}=={held[NIGHTLY_KEYS[r]]}" if r in NIGHTLY_KEYS and NIGHTLY_KEYS[r] in held else r
                    for r in v.install)
    return dataclasses.replace(v, install=install)


def environments(table: list[Version]) -> list[list[Version]]:
    """The sessions grouped by install (and what they remove), in table order.

    >>> groups = environments(versions())
    >>> [v.session for v in next(g for g in groups if g[0].session == "tensorflow-2.14")]
    ['tensorflow-2.14', 'tf1-keras-2.14', 'tf1-2.14']
    """
    groups: dict[tuple, list[Version]] = {}
    for v in table:
        if not v.unavailable:
            groups.setdefault((v.install, v.remove), []).append(v)
    return list(groups.values())


def run_group(group: list[Version], out: Path, ids: Path, cache: Path, say: Callable[[str], None]) -> dict[str, str]:
    """Every session of one environment; returns session -> why it could not run (none when all ran)."""
    env = Environment(group[0], cache=cache)
    try:
        env.make()
    except NightlyError as e:
        return {v.session: str(e) for v in group}
    failed = {}
    for v in group:
        start = time.monotonic()
        report = out / f"{v.session}.json"
        report.unlink(missing_ok=True)
        proc = env.run("-m", "pytest", "--pyargs", "bn_behaviour", "-p", "bn_behaviour.plugin", "-q", "-o",
                       "addopts=", "-p", "no:cacheprovider", "--bn-target", v.target, "--bn-matrices", "all",
                       "--bn-ids", str(ids), "--bn-report", str(report), "-n", "0", target=v.target, cwd=out)
        if not report.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
            failed[v.session] = f"no report ({tail[0][:200]})"
        say(f"{v.session}: {'no report' if v.session in failed else 'done'} ({time.monotonic() - start:.0f} s)")
    return failed


def run(out: Path, jobs: int = 2, cache: Path = CACHE, sessions: Optional[list[str]] = None,
        say: Callable[[str], None] = print, store: Path = DATA, rows: Optional[list[str]] = None) -> dict[str, str]:
    """The quick rows (or ``rows``: a few measured again after a fix) in every environment (or ``sessions``');
    returns the sessions that could not run, with why."""
    stored = {s["session"]: s.get("versions", {}) for s in read(store)}
    table = [pinned(v, stored) for v in versions() if sessions is None or v.session in sessions]
    out = out.resolve()  # each session's pytest runs inside it
    out.mkdir(parents=True, exist_ok=True)
    uv()  # found once, before the threads (sysconfig's first reading is not thread-safe)
    ids = out / "quick-ids.txt"
    rows = rows or selection()
    ids.write_text("\n".join(rows) + "\n")
    groups = environments(table)
    say(f"{len(table)} sessions in {len(groups)} environments, {len(rows)} rows each, {jobs} at once")
    failed: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for result in pool.map(lambda g: run_group(g, out, ids, cache, say), groups):
            failed.update(result)
    return failed
