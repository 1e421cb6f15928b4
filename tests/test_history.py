"""The behaviour history: the compact store, docs/history.md, `bn-behaviour history`, and the known
deviations' version ranges measured on the stored versions."""

import json
from pathlib import Path

import pytest

from bn_behaviour import cli
from bn_behaviour.cases.scenario import Scenario, generate
from bn_behaviour.history import Version, command, ranges, render, store, versions
from bn_behaviour.report.documents import row_link
from bn_behaviour.rules import RULES
from bn_behaviour.rules.recipes import RECIPES
from bn_behaviour.targets.network import HARNESS

ROOT = Path(__file__).resolve().parent.parent
KT = "keras-tensorflow"
#: A frozen layer trained by fit(): the row the tiny stores change.
FROZEN_FIT = "functional-frozen=layer-when=before_compile-path=fit-training=none"
GUIDE = RECIPES[0].row
WORKFLOW = "workflow=fine_tune-step=frozen-path=fit"


def _version(session, target=KT, line=KT, unavailable=""):
    return Version(session, line, target, ("x==1",), "why", unavailable=unavailable)


#: Real sessions of versions.toml (the command reads that table): three Keras minors, TensorFlow 2.15's Keras 2.
K30, K31, K32, TF215 = "keras-3.0.5", "keras-3.1.1", "keras-3.2.1", "tensorflow-2.15"


def _record(row_id, observed=None, violated=(), status=None, deviation=None):
    observed = observed or RULES["tf2"](Scenario.from_id(row_id))
    return {"id": row_id, "observed": observed, "violated": list(violated),
            "status": status or ("fail" if violated else "pass"), "deviation": deviation,
            "deviation_source": f"https://example.org/{deviation}" if deviation else None, "expected": {}}


#: The rows of every tiny report: the first scenarios, the changing row and the guide's recipe.
FIRST = sorted({*(s.id for s in generate()[:40]), FROZEN_FIT, GUIDE})


def _report(target=KT, version="3.0", rows=(), workflow=None, versions_=None):
    ids = {r["id"] for r in rows}
    cases = [*rows, *(_record(i) for i in FIRST if i not in ids)]
    impl = {KT: "keras", "tf_keras": "tf_keras"}[target]
    return {"format": 1, "complete": True,
            "suite": {"name": "bn-behaviour", "version": "0.1.0", "git_revision": "abcdef0123", "harness": HARNESS},
            "target": {"name": target, "versions": versions_ or {impl: version, "numpy": "2.0"}},
            "cases": sorted(cases, key=lambda r: r["id"]), "fused_cases": [], "settings_cases": [],
            "workflow_cases": [workflow] if workflow else []}


TRAINS = {**RULES["tf2"](Scenario.from_id(FROZEN_FIT)), "mode": "training", "moving_stats": "updated"}


def _reports(folder: Path) -> Path:
    """Three keras-tensorflow versions (the frozen layer trains in 3.1 only; a workflow fact changes in 3.2),
    and TensorFlow 2.15's own Keras 2, without a tf_keras distribution."""
    wf = {"id": WORKFLOW, "observed": {"base_bn_stats": "identical", "error": None}, "violated": [], "status": "pass",
          "deviation": None, "deviation_source": None}
    wf2 = {**wf, "observed": {"base_bn_stats": "moved", "error": None}, "violated": ["frozen"], "status": "fail"}
    folder.mkdir(parents=True, exist_ok=True)
    reports = {
        K30: _report(version="3.0.5", workflow=wf),
        K31: _report(version="3.1.1", rows=[_record(FROZEN_FIT, TRAINS, ["mode"])], workflow=wf),
        K32: _report(version="3.2.1", workflow=wf2),
        TF215: _report("tf_keras", versions_={"tf_keras": "not installed", "tensorflow": "2.15.1"}),
    }
    for name, r in reports.items():
        (folder / f"{name}.json").write_text(json.dumps(r))
    return folder


@pytest.fixture
def tiny(tmp_path):
    data = tmp_path / "store"
    said = store.refresh(_reports(tmp_path / "reports"), data, {"tf_keras-2.16": "pip: no matching wheel"})
    return data, said


