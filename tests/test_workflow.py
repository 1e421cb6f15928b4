"""The workflow matrix's registry and plumbing (bn_behaviour/workflow.py, bn_behaviour/workflows/)."""

from pathlib import Path

import pytest

from bn_behaviour import deviations, workflow
from bn_behaviour.documents import behaviour_md, cell, rules_md
from bn_behaviour.page import html
from bn_behaviour.setting import case_from_id
from bn_behaviour.targets import TARGETS
from bn_behaviour.workflow import NAMES, WorkflowCase, all_cases, exclusion_reason, generate, module

PUBLISHED = Path(__file__).with_name("published_workflow_ids.txt")


def test_ids_round_trip_and_read_as_key_value_pairs():
    for case in all_cases():
        assert WorkflowCase.from_id(case.id) == case == case_from_id(case.id)
        assert all(part.count("=") == 1 for part in case.id.split("-")), case.id


def test_published_workflow_ids_still_exist():
    """Once published a row keeps its ID: every listed ID is still generated for some target."""
    current = {c.id for t in TARGETS for c in generate(t)}
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
        reasons = {t: exclusion_reason(case, t) for t in TARGETS}
        assert any(r is None for r in reasons.values()), case.id
        assert all(r is None or len(r) > 20 for r in reasons.values()), reasons


@pytest.mark.parametrize("name", NAMES)
def test_the_rule_is_met_by_its_own_expectation_and_broken_by_a_changed_fact(name):
    """Each check accepts what the rule expects; changing every fact the rule pins breaks some check."""
    mod = module(name)
    for case in all_cases():
        if case.workflow != name:
            continue
        for target in TARGETS:
            if exclusion_reason(case, target):
                continue
            exp = mod.expected(target, case.variant)
            assert workflow.violations(case, exp, exp) == {}, case.id
            broken = {k: ("something else" if v is not None else "ValueError: x") for k, v in exp.items()}
            assert workflow.violations(case, broken, exp), case.id


def test_deviation_patterns_select_cases_of_their_own_matrix():
    from bn_behaviour.scenario import Scenario

    entry = deviations.Deviation.from_dict({"id": "x", "match": {"workflow": "export"}, "observed": {"error": "E"},
                                            "reason": "r", "source": "https://example.org"}, origin="t")
    assert entry.matches(WorkflowCase("export", next(iter(module("export").VARIANTS))))
    assert not entry.matches(Scenario.from_id("layer-frozen=none-when=before_compile-path=call-training=true"))
    main = deviations.Deviation.from_dict({"id": "y", "match": {"path": "call"}, "observed": {"mode": "training"},
                                           "reason": "r", "source": "https://example.org"}, origin="t")
    assert not main.matches(WorkflowCase("export", next(iter(module("export").VARIANTS))))


def test_reports_render_workflow_rows():
    case = WorkflowCase("export", next(iter(module("export").VARIANTS)))
    record = {"status": "pass", "observed": {"serve_mode": "inference", "serve_repeatable": True, "error": None},
              "violated": []}
    merged = {"targets": [{"name": "t", "versions": {}, "counts": {}}], "skipped_targets": {}, "rows": [],
              "workflow_rows": [{"id": case.id, "cases": {"t": record}}]}
    assert cell(record) == "serve_mode=infer, serve_repeatable=True"
    assert f'<a id="{case.id}"></a>' in behaviour_md(merged)
    assert "holds on all 1 cases" in rules_md(merged)
    assert f'id="{case.id}"' in html(merged) and 'data-workflow="export"' in html(merged)


def test_the_cli_refuses_unknown_workflow_cases_in_one_line(capsys):
    from bn_behaviour.cli import main

    assert main(["workflow", "workflow=export-frozen=sideways"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown variant" in err
