"""How ``bn-behaviour report`` spends the cores: an estimate per target, then longest first.

Each target runs in its own pytest process with some xdist workers; a process starts as soon as
its workers' cores are free, in plan order (:func:`bn_behaviour.command.run.run_all`).  The plan
is longest-processing-time first: the targets by estimated time, most first, one worker each,
so the small ones fill the cores at the end and no core waits long for the last target; the
largest may take more workers when that ends sooner (one target far larger than the rest), and
spare cores (fewer targets than cores) go where they save the most; :func:`simulate` decides.

A target's :class:`Work` is what its last run of the same kind here took, recorded in
``timings.tsv`` beside the reports (scaled by its case count), else :data:`COSTS`: declared
seconds per case by :func:`cost_key` (the target's rule or backend), measured on this project's 2-core machine.

>>> measured = {"keras-tensorflow": 330, "tf1-keras": 370, "keras-torch": 110, "tf1": 80, "keras-jax": 300,
...             "tf_keras": 450}
>>> cost = {name: Work(10.0, seconds - 10.0) for name, seconds in measured.items()}
>>> plan = schedule(cost, "auto", 2)
>>> plan  # doctest: +NORMALIZE_WHITESPACE
[('tf_keras', 1), ('tf1-keras', 1), ('keras-tensorflow', 1), ('keras-jax', 1), ('keras-torch', 1), ('tf1', 1)]
>>> simulate(plan, cost, 2)  # the ideal is 1640 / 2 = 820 worker-seconds a core
830.0
>>> old = [("keras-tensorflow", 1), ("tf1-keras", 1), ("keras-torch", 1), ("tf1", 1), ("keras-jax", 1),
...        ("tf_keras", 2)]
>>> round(simulate(old, cost, 2))  # the previous plan: the largest last on every core
1009
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..targets import Target

#: A case takes 1 / (w * this) of its time on w > 1 xdist workers (the measured ``-n 0`` / ``-n auto``
#: ratio on 2 cores is 1.69: 0.85 a worker).
SCALING = 0.85
#: Where a report folder keeps how long each target took, per kind of run (``full``, ``quick``): one
#: tab-separated line per kind and target (not ``.json``: the reports' schema test reads those).
TIMINGS = "timings.tsv"
FIELDS = ("cases", "workers", "start", "seconds")


@dataclass(frozen=True)
class Work:
    start: float  #: seconds before the first case ends (interpreter, pytest, the framework's import), each worker
    cases: float  #: seconds of the cases on one worker, shared among the workers


@dataclass(frozen=True)
class Cost:
    start: float  #: seconds before the first case ends, each worker
    case: float  #: seconds per case, averaged over every matrix


#: Per :func:`cost_key` (a target's rule when listed, else its backend): seconds before the first case ends
#: and seconds per case, from the all-target run on a quiet machine, 2026-11-30 (`bn-behaviour report`, 428 s):
#: tf_keras 278 s for 2,060 cases, keras-tensorflow 212 s for 1,754, tf1-keras 168 s for 1,449, keras-jax
#: 148 s for 1,751, keras-torch 38 s for 1,439, tf1 7 s for 72, each on one worker.
COSTS = {
    "tensorflow": Cost(5.0, 0.125),
    "jax": Cost(4.0, 0.083),
    "torch": Cost(7.0, 0.022),
    "tf1": Cost(4.0, 0.05),
}


def cost_key(target: Target) -> str:
    """The key of :data:`COSTS` for a target: its rule when the rule has its own cost, else its backend.

    >>> from bn_behaviour.targets import TARGETS
    >>> cost_key(TARGETS["tf1"]), cost_key(TARGETS["tf1-keras"]), cost_key(TARGETS["keras-torch"])
    ('tf1', 'tensorflow', 'torch')
    """
    return target.rule if target.rule in COSTS else target.backend


def estimate(target: Target, cases: int, recorded: Optional[dict] = None) -> Work:
    """What one target's run of ``cases`` cases is expected to take: its recorded run (scaled to ``cases``),
    else the declared cost of its :func:`cost_key`.

    >>> from bn_behaviour.targets import TARGETS
    >>> estimate(TARGETS["keras-torch"], 1000)
    Work(start=7.0, cases=22.0)
    >>> estimate(TARGETS["keras-torch"], 1000, {"seconds": 60.0, "start": 25.0, "workers": 2, "cases": 500})
    Work(start=25.0, cases=119.0)
    """
    if recorded and recorded.get("cases") and recorded.get("seconds"):
        start = min(recorded.get("start") or 0.0, recorded["seconds"])
        per_worker = SCALING * recorded["workers"] if recorded["workers"] > 1 else 1.0
        return Work(start, (recorded["seconds"] - start) * per_worker * cases / recorded["cases"])
    cost = COSTS.get(cost_key(target), COSTS["tensorflow"])
    return Work(cost.start, cost.case * cases)


def wall(work: Work, workers: int) -> float:
    """Expected wall time of ``work`` on ``workers`` xdist workers.

    >>> wall(Work(10, 90), 1), wall(Work(10, 170), 2)
    (100.0, 110.0)
    """
    return float(work.start + (work.cases if workers <= 1 else work.cases / (workers * SCALING)))


def simulate(plan: list[tuple[str, int]], cost: dict[str, Work], cores: int) -> float:
    """When the last target of ``plan`` ends, each starting in order as soon as its workers' cores are free.

    >>> simulate([("a", 1), ("b", 1), ("c", 1)], {"a": Work(0, 5), "b": Work(0, 3), "c": Work(0, 2)}, 2)
    5.0
    >>> simulate([("a", 2), ("b", 1)], {"a": Work(0, 170), "b": Work(0, 10)}, 2)
    110.0
    """
    free = [0.0] * max(cores, 1)  # when each core is next free
    earliest = end = 0.0
    for name, workers in plan:
        k = min(max(workers, 1), len(free))
        free.sort()
        earliest = max(earliest, free[k - 1])  # a target waits for its cores, and the ones after it wait too
        done = earliest + wall(cost[name], k)
        free[:k] = [done] * k
        end = max(end, done)
    return end


def schedule(cost: dict[str, Work], workers: str, cores: int) -> list[tuple[str, int]]:
    """(target, xdist workers) in start order: the longest first; one worker each, the spare cores (fewer
    targets than cores) one by one to the one that would end last; the longest may take more
    workers when :func:`simulate` says the whole ends sooner.  ``workers`` other than ``auto`` is every
    target's count.

    >>> schedule({"a": Work(5, 100)}, "auto", 2)
    [('a', 2)]
    >>> schedule({"a": Work(5, 300), "b": Work(5, 100)}, "auto", 8)
    [('a', 6), ('b', 2)]
    >>> schedule({"a": Work(5, 500), "b": Work(5, 100), "c": Work(5, 100)}, "auto", 2)  # one far longer
    [('a', 2), ('b', 1), ('c', 1)]
    >>> schedule({"a": Work(0, 1), "b": Work(0, 2)}, "3", 8), schedule({}, "auto", 2)
    ([('b', 3), ('a', 3)], [])
    """
    order = sorted(cost, key=lambda n: (-wall(cost[n], 1), n))
    if workers != "auto":
        return [(n, int(workers)) for n in order]
    share = {n: 1 for n in order}
    for _ in range(cores - len(order) if order else 0):
        most = max(order, key=lambda n: wall(cost[n], share[n]))
        share[most] += 1
    plans = [[(n, share[n]) for n in order]]
    if order and len(order) >= cores:
        plans += [[(order[0], w)] + plans[0][1:] for w in range(2, cores + 1)]
    return min(plans, key=lambda p: simulate(p, cost, cores))  # the first of equals: fewer workers


def _read(out: Path) -> dict[str, dict[str, dict]]:
    """Kind -> target -> its last run, from ``out``'s timings file (empty when there is none or it is odd)."""
    runs: dict[str, dict[str, dict]] = {}
    try:
        lines = (out / TIMINGS).read_text().splitlines()[1:]
    except OSError:
        return runs
    for line in lines:
        try:
            kind, name, *numbers = line.split("\t")
            runs.setdefault(kind, {})[name] = dict(zip(FIELDS, map(float, numbers), strict=True))
        except ValueError:
            continue
    return runs


def recorded(out: Path, kind: str) -> dict[str, dict]:
    """Target -> {cases, workers, start, seconds} of its last ``kind`` run into ``out`` ({} when none)."""
    return _read(out).get(kind, {})


def record(out: Path, kind: str, runs: dict[str, dict]) -> None:
    """Add this run's {target: {cases, workers, start, seconds}} to ``out``'s timings (each target's last)."""
    data = _read(out)
    data.setdefault(kind, {}).update(runs)
    rows = [[k, name, *(f"{run[f]:g}" for f in FIELDS)] for k in sorted(data) for name, run in sorted(data[k].items())]
    (out / TIMINGS).write_text("\n".join("\t".join(row) for row in [["kind", "target", *FIELDS], *rows]) + "\n")
