"""What a results folder records about the job that produced it, and where it goes by default."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from sim import __version__
from sim.domain.game import Game
from sim.results import ResultsFolder, now_iso
from sim.simulate import NEAR_ISSUES


def base_manifest(loaded, game: Game, argv: list[str], seed: int, runs: int, **parameters) -> dict:
    """Everything needed to know what produced a results folder, and to reproduce it."""
    return {
        "negsim_version": __version__,
        "command": list(argv),
        "cwd": os.getcwd(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "started": now_iso(),
        "finished": None,
        "status": "running",
        "seed": seed,
        "runs": runs,
        "parameters": parameters,
        "seeding": ("per run: numpy SeedSequence(seed, spawn_key=(run, stream)), PCG64, for acceptance, front "
                    "and talks; uncertain numbers from SplitMix64 of (seed, run, path); the same at every point"),
        "scenario": {"path": str(loaded.path), "sha256": loaded.sha256, "name": loaded.name,
                     "description": loaded.scenario.meta.description,
                     "title": loaded.scenario.meta.title, "as_of": str(loaded.scenario.meta.as_of)},
        "actors": [{"id": a, "name": n, "roles": list(r)}
                   for a, n, r in zip(game.actor_ids, game.actor_names, game.roles)],
        "issues": [{"id": iid, "name": loaded.scenario.issues[iid].name, "kind": loaded.scenario.issues[iid].kind,
                    "options": list(game.space.option_ids[i]), "area_km2": loaded.scenario.issues[iid].area_km2}
                   for i, iid in enumerate(game.space.issue_ids)],
        "proposals": [{"id": p, "name": n} for p, n in zip(game.proposal_ids, game.proposal_names)],
        "signatories": [game.actor_ids[s] for s in game.signatories],
        "max_rounds": game.protocol["max_rounds"],
        "as_of": game.as_of,
        "horizon": game.horizon,
        "round_days": game.round_days,
        "near_issues": NEAR_ISSUES,
        "protocol": game.protocol["kind"],
    }


DEFAULT_RUNS = 1000


def default_out(name: str, kind: str = "") -> Path:
    """results/<scenario>[-<kind>]-<UTC timestamp>."""
    import time

    stem = f"{name}-{kind}" if kind else name
    return Path("results") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"


def write_drivers(out: Path, manifest: dict) -> str:
    """Estimate what drives the run's answer, write drivers.json, and return the text section."""
    import json

    from sim.drivers import drivers, drivers_text
    from sim.jobs import scenario_with_sets
    from sim.results import atomic_write_bytes

    job = manifest.get("job", {})
    loaded, _ = scenario_with_sets(job.get("scenario_path") or manifest["scenario"]["path"],
                                   tuple(job.get("sets", ())))
    result = drivers(loaded.scenario, seed=int(manifest.get("seed") or 0))
    atomic_write_bytes(out / "drivers.json", (json.dumps(result.to_dict(), indent=1) + "\n").encode())
    ResultsFolder(out).own("drivers.json")
    return drivers_text(result)


def write_analysis(out: Path, manifest: dict, game=None) -> Path:
    """The deal-space benchmarks (frontier, Nash, Kalai-Smorodinsky) of the run's scenario, as analysis.json.

    `game`: the run's game if the caller has it compiled (JobResult.game), else read from the manifest's job."""
    import json

    from sim.analysis import analysis_json, analyze
    from sim.jobs import scenario_with_sets
    from sim.results import atomic_write_bytes

    if game is None:
        job = manifest.get("job", {})
        _, game = scenario_with_sets(job.get("scenario_path") or manifest["scenario"]["path"],
                                     tuple(job.get("sets", ())))
    result = analyze(game)
    data = analysis_json(result) | {"actors": list(result["actor_ids"]),
                                    "frontier_utilities": result["frontier_utilities"].tolist()}
    path = out / "analysis.json"
    atomic_write_bytes(path, (json.dumps(data, indent=1, default=float) + "\n").encode())
    ResultsFolder(out).own("analysis.json")
    return path
