"""The job commands' arguments (`run`, `sweep`, `sensitivity`, `rerun`); kept light for `negsim --help`."""

from __future__ import annotations

import argparse

from sim import catalogue
from sim.cli.args import (
    add_engine_option,
    add_job_options,
    path_text,
    positive_int,
    seed,
    use_engine,
)
from sim.errors import UserError


def add_parsers(sub) -> None:
    """Declare `run`, `sweep` and `sensitivity`."""
    p = sub.add_parser("run", help="Monte Carlo runs of a scenario into a results folder",
                       description="Monte Carlo runs of a scenario into a results folder. Run k draws from "
                                   "SeedSequence(seed, spawn_key=(0, k)), so results do not depend on --workers, "
                                   "--chunk or --dask.")
    p.add_argument("scenario", nargs="?", help="scenario YAML file (not needed with --resume)")
    p.add_argument("--runs", type=positive_int, default=None, help="number of runs (default 1000)")
    p.add_argument("--seed", type=seed, default=None, help="master seed (default 0)")
    p.add_argument("--out", type=path_text, help="results folder (default results/<scenario>-<timestamp>)")
    p.add_argument("--plot", action="store_true", help="draw the figures into OUT/figures when done")
    p.add_argument("--drivers", action="store_true",
                   help="also estimate what drives the answer: total Sobol' indices of quoted preferences, "
                        "judgements and structural knobs on agreement by the horizon (a few seconds; "
                        "written to drivers.json)")
    p.add_argument("--trace", type=seed, metavar="RUN_ID",
                   help="print run RUN_ID's story round by round (simulated alone; nothing is written)")
    p.add_argument("--protocol", choices=catalogue.protocol_names(),
                   help="negotiate under this protocol instead of the scenario's (same as --set protocol.kind=...)")
    p.add_argument("--set", action="append", metavar="PATH=VALUE", default=None,
                   help="override a scenario field by dotted path, e.g. protocol.max_rounds=30 (repeatable)")
    add_job_options(p, "run")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser(
        "sweep", help="Monte Carlo runs over a grid or a sample of scenario parameters",
        description="Override scenario fields by dotted path and run R Monte Carlo runs at every parameter "
                    "point. Values are read as YAML scalars. Several --grid give their product; --sample "
                    "ranges are drawn together (Latin hypercube or scrambled Sobol', seeded from --seed) and "
                    "combined with every grid point. Every point is validated like a scenario file before "
                    "anything runs. Writes manifest.json, points.parquet (one row per point), runs.parquet "
                    "(with the point id) and, with --rounds, rounds.parquet.")
    p.add_argument("scenario", nargs="?", help="scenario YAML file (not needed with --resume)")
    p.add_argument("--set", action="append", metavar="PATH=VALUE", default=None,
                   help="fix a field at every point, e.g. actors.alpha.weights.north=0.4 or "
                        "actors.beta.reservation.value.mean=0.5 (repeatable)")
    p.add_argument("--grid", action="append", metavar="PATH=SPEC", default=None,
                   help="sweep a field over LOW:HIGH:COUNT (evenly spaced, inclusive) or a list a,b,c (repeatable)")
    p.add_argument("--sample", action="append", metavar="PATH=LOW:HIGH", default=None,
                   help="sample a numeric field uniformly in [LOW, HIGH] (repeatable; needs --points)")
    p.add_argument("--method", choices=("lhs", "sobol"), default=None,
                   help="how --sample draws points: Latin hypercube (default) or scrambled Sobol' "
                        "(use a power of 2 for --points)")
    p.add_argument("--points", type=positive_int, default=None, help="number of sampled points (with --sample)")
    p.add_argument("--runs", type=positive_int, default=None, help="Monte Carlo runs per point (default 200)")
    p.add_argument("--seed", type=seed, default=None, help="master seed for runs and sampling (default 0)")
    p.add_argument("--out", type=path_text, help="results folder (default results/<scenario>-sweep-<timestamp>)")
    p.add_argument("--rounds", action="store_true", help="also write rounds.parquet (large for big sweeps)")
    add_job_options(p, "sweep")
    p.set_defaults(handler=cmd_sweep)

    p = sub.add_parser(
        "sensitivity", help="Sobol' indices: which parameters drive agreement and utilities",
        description="Variance-based sensitivity analysis: first-order and total Sobol' indices, computed by "
                    "scipy.stats.sobol_indices (Saltelli 2010 design and estimators) over the --sample ranges. "
                    "Each parameter vector is evaluated by R Monte Carlo runs (the same seeded runs for every "
                    "vector), giving the agreement rate and every actor's mean utility (the deal's utility when "
                    "agreed, the reservation value otherwise). Costs POINTS x (number of parameters + 2) "
                    "evaluations; POINTS must be a power of 2 and is rounded up to one.")
    p.add_argument("scenario")
    p.add_argument("--sample", action="append", metavar="PATH=LOW:HIGH", required=True,
                   help="a parameter and its range (repeat for each parameter)")
    p.add_argument("--set", action="append", metavar="PATH=VALUE", default=None,
                   help="fix a field for every evaluation (repeatable)")
    p.add_argument("--points", type=positive_int, default=64,
                   help="base sample size N, a power of 2 (default 64; others are rounded up)")
    p.add_argument("--runs", type=positive_int, default=100, help="Monte Carlo runs per evaluation (default 100)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the design and of the runs (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--out", type=path_text, help="also write the result to this JSON file")
    p.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run on Dask: 'local' starts a LocalCluster, tcp://host:8786 joins a running one")
    add_engine_option(p)
    p.set_defaults(handler=cmd_sensitivity)


def add_rerun_parser(sub) -> None:
    """Declare `rerun`."""
    p = sub.add_parser("rerun", help="re-run a results folder from its manifest and check the numbers match")
    p.add_argument("results", help="a results folder written by `negsim run` or `negsim sweep`")
    p.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--dask", metavar="ADDRESS", help="run on Dask ('local' or tcp://host:8786)")
    p.set_defaults(handler=cmd_rerun)


def cmd_run(args: argparse.Namespace) -> int:
    """`negsim run`: Monte Carlo runs into a results folder, then a summary (or one run's story)."""
    use_engine(args)
    if args.trace is not None:
        from sim.jobs import scenario_with_sets
        from sim.trace import trace

        if not args.scenario:
            raise UserError("--trace needs a SCENARIO file")
        sets = tuple(args.set or ()) + ((f"protocol.kind={args.protocol}",) if args.protocol else ())
        _, game = scenario_with_sets(args.scenario, sets)
        print(trace(game, args.seed or 0, args.trace))
        return 0
    from sim.cli.jobs import run_command

    return run_command(args, argv=args.command_line)


def cmd_sweep(args: argparse.Namespace) -> int:
    """`negsim sweep`: runs at every point of a grid or sample of parameters."""
    use_engine(args)
    from sim.cli.jobs import sweep_command

    return sweep_command(args, argv=args.command_line)


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """`negsim sensitivity`: first-order and total Sobol' indices (scipy.stats.sobol_indices)."""
    use_engine(args)
    from sim.cli.jobs import sensitivity_command

    return sensitivity_command(args, argv=args.command_line)


def cmd_rerun(args: argparse.Namespace) -> int:
    """`negsim rerun`: reproduce a results folder from its manifest and compare the tables."""
    from sim.jobs.executors import ExecutorSpec
    from sim.rerun import rerun

    ok, text = rerun(args.results, ExecutorSpec(args.workers, args.dask))
    print(text)
    return 0 if ok else 1
