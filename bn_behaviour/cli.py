"""``bn-behaviour``: observe one case, or run the matrices and print the table.

Usage errors print one line on stderr and exit 2; they never show a
traceback from inside a framework.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

from .cases.scenario import AXES, Scenario
from .cases.setting import SettingCase
from .matrices import case_from_id, known_deviations, matrix_of, why_not
from .report import documents
from .report.changes import ReportError
from .report.changes import main as diff_main
from .report.clients import main as clients_main
from .report.clients import stale as clients_stale
from .report.run import main as report_main
from .rules.deviations import find
from .targets import TargetError, require
from .targets.layer import LayerSpecError, load, parse_kwargs
from .workflows import WorkflowCase


class UsageError(Exception):
    pass


def _case(args):
    """The case the command line names: ``--id`` (any matrix), or the axes (plus a setting and policy)."""
    try:
        if args.id:
            return case_from_id(args.id)[1]
        missing = [f"--{axis}" for axis in AXES if getattr(args, axis) is None]
        if missing:
            raise ValueError(f"give every axis or --id ID; missing {', '.join(missing)}")
        s = Scenario(args.model, args.frozen, args.when, args.path, args.training)
        if args.setting or args.precision:
            return SettingCase(s, args.setting or "default", args.precision or "float32")
        return s
    except ValueError as e:
        raise UsageError(str(e)) from None


def _run(case, target_name, layer_spec=None, layer_kwargs=None) -> tuple:
    """Check the case is in the target's matrix, load the layer, observe; (target, result)."""
    target = require(target_name)
    why = why_not(target, case)
    if why:
        raise UsageError(f"{case.id} is not in the {target.name} {matrix_of(case).name} matrix: {why}")
    layer = None
    if layer_spec:
        target.activate()
        try:
            layer = load(layer_spec, parse_kwargs(layer_kwargs))
        except LayerSpecError as e:
            raise UsageError(str(e)) from None
    return target, matrix_of(case).observe(target, case, layer)


def _observe(args) -> int:
    case = _case(args)
    target, result = _run(case, args.target, args.layer, args.layer_kwargs)
    entry = find(known_deviations(target), case)
    out = {
        "target": target.name,
        "versions": target.versions(),
        **result.record(),
        "layer": result.layer,
        "known_deviation": entry.label() if entry else None,
        "description": case.describe(),
    }
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0


def _workflow(args) -> int:
    try:
        case = WorkflowCase.from_id(args.case)
    except ValueError as e:
        raise UsageError(f"{args.case}: {e} (a case ID looks like workflow=export-format=tf_saved_model-frozen=none)"
                         ) from None
    target, result = _run(case, args.target)
    print(json.dumps({"target": target.name, "versions": target.versions(), **result.record(),
                      "description": case.describe(), "numbers": result.evidence()}, indent=2, sort_keys=True))
    return 0


def _report(args) -> int:
    return report_main(args)


def _docs(args) -> int:
    try:
        merged = json.loads(Path(args.source).read_text())
        merged["rows"], merged["targets"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{args.source} is not a merged behaviour.json from `bn-behaviour report` ({e})") from None
    folder = Path(args.out)
    if args.check:
        stale = documents.stale(merged, folder) + clients_stale(folder)
        for path in stale:
            print(f"{path} is stale: regenerate with `bn-behaviour docs {args.source} --out {folder}`")
        return 1 if stale else 0
    for path in documents.write(merged, folder):
        print(f"wrote {path}")
    return 0


def _clients(args) -> int:
    try:
        return clients_main(args)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _diff(args) -> int:
    try:
        return diff_main(args)
    except ReportError as e:
        raise UsageError(str(e)) from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bn-behaviour", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    o = sub.add_parser("observe", help="run one scenario in this process and print its observation as JSON")
    o.add_argument("--target", default=None, help="target name (default: BN_BEHAVIOUR_TARGET or keras-$KERAS_BACKEND)")
    for axis, values in AXES.items():
        o.add_argument(f"--{axis}", default=None, help=", ".join(values))
    o.add_argument("--id", default=None, help="a case ID of any matrix instead of the axes (e.g. a fused 4-D case)")
    o.add_argument("--layer", default=None, help="module:attr of a BatchNormalization-compatible class to observe")
    o.add_argument("--layer-kwargs", default=None, help="JSON object of the --layer class's constructor arguments")
    o.add_argument("--setting", default=None, help="a settings-matrix layer setting (bn_behaviour/setting.py)")
    o.add_argument("--precision", default=None, help="float32, mixed_float16 or mixed_bfloat16 (settings matrix)")
    o.set_defaults(func=_observe)
    w = sub.add_parser("workflow", help="run one workflow case (bn_behaviour/workflows) and print it as JSON")
    w.add_argument("case", help="the case ID, e.g. workflow=export-format=tf_saved_model-frozen=none")
    w.add_argument("--target", default=None, help="target name (default as for observe)")
    w.set_defaults(func=_workflow)
    r = sub.add_parser("report", help="run the matrix on the installed target(s) and print the behaviour table")
    r.add_argument("--target", action="append", default=None, help="target(s) to run (default: every installed one)")
    r.add_argument("--out", default=".", help="folder for behaviour.json and behaviour.md")
    r.add_argument("--workers", default="auto", help="pytest-xdist workers per target (default auto)")
    r.add_argument("--reuse", action="store_true", help="reuse an existing per-target report in --out")
    r.set_defaults(func=_report)
    d = sub.add_parser("docs", help="render behaviour.md, rules.md and fine-tuning.md from a merged report")
    d.add_argument("source", help="behaviour.json written by `bn-behaviour report`")
    d.add_argument("--out", default="docs", help="folder of the documents (default docs)")
    d.add_argument("--check", action="store_true", help="write nothing; exit 1 naming each stale document")
    d.set_defaults(func=_docs)
    k = sub.add_parser("clients", help="run third-party BatchNormalization classes (bn_behaviour/clients.py) "
                       "on their targets; write clients.json and clients.md")
    k.add_argument("--out", default="clients", help="folder for clients.json, clients.md and the runs")
    k.add_argument("--client", action="append", default=None, help="client name(s) to run (default: every one)")
    k.add_argument("--target", action="append", default=None, help="only these target(s)")
    k.add_argument("--jobs", type=int, default=2, help="pytest processes side by side (default 2)")
    k.add_argument("--check", default=None, metavar="DIR", help="exit 1 when DIR/clients.md differs from this run's")
    k.set_defaults(func=_clients)
    c = sub.add_parser("diff", help="list scenarios whose observed behaviour changed; exit 1 if any did")
    c.add_argument("old", help="older report (per-target --bn-report JSON or behaviour.json)")
    c.add_argument("new", help="newer report")
    c.add_argument("--markdown", action="store_true", help="print Markdown (for docs/changes.md)")
    c.set_defaults(func=_diff)
    return p


def main(argv: Optional[list[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, TargetError) as e:
        print(f"bn-behaviour: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
