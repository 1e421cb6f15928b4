"""The quick answer's rows (``bn-behaviour report --quick``): every recipe's row and one row per statement.

The at-a-glance table (:mod:`.glance`) reads only the recipes' rows
(:data:`bn_behaviour.rules.recipes.RECIPES`); each documented statement
(:data:`bn_behaviour.rules.rulebook.STATEMENTS`) names its rows by a predicate on the
scenario, and the quick run adds the first of them, in the main matrix's order, that every
target the statement applies to runs (so the row is comparable across targets).  The
plugin runs them by ID (``--bn-ids FILE``); the report, the page and the documents render
the result like any other report, with only these rows.

>>> rows = selection()
>>> {r.row for r in RECIPES} <= set(rows), len(rows) < 40
(True, True)
>>> from bn_behaviour.rules.rulebook import by_id
>>> statement_row(by_id("tf1-trainable-keeps-batch-statistics"))
'layer-frozen=layer_ctor-when=before_compile-path=call-training=none'
"""

from __future__ import annotations

from typing import Optional

from ..matrices import MATRICES, why_not
from ..rules.recipes import RECIPES
from ..rules.rulebook import STATEMENTS, Statement
from ..targets import TARGETS, Target


def statement_row(statement: Statement, targets: Optional[dict[str, Target]] = None) -> Optional[str]:
    """The first main-matrix row the statement is about that every target it applies to runs (None if none)."""
    held = [t for t in (targets or TARGETS).values() if statement.applies_to(t.rule)]
    for case in MATRICES["main"].candidates():
        if statement.about(case) and held and all(why_not(t, case) is None for t in held):
            return case.id
    return None


def selection() -> list[str]:
    """The quick run's case IDs: every recipe's row, then each statement's row, once each."""
    rows = [r.row for r in RECIPES] + [statement_row(st) for st in STATEMENTS]
    return list(dict.fromkeys(r for r in rows if r))
