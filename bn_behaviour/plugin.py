"""The pytest plugin: options, matrix parametrisation, report and summary.

Loaded through the ``pytest11`` entry point, so it must stay light: it
imports no framework (a target's driver is imported when a case runs).
Every matrix of ``bn_behaviour.matrices`` is parametrised, run and reported
the same way: a test takes its matrix's argument and calls ``bn_check``.
Per-case data travels on the test report (``user_properties``), so the
controller sees it under xdist exactly as without it.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Optional

import pytest

from . import __version__, matrices
from .faults import case_id_of
from .isolation import CASE_KEY, Guard, add_options
from .matrices import MATRICES, matrix_of
from .report.format import FORMAT
from .report.journal import Journal, write_whole
from .report.summary import write_summary
from .rules import deviations as dev
from .rules.result import DeviationObserved, judge
from .targets import TARGETS, Target, TargetError, require, resolve
from .targets.layer import LayerSpecError, parse_kwargs
from .targets.layer import describe as describe_layer
from .targets.layer import load as load_layer
from .targets.network import HARNESS
from .timing import PHASES

XFAIL_MODES = ("strict", "lenient", "skip")
STASH = pytest.StashKey["Session"]()
#: Option -> (environment variable, help); each option can be set from CI files one cannot change.
OPTIONS = {
    "--bn-target": ("BN_BEHAVIOUR_TARGET", "target to run (default keras-$KERAS_BACKEND, KERAS_BACKEND "
                    "defaulting to tensorflow)"),
    "--bn-layer": ("BN_BEHAVIOUR_LAYER", "MODULE:ATTR of a BatchNormalization-compatible class to test instead "
                   "of the genuine one (targets with a layer class), or of a factory returning one"),
    "--bn-layer-kwargs": ("BN_BEHAVIOUR_LAYER_KWARGS", "JSON object of constructor arguments merged into every "
                          "construction of the --bn-layer class, e.g. '{\"freeze\": true}'"),
    "--bn-xfail": ("BN_BEHAVIOUR_XFAIL", "known deviations: strict (default; a vanished deviation fails the "
                   "run), lenient (it passes), skip (do not run them)"),
    "--bn-report": ("BN_BEHAVIOUR_REPORT", "write the JSON behaviour report to PATH"),
    "--bn-ids": ("BN_BEHAVIOUR_IDS", "run only the matrix cases whose IDs FILE lists, one a line; deselect every "
                 "other test (bn-behaviour report --quick)"),
    "--bn-progress": ("BN_BEHAVIOUR_PROGRESS", "append the ID of each finished matrix case to PATH, one a line "
                      "(bn-behaviour report's progress)"),
    "--bn-journal": ("BN_BEHAVIOUR_JOURNAL", "append each finished matrix case's test reports to PATH as they come; "
                     "a run given a PATH that a run of the same target, versions and options wrote replays the "
                     "cases it holds instead of running them (bn-behaviour report --reuse resumes from it)"),
}


def pytest_addoption(parser):
    g = parser.getgroup("bn-behaviour", "BatchNormalization behaviour matrix")
    for option, (env, text) in OPTIONS.items():
        default = os.environ.get(env, "strict") if option == "--bn-xfail" else os.environ.get(env)
        if option == "--bn-target":
            default = None  # resolved in pytest_configure, so the environment's value is checked like the option's
        g.addoption(option, default=default, help=f"{text} (env {env})",
                    choices=XFAIL_MODES if option == "--bn-xfail" else None)
    g.addoption(
        "--bn-deviations",
        action="append",
        default=[p for p in os.environ.get("BN_BEHAVIOUR_DEVIATIONS", "").split(os.pathsep) if p],
        metavar="FILE",
        help="extra known-deviation TOML file(s), checked before the suite's own "
        "(env BN_BEHAVIOUR_DEVIATIONS, os.pathsep-separated)",
    )
    add_options(g)  # --bn-case-timeout, --bn-isolate: bn_behaviour.isolation


class Session:
    """What the plugin knows in one pytest process."""

    def __init__(self, config, target: Target, extra: list[dev.Deviation], layer=None):
        self.config = config
        self.target = target
        self.extra = extra
        self.layer = layer
        self.xfail = config.getoption("bn_xfail")
        #: Matrix name -> case ID -> record (controller).
        self.results: dict[str, dict[str, dict]] = {name: {} for name in MATRICES}
        #: The matrix cases this run selected (None until collected) and those that finished (controller).
        self.collected: Optional[set[str]] = None
        self.finished: set[str] = set()
        self._head: Optional[dict] = None
        self._entries: Optional[list[dev.Deviation]] = None
        self._cases: Optional[dict[str, list]] = None

    @property
    def entries(self) -> list[dev.Deviation]:
        """Known deviations that apply to the installed version: the consumer's, then the suite's."""
        if self._entries is None:
            self._entries = matrices.known_deviations(self.target, self.extra)
        return self._entries

    @property
    def cases(self) -> dict[str, list]:
        """Matrix name -> the cases this target runs (generated once; duplicate IDs refused)."""
        if self._cases is None:
            self._cases = matrices.generate(self.target)
        return self._cases

    def missing(self) -> Optional[str]:
        return self.target.missing()

    # -- collecting results (controller) --------------------------------------
    def add(self, report) -> None:
        if report.when != "call":
            return
        for key, value in report.user_properties:
            if key == CASE_KEY:  # a crash or a timeout (bn_behaviour.isolation) names its status
                status = value.get("status") or _status(report)
                self.results[value["matrix"]][value["record"]["id"]] = dict(value["record"], status=status)

    def all_results(self) -> list[dict]:
        return [case for store in self.results.values() for case in store.values()]

    def selected(self, nodeids) -> None:
        """Collection (this process's, or an xdist worker's) selected these tests."""
        self.collected = (self.collected or set()) | {c for c in map(case_id_of, nodeids) if c}

    def complete(self) -> bool:
        """Whether every matrix case this run selected finished: ran (a crash and a timeout are results too),
        or was skipped or failed in setup, so the report lacks nothing the run was asked for."""
        return self.collected is not None and self.collected <= self.finished

    def report(self) -> dict:
        return {
            **self.head(),
            "complete": self.complete(),
            **{m.cases_key: [self.results[name][k] for k in sorted(self.results[name])]
               for name, m in MATRICES.items()},
        }

    def head(self) -> dict:
        """The report's provenance, the same in every process of a run (the journal's first line)."""
        if self._head is None:
            self._head = self._provenance()
        return self._head

    def _provenance(self) -> dict:
        return {
            "format": FORMAT,
            "suite": {"name": "bn-behaviour", "version": __version__, "git_revision": git_revision(),
                      "harness": HARNESS},
            "layer": describe_layer(self.layer),
            "options": {
                "bn_target": self.target.name,
                "bn_layer": self.config.getoption("bn_layer"),
                "bn_deviations": [os.path.basename(p) for p in self.config.getoption("bn_deviations")],
                "bn_xfail": self.xfail,
            },
            "target": {
                "name": self.target.name,
                "description": self.target.description,
                "rule": self.target.rule,
                "versions": self.target.versions(),
                "variance_convention": "bessel" if self.target.bessel else "biased",
                "backend": self.target.env.get("KERAS_BACKEND"),
            },
        }


def git_revision() -> Optional[str]:
    """The checkout's commit when the suite runs from a git checkout, else None."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _status(report) -> str:
    if hasattr(report, "wasxfail") and report.skipped:
        return "deviation"
    if report.skipped:
        return "skipped"
    return "pass" if report.passed else "fail"


