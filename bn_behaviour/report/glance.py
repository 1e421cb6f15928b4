"""The answer at a glance: what each way of freezing does on each implementation.

One row per recipe (:data:`bn_behaviour.rules.recipes.RECIPES`), one word per target ("works",
"does not work", "raises ValueError", a fault), read from a merged report.  The same rows are
the first table of ``fine-tuning.md``, the README's generated block, the end of
``bn-behaviour report`` and the top of ``behaviour.html``.
"""

from __future__ import annotations

from typing import Optional

from ..command.summary import FAULTS
from ..matrices import case_from_id
from ..rules.recipes import RECIPES, Recipe
from ..targets import TARGETS


def rule_of(target: dict) -> str:
    """The rule (a key of ``rules.RULES``) a target of a merged report is judged by (older reports name none:
    the registry's)."""
    return target.get("rule") or (TARGETS[target["name"]].rule if target["name"] in TARGETS else "tf2")


def find_case(merged: dict, target: str, row_id: str) -> Optional[dict]:
    """The target's record of the row ``row_id`` of any matrix (None when the row is not in its matrix)."""
    rows = merged.get(case_from_id(row_id)[0].rows_key) or []
    return next((row["cases"].get(target) for row in rows if row["id"] == row_id), None)


def word(recipe: Recipe, observed: dict) -> str:
    """``works`` when the observation is the recipe's wanted outcome, else what went wrong (plain text)."""
    if recipe.outcome(observed):
        return "works"
    if observed.get("error"):
        return f"raises {observed['error'].split(':')[0]}"
    return "does not work"


def words(merged: dict, recipe: Recipe) -> dict[str, str]:
    """{target: its word for the recipe}; "" where the recipe is not about the target's rule or row."""
    out = {}
    for t in merged["targets"]:
        case = find_case(merged, t["name"], recipe.row) if recipe.applies_to(rule_of(t)) else None
        if case is None:
            out[t["name"]] = ""
        else:
            out[t["name"]] = case["status"] if case["status"] in FAULTS else word(recipe, case["observed"])
    return out


def rows(merged: dict) -> list[tuple[Recipe, dict[str, str]]]:
    """(recipe, words) for every recipe that is about at least one target of the report."""
    out = [(recipe, words(merged, recipe)) for recipe in RECIPES]
    return [(recipe, w) for recipe, w in out if any(w.values())]


def markdown(merged: dict, link: str = "") -> list[str]:
    """The table as Markdown lines; each recipe links to ``{link}#{recipe.id}``, failures in bold.

    >>> merged = {"targets": [{"name": "tf1", "rule": "tf1"}], "rows": []}
    >>> markdown(merged)
    ['| recipe | tf1 |', '|---|---|']
    """
    names = [t["name"] for t in merged["targets"]]
    lines = ["| recipe | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for recipe, w in rows(merged):
        cells = [text if text in ("", "works") else f"**{text}**" for text in (w[n] for n in names)]
        lines.append(f"| [{recipe.title}]({link}#{recipe.id}) | " + " | ".join(cells) + " |")
    return lines
