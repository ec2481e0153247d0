"""One run's story in plain words: what was on the table, who said what, how the war moved.

Runs seed themselves, so run k is simulated alone and tells exactly the story it tells
inside any batch of the same seed.
"""

from __future__ import annotations

import numpy as np

from sim.domain.game import Game
from sim.model.model import OUTCOME_NAMES, NegotiationModel, RunDraws


def simulate_one(game: Game, seed: int, run: int, point: int = 0) -> NegotiationModel:
    """Run `run` of `point` alone, with its round-by-round record."""
    max_rounds = game.protocol["max_rounds"]
    draws = RunDraws.draw(game, seed, np.array([run]), max_rounds)
    model = NegotiationModel(game, game.sample_preferences(draws.params), draws, collect_rounds=True, rng=seed)
    model.run()
    return model


def _deal_text(game: Game, deal: np.ndarray, previous: np.ndarray | None) -> str:
    desc = game.space.describe(deal)
    if previous is None:
        return ", ".join(f"{k}={v}" for k, v in desc.items())
    changed = [f"{iid}: {game.space.option_ids[i][previous[i]]} -> {desc[iid]}"
               for i, iid in enumerate(game.space.issue_ids) if previous[i] != deal[i]]
    return "; ".join(changed) if changed else "unchanged"


def _front_text(game: Game, line: np.ndarray, names: dict) -> str:
    """Who holds how much of each region: `donetsk: Russia 75.0%, Ukraine 25.0%; ...` in the
    scenario's own names."""
    terr = game.territory
    return "; ".join(f"{region}: " + ", ".join(f"{names.get(h, h)} {100 * line[t, k]:.1f}%"
                                               for k, h in enumerate(terr.holders(t)))
                     for t, region in enumerate(terr.region_ids))


def trace(game: Game, seed: int, run: int) -> str:
    """The story of one run as text."""
    model = simulate_one(game, seed, run)
    names = dict(zip(game.actor_ids, game.actor_names))
    events = {}
    for rnd, name in model.events_fired:
        events.setdefault(rnd, []).append(name)
    lines = [f"Run {run} of {game.name} (seed {seed}), protocol {game.protocol['kind']}"]
    previous, prev_line, previous_round = None, None, None
    for rec in model.round_records():
        rnd = rec["round"]
        if previous_round is not None and rnd > previous_round + 1:
            lines.append(f"  (talks paused for {rnd - previous_round - 1} rounds)")
        previous_round = rnd
        lines.append(f"Round {rnd} ({game.date_of_round(rnd)})")
        for name in events.get(rnd, []):
            lines.append(f"  event: {name}")
        line = rec["line"][0]
        if game.territory.n_regions and (prev_line is None or not np.allclose(line, prev_line)):
            lines.append(f"  front: {_front_text(game, line, names)}")
        prev_line = line
        text = rec["text"][0]
        lines.append(f"  on the table: {_deal_text(game, text, previous)}")
        previous = text
        for a, aid in enumerate(game.actor_ids):
            u, asp, res, ok = (rec[k][0, a] for k in ("utility", "aspiration", "reservation", "accepted"))
            verdict = "accepts" if ok else "rejects"
            lines.append(f"  {names[aid]} {verdict}: utility {u:.3f}, aspiration {asp:.3f}, no deal worth {res:.3f}")
    outcome = OUTCOME_NAMES[int(model.status[0])]
    end = int(model.end_round[0])
    detail = ""
    if model.suspensions[0]:
        detail = (f": talks paused {model.suspensions[0]} time(s), last by "
                  f"{names[game.actor_ids[model.walked_away[0]]]} walking out")
    if model.vetoed_by[0] >= 0:
        detail = f": {names[game.actor_ids[model.vetoed_by[0]]]} withheld consent; ceasefire without a settlement"
    lines.append(f"Outcome: {outcome} in round {end} ({game.date_of_round(end)}){detail}")
    lines.append(f"  deal: {_deal_text(game, model.text[0], None)}")
    return "\n".join(lines)
