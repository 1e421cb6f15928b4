"""Known deviations: where an implementation does not follow its documented rule.

Deviations are data: one TOML file per target under ``deviations/``, each
entry with an ``id``, a scenario pattern (``match``: axis -> value or list of
values, or an array of such tables, any of which selects a scenario),
the observed behaviour (``observed``: the observation fields that differ from
the rule), a one-line ``reason``, a ``source`` link and optionally the
``versions`` of the implementation it applies to (a PEP 440 specifier).

A pattern selects a case when every axis it names is one of the case's axes
(``case.axes()``) with an allowed value, and it names every axis the case's
type needs (``PATTERN_NEEDS``: a settings case is selected only by a pattern
naming ``setting``, a workflow case only by one naming ``workflow``).  Which
axes and observation fields exist is the matrices' :class:`Vocabulary`.

>>> from bn_behaviour.cases.scenario import AXES, Scenario
>>> vocab = Vocabulary(axes=AXES, observed=frozenset({"mode"}))
>>> d = Deviation.from_dict({"id": "x", "match": {"path": "fit"}, "observed": {"mode": "training"},
...     "reason": "r", "source": "https://example.org"}, "doc", vocab)
>>> d.matches(Scenario("functional", "layer", "after_fit", "fit", "none"))
True
>>> d.applies("3.15.1")
True
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Collection, Iterable, Mapping, Optional

import tomllib
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version


class DeviationFileError(Exception):
    """A deviation file that cannot be used (a usage error naming the entry)."""


#: The keys a ``[[deviation]]`` entry may have, and the keys of the file itself.
ENTRY_KEYS = ("id", "match", "observed", "reason", "source", "versions")
FILE_KEYS = ("deviation",)


def nearest(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when ``word`` is a likely typo of a ``known`` word, else ``""``.

    >>> nearest("frozn", ["frozen", "when"]), nearest("colour", ["frozen", "when"])
    (" (did you mean 'frozen'?)", '')
    """
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_keys(data: Mapping, known: Collection[str], where: str) -> Optional[str]:
    """One line naming the first key of ``data`` that is not ``known`` (and the known key it is likely a
    typo of), or None when every key is known.

    >>> typo = unknown_keys({"id": "x", "version": ">=3"}, ENTRY_KEYS, "f.toml: deviation 'x'")
    >>> print(typo)  # doctest: +NORMALIZE_WHITESPACE
    f.toml: deviation 'x': unknown key 'version' (did you mean 'versions'?); known keys: id, match, observed, reason,
    source, versions
    >>> unknown_keys({"id": "x"}, ENTRY_KEYS, "f") is None
    True
    """
    for key in data:
        if key not in known:
            return f"{where}: unknown key {key!r}{nearest(key, known)}; known keys: {', '.join(known)}"
    return None


Pattern = dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Vocabulary:
    """What an entry may name: every axis of every case type with its values, every observed field."""

    axes: Mapping[str, Collection[str]]
    observed: frozenset[str]


def _pattern(raw: Any, where: str, vocab: Vocabulary) -> Pattern:
    if not isinstance(raw, dict):
        raise DeviationFileError(f"{where}: match must be a table of axis = value(s) (or an array of such tables), "
                                 f"got {type(raw).__name__} {raw!r}")
    if not raw:
        raise DeviationFileError(f"{where}: an empty match table would select every case; name the axes")
    match = {}
    for axis, values in raw.items():
        if axis not in vocab.axes:
            raise DeviationFileError(f"{where}: match: unknown axis {axis!r}{nearest(axis, vocab.axes)}; axes: "
                                     f"{', '.join(sorted(vocab.axes))}")
        values = (values,) if isinstance(values, str) else values
        if not isinstance(values, list | tuple) or not values or not all(isinstance(v, str) for v in values):
            raise DeviationFileError(f"{where}: match: {axis} must be a value or an array of values (strings), "
                                     f"got {values!r}")
        for value in values:
            if value not in vocab.axes[axis]:
                raise DeviationFileError(f"{where}: match: unknown {axis} value {value!r}"
                                         f"{nearest(value, vocab.axes[axis])}; valid values: "
                                         f"{', '.join(sorted(vocab.axes[axis]))}")
        match[axis] = tuple(values)
    return match


