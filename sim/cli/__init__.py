"""The `negsim` command line: a thin argparse adapter over the library.

Heavy modules (numpy, pandas, mesa, matplotlib) are imported inside the handlers so that
`negsim --help` stays fast. Every user error ends as `file:line: field: message` lines on
stderr and exit code 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import sys

from sim import __version__, report
from sim.cli import calibration, explore, insight, job_args, scenario
from sim.cli.args import path_text, seed
from sim.errors import UserError
from sim.plots.registry import FORMATS, figures_help


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="negsim",
        description="Simulate multi-party negotiations over territorial settlements.",
    )
    parser.add_argument("--version", action="version", version=f"negsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    scenario.add_parsers(sub)
    job_args.add_parsers(sub)
    p = sub.add_parser("analyze", help="Pareto frontier, ZOPA, Nash and Kalai-Smorodinsky deals at the point estimates")
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=cmd_analyze)

    p = sub.add_parser("plot", help="draw the figures a results folder supports",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=figures_help())
    p.add_argument("results", help="a results folder (run or sweep), or a sensitivity or leverage JSON file")
    p.add_argument("--format", choices=FORMATS, default="png")
    p.add_argument("--out", type=path_text, help="folder for the figures (default RESULTS/figures)")
    p.add_argument("--run", type=seed, metavar="RUN_ID",
                   help="run whose trajectory to draw (default: a typical run: the most common outcome, median round)")
    p.add_argument("--sensitivity", metavar="FILE",
                   help="Sobol indices from `negsim sensitivity --out FILE` (default: RESULTS/sensitivity.json)")
    p.set_defaults(handler=cmd_plot)

    p = sub.add_parser("report", help="one self-contained HTML report of a results folder, to send to a colleague")
    p.add_argument("results", help="a results folder written by `negsim run` (or a sweep)")
    p.add_argument("--out", type=path_text, help="HTML file to write (default RESULTS/report.html)")
    p.add_argument("--sensitivity", metavar="FILE",
                   help="include Sobol indices from this `negsim sensitivity --out` JSON "
                        "(default: RESULTS/sensitivity.json if present)")
    p.set_defaults(handler=cmd_report)

    calibration.add_parsers(sub)
    insight.add_parsers(sub)
    explore.add_parser(sub)
    job_args.add_rerun_parser(sub)
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    from sim.stopping import handle_stop_signals

    handle_stop_signals()
    parser = build_parser()
    args = parser.parse_args(argv)
    # What the manifest records as the command: the arguments given, also when main() is called with them.
    args.command_line = sys.argv if argv is None else ["negsim", *map(str, argv)]
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


def cmd_analyze(args: argparse.Namespace) -> int:
    """`negsim analyze`: frontier, ZOPA and bargaining solutions at the point estimates."""
    from sim.analysis import render_scenario_analysis

    print(render_scenario_analysis(args.scenario, as_json=args.json))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """`negsim report`: one self-contained HTML file to send to a colleague."""
    print(report.write_report(args.results, args.out, sensitivity=getattr(args, "sensitivity", None)))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """`negsim plot`: figures from a results folder."""
    from sim.plots import plot_results

    for path in plot_results(args.results, fmt=args.format, out=args.out, run=args.run,
                             sensitivity=args.sensitivity):
        print(path)
    return 0
