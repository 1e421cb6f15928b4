"""Self-tests' conftest: keep Keras out of doctest collection, print the mutation kill table.

``mutants.py`` imports Keras at import time (only tests/test_mutation.py's
fresh TensorFlow process imports it).  The kill table travels on the test
report (``user_properties``), so the controller prints it under xdist too.
"""

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
