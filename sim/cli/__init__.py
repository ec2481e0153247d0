"""The `negsim` command line: a thin argparse adapter over the library.

Heavy modules (numpy, pandas, mesa, matplotlib) are imported inside the handlers so that
`negsim --help` stays fast. Every user error ends as `file:line: field: message` lines on
stderr and exit code 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import sys

from sim import __version__, analysis, catalogue, report
from sim.errors import UserError
from sim.plots.registry import FORMATS, figures_help


def _whole_number(minimum: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
        return value
    return parse


_positive_int = _whole_number(1, "at least 1")
_seed = _whole_number(0, "0 or more")


def _path_text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a path")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="negsim",
        description="Simulate multi-party negotiations over territorial settlements.",
    )
    parser.add_argument("--version", action="version", version=f"negsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("validate", help="check a scenario file: schema, references, sources")
    p.add_argument("scenario", nargs="+", help="scenario YAML file(s)")
    p.add_argument("--strict", action="store_true",
                   help="treat consistency warnings (own proposals, the record, unmarked judgements) as errors")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("explain", help="each actor's weights and values, with the quote behind each")
    p.add_argument("scenario")
    p.add_argument("--actor", help="only this actor (id or name)")
    p.set_defaults(handler=cmd_explain)

    p = sub.add_parser("evaluate", help="every named proposal: utilities, who accepts, margins, km² moved")
    p.add_argument("scenario")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("run", help="Monte Carlo runs of a scenario into a results folder",
                       description="Monte Carlo runs of a scenario into a results folder. Run k draws from "
                                   "SeedSequence(seed, spawn_key=(0, k)), so results do not depend on --workers, "
                                   "--chunk or --dask.")
    p.add_argument("scenario", nargs="?", help="scenario YAML file (not needed with --resume)")
    p.add_argument("--runs", type=_positive_int, default=None, help="number of runs (default 1000)")
    p.add_argument("--seed", type=_seed, default=None, help="master seed (default 0)")
    p.add_argument("--out", type=_path_text, help="results folder (default results/<scenario>-<timestamp>)")
    p.add_argument("--plot", action="store_true", help="draw the figures into OUT/figures when done")
    p.add_argument("--drivers", action="store_true",
                   help="also estimate what drives the answer: total Sobol' indices of quoted preferences, "
                        "judgements and structural knobs on agreement by the horizon (a few seconds; "
                        "written to drivers.json)")
    p.add_argument("--trace", type=_seed, metavar="RUN_ID",
                   help="print run RUN_ID's story round by round (simulated alone; nothing is written)")
    p.add_argument("--protocol", choices=catalogue.protocol_names(),
                   help="negotiate under this protocol instead of the scenario's (same as --set protocol.kind=...)")
    p.add_argument("--set", action="append", metavar="PATH=VALUE", default=None,
                   help="override a scenario field by dotted path, e.g. protocol.max_rounds=30 (repeatable)")
    _add_job_options(p, "run")
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
    p.add_argument("--points", type=_positive_int, default=None, help="number of sampled points (with --sample)")
    p.add_argument("--runs", type=_positive_int, default=None, help="Monte Carlo runs per point (default 200)")
    p.add_argument("--seed", type=_seed, default=None, help="master seed for runs and sampling (default 0)")
    p.add_argument("--out", type=_path_text, help="results folder (default results/<scenario>-sweep-<timestamp>)")
    p.add_argument("--rounds", action="store_true", help="also write rounds.parquet (large for big sweeps)")
    _add_job_options(p, "sweep")
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
    p.add_argument("--points", type=_positive_int, default=64,
                   help="base sample size N, a power of 2 (default 64; others are rounded up)")
    p.add_argument("--runs", type=_positive_int, default=100, help="Monte Carlo runs per evaluation (default 100)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the design and of the runs (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--out", type=_path_text, help="also write the result to this JSON file")
    p.add_argument("--workers", type=_positive_int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run on Dask: 'local' starts a LocalCluster, tcp://host:8786 joins a running one")
    p.set_defaults(handler=cmd_sensitivity)

    p = sub.add_parser("analyze", help="Pareto frontier, ZOPA, Nash and Kalai-Smorodinsky deals at the point estimates")
    analysis.add_arguments(p)
    p.set_defaults(handler=analysis.command)

    p = sub.add_parser("plot", help="draw the figures a results folder supports",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=figures_help())
    p.add_argument("results", help="a results folder (run or sweep), or a sensitivity JSON file")
    p.add_argument("--format", choices=FORMATS, default="png")
    p.add_argument("--out", type=_path_text, help="folder for the figures (default RESULTS/figures)")
    p.add_argument("--run", type=_seed, metavar="RUN_ID",
                   help="run whose trajectory to draw (default: first agreement, else run 0)")
    p.add_argument("--sensitivity", metavar="FILE",
                   help="Sobol indices from `negsim sensitivity --out FILE` (default: RESULTS/sensitivity.json)")
    p.set_defaults(handler=cmd_plot)

    p = sub.add_parser("report", help="one self-contained HTML report of a results folder, to send to a colleague")
    p.add_argument("results", help="a results folder written by `negsim run` (or a sweep)")
    p.add_argument("--out", type=_path_text, help="HTML file to write (default RESULTS/report.html)")
    p.add_argument("--sensitivity", metavar="FILE",
                   help="include Sobol indices from this `negsim sensitivity --out` JSON "
                        "(default: RESULTS/sensitivity.json if present)")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("calibrate", help="infer chosen judgement numbers from the negotiation record",
                       description="Set chosen numbers of a scenario free and infer their posterior from an "
                                   "observations file: recorded decisions through a logit likelihood (emcee, or "
                                   "a MAP fit), outcomes through simulation. Writes a folder (posterior, "
                                   "calibration.txt/.json, trace, corner and predictive-check figures) and the "
                                   "calibrated scenario next to the original (SCENARIO.calibrated.yaml).")
    _calibration_arguments(p)
    p.add_argument("--write", metavar="FILE", help="where to write the calibrated scenario "
                                                   "(default: next to SCENARIO, as NAME.calibrated.yaml)")
    p.set_defaults(handler=cmd_calibrate)

    p = sub.add_parser("backtest", help="calibrate up to a cut-off date, forecast what followed, score it",
                       description="Calibrate on the observations complete by --cutoff, forecast every later "
                                   "decision and the chance of a signed deal by each month end, score the "
                                   "forecast (Brier, log score) against the base rate and 'nobody accepts "
                                   "anything new', and append it to a forecast log.")
    _calibration_arguments(p)
    p.add_argument("--cutoff", required=True, help="the last day the calibration may know (YYYY-MM-DD)")
    p.add_argument("--log", metavar="FILE", help="forecast log to append to (default results/forecast-log.jsonl)")
    p.add_argument("--forecast-runs", type=_positive_int, default=2000,
                   help="Monte Carlo runs behind the agreement-by-month forecast (default 2000)")
    p.set_defaults(handler=cmd_backtest)

    p = sub.add_parser("rerun", help="re-run a results folder from its manifest and check the numbers match")
    p.add_argument("results", help="a results folder written by `negsim run` or `negsim sweep`")
    p.add_argument("--workers", type=_positive_int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--dask", metavar="ADDRESS", help="run on Dask ('local' or tcp://host:8786)")
    p.set_defaults(handler=cmd_rerun)
    return parser


def console_main() -> None:
    """The `negsim` console script: main(), then exit; after an interrupt, exit at once.

    Skipping the interpreter's shutdown after Ctrl-C matters: it joins the worker pool's threads,
    and a second Ctrl-C arriving there would kill the process by signal instead of exit code 130.
    Every file is written and closed by the time main() returns.
    """
    import os

    code = main()
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code)


def _calibration_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("observations", help="observations YAML file (see docs/observations-format.md)")
    p.add_argument("--free", action="append", metavar="PATH", required=True,
                   help="a number to infer, e.g. actors.<actor id>.reservation.premium or protocol.temperature "
                        "(repeatable)")
    p.add_argument("--prior", action="append", metavar="PATH=MEAN,SD", default=None,
                   help="a normal prior for a freed number (default: the scenario's own {mean, sd})")
    p.add_argument("--method", choices=("emcee", "map"), default="emcee",
                   help="sample the posterior with emcee (default) or fit its maximum (with a Laplace spread)")
    p.add_argument("--margin", choices=("reservation", "aspiration"), default="reservation",
                   help="what a recorded answer is scored against: the reservation value (default) or the "
                        "aspiration on the actor's concession schedule")
    p.add_argument("--walkers", type=_positive_int, default=32, help="emcee walkers (default 32)")
    p.add_argument("--steps", type=_positive_int, default=4000, help="emcee steps per walker (default 4000)")
    p.add_argument("--outcome-draws", type=int, default=200,
                   help="posterior draws simulated for the outcome observations (default 200; 0 skips them)")
    p.add_argument("--runs-per-draw", type=_positive_int, default=32, help="runs per simulated draw (default 32)")
    p.add_argument("--seed", type=_seed, default=0, help="seed (default 0)")
    p.add_argument("--out", type=_path_text, help="output folder (default results/<scenario>-calibrate-<timestamp>)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder or calibrated file")


def _calibration_spec(args: argparse.Namespace):
    from sim.calibration.command import CalibrationSpec, parse_prior
    from sim.errors import Problem

    if args.outcome_draws < 0:
        raise UserError([Problem("", None, "--outcome-draws", f"must be 0 or more, got {args.outcome_draws}")])
    return CalibrationSpec(scenario=args.scenario, observations=args.observations, free=tuple(args.free),
                           priors=tuple(parse_prior(p) for p in args.prior or ()), method=args.method,
                           margin=args.margin, walkers=args.walkers, steps=args.steps, seed=args.seed,
                           outcome_draws=args.outcome_draws, runs_per_draw=args.runs_per_draw)


def cmd_calibrate(args: argparse.Namespace) -> int:
    """`negsim calibrate`: posterior of the freed numbers, a report, and the calibrated scenario."""
    from sim.calibration.command import calibrate
    from sim.calibration.report import summary_text

    done = calibrate(_calibration_spec(args), out=args.out, force=args.force, write_scenario=args.write,
                     argv=sys.argv)
    print(summary_text(done.result))
    print(f"results: {done.result['folder']}")
    for path in done.result["figures"]:
        print(f"figure: {path}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    """`negsim backtest`: calibrate to a cut-off, forecast and score what followed, log the forecast."""
    from sim.calibration.backtest import backtest, backtest_text

    result = backtest(_calibration_spec(args), args.cutoff, out=args.out, force=args.force, log=args.log,
                      runs=args.forecast_runs, argv=sys.argv)
    print(backtest_text(result))
    print(f"results: {result['folder']}")
    print(f"forecast logged to {result['log']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    from sim.stopping import handle_stop_signals

    handle_stop_signals()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except UserError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("negsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _load(path: str):
    from sim.domain.game import compile_scenario
    from sim.scenario import load_scenario

    loaded = load_scenario(path)
    return loaded, compile_scenario(loaded.scenario)


def cmd_validate(args: argparse.Namespace) -> int:
    """`negsim validate`: one summary line per valid file, every problem of the others."""
    from sim.domain.consistency import consistency_warnings
    from sim.errors import ScenarioError

    failed = []
    for path in args.scenario:
        if _is_observations(path):
            from sim.calibration.observations import load_observations

            try:
                print(f"{path}: OK: {load_observations(path).summary()}")
            except ScenarioError as exc:
                failed.extend(exc.problems)
            continue
        try:
            loaded, game = _load(path)
        except ScenarioError as exc:
            failed.extend(exc.problems)
            continue
        sc = loaded.scenario
        warnings = consistency_warnings(loaded, game)
        if warnings and args.strict:
            failed.extend(warnings)
            continue
        for w in warnings:
            print(f"{w.file}:{w.line}: {w.field}: warning: {w.message}" if w.line else f"{w}", file=sys.stderr)
        print(f"{path}: OK: {sc.meta.name} (as of {sc.meta.as_of}): {len(sc.issues)} issues "
              f"({len(game.territory.region_ids)} territorial), {len(sc.actors)} actors "
              f"({len(game.signatories)} signatories), {len(sc.proposals)} proposals, "
              f"{len(sc.sources)} sources, {game.space.size:,} possible deals, "
              f"{len(game.params)} uncertain numbers" + (f", {len(warnings)} warnings" if warnings else ""))
    if failed:
        raise ScenarioError(failed)
    return 0


def _is_observations(path: str) -> bool:
    """An observations file (decisions, outcomes, front figures) rather than a scenario."""
    from pathlib import Path

    if "observations" in Path(path).parts:
        return True
    from sim.scenario.yamlsrc import read_head

    try:
        head = read_head(Path(path), 20000).decode("utf-8", "replace")
    except OSError:
        return False
    keys = {line.split(":")[0] for line in head.splitlines() if line[:1].isalpha()}
    return "decisions" in keys and "actors" not in keys


def cmd_report(args: argparse.Namespace) -> int:
    """`negsim report`: one self-contained HTML file to send to a colleague."""
    print(report.write_report(args.results, args.out, sensitivity=getattr(args, "sensitivity", None)))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """`negsim explain`: preferences with provenance, as plain text."""
    from sim.report_text import explain

    loaded, game = _load(args.scenario)
    print(explain(loaded.scenario, game, args.actor))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """`negsim evaluate`: the named proposals against every actor's reservation value."""
    import json

    from sim.domain.evaluate import evaluate_proposals
    from sim.report_text import evaluation_table

    _, game = _load(args.scenario)
    records = evaluate_proposals(game)
    if args.json:
        print(json.dumps({"scenario": game.name, "proposals": records}, indent=2))
    else:
        print(evaluation_table(game, records))
    return 0


