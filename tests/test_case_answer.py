"""bn_behaviour.report.case_answer: the readable answer of observe / workflow, for each verdict."""

import io
import re

import pytest

from bn_behaviour.cases.scenario import AXES, Scenario
from bn_behaviour.report.case_answer import answer, render, show
from bn_behaviour.rules import tf2
from bn_behaviour.rules.deviations import Deviation, Vocabulary
from bn_behaviour.rules.result import Result

S = Scenario("layer", "none", "before_compile", "call", "true")
RULE = tf2.expected(S)
#: The rule's expectation with the batch normalised by the moving statistics instead: a made-up observation.
INFERENCE = {**RULE, "mode": "inference", "moving_stats": "unchanged"}
ENTRY = Deviation.from_dict({"id": "made-up-entry", "match": {"model": "layer"}, "reason": "a reason",
                             "observed": {"mode": "inference", "moving_stats": "unchanged"},
                             "source": "https://example.org/issue"},
                            "test", Vocabulary(axes=AXES, observed=frozenset(RULE)))


def _answer(observed, entry):
    result = Result("keras-tensorflow", S, observed, RULE, tf2.CHECKS, S, evidence=lambda: "output[0] = [1.0]",
                    command="bn-behaviour observe --target keras-tensorflow --id " + S.id)
    record = {"target": "keras-tensorflow", "versions": {"keras": "3.0"}, **result.record(), "layer": "genuine",
              "description": S.describe()}
    return answer(record, result, entry, "tf2")


@pytest.mark.parametrize("observed, entry, status, headline", [
    (RULE, None, "pass", "PASS: the observation follows the documented rule"),
    (INFERENCE, ENTRY, "deviation", "KNOWN DEVIATION: made-up-entry"),
    (INFERENCE, None, "fail", "FAIL: the documented rule is broken"),
    (RULE, ENTRY, "fail", "FAIL: known deviation made-up-entry is recorded, but the case follows the rule"),
], ids=["pass", "deviation", "broken", "stale-entry"])
def test_the_verdict_is_the_matrices(observed, entry, status, headline):
    a = _answer(observed, entry)
    text = render(a)
    lines = text.splitlines()
    assert a.status == status and lines[0].startswith(headline)
    assert lines[1] == f"case      {S.id}"
    assert "target    keras-tensorflow (keras 3.0)" in lines
    assert f"repro     bn-behaviour observe --target keras-tensorflow --id {S.id}" in lines
    assert "[docs/rules.md#training-argument-picks-statistics]" in text  # the rule in words, with its anchor
    differs = [line.split()[1] for line in lines if line.startswith("! ")]
    assert differs == ([] if observed is RULE else ["mode", "moving_stats"])
    assert ("broken    rule mode" in text) is (observed is INFERENCE)
    assert ("output[0] = [1.0]" in text) is (status != "pass")  # the numbers, when it does not pass
    assert ("deviation a reason (https://example.org/issue)" in text) is (entry is not None)
    assert render(a) == text  # deterministic


def test_a_terminal_gets_the_same_text_with_the_verdict_coloured():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    a, stream = _answer(INFERENCE, ENTRY), Terminal()
    show(a, stream)
    out = stream.getvalue()
    assert out.startswith("\x1b[") and re.sub(r"\x1b\[[0-9;]*m", "", out) == render(a) + "\n"
