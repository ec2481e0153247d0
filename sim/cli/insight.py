"""The insight commands of the CLI (`discover`, `leverage`): argparse in, typed library calls out.

`add_parsers(subparsers)` adds both commands to `negsim`'s sub-command parser; each sets
`handler` to `handle_discover` or `handle_leverage`, which return the exit code. `negsim
leverage --out` takes a JSON file name or a folder; a folder gets `leverage.json`, where
`negsim plot` and `negsim report` find it (sim.plots.load.load_leverage).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sim.cli.args import positive_int, seed
from sim.errors import Problem, UserError

#: The file `negsim leverage --out FOLDER` writes, and `negsim plot` / `negsim report` read, in a folder.
LEVERAGE_FILE = "leverage.json"


def _share(text: str) -> float:
    try:
        value = float(text.strip().removesuffix("%")) / (100 if text.strip().endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share such as 0.5 or 50%, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (or 0% and 100%), got {text}")
    return value


def _share_or_median(text: str) -> float | str:
    return "median" if text.strip().lower() == "median" else _share(text)


def _numbers(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, e.g. 0.5,2; got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("give at least one number")
    return values


def add_parsers(subparsers) -> None:
    """Add `discover` and `leverage` to the CLI's sub-command parser."""
    p = subparsers.add_parser(
        "discover", help="scenario discovery: the input ranges where agreement is likely (PRIM, decision tree)",
        description="For a sweep folder (points.parquet, runs.parquet) or a sensitivity design (the JSON of "
                    "`negsim sensitivity --out`, or a folder holding sensitivity.json), find boxes of inputs in "
                    "which the points whose probability of the outcome is at least --threshold concentrate: PRIM "
                    "(Friedman & Fisher 1999: peeling, pasting, covering) and a scikit-learn classification tree "
                    "(skipped with a note without scikit-learn: pip install 'negsim[discover]'). Each box lists the "
                    "restricted inputs' ranges, its coverage, density and support.")
    p.add_argument("results", help="a sweep results folder, or a sensitivity JSON file (or a folder holding one)")
    p.add_argument("--threshold", type=_share_or_median, default="median", metavar="SHARE|median",
                   help="a point is of interest when at least this share of its runs reach the outcome; default "
                        "median: the median of the points' rates (the next rate above the lowest when more than "
                        "half the points share the lowest), as the figures and the report use")
    p.add_argument("--output", choices=("agreement", "signed"), default="agreement",
                   help="the outcome: full agreement (default), or signed (agreement or a ceasefire without "
                        "settlement) by the horizon")
    p.add_argument("--method", choices=("prim", "tree", "both"), default="both", help="default: both")
    p.add_argument("--min-density", type=_share, default=0.8,
                   help="PRIM reports the widest box whose density reaches this (default 0.8), else the densest")
    p.add_argument("--min-support", type=_share, default=0.05,
                   help="smallest box, as a share of all points (default 0.05)")
    p.add_argument("--alpha", type=_share, default=0.05, help="PRIM's peeling share per step (default 0.05)")
    p.add_argument("--boxes", type=positive_int, default=3, help="at most this many PRIM boxes (default 3)")
    p.add_argument("--depth", type=positive_int, default=3, help="depth of the decision tree (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--out", help="also write the JSON result to this file")
    p.set_defaults(handler=handle_discover)

    p = subparsers.add_parser(
        "leverage", help="how much an actor's weight or position on one issue moves the chance of agreement",
        description="Vary one actor's weight on one issue (times each --weight-factors) and its position there "
                    "(its values moved a share of the way towards the other actors' mean values, or, for "
                    "negative --position-steps, towards valuing only its favourite option), one at a time, and "
                    "simulate every variant on the same seeded runs. Prints each variant's probability with its "
                    "Wilson interval and the paired change against the scenario as written, with Newcombe's "
                    "interval.")
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--actor", required=True, help="the actor's id")
    p.add_argument("--issue", required=True, help="the issue's id")
    p.add_argument("--runs", type=positive_int, default=1000, help="runs per variant (default 1000)")
    p.add_argument("--seed", type=seed, default=0, help="master seed (default 0)")
    p.add_argument("--set", action="append", metavar="PATH=VALUE", default=None,
                   help="fix a field for every variant (repeatable)")
    p.add_argument("--weight-factors", type=_numbers, default=None, metavar="F,F,...",
                   help="factors on the weight, each 0 or more (default 0.5,0.75,1.5,2)")
    p.add_argument("--position-steps", type=_numbers, default=None, metavar="S,S,...",
                   help="shares of the way towards the others (> 0) or its favourite option (< 0), each in "
                        "[-1, 1] (default -0.5,-0.25,0.25,0.5; write --position-steps=-0.5,0.5 when the list "
                        "starts with a minus)")
    p.add_argument("--what", choices=("both", "weight", "position"), default="both", help="what to vary (default both)")
    p.add_argument("--output", choices=("agreement", "signed"), default="agreement",
                   help="the outcome shown: full agreement (default) or signed by the horizon (both are in --json)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--out", metavar="FILE.json|FOLDER",
                   help=f"also write the JSON result: to FILE.json, or into FOLDER as {LEVERAGE_FILE} (a results "
                        "folder of the same scenario, or a new folder), where `negsim plot` and `negsim report` "
                        "draw it")
    p.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--dask", metavar="ADDRESS", help="run on Dask ('local' or tcp://host:8786)")
    p.set_defaults(handler=handle_leverage)


def _check_out(args: argparse.Namespace) -> None:
    """Refuse an --out that cannot be written before any work is done."""
    if not args.out:
        return
    out = Path(args.out)
    if out.is_dir():
        raise UserError([Problem(args.out, None, "--out", "is a folder; give a file name for the JSON")])
    if not out.parent.is_dir():
        raise UserError([Problem(args.out, None, "--out", f"its folder {out.parent} does not exist")])


def leverage_target(out: str) -> Path:
    """Where `negsim leverage --out OUT` writes: OUT itself if it names a .json file, else OUT/leverage.json."""
    path = Path(out)
    if path.suffix.lower() == ".json" and not path.is_dir():
        return path
    return path / LEVERAGE_FILE


def _check_leverage_out(args: argparse.Namespace) -> Path | None:
    """The file --out names (None without --out), its folder made; refused before any work if it cannot be used."""
    if not args.out:
        return None
    target = leverage_target(args.out)
    folder = target.parent
    if target.is_dir():
        raise UserError([Problem(str(target), None, "--out", "is a folder; give a file name for the JSON")])
    if not folder.is_dir():
        if target.name != LEVERAGE_FILE or folder.exists() or not folder.parent.is_dir():
            raise UserError([Problem(args.out, None, "--out", f"its folder {folder} does not exist")])
        folder.mkdir()  # a new folder for the result, as `negsim run --out` makes one
    manifest = folder / "manifest.json"
    if target.name == LEVERAGE_FILE and manifest.is_file():
        from sim.scenario import load_scenario

        try:
            theirs = (json.loads(manifest.read_text(encoding="utf-8")).get("scenario") or {}).get("name")
        except (OSError, ValueError, AttributeError):
            theirs = None
        ours = load_scenario(args.scenario).name
        if theirs and theirs != ours:
            raise UserError([Problem(args.out, None, "--out", f"holds results of scenario {theirs!r}, not of "
                                                              f"{ours!r}; plot and report would refuse its "
                                                              f"{LEVERAGE_FILE}: give another folder")])
    return target


def _emit(result: dict, text: str, args: argparse.Namespace, target: Path | None = None) -> None:
    from sim.results import atomic_write_bytes

    data = json.dumps(result, indent=1, default=str)
    target = target or (Path(args.out) if args.out else None)
    if target is not None:
        try:
            atomic_write_bytes(target, (data + "\n").encode())
        except OSError as exc:
            raise UserError([Problem(args.out, None, "--out", f"cannot be written: {exc.strerror or exc}")]) from None
        if target.name == LEVERAGE_FILE:
            from sim.results import ResultsFolder

            ResultsFolder(target.parent).own(target.resolve())  # in a results folder, --force may then replace it
    print(data if args.json else text)


def handle_discover(args: argparse.Namespace) -> int:
    """`negsim discover`: PRIM boxes and tree leaves where the outcome's probability reaches the threshold."""
    from sim.insight.discovery import discover
    from sim.insight.figdata import THRESHOLD_RULES, default_threshold
    from sim.insight.text import discovery_text

    _check_out(args)
    threshold, rule = (default_threshold(args.results, args.output) if args.threshold == "median"
                       else (args.threshold, None))
    result = discover(args.results, threshold=threshold, output=args.output, method=args.method, alpha=args.alpha,
                      min_support=args.min_support, min_density=args.min_density, max_boxes=args.boxes,
                      max_depth=args.depth)
    text = discovery_text(result)
    if rule is not None:
        result["threshold_rule"] = rule
        head, _, rest = text.partition("\n")
        text = f"{head}\n(the level, {100 * threshold:.4g}%, is {THRESHOLD_RULES[rule]}; --threshold sets another)\n{rest}"
    _emit(result, text, args)
    return 0


def handle_leverage(args: argparse.Namespace) -> int:
    """`negsim leverage`: the table of an actor's weight and position steps on one issue."""
    from sim.insight.leverage import POSITION_STEPS, WEIGHT_FACTORS, leverage
    from sim.insight.text import leverage_text
    from sim.jobs.executors import ExecutorSpec

    target = _check_leverage_out(args)
    weight = args.weight_factors if args.weight_factors is not None else WEIGHT_FACTORS
    position = args.position_steps if args.position_steps is not None else POSITION_STEPS
    if args.what == "weight":
        position = ()
    elif args.what == "position":
        weight = ()
    executor = ExecutorSpec(args.workers, args.dask)
    executor.check()
    result = leverage(args.scenario, args.actor, args.issue, runs=args.runs, seed=args.seed, sets=args.set or (),
                      weight_factors=weight, position_steps=position, executor=executor)
    _emit(result, leverage_text(result, args.output), args, target)
    return 0
