"""The alternating-offers protocol's rounds, compiled: the proposer tables an offer, everyone answers.

Alternating.round, ._concede and .offer (sim.model.protocols.alternating) one run at a time
inside the round loop of `play_alternating`; the search for the offer is sim.model.kernel.maximin.
A subgame-perfect plan is solved by the protocol when the model starts (numpy) and read here.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from sim.model.kernel import jit, kernel, part
from sim.model.kernel.maximin import maximin, utility_of
from sim.model.kernel.numeric import copy1, fmin
from sim.model.kernel.rounds import (
    REFRESH,
    answer,
    any_open,
    close,
    close_horizon,
    concede,
    open_round,
    record,
    utilities,
)
from sim.model.kernel.war import war_runs
from sim.model.status import ACTIVE, SUSPENDED

#: What proposer p believes in one run, and the work space of its search (see sim.model.kernel.maximin).
Beliefs = namedtuple("Beliefs", "p values weights deltas c_values c_weights c_deltas involved goal_mask goal_coef "
                     "goal_offset floor_mask floor_coef floor_offset margins lam kap u gtab ftab best trial issues "
                     "moved products prefix last keep win_lo win_hi open_issues")


@jit
def _undiscount(value, scale):
    """alternating.undiscount for one number: value / scale, out of reach when the scale underflowed."""
    if scale > 0:
        return value / scale
    return np.inf if value > 0 else 0.0


@part
def offer(g, s, y, w, r, k, p, deal):
    """Alternating.offer for run r: `deal` gets proposer p's offer at its aspiration (its best deal if out of reach)."""
    n_actors = s.weights.shape[1]
    n = 0
    for a in range(n_actors):
        if y.party_mask[a] or a == p:
            w.involved[n] = a
            w.goal_mask[n] = y.party_mask[a] and a != p
            w.goal_coef[n] = y.scales[k, a]
            w.goal_offset[n] = y.c_reservation[a]  # the proposer's own is never a goal
            w.floor_mask[n] = a == p
            w.floor_coef[n] = 1.0
            w.floor_offset[n] = 0.0
            n += 1
    x = Beliefs(p, s.values[r], s.weights[r], s.deltas[r], y.c_values, y.c_weights, y.c_deltas, w.involved[:n],
                w.goal_mask[:n], w.goal_coef[:n], w.goal_offset[:n], w.floor_mask[:n], w.floor_coef[:n],
                w.floor_offset[:n], w.margins[:n], w.lam[:n], w.kap[:n], w.u[:n], w.gtab, w.ftab, w.best, w.trial,
                w.issues, w.moved[:n], w.products[:n], w.prefix[:n], w.last[:n], w.keep,
                w.win_lo, w.win_hi, w.open_issues)
    ideal = w.ideal
    for i in range(len(g.offsets)):
        ideal[i] = g.defaults[i]
        if s.weights[r, p, i] > 0:
            start = g.offsets[i]
            best = 0
            for o in range(1, g.n_options[i]):
                if s.values[r, p, start + o] > s.values[r, p, start + best]:
                    best = o
            ideal[i] = best
    best_own = utility_of(g, x, p, ideal, w.issues)
    target = fmin(_undiscount(s.aspiration[r, p], y.scales[k, p]), best_own)
    for j in range(n):
        if w.involved[j] == p:
            w.floor_offset[j] = target
    maximin(g, x, ideal, deal)


@jit
def _answer_offer(g, s, y, r, k, p, utility):
    """Everyone answers the offer on the table in run r (the proposer accepts its own); the stalled
    counts and the record of what the others have offered follow Alternating.round."""
    n_actors = len(utility)
    stalled = s.stalled[r, p]
    for a in range(n_actors):
        answer(g, s, r, a, utility[a] * y.scales[k, a])
    s.accepted[r, p] = True
    s.stalled[r, p] = stalled
    if y.has_last[p]:
        for a in range(n_actors):
            if a != p and utility[a] > y.last_from[p, r, a] + 1e-9:
                s.stalled[r, a] = 0
    for a in range(n_actors):
        y.last_from[p, r, a] = utility[a]
        if a != p:
            y.seen_before[r, a] = y.seen[r, a]
            y.seen[r, a] = utility[a]


@kernel
def play_alternating(mode, runs, k0, k1, max_rounds, g, s, wr, y, b, w, n_records):
    """Rounds k0 .. k1 - 1 of alternating offers for every run; returns (next round, records, running).

    With mode REFRESH it refreshes the war values of `runs` instead."""
    if mode == REFRESH:
        war_runs(mode, g, wr, s, k0, runs, w.war, w.todo)
        return k0, n_records, True
    n_actors = s.weights.shape[1]
    utility = w.utility
    for k in range(k0, k1):
        if not any_open(s):
            return k, n_records, False
        war_runs(mode, g, wr, s, k, runs, w.war, w.todo)
        if open_round(s, k) > 0:
            p = y.order[k % len(y.order)]
            y.played[k] = True
            for r in range(len(s.status)):
                status = s.status[r]
                if status != ACTIVE and status != SUSPENDED:
                    continue
                for a in range(n_actors):
                    concede(g, s, r, k, a, y.seen[r, a], y.seen_before[r, a])
                    if y.planned[a]:
                        s.aspiration[r, a] = y.plan_aspiration[r, k, a]
                if status == ACTIVE:
                    if y.planned[p] and y.plan_agree[r, k]:
                        copy1(s.text[r], y.plan_deal[r, k])
                    else:
                        offer(g, s, y, w, r, k, p, s.text[r])
                copy1(s.tabled[r], s.text[r])
                utilities(g, s, r, s.text[r], utility, w.issues)
                _answer_offer(g, s, y, r, k, p, utility)
                if status != ACTIVE:
                    s.blocked[r] = 0
                    continue
                close(g, s, r, k, w.flags, w.state)
                n_records = record(s, b, r, k, n_records)
            y.has_last[p] = True
        close_horizon(s, k, max_rounds)
        if not any_open(s):
            return k + 1, n_records, False
    return k1, n_records, True
