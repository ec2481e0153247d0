"""The alternating proposer's search, compiled: sim.model.protocols.alternating.maximin_deal for one run,
up to its coordinate ascent (which sim.model.kernel.alternating holds: this module would outgrow its size).

An offer maximises the smallest margin it leaves the other parties (the goal) subject to the
proposer's own margin (the floor); see maximin_deal for the method. Here one run at a time,
with the same arithmetic: its einsums as sequential sums over the involved actors, its sums
over actors in numpy's order, its argmaxes taking the first of equal scores. Work whose result
is known is skipped (issues settled in the bisection, deals judged before, the rest of a bisection
whose deal is known, weights no round reads; in the ascent, the others' utilities of a deal below
the floor, sweeps past the last move), never changing a result.

Who believes what: the proposer `p` knows its own preferences in the run (the run's rows),
and the scenario's point estimates of everyone else's (`c` rows); `beliefs` picks the rows.
"""

from __future__ import annotations

import numpy as np

from sim.model.kernel import jit, part
from sim.model.kernel.numeric import copy1, deal_utility, npsum, uix

TOL = 1e-12
BISECTION_STEPS = 20
WEIGHT_ROUNDS = 3
ETA = 8.0
SWEEPS = 3
#: The lead (relative to the scores' size) that settles an issue in the bisection (see _settled):
#: rounding moves a score by ~1e-16.
SETTLE = 1e-9
#: Issues with more options than this skip the search for dominated options (see _undominated).
PRUNE_OPTIONS = 64


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
    monotone, at most that of the earlier one, which also wins a tie.

    An issue of more than PRUNE_OPTIONS options keeps every option: the check costs n^2 / 2
    comparisons (half a million for a pie cut in 1,000 slices, on each round of weights), far more
    than the options it spares; keeping a dominated option changes no argmax, only work."""
    for i in range(len(g.offsets)):
        start = g.offsets[uix(i)]
        if g.n_options[uix(i)] > PRUNE_OPTIONS:
            for o in range(start, start + g.n_options[uix(i)]):
                keep[uix(o)] = True
            continue
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
def _beats(gtab, ftab, f, q, lo, hi):
    """Whether flat option f scores above flat option q at every mix in [lo, hi] by far more than
    rounding can move a score: a score is linear in the mix, so a lead at both ends holds in
    between, and the computed scores keep the exact order."""
    go, fo, gq, fq = gtab[uix(f)], ftab[uix(f)], gtab[uix(q)], ftab[uix(q)]
    dg, df = go - gq, fo - fq
    tol = SETTLE * (1.0 + abs(go) + abs(fo) + abs(gq) + abs(fq))
    # Written so that a nan settles nothing.
    return (1.0 - lo) * dg + lo * df >= tol and (1.0 - hi) * dg + hi * df >= tol


@jit
def _settled(g, gtab, ftab, keep, i, o, lo, hi):
    """Whether option o of issue i wins _argmax_issue at every mix in [lo, hi]: it _beats every other
    kept option."""
    start = g.offsets[uix(i)]
    for q in range(g.n_options[uix(i)]):
        f = uix(start + q)
        if q != o and keep[f] and not _beats(gtab, ftab, start + o, f, lo, hi):
            return False
    return True


@jit
def _between(g, gtab, ftab, keep, i, a, b, lo, hi):
    """Whether _argmax_issue on issue i picks option a or option b at every mix in [lo, hi]: one of
    them _beats each other kept option."""
    start = g.offsets[uix(i)]
    for q in range(g.n_options[uix(i)]):
        f = uix(start + q)
        if (q != a and q != b and keep[f] and not _beats(gtab, ftab, start + a, f, lo, hi)
                and not _beats(gtab, ftab, start + b, f, lo, hi)):
            return False
    return True


@jit
def _bisect(g, x, deal):
    """maximin_deal's bisection on the trade-off for the current tables: `deal` gets the argmax deal
    at the final `hi`. An issue whose option wins at both ends of the shrinking interval with a
    clear lead (_settled) keeps it for every later mid, so only the other (open) issues are
    recomputed; a deal equal to the one at lo (which failed the floor) or at hi (which cleared it)
    is not judged again. The deals, the verdicts and so the interval are those of the full argmax.

    The search stops once its deal is known: when one issue is open, both ends have been judged and
    every mid picks that issue's option at lo or at hi (_between), each later deal is the one at lo
    (which fails) or at hi (which clears), so hi keeps its deal to the end."""
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
        if n_open == 1 and lo_judged and hi_judged:
            f = uix(open_[0])
            if _between(g, gtab, ftab, keep, f, at_lo[f], at_hi[f], lo, hi):
                break
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
    summed over the involved actors in maximin_deal's einsum order; x.keep their undominated options.
    An actor whose coefficient is 0 adds +-0 to a sum that starts at +0 and so is never -0, which
    changes nothing: it is left out (the goal's is the proposer, the floor's everyone else)."""
    n_flat = len(g.issue_of)
    for o in range(n_flat):
        x.gtab[uix(o)], x.ftab[uix(o)] = 0.0, 0.0
    for j in range(len(x.involved)):
        gc, fc = x.lam[uix(j)] * x.goal_coef[uix(j)], x.kap[uix(j)] * x.floor_coef[uix(j)]
        if gc != 0.0:
            for o in range(n_flat):
                x.gtab[uix(o)] = x.gtab[uix(o)] + gc * x.moved[uix(j), uix(o)]
        if fc != 0.0:
            for o in range(n_flat):
                x.ftab[uix(o)] = x.ftab[uix(o)] + fc * x.moved[uix(j), uix(o)]
    _undominated(g, x.gtab, x.ftab, x.keep)


@part
def maximin(g, x, fallback, deal, with_fallback):
    """maximin_deal for one run up to its coordinate ascent (sim.model.kernel.alternating.ascend): `deal` (I,)
    gets the best of the weights' rounds and, `with_fallback`, the fallback."""
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
    for round_ in range(rounds + (1 if with_fallback else 0)):
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
        # The next round's weights: none after the last round, none outside the masks (_normalise zeroes those).
        if round_ < rounds - 1:
            for j in range(n_inv):
                if x.goal_mask[j]:
                    lam[j] = lam[j] * np.exp(-ETA * (u[j] * x.goal_coef[j] - x.goal_offset[j]))
                if x.floor_mask[j]:
                    kap[j] = kap[j] * np.exp(-ETA * (u[j] * x.floor_coef[j] - x.floor_offset[j]))
    copy1(deal, best)
