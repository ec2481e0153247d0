"""The war between rounds, one run at a time: the front line moves, costs accrue, values follow.

The same steps as sim.model.dynamics.WarState.advance and .refresh, with the front line's
accounting of sim.domain.territory (shift, settle, changes) and sim.domain.war (line values,
the value of fighting on), written for one run's arrays.
"""

from __future__ import annotations

import numpy as np

from sim.model.kernel import jit, kernel, part
from sim.model.kernel.numeric import clip, copy2, deal_utilities, fmax, npsum
from sim.model.kernel.rng import next_normal
from sim.model.status import ACTIVE, SUSPENDED


@jit
def settle(w, line, scratch):
    """Territory.settle: each region's last holder gets the remainder, in place."""
    n_regions, n_parties = line.shape
    for t in range(n_regions):
        for p in range(n_parties):
            scratch[p] = line[t, p] if w.kept[t, p] else 0.0
        rest = fmax(1.0 - npsum(scratch, n_parties), 0.0)
        line[t, w.n_holders[t] - 1] = rest


@jit
def shift(w, line, amount, scratch):
    """Territory.shift in place: region t's gainer takes `amount[t]` (a share) from its loser."""
    n_regions, n_parties = line.shape
    for t in range(n_regions):
        g, lo = w.gainer[t], w.loser[t]
        if g < 0:
            continue
        last = w.n_holders[t] - 1
        x = amount[t]
        if g == last or lo == last:
            if lo == last:
                e = g
            else:
                e, x = lo, -x
            for p in range(n_parties):
                scratch[p] = line[t, p] if (w.kept[t, p] and p != e) else 0.0
            bound = 1.0 - npsum(scratch, n_parties)
            line[t, e] = clip(line[t, e] + x, 0.0, bound)
        else:
            moved = clip(x, -line[t, g], line[t, lo])
            line[t, g] = line[t, g] + moved
            line[t, lo] = line[t, lo] - moved
    settle(w, line, scratch)


@jit
def line_changes(w, line, changes, scratch):
    """Territory.changes: `changes` (T, P) gets each party's change of share against the as-of line."""
    n_regions, n_parties = line.shape
    for t in range(n_regions):
        for p in range(n_parties):
            changes[t, p] = line[t, p] - w.held0[t, p]
            scratch[p] = 0.0 if w.last[t, p] else changes[t, p]
        rest = -npsum(scratch, n_parties)
        for p in range(n_parties):
            if w.last[t, p]:
                changes[t, p] = rest


@jit
def line_weights(w, l, changes, out):
    """out[p]: how far line-tied option l has moved towards region's whole going to party p (War.line_values)."""
    region = w.line_region[l]
    for p in range(len(out)):
        out[p] = clip(changes[region, p] / w.line_room[l, p], 0.0, 1.0) if w.line_holder[l, p] else 0.0


@jit
def line_value(w, base, a, l, weights):
    """Actor a's value of line-tied option l with the line moved by `weights` (War.line_values)."""
    stated = base[a, w.line_options[l]]
    moved = stated
    for p in range(len(weights)):
        whole = w.line_whole[l, p]
        towards = base[a, whole] if whole >= 0 else stated
        moved = moved + weights[p] * (towards - stated)
    return clip(moved, 0.0, 1.0)


@jit
def war_value(g, w, line, drift, base, weights, deltas, out, work):
    """out[a]: each actor's utility of fighting on from one run's line (R-less rows of the line (T, P),
    drift (T,), base values (A, O), weights (A, I) and deltas (K,)); sim.domain.war.war_value.

    Only the options of the war deal are read, so only theirs are moved to the projected line."""
    projected, values, amount = work.line, work.values, work.regions
    copy2(projected, line)
    for t in range(line.shape[0]):
        amount[t] = (w.look_ahead * drift[t]) / w.area[t]
    shift(w, projected, amount, work.parties)
    line_changes(w, projected, work.changes, work.parties)
    for i in range(len(w.war_deal)):
        option = g.offsets[i] + w.war_deal[i]
        l = w.deal_line[i]
        if l >= 0:
            line_weights(w, l, work.changes, work.parties)
        for a in range(base.shape[0]):
            values[a, option] = line_value(w, base, a, l, work.parties) if l >= 0 else base[a, option]
    deal_utilities(g.offsets, g.t_actor, g.t_affected, g.t_cond_issue, g.t_cond_mask, values, weights, deltas,
                   w.war_deal, out, work.issues)


