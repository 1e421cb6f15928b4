"""The JSON observations do not depend on xdist, test order or the run.

A subset of keras-tensorflow cases (every model, frozen, when and path
value, including known deviations) runs five ways in fresh pytest
processes: ``-n 0``, ``-n 2``, two seeded random orders (a seeded shuffle of
the collected items, the equivalent of pytest-randomly without the
dependency), and ``-n 0`` again.  The reports' cases must be identical.
"""

import json

import pytest

from bn_behaviour.cases.scenario import generate
from bn_behaviour.targets import TARGETS

#: Starts other Python processes (a framework import each): run with `pytest -m harness`.
pytestmark = pytest.mark.harness

TARGET = "keras-tensorflow"

SHUFFLE = '''
import os, random



def pytest_collection_modifyitems(items):
    seed = os.environ.get("SHUFFLE_SEED")
    if seed:
        random.Random(int(seed)).shuffle(items)
'''


def subset():
    """Every 29th scenario: 46 cases that touch every axis value."""
    return generate()[::29]


def test_subset_covers_every_axis_value():
    from bn_behaviour.cases.scenario import AXES

    cases = subset()
    for axis, values in AXES.items():
        assert {getattr(s, axis) for s in cases} == set(values), axis


def test_observations_are_identical_across_workers_orders_and_runs(pytester, clean_env, tmp_path):
    if TARGETS[TARGET].missing():
        pytest.skip(f"{TARGET} is not installed")
    clean_env.delenv("SHUFFLE_SEED", raising=False)
    pytester.makeconftest(SHUFFLE)
    pytester.makepyfile(test_matrix="from bn_behaviour.test_behaviour import test_behaviour\n")
    ids = [f"test_matrix.py::test_behaviour[{s.id}]" for s in subset()]
    ways = {"n0": ("-n", "0"), "n2": ("-n", "2"), "order-1": ("-n", "0"), "order-2": ("-n", "0"), "again": ("-n", "0")}
    cases = {}
    for name, args in ways.items():
        if name.startswith("order-"):
            clean_env.setenv("SHUFFLE_SEED", name[-1])
        else:
            clean_env.delenv("SHUFFLE_SEED", raising=False)
        out = tmp_path / f"{name}.json"
        result = pytester.runpytest_subprocess(*ids, "-p", "no:cacheprovider", "--bn-target", TARGET,
                                               "--bn-report", str(out), *args)
        assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-2000:]
        cases[name] = json.loads(out.read_text())["cases"]
    assert len(cases["n0"]) == len(subset())
    for name, got in cases.items():
        assert got == cases["n0"], f"{name} differs from -n 0"
