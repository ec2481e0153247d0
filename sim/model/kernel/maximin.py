"""The alternating proposer's search, compiled: sim.model.protocols.alternating.maximin_deal for one run.

An offer maximises the smallest margin it leaves the other parties (the goal) subject to the
proposer's own margin (the floor); see maximin_deal for the method. Here one run at a time,
with the same arithmetic: its einsums as sequential sums over the involved actors, its sums
over actors in numpy's order, its argmaxes taking the first of equal scores. Work whose result
is known is skipped (issues settled in the bisection, deals judged before, the others' utilities
of a deal below the floor, sweeps past the last move), never changing a result.

Who believes what: the proposer `p` knows its own preferences in the run (the run's rows),
and the scenario's point estimates of everyone else's (`c` rows); `beliefs` picks the rows.
"""

from __future__ import annotations

import numpy as np

from sim.model.kernel import jit, part
from sim.model.kernel.numeric import clip, copy1, deal_utility, npsum, uix

TOL = 1e-12
BISECTION_STEPS = 20
WEIGHT_ROUNDS = 3
ETA = 8.0
SWEEPS = 3
#: The lead (relative to the scores' size) that settles an issue in the bisection (see _settled):
#: rounding moves a score by ~1e-16.
SETTLE = 1e-9


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


@jit
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
def _edited(g, x, deal, i, c, j):
    """Involved actor j's utility of `deal` with issue i set to option c, from _prepare's sums:
    only the edited term and the rest of its lane are added again, in esum's order, which gives
    esum's own result. An actor owning a term that issue i conditions is evaluated in full."""
    a = x.involved[uix(j)]
    if g.owns[uix(a), uix(i)]:
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
    option o never wins _argmax_issue: for every mix in [0, 1] its score is, rounding being
    monotone, at most that of the earlier one, which also wins a tie."""
    for i in range(len(g.offsets)):
        start = g.offsets[uix(i)]
        for o in range(start, start + g.n_options[uix(i)]):
            keep[uix(o)] = True
            for q in range(start, o):
                if gtab[uix(q)] >= gtab[uix(o)] and ftab[uix(q)] >= ftab[uix(o)]:
                    keep[uix(o)] = False
                    break


@jit
def _argmax_issue(g, gtab, ftab, keep, mix, i):
    """maximin_deal's _argmax_deal on issue i alone: the option with the highest (1 - mix) * gtab
    + mix * ftab (the first of equal ones), among the options `keep` leaves (see _undominated)."""
    start = g.offsets[uix(i)]
    best = 0
    top = (1.0 - mix) * gtab[uix(start)] + mix * ftab[uix(start)]
    for o in range(1, g.n_options[uix(i)]):
        f = uix(start + o)
        if keep[f]:
            v = (1.0 - mix) * gtab[f] + mix * ftab[f]
            if v > top:
                best, top = o, v
    return best


@jit
def _settled(g, gtab, ftab, keep, i, o, lo, hi):
    """Whether option o of issue i wins _argmax_issue at every mix in [lo, hi]: it beats every other
    kept option at both ends by far more than rounding can move a score (a score is linear in the
    mix, so the lead holds in between, and the computed scores keep the exact order)."""
    start = g.offsets[uix(i)]
    go, fo = gtab[uix(start + o)], ftab[uix(start + o)]
    for q in range(g.n_options[uix(i)]):
        f = uix(start + q)
        if q != o and keep[f]:
            gq, fq = gtab[f], ftab[f]
            dg, df = go - gq, fo - fq
            tol = SETTLE * (1.0 + abs(go) + abs(fo) + abs(gq) + abs(fq))
            # Written so that a nan settles nothing.
            if not ((1.0 - lo) * dg + lo * df >= tol and (1.0 - hi) * dg + hi * df >= tol):
                return False
    return True


@jit
def _bisect(g, x, deal):
    """maximin_deal's bisection on the trade-off for the current tables: `deal` gets the argmax deal
    at the final `hi`. An issue whose option wins at both ends of the shrinking interval with a
    clear lead (_settled) keeps it for every later mid, so only the other (open) issues are
    recomputed; a deal equal to the one at lo (which failed the floor) or at hi (which cleared it)
    is not judged again. The deals, the verdicts and so the interval are those of the full argmax."""
    gtab, ftab, keep = x.gtab, x.ftab, x.keep
    at_lo, at_hi, open_ = x.win_lo, x.win_hi, x.open_issues
    lo, hi = 0.0, 1.0 - 1e-9
    n_open = 0
    for i in range(len(g.offsets)):
        a, b = _argmax_issue(g, gtab, ftab, keep, lo, i), _argmax_issue(g, gtab, ftab, keep, hi, i)
        at_lo[i], at_hi[i], deal[i] = a, b, b
        if not (a == b and _settled(g, gtab, ftab, keep, i, b, lo, hi)):
            open_[n_open] = i
            n_open += 1
    lo_judged, hi_judged = False, False  # the deals at the ends as judged (not the starting ones)
    for _ in range(BISECTION_STEPS):
        if n_open == 0:
            break  # every later deal is this one: the verdict and so the interval no longer change
        mid = 0.5 * (lo + hi)
        as_lo, as_hi = lo_judged, hi_judged
        for t in range(n_open):
            f = uix(open_[uix(t)])
            c = _argmax_issue(g, gtab, ftab, keep, mid, f)
            deal[f] = c
            as_lo = as_lo and c == at_lo[f]
            as_hi = as_hi and c == at_hi[f]
        ok = as_hi or (not as_lo and _floor_ok(g, x, deal))
        if ok:
            hi, hi_judged = mid, True
        else:
            lo, lo_judged = mid, True
        still = 0
        for t in range(n_open):
            f = uix(open_[uix(t)])
            if ok:
                at_hi[f] = deal[f]
            else:
                at_lo[f] = deal[f]
            if not (at_lo[f] == at_hi[f] and _settled(g, gtab, ftab, keep, f, at_hi[f], lo, hi)):
                open_[uix(still)] = f
                still += 1
        n_open = still
    for t in range(n_open):
        deal[open_[t]] = at_hi[open_[t]]


@jit
def _table_rows(g, x):
    """x.moved[j, o]: involved actor j's weighted value of flat option o, interactions left out
    (the tables' terms, the same in every round of weights)."""
    for j in range(len(x.involved)):
        a = x.involved[j]
        own = a == x.p
        weights = x.weights if own else x.c_weights
        values = x.values if own else x.c_values
        for o in range(len(g.issue_of)):
            x.moved[j, o] = weights[a, g.issue_of[o]] * values[a, o]


@jit
def _tables(g, x):
    """x.gtab and x.ftab: the goal's and the floor's tables for the current weights (x.lam, x.kap),
    summed over the involved actors in maximin_deal's einsum order; x.keep their undominated options."""
    for o in range(len(g.issue_of)):
        x.gtab[o], x.ftab[o] = 0.0, 0.0
    for j in range(len(x.involved)):
        gc, fc = x.lam[j] * x.goal_coef[j], x.kap[j] * x.floor_coef[j]
        for o in range(len(g.issue_of)):
            x.gtab[o] = x.gtab[o] + gc * x.moved[j, o]
            x.ftab[o] = x.ftab[o] + fc * x.moved[j, o]
    _undominated(g, x.gtab, x.ftab, x.keep)


@jit
def _sweeps(g, x, deal, u):
    """maximin_deal's coordinate ascent from `deal`, in place (u: work space)."""
    n_issues = len(g.offsets)
    prepared = False
    # A move at issue m leaves m coordinate-optimal; once every other issue has been tried since
    # without a move, the rest of the sweeps would move nothing: `quiet` counts those tries.
    moves, quiet = 0, 0
    for _ in range(SWEEPS):
        moved = False
        for i in range(n_issues):
            if moves and quiet == n_issues - 1:
                break
            if not prepared:
                _prepare(g, x, deal)
                prepared = True
            held = deal[i]
            pick, top, current = 0, -np.inf, -np.inf
            for c in range(g.n_options[i]):
                k = _edited_key(g, x, deal, i, c, u)
                if c == 0 or k > top:
                    pick, top = c, k
                if c == held:
                    current = k
            # Only strict gains move, so a sweep never cycles between equally good options.
            if top > current + 1e-15:
                deal[i] = pick
                moved = True
                prepared = False
                moves, quiet = moves + 1, 0
            else:
                quiet += 1
        if not moved or (moves and quiet == n_issues - 1):
            break


@part
def maximin(g, x, fallback, deal):
    """maximin_deal for one run: `deal` (I,) gets the offer; returns whether it clears the floor."""
    n_inv = len(x.involved)
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
    _table_rows(g, x)
    # The weights' rounds, then one that judges the fallback: one copy of the evaluation for both.
    for round_ in range(rounds + 1):
        candidate = fallback
        if round_ < rounds:
            # Normalised at the top of each round: the weights are not read after the last.
            _normalise(lam, x.goal_mask)
            _normalise(kap, x.floor_mask)
            _tables(g, x)
            _bisect(g, x, trial)
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
    _sweeps(g, x, deal, u)
    _evaluate(g, x, deal, u)
    return _lowest(x.floor_mask, x.floor_coef, x.floor_offset, u) >= -TOL
