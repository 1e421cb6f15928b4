"""The workflow matrix: whole training setups around BatchNormalization, beyond one layer.

The main and settings matrices observe one layer in one model.  Fine-tuning
also happens in setups whose facts are not a single layer's: a model exported
for serving, one layer shared by two models compiled differently (the GAN
workflow), a network pre-trained and then fine-tuned as the guide says, a
replicated training step.  Each is a **workflow**: a module in this package
holding its own documented rule, variants, facts and checks (it runs through
every stage itself), so adding one touches no other file but :data:`NAMES`;
``bn_behaviour.matrices.workflows`` joins them to the other matrices.

A workflow module defines:

* ``WORKFLOW``: a :class:`bn_behaviour.workflows.base.Workflow` (name, title,
  the documented rule and its source);
* ``VARIANTS``: variant ID -> one-sentence description (IDs are ``key=value``
  pairs joined by ``-``, read as a sentence, never changed once published);
* ``FIELDS``: the facts it observes (what a deviation entry may name);
* ``exclusion(target, variant) -> Optional[str]``: why a variant does not run
  on a target (a ``bn_behaviour.targets.Target``: its backend, its rule);
* ``expected(target, variant) -> dict``: what the documented rule predicts (JSON-able);
* ``observe(target, variant) -> (observed: dict, numbers: str)``: run the real
  framework (imported inside the function) and return the facts, plus the
  numbers a failure message shows;
* ``CHECKS``: name -> ``check_<behaviour>(variant, observed, expected) -> Optional[str]``,
  whose docstring says what it asserts and why.

The case ID is ``workflow=<name>-<variant>``; known deviations select workflow
cases with a pattern naming ``workflow`` (and optionally ``variant``).

>>> case = WorkflowCase("export", "format=tf_saved_model-frozen=none")
>>> case.id
'workflow=export-format=tf_saved_model-frozen=none'
>>> WorkflowCase.from_id(case.id) == case
True
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import ClassVar

from . import accumulation, application, distributed, export, fine_tune, preprocessing, shared_layer, stateless

#: The workflow modules, in the order reports list them.
MODULES: dict[str, ModuleType] = {m.WORKFLOW.name: m for m in (export, shared_layer, fine_tune, application,
                                                               distributed, preprocessing, accumulation,
                                                               stateless)}
NAMES = tuple(MODULES)


def module(name: str) -> ModuleType:
    """The workflow module called ``name``."""
    if name not in MODULES:
        raise ValueError(f"unknown workflow {name!r}; valid: {', '.join(NAMES)}")
    return MODULES[name]


@dataclass(frozen=True, order=True)
class WorkflowCase:
    """One variant of one workflow."""

    AXES: ClassVar[dict] = {"workflow": NAMES, "variant": {v for m in MODULES.values() for v in m.VARIANTS}}
    #: A pattern selects workflow cases only when it names ``workflow``.
    PATTERN_NEEDS: ClassVar[frozenset[str]] = frozenset({"workflow"})

    workflow: str
    variant: str

    def __post_init__(self) -> None:
        if self.variant not in module(self.workflow).VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r} of workflow {self.workflow}; valid: "
                             + ", ".join(module(self.workflow).VARIANTS))

    @property
    def id(self) -> str:
        return f"workflow={self.workflow}-{self.variant}"

    @classmethod
    def from_id(cls, case_id: str) -> "WorkflowCase":
        head, sep, variant = case_id.partition("-")
        if not head.startswith("workflow=") or not sep:
            raise ValueError(f"not a workflow case ID: {case_id!r}")
        return cls(head.split("=", 1)[1], variant)

    def axes(self) -> dict[str, str]:
        return {"workflow": self.workflow, "variant": self.variant}

    def describe(self) -> str:
        return f"{module(self.workflow).WORKFLOW.title}: {module(self.workflow).VARIANTS[self.variant]}"


def all_cases() -> list[WorkflowCase]:
    return [WorkflowCase(n, v) for n in NAMES for v in module(n).VARIANTS]


def observed_fields() -> frozenset[str]:
    """Every fact some workflow observes (what a deviation entry may name)."""
    return frozenset(f for m in MODULES.values() for f in m.FIELDS)
