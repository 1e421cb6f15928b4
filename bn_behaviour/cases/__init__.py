"""Stage 1, what a user does: the case types of the matrices.

A **case** is one thing a user does with a BatchNormalization, one value on
each axis of its matrix.  Every case type follows :class:`Case`, so the later
stages (targets, rules, report) handle every matrix alike:

* :mod:`.scenario`: the main matrix (model, frozen, when, path, training);
* :mod:`.fused`: a main scenario on 4-D images through tf_keras' fused kernel;
* :mod:`.compiled`: a main scenario with its paths compiled (``jit_compile=True``);
* :mod:`.setting`: a core scenario with one layer setting under one precision policy;
* ``bn_behaviour.workflows``: whole training setups (a workflow module holds its
  own variants, observation and rule, so its case type lives there).

:mod:`.inputs` holds the seeded data and starting state every case shares.
"""

from __future__ import annotations

from typing import ClassVar, Iterable, Mapping, Protocol


class Case(Protocol):
    """What every case type provides (its permanent ID is a public contract)."""

    #: Every axis of the case type and its valid values (what a known-deviation pattern may name).
    AXES: ClassVar[Mapping[str, Iterable[str]]]
    #: Axes a known-deviation pattern must name to select cases of this type.
    PATTERN_NEEDS: ClassVar[frozenset[str]]

    @property
    def id(self) -> str:
        """The permanent ID: test ID, report key and document anchor."""

    @classmethod
    def from_id(cls, case_id: str) -> "Case":
        """The case an ID names; ``ValueError`` for an ID of another case type."""

    def axes(self) -> dict[str, str]:
        """Axis -> value (what deviation patterns, filters and reports read)."""

    def describe(self) -> str:
        """The row's one-sentence, plain-English description."""