@part
def war_values_of(g, w, line, drift, base, weights, deltas, out, work, runs, n):
    """war_value for each of runs[:n], into out[r] (arrays of every run, as war_values takes them)."""
    for i in range(n):
        r = runs[i]
        war_value(g, w, line[r], drift[r], base[r], weights[r], deltas[r], out[r], work)


@jit
def advance(w, r, s, work):
    """WarState.advance for run r up to its refresh (war_block does that): one round's drift and noise
    move the line, costs accrue."""
    n_regions = s.line.shape[1]
    amount = work.amount
    root = np.sqrt(w.months)
    for t in range(n_regions):
        noise = next_normal(s.front_state[r]) * w.drift_sd[t] * root
        gain = s.drift[r, t] * w.months + noise
        amount[t] = gain / w.area[t]
    shift(w, s.line[r], amount, work.parties)
    for a in range(s.cost.shape[1]):
        s.accumulated[r, a] = s.accumulated[r, a] + s.cost[r, a] * w.months


@kernel(allocates=True)
def war_values(g, w, line, drift, base, weights, deltas, out, work):
    """out (R, A): every run's value of fighting on (WarState's opening war values)."""
    runs = np.arange(len(out))
    war_values_of(g, w, line, drift, base, weights, deltas, out, work, runs, len(runs))


@part
def war_refresh(g, w, s, runs, work):
    """WarState.refresh for each of `runs` (after a scheduled event)."""
    _refresh(g, w, s, runs, len(runs), work)


@jit
def war_block(g, w, s, k, r0, r1, work, todo):
    """The war's step before round k (WarState.advance, then refresh) for every run of r0 .. r1 - 1 still
    talking, none before the first round. `todo` (R,) is work space."""
    if not (w.on and k > 0):
        return
    n = np.int64(0)  # not a literal 0, for which _refresh would be compiled once more
    for r in range(r0, r1):
        if s.status[r] == ACTIVE or s.status[r] == SUSPENDED:
            advance(w, r, s, work)
            todo[n] = r
            n += 1
    _refresh(g, w, s, todo, n, work)


@jit
def _refresh(g, w, s, chosen, n, work):
    """WarState.refresh for each of chosen[:n].

    Runs share nothing but scratch space, so each step is taken for all of them in turn, and the
    war values are computed in one call for all: neither the call nor the code is repeated per run.
    Only the line-tied options' values change: every other value stays the base value it was
    sampled at (nothing else writes prefs.values once the war has started)."""
    for i in range(n):
        r = chosen[i]
        base = s.base_values[r]
        line_changes(w, s.line[r], work.changes, work.parties)
        for l in range(len(w.line_options)):
            line_weights(w, l, work.changes, work.parties)
            for a in range(base.shape[0]):
                s.values[r, a, w.line_options[l]] = line_value(w, base, a, l, work.parties)
    # The values of fighting on land in s.reservation, which each run's update then reads and replaces.
    war_values_of(g, w, s.line, s.drift, s.base_values, s.weights, s.deltas, s.reservation, work, chosen, n)
    for i in range(n):
        r = chosen[i]
        for a in range(s.reservation.shape[1]):
            change = (s.reservation[r, a] - s.war_value0[r, a]) - w.look_ahead * (s.cost[r, a] - s.cost0[r, a])
            s.reservation[r, a] = clip(s.reservation0[r, a] + change, 0.0, 1.0)