def test_refresh_stores_each_report_and_says_why_a_version_is_missing(tiny):
    data, said = tiny
    reports = data.parent / "reports"
    assert [line for line in said if "skipped" not in line] == [
        f"{n}: stored from {reports}/{n}.json" for n in (K30, K31, K32, TF215)] + [
        "tf_keras-2.16: unavailable (pip: no matching wheel)"]
    assert f"keras-nightly: no report in {reports}; skipped" in said
    stored = store.load_all(data)
    assert [s.session for s in stored] == [K30, K31, K32, TF215, "tf_keras-2.16"]
    assert stored[-1].unavailable == "pip: no matching wheel" and not stored[-1].ran
    assert stored[1].record(FROZEN_FIT)["violated"] == ["mode"] and stored[0].record(FROZEN_FIT)["status"] == "pass"
    assert stored[1].versions == {"keras": "3.1.1", "numpy": "2.0"} and stored[1].suite["git_revision"] == "abcdef0123"
    assert stored[3].release == ("tensorflow", "2.15.1")


def test_refresh_keeps_a_stored_session_without_report_and_drops_undeclared_ones(tmp_path):
    table = [_version("a"), _version("b"), _version("c", unavailable="no wheel for Python 3.11")]
    reports, data = tmp_path / "reports", tmp_path / "store"
    reports.mkdir()
    for name in ("a", "b"):
        (reports / f"{name}.json").write_text(json.dumps(_report()))
    store.refresh(reports, data, table=table)
    empty = tmp_path / "none"
    empty.mkdir()
    said = store.refresh(empty, data, table=[table[0], table[2], _version("d")])
    assert said == [f"a: no report in {empty}; kept the stored data", "c: unavailable (no wheel for Python 3.11)",
                    f"d: no report in {empty}; skipped", "b: not in versions.toml; dropped from the store"]
    assert sorted(p.name for p in data.iterdir()) == ["a.json", "c.json", "ids.json"]
    (data / "notes.json").write_text("{}")  # not a session: kept, and not read
    store.refresh(empty, data, table=table[:1])
    assert sorted(p.name for p in data.iterdir()) == ["a.json", "ids.json", "notes.json"]
    assert [s["session"] for s in store.read(data)] == ["a"]
    with pytest.raises(store.StoreError, match="unknown session"):
        store.refresh(empty, data, {"zz": "why"}, table)


@pytest.mark.parametrize("complete", [False, None])
def test_refresh_refuses_a_report_that_stopped_short_in_one_line(tmp_path, complete):
    """A session whose run stopped before every case finished (or too old to say) would publish a history
    lacking rows: refused, naming the file and the two ways on, and nothing is stored."""
    reports, data = tmp_path / "reports", tmp_path / "store"
    reports.mkdir()
    report = {k: v for k, v in _report().items() if k != "complete"}
    (reports / "a.json").write_text(json.dumps(report if complete is None else {**report, "complete": complete}))
    with pytest.raises(store.StoreError) as info:
        store.refresh(reports, data, table=[_version("a")])
    said = str(info.value)
    assert said.startswith(f"{reports}/a.json is incomplete" if complete is False else f"{reports}/a.json does not say")
    assert "`nox -s a`" in said and "`--failed a WHY`" in said and "\n" not in said and not data.exists()


def test_the_store_round_trips_and_one_session_of_every_main_row_stays_small(tmp_path):
    rows = [_record(s.id, violated=["mode"] if i % 7 == 0 else (), deviation="d" if i % 7 == 0 else None)
            for i, s in enumerate(generate())]
    report = {**_report(version="3.0.5"), "cases": rows}
    compact = store.compact(report, _version("keras-3.0.5"))
    store.write([compact], tmp_path)
    assert store.read(tmp_path) == [compact]
    assert (tmp_path / f"{K30}.json").stat().st_size < 30_000
    with pytest.raises(store.StoreError, match="report is of target 'keras-tensorflow'"):
        store.compact(report, _version("x", target="tf_keras"))


