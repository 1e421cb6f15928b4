"""Reading a JSON report back: a report of this format whose every key the schema knows, or one line.

``bn-behaviour diff``, ``docs``, ``disagree``, ``report --reuse`` and ``history --refresh`` read reports
with :func:`load`, which checks them against ``schema.json`` (:func:`problem`: the subset of JSON Schema
that file uses, so no validator need be installed).  What the schema does not allow (an unknown key
where the schema closes an object, a missing key, a wrong type or value, another format) is a
:class:`ReportFileError` of one line naming the file, where in it (a case by its ID) and the key, with
the nearest known key when the key is a likely typo.

>>> schema = {"type": "object", "required": ["cases"], "additionalProperties": False,
...           "properties": {"cases": {"type": "array", "items": {"$ref": "#/$defs/case"}}},
...           "$defs": {"case": {"type": "object", "additionalProperties": False,
...                              "properties": {"id": {"type": "string"}, "status": {"enum": ["pass", "fail"]}}}}}
>>> print(problem({"cases": [{"id": "a-b", "stauts": "pass"}]}, schema))  # doctest: +NORMALIZE_WHITESPACE
cases[a-b]: unknown key 'stauts' (did you mean 'status'?); known keys: id, status
>>> print(problem({"cases": [{"id": "a-b", "status": "passed"}]}, schema))
cases[a-b].status: 'passed' is not one of pass, fail (did you mean 'pass'?)
>>> problem({"cases": []}, schema) is None
True
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Optional

from ..rules.deviations import nearest, unknown_keys
from .format import FORMAT, resolve_ref, schema

#: The two shapes of a report (``$defs`` of schema.json), by what a command reads.
MERGED, PER_TARGET = "merged", "perTarget"
_TYPES = {"object": dict, "array": list, "string": str, "null": type(None), "boolean": bool,
          "integer": int, "number": (int, float)}


#: Why a report is not the whole answer, by its :func:`completeness` (``complete`` is whole).
INCOMPLETE = {"incomplete": "is incomplete (its run stopped before every case finished)",
              "unknown": "does not say whether it is complete (an earlier bn-behaviour wrote it)"}


def completeness(report: dict) -> str:
    """``complete``, ``incomplete`` or ``unknown`` (no ``complete`` key: an earlier bn-behaviour wrote it).

    >>> completeness({"complete": True}), completeness({"complete": False}), completeness({})
    ('complete', 'incomplete', 'unknown')
    """
    return {True: "complete", False: "incomplete"}.get(report.get("complete"), "unknown")


def why_incomplete(report: dict) -> Optional[str]:
    """Why a report is not a whole run's answer (:data:`INCOMPLETE`'s wording), or None when it is.

    >>> why_incomplete({"complete": True}) is None, why_incomplete({"complete": False}) == INCOMPLETE["incomplete"]
    (True, True)
    """
    state = completeness(report)
    return None if state == "complete" else INCOMPLETE[state]


class ReportFileError(ValueError):
    """A file that is not a report of this format, or holds what the schema does not allow (one line)."""


@functools.cache
def _schema() -> dict:
    return schema()


def load(path: str | Path, shape: Optional[str] = None) -> dict:
    """The report at ``path``, checked (``shape``: :data:`MERGED` or :data:`PER_TARGET`; None: either)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        what = "a merged behaviour.json from `bn-behaviour report`" if shape == MERGED else "a JSON report"
        raise ReportFileError(f"{path} is not {what} ({e})") from None
    check(data, str(path), shape)
    return data


def check(data: Any, origin: str, shape: Optional[str] = None) -> None:
    """Raise :class:`ReportFileError` naming ``origin`` when ``data`` is not a report the schema allows."""
    if not isinstance(data, dict) or not ({"cases", "rows"} & data.keys()):
        raise ReportFileError(f"{origin} is not a bn-behaviour report (a JSON object with 'cases' or 'rows')")
    if not _same(data.get("format"), FORMAT):
        found = f"format {data['format']!r}" if "format" in data else "no format (written before format 1)"
        raise ReportFileError(f"{origin}: {found}; this bn-behaviour reads format {FORMAT}: write it again with "
                              "this version (bn-behaviour report, or pytest --bn-report)")
    if shape == MERGED and "rows" not in data:
        raise ReportFileError(f"{origin} is a per-target report (--bn-report); this needs the merged behaviour.json "
                              "that `bn-behaviour report` writes")
    root = _schema()
    found = problem(data, {"$defs": root["$defs"], **root["$defs"][shape]} if shape else root, required=False)
    if found:
        raise ReportFileError(f"{origin}: {found}")


