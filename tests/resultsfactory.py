"""A tiny, internally consistent results folder (manifest + runs + rounds) for tests of readers.

The numbers mirror tests/data/tiny.yaml: two regions (north, south), one policy issue
(guarantees), three actors (alpha, beta, gamma) and two named proposals. Outcomes follow a
fixed, known mix unless the caller passes its own list, so tests can count what to expect.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

ACTORS = {"alpha": "Alpha", "beta": "Beta", "gamma": "Gamma"}
ISSUES = {
    "north": {"name": "North", "kind": "territory", "area_km2": 1000.0,
              "options": ["ukraine", "frozen_line", "de_jure_russia"]},
    "south": {"name": "South", "kind": "territory", "area_km2": 500.0,
              "options": ["ukraine", "demilitarized", "de_facto_russia"]},
    "guarantees": {"name": "Security guarantees", "kind": "policy", "area_km2": None,
                   "options": ["none", "strong"]},
}
PROPOSALS = {
    "split": ("Split the difference", {"north": "frozen_line", "south": "demilitarized", "guarantees": "strong"}),
    "maximal": ("Beta's maximum", {"north": "de_jure_russia", "south": "de_facto_russia", "guarantees": "none"}),
}
# Share of each region that changes hands under each disposition (the rest stays as it is).
_TRANSFER = {"ukraine": 0.0, "frozen_line": 0.0, "demilitarized": 0.0,
             "de_jure_russia": 0.4, "de_facto_russia": 0.8}
# Per-actor value of each option, as in tiny.yaml (gamma does not care about south).
_VALUES = {
    "alpha": {"ukraine": 1.0, "frozen_line": 0.5, "de_jure_russia": 0.0, "demilitarized": 0.4,
              "de_facto_russia": 0.0, "none": 0.0, "strong": 1.0},
    "beta": {"ukraine": 0.0, "frozen_line": 0.6, "de_jure_russia": 1.0, "demilitarized": 0.7,
             "de_facto_russia": 1.0, "none": 1.0, "strong": 0.2},
    "gamma": {"ukraine": 0.5, "frozen_line": 1.0, "de_jure_russia": 0.5, "demilitarized": 0.5,
              "de_facto_russia": 0.5, "none": 0.5, "strong": 1.0},
}
_RESERVATION = {"alpha": (0.3, 0.3), "beta": (0.3, 0.5), "gamma": (0.2, 0.2)}
# 10-run cycle: 5 agreements, 1 partial, 2 breakdowns, 2 timeouts.
DEFAULT_MIX = ("agreement", "breakdown", "agreement", "timeout", "agreement",
               "partial", "agreement", "breakdown", "agreement", "timeout")
MAX_ROUNDS = 20


def make_results(tmp_path: Path, n_runs: int = 40, seed: int = 0, *,
                 outcomes: Sequence[str] | None = None, actors: Sequence[str] = tuple(ACTORS),
                 with_rounds: bool = True, empty_rounds: bool = False, points: int = 1) -> Path:
    """Write a results folder under tmp_path and return its path.

    outcomes: one outcome per run (cycled if shorter); default DEFAULT_MIX cycled.
    actors: a subset of alpha/beta/gamma. with_rounds=False omits rounds.parquet;
    empty_rounds=True writes it with the right columns and no rows.
    """
    rng = np.random.default_rng(seed)
    mix = list(outcomes) if outcomes is not None else list(DEFAULT_MIX)
    out = Path(tmp_path) / "results"
    out.mkdir(parents=True, exist_ok=True)

    runs, rounds = [], []
    for i in range(n_runs):
        outcome = mix[i % len(mix)] if mix else "agreement"
        point, run = i % points, i // points
        deal = {iid: str(rng.choice(spec["options"])) for iid, spec in ISSUES.items()}
        if outcome == "timeout":
            end = MAX_ROUNDS - 1
        else:
            end = int(rng.integers(0, MAX_ROUNDS - 1))
        row: dict = {"point": point, "run": run, "outcome": outcome, "round": end,
                     "walked_away": str(rng.choice(list(actors))) if outcome == "breakdown" else ""}
        for iid in ISSUES:
            row[f"deal_{iid}"] = deal[iid]
        reservations = {a: float(rng.uniform(*_RESERVATION[a])) for a in actors}
        for a in actors:
            value = float(np.mean([_VALUES[a][deal[iid]] for iid in ISSUES]))
            # A non-agreement is worth the reservation value to everyone.
            row[f"utility_{a}"] = value if outcome == "agreement" else reservations[a]
            row[f"reservation_{a}"] = reservations[a]
        moved = sum(ISSUES[r]["area_km2"] * _TRANSFER[deal[r]] for r in ("north", "south"))
        row["transferred_km2"] = moved
        row["russia_gain_km2"] = moved
        distances = {pid: sum(deal[iid] != opts[iid] for iid in ISSUES) / len(ISSUES)
                     for pid, (_, opts) in PROPOSALS.items()}
        nearest = min(distances, key=lambda p: (distances[p], p))
        row["nearest_proposal"] = nearest
        row["proposal_distance"] = float(distances[nearest])
        row["p:actors.beta.reservation.value"] = reservations.get("beta", float("nan"))
        runs.append(row)
        for r in range(end + 1):
            for a in actors:
                aspiration = 1.0 - (1.0 - reservations[a]) * r / MAX_ROUNDS
                rounds.append({"point": point, "run": run, "round": r, "actor": a,
                               "utility": float(rng.uniform(0, 1)), "aspiration": aspiration,
                               "reservation": reservations[a],
                               "accepted": bool(outcome == "agreement" and r == end)})

    columns = ["point", "run", "outcome", "round", "walked_away", *[f"deal_{i}" for i in ISSUES],
               *[f"{kind}_{a}" for a in actors for kind in ("utility", "reservation")],
               "transferred_km2", "russia_gain_km2", "nearest_proposal", "proposal_distance",
               "p:actors.beta.reservation.value"]
    runs_df = pd.DataFrame(runs, columns=columns)
    runs_df.to_parquet(out / "runs.parquet", index=False)
    if with_rounds:
        rounds_df = pd.DataFrame(rounds, columns=["point", "run", "round", "actor", "utility",
                                                  "aspiration", "reservation", "accepted"])
        if empty_rounds:
            rounds_df = rounds_df.iloc[0:0]
        rounds_df.to_parquet(out / "rounds.parquet", index=False)

    manifest = {
        "negsim_version": "0.1.0",
        "command": f"negsim run tiny.yaml --runs {n_runs} --seed {seed}",
        "started": "2025-08-15T12:00:00+00:00",
        "finished": "2025-08-15T12:00:01+00:00",
        "status": "complete",
        "seed": seed,
        "runs": n_runs,
        "scenario": {"path": "tests/data/tiny.yaml", "sha256": "0" * 64, "name": "tiny",
                     "title": "Tiny test scenario", "as_of": "2025-08-15"},
        "actors": [{"id": a, "name": ACTORS[a], "roles": ["mediator" if a == "gamma" else "signatory"]}
                   for a in actors],
        "issues": [{"id": iid, "name": spec["name"], "kind": spec["kind"], "options": spec["options"],
                    "area_km2": spec["area_km2"]} for iid, spec in ISSUES.items()],
        "proposals": [{"id": pid, "name": name} for pid, (name, _) in PROPOSALS.items()],
        "signatories": [a for a in actors if a != "gamma"],
        "max_rounds": MAX_ROUNDS,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out