def test_history_md_lists_changing_rows_with_their_version_spans_and_counts_the_rest(tiny):
    data, _ = tiny
    stored = store.load_all(data)
    page = render.history_md(stored, versions())
    assert page == render.history_md(stored, versions())
    assert "| tf_keras-2.16 | keras-2 | tf_keras |  | unavailable: pip: no matching wheel |" in page
    assert f"| {K31} | {KT} | {KT} | keras 3.1.1, numpy 2.0 | ran: 42 pass, 1 fail (suite abcdef0) |" in page
    assert (f"- **1 row**: infer / same / same in keras 3.0.5; train / upd / same (FAIL) in 3.1.1; infer / same / same"
            f" in 3.2.1: {row_link(FROZEN_FIT)}") in page
    assert "Of 43 rows, 2 change their observation along these versions (below); 41 never do" in page
    assert ("| [Freeze only the BatchNormalization layer before compile()](fine-tuning.md#freeze-bn-layer) | "
            f"{row_link(FROZEN_FIT)} | works: infer / same / same in keras 3.0.5; **does not work**: train / upd / same"
            " (FAIL) in 3.1.1; works: infer / same / same in 3.2.1 |") in page
    statement = page[page.index("#### [frozen-bn-runs-in-inference]"):]
    assert statement.split("\n")[2] == ("Verdict: holds (9 rows) in keras 3.0.5; **broken** on 1 of 9 rows in 3.1.1;"
                                        " holds (9 rows) in 3.2.1.")
    other = page[page.index("### Other rows"):]
    assert "base_bn_stats=identical from keras 3.0.5 to 3.1.1; base_bn_stats=moved (FAIL) in 3.2.1" in other
    assert "Versions, in `versions.toml` order: tensorflow 2.15.1." in page
    assert "Fewer than two versions of this line are stored" in page


def test_rows_that_change_alike_are_one_group_of_a_few_links(tmp_path):
    ids = [s.id for s in generate() if s.path == "fit" and RULES["tf2"](s)["mode"] == "inference"]
    sessions = []
    for n, mode in enumerate(("inference", "training")):
        trains = [_record(i, {**TRAINS, "mode": mode}) for i in ids]
        sessions.append(store.compact({**_report(version=f"3.{n}.0"), "cases": trains}, _version((K30, K31)[n])))
    store.write(sessions, tmp_path)
    lines = render._group(store.load_all(tmp_path), ids)
    assert len(lines) == 1 and lines[0].startswith(f"- **{len(ids)} rows**: infer / upd / same in keras 3.0.0;")
    assert lines[0].endswith(f" and {len(ids) - render.EXAMPLES} more")


