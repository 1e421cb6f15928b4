"""Each recipe's code in docs/fine-tuning.md is the code its row runs.

The row's standalone snippet (``bn_behaviour.targets.repro``, which ``tests/test_repro.py`` checks
against the driver) holds every line of the recipe, in the recipe's order, once the probe that reads the
BatchNormalization's output is taken out.  A line ``f(...)`` stands for any call of ``f`` (``...`` for
any text); comments and indentation do not count.
"""

import re

import pytest

from bn_behaviour.rules.recipes import RECIPES
from bn_behaviour.targets.repro import SNIPPETS, without_probe

#: The snippet writer that shows each rule's rows.
WRITERS = {"tf2": SNIPPETS["keras-tensorflow"], "tf1": SNIPPETS["tf1"]}


def _lines(code: str) -> list[str]:
    return [s for line in code.splitlines() if (s := line.split("  #")[0].split("# ")[0].strip())]


def _matches(recipe_line: str, line: str) -> bool:
    """``...`` in a recipe line stands for any text: ``model.compile(..., jit_compile=True)`` is every
    ``model.compile(`` call that ends with that argument."""
    return re.fullmatch(".*".join(map(re.escape, recipe_line.split("..."))), line) is not None


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.id for r in RECIPES])
def test_recipe_code_is_what_its_row_runs(recipe):
    """Every line of the recipe stands in the row's code, in order: the verdict shown under the code is
    the verdict of that code, not of something near it."""
    compiled = recipe.row != recipe.core.id  # a compiled-matrix row: the core's program with jit_compile=True
    write = WRITERS[recipe.rule]
    row = _lines(without_probe(write(recipe.core, jit_compile=True) if compiled else write(recipe.core)))
    at = 0
    for wanted in _lines(recipe.code):
        found = next((i for i in range(at, len(row)) if _matches(wanted, row[i])), None)
        code = "\n".join(row)
        assert found is not None, f"{recipe.id}: {wanted!r} is not in the row's code after line {at}:\n{code}"
        at = found + 1
