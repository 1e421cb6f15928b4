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
    ({"match": "after_compile"}, "match must be a table of axis = value"),
    ({"match": [{"when": "after_compile"}, "fit"]}, "match must be a table of axis = value"),
    ({"match": [{}]}, "an empty match table would select every case"),
    ({"match": {"when": 3}}, "match: when must be a value or an array of values"),
    ({"match": {"when": ["after_compile", 3]}}, "match: when must be a value or an array of values"),
    ({"reason": 1}, "reason must be a string, got int"),
    ({"id": ["e1"]}, "id must be a string, got list"),
    ({"observed": {"error": 1}}, "observed error must be a string"),
    ({"observed": {"mode": {"is": "inference"}}}, "observed mode must be a value or an array, not a table"),
], ids=["source-not-link", "bad-value", "bad-axis", "bad-field", "no-reason", "bad-versions", "typo-versions",
        "typo-reason", "versions-not-string", "observed-not-table", "match-string", "match-array-of-string",
        "match-empty-table", "match-value-int", "match-values-int", "reason-int", "id-list", "observed-error-int",
        "observed-table"])
def test_bad_entries_name_the_problem(bad, message):
    """Each malformed entry is refused with one line naming the entry (a wrong type would otherwise be
    a traceback when matching, or an entry that silently selects nothing or everything)."""
    with pytest.raises(dev.DeviationFileError, match=message) as info:
        entry(**bad)
    assert str(info.value).startswith("test: deviation ") and "\n" not in str(info.value)


@pytest.mark.parametrize("bad, message", [
    ({"match": {"frozn": "layer"}}, "match: unknown axis 'frozn' (did you mean 'frozen'?); axes: "),
    ({"match": {"frozen": "layr"}}, "match: unknown frozen value 'layr' (did you mean 'layer'?); valid values: "),
    ({"match": [{"workflow": "exprt"}]}, "match: unknown workflow value 'exprt' (did you mean 'export'?)"),
    ({"observed": {"moving_stat": "unchanged"}},
     "unknown observed field 'moving_stat' (did you mean 'moving_stats'?); fields: "),
], ids=["axis", "axis-value", "workflow-name", "observed-field"])
def test_a_typo_names_the_nearest_valid_name(bad, message):
    """A misspelt axis, axis value (the matrices' case types' AXES) or observed field (the matrices'
    observed_fields) is one line naming the entry, the word and the nearest valid one."""
    with pytest.raises(dev.DeviationFileError) as info:
        entry(**bad)
    assert str(info.value).startswith("test: deviation 'e1': ") and message in str(info.value)
    assert "\n" not in str(info.value)


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


def test_a_single_deviation_table_is_refused(tmp_path):
    """[deviation] (one table, not an array of tables) would iterate over its keys: one line instead."""
    path = tmp_path / "mine.toml"
    path.write_text('[deviation]\nid = "x"\n')
    with pytest.raises(dev.DeviationFileError, match=r"deviation must be an array of tables: write each entry"):
        dev.load_file(path, vocabulary())


def test_a_users_file_names_itself_in_the_plugins_usage_error(pytester):
    """--bn-deviations goes through the same loader: pytest stops with one line naming the option, the
    user's file, the entry and the nearest valid value (before any framework is imported)."""
    path = pytester.path / "ours.toml"
    path.write_text('[[deviation]]\nid = "mine"\nmatch = { frozen = "layr" }\nobserved = { mode = "inference" }\n'
                    'reason = "r"\nsource = "https://example.org"\n')
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "bn_behaviour.plugin", "--bn-target", "tf1",
                                "--bn-deviations", str(path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --bn-deviations: {path}: deviation 'mine': match: unknown frozen value "
                                 "'layr' (did you mean 'layer'?); valid values: *"])


def test_a_file_key_other_than_deviation_is_refused(tmp_path):
    """A file whose entries are written [[deviations]] (or any other table) would load as no entry at all."""
    path = tmp_path / "mine.toml"
    path.write_text('[[deviations]]\nid = "x"\n')
    with pytest.raises(dev.DeviationFileError, match=r"unknown key 'deviations' \(did you mean 'deviation'\?\)"):
        dev.load_file(path, vocabulary())
