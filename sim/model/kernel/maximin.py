"""The alternating proposer's search, compiled: sim.model.protocols.alternating.maximin_deal for one run.

An offer maximises the smallest margin it leaves the other parties (the goal) subject to the
proposer's own margin (the floor); see maximin_deal for the method. Here one run at a time,
with the same arithmetic: its einsums as sequential sums over the involved actors, its sums
over actors in numpy's order, its argmaxes taking the first of equal scores.

Who believes what: the proposer `p` knows its own preferences in the run (the run's rows),
and the scenario's point estimates of everyone else's (`c` rows); `beliefs` picks the rows.
"""

from __future__ import annotations

import numpy as np

from sim.model.kernel import jit, part
from sim.model.kernel.numeric import clip, copy1, deal_utility, npsum

TOL = 1e-12
BISECTION_STEPS = 20
WEIGHT_ROUNDS = 3
ETA = 8.0
SWEEPS = 3


@jit
def utility_of(g, x, a, deal, scratch):
    """u_a(deal) as the proposer in `x` believes it (x.p: proposer; x.values etc.: its own rows)."""
    own = a == x.p
    values = x.values if own else x.c_values
    weights = x.weights if own else x.c_weights
    deltas = x.deltas if own else x.c_deltas
    return deal_utility(g.offsets, g.t_actor, g.t_affected, g.t_cond_issue, g.t_cond_mask, values, weights, a, deltas,
                        deal, scratch)


@jit
def _margins(mask, coef, offset, u, out):
    """Target.value for utilities u (n,) of the involved actors: (smallest margin, mean margin); 0, 0
    when the mask is empty. `out` (n,) receives the masked margins (0 elsewhere), as summed for the mean."""
    n = len(u)
    count = 0
    low = np.inf
    for j in range(n):
        if mask[j]:
            m = u[j] * coef[j] - offset[j]
            count += 1
            low = min(low, m)
            out[j] = m
        else:
            out[j] = 0.0
    if count == 0:
        return 0.0, 0.0
    return low, npsum(out, n) / count


@jit
def _lowest(mask, coef, offset, u):
    """_margins's smallest margin alone (the floor's mean is never used)."""
    count = 0
    low = np.inf
    for j in range(len(u)):
        if mask[j]:
            m = u[j] * coef[j] - offset[j]
            count += 1
            low = min(low, m)
    return low if count else 0.0


@jit
def _key(x, u):
    """maximin_deal's ranking of a deal: feasibility first, then the smallest goal margin, then the mean."""
    g_min, g_mean = _margins(x.goal_mask, x.goal_coef, x.goal_offset, u, x.margins)
    h_min = _lowest(x.floor_mask, x.floor_coef, x.floor_offset, u)
    if h_min >= -TOL:
        return g_min + 1e-3 * g_mean
    return -10.0 + h_min


@part
def _evaluate(g, x, deal, u):
    """u[j]: utility of `deal` for each involved actor j."""
    for j in range(len(x.involved)):
        u[j] = utility_of(g, x, x.involved[j], deal, x.issues)


@jit
def _floor_ok(g, x, deal):
    """Whether the deal clears the floor, judged on the floor's actors alone (evaluate_floor)."""
    low = np.inf
    count = 0
    for j in range(len(x.involved)):
        if x.floor_mask[j]:
            m = utility_of(g, x, x.involved[j], deal, x.issues) * x.floor_coef[j] - x.floor_offset[j]
            low = min(low, m)
            count += 1
    return (low if count else 0.0) >= -TOL


@part
def _prepare(g, x, deal):
    """For every involved actor j, under `deal`: x.moved[j] its values with the deal's firing terms
    applied (as deal_values applies them), x.products[j] its per-issue terms of the utility, and
    the running sums of esum's two lanes over them (x.prefix[j], x.last[j])."""
    n_issues = len(g.offsets)
    for j in range(len(x.involved)):
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
        for i in range(n_issues):
            x.products[j, i] = row[g.offsets[i] + deal[i]] * weights[a, i]
        for lane in range(2):
            acc = 0.0
            for pos in range(g.lanes.shape[1]):
                x.prefix[j, lane, pos] = acc
                e = g.lanes[lane, pos]
                acc = (x.products[j, e] if e >= 0 else 0.0) + acc
            x.last[j, lane] = acc


@jit
def _edited(g, x, deal, i, c, u):
    """u[j]: utility for each involved actor of `deal` with issue i set to option c, from _prepare's
    sums: only the edited term and the rest of its lane are added again, in esum's order, which
    gives esum's own result. An actor owning a term that issue i conditions is evaluated in full."""
    for j in range(len(x.involved)):
        a = x.involved[j]
        if g.owns[a, i]:
            copy1(x.trial, deal)
            x.trial[i] = c
            u[j] = utility_of(g, x, a, x.trial, x.issues)
            continue
        weights = x.weights if a == x.p else x.c_weights
        lane, pos = g.lane_of[i], g.lane_pos[i]
        acc = x.moved[j, g.offsets[i] + c] * weights[a, i] + x.prefix[j, lane, pos]
        for q in range(pos + 1, g.lanes.shape[1]):
            e = g.lanes[lane, q]
            acc = (x.products[j, e] if e >= 0 else 0.0) + acc
        u[j] = acc + x.last[j, 1 - lane]


