"""The published behaviour table: the index ``behaviour.md`` and the pages ``behaviour/<page>.md``.

The whole table (:func:`bn_behaviour.report.documents.behaviour_md`, what ``bn-behaviour report``
writes) is about 1 MB, too large to open; the docs split it.  Each matrix declares how
(``Matrix.layout``, a :class:`bn_behaviour.matrices.matrix.PageLayout`): the page a row is
published on (one per model of the main matrix, then one for the fused 4-D matrix, the settings
matrix and the workflows) and the *family* it is listed in on that page (one table per family,
under the family's anchor: for a model's page, the rows that share the freeze and its moment).
Where a row is published is a function of its ID alone (:func:`row_href`), so every document links
a row straight at its page; a row keeps its full ID as its anchor there.

The index keeps every row ID as an anchor, so a published ``behaviour.md#<ID>`` still lands: on
its family's line, which shows the family as an ID pattern and links (one click) to the family's
table, where the row is.  One link per family, not per row, because of the size every generated
document stays under (:data:`LIMIT`): the ~2000 full-ID anchors alone take ~197 KB, and a link per
row (``[x](behaviour/<page>.md#<alias>)``, >= 35 bytes each with a readable page name) would take
the index past it.
"""

from __future__ import annotations

from pathlib import Path

from ..matrices import MATRICES, case_from_id
from .table import LAYER_FIELDS, LEGEND, header, table

#: The index (it replaces the whole table ``behaviour.md`` and keeps every anchor of it).
INDEX = "behaviour.md"
#: The pages' folder, beside the index.
FOLDER = "behaviour"
#: The picture of the whole matrix beside the index, one cell per scenario and target (``report.grid``).
GRID = "behaviour-grid.svg"
#: The largest generated document, in bytes (tests check the committed ones).
LIMIT = 250_000


def row_href(case_id: str, folder: str = "") -> str:
    """Where a row is published, from a document whose path to ``docs/`` is ``folder`` ("" for ``docs/*.md``).
    An ID no matrix parses (a row since removed) is sent to the index.

    >>> row_href("layer-frozen=none-when=before_compile-path=call-training=true")
    'behaviour/layer.md#layer-frozen=none-when=before_compile-path=call-training=true'
    >>> row_href("workflow=export-format=torch-frozen=none", "../")
    '../behaviour/workflows.md#workflow=export-format=torch-frozen=none'
    >>> row_href("layer-frozen=sideways")
    'behaviour.md#layer-frozen=sideways'
    """
    try:
        matrix, case = case_from_id(case_id)
    except ValueError:
        return f"{folder}{INDEX}#{case_id}"
    return f"{folder}{FOLDER}/{matrix.layout.page(case)}.md#{case_id}"


def row_link(case_id: str, folder: str = "") -> str:
    """A Markdown link to a row on its page (``folder`` as for :func:`row_href`).

    >>> row_link("layer-frozen=none-when=before_compile-path=call-training=true")
    '[`layer-frozen=none-when=before_compile-path=call-training=true`](behaviour/layer.md#layer-frozen=none-when=before_compile-path=call-training=true)'
    """
    return f"[`{case_id}`]({row_href(case_id, folder)})"


def families(merged: dict, matrix) -> dict[str, dict[str, list]]:
    """A matrix's rows of ``merged`` as page -> family -> [(row, case)], in the layout's order."""
    layout = matrix.layout
    out: dict[str, dict[str, list]] = {}
    rows = [(row, matrix.case_type.from_id(row["id"])) for row in merged.get(matrix.rows_key) or []]
    for row, case in sorted(rows, key=lambda rc: layout.rank(rc[1])) if layout.rank else rows:
        out.setdefault(layout.page(case), {}).setdefault(layout.family(case), []).append((row, case))
    return out


def _rows(count: int) -> str:
    return f"{count} row" + ("" if count == 1 else "s")


#: A matrix's intro says where the main matrix is in the whole table; on a page it is elsewhere.
_ELSEWHERE = {"the scenarios above": "the main matrix's scenarios", "the table above": "the main matrix"}


