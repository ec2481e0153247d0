"""Simulate a chunk of Monte Carlo runs and turn the model's state into result tables.

Run `k` under master seed `s` always draws from its own streams, keyed by (s, k) and never by
the parameter point (see RunDraws.draw), so its result does not depend on which chunk, worker
or backend computed it, nor on what else ran beside it, and every point of a sweep sees the
same random numbers (common random numbers): a field that changes nothing changes no result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sim.domain.game import Game
from sim.domain.utility import sample_parameters
from sim.model.model import OUTCOME_NAMES, NegotiationModel, RunDraws


@dataclass(frozen=True)
class ChunkSpec:
    """A unit of work: some runs of one parameter point."""

    seed: int
    point: int
    runs: tuple[int, int]  # [start, stop)
    collect_rounds: bool = True
    engine: str | None = None  # "compiled" or "numpy"; None: NEGSIM_ENGINE, else compiled where numba is installed

    @property
    def run_ids(self) -> np.ndarray:
        """The run indices of this chunk."""
        return np.arange(*self.runs, dtype=np.int64)


#: A deal is named after a proposal only if it differs from it on at most this many issues.
NEAR_ISSUES = 2


def proposal_distance_weights(game: Game) -> np.ndarray:
    """Issue weights that break ties between equally near proposals: the signatories' mean salience."""
    prefs = game.central_preferences()
    w = prefs.weights[0, game.signatories].mean(axis=0)
    return w / w.sum() if w.sum() > 0 else np.full(game.space.n_issues, 1.0 / game.space.n_issues)


