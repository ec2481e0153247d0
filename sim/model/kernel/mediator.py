"""The mediator's rewrite, compiled: monotone coordinate ascent of the text on the weighted Nash product.

Mediated.rewrite (sim.model.protocols.mediated) one run at a time, with the same arithmetic; the
round loop that calls it is sim.model.kernel.mediated.
"""

from __future__ import annotations

import numpy as np

from sim.model.kernel import jit, part
from sim.model.kernel.numeric import clip, copy1, esum, npsum, surplus_score, uix

#: What a ruled-out option costs a text in the mediator's objective (mediated.RULED_OUT_COST).
RULED_OUT_COST = 1e6


@jit
def _ruled_out(m, g, deal):
    count = 0
    for i in range(len(g.offsets)):
        if m.forbidden[g.offsets[i] + deal[i]]:
            count += 1
    return count


@jit
def _objective_score(util, reservation, lam, terms):
    n_actors = len(lam)
    for a in range(n_actors):
        terms[a] = surplus_score(util[a] - reservation[a]) * lam[a]
    return esum(terms, n_actors)


@jit
def _rows(g, m, values, deltas, text, rows, own):
    """rows[a]: actor a's values with the text's firing terms applied, clipped as
    single_change_utilities clips them, for the actors a that need a row of their own (own[a]);
    the others' rows are their values (in [0, 1] already when m.unit, and clipping them would
    change nothing): see _row. (The loops over the options choose without branching.)"""
    n_actors, n_flat = values.shape
    n_terms = len(g.t_actor)
    for a in range(n_actors):
        shifted = n_terms > 0 and not m.unit
        for k in range(n_terms):
            if g.t_actor[k] == a and g.t_cond_mask[k, uix(text[uix(g.t_cond_issue[k])])]:
                shifted = True
        own[a] = shifted
        if shifted:
            row = rows[a]
            copy1(row, values[a])
            for k in range(n_terms):
                if g.t_actor[k] == a and g.t_cond_mask[k, uix(text[uix(g.t_cond_issue[k])])]:
                    delta, affected = deltas[k], g.t_affected[k]
                    for o in range(n_flat):
                        v = row[o]
                        row[o] = v + delta if affected[o] else v
            for o in range(n_flat):
                v = row[o]
                clipped = v if v > 0.0 else 0.0  # numeric.clip, as selects
                clipped = clipped if clipped < 1.0 else 1.0
                row[o] = v if np.isnan(v) else clipped


@jit
def run_utilities(g, s, r, deal, out, scratch):
    """out[a] = u_a(deal) under run r's preferences: numeric.deal_utilities, inlined (the same
    arithmetic in the same order; a term adds its delta only where it fires and touches)."""
    n_actors, n_issues = s.weights.shape[1], len(g.offsets)
    values, weights, deltas = s.values[r], s.weights[r], s.deltas[r]
    for a in range(n_actors):
        for i in range(n_issues):
            scratch[i] = values[a, uix(g.offsets[i] + deal[i])]
        if len(g.t_actor):
            for k in range(len(g.t_actor)):
                if g.t_actor[k] == a and g.t_cond_mask[k, uix(deal[uix(g.t_cond_issue[k])])]:
                    for i in range(n_issues):
                        v = scratch[i]
                        scratch[i] = v + deltas[k] if g.t_affected[k, uix(g.offsets[i] + deal[i])] else v
            for i in range(n_issues):
                scratch[i] = clip(scratch[i], 0.0, 1.0)
        for i in range(n_issues):
            scratch[i] = scratch[i] * weights[a, i]
        out[a] = esum(scratch, n_issues)


@jit
def _row(w, values, a):
    """Actor a's values under the text's terms (see _rows)."""
    return w.moved[a] if w.flags[a] else values[a]


@jit
def _edited_value(g, values, deltas, a, option, text, j, c):
    """Actor a's value of a flat option in the text with issue j set to option c, as deal_values
    computes it: the firing terms' deltas in their order, then clipped."""
    option = uix(option)
    v = values[a, option]
    for k in range(len(g.t_actor)):
        cond = g.t_cond_issue[k]
        fires = g.t_cond_mask[k, uix(c if cond == j else text[uix(cond)])]
        if g.t_actor[k] == a and g.t_affected[k, option] and fires:
            v = v + deltas[k]
    return clip(v, 0.0, 1.0)


