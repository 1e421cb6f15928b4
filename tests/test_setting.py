"""The settings matrix's data and helpers (bn_behaviour/setting.py, rules_setting.py)."""

from pathlib import Path

import numpy as np
import pytest

from bn_behaviour import reference, setting
from bn_behaviour.rules_setting import expected
from bn_behaviour.setting import KERAS_TARGETS, SETTINGS, SettingCase, all_cases, exclusion_reason, generate


def test_ids_round_trip_and_extend_the_core_scenario_id():
    for case in all_cases():
        assert SettingCase.from_id(case.id) == case
        assert case.id.startswith(case.core.id + "-setting=")


def test_published_setting_ids_still_exist():
    """Once published a row keeps its ID: every listed ID is still generated for some target."""
    published = Path(__file__).with_name("published_setting_ids.txt").read_text().split()
    current = {c.id for t in KERAS_TARGETS for c in generate(t)}
    assert published and not set(published) - current


def test_every_setting_runs_somewhere_and_every_exclusion_says_why():
    for name in SETTINGS:
        assert any(c.setting == name for t in KERAS_TARGETS for c in generate(t)), name
    for case in all_cases():
        for target in KERAS_TARGETS:
            why = exclusion_reason(case, target)
            assert why is None or why.startswith(("setting=", "precision=")), why


def test_descriptions_are_unique_sentences():
    texts = [c.describe() for c in all_cases()]
    assert len(set(texts)) == len(texts) and all(t.endswith(".") for t in texts)


@pytest.mark.parametrize("dtype, ulp", [("float16", 2.0**-10), ("bfloat16", 2.0**-7)])
def test_rounding_to_the_compute_dtype_is_within_half_an_ulp(dtype, ulp):
    x = np.random.default_rng(0).uniform(1, 2, 1000).astype(np.float32)
    r = setting.round_to(x, dtype)
    assert np.all(np.abs(r - x) <= ulp / 2) and len(np.unique(r)) < len(np.unique(x))


def test_precision_tolerance_stays_far_below_the_mode_gap():
    """The widest output tolerance must still separate training from inference mode on every setting's data."""
    tol = max(p.tolerance for p in setting.PRECISIONS.values())
    for name in SETTINGS:
        case = SettingCase(setting.CORES[0], name, "float32")
        st, d = SETTINGS[name], setting.data(case)
        g = np.full(3, 2.0)
        train = reference.training_output(d.x, g, g / 2, st.epsilon, st.axis)
        infer = reference.inference_output(d.x, np.zeros(3), np.ones(3), g, g / 2, st.epsilon, st.axis)
        assert np.max(np.abs(train - infer)) > 100 * max(tol, st.tolerance or 0), name


def test_masked_statistics_ignore_the_masked_samples():
    x = setting.data(SettingCase(setting.CORES[0], "masked", "float32")).x
    m = setting.mask_for(x)
    assert np.allclose(reference.batch_moments(x, mask=m)[0], x[:-2].mean(0))


def test_the_rule_lists_only_the_weights_a_setting_creates():
    core = setting.CORES[0]
    assert expected(SettingCase(core, "no_scale", "float32"))["trainable_weights"] == ["beta"]
    assert expected(SettingCase(core, "default", "mixed_bfloat16"))["trainable_weights"] == ["beta", "gamma"]
