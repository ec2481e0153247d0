"""The job commands of the CLI (`run`, `sweep`, `sensitivity`): argparse in, typed library calls out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sim.errors import Problem, UserError
from sim.jobs.executors import ExecutorSpec
from sim.jobs.manifest import DEFAULT_RUNS, write_analysis, write_drivers
from sim.jobs.run import resume_job, run_job
from sim.jobs.spec import DEFAULT_SWEEP_RUNS, JobSpec


def run_command(args, argv: list[str]) -> int:
    """`negsim run`: simulate (or resume), write the results folder, print a summary, optionally plot."""

    dask = getattr(args, "dask", None)
    sets = tuple(args.set or ())
    if getattr(args, "protocol", None):
        sets += (f"protocol.kind={args.protocol}",)
    if getattr(args, "resume", None):
        if args.out or getattr(args, "force", False):
            raise UserError([Problem("", None, "--resume", "continues the folder it names; drop --out/--force")])
        # Options that define the job must match the manifest: a resumed job silently ignoring
        # a --set would pass off the old scenario's numbers as the new one's.
        result = resume_job(args.resume, argv=argv, executor=ExecutorSpec(args.workers, dask), scenario=args.scenario,
                            given={"runs": args.runs, "seed": args.seed, "chunk_size": args.chunk, "sets": sets})
    else:
        if not args.scenario:
            raise UserError([Problem("", None, "negsim run", "give a SCENARIO file, or --resume DIR")])
        runs = args.runs if args.runs is not None else DEFAULT_RUNS
        spec = JobSpec(kind="run", scenario=args.scenario, sets=sets, runs=runs, seed=args.seed or 0,
                       chunk_size=args.chunk, rounds=True)
        result = run_job(spec, out=args.out, argv=argv, executor=ExecutorSpec(args.workers, dask),
                         force=getattr(args, "force", False), yes=getattr(args, "yes", False))
    print(result.summary)
    out, manifest = result.out, result.manifest
    if getattr(args, "drivers", False) and manifest.get("job", {}).get("kind", "run") == "run":
        print(write_drivers(out, manifest))
    if getattr(args, "plot", False) and manifest.get("job", {}).get("kind", "run") == "run":
        from sim.plots import plot_results

        write_analysis(out, manifest, result.game)

        for path in plot_results(out):
            print(f"figure: {path}")
    return 0


def sweep_command(args, argv: list[str]) -> int:
    """`negsim sweep`: plan and validate the points, run them (or resume), print the per-point table."""
    given = {"sets": args.set, "grids": args.grid, "samples": args.sample, "method": args.method,
             "points": args.points, "runs": args.runs, "seed": args.seed, "chunk_size": args.chunk,
             "rounds": args.rounds or None}
    if args.resume:
        if args.out or args.force:
            raise UserError([Problem("", None, "--resume", "continues the folder it names; drop --out/--force")])
        result = resume_job(args.resume, argv=argv, executor=ExecutorSpec(args.workers, args.dask), scenario=args.scenario,
                            given=given)
    else:
        if not args.scenario:
            raise UserError([Problem("", None, "negsim sweep", "give a SCENARIO file, or --resume DIR")])
        spec = JobSpec(kind="sweep", scenario=args.scenario, sets=tuple(args.set or ()),
                       grids=tuple(args.grid or ()), samples=tuple(args.sample or ()),
                       method=args.method or "lhs", points=args.points,
                       runs=args.runs or DEFAULT_SWEEP_RUNS, seed=args.seed or 0, chunk_size=args.chunk,
                       rounds=bool(args.rounds))
        result = run_job(spec, out=args.out, argv=argv, executor=ExecutorSpec(args.workers, args.dask), force=args.force,
                         yes=getattr(args, "yes", False))
    print(result.summary)
    return 0


def sensitivity_command(args, argv: list[str]) -> int:
    """`negsim sensitivity`: compute, print a table or JSON, optionally write JSON to --out."""
    from sim.results import atomic_write_bytes
    from sim.sensitivity import (
        next_power_of_two,
        scenario_sensitivity,
        sensitivity_table,
    )

    n = next_power_of_two(max(args.points, 2))
    if n != args.points:
        print(f"note: --points {args.points} rounded up to {n}: Sobol' indices need a power of 2", file=sys.stderr)
    if args.out and Path(args.out).is_dir():
        raise UserError([Problem(args.out, None, "--out", "is a folder; give a file name for the JSON")])
    report = scenario_sensitivity(args.scenario, args.sample, points=n, runs=args.runs, seed=args.seed,
                                  sets=args.set or (), executor=ExecutorSpec(args.workers, args.dask))
    text = json.dumps(report, indent=2)
    if args.out:
        atomic_write_bytes(Path(args.out), (text + "\n").encode())
    print(text if args.json else sensitivity_table(report))
    return 0
