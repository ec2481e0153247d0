"""The subgame-perfect plan's offer search, compiled: round t's constrained best deal for every run.

sim.model.protocols.alternating.subgame_perfect_plan solves the plan backwards over the horizon,
one maximin_deal call a round over all runs; this kernel is that call (the proposer's utility as
the goal, every other party's continuation value as the floor, no fallback) with the offers'
search of sim.model.kernel.maximin and sim.model.kernel.alternating.ascend. Information is complete
in the plan, so the proposer's picture of everyone is the run's own preferences.
"""

from __future__ import annotations

from sim.model.kernel import kernel
from sim.model.kernel.alternating import ascend, beliefs
from sim.model.kernel.maximin import _floor_ok, maximin


@kernel
def plan_offers(g, values, weights, deltas, party_mask, p, need, deals, feasible, w):
    """deals[r] (R, I): proposer p's best deal in run r that gives every other party at least need[r] (R, A);
    feasible[r]: whether it does."""
    n_actors = values.shape[1]
    for r in range(values.shape[0]):
        n = 0
        for a in range(n_actors):
            if party_mask[a] or a == p:
                w.involved[n] = a
                w.goal_mask[n] = a == p
                w.goal_coef[n] = 1.0
                w.goal_offset[n] = 0.0
                w.floor_mask[n] = party_mask[a] and a != p
                w.floor_coef[n] = 1.0
                w.floor_offset[n] = need[r, a]
                n += 1
        x = beliefs(p, values[r], weights[r], deltas[r], values[r], weights[r], deltas[r], w, n)
        maximin(g, x, deals[r], deals[r], False)
        ascend(g, x, deals[r])
        feasible[r] = _floor_ok(g, x, deals[r])
