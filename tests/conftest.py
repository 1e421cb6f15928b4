"""Self-tests' conftest: keep Keras out of doctest collection, print the mutation kill table, and
give the tests that start other processes the environment of a user's shell (``clean_env``).

``mutants.py`` imports Keras at import time (only tests/test_mutation.py's
fresh TensorFlow process imports it).  The kill table travels on the test
report (``user_properties``), so the controller prints it under xdist too.
"""

import os

import pytest

from bn_behaviour.targets import TARGETS

collect_ignore = ["mutants.py", "faulty_layers.py"]
KEY = "bn_mutation"  # tests/test_mutation.py records its table under this key


class _KillTable:
    def __init__(self):
        self.tables = []

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            self.tables += [value for key, value in report.user_properties if key == KEY]

    def pytest_terminal_summary(self, terminalreporter):
        for table in self.tables:
            terminalreporter.section(f"mutation kill rate: {table['kill_rate']} mutants caught")
            for r in table["rows"]:
                mark = "caught" if r["caught"] else "MISSED"
                violated = ",".join(r["violated"]) or "-"
                terminalreporter.write_line(
                    f"{mark:6s} {r['mutant']:26s} breaks {r['breaks']:12s} violated {violated:38s} {r['first']}"
                )


def pytest_configure(config):
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(_KillTable(), "bn_mutation_kill_table")


#: Every variable a target sets (KERAS_BACKEND, TF_USE_LEGACY_KERAS, TF_CPP_MIN_LOG_LEVEL, JAX's cache).
TARGET_VARIABLES = sorted({k for t in TARGETS.values() for k in t.env})


@pytest.fixture
def clean_env(monkeypatch):
    """For a test that starts another process: no ``BN_BEHAVIOUR_*`` variable and none a target sets.

    This pytest process ran with some target (``--bn-target``, the default), whose variables the
    plugin put in place and every child would inherit; the plugin refuses a target that conflicts
    with them (``docs/vendoring.md``).  Removed by prefix, so a new option's variable is covered.
    Returns ``monkeypatch`` for the test's own variables."""
    for name in [*TARGET_VARIABLES, *(k for k in os.environ if k.startswith("BN_BEHAVIOUR_"))]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch
