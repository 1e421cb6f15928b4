"""The history store: each environment's report reduced to what the history needs, as package data.

A per-target report holds ~2,000 records of ~1.5 KB; the history keeps, per row ID, the ``observed``
block and the verdict (status, the rule's checks it breaks, the known deviation applied), and of the
report only the versions and the suite revision.  Distinct ``observed`` blocks and distinct verdicts
repeat across rows, so each session file holds two small vocabularies and one array of indexes per
matrix, aligned to one shared ID list (``data/ids.json``, the union over the stored sessions):

- ``ids.json``: ``{"format": 1, "ids": {cases_key: [ID, ...]}}`` (each matrix's report key, IDs sorted);
- ``<session>.json``: ``session``, ``line``, ``target``, ``versions`` (as the report recorded them),
  ``suite``; ``observed`` (the distinct blocks), ``deviations`` (``[id, source]``), ``outcomes``
  (``[observed index, status, violated, deviation index or null, fault or null]``) and ``rows``
  (cases_key -> one outcome index per shared ID, null where the session has no such row);
- a session that could not run is a stub: ``session``, ``line``, ``target`` and ``unavailable`` (why).

:func:`compact` works on one report and keeps its rows as ``{ID: outcome index}``; :func:`write`
aligns every session to the shared list; :func:`read` undoes that; :func:`load_all` gives the sessions
as :class:`Stored`, in ``versions.toml`` order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from ..matrices import MATRICES
from ..report import reading
from ..rules.deviations import unknown_keys
from ..targets import TARGETS
from ..targets.network import HARNESS
from . import Version, versions

DATA = Path(__file__).with_name("data")
IDS = "ids.json"
FORMAT = 1
#: The report keys of the matrices, in registry order (the order rows are listed in).
KEYS = tuple(m.cases_key for m in MATRICES.values())
#: What an outcome holds, in order (each session file says so too).
OUTCOME = ("observed", "status", "violated", "deviation", "fault")
#: The keys a stored session file may have (:func:`compact`, :func:`stub`, :func:`write`).
SESSION_KEYS = ("format", "session", "line", "target", "versions", "suite", "observed", "deviations", "outcomes",
                "rows", "outcome_fields", "unavailable")
#: A version string that names no release (``bn_behaviour.targets``' answer for a missing distribution).
ABSENT = "not installed"


class StoreError(ValueError):
    """A report or a store that cannot be used (a usage error naming the file)."""


def _index(vocabulary: dict, value) -> int:
    """The index of ``value`` in an insertion-ordered vocabulary, adding it when new.

    >>> v = {}
    >>> [_index(v, x) for x in ("a", "b", "a")], list(v)
    ([0, 1, 0], ['a', 'b'])
    """
    return vocabulary.setdefault(value, len(vocabulary))


def _key(value) -> str:
    return json.dumps(value, sort_keys=True)


def compact(report: dict, version: Version) -> dict:
    """The stored form of one session's per-target report (rows as ``{ID: outcome index}``)."""
    target = report.get("target", {}).get("name")
    if target != version.target:
        raise StoreError(f"{version.session}: the report is of target {target!r}, versions.toml says "
                         f"{version.target!r}")
    observed: dict = {}
    deviations: dict = {}
    outcomes: dict = {}
    rows: dict = {}
    for key in KEYS:
        for record in sorted(report.get(key) or [], key=lambda r: r["id"]):
            o = _index(observed, _key(record["observed"]))
            d = (_index(deviations, (record["deviation"], record.get("deviation_source")))
                 if record.get("deviation") else None)
            outcome = [o, record["status"], sorted(record.get("violated") or []), d, record.get("fault")]
            rows.setdefault(key, {})[record["id"]] = _index(outcomes, _key(outcome))
    return {"format": FORMAT, "session": version.session, "line": version.line, "target": version.target,
            "versions": dict(sorted(report["target"].get("versions", {}).items())),
            "suite": {**{k: report.get("suite", {}).get(k) for k in ("version", "git_revision")},
                      "harness": report.get("suite", {}).get("harness", 1),
                      **({"rows": "quick"} if report.get("suite", {}).get("rows") == "quick" else {})},
            "observed": [json.loads(o) for o in observed], "deviations": [list(d) for d in deviations],
            "outcomes": [json.loads(o) for o in outcomes], "rows": rows}