def read_checked(path: Path, schema: dict, error: type[Exception]) -> dict:
    """A JSON file of the shape ``schema`` describes, or ``error`` with one line naming the file (it does not
    read, or it holds what ``schema`` does not know: :func:`problem`)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise error(f"cannot read {path}: {e}") from None
    found = problem(data, schema)
    if found:
        raise error(f"{path}: {found}")
    return data


def problem(data: Any, schema: dict, required: bool = True) -> Optional[str]:
    """The first place where ``data`` breaks ``schema`` (``where: what``), or None; ``required=False``
    lets keys the schema requires be absent (what is there must still be known and of its type)."""
    return _Check(schema.get("$defs", {}), required).first(data, schema, "")


class _Check:
    def __init__(self, defs: dict, required: bool):
        self.defs, self.required = defs, required

    def first(self, value: Any, node: dict, where: str) -> Optional[str]:
        node = self.resolve(node)
        for sub in node.get("allOf", ()):
            found = self.first(value, sub, where)
            if found:
                return found
        if "oneOf" in node:
            return self.one_of(value, node["oneOf"], where)
        at = f"{where}: " if where else ""
        kinds = node.get("type")
        if kinds is not None:
            kinds = [kinds] if isinstance(kinds, str) else kinds
            if not any(isinstance(value, _TYPES[k]) and not (isinstance(value, bool) and k in ("integer", "number"))
                       for k in kinds):
                return f"{at}{_short(value)} is not {' or '.join(kinds)}"
        if "const" in node and not _same(value, node["const"]):
            return f"{at}{_short(value)} is not {_short(node['const'])}"
        if "enum" in node and not any(_same(value, allowed) for allowed in node["enum"]):
            hint = nearest(value, node["enum"]) if isinstance(value, str) else ""
            return f"{at}{_short(value)} is not one of {', '.join(map(str, node['enum']))}{hint}"
        if "minimum" in node and isinstance(value, int | float) and value < node["minimum"]:
            return f"{at}{_short(value)} is less than {node['minimum']}"
        if isinstance(value, dict):
            return self.object(value, node, where)
        if isinstance(value, list) and "items" in node:
            for i, item in enumerate(value):
                found = self.first(item, node["items"], f"{where}[{_label(item, i)}]")
                if found:
                    return found
        return None

    def object(self, value: dict, node: dict, where: str) -> Optional[str]:
        props, more = node.get("properties", {}), node.get("additionalProperties", True)
        if more is False:
            typo = unknown_keys(value, list(props), where or "top level")
            if typo:
                return typo
        for key in node.get("required", ()) if self.required else ():
            if key not in value:
                return f"{where or 'top level'}: no {key!r} key"
        for key, item in value.items():
            sub = props.get(key, more if isinstance(more, dict) else None)
            if sub:
                found = self.first(item, sub, f"{where}.{key}" if where else key)
                if found:
                    return found
        return None

    def one_of(self, value: Any, branches: list, where: str) -> Optional[str]:
        """None when a branch allows ``value``; else the problem under the branch whose required keys it
        has most of (the shape it was meant to be)."""
        found = []
        for branch in branches:
            found.append(self.first(value, branch, where))
            if found[-1] is None:
                return None
        held = [len(set(self.resolve(b).get("required", ())) & set(value)) if isinstance(value, dict) else 0
                for b in branches]
        return found[held.index(max(held))]

    def resolve(self, node: dict) -> dict:
        return resolve_ref(self.defs, node)


def _label(item: Any, index: int) -> str:
    """How a place in an array is named: its case ID, name or client and target, else its index."""
    if isinstance(item, dict):
        parts = [item[k] for k in ("id", "name", "client", "target") if isinstance(item.get(k), str)]
        if parts:
            return " ".join(parts[:2])
    return str(index)


def _same(value: Any, allowed: Any) -> bool:
    """JSON's equality: ``true`` is not ``1``.

    >>> _same(True, 1), _same(1, 1.0), _same("1", 1)
    (False, True, False)
    """
    return value == allowed and isinstance(value, bool) == isinstance(allowed, bool)


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