def on_a_page(intro: str) -> str:
    """A matrix's intro as a page says it.

    >>> on_a_page("A core row of the table above with one setting; the error as the power of ten above it.")
    'A core row of the main matrix with one setting; the error as the power of ten above it.'
    """
    for whole, page in _ELSEWHERE.items():
        intro = intro.replace(whole, page)
    return intro


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def page_md(merged: dict, matrix, name: str, groups: dict[str, list]) -> str:
    """One page: what it holds and the way back to the index, then one table per family under its anchor."""
    layout = matrix.layout
    title, about = layout.page_text(name)
    count = sum(map(len, groups.values()))
    lines = [f"# BatchNormalization behaviour: {title}", "",
             f"{_sentence(about)}; {_rows(count)}, {layout.tables}. Back to [the index](../{INDEX})"
             " (the targets with their versions and counts, every row ID). Generated by `bn-behaviour docs`;"
             " do not edit.", "", on_a_page(matrix.intro), ""]
    if matrix.cell_fields == LAYER_FIELDS:
        lines += [LEGEND, ""]
    names = [t["name"] for t in merged["targets"]]
    for family, items in groups.items():
        heading, intro = layout.family_text(items[0][1])
        lines += [f'## <a id="{family}"></a>{heading}', "", _sentence(intro), "", *table(matrix, items, names), ""]
    return "\n".join(lines)


ORGANISATION = (
    "The rows are published on pages beside this index, under `behaviour/`: one page per model of the main"
    " matrix, then the fused 4-D matrix, the settings matrix and the workflows. A page holds one table per"
    " family of rows (a model's rows that share the freeze and its moment; a setting; a workflow), each row with"
    " its ID as anchor, what it does and one cell per target; cite a row as `behaviour/<page>.md#<ID>`, as the"
    " other documents do. Below, each page is a heading and each family one line: its rows' anchors, so that a"
    " link `behaviour.md#<ID>` lands on the line of the row's family, then the family as an ID pattern (`…`"
    " stands for what its rows vary), which opens the family's table on the page.")


def index_md(merged: dict, layout: dict[str, dict[str, dict[str, list]]]) -> str:
    """The index: the targets, how the rows are organised, then every page and family with its rows' anchors."""
    lines = header(merged, "BatchNormalization behaviour",
                   "Every case of every matrix on every target, observed by real runs: the index of the pages"
                   " that hold the rows.")
    pages = [(MATRICES[m], name, groups) for m, by_page in layout.items() for name, groups in by_page.items()]
    lines += [f"![Every scenario on every target: one cell each, coloured by mode; a white mark is a known deviation]"
              f"({GRID})", "", f"(Open [the picture]({GRID}) itself to click a cell through to its row.)", "",
              ORGANISATION, "", "Pages: " + " · ".join(
        f"[{m.layout.page_text(name)[0]}]({FOLDER}/{name}.md) ({sum(map(len, groups.values()))})"
        for m, name, groups in pages) + ".", ""]
    for matrix, name, groups in pages:
        lay = matrix.layout
        title, about = lay.page_text(name)
        count = sum(map(len, groups.values()))
        lines += [f"## [{title}]({FOLDER}/{name}.md)", "", f"{_sentence(about)}; {_rows(count)}.", ""]
        for family, items in groups.items():
            anchors = "".join(f'<a id="{case.id}"></a>' for _, case in items)
            lines.append(f"- {anchors}[`{lay.pattern.format(family)}`]({FOLDER}/{name}.md#{family}):"
                         f" {_rows(len(items))}")
        lines.append("")
    return "\n".join(lines)


def render(merged: dict) -> dict[str, str]:
    """The index and every page, by path relative to the documents' folder."""
    layout = {name: by_page for name, m in MATRICES.items() if (by_page := families(merged, m))}
    out = {INDEX: index_md(merged, layout)}
    for name, by_page in layout.items():
        for page, groups in by_page.items():
            path = f"{FOLDER}/{page}.md"
            if path in out:
                raise ValueError(f"two matrices publish rows on {path}")
            out[path] = page_md(merged, MATRICES[name], page, groups)
    return out


def leftovers(folder: Path, rendered: dict[str, str]) -> list[Path]:
    """The pages in ``folder/behaviour/`` that ``rendered`` no longer holds."""
    return sorted(p for p in (folder / FOLDER).glob("*.md") if f"{FOLDER}/{p.name}" not in rendered)
