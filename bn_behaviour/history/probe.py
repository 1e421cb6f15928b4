"""``python -m bn_behaviour.history.probe --target T ROW...``: the rows on the installed build, one JSON line.

What ``bn-behaviour bisect`` runs inside each throwaway environment (:mod:`.nightly`): the target's
framework is imported first (a build that does not import says so in ``error`` and is never taken
for a behaviour), then each row is observed as its matrix observes it; the line holds the versions
the target reports and, per row, its ``observed`` block (the store's form), or ``unrun`` saying why
the harness could not run it on this build.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..isolation.stdout_guard import stdout_to_stderr
from ..matrices import case_from_id, matrix_of, why_not
from ..targets import require


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def observe(target_name: str, rows: list[str]) -> dict:
    out: dict = {"versions": {}, "rows": {}}
    try:
        target = require(target_name)
        out["versions"] = target.versions()
        target.activate()
        target.load_driver()
    except Exception as e:  # noqa: BLE001  (any failure to import the build is the build's result)
        return {**out, "error": f"does not import: {_first_line(e)}"}
    for row in rows:
        case = case_from_id(row)[1]
        why = why_not(target, case)
        if why:
            out["rows"][row] = {"unrun": why}
            continue
        try:
            out["rows"][row] = {"observed": matrix_of(case).observe(target, case, None).observed}
        except Exception as e:  # noqa: BLE001  (the harness cannot drive this build: said, never a behaviour)
            out["rows"][row] = {"unrun": _first_line(e)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bn_behaviour.history.probe", description=__doc__.splitlines()[0])
    p.add_argument("--target", required=True)
    p.add_argument("rows", nargs="+")
    args = p.parse_args(argv)
    with stdout_to_stderr():
        out = observe(args.target, args.rows)
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
