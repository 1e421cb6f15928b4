"""The readable answer of ``bn-behaviour observe`` and ``bn-behaviour workflow``: one case on one screen.

What was observed next to what the documented rule says, field by field; the
verdict as the matrices give it (pass, the known deviation with its source, or
fail naming the broken check); the rule's statements the case is about
(``docs/rules.md`` anchors); the target and its versions; the command that
runs the case alone.  ``--json`` prints the machine record instead (the
``record`` an :class:`Answer` carries).  The text is plain and deterministic;
on a terminal, rich colours the verdict line.

>>> a = Answer(record={"id": "x", "description": "A case.", "target": "t", "versions": {"keras": "3"},
...                    "observed": {"mode": "training"}, "expected": {"mode": "inference"}, "layer": "genuine"},
...            status="fail", verdict="the documented rule is broken", command="bn-behaviour observe --id x")
>>> print(render(a))  # doctest: +NORMALIZE_WHITESPACE
FAIL: the documented rule is broken
case      x
          A case.
target    t (keras 3)
<BLANKLINE>
          observed    documented rule   (! differs from the rule)
! mode    training    inference
<BLANKLINE>
repro     bn-behaviour observe --id x
          (--json prints the full record)
"""

from __future__ import annotations

import json
import sys
import textwrap
from dataclasses import dataclass
from typing import Any, Optional, TextIO

from ..cases.scenario import Scenario
from ..rules.checks import summary
from ..rules.deviations import Deviation
from ..rules.result import DeviationObserved, Result, judge
from ..rules.rulebook import STATEMENTS

#: How the verdict line opens, and its colour on a terminal.
HEADLINE = {"pass": ("PASS", "bold green"), "deviation": ("KNOWN DEVIATION", "bold yellow"),
            "fail": ("FAIL", "bold red")}
#: Where text wraps (the answer fits a terminal of this width).
WIDTH = 100
_LABEL = 10  # the width of the left-hand labels


@dataclass(frozen=True)
class Answer:
    #: The ``--json`` record: target, versions, id, description, observed, expected (and more).
    record: dict
    #: ``pass``, ``deviation`` or ``fail`` (:func:`verdict`), and why, in one line.
    status: str
    verdict: str
    command: str
    #: ``rule <check> (<what it asserts>): <message>`` for each check the observation breaks.
    broken: tuple[str, ...] = ()
    #: The documented rule in words: ``(holds|BROKEN, text)`` per statement the case is about.
    rules: tuple[tuple[str, str], ...] = ()
    #: The numbers behind the observation (shown when the case does not pass).
    numbers: str = ""
    #: The known deviation recorded for the case: why, and its source.
    deviation: str = ""


def verdict(result: Result, entry: Optional[Deviation]) -> tuple[str, str]:
    """The status the matrices give the case (:func:`bn_behaviour.rules.result.judge`), and why."""
    try:
        judge(result, entry)
    except DeviationObserved:
        return "deviation", entry.id
    except AssertionError as e:
        return "fail", str(e).splitlines()[0]
    if entry is not None:  # a strict xfail that passes: the matrices fail it
        return "fail", f"known deviation {entry.id} is recorded, but the case follows the rule (a stale entry)"
    return "pass", "the observation follows the documented rule"


def statements(result: Result, rule: str) -> tuple[tuple[str, str], ...]:
    """The workflow's rule, or the rulebook's statements about the case's scenario, each marked holds/BROKEN."""
    if result.rule:
        return (("BROKEN" if result.violations else "holds", result.rule),)
    s = getattr(result.case, "core", result.case)
    if not isinstance(s, Scenario):
        return ()
    return tuple(("BROKEN" if set(st.checks) & set(result.violations) else "holds",
                  f"{st.text} [docs/rules.md#{st.id}]")
                 for st in STATEMENTS if st.applies_to(rule) and st.about(s))


