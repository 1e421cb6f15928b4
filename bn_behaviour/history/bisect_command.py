"""``bn-behaviour bisect ROW... --target T --good VERSION --bad VERSION``: the day a row changed.

``--good`` and ``--bad`` name versions as the history does: a stored session (``keras-3.15.1``), the
target's version in it (``3.15.1``), ``nightly`` (the line's stored nightly session), or a daily build
(``3.16.0.dev2026093004``, run like the others).  The daily builds between the two
(:mod:`.nightly`) run in a throwaway environment made from the newer end's install; the binary search
(:mod:`.narrow`) prints, per row, the last build that behaves like ``--good`` and the first that does
not (each with its observation), their days, and where to read the upstream commits of that window.
Progress goes to stderr; ``--json`` prints the answer for a script.  A row that behaves the same at both
ends is refused in one line; a build that does not install or import is skipped and said.

Usage errors raise :class:`BisectError` (a ``ValueError``), printed by ``bn_behaviour.cli`` as one line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional

from packaging.version import Version as PackagingVersion

from ..report.table import LAYER_FIELDS, cell
from ..targets import resolve
from . import Version, line_of, versions, windows
from .narrow import search
from .nightly import CACHE, NIGHTLIES, PYPI, Environment, Nightly, NightlyError, builds, day, nightly_for, release_day
from .store import DATA, Stored, load_all

#: The ``--json`` answer's format (a new key raises it).
FORMAT = 1


class BisectError(ValueError):
    """A usage error of ``bn-behaviour bisect``."""


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("rows", nargs="+", metavar="ROW", help="row IDs (several share every probe)")
    p.add_argument("--target", required=True, help="the target whose line's daily builds are searched")
    p.add_argument("--good", required=True, help="the older end: a stored session, its version, or a daily build")
    p.add_argument("--bad", required=True, help="the newer end: as --good, or `nightly`")
    p.add_argument("--index", default=PYPI, help=f"a simple index URL or a folder of wheels (default {PYPI})")
    p.add_argument("--cache", default=str(CACHE), help=f"where the environments are kept (default {CACHE})")
    p.add_argument("--store", default=str(DATA), help="the history store (default: the package's)")
    p.add_argument("--environment", choices=("newer", "older"), default="newer",
                   help="whose session install the builds run beside (default newer: the --bad end's; older: the "
                   "--good end's, for builds that need its framework)")
    p.add_argument("--max-probes", type=int, default=40, help="stop narrowing after this many probes (default 40)")
    p.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    p.add_argument("--record", nargs="?", const=str(windows.FILE), default=None, metavar="FILE",
                   help=f"merge the windows found into FILE (default {windows.FILE.name}: docs/history.md shows them)")


def _say(line: str) -> None:
    print(f"bn-behaviour bisect: {line}", file=sys.stderr, flush=True)


def _end(name: str, target: str, sessions: list[Stored]) -> tuple[Optional[Stored], str]:
    """(the stored session ``name`` means, or None for a daily build not stored; its version)."""
    for s in sessions:
        if name in (s.session, s.release[1]) or (name == "nightly" and s.session.endswith("nightly")):
            if not s.ran:
                raise BisectError(f"{s.session} holds no observation to compare with ({s.unavailable or 'stale'})")
            return s, s.release[1]
    if day(name):
        return None, name
    known = ", ".join(s.release[1] for s in sessions if s.ran)
    raise BisectError(f"{name!r} is not a stored version of {target} ({known}), `nightly`, nor a daily build version")


def _line(target: str, table: list[Version]) -> str:
    line = line_of(target, table)
    if line not in NIGHTLIES:
        raise BisectError(f"no daily build of {target} is bisected (its release line: {line or 'none in the history'})"
                          f"; lines with one: {', '.join(NIGHTLIES)}")
    return line


def _nightly(target: str, table: list[Version], bad: str) -> Nightly:
    found = nightly_for(_line(target, table), bad)
    if found is None:
        raise BisectError(f"no daily build of {target} is published for {bad}")
    return found


def _environment(target: str, end: Optional[Stored], table: list[Version], args, nightly: Nightly) -> Environment:
    """The environment of ``end``'s session (for a daily build not stored: the line's nightly session)."""
    mine = [v for v in table if v.target == target]
    session = next((v for v in mine if end and v.session == end.session), None) or next(
        (v for v in mine if v.session.endswith("nightly")), mine[-1])
    return Environment(session, nightly.replaces, args.index, Path(args.cache), _say)


def _text(observed: Optional[dict]) -> str:
    if observed is None:
        return "?"
    fields = LAYER_FIELDS if all(k in observed for k in LAYER_FIELDS) else ()
    return cell({"observed": observed, "status": "pass"}, fields=fields)


def run(args) -> int:
    target = resolve(args.target).name
    table = versions()
    _line(target, table)
    sessions = [s for s in load_all(Path(args.store), table) if s.target == target]
    (good, good_v), (bad, bad_v) = _end(args.good, target, sessions), _end(args.bad, target, sessions)
    if PackagingVersion(good_v) >= PackagingVersion(bad_v):
        raise BisectError(f"--good {good_v} is not older than --bad {bad_v}")
    nightly = _nightly(target, table, bad_v)
    env = _environment(target, good if args.environment == "older" else bad, table, args, nightly)
    ends = {name: _stored(stored, args.rows) for name, stored in (("--good", good), ("--bad", bad))}
    _refuse_same(args.rows, ends, good_v, bad_v)  # before any download, when both ends are stored
    try:
        released = nightly.replaces[0]
        found = builds(nightly.dist, good_v, bad_v, args.index,
                       (release_day(released, good_v, args.index), release_day(released, bad_v, args.index)))
        if not found:
            raise BisectError(f"no {nightly.dist} build lies between {good_v} and {bad_v} on {args.index}")
        _say(f"{len(found)} builds of {nightly.dist} between {good_v} and {bad_v} ({day(found[0])} to "
             f"{day(found[-1])})")
        env.make()
        for name, version in (("--good", good_v), ("--bad", bad_v)):
            ends[name] = ends[name] or _probed(nightly.dist, version, args.rows, env, target)
    except NightlyError as e:
        raise BisectError(str(e)) from None
    _refuse_same(args.rows, ends, good_v, bad_v)
    start = time.monotonic()

    def probe(build: str, rows: list[str]) -> dict:
        out = asdict(env.probe(nightly.dist, build, target, rows))
        return {k: v for k, v in out.items() if v or k == "rows"}

    def said(build: str, probe_out: dict) -> None:
        rows = probe_out.get("rows", {}).items()
        what = probe_out.get("error") or ", ".join(
            f"{r}: {_text(o['observed'])}" if "observed" in o else f"{r}: not run ({o['unrun']})" for r, o in rows)
        _say(f"{build} ({day(build)}): {what} ({time.monotonic() - start:.0f} s)")

    result = search(found, ends["--good"], probe, said, ends["--bad"], args.max_probes)
    answer = _answer(target, nightly, (good_v, bad_v), ends, found, result)
    if args.record:
        windows.record(_windows(answer), Path(args.record))
        _say(f"recorded in {args.record}")
    print(json.dumps(answer, indent=1, sort_keys=True) if args.json else _render(answer))
    return 0


def _windows(answer: dict) -> list[windows.Window]:
    """The answer's rows grouped by their window (rows that changed with the same build are one change)."""
    groups: dict[tuple, list[str]] = {}
    for row, r in answer["rows"].items():
        ends = tuple("" if r[k]["end"] else r[k]["version"] for k in ("last_good", "first_bad"))
        groups.setdefault((*ends, tuple(r["skipped"])), []).append(row)
    return [windows.Window(answer["target"], answer["good"], answer["bad"], last, first, tuple(sorted(rows)),
                           skipped=skipped) for (last, first, skipped), rows in groups.items()]


