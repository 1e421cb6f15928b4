"""The whole report as one picture: per target, one small cell per scenario, coloured by what was observed.

Every panel (one per target of a merged report) lays out the same slots: every
row of every matrix of the registry (:data:`bn_behaviour.matrices.MATRICES`), in
the report's row order, one band per matrix, :data:`COLUMNS` cells a line, so a
scenario sits at the same place in every panel.  A cell is coloured by its
:func:`kind` (training mode, inference mode, neither, error, no result), a known
deviation or a failure puts a mark in its centre (:func:`mark`), and a slot the
target does not run stays pale.  Plain SVG: no script, no style sheet, no
external asset; the output is a pure function of the report.

Two forms (:func:`svg`):

* the page's (``behaviour.html``), ``link=""`` and ``text=documents.cell``: every
  cell links to ``#<ID>`` (its row of the page's table) and has a tooltip naming
  the ID, the target and the cell;
* the documents' (the default): cells link to ``behaviour.md#<ID>``, rows
  chosen by :data:`PRIORITY` (a failure, no result, an error, a known deviation,
  targets that disagree) while the file stays within :data:`BUDGET` bytes: every
  ID is about 80 characters, so a link on each of two thousand rows would not fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Callable, Optional, Union

from ..command.summary import FAULTS
from ..matrices import MATRICES

#: A cell's side and the distance between two cells (px); cells per line of a band.
SIZE, PITCH, COLUMNS = 6, 7, 64
#: Panels side by side, the gap between them, the height of a title line and of a band's label.
PANELS_PER_LINE, GAP, TITLE, LABEL = 3, 28, 16, 13
#: What a cell shows: kind -> (colour, legend text), in legend order.
KINDS = {
    "training": ("#f28e2b", "training mode (batch statistics)"),
    "inference": ("#4e79a7", "inference mode (moving statistics)"),
    "other": ("#b5b5b5", "neither, or no mode to observe"),
    "error": ("#e15759", "error"),
    "fault": ("#2b2b2b", "no result (crash or timeout)"),
}
#: A slot the target does not run.
ABSENT = ("#ececec", "not run on the target")
#: A status that marks a cell: status -> (colour, side of the centre square, legend text).
MARKS = {"deviation": ("#ffffff", 2, "known deviation"), "fail": ("#000000", 4, "FAIL")}
#: The documents' form links rows in this order (the first reason a row has), while they fit.
PRIORITY = ("fail", "fault", "error", "deviation", "disagree")
#: The documents' form stays within this many bytes.
BUDGET = 250_000


@dataclass(frozen=True)
class Cell:
    """One (row, target) record of the report, where its panel draws it (``x``, ``y`` within the panel)."""

    row: str
    target: str
    matrix: str
    x: int
    y: int
    kind: str
    mark: str
    case: dict


@dataclass(frozen=True)
class Layout:
    """The slots of every panel: row ID -> (x, y), each band's label and top, a panel's size."""

    slots: dict
    bands: list
    width: int
    height: int


def kind(case: dict) -> str:
    """What a cell shows: the mode observed (``mode``, or ``serve_mode`` of a workflow), an error, no result.

    >>> kind({"status": "pass", "observed": {"mode": "training", "error": None}})
    'training'
    >>> kind({"status": "deviation", "observed": {"serve_mode": "inference", "error": None}})
    'inference'
    >>> kind({"status": "pass", "observed": {"mode": "n/a", "error": "ValueError: x"}})
    'error'
    >>> kind({"status": "pass", "observed": {"base_bn_stats": "unchanged", "error": None}})
    'other'
    >>> kind({"status": "crash", "observed": {}})
    'fault'
    """
    if case["status"] in FAULTS:
        return "fault"
    o = case["observed"]
    if o.get("error"):
        return "error"
    mode = o.get("mode") or o.get("serve_mode")
    return mode if mode in ("training", "inference") else "other"


def mark(case: dict) -> str:
    """The status mark of a cell (a key of :data:`MARKS`), or "".

    >>> mark({"status": "deviation"}), mark({"status": "fail"}), mark({"status": "pass"})
    ('deviation', 'fail', '')
    """
    return case["status"] if case["status"] in MARKS else ""


def layout(merged: dict) -> Layout:
    """Every row of the report, matrix after matrix in registry order, each matrix a band of lines."""
    slots, bands, y = {}, [], TITLE
    for m in MATRICES.values():
        rows = merged.get(m.rows_key, [])
        if not rows:
            continue
        bands.append((f"{m.title or 'Main matrix'} ({len(rows)})", y))
        y += LABEL
        for i, row in enumerate(rows):
            slots[row["id"]] = (i % COLUMNS * PITCH, y + i // COLUMNS * PITCH)
        y += -(-len(rows) // COLUMNS) * PITCH + 4
    return Layout(slots, bands, COLUMNS * PITCH - 1, y)


def cells(merged: dict) -> list[Cell]:
    """One :class:`Cell` per (row, target) record, target by target, in the report's row order."""
    slots = layout(merged).slots
    return [Cell(row["id"], t["name"], m.name, *slots[row["id"]], kind(case), mark(case), case)
            for t in merged["targets"] for m in MATRICES.values() for row in merged.get(m.rows_key, [])
            for case in [row["cases"].get(t["name"])] if case is not None]


