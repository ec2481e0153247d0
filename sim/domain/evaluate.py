"""Evaluate named proposals at the point estimates: utilities, who accepts, margins, km² moved."""

from __future__ import annotations

import numpy as np

from sim.domain.game import Game


def evaluate_proposals(game: Game) -> list[dict]:
    """One record per named proposal, in scenario order."""
    if not len(game.proposals):
        return []
    prefs = game.central_preferences()
    utils = game.utilities(prefs, game.proposals)[0]  # (P, A)
    reservation = prefs.reservation[0]
    moved = game.territory.accounting(game.proposals)
    out = []
    for p, pid in enumerate(game.proposal_ids):
        margins = utils[p] - reservation
        out.append({
            "id": pid,
            "name": game.proposal_names[p],
            "deal": game.space.describe(game.proposals[p]),
            "utilities": {a: round(float(utils[p, k]), 6) for k, a in enumerate(game.actor_ids)},
            "reservations": {a: round(float(reservation[k]), 6) for k, a in enumerate(game.actor_ids)},
            "accepts": {a: bool(margins[k] >= 0) for k, a in enumerate(game.actor_ids)},
            "margins": {a: round(float(margins[k]), 6) for k, a in enumerate(game.actor_ids)},
            "area_transferred_km2": round(float(moved["transferred_km2"][p]), 1),
            "russia_gain_km2": round(float(moved["russia_gain_km2"][p]), 1),
            "signatories_accept": bool(np.all(margins[game.signatories] >= 0)),
        })
    return out
