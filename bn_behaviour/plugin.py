"""The pytest plugin: options, matrix parametrisation, report and summary.

Loaded through the ``pytest11`` entry point, so it is a guest in every pytest
run of the environment: it imports no framework (a target's driver is
imported when a case runs), and a run that asks for no bn case (:func:`asked`)
and collects none is left as it was: no environment variable, folder, file,
signal handler or terminal line (``docs/vendoring.md``).
Every matrix of ``bn_behaviour.matrices`` is parametrised, run and reported
the same way: a test takes its matrix's argument and calls ``bn_check``.
Per-case data travels on the test report (``user_properties``), so the
controller sees it under xdist exactly as without it.
"""

from __future__ import annotations

import os
from typing import Optional

import pytest

from . import __version__, matrices
from .command.collector import Collector, git_revision, status_of
from .command.journal import Journal
from .guest import FIXTURES, asked
from .isolation.faults import case_id_of
from .isolation.guard import CASE_KEY, Guard, add_options
from .matrices import MATRICES, matrix_of
from .report.format import FORMAT
from .rules import deviations as dev
from .rules.result import DeviationObserved, judge
from .targets import TARGETS, VARIANCES, Target, TargetError, require, resolve
from .targets.layer import LayerSpecError, parse_kwargs
from .targets.layer import describe as describe_layer
from .targets.layer import load as load_layer
from .targets.network import HARNESS

