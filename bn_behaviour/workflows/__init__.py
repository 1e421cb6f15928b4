"""The workflow matrix: whole training setups around BatchNormalization, beyond one layer.

The main and settings matrices observe one layer in one model.  Fine-tuning
also happens in setups whose facts are not a single layer's: a model exported
for serving, one layer shared by two models compiled differently (the GAN
workflow), a network pre-trained and then fine-tuned as the guide says, a
replicated training step.  Each is a **workflow**: a module under
``bn_behaviour/workflows/`` holding its own documented rule, variants, facts
and checks, so adding one touches no other file but the registry below.

A workflow module defines:

* ``WORKFLOW``: a :class:`Workflow` (name, title, the documented rule and its source);
* ``VARIANTS``: variant ID -> one-sentence description (IDs are ``key=value``
  pairs joined by ``-``, read as a sentence, never changed once published);
* ``exclusion(target, variant) -> Optional[str]``: why a variant does not run on a target;
* ``expected(target, variant) -> dict``: what the documented rule predicts (JSON-able);
* ``observe(target, variant) -> (observed: dict, numbers: str)``: run the real
  framework (imported inside the function) and return the facts, plus the
  numbers a failure message shows;
* ``CHECKS``: name -> ``check_<behaviour>(variant, observed, expected) -> Optional[str]``,
  whose docstring says what it asserts and why.

The case ID is ``workflow=<name>-<variant>``; known deviations select workflow
cases with a pattern naming ``workflow`` (and optionally ``variant``).

>>> case = WorkflowCase("export", "frozen=none")
>>> case.id
'workflow=export-frozen=none'
>>> WorkflowCase.from_id(case.id) == case
True
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Optional

#: The workflow modules (bn_behaviour/workflows/<name>.py), in the order reports list them.
NAMES = ("export", "shared_layer", "fine_tune", "distributed")


@dataclass(frozen=True)
class Workflow:
    name: str
    title: str
    #: The documented rule, in one or two sentences.
    rule: str
    #: Where it is documented (a link).
    source: str


def module(name: str) -> ModuleType:
    """The workflow module called ``name`` (light: frameworks are imported inside ``observe``)."""
    if name not in NAMES:
        raise ValueError(f"unknown workflow {name!r}; valid: {', '.join(NAMES)}")
    return importlib.import_module(f"bn_behaviour.workflows.{name}")


@dataclass(frozen=True, order=True)
class WorkflowCase:
    workflow: str
    variant: str

    @property
    def id(self) -> str:
        return f"workflow={self.workflow}-{self.variant}"

    @classmethod
    def from_id(cls, case_id: str) -> "WorkflowCase":
        head, variant = case_id.split("-", 1)
        return cls(head.split("=", 1)[1], variant)

    def axes(self) -> dict[str, str]:
        return {"workflow": self.workflow, "variant": self.variant}

    def describe(self) -> str:
        return f"{module(self.workflow).WORKFLOW.title}: {module(self.workflow).VARIANTS[self.variant]}"


def all_cases() -> list[WorkflowCase]:
    return [WorkflowCase(n, v) for n in NAMES for v in module(n).VARIANTS]


def exclusion_reason(case: WorkflowCase, target: str) -> Optional[str]:
    return module(case.workflow).exclusion(target, case.variant)


def generate(target: str) -> list[WorkflowCase]:
    """The workflow cases that run on ``target``, in a stable order."""
    return [c for c in all_cases() if exclusion_reason(c, target) is None]


def variants_of(name: str) -> tuple[str, ...]:
    return tuple(module(name).VARIANTS)


def observed_fields() -> set[str]:
    """Every fact some workflow observes (what a deviation entry may name)."""
    return {f for n in NAMES for f in module(n).FIELDS}


@dataclass
class WorkflowResult:
    target: str
    case: WorkflowCase
    observed: dict
    expected: dict
    numbers: str
    violations: dict[str, str]

    def record(self) -> dict:
        return {"id": self.case.id, "scenario": self.case.axes(), "observed": self.observed,
                "expected": self.expected, "violated": sorted(self.violations)}


def violations(case: WorkflowCase, observed: dict, exp: dict) -> dict[str, str]:
    out = {}
    for name, check in module(case.workflow).CHECKS.items():
        msg = check(case.variant, observed, exp)
        if msg:
            out[name] = msg
    return out


def run(target, case: WorkflowCase) -> WorkflowResult:
    """Observe ``case`` on ``target`` (a ``bn_behaviour.targets.Target``) and judge it by its rule."""
    mod = module(case.workflow)
    target.activate()
    observed, numbers = mod.observe(target, case.variant)
    exp = mod.expected(target.name, case.variant)
    return WorkflowResult(target.name, case, observed, exp, numbers, violations(case, observed, exp))


def explain(result: WorkflowResult, headline: str) -> str:
    """A failure message: the checks broken, expected vs observed, the numbers, how to reproduce."""
    import json

    case, mod = result.case, module(result.case.workflow)
    lines = [headline, f"case {case.id}: {case.describe()}", f"documented rule: {mod.WORKFLOW.rule} ({mod.WORKFLOW.source})"]
    for name, msg in result.violations.items():
        doc = (mod.CHECKS[name].__doc__ or "").strip().splitlines()[0]
        lines.append(f"  check {name} ({doc}): {msg}")
    lines += [f"expected: {json.dumps(result.expected, sort_keys=True)}",
              f"observed: {json.dumps(result.observed, sort_keys=True)}", result.numbers,
              "reproduce alone:", f"  {command(result.target, case)}"]
    return "\n".join(lines)


def command(target: str, case: WorkflowCase) -> str:
    """The command that runs ``case`` alone and prints its observation."""
    return f"bn-behaviour workflow --target {target} {case.id}"
