"""The check's answer: a summary line per path, then one line per BatchNormalization.

On a terminal the lines are a rich table; otherwise (a pipe, a CI log) aligned plain text; ``--json``
prints :func:`document` (its ``format`` is versioned like the report's).
"""

from __future__ import annotations

import json
import sys

#: What ``--expect`` asks of every layer, given its record.
EXPECT = {
    "rule": lambda r: r["ok"],
    "frozen": lambda r: r["moving_stats"] != "updated" and r["affine"] != "updated",
    "training": lambda r: r["mode"] == "training",
}
EXPECT_TEXT = {"rule": "as the documentation says", "frozen": "frozen (inference mode, nothing moved)",
               "training": "in training mode"}
COLUMNS = ("layer", "class", "trainable", "training", "statistics", "gamma/beta", "verdict")
#: The ``--json`` document's version: a key added, renamed or given another meaning makes it 2.
FORMAT = 1


def _closed(**properties) -> dict:
    return {"type": "object", "required": list(properties), "properties": properties, "additionalProperties": False}


_STR, _STRS, _MAYBE = {"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": ["string", "null"]}
_FACTS = {"mode": {"enum": ["training", "inference", "n/a"]}, "moving_stats": {"enum": ["updated", "unchanged", "n/a"]},
          "affine": {"enum": ["updated", "unchanged", "n/a"]}}
#: The JSON Schema of ``--json`` (every object closed: a reader written for this format refuses a newer one).
_LAYER = _closed(
    path=_STR, **{"class": _STR}, trainable={"type": "boolean"}, training=_STR, **_FACTS, error=_MAYBE,
    row=_STR, expected={"oneOf": [{"type": "null"}, _closed(**_FACTS)]}, broken=_STRS, statements=_STRS,
    deviation=_MAYBE, deviation_source=_MAYBE, ok={"type": "boolean"}, note=_MAYBE)
SCHEMA = _closed(
    format={"const": FORMAT}, model=_STR, target=_STR, versions={"type": "object", "additionalProperties": _STR},
    expect={"enum": list(EXPECT)}, ok={"type": "boolean"},
    paths={"type": "array", "items": _closed(path=_STR, compile=_MAYBE, summary=_STR,
                                             layers={"type": "array", "items": _LAYER})})


def meets(record: dict, expect: str) -> bool:
    """Whether one layer does what ``--expect`` asks.

    >>> meets({"ok": False, "moving_stats": "unchanged", "affine": "n/a", "mode": "inference"}, "frozen")
    True
    """
    return EXPECT[expect](record)


def summary(path: str, records: list[dict], expect: str) -> str:
    """One line: how many layers, in which mode, what moved, and whether that is what is expected.

    >>> r = {"ok": True, "mode": "inference", "moving_stats": "unchanged", "affine": "unchanged", "broken": []}
    >>> print(summary("fit", [r, r], "frozen"))  # doctest: +NORMALIZE_WHITESPACE
    fit: 2 BatchNormalization layers: 2 in inference mode, 0 moved their moving statistics, 0 moved gamma/beta;
    all frozen (inference mode, nothing moved)
    """
    n = len(records)
    inference = sum(r["mode"] == "inference" for r in records)
    moved = sum(r["moving_stats"] == "updated" for r in records)
    trained = sum(r["affine"] == "updated" for r in records)
    head = (f"{path}: {n} BatchNormalization layer{'s' * (n != 1)}: {inference} in inference mode, {moved} moved "
            f"their moving statistics, {trained} moved gamma/beta")
    bad = [r for r in records if not meets(r, expect)]
    if not bad:
        return f"{head}; all {EXPECT_TEXT[expect]}"
    broken = sorted({b for r in bad for b in r.get("broken", ())})
    return (f"{head}; {len(bad)} not {EXPECT_TEXT[expect]}" + (f" (breaks {', '.join(broken)})" if broken else ""))


def verdict_text(r: dict) -> str:
    """The last column: the rule's verdict, naming the statement and the known deviation."""
    if r["note"] and r["ok"]:
        return r["note"]
    if r["ok"]:
        return "as documented" + (f" ({r['statements'][0]})" if r["statements"] else "")
    text = (f"{r['note']}: " if r["note"] else "") + "breaks " + ", ".join(r["broken"] or ["the rule"])
    if r["deviation"]:
        text += f"; known deviation {r['deviation']} ({r['deviation_source']})"
    return text


def row(r: dict) -> list[str]:
    statistics = {"training": "batch, moved", "inference": "moving, unchanged"}.get(r["mode"], "n/a")
    return [r["path"], r["class"], str(r["trainable"]), r["training"], statistics, r["affine"], verdict_text(r)]


def plain(rows: list[list[str]]) -> str:
    """Aligned columns (the last one free).

    >>> print(plain([["a", "bb", "x"], ["ccc", "d", "y"]]))
    a    bb  x
    ccc  d   y
    """
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([c.ljust(w) for c, w in zip(r, widths)] + [r[-1]]) for r in rows)


def text(doc: dict, terminal: bool) -> None:
    """Print each path's summary and table."""
    for p in doc["paths"]:
        print(p["summary"])
        if p["compile"]:
            print(f"  (compiled with {p['compile']}; --json names each layer's row of docs/behaviour.md)")
        rows = [row(r) for r in p["layers"]]
        if terminal:
            from rich.console import Console
            from rich.table import Table

            table = Table(*COLUMNS)
            for r in rows:
                table.add_row(*r)
            Console(markup=False).print(table)
        else:
            print(plain([list(COLUMNS), *rows]))
        print()


def document(model: str, target, expect: str, paths: list[dict]) -> dict:
    return {"format": FORMAT, "model": model, "target": target.name, "versions": target.versions(), "expect": expect,
            "paths": paths, "ok": all(meets(r, expect) for p in paths for r in p["layers"])}


def emit(doc: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(doc, indent=1, sort_keys=True))
    else:
        text(doc, sys.stdout.isatty())
