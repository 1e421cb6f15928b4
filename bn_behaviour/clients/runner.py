"""``bn-behaviour clients``: each registered class (``bn_behaviour.clients``) on each of its targets.

Every run is a fresh pytest process started from an empty directory with the
installed plugin (``pytest --pyargs bn_behaviour.test_behaviour::test_behaviour[ID] ...
--bn-target T --bn-layer ... --bn-report ...``), over the client subset of the
main matrix; the genuine layer runs the same rows once per target.  A run
that gives no report (the module does not import, a bad constructor argument)
is one line: the usage error pytest printed.  The summary per client and
target is read from the reports alone: the documented statements
(``rules.rulebook``) it keeps and breaks, the rows where it is observed
otherwise than the genuine layer, and a verdict.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

from .. import api
from ..cases.scenario import Scenario
from ..report.pages import row_href
from ..report.reading import PER_TARGET, ReportFileError, load, read_checked, why_incomplete
from ..rules.rulebook import STATEMENTS
from ..targets import TARGETS, environment, repro
from ..targets.layer import UNBUILT
from . import CLIENTS, Client, subset

GENUINE = "genuine"
DOCUMENT = "clients.md"
REPORT = "clients.json"
#: How many example rows a statement links.
EXAMPLES = 3


def node_ids(target: str) -> list[str]:
    """The pytest node IDs of the client subset on ``target`` (``--pyargs`` form)."""
    rows = subset(api.scenarios(target), TARGETS[target].rule)
    return [f"bn_behaviour.test_behaviour::test_behaviour[{s.id}]" for s in rows]


def run_one(client: Optional[Client], target: str, out: Path) -> dict:
    """One client (None: the genuine layer) on one target in its own pytest process; its report, or
    ``{"error": one line}`` when the run gave none."""
    name = client.name if client else GENUINE
    path = Path(out).resolve() / "runs" / f"{name}@{target}.json"  # the run's cwd is an empty directory
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", "--pyargs", *node_ids(target), "-q", "-p", "no:cacheprovider",
           "-o", "addopts=", "-p", "no:xdist", "--bn-target", target, "--bn-xfail", "lenient",
           "--bn-report", str(path), *(client.args() if client else [])]
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as empty:  # as a vendoring project runs it: nothing of this checkout
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=empty, env=environment.for_child())
    seconds = round(time.monotonic() - start)
    if not path.exists():
        return {"error": usage_error(proc.stdout + proc.stderr), "seconds": seconds}
    try:
        report = load(path, PER_TARGET)
    except ReportFileError as e:
        return {"error": str(e), "seconds": seconds}
    why = why_incomplete(report)
    if why:  # a result needs every row: not a verdict on some of them
        return {"error": f"{path.name} {why}", "seconds": seconds}
    return {**report, "seconds": seconds}


def usage_error(output: str) -> str:
    """The line that says why pytest gave no report.

    >>> usage_error("noise\\nERROR: --bn-layer: cannot import module 'x' (No module named 'x')\\n\\n")
    "--bn-layer: cannot import module 'x' (No module named 'x')"
    """
    lines = [x.strip() for x in output.splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("ERROR:")]
    return (errors[-1][len("ERROR:"):].strip() if errors else " | ".join(lines[-3:]))[:400]


def summarise(client: Client, target: str, report: dict, genuine: dict) -> dict:
    """The client's verdict on ``target``, read from its report and the genuine layer's on the same rows."""
    base = {"client": client.name, "target": target, "layer": client.layer, "kwargs": client.kwargs,
            "seconds": report.get("seconds")}
    if "error" in report:
        return {**base, "verdict": "error", "error": report["error"]}
    cases = report.get("cases", [])
    errors = {c["observed"].get("error") for c in cases}
    if cases and all(e and e.endswith(UNBUILT) for e in errors):
        return {**base, "verdict": "error", "error": f"cannot be built: {sorted(errors)[0]}"}
    layer = report["layer"]
    variance = f" --variance {client.variance}" if client.variance else ""
    mine = {c["id"]: c for c in cases}
    theirs = {c["id"]: c for c in genuine.get("cases", [])}
    differs = sorted(i for i, c in mine.items() if i in theirs and c["observed"] != theirs[i]["observed"])
    statements = {}
    for st in STATEMENTS:
        if not st.applies_to(TARGETS[target].rule):
            continue
        rows, broken = st.verdict(cases)
        _, genuine_broken = st.verdict([theirs[i] for i in rows if i in theirs])
        new = [i for i in broken if i not in genuine_broken]
        statements[st.id] = {"rows": len(rows), "broken": broken, "new": new,
                             "repro": [repro.command(target, Scenario(**mine[i]["scenario"]), layer) + variance
                                       for i in new[:EXAMPLES]]}
    new_broken = sorted(k for k, v in statements.items() if v["new"])
    verdict = "incompatible" if new_broken else ("differs" if differs else "compatible")
    return {**base, "verdict": verdict, "versions": report["target"]["versions"], "rows": len(cases),
            "differs": differs, "statements": statements, "new_broken": new_broken}


def run(clients: list[Client], targets: Optional[list[str]], out: Path, jobs: int) -> dict:
    """Run the genuine layer and every client on every target it applies to (``targets``: only those)."""
    plan = [(c, t) for c in clients for t in c.targets if not targets or t in targets]
    wanted = sorted({t for _, t in plan})
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=jobs) as pool:  # the genuine runs first, then every client side by side
        futures = [pool.submit(run_one, c, t, out) for c, t in [(None, t) for t in wanted] + plan]
        done = [f.result() for f in futures]
    genuine, reports = dict(zip(wanted, done[:len(wanted)])), done[len(wanted):]
    results = [summarise(c, t, r, genuine[t]) for (c, t), r in zip(plan, reports)]
    return {"format": 1, "seconds": round(time.monotonic() - started),
            "rows": {t: len(node_ids(t)) for t in wanted},
            "genuine": {t: {"versions": g.get("target", {}).get("versions"), "error": g.get("error")}
                        for t, g in genuine.items()},
            "clients": [{"name": c.name, "layer": c.layer, "kwargs": c.kwargs, "package": c.package,
                         "install": c.install, "targets": list(c.targets), "source": c.source, "what": c.what,
                         "variance": c.variance}
                        for c in clients],
            "results": results}


def _cell(r: dict) -> str:
    if r["verdict"] == "error":
        return "**error**"
    if r["verdict"] == "incompatible":
        return f"**incompatible** (breaks {len(r['new_broken'])})"
    if r["verdict"] == "differs":
        return f"differs on {len(r['differs'])} rows, breaks nothing new"
    return "compatible"


#: Statement ID -> its place in the rulebook: the order clients.md lists them in (clients.json sorts its keys).
_ORDER = {st.id: i for i, st in enumerate(STATEMENTS)}


def render(data: dict) -> str:
    """``clients.md``: a client x target table of verdicts, then each client's statements and rows."""
    targets = sorted({r["target"] for r in data["results"]})
    by = {(r["client"], r["target"]): r for r in data["results"]}
    rows = ", ".join(f"{n} on {t}" for t, n in sorted(data["rows"].items()))
    out = ["# Third-party BatchNormalization classes", "",
           "Generated by `bn-behaviour clients` from `clients.json`; do not edit.  Each class runs the main"
           f" matrix's client subset ({rows} rows: every axis value each documented statement is about,"
           " `bn_behaviour.clients.subset`) through the installed plugin (`--bn-layer`, `--bn-layer-kwargs`),"
           " next to the genuine layer on the same rows.", "",
           "**compatible**: observed as the genuine layer on every row; **differs**: observed otherwise on some"
           " rows but breaks no documented statement the genuine layer keeps there; **incompatible**: breaks one"
           " (listed below, with rows and a repro); **error**: the run gave no result (the one line says why).",
           "", "| client | " + " | ".join(targets) + " |", "|---|" + "---|" * len(targets)]
    for c in data["clients"]:
        cells = [_cell(by[(c["name"], t)]) if (c["name"], t) in by else "" for t in targets]
        out.append(f"| [{c['name']}](#{c['name']}) | " + " | ".join(cells) + " |")
    for c in data["clients"]:
        out += ["", f"## {c['name']}", "", f"`{c['layer']}`"
                + (f" with `{json.dumps(c['kwargs'], sort_keys=True)}`" if c["kwargs"] else "")
                + f" ([source]({c['source']})): {c['what']}.",
                "", (f"Installed with `{c['install']}`." if c["install"] else "Ships with the target's packages"
                     " or this one.") + (f" Judged by its own moving-variance update (`--bn-variance"
                                         f" {c['variance']}`)." if c.get("variance") else ""), ""]
        for t in c["targets"]:
            r = by.get((c["name"], t))
            if r is None:
                continue
            if r["verdict"] == "error":
                out += [f"- **{t}**: error: `{r['error']}`"]
                continue
            statements = sorted(r["statements"].items(), key=lambda kv: _ORDER.get(kv[0], len(_ORDER)))
            kept = [k for k, v in statements if v["rows"] and not v["broken"]]
            out += [f"- **{t}**: {_cell(r)}; keeps {len(kept)} statements"
                    + (f" ({', '.join(kept)})" if kept else "")]
            for k, v in statements:
                if v["new"]:
                    ex = ", ".join(f"[{i}]({row_href(i)})" for i in v["new"][:EXAMPLES])
                    out += [f"  - breaks [{k}](rules.md#{k}) on {len(v['new'])} of {v['rows']} rows where the"
                            f" genuine layer keeps it: {ex}", f"    - repro: `{v['repro'][0]}`"]
                elif v["broken"]:
                    out += [f"  - breaks [{k}](rules.md#{k}) on {len(v['broken'])} rows, as the genuine layer does"]
    return "\n".join(out) + "\n"


