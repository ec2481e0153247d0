"""The scenario commands of the CLI (`validate`, `explain`, `evaluate`): argparse in, typed library calls out."""

from __future__ import annotations

import argparse
import sys


def add_parsers(sub) -> None:
    """Declare `validate`, `explain` and `evaluate`."""
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
