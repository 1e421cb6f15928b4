"""The published documents, rendered from a merged report (``behaviour.json``).

The behaviour table: whole (:func:`behaviour_md`, the main table then one section per other matrix
of the registry, what ``bn-behaviour report`` writes beside its report) or published as an index
``behaviour.md`` and its pages ``behaviour/<page>.md`` (:mod:`.pages`); ``rules.md`` (each
documented statement, per target) and ``fine-tuning.md`` (each recipe, per target).  Nothing here
runs a framework or holds an expectation: every verdict is read from the report, so the documents
are regenerated, never edited, and CI checks they are current (``bn-behaviour docs --check``).
Rows are cited on their page, ``behaviour/<page>.md#<ID>`` (:func:`.pages.row_link`); the index
keeps every ``behaviour.md#<ID>`` published before the split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..command.summary import FAULTS
from ..matrices import MATRICES
from ..rules import RULES
from ..rules.recipes import RECIPES, Recipe
from ..rules.rulebook import STATEMENTS, Statement
from ..workflows import NAMES, WorkflowCase, module
from . import glance, grid, pages
from .exclusions import exclusions_md
from .pages import row_link
from .table import LEGEND, cell, fault_text, header, table

#: The index of the published rows (``pages``); the whole table is ``behaviour_md``.
TABLE = pages.INDEX
#: The picture of the whole matrix (shown at the top of the index).
GRID = pages.GRID
#: How many example rows a verdict links before it says "and N more".
EXAMPLES = 5


def _no_result(ids: list[str]) -> str:
    more = f" and {len(ids) - EXAMPLES} more" if len(ids) > EXAMPLES else ""
    return f"; no result (crash or timeout) on {len(ids)}: " + ", ".join(row_link(i) for i in ids[:EXAMPLES]) + more


def section(merged: dict, names: list[str], matrix) -> list[str]:
    """A matrix's section of ``behaviour.md``: its heading and intro, then its table(s), one per group."""
    rows = merged.get(matrix.rows_key) or []
    if not rows:
        return []
    groups: dict = {}
    for row in rows:
        case = matrix.case_type.from_id(row["id"])
        groups.setdefault(matrix.group(case) if matrix.group else None, []).append((row, case))
    lines = ["", f"## {matrix.title}", "", matrix.intro, ""]
    for key, items in groups.items():
        if key is None:
            lines += table(matrix, items, names)
            continue
        heading, intro = matrix.group_text(key)
        lines += [f"### {heading}", "", intro, ""] + table(matrix, items, names) + [""]
    return lines


def behaviour_md(merged: dict) -> str:
    """The whole table in one document (``bn-behaviour report``; the docs publish it as :mod:`.pages`)."""
    names = [t["name"] for t in merged["targets"]]
    main, *others = MATRICES.values()
    lines = header(merged, "BatchNormalization behaviour", main.intro)
    lines += [LEGEND, ""]
    lines += table(main, [(row, main.case_type.from_id(row["id"])) for row in merged["rows"]], names)
    for matrix in others:
        lines += section(merged, names, matrix)
    return "\n".join(lines) + "\n"


def _cases(merged: dict, name: str) -> list[dict]:
    return [row["cases"][name] for row in merged["rows"] if name in row["cases"]]


def verdict(statement: Statement, cases: list[dict]) -> str:
    """One target's verdict on a statement, linking the rows that break it (and those that gave no result)."""
    faulted, _ = statement.verdict([c for c in cases if c["status"] in FAULTS])
    rows, broken = statement.verdict([c for c in cases if c["status"] not in FAULTS])
    if not rows and not faulted:
        return "no row on this target"
    if not broken:
        return f"holds ({len(rows)} rows)" + (_no_result(faulted) if faulted else "")
    deviations = sorted({(c["deviation"], c.get("deviation_source")) for c in cases
                         if c["id"] in broken and c.get("deviation")})
    shown = ", ".join(row_link(b) for b in broken[:EXAMPLES])
    more = f" and {len(broken) - EXAMPLES} more" if len(broken) > EXAMPLES else ""
    text = f"**broken** on {len(broken)} of {len(rows)} rows: {shown}{more}"
    if deviations:
        text += "; known deviations: " + ", ".join(f"[{d}]({src})" if src else d for d, src in deviations)
    return text + (_no_result(faulted) if faulted else "")


