"""The mediated protocol's rounds, compiled: every actor answers the text, then the mediator rewrites it.

Mediated.round and Mediated.rewrite (sim.model.protocols.mediated), one run at a time, inside
the round loop of `play_mediated`; see there for the model.
"""

from __future__ import annotations

import numpy as np

from sim.model.kernel import jit, kernel
from sim.model.kernel.numeric import (
    consent_needed,
    copy1,
    edit_utilities,
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
from sim.model.kernel.war import advance_open_runs, refresh
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
def _best_option(m, g, w, i, text, ruled_out, reservation, lam, here, current):
    """The best option of issue i, as np.argmax over its scores picks it (the first of equal ones),
    and its score, with the scores in w.score.

    The objective is concave in each party's utility, so its tangent at the text bounds every
    edit's score from above; an edit whose bound falls short of a score already found cannot be
    the best and is not scored (its logarithms are most of a rewrite's cost). The text's own
    option scores `current`, the text's score: its edit's utilities are the text's, bit for bit.
    """
    n_actors = len(lam)
    start, n = g.offsets[i], g.n_options[i]
    held = 1 if m.forbidden[start + text[i]] else 0
    top = start
    for c in range(start, start + n):
        bound = here
        for a in range(n_actors):
            bound = bound + w.slope[a] * (w.edits[c, a] - w.base[a])
        w.bound[c] = bound - RULED_OUT_COST * (ruled_out - held + (1 if m.forbidden[c] else 0))
        if w.bound[c] > w.bound[top]:
            top = c
    held_option = start + text[i]
    swapped = ruled_out - held + (1 if m.forbidden[top] else 0)
    w.score[top] = current if top == held_option else (
        _objective_score(w.edits[top], reservation, lam, w.actors) - RULED_OUT_COST * swapped)
    best = w.score[top]
    for c in range(start, start + n):
        w.scored[c] = c == top
        if c != top and w.bound[c] >= best - 1e-9 * (1.0 + abs(best)):
            swapped = ruled_out - held + (1 if m.forbidden[c] else 0)
            w.score[c] = current if c == held_option else (
                _objective_score(w.edits[c], reservation, lam, w.actors) - RULED_OUT_COST * swapped)
            w.scored[c] = True
            best = max(best, w.score[c])
    for c in range(start, start + n):
        if w.scored[c] and w.score[c] == best:
            return c - start, best
    return top - start, best


@jit
def rewrite(m, g, s, r, w):
    """Mediated.rewrite for run r: monotone coordinate ascent on the weighted Nash product."""
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
    values, prefs_weights, deltas = s.values[r], s.weights[r], s.deltas[r]
    for _ in range(m.sweeps):
        edit_utilities(g.offsets, g.n_options, g.issue_of, g.t_actor, g.t_affected, g.t_cond_issue, g.t_cond_mask,
                       g.cond_issues, values, prefs_weights, deltas, text, m.unit, w.edits, w.base, w.moved,
                       w.flags, w.current, w.issues, w.deal)
        here = 0.0
        for a in range(n_actors):
            surplus = w.base[a] - reservation[a]
            w.slope[a] = (1.0 / surplus if surplus >= 0.01 else 100.0) * lam[a]
            here = here + surplus_score(surplus) * lam[a]
        ruled_out = _ruled_out(m, g, text)
        current = _objective_score(w.base, reservation, lam, w.actors) - RULED_OUT_COST * ruled_out
        jacobi = w.jacobi
        best, best_score = -1, -np.inf
        for i in range(n_issues):
            option, score = _best_option(m, g, w, i, text, ruled_out, reservation, lam, here, current)
            jacobi[i] = option
            if best < 0 or score > best_score:
                best, best_score = g.offsets[i] + option, score
        utilities(g, s, r, jacobi, w.actors2, w.issues)
        jacobi_score = (_objective_score(w.actors2, reservation, lam, w.actors)
                        - RULED_OUT_COST * _ruled_out(m, g, jacobi))
        new = w.single
        if jacobi_score >= best_score:
            copy1(new, jacobi)
        else:
            copy1(new, text)
            i = g.issue_of[best]
            new[i] = best - g.offsets[i]
        same = True
        for i in range(n_issues):
            if new[i] != text[i]:
                same = False
        if same:
            break
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
    if mode == REWRITE or mode == REFRESH:
        for r in runs:
            if mode == REWRITE:
                rewrite(m, g, s, r, w)
            else:
                refresh(g, wr, r, s, w.war)
        return k0, n_records, True
    n_actors = s.weights.shape[1]
    text_utility = w.utility
    for k in range(k0, k1):
        if not any_open(s):
            return k, n_records, False
        advance_open_runs(g, wr, s, k, w.war)
        if open_round(s, k) > 0:
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
                    rewrite(m, g, s, r, w)
        close_horizon(s, k, max_rounds)
        if not any_open(s):
            return k + 1, n_records, False
    return k1, n_records, True
