"""``bn-behaviour bisect``: the daily builds between two stored versions, never the network.

The index is a folder of tiny local wheels named as ``keras-nightly`` builds; the environment is made
by hand where the cache says it lives (an empty virtual environment: nothing is downloaded), so each
build installs offline and, lacking the framework, is skipped as one that does not run; the search
itself is checked on a fake probe (``bn_behaviour.history.narrow``'s doctest and below).  A real run
is in the closing notes and ``docs/history.md``'s day windows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bn_behaviour.history import versions
from bn_behaviour.history.narrow import search
from bn_behaviour.history.nightly import NIGHTLIES, Environment, builds, day

#: Changed between keras 3.15.1 and the stored keras-nightly (keras#20285 fixed): the store says so.
ROW = "base_training_false-frozen=unfrozen-when=after_fit_recompile-path=fit-training=none"
#: The same in both.
SAME = "nested-frozen=inner_model-when=before_compile-path=fit-training=none"


def wheel(folder: Path, dist: str, version: str, files: dict[str, str]) -> Path:
    """A minimal valid wheel of ``dist`` ``version`` holding ``files`` (path -> text)."""
    name = dist.replace("-", "_")
    info = f"{name}-{version}.dist-info"
    files = {**files, f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(t.encode())}" for p, t in files.items()]
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for p, t in files.items():
            z.writestr(p, t)
        z.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return path


@pytest.fixture
def index(tmp_path):
    folder = tmp_path / "index"
    folder.mkdir()
    for v in ("3.16.0.dev2026100104", "3.16.0.dev2026101504"):
        wheel(folder, "keras-nightly", v, {"keras/__init__.py": "raise ImportError('a broken build')\n"})
    wheel(folder, "keras-nightly", "3.15.0.dev2026010104", {"keras/__init__.py": ""})  # before --good
    wheel(folder, "other-nightly", "3.16.0.dev2026100204", {"other/__init__.py": ""})  # another distribution
    return folder


def test_the_builds_are_those_between_the_two_versions_in_version_order(index):
    assert builds("keras-nightly", "3.15.1", "3.16.0.dev2026102704", str(index)) == [
        "3.16.0.dev2026100104", "3.16.0.dev2026101504"]
    assert builds("keras-nightly", "3.15.1", "3.16.0.dev2026100104", str(index)) == []
    assert day("3.16.0.dev2026101504") == "2026-10-15"


def test_rows_that_change_on_different_days_are_each_located():
    """Two rows share the probes; the one that changes with the fourth build and the one that changes with
    the last are each given their own window, and a build that does not import is skipped and said."""
    order = [f"b{i}" for i in range(8)]

    def run(build, rows):
        if build == "b2":
            return {"error": "does not import: ImportError"}
        i = order.index(build)
        return {"rows": {r: {"observed": {"mode": "training" if i >= {"a": 3, "b": 7}[r] else "inference"}}
                         for r in rows}}

    found = search(order, {"a": {"mode": "inference"}, "b": {"mode": "inference"}}, run)
    a, b = found.windows["a"], found.windows["b"]
    assert (a.last_good, a.first_bad, a.observed) == ("b1", "b3", {"mode": "training"})
    assert a.skipped == {"b2": "does not import: ImportError"}  # the window spans the build that did not run
    assert (b.last_good, b.first_bad, b.skipped) == ("b6", "b7", {})
    assert found.skipped == {"b2": "does not import: ImportError"}


def _bisect(tmp_path, *args):
    proc = subprocess.run([sys.executable, "-m", "bn_behaviour.cli", "bisect", *args], capture_output=True,
                          text=True, cwd=tmp_path)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.harness
def test_builds_that_do_not_run_are_skipped_and_the_window_is_the_ends(tmp_path, index):
    """Every build of the fake index installs (offline, from the folder) and fails to run: each is skipped
    with its reason, never taken for a behaviour, and the row's window is the two ends given."""
    session = next(v for v in versions() if v.session == "keras-nightly")
    env = Environment(session, NIGHTLIES["keras-tensorflow"][0].replaces, str(index), tmp_path / "cache")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env.folder)], check=True)
    (env.folder / "bn-behaviour-ready").write_text("made by the test: nothing to download\n")
    code, out, err = _bisect(tmp_path, ROW, "--target", "keras-tensorflow", "--good", "3.15.1", "--bad", "nightly",
                             "--index", str(index), "--cache", str(tmp_path / "cache"), "--json")
    assert code == 0, err[-2000:]
    answer = json.loads(out)
    assert answer["builds"] == 2 and sorted(answer["skipped"]) == ["3.16.0.dev2026100104", "3.16.0.dev2026101504"]
    assert all(why.startswith("does not run") for why in answer["skipped"].values())
    row = answer["rows"][ROW]
    assert (row["last_good"]["version"], row["last_good"]["end"]) == ("3.15.1", True)
    assert (row["first_bad"]["version"], row["first_bad"]["end"]) == ("3.16.0.dev2026102704", True)
    assert row["first_bad"]["observed"]["mode"] == "inference" and row["last_good"]["observed"]["mode"] == "training"
    assert "2 builds" in err and "does not run" in err  # progress on stderr