def runs(points, inset: int = 0, side: int = SIZE) -> str:
    """Path data drawing cells at ``points`` as dashed strokes, one per run of neighbours on a line.

    A stroke ``side`` wide, dashed ``side`` on, ``PITCH - side`` off, draws a centred square
    of that side in each cell of the run (a cell when ``side`` is :data:`SIZE`, a mark when smaller).

    >>> runs([(7, 0), (0, 0), (14, 0), (28, 7)])
    'M0 3h20M28 10h6'
    >>> runs([(0, 0), (7, 0)], inset=2, side=2)
    'M2 3h9'
    """
    found: list[list[int]] = []
    for x, y in sorted(points, key=lambda p: (p[1], p[0])):
        if found and found[-1][1] == y and found[-1][0] + PITCH * found[-1][2] == x:
            found[-1][2] += 1
        else:
            found.append([x, y, 1])
    return "".join(f"M{x + inset} {y + SIZE // 2}h{PITCH * (n - 1) + side}" for x, y, n in found)


def _layer(name: str, colour: str, points, side: int = SIZE) -> str:
    if not points:
        return ""
    return (f'<path data-kind="{name}" fill="none" stroke="{colour}" stroke-width="{side}" '
            f'stroke-dasharray="{side} {PITCH - side}" d="{runs(points, (SIZE - side) // 2, side)}"/>')


def _panel(target: dict, mine: list[Cell], lay: Layout, x: int, y: int) -> str:
    name = escape(target["name"], quote=True)
    out = [f'<g data-target="{name}" transform="translate({x} {y})">',
           f'<text x="0" y="11" font-weight="bold">{escape(target["name"])}'
           f'<tspan font-weight="normal" fill="#555"> {len(mine)} scenarios</tspan></text>']
    out += [f'<text x="0" y="{top + 10}" font-size="10" fill="#555">{escape(label)}</text>' for label, top in lay.bands]
    out.append(_layer("absent", ABSENT[0], list(lay.slots.values())))
    out += [_layer(k, colour, [(c.x, c.y) for c in mine if c.kind == k]) for k, (colour, _) in KINDS.items()]
    out += [_layer(k, colour, [(c.x, c.y) for c in mine if c.mark == k], side)
            for k, (colour, side, _) in MARKS.items()]
    return "".join(out) + "</g>"


def _legend() -> str:
    items = [(colour, "", text) for colour, text in (*KINDS.values(), ABSENT)]
    items += [(KINDS["inference"][0], k, text) for k, (_, _, text) in MARKS.items()]
    out, x = [], 0
    for colour, k, text in items:
        out.append(f'<rect x="{x}" y="2" width="10" height="10" fill="{colour}"/>')
        if k:
            c, side, _ = MARKS[k]
            out.append(f'<rect x="{x + 5 - side // 2}" y="{7 - side // 2}" width="{side}" height="{side}" fill="{c}"/>')
        out.append(f'<text x="{x + 14}" y="11">{escape(text)}</text>')
        x += 22 + 6 * len(text)
    return "".join(out)


