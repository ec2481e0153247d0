"""What the calibration works from: an observations file loaded against its scenario
(LoadedObservations), its decisions as deals in the scenario's own option indices with the
weight each carries, its outcome-level facts and its monthly front figures, and the split at a
date that backtests use.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from sim.calibration.observations_format import DecisionEntry, Observations, month_span
from sim.domain.game import Game, compile_scenario
from sim.scenario.load import LoadedScenario
from sim.scenario.yamlsrc import SourceMap

#: Default weight of a decision = confidence factor x reliability factor (see decision_weight).
CONFIDENCE_FACTOR: dict[str, float] = {"high": 1.0, "medium": 0.6, "low": 0.3}
RELIABILITY_FACTOR: dict[str, float] = {"A": 1.0, "B": 0.8, "C": 0.4}
#: An acceptance "as a basis" counts as an acceptance at this fraction of the weight.
RESERVATIONS_FACTOR = 0.5
#: Responses that are recorded but not scored unless the file gives a weight.
UNSCORED = frozenset({"contested", "no_response"})
ACCEPTING = frozenset({"accepted", "accepted_with_reservations"})


@dataclass(frozen=True, eq=False)  # eq=False: `deal` is an array, which has no single truth value
class Decision:
    """A decision ready for scoring: the deal as option indices in the scenario's issue order."""

    id: str
    date: dt.date
    actor: str
    actor_index: int
    deal: np.ndarray  # (I,) int64, read-only
    accepted: bool
    weight: float
    response: str
    proposal: str | None  # the scenario's proposal id, or None for an inline deal


@dataclass(frozen=True)
class Outcome:
    """A dated outcome-level fact."""

    id: str
    kind: str
    date: dt.date | None
    start: dt.date | None
    end: dt.date | None
    source: str

    @property
    def known_on(self) -> dt.date:
        """The day by which the fact is complete (a suspension only once it has ended)."""
        return self.date if self.date is not None else self.end


@dataclass(frozen=True)
class FrontMonth:
    """One month's front-line figure."""

    month: str
    first_day: dt.date
    last_day: dt.date
    gained_km2: float
    low_km2: float | None
    high_km2: float | None
    reliability: str
    source: str

    @property
    def known_on(self) -> dt.date:
        """The month's last day: the figure covers the whole month."""
        return self.last_day


def decision_weight(entry: DecisionEntry) -> float:
    """The weight a decision carries in the likelihood: explicit, or derived from the record's grades."""
    if entry.weight is not None:
        return float(entry.weight)
    if entry.response in UNSCORED:
        return 0.0
    weight = CONFIDENCE_FACTOR[entry.confidence] * RELIABILITY_FACTOR[entry.reliability]
    if entry.response == "accepted_with_reservations":
        weight *= RESERVATIONS_FACTOR
    return weight


@dataclass
class LoadedObservations:
    """A validated observations file with the scenario it is written against."""

    path: Path
    observations: Observations
    scenario: LoadedScenario
    srcmap: SourceMap | None = dataclasses.field(default=None, repr=False)
    sha256: str = ""

    @property
    def name(self) -> str:
        """The file's `meta.name`."""
        return self.observations.meta.name

    @cached_property
    def game(self) -> Game:
        """The scenario compiled: it fixes the order of issues, options, actors and proposals."""
        return compile_scenario(self.scenario.scenario)

    def decisions(self, include_unscored: bool = False) -> list[Decision]:
        """Decisions with weight > 0 (all of them with include_unscored), in date order."""
        game = self.game
        out = []
        for entry in self.observations.decisions:
            weight = decision_weight(entry)
            if weight <= 0 and not include_unscored:
                continue
            if entry.proposal is not None:
                deal = game.proposals[game.proposal_ids.index(entry.proposal)].copy()
            else:
                deal = game.space.encode(entry.deal)
            deal.setflags(write=False)
            out.append(Decision(entry.id, entry.date, entry.actor, game.actor_index(entry.actor), deal,
                                entry.response in ACCEPTING, weight, entry.response, entry.proposal))
        return sorted(out, key=lambda d: d.date)

    def outcomes(self) -> list[Outcome]:
        """Outcome-level facts, in the order of the day each became complete."""
        out = [Outcome(o.id, o.kind, o.date, o.start, o.end, o.source) for o in self.observations.outcomes]
        return sorted(out, key=lambda o: o.known_on)

    def front(self) -> list[FrontMonth]:
        """Monthly front-line figures, in month order."""
        out = [FrontMonth(f.month, *month_span(f.month), f.gained_km2, f.low_km2, f.high_km2, f.reliability,
                          f.source) for f in self.observations.front]
        return sorted(out, key=lambda f: f.month)

    def cutoff(self, date: dt.date | str) -> tuple[LoadedObservations, LoadedObservations]:
        """Split at a date: (what was complete on or before it, the rest), for backtests."""
        date = dt.date.fromisoformat(date) if isinstance(date, str) else date
        obs = self.observations

        # A suspension that has not ended by the date, or a month not yet over, goes after: the
        # part before must hold nothing that was unknown on the date.
        def split(items: list) -> tuple[list, list]:
            return [x for x in items if x.known_on <= date], [x for x in items if x.known_on > date]

        decisions, outcomes, front = split(obs.decisions), split(obs.outcomes), split(obs.front)
        before, after = (dataclasses.replace(self, observations=obs.model_copy(
            update={"decisions": decisions[k], "outcomes": outcomes[k], "front": front[k]})) for k in (0, 1))
        return before, after

    def summary(self) -> str:
        """One line: decisions (scored), actors, outcomes, months of front figures, date span."""
        obs = self.observations
        scored = sum(decision_weight(d) > 0 for d in obs.decisions)
        actors = len({d.actor for d in obs.decisions})
        dates = [d.date for d in obs.decisions]
        dates += [day for o in obs.outcomes for day in (o.date, o.start, o.end) if day is not None]
        span = f", {min(dates)} to {max(dates)}" if dates else ""
        return (f"{self.name}: {_count(len(obs.decisions), 'decision')} ({scored} scored) by "
                f"{_count(actors, 'actor')}, {_count(len(obs.outcomes), 'outcome')}, "
                f"{_count(len(obs.front), 'month')} of front figures{span}")


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
