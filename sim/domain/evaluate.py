"""Evaluate named proposals at the point estimates: utilities, who accepts, margins, km² moved (if any land)."""

from __future__ import annotations

import numpy as np

from sim.domain.game import Game


def point_responses(game: Game) -> dict[str, np.ndarray]:
    """(P, A) arrays for the named proposals at point estimates: utilities, reservation values,
    margins, red lines crossed, and whether each actor signs (the model's rule without noise:
    worth at least its reservation value and across none of its red lines)."""
    prefs = game.central_preferences()
    utils = game.utilities(prefs, game.proposals)[0]
    margins = utils - prefs.reservation[0]
    crossed = game.crosses_red_line(game.proposals)
    return {"utilities": utils, "reservations": prefs.reservation[0], "margins": margins, "crossed": crossed,
            "signs": (margins >= 0) & ~crossed}


def evaluate_proposals(game: Game) -> list[dict]:
    """One record per named proposal, in scenario order."""
    if not len(game.proposals):
        return []
    point = point_responses(game)
    utils, reservation, crossed = point["utilities"], point["reservations"], point["crossed"]
    moved = game.territory.accounting(game.proposals)
    out = []
    for p, pid in enumerate(game.proposal_ids):
        margins, signs = point["margins"][p], point["signs"][p]
        out.append({
            "id": pid,
            "name": game.proposal_names[p],
            "deal": game.space.describe(game.proposals[p]),
            "utilities": {a: round(float(utils[p, k]), 6) for k, a in enumerate(game.actor_ids)},
            "reservations": {a: round(float(reservation[k]), 6) for k, a in enumerate(game.actor_ids)},
            "accepts": {a: bool(signs[k]) for k, a in enumerate(game.actor_ids)},
            "red_line": {a: bool(crossed[p, k]) for k, a in enumerate(game.actor_ids)},
            "margins": {a: round(float(margins[k]), 6) for k, a in enumerate(game.actor_ids)},
            "signatories_accept": bool(np.all(signs[game.signatories])),
        })
        if game.territory.n_regions:  # land: what changes hands, and each party's net gain
            out[-1]["area_transferred_km2"] = round(float(moved["transferred_km2"][p]), 1)
            out[-1]["gain_km2"] = {a: round(float(moved["gain_km2"][p, k]), 1)
                                   for k, a in enumerate(game.territory.landholders)}
    return out
