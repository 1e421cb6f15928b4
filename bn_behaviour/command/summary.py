"""The behaviour summary printed at the end of a pytest run."""

from __future__ import annotations

from collections import Counter

from ..matrices import MATRICES, case_from_id
from ..rules.deviations import find
from ..targets.layer import describe

#: Every status, in the order counts list them.
STATUSES = ("pass", "deviation", "fail", "skipped", "crash", "timeout")
#: A case that gave no result (``bn_behaviour.isolation``): its process died, or it ran out of time.
#: Counted only when they occur, so the counts of a run without them read as they always did.
FAULTS = ("crash", "timeout")
#: How many of them the summary names.
SHOWN = 20


def status_counts(cases) -> dict[str, int]:
    """
    >>> status_counts([{"status": "pass"}, {"status": "pass"}, {"status": "fail"}])
    {'pass': 2, 'deviation': 0, 'fail': 1, 'skipped': 0}
    >>> status_counts([{"status": "pass"}, {"status": "crash"}])
    {'pass': 1, 'deviation': 0, 'fail': 0, 'skipped': 0, 'crash': 1}
    """
    c = Counter(case["status"] for case in cases)
    return {k: c.get(k, 0) for k in STATUSES if k not in FAULTS or c.get(k)}


def write_summary(tr, session) -> None:
    cases = session.all_results()
    if not cases:
        return
    tr.section(f"bn-behaviour summary: {session.target.name}", sep="=")
    versions = ", ".join(f"{k} {v}" for k, v in session.target.versions().items())
    tr.write_line(f"{session.target.description} ({versions}); layer under test: {describe(session.layer)}")
    for name, m in MATRICES.items():
        group = list(session.results[name].values())
        if group:
            counts = status_counts(group)
            tr.write_line(f"{len(group)} {m.label}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    faults = [c for c in cases if c["status"] in FAULTS]
    if faults:
        tr.write_line(f"cases that gave no result ({len(faults)}):", red=True)
        for c in faults[:SHOWN]:
            tr.write_line(f"  {c['id']}: {c['observed'].get('error')}")
        if len(faults) > SHOWN:
            tr.write_line(f"  and {len(faults) - SHOWN} more (the report lists them)")
    claimed = {case["id"]: find(session.entries, case_from_id(case["id"])[1]) for case in cases}
    used = Counter(claimed[c["id"]].id for c in cases if c["status"] == "deviation" and claimed[c["id"]])
    unused = [d.id for d in session.entries if all(e is not d for e in claimed.values())]
    if unused:
        tr.write_line(f"known deviations matching no collected case: {', '.join(unused)}")
    if used:
        tr.write_line("known deviations observed:")
        by_id = {d.id: d for d in session.entries}
        for dev_id, n in sorted(used.items()):
            d = by_id.get(dev_id)
            tr.write_line(f"  {dev_id} ({n} cases): {d.reason if d else ''} <{d.source if d else ''}>")
