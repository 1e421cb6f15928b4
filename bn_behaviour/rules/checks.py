"""Running a rule's checks: one loop for every matrix.

A check is ``check_<behaviour>(subject, observed, expected) -> message or None``;
its docstring says what it asserts and cites why.  A rule is a table of them.

>>> def check_same(subject, observed, expected):
...     '''The value is the expected one.'''
...     return None if observed["v"] == expected["v"] else f"expected {expected['v']}, observed {observed['v']}"
>>> run_checks({"same": check_same}, None, {"v": 1}, {"v": 2})
{'same': 'expected 2, observed 1'}
>>> summary(check_same)
'The value is the expected one.'
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

Check = Callable[[Any, dict, dict], Optional[str]]


def run_checks(checks: Mapping[str, Check], subject: Any, observed: dict, expected: dict) -> dict[str, str]:
    """Check name -> message for every check in ``checks`` that the observation breaks, in table order."""
    out = {}
    for name, check in checks.items():
        msg = check(subject, observed, expected)
        if msg:
            out[name] = msg
    return out


def summary(check: Check) -> str:
    """The first line of a check's docstring (what failure messages cite)."""
    return (check.__doc__ or "").strip().splitlines()[0] if check.__doc__ else ""