@pytest.mark.harness
@pytest.mark.parametrize("args, message", [
    ([SAME, "--good", "3.15.1", "--bad", "nightly"], "behaves the same at 3.15.1 and 3.16.0.dev2026102704"),
    ([ROW, "--good", "3.16.0", "--bad", "nightly"], "'3.16.0' is not a stored version of keras-tensorflow"),
    ([ROW, "--good", "nightly", "--bad", "3.15.1"], "--good 3.16.0.dev2026102704 is not older than --bad 3.15.1"),
    ([ROW, "--good", "3.15.1", "--bad", "nightly", "--target", "tf1"], "no daily build of tf1 is bisected"),
    (["no-such-row", "--good", "3.15.1", "--bad", "nightly"], "keras-3.15.1 holds no row 'no-such-row'"),
], ids=["same-at-both-ends", "unknown-version", "ends-swapped", "no-nightly", "unknown-row"])
def test_what_cannot_be_bisected_is_one_line(tmp_path, args, message):
    target = [] if "--target" in args else ["--target", "keras-tensorflow"]
    code, out, err = _bisect(tmp_path, *args, *target, "--index", str(tmp_path / "nothing"))
    assert code == 2 and not out and "Traceback" not in err
    assert message in err.strip().splitlines()[-1], err


def test_windows_are_recorded_merged_and_read_strictly(tmp_path):
    """``--record`` merges: a row found again moves to its new window, a cited change of the same builds is
    kept, other rows stay; the file refuses a key it does not know."""
    from bn_behaviour.history.windows import Window, load, record

    path = tmp_path / "windows.toml"
    first = Window("keras-tensorflow", "3.15.1", "3.16.0.dev2026102704", "3.16.0.dev2026091504",
                   "3.16.0.dev2026091604", ("a", "b"), change="https://github.com/keras-team/keras/pull/1")
    record([first], path)
    again = Window("keras-tensorflow", "3.15.1", "3.16.0.dev2026102704", "3.16.0.dev2026091504",
                   "3.16.0.dev2026091604", ("a",))
    moved = Window("keras-tensorflow", "3.15.1", "3.16.0.dev2026102704", "", "3.16.0.dev2026090104", ("b",))
    record([again, moved], path)
    held = load(path)
    assert [(w.rows, w.change) for w in held] == [(("a",), "https://github.com/keras-team/keras/pull/1"),
                                                   (("b",), "")]
    assert held[1].days == "release 3.15.1 to 2026-09-01"
    path.write_text(path.read_text().replace("change =", "changes ="))
    with pytest.raises(ValueError, match="unknown key 'changes' .did you mean 'change'"):
        load(path)


def test_an_error_neither_end_shows_skips_the_build_for_that_row():
    """A daily build run beside the newer end's framework can raise for that pairing alone (an old Keras
    calling what a newer JAX removed): the row is not run there, never counted as a change."""
    order = ["b0", "b1", "b2", "b3"]

    def run(build, rows):
        i = order.index(build)
        seen = {"error": "AttributeError: module 'jax' has no attribute 'spmd_mode'"} if i < 2 else \
            {"error": None, "mode": "training" if i >= 3 else "inference"}
        return {"rows": {r: {"observed": seen} for r in rows}}

    found = search(order, {"a": {"error": None, "mode": "inference"}}, run,
                   bad={"a": {"error": None, "mode": "training"}})
    w = found.windows["a"]
    assert (w.last_good, w.first_bad) == ("b2", "b3")
    found = search(order, {"a": {"error": None, "mode": "inference"}}, lambda b, rows: run("b0", rows),
                   bad={"a": {"error": None, "mode": "training"}})
    w = found.windows["a"]  # every build raised: the window is the two ends, each build said
    assert (w.last_good, w.first_bad) == (None, None) and len(w.skipped) == 4
    assert all(why.startswith("raised AttributeError") for why in w.skipped.values())


def test_the_search_stops_after_its_probes_and_keeps_the_window_narrowed_so_far():
    """``--max-probes``: a long run of builds that do not run is not probed one by one."""
    order = [f"b{i}" for i in range(10)]
    found = search(order, {"a": {"error": None, "mode": "inference"}},
                   lambda b, rows: {"rows": {r: {"observed": {"error": "AttributeError: x"}} for r in rows}},
                   bad={"a": {"error": None, "mode": "training"}}, max_probes=3)
    assert len(found.probes) == 3
    w = found.windows["a"]
    assert (w.last_good, w.first_bad) == (None, None) and len(w.skipped) == 3
