"""A failing matrix case reads as the broken rule and its repro, not as the harness' frames.

A fresh pytest process (pytester) runs a main-matrix and a settings-matrix case with a mutant of
``tests/mutants.py`` as the layer under test, so both fail; each long report must start, right after
pytest's header line for the test, with the failure message of ``bn_behaviour.rules.result``
(rule, expected, observed, reproduce alone) and show no frame of ``bn_behaviour``.
"""

import re
from pathlib import Path

import pytest

from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.cases.setting import SettingCase
from bn_behaviour.targets import TARGETS

#: Starts other Python processes (a framework import each): run with `pytest -m harness`.
pytestmark = pytest.mark.harness

TARGET = "keras-tensorflow"
#: Follows the rule with the genuine layer (inference mode: the layer is frozen); the mutant trains.
FROZEN = Scenario("layer", "layer", "before_compile", "call", "true")
CASES = {"test_behaviour": FROZEN, "test_setting": SettingCase(FROZEN, "channels_last", "float32")}
MUTANT = "IgnoresTrainableForMode"
#: A traceback entry line (``path.py:12: Error``) or a source line of a frame (``>   code``).
FRAME = re.compile(r"^\S+\.py:\d+|^>\s")


def _long_reports(text: str) -> dict[str, list[str]]:
    """Test name -> the lines of its long report (between its ``___ name ___`` header and the next header)."""
    out, name = {}, None
    for line in text.splitlines():
        header = re.match(r"^_+ (.+?) _+$", line)
        if header or line.startswith("="):
            name = header.group(1) if header else None
            if name:
                out[name] = []
        elif name:
            out[name].append(line)
    return out


def test_a_failing_case_starts_with_the_broken_rule_and_its_repro(pytester, clean_env):
    if TARGETS[TARGET].missing():
        pytest.skip(f"{TARGET} is not installed")
    pytester.makepyfile(test_matrix="from bn_behaviour.test_behaviour import test_behaviour\n"
                                    "from bn_behaviour.test_settings import test_setting\n",
                        mutants=(Path(__file__).parent / "mutants.py").read_text())
    ids = [f"test_matrix.py::{test}[{case.id}]" for test, case in CASES.items()]
    result = pytester.runpytest_subprocess(*ids, "-p", "no:cacheprovider", "-p", "no:xdist", "--bn-target", TARGET,
                                           "--bn-layer", f"mutants:{MUTANT}")
    result.assert_outcomes(failed=2)
    reports = _long_reports(result.stdout.str())
    assert sorted(reports) == sorted(f"{test}[{case.id}]" for test, case in CASES.items())
    for case, lines in zip(CASES.values(), reports.values()):
        text = "\n".join(lines)
        first = next(line for line in lines if line.strip())
        assert first == "E   AssertionError: the documented rule is broken", text
        assert f"case {case.id}: " in text and "  rule mode (" in text, text
        assert "expected: {" in text and "observed: {" in text and "reproduce alone:" in text, text
        assert f"bn-behaviour observe --target {TARGET} --model layer --frozen layer" in text, text
        assert f"--layer mutants:{MUTANT}" in text, text
        frames = [line for line in lines if FRAME.search(line)]
        assert not [line for line in frames if "bn_behaviour" in line], text
        assert "bn_check" not in text, text  # no harness source, no fixture values
