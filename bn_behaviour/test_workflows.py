"""The workflow matrix: whole training setups around BatchNormalization (bn_behaviour/workflow.py).

Each case runs one variant of one workflow (export for serving, a layer shared
by two models, the fine-tuning guide end to end, a replicated step) on the
real framework and judges the facts by the workflow's documented rule
(``bn_behaviour/workflows/<name>.py``: its ``CHECKS``), with the target's
known-deviation file (entries that name ``workflow``).
IDs: ``test_workflow[workflow=<name>-<variant>]``.
"""

from __future__ import annotations

from bn_behaviour import workflow
from bn_behaviour.case import judge
from bn_behaviour.deviations import find
from bn_behaviour.plugin import parametrize_cases, scenario_param


def _skip_reason(session):
    if session.layer is not None:
        return "the workflow matrix observes the genuine layer (whole models are built, not one --bn-layer class)"
    return session.missing()


def pytest_generate_tests(metafunc):
    parametrize_cases(metafunc, "bn_workflow", _skip_reason, lambda session: [
        scenario_param(session, c) for c in workflow.generate(session.target.name)], "skipped-workflow=none")


def test_workflow(bn_workflow, bn_target, bn_deviations, bn_record_workflow):
    """The workflow keeps its documented rule (each check of its module), or shows its known deviation exactly."""
    result = workflow.run(bn_target, bn_workflow)
    entry = find(bn_deviations, bn_workflow)
    bn_record_workflow({**result.record(), "deviation": entry.id if entry else None,
                        "deviation_source": entry.source if entry else None})
    judge(result, entry, lambda observed, exp: workflow.violations(bn_workflow, observed, exp), workflow.explain)