def _refuse_same(rows: list[str], ends: dict, good_v: str, bad_v: str) -> None:
    if ends["--good"] and ends["--bad"]:
        same = next((r for r in rows if ends["--good"][r] == ends["--bad"][r]), None)
        if same:
            raise BisectError(f"{same} behaves the same at {good_v} and {bad_v} ({_text(ends['--good'][same])}): "
                              "nothing to bisect")


def _stored(stored: Optional[Stored], rows: list[str]) -> Optional[dict]:
    """The rows' observations at a stored end (None: a daily build, run once the environment is made)."""
    if stored is None:
        return None
    missing = next((r for r in rows if not stored.record(r)), None)
    if missing:
        raise BisectError(f"{stored.session} holds no row {missing!r}")
    return {r: stored.record(r)["observed"] for r in rows}


def _probed(dist: str, version: str, rows: list[str], env: Environment, target: str) -> dict:
    _say(f"running the rows on {version} (an end not stored)")
    probed = env.probe(dist, version, target, rows)
    if probed.error:
        raise BisectError(f"{version}: {probed.error}")
    unrun = next((r for r in rows if "observed" not in probed.rows[r]), None)
    if unrun:
        raise BisectError(f"{unrun} cannot run on {version}: {probed.rows[unrun]['unrun']}")
    return {r: probed.rows[r]["observed"] for r in rows}


def _answer(target: str, nightly: Nightly, ends: tuple[str, str], observed: dict, found: list[str], result) -> dict:
    def point(version: Optional[str], end: str, obs: Optional[dict]) -> dict:
        return {"version": version or end, "day": day(version or end), "end": version is None, "observed": obs}

    rows = {}
    for r, w in result.windows.items():
        last = point(w.last_good, ends[0], observed["--good"][r])
        first = point(w.first_bad, ends[1], w.observed if w.first_bad else observed["--bad"][r])
        since, until = last["day"], first["day"]
        rows[r] = {"last_good": last, "first_bad": first, "skipped": w.skipped,
                   "commits": nightly.commits.format(since=since, until=until) if since and until else None}
    return {"format": FORMAT, "target": target, "dist": nightly.dist, "good": ends[0], "bad": ends[1],
            "builds": len(found), "probed": sorted(result.probes), "skipped": result.skipped, "rows": rows}


def _render(a: dict) -> str:
    lines = [f"{a['dist']} between {a['good']} and {a['bad']} on {a['target']}: {a['builds']} builds, "
             f"{len(a['probed'])} probed" + (f", {len(a['skipped'])} skipped" if a["skipped"] else "")]
    for version, why in a["skipped"].items():
        lines.append(f"  skipped {version}: {why}")
    for row, r in a["rows"].items():
        lines.append(row)
        for label, p in (("last like --good", r["last_good"]), ("first unlike it", r["first_bad"])):
            where = p["version"] + (f" ({p['day']})" if p["day"] else "") + (" (the end given)" if p["end"] else "")
            lines.append(f"  {label}: {where}: {_text(p['observed'])}")
        for version, why in r["skipped"].items():
            lines.append(f"  inside, not run: {version}: {why}")
        if r["commits"]:
            lines.append(f"  window {r['last_good']['day']} to {r['first_bad']['day']}: {r['commits']}")
    return "\n".join(lines)


def main(args) -> int:
    try:
        return run(args)
    except NightlyError as e:
        raise BisectError(str(e)) from None
