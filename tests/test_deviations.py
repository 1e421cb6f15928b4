"""Known deviations: file format, matching, versions, and how a case is judged with one."""

import pytest

from bn_behaviour.cases.fused import FusedCase
from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.cases.setting import SettingCase
from bn_behaviour.matrices import vocabulary
from bn_behaviour.rules import deviations as dev
from bn_behaviour.rules.result import DeviationObserved, Result, judge
from bn_behaviour.rules.tf2 import CHECKS, expected
from bn_behaviour.targets import TARGETS, repro
from bn_behaviour.workflows import WorkflowCase

S = Scenario("functional", "layer", "after_compile", "fit", "none")


def entry(**kw):
    d = {"id": "e1", "match": {"when": "after_compile", "path": ["fit"]}, "observed": {"mode": "inference",
         "moving_stats": "unchanged", "affine": "unchanged"}, "reason": "r", "source": "https://example.org/1"}
    d.update(kw)
    return dev.Deviation.from_dict(d, "test", vocabulary())


def result(**observed):
    """A main-matrix result as the matrix builds it, without running a framework."""
    exp = expected(S)
    obs = dict(exp, **observed)
    return Result("keras-tensorflow", S, obs, exp, CHECKS, S, command=repro.command("keras-tensorflow", S),
                  snippet=lambda: repro.snippet("keras-tensorflow", S))


def test_matching_is_by_axis_values():
    assert entry().matches(S)
    assert not entry().matches(Scenario("functional", "layer", "after_fit", "fit", "none"))


def test_a_pattern_selects_the_case_types_whose_axes_it_names():
    """A main pattern selects fused cases too (same layer, same rule), never settings or workflow
    cases, which a pattern selects only by naming ``setting`` / ``workflow`` (``PATTERN_NEEDS``)."""
    main = entry()
    assert main.matches(FusedCase(S))
    assert not main.matches(SettingCase(S, "epsilon", "float32"))
    setting = entry(match={"setting": "epsilon", "path": "fit"})
    assert setting.matches(SettingCase(S, "epsilon", "float32")) and not setting.matches(S)
    flow = entry(match={"workflow": "export"}, observed={"serve_mode": "training"})
    assert flow.matches(WorkflowCase("export", "format=tf_saved_model-frozen=none")) and not flow.matches(S)
    assert not entry(match={"variant": "format=tf_saved_model-frozen=none"}, observed={"error": "E"}).matches(
        WorkflowCase("export", "format=tf_saved_model-frozen=none"))


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
    ({"version": ">=99"}, r"unknown key 'version' \(did you mean 'versions'\?\)"),
    ({"reasons": "r"}, r"unknown key 'reasons' \(did you mean 'reason'\?\)"),
    ({"versions": 3}, "versions must be a string, got int"),
    ({"observed": "inference"}, "observed must be a table of fields"),
], ids=["source-not-link", "bad-value", "bad-axis", "bad-field", "no-reason", "bad-versions", "typo-versions",
        "typo-reason", "versions-not-string", "observed-not-table"])
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
    for d in dev.builtin(target, vocabulary()):
        assert d.source.startswith("https://") and d.reason


def test_unreadable_file_is_a_one_line_error(tmp_path):
    p = tmp_path / "d.toml"
    p.write_text("[[deviation]\n")
    with pytest.raises(dev.DeviationFileError, match="cannot read deviation file"):
        dev.load_file(p, vocabulary())


def test_a_file_key_other_than_deviation_is_refused(tmp_path):
    """A file whose entries are written [[deviations]] (or any other table) would load as no entry at all."""
    path = tmp_path / "mine.toml"
    path.write_text('[[deviations]]\nid = "x"\n')
    with pytest.raises(dev.DeviationFileError, match=r"unknown key 'deviations' \(did you mean 'deviation'\?\)"):
        dev.load_file(path, vocabulary())
