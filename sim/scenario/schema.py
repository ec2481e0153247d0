"""The scenario file format: the whole file (Scenario), its meta, sources and protocol sections,
and the clock of the talks; the other sections' models live beside it and are re-exported here.

Collections keyed by id (sources, issues, actors, proposals) are YAML mappings, so every
field has a stable dotted path (`actors.ukraine.weights.donetsk`) for errors and sweeps.
Shape and ranges are checked here; cross-references in sim.scenario.crosscheck. The parts:
sim.scenario.fields (ids, bounded numbers, the strict base), sim.scenario.issues (issues,
options, proposals), sim.scenario.actors (actors and their preferences), sim.scenario.dynamics
(fronts, war costs, events).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from sim.scenario.actors import (
    Actor,
    Condition,
    Interaction,
    RedLine,
    Reservation,
    Role,
    Strategy,
    UncertainDate,
    ValueTable,
)
from sim.scenario.dynamics import Dynamics, Event, EventKind, FrontDrift, WarCost
from sim.scenario.fields import (
    FIRST_DATE,
    LAST_DATE,
    LIMIT,
    MAX_DRIFT_KM2,
    MAX_KM2,
    MAX_ROUNDS,
    MAX_WEIGHT,
    MIN_ANY_QUOTE_LETTERS,
    MIN_QUOTE_LETTERS,
    MIN_QUOTE_WORDS,
    Cited,
    Date,
    Id,
    Number,
    Real,
    Seq,
    Strict,
    Text,
    Uncertain,
    central,
    number_bounds,
    quote_problem,
)
from sim.scenario.issues import (
    CONTROL_KEYWORDS,
    SHARE_TOLERANCE,
    Issue,
    Option,
    Proposal,
    RecordedResponse,
    Response,
)

# Re-exported: the rest of the package imports every model of the format from here.
__all__ = ["CONTROL_KEYWORDS", "DEFAULT_LOOK_AHEAD_DAYS", "DEFAULT_ROUNDS", "FIRST_DATE", "LAST_DATE", "LIMIT",
           "MAX_DRIFT_KM2", "MAX_KM2", "MAX_ROUNDS", "MAX_WEIGHT", "MIN_ANY_QUOTE_LETTERS", "MIN_QUOTE_LETTERS",
           "MIN_QUOTE_WORDS", "SHARE_TOLERANCE", "Actor", "Cited", "Condition", "Date", "Dynamics", "Event",
           "EventKind", "FrontDrift", "Id", "Interaction", "Issue", "Meta", "Number", "Option", "Proposal",
           "Protocol", "Real", "RecordedResponse", "RedLine", "Reservation", "Response", "Role", "Scenario", "Seq",
           "Source", "Strategy", "Strict", "Talks", "Text", "Uncertain", "UncertainDate", "ValueTable", "WarCost",
           "central", "number_bounds", "quote_problem"]


class Meta(Strict):
    name: Id
    title: Text
    as_of: Date
    description: Text


class Source(Strict):
    title: Text
    outlet: Text
    date: Date
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] | None = None
    path: Text | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _locatable(self) -> Source:
        if self.url is None and self.path is None:
            raise ValueError("a source needs a url, a path, or both")
        return self


class Talks(Strict):
    """What a walk-out means: talks pause for a while and may resume (they rarely end for good)."""

    pause_days: Annotated[float, Field(gt=0, le=3650)] = 28.0
    resume_probability: Annotated[float, Field(ge=0, le=1)] = 1.0
    source: Id | None = None
    quote: Text | None = None
    note: Text | None = None


class Protocol(Strict):
    kind: Id = "mediated"
    mediator: Id | None = None
    # The talks run from meta.as_of to `horizon`, a round every `round_days`; `max_rounds`
    # is for abstract games without a calendar. Give one of them (neither: 50 rounds).
    horizon: Date | None = None
    round_days: Annotated[float, Field(ge=0.01, le=366)] = 14.0
    max_rounds: Annotated[int, Field(ge=1, le=MAX_ROUNDS)] | None = None
    temperature: Annotated[float, Field(ge=0, le=1)] = 0.02
    noisy_rationality: bool = False
    # A signatory walks out after this long of texts worse to it than fighting on.
    patience_days: Annotated[float, Field(gt=0, le=3650)] = 42.0
    talks: Talks = Talks()
    initial_text: Id | None = None
    mediator_bias: Annotated[float, Field(ge=0, le=1)] = 0.3
    moves_per_round: Annotated[int, Field(ge=1, le=50)] = 2
    mediator_step: Annotated[float, Field(gt=0, le=100)] = 1.0
    # The signatories settle for a ceasefire without a settlement (partial) after this long of
    # accepting texts whose needed consent is withheld.
    consent_patience_days: Annotated[float, Field(gt=0, le=3650)] = 56.0
    proposer_order: Seq[Id] | None = None
    eu_q: Annotated[float, Field(ge=0, le=1)] = 1.0
    eu_compromise: Literal["least_move", "scholz_code"] = "least_move"
    eu_probability: Literal["pooled", "pairwise"] = "pooled"
    note: Text | None = None

    @model_validator(mode="after")
    def _one_clock(self) -> Protocol:
        if self.horizon is not None and self.max_rounds is not None:
            raise ValueError("give horizon (a date) or max_rounds, not both")
        return self


class Scenario(Strict):
    """A whole scenario file after shape validation (cross-references are checked separately)."""

    meta: Meta
    sources: Annotated[dict[Id, Source], Field(min_length=1)]
    issues: Annotated[dict[Id, Issue], Field(min_length=1)]
    actors: Annotated[dict[Id, Actor], Field(min_length=2)]
    proposals: dict[Id, Proposal] = {}
    protocol: Protocol = Protocol()
    dynamics: Dynamics | None = None

    @property
    def n_rounds(self) -> int:
        """How many rounds the talks have: about one every round_days from as_of to the horizon, both included."""
        proto = self.protocol
        if proto.horizon is not None:
            return max(1, round((proto.horizon - self.meta.as_of).days / proto.round_days)) + 1
        return proto.max_rounds or DEFAULT_ROUNDS

    @property
    def round_days(self) -> float:
        """Days between rounds: round_days, stretched a little so the last round falls on the horizon.

        Otherwise the days between the last round and the horizon would be lost to the talks,
        and how many were lost would depend on the clock's grain.
        """
        proto = self.protocol
        if proto.horizon is None:
            return float(proto.round_days)
        return (proto.horizon - self.meta.as_of).days / (self.n_rounds - 1)

    @property
    def look_ahead_days(self) -> float:
        """How far ahead, in days, the actors look when they value fighting on."""
        dyn = self.dynamics
        if dyn is not None and dyn.horizon_rounds is not None:
            return dyn.horizon_rounds * self.round_days
        return float(dyn.look_ahead_days if dyn is not None and dyn.look_ahead_days is not None
                     else DEFAULT_LOOK_AHEAD_DAYS)

    def round_at(self, date: dt.date) -> float:
        """The (fractional) round at which a date falls; round 0 is meta.as_of."""
        return (date - self.meta.as_of).days / self.round_days


#: Rounds of an abstract game that gives neither a horizon nor max_rounds.
DEFAULT_ROUNDS = 50

#: How far ahead fighting on is valued when a scenario does not say: 52 weeks.
DEFAULT_LOOK_AHEAD_DAYS = 364