@jit
def _normalise(weights, mask):
    n = len(weights)
    for j in range(n):
        if not mask[j]:
            weights[j] = 0.0
    total = npsum(weights, n)
    for j in range(n):
        weights[j] = weights[j] / (total if total > 0 else 1.0)


@jit
def _undominated(g, gtab, ftab, keep):
    """keep[o]: no option of o's issue before it scores at least as high in both tables. Such an
    option o never wins _argmax_deal: for every mix in [0, 1] its score is, rounding being
    monotone, at most that of the earlier one, which also wins a tie."""
    for i in range(len(g.offsets)):
        start = g.offsets[i]
        for o in range(start, start + g.n_options[i]):
            keep[o] = True
            for q in range(start, o):
                if gtab[q] >= gtab[o] and ftab[q] >= ftab[o]:
                    keep[o] = False
                    break


@jit
def _argmax_deal(g, gtab, ftab, keep, mix, deal):
    """Issue by issue, the option with the highest (1 - mix) * gtab + mix * ftab (the first of equal
    ones), among the options `keep` leaves (see _undominated)."""
    for i in range(len(g.offsets)):
        start = g.offsets[i]
        best = 0
        top = (1.0 - mix) * gtab[start] + mix * ftab[start]
        for o in range(1, g.n_options[i]):
            if keep[start + o]:
                v = (1.0 - mix) * gtab[start + o] + mix * ftab[start + o]
                if v > top:
                    best, top = o, v
        deal[i] = best


@jit
def _table_row(g, x, j, o):
    """_tables: involved actor j's weighted value of flat option o, interactions left out."""
    a = x.involved[j]
    if a == x.p:
        return x.weights[a, g.issue_of[o]] * x.values[a, o]
    return x.c_weights[a, g.issue_of[o]] * x.c_values[a, o]


@part
def maximin(g, x, fallback, deal):
    """maximin_deal for one run: `deal` (I,) gets the offer; returns whether it clears the floor."""
    n_inv, n_flat = len(x.involved), len(g.issue_of)
    lam, kap, u = x.lam, x.kap, x.u
    for j in range(n_inv):
        lam[j] = 1.0
        kap[j] = 1.0
    goal_count, floor_count = 0, 0
    for j in range(n_inv):
        goal_count += 1 if x.goal_mask[j] else 0
        floor_count += 1 if x.floor_mask[j] else 0
    rounds = WEIGHT_ROUNDS if goal_count > 1 or floor_count > 1 else 1
    best, trial = x.best, x.trial
    best_key = -np.inf
    # The weights' rounds, then one that judges the fallback: one copy of the evaluation for both.
    for round_ in range(rounds + 1):
        candidate = fallback
        if round_ < rounds:
            # Normalised at the top of each round: the weights are not read after the last.
            _normalise(lam, x.goal_mask)
            _normalise(kap, x.floor_mask)
            for o in range(n_flat):
                gs, fs = 0.0, 0.0
                for j in range(n_inv):
                    t = _table_row(g, x, j, o)
                    gs = gs + lam[j] * x.goal_coef[j] * t
                    fs = fs + kap[j] * x.floor_coef[j] * t
                x.gtab[o], x.ftab[o] = gs, fs
            _undominated(g, x.gtab, x.ftab, x.keep)
            lo, hi = 0.0, 1.0 - 1e-9
            judged = False  # whether x.judged holds the last deal judged, with verdict `ok`
            ok = False
            for step in range(BISECTION_STEPS + 1):  # the last step picks the deal at `hi`: one copy of the argmax
                last = step == BISECTION_STEPS
                mid = hi if last else 0.5 * (lo + hi)
                _argmax_deal(g, x.gtab, x.ftab, x.keep, mid, trial)
                if last:
                    break
                same = judged
                for i in range(len(trial)):
                    if same and trial[i] != x.judged[i]:
                        same = False
                if not same:  # the same deal gets the same verdict: judge each new one once
                    ok = _floor_ok(g, x, trial)
                    copy1(x.judged, trial)
                    judged = True
                if ok:
                    hi = mid
                else:
                    lo = mid
            candidate = trial
        _evaluate(g, x, candidate, u)
        k = _key(x, u)
        if k > best_key:
            copy1(best, candidate)
            best_key = k
        if round_ < rounds:
            for j in range(n_inv):
                gm = u[j] * x.goal_coef[j] - x.goal_offset[j] if x.goal_mask[j] else 0.0
                fm = u[j] * x.floor_coef[j] - x.floor_offset[j] if x.floor_mask[j] else 0.0
                lam[j] = lam[j] * np.exp(-ETA * gm)
                kap[j] = kap[j] * np.exp(-ETA * fm)
    copy1(deal, best)
    prepared = False
    for _ in range(SWEEPS):
        moved = False
        for i in range(len(g.offsets)):
            if not prepared:
                _prepare(g, x, deal)
                prepared = True
            held = deal[i]
            pick, top, current = 0, -np.inf, -np.inf
            for c in range(g.n_options[i]):
                _edited(g, x, deal, i, c, u)
                k = _key(x, u)
                if c == 0 or k > top:
                    pick, top = c, k
                if c == held:
                    current = k
            # Only strict gains move, so a sweep never cycles between equally good options.
            if top > current + 1e-15:
                deal[i] = pick
                moved = True
                prepared = False
        if not moved:
            break
    _evaluate(g, x, deal, u)
    return _lowest(x.floor_mask, x.floor_coef, x.floor_offset, u) >= -TOL