@dataclass(frozen=True)
class Deviation:
    id: str
    #: Any of these patterns (each: axis -> allowed values) selects a scenario.
    match: tuple[Pattern, ...]
    observed: dict[str, Any]
    reason: str
    source: str
    versions: str = ""
    origin: str = ""

    @classmethod
    def from_dict(cls, d: dict, origin: str, vocab: Vocabulary) -> "Deviation":
        where = f"{origin}: deviation {d.get('id', '?')!r}"
        typo = unknown_keys(d, ENTRY_KEYS, where)
        if typo:
            raise DeviationFileError(typo)
        for key in ("id", "reason", "source", "versions"):
            if key in d and not isinstance(d[key], str):
                raise DeviationFileError(f"{where}: {key} must be a string, got {type(d[key]).__name__}")
        if "observed" in d and not isinstance(d["observed"], dict):
            raise DeviationFileError(f"{where}: observed must be a table of fields, got {type(d['observed']).__name__}")
        for key in ("id", "match", "observed", "reason", "source"):
            if not d.get(key):
                raise DeviationFileError(f"{where} has no {key!r}")
        if not str(d["source"]).startswith(("http://", "https://")):
            raise DeviationFileError(f"{where}: source must be a link, got {d['source']!r}")
        raw = d["match"] if isinstance(d["match"], list) else [d["match"]]
        match = tuple(_pattern(m, where, vocab) for m in raw)
        for field in d["observed"]:
            if field not in vocab.observed:
                raise DeviationFileError(f"{where}: unknown observed field {field!r}{nearest(field, vocab.observed)}; "
                                         f"fields: {', '.join(sorted(vocab.observed))}")
        for field, value in d["observed"].items():
            want = "a string (the error's prefix)" if field == "error" else "a value or an array, not a table"
            if isinstance(value, dict) or field == "error" and not isinstance(value, str):
                raise DeviationFileError(f"{where}: observed {field} must be {want}, got {type(value).__name__} "
                                         f"{value!r}")
        try:
            SpecifierSet(d.get("versions", ""))
        except InvalidSpecifier as e:
            raise DeviationFileError(f"{where}: bad versions {d.get('versions')!r}: {e}") from None
        return cls(
            id=d["id"],
            match=match,
            observed=dict(d["observed"]),
            reason=d["reason"],
            source=d["source"],
            versions=d.get("versions", ""),
            origin=origin,
        )

    def applies(self, version: str) -> bool:
        """Whether the entry covers this version of the implementation."""
        try:
            return SpecifierSet(self.versions).contains(Version(version), prereleases=True)
        except InvalidVersion:  # "not installed", a local build: only an unpinned entry applies
            return not self.versions

    def matches(self, case) -> bool:
        """Whether a pattern selects ``case`` (any case type: see the module's docstring)."""
        axes, needs = case.axes(), type(case).PATTERN_NEEDS
        return any(needs <= pattern.keys() and all(axes.get(axis) in values for axis, values in pattern.items())
                   for pattern in self.match)

    def expected_with_deviation(self, exp: dict, observed: dict) -> dict:
        """The rule's expectation with this entry's observed behaviour in place.

        Call only when :meth:`explains` holds; an error is recorded by prefix,
        so the observed message stands in for it.
        """
        out = dict(exp)
        out.update(self.observed)
        if "error" in self.observed:
            out["error"] = observed["error"]
        return out

    def explains(self, observed: dict) -> bool:
        """Every field the entry names is what was observed (errors by prefix)."""
        for key, value in self.observed.items():
            if key == "error":
                if not str(observed.get("error") or "").startswith(value):
                    return False
            elif observed.get(key) != value:
                return False
        return True

    def label(self) -> str:
        return f"{self.id}: {self.reason} ({self.source})"


def load_file(path: Path | str, vocab: Vocabulary, origin: Optional[str] = None) -> list[Deviation]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise DeviationFileError(f"cannot read deviation file {path}: {e}") from None
    return _entries(data, origin or str(path), vocab)


def _entries(data: dict, origin: str, vocab: Vocabulary) -> list[Deviation]:
    typo = unknown_keys(data, FILE_KEYS, origin)
    if typo:
        raise DeviationFileError(typo + " (each entry is a [[deviation]] table)")
    raw = data.get("deviation", [])
    if not isinstance(raw, list) or not all(isinstance(d, dict) for d in raw):
        raise DeviationFileError(f"{origin}: deviation must be an array of tables: write each entry as [[deviation]]")
    entries = [Deviation.from_dict(d, origin, vocab) for d in raw]
    ids = [d.id for d in entries]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise DeviationFileError(f"{origin}: duplicate deviation id(s) {dupes}")
    return entries


def builtin(target: str, vocab: Vocabulary) -> list[Deviation]:
    """The suite's own entries for ``target`` (all versions): ``bn_behaviour/deviations/<target>.toml``."""
    f = resources.files("bn_behaviour") / "deviations" / f"{target}.toml"
    if not f.is_file():
        return []
    return _entries(tomllib.loads(f.read_text()), f"deviations/{target}.toml", vocab)


def applicable(entries: Iterable[Deviation], version: str) -> list[Deviation]:
    return [d for d in entries if d.applies(version)]


def find(entries: Iterable[Deviation], case) -> Optional[Deviation]:
    """The first entry whose pattern matches ``case``."""
    return next((d for d in entries if d.matches(case)), None)
