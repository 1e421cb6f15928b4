"""The bare baseline: the matrix's framework work for some scenarios, without pytest or the suite.

For each scenario: clear the session, build the layer and its model, compile
or trace, warm up and make the change at ``when`` (the driver's ordering), run
the observed path and read the variables back; no classification, no rule, no
deviation lookup, no report.  This is the floor the suite is measured against
(bench/run.py).  Phase totals are written when ``BN_BEHAVIOUR_PHASES`` is set.

    python bench/baseline.py --target keras-tensorflow --ids IDS_FILE
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", default="keras-tensorflow")
    p.add_argument("--ids", required=True, help="file with one scenario ID per line")
    args = p.parse_args()
    start = time.perf_counter()
    from bn_behaviour.cases.scenario import Scenario, data
    from bn_behaviour.targets import require
    from bn_behaviour.targets.common import Setup

    target = require(args.target)
    driver = target.load_driver()
    scenarios = [Scenario.from_id(i) for i in Path(args.ids).read_text().split()]
    for s in scenarios:
        driver.run(s, Setup(data=data(s)))  # the main matrix's: each scenario's own batches, the starting values
    print(f"{len(scenarios)} scenarios in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
