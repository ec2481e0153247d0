"""The alternating-offers protocol's rounds, compiled: the proposer tables an offer, everyone answers.

Alternating.round, ._concede and .offer (sim.model.protocols.alternating) one run at a time
inside the round loop of `play_alternating`; the search for the offer is sim.model.kernel.maximin,
then its coordinate ascent here (`ascend`), which evaluates each edit of a deal from running sums.
A subgame-perfect plan is solved by the protocol when the model starts (numpy) and read here.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from sim.model.kernel import jit, kernel, part
from sim.model.kernel.maximin import SWEEPS, TOL, _lowest, _margins, maximin, utility_of
from sim.model.kernel.numeric import clip, copy1, fmin, uix
from sim.model.kernel.rounds import (
    PLAY_BLOCK,
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
from sim.model.kernel.war import war_block, war_refresh
from sim.model.status import ACTIVE, SUSPENDED

#: What proposer p believes in one run, and the work space of its search (see sim.model.kernel.maximin).
Beliefs = namedtuple("Beliefs", "p values weights deltas c_values c_weights c_deltas involved goal_mask goal_coef "
                     "goal_offset floor_mask floor_coef floor_offset margins lam kap u gtab ftab best trial issues "
                     "moved products prefix last keep win_lo win_hi open_issues")


@jit
def _sums(g, x, j, lane, start, acc):
    """x.prefix[j, lane, start:] and x.last[j, lane]: esum's running sum of the lane over x.products[j],
    from its position `start` on, where the sum so far is `acc`."""
    for pos in range(start, g.lanes.shape[1]):
        x.prefix[uix(j), uix(lane), uix(pos)] = acc
        e = g.lanes[uix(lane), uix(pos)]
        acc = (x.products[uix(j), uix(e)] if e >= 0 else 0.0) + acc
    x.last[uix(j), uix(lane)] = acc


@jit
def _prepare_actor(g, x, deal, j):
    """_prepare for involved actor j."""
    a = x.involved[j]
    own = a == x.p
    values = x.values if own else x.c_values
    weights = x.weights if own else x.c_weights
    deltas = x.deltas if own else x.c_deltas
    row = x.moved[j]
    copy1(row, values[a])
    for k in range(len(g.t_actor)):
        if g.t_actor[k] == a and g.t_cond_mask[k, deal[g.t_cond_issue[k]]]:
            for o in range(len(row)):
                if g.t_affected[k, o]:
                    row[o] = row[o] + deltas[k]
    for k in range(len(g.t_actor)):
        if g.t_actor[k] == a and g.t_cond_mask[k, deal[g.t_cond_issue[k]]]:
            for o in range(len(row)):
                if g.t_affected[k, o]:
                    row[o] = clip(row[o], 0.0, 1.0)
    for i in range(len(g.offsets)):
        x.products[j, i] = row[g.offsets[i] + deal[i]] * weights[a, i]
    _sums(g, x, j, 0, 0, 0.0)
    _sums(g, x, j, 1, 0, 0.0)


@part
def _prepare(g, x, deal):
    """For every involved actor j, under `deal`: x.moved[j] its values with the deal's firing terms
    applied (as deal_values applies them), x.products[j] its per-issue terms of the utility, and
    the running sums of esum's two lanes over them (x.prefix[j], x.last[j])."""
    for j in range(len(x.involved)):
        _prepare_actor(g, x, deal, j)


@jit
def _repair(g, x, deal, i, old):
    """_prepare's arrays after issue i of `deal` moved from option `old`: an actor whose terms fire
    as before keeps its values, and only its term of issue i and the sums after it are done again
    (the same operations as _prepare's, so the same results)."""
    for j in range(len(x.involved)):
        a = x.involved[uix(j)]
        if g.owns[uix(a), uix(i)] and _refires(g, a, i, old, deal[uix(i)]):
            _prepare_actor(g, x, deal, j)
            continue
        weights = x.weights if a == x.p else x.c_weights
        x.products[uix(j), uix(i)] = x.moved[uix(j), uix(g.offsets[uix(i)] + deal[uix(i)])] * weights[uix(a), uix(i)]
        lane, pos = g.lane_of[uix(i)], g.lane_pos[uix(i)]
        _sums(g, x, j, lane, pos, x.prefix[uix(j), uix(lane), uix(pos)])