def nearest_proposal(game: Game, deals: np.ndarray, near: int = NEAR_ISSUES) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest named proposal (-1 if none is within `near` issues) and the distance.

    The distance is the number of issues on which the deal and the proposal differ (a Hamming
    distance, so it does not depend on anyone's weights); among equally near proposals the one
    differing on the less salient issues (the signatories' mean weights) wins.
    """
    if not len(game.proposals):
        return np.full(len(deals), -1), np.full(len(deals), np.nan)
    differs = deals[:, None, :] != game.proposals[None, :, :]  # (N, P, I)
    count = differs.sum(axis=2)
    tiebreak = (differs * proposal_distance_weights(game)).sum(axis=2)
    # Weighted shares are below 1, so they only order proposals that differ on as many issues.
    best = np.argmin(count + np.clip(tiebreak, 0.0, 0.999), axis=1)
    dist = count[np.arange(len(deals)), best].astype(float)
    return np.where(dist <= near, best, -1), dist



def held_column(region: str, holder: str) -> str:
    """The runs/rounds column of the share of `region` that `holder` holds on the front line."""
    return f"held_{region}_{holder}"


def gain_column(actor: str) -> str:
    """The runs column of an actor's net gain of land in the deal, km² against the as-of line."""
    return f"gain_km2_{actor}"


def front_columns(game: Game) -> list[tuple[str, int, int, str]]:
    """(region, region index, party index, holder) of every front-line column, region by region."""
    terr = game.territory
    return [(region, t, k, holder) for t, region in enumerate(terr.region_ids)
            for k, holder in enumerate(terr.holders(t))]


def simulate_chunk(game: Game, spec: ChunkSpec, max_rounds: int | None = None,
                   engine: str | None = None) -> dict[str, pa.Table]:
    """Run one chunk to the end; return {'runs': Table, 'rounds': Table or absent}.

    `engine` is "compiled" or "numpy" (default: the spec's, else NEGSIM_ENGINE, else compiled
    where numba is installed); both give the same tables.
    """
    engine = engine or spec.engine
    max_rounds = max_rounds or game.protocol["max_rounds"]
    run_ids = spec.run_ids
    draws = RunDraws.draw(game, spec.seed, run_ids, max_rounds, engine=engine)
    sampled = sample_parameters(game.params, draws.params)
    model = NegotiationModel(game, game.preferences_from(sampled), draws, max_rounds=max_rounds, collect_rounds=spec.collect_rounds,
                             rng=spec.seed, engine=engine)
    model.run()
    out = {"runs": runs_table(game, model, spec, draws, sampled)}
    if spec.collect_rounds:
        out["rounds"] = rounds_table(game, model, spec)
    return out


def runs_table(game: Game, model: NegotiationModel, spec: ChunkSpec, draws: RunDraws,
               sampled: np.ndarray | None = None) -> pa.Table:
    """One row per run: outcome, the deal, utilities, km², nearest proposal, sampled inputs (`sampled`: the
    uncertain numbers' values, if the caller has them already; else drawn again from `draws`)."""
    n = model.n_runs
    deals = model.text
    util = game.utilities(model.prefs, deals[:, None, :])[:, 0, :]
    terr = game.territory.accounting(deals, model.line)
    nearest, distance = nearest_proposal(game, deals)
    cols: dict[str, object] = {
        "point": np.full(n, spec.point, dtype=np.int64),
        "run": spec.run_ids,
        "outcome": _labels([OUTCOME_NAMES.get(code, "") for code in range(max(OUTCOME_NAMES) + 1)], model.status),
        "round": model.end_round,
        "day": np.round(model.end_round * game.round_days).astype(np.int64),
        "suspensions": model.suspensions,
        "paused_rounds": model.paused_rounds,
        "walked_away": _labels(game.actor_ids + ("",), model.walked_away),
        "vetoed_by": _labels(game.actor_ids + ("",), model.vetoed_by),
    }
    for i, iid in enumerate(game.space.issue_ids):
        cols[f"deal_{iid}"] = _labels(game.space.option_ids[i], deals[:, i])
    for a, aid in enumerate(game.actor_ids):
        cols[f"utility_{aid}"] = util[:, a]
    for a, aid in enumerate(game.actor_ids):
        cols[f"reservation_{aid}"] = model.reservation[:, a]  # where the war left it when the run ended
    for region, t, k, holder in front_columns(game):
        cols[held_column(region, holder)] = np.asarray(model.line[:, t, k], dtype=float)
    for a, aid in enumerate(game.actor_ids):
        cols[f"cost_{aid}"] = model.accumulated_cost[:, a]
    cols["transferred_km2"] = terr["transferred_km2"]
    for k, aid in enumerate(game.territory.landholders):
        cols[gain_column(aid)] = terr["gain_km2"][:, k]
    cols["nearest_proposal"] = _labels(game.proposal_ids + ("",), nearest)
    cols["proposal_distance"] = distance
    if sampled is None:
        sampled = sample_parameters(game.params, draws.params)
    for k, param in enumerate(game.params):
        cols[f"p:{param.path}"] = sampled[:, k]
    return pa.table(cols)


def _labels(names, codes: np.ndarray) -> pa.Array:
    """A string column naming each code (-1: the last name), built by pyarrow rather than a Python list."""
    codes = np.asarray(codes, dtype=np.int64)
    return pa.array(list(names), type=pa.string()).take(pa.array(np.where(codes >= 0, codes, len(names) - 1)))


def rounds_table(game: Game, model: NegotiationModel, spec: ChunkSpec) -> pa.Table:
    """One row per (run, round, actor): the text's utility, aspiration, reservation, acceptance.

    Built at once from the model's flat round records (the compiled engine's own buffers), in
    run order, then round order, then actor order: the order of rounds.parquet, so that the merge
    appends a chunk as it is."""
    front = front_columns(game)
    n_issues, n_a = game.space.n_issues, game.n_actors
    names = ("point", "run", "round", "actor", "utility", "aspiration", "reservation", "accepted", "cost", "text")
    flat = model.flat_records()
    if flat is None or not len(flat["run"]):
        types = {**_ROUNDS_TYPES, "text": pa.list_(pa.int16(), n_issues),
                 **{held_column(r, h): pa.float64() for r, _, _, h in front}}
        return pa.table({k: pa.array([], type=types[k]) for k in (*names, *(held_column(r, h) for r, _, _, h in front))})
    # The records come round by round (each round's runs in order): a stable sort by run orders them.
    order = np.argsort(flat["run"], kind="stable")
    rows = len(order)
    columns = {"point": np.full(rows * n_a, spec.point, dtype=np.int64),
               "run": np.repeat(spec.run_ids[flat["run"][order]], n_a),
               "round": np.repeat(flat["round"][order].astype(np.int64), n_a),
               "actor": _labels(game.actor_ids, np.tile(np.arange(n_a), rows))}
    for key in ("utility", "aspiration", "reservation", "accepted", "cost"):
        columns[key] = flat[key][order].reshape(-1)
    # The text on the table as option indices per issue (order of the manifest's issues).
    text = np.repeat(flat["text"][order].astype(np.int16), n_a, axis=0).reshape(-1)
    columns["text"] = pa.FixedSizeListArray.from_arrays(pa.array(text), n_issues)
    line = flat["line"][order]
    for region, t, k, holder in front:
        columns[held_column(region, holder)] = np.repeat(np.asarray(line[:, t, k], dtype=float), n_a)
    return pa.table(columns)


_ROUNDS_TYPES = {"point": pa.int64(), "run": pa.int64(), "round": pa.int64(), "actor": pa.string(),
                 "utility": pa.float64(), "aspiration": pa.float64(), "reservation": pa.float64(),
                 "accepted": pa.bool_(), "cost": pa.float64()}
