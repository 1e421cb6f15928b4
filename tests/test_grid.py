"""The picture of the whole report (``bn_behaviour.report.grid``): one cell per record, coloured by what was observed.

The reports here are made up (every case of every matrix of real targets, with
observations chosen by a rule of this module), merged by the real merge; the
cells an SVG draws are read back from its paths, never from the module's own lists.
"""

from __future__ import annotations

import copy
import functools
import re
import xml.etree.ElementTree as ET

import pytest

from bn_behaviour import matrices
from bn_behaviour.matrices import MATRICES
from bn_behaviour.report import grid
from bn_behaviour.report.documents import cell
from bn_behaviour.report.format import merge
from bn_behaviour.targets import TARGETS

NS = {"s": "http://www.w3.org/2000/svg"}
#: The made-up observations, cycled through the cases (a layer's matrices: the first four; the workflows: all),
#: and the colour each must get (by the picture's legend).
OBSERVED = [
    ({"mode": "training", "moving_stats": "updated", "affine": "n/a", "error": None}, "training"),
    ({"mode": "inference", "moving_stats": "unchanged", "affine": "n/a", "error": None}, "inference"),
    ({"mode": "neither", "moving_stats": "unchanged", "affine": "n/a", "error": None}, "other"),
    ({"mode": "n/a", "moving_stats": "n/a", "affine": "n/a", "error": "ValueError: <no> & 'x'"}, "error"),
    ({"serve_mode": "inference", "serve_repeatable": True, "error": None}, "inference"),
    ({"serve_mode": "training", "serve_repeatable": True, "error": None}, "training"),
    ({"base_bn_stats": "unchanged", "error": None}, "other"),
]
STATUSES = ("pass", "pass", "deviation", "pass", "fail", "pass", "crash", "pass", "timeout", "pass", "deviation")


def _expected_kind(case: dict) -> str:
    """The legend's colour for a record: no result, else an error, else the mode observed (or none)."""
    if case["status"] in ("crash", "timeout"):
        return "fault"
    return next(k for o, k in OBSERVED if o == case["observed"])


@functools.lru_cache(maxsize=None)
def _report(names: tuple[str, ...] = ("tf_keras", "keras-torch", "tf1"), statuses: tuple = STATUSES) -> dict:
    reports = []
    for n, name in enumerate(names):
        rep = {"target": {"name": name, "versions": {"x": "1"}}}
        for m_name, cases in matrices.generate(TARGETS[name]).items():
            observed = OBSERVED[:4] if MATRICES[m_name].cell_fields else OBSERVED
            rep[MATRICES[m_name].cases_key] = [
                {"id": c.id, "observed": dict(observed[(i + n) % len(observed)][0]),
                 "status": statuses[(i * 7 + n) % len(statuses)], "deviation": "d-1", "deviation_source": "https://x.org",
                 "fault": {"kind": "crash", "signal": "SIGSEGV", "phase": "step"}}
                for i, c in enumerate(cases)]
        reports.append(rep)
    return merge(reports, {})


def _records(merged: dict) -> list[tuple[str, str, dict]]:
    return [(row["id"], t, case) for m in MATRICES.values() for row in merged.get(m.rows_key, [])
            for t, case in row["cases"].items()]