@jit
def _owner_edits(g, values, weights, deltas, text, products, edits, scratch, touched):
    """edits[c, a]: u_a of the text with a conditioning issue j set to option c, for every actor a
    owning a term that j conditions (single_change_utilities evaluates such edits in full): the
    text's products, with issue j's and those of the issues whose option such a term touches
    (`touched`) computed again; only a term of a's conditioned on j can start or stop firing.
    (A touched issue whose terms keep firing as they did gets its value back as it was.)"""
    n_issues, n_terms = len(g.offsets), len(g.t_actor)
    for j in g.cond_issues:
        held = text[j]
        for a in range(products.shape[0]):
            if not g.owns[a, j]:
                continue
            n_touched = 0
            for k in range(n_terms):
                if g.t_actor[k] == a and g.t_cond_issue[k] == j:
                    for i in range(n_issues):
                        if i != j and g.t_affected[k, uix(g.offsets[i] + text[i])]:
                            new = True
                            for d in range(n_touched):
                                new = new and touched[d] != i
                            if new:
                                touched[n_touched] = i
                                n_touched += 1
            copy1(scratch, products[a])
            for c in range(g.n_options[j]):
                if c != held:
                    scratch[j] = _edited_value(g, values, deltas, a, g.offsets[j] + c, text, j, c) * weights[a, j]
                    for d in range(n_touched):
                        i = touched[d]
                        scratch[i] = (_edited_value(g, values, deltas, a, g.offsets[i] + text[i], text, j, c)
                                      * weights[a, i])
                    edits[g.offsets[j] + c, a] = esum(scratch, n_issues)


@jit
def _edit_score(g, w, values, weights, cond, i, c, reservation, lam):
    """The objective's surplus part for the text with issue i set to flat option c, from the edit's
    utilities as single_change_utilities computes them: the text's utility plus the change of
    issue i's term, or for an issue that conditions a term the sum of the edited products."""
    for a in range(len(lam)):
        if not cond:
            u = w.base[a] + weights[a, i] * (_row(w, values, a)[c] - w.cur[a, i])
        elif g.owns[a, i]:
            u = w.edits[c, a]
        else:
            copy1(w.issues, w.current[a])
            w.issues[i] = _row(w, values, a)[c] * weights[a, i]
            u = esum(w.issues, len(w.issues))
        w.actors[a] = surplus_score(u - reservation[a]) * lam[a]
    return esum(w.actors, len(lam))


@jit
def _bounds(g, w, values, weights, here):
    """w.bound[c]: the objective's tangent at the text (value `here`, slopes w.slope) at every
    one-issue edit c, before the ruled-out options' costs.

    The objective is concave in each party's utility, so the tangent bounds every edit's score
    from above; an edit whose bound falls short of a score already found cannot be the best and
    is not scored (nor, for the conditioning issues' non-owners, summed). The bounds need not follow
    numpy's order, only stay above the scores (by far more than a rounding error: the tolerance
    of _best_option). One pass over the options per actor, not one per option over the actors."""
    n_actors, n_flat = w.moved.shape
    for c in range(n_flat):
        w.bound[c] = here
    for a in range(n_actors):
        slope, base, row = w.slope[a], w.base[a], _row(w, values, a)
        for i in range(len(g.offsets)):
            start, stop = g.offsets[i], g.offsets[i] + g.n_options[i]
            if g.owns[a, i]:
                for c in range(start, stop):
                    w.bound[uix(c)] = w.bound[uix(c)] + slope * (w.edits[uix(c), a] - base)
            else:
                slope_weight, cur = slope * weights[a, i], w.cur[a, i]
                for c in range(start, stop):
                    w.bound[uix(c)] = w.bound[uix(c)] + slope_weight * (row[uix(c)] - cur)


@jit
def _best_option(m, g, w, values, weights, i, text, ruled_out, reservation, lam, current):
    """The best option of issue i, as np.argmax over its scores picks it (the first of equal ones),
    and its score: the edits whose bounds (_bounds) reach the best score found so far are scored,
    the highest bound first, which prunes the most. The text's own option scores `current`, the
    text's score: its edit's utilities are the text's, bit for bit."""
    start, n = g.offsets[i], g.n_options[i]
    held = start + text[i]
    held_cost = ruled_out - (1 if m.forbidden[held] else 0)
    penalty = RULED_OUT_COST * held_cost
    best, pick = current, held
    # First only the highest bound, without branches: mostly none reaches the text's score.
    highest = -np.inf
    for c in range(start, start + n):
        bound = w.bound[uix(c)] - (penalty + RULED_OUT_COST if m.forbidden[uix(c)] else penalty)
        bound = -np.inf if c == held else bound
        highest = bound if bound > highest else highest
    if highest < best - 1e-9 * (1.0 + abs(best)):
        return held - start, best
    top, top_bound = -1, 0.0
    cond = False
    for j in g.cond_issues:
        cond = cond or j == i
    for c in range(start, start + n):
        bound = w.bound[uix(c)] - (penalty + RULED_OUT_COST if m.forbidden[uix(c)] else penalty)
        w.bound[uix(c)] = bound
        if c != held and (top < 0 or bound > top_bound):
            top, top_bound = c, bound
    for rank in range(2):
        for c in range(start, start + n):
            if (c == top) == (rank == 0) and c != held and w.bound[c] >= best - 1e-9 * (1.0 + abs(best)):
                cost = held_cost + (1 if m.forbidden[c] else 0)
                score = _edit_score(g, w, values, weights, cond, i, c, reservation, lam) - RULED_OUT_COST * cost
                if score > best or (score == best and c < pick):
                    best, pick = score, c
    return pick - start, best


