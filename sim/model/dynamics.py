"""The war going on between rounds, per run: the front line moves, costs accrue, events fire.

Scheduled events run through Mesa's event list (`model.schedule_event`), half a time unit
before the round they apply to, so they act between rounds like the war itself. All state
has the run axis first and only runs still at the table move.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from sim.domain.war import War, WarEvent, reservation_split, war_value
from sim.model.status import BREAKDOWN


class WarState:
    """Front line, cost rates, accumulated costs and summit pressure of every run in a batch."""

    def __init__(self, model, war: War, uniforms: np.ndarray, front_noise):
        self.model = model
        self.war = war
        game = model.game
        prefs = model.prefs
        self.line0 = np.repeat(game.territory.held0[None], model.n_runs, axis=0)  # (R, T, P) shares per party
        self.line = self.line0.copy()
        self.drift, self.cost = war.sample(uniforms)
        self.cost0 = self.cost.copy()
        self.front_noise = front_noise  # RoundDraws: per round (R, T) standard normals
        self.kernel_refresh = None  # set by the compiled engine while it plays the rounds
        self.accumulated = np.zeros((model.n_runs, game.n_actors))
        self.pressure = np.zeros((model.n_runs, game.n_actors))
        self.base_values = prefs.values.copy()
        self.reservation0 = prefs.reservation.copy()
        opening = None
        if model.engine == "compiled":
            from sim.model.kernel.engine import initial_war_values

            opening = initial_war_values(model, self)
        self.war_value0 = opening if opening is not None else self.war_value(np.arange(model.n_runs))
        derived = game.derived_reservation
        if derived is not None and derived.any():
            # Fearon's level, kept unclipped so later changes move it exactly. From the as-of line
            # the value of fighting on is war_value0, as reservation_split computes it again.
            if opening is not None:
                level = opening - war.look_ahead_months * self.cost + prefs.reservation
            else:
                level = reservation_split(game, prefs, self.drift, self.cost)["level"]
            self.reservation0 = np.where(derived, level, self.reservation0)
            model.reservation[:] = np.clip(self.reservation0, 0.0, 1.0)
        # Mesa keeps only weak references to scheduled callables, so we hold them.
        self._callbacks = [partial(self.apply_event, event) for event in war.events]
        for event, callback in zip(war.events, self._callbacks):
            model.schedule_event(callback, at=event.round + 0.5)

    def war_value(self, runs: np.ndarray) -> np.ndarray:
        """(r, A): each actor's utility of fighting on, with the line projected `horizon` rounds ahead."""
        prefs = self.model.prefs.take(runs)
        prefs.values = self.base_values[runs]
        return war_value(self.model.game, prefs, self.line[runs], self.drift[runs])

    def advance(self) -> None:
        """One round of war for every open run (talks on or paused): the line moves, costs accrue, values follow."""
        model, war = self.model, self.war
        runs = np.flatnonzero(model.open)
        if not runs.size:
            return
        m = war.months_per_round
        noise = self.front_noise.at(model.round - 1)[runs] * war.drift_sd * np.sqrt(m)
        gain = self.drift[runs] * m + noise
        self.line[runs] = war.advance(self.line[runs], gain)
        self.accumulated[runs] += self.cost[runs] * m
        self.refresh(runs)

    def refresh(self, runs: np.ndarray) -> None:
        """Recompute line-tied option values and reservation values (Fearon; see sim.domain.war)."""
        if self.kernel_refresh is not None:  # the compiled engine is playing the rounds
            self.kernel_refresh(runs)
            return
        model, war = self.model, self.war
        model.prefs.values[runs] = war.line_values(self.base_values[runs], self.line[runs])
        horizon_months = war.look_ahead_months
        # Differences first: with an idle war they are exactly 0, so r stays exactly r(0).
        change = (self.war_value(runs) - self.war_value0[runs]) - horizon_months * (self.cost[runs] - self.cost0[runs])
        value = self.reservation0[runs] + change
        model.reservation[runs] = np.clip(value, 0.0, 1.0)

    def apply_event(self, event: WarEvent) -> None:
        """Apply a scheduled change to every run whose talks are still open (on or paused)."""
        model = self.model
        runs = np.flatnonzero(model.open)
        if not runs.size:
            return
        if event.kind == "breakdown":
            k = model.game.war.events.index(event)
            ends = np.zeros(model.n_runs, dtype=bool)
            ends[runs] = model.draws.events[runs, k] < event.probability
            model.finish(ends, BREAKDOWN, open_too=True)
            model.events_fired.append((model.round, event.name))
            return
        self.cost[runs] += event.costs
        self.drift[runs] += event.drift
        if event.pressure:
            self.pressure[np.ix_(runs, model.game.signatories)] += event.pressure
        prefs = model.prefs
        for actor, table in event.weights.items():
            raw = prefs.weights[runs, actor] * prefs.weight_totals[runs, actor][:, None]
            for issue, weight in table.items():
                raw[:, issue] = weight
            totals = raw.sum(axis=1)
            prefs.weight_totals[runs, actor] = totals
            prefs.weights[runs, actor] = raw / np.where(totals > 0, totals, 1.0)[:, None]
        model.events_fired.append((model.round, event.name))
        self.refresh(runs)
