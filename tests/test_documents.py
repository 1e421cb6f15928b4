"""The generated documents and the statements and recipes they are built from."""

import json
import re

import pytest

from bn_behaviour import cli
from bn_behaviour.cases.scenario import generate
from bn_behaviour.matrices import MATRICES, case_from_id
from bn_behaviour.report import documents
from bn_behaviour.rules import RULES
from bn_behaviour.rules.recipes import RECIPES
from bn_behaviour.rules.rulebook import STATEMENTS
from bn_behaviour.rules.tf2 import CHECKS
from bn_behaviour.targets import TARGETS


def _merged(violated_for=lambda s: []):
    """Every scenario of the tf2 and tf1 matrices (and the compiled rows, which recipes cite), observed as
    the rule predicts, with chosen violations."""
    targets, rows = [], {"main": {}, "compiled": {}}
    for name in ("keras-tensorflow", "tf1"):
        t = TARGETS[name]
        targets.append({"name": name, "rule": t.rule, "versions": {"keras": "1"},
                        "counts": {"pass": 1, "deviation": 0, "fail": 0, "skipped": 0}})
        for matrix in rows:
            for c in MATRICES[matrix].cases_for(t):
                s = getattr(c, "core", c)
                violated = violated_for(s)
                rows[matrix].setdefault(c.id, {})[name] = {
                    "id": c.id, "scenario": c.axes(), "observed": RULES[t.rule](s), "violated": violated,
                    "status": "deviation" if violated else "pass", "deviation": "d-1" if violated else None,
                    "deviation_source": "https://example.org/d-1" if violated else None}
    return {"format": 1, "targets": targets, "skipped_targets": {},
            **{MATRICES[m].rows_key: [{"id": k, "cases": held[k]} for k in sorted(held)] for m, held in rows.items()}}


def test_statements_name_a_source_real_checks_and_rows_of_their_rule():
    assert len({st.id for st in STATEMENTS}) == len(STATEMENTS)
    for st in STATEMENTS:
        assert st.source.startswith("https://") and set(st.checks) <= set(CHECKS), st.id
        scenarios = [s for name, t in TARGETS.items() if t.rule == st.rule for s in t.scenarios()]
        assert any(st.about(s) for s in scenarios), f"{st.id} is about no row"


def test_a_statement_is_broken_only_by_its_own_checks():
    st = next(st for st in STATEMENTS if st.id == "trainable-false-moves-weights")
    case = {"id": "x", "scenario": generate()[50].axes(), "violated": ["mode"]}
    rows, broken = st.verdict([case])
    assert broken == [] and (rows == ["x"]) == st.about(generate()[50])


def test_every_recipe_is_a_row_of_its_targets_matrix():
    """A recipe's row (a main-matrix or a compiled-matrix row) is generated for a target of its rule."""
    for r in RECIPES:
        matrix, case = case_from_id(r.row)
        assert any(c == case for t in TARGETS.values() if t.rule == r.rule for c in matrix.cases_for(t)), r.id


@pytest.mark.parametrize("name", ["rules.md", "fine-tuning.md"])
def test_every_row_link_lands_on_the_row_on_its_page(name):
    merged = _merged(lambda s: ["mode"] if s.path == "fit" else [])
    docs = documents.rendered(merged)
    links = re.findall(r"\]\((behaviour/[^)#]+\.md)#([^)]+)\)", docs[name])
    assert links
    for page, fragment in links:
        assert f'| <a id="{fragment}"></a>`{fragment}`' in docs[page], (page, fragment)


def test_rules_md_says_where_a_statement_breaks_and_names_the_deviation():
    text = documents.rules_md(_merged(lambda s: ["mode"] if s.path == "fit" and s.frozen == "layer" else []))
    section = text.split('<a id="frozen-bn-runs-in-inference"></a>')[1].split("\n## ")[0]
    assert "| keras-tensorflow | **broken** on" in section and "[d-1](https://example.org/d-1)" in section
    assert "| tf1 |" not in section  # tf1 follows its own rule
    assert "| keras-tensorflow | holds (" in text.split('<a id="training-argument-picks-statistics"></a>')[1]


def test_docs_check_names_each_stale_document_and_write_makes_them_current(tmp_path, capsys):
    source = tmp_path / "behaviour.json"
    source.write_text(json.dumps(_merged()))
    out = tmp_path / "docs"
    assert cli.main(["docs", str(source), "--out", str(out)]) == 0
    assert cli.main(["docs", str(source), "--out", str(out), "--check"]) == 0
    (out / "rules.md").write_text("edited by hand\n")
    capsys.readouterr()
    assert cli.main(["docs", str(source), "--out", str(out), "--check"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{out / 'rules.md'} is stale: regenerate with `bn-behaviour docs {source} --out {out}`"]


def test_docs_from_a_file_that_is_not_a_merged_report_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "r.json"
    bad.write_text(json.dumps({"cases": []}))
    assert cli.main(["docs", str(bad), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
