"""`negsim explore`: argparse for the explorer; the app itself is sim.explore.

`python -m sim.cli.explore TARGET [options]` runs the same command on its own (scripts and the
browser tests start the server that way, in a child process).
"""

from __future__ import annotations

import argparse
import sys


def _count(text: str, low: int, high: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{what} must be from {low:,} to {high:,}, got {value:,}")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Declare `negsim explore` on the CLI's subparsers."""
    from sim.explore import DEFAULT_RUNS, MAX_RUNS

    p = subparsers.add_parser(
        "explore", help="a local web app: move a scenario's numbers and watch the outcome, or browse a results folder",
        description="Serve an explorer in the browser. For a SCENARIO file: a slider for every uncertain or "
                    "judgement number (by actor, with its quote and source), protocol and proposal pickers, and "
                    "the outcome distribution, agreement by date, regions and Pareto frontier, recomputed from "
                    "seeded runs (the same as `negsim run --runs N --seed S`) whenever a slider is released. For a "
                    "RESULTS folder: filter the runs by outcome, pick one and step through its rounds. Works "
                    "offline: every file the page loads comes from this server, which listens on 127.0.0.1 "
                    "unless --host says otherwise.")
    p.add_argument("target", metavar="SCENARIO_OR_RESULTS", help="a scenario YAML file, or a results folder")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=lambda t: _count(t, 0, 65535, "--port"), default=5006,
                   help="port (default 5006; 0 picks a free one)")
    p.add_argument("--no-browser", dest="browser", action="store_false", help="do not open a browser window")
    p.add_argument("--runs", type=lambda t: _count(t, 10, MAX_RUNS, "--runs"), default=DEFAULT_RUNS,
                   help=f"seeded runs behind every view of a scenario (default {DEFAULT_RUNS}: about 0.4 s "
                        "a view for the Alaska scenario; 1,000 take about 0.65 s)")
    p.add_argument("--seed", type=lambda t: _count(t, 0, 2**63 - 1, "--seed"), default=0,
                   help="master seed of the runs (default 0)")
    p.add_argument("--workers", type=lambda t: _count(t, 1, 1024, "--workers"), default=1,
                   help="processes the runs are shared out on (default 1: in the server itself, quickest on two "
                        "cores; more pays where cores are spare, e.g. --runs 4000 --workers 8)")
    p.set_defaults(handler=handle)
    return p


def handle(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; a bad scenario or folder is reported before anything listens."""
    from sim.explore.serve import serve

    serve(args.target, host=args.host, port=args.port, show=args.browser, runs=args.runs, seed=args.seed,
          workers=args.workers)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`negsim explore` as a program of its own; user errors print as `file:line: field: message`, exit 2."""
    from sim.errors import UserError
    from sim.stopping import handle_stop_signals

    handle_stop_signals()  # SIGTERM stops the server as Ctrl-C does, as under `negsim`
    parser = argparse.ArgumentParser(prog="negsim")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["explore", *(sys.argv[1:] if argv is None else argv)])
    try:
        return handle(args)
    except UserError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