@jit
def _refires(g, a, i, b, c):
    """Whether some term of actor a fires differently with issue i at option b than at option c."""
    for k in range(len(g.t_actor)):
        if (g.t_actor[uix(k)] == a and g.t_cond_issue[uix(k)] == i
                and g.t_cond_mask[uix(k), uix(b)] != g.t_cond_mask[uix(k), uix(c)]):
            return True
    return False


@jit
def _edited(g, x, deal, i, c, j):
    """Involved actor j's utility of `deal` with issue i set to option c, from _prepare's sums:
    only the edited term and the rest of its lane are added again, in esum's order, which gives
    esum's own result. An actor whose terms then fire otherwise is evaluated in full."""
    a = x.involved[uix(j)]
    if g.owns[uix(a), uix(i)] and _refires(g, a, i, deal[uix(i)], c):
        copy1(x.trial, deal)
        x.trial[i] = c
        return utility_of(g, x, a, x.trial, x.issues)
    weights = x.weights if a == x.p else x.c_weights
    lane, pos = g.lane_of[uix(i)], g.lane_pos[uix(i)]
    acc = x.moved[uix(j), uix(g.offsets[uix(i)] + c)] * weights[uix(a), uix(i)] + x.prefix[uix(j), uix(lane), uix(pos)]
    for q in range(pos + 1, g.lanes.shape[1]):
        e = g.lanes[uix(lane), uix(q)]
        acc = (x.products[uix(j), uix(e)] if e >= 0 else 0.0) + acc
    return acc + x.last[uix(j), uix(1 - lane)]


@jit
def _edited_key(g, x, deal, i, c, u):
    """_key of `deal` with issue i set to option c. The floor's actors come first: a deal below the
    floor ranks by the floor's margin alone, and then the others' utilities are not needed."""
    for j in range(len(x.involved)):
        if x.floor_mask[j]:
            u[j] = _edited(g, x, deal, i, c, j)
    h_min = _lowest(x.floor_mask, x.floor_coef, x.floor_offset, u)
    if not h_min >= -TOL:
        return -10.0 + h_min
    for j in range(len(x.involved)):
        if not x.floor_mask[j]:
            u[j] = _edited(g, x, deal, i, c, j)
    g_min, g_mean = _margins(x.goal_mask, x.goal_coef, x.goal_offset, u, x.margins)
    return g_min + 1e-3 * g_mean


@part
def ascend(g, x, deal):
    """maximin_deal's coordinate ascent from `deal` (sim.model.kernel.maximin.maximin's), in place."""
    n_issues, u = len(g.offsets), x.u
    # The arrays _edited reads, for `deal` (-1), or for it before its issue `stale` moved from `was`.
    stale, was = np.int64(-2), np.int64(0)
    # The key of `deal` itself, which every issue's try includes: the same bits whichever issue
    # _edited_key edits (_edited gives esum's own sum), so it is computed once per deal.
    here, known = 0.0, False
    # A move at issue m leaves m coordinate-optimal; once every other issue has been tried since
    # without a move, the rest of the sweeps would move nothing: `quiet` counts those tries.
    moves, quiet = 0, 0
    for _ in range(SWEEPS):
        moved = False
        for i in range(n_issues):
            if moves and quiet == n_issues - 1:
                break
            if stale == -2:
                _prepare(g, x, deal)
            elif stale >= 0:
                _repair(g, x, deal, stale, was)
            stale = -1
            held = deal[i]
            pick, top, current = 0, -np.inf, -np.inf
            for c in range(g.n_options[i]):
                if c == held and known:
                    k = here
                else:
                    k = _edited_key(g, x, deal, i, c, u)
                if c == 0 or k > top:
                    pick, top = c, k
                if c == held:
                    current = k
            here, known = current, True
            # Only strict gains move, so a sweep never cycles between equally good options.
            if top > current + 1e-15:
                deal[i] = pick
                here = top
                moved = True
                stale, was = i, held
                moves, quiet = moves + 1, 0
            else:
                quiet += 1
        if not moved or (moves and quiet == n_issues - 1):
            break