def reason(cases: list[dict]) -> Optional[str]:
    """Why the documents' form links a row: the first of :data:`PRIORITY` its cells show, or None.

    >>> ok = {"status": "pass", "observed": {"mode": "inference", "error": None}}
    >>> reason([ok, ok]), reason([ok, {**ok, "status": "deviation"}])
    (None, 'deviation')
    >>> reason([ok, {**ok, "observed": {"mode": "training", "error": None}}])
    'disagree'
    """
    seen = {mark(c) or kind(c) for c in cases} | ({"disagree"} if len({kind(c) for c in cases}) > 1 else set())
    return next((r for r in PRIORITY if r in seen), None)


def _row_links(offsets: dict, all_cells: list[Cell], link, text) -> list[tuple[tuple[int, int], str]]:
    """((rank, row index), element) per linked row: an ``<a>`` over each of the row's cells in every panel.

    The page's form (``text`` given) links every row, each cell with its tooltip; the documents'
    form only rows with a :func:`reason`, ranked by it.
    """
    by_row: dict[str, list[Cell]] = {}
    for c in all_cells:
        by_row.setdefault(c.row, []).append(c)
    out = []
    for i, (row_id, mine) in enumerate(by_row.items()):
        why = reason([c.case for c in mine]) if text is None else ""
        if why is None:
            continue
        href = escape(link(row_id) if callable(link) else f"{link}#{row_id}", quote=True)
        if text is None:
            d = "".join(f"M{offsets[c.target][0] + c.x} {offsets[c.target][1] + c.y}h{SIZE}v{SIZE}h-{SIZE}z"
                        for c in mine)
            out.append(((PRIORITY.index(why), i), f'<a href="{href}"><path d="{d}"/></a>'))
            continue
        hits = "".join(
            f'<rect data-target="{escape(c.target, quote=True)}" x="{offsets[c.target][0] + c.x}" '
            f'y="{offsets[c.target][1] + c.y}" width="{SIZE}" height="{SIZE}"><title>'
            f'{escape(row_id)}&#10;{escape(c.target)}: {escape(text(c.case, fields=MATRICES[c.matrix].cell_fields))}'
            "</title></rect>" for c in mine)
        out.append(((0, i), f'<a href="{href}">{hits}</a>'))
    return out


def svg(merged: dict, link: Union[str, Callable[[str], str]] = "behaviour.md", text: Optional[Callable] = None,
        budget: int = BUDGET) -> str:
    """The picture of the whole report as SVG text (see the module's docstring for the two forms).

    A cell links to ``{link}#<ID>``, or to ``link(<ID>)`` when ``link`` is a function (e.g.
    ``pages.row_href``: straight to the row's page).  ``text(case, fields=...)`` is a cell's text
    (``documents.cell``); given, every cell links, with a tooltip; omitted, rows are linked by
    :data:`PRIORITY` while the text stays within ``budget`` bytes.
    """
    lay, all_cells = layout(merged), cells(merged)
    names = [t["name"] for t in merged["targets"]]
    lines = -(-len(names) // PANELS_PER_LINE)
    width = PANELS_PER_LINE * (lay.width + GAP) - GAP
    height = 20 + lines * (lay.height + GAP // 2)
    offsets = {n: (i % PANELS_PER_LINE * (lay.width + GAP), 20 + i // PANELS_PER_LINE * (lay.height + GAP // 2))
               for i, n in enumerate(names)}
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="bn-grid" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="system-ui,sans-serif" font-size="11" fill="#222">'
            "<title>BatchNormalization behaviour: every scenario on every target</title>"
            f'<rect width="{width}" height="{height}" fill="#fff"/>{_legend()}<g shape-rendering="crispEdges">'
            + "".join(_panel(t, [c for c in all_cells if c.target == t["name"]], lay, *offsets[t["name"]])
                      for t in merged["targets"])
            + '</g><g class="links" fill="#000" fill-opacity="0">')
    tail = "</g></svg>\n"
    chosen, size = [], len((head + tail).encode())
    for _, element in sorted(_row_links(offsets, all_cells, link, text)):
        if text is None and size + len(element.encode()) > budget:
            break
        chosen.append(element)
        size += len(element.encode())
    return head + "".join(chosen) + tail