def _add_job_options(p: argparse.ArgumentParser, command: str) -> None:
    """Execution options shared by `run` and `sweep`."""
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="worker processes, or Dask workers with --dask local (default: all cores)")
    p.add_argument("--chunk", type=_positive_int, default=None, help="runs per work unit (default: automatic)")
    p.add_argument("--yes", action="store_true",
                   help="start a job estimated to take more than a day (jobs too big for the memory or disk "
                        "are refused regardless)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run on Dask (pip install 'negsim[dask]'): 'local' starts a LocalCluster of --workers "
                        "processes; tcp://host:8786 joins a cluster started with `dask scheduler` and "
                        "`dask worker tcp://host:8786`")
    p.add_argument("--resume", metavar="DIR",
                   help=f"continue an interrupted `negsim {command}` in DIR: finished chunks are kept, the "
                        "others run; refused if the scenario file has changed")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out results folder: it is deleted once the new job has been "
                        "validated, before it runs (a folder without manifest.json is never deleted)")


def cmd_run(args: argparse.Namespace) -> int:
    """`negsim run`: Monte Carlo runs into a results folder, then a summary (or one run's story)."""
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

    return run_command(args, argv=sys.argv)


def cmd_sweep(args: argparse.Namespace) -> int:
    """`negsim sweep`: runs at every point of a grid or sample of parameters."""
    from sim.cli.jobs import sweep_command

    return sweep_command(args, argv=sys.argv)


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """`negsim sensitivity`: first-order and total Sobol' indices (scipy.stats.sobol_indices)."""
    from sim.cli.jobs import sensitivity_command

    return sensitivity_command(args, argv=sys.argv)


def cmd_plot(args: argparse.Namespace) -> int:
    """`negsim plot`: figures from a results folder."""
    from sim.plots import plot_results

    for path in plot_results(args.results, fmt=args.format, out=args.out, run=args.run,
                             sensitivity=args.sensitivity):
        print(path)
    return 0


def cmd_rerun(args: argparse.Namespace) -> int:
    """`negsim rerun`: reproduce a results folder from its manifest and compare the tables."""
    from sim.jobs.executors import ExecutorSpec
    from sim.rerun import rerun

    ok, text = rerun(args.results, ExecutorSpec(args.workers, args.dask))
    print(text)
    return 0 if ok else 1