@part
def rewrite(m, g, s, w, runs, n):
    """Mediated.rewrite for each of runs[:n]: monotone coordinate ascent on the weighted Nash product.

    Per sweep, the utilities of the one-issue edits are computed only where needed: in full for
    the actors owning a term that the edited issue conditions (their bounds need them), else
    when an edit is scored (single_change_utilities's arithmetic, for those edits alone). The
    runs are a part's loop, not its callers': the code is compiled once and called once a block.
    The text's score is `current`; `here`, the tangents' value at the text, sums the same terms
    sequentially (a bound's order, see _bounds)."""
    for q in range(n):
        r = runs[q]
        n_actors = s.weights.shape[1]
        n_issues = len(g.offsets)
        lam = w.lam
        weights = m.weights[r]
        total = npsum(weights, n_actors)
        for a in range(n_actors):
            lam[a] = weights[a] / (total if total > 0 else 1.0) * (1.0 - m.bias)
        if m.mediator >= 0:
            lam[m.mediator] = lam[m.mediator] + m.bias
        text = w.text
        copy1(text, s.text[r])
        reservation = s.reservation[r]
        values, weights, deltas = s.values[r], s.weights[r], s.deltas[r]
        products = w.current
        stale = True  # whether w.moved must follow the text (a conditioning issue changed)
        # (w.flags and w.deal, a round's scratch, hold the actors' own-row flags and the touched issues.)
        for _ in range(m.sweeps):
            if stale:
                _rows(g, m, values, deltas, text, w.moved, w.flags)
            for a in range(n_actors):
                row = _row(w, values, a)
                for i in range(n_issues):
                    w.cur[a, i] = row[uix(g.offsets[i] + text[i])]
                    products[a, i] = w.cur[a, i] * weights[a, i]
                w.base[a] = esum(products[a], n_issues)
            _owner_edits(g, values, weights, deltas, text, products, w.edits, w.issues, w.deal)
            here = 0.0
            for a in range(n_actors):
                surplus = w.base[a] - reservation[a]
                w.slope[a] = (1.0 / surplus if surplus >= 0.01 else 100.0) * lam[a]
                w.actors[a] = surplus_score(surplus) * lam[a]
                here = here + w.actors[a]
            ruled_out = _ruled_out(m, g, text)
            current = esum(w.actors, n_actors) - RULED_OUT_COST * ruled_out
            _bounds(g, w, values, weights, here)
            jacobi = w.jacobi
            best, best_score = -1, -np.inf
            changed = 0
            for i in range(n_issues):
                option, score = _best_option(m, g, w, values, weights, i, text, ruled_out, reservation, lam, current)
                jacobi[i] = option
                changed += 1 if option != text[i] else 0
                if best < 0 or score > best_score:
                    best, best_score = g.offsets[i] + option, score
            # Every issue keeping its option leaves the text as it is, whichever move wins: done.
            if changed == 0:
                break
            new = w.single
            moved_issue = g.issue_of[best]
            if changed == 1 and jacobi[moved_issue] != text[moved_issue]:
                copy1(new, jacobi)  # the best single move is the Jacobi move: the same text either way
            else:
                run_utilities(g, s, r, jacobi, w.actors2, w.issues)
                jacobi_score = (_objective_score(w.actors2, reservation, lam, w.actors)
                                - RULED_OUT_COST * _ruled_out(m, g, jacobi))
                if jacobi_score >= best_score:
                    copy1(new, jacobi)
                else:
                    copy1(new, text)
                    new[moved_issue] = best - g.offsets[moved_issue]
            stale = False
            for j in g.cond_issues:
                stale = stale or new[j] != text[j]
            copy1(text, new)
        copy1(s.text[r], text)
