"""The rules every protocol shares, one run at a time: concede, answer, close the round, pause, resume.

Each function is the per-run form of a step of sim.model (Actor.concede and acceptance_chance,
NegotiationModel.respond, close_round, suspend, resume and the horizon), on the arrays the
kernels share: `g` the game's constants, `s` the batch's state (the model's own arrays, changed
in place), `b` the round records.
"""

from __future__ import annotations

import numpy as np

from sim.model.kernel import jit, part
from sim.model.kernel.numeric import (
    acceptance_probability,
    clip,
    consent_needed,
    copy1,
    copy2,
    crosses_red_line,
    deal_utilities,
    fmax,
    fmin,
    power,
)
from sim.model.kernel.rng import talks_draws
from sim.model.status import (
    ACTIVE,
    AGREEMENT,
    OPEN_AT_HORIZON,
    PARTIAL,
    SUSPENDED,
    SUSPENDED_AT_HORIZON,
)

#: Strategy codes (sim.model.kernel.engine maps the catalogue's classes to them).
TIME_DEPENDENT, HARDLINER, TIT_FOR_TAT, HOLD = 0, 1, 2, 3
NEVER = np.iinfo(np.int64).max
#: What a protocol's kernel is asked to do: play rounds, rewrite some runs' texts (the mediator's
#: opening text), or refresh some runs' war values (after a scheduled event). One kernel does all
#: three so that the code they share is compiled once.
PLAY, REWRITE, REFRESH = 0, 1, 2
#: Runs played together through a kernel call's rounds: few enough that their arrays (about 4 kB a
#: run) stay in the core's cache from one round to the next, where a whole chunk's would not.
PLAY_BLOCK = 128


@jit
def concede(g, s, r, k, a, utility, previous):
    """Actor.concede for actor a in run r at round k, seeing the texts' utilities (utility, previous)."""
    gain = utility - previous
    if np.isnan(gain):
        gain = 0.0
    reservation = s.reservation[r, a]
    floor = reservation if np.isnan(g.floor[a]) else fmax(reservation, g.floor[a])
    code = g.strategy[a]
    aspiration = s.aspiration[r, a]
    if code == TIME_DEPENDENT:
        frac = power(fmin(k / fmax(s.deadline[r, a], 1.0), 1.0), 1.0 / s.exponent[r, a])
        wanted = floor + (1.0 - floor) * (1.0 - frac)
    elif code == HARDLINER:
        wanted = fmax(reservation, 1.0 if np.isnan(g.floor[a]) else g.floor[a])
    elif code == TIT_FOR_TAT:
        wanted = fmax(floor, aspiration - s.exponent[r, a] * fmax(gain, 0.0))
    else:
        wanted = aspiration
    wanted = wanted - s.pressure[r, a]
    s.aspiration[r, a] = clip(fmax(wanted, reservation), 0.0, 1.0)


@jit
def answer(g, s, r, a, u):
    """Actor.acceptance_chance and NegotiationModel.respond for actor a in run r: records the text's
    utility u, counts a stalled round, and returns the answer (the run's hidden flexibility against
    the chance of accepting)."""
    previous = s.previous_utility[r, a]
    s.previous_utility[r, a] = u if np.isnan(previous) else s.utility[r, a]
    s.utility[r, a] = u
    reservation = s.reservation[r, a]
    margin = u - fmax(s.aspiration[r, a], reservation)
    chance = acceptance_probability(margin, s.temperature[r, a])
    if not g.noisy and not u >= reservation:
        chance = 0.0
    if crosses_red_line(g.offsets, g.red_lines, a, s.text[r]):
        chance = 0.0
    s.stalled[r, a] = s.stalled[r, a] + 1 if u < reservation else 0
    accepted = s.accept[r, a] < chance
    s.accepted[r, a] = accepted
    return accepted


