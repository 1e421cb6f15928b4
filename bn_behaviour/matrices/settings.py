"""The settings matrix (``bn_behaviour.cases.setting``): core scenarios with one layer setting and policy."""

from __future__ import annotations

import math
from functools import partial

from ..cases import setting
from ..cases.scenario import TRAINING_PATHS
from ..cases.setting import PRECISIONS, SETTINGS, SettingCase, mask_for
from ..rules import setting as rule
from ..rules.observation import RTOL, Params, classify, describe_numbers, measure
from ..rules.result import Result
from ..targets import Target, repro
from ..targets.common import Setup
from ..targets.layer import describe as describe_layer
from .matrix import OBSERVATION_FIELDS, Matrix, PageLayout


def excluded(target: Target, case: SettingCase):
    return setting.exclusion_reason(case) or target.exclusion_reason(case)


def params(target: Target, case: SettingCase, x, mask) -> Params:
    """The setting's axis, mask, momentum, epsilon and tolerance; the target's convention for its kernel."""
    st = SETTINGS[case.setting]
    tol = max(PRECISIONS[case.precision].tolerance or RTOL, st.tolerance or 0.0)
    return Params(x=x, trains=case.core.path in TRAINING_PATHS, momentum=st.momentum, epsilon=st.epsilon,
                  bessel=target.convention(st.fused_kernel), axis=st.axis, mask=mask, rtol=tol, atol=tol,
                  virtual_batch=st.virtual_batch, renorm=st.layer.get("renorm_clipping") if st.renorm else None)


def observe(target: Target, case: SettingCase, layer_cls=None) -> Result:
    """Run the core scenario with the setting under the policy; judge by ``rules.setting``."""
    st, data = SETTINGS[case.setting], setting.data(case)
    mask = mask_for(data.x, st.mask) if st.mask else None
    setup = Setup(data, {**st.layer, "momentum": st.momentum, "epsilon": st.epsilon}, case.precision,
                  st.persist, mask)
    facts = target.load_driver().run(case.core, setup, layer_cls)
    p = params(target, case, data.x, mask)
    observed = {**classify(facts, p).as_dict(), "variable_dtypes": facts.variable_dtypes}
    layer = describe_layer(layer_cls)
    return Result(target.name, case, observed, rule.expected(case), rule.CHECKS, case,
                  evidence=partial(describe_numbers, facts, p),
                  command=command(target.name, case, layer) + repro.variance_option(target), layer=layer,
                  extra={"measured": measure(facts, p, observed["mode"])})


def command(target: str, case: SettingCase, layer: str = "genuine") -> str:
    return f"{repro.command(target, case.core, layer)} --setting {case.setting} --precision {case.precision}"


def magnitude(v: float) -> str:
    """A numeric error as the power of ten above it: stable across runs whose last digits differ
    (XLA's multithreaded reductions do), exact values stay in the JSON report.

    >>> magnitude(8.7e-4), magnitude(7.3e-4), magnitude(1e-3), magnitude(16.0), magnitude(float("nan")), magnitude(0.0)
    ('≤ 1e-3', '≤ 1e-3', '≤ 1e-3', '≤ 1e2', 'nan', '0')
    """
    if math.isnan(v):
        return "nan"
    return "0" if v <= 0 else f"≤ 1e{math.ceil(math.log10(v) - 1e-9)}"


def annotate(case: SettingCase, record: dict) -> str:
    """The large-offset rows' numeric errors, and any variable that is not float32."""
    out = ""
    m = record.get("measured") or {}
    if case.setting == "large_offset":
        parts = [f"{label} {magnitude(m[key])}" for key, label in (("output_error", "output err"),
                                                                    ("batch_variance_error", "var err"))
                 if m.get(key) is not None]
        out += f" ({', '.join(parts)})" if parts else ""
    dtypes = record.get("observed", {}).get("variable_dtypes")
    return out + (f" [variables {dtypes}]" if dtypes != "float32" else "")


MATRIX = Matrix(
    name="settings",
    case_type=SettingCase,
    test="test_setting",
    argname="bn_setting",
    skipped_id="skipped-setting=none",
    prefix="settings_",
    label="settings-matrix cases",
    title="Settings matrix",
    intro="A core row of the table above with one layer setting under one precision policy"
    " (`bn_behaviour/cases/setting.py`); the same cells, plus every variable float32. Rows with"
    " inputs of a large offset also give the largest output error and the relative error"
    " of the batch variance the moving update implies, against the float64 reference, as the power of ten"
    " above them (`behaviour.json` has the values; their last digits vary between runs on JAX).",
    example="layer-frozen=none-when=before_compile-path=call-training=true-setting=epsilon-precision=float32",
    candidates=setting.all_cases,
    excluded=excluded,
    observe=observe,
    layout=PageLayout(
        page=lambda c: "settings",
        page_text=lambda _: ("settings matrix", "the settings matrix: core scenarios with one layer setting"
                             " under one precision policy"),
        family=lambda c: f"setting={c.setting}",
        family_text=lambda c: (f"setting={c.setting}", f"{SETTINGS[c.setting].description}."),
        pattern="…-{}-…",
        tables="one table per setting",
    ),
    observed_fields=OBSERVATION_FIELDS | {"variable_dtypes"},
    annotate=annotate,
)
