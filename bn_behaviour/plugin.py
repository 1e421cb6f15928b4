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
from .targets import Target, TargetError, require, resolve

CASE_KEY = "bn_behaviour_case"
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
        "--bn-report",
        default=os.environ.get("BN_BEHAVIOUR_REPORT"),
        metavar="PATH",
        help="write the JSON behaviour report to PATH (env BN_BEHAVIOUR_REPORT)",
    )


class Session:
    """What the plugin knows in one pytest process."""

    def __init__(self, config, target: Target, extra: list[dev.Deviation]):
        self.config = config
        self.target = target
        self.extra = extra
        self.cases: dict[str, dict] = {}
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
        if CASE_KEY not in props:
            return
        if report.when == "call":
            case = dict(props[CASE_KEY], status=_status(report))
            self.cases[case["id"]] = case

    def report(self) -> dict:
        from . import __version__

        return {
            "suite": {"name": "bn-behaviour", "version": __version__},
            "target": {
                "name": self.target.name,
                "description": self.target.description,
                "versions": self.target.versions(),
                "variance_convention": "bessel" if self.target.bessel else "biased",
                "backend": self.target.env.get("KERAS_BACKEND"),
            },
            "cases": [self.cases[k] for k in sorted(self.cases)],
        }


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
    config.stash[STASH] = Session(config, target, extra)
    config.addinivalue_line("markers", "bn_scenario: a case of the BatchNormalization matrix")


def _session(config) -> Session:
    return config.stash[STASH]


def scenario_param(session: Session, s: Scenario):
    """``pytest.param`` for one scenario: its ID, and a strict xfail when a known deviation matches it."""
    entry = dev.find(session.entries, s)
    marks = [pytest.mark.bn_scenario]
    if entry is not None:
        from .case import DeviationObserved

        marks.append(pytest.mark.xfail(reason=f"known deviation {entry.label()}", strict=True, raises=DeviationObserved))
    return pytest.param(s, id=s.id, marks=marks)


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
def bn_deviations(request) -> list:
    """The target's known deviations that apply to the installed version."""
    return _session(request.config).entries


@pytest.fixture
def bn_record(request):
    """Attach a case record to the test report (travels to the xdist controller)."""

    def record(case: dict) -> None:
        request.node.user_properties.append((CASE_KEY, case))

    return record


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
        if path and self.session.cases:
            with open(path, "w") as f:
                json.dump(self.session.report(), f, indent=1, sort_keys=True)
                f.write("\n")

    def pytest_terminal_summary(self, terminalreporter):
        from .summary import write_summary

        write_summary(terminalreporter, self.session)
