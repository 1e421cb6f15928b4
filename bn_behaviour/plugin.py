"""The pytest plugin: options, matrix parametrisation, report and summary.

Loaded through the ``pytest11`` entry point, so it must stay light: it
imports no framework (targets are imported when a matrix test runs).
Per-case data travels on the test report (``user_properties``), so the
controller sees it under xdist exactly as without it.
"""

from __future__ import annotations

import json
import os
from typing import Optional

import pytest

from . import deviations as dev
from .scenario import Scenario
from .layer import LayerSpecError
from .layer import describe as describe_layer
from .layer import load as load_layer
from .targets import Target, TargetError, require, resolve

CASE_KEY = "bn_behaviour_case"
SETTING_KEY = "bn_behaviour_setting_case"
WORKFLOW_KEY = "bn_behaviour_workflow_case"
XFAIL_MODES = ("strict", "lenient", "skip")
#: Targets whose layer class --bn-layer can replace.
LAYER_TARGETS = ("keras-tensorflow", "keras-jax", "keras-torch", "tf_keras")
STASH = pytest.StashKey["Session"]()


def pytest_addoption(parser):
    g = parser.getgroup("bn-behaviour", "BatchNormalization behaviour matrix")
    g.addoption(
        "--bn-target",
        default=None,
        help="target to run (env BN_BEHAVIOUR_TARGET; default keras-$KERAS_BACKEND, "
        "KERAS_BACKEND defaulting to tensorflow)",
    )
    g.addoption(
        "--bn-deviations",
        action="append",
        default=[p for p in os.environ.get("BN_BEHAVIOUR_DEVIATIONS", "").split(os.pathsep) if p],
        metavar="FILE",
        help="extra known-deviation TOML file(s), checked before the suite's own "
        "(env BN_BEHAVIOUR_DEVIATIONS, os.pathsep-separated)",
    )
    g.addoption(
        "--bn-layer",
        default=os.environ.get("BN_BEHAVIOUR_LAYER"),
        metavar="MODULE:ATTR",
        help="BatchNormalization-compatible class to test instead of the genuine one "
        "(keras-* and tf_keras targets; env BN_BEHAVIOUR_LAYER)",
    )
    g.addoption(
        "--bn-xfail",
        default=os.environ.get("BN_BEHAVIOUR_XFAIL", "strict"),
        choices=XFAIL_MODES,
        help="known deviations: strict (default; a vanished deviation fails the run), "
        "lenient (it passes), skip (do not run them) (env BN_BEHAVIOUR_XFAIL)",
    )
    g.addoption(
        "--bn-report",
        default=os.environ.get("BN_BEHAVIOUR_REPORT"),
        metavar="PATH",
        help="write the JSON behaviour report to PATH (env BN_BEHAVIOUR_REPORT)",
    )


class Session:
    """What the plugin knows in one pytest process."""

    def __init__(self, config, target: Target, extra: list[dev.Deviation], layer=None):
        self.config = config
        self.target = target
        self.extra = extra
        self.layer = layer
        self.xfail = config.getoption("bn_xfail")
        self.cases: dict[str, dict] = {}
        self.settings_cases: dict[str, dict] = {}
        self.workflow_cases: dict[str, dict] = {}
        self._entries: Optional[list[dev.Deviation]] = None

    @property
    def entries(self) -> list[dev.Deviation]:
        """Known deviations that apply to the installed version: the consumer's, then the suite's."""
        if self._entries is None:
            own = dev.builtin(self.target.name)
            self._entries = dev.applicable(self.extra + own, self.target.version())
        return self._entries

    def missing(self) -> Optional[str]:
        return self.target.missing()

    # -- collecting results (controller) --------------------------------------
    def add(self, report) -> None:
        props = dict(report.user_properties)
        if report.when != "call":
            return
        for key, store in self.stores():
            if key in props:
                case = dict(props[key], status=_status(report))
                store[case["id"]] = case

    def stores(self) -> tuple[tuple[str, dict], ...]:
        """Each matrix's report key and its cases."""
        return ((CASE_KEY, self.cases), (SETTING_KEY, self.settings_cases), (WORKFLOW_KEY, self.workflow_cases))

    def report(self) -> dict:
        from . import __version__

        return {
            "suite": {"name": "bn-behaviour", "version": __version__, "git_revision": git_revision()},
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
            "cases": [self.cases[k] for k in sorted(self.cases)],
            "settings_cases": [self.settings_cases[k] for k in sorted(self.settings_cases)],
            "workflow_cases": [self.workflow_cases[k] for k in sorted(self.workflow_cases)],
        }


