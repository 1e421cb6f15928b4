"""Where the time goes: per-phase wall-clock totals, for the benchmark (bench/run.py).

Off unless ``BN_BEHAVIOUR_PHASES`` names a file prefix: then every process
(the pytest controller, each xdist worker, the bench's bare loop) adds up the
time spent in each named phase and writes ``<prefix>.<pid>.json`` at exit.
Off, a phase costs one attribute test.

>>> p = Phases()
>>> with p("build"):
...     pass
>>> p.totals is None
True
>>> p.enable()
>>> with p("build"):
...     pass
>>> sorted(p.totals), p.counts["build"]
(['build'], 1)
"""

from __future__ import annotations

import atexit
import json
import os
import time
from collections import defaultdict
from contextlib import contextmanager

ENV = "BN_BEHAVIOUR_PHASES"


class Phases:
    def __init__(self) -> None:
        self.totals: dict[str, float] | None = None
        self.counts: dict[str, int] = defaultdict(int)

    def enable(self) -> None:
        self.totals = defaultdict(float)

    @contextmanager
    def __call__(self, name: str):
        if self.totals is None:
            yield
            return
        start = time.perf_counter()
        try:
            yield
        finally:
            self.totals[name] += time.perf_counter() - start
            self.counts[name] += 1

    def dump(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump({"totals": dict(self.totals or {}), "counts": dict(self.counts)}, f)


PHASES = Phases()
if os.environ.get(ENV):
    PHASES.enable()
    atexit.register(lambda: PHASES.dump(f"{os.environ[ENV]}.{os.getpid()}.json"))
