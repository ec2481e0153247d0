"""The mediated protocol's rounds, compiled: every actor answers the text, then the mediator rewrites it.

Mediated.round (sim.model.protocols.mediated), one run at a time, inside the round loop of
`play_mediated`; the rewrite is sim.model.kernel.mediator. See the protocol for the model.
"""

from __future__ import annotations

import numpy as np

from sim.model.kernel import jit, kernel
from sim.model.kernel.mediator import rewrite, run_utilities
from sim.model.kernel.numeric import consent_needed, copy1, fmax, npsum
from sim.model.kernel.rounds import (
    PLAY_BLOCK,
    REFRESH,
    REWRITE,
    answer,
    any_open,
    close,
    close_horizon,
    concede,
    open_round,
    record,
)
from sim.model.kernel.war import war_block, war_refresh
from sim.model.status import ACTIVE, SUSPENDED

#: Runs rewritten per call of `rewrite` in a round. The runs share nothing but scratch space, so
#: rewriting a block of them once they have answered changes no result; one call per block, not
#: one per run, spares the calls, and a block small enough that its runs' arrays are still in the
#: cache from answering spares the reads (one call for all runs would read them all again).
REWRITE_BLOCK = 32


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


@jit
def _play_block(r0, r1, k0, k1, max_rounds, g, s, wr, m, b, w, n_records):
    """Rounds k0 .. k1 - 1 of the mediated protocol for runs r0 .. r1 - 1; returns (next round, records, running)."""
    n_actors = s.weights.shape[1]
    text_utility = w.utility
    for k in range(k0, k1):
        if not any_open(s, r0, r1):
            return k, n_records, False
        war_block(g, wr, s, k, r0, r1, w.war, w.todo)
        open_round(s, k, r0, r1)
        n_todo = np.int64(0)  # not a literal 0, for which rewrite would be compiled once more
        for r in range(r0, r1):
            status = s.status[r]
            if status != ACTIVE and status != SUSPENDED:
                continue
            copy1(s.tabled[r], s.text[r])
            for a in range(n_actors):
                concede(g, s, r, k, a, s.utility[r, a], s.previous_utility[r, a])
            run_utilities(g, s, r, s.text[r], text_utility, w.issues)
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
                if n_todo == REWRITE_BLOCK:
                    rewrite(m, g, s, w, w.todo, n_todo)
                    n_todo = np.int64(0)
        rewrite(m, g, s, w, w.todo, n_todo)
        close_horizon(s, k, max_rounds, r0, r1)
        if not any_open(s, r0, r1):
            return k + 1, n_records, False
    return k1, n_records, True


@kernel
def play_mediated(mode, runs, k0, k1, max_rounds, g, s, wr, m, b, w, n_records):
    """Rounds k0 .. k1 - 1 of the mediated protocol for every run; returns (next round, records, running).

    The runs are played PLAY_BLOCK at a time through all of the call's rounds (they share nothing but
    scratch space), so the records come block by block, each run's in round order. The next round is
    where the last block stopped: the first with no run open, as if all were played round by round.
    With mode REWRITE it rewrites the texts of `runs` instead, with REFRESH it refreshes their war values."""
    if mode == REWRITE:
        rewrite(m, g, s, w, runs, len(runs))
        return k0, n_records, True
    if mode == REFRESH:
        war_refresh(g, wr, s, runs, w.war)
        return k0, n_records, True
    end, running = k0, False
    for r0 in range(0, len(s.status), PLAY_BLOCK):
        r1 = min(r0 + PLAY_BLOCK, len(s.status))
        k, n_records, more = _play_block(r0, r1, k0, k1, max_rounds, g, s, wr, m, b, w, n_records)
        end = max(end, k)
        running = running or more
    return end, n_records, running