class ClientsFileError(ValueError):
    """A ``clients.json`` that :func:`run` could not have written (one line naming the file and the key)."""


def _closed(required: tuple, **properties) -> dict:
    return {"type": "object", "required": list(required), "properties": properties, "additionalProperties": False}


def _by(names, value: dict) -> dict:
    """An object keyed by ``names`` (targets, statements), each holding ``value``."""
    return {"type": "object", "properties": dict.fromkeys(names, value), "additionalProperties": False}


_STR, _INT, _OBJ = {"type": "string"}, {"type": "integer"}, {"type": "object"}
_STRS, _MAYBE = {"type": "array", "items": _STR}, {"type": ["string", "null"]}
#: What :func:`run` writes, in the subset of JSON Schema that ``report.reading.problem`` checks.
SCHEMA = _closed(
    ("format", "seconds", "rows", "genuine", "clients", "results"),
    format={"const": 1}, seconds=_INT, rows=_by(TARGETS, _INT),
    genuine=_by(TARGETS, _closed((), versions={"type": ["object", "null"]}, error=_MAYBE)),
    clients={"type": "array", "items": _closed(("name", "layer", "targets"), name=_STR, layer=_STR, kwargs=_OBJ,
                                                package=_MAYBE, install=_MAYBE, targets=_STRS, source=_STR,
                                                what=_STR, variance={"enum": ["biased", "bessel", None]})},
    results={"type": "array", "items": _closed(
        ("client", "target", "verdict"), client=_STR, target={"enum": list(TARGETS)}, layer=_STR, kwargs=_OBJ,
        seconds={"type": ["integer", "null"]}, error=_STR, versions=_OBJ, rows=_INT, differs=_STRS,
        new_broken=_STRS, verdict={"enum": ["compatible", "differs", "incompatible", "error"]},
        statements=_by([st.id for st in STATEMENTS], _closed(("rows", "broken", "new"), rows=_INT, broken=_STRS,
                                                             new=_STRS, repro=_STRS)))})


