"""One bargaining analysis of a game: frontier, ZOPA, solutions and the named proposals, as one result.

Everything is computed at one set of preferences (the point estimates unless told otherwise)
without enumerating the deal space, which routinely exceeds 10^7 deals.

Proposals: `distance_to_frontier` is the largest e such that some deal gives *every* actor (all
actors, not only signatories) at least e more than the proposal: how much all could gain at
once by moving to the frontier; 0 when the proposal is weakly Pareto-optimal.
`below_reservation` lists every actor below its reservation value; `blocking` only those whose
yes the proposal needs.

The result says whether it is exact: `frontier_exact` is false when the frontier was thinned
(then `max_error` bounds the error per actor), `exact` is false too when the ZOPA size is an
estimate; `method` says which was done.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from sim.analysis.frontier import Thinning, group_frontier, merge_all, nondominated
from sim.analysis.solutions import SOLUTIONS, bargaining_solutions
from sim.analysis.tables import TOL, Setup, group_tables, issue_groups
from sim.analysis.zopa import count_zopa, dormant, estimate_zopa, in_zopa

if TYPE_CHECKING:
    from sim.domain.game import Game
    from sim.domain.utility import Preferences


def analyze(game: Game, prefs: Preferences | None = None, exact_limit: int = 2_000_000, max_frontier: int = 50_000,
            run: int = 0, samples: int = 200_000) -> dict:
    """Pareto frontier, ZOPA, Nash / Kalai-Smorodinsky / utilitarian deals and proposal diagnostics.

    prefs: preferences to analyse (default: the point estimates); `run` picks one run of a batch.
    exact_limit: the most partial deals the exact ZOPA count may hold at once (and the largest
        issue group it may list); beyond it the ZOPA size is estimated from `samples` deals.
    max_frontier: the most points a merged frontier may keep before it is thinned on an
        epsilon grid (then `exact` is False and `max_error` bounds the error).
    """
    t0 = time.perf_counter()
    prefs = game.central_preferences() if prefs is None else prefs
    st = Setup.of(game, prefs, run)
    n_a = st.n_actors
    groups = issue_groups(game)
    thinning = Thinning(max_frontier, [])
    # The all-actor frontier needs no consent flags; the ZOPA search carries them but drops
    # partial deals that cannot reach the reservation values, so it stays small.
    front = merge_all([group_frontier(game, st, g, thinning, False) for g in groups], n_a, thinning)
    util = front.crit[:, :n_a]
    t_frontier = time.perf_counter()

    if len(st.consent_actors):
        inner = merge_all([group_frontier(game, st, g, thinning, True) for g in groups], n_a, thinning, zopa=st)
    else:
        # Without deal-dependent consent the ZOPA is upward closed, so its Pareto set is the
        # frontier's part inside it.
        inner = front
    zutil = inner.crit[:, :n_a]
    zidx = np.nonzero(in_zopa(st, zutil, inner.crit[:, n_a:]))[0]
    zpareto = zidx if inner is front else zidx[nondominated(zutil[zidx])]
    sol = bargaining_solutions(zutil[zpareto], st.signatories, st.reservation)
    t_solutions = time.perf_counter()

    def point(key: str) -> dict | None:
        k = sol[key]
        if k is None:
            return None
        row = zpareto[k]
        return {"deal": game.space.describe(inner.deals[row]), "deal_index": inner.deals[row].copy(),
                "utilities": zutil[row].copy(), "deals_with_these_utilities": int(inner.count[row])}

    # ZOPA size: exact branch and bound, else a sampled estimate.
    zopa_count: dict
    tables = group_tables(game, st, groups, exact_limit)
    exact_count = count_zopa(st, tables, groups, exact_limit) if tables is not None else None
    if exact_count is not None:
        zopa_count = {"size": exact_count, "exact": True, "method": "exact count, branch and bound over issue groups"}
    else:
        est, low, high = estimate_zopa(game, st, prefs, run, samples)
        zopa_count = {"size": est, "exact": False, "low": low, "high": high,
                      "method": f"estimate from a uniform sample of {samples:,} deals (seed 0), "
                                f"95% Wilson interval"}
    t_zopa = time.perf_counter()

    proposals = proposal_records(game, st, prefs, run, util)
    method = ("frontier: Minkowski merge of per-group Pareto sets over "
              f"{len(groups)} issue groups (largest {max(len(g) for g in groups)} issues), exact")
    if thinning.epsilons:
        method = method.removesuffix(", exact") + (
            f", thinned on an epsilon grid (epsilons {', '.join(f'{e:g}' for e in thinning.epsilons)}) to at most "
            f"{max_frontier:,} points, max error {thinning.max_error:g} per actor")
    method += f"; ZOPA size: {zopa_count['method']}"
    return {
        "scenario": game.name,
        "actor_ids": game.actor_ids,
        "issue_ids": game.space.issue_ids,
        "space_size": game.space.size,
        "signatories": [game.actor_ids[a] for a in st.signatories.tolist()],
        "consent_actors": {game.actor_ids[a]: [game.space.issue_ids[i] for i in sorted(mine)]
                           for a, mine in zip(st.consent_actors.tolist(), st.consent_issues)},
        "reservation": st.reservation.copy(),
        "groups": [[game.space.issue_ids[i] for i in g] for g in groups],
        "frontier_utilities": util,
        "frontier_deals": front.deals,
        "frontier_counts": front.count,
        "pareto_points": len(util),
        "pareto_size": int(front.count.sum()),
        "zopa_pareto_utilities": zutil[zpareto],
        "zopa_pareto_deals": inner.deals[zpareto],
        "zopa_pareto_points": len(zpareto),
        "zopa_pareto_size": int(inner.count[zpareto].sum()),
        "zopa": zopa_count,
        "zopa_size": zopa_count["size"],
        "ideal": None if sol["ideal"] is None else sol["ideal"].copy(),
        **{key: point(key) for key in SOLUTIONS},
        "proposals": proposals,
        "frontier_exact": not thinning.epsilons,
        "exact": not thinning.epsilons and zopa_count["exact"],
        "max_error": thinning.max_error,
        "method": method,
        "seconds": {"frontier": t_frontier - t0, "zopa_frontier_and_solutions": t_solutions - t_frontier,
                    "zopa_size": t_zopa - t_solutions, "total": time.perf_counter() - t0},
    }


def proposal_records(game: Game, st: Setup, prefs: Preferences, run: int, front: np.ndarray) -> list[dict]:
    """Each named proposal against the frontier `front` (points (n, A)) and the reservation values."""
    if not len(game.proposals):
        return []
    u = game.utilities(prefs.take(slice(run, run + 1)), game.proposals)[0]  # (P, A)
    zopa = in_zopa(st, u, dormant(game, st, game.proposals))
    needed = game.must_agree(game.proposals)
    out = []
    for p, pid in enumerate(game.proposal_ids):
        # Every actor can gain at least `lift` at once. Frontier points suffice: min_a(f_a - u_a)
        # only grows as f moves up, and every deal lies below some frontier point.
        lift = float(np.max(np.min(front - u[p], axis=1)))
        dominated = bool(np.any(np.all(front >= u[p] - TOL, axis=1) & np.any(front > u[p] + TOL, axis=1)))
        below = u[p] < st.reservation - TOL
        out.append({
            "id": pid,
            "name": game.proposal_names[p],
            "utilities": u[p].copy(),
            "distance_to_frontier": max(0.0, lift),
            "pareto_optimal": not dominated,
            "below_reservation": [game.actor_ids[a] for a in np.nonzero(below)[0].tolist()],
            "blocking": [game.actor_ids[a] for a in np.nonzero(below & needed[p])[0].tolist()],
            "in_zopa": bool(zopa[p]),
        })
    return out
