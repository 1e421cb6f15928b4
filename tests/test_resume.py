"""An interrupted report loses only what was running, and is never published as whole (issue 22).

The harness tests interrupt a real ``bn-behaviour report`` (Ctrl-C to its process group, with xdist; a
SIGKILL, without) once its journal holds a few finished cases, check what it left, and resume it with
``--reuse``: only the missing cases run (counted in the journal the resumed run appends to), and the
final report is complete with every case once.  The other tests read journals and reports written
here: no framework runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_documents import _merged

from bn_behaviour import cli
from bn_behaviour.command import journal, quick, resume
from bn_behaviour.isolation.faults import case_id_of
from bn_behaviour.matrices import MATRICES, generate
from bn_behaviour.report.format import merge, schema
from bn_behaviour.targets import TARGETS

TARGET = "keras-tensorflow"
NODE = "test_behaviour.py::test_behaviour[{}]"
IDS = [c.id for c in MATRICES["main"].cases_for(TARGETS[TARGET])[:3]]
HEAD = {"format": 1, "target": {"name": TARGET, "versions": {"keras": "3"}}}


def _entry(case_id: str, when: str, outcome: str = "passed", **extra) -> dict:
    return {"nodeid": NODE.format(case_id), "report": {"$report_type": "TestReport", "when": when,
                                                       "outcome": outcome, **extra}}


def _write(path: Path, *entries, tail: str = "") -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in entries) + tail)


def test_a_half_written_last_line_and_lines_that_are_no_json_are_left_out(tmp_path):
    """A process killed (or a disk filled) while it wrote a line leaves it without its newline: that case did
    not finish; the lines before it count, and a stray line of another kind is skipped, not fatal."""
    path = tmp_path / "j.jsonl"
    whole = [_entry(IDS[0], "setup"), _entry(IDS[0], "call"), _entry(IDS[0], "teardown")]
    _write(path, {"head": HEAD}, *whole, "not json", [1, 2], _entry(IDS[1], "setup"),
           tail=json.dumps(_entry(IDS[1], "call"))[:40])
    head, reports = journal.read(path)
    assert head == HEAD
    assert sorted(reports) == sorted(NODE.format(i) for i in IDS[:2])
    assert list(reports[NODE.format(IDS[1])]) == ["setup"]  # its call was the half-written line
    assert set(journal.done(path)) == {NODE.format(IDS[0])} and journal.observed(path) == 1


def test_a_case_is_finished_by_its_call_or_a_setup_that_did_not_pass_and_the_last_report_counts(tmp_path):
    """A skip or an error in setup finishes a case (nothing more would run); a case reported twice (a crashed
    run's cases replayed by the next process) counts once, with its last report."""
    path = tmp_path / "j.jsonl"
    _write(path, {"head": HEAD}, _entry(IDS[0], "setup", "skipped"), _entry(IDS[1], "setup"),
           _entry(IDS[2], "call", "failed", duration=1.0), _entry(IDS[2], "call", "passed", duration=2.0),
           _entry("no-such-case", "call"))
    done = journal.done(path)
    assert sorted(done) == sorted(NODE.format(i) for i in (IDS[0], IDS[2]))
    assert done[NODE.format(IDS[2])]["call"]["duration"] == 2.0
    assert journal.read(tmp_path / "none.jsonl") == (None, {})


def test_a_journal_of_another_run_is_started_afresh_and_a_torn_line_is_ended_before_appending(tmp_path,
                                                                                                pytestconfig):
    """Cases observed with other versions or options are not this run's: the journal restarts (whole, under
    its own head) and nothing is replayed.  With the same head, a line a killed run left half written is ended
    first, so the next case's line reads back whole."""
    path = tmp_path / "j.jsonl"
    _write(path, {"head": HEAD}, _entry(IDS[0], "call"))
    other = journal.Journal(pytestconfig, path, {**HEAD, "target": {"name": TARGET, "versions": {"keras": "4"}}}, True)
    assert other.restarted and other.replay == {}
    other.pytest_sessionfinish(None)
    assert journal.read(path) == ({**HEAD, "target": {"name": TARGET, "versions": {"keras": "4"}}}, {})

    _write(path, {"head": HEAD}, _entry(IDS[0], "call"), tail='{"nodeid": "test_behav')
    same = journal.Journal(pytestconfig, path, HEAD, True)
    assert not same.restarted and list(same.replay) == [NODE.format(IDS[0])]
    report = pytest.TestReport(NODE.format(IDS[1]), ("x", 1, "x"), {}, "passed", None, "call")
    same.pytest_runtest_logreport(report)
    same.pytest_runtest_logreport(pytest.TestReport(NODE.format(IDS[0]), ("x", 1, "x"), {}, "passed", None,
                                                    "call"))  # a replayed case: already there
    same.pytest_sessionfinish(None)
    assert set(journal.done(path)) == {NODE.format(i) for i in IDS[:2]}
    assert path.read_text().count(IDS[0]) == 1
    with pytest.raises(pytest.UsageError, match=r"^--bn-journal .*no-such-folder"):
        journal.Journal(pytestconfig, tmp_path / "no-such-folder" / "j.jsonl", HEAD, True)


def _per_target(complete) -> dict:
    report = {"format": 1, "target": {"name": TARGET}, "cases": []}
    return report if complete is None else {**report, "complete": complete}


@pytest.fixture
def installed(monkeypatch):
    """TARGET counts as installed: these tests run no case of it."""
    monkeypatch.setitem(TARGETS, TARGET, dataclasses.replace(TARGETS[TARGET], requires=()))


def test_reuse_refuses_an_incomplete_report_it_cannot_finish_in_one_line(installed, tmp_path, capsys):
    """An incomplete report (or one too old to say) with no journal left is refused before anything runs,
    naming the file and the command that runs the target again."""
    for complete in (False, None):
        (tmp_path / f"{TARGET}.json").write_text(json.dumps(_per_target(complete)))
        assert cli.main(["report", "--reuse", "--out", str(tmp_path), "--target", TARGET]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{tmp_path / TARGET}.json" in err, err
        assert f"run `bn-behaviour report --target {TARGET} --out {tmp_path}` without --reuse" in err
        assert not (tmp_path / "behaviour.json").exists()
    (tmp_path / f"{TARGET}.json").write_text('{"format": 1, "complete": tr')  # a half-written file
    assert resume.decide(tmp_path, [TARGET], reuse=True).refused == [(TARGET, "not whole")]
    journal.path_for(tmp_path, TARGET).write_text("")
    assert resume.decide(tmp_path, [TARGET], reuse=True).resumed == [TARGET]


def test_a_target_that_stopped_short_is_not_merged(installed, tmp_path, monkeypatch, capsys):
    """When a target's process stops short on its own (killed, a full disk) the command says so and how to
    continue, exits 1 and writes no behaviour.json, .md or .html: the answer would lack its cases."""
    from bn_behaviour.command import run

    monkeypatch.setattr(run, "fresh_runs", lambda names, *a, **k: {n: {**_per_target(False), "error": "Killed"}
                                                                    for n in names})
    assert cli.main(["report", "--out", str(tmp_path), "--target", TARGET]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{TARGET}: its run stopped before every case finished (Killed)"
    assert out[1].endswith(f"`bn-behaviour report --target {TARGET} --out {tmp_path} --reuse` runs only the others.")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_docs_refuse_an_incomplete_merged_report_and_warn_on_one_that_does_not_say(tmp_path, capsys):
    """The documents publish the answer: never from a merged report that says a target stopped short.  One
    written before reports said is rendered, with a line on stderr saying it cannot be vouched for."""
    whole = _per_target(True)
    merged = merge([whole, {**whole, "target": {"name": "tf1"}, "complete": False}], {})
    assert merged["complete"] is False and merge([whole], {})["complete"] is True
    source = tmp_path / "behaviour.json"
    source.write_text(json.dumps({**_merged(), "complete": False}))
    assert cli.main(["docs", str(source), "--out", str(tmp_path / "docs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is incomplete" in err and "--reuse" in err
    assert not (tmp_path / "docs").exists()
    source.write_text(json.dumps(_merged()))  # no "complete": written before reports said
    assert cli.main(["docs", str(source), "--out", str(tmp_path / "docs")]) == 0
    assert "does not say whether it is complete" in capsys.readouterr().err
    source.write_text(json.dumps({**_merged(), "complete": True}))
    assert cli.main(["docs", str(source), "--out", str(tmp_path / "docs")]) == 0
    assert capsys.readouterr().err == ""


def test_the_schema_takes_complete_as_a_boolean():
    """``complete`` is optional (reports written before it was added stay valid) and a boolean in both shapes."""
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed (the [test] extra has it)")
    for shape in ("perTarget", "merged"):
        prop = schema()["$defs"][shape]["properties"]["complete"]
        assert jsonschema.Draft202012Validator(prop).is_valid(False)
        assert not jsonschema.Draft202012Validator(prop).is_valid("yes")
        assert "complete" not in schema()["$defs"][shape]["required"]


# -- a real run, interrupted and resumed --------------------------------------------------------------------
def _report(out: Path, *extra: str, **popen) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "bn_behaviour.cli", "report", "--quick", "--target", TARGET, "--out", str(out),
           *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


@pytest.fixture
def scrubbed(monkeypatch):
    if TARGETS[TARGET].missing():
        pytest.skip(f"{TARGET} is not installed")
    for var in ("TARGET", "REPORT", "DEVIATIONS", "LAYER", "CASE_TIMEOUT", "ISOLATE", "XFAIL", "IDS", "PROGRESS",
                "JOURNAL"):
        monkeypatch.delenv(f"BN_BEHAVIOUR_{var}", raising=False)


@pytest.mark.harness
@pytest.mark.parametrize("workers, how", [("2", signal.SIGINT), ("1", signal.SIGKILL)], ids=["ctrl-c-xdist",
                                                                                             "killed-no-xdist"])
def test_an_interrupted_report_resumes_running_only_the_missing_cases(scrubbed, tmp_path, capsys, workers, how):
    """Ctrl-C (or SIGKILL) to ``bn-behaviour report``'s process group once its journal holds 3 finished cases:
    what finished is kept; ``--reuse`` runs only the others and ends on a complete report with every case once;
    the same interrupted report without its journal is refused."""
    out = tmp_path / "out"
    wanted = sorted(set(quick.selection()) & {c.id for cases in generate(TARGETS[TARGET]).values() for c in cases})
    path = journal.path_for(out, TARGET)
    proc = _report(out, "--workers", workers, start_new_session=True)
    deadline = time.monotonic() + 600
    while journal.observed(path) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, how)
    _, err = proc.communicate(timeout=300)
    if how == signal.SIGINT:
        assert proc.returncode == 130 and err.splitlines()[-1].endswith(
            f"`bn-behaviour report --target {TARGET} --out {out} --quick --reuse` runs only the others"), err
    before = {case_id_of(n) for n in journal.done(path)}
    assert 3 <= len(before) < len(wanted)
    left = json.loads((out / f"{TARGET}.json").read_text()) if how == signal.SIGINT else None
    if left is not None:  # Ctrl-C: pytest wrote what it had, saying it is incomplete
        assert left["complete"] is False and {c["id"] for c in left["cases"]} == before
    assert not (out / "behaviour.json").exists()

    if left is not None:  # without its journal, the incomplete report is refused
        alone = tmp_path / "alone"
        alone.mkdir()
        (alone / f"{TARGET}.json").write_text(json.dumps(left))
        capsys.readouterr()
        assert cli.main(["report", "--quick", "--target", TARGET, "--out", str(alone), "--reuse"]) == 2
        assert "is incomplete" in capsys.readouterr().err

    offset = path.stat().st_size
    with open(path) as appended:  # the resumed run appends to this file, then removes it when complete
        resumed = _report(out, "--workers", workers, "--reuse")
        _, err = resumed.communicate(timeout=600)
        assert resumed.returncode == 0, err[-2000:]
        appended.seek(offset)
        ran = [json.loads(line) for line in appended.read().splitlines() if line]
    ran = {case_id_of(e["nodeid"]) for e in ran if e["report"]["when"] == "call"}
    assert ran == set(wanted) - before, "only the missing cases ran"

    final = json.loads((out / f"{TARGET}.json").read_text())
    ids = [c["id"] for m in MATRICES.values() for c in final[m.cases_key]]
    assert final["complete"] is True and sorted(ids) == wanted
    if left is not None:
        kept = {c["id"]: c for c in final["cases"]}
        assert all(kept[c["id"]] == c for c in left["cases"]), "a replayed case keeps its record"
    assert json.loads((out / "behaviour.json").read_text())["complete"] is True
    assert not path.exists()
    with capsys.disabled():
        print(f"\n{signal.Signals(how).name} after {len(before)} of {len(wanted)} cases; the resumed run ran "
              f"{len(ran)}; the final report holds {len(ids)}")