def _drawn(path) -> set[tuple[int, int]]:
    """The cells a dashed run path draws (read from its data: start, length, stroke width)."""
    side = int(path.get("stroke-width"))
    inset = (grid.SIZE - side) // 2
    out = set()
    for x, y, length in re.findall(r"M(\d+) (\d+)h(\d+)", path.get("d")):
        n = (int(length) - side) // grid.PITCH + 1
        assert (int(length) - side) % grid.PITCH == 0
        out |= {(int(x) - inset + k * grid.PITCH, int(y) - grid.SIZE // 2) for k in range(n)}
    return out


def _panels(root) -> dict[str, ET.Element]:
    return {g.get("data-target"): g for g in root.iter(f"{{{NS['s']}}}g") if g.get("data-target")}


def test_one_cell_per_record_and_each_page_cell_links_to_its_row_with_its_text():
    merged = _report()
    records = _records(merged)
    assert len(grid.cells(merged)) == len(records)
    root = ET.fromstring(grid.svg(merged, link="", text=cell))
    hits = [(a.get("href"), r.get("data-target"), r.find("s:title", NS).text)
            for a in root.iter(f"{{{NS['s']}}}a") for r in a.findall("s:rect", NS)]
    assert sorted((h, t) for h, t, _ in hits) == sorted((f"#{i}", t) for i, t, _ in records)
    texts = {(f"#{i}", t): f"{i}\n{t}: {cell(c, fields=MATRICES[matrices.case_from_id(i)[0].name].cell_fields)}"
             for i, t, c in records}
    assert all(title == texts[(h, t)] for h, t, title in hits)


@pytest.mark.parametrize("form", ["documents", "page"])
def test_colours_follow_the_observed_mode_and_marks_the_status(form):
    merged = _report()
    text = grid.svg(merged) if form == "documents" else grid.svg(merged, link="", text=cell)
    panels = _panels(ET.fromstring(text))
    slots = grid.layout(merged).slots
    assert list(panels) == [t["name"] for t in merged["targets"]]
    for name, g in panels.items():
        drawn = {p.get("data-kind"): (p.get("stroke"), _drawn(p)) for p in g.findall("s:path", NS)}
        mine = [(slots[i], c) for i, t, c in _records(merged) if t == name]
        for kind, (colour, _) in grid.KINDS.items():
            want = {xy for xy, c in mine if _expected_kind(c) == kind}
            assert drawn.get(kind, (colour, set())) == (colour, want), (name, kind)
        for status, (colour, _, _) in grid.MARKS.items():
            want = {xy for xy, c in mine if c["status"] == status}
            assert drawn.get(status, (colour, set())) == (colour, want), (name, status)
        assert drawn["absent"][1] == set(slots.values())  # every slot, pale, under the cells


def test_slots_follow_the_report_row_order_one_band_per_matrix():
    merged = _report()
    slots = grid.layout(merged).slots
    ids = [row["id"] for m in MATRICES.values() for row in merged.get(m.rows_key, [])]
    assert list(slots) == ids and len(set(slots.values())) == len(ids)
    assert sorted(ids, key=lambda i: (slots[i][1], slots[i][0])) == ids  # reading order: left to right, down
    assert [label for label, _ in grid.layout(merged).bands] == [
        f"{m.title or 'Main matrix'} ({len(merged[m.rows_key])})" for m in MATRICES.values() if merged.get(m.rows_key)]


def test_the_svg_is_well_formed_and_deterministic():
    merged = _report()
    shuffled = copy.deepcopy(merged)
    for m in MATRICES.values():
        for row in shuffled.get(m.rows_key, []):
            row["cases"] = dict(reversed(row["cases"].items()))
    for kwargs in ({}, {"link": "", "text": cell}):
        text = grid.svg(merged, **kwargs)
        ET.fromstring(text)  # escaped: the error message's <, & and ' stay text
        assert text == grid.svg(copy.deepcopy(merged), **kwargs) == grid.svg(shuffled, **kwargs)
        assert "<no>" not in text and "<script" not in text


def test_the_documents_form_links_rows_to_behaviour_md_most_important_first_within_the_budget():
    merged = _report(tuple(TARGETS))  # every target, every case: about as large as a full report gets
    text = grid.svg(merged)
    assert len(text.encode()) <= grid.BUDGET
    root = ET.fromstring(text)
    offsets = {name: tuple(map(int, re.match(r"translate\((\d+) (\d+)\)", g.get("transform")).groups()))
               for name, g in _panels(root).items()}
    slots = grid.layout(merged).slots
    by_row: dict[str, list] = {}
    for i, t, c in _records(merged):
        by_row.setdefault(i, []).append((t, c))
    linked = []
    for a in root.iter(f"{{{NS['s']}}}a"):
        href = a.get("href")
        assert href.startswith("behaviour.md#")
        row_id = href.removeprefix("behaviour.md#")
        areas = re.findall(r"M(\d+) (\d+)h6v6h-6z", a.find("s:path", NS).get("d"))
        x, y = slots[row_id]
        assert sorted(areas) == sorted((str(offsets[t][0] + x), str(offsets[t][1] + y)) for t, _ in by_row[row_id])
        linked.append(row_id)
    reasons = {i: grid.reason([c for _, c in cases]) for i, cases in by_row.items()}
    assert 0 < len(linked) < sum(r is not None for r in reasons.values())  # this report is too large to link all
    ranks = [grid.PRIORITY.index(reasons[i]) for i in linked]
    assert ranks == sorted(ranks)
    left = [grid.PRIORITY.index(r) for i, r in reasons.items() if r is not None and i not in linked]
    assert min(left) >= max(ranks)  # nothing more important was left out


def test_the_documents_form_links_every_row_that_is_not_a_plain_pass_when_they_fit():
    merged = _report(("tf1",), ("pass",) * 9 + ("deviation",))
    root = ET.fromstring(grid.svg(merged))
    linked = {a.get("href") for a in root.iter(f"{{{NS['s']}}}a")}
    wanted = {f"behaviour.md#{row['id']}" for row in merged["rows"]
              if any(c["status"] != "pass" or c["observed"].get("error") for c in row["cases"].values())}
    assert linked == wanted and wanted
    root = ET.fromstring(grid.svg(merged, link=lambda row_id: f"behaviour/tf1.md#{row_id}"))
    assert {a.get("href") for a in root.iter(f"{{{NS['s']}}}a")} == {h.replace(".md#", "/tf1.md#") for h in wanted}