XFAIL_MODES = ("strict", "lenient", "skip")
#: Options with a fixed set of values.
CHOICES = {"--bn-xfail": XFAIL_MODES, "--bn-variance": tuple(VARIANCES)}
STASH = pytest.StashKey["Session"]()
#: Option -> (environment variable, help); each option can be set from CI files one cannot change.
OPTIONS = {
    "--bn-target": ("BN_BEHAVIOUR_TARGET", "target to run (default keras-$KERAS_BACKEND, KERAS_BACKEND "
                    "defaulting to tensorflow)"),
    "--bn-layer": ("BN_BEHAVIOUR_LAYER", "MODULE:ATTR of a BatchNormalization-compatible class to test instead "
                   "of the genuine one (targets with a layer class), or of a factory returning one"),
    "--bn-layer-kwargs": ("BN_BEHAVIOUR_LAYER_KWARGS", "JSON object of constructor arguments merged into every "
                          "construction of the --bn-layer class, e.g. '{\"freeze\": true}'"),
    "--bn-variance": ("BN_BEHAVIOUR_VARIANCE", "the moving-variance update of the --bn-layer class: biased (Keras "
                      "3's) or bessel (the unbiased batch variance: PyTorch's running_var, TF1's); default: the "
                      "target's"),
    "--bn-xfail": ("BN_BEHAVIOUR_XFAIL", "known deviations: strict (default; a vanished deviation fails the "
                   "run), lenient (it passes), skip (do not run them)"),
    "--bn-report": ("BN_BEHAVIOUR_REPORT", "write the JSON behaviour report to PATH"),
    "--bn-ids": ("BN_BEHAVIOUR_IDS", "run only the matrix cases whose IDs FILE lists, one a line; deselect every "
                 "other test (bn-behaviour report --quick)"),
    "--bn-progress": ("BN_BEHAVIOUR_PROGRESS", "append the ID of each finished matrix case to PATH, one a line "
                      "(bn-behaviour report's progress)"),
    "--bn-matrices": ("BN_BEHAVIOUR_MATRICES", "comma-separated matrices to run, or 'all' (default: every matrix "
                      "but the opt-in ones, " + ", ".join(m.name for m in MATRICES.values() if m.opt_in)
                      + "; bn-behaviour report runs all)"),
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
        g.addoption(option, default=default, help=f"{text} (env {env})", choices=CHOICES.get(option))
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
    """What the plugin knows in one pytest process.  It does nothing until bn cases are asked for
    (:func:`asked`) or collected: then :meth:`start` puts the target's environment in place."""

    def __init__(self, config):
        self.config = config
        self.started = False
        self._target: Optional[Target] = None
        self.extra: list[dev.Deviation] = []
        self.layer = None
        self.xfail = config.getoption("bn_xfail")
        #: Matrix name -> case ID -> record (controller).
        self.results: dict[str, dict[str, dict]] = {name: {} for name in MATRICES}
        #: The matrix cases this run selected (None until collected) and those that finished (controller).
        self.collected: Optional[set[str]] = None
        self.finished: set[str] = set()
        self._head: Optional[dict] = None
        self._entries: Optional[list[dev.Deviation]] = None
        self._cases: Optional[dict[str, list]] = None
        #: Matrix name -> every case the target's matrix holds, and why its opt-in cases were left out of this
        #: default run -> how many.
        self.generated: dict[str, list] = {}
        self.left_out: dict[str, dict[str, int]] = {}
        self._matrices: Optional[list[str]] = None

    def _target_error(self, e: TargetError) -> pytest.UsageError:
        """A TargetError as a usage error saying how the target was chosen (named, or the default)."""
        if self.config.getoption("bn_target") or os.environ.get("BN_BEHAVIOUR_TARGET"):
            return pytest.UsageError(f"--bn-target: {e}")
        return pytest.UsageError(f"--bn-target not given (default keras-$KERAS_BACKEND): {e}")

    @property
    def target(self) -> Target:
        """The target (resolved once, with the consumer's deviation files; bad ones are usage errors)."""
        if self._target is None:
            config = self.config
            name = config.getoption("bn_target")
            try:
                target = require(name) if name or os.environ.get("BN_BEHAVIOUR_TARGET") else resolve(name)
            except TargetError as e:
                raise self._target_error(e) from None
            try:
                self.extra = [d for path in config.getoption("bn_deviations") for d in matrices.load_deviations(path)]
            except dev.DeviationFileError as e:
                raise pytest.UsageError(f"--bn-deviations: {e}") from None
            variance = config.getoption("bn_variance")
            if variance:  # the class under test declares its own update: judged by it, fused kernel or not
                try:
                    target = target.with_variance(variance)  # the environment's value is not argparse-checked
                except TargetError as e:
                    raise pytest.UsageError(f"--bn-variance: {e}") from None
            self._target = target
        return self._target

    def start(self) -> None:
        """Once per process, before any framework import: the target's environment (never over a variable
        the user set: a conflict is a usage error), then the ``--bn-layer`` class."""
        if self.started:
            return
        target = self.target
        self.matrices  # noqa: B018  (an unknown --bn-matrices name is a usage error now, not at collection)
        try:
            target.activate()
        except TargetError as e:
            raise self._target_error(e) from None
        spec = self.config.getoption("bn_layer")
        if spec:
            if target.layer_class is None:
                usable = ", ".join(n for n, t in TARGETS.items() if t.layer_class)
                raise pytest.UsageError(f"--bn-layer applies to {usable}, not {target.name}")
            try:
                self.layer = load_layer(spec, parse_kwargs(self.config.getoption("bn_layer_kwargs")))
            except LayerSpecError as e:
                raise pytest.UsageError(str(e)) from None
        self.started = True

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
            self.generated = matrices.generate(self.target)
            self._cases, self.left_out = matrices.asked(self.config.getoption("bn_matrices"), self.generated)
        return self._cases

    @property
    def matrices(self) -> list[str]:
        """The matrices this run asks for (``--bn-matrices``; an unknown name is a usage error)."""
        if self._matrices is None:
            try:
                self._matrices = matrices.select(self.config.getoption("bn_matrices"))
            except ValueError as e:
                raise pytest.UsageError(f"--bn-matrices: {e}") from None
        return self._matrices

    def missing(self) -> Optional[str]:
        return self.target.missing()

    # -- collecting results (controller) --------------------------------------
    def add(self, report) -> None:
        if report.when != "call":
            return
        for key, value in report.user_properties:
            if key == CASE_KEY:  # a crash or a timeout (bn_behaviour.isolation) names its status
                status = value.get("status") or status_of(report)
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
                "bn_matrices": self.matrices,
                "bn_variance": self.config.getoption("bn_variance"),
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


def pytest_configure(config):
    """A run that asks for bn cases starts at once (before any framework import, xdist's workers too); any
    other run starts at its first bn case's collection (:func:`pytest_generate_tests`), or never."""
    session = config.stash[STASH] = Session(config)
    wanted = asked(config)
    if wanted:
        session.start()
    config.pluginmanager.register(Guard(config, lambda: session.entries, lambda: session.target.load_driver(),
                                        wanted), "bn_behaviour_guard")
    config.addinivalue_line("markers", "bn_scenario: a case of the BatchNormalization matrix")


def _session(config) -> Session:
    """The process's session, started: a problem found at collection fails that collection in one line."""
    session = config.stash[STASH]
    if not session.started:
        try:
            session.start()
        except pytest.UsageError as e:
            pytest.fail(f"bn-behaviour: {e}", pytrace=False)
    return session


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
    if matrix.name not in session.matrices:
        return (f"the {matrix.name} matrix is opt-in ({matrix.opt_in}): --bn-matrices all or {matrix.name} runs it "
                "(bn-behaviour report does)")
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
    if not FIXTURES.intersection(metafunc.fixturenames):
        return  # not a bn case: nothing is started for it
    session = _session(metafunc.config)
    for matrix in MATRICES.values():
        if matrix.argname not in metafunc.fixturenames:
            continue
        why = _skip_reason(session, matrix)
        if why:
            skip = pytest.param(None, id=matrix.skipped_id, marks=pytest.mark.skip(reason=why))
            metafunc.parametrize(matrix.argname, [skip])
        else:
            params = [scenario_param(session, c) for c in session.cases[matrix.name]]
            params += [pytest.param(None, id=f"opt-in-{i}", marks=pytest.mark.skip(
                reason=f"{n} opt-in case{'s' if n > 1 else ''} ({why}): --bn-matrices all or {matrix.name} runs "
                "them (bn-behaviour report does)")) for i, (why, n) in enumerate(session.left_out.get(
                    matrix.name, {}).items(), 1)]
            metafunc.parametrize(matrix.argname, params)
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
    """Matrix name -> every case the target's matrices hold (a default run leaves the opt-in ones out)."""
    session = _session(request.config)
    session.cases  # noqa: B018  (generates them)
    return session.generated


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
    if journal:  # every process: the controller appends, a process that runs tests replays (--bn-* asks: started)
        config.pluginmanager.register(Journal(config, journal, _session(config).head(), controller),
                                      "bn_behaviour_journal")
    if controller:
        config.pluginmanager.register(Collector(config.stash[STASH]), "bn_behaviour_collector")
