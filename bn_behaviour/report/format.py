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
from ..targets import TARGETS

#: A fact a workflow observes (``workflowCase`` records): a word, a yes/no, or none.
FACT = {"type": ["string", "boolean", "null"]}
#: The format version: 1 adds ``format`` itself and the fused 4-D matrix (``fused_cases``, ``fused_rows``).
FORMAT = 1


def schema() -> dict:
    """The JSON Schema of both report shapes: ``schema.json`` (what every report shares) with what the
    registries know added: each matrix's keys, its records following its ``record_schema`` definition with
    its own axes and values (a matrix of facts closed to the fields it observes); the targets and the
    distributions they record.
    Every object is closed: a key no registry knows is refused.

    >>> defs = schema()["$defs"]
    >>> defs["perTarget"]["required"][-2:], defs["merged"]["properties"]["workflow_rows"]["items"]["required"]
    (['workflow_cases', 'compiled_cases'], ['id', 'cases'])
    >>> sorted(defs["workflowsRecord"]["allOf"][1]["properties"]["scenario"]["properties"])
    ['variant', 'workflow']
    """
    out = json.loads((resources.files("bn_behaviour") / "report" / "schema.json").read_text())
    defs = out["$defs"]
    _close_open_objects(defs)
    counts = defs["mergedTarget"]
    for m in MATRICES.values():
        record = {"$ref": f"#/$defs/{m.name}Record"}
        defs[f"{m.name}Record"] = _record(defs, m)
        row = {"type": "object", "required": ["id", "cases"],
               "properties": {"id": {"type": "string"}, "cases": {
                   "type": "object", "properties": dict.fromkeys(TARGETS, record), "additionalProperties": False}},
               "additionalProperties": False}
        for node, key, value in ((defs["perTarget"], m.cases_key, {"type": "array", "items": record}),
                                 (defs["merged"], m.rows_key, {"type": "array", "items": row}),
                                 (counts, m.counts_key, {"$ref": "#/$defs/counts"})):
            node["required"].append(key)
            node["properties"][key] = value
    return out


def _close_open_objects(defs: dict) -> None:
    """Close what only the registries can list: targets, their distributions, a merged report's target
    entries (a target's keys, its error and its counts) and skipped targets."""
    dists = sorted({d for t in TARGETS.values() for d in (t.implementation, *t.versions_of)})
    defs["target"]["properties"]["name"] = {"enum": list(TARGETS)}
    defs["target"]["properties"]["versions"] = {"type": "object", "additionalProperties": False,
                                                "properties": {d: {"type": "string"} for d in dists}}
    defs["mergedTarget"]["properties"] = {**defs["target"]["properties"], **defs["mergedTarget"]["properties"]}
    defs["merged"]["properties"]["skipped_targets"]["properties"] = {t: {"type": "string"} for t in TARGETS}
    defs["perTarget"]["properties"]["options"]["properties"]["bn_matrices"]["items"] = {"enum": list(MATRICES)}


def _record(defs: dict, m) -> dict:
    """A case record of matrix ``m``: its ``record_schema`` with the scenario's axes and values, an open
    observation (a workflow's facts) closed to the fields the matrix observes, and the expected fields
    (those of the observation) closed."""
    axes = {axis: {"enum": sorted(values) if isinstance(values, (set, frozenset)) else list(values)}
            for axis, values in m.case_type.AXES.items()}
    observation = resolve_ref(defs, defs[m.record_schema]["properties"]["observed"])
    fields = dict(observation["properties"])
    closed = {}
    if observation.get("additionalProperties", True) is not False:
        fields = {**{f: FACT for f in sorted(m.observed_fields)}, **fields}
        closed["observed"] = {"type": "object", "properties": fields, "additionalProperties": False}
    scenario = {"type": "object", "properties": axes, "additionalProperties": False}
    expected = {"type": "object", "properties": fields, "additionalProperties": False}
    return {"allOf": [{"$ref": f"#/$defs/{m.record_schema}"},
                      {"properties": {"scenario": scenario, "expected": expected, **closed}}]}


def resolve_ref(defs: dict, node: dict) -> dict:
    """The definition a ``{"$ref": "#/$defs/name"}`` node points to; any other node as it is."""
    return defs[node["$ref"].rpartition("/")[2]] if "$ref" in node else node


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
