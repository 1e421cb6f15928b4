"""Where the time goes: per-phase wall-clock totals, for the benchmark (bench/run.py).

Off unless ``BN_BEHAVIOUR_PHASES`` names a file prefix: then every process
(the pytest controller, each xdist worker, the bench's bare loop) adds up the
time spent in each named phase and writes ``<prefix>.<pid>.json`` at exit.
Off, a phase costs two attribute tests.  Whether on or off, ``watch`` (when
set) is told each phase's name as it is entered and left
(``watch(name, entering)``): ``bn_behaviour.isolation`` notes it, so a case
that crashes or hangs is reported with the phase it reached.

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
from typing import Callable, Optional

ENV = "BN_BEHAVIOUR_PHASES"


class Phases:
    def __init__(self) -> None:
        self.totals: dict[str, float] | None = None
        self.counts: dict[str, int] = defaultdict(int)
        #: Told each phase entered and left, ``watch(name, entering)`` (None: nobody listens).
        self.watch: Optional[Callable[[str, bool], None]] = None

    def enable(self) -> None:
        self.totals = defaultdict(float)

    @contextmanager
    def __call__(self, name: str):
        watch = self.watch
        if watch is not None:
            watch(name, True)
        start = None if self.totals is None else time.perf_counter()
        try:
            yield
        finally:
            if start is not None:
                self.totals[name] += time.perf_counter() - start
                self.counts[name] += 1
            if watch is not None:
                watch(name, False)

    def dump(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump({"totals": dict(self.totals or {}), "counts": dict(self.counts)}, f)


PHASES = Phases()
if os.environ.get(ENV):
    PHASES.enable()
    atexit.register(lambda: PHASES.dump(f"{os.environ[ENV]}.{os.getpid()}.json"))