def pytest_configure(config):
    name = config.getoption("bn_target")
    explicit = bool(name or os.environ.get("BN_BEHAVIOUR_TARGET"))
    try:
        target = require(name) if explicit else resolve(name)
    except TargetError as e:
        raise pytest.UsageError(f"--bn-target: {e}") from None
    try:
        extra = [d for path in config.getoption("bn_deviations") for d in matrices.load_deviations(path)]
    except dev.DeviationFileError as e:
        raise pytest.UsageError(f"--bn-deviations: {e}") from None
    target.activate()
    layer = None
    spec = config.getoption("bn_layer")
    if spec:
        if target.layer_class is None:
            usable = ", ".join(n for n, t in TARGETS.items() if t.layer_class)
            raise pytest.UsageError(f"--bn-layer applies to {usable}, not {target.name}")
        try:
            layer = load_layer(spec, parse_kwargs(config.getoption("bn_layer_kwargs")))
        except LayerSpecError as e:
            raise pytest.UsageError(str(e)) from None
    session = config.stash[STASH] = Session(config, target, extra, layer)
    config.pluginmanager.register(Guard(config, lambda: session.entries, target.load_driver), "bn_behaviour_guard")
    config.addinivalue_line("markers", "bn_scenario: a case of the BatchNormalization matrix")


def _session(config) -> Session:
    return config.stash[STASH]


def scenario_param(session: Session, case):
    """``pytest.param`` for one case of any matrix: its ID, and an xfail (strict unless --bn-xfail
    says otherwise) or a skip when a known deviation matches it."""
    entry = dev.find(session.entries, case)
    marks = [pytest.mark.bn_scenario]
    if entry is not None:
        reason = f"known deviation {entry.label()}"
        if session.xfail == "skip":
            marks.append(pytest.mark.skip(reason=reason))
        else:
            strict = session.xfail == "strict"
            marks.append(pytest.mark.xfail(reason=reason, strict=strict, raises=DeviationObserved))
    return pytest.param(case, id=case.id, marks=marks)


