"""The war between rounds, as arrays: front-line drift, war costs, the value of fighting on.

The value of no deal follows the bargaining model of war (Fearon 1995, "Rationalist
explanations for war", International Organization 49(3)): a side accepts a deal only if it
beats its expected outcome of fighting minus the costs of fighting. We anchor that value at
the scenario's stated reservation value r_a(0) and move it with the war:

    r_a(t) = clip( r_a(0) + [W_a(t) - W_a(0)] - H * m * [c_a(t) - c_a(0)], 0, 1 )

where W_a(t) is actor a's utility of the outcome it expects from fighting on: every region
held on the front line projected H rounds ahead at the current drift, every policy issue at
its default (status quo); c_a is its cost of war per month, m the months per round and H the
horizon in rounds. Sunk costs do not enter (only costs still to be paid do), as in Fearon.

Each region's front line moves between two of its holders: the scenario's `gainer` takes the
drift from its `loser` (see Territory.shift). Options tied to the line (control `line` or
`buffer`) follow it: as a holder h's share s_h moves from its as-of share s0_h towards 1, an
actor's value of a line-tied option moves linearly towards its value of the whole region going
to h, by the fraction (s_h - s0_h) / (1 - s0_h) of the way, for every holder that gains; so a
freeze is worth more to whoever is advancing (see War.line_values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.domain.territory import BUFFER, LINE, Territory
from sim.domain.utility import UncertainParameter

DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class WarEvent:
    """A scheduled change, applied before round `round` in runs still at the table."""

    round: int
    kind: str
    name: str
    probability: float  # a breakdown's chance of ending the talks in each run; 1 for other kinds
    costs: np.ndarray  # (A,) added to cost per month
    drift: np.ndarray  # (T,) added to drift, km² per month
    pressure: float  # lowers every signatory's aspiration by this much
    weights: dict[int, dict[int, float]]  # actor -> issue -> new (unnormalised) weight


@dataclass(frozen=True)
class War:
    """Everything the dynamics need, compiled once per scenario."""

    months_per_round: float
    look_ahead_months: float  # how far ahead fighting on is valued, in calendar months
    drift: np.ndarray  # (T,) central drift, km²/month, + = the region's gainer gains
    drift_sd: np.ndarray  # (T,) noise, km²/month
    cost: np.ndarray  # (A,) central cost per month, utility units
    params: tuple[UncertainParameter, ...]  # uncertain drift (target "drift") and cost (target "cost")
    events: tuple[WarEvent, ...]
    line_options: np.ndarray  # (L,) flat indices of options whose land follows the line
    line_region: np.ndarray  # (L,) their region index
    whole_option: np.ndarray  # (T, P) flat index of the option giving the whole region to each party
    #                           (unrecognised if there is one), -1 if none
    war_deal: np.ndarray  # (I,) fighting on: regions on the line, policies at their defaults
    territory: Territory  # holders and as-of shares (Territory.held0)
    gainer: np.ndarray  # (T,) party index of the holder the drift favours, -1 if the front does not move
    loser: np.ndarray  # (T,) party index of the holder it takes from

    def sample(self, uniforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-run drift (R, T) and cost (R, A) from uniforms (R, n_params)."""
        from sim.domain.utility import sample_parameters

        runs = uniforms.shape[0]
        drift = np.repeat(self.drift[None], runs, axis=0)
        cost = np.repeat(self.cost[None], runs, axis=0)
        values = sample_parameters(self.params, uniforms)
        for k, param in enumerate(self.params):
            target = drift if param.target == "drift" else cost
            target[(slice(None),) + param.loc] = values[:, k]
        return drift, cost

    def advance(self, line: np.ndarray, km2: np.ndarray) -> np.ndarray:
        """The line (R, T, P) after each region's gainer takes `km2` (R, T) from its loser."""
        return self.territory.shift(line, self.gainer, self.loser, km2 / self.territory.area_km2)

    def line_values(self, base: np.ndarray, line: np.ndarray) -> np.ndarray:
        """Values (R, A, O) with line-tied options moved to the front line `line` (R, T, P).

        For every holder h of the region that holds more than at the as-of date, a line-tied
        option's value moves from its stated value towards the actor's value of the whole region
        going to h, by the fraction of what h could still gain that it has gained:
        (s_h - s0_h) / (1 - s0_h). So a freeze is worth more to whoever advances, and it meets the
        all-or-nothing options when the map does. (With two holders this is the single share of
        the first: towards its whole-region option as it rises, the other's as it falls.)
        """
        out = base.copy()
        if not len(self.line_options):
            return out
        terr = self.territory
        region = self.line_region
        stated = base[:, :, self.line_options]  # (R, A, L)
        gained = terr.changes(line)[:, region, :]  # (R, L, P)
        # What each party could still gain: 1 - s0 for a kept share, the others' shares for the
        # last holder (the same number, written so that two holders' numbers stay one share's).
        held0 = terr.held0[region]  # (L, P)
        explicit, last = terr.kept_mask()[region], terr.last_mask()[region]
        room = np.where(last, np.where(explicit, held0, 0.0).sum(axis=-1)[:, None], np.where(held0 < 1, 1 - held0, 1.0))
        room = np.where(room > 0, room, 1.0)
        # A share within a hair of 0 or 1 (5e-324 is a valid one) overflows these ratios to inf,
        # which the clip makes exactly 1.
        with np.errstate(over="ignore"):
            weight = np.clip(gained / room, 0.0, 1.0)  # (R, L, P)
        holder = explicit | last
        moved = stated
        for k in range(terr.n_parties):
            option = self.whole_option[region, k]  # (L,)
            towards = np.where(option >= 0, base[:, :, np.maximum(option, 0)], stated)
            w = np.where(holder[:, k], weight[:, :, k], 0.0)[:, None, :]
            moved = moved + w * (towards - stated)
        out[:, :, self.line_options] = np.clip(moved, 0.0, 1.0)
        return out


