"""Binary search over daily builds: for each row, the last build that behaves like ``--good`` and the first that
does not.

The builds lie between two versions whose observations are known (``--good`` and ``--bad``); a build
behaves like ``--good`` when the row's ``observed`` block is the same.  Several rows share the probes:
each probe runs every row on one build (the install and the framework's import cost more than a row),
and a group of rows is split by what the probe saw, each part searched on in its own half, so rows
that changed on the same day cost one search.  A build that does not install or import is skipped
for every row; one where the harness cannot run a row is skipped for that row; both are said, and the
window of a row spans the builds skipped inside it.

>>> builds = ["d1", "d2", "d3", "d4", "d5", "d6"]
>>> flips_at = {"a": 3, "b": 5}  # row a changes with d4, row b with d6
>>> def run(build, rows):
...     i = builds.index(build)
...     return {"rows": {r: {"observed": {"x": "new" if i >= flips_at[r] else "old"}} for r in rows}}
>>> found = search(builds, {"a": {"x": "old"}, "b": {"x": "old"}}, run)
>>> [(r, w.last_good, w.first_bad) for r, w in sorted(found.windows.items())]
[('a', 'd3', 'd4'), ('b', 'd5', 'd6')]
>>> sorted(found.probes)
['d2', 'd3', 'd4', 'd5', 'd6']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

#: What a probe returns: ``{"rows": {row: {"observed": {...}} or {"unrun": why}}}`` or ``{"error": why}``.
Run = Callable[[str, list[str]], dict]


@dataclass
class Window:
    """Where one row's observation leaves the ``--good`` one (None at an end: that end's version itself)."""

    last_good: Optional[str]
    first_bad: Optional[str]
    #: The row's observation on ``first_bad`` (None when that is the ``--bad`` end).
    observed: Optional[dict] = None
    #: Builds inside the window the row could not run on, with why.
    skipped: dict = field(default_factory=dict)


@dataclass
class Search:
    windows: dict[str, Window]
    probes: dict[str, dict]  #: build -> what its probe returned
    skipped: dict[str, str]  #: build -> why no row ran on it


def search(builds: list[str], good: dict[str, dict], run: Run, on_probe: Optional[Callable] = None,
           bad: Optional[dict[str, dict]] = None, max_probes: Optional[int] = None) -> Search:
    """Each row of ``good`` (row -> its ``--good`` observation) located among ``builds`` (oldest first), the end
    after the last build being the ``--bad`` version (which does not behave like ``--good``).

    A build where a row raises what neither end raises (``bad``: the ``--bad`` observations) is skipped for
    that row: a daily build run beside the newer end's framework can fail for that pairing alone (an old
    Keras calling what a newer JAX removed), which is no behaviour of either version.  After ``max_probes``
    probes each row keeps the window narrowed so far (a long run of builds that do not run would
    otherwise be probed one by one)."""
    rows = sorted(good)
    probes: dict[str, dict] = {}
    broken: dict[int, str] = {}  # build index -> why nothing ran there
    unrun: dict[str, dict[int, str]] = {r: {} for r in rows}
    windows: dict[str, Window] = {}
    todo = [(-1, len(builds), rows)]  # (index known like --good, index known not, rows)
    while todo:
        lo, hi, group = todo.pop()
        inside = [i for i in range(lo + 1, hi) if i not in broken and not any(i in unrun[r] for r in group)]
        if not inside or (max_probes is not None and len(probes) >= max_probes and builds[inside[len(inside) // 2]]
                          not in probes):
            for r in group:
                windows[r] = _window(builds, lo, hi, probes, r, {**broken, **unrun[r]})
            continue
        mid = inside[len(inside) // 2]
        if builds[mid] not in probes:
            probes[builds[mid]] = run(builds[mid], rows)
            if on_probe:
                on_probe(builds[mid], probes[builds[mid]])
        probe = probes[builds[mid]]
        if probe.get("error"):
            broken[mid] = probe["error"]
            todo.append((lo, hi, group))
            continue
        seen = {r: _judged(probe["rows"].get(r, {"unrun": "not run"}), good[r], (bad or {}).get(r)) for r in group}
        for r in group:
            if "unrun" in seen[r]:
                unrun[r][mid] = seen[r]["unrun"]
        same = [r for r in group if seen[r].get("observed") == good[r]]
        changed = [r for r in group if "observed" in seen[r] and seen[r]["observed"] != good[r]]
        stay = [r for r in group if "unrun" in seen[r]]
        todo += [part for part in ((mid, hi, same), (lo, mid, changed), (lo, hi, stay)) if part[2]]
    return Search(windows, probes, {builds[i]: why for i, why in broken.items()})


def _judged(seen: dict, good: dict, bad: Optional[dict]) -> dict:
    """``seen`` as the search counts it: an error neither end shows makes the row unrun on that build.

    >>> _judged({"observed": {"error": "AttributeError: x"}}, {"error": None}, {"error": None})
    {'unrun': 'raised AttributeError: x, which neither end does'}
    >>> _judged({"observed": {"error": "E"}}, {"error": None}, {"error": "E"})
    {'observed': {'error': 'E'}}
    """
    error = (seen.get("observed") or {}).get("error")
    if error and bad is not None and seen["observed"] not in (good, bad) and error not in (good.get("error"),
                                                                                             bad.get("error")):
        return {"unrun": f"raised {error}, which neither end does"}
    return seen


def _window(builds: list[str], lo: int, hi: int, probes: dict, row: str, skipped: dict[int, str]) -> Window:
    first = builds[hi] if hi < len(builds) else None
    observed = probes[first]["rows"][row]["observed"] if first else None
    return Window(builds[lo] if lo >= 0 else None, first, observed,
                  {builds[i]: why for i, why in sorted(skipped.items()) if lo < i < hi})
