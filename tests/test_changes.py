"""``bn-behaviour diff``: pairing, grouping by rule, exit status, bad input."""

import json

import pytest

from bn_behaviour import cli
from bn_behaviour.cases.scenario import generate
from bn_behaviour.report.changes import compare, load, pair_targets

IDS = [s.id for s in generate()[:3]]


def _case(sid, mode="inference", status="pass", error=None, trainable=("beta", "gamma")):
    return {"id": sid, "status": status, "observed": {
        "mode": mode, "moving_stats": "unchanged", "affine": "n/a", "error": error,
        "trainable_weights": list(trainable), "non_trainable_weights": [], "model_trainable_weights": []}}


def _report(path, name, cases, version="1"):
    path.write_text(json.dumps({"format": 1, "target": {"name": name, "versions": {"keras": version}},
                                "cases": cases}))
    return str(path)


def test_identical_reports_exit_zero(tmp_path, capsys):
    a = _report(tmp_path / "a.json", "keras-tensorflow", [_case(i) for i in IDS])
    assert cli.main(["diff", a, a]) == 0
    assert "no observed behaviour changed" in capsys.readouterr().out


def test_changes_are_grouped_by_rule_and_exit_one(tmp_path, capsys):
    old = _report(tmp_path / "a.json", "keras-tensorflow", [_case(i) for i in IDS], "3.15.1")
    new = _report(tmp_path / "b.json", "keras-tensorflow", [
        _case(IDS[0], mode="training", status="fail"),
        _case(IDS[1], error="ValueError: Unknown variable"),
        _case(IDS[2], trainable=()),
    ], "3.16")
    assert cli.main(["diff", old, new]) == 1
    out = capsys.readouterr().out
    assert "3 scenarios changed" in out and "keras 3.15.1" in out and "keras 3.16" in out
    for rule in ("mode (1)", "status (1)", "no_error (1)", "weight_lists (1)"):
        assert rule in out
    assert f"keras-tensorflow {IDS[1]}: none -> ValueError" in out


def test_a_reworded_error_message_is_not_a_change():
    a = {("t", "s"): _case("s", error="ValueError: one wording")}
    b = {("t", "s"): _case("s", error="ValueError: another wording")}
    assert compare(a, b) == []


def test_added_and_removed_scenarios_are_listed():
    changes = compare({("t", "old"): _case("old")}, {("t", "new"): _case("new")})
    assert [(c.rule, c.id) for c in changes] == [("added", "new"), ("removed", "old")]


def test_two_single_target_reports_of_different_targets_are_compared(tmp_path):
    a, _ = load(_report(tmp_path / "a.json", "tf_keras", [_case(IDS[0])]))
    b, _ = load(_report(tmp_path / "b.json", "keras-tensorflow", [_case(IDS[0], mode="training")]))
    changes = compare(*pair_targets(a, b))
    assert [c.target for c in changes] == ["tf_keras->keras-tensorflow"]


def test_merged_reports_are_read_per_target(tmp_path):
    merged = {"format": 1, "targets": [{"name": "tf1", "versions": {}}],
              "rows": [{"id": IDS[0], "cases": {"tf1": _case(IDS[0])}}]}
    path = tmp_path / "behaviour.json"
    path.write_text(json.dumps(merged))
    cases, targets = load(str(path))
    assert list(cases) == [("tf1", IDS[0])] and list(targets) == ["tf1"]


@pytest.mark.parametrize("content", [None, "not json", json.dumps({"x": 1})])
def test_a_file_that_is_not_a_report_is_a_one_line_usage_error(tmp_path, capsys, content):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    assert cli.main(["diff", str(path), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bn-behaviour: error:") and err.count("\n") == 1