def test_history_row_prints_every_stored_version_and_json_for_scripts(tiny, capsys):
    data, _ = tiny
    assert cli.main(["history", FROZEN_FIT, "--store", str(data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(o["session"], o["target"], o["status"]) for o in out] == [
        (K30, KT, "pass"), (K31, KT, "fail"), (K32, KT, "pass"), (TF215, "tf_keras", "pass"),
        ("tf_keras-2.16", "tf_keras", "unavailable")]
    assert out[1]["versions"] == {"keras": "3.1.1", "numpy": "2.0"} and out[1]["observed"] == TRAINS
    assert cli.main(["history", FROZEN_FIT, "--store", str(data), "--target", "tf_keras", "--json"]) == 0
    assert [(o["session"], o["status"]) for o in json.loads(capsys.readouterr().out)] == [
        (TF215, "pass"), ("tf_keras-2.16", "unavailable")]
    assert cli.main(["history", FROZEN_FIT, "--store", str(data)]) == 0
    text = capsys.readouterr().out
    assert K31 in text and "train / upd / same (FAIL)" in text and "keras 3.1.1, numpy 2.0" in text


def test_an_unknown_row_is_a_one_line_error_naming_the_closest(tiny, capsys):
    data, _ = tiny
    assert cli.main(["history", FROZEN_FIT[:-1], "--store", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"closest: {FROZEN_FIT}" in err


def test_refresh_writes_the_page_and_check_finds_it_stale(tmp_path, capsys):
    reports, data, docs = _reports(tmp_path / "reports"), tmp_path / "store", tmp_path / "history.md"
    args = ["history", "--store", str(data), "--docs", str(docs)]
    assert cli.main([*args, "--refresh", str(reports)]) == 0
    assert f"{K30}: stored from {reports}/{K30}.json" in capsys.readouterr().out
    assert cli.main([*args, "--check"]) == 0
    docs.write_text(docs.read_text() + "edited\n")
    assert cli.main([*args, "--check"]) == 1
    assert f"{docs} is stale" in capsys.readouterr().out
    assert cli.main([*args, "--failed", "nope", "why", "--refresh", str(reports)]) == 2


def test_the_committed_history_md_is_the_rendering_of_the_committed_store():
    page = render.history_md(store.load_all(), versions())
    assert (ROOT / "docs" / "history.md").read_text() == page, f"docs/history.md is stale: {render.COMMAND}"
    assert len(page.encode()) <= 250_000


def test_a_deviation_seen_outside_its_range_is_a_disagreement(tmp_path):
    """keras#20285 (base(inputs, training=False) overridden by fit()) is pinned below the first daily build with
    its fix (keras#23364), 3.16.0.dev2026080604."""
    row = "base_training_false-frozen=none-when=before_compile-path=fit-training=none"
    overridden = {**RULES["tf2"](Scenario.from_id(row)), "mode": "training", "moving_stats": "updated"}
    found = {}
    for version in ("3.0.5", "3.16.0.dev2026080604"):
        report = _report(version=version, rows=[_record(row, overridden, ["mode"], "deviation")])
        store.write([store.compact(report, _version(K30))], tmp_path)
        found[version] = {d.entry: d for d in ranges.disagreements(store.load_all(tmp_path))}
    assert "base-training-false-overridden" not in found["3.0.5"]
    d = found["3.16.0.dev2026080604"]["base-training-false-overridden"]
    assert (d.in_range, d.observed, d.version) == (False, True, "3.16.0.dev2026080604")
    assert not found["3.0.5"]["change-after-compile-applies-before-first-step"].observed  # in range, not seen here


def test_known_deviation_ranges_agree_with_every_stored_version():
    """Each entry of bn_behaviour/deviations/ is observed on exactly the stored versions its range contains."""
    stored = [s for s in store.load_all() if s.ran]
    if not stored:
        pytest.skip(f"the history store holds no version yet ({render.COMMAND})")
    found = ranges.disagreements(stored)
    assert not found, f"{len(found)} disagreements:\n" + "\n".join(d.line() for d in found)


def test_a_session_of_an_earlier_harness_is_shown_and_not_compared(tmp_path):
    """A report whose suite built its cases another way (no ``harness``: a lone layer, before issue 21) is
    listed as awaiting a re-run and takes no part in the spans or the deviation ranges."""
    old = _report(version="3.0.5")
    del old["suite"]["harness"]
    store.write([store.compact(old, _version(K30))], tmp_path)
    [s] = store.load_all(tmp_path)
    assert s.stale and not s.ran and s.harness == 1
    assert render.environment_status(s).startswith("awaiting a re-run: measured with harness 1")
    assert ranges.disagreements([s]) == []
    fresh = store.compact(_report(version="3.1.1"), _version(K31))
    store.write([store.compact(old, _version(K30)), fresh], tmp_path)
    entries = command.row_entries(store.load_all(tmp_path), FROZEN_FIT)
    assert [(e["session"], e["status"]) for e in entries] == [(K30, "awaiting a re-run"), (K31, "pass")]


def test_a_typo_in_the_version_table_is_one_line(tmp_path):
    """versions.toml refuses a key it does not know, naming the entry and the likely key."""
    table = tmp_path / "versions.toml"
    table.write_text('[[version]]\nsession = "s"\nline = "l"\ntarget = "keras-tensorflow"\ninstall = ["x"]\n'
                     'why = "w"\nremoves = ["keras"]\n')
    with pytest.raises(ValueError, match=r"\[\[version\]\] 's': unknown key 'removes' \(did you mean 'remove'\?\)"):
        versions(table)


def test_a_stored_session_with_an_unknown_key_is_refused(tmp_path):
    """A hand edit of a stored session (a misspelt key) is one line naming the file and the key."""
    store.write([store.compact(_report(version="3.0.5"), _version(K30))], tmp_path)
    path = tmp_path / f"{K30}.json"
    data = json.loads(path.read_text())
    data["version"] = data.pop("versions")
    path.write_text(json.dumps(data))
    with pytest.raises(store.StoreError, match=r"unknown key 'version' \(did you mean 'versions'\?\)"):
        store.read(tmp_path)


@pytest.mark.parametrize("where", ["ids", "rows"])
def test_an_unknown_matrix_key_in_the_store_is_refused(tmp_path, where):
    """ids.json and a session's rows are keyed by the matrices' report keys: a misspelt one (its rows
    would be dropped without a word) is one line naming the file and the likely key."""
    store.write([store.compact(_report(version="3.0.5"), _version(K30))], tmp_path)
    path = tmp_path / ("ids.json" if where == "ids" else f"{K30}.json")
    data = json.loads(path.read_text())
    table = data["ids"] if where == "ids" else data["rows"]
    table["case"] = table.pop("cases")
    path.write_text(json.dumps(data))
    with pytest.raises(store.StoreError) as info:
        store.read(tmp_path)
    assert str(info.value).startswith(f"{path}: {where}: unknown key 'case' (did you mean 'cases'?); known keys: ")


@pytest.mark.parametrize("row, message", [
    ('target = "keras-tensorflw"', "unknown target 'keras-tensorflw' (did you mean 'keras-tensorflow'?); targets: "),
    ('target = "keras-tensorflow"\ninstall = "keras==3.0.5"', "install must be an array of strings, got str"),
    ('target = "keras-tensorflow"\nunavailable = true', "unavailable must be a string, got bool"),
], ids=["unknown-target", "install-not-array", "unavailable-not-string"])
def test_a_wrong_value_in_the_version_table_is_one_line(tmp_path, row, message):
    """A version table entry with a target the registry does not know or a field of the wrong type
    (a string install would install its characters) is one line naming the entry."""
    table = tmp_path / "versions.toml"
    base = 'session = "s"\nline = "l"\nwhy = "w"\n' + ("" if "install" in row else 'install = ["x"]\n')
    table.write_text(f"[[version]]\n{base}{row}\n")
    with pytest.raises(ValueError) as info:
        versions(table)
    assert str(info.value).startswith(f"{table}: [[version]] 's': {message}")


def test_a_quick_run_merges_its_rows_into_a_session_of_the_same_versions(tiny, tmp_path):
    """``--quick-run`` stores with ``merged``: a report of a few rows on the versions a session holds replaces
    those rows and keeps the others; on other versions (the environment drifted) the stored session stays;
    a session not stored yet holds its quick rows, and the page says so."""
    data, _ = tiny
    quick = tmp_path / "quick"
    quick.mkdir()
    few = _report(version="3.0.5", rows=[_record(FROZEN_FIT, TRAINS, ["mode"])])
    few["cases"] = [r for r in few["cases"] if r["id"] in (FROZEN_FIT, GUIDE)]
    (quick / f"{K30}.json").write_text(json.dumps(few))
    moved = {**few, "target": {**few["target"], "versions": {"keras": "3.1.2", "numpy": "2.0"}}}
    (quick / f"{K31}.json").write_text(json.dumps(moved))
    said = store.refresh(quick, data, merged=True)
    assert f"{K30}: stored from {quick}/{K30}.json (merged)" in said
    k30, k31, k32 = store.load_all(data)[:3]
    assert k30.record(FROZEN_FIT)["violated"] == ["mode"]  # the quick row, measured again
    assert len(k30.records()) == len(FIRST) + 1  # every other row kept (its workflow row too)
    # another version (the environment drifted): a few rows never replace the whole session
    assert len(k31.records()) == len(FIRST) + 1 and k31.versions["keras"] == "3.1.1"
    assert f"{K31}: {quick}/{K31}.json ran on keras 3.1.2 (stored 3.1.1), not the stored versions; kept the " \
        "stored data" in said
    assert len(k32.records()) == len(FIRST) + 1  # no quick report: kept whole (its workflow row included)
    (quick / f"{K30}.json").unlink()
    (quick / f"{K31}.json").unlink()
    (quick / f"{K32}.json").write_text(json.dumps(few))
    new = next(s for s in store.load_all(data) if s.session == K32)
    store.refresh(quick, tmp_path / "fresh", merged=True)  # a session not stored yet: its quick rows alone
    fresh = next(s for s in store.load_all(tmp_path / "fresh") if s.session == K32)
    assert "rows" not in k30.suite and "rows" not in new.suite and fresh.suite["rows"] == "quick"
    assert len(fresh.records()) == 2 and render.environment_status(fresh).startswith("ran the quick rows: ")


def test_known_deviation_ranges_end_on_the_build_that_made_the_change():
    """A range that ends inside a day window (``windows.toml``) ends on its builds: the entry seen at the older
    version covers the last build like it, and not the first build unlike it."""
    from bn_behaviour.history import windows

    found = ranges.window_disagreements([s for s in store.load_all() if s.ran], windows.load())
    assert not found, f"{len(found)} disagreements:\n" + "\n".join(d.line() for d in found)
