"""The main matrix: every scenario (``bn_behaviour.cases.scenario``), judged by the target's rule."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Optional

from ..cases.inputs import Data
from ..cases.scenario import AXES, SEQUENCE_MODELS, TRAINING_PATHS, Scenario, all_combinations, data, exclusion_reason
from ..isolation.timing import PHASES
from ..rules import RULES, tf2
from ..rules.observation import Params, classify, classify_statistics, describe_numbers
from ..rules.result import Result
from ..targets import Target, repro
from ..targets.common import Setup
from ..targets.layer import describe as describe_layer
from .matrix import OBSERVATION_FIELDS, Matrix, PageLayout


def params(target: Target, s: Scenario, data: Data, fused_kernel: bool = False) -> Params:
    """How a scenario on ``data`` is judged on ``target``: its momentum, epsilon and variance convention
    (and, for ``TimeDistributed``, its time axis)."""
    return Params(x=data.x, trains=s.path in TRAINING_PATHS, momentum=target.momentum, epsilon=target.epsilon,
                  bessel=target.convention(fused_kernel), time_axis=1 if s.model in SEQUENCE_MODELS else None)


def judge_scenario(target: Target, s: Scenario, setup: Setup, layer_cls, case=None, fused_kernel=False,
                   command: Callable[[str, Any, str], str] = repro.command, code: Optional[bool] = None) -> Result:
    """Run scenario ``s`` as ``setup`` says and judge it by the target's rule (``case``: the case it stands
    for; ``command(target, case, layer)``: the line that runs it alone; ``code``: whether the repro snippet of
    ``s`` with ``setup.jit_compile`` is the case's program, by default only when the case is ``s``)."""
    case = case or s
    facts = target.load_driver().run(s, setup, layer_cls)
    p = params(target, s, setup.data, fused_kernel)
    with PHASES("observe_check"):  # NumPy reference, classification, the rule
        observed = classify(facts, p).as_dict()
        if p.time_axis is not None:  # published, not judged: the wrapper's documentation allows both forms
            observed["statistics"] = classify_statistics(facts, p)
        expected = RULES[target.rule](s)
    layer = describe_layer(layer_cls)
    return Result(target.name, case, observed, expected, tf2.CHECKS, s,
                  evidence=partial(describe_numbers, facts, p),
                  command=command(target.name, case, layer) + repro.variance_option(target),
                  snippet=partial(repro.snippet, target.name, s, setup.jit_compile)
                  if layer == "genuine" and (case is s if code is None else code) else None,
                  layer=layer)


def annotate(s: Scenario, record: dict) -> str:
    """TimeDistributed rows: which batch statistics the layer took (each timestep's, or pooled)."""
    statistics = record.get("observed", {}).get("statistics")
    return f" ({statistics.replace('_', ' ')} statistics)" if statistics not in (None, "n/a") else ""


def excluded(target: Target, s: Scenario):
    """The generic exclusion (``cases.scenario.exclusion_reason``), then the target's."""
    return exclusion_reason(s) or target.exclusion_reason(s)


def observe(target: Target, s: Scenario, layer_cls=None) -> Result:
    return judge_scenario(target, s, Setup(data=data(s)), layer_cls)


def axes_text(s: Scenario, *axes: str) -> tuple[str, str]:
    """A family's heading and intro from scenario axes: ``axis=value`` each, then what each value means.

    >>> heading, intro = axes_text(Scenario("nested", "layer", "after_compile", "fit", "none"), "frozen", "when")
    >>> heading
    'frozen=layer, when=after_compile'
    >>> intro
    'frozen: layer.trainable = False; when: after compile(), without compiling again.'
    """
    values = {a: getattr(s, a) for a in axes}
    return (", ".join(f"{a}={v}" for a, v in values.items()),
            "; ".join(f"{a}: {AXES[a][v]}" for a, v in values.items()) + ".")


def family(s: Scenario) -> str:
    """The family of a scenario on its model's page: the rows that share the freeze and its moment."""
    return f"{s.model}-frozen={s.frozen}-when={s.when}"


def core_layout(page: str, title: str, text: str, case_type) -> PageLayout:
    """The page of a matrix of main scenarios run one other way (``cases.scenario.CoreCase``): one page,
    one table per model, freeze and moment (the core's family)."""
    return PageLayout(
        page=lambda c: page,
        page_text=lambda _: (title, text),
        family=lambda c: family(c.core),
        family_text=lambda c: axes_text(c.core, "model", "frozen", "when"),
        pattern="{}-…" + case_type.suffix(),
        tables="one table per model, freeze and the moment it is made",
    )


MATRIX = Matrix(
    name="main",
    case_type=Scenario,
    test="test_behaviour",
    argname="bn_scenario",
    skipped_id="target-not-installed",
    prefix="",
    label="cases",
    title="",
    intro="One row per scenario (its permanent ID and what it does), one column per target.",
    example="functional-frozen=layer-when=after_fit-path=fit-training=none",
    candidates=all_combinations,
    excluded=excluded,
    observe=observe,
    layout=PageLayout(
        page=lambda s: s.model,
        page_text=lambda model: (f"model={model}", f"the main matrix's rows with `model={model}`: "
                                 f"{AXES['model'][model]}"),
        family=family,
        family_text=lambda s: axes_text(s, "frozen", "when"),
        pattern="{}-…",
        tables="one table per freeze and the moment it is made",
    ),
    observed_fields=OBSERVATION_FIELDS | {"statistics"},
    annotate=annotate,
)
