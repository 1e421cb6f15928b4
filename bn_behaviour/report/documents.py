"""The published documents, rendered from a merged report (``behaviour.json``).

``behaviour.md`` (the main table, then one section per other matrix of the
registry), ``rules.md`` (each documented statement, per target) and
``fine-tuning.md`` (each recipe, per target).  Nothing here runs a
framework or holds an expectation: every verdict is read from the report, so
the documents are regenerated, never edited, and CI checks they are current
(``bn-behaviour docs --check``).  Rows are cited as ``behaviour.md#<ID>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..cases.scenario import Scenario
from ..matrices import MATRICES
from ..rules import RULES
from ..rules.recipes import RECIPES, Recipe
from ..rules.rulebook import STATEMENTS, Statement
from ..targets import TARGETS
from ..workflows import NAMES, WorkflowCase, module
from . import glance
from .summary import FAULTS, STATUSES

TABLE = "behaviour.md"
_SHORT = {"training": "train", "inference": "infer", "updated": "upd", "unchanged": "same",
          "updated_otherwise": "upd?!", "n/a": "-", "neither": "neither"}
#: How many example rows a verdict links before it says "and N more".
EXAMPLES = 5


#: The cells of a table: the observation of one layer (main, fused and settings matrices).
LAYER_FIELDS = ("mode", "moving_stats", "affine")


def cell(case: Optional[dict], link: bool = False, fields: tuple[str, ...] = LAYER_FIELDS) -> str:
    """One table cell: the ``fields`` of the observation (every fact when empty), then status marks.

    >>> cell({"observed": {"mode": "inference", "moving_stats": "unchanged", "affine": "n/a", "error": None},
    ...       "status": "pass"})
    'infer / same / -'
    >>> cell({"observed": {"mode": "training", "moving_stats": "updated", "affine": "n/a", "error": None},
    ...       "status": "deviation", "deviation": "d1", "deviation_source": "https://x.org/1"}, link=True)
    'train / upd / - (deviation [d1](https://x.org/1))'
    >>> cell({"observed": {"serve_mode": "inference", "error": None}, "status": "pass"}, fields=())
    'serve_mode=infer'
    >>> cell({"observed": {}, "status": "crash", "fault": {"kind": "crash", "signal": "SIGSEGV", "phase": "step"}})
    'CRASH (SIGSEGV in step)'
    """
    if case is None:
        return ""
    if case["status"] in FAULTS:
        return fault_text(case)
    o = case["observed"]
    if fields:
        text = " / ".join(_SHORT.get(o[k], o[k]) for k in fields)
    else:
        text = ", ".join(f"{k}={_SHORT.get(str(v), v)}" for k, v in sorted(o.items()) if k != "error" and v is not None)
    if o.get("error"):
        text = f"error {o['error'].split(':')[0]}"
    if case["status"] == "deviation":
        name = case.get("deviation") or "?"
        if link and case.get("deviation_source"):
            name = f"[{name}]({case['deviation_source']})"
        text += f" (deviation {name})"
    elif case["status"] != "pass":
        text += f" ({case['status'].upper()})"
    return text


def fault_text(case: dict) -> str:
    """A case that gave no result (``bn_behaviour.isolation``): its status, what ended it, the phase it reached.

    >>> fault_text({"status": "timeout", "fault": {"kind": "timeout", "seconds": 300.0, "phase": "compile_trace"}})
    'TIMEOUT (300 s in compile_trace)'
    >>> fault_text({"status": "crash", "fault": {"kind": "crash", "signal": None, "exit_code": 3, "phase": None}})
    'CRASH (exit code 3)'
    """
    f = case.get("fault") or {}
    if case["status"] == "timeout":
        cause = f"{f['seconds']:g} s" if f.get("seconds") else "time limit"
    else:
        cause = f.get("signal") or (f"exit code {f['exit_code']}" if f.get("exit_code") is not None else "died")
    return f"{case['status'].upper()} ({cause}{' in ' + f['phase'] if f.get('phase') else ''})"


def _no_result(ids: list[str]) -> str:
    more = f" and {len(ids) - EXAMPLES} more" if len(ids) > EXAMPLES else ""
    return f"; no result (crash or timeout) on {len(ids)}: " + ", ".join(row_link(i) for i in ids[:EXAMPLES]) + more


def row_link(scenario_id: str, prefix: str = TABLE) -> str:
    """A Markdown link to a row of the table.

    >>> row_link("layer-frozen=none-when=before_compile-path=call-training=true")
    '[`layer-frozen=none-when=before_compile-path=call-training=true`](behaviour.md#layer-frozen=none-when=before_compile-path=call-training=true)'
    """
    return f"[`{scenario_id}`]({prefix}#{scenario_id})"


def _header(merged: dict, title: str, intro: str) -> list[str]:
    lines = [f"# {title}", "", intro, "",
             "Generated from real runs (`bn-behaviour report`, then `bn-behaviour docs behaviour.json`);"
             " do not edit: CI regenerates it and fails when the committed copy is stale.", ""]
    for t in merged["targets"]:
        versions = ", ".join(f"{k} {v}" for k, v in t.get("versions", {}).items())
        counts = ", ".join(f"{t['counts'][k]} {k}" for k in STATUSES if k in t["counts"])
        for m in list(MATRICES.values())[1:]:
            extra = t.get(m.counts_key) or {}
            if sum(extra.values()):
                label = m.title[0].lower() + m.title[1:]
                counts += f"; {label}: " + ", ".join(f"{extra[k]} {k}" for k in STATUSES if k in extra)
        lines.append(f"- **{t['name']}** ({versions}): {counts}")
    for name, why in merged.get("skipped_targets", {}).items():
        lines.append(f"- **{name}**: skipped, {why}")
    return lines + [""]


def _table(matrix, items: list, names: list[str]) -> list[str]:
    """A table of (row, case) pairs: the ID as an anchor with its description, one cell per target."""
    lines = [f"| {'scenario' if matrix.name == 'main' else 'case'} | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    for row, case in items:
        cells = []
        for n in names:
            record = row["cases"].get(n)
            cells.append(cell(record, link=True, fields=matrix.cell_fields)
                         + (matrix.annotate(case, record) if record and record["status"] not in FAULTS else ""))
        lines.append(f'| <a id="{case.id}"></a>`{case.id}`<br>{matrix.row_text(case)} | ' + " | ".join(cells) + " |")
    return lines


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
            lines += _table(matrix, items, names)
            continue
        heading, intro = matrix.group_text(key)
        lines += [f"### {heading}", "", intro, ""] + _table(matrix, items, names) + [""]
    return lines


def behaviour_md(merged: dict) -> str:
    names = [t["name"] for t in merged["targets"]]
    main, *others = MATRICES.values()
    lines = _header(merged, "BatchNormalization behaviour", main.intro)
    lines += ["Cells: mode (train = batch statistics, infer = moving statistics) / moving statistics /"
              " gamma-beta; a known deviation from the documented rule links to its source.", ""]
    lines += _table(main, [(row, main.case_type.from_id(row["id"])) for row in merged["rows"]], names)
    for matrix in others:
        lines += section(merged, names, matrix)
    return "\n".join(lines) + "\n"


def _family(target: dict) -> str:
    return target.get("rule") or (TARGETS[target["name"]].rule if target["name"] in TARGETS else "tf2")


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
    lines = _header(merged, "The documented rules, target by target",
                    "Each statement a BatchNormalization user relies on, where it is documented, and whether it"
                    " holds on each target: a statement holds when none of its rows breaks it (known"
                    " deviations included).")
    for st in STATEMENTS:
        targets = [t for t in merged["targets"] if st.applies_to(_family(t))]
        if not targets:
            continue
        lines += [f'## <a id="{st.id}"></a>{st.id}', "", st.text, "",
                  f"Source: <{st.source}> (rule `{st.family}`; checks: {', '.join(st.checks)}).", "",
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


def _word(recipe: Recipe, observed: dict) -> str:
    if recipe.outcome(observed):
        return "works"
    if observed.get("error"):
        return f"**raises** {observed['error'].split(':')[0]}"
    return "**does not work**"


def _verdict(recipe: Recipe, observed: dict, shown: str) -> str:
    word = _word(recipe, observed)
    if observed.get("error"):
        return "**raises** " + inline_code(observed["error"])
    return f"{word}: {shown}"


def _what_happens(recipe: Recipe, case: Optional[dict]) -> str:
    if case is None:
        return "not in this target's matrix"
    if case["status"] in FAULTS:
        return f"**no result**: {fault_text(case)}"
    return _verdict(recipe, case["observed"], cell(case, link=True))


def fine_tuning_md(merged: dict) -> str:
    lines = _header(merged, "Fine-tuning with a frozen BatchNormalization",
                    "For each way people freeze a pretrained model's BatchNormalization, what each"
                    " implementation really does, linked to the row of the table that shows it. \"Works\""
                    " means the outcome the recipe wants (usually: inference mode, moving statistics and"
                    " gamma/beta unchanged).")
    lines += ["At a glance (details and the code below):", "", *glance.markdown(merged)]
    lines.append("")
    for recipe in RECIPES:
        targets = [t for t in merged["targets"] if recipe.applies_to(_family(t))]
        if not targets:
            continue
        wanted = ", ".join(f"{k} {v}" for k, v in recipe.wanted.items())
        documented = RULES[recipe.family](Scenario.from_id(recipe.row))
        says = _verdict(recipe, documented, cell({"observed": documented, "status": "pass"}))
        lines += [f'## <a id="{recipe.id}"></a>{recipe.title}', "", "```python", recipe.code, "```", "",
                  f"Wanted: {wanted}. Row: {row_link(recipe.row)}. The documented rule (`{recipe.family}`)"
                  f" says: {says}.", ""] + ([recipe.note, ""] if recipe.note else []) + [
                  "| target | what happens |", "|---|---|"]
        for t in targets:
            case = next((c for c in _cases(merged, t["name"]) if c["id"] == recipe.row), None)
            lines.append(f"| {t['name']} | {_what_happens(recipe, case)} |")
        lines.append("")
    if merged.get("workflow_rows"):
        lines += ["# End to end", "", "The recipes above on one layer; here the guide's whole procedure on a small"
                  " convolutional network and on real keras.applications architectures (augmentation in front of"
                  " the frozen base), preprocessing layers in front of a BatchNormalization, and the FAQ's GAN"
                  " with a shared layer (the workflow matrix).", ""]
        lines += workflow_rules(merged, ("fine_tune", "application", "preprocessing", "shared_layer"))
    return "\n".join(lines)


RENDERERS = {TABLE: behaviour_md, "rules.md": rules_md, "fine-tuning.md": fine_tuning_md}


def write(merged: dict, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, render in RENDERERS.items():
        (folder / name).write_text(render(merged))
        paths.append(folder / name)
    return paths


def stale(merged: dict, folder: Path) -> list[str]:
    """The documents in ``folder`` that differ from what ``merged`` renders."""
    out = []
    for name, render in RENDERERS.items():
        path = folder / name
        if not path.exists() or path.read_text() != render(merged):
            out.append(str(path))
    return out
