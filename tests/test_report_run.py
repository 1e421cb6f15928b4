"""``bn-behaviour report`` as a first run: its plan, its progress, its ending, the quick answer, ``disagree``.

Nothing here runs a framework (the plugin's progress file under a real run is the one harness test):
the ending is fed per-target reports built here and taken with ``--reuse``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time

import pytest

from bn_behaviour import cli
from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.command import plan, progress, quick
from bn_behaviour.matrices import MATRICES, generate, why_not
from bn_behaviour.rules.recipes import RECIPES
from bn_behaviour.rules.rulebook import STATEMENTS
from bn_behaviour.targets import TARGETS

FROZEN = {"mode": "inference", "moving_stats": "unchanged", "affine": "unchanged", "error": None}
TRAINING = {"mode": "training", "moving_stats": "updated", "affine": "updated", "error": None}
GUIDE = RECIPES[0].row  # the guide's recipe
OTHER = "layer-frozen=none-when=before_compile-path=call-training=true"  # not a recipe's row
PAIR = ("keras-tensorflow", "tf_keras")


def _case(sid: str, observed: dict, status: str = "pass") -> dict:
    return {"id": sid, "scenario": Scenario.from_id(sid).axes(), "status": status, "observed": observed,
            "expected": observed, "violated": [], "deviation": None, "deviation_source": None}


def _report(name: str, cases: list[dict]) -> dict:
    return {"format": 1, "complete": True,
            "target": {"name": name, "rule": "tf2", "versions": {"keras": "9.9"}, "description": name},
            "suite": {"name": "bn-behaviour", "version": "0", "git_revision": None}, "layer": "genuine",
            "options": {"bn_matrices": list(MATRICES)}, "cases": cases}


@pytest.fixture
def reused(tmp_path, monkeypatch):
    """A --out folder holding two per-target reports: they agree on GUIDE, disagree on OTHER."""
    for name in PAIR:
        monkeypatch.setitem(TARGETS, name, dataclasses.replace(TARGETS[name], requires=()))  # "installed"
    (tmp_path / "keras-tensorflow.json").write_text(json.dumps(_report(PAIR[0], [
        _case(GUIDE, FROZEN), _case(OTHER, TRAINING)])))
    (tmp_path / "tf_keras.json").write_text(json.dumps(_report(PAIR[1], [
        _case(GUIDE, FROZEN), _case(OTHER, FROZEN, "fail")])))
    return tmp_path


def _report_cli(folder, *extra):
    return cli.main(["report", "--reuse", "--out", str(folder), "--target", PAIR[0], "--target", PAIR[1], *extra])


def test_the_report_ends_on_the_answer_not_the_table(reused, capsys):
    assert _report_cli(reused) == 1  # a case failed
    out, err = capsys.readouterr()
    assert err == ""  # reused targets: no progress
    lines = out.splitlines()
    assert lines[:2] == ["keras-tensorflow (keras 9.9): 2 pass, 0 deviation, 0 fail, 0 skipped",
                         "tf_keras (keras 9.9): 1 pass, 0 deviation, 1 fail, 0 skipped"]
    header = next(i for i, line in enumerate(lines) if line.startswith("recipe "))
    assert lines[header].split() == ["recipe", *PAIR]
    assert lines[header + 1].split() == [RECIPES[0].id, "works", "works"]
    assert lines[-3:] == [
        "The implementations disagree on 1 rows (main 1 of 2); list them with:",
        f"  bn-behaviour disagree {reused / 'behaviour.json'}",
        f"wrote {reused / 'behaviour.json'}, {reused / 'behaviour.md'} and {reused / 'behaviour.html'}",
    ]
    assert OTHER not in out and "BatchNormalization behaviour" not in out  # the full table only with --full
    assert json.loads((reused / "behaviour.json").read_text())["rows"][0]["cases"]


def test_full_prints_every_row_before_the_answer(reused, capsys):
    _report_cli(reused, "--full")
    out = capsys.readouterr().out
    assert "BatchNormalization behaviour" in out and OTHER in out
    assert out.index(OTHER) < out.index("recipe ")
    assert out.rstrip().splitlines()[-1].startswith("wrote ")


def test_disagree_lists_the_rows(reused, capsys):
    _report_cli(reused)
    capsys.readouterr()
    assert cli.main(["disagree", str(reused / "behaviour.json")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "main matrix: 1 rows", f"{OTHER}: train / upd / upd on keras-tensorflow; infer / same / same on tf_keras"]
    assert cli.main(["disagree", str(reused / "behaviour.json"), "--markdown", "--matrix", "main"]) == 0
    assert f"| {OTHER} | train / upd / upd | infer / same / same |" in capsys.readouterr().out
    assert cli.main(["disagree", str(reused / "behaviour.json"), "--matrix", "fused"]) == 0
    assert capsys.readouterr().out == "the targets agree on every row they share\n"
    assert cli.main(["disagree", str(reused / "nothing.json")]) == 2
    assert "is not a merged behaviour.json" in capsys.readouterr().err


def test_plain_progress_lines_when_stderr_is_not_a_terminal(tmp_path):
    path = tmp_path / "t.progress"
    track = progress.Track("t", 20, path, estimate=100.0)
    stream = io.StringIO()
    view = progress.display(stream)
    assert isinstance(view, progress.Lines)
    view.open([track], 0.0, "heading")
    view.update([track], 0.0)  # waiting: nothing
    track.start(0.0)

    def at(now: float, done: int = 0) -> None:
        with open(path, "a") as f:
            f.write("".join(f"case{i}\n" for i in range(track.done, track.done + done)))
        track.poll(now)
        view.update([track], now)

    at(1.0)
    at(2.0, 1)  # 5 %: no line
    at(10.0, 1)  # 10 %
    at(11.0, 1)  # 15 %: the same step
    at(12.0, 2)  # 25 %: a new step, but under 5 s since the last line
    at(40.0)  # 30 s since the last line
    at(50.0, 15)
    track.end(51.0)
    view.update([track], 51.0)
    assert stream.getvalue().splitlines() == [
        "heading",
        "t: started, 20 cases on 1 worker, about 1:40",
        "t: 2/20 cases (10%), 0:10 elapsed, about 1:30 left",
        "t: 5/20 cases (25%), 0:40 elapsed, about 1:00 left",
        "t: 20/20 cases (100%), 0:50 elapsed, about 0:00 left",
        "t: 20/20 cases (100%), done in 0:51",
    ]


def test_the_monitor_reads_a_file_being_appended(tmp_path):
    path = tmp_path / "t.progress"
    track = progress.Track("t", 3, path)
    stream = io.StringIO()
    with progress.Monitor([track], "heading", stream=stream, interval=0.01):
        track.start(0.0)
        path.write_text("a\nb\n")
        deadline = time.monotonic() + 30
        while track.done < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        with open(path, "a") as f:
            f.write("b\nc")  # a repeated case counts once; a line being written, not yet
        track.end(1e9)
    assert track.done == 2
    assert stream.getvalue().splitlines()[-1].startswith("t: 2/3 cases (66%), done in ")


def test_the_quick_selection_is_every_recipe_row_and_one_row_per_statement():
    rows = quick.selection()
    wanted = {r.row for r in RECIPES} | {quick.statement_row(st) for st in STATEMENTS}
    assert len(rows) == len(set(rows)) and set(rows) == wanted
    for st in STATEMENTS:
        row = Scenario.from_id(quick.statement_row(st))
        assert st.about(row)
        assert all(why_not(t, row) is None for t in TARGETS.values() if st.applies_to(t.rule)), st.id


def test_ids_select_cases_in_collection(pytester, tmp_path, clean_env):
    ids = tmp_path / "ids.txt"
    ids.write_text(f"# the quick answer\n{GUIDE}\n{OTHER}\n")
    pytester.makepyfile(test_matrix="from bn_behaviour.test_behaviour import test_behaviour\n")
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                                           "--bn-target", "keras-tensorflow", "--bn-ids", str(ids))
    collected = sorted(line.rsplit("::", 1)[-1] for line in result.outlines if "::" in line)
    assert collected == sorted(f"test_behaviour[{i}]" for i in (GUIDE, OTHER)), result.outlines


def test_an_id_of_no_matrix_is_refused_naming_its_line(pytester, tmp_path, clean_env):
    """A typo in the IDs file would select nothing without a word: it is a one-line usage error."""
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{GUIDE}\nnested-frozen=inner_model-when=before_compile-path=fitt-training=none\n")
    pytester.makepyfile(test_matrix="from bn_behaviour.test_behaviour import test_behaviour\n")
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                                           "--bn-target", "keras-tensorflow", "--bn-ids", str(ids))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --bn-ids {ids}: line 2: *"])


@pytest.mark.harness
def test_a_run_appends_each_finished_case_to_the_progress_file(pytester, tmp_path, clean_env):
    chosen = [c.id for c in MATRICES["main"].cases_for(TARGETS["tf1"])[:2]]
    if TARGETS["tf1"].missing():
        pytest.skip("tf1 is not installed")
    ids, done, report = tmp_path / "ids.txt", tmp_path / "done.txt", tmp_path / "tf1.json"
    ids.write_text("\n".join(chosen) + "\n")
    result = pytester.runpytest_subprocess("--pyargs", "bn_behaviour", "-p", "no:cacheprovider", "-n", "1",
                                           "--bn-target", "tf1", "--bn-ids", str(ids), "--bn-progress", str(done),
                                           "--bn-report", str(report))
    assert result.ret == 0, result.outlines[-5:]
    assert sorted(done.read_text().splitlines()) == sorted(chosen)
    assert sorted(c["id"] for c in json.loads(report.read_text())["cases"]) == sorted(chosen)


def test_the_plan_keeps_both_cores_busy_until_the_end():
    cost = {name: plan.estimate(target, sum(map(len, generate(target).values()))) for name, target in TARGETS.items()}
    order = plan.schedule(cost, "auto", 2)
    assert [n for n, _ in order] == sorted(cost, key=lambda n: -plan.wall(cost[n], 1))
    # Graham's bound for longest-processing-time first on m cores: at most (4/3 - 1/(3m)) of the best plan,
    # which is at least the ideal share of the cores and at least the longest target.
    best = max(sum(plan.wall(w, 1) for w in cost.values()) / 2, max(plan.wall(w, 1) for w in cost.values()))
    assert plan.simulate(order, cost, 2) <= (4 / 3 - 1 / 6) * best


def test_timings_recorded_in_out_feed_the_next_estimate(tmp_path):
    assert plan.recorded(tmp_path, "full") == {}
    plan.record(tmp_path, "full", {"tf1": {"seconds": 50.0, "start": 10.0, "workers": 1, "cases": 72}})
    plan.record(tmp_path, "quick", {"tf1": {"seconds": 12.0, "start": 10.0, "workers": 1, "cases": 3}})
    assert plan.recorded(tmp_path, "full")["tf1"]["seconds"] == 50.0
    assert plan.estimate(TARGETS["tf1"], 144, plan.recorded(tmp_path, "full")["tf1"]) == plan.Work(10.0, 80.0)
    assert (tmp_path / plan.TIMINGS).read_text().splitlines() == [
        "kind\ttarget\tcases\tworkers\tstart\tseconds", "full\ttf1\t72\t1\t10\t50", "quick\ttf1\t3\t1\t10\t12"]
    (tmp_path / plan.TIMINGS).write_text("kind\ttarget\nfull\ttf1\tx\n")
    assert plan.recorded(tmp_path, "full") == {}