@jit
def utilities(g, s, r, deal, out, scratch):
    """out[a] = u_a(deal) under run r's preferences."""
    deal_utilities(g.offsets, g.t_actor, g.t_affected, g.t_cond_issue, g.t_cond_mask, s.values[r], s.weights[r],
                   s.deltas[r], deal, out, scratch)


@jit
def close(g, s, r, k, need, state):
    """NegotiationModel.close_round for run r: agreement, a ceasefire after a withheld consent, or a walk-out;
    `need` (A,) and `state` (4,) are work space."""
    n_actors = s.accepted.shape[1]
    signed = True
    for a in range(n_actors):
        if g.signatory[a] and not s.accepted[r, a]:
            signed = False
    consent_needed(g.consent_issue, g.consent_actor, g.consent_default, g.signatory, s.text[r], need)
    first_missing = -1
    for a in range(n_actors):
        if need[a] and not s.accepted[r, a] and first_missing < 0:
            first_missing = a
    if signed and first_missing < 0 and s.status[r] == ACTIVE:
        s.status[r] = AGREEMENT
        s.end_round[r] = k
    blocked = signed and first_missing >= 0 and s.status[r] == ACTIVE
    s.blocked[r] = s.blocked[r] + 1 if blocked else 0
    if blocked and s.blocked[r] >= g.consent_patience:
        s.vetoed_by[r] = first_missing
        s.status[r] = PARTIAL
        s.end_round[r] = k
    for a in range(n_actors):
        if g.signatory[a] and s.stalled[r, a] >= g.patience[a] and s.status[r] == ACTIVE:
            s.walked_away[r] = a
            suspend(g, s, r, k, state)


@part
def suspend(g, s, r, k, state):
    """NegotiationModel.suspend for run r: a pause drawn from the talks stream, or (by chance) no return;
    `state` (4,) is work space."""
    u_resume, u_length = talks_draws(s.talks_state, r, k, state)
    pause = np.int64(fmax(1.0, np.ceil(-g.pause_mean * np.log1p(-u_length))))
    s.resume_round[r] = k + 1 + pause if u_resume < g.resume_probability else NEVER
    s.status[r] = SUSPENDED
    s.suspensions[r] += 1


@jit
def open_round(s, k, r0, r1):
    """The start of round k after the war for runs r0 .. r1 - 1: paused talks whose pause is over resume,
    paused rounds are counted."""
    for r in range(r0, r1):
        if s.status[r] == SUSPENDED and s.resume_round[r] <= k:
            s.status[r] = ACTIVE
            s.stalled[r, :] = 0
        if s.status[r] == SUSPENDED:
            s.paused_rounds[r] += 1


@jit
def any_open(s, r0, r1):
    """Whether one of runs r0 .. r1 - 1 is at the table or paused."""
    for r in range(r0, r1):
        if s.status[r] == ACTIVE or s.status[r] == SUSPENDED:
            return True
    return False


@jit
def close_horizon(s, k, max_rounds, r0, r1):
    """After round k: at the horizon, runs r0 .. r1 - 1 still open end as open or suspended."""
    if k + 1 < max_rounds:
        return
    for r in range(r0, r1):
        if s.status[r] == ACTIVE:
            s.status[r] = OPEN_AT_HORIZON
            s.end_round[r] = max_rounds - 1
        elif s.status[r] == SUSPENDED:
            s.status[r] = SUSPENDED_AT_HORIZON
            s.end_round[r] = max_rounds - 1


@jit
def record(s, b, r, k, n):
    """Write run r's round k (the tabled text and every actor's answer) as record n; returns n + 1."""
    if not b.on:
        return n
    b.round[n] = k
    b.run[n] = r
    copy1(b.text[n], s.tabled[r])
    copy2(b.line[n], s.line[r])
    for a in range(s.utility.shape[1]):
        b.utility[n, a] = s.utility[r, a]
        b.aspiration[n, a] = s.aspiration[r, a]
        b.reservation[n, a] = s.reservation[r, a]
        b.accepted[n, a] = s.accepted[r, a]
        b.cost[n, a] = s.accumulated[r, a]
    return n + 1
