"""``bn-behaviour``: observe one case, or run the matrices and print the table.

Usage errors print one line on stderr and exit 2; they never show a
traceback from inside a framework.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Optional

from . import __version__
from .cases.scenario import AXES, Scenario
from .cases.setting import SettingCase
from .clients.runner import ClientsFileError
from .clients.runner import main as clients_main
from .clients.runner import stale as clients_stale
from .command.run import QUICK_OUT, ReuseError
from .command.run import main as report_main
from .history import bisect_command
from .history.command import configure as history_configure
from .history.command import main as history_main
from .isolation.stdout_guard import stdout_to_stderr
from .matrices import MATRICES, case_from_id, known_deviations, matrix_of, why_not
from .report import documents, reading, readme
from .report.case_answer import answer, show
from .report.changes import ReportError
from .report.changes import main as diff_main
from .report.disagreements import main as disagree_main
from .rules.deviations import find
from .targets import VARIANCES, TargetError, _dist_version, repro, require, resolve
from .targets.layer import LayerSpecError, load, parse_kwargs
from .usermodel import applications
from .usermodel import command as check_command
from .workflows import WorkflowCase


class UsageError(Exception):
    pass


#: The axis values ``observe`` assumes for the axes a command line does not name: the plainest Keras use,
#: a functional model trained by fit(), nothing frozen, no training argument (so when=before_compile, the
#: only time meaningful without a later change).  In the main matrix of every Keras target (tests/test_cli.py).
OBSERVE_DEFAULTS = {"model": "functional", "frozen": "none", "when": "before_compile", "path": "fit",
                    "training": "none"}
#: What ``--version`` reports besides the package: read from the installed distributions, never imported.
FRAMEWORKS = ("keras", "tensorflow", "tf_keras", "jax", "torch")


def versions_text() -> str:
    """
    >>> print(versions_text())  # doctest: +ELLIPSIS
    bn-behaviour ...
    keras ...
    torch ...
    """
    return "\n".join([f"bn-behaviour {__version__}", *(f"{d} {_dist_version(d)}" for d in FRAMEWORKS)])


class _Version(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        print(versions_text())
        parser.exit()


def _case(args):
    """The case the command line names: ``--id`` (any matrix), or the axes (plus a setting and policy);
    the axes it leaves out take :data:`OBSERVE_DEFAULTS`, said on stderr."""
    try:
        if args.id:
            return case_from_id(args.id)[1]
        s = Scenario(**{axis: getattr(args, axis) or OBSERVE_DEFAULTS[axis] for axis in AXES})
        assumed = [f"--{axis} {value}" for axis, value in OBSERVE_DEFAULTS.items() if getattr(args, axis) is None]
        if assumed:
            print(f"assumed: {' '.join(assumed)}", file=sys.stderr)
        if args.setting or args.precision:
            return SettingCase(s, args.setting or "default", args.precision or "float32")
        return s
    except ValueError as e:
        raise UsageError(str(e)) from None


def _run(case, target_name, layer_spec=None, layer_kwargs=None, variance=None) -> tuple:
    """Check the case is in the target's matrix, load the layer, observe; (target, result).
    What the frameworks print meanwhile goes to stderr: stdout carries only the answer."""
    with stdout_to_stderr():
        return _observed(case, target_name, layer_spec, layer_kwargs, variance)


def _observed(case, target_name, layer_spec, layer_kwargs, variance) -> tuple:
    target = require(target_name)
    target = target.with_variance(variance) if variance else target
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


def _code(case, target_name) -> int:
    """``observe --code``: print the row's standalone program (what its driver runs) without running it."""
    target = resolve(target_name)
    why = why_not(target, case)
    if why:
        raise UsageError(f"{case.id} is not in the {target.name} {matrix_of(case).name} matrix: {why}")
    code = repro.snippet(target.name, case) if isinstance(case, Scenario) else None
    if code is None:
        raise UsageError(f"no standalone program is written for {case.id} on {target.name}; programs exist for "
                         f"main-matrix rows on {', '.join(repro.SNIPPETS)}")
    print(code, end="")
    return 0


def _observe(args) -> int:
    case = _case(args)
    if args.code:
        return _code(case, args.target)
    target, result = _run(case, args.target, args.layer, args.layer_kwargs, args.variance)
    entry = find(known_deviations(target), case)
    out = {
        "target": target.name,
        "versions": target.versions(),
        **result.record(),
        "layer": result.layer,
        "known_deviation": entry.label() if entry else None,
        "description": case.describe(),
    }
    return _answer(args, out, target, result, entry)


def _answer(args, record: dict, target, result, entry) -> int:
    """Print the case's JSON record (``--json``) or its readable answer (``report.case_answer``)."""
    if args.json:
        print(json.dumps(record, indent=2, sort_keys=True))
    else:
        show(answer(record, result, entry, target.rule))
    return 0


