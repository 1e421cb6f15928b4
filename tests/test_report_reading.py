"""Reading a report back refuses what the schema does not know, in one line (bn_behaviour.report.reading).

Every command that reads a report (``diff``, ``docs``, ``disagree``, ``report --reuse``,
``history --refresh``) and ``docs --check``'s clients.json: an unknown key, a wrong type or value, another
format is one line naming the file, the case (by its ID) and the key, with the nearest known key.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from bn_behaviour import cli
from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.clients.runner import ClientsFileError
from bn_behaviour.clients.runner import read as read_clients
from bn_behaviour.history import Version, store
from bn_behaviour.matrices import MATRICES
from bn_behaviour.report import reading
from bn_behaviour.report.format import FORMAT, merge, schema
from bn_behaviour.rules.tf2 import expected
from bn_behaviour.targets import TARGETS
from bn_behaviour.targets.network import HARNESS

ROW = "layer-frozen=none-when=before_compile-path=call-training=true"


def _per_target(name: str = "keras-tensorflow") -> dict:
    s = Scenario.from_id(ROW)
    record = {"id": ROW, "scenario": s.axes(), "observed": expected(s), "expected": expected(s), "violated": [],
              "status": "pass", "deviation": None, "deviation_source": None}
    return {"format": FORMAT, "suite": {"name": "bn-behaviour", "version": "0", "git_revision": None,
                                        "harness": HARNESS},
            "layer": "genuine", "options": {"bn_target": name, "bn_layer": None, "bn_deviations": [],
                                            "bn_xfail": "strict", "bn_matrices": list(MATRICES)},
            "target": {"name": name, "description": "d", "rule": "tf2", "versions": {"keras": "3"},
                       "variance_convention": "biased", "backend": None},
            **{m.cases_key: [] for m in MATRICES.values()}, "cases": [record]}


def _write(path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def test_a_misspelt_key_in_a_case_is_one_line_naming_the_file_the_case_and_the_key(tmp_path, capsys):
    """``diff`` reads a per-target report whose case holds ``mdoe``: without the check the case would read
    as having no mode; instead the file, the case ID, the key and the likely key are named."""
    report = _per_target()
    report["cases"][0]["observed"]["mdoe"] = report["cases"][0]["observed"].pop("mode")
    path = _write(tmp_path / "old.json", report)
    assert cli.main(["diff", path, path]) == 2
    assert _one_line(capsys).startswith(
        f"bn-behaviour: error: {path}: cases[{ROW}].observed: unknown key 'mdoe' (did you mean 'mode'?); known keys: "
        "mode, moving_stats, ")


def test_a_misspelt_top_level_key_of_a_merged_report_is_one_line(tmp_path, capsys):
    """``docs`` reads a merged report with ``fused_row``: the key a newer or hand-edited file added is named
    with the key the reader knows."""
    merged = merge([_per_target()], {})
    merged["fused_row"] = merged.pop("fused_rows")
    path = _write(tmp_path / "behaviour.json", merged)
    assert cli.main(["docs", path, "--out", str(tmp_path / "docs")]) == 2
    assert _one_line(capsys) == (
        f"bn-behaviour: error: {path}: top level: unknown key 'fused_row' (did you mean 'fused_rows'?); known keys: "
        f"{', '.join(schema()['$defs']['merged']['properties'])}")


def test_a_wrong_value_in_a_merged_row_names_the_row_and_the_target(tmp_path, capsys):
    """``disagree`` reads a merged report whose cell says status ``passed``: the row ID, the target and
    the nearest allowed value are named."""
    merged = merge([_per_target()], {})
    merged["rows"][0]["cases"]["keras-tensorflow"]["status"] = "passed"
    path = _write(tmp_path / "behaviour.json", merged)
    assert cli.main(["disagree", path]) == 2
    assert _one_line(capsys) == (
        f"bn-behaviour: error: {path}: rows[{ROW}].cases.keras-tensorflow.status: 'passed' is not one of pass, "
        "deviation, fail, skipped, crash, timeout (did you mean 'pass'?)")


@pytest.mark.parametrize("version, said", [(2, "format 2"), (None, "no format (written before format 1)")],
                         ids=["newer", "absent"])
def test_another_format_is_one_line(tmp_path, capsys, version, said):
    """A report of another format would be read with keys that mean something else: refused, naming it."""
    report = _per_target()
    if version is None:
        del report["format"]
    else:
        report["format"] = version
    path = _write(tmp_path / "r.json", report)
    assert cli.main(["diff", path, path]) == 2
    assert _one_line(capsys) == (f"bn-behaviour: error: {path}: {said}; this bn-behaviour reads format {FORMAT}: "
                                 "write it again with this version (bn-behaviour report, or pytest --bn-report)")


def test_a_per_target_report_where_a_merged_one_is_needed(tmp_path, capsys):
    path = _write(tmp_path / "keras-tensorflow.json", _per_target())
    assert cli.main(["docs", path, "--out", str(tmp_path)]) == 2
    assert "is a per-target report (--bn-report); this needs the merged behaviour.json" in _one_line(capsys)


def test_a_reused_report_is_checked_before_anything_runs(tmp_path, capsys):
    """``report --reuse`` reads the per-target file left in --out: a misspelt key stops the command before
    any target runs (no pytest process is started: the error comes at once)."""
    name = next((n for n in ("tf1", "keras-tensorflow") if not TARGETS[n].missing()), None)
    if name is None:
        pytest.skip("no target installed")
    report = _per_target(name)
    report["cases"][0]["violatd"] = report["cases"][0].pop("violated")
    report["complete"] = True  # a whole report, so --reuse takes it (an incomplete one is refused earlier)
    path = _write(tmp_path / f"{name}.json", report)
    assert cli.main(["report", "--target", name, "--out", str(tmp_path), "--reuse"]) == 2
    assert _one_line(capsys) == (
        f"bn-behaviour: error: {path}: cases[{ROW}]: unknown key 'violatd' (did you mean 'violated'?); known keys: "
        f"{', '.join(schema()['$defs']['layerCase']['properties'])}")
    assert not (tmp_path / "behaviour.json").exists()


def test_history_refresh_refuses_a_report_with_an_unknown_key(tmp_path):
    """``history --refresh`` stores each session's report: a misspelt key is one line naming the file."""
    reports = tmp_path / "reports"
    reports.mkdir()
    report = _per_target()
    report["suite"]["harnes"] = report["suite"].pop("harness")  # suite is open in the schema: allowed
    report["targt"] = report.pop("target")
    _write(reports / "keras-3.0.5.json", report)
    table = [Version("keras-3.0.5", "keras-tensorflow", "keras-tensorflow", ("keras==3.0.5",), "why")]
    with pytest.raises(store.StoreError) as info:
        store.refresh(reports, tmp_path / "store", table=table)
    assert str(info.value).startswith(f"{reports / 'keras-3.0.5.json'}: top level: unknown key 'targt' (did you "
                                      "mean 'target'?); known keys: ")