@jit
def beliefs(p, values, weights, deltas, c_values, c_weights, c_deltas, w, n):
    """Beliefs of proposer p (its own rows, and the `c_` rows it holds of the others) over w's first n
    involved actors, with w's arrays as the search's work space."""
    return Beliefs(p, values, weights, deltas, c_values, c_weights, c_deltas, w.involved[:n], w.goal_mask[:n],
                   w.goal_coef[:n], w.goal_offset[:n], w.floor_mask[:n], w.floor_coef[:n], w.floor_offset[:n],
                   w.margins[:n], w.lam[:n], w.kap[:n], w.u[:n], w.gtab, w.ftab, w.best, w.trial, w.issues,
                   w.moved[:n], w.products[:n], w.prefix[:n], w.last[:n], w.keep, w.win_lo, w.win_hi, w.open_issues)


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
    x = beliefs(p, s.values[r], s.weights[r], s.deltas[r], y.c_values, y.c_weights, y.c_deltas, w, n)
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
    maximin(g, x, ideal, deal, True)
    ascend(g, x, deal)


@jit
def _answer_offer(g, s, y, r, k, p, utility, offered_before):
    """Everyone answers the offer on the table in run r (the proposer accepts its own); the stalled
    counts and the record of what the others have offered follow Alternating.round (`offered_before`:
    whether p has tabled an offer in an earlier round)."""
    n_actors = len(utility)
    stalled = s.stalled[r, p]
    for a in range(n_actors):
        answer(g, s, r, a, utility[a] * y.scales[k, a])
    s.accepted[r, p] = True
    s.stalled[r, p] = stalled
    if offered_before:
        for a in range(n_actors):
            if a != p and utility[a] > y.last_from[p, r, a] + 1e-9:
                s.stalled[r, a] = 0
    for a in range(n_actors):
        y.last_from[p, r, a] = utility[a]
        if a != p:
            y.seen_before[r, a] = y.seen[r, a]
            y.seen[r, a] = utility[a]


@jit
def _offered_before(y, p, k0, k):
    """Whether proposer p tabled an offer before round k, this kernel call starting at round k0: every
    round in which some run was open was played, and a run open at round k was open in all before it."""
    offered = y.has_last[p]
    for t in range(k0, k):
        offered = offered or y.order[t % len(y.order)] == p
    return offered


@jit
def _play_block(r0, r1, k0, k1, max_rounds, g, s, wr, y, b, w, n_records):
    """Rounds k0 .. k1 - 1 of alternating offers for runs r0 .. r1 - 1; returns (next round, records, running)."""
    n_actors = s.weights.shape[1]
    utility = w.utility
    for k in range(k0, k1):
        if not any_open(s, r0, r1):
            return k, n_records, False
        war_block(g, wr, s, k, r0, r1, w.war, w.todo)
        open_round(s, k, r0, r1)
        p = y.order[k % len(y.order)]
        y.played[k] = True
        offered_before = _offered_before(y, p, k0, k)
        for r in range(r0, r1):
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
            _answer_offer(g, s, y, r, k, p, utility, offered_before)
            if status != ACTIVE:
                s.blocked[r] = 0
                continue
            close(g, s, r, k, w.flags, w.state)
            n_records = record(s, b, r, k, n_records)
        close_horizon(s, k, max_rounds, r0, r1)
        if not any_open(s, r0, r1):
            return k + 1, n_records, False
    return k1, n_records, True


@kernel
def play_alternating(mode, runs, k0, k1, max_rounds, g, s, wr, y, b, w, n_records):
    """Rounds k0 .. k1 - 1 of alternating offers for every run; returns (next round, records, running).

    The runs are played PLAY_BLOCK at a time through all of the call's rounds, as in
    sim.model.kernel.mediated.play_mediated. With mode REFRESH it refreshes the war values of `runs` instead."""
    if mode == REFRESH:
        war_refresh(g, wr, s, runs, w.war)
        return k0, n_records, True
    end, running = k0, False
    for r0 in range(0, len(s.status), PLAY_BLOCK):
        r1 = min(r0 + PLAY_BLOCK, len(s.status))
        k, n_records, more = _play_block(r0, r1, k0, k1, max_rounds, g, s, wr, y, b, w, n_records)
        end = max(end, k)
        running = running or more
    # Who has offered: read by the blocks above as it stood when the call began (_offered_before).
    for t in range(k0, end):
        if y.played[t]:
            y.has_last[y.order[t % len(y.order)]] = True
    return end, n_records, running
