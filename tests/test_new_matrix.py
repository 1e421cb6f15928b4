"""A new matrix is exactly the edits ``docs/architecture.md`` lists ("Where to add things", row "a matrix").

The test copies the package into a temporary folder, adds a throwaway matrix there by writing exactly
the four package files the row names (a case type with one axis of two values, its ``Matrix``, its entry
in ``MATRICES``, its pytest entry point) and checks the copy differs from the package in those files
only.  Then, with the copy on ``PYTHONPATH``, it renders every output from the new matrix's two cases:
the per-target report and the pytest summary (one pytest run, which also runs a consumer's test file
through the public API), the merged report with ``behaviour.md``, ``behaviour.html`` and the answer
(``bn-behaviour report --reuse``), both reports against the schema, the documents and the README's
block (``bn-behaviour docs``) and ``bn-behaviour diff``; the new rows must appear in each.

The throwaway cases observe no framework (their observation is their own axis value): what is under
test is the registry's plumbing, not a BatchNormalization, and the whole test takes seconds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bn_behaviour.report.readme import END, START
from bn_behaviour.targets import TARGETS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bn_behaviour"
NAME = "throwaway"
IDS = ("throwaway-side=left", "throwaway-side=right")

CASE_TYPE = '''
"""The throwaway matrix's cases (tests/test_new_matrix.py): one axis of two values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

PREFIX = "throwaway-side="


@dataclass(frozen=True, order=True)
class ThrowawayCase:
    AXES: ClassVar[dict] = {"side": {"left": "the left side", "right": "the right side"}}
    PATTERN_NEEDS: ClassVar[frozenset[str]] = frozenset({"side"})

    side: str

    @property
    def id(self) -> str:
        return f"{PREFIX}{self.side}"

    @classmethod
    def from_id(cls, case_id: str) -> "ThrowawayCase":
        if not case_id.startswith(PREFIX) or case_id[len(PREFIX):] not in cls.AXES["side"]:
            raise ValueError(f"not a throwaway-matrix ID: {case_id!r}")
        return cls(case_id[len(PREFIX):])

    def axes(self) -> dict[str, str]:
        return {"side": self.side}

    def describe(self) -> str:
        return f"The throwaway case of {self.AXES['side'][self.side]}."
'''

MATRIX_MODULE = '''
"""The throwaway matrix (tests/test_new_matrix.py): its observation is the case's own side, no framework."""

from __future__ import annotations

from ..cases.throwaway import ThrowawayCase
from ..rules.result import Result
from .matrix import Matrix, PageLayout, id_command


def check_side(case, observed, expected):
    """The side observed is the side the case names."""
    return None if observed["side"] == expected["side"] else f"expected {expected['side']}, observed {observed['side']}"


def observe(target, case, layer_cls=None) -> Result:
    observed = {"side": case.side, "error": None}
    return Result(target.name, case, observed, dict(observed), {"side": check_side}, case,
                  command=id_command(target.name, case))


MATRIX = Matrix(
    name="throwaway",
    case_type=ThrowawayCase,
    test="test_throwaway",
    argname="bn_throwaway_case",
    skipped_id="skipped-side=none",
    prefix="throwaway_",
    label="throwaway cases",
    title="Throwaway matrix",
    intro="Two cases that observe no framework (tests/test_new_matrix.py).",
    example="throwaway-side=left",
    candidates=lambda: [ThrowawayCase(side) for side in ThrowawayCase.AXES["side"]],
    excluded=lambda target, case: None,
    observe=observe,
    layout=PageLayout(
        page=lambda c: "throwaway",
        page_text=lambda _: ("throwaway matrix", "the throwaway matrix: two cases that observe no framework"),
        family=lambda c: f"side={c.side}",
        family_text=lambda c: (f"side={c.side}", f"{ThrowawayCase.AXES['side'][c.side]}."),
        pattern="throwaway-{}",
        tables="one table per side",
    ),
    record_schema="workflowCase",
    observed_fields=frozenset({"side", "error"}),
    cell_fields=(),
)
'''

ENTRY_POINT = '''
"""The throwaway matrix's pytest entry point (tests/test_new_matrix.py)."""