def stub(version: Version, reason: str) -> dict:
    """The stored form of a session that could not run: why its version is missing.

    >>> stub(Version("s", "keras-2", "tf_keras", ("tensorflow==2.11",), "w"), "no wheel")["unavailable"]
    'no wheel'
    """
    return {"format": FORMAT, "session": version.session, "line": version.line, "target": version.target,
            "unavailable": reason}


def _dump(data: dict, per_line: tuple[str, ...]) -> str:
    """JSON with one top-level key a line, the lists named in ``per_line`` one item a line (diffs stay small).

    >>> print(_dump({"a": 1, "b": [[1, 2], [3]]}, ("b",)), end="")
    {
    "a": 1,
    "b": [
    [1,2],
    [3]
    ]
    }
    """
    def one(value) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    parts = []
    for k, v in data.items():
        if k in per_line and isinstance(v, list) and v:
            parts.append(f"{one(k)}: [\n" + ",\n".join(map(one, v)) + "\n]")
        elif k in per_line and isinstance(v, dict):
            parts.append(f"{one(k)}: {{\n" + ",\n".join(f"{one(a)}: {one(b)}" for a, b in v.items()) + "\n}")
        else:
            parts.append(f"{one(k)}: {one(v)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _dump_ids(ids: dict[str, list[str]]) -> str:
    """``ids.json``: one ID a line.

    >>> print(_dump_ids({"cases": ["a", "b"]}), end="")
    {"format": 1, "ids": {
    "cases": [
    "a",
    "b"
    ]
    }}
    """
    keys = [f"{json.dumps(k)}: [\n" + ",\n".join(map(json.dumps, v)) + "\n]" for k, v in ids.items()]
    return f'{{"format": {FORMAT}, "ids": {{\n' + ",\n".join(keys) + "\n}}\n"


def shared_ids(sessions: Iterable[dict]) -> dict[str, list[str]]:
    """The union of the sessions' row IDs, per matrix key, sorted."""
    ids: dict[str, set] = {}
    for s in sessions:
        for key, rows in s.get("rows", {}).items():
            ids.setdefault(key, set()).update(rows)
    return {key: sorted(ids[key]) for key in KEYS if key in ids}


def write(sessions: list[dict], folder: Path = DATA) -> list[Path]:
    """Store ``sessions`` (compact or stub forms) as the whole store: the shared IDs, one file a session,
    and no file of a session not given."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = shared_ids(sessions)
    paths = [folder / IDS]
    paths[0].write_text(_dump_ids(ids))
    for s in sessions:
        out = dict(s)
        if "rows" in s:
            out["outcome_fields"] = list(OUTCOME)
            out["rows"] = {key: [s["rows"][key].get(i) for i in ids[key]] for key in ids if s["rows"].get(key)}
        path = folder / f"{s['session']}.json"
        path.write_text(_dump(out, ("observed", "outcomes", "deviations", "rows")))
        paths.append(path)
    for old in folder.glob("*.json"):
        if old not in paths and _is_session(old):
            old.unlink()
    return paths


def _is_session(path: Path) -> bool:
    """Whether ``path`` is a stored session (only those are removed: ``--store`` may name any folder)."""
    try:
        return json.loads(path.read_text()).get("session") == path.stem
    except (OSError, ValueError, AttributeError):
        return False


def read(folder: Path = DATA) -> list[dict]:
    """Every stored session in compact form (rows as ``{ID: outcome index}``), in file-name order."""
    if not (folder / IDS).exists():
        return []
    try:
        table = json.loads((folder / IDS).read_text())
        typo = unknown_keys(table, ("format", "ids"), str(folder / IDS)) or unknown_keys(
            table["ids"], KEYS, f"{folder / IDS}: ids")
        if typo:
            raise StoreError(typo)
        ids = table["ids"]
        out = []
        for path in sorted(folder.glob("*.json")):
            if path.name == IDS:
                continue
            s = json.loads(path.read_text())
            if not isinstance(s, dict) or s.get("session") != path.stem:
                continue  # not a stored session
            typo = unknown_keys(s, SESSION_KEYS, str(path)) or unknown_keys(s.get("rows", {}), KEYS, f"{path}: rows")
            if typo:
                raise StoreError(typo)
            s.pop("outcome_fields", None)
            if "rows" in s:
                s["rows"] = {key: {i: n for i, n in zip(ids[key], column) if n is not None}
                             for key, column in s["rows"].items()}
            out.append(s)
    except StoreError:
        raise  # already one line naming the file and the key
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise StoreError(f"{folder} is not a history store ({e})") from None
    return out


@dataclass(frozen=True)
class Stored:
    """One stored session, expanded: per row ID its record (``observed``, ``status``, ``violated``,
    ``deviation``, ``deviation_source``, ``fault``) as the documents' ``cell()`` reads it."""

    session: str
    line: str
    target: str
    versions: dict = field(default_factory=dict)
    suite: dict = field(default_factory=dict)
    unavailable: str = ""
    #: cases_key -> {ID: record}
    rows: dict = field(default_factory=dict)

    @property
    def harness(self) -> int:
        """How the suite that measured it built its cases (``targets.network.HARNESS``; 1 when not said)."""
        return self.suite.get("harness", 1)

    @property
    def stale(self) -> bool:
        """Measured by an earlier harness: its observations answer other questions than today's rows."""
        return not self.unavailable and self.harness != HARNESS

    @property
    def ran(self) -> bool:
        """Whether its observations count: it ran, with the current harness."""
        return not self.unavailable and not self.stale

    def record(self, row_id: str) -> Optional[dict]:
        return next((r[row_id] for r in self.rows.values() if row_id in r), None)

    def records(self) -> dict[str, dict]:
        """Every row ID -> record, matrices in registry order."""
        return {i: rec for key in KEYS for i, rec in self.rows.get(key, {}).items()}

    @property
    def release(self) -> tuple[str, str]:
        """(distribution, version) that names this session: the target's implementation as recorded, or
        TensorFlow's version where that is missing (TensorFlow's own tf.keras).

        >>> Stored("s", "l", "tf_keras", {"tf_keras": "not installed", "tensorflow": "2.12.1"}).release
        ('tensorflow', '2.12.1')
        >>> Stored("s", "l", "keras-jax", {"jax": "0.4.23", "keras": "3.0.5"}).release
        ('keras', '3.0.5')
        """
        dist = TARGETS[self.target].implementation if self.target in TARGETS else ""
        if self.versions.get(dist, ABSENT) == ABSENT and "tensorflow" in self.versions:
            dist = "tensorflow"
        return dist, self.versions.get(dist, ABSENT)


def expand(s: dict) -> Stored:
    """A compact (or stub) session as :class:`Stored`."""
    if s.get("unavailable"):
        return Stored(s["session"], s["line"], s["target"], unavailable=s["unavailable"])
    fields = [dict(zip(OUTCOME, o)) for o in s["outcomes"]]
    records = []
    for f in fields:
        dev, source = s["deviations"][f["deviation"]] if f["deviation"] is not None else (None, None)
        rec = {"observed": s["observed"][f["observed"]], "status": f["status"], "violated": f["violated"],
               "deviation": dev, "deviation_source": source}
        if f["fault"]:
            rec["fault"] = f["fault"]
        records.append(rec)
    rows = {key: {i: records[n] for i, n in rows.items()} for key, rows in s["rows"].items()}
    return Stored(s["session"], s["line"], s["target"], s["versions"], s.get("suite") or {}, rows=rows)


def load_all(folder: Path = DATA, table: Optional[list[Version]] = None) -> list[Stored]:
    """The stored sessions that ``versions.toml`` declares, in its order."""
    stored = {s["session"]: s for s in read(folder)}
    return [expand(stored[v.session]) for v in (table if table is not None else versions()) if v.session in stored]


def merge(old: dict, new: dict, version: Version) -> dict:
    """``new``'s rows over ``old``'s, both compact: a session measured again on some rows (the quick history)
    keeps its other rows, and its suite, when the versions and the harness are the same; otherwise ``new``
    alone."""
    same = not old.get("unavailable") and old.get("versions") == new["versions"] and \
        (old.get("suite") or {}).get("harness", 1) == new["suite"].get("harness", 1)
    if not same:
        return new
    a, b = expand(old), expand(new)
    # The suite that measured most of its rows keeps naming the session (its rows only ever grow here).
    report = {"target": {"name": new["target"], "versions": new["versions"]}, "suite": old["suite"]}
    for key in KEYS:
        report[key] = [{"id": i, **r} for i, r in {**a.rows.get(key, {}), **b.rows.get(key, {})}.items()]
    return compact(report, version)


def _whole(s: dict) -> bool:
    """A stored session that ran every row of its suite (not a stub, not only the quick rows, today's harness)."""
    return not s.get("unavailable") and (s.get("suite") or {}).get("rows") != "quick" and \
        (s.get("suite") or {}).get("harness", 1) == HARNESS


def _drift(old: dict, new: dict) -> str:
    """
    >>> _drift({"keras": "3.1.1", "numpy": "2.0"}, {"keras": "3.1.2", "numpy": "2.0"})
    'keras 3.1.2 (stored 3.1.1)'
    """
    moved = [k for k in sorted({*old, *new}) if old.get(k) != new.get(k)]
    return ", ".join(f"{k} {new.get(k)} (stored {old.get(k)})" for k in moved)


def refresh(reports: Path, folder: Path = DATA, failed: Optional[dict[str, str]] = None,
            table: Optional[list[Version]] = None, merged: bool = False) -> list[str]:
    """Rebuild the store: each declared session from ``reports/<session>.json``, a stub where it is
    ``unavailable`` or ``failed`` (session -> why), else what the store already holds.  ``merged``: a
    report's rows replace those the stored session holds (:func:`merge`); a session that failed keeps
    what is stored.  Returns what was done, one line a session."""
    if not reports.is_dir():
        raise StoreError(f"{reports} is not a folder of reports (reports/nox/<session>.json)")
    table = table if table is not None else versions()
    failed = dict(failed or {})
    unknown = sorted(set(failed) - {v.session for v in table})
    if unknown:
        raise StoreError(f"unknown session(s) {', '.join(unknown)}: versions.toml declares "
                         f"{', '.join(v.session for v in table)}")
    old = {s["session"]: s for s in read(folder)}
    sessions, said = [], []
    for v in table:
        path = reports / f"{v.session}.json"
        reason = v.unavailable or failed.get(v.session)
        if reason and merged and v.session in old and not v.unavailable:
            sessions.append(old[v.session])
            said.append(f"{v.session}: failed ({reason}); kept the stored data")
        elif reason:
            sessions.append(stub(v, reason))
            said.append(f"{v.session}: unavailable ({reason})")
        elif path.exists():
            try:
                report = reading.load(path, reading.PER_TARGET)
            except reading.ReportFileError as e:
                raise StoreError(str(e)) from None
            why = reading.why_incomplete(report)
            if why:
                raise StoreError(f"{path} {why}: run `nox -s {v.session}` again, or pass `--failed {v.session} WHY` "
                                 "to store it as failed")
            new = compact(report, v)
            held = old.get(v.session) if merged else None
            if merged:  # the quick history's rows: alone unless merged into a session measured whole
                new["suite"]["rows"] = "quick"
            if held and _whole(held) and held.get("versions") != new["versions"]:
                sessions.append(held)  # the environment drifted: a few rows never replace a whole session
                said.append(f"{v.session}: {path} ran on {_drift(held['versions'], new['versions'])}, not the "
                            "stored versions; kept the stored data")
                continue
            sessions.append(merge(held, new, v) if held else new)
            said.append(f"{v.session}: stored from {path}" + (" (merged)" if held else ""))
        elif v.session in old:
            sessions.append(old[v.session])
            said.append(f"{v.session}: no report in {reports}; kept the stored data")
        else:
            said.append(f"{v.session}: no report in {reports}; skipped")
    said += [f"{name}: not in versions.toml; dropped from the store" for name in sorted(set(old) - {
        v.session for v in table})]
    write(sessions, folder)
    return said
