"""Measure what drives each shipped scenario's answer: quoted preferences, judgements or knobs.

Prints, per scenario, the grouped total Sobol' indices of the probability of agreement by the
horizon (sim.drivers), on a larger design than `negsim run --drivers` uses. The README quotes
its output.

    .venv/bin/python scripts/drivers.py [--rows 128] [--runs 32] [--seed 1] [--per-knob] [SCENARIO ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sim.drivers import OUTCOMES, STRUCTURAL_RANGES, drivers, drivers_text
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [ROOT / "scenarios" / "alaska_2025.yaml", ROOT / "scenarios" / "peace_plan_nov_2025.yaml"]


def main() -> None:
    """Print the drivers section of every scenario given (default: the shipped ones)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="*", type=Path, default=SHIPPED)
    parser.add_argument("--rows", type=int, default=128, help="input vectors per matrix")
    parser.add_argument("--runs", type=int, default=32, help="runs per input vector (chance)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--outcome", choices=sorted(OUTCOMES), default="signed",
                        help="what counts as a yes: signed (agreement or ceasefire) or full agreement")
    parser.add_argument("--per-knob", action="store_true",
                        help="also the total index of each structural knob varied alone")
    args = parser.parse_args()
    for path in args.scenario:
        scenario = load_scenario(path).scenario
        start = time.perf_counter()
        result = drivers(scenario, rows=args.rows, runs_per_row=args.runs, seed=args.seed, outcome=args.outcome)
        print(f"{path.name}: {OUTCOMES[args.outcome]} {result.rate:.1%} over the design "
              f"({time.perf_counter() - start:.0f} s)")
        print(drivers_text(result))
        if args.per_knob:
            for knob in STRUCTURAL_RANGES:
                alone = drivers(scenario, rows=args.rows, runs_per_row=args.runs, seed=args.seed,
                                knobs=(knob,), outcome=args.outcome)
                lo, hi = alone.low["structural knobs"], alone.high["structural knobs"]
                print(f"  {knob:<20} alone {alone.total['structural knobs']:5.2f}  ({lo:.2f}-{hi:.2f})")
        print()


if __name__ == "__main__":
    main()