def answer(record: dict, result: Result, entry: Optional[Deviation], rule: str) -> Answer:
    """The answer for a judged case (``rule``: the target's rule, ``Target.rule``)."""
    status, why = verdict(result, entry)
    broken = tuple(f"rule {name} ({summary(result.checks[name])}): {msg}" for name, msg in result.violations.items())
    return Answer(record, status, why, result.command, broken, statements(result, rule),
                  "" if status == "pass" else result.evidence(), f"{entry.reason} ({entry.source})" if entry else "")


def _value(v: Any) -> str:
    """
    >>> _value(None), _value(["beta", "gamma"]), _value([]), _value(True), _value({"a": 1})
    ('-', 'beta, gamma', '(none)', 'true', '{"a": 1}')
    """
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, list):
        return ", ".join(map(str, v)) if v else "(none)"
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True)
    return str(v)


def _labelled(label: str, text: str) -> list[str]:
    """``text`` wrapped under a left-hand label."""
    pad = " " * _LABEL
    return textwrap.wrap(text, WIDTH, initial_indent=f"{label:<{_LABEL}}", subsequent_indent=pad,
                         break_on_hyphens=False, break_long_words=False) or [label]


def _table(observed: dict, expected: dict) -> list[str]:
    """Observed next to expected, the rule's fields first; a row that differs starts with ``!``."""
    fields = [*expected, *(k for k in observed if k not in expected)]
    rows = [(k, _value(observed.get(k)), _value(expected.get(k)) if k in expected else "(not stated)")
            for k in fields]
    w0, w1 = max(len(k) for k, _, _ in rows), max(len("observed"), *(len(o) for _, o, _ in rows))
    marks = ["!" if k in expected and o != e else " " for k, o, e in rows]
    body = [f"{m} {k:<{w0}}  {o:<{w1}}  {e}" for m, (k, o, e) in zip(marks, rows)]
    legend = "   (! differs from the rule)" if "!" in marks else ""
    return [f"  {'':<{w0}}  {'observed':<{w1}}  documented rule{legend}", *body]


def render(a: Answer) -> str:
    """The answer as plain text (deterministic: the same record gives the same text)."""
    r = a.record
    versions = ", ".join(f"{k} {v}" for k, v in sorted(r.get("versions", {}).items()))
    lines = [f"{HEADLINE[a.status][0]}: {a.verdict}", *_labelled("case", r["id"])]
    lines += _labelled("", r.get("description", ""))
    lines += _labelled("target", f"{r['target']} ({versions})")
    if r.get("layer", "genuine") != "genuine":
        lines += _labelled("layer", r["layer"])
    lines += ["", *_table(r.get("observed", {}), r.get("expected", {})), ""]
    for mark, text in a.rules:
        lines += _labelled("rule", f"{mark}: {text}")
    for text in a.broken:
        lines += _labelled("broken", text)
    if a.deviation:
        lines += _labelled("deviation", a.deviation)
    if a.numbers:
        lines += ["numbers", *(f"  {line}" for line in a.numbers.splitlines())]
    # One line, never wrapped: it is copied into a shell.
    lines += [f"{'repro':<{_LABEL}}{a.command}", " " * _LABEL + "(--json prints the full record)"]
    return "\n".join(lines)


def show(a: Answer, stream: Optional[TextIO] = None) -> None:
    """Print the answer: plain text, with the verdict line coloured by rich when ``stream`` is a terminal."""
    stream = stream or sys.stdout
    text = render(a)
    if not stream.isatty():
        print(text, file=stream)
        return
    try:
        from rich.console import Console
    except ImportError:  # rich comes with Keras; without it the text is plain
        print(text, file=stream)
        return
    head, _, rest = text.partition("\n")
    console = Console(file=stream, highlight=False, soft_wrap=True)
    console.print(head, style=HEADLINE[a.status][1], markup=False)
    console.print(rest, markup=False)
