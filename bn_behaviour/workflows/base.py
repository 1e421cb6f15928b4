"""What a workflow module declares about itself (``bn_behaviour.workflows``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Workflow:
    name: str
    title: str
    #: The documented rule, in one or two sentences.
    rule: str
    #: Where it is documented (a link).
    source: str
    #: Why its rows run only when the workflows matrix is asked for (``--bn-matrices all`` or ``workflows``,
    #: as ``bn-behaviour report`` and CI do): what they cost.  None: every run of the matrix runs them.
    opt_in: Optional[str] = None


def raised(observed: dict) -> Optional[str]:
    """A workflow's ``no_error`` check: the message when the run raised, else None.

    >>> raised({"error": None}), raised({"error": "ValueError: x"})
    (None, 'expected no error, observed ValueError: x')
    """
    return None if observed["error"] is None else f"expected no error, observed {observed['error']}"


def mismatch(observed: dict, exp: dict, key: str, what: str) -> Optional[str]:
    """A fact's check: the message when ``observed[key]`` is not the expected one (a run that raised is
    ``raised``'s to report, not every fact's).

    >>> mismatch({"error": None, "k": "changed"}, {"k": "identical"}, "k", "the weights")
    'expected the weights identical, observed changed'
    """
    if observed["error"] is None and observed[key] != exp[key]:
        return f"expected {what} {exp[key]}, observed {observed[key]}"
    return None
