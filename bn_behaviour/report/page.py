"""``behaviour.html``: the table as one self-contained page to look at, opening on the answer.

From the top: one line per target (versions, counts); the at-a-glance table
(:mod:`bn_behaviour.report.glance`, each recipe linking to ``fine-tuning.md``);
the picture of the whole matrix per target (:mod:`bn_behaviour.report.grid`,
each cell a link to its row below); then the full grid of scenarios x targets,
each cell coloured by what was observed (batch or moving statistics, an error),
known deviations and failures marked, filterable by every axis and by status;
every row is an anchor (its ID).  No network, no external asset: the CSS, the
SVG and the script are inline, and every string that came from a framework
(error messages) is HTML-escaped.
"""

from __future__ import annotations

from html import escape

from ..command.summary import FAULTS, STATUSES
from ..matrices import MATRICES
from . import glance, grid
from .documents import cell

STYLE = """
body{font:13px/1.35 system-ui,sans-serif;margin:1em;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#eee;position:sticky;top:0}td.id{font-family:monospace;font-size:12px;max-width:44em}
td.id small{display:block;font-family:system-ui,sans-serif;color:#555}
.training{background:#fde2c4}.inference{background:#d4e6fb}.error{background:#f6c6c6}
.deviation{box-shadow:inset 0 0 0 2px #a05}.fail{box-shadow:inset 0 0 0 3px #d00}
.crash{background:#4b2364;color:#fff}.timeout{background:#ffe08a}
.mark{font-weight:bold;color:#a05}form{margin:.5em 0 1em}label{margin-right:1em}
tr:target{box-shadow:inset 4px 0 #06c}.legend span{padding:2px 6px;margin-right:6px}
#scenarios tbody tr{scroll-margin-top:3em}table.glance th{position:static}ul.targets{padding-left:1.2em}
table.glance td+td{white-space:nowrap}.works{background:#cdebc5}.notwork{background:#fdd9b5}.raises{background:#f4b6b6}
div.picture{overflow-x:auto}svg.bn-grid a:hover>*{fill-opacity:.45}
"""

SCRIPT = """
function applyFilters(){
  const f={};document.querySelectorAll('select[data-axis]').forEach(s=>{if(s.value)f[s.dataset.axis]=s.value;});
  let shown=0;
  document.querySelectorAll('#scenarios tbody tr').forEach(r=>{
    const ok=Object.entries(f).every(([k,v])=>(' '+r.dataset[k]+' ').includes(' '+v+' '));
    r.hidden=!ok;if(ok)shown++;});
  document.getElementById('count').textContent=shown;
}
document.querySelectorAll('select[data-axis]').forEach(s=>s.addEventListener('change',applyFilters));
function showTarget(){  // a link to a row hidden by the filters clears them
  const r=document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if(r&&r.hidden){document.querySelectorAll('select[data-axis]').forEach(s=>{s.value='';});applyFilters();
    r.scrollIntoView();}
}
window.addEventListener('hashchange',showTarget);
applyFilters();
"""

#: The at-a-glance table's cell classes: a word of :func:`bn_behaviour.report.glance.word` (or a fault).
WORDS = {"works": "works", "does not work": "notwork", "raises": "raises", **{f: f for f in FAULTS}}


def _cell_html(case, fields) -> str:
    if case is None:
        return '<td class="absent"></td>'
    o = case["observed"]
    classes = ["error" if o.get("error") else (o["mode"] if "mode" in fields else "workflow")]
    mark = ""
    if case["status"] in FAULTS:  # no result: the process died, or the case ran out of time
        classes = [case["status"]]
    elif case["status"] == "deviation":
        classes.append("deviation")
        src = escape(case.get("deviation_source") or "", quote=True)
        name = escape(case.get("deviation") or "")
        mark = f' <a class="mark" href="{src}" title="known deviation {name}">&#9888;</a>'
    elif case["status"] == "fail":
        classes.append("fail")
    title = escape(o.get("error") or "", quote=True)
    return f'<td class="{" ".join(classes)}" title="{title}">{escape(cell(case, fields=fields))}{mark}</td>'


def _statuses(row: dict, names: list[str], fields) -> str:
    statuses = {row["cases"][n]["status"] for n in names if n in row["cases"]}
    cells = {cell({**row["cases"][n], "status": "pass"}, fields=fields) for n in names if n in row["cases"]}
    return " ".join(sorted(statuses) + (["disagree"] if len(cells) > 1 else []))


def _row(row: dict, names: list[str], matrix, axes: tuple[str, ...]) -> str:
    """One table row of any matrix; every filter axis the case lacks is empty."""
    case = matrix.case_type.from_id(row["id"])
    values = {**dict.fromkeys(axes, ""), **case.axes()}
    data = " ".join(f'data-{k}="{escape(v, quote=True)}"' for k, v in values.items())
    return (f'<tr id="{case.id}" {data} data-status="{_statuses(row, names, matrix.cell_fields)}">'
            f'<td class="id"><a href="#{case.id}">{case.id}</a><small>{escape(case.describe())}</small></td>'
            + "".join(_cell_html(row["cases"].get(n), matrix.cell_fields) for n in names) + "</tr>")


