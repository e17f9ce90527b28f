"""Soak the security-group property: many more scenarios than the test suite.

Runs the property of ``tests/neutron_sg/test_property.py`` (neutron's
semantics, by a reference written from neutron's documentation, agree with
the Hyper-V ACLs ``port_security`` produces, except for documented narrower
deviations; never wider) on ``--cases`` scenarios, and prints one JSON
object: ``cases``, ``packets``, ``failures`` (must be 0), ``seconds``,
``seed``, the first few ``problems``, and how many packets each documented
narrowing explained.

    python benchmarks/sg_property_soak.py --cases 10000 [--seed N]

Without ``--seed`` the run is random (the seed is printed so a failure can
be replayed); with it, the run is reproducible.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from tests.neutron_sg.property import Outcome, Scenario, check, describe, scenarios  # noqa: E402


def soak(cases: int, run_seed: int) -> dict[str, Any]:
    """Run *cases* scenarios; collect failures instead of stopping."""
    seen = Outcome()
    counted = {"cases": 0, "failed": 0}
    examples: list[str] = []

    @seed(run_seed)
    @settings(max_examples=cases, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(scenarios())
    def one(scenario: Scenario) -> None:
        counted["cases"] += 1
        before = len(seen.problems)
        check(scenario, seen)
        if len(seen.problems) > before:
            counted["failed"] += 1
            if len(examples) < 3:
                examples.append("\n".join(seen.problems[before:]) + "\n" + describe(scenario))

    start = time.monotonic()
    one()
    return {"cases": counted["cases"], "packets": seen.packets, "failures": counted["failed"],
            "seconds": round(time.monotonic() - start, 2), "seed": run_seed,
            "problems": examples, "narrowings": dict(seen.narrowings.most_common())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    run_seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(json.dumps(soak(args.cases, run_seed)))


if __name__ == "__main__":
    main()
