"""Known deviations: where an implementation does not follow its documented rule.

Deviations are data: one TOML file per target under ``deviations/``, each
entry with an ``id``, a scenario pattern (``match``: axis -> value or list of
values, or an array of such tables, any of which selects a scenario),
the observed behaviour (``observed``: the observation fields that differ from
the rule), a one-line ``reason``, a ``source`` link and optionally the
``versions`` of the implementation it applies to (a PEP 440 specifier).

>>> d = Deviation.from_dict({"id": "x", "match": {"path": "fit"}, "observed": {"mode": "training"},
...     "reason": "r", "source": "https://example.org"}, origin="doc")
>>> d.matches(Scenario("functional", "layer", "after_fit", "fit", "none"))
True
>>> d.applies("3.15.1")
True
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Optional

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from .scenario import AXES, Scenario

OBSERVED_FIELDS = (
    "variable_dtypes",
    "mode",
    "moving_stats",
    "affine",
    "trainable_weights",
    "non_trainable_weights",
    "model_trainable_weights",
    "error",
)


class DeviationFileError(Exception):
    """A deviation file that cannot be used (a usage error naming the entry)."""


Pattern = dict[str, tuple[str, ...]]


def _axes() -> dict[str, Any]:
    """The axes a pattern may name: the scenario's, and the settings matrix's ``setting`` and
    ``precision`` (a pattern naming ``setting`` selects settings-matrix cases only, one that
    does not selects main-matrix scenarios only)."""
    from .setting import PRECISIONS, SETTINGS
    from .workflow import NAMES, all_cases

    variants = {c.variant for c in all_cases()}
    return {**AXES, "setting": SETTINGS, "precision": PRECISIONS, "workflow": NAMES, "variant": variants}


def _kind(pattern_or_case) -> str:
    """Which matrix a pattern (by the axes it names) or a case (by its attributes) belongs to."""
    has = (lambda k: k in pattern_or_case) if isinstance(pattern_or_case, dict) else (
        lambda k: hasattr(pattern_or_case, k))
    return "workflow" if has("workflow") else "setting" if has("setting") else "main"


def _pattern(raw: dict, where: str) -> Pattern:
    match = {}
    axes = _axes()
    for axis, values in raw.items():
        values = (values,) if isinstance(values, str) else tuple(values)
        if axis not in axes:
            raise DeviationFileError(f"{where}: unknown axis {axis!r}")
        bad = [v for v in values if v not in axes[axis]]
        if bad:
            raise DeviationFileError(f"{where}: unknown {axis} value(s) {bad}")
        match[axis] = values
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
    def from_dict(cls, d: dict, origin: str) -> "Deviation":
        where = f"{origin}: deviation {d.get('id', '?')!r}"
        for key in ("id", "match", "observed", "reason", "source"):
            if not d.get(key):
                raise DeviationFileError(f"{where} has no {key!r}")
        if not str(d["source"]).startswith(("http://", "https://")):
            raise DeviationFileError(f"{where}: source must be a link, got {d['source']!r}")
        raw = d["match"] if isinstance(d["match"], list) else [d["match"]]
        match = tuple(_pattern(m, where) for m in raw)
        from .workflow import observed_fields

        unknown = set(d["observed"]) - set(OBSERVED_FIELDS) - observed_fields()
        if unknown:
            raise DeviationFileError(f"{where}: unknown observed field(s) {sorted(unknown)}")
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
        except Exception:
            return not self.versions

    def matches(self, s) -> bool:
        """Whether a pattern selects ``s`` (a Scenario, a settings-matrix SettingCase or a
        WorkflowCase; a pattern selects cases of the matrix whose axes it names)."""
        kind = _kind(s)
        return any(
            _kind(pattern) == kind
            and all(getattr(s, axis) in values for axis, values in pattern.items())
            for pattern in self.match
        )

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


def load_file(path: Path | str, origin: Optional[str] = None) -> list[Deviation]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise DeviationFileError(f"cannot read deviation file {path}: {e}") from None
    return _entries(data, origin or str(path))


def _entries(data: dict, origin: str) -> list[Deviation]:
    entries = [Deviation.from_dict(d, origin) for d in data.get("deviation", [])]
    ids = [d.id for d in entries]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise DeviationFileError(f"{origin}: duplicate deviation id(s) {dupes}")
    return entries


def builtin(target: str) -> list[Deviation]:
    """The suite's own entries for ``target`` (all versions)."""
    f = resources.files("bn_behaviour") / "deviations" / f"{target}.toml"
    if not f.is_file():
        return []
    return _entries(tomllib.loads(f.read_text()), f"deviations/{target}.toml")


def applicable(entries: Iterable[Deviation], version: str) -> list[Deviation]:
    return [d for d in entries if d.applies(version)]


def find(entries: Iterable[Deviation], s: Scenario) -> Optional[Deviation]:
    """The first entry whose pattern matches ``s``."""
    return next((d for d in entries if d.matches(s)), None)
