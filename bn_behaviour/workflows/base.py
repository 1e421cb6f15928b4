"""What a workflow module declares about itself (``bn_behaviour.workflows``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Workflow:
    name: str
    title: str
    #: The documented rule, in one or two sentences.
    rule: str
    #: Where it is documented (a link).
    source: str
