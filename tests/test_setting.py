"""The settings matrix's data and helpers (bn_behaviour/cases/setting.py, rules/setting.py)."""

from pathlib import Path

import numpy as np
import pytest

from bn_behaviour.cases import setting
from bn_behaviour.cases.setting import SETTINGS, SettingCase, all_cases
from bn_behaviour.matrices import MATRICES, why_not
from bn_behaviour.rules import reference
from bn_behaviour.rules.observation import classify_mode, classify_moving_stats
from bn_behaviour.rules.setting import expected
from bn_behaviour.targets import TARGETS

MATRIX = MATRICES["settings"]


def test_ids_round_trip_and_extend_the_core_scenario_id():
    for case in all_cases():
        assert SettingCase.from_id(case.id) == case
        assert case.id.startswith(case.core.id + "-setting=")


def test_published_setting_ids_still_exist():
    """Once published a row keeps its ID: every listed ID is still generated for some target."""
    published = Path(__file__).with_name("published_setting_ids.txt").read_text().split()
    current = {c.id for t in TARGETS.values() for c in MATRIX.cases_for(t)}
    assert published and not set(published) - current


def test_case_counts_per_target():
    """92 cases on each Keras 3 backend, 113 on tf_keras (its fused, unfused, virtual-batch and SavedModel
    settings), none on tf1 or tf1-keras (the settings matrix follows the tf2 rule)."""
    counts = {name: len(MATRIX.cases_for(t)) for name, t in TARGETS.items()}
    assert counts == {"keras-tensorflow": 92, "keras-jax": 92, "keras-torch": 92, "tf_keras": 113, "tf1-keras": 0,
                      "tf1": 0}


def test_every_setting_runs_somewhere_and_every_exclusion_says_why():
    for name in SETTINGS:
        assert any(c.setting == name for t in TARGETS.values() for c in MATRIX.cases_for(t)), name
    for case in all_cases():
        for target in TARGETS.values():
            why = why_not(target, case)
            assert why is None or why.startswith(("setting=", "precision=")) or why == target.lacks("settings"), why


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
    tol = max(p.tolerance or 0 for p in setting.PRECISIONS.values())
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


def test_masked_settings_never_take_the_fused_kernel():
    """tf_keras' fused 4-D kernel ignores a mask (with a warning): the masked settings feed (N, C) inputs."""
    for st in SETTINGS.values():
        if st.mask:
            assert st.data == "flat" and not st.fused_kernel and "fused" not in st.layer, st.name


def test_a_fully_masked_batch_has_no_statistics_and_the_rule_keeps_the_moving_ones():
    x = setting.data(SettingCase(setting.CORES[0], "masked_all", "float32")).x
    m = setting.mask_for(x, "all")
    assert reference.fully_masked(m) and not m.any()
    with pytest.raises(ValueError, match="no statistics"):
        reference.batch_moments(x, mask=m)
    state = dict(gamma=np.ones(3), beta=np.zeros(3), moving_mean=np.zeros(3), moving_variance=np.ones(3))
    infer = reference.inference_output(x, state["moving_mean"], state["moving_variance"], state["gamma"],
                                       state["beta"])
    assert classify_mode(x, infer, state, mask=m) == "inference"
    assert classify_mode(x, x / np.sqrt(reference.EPSILON), state, mask=m) == "neither"
    decayed = {**state, "moving_variance": state["moving_variance"] * 0.99}
    assert classify_moving_stats(x, state, state, mask=m) == "unchanged"
    assert classify_moving_stats(x, state, decayed, mask=m) == "updated_otherwise"
    e = expected(SettingCase(setting.CORES[0], "masked_all", "float32"))
    assert (e["mode"], e["moving_stats"]) == ("inference", "unchanged")


def test_the_rule_lists_only_the_weights_a_setting_creates():
    core = setting.CORES[0]
    assert expected(SettingCase(core, "no_scale", "float32"))["trainable_weights"] == ["beta"]
    assert expected(SettingCase(core, "default", "mixed_bfloat16"))["trainable_weights"] == ["beta", "gamma"]
