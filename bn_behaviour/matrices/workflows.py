"""The workflow matrix (``bn_behaviour.workflows``): whole training setups, each judged by its own rule."""

from __future__ import annotations

import functools

from .. import workflows
from ..rules.result import Result
from ..targets import Target
from ..workflows import WorkflowCase
from .matrix import Matrix, PageLayout


def excluded(target: Target, case: WorkflowCase):
    """The target's gaps, then the workflow's own reason."""
    return target.exclusion_reason(case) or workflows.module(case.workflow).exclusion(target, case.variant)


def observe(target: Target, case: WorkflowCase, layer_cls=None) -> Result:
    """Run the workflow's variant on the real framework and judge its facts by the workflow's checks."""
    mod = workflows.module(case.workflow)
    target.activate()
    observed, numbers = mod.observe(target, case.variant)
    return Result(target.name, case, observed, mod.expected(target, case.variant), mod.CHECKS, case.variant,
                  evidence=lambda: numbers, command=command(target.name, case),
                  rule=f"{mod.WORKFLOW.rule} ({mod.WORKFLOW.source})")


@functools.cache
def _ranks() -> dict[str, int]:
    return {c.id: i for i, c in enumerate(workflows.all_cases())}


def row_order(case_id: str) -> tuple[int, str]:
    """Workflow rows in the registry's order (the order the documents present them)."""
    return _ranks().get(case_id, len(_ranks())), case_id


def group_text(name: str) -> tuple[str, str]:
    """A workflow's heading in the documents, and its documented rule with the source."""
    wf = workflows.module(name).WORKFLOW
    return wf.title, f"Documented rule: {wf.rule} ([source]({wf.source}))."


def command(target: str, case: WorkflowCase) -> str:
    """The command that runs ``case`` alone and prints its observation."""
    return f"bn-behaviour workflow --target {target} {case.id}"


MATRIX = Matrix(
    name="workflows",
    case_type=WorkflowCase,
    test="test_workflow",
    argname="bn_workflow",
    skipped_id="skipped-workflow=none",
    prefix="workflow_",
    label="workflow cases",
    title="Workflows",
    intro="Whole training setups around the layer (`bn_behaviour/workflows/`), each judged by its own"
    " documented rule; cells list the facts observed.",
    example="workflow=export-format=tf_saved_model-frozen=none",
    candidates=workflows.all_cases,
    excluded=excluded,
    observe=observe,
    layout=PageLayout(
        page=lambda c: "workflows",
        page_text=lambda _: ("workflows", "the workflow matrix: whole training setups around the layer"),
        family=lambda c: f"workflow={c.workflow}",
        family_text=lambda c: group_text(c.workflow),
        pattern="{}-…",
        tables="one table per workflow",
        rank=None,  # the registry's order (a workflow's variants are not an axis with ordered values)
    ),
    record_schema="workflowCase",
    observed_fields=workflows.observed_fields(),
    layer_note="the workflow matrix observes the genuine layer (whole models are built, not one --bn-layer class)",
    cell_fields=(),
    row_text=lambda case: workflows.module(case.workflow).VARIANTS[case.variant],
    group=lambda case: case.workflow,
    group_text=group_text,
    opt_in_case=lambda case: workflows.module(case.workflow).WORKFLOW.opt_in,
    row_order=row_order,
)
