"""The Markdown behaviour table: one cell per case and target, one row per case ID, and the targets header.

Shared by the documents (:mod:`.documents`: the whole table of ``bn-behaviour report``, ``rules.md``,
``fine-tuning.md``) and the published pages (:mod:`.pages`: the index ``behaviour.md`` and
``behaviour/*.md``).  Every verdict is read from the report.
"""

from __future__ import annotations

from typing import Optional

from ..command.summary import FAULTS, STATUSES
from ..matrices import MATRICES

_SHORT = {"training": "train", "inference": "infer", "updated": "upd", "unchanged": "same",
          "updated_otherwise": "upd?!", "n/a": "-", "neither": "neither"}
#: The cells of a table: the observation of one layer (main, fused and settings matrices).
LAYER_FIELDS = ("mode", "moving_stats", "affine")
#: What a cell of the main, fused and settings tables shows.
LEGEND = ("Cells: mode (train = batch statistics, infer = moving statistics) / moving statistics /"
          " gamma-beta; a known deviation from the documented rule links to its source.")


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


def header(merged: dict, title: str, intro: str) -> list[str]:
    """A document's title and intro, then each target with its versions and counts (and the skipped ones)."""
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


def table(matrix, items: list, names: list[str]) -> list[str]:
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
