"""The JSON reports: their format version, their schema, the merge, and reading cases back.

Two shapes, both described by :func:`schema` (JSON Schema, draft 2020-12: ``schema.json``
beside this module, what every report shares, plus each matrix's keys) and by
``docs/report-format.md``:

* a **per-target report** (``--bn-report``): ``format``, provenance (``suite``,
  ``layer``, ``options``), ``target``, ``complete`` (every case the run selected finished)
  and, per matrix, ``<prefix>cases``;
* a **merged report** (``behaviour.json``, ``bn-behaviour report``): ``format``,
  ``complete`` (every merged report was), ``targets`` (each with its ``<prefix>counts``), ``skipped_targets`` and, per
  matrix, ``<prefix>rows`` (one row per case ID, its case per target).

Vendoring projects read these files; :data:`FORMAT` changes when a key they
rely on changes meaning or goes away (keys may be added within a version).

>>> rep = {"target": {"name": "t"}, "cases": [{"id": "a", "status": "pass"}]}
>>> merge([rep], {})["rows"]
[{'id': 'a', 'cases': {'t': {'id': 'a', 'status': 'pass'}}}]
>>> sorted(keyed_cases(rep))
[('t', 'a')]
"""

from __future__ import annotations

import json
from importlib import resources

from ..command.summary import status_counts
from ..matrices import MATRICES

#: The format version: 1 adds ``format`` itself and the fused 4-D matrix (``fused_cases``, ``fused_rows``).
FORMAT = 1


def schema() -> dict:
    """The JSON Schema of both report shapes: ``schema.json`` (what every report shares) with each matrix's
    keys added from the registry, its records following its ``record_schema`` definition.

    >>> defs = schema()["$defs"]
    >>> defs["perTarget"]["required"][-2:], defs["merged"]["properties"]["workflow_rows"]["items"]["required"]
    (['settings_cases', 'workflow_cases'], ['id', 'cases'])
    """
    out = json.loads((resources.files("bn_behaviour") / "report" / "schema.json").read_text())
    defs = out["$defs"]
    counts = defs["merged"]["properties"]["targets"]["items"]["allOf"][1]
    for m in MATRICES.values():
        record = {"$ref": f"#/$defs/{m.record_schema}"}
        row = {"type": "object", "required": ["id", "cases"],
               "properties": {"id": {"type": "string"}, "cases": {"type": "object", "additionalProperties": record}},
               "additionalProperties": False}
        for node, key, value in ((defs["perTarget"], m.cases_key, {"type": "array", "items": record}),
                                 (defs["merged"], m.rows_key, {"type": "array", "items": row}),
                                 (counts, m.counts_key, {"$ref": "#/$defs/counts"})):
            node["required"].append(key)
            node["properties"][key] = value
    return out


def merge(reports: list[dict], skipped: dict[str, str]) -> dict:
    """Per-target reports -> the merged report (one row per case ID, one cell per target)."""
    targets = []
    rows: dict[str, dict[str, dict]] = {name: {} for name in MATRICES}
    for rep in reports:
        name = rep["target"]["name"]
        entry = {**rep["target"], "error": rep.get("error")}
        for m in MATRICES.values():
            cases = rep.get(m.cases_key, [])
            entry[m.counts_key] = status_counts(cases)
            for case in cases:
                rows[m.name].setdefault(case["id"], {})[name] = case
        targets.append(entry)
    # Complete unless a target's report says it is not (a target whose run wrote none shows its ``error``).
    complete = all(rep.get("complete") is not False for rep in reports)
    out = {"format": FORMAT, "complete": complete, "targets": targets, "skipped_targets": skipped}
    for m in MATRICES.values():
        out[m.rows_key] = [{"id": k, "cases": rows[m.name][k]} for k in sorted(rows[m.name], key=m.row_order)]
    return out


def keyed_cases(data: dict) -> dict[tuple[str, str], dict]:
    """Every case of a per-target or merged report, keyed by (target, case ID)."""
    if "rows" in data:
        return {(t, row["id"]): c for m in MATRICES.values() for row in data.get(m.rows_key, [])
                for t, c in row["cases"].items()}
    name = data["target"]["name"]
    return {(name, c["id"]): c for m in MATRICES.values() for c in data.get(m.cases_key, [])}


def target_entries(data: dict) -> dict[str, dict]:
    """Target name -> its description (versions, rule), from either shape."""
    if "rows" in data:
        return {t["name"]: t for t in data["targets"]}
    return {data["target"]["name"]: data["target"]}