def war_value(game, prefs, line: np.ndarray, drift: np.ndarray) -> np.ndarray:
    """(R, A) each actor's utility of fighting on: the line (R, T) projected `look_ahead_months` ahead
    at the drift (R, T), every policy issue at its status quo."""
    war = game.war
    months = war.look_ahead_months
    projected = war.advance(line, months * drift)
    values = war.line_values(prefs.values, projected)
    moved = type(prefs)(prefs.weights, values, prefs.reservation, prefs.deltas, prefs.weight_totals,
                        prefs.deadlines)
    return game.utilities(moved, war.war_deal[None, :])[:, 0, :]


def reservation_split(game, prefs, drift: np.ndarray, cost: np.ndarray) -> dict[str, np.ndarray]:
    """How each reservation value derived from the war splits (Fearon 1995): (R, A) arrays.

    `war_value` is the utility of fighting on from the as-of line, `costs` the cost of fighting
    over the horizon, `premium` the stated extra (read from `prefs.reservation`, which holds it
    for such actors); `level` = war_value - costs + premium, `reservation` its clip to [0, 1].
    """
    war = game.war
    line0 = np.broadcast_to(war.territory.held0, drift.shape + (war.territory.n_parties,))
    value = war_value(game, prefs, line0, drift)
    costs = war.look_ahead_months * cost
    level = value - costs + prefs.reservation
    return {"war_value": value, "costs": costs, "premium": prefs.reservation, "level": level,
            "reservation": np.clip(level, 0.0, 1.0)}


def compile_war(sc, space, territory, actor_ids) -> War | None:
    """The War of a scenario, or None if it declares no dynamics."""
    from sim.scenario.schema import Uncertain, central

    dyn = sc.dynamics
    if dyn is None:
        return None
    regions = territory.region_ids
    params: list[UncertainParameter] = []

    def number(value, path: str, target: str, loc: tuple, lo: float, hi: float) -> float:
        if isinstance(value, Uncertain):
            lo_b = max(lo, value.low) if value.low is not None else lo
            hi_b = min(hi, value.high) if value.high is not None else hi
            normal = value.mean is not None
            a, b = (value.mean, value.sd) if normal else (value.low, value.high)
            params.append(UncertainParameter(path, target, loc, normal, a, b, lo_b, hi_b))
        return central(value)

    drift = np.zeros(len(regions))
    drift_sd = np.zeros(len(regions))
    gainer = np.full(len(regions), -1, dtype=np.int64)
    loser = np.full(len(regions), -1, dtype=np.int64)
    for iid, front in dyn.front.items():
        t = regions.index(iid)
        drift[t] = number(front.drift_km2_per_month, f"dynamics.front.{iid}.drift_km2_per_month", "drift", (t,),
                          -1e9, 1e9)
        drift_sd[t] = front.sd_km2_per_month
        gainer[t] = territory.parties[t].index(front.gainer)
        loser[t] = territory.parties[t].index(front.loser)
    cost = np.zeros(len(actor_ids))
    for aid, wc in dyn.costs.items():
        a = actor_ids.index(aid)
        cost[a] = number(wc.per_month, f"dynamics.costs.{aid}.per_month", "cost", (a,), 0.0, 1.0)

    offsets = space.offsets
    line_options, line_region = [], []
    whole_option = np.full((len(regions), territory.n_parties), -1, dtype=np.int64)
    war_deal = np.array(space.defaults, dtype=np.int64)
    for t, iid in enumerate(regions):
        i = space.issue_index(iid)
        codes = territory.control[t]
        rec = territory.recognised[t]
        for o in range(space.n_options[i]):
            if codes[o] in (LINE, BUFFER):
                line_options.append(offsets[i] + o)
                line_region.append(t)
        # The option giving the whole region to each party: the first unrecognised one, else the first.
        for k in range(len(territory.parties[t])):
            mine = [o for o in range(space.n_options[i]) if codes[o] == k]
            if mine:
                whole_option[t, k] = offsets[i] + next((o for o in mine if not rec[o]), mine[0])
        on_line = [o for o in range(space.n_options[i]) if codes[o] == LINE]
        if on_line:
            war_deal[i] = on_line[0]

    events = []
    for ev in dyn.events:
        ev_costs = np.zeros(len(actor_ids))
        for aid, v in ev.costs.items():
            ev_costs[actor_ids.index(aid)] = v
        ev_drift = np.zeros(len(regions))
        for iid, v in ev.drift.items():
            ev_drift[regions.index(iid)] = v
        weights = {actor_ids.index(aid): {space.issue_index(iid): w for iid, w in table.items()}
                   for aid, table in ev.weights.items()}
        # A dated event acts before the first round on or after its date.
        at = ev.round if ev.date is None else max(1, int(np.ceil(sc.round_at(ev.date) - 1e-9)))
        events.append(WarEvent(at, ev.kind, ev.name, ev.probability, ev_costs, ev_drift, ev.pressure, weights))

    return War(
        months_per_round=sc.round_days / DAYS_PER_MONTH,
        look_ahead_months=sc.look_ahead_days / DAYS_PER_MONTH,
        drift=drift,
        drift_sd=drift_sd,
        cost=cost,
        params=tuple(params),
        events=tuple(sorted(events, key=lambda e: e.round)),
        line_options=np.array(line_options, dtype=np.int64),
        line_region=np.array(line_region, dtype=np.int64),
        whole_option=whole_option,
        war_deal=war_deal,
        territory=territory,
        gainer=gainer,
        loser=loser,
    )
