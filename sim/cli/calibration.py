"""The calibration commands of the CLI (`calibrate`, `backtest`): argparse in, typed library calls out."""

from __future__ import annotations

import argparse

from sim.cli.args import path_text, positive_int, seed
from sim.errors import UserError


def add_parsers(sub) -> None:
    """Declare `calibrate` and `backtest`."""
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
    p.add_argument("--forecast-runs", type=positive_int, default=2000,
                   help="Monte Carlo runs behind the agreement-by-month forecast (default 2000)")
    p.set_defaults(handler=cmd_backtest)


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
    p.add_argument("--walkers", type=positive_int, default=32, help="emcee walkers (default 32)")
    p.add_argument("--steps", type=positive_int, default=4000, help="emcee steps per walker (default 4000)")
    p.add_argument("--outcome-draws", type=int, default=200,
                   help="posterior draws simulated for the outcome observations (default 200; 0 skips them)")
    p.add_argument("--runs-per-draw", type=positive_int, default=32, help="runs per simulated draw (default 32)")
    p.add_argument("--seed", type=seed, default=0, help="seed (default 0)")
    p.add_argument("--out", type=path_text, help="output folder (default results/<scenario>-calibrate-<timestamp>)")
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
                     argv=args.command_line)
    print(summary_text(done.result))
    print(f"results: {done.result['folder']}")
    for path in done.result["figures"]:
        print(f"figure: {path}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    """`negsim backtest`: calibrate to a cut-off, forecast and score what followed, log the forecast."""
    from sim.calibration.backtest import backtest, backtest_text

    result = backtest(_calibration_spec(args), args.cutoff, out=args.out, force=args.force, log=args.log,
                      runs=args.forecast_runs, argv=args.command_line)
    print(backtest_text(result))
    print(f"results: {result['folder']}")
    print(f"forecast logged to {result['log']}")
    return 0
