"""The JSON reports follow their written schema (``report.format.schema()``: bn_behaviour/report/schema.json plus
each matrix's keys from the registry; docs/report-format.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.matrices import MATRICES
from bn_behaviour.report import format as format_module
from bn_behaviour.report.format import FORMAT, merge, schema
from bn_behaviour.rules.tf2 import expected

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed (the [test] extra has it)")
DOC = Path(__file__).resolve().parent.parent / "docs" / "report-format.md"


def _record(sid: str, status: str = "pass") -> dict:
    s = Scenario.from_id(sid)
    return {"id": sid, "scenario": s.axes(), "observed": expected(s), "expected": expected(s), "violated": [],
            "status": status, "deviation": None, "deviation_source": None}


def _per_target(name: str) -> dict:
    sid = "layer-frozen=none-when=before_compile-path=call-training=true"
    return {"format": FORMAT, "suite": {"name": "bn-behaviour", "version": "0", "git_revision": None},
            "layer": "genuine", "options": {"bn_target": name, "bn_layer": None, "bn_deviations": [],
                                            "bn_xfail": "strict"},
            "target": {"name": name, "description": "d", "rule": "tf2", "versions": {"keras": "3"},
                       "variance_convention": "biased", "backend": None},
            **{m.cases_key: [] for m in MATRICES.values()}, "cases": [_record(sid)]}


def _validate(report: dict) -> list[str]:
    return [e.message for e in jsonschema.Draft202012Validator(schema()).iter_errors(report)]


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(schema())


def test_a_per_target_report_and_its_merge_follow_the_schema():
    reports = [_per_target("keras-tensorflow"), _per_target("tf_keras")]
    assert _validate(reports[0]) == []
    merged = merge(reports, {"tf1": "tensorflow is not installed"})
    assert merged["format"] == FORMAT and _validate(merged) == []


def test_the_schema_refuses_what_readers_could_not_read():
    report = _per_target("keras-tensorflow")
    assert _validate({**report, "format": 0})
    assert _validate({**report, "cases": [{**report["cases"][0], "status": "flaky"}]})
    assert _validate({k: v for k, v in report.items() if k != "fused_cases"})


def test_the_schema_requires_every_key_of_every_matrix():
    """The keys a report holds per matrix are the registry's (``format.schema()`` adds them, schema.json holds
    none): a report or a merge without one of them is refused, and each matrix's records are validated by the
    definition it names (a layer matrix observes only fields ``layerObservation`` knows)."""
    defs, per_target = schema()["$defs"], _per_target("keras-tensorflow")
    merged = merge([per_target], {})
    static = json.loads((Path(format_module.__file__).with_name("schema.json")).read_text())["$defs"]
    for m in MATRICES.values():
        assert m.cases_key not in static["perTarget"]["properties"] and m.rows_key not in static["merged"]["properties"]
        assert _validate({k: v for k, v in per_target.items() if k != m.cases_key}), m.cases_key
        assert _validate({k: v for k, v in merged.items() if k != m.rows_key}), m.rows_key
        target = {k: v for k, v in merged["targets"][0].items() if k != m.counts_key}
        assert _validate({**merged, "targets": [target]}), m.counts_key
        assert defs["perTarget"]["properties"][m.cases_key]["items"] == {"$ref": f"#/$defs/{m.name}Record"}
        assert defs[f"{m.name}Record"]["allOf"][0] == {"$ref": f"#/$defs/{m.record_schema}"}
        if m.record_schema == "layerCase":
            assert m.observed_fields <= set(defs["layerObservation"]["properties"]), m.name
    layer_record = {**per_target["cases"][0], "observed": {"mode": "training", "error": None}}
    assert _validate({**per_target, "fused_cases": [layer_record]})  # a layer record lacking its fields
    assert _validate({**per_target, "workflow_cases": [layer_record]})  # a workflow's record has its own axes
    workflow = {"id": "w", "scenario": {"workflow": "fine_tune", "variant": next(iter(
        MATRICES["workflows"].case_type.AXES["variant"]))}, "observed": {"error": None, "base_gamma": "updated"},
        "expected": {}, "violated": [], "status": "pass", "deviation": None, "deviation_source": None}
    assert not _validate({**per_target, "workflow_cases": [workflow]})  # facts: any workflow's FIELDS
    stray = {**workflow, "observed": {"error": None, "no_such_fact": "x"}}
    assert _validate({**per_target, "workflow_cases": [stray]})  # closed to the matrix's observed_fields


def _places(report: dict) -> dict[str, tuple[dict, str]]:
    """Every object of a report the registries close, with where to put an unknown key and the one-line
    name the reader gives that place."""
    case, target = report["cases"][0], report["target"]
    return {"top level": (report, "top level"), "suite": (report["suite"], "suite"),
            "options": (report["options"], "options"), "target": (target, "target"),
            "target.versions": (target["versions"], "target.versions"),
            "scenario": (case["scenario"], f"cases[{case['id']}].scenario"),
            "observed": (case["observed"], f"cases[{case['id']}].observed"),
            "expected": (case["expected"], f"cases[{case['id']}].expected"),
            "measured": (case.setdefault("measured", {"output_error": 0.0}), f"cases[{case['id']}].measured")}


@pytest.mark.parametrize("place", list(_places(_per_target("keras-tensorflow"))))
def test_every_object_of_a_per_target_report_refuses_an_unknown_key(place):
    """Every file the project reads refuses what it does not know: an unknown key anywhere in a report is
    refused by the schema and by the reader, in one line naming where it is."""
    from bn_behaviour.report.reading import problem

    report = _per_target("keras-tensorflow")
    node, where = _places(report)[place]
    assert _validate(report) == [] and problem(report, schema()) is None
    node["no_such_key"] = "x"
    assert _validate(report), place
    found = problem(report, schema())
    assert found and found.startswith(f"{where}: unknown key 'no_such_key'") and "\n" not in found, found


@pytest.mark.parametrize("place", ["targets[]", "targets[].versions", "counts", "skipped_targets", "row cell"])
def test_every_object_of_a_merged_report_refuses_an_unknown_key(place):
    from bn_behaviour.report.reading import problem

    merged = merge([_per_target("keras-tensorflow")], {"tf1": "tensorflow is not installed"})
    entry = merged["targets"][0]
    node = {"targets[]": entry, "targets[].versions": entry["versions"], "counts": entry["counts"],
            "skipped_targets": merged["skipped_targets"], "row cell": merged["rows"][0]["cases"]}[place]
    node["no_such_key" if place != "row cell" else "no-such-target"] = {} if place == "row cell" else "x"
    assert _validate(merged), place
    assert problem(merged, schema()), place


def test_an_unknown_axis_value_is_refused_with_the_nearest_value():
    from bn_behaviour.report.reading import problem

    report = _per_target("keras-tensorflow")
    report["cases"][0]["scenario"]["path"] = "cal"
    found = problem(report, schema())
    assert _validate(report) and "cases[" in found and ".scenario.path: 'cal' is not one of" in found
    assert "did you mean 'call'?" in found


def test_the_written_format_names_every_key_of_every_matrix():
    text = DOC.read_text()
    for m in MATRICES.values():
        for key in (m.cases_key, m.rows_key, m.counts_key):
            assert f"`{key}`" in text, key
    for key in schema()["$defs"]["layerObservation"]["properties"]:
        assert f"`{key}`" in text, key
    assert f"(format {FORMAT})" in text


@pytest.mark.parametrize("path", sorted(Path(__file__).resolve().parent.parent.glob("reports/*.json")),
                         ids=lambda p: p.name)
def test_reports_written_here_follow_the_schema(path):
    """Every report a run left in reports/ (.ci/run runs this file again once all of them are written)."""
    assert _validate(json.loads(path.read_text())) == []


def test_schema_names_every_rule():
    """A target's ``rule`` is a key of ``rules.RULES``: the schema's enum lists exactly those."""
    from bn_behaviour.rules import RULES

    def enums(node):
        if isinstance(node, dict):
            if set(node) == {"enum"} and "tf2" in node["enum"]:
                yield node["enum"]
            for value in node.values():
                yield from enums(value)
        elif isinstance(node, list):
            for value in node:
                yield from enums(value)

    found = list(enums(schema()))
    assert found and all(sorted(e) == sorted(RULES) for e in found)
