"""Known deviations: file format, matching, versions, and how a case is judged with one."""

import numpy as np
import pytest

from bn_behaviour import deviations as dev
from bn_behaviour.case import CaseResult, DeviationObserved, judge
from bn_behaviour.observation import STATE_NAMES, Raw
from bn_behaviour.rules import expected, violations
from bn_behaviour.scenario import Scenario
from bn_behaviour.targets import TARGETS

S = Scenario("functional", "layer", "after_compile", "fit", "none")


def entry(**kw):
    d = {"id": "e1", "match": {"when": "after_compile", "path": ["fit"]}, "observed": {"mode": "inference",
         "moving_stats": "unchanged", "affine": "unchanged"}, "reason": "r", "source": "https://example.org/1"}
    d.update(kw)
    return dev.Deviation.from_dict(d, origin="test")


def result(**observed):
    exp = expected(S)
    obs = dict(exp, **observed)
    state = {k: np.zeros(1) for k in STATE_NAMES}
    raw = Raw(np.zeros((2, 1)), None, state, state, [], [], [], True)
    return CaseResult("keras-tensorflow", S, raw, obs, exp, violations(S, obs, exp))


def test_matching_is_by_axis_values():
    assert entry().matches(S)
    assert not entry().matches(Scenario("functional", "layer", "after_fit", "fit", "none"))


@pytest.mark.parametrize("spec, version, applies", [("", "3.15.1", True), (">=3.0,<3.16", "3.15.1", True),
                                                    ("<3.15", "3.15.1", False), (">=3.16", "3.16.1.dev2026", True)],
                         ids=["any", "inside", "outside", "nightly-prerelease"])
def test_version_ranges(spec, version, applies):
    assert entry(versions=spec).applies(version) is applies


@pytest.mark.parametrize("bad, message", [
    ({"source": "keras#20285"}, "source must be a link"),
    ({"match": {"path": "fitt"}}, "unknown path value"),
    ({"match": {"colour": "red"}}, "unknown axis 'colour'"),
    ({"observed": {"speed": "fast"}}, "unknown observed field"),
    ({"reason": ""}, "has no 'reason'"),
    ({"versions": "three"}, "bad versions"),
], ids=["source-not-link", "bad-value", "bad-axis", "bad-field", "no-reason", "bad-versions"])
def test_bad_entries_name_the_problem(bad, message):
    with pytest.raises(dev.DeviationFileError, match=message):
        entry(**bad)


def test_judge_passes_when_the_rule_holds():
    judge(result(), None)


def test_judge_fails_with_the_broken_rule_and_a_repro():
    with pytest.raises(AssertionError) as info:
        judge(result(mode="inference", moving_stats="unchanged"), None)
    text = str(info.value)
    assert "rule mode" in text and "rule moving_stats" in text
    assert "bn-behaviour observe --target keras-tensorflow --model functional" in text
    assert "keras.layers.BatchNormalization(" in text


def test_judge_reports_a_deviation_seen_exactly():
    with pytest.raises(DeviationObserved, match="known deviation e1"):
        judge(result(mode="inference", moving_stats="unchanged", affine="unchanged"), entry())


def test_judge_fails_when_the_deviation_does_not_describe_the_observation():
    with pytest.raises(AssertionError, match="does not describe"):
        judge(result(mode="inference", moving_stats="updated_otherwise", affine="unchanged"), entry())


def test_judge_fails_on_an_extra_violation_beside_the_deviation():
    with pytest.raises(AssertionError, match="does not describe"):
        judge(result(mode="inference", moving_stats="unchanged", affine="unchanged", error="ValueError: x"),
              entry())


def test_judge_passes_a_vanished_deviation_so_strict_xfail_reports_it():
    judge(result(), entry())  # the xfail(strict=True) mark turns this pass into a failure


def test_errors_are_matched_by_prefix():
    e = entry(observed={"error": "ValueError: Unknown variable"})
    assert e.explains({"error": "ValueError: Unknown variable <Variable path=...>"})
    assert not e.explains({"error": None})


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_builtin_files_load(target):
    for d in dev.builtin(target):
        assert d.source.startswith("https://") and d.reason


def test_unreadable_file_is_a_one_line_error(tmp_path):
    p = tmp_path / "d.toml"
    p.write_text("[[deviation]\n")
    with pytest.raises(dev.DeviationFileError, match="cannot read deviation file"):
        dev.load_file(p)