def rules_md(merged: dict) -> str:
    lines = header(merged, "The documented rules, target by target",
                    "Each statement a BatchNormalization user relies on, where it is documented, and whether it"
                    " holds on each target: a statement holds when none of its rows breaks it (known"
                    " deviations included).")
    for st in STATEMENTS:
        targets = [t for t in merged["targets"] if st.applies_to(glance.rule_of(t))]
        if not targets:
            continue
        lines += [f'## <a id="{st.id}"></a>{st.id}', "", st.text, "",
                  f"Source: <{st.source}> (rule `{st.rule}`; checks: {', '.join(st.checks)}).", "",
                  "| target | verdict |", "|---|---|"]
        lines += [f"| {t['name']} | {verdict(st, _cases(merged, t['name']))} |" for t in targets]
        lines.append("")
    return "\n".join(lines + workflow_rules(merged))


def workflow_rules(merged: dict, names: Optional[tuple[str, ...]] = None) -> list[str]:
    """Each workflow's documented rule and, per target, whether its cases keep it."""
    lines = []
    for name in names or NAMES:
        rows = [r for r in merged.get("workflow_rows", []) if WorkflowCase.from_id(r["id"]).workflow == name]
        if not rows:
            continue
        wf = module(name).WORKFLOW
        lines += [f'## <a id="workflow-{name}"></a>workflow {name}', "", f"{wf.title}: {wf.rule}.", "",
                  f"Source: <{wf.source}> (checks: {', '.join(module(name).CHECKS)}).", "",
                  "| target | verdict |", "|---|---|"]
        for t in merged["targets"]:
            cases = [(r["id"], r["cases"][t["name"]]) for r in rows if t["name"] in r["cases"]]
            if not cases:
                continue
            faulted = [i for i, c in cases if c["status"] in FAULTS]
            cases = [(i, c) for i, c in cases if c["status"] not in FAULTS]
            broken = [(i, c) for i, c in cases if c["violated"]]
            text = (f"holds on all {len(cases)} cases" if not broken else
                    f"broken on {len(broken)} of {len(cases)}: " + ", ".join(
                        row_link(i) + (f" (deviation [{c['deviation']}]({c['deviation_source']}))"
                                       if c.get("deviation") else "") for i, c in broken))
            lines.append(f"| {t['name']} | {text}{_no_result(faulted) if faulted else ''} |")
        lines.append("")
    return lines


def inline_code(text: str, limit: int = 160) -> str:
    """A framework message as Markdown inline code inside a table cell.

    >>> print(inline_code("ValueError: Argument `x` | y"))
    `` ValueError: Argument `x` \\| y ``
    >>> inline_code("E: " + "a" * 200, limit=10)
    '`E: aaaaaa…`'
    """
    text = text.splitlines()[0] if text else ""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _verdict(recipe: Recipe, observed: dict, shown: str) -> str:
    if observed.get("error"):
        return "**raises** " + inline_code(observed["error"])
    word = glance.word(recipe, observed)
    return f"{word if word == 'works' else f'**{word}**'}: {shown}"


def _what_happens(recipe: Recipe, case: Optional[dict]) -> str:
    if case is None:
        return "not in this target's matrix"
    if case["status"] in FAULTS:
        return f"**no result**: {fault_text(case)}"
    return _verdict(recipe, case["observed"], cell(case, link=True))


