"""The compiled matrix (``bn_behaviour.cases.compiled``): main scenarios with ``jit_compile=True``.

Which scenarios run, and why not the rest, is declared here:

* **What compiling can change.** XLA compiles the graph ``tf.function`` traced (and
  ``torch.compile`` the graph dynamo captured); which layers get ``training`` and which
  variables are trainable is decided while tracing, in the same Python code with or without
  the compiler, so the main matrix's traced rows already answer the propagation questions.  What
  compiling can change is how the traced step runs: its variable updates (moving statistics,
  gamma/beta) and whether a trace made before a ``trainable`` change is reused.  So ``fit()``
  runs on ``nested`` and ``functional`` with every freeze and every moment (:data:`FIT`), each
  other compiled path on ``nested``, unfrozen and with the base frozen, before ``compile()``
  and after a first step (:data:`OTHER`), and every recipe row of ``docs/fine-tuning.md``
  whose path compiles.
* **Per framework** (:data:`COMPILERS`, by the target's backend): XLA on TensorFlow runs all
  of them (about 0.5 s more a case than the plain ``tf.function``); ``torch.compile`` with its
  default inductor backend costs 15 to 50 s a case on this CPU, so PyTorch runs the rows where
  a compiled step could keep a stale ``trainable`` (a freeze before ``compile()``, after it, and
  after a compiled step).  JAX is XLA already (the target lacks the matrix, saying so).

The matrix is opt-in (``Matrix.opt_in``): ``bn-behaviour report`` and CI run it, the default
``pytest`` does not (``--bn-matrices all`` asks for it).

>>> from bn_behaviour.targets import TARGETS
>>> [len(MATRIX.cases_for(TARGETS[t])) for t in ("keras-tensorflow", "keras-jax", "keras-torch", "tf_keras")]
[82, 0, 3, 82]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..cases.compiled import CompiledCase
from ..cases.scenario import all_combinations, data
from ..rules.recipes import RECIPES
from ..rules.result import Result
from ..targets import Target
from ..targets.common import Setup
from .main import core_layout, judge_scenario
from .main import excluded as scenario_excluded
from .matrix import Matrix, id_command

#: The paths a user compiles: the trainer's train, test and predict functions, the traced call and step.
PATHS = ("fit", "train_on_batch", "evaluate", "predict", "call_graph", "custom_loop")
#: fit() on these models with every freeze and moment.
FIT = {"path": ("fit",), "model": ("nested", "functional")}
#: Every other compiled path on one model: unfrozen and frozen base, before compile and after a step.
OTHER = {"model": ("nested",), "frozen": ("none", "inner_model"), "when": ("before_compile", "after_fit")}
#: The recipes' rows (docs/fine-tuning.md) run compiled wherever their path compiles.
RECIPE_ROWS = frozenset(r.row for r in RECIPES)
SAME_FUNCTION = {"test_on_batch": "evaluate", "predict_on_batch": "predict"}


@dataclass(frozen=True)
class Compiler:
    """What ``jit_compile=True`` means on one framework, and which rows it can afford."""

    name: str
    #: The core scenario IDs it runs (None: every row the matrix selects).
    rows: Optional[frozenset[str]] = None
    #: Why only those.
    why: str = ""


COMPILERS: dict[str, Compiler] = {
    "tensorflow": Compiler("XLA (tf.function(jit_compile=True))"),
    "torch": Compiler(
        "torch.compile (Keras' PyTorch trainer, default inductor backend)",
        rows=frozenset(f"nested-frozen=inner_model-when={when}-path=fit-training=none"
                       for when in ("before_compile", "after_compile", "after_fit")),
        why="torch.compile costs 15 to 50 s a case on CPU (inductor generates and builds C++), so PyTorch runs "
        "fit() over a base frozen before compile(), after it, and after a compiled step: where a compiled "
        "step could keep a stale trainable (dynamo guards the Python state it reads and recaptures when it "
        "changes); the propagation itself is the eager code's, which the main matrix's rows observe",
    ),
}


def _in(s, subset: dict) -> bool:
    return all(getattr(s, axis) in values for axis, values in subset.items())


def selection_reason(case: CompiledCase) -> Optional[str]:
    """Why the matrix does not run ``case`` on any target (None: it does).

    >>> from bn_behaviour.cases.scenario import Scenario
    >>> selection_reason(CompiledCase(Scenario("nested", "layer", "after_compile", "fit", "none"))) is None
    True
    >>> selection_reason(CompiledCase(Scenario("functional", "none", "before_compile", "test_on_batch", "none")))
    'path=test_on_batch runs the compiled function evaluate runs (a row there)'
    """
    s = case.core
    if s.path in SAME_FUNCTION:
        return f"path={s.path} runs the compiled function {SAME_FUNCTION[s.path]} runs (a row there)"
    if s.path not in PATHS:
        return f"path={s.path} is an eager call: nothing compiles it"
    if s.id in RECIPE_ROWS or _in(s, FIT) or (s.path != "fit" and _in(s, OTHER)):
        return None
    if s.path == "fit":
        return ("fit runs compiled on model=nested and functional (every freeze and moment) and the recipes' "
                "models: which layers get training and trainable is traced the same with or without the compiler")
    return (f"path={s.path} runs compiled on model=nested, frozen none and inner_model, before compile and after a "
            "step (and the recipes' rows): the trace is the uncompiled one's, the compiled step is what can differ")


def excluded(target: Target, case: CompiledCase) -> Optional[str]:
    why = selection_reason(case) or scenario_excluded(target, case.core)
    if why:
        return why
    compiler = COMPILERS.get(target.backend)
    if compiler is None:
        return f"no compiler is driven on the {target.backend} backend"
    if compiler.rows is not None and case.core.id not in compiler.rows:
        return f"on {target.backend}: {compiler.why}"
    return None


def candidates() -> list[CompiledCase]:
    return [CompiledCase(s) for s in all_combinations()]


def observe(target: Target, case: CompiledCase, layer_cls=None) -> Result:
    """The core scenario with ``jit_compile=True``, judged by the target's rule like its core."""
    setup = Setup(data=data(case.core), jit_compile=True)
    return judge_scenario(target, case.core, setup, layer_cls, case=case, command=id_command, code=True)


MATRIX = Matrix(
    name="compiled",
    case_type=CompiledCase,
    test="test_compiled",
    argname="bn_compiled_case",
    skipped_id="skipped-jit_compile=true",
    prefix="compiled_",
    label="compiled cases",
    title="Compiled matrix",
    intro="Scenarios above run with `jit_compile=True` (`bn_behaviour/cases/compiled.py`): XLA on TensorFlow"
    " (what `compile()` gives on a GPU, where `jit_compile=\"auto\"` turns it on), `torch.compile` on PyTorch;"
    " keras-jax's rows above are XLA already. The same cells, judged by the same rule and known deviations.",
    example="nested-frozen=inner_model-when=after_fit-path=fit-training=none-jit_compile=true",
    candidates=candidates,
    excluded=excluded,
    observe=observe,
    layout=core_layout("compiled", "compiled matrix", "the compiled matrix: main-matrix scenarios with"
                       " `jit_compile=True` (XLA, torch.compile)", CompiledCase),
    opt_in="each case compiles its step (XLA: about 0.5 s more a case; torch.compile: 15 to 50 s)",
)