def test_throwaway(bn_throwaway_case, bn_check):
    """The case observes the side it names."""
    bn_check(bn_throwaway_case)
'''


def _registry_entry(text: str) -> str:
    """``matrices/__init__.py`` with the throwaway matrix imported and appended to ``MATRICES``."""
    text, imports = re.subn(r"^from \. import (.+)$", r"from . import \1, throwaway", text, count=1, flags=re.M)
    text, entries = re.subn(r"^(MATRICES: dict\[str, Matrix\] = \{m\.name: m for m in \(.*?)\)\}",
                            r"\1, throwaway.MATRIX)}", text, count=1, flags=re.M | re.S)
    assert imports == entries == 1, "matrices/__init__.py no longer reads as this test expects"
    return text


#: The package's files a new matrix takes (``<name>`` is its name) and how this test makes each edit.
EDITS = {
    "bn_behaviour/cases/<name>.py": lambda old: CASE_TYPE.lstrip(),
    "bn_behaviour/matrices/<name>.py": lambda old: MATRIX_MODULE.lstrip(),
    "bn_behaviour/matrices/__init__.py": _registry_entry,
    "bn_behaviour/test_<name>.py": lambda old: ENTRY_POINT.lstrip(),
}
#: The suite's own guards the row also names: they change no output, so the copy needs none of them.
GUARDS = {"tests/published_<name>_ids.txt", "tests/test_matrices.py", "docs/report-format.md"}

CONSUMER = '''
"""A consumer's test file: the new matrix through the public API (bn_behaviour.api)."""

import bn_behaviour

TARGET = {target!r}


def test_cases_lists_the_new_matrix():
    assert [c.id for c in bn_behaviour.cases(TARGET, matrix="throwaway")] == {ids!r}
    assert [c.id for c in bn_behaviour.cases(TARGET, matrix="throwaway", side="right")] == {right!r}


def test_observe_runs_a_case():
    case, = bn_behaviour.cases(TARGET, matrix="throwaway", side="left")
    assert bn_behaviour.observe(case, TARGET).record()["observed"] == {{"side": "left", "error": None}}


@bn_behaviour.parametrize(target=TARGET, matrix="throwaway")
def test_consumer(bn_case):
    bn_case.check()
