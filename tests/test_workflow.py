"""The workflow matrix's registry and plumbing (bn_behaviour/workflows/, bn_behaviour/matrices/workflows.py)."""

from pathlib import Path

import pytest

from bn_behaviour.cli import main as cli_main
from bn_behaviour.matrices import MATRICES, case_from_id, why_not
from bn_behaviour.report.documents import behaviour_md, cell, rules_md
from bn_behaviour.report.page import html
from bn_behaviour.rules.checks import run_checks
from bn_behaviour.targets import TARGETS
from bn_behaviour.workflows import NAMES, WorkflowCase, all_cases, module

MATRIX = MATRICES["workflows"]

PUBLISHED = Path(__file__).with_name("published_workflow_ids.txt")


def test_ids_round_trip_and_read_as_key_value_pairs():
    for case in all_cases():
        assert WorkflowCase.from_id(case.id) == case == case_from_id(case.id)[1]
        assert all(part.count("=") == 1 for part in case.id.split("-")), case.id


def test_published_workflow_ids_still_exist():
    """Once published a row keeps its ID: every listed ID is still generated for some target."""
    current = {c.id for t in TARGETS.values() for c in MATRIX.cases_for(t)}
    published = PUBLISHED.read_text().split()
    assert published and not set(published) - current


@pytest.mark.parametrize("name", NAMES)
def test_every_workflow_states_its_rule_checks_and_facts(name):
    mod = module(name)
    assert mod.WORKFLOW.name == name and mod.WORKFLOW.source.startswith("https://")
    assert mod.VARIANTS and all(v.endswith(".") for v in mod.VARIANTS.values())
    assert "error" in mod.FIELDS
    for check_name, check in mod.CHECKS.items():
        assert check.__name__ == f"check_{check_name}" and (check.__doc__ or "").strip(), check_name


@pytest.mark.parametrize("name", NAMES)
def test_every_variant_runs_somewhere_and_every_exclusion_says_why(name):
    for variant in module(name).VARIANTS:
        case = WorkflowCase(name, variant)
        reasons = {name: why_not(t, case) for name, t in TARGETS.items()}
        assert any(r is None for r in reasons.values()), case.id
        assert all(r is None or len(r) > 20 for r in reasons.values()), reasons


@pytest.mark.parametrize("name", NAMES)
def test_the_rule_is_met_by_its_own_expectation_and_broken_by_a_changed_fact(name):
    """Each check accepts what the rule expects; changing every fact the rule pins breaks some check."""
    mod = module(name)
    for case in all_cases():
        if case.workflow != name:
            continue
        for target in TARGETS.values():
            if why_not(target, case):
                continue
            exp = mod.expected(target, case.variant)
            assert run_checks(mod.CHECKS, case.variant, exp, exp) == {}, case.id
            broken = {k: ("something else" if v is not None else "ValueError: x") for k, v in exp.items()}
            assert run_checks(mod.CHECKS, case.variant, broken, exp), case.id


def test_reports_render_workflow_rows():
    case = WorkflowCase("export", next(iter(module("export").VARIANTS)))
    record = {"status": "pass", "observed": {"serve_mode": "inference", "serve_repeatable": True, "error": None},
              "violated": []}
    merged = {"targets": [{"name": "t", "versions": {}, "counts": {}}], "skipped_targets": {}, "rows": [],
              "workflow_rows": [{"id": case.id, "cases": {"t": record}}]}
    assert cell(record, fields=MATRIX.cell_fields) == "serve_mode=infer, serve_repeatable=True"
    assert f'<a id="{case.id}"></a>' in behaviour_md(merged)
    assert "holds on all 1 cases" in rules_md(merged)
    assert f'id="{case.id}"' in html(merged) and 'data-workflow="export"' in html(merged)


def test_the_cli_refuses_unknown_workflow_cases_in_one_line(capsys):
    assert cli_main(["workflow", "workflow=export-frozen=sideways"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown variant" in err