def filter_axes() -> dict[str, list[str]]:
    """Every axis of every matrix, with its values, in registry order (the page's filters)."""
    out: dict[str, list[str]] = {}
    for m in MATRICES.values():
        for axis, values in m.case_type.AXES.items():
            out.setdefault(axis, [])
            out[axis] += [v for v in (sorted(values) if isinstance(values, set) else values) if v not in out[axis]]
    return out


def summary(merged: dict) -> str:
    """One line per target: its name, versions and counts per matrix; then the targets skipped.

    >>> print(summary({"targets": [{"name": "t", "versions": {"keras": "3"}, "counts": {"pass": 2, "fail": 0},
    ...                "workflow_counts": {"pass": 1}}], "skipped_targets": {"u": "not installed"}}))
    <ul class="targets"><li><strong>t</strong> (keras 3): 2 pass, 0 fail; workflows: 1 pass</li>
    <li><strong>u</strong>: skipped, not installed</li></ul>
    """
    lines = []
    for t in merged["targets"]:
        versions = ", ".join(f"{k} {v}" for k, v in t.get("versions", {}).items())
        counts = [(m.title[:1].lower() + m.title[1:], t.get(m.counts_key) or {}) for m in MATRICES.values()]
        text = "; ".join((f"{label}: " if label else "") + ", ".join(f"{c[k]} {k}" for k in STATUSES if k in c)
                         for label, c in counts if sum(c.values()) or not label)
        lines.append(f"<li><strong>{escape(t['name'])}</strong> ({escape(versions)}): {escape(text)}</li>")
    skipped = merged.get("skipped_targets", {})
    lines += [f"<li><strong>{escape(n)}</strong>: skipped, {escape(why)}</li>" for n, why in skipped.items()]
    return '<ul class="targets">' + "\n".join(lines) + "</ul>"


def glance_table(merged: dict) -> str:
    """The at-a-glance table (:func:`bn_behaviour.report.glance.rows`): each recipe links to ``fine-tuning.md``.

    >>> page = glance_table({"targets": [{"name": "t", "rule": "tf2"}], "rows": []})
    >>> page.startswith('<table class="glance">'), "<td" in page
    (True, False)
    """
    names = [t["name"] for t in merged["targets"]]
    rows = "".join(
        f'<tr><td><a href="fine-tuning.md#{escape(recipe.id, quote=True)}">{escape(recipe.title)}</a></td>'
        + "".join(f'<td class="{WORDS.get(w[n], WORDS.get(w[n].split(" ")[0], ""))}">{escape(w[n])}</td>'
                  for n in names) + "</tr>"
        for recipe, w in glance.rows(merged))
    return ('<table class="glance"><thead><tr><th>recipe</th>' + "".join(f"<th>{escape(n)}</th>" for n in names)
            + f"</tr></thead><tbody>{rows}</tbody></table>")


def html(merged: dict) -> str:
    """The page, as a string.

    >>> merged = {"targets": [{"name": "t", "versions": {}, "counts": {}}], "skipped_targets": {},
    ...           "rows": [{"id": "layer-frozen=none-when=before_compile-path=call-training=true",
    ...                     "cases": {"t": {"status": "fail", "observed": {"mode": "training",
    ...                     "moving_stats": "updated", "affine": "n/a", "error": "E: <b>"}}}}]}
    >>> page = html(merged)
    >>> "<b>" in page, "E: &lt;b&gt;" in page, 'id="layer-frozen=none' in page
    (False, True, True)
    """
    names = [t["name"] for t in merged["targets"]]
    axes = filter_axes()
    filters = {**axes, "status": ("pass", "deviation", "fail", *FAULTS, "disagree")}
    selects = "".join(
        f'<label>{axis} <select data-axis="{axis}"><option value="">any</option>'
        + "".join(f'<option value="{v}">{v}</option>' for v in values)
        + "</select></label>"
        for axis, values in filters.items()
    )
    rows = [_row(row, names, m, tuple(axes)) for m in MATRICES.values() for row in merged.get(m.rows_key, [])]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>BatchNormalization behaviour</title>'
        f"<style>{STYLE}</style></head><body><h1>BatchNormalization behaviour</h1>"
        f'{summary(merged)}<h2>At a glance</h2>{glance_table(merged)}'
        '<h2>Every scenario on every target</h2><p>One cell per scenario, in the order of the table below;'
        f' a cell links to its row.</p><div class="picture">{grid.svg(merged, link="", text=cell)}</div>'
        '<h2>Every scenario</h2><p class="legend"><span class="training">batch statistics (train)</span>'
        '<span class="inference">moving statistics (infer)</span><span class="error">error</span>'
        '<span class="deviation">&#9888; known deviation</span><span class="fail">FAIL</span>'
        '<span class="crash">CRASH: the process died</span><span class="timeout">TIMEOUT: no result in time</span></p>'
        f'<form onsubmit="return false">{selects}</form><p><span id="count"></span> of {len(rows)} scenarios shown</p>'
        '<table id="scenarios"><thead><tr><th>scenario</th>' + "".join(f"<th>{escape(n)}</th>" for n in names)
        + "</tr></thead><tbody>" + "".join(rows) + f"</tbody></table><script>{SCRIPT}</script></body></html>\n"
    )