'''


def _listed_edits() -> set[str]:
    """The paths the "a matrix" row of docs/architecture.md names."""
    rows = [line for line in (ROOT / "docs" / "architecture.md").read_text().splitlines()
            if line.startswith("| a **matrix** |")]
    assert len(rows) == 1, "docs/architecture.md has no single row for adding a matrix"
    return {p for p in re.findall(r"`([^`]+)`", rows[0]) if "/" in p}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def test_architecture_lists_exactly_the_edits_this_test_makes():
    """The edit list of docs/architecture.md is the one this file states (package edits, then guards)."""
    assert _listed_edits() == set(EDITS) | GUARDS


@pytest.fixture
def package_copy(tmp_path) -> Path:
    """The package copied, with exactly the listed package edits made for the throwaway matrix."""
    root = tmp_path / "pkg"
    shutil.copytree(PACKAGE, root / "bn_behaviour", ignore=shutil.ignore_patterns("__pycache__"))
    for template, make in EDITS.items():
        path = root / template.replace("<name>", NAME)
        path.write_text(make(path.read_text() if path.exists() else None))
    before, after = _files(PACKAGE), _files(root / "bn_behaviour")
    changed = {f"bn_behaviour/{p}" for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    assert changed == {t.replace("<name>", NAME) for t in EDITS}
    return root


def _target() -> str:
    installed = [name for name, t in TARGETS.items() if t.missing() is None]
    if not installed:
        pytest.skip("no target is installed")
    return installed[0]


@pytest.mark.harness  # starts other Python processes (pytest, the bn-behaviour command): `pytest -m harness`
def test_a_new_matrix_reaches_every_output(package_copy, tmp_path):
    """Every output shows the throwaway matrix's rows, from the four package edits alone."""
    target = _target()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BN_BEHAVIOUR_")}
    env["PYTHONPATH"] = str(package_copy)

    def run(*args: str, ok=(0,)) -> str:
        proc = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode in ok, proc.stdout + proc.stderr
        return proc.stdout

    def cli(*args: str, ok=(0,)) -> str:
        return run("-m", "bn_behaviour.cli", *args, ok=ok)

    # the per-target report, the pytest summary and the public API, in one pytest run
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "consumer").mkdir()
    consumer = CONSUMER.format(target=target, ids=list(IDS), right=list(IDS[1:]))
    (tmp_path / "consumer" / "test_consumer.py").write_text(consumer)
    entry_point = package_copy / "bn_behaviour" / f"test_{NAME}.py"
    said = run("-m", "pytest", str(entry_point), "consumer/test_consumer.py", "-v", "-p", "no:cacheprovider",
               "-p", "no:xdist", "-o", "addopts=", "--bn-target", target,
               "--bn-report", str(out / f"{target}.json"), "--bn-case-timeout", "0")
    assert re.search(r"\b6 passed\b", said), said
    assert all(f"test_throwaway[{i}] PASSED" in said and f"test_consumer[{i}] PASSED" in said for i in IDS), said
    assert "2 throwaway cases: 2 pass, 0 deviation, 0 fail, 0 skipped" in said, said
    report = json.loads((out / f"{target}.json").read_text())
    assert [(c["id"], c["status"]) for c in report["throwaway_cases"]] == [(i, "pass") for i in IDS]

    # the merged report, the whole table, the page and the answer
    said = cli("report", "--reuse", "--target", target, "--out", str(out))
    assert "throwaway cases: 2 pass" in said, said
    merged = json.loads((out / "behaviour.json").read_text())
    assert [row["id"] for row in merged["throwaway_rows"]] == list(IDS)
    assert merged["targets"][0]["throwaway_counts"]["pass"] == 2
    whole = (out / "behaviour.md").read_text()
    assert "## Throwaway matrix" in whole and all(f'<a id="{i}"></a>' in whole for i in IDS)
    page = (out / "behaviour.html").read_text()
    assert "throwaway matrix: 2 pass" in page and all(f'<tr id="{i}"' in page for i in IDS)

    # both reports follow the schema the copy builds
    pytest.importorskip("jsonschema", reason="jsonschema is not installed (the [test] extra has it)")
    errors = run("-c", "import json, sys, jsonschema; from bn_behaviour.report.format import schema; "
                 "v = jsonschema.Draft202012Validator(schema()); "
                 "print(json.dumps([e.message for p in sys.argv[1:] for e in v.iter_errors(json.load(open(p)))]))",
                 str(out / f"{target}.json"), str(out / "behaviour.json"))
    assert json.loads(errors) == []

    # the documents and the README's generated block
    site = tmp_path / "site"
    site.mkdir()
    (site / "README.md").write_text(f"# readme\n{START}\n{END}\n")
    cli("docs", str(out / "behaviour.json"), "--out", str(site / "docs"))
    index = (site / "docs" / "behaviour.md").read_text()
    assert all(f'<a id="{i}"></a>' in index for i in IDS)
    assert "(behaviour/throwaway.md#side=left)" in index and "(behaviour/throwaway.md#side=right)" in index
    pages = (site / "docs" / "behaviour" / "throwaway.md").read_text()
    assert all(f'| <a id="{i}"></a>`{i}`' in pages for i in IDS) and '<a id="side=left"></a>' in pages
    assert "## throwaway matrix" in (site / "docs" / "exclusions.md").read_text()
    assert "Throwaway matrix (2)" in (site / "docs" / "behaviour-grid.svg").read_text()
    assert "2 throwaway cases" in (site / "README.md").read_text()

    # diff: a row of the new matrix that changed between two reports
    old = json.loads(json.dumps(merged))
    old["throwaway_rows"][0]["cases"][target]["observed"]["side"] = "right"
    (tmp_path / "old.json").write_text(json.dumps(old))
    said = cli("diff", str(tmp_path / "old.json"), str(out / "behaviour.json"), ok=(1,))
    assert f"{target} {IDS[0]}: right -> left" in said and IDS[1] not in said, said