def _skip_reason(session: Session, matrix) -> Optional[str]:
    why = session.missing()
    if why:
        return f"target {session.target.name} not installed: {why}"
    return session.target.lacks(matrix.name) or (matrix.layer_note if session.layer is not None else None)


def pytest_collection_modifyitems(config, items):
    """``--bn-ids FILE``: keep only the matrix cases the file lists (every process collects the same)."""
    path = config.getoption("bn_ids")
    if not path:
        return
    try:
        with open(path) as f:
            lines = [(n, line.strip()) for n, line in enumerate(f, 1) if line.strip() and not line.startswith("#")]
    except OSError as e:
        raise pytest.UsageError(f"--bn-ids: {e}") from None
    for n, case_id in lines:  # a typo would select nothing, silently
        try:
            matrices.case_from_id(case_id)
        except ValueError as e:
            raise pytest.UsageError(f"--bn-ids {path}: line {n}: {e}") from None
    ids = {case_id for _, case_id in lines}
    listed = {item.nodeid: case_id_of(item.nodeid) in ids for item in items}
    config.hook.pytest_deselected(items=[item for item in items if not listed[item.nodeid]])
    items[:] = [item for item in items if listed[item.nodeid]]


def pytest_generate_tests(metafunc):
    session = _session(metafunc.config)
    for matrix in MATRICES.values():
        if matrix.argname not in metafunc.fixturenames:
            continue
        why = _skip_reason(session, matrix)
        if why:
            skip = pytest.param(None, id=matrix.skipped_id, marks=pytest.mark.skip(reason=why))
            metafunc.parametrize(matrix.argname, [skip])
        else:
            metafunc.parametrize(matrix.argname, [scenario_param(session, c) for c in session.cases[matrix.name]])
    if "bn_deviation" in metafunc.fixturenames:
        entries = session.entries
        metafunc.parametrize("bn_deviation", entries, ids=[d.id for d in entries] or None)


@pytest.fixture
def bn_target(request) -> Target:
    """The target under test."""
    return _session(request.config).target


@pytest.fixture
def bn_layer(request):
    """The layer class under test (None: the target's genuine BatchNormalization)."""
    return _session(request.config).layer


@pytest.fixture
def bn_deviations(request) -> list:
    """The target's known deviations that apply to the installed version."""
    return _session(request.config).entries


@pytest.fixture
def bn_cases(request) -> dict[str, list]:
    """Matrix name -> every case the target runs."""
    return _session(request.config).cases


@pytest.fixture
def bn_check(request):
    """``bn_check(case)``: observe a case of any matrix on the target, attach its record to the test
    report (it travels to the xdist controller and into ``--bn-report``), and judge it: pass, the
    known deviation seen exactly (strict xfail), or fail with the broken rule and a repro."""
    session = _session(request.config)

    def check(case):
        __tracebackhide__ = True
        matrix = matrix_of(case)
        layer = None if matrix.layer_note else session.layer
        result = matrix.observe(session.target, case, layer)
        entry = dev.find(session.entries, case)
        record = {**result.record(), "deviation": entry.id if entry else None,
                  "deviation_source": entry.source if entry else None}
        request.node.user_properties.append((CASE_KEY, {"matrix": matrix.name, "record": record}))
        judge(result, entry)
        return result

    return check


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    config = session.config
    controller = not hasattr(config, "workerinput")
    journal = config.getoption("bn_journal")
    if journal:  # every process: the controller appends, a process that runs tests replays
        config.pluginmanager.register(Journal(config, journal, _session(config).head(), controller),
                                      "bn_behaviour_journal")
    if controller:
        config.pluginmanager.register(_Collector(_session(config)), "bn_behaviour_collector")


class _Collector:
    def __init__(self, session: Session):
        self.session = session
        path = session.config.getoption("bn_progress")
        self.progress = open(path, "a", buffering=1) if path else None  # one line per case, flushed as written

    def pytest_collection_finish(self, session):
        self.session.selected(item.nodeid for item in session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        self.session.selected(ids)

    def pytest_runtest_logreport(self, report):
        self.session.add(report)
        if report.when == "call" or report.when == "setup" and not report.passed:
            case_id = case_id_of(report.nodeid)  # a matrix case that ran, or was skipped or errored in setup
            if case_id:
                self.session.finished.add(case_id)
                if self.progress is not None:
                    self.progress.write(case_id + "\n")

    def pytest_sessionfinish(self, session):
        if self.progress is not None:
            self.progress.close()
        path = session.config.getoption("bn_report")
        if path and self.session.all_results():
            with PHASES("report"):
                write_whole(path, json.dumps(self.session.report(), indent=1, sort_keys=True) + "\n")

    def pytest_terminal_summary(self, terminalreporter):
        write_summary(terminalreporter, self.session)
        if self.session.all_results() and not self.session.complete():
            terminalreporter.write_line("bn-behaviour: the run stopped before every selected case finished (the "
                                        "report says complete: false)", yellow=True)