def _workflow(args) -> int:
    try:
        case = WorkflowCase.from_id(args.case)
    except ValueError as e:
        raise UsageError(f"{args.case}: {e} (a case ID looks like workflow=export-format=tf_saved_model-frozen=none)"
                         ) from None
    target, result = _run(case, args.target)
    record = {"target": target.name, "versions": target.versions(), **result.record(),
              "description": case.describe(), "numbers": result.evidence()}
    return _answer(args, record, target, result, find(known_deviations(target), case))


def _history(args) -> int:
    try:
        return history_main(args)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _bisect(args) -> int:
    try:
        return bisect_command.main(args)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _report(args) -> int:
    try:
        return report_main(args)
    except (reading.ReportFileError, ReuseError) as e:  # --reuse of a file that is no whole report
        raise UsageError(str(e)) from None


def _disagree(args) -> int:
    try:
        return disagree_main(args)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _docs(args) -> int:
    folder = Path(args.out)
    try:
        merged = reading.load(args.source, reading.MERGED)
        clients = clients_stale(folder) + applications.stale(folder) if args.check else []
    except (reading.ReportFileError, ClientsFileError, applications.ApplicationsFileError) as e:
        raise UsageError(str(e)) from None
    if merged.get("complete") is False:  # the documents would publish a part of the answer as the whole
        raise UsageError(f"{args.source} is incomplete (a target's run stopped before every case finished): "
                         "finish it with `bn-behaviour report --reuse` into its folder, then render it")
    if "complete" not in merged:
        print(f"bn-behaviour docs: {args.source} does not say whether it is complete (an earlier bn-behaviour "
              "wrote it); `bn-behaviour report` writes one that does", file=sys.stderr)
    if args.check:
        stale = documents.stale(merged, folder) + clients + readme.stale(merged, folder)
        for path in stale:
            print(f"{path} is stale: regenerate with `bn-behaviour docs {args.source} --out {folder}`")
        return 1 if stale else 0
    try:
        written = documents.write(merged, folder) + readme.write(merged, folder) + applications.write(folder)
    except applications.ApplicationsFileError as e:
        raise UsageError(str(e)) from None
    for path in written:
        print(f"wrote {path}")
    return 0


def _clients(args) -> int:
    try:
        return clients_main(args)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _check(args) -> int:
    try:
        return check_command.run(args)
    except check_command.CheckError as e:
        raise UsageError(str(e)) from None


def _applications(args) -> int:
    try:
        return applications.main(args)
    except applications.ApplicationsFileError as e:
        raise UsageError(str(e)) from None


