"""Progress of ``bn-behaviour report`` on stderr: per target, cases done of total, elapsed, time left.

Each target's pytest process appends the ID of every finished matrix case to a file
(``--bn-progress``, written by the plugin's controller, so xdist workers' cases count too); a
:class:`Track` reads what was appended since its last look.  A :class:`Monitor` thread polls
every track and hands them to a display: rich's progress bars when stderr is a terminal
(:class:`Bars`), else plain lines (:class:`Lines`): one when a target starts and ends, and one
each 10 % or 30 s between.

>>> clock(75), clock(3725), clock(None)
('1:15', '1:02:05', '?')
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional, TextIO

#: Cases a target must finish after its first before its own pace replaces the planned estimate.
PACED = 5


def clock(seconds: Optional[float]) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour), ``?`` when unknown."""
    if seconds is None:
        return "?"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Track:
    """One target's run: its total, the cases its progress file names, when it started and ended."""

    def __init__(self, name: str, total: int, path: Path, estimate: Optional[float] = None, workers: int = 1):
        self.name, self.total, self.path, self.estimate, self.workers = name, total, Path(path), estimate, workers
        self.started: Optional[float] = None
        self.ended: Optional[float] = None
        self.error: Optional[str] = None
        self.seen: set[str] = set()
        self.first: Optional[tuple[float, int]] = None  # (when, how many) at the first look that found cases
        self._offset, self._partial = 0, ""
        self._lock = threading.Lock()  # the monitor polls while the target's own thread ends it

    @property
    def done(self) -> int:
        return min(len(self.seen), self.total)

    def start(self, now: float) -> None:
        self.started = now

    def end(self, now: float, error: Optional[str] = None) -> None:
        self.poll(now)
        self.ended, self.error = now, error

    def poll(self, now: float) -> int:
        """Read what the file gained; the number of distinct cases done (a replayed case counts once)."""
        with self._lock:
            return self._poll(now)

    def _poll(self, now: float) -> int:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return self.done
        self._offset += len(data)
        *lines, self._partial = (self._partial + data.decode(errors="replace")).split("\n")
        self.seen.update(line for line in lines if line)
        if self.first is None and self.seen:
            self.first = (now, len(self.seen))
        return self.done

    def elapsed(self, now: float) -> float:
        return ((self.ended or now) - self.started) if self.started is not None else 0.0

    def left(self, now: float) -> Optional[float]:
        """Seconds still to go: at the pace since the first finished cases once :data:`PACED` more are done
        (the first include the framework's import), else the estimate less the time spent.

        >>> t = Track("t", 100, Path("/nonexistent"), estimate=60.0)
        >>> t.left(0.0), t.start(0.0), t.left(20.0)
        (None, None, 40.0)
        >>> t.seen, t.first = {str(i) for i in range(10)}, (10.0, 2)
        >>> t.left(20.0)  # 8 cases in 10 s: 90 to go at 0.8 a second
        112.5
        """
        if self.ended is not None:
            return 0.0
        if self.started is None:
            return None
        if self.first is not None and self.done - self.first[1] >= PACED and now > self.first[0]:
            pace = (self.done - self.first[1]) / (now - self.first[0])
            return (self.total - self.done) / pace
        left = None if self.estimate is None else self.estimate - self.elapsed(now)
        return left if left is None or left > 0 else None  # over the estimate, before a pace: unknown

    def status(self, now: float) -> str:
        """What the target is doing, for a display: waiting, the times so far, or how it ended."""
        if self.started is None:
            return f"waiting (about {clock(self.estimate)} on {self.workers} worker{'s' * (self.workers > 1)})"
        if self.ended is not None:
            return f"{'failed' if self.error else 'done'} in {clock(self.elapsed(now))}"
        left = self.left(now)
        return f"{clock(self.elapsed(now))} elapsed" + ("" if left is None else f", about {clock(left)} left")

    def line(self, now: float) -> str:
        """One plain line: ``name: done/total cases (pct), status``."""
        pct = 100 * self.done // self.total if self.total else 100
        text = f"{self.name}: {self.done}/{self.total} cases ({pct}%), {self.status(now)}"
        return text + (f": {self.error}" if self.error else "")


class Lines:
    """Plain progress lines on a stream that is not a terminal: a target's start and end, and between them a
    line each ``step`` of its cases (``gap`` seconds apart at least) or each ``every`` seconds."""

    def __init__(self, stream: TextIO, every: float = 30.0, step: float = 0.1, gap: float = 5.0):
        self.stream, self.every, self.step, self.gap = stream, every, step, gap
        self.said: dict[str, tuple[float, int]] = {}  # name -> (when, step reached) of its last line
        self.closed: set[str] = set()

    def open(self, tracks: list[Track], now: float, heading: str) -> None:
        self.write(heading)

    def update(self, tracks: list[Track], now: float) -> None:
        for t in tracks:
            if t.started is None or t.name in self.closed:
                continue
            reached = int(t.done / t.total / self.step) if t.total else 0
            if t.ended is not None:
                self.closed.add(t.name)
                self.write(t.line(now))
            elif t.name not in self.said:
                self.said[t.name] = (now, reached)
                self.write(f"{t.name}: started, {t.total} cases on {t.workers} worker{'s' * (t.workers > 1)}, "
                           f"about {clock(t.estimate)}")
            elif now - self.said[t.name][0] >= (self.gap if reached > self.said[t.name][1] else self.every):
                self.said[t.name] = (now, reached)
                self.write(t.line(now))

    def close(self) -> None:
        pass

    def write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class Bars:
    """rich's progress bars on a terminal: one per target, with its cases, elapsed and left."""

    def __init__(self, stream: TextIO):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.console = Console(file=stream)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[status]}"), console=self.console, auto_refresh=False)
        self.tasks: dict[str, int] = {}

    def open(self, tracks: list[Track], now: float, heading: str) -> None:
        self.console.print(heading)
        width = max((len(t.name) for t in tracks), default=0)
        for t in tracks:
            self.tasks[t.name] = self.progress.add_task(t.name.ljust(width), total=t.total, status=t.status(now))
        self.progress.start()

    def update(self, tracks: list[Track], now: float) -> None:
        for t in tracks:
            self.progress.update(self.tasks[t.name], completed=t.done, status=t.status(now))
        self.progress.refresh()

    def close(self) -> None:
        self.progress.stop()


def display(stream: TextIO):
    """Bars on a terminal (when rich is installed), else plain lines."""
    if stream.isatty():
        try:
            return Bars(stream)
        except ImportError:  # rich comes with Keras
            pass
    return Lines(stream)


class Monitor:
    """Polls the tracks every ``interval`` seconds in a thread and updates the display, while the ``with``
    block runs the targets; a last update when it ends."""

    def __init__(self, tracks: list[Track], heading: str, stream: Optional[TextIO] = None, view=None,
                 interval: float = 0.5, now: Callable[[], float] = time.monotonic):
        self.tracks, self.heading, self.now = tracks, heading, now
        self.view = view if view is not None else display(stream or sys.stderr)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bn-behaviour-progress", daemon=True)

    def __enter__(self) -> Monitor:
        self.view.open(self.tracks, self.now(), self.heading)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.tick()
        self.view.close()

    def tick(self) -> None:
        now = self.now()
        for t in self.tracks:
            if t.started is not None and t.ended is None:
                t.poll(now)
        self.view.update(self.tracks, now)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()