def test_docs_check_refuses_a_clients_json_with_an_unknown_key(tmp_path, capsys):
    """``docs --check`` reads the committed clients.json back: a misspelt key of a result, or a statement
    the rulebook does not hold, is one line naming the file, the client and target, and the key."""
    committed = Path(__file__).resolve().parent.parent / "docs" / "clients.json"
    data = read_clients(committed)  # the committed file reads
    bad = copy.deepcopy(data)
    first = bad["results"][0]
    first["verdikt"] = first.pop("verdict")
    _write(tmp_path / "clients.json", bad)
    merged = _write(tmp_path / "behaviour.json", merge([_per_target()], {}))
    assert cli.main(["docs", merged, "--out", str(tmp_path), "--check"]) == 2
    assert _one_line(capsys).startswith(
        f"bn-behaviour: error: {tmp_path / 'clients.json'}: results[{first['client']} {first['target']}]: unknown "
        "key 'verdikt' (did you mean 'verdict'?); known keys: ")
    bad = copy.deepcopy(data)
    statements = next(r["statements"] for r in bad["results"] if "statements" in r)
    statements["frozen-bn-runs-in-inferense"] = statements.pop("frozen-bn-runs-in-inference")
    _write(tmp_path / "clients.json", bad)
    with pytest.raises(ClientsFileError, match=r"unknown key 'frozen-bn-runs-in-inferense' \(did you mean "
                                               r"'frozen-bn-runs-in-inference'\?\)"):
        read_clients(tmp_path / "clients.json")


def test_the_reader_agrees_with_a_json_schema_validator():
    """reading.problem implements the part of JSON Schema that schema.json uses: on a valid report and on
    each kind of mutation, it refuses exactly when jsonschema does (with every required key required)."""
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed (the [test] extra has it)")
    validator = jsonschema.Draft202012Validator(schema())
    base = _per_target()
    merged = merge([base, _per_target("tf_keras")], {"tf1": "why"})
    variants = [base, merged]
    for mutate in (lambda r: r["cases"][0]["observed"].update(speed=1), lambda r: r["cases"][0].update(status=3),
                   lambda r: r.update(extra=1), lambda r: r.pop("layer"), lambda r: r["target"].update(rule="tf3"),
                   lambda r: r["cases"][0].update(fault={"kind": "crash"}), lambda r: r.update(format=True),
                   lambda r: r["suite"].update(harness=1.5), lambda r: r["cases"][0].update(violated=[1])):
        variants.append(copy.deepcopy(base))
        mutate(variants[-1])
    for mutate in (lambda m: m["targets"][0]["counts"].update(fail=-1), lambda m: m["rows"][0].update(note="x"),
                   lambda m: m["rows"][0]["cases"]["tf_keras"]["observed"].update(mode="train"),
                   lambda m: m.update(skipped_targets={"tf1": None}), lambda m: m.pop("settings_rows")):
        variants.append(copy.deepcopy(merged))
        mutate(variants[-1])
    for v in variants:
        assert (reading.problem(v, schema()) is None) == validator.is_valid(v), reading.problem(v, schema())
    assert sum(validator.is_valid(v) for v in variants) == 2
