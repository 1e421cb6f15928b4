"""The fused 4-D matrix (``bn_behaviour.cases.fused``): main scenarios through a fused kernel."""

from __future__ import annotations

from ..cases.fused import SUBSET, FusedCase, in_subset
from ..cases.inputs import image_data
from ..cases.scenario import all_combinations
from ..rules.result import Result
from ..targets import Target
from ..targets.common import Setup
from .main import core_layout, judge_scenario
from .main import excluded as scenario_excluded
from .matrix import Matrix, id_command


def candidates() -> list[FusedCase]:
    return [FusedCase(s) for s in all_combinations()]


def excluded(target: Target, case: FusedCase):
    if not in_subset(case.core):
        return f"the fused matrix runs the subset {', '.join(f'{k} in {v}' for k, v in SUBSET.items())}"
    return scenario_excluded(target, case.core)


def observe(target: Target, case: FusedCase, layer_cls=None) -> Result:
    """``fused=True`` on (N, H, W, C) images; the moving variance judged by the fused kernel's convention."""
    setup = Setup(data=image_data(), layer={"fused": True})
    return judge_scenario(target, case.core, setup, layer_cls, case=case, fused_kernel=True, command=id_command)


MATRIX = Matrix(
    name="fused",
    case_type=FusedCase,
    test="test_fused",
    argname="bn_fused_case",
    skipped_id="skipped-input=4d",
    prefix="fused_",
    label="fused 4-D cases",
    title="Fused 4-D matrix",
    intro="A subset of the scenarios above with `fused=True` on (N, H, W, C) images (`bn_behaviour/cases/fused.py`):"
    " the fused kernel tf_keras takes for 4-D input, with its own moving-variance convention; the same cells.",
    example="functional-frozen=layer-when=after_fit-path=fit-training=none-input=4d",
    candidates=candidates,
    excluded=excluded,
    observe=observe,
    layout=core_layout("fused", "fused 4-D matrix", "the fused 4-D matrix: main-matrix scenarios with `fused=True`"
                       " on (N, H, W, C) images", FusedCase),
)