def git_revision() -> Optional[str]:
    """The checkout's commit when the suite runs from a git checkout, else None."""
    import subprocess

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
        extra = [d for path in config.getoption("bn_deviations") for d in dev.load_file(path)]
    except dev.DeviationFileError as e:
        raise pytest.UsageError(f"--bn-deviations: {e}") from None
    target.activate()
    layer = None
    spec = config.getoption("bn_layer")
    if spec:
        if target.name not in LAYER_TARGETS:
            raise pytest.UsageError(f"--bn-layer applies to {', '.join(LAYER_TARGETS)}, not {target.name}")
        try:
            layer = load_layer(spec)
        except LayerSpecError as e:
            raise pytest.UsageError(str(e)) from None
    config.stash[STASH] = Session(config, target, extra, layer)
    config.addinivalue_line("markers", "bn_scenario: a case of the BatchNormalization matrix")


def _session(config) -> Session:
    return config.stash[STASH]


def scenario_param(session: Session, s: Scenario):
    """``pytest.param`` for one scenario: its ID, and an xfail (strict unless --bn-xfail says
    otherwise) or a skip when a known deviation matches it."""
    entry = dev.find(session.entries, s)
    marks = [pytest.mark.bn_scenario]
    if entry is not None:
        from .case import DeviationObserved

        reason = f"known deviation {entry.label()}"
        if session.xfail == "skip":
            marks.append(pytest.mark.skip(reason=reason))
        else:
            strict = session.xfail == "strict"
            marks.append(pytest.mark.xfail(reason=reason, strict=strict, raises=DeviationObserved))
    return pytest.param(s, id=s.id, marks=marks)


def parametrize_cases(metafunc, argname: str, skip_reason, make_params, skipped_id: str) -> None:
    """Parametrize ``argname`` of a second matrix (fused, settings) with its cases, or with one
    skipped case saying why the target has none (``skip_reason(session)``)."""
    if argname not in metafunc.fixturenames:
        return
    session = _session(metafunc.config)
    why = skip_reason(session)
    if why:
        metafunc.parametrize(argname, [pytest.param(None, id=skipped_id, marks=pytest.mark.skip(reason=why))])
        return
    metafunc.parametrize(argname, make_params(session))


def pytest_generate_tests(metafunc):
    session = _session(metafunc.config)
    if "bn_scenario" in metafunc.fixturenames:
        why = session.missing()
        if why:
            skip = pytest.mark.skip(reason=f"target {session.target.name} not installed: {why}")
            metafunc.parametrize("bn_scenario", [pytest.param(None, id="target-not-installed", marks=skip)])
            return
        scenarios = session.target.scenarios()
        metafunc.parametrize("bn_scenario", [scenario_param(session, s) for s in scenarios])
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


def _recorder(request, key: str):
    def record(case: dict) -> None:
        request.node.user_properties.append((key, case))

    return record


@pytest.fixture
def bn_record(request):
    """Attach a case record to the test report (travels to the xdist controller)."""
    return _recorder(request, CASE_KEY)


@pytest.fixture
def bn_record_setting(request):
    """Attach a settings-matrix case record to the test report."""
    return _recorder(request, SETTING_KEY)


@pytest.fixture
def bn_record_workflow(request):
    """Attach a workflow-matrix case record to the test report."""
    return _recorder(request, WORKFLOW_KEY)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    config = session.config
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Collector(_session(config)), "bn_behaviour_collector")


class _Collector:
    def __init__(self, session: Session):
        self.session = session

    def pytest_runtest_logreport(self, report):
        self.session.add(report)

    def pytest_sessionfinish(self, session):
        path = session.config.getoption("bn_report")
        if path and any(store for _, store in self.session.stores()):
            from .timing import PHASES

            with PHASES("report"), open(path, "w") as f:
                json.dump(self.session.report(), f, indent=1, sort_keys=True)
                f.write("\n")

    def pytest_terminal_summary(self, terminalreporter):
        from .summary import write_summary

        write_summary(terminalreporter, self.session)