def fine_tuning_md(merged: dict) -> str:
    lines = header(merged, "Fine-tuning with a frozen BatchNormalization",
                    "For each way people freeze a pretrained model's BatchNormalization, what each"
                    " implementation really does, linked to the row of the table that shows it. \"Works\""
                    " means the outcome the recipe wants (usually: inference mode, moving statistics and"
                    " gamma/beta unchanged). Each recipe's code is the code its row runs (`bn-behaviour observe"
                    " --id ROW --code` prints all of it), less the probe that reads the BatchNormalization's own"
                    " output: every row's network is the BatchNormalization (`bn`, inside the `base` where the code"
                    " names one), then a trainable Dense `head`, so a frozen base always leaves the head to train;"
                    " `inputs` is the `keras.Input`, `x` and `y` the seeded batch and targets.")
    lines += ["At a glance (details and the code below):", "", *glance.markdown(merged)]
    lines.append("")
    for recipe in RECIPES:
        targets = [t for t in merged["targets"] if recipe.applies_to(glance.rule_of(t))]
        if not targets:
            continue
        wanted = ", ".join(f"{k} {v}" for k, v in recipe.wanted.items())
        documented = RULES[recipe.rule](recipe.core)
        says = _verdict(recipe, documented, cell({"observed": documented, "status": "pass"}))
        lines += [f'## <a id="{recipe.id}"></a>{recipe.title}', "", "```python", recipe.code, "```", "",
                  f"Wanted: {wanted}. Row: {row_link(recipe.row)}. The documented rule (`{recipe.rule}`)"
                  f" says: {says}.", ""] + ([recipe.note, ""] if recipe.note else []) + [
                  "| target | what happens |", "|---|---|"]
        for t in targets:
            case = glance.find_case(merged, t["name"], recipe.row)
            lines.append(f"| {t['name']} | {_what_happens(recipe, case)} |")
        lines.append("")
    if merged.get("workflow_rows"):
        lines += ["# End to end", "", "The recipes above on one layer; here the guide's whole procedure on a small"
                  " convolutional network and on real keras.applications architectures (augmentation in front of"
                  " the frozen base), preprocessing layers in front of a BatchNormalization, and the FAQ's GAN"
                  " with a shared layer, gradient accumulation, and the Keras JAX guide's stateless loop ported to"
                  " the other backends (the workflow matrix).", ""]
        lines += workflow_rules(merged, ("fine_tune", "application", "preprocessing", "shared_layer", "accumulation",
                                         "stateless"))
    return "\n".join(lines)


#: The documents beside the index and its pages.
def grid_svg(merged: dict) -> str:
    """The picture of the whole report (:mod:`.grid`), its cells linked straight to the rows' pages."""
    return grid.svg(merged, link=pages.row_href)


RENDERERS = {"rules.md": rules_md, "fine-tuning.md": fine_tuning_md, "exclusions.md": exclusions_md, GRID: grid_svg}


def rendered(merged: dict) -> dict[str, str]:
    """Every document ``bn-behaviour docs`` writes, by path relative to its folder."""
    return {**pages.render(merged), **{name: render(merged) for name, render in RENDERERS.items()}}


def write(merged: dict, folder: Path) -> list[Path]:
    """Write every document into ``folder``, and remove the pages it no longer renders."""
    docs = rendered(merged)
    (folder / pages.FOLDER).mkdir(parents=True, exist_ok=True)
    for path in pages.leftovers(folder, docs):
        path.unlink()
    for name, text in docs.items():
        (folder / name).write_text(text)
    return [folder / name for name in docs]


def stale(merged: dict, folder: Path) -> list[str]:
    """The documents in ``folder`` that differ from what ``merged`` renders, are missing, or are pages it no
    longer renders."""
    docs, out = rendered(merged), []
    for name, text in docs.items():
        path = folder / name
        if not path.exists():
            out.append(f"{path} (missing)")
        elif path.read_text() != text:
            out.append(str(path))
    return out + [f"{path} (a page no row is published on)" for path in pages.leftovers(folder, docs)]
