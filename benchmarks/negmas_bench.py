"""The benchmark negotiation in NegMAS: run under the NegMAS interpreter, not the project's.

    .venv-negmas/bin/python benchmarks/negmas_bench.py SPEC.json [--mode fresh|reused] [--negotiations N]

`benchmarks/run.py` writes SPEC.json (the issues, the parties' concession curves, and the
utilities of every negotiation, exactly as negsim sampled them for its runs 0..N-1) and
runs this script as a subprocess; it prints one JSON object on stdout. It imports neither
`sim` nor anything outside the standard library and NegMAS, so NegMAS never has to be
installed next to the simulator.

The negotiation (NegMAS 0.16 API):
    issues      `make_issue([option ids], name=issue id)` for every issue of the spec
    mechanism   `SAOMechanism(issues=..., n_steps=100)`: stacked alternating offers; one
                step is one round in which every negotiator, in turn, accepts the standing
                offer or replaces it with its own (so up to 4 offers a step with 4 parties)
    utilities   `LinearAdditiveUtilityFunction(values=[{option: value}] per issue,
                weights=[w_i], outcome_space=mechanism.outcome_space, reserved_value=r)`:
                u(d) = sum_i w_i v_i(d_i), the same normalised weights, values and
                reservation value negsim used for that run
    strategies  `AspirationNegotiator(aspiration_type="boulware" | "linear")`: time-based
                concession on a*(t) = 1 - t**e (e = 4 for boulware, 1 for linear) between the
                best outcome and the reservation value, offering the outcome just above the
                aspiration level and accepting offers at or above it

Modes:
    fresh   every negotiation gets new utility-function objects (negotiation k of the spec),
            so every negotiator builds its utility inverter from scratch: NegMAS's default
            (`AdaptiveInverseUtilityFunction`, i.e. presorting for spaces up to 10**6
            outcomes) evaluates all 248,832 outcomes in Python and sorts them, per negotiator
            and negotiation. This is the cost of "fresh utilities per negotiation", and the
            comparison with negsim's Monte Carlo runs (which sample fresh utilities every run).
    reused  every negotiation uses the same four utility functions (negotiation 0 of the
            spec) and the inverters built for the first negotiation are handed to the later
            ones (through AspirationNegotiator's `ufun_inverter` factory), so only the
            protocol and the strategies cost time. The first negotiation (which builds the
            inverters) is timed separately as the warm-up.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings


def load_spec(path: str) -> dict:
    """The benchmark negotiation as written by benchmarks/run.py."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def main(argv: list[str] | None = None) -> int:
    """Run the negotiations and print one JSON object with the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", help="JSON written by benchmarks/run.py")
    parser.add_argument("--mode", choices=("fresh", "reused"), default="fresh")
    parser.add_argument("--negotiations", type=int, default=None,
                        help="how many to run (default: every negotiation in the spec)")
    args = parser.parse_args(argv)

    t_import = time.perf_counter()
    import negmas
    from negmas import AspirationNegotiator, SAOMechanism, make_issue
    from negmas.preferences import DefaultInverseUtilityFunction, LinearAdditiveUtilityFunction

    t_import = time.perf_counter() - t_import
    warnings.simplefilter("ignore")  # NegMAS warns that inverting a 248,832-outcome ufun is slow

    spec = load_spec(args.spec)
    issue_ids = [i["id"] for i in spec["issues"]]
    option_ids = [i["options"] for i in spec["issues"]]
    issues = [make_issue(list(opts), name=iid) for iid, opts in zip(issue_ids, option_ids)]
    curves = [p["negmas_aspiration"] for p in spec["parties"]]
    n_steps = int(spec["n_steps"])
    available = spec["negotiations"]
    count = args.negotiations or len(available)
    if args.mode == "fresh" and count > len(available):
        parser.error(f"the spec holds only {len(available)} negotiations")

    clock = {"inverter": 0.0}
    cache: dict[int, object] = {}

    def inverter(ufun):
        """NegMAS's default inverter, built and initialised here so its cost is measured (and, when reused, kept)."""
        if args.mode == "reused" and id(ufun) in cache:
            return cache[id(ufun)]
        inv = DefaultInverseUtilityFunction(ufun)
        start = time.perf_counter()
        inv.init()
        clock["inverter"] += time.perf_counter() - start
        if args.mode == "reused":
            cache[id(ufun)] = inv
        return inv

    def ufuns(neg: dict, outcome_space) -> list:
        out = []
        for a in range(len(curves)):
            values = [{o: float(v) for o, v in zip(opts, neg["values"][a][i])} for i, opts in enumerate(option_ids)]
            out.append(LinearAdditiveUtilityFunction(values, weights=[float(w) for w in neg["weights"][a]],
                                                     outcome_space=outcome_space,
                                                     reserved_value=float(neg["reservation"][a])))
        return out

    def negotiate(k: int, shared: list | None) -> dict:
        start = time.perf_counter()
        inv_before = clock["inverter"]
        mechanism = SAOMechanism(issues=issues, n_steps=n_steps)
        fns = shared if shared is not None else ufuns(available[k], mechanism.outcome_space)
        for a, (fn, curve) in enumerate(zip(fns, curves)):
            mechanism.add(AspirationNegotiator(name=f"p{a}", aspiration_type=curve, ufun_inverter=inverter), ufun=fn)
        state = mechanism.run()
        elapsed = time.perf_counter() - start
        agreement = state.agreement
        return {
            "seconds": elapsed,
            "inverter_seconds": clock["inverter"] - inv_before,
            "agreement": agreement is not None,
            "step": int(state.step),
            "deal": None if agreement is None else [option_ids[i].index(v) for i, v in enumerate(agreement)],
            "utilities": None if agreement is None else [float(fn(agreement)) for fn in fns],
        }

    results = []
    warmup = None
    if args.mode == "fresh":
        for k in range(count):
            results.append(negotiate(k, None))
    else:
        shared = ufuns(available[0], SAOMechanism(issues=issues, n_steps=n_steps).outcome_space)
        warmup = negotiate(0, shared)
        for _ in range(count):
            results.append(negotiate(0, shared))
    total = sum(r["seconds"] for r in results)
    print(json.dumps({
        "negmas_version": negmas.__version__,
        "python": platform.python_version(),
        "mode": args.mode,
        "import_seconds": t_import,
        "negotiations": len(results),
        "seconds": total,
        "per_second": len(results) / total if total > 0 else float("inf"),
        "inverter_seconds": sum(r["inverter_seconds"] for r in results),
        "warmup": warmup,
        "results": results,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