def read(path: Path) -> dict:
    """A ``clients.json``, refused in one line (:class:`ClientsFileError`) where it holds what
    :func:`run` does not write: an unknown key, target or statement, a wrong type."""
    return read_checked(path, SCHEMA, ClientsFileError)


def stale(folder: Path, data: Optional[dict] = None) -> list[str]:
    """``clients.md`` in ``folder`` when it differs from what ``data`` renders (default: the committed
    ``clients.json`` beside it; nothing to check when there is none)."""
    path = folder / DOCUMENT
    if data is None:
        if not (folder / REPORT).exists():
            return []
        data = read(folder / REPORT)
    return [] if path.exists() and path.read_text() == render(data) else [str(path)]


def main(args) -> int:
    clients = [c for c in CLIENTS if not args.client or c.name in args.client]
    unknown = set(args.client or ()) - {c.name for c in CLIENTS}
    if unknown:
        raise ValueError(f"unknown client(s) {sorted(unknown)}; known: {', '.join(c.name for c in CLIENTS)}")
    out = Path(args.out).resolve()  # each run's pytest starts in an empty directory: a relative path would miss
    out.mkdir(parents=True, exist_ok=True)
    data = run(clients, args.target, out, args.jobs)
    (out / REPORT).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    (out / DOCUMENT).write_text(render(data))
    for r in data["results"]:
        line = r.get("error") or ", ".join(r.get("new_broken", ())) or f"{len(r.get('differs', ()))} rows differ"
        print(f"{r['client']:48s} {r['target']:17s} {r['verdict']:12s} {line}")
    print(f"wrote {out / REPORT} and {out / DOCUMENT} ({data['seconds']} s)")
    if args.check:
        for path in stale(Path(args.check), data):
            print(f"{path} is stale: copy {out / REPORT} and {out / DOCUMENT} to {args.check}")
            return 1
    return 0
