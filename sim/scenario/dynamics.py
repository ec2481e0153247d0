"""The war between rounds, as a scenario states it: how each region's front line moves and between
whom, what a month of war costs each actor, and the scheduled events that change either.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.scenario.fields import (
    MAX_DRIFT_KM2,
    MAX_ROUNDS,
    MAX_WEIGHT,
    Cited,
    Date,
    Id,
    Number,
    Seq,
    Strict,
    Text,
)


class FrontDrift(Strict):
    """How a region's front line moves each month: `gainer` takes `drift_km2_per_month` km² from
    `loser` (both holders of the region; a negative drift means the loser gains)."""

    gainer: Id
    loser: Id
    drift_km2_per_month: Number = 0.0  # within +-MAX_DRIFT_KM2 (checked in cross_check)
    sd_km2_per_month: Annotated[float, Field(ge=0, le=MAX_DRIFT_KM2)] = 0.0
    source: Id | None = None
    quote: Text | None = None
    note: Text | None = None


class WarCost(Strict):
    """What a month of war costs an actor, in its own utility units (casualties, money, sanctions)."""

    per_month: Number
    source: Id | None = None
    quote: Text | None = None
    note: Text | None = None


EventKind = Literal["deadline", "aid_cut", "summit", "weights", "costs", "drift", "breakdown"]


class Event(Cited):
    """Something that happens between rounds, on `date` (or from round `round` on), in runs still open.

    A `breakdown` event ends the talks for good, in each run with its `probability`.
    """

    date: Date | None = None
    round: Annotated[int, Field(ge=1, le=MAX_ROUNDS)] | None = None
    kind: EventKind
    probability: Annotated[float, Field(ge=0, le=1)] = 1.0
    name: Text
    # Added to the actor's cost per month (a cost per month lies in [0, 1]; an event may lower it).
    costs: dict[Id, Annotated[float, Field(ge=-1, le=1)]] = {}
    # Added to the region's drift, km² per month.
    drift: dict[Id, Annotated[float, Field(ge=-MAX_DRIFT_KM2, le=MAX_DRIFT_KM2)]] = {}
    pressure: Annotated[float, Field(ge=0, le=1)] = 0.0  # lowers every signatory's aspiration by this much
    # actor -> issue -> new weight
    weights: dict[Id, dict[Id, Annotated[float, Field(ge=0, le=MAX_WEIGHT)]]] = {}

    @model_validator(mode="after")
    def _does_something(self) -> Event:
        if (self.date is None) == (self.round is None):
            raise ValueError("give the event a date (or, in a game without a calendar, a round), not both")
        if self.kind == "breakdown":
            if self.costs or self.drift or self.pressure or self.weights:
                raise ValueError("a breakdown event ends the talks; it changes nothing else")
            return self
        if self.probability != 1.0:
            raise ValueError("only a breakdown event has a probability")
        if not (self.costs or self.drift or self.pressure or self.weights):
            raise ValueError("an event must change something: costs, drift, pressure or weights")
        needs = {"summit": self.pressure, "weights": self.weights, "costs": self.costs, "drift": self.drift,
                 "deadline": self.costs or self.drift, "aid_cut": self.drift or self.costs}
        if not needs[self.kind]:
            what = {"summit": "pressure", "weights": "weights", "costs": "costs", "drift": "drift",
                    "deadline": "costs or drift (its consequence)", "aid_cut": "drift and/or costs"}[self.kind]
            raise ValueError(f"a {self.kind} event needs {what}")
        return self


class Dynamics(Strict):
    """The war between rounds: front lines, costs, the value of fighting on, scheduled events."""

    # How far ahead actors look when they value fighting on: a calendar span, so the grain of
    # the talks' clock does not change it. `horizon_rounds` (rounds of the clock) is the older
    # spelling, kept for abstract games; give at most one (neither: 364 days, 52 weeks).
    look_ahead_days: Annotated[int, Field(ge=1, le=36_500)] | None = None
    horizon_rounds: Annotated[int, Field(ge=1, le=10_000)] | None = None
    front: dict[Id, FrontDrift] = {}
    costs: dict[Id, WarCost] = {}
    events: Seq[Event] = ()
    note: Text | None = None

    @model_validator(mode="after")
    def _one_look_ahead(self) -> "Dynamics":
        if self.look_ahead_days is not None and self.horizon_rounds is not None:
            raise ValueError("give look_ahead_days or horizon_rounds, not both")
        return self
