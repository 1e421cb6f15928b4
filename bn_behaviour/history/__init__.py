"""The behaviour history: the same matrices observed on every release line's versions.

``versions.toml`` declares the environments (one nox session each, one compat.yml runner each);
:mod:`.store` keeps each environment's result compact as package data (``history/data/``);
:mod:`.spans` finds, per row, the first and last version of each behaviour; :mod:`.render` writes
``docs/history.md``; :mod:`.ranges` checks the known deviations' version ranges against the store;
:mod:`.command` is ``bn-behaviour history`` (``ROW`` prints one row across versions, ``--refresh``
stores the sessions' reports).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional

import tomllib

from ..rules.deviations import nearest, unknown_keys
from ..targets import TARGETS

TABLE = Path(__file__).with_name("versions.toml")


@dataclass(frozen=True)
class Version:
    """One environment of the version matrix (one ``[[version]]`` of ``versions.toml``)."""

    session: str
    line: str
    target: str
    install: tuple[str, ...]
    why: str
    remove: tuple[str, ...] = ()
    unavailable: str = ""


def versions(path: Path = TABLE) -> list[Version]:
    """Every environment, in the table's order (oldest first within a release line).

    >>> vs = versions()
    >>> vs[0].session, vs[0].target, len({v.session for v in vs}) == len(vs)
    ('keras-3.0.5', 'keras-tensorflow', True)
    """
    data = tomllib.loads(path.read_text())
    known = [f.name for f in fields(Version)]
    typo = unknown_keys(data, ("version",), str(path)) or next(
        (t for i, r in enumerate(data.get("version", [])) if (t := unknown_keys(
            r, known, f"{path}: [[version]] {r.get('session', i)!r}"))), None)
    if typo:
        raise ValueError(typo)
    rows = data.get("version", [])
    for i, r in enumerate(rows):
        wrong = _wrong(r, f"{path}: [[version]] {r.get('session', i)!r}")
        if wrong:
            raise ValueError(wrong)
    return [Version(**{**r, "install": tuple(r["install"]), "remove": tuple(r.get("remove", ()))}) for r in rows]


def line_of(target: str, table: Optional[list[Version]] = None) -> Optional[str]:
    """The release line whose environments run ``target`` (None: no environment does).

    >>> line_of("tf_keras"), line_of("keras-jax"), line_of("no-such-target")
    ('keras-2', 'keras-jax', None)
    """
    return next((v.line for v in (table if table is not None else versions()) if v.target == target), None)


def _wrong(row: dict, where: str) -> Optional[str]:
    """What is wrong with one ``[[version]]`` besides an unknown key: a missing or mistyped field, a
    target the registry does not know (one line naming the entry), or None."""
    for key in ("session", "line", "target", "install", "why"):
        if key not in row:
            return f"{where} has no {key!r}"
    for key, value in row.items():
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value) if key in ("install", "remove") \
            else isinstance(value, str)
        if not ok:
            kind = "an array of strings" if key in ("install", "remove") else "a string"
            return f"{where}: {key} must be {kind}, got {type(value).__name__} {value!r}"
    if row["target"] not in TARGETS:
        return (f"{where}: unknown target {row['target']!r}{nearest(row['target'], TARGETS)}; targets: "
                f"{', '.join(TARGETS)}")
    return None