def _diff(args) -> int:
    try:
        return diff_main(args)
    except ReportError as e:
        raise UsageError(str(e)) from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bn-behaviour", description=__doc__)
    p.add_argument("--version", action=_Version, nargs=0, help="print the versions of bn-behaviour and of the "
                   "installed frameworks (keras, tensorflow, tf_keras, jax, torch) and exit")
    sub = p.add_subparsers(dest="command", required=True)
    o = sub.add_parser("observe", help="run one scenario in this process and print what it did against the rule",
                       description="Axes not named take the plainest Keras use (a functional model trained by fit(), "
                       "nothing frozen, no training argument; when=before_compile, the only time meaningful without "
                       "a later change), so a question names only the axes it is about; stderr says what was assumed.")
    o.add_argument("--target", default=None, help="target name (default: BN_BEHAVIOUR_TARGET or keras-$KERAS_BACKEND)")
    for axis, values in AXES.items():
        o.add_argument(f"--{axis}", default=None, help=f"{', '.join(values)} (default {OBSERVE_DEFAULTS[axis]})")
    o.add_argument("--id", default=None, help="a case ID of any matrix instead of the axes (e.g. a fused 4-D case)")
    o.add_argument("--layer", default=None, help="module:attr of a BatchNormalization-compatible class to observe")
    o.add_argument("--layer-kwargs", default=None, help="JSON object of the --layer class's constructor arguments")
    o.add_argument("--variance", default=None, choices=tuple(VARIANCES),
                   help="the --layer class's moving-variance update (as pytest's --bn-variance; default: the target's)")
    o.add_argument("--setting", default=None, help="a settings-matrix layer setting (bn_behaviour/setting.py)")
    o.add_argument("--precision", default=None, help="float32, mixed_float16 or mixed_bfloat16 (settings matrix)")
    o.add_argument("--json", action="store_true", help="print the observation as one JSON object (for machines)")
    o.add_argument("--code", action="store_true", help="print the row's standalone program (the network, the "
                   "freeze, the path: what the row runs, to paste into a bug report) and exit without running it")
    o.set_defaults(func=_observe)
    w = sub.add_parser("workflow", help="run one workflow case (bn_behaviour/workflows) and print what it did "
                       "against its rule")
    w.add_argument("case", help="the case ID, e.g. workflow=export-format=tf_saved_model-frozen=none")
    w.add_argument("--target", default=None, help="target name (default as for observe)")
    w.add_argument("--json", action="store_true", help="print the facts as one JSON object (for machines)")
    w.set_defaults(func=_workflow)
    r = sub.add_parser("report", help="run the matrix on the installed target(s) and print the answer: the recipe "
                       "table, the disagreements, the files written",
                       description="Interrupted (Ctrl-C, a killed process), it loses only the cases that were "
                       "running: each target appends every finished case to <out>/<target>.journal.jsonl, and "
                       "`--reuse` continues from there, running only the missing cases. Nothing is merged from an "
                       "incomplete report.")
    r.add_argument("--target", action="append", default=None, help="target(s) to run (default: every installed one)")
    r.add_argument("--out", default=None, help="folder for behaviour.json, behaviour.md and behaviour.html "
                   f"(default: the current folder; {QUICK_OUT} with --quick)")
    r.add_argument("--workers", default="auto", help="pytest-xdist workers per target (default auto)")
    r.add_argument("--reuse", action="store_true", help="take each target's complete report in --out as it is, "
                   "and continue an interrupted target from its journal (<target>.journal.jsonl), running only "
                   "the cases it lacks; refuse an incomplete report with no journal left")
    r.add_argument("--quick", action="store_true", help="only every recipe's row and one row per documented "
                   "statement: the answer in well under a minute")
    r.add_argument("--full", action="store_true", help="print every row of every target before the answer")
    r.set_defaults(func=_report)
    g = sub.add_parser("disagree", help="list the rows whose observation differs between targets")
    g.add_argument("source", help="behaviour.json written by `bn-behaviour report`")
    g.add_argument("--matrix", choices=list(MATRICES), default=None, help="only this matrix's rows")
    g.add_argument("--markdown", action="store_true", help="print Markdown tables, one column per target")
    g.set_defaults(func=_disagree)
    d = sub.add_parser("docs", help="render behaviour.md, rules.md and fine-tuning.md from a merged report")
    d.add_argument("source", help="behaviour.json written by `bn-behaviour report`")
    d.add_argument("--out", default="docs", help="folder of the documents (default docs)")
    d.add_argument("--check", action="store_true", help="write nothing; exit 1 naming each stale document")
    d.set_defaults(func=_docs)
    k = sub.add_parser("clients", help="run third-party BatchNormalization classes (bn_behaviour/clients/__init__.py) "
                       "on their targets; write clients.json and clients.md")
    k.add_argument("--out", default="clients", help="folder for clients.json, clients.md and the runs")
    k.add_argument("--client", action="append", default=None, help="client name(s) to run (default: every one)")
    k.add_argument("--target", action="append", default=None, help="only these target(s)")
    k.add_argument("--jobs", type=int, default=2, help="pytest processes side by side (default 2)")
    k.add_argument("--check", default=None, metavar="DIR", help="exit 1 when DIR/clients.md differs from this run's")
    k.set_defaults(func=_clients)
    m = sub.add_parser("check", help="what every BatchNormalization of your model does on a path, against the "
                       "documented rule (exit 1 when one does not do what --expect asks)",
                       description=check_command.__doc__)
    check_command.configure(m)
    m.set_defaults(func=_check)
    a = sub.add_parser("applications", help="the transfer-learning guide on keras.applications architectures, "
                       "every BatchNormalization checked (docs/applications.md)", description=applications.__doc__)
    a.add_argument("--target", default=None, help="target name (default: BN_BEHAVIOUR_TARGET or keras-$KERAS_BACKEND)")
    a.add_argument("--out", default="docs", help="folder of applications.json (merged into) and applications.md")
    a.add_argument("--arch", action="append", default=None, help="only these architectures (repeat)")
    a.set_defaults(func=_applications)
    c = sub.add_parser("diff", help="list scenarios whose observed behaviour changed; exit 1 if any did")
    c.add_argument("old", help="older report (per-target --bn-report JSON or behaviour.json)")
    c.add_argument("new", help="newer report")
    c.add_argument("--markdown", action="store_true", help="print Markdown (for docs/changes.md)")
    c.set_defaults(func=_diff)
    h = sub.add_parser("history", help="one row across every stored version (bn_behaviour/history); "
                       "--refresh DIR stores the version sessions' reports and writes docs/history.md")
    history_configure(h)
    h.set_defaults(func=_history)
    b = sub.add_parser("bisect", help="the daily builds between two versions: the first where a row changed",
                       description=bisect_command.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bisect_command.configure(b)
    b.set_defaults(func=_bisect)
    return p


def main(argv: Optional[list[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, TargetError) as e:
        print(f"bn-behaviour: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `| head` stopped reading: the rest of the answer is not wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more at exit's flush
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
