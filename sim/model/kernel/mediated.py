"""The mediated protocol's rounds, compiled: every actor answers the text, then the mediator rewrites it.

Mediated.round and Mediated.rewrite (sim.model.protocols.mediated), one run at a time, inside
the round loop of `play_mediated`; see there for the model.
"""

from __future__ import annotations

import numpy as np

from sim.model.kernel import jit, kernel, part
from sim.model.kernel.numeric import (
    clip,
    consent_needed,
    copy1,
    esum,
    fmax,
    npsum,
    surplus_score,
)
from sim.model.kernel.rounds import (
    REFRESH,
    REWRITE,
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
def _rows(g, m, values, deltas, text, rows):
    """rows[a]: actor a's values with the text's firing terms applied, clipped as
    single_change_utilities clips them (rows without a firing term are in [0, 1] already when
    m.unit, and clipping them would change nothing)."""
    n_actors, n_flat = values.shape
    n_terms = len(g.t_actor)
    for a in range(n_actors):
        copy1(rows[a], values[a])
    for k in range(n_terms):
        if g.t_cond_mask[k, text[g.t_cond_issue[k]]]:
            a = g.t_actor[k]
            for o in range(n_flat):
                if g.t_affected[k, o]:
                    rows[a, o] = rows[a, o] + deltas[k]
    for a in range(n_actors):
        shifted = n_terms > 0 and not m.unit
        for k in range(n_terms):
            if g.t_actor[k] == a and g.t_cond_mask[k, text[g.t_cond_issue[k]]]:
                shifted = True
        if shifted:
            for o in range(n_flat):
                rows[a, o] = clip(rows[a, o], 0.0, 1.0)


@jit
def _owner_edit(g, values, weights, deltas, text, a, j, c, products, scratch):
    """u_a of the text with issue j set to option c, for an actor owning a term that issue j
    conditions (single_change_utilities evaluates such edits in full): the text's products, with
    those whose values the edit changes computed again as deal_values computes them (the firing
    terms' deltas in their order, then clipped); only a term conditioned on j can start or stop firing."""
    n_issues, n_terms = len(g.offsets), len(g.t_actor)
    copy1(scratch, products[a])
    flips = False
    for k in range(n_terms):
        if g.t_actor[k] == a and g.t_cond_issue[k] == j and g.t_cond_mask[k, c] != g.t_cond_mask[k, text[j]]:
            flips = True
    for i in range(n_issues):
        option = g.offsets[i] + (c if i == j else text[i])
        dirty = i == j
        if flips and not dirty:
            for k in range(n_terms):
                if (g.t_actor[k] == a and g.t_cond_issue[k] == j and g.t_affected[k, option]
                        and g.t_cond_mask[k, c] != g.t_cond_mask[k, text[j]]):
                    dirty = True
        if dirty:
            v = values[a, option]
            for k in range(n_terms):
                cond = g.t_cond_issue[k]
                if g.t_actor[k] == a and g.t_affected[k, option] and g.t_cond_mask[k, c if cond == j else text[cond]]:
                    v = v + deltas[k]
            scratch[i] = clip(v, 0.0, 1.0) * weights[a, i]
    return esum(scratch, n_issues)


@jit
def _edit_score(g, w, weights, cond, i, c, reservation, lam):
    """The objective's surplus part for the text with issue i set to flat option c, from the edit's
    utilities as single_change_utilities computes them: the text's utility plus the change of
    issue i's term, or for an issue that conditions a term the sum of the edited products."""
    for a in range(len(lam)):
        if not cond:
            u = w.base[a] + weights[a, i] * (w.moved[a, c] - w.cur[a, i])
        elif g.owns[a, i]:
            u = w.edits[c, a]
        else:
            copy1(w.issues, w.current[a])
            w.issues[i] = w.moved[a, c] * weights[a, i]
            u = esum(w.issues, len(w.issues))
        w.actors[a] = surplus_score(u - reservation[a]) * lam[a]
    return esum(w.actors, len(lam))


@jit
def _best_option(m, g, w, weights, i, text, ruled_out, reservation, lam, here, current):
    """The best option of issue i, as np.argmax over its scores picks it (the first of equal ones),
    and its score.

    The objective is concave in each party's utility, so its tangent at the text bounds every
    edit's score from above; an edit whose bound falls short of a score already found cannot be
    the best and is not scored (its logarithms are most of a rewrite's cost). The text's own
    option scores `current`, the text's score: its edit's utilities are the text's, bit for bit.
    The bounds need not follow numpy's order, only stay above the scores (by far more than a
    rounding error: the tolerance).
    """
    n_actors = len(lam)
    start, n = g.offsets[i], g.n_options[i]
    held = start + text[i]
    cond = False
    for j in g.cond_issues:
        cond = cond or j == i
    held_cost = ruled_out - (1 if m.forbidden[held] else 0)
    penalty = RULED_OUT_COST * held_cost
    for a in range(n_actors):
        w.slope_weight[a] = w.slope[a] * weights[a, i]
    top = -1
    for c in range(start, start + n):
        bound = here
        for a in range(n_actors):
            if cond and g.owns[a, i]:
                bound = bound + w.slope[a] * (w.edits[c, a] - w.base[a])
            else:
                bound = bound + w.slope_weight[a] * (w.moved[a, c] - w.cur[a, i])
        w.bound[c] = bound - (penalty + RULED_OUT_COST if m.forbidden[c] else penalty)
        w.scored[c] = c == held
        if c != held and (top < 0 or w.bound[c] > w.bound[top]):
            top = c
    w.score[held] = current
    best = current
    for rank in range(2):  # the highest bound first, which prunes the most, then the others
        for c in range(start, start + n):
            if (c == top) == (rank == 0) and c != held and w.bound[c] >= best - 1e-9 * (1.0 + abs(best)):
                cost = held_cost + (1 if m.forbidden[c] else 0)
                w.score[c] = _edit_score(g, w, weights, cond, i, c, reservation, lam) - RULED_OUT_COST * cost
                w.scored[c] = True
                best = max(best, w.score[c])
    for c in range(start, start + n):
        if w.scored[c] and w.score[c] == best:
            return c - start, best
    return held - start, best


@part
def rewrite(m, g, s, w, runs, n):
    """Mediated.rewrite for each of runs[:n]: monotone coordinate ascent on the weighted Nash product.

    Per sweep, the utilities of the one-issue edits are computed only where needed: in full for
    the actors owning a term that the edited issue conditions (their bounds need them), else
    when an edit is scored (single_change_utilities's arithmetic, for those edits alone). The
    runs are a part's loop, not its callers': the code is compiled once and called once a round."""
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
        for _ in range(m.sweeps):
            if stale:
                _rows(g, m, values, deltas, text, w.moved)
            for a in range(n_actors):
                for i in range(n_issues):
                    w.cur[a, i] = w.moved[a, g.offsets[i] + text[i]]
                    products[a, i] = w.cur[a, i] * weights[a, i]
                w.base[a] = esum(products[a], n_issues)
            for j in g.cond_issues:
                for a in range(n_actors):
                    if g.owns[a, j]:
                        for c in range(g.n_options[j]):
                            if c != text[j]:
                                w.edits[g.offsets[j] + c, a] = _owner_edit(g, values, weights, deltas, text, a, j, c,
                                                                           products, w.issues)
            here = 0.0
            for a in range(n_actors):
                surplus = w.base[a] - reservation[a]
                w.slope[a] = (1.0 / surplus if surplus >= 0.01 else 100.0) * lam[a]
                here = here + surplus_score(surplus) * lam[a]
            ruled_out = _ruled_out(m, g, text)
            current = _objective_score(w.base, reservation, lam, w.actors) - RULED_OUT_COST * ruled_out
            jacobi = w.jacobi
            best, best_score = -1, -np.inf
            changed = 0
            for i in range(n_issues):
                option, score = _best_option(m, g, w, weights, i, text, ruled_out, reservation, lam, here, current)
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
                utilities(g, s, r, jacobi, w.actors2, w.issues)
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


@jit
def _reweight(m, g, s, r, w, text_utility):
    """Mediated.round's weight update for run r: every rejecting party's weight grows with its shortfall."""
    n_actors = len(text_utility)
    need = w.flags
    consent_needed(g.consent_issue, g.consent_actor, g.consent_default, g.signatory, s.text[r], need)
    lam = m.weights[r]
    push = w.actors
    top = -np.inf
    for a in range(n_actors):
        shortfall = fmax(fmax(s.aspiration[r, a], s.reservation[r, a]) - text_utility[a], 0.0)
        party = (m.party_mask[a] or need[a]) and a != m.mediator
        rejecting = party and not s.accepted[r, a]
        push[a] = m.step * shortfall * (1.0 if rejecting else 0.0) if lam[a] > 0 else 0.0
        top = fmax(top, push[a])
    for a in range(n_actors):
        if top > 700.0:
            push[a] = push[a] - top
        w.actors2[a] = lam[a] * np.exp(push[a])
    total = npsum(w.actors2, n_actors)
    for a in range(n_actors):
        lam[a] = w.actors2[a] / total


@kernel
def play_mediated(mode, runs, k0, k1, max_rounds, g, s, wr, m, b, w, n_records):
    """Rounds k0 .. k1 - 1 of the mediated protocol for every run; returns (next round, records, running).

    With mode REWRITE it rewrites the texts of `runs` instead, with REFRESH it refreshes their war values."""
    if mode == REWRITE:
        rewrite(m, g, s, w, runs, len(runs))
        return k0, n_records, True
    if mode == REFRESH:
        war_runs(mode, g, wr, s, k0, runs, w.war, w.todo)
        return k0, n_records, True
    n_actors = s.weights.shape[1]
    text_utility = w.utility
    for k in range(k0, k1):
        if not any_open(s):
            return k, n_records, False
        war_runs(mode, g, wr, s, k, runs, w.war, w.todo)
        if open_round(s, k) > 0:
            n_todo = np.int64(0)  # not a literal 0, for which rewrite would be compiled once more
            for r in range(len(s.status)):
                status = s.status[r]
                if status != ACTIVE and status != SUSPENDED:
                    continue
                copy1(s.tabled[r], s.text[r])
                for a in range(n_actors):
                    concede(g, s, r, k, a, s.utility[r, a], s.previous_utility[r, a])
                utilities(g, s, r, s.text[r], text_utility, w.issues)
                for a in range(n_actors):
                    answer(g, s, r, a, text_utility[a])
                if status != ACTIVE:
                    s.blocked[r] = 0
                    continue
                close(g, s, r, k, w.flags, w.state)
                n_records = record(s, b, r, k, n_records)
                if s.status[r] == ACTIVE:
                    _reweight(m, g, s, r, w, text_utility)
                    w.todo[n_todo] = r
                    n_todo += 1
            # The runs share nothing but scratch space, so rewriting their texts once all have
            # answered changes no result (and one call rewrites them all).
            rewrite(m, g, s, w, w.todo, n_todo)
        close_horizon(s, k, max_rounds)
        if not any_open(s):
            return k + 1, n_records, False
    return k1, n_records, True
