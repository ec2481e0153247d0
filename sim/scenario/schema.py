"""The scenario file format: pydantic models (shape and ranges) plus cross-reference checks.

Collections keyed by id (sources, issues, actors, proposals) are YAML mappings, so every
field has a stable dotted path (`actors.ukraine.weights.donetsk`) for errors and sweeps.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]

#: No number in a scenario is larger than this in magnitude, whatever it measures; each kind of
#: number has its own, narrower range (below, and in sim.scenario.load.cross_check).
LIMIT = 1e9
#: The most rounds talks may have, however they are clocked (max_rounds, or horizon / round_days).
MAX_ROUNDS = 10_000
#: The largest weight (weights are relative: only their ratios matter).
MAX_WEIGHT = 1e6
#: The largest area or front movement, in km² (more than the area of any country; the largest is ~1.7e7).
MAX_KM2 = 2e7
MAX_DRIFT_KM2 = 1e6
#: Every date lies in this span: a date outside it is a typo (or a number read as a date).
FIRST_DATE, LAST_DATE = dt.date(1800, 1, 1), dt.date(2200, 12, 31)

T = TypeVar("T")


def _list_to_tuple(value):
    return tuple(value) if isinstance(value, list) else value


#: A YAML list, kept as a tuple (strict mode takes only tuples for tuples; YAML has lists).
Seq = Annotated[tuple[T, ...], BeforeValidator(_list_to_tuple)]
Date = Annotated[dt.date, Field(ge=FIRST_DATE, le=LAST_DATE)]
Real = Annotated[float, Field(ge=-LIMIT, le=LIMIT)]

#: What a quote must hold: some of the source's own words, not only punctuation, ellipses or
#: quote marks: at least MIN_QUOTE_WORDS words or MIN_QUOTE_LETTERS letters, and never fewer
#: than MIN_ANY_QUOTE_LETTERS letters ("is a minimum" and "absolutely unacceptable" pass; "...",
#: "a b c" and "No." do not). A word is a run of letters or digits; each CJK character is one.
MIN_QUOTE_WORDS = 3
MIN_QUOTE_LETTERS = 12
MIN_ANY_QUOTE_LETTERS = 8
_WORD = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+")


def quote_problem(quote: str) -> str | None:
    """Why `quote` cannot be a quotation (too few real words), or None if it can."""
    words = _WORD.findall(quote)
    letters = sum(ch.isalpha() for w in words for ch in w)
    if letters < MIN_ANY_QUOTE_LETTERS or (len(words) < MIN_QUOTE_WORDS and letters < MIN_QUOTE_LETTERS):
        return (f"a quote must give the source's own words (at least {MIN_QUOTE_WORDS} words or "
                f"{MIN_QUOTE_LETTERS} letters), not only punctuation, ellipses or quote marks")
    return None


class Strict(BaseModel):
    """The base of every model of the scenario (and observations) format.

    strict=True: a value must already have the type the field wants. YAML `true` is never a
    number, `"0.06"` (text) is never a number, a number is never a date or a boolean. The one
    conversion is an int where a float is wanted. Dates come from the YAML reader as dates.
    allow_inf_nan=False: `.nan` or `.inf` (or 1e400) is never a meaningful number in a scenario,
    and NaN slips through range checks (every comparison with it is false). Every number field
    also has a finite range (see LIMIT), and every field called `quote` must hold real words.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False,
                              strict=True)

    @field_validator("quote", check_fields=False)
    @classmethod
    def _words(cls, quote: str | None) -> str | None:
        if quote is not None and (problem := quote_problem(quote)):
            raise ValueError(problem)
        return quote


class Uncertain(Strict):
    """A number we are unsure of: `{mean, sd}` (normal truncated to [low, high]) or `{low, high}` (uniform)."""

    mean: Real | None = None
    sd: Annotated[float, Field(ge=0, le=LIMIT)] | None = None
    low: Real | None = None
    high: Real | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Uncertain:
        if (self.mean is None) != (self.sd is None):
            raise ValueError("give both mean and sd, or neither")
        if self.mean is None and (self.low is None or self.high is None):
            raise ValueError("give {mean, sd} or {low, high}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        if self.mean is not None and self.low is not None and not (self.low <= self.mean):
            raise ValueError("mean is below low")
        if self.mean is not None and self.high is not None and not (self.mean <= self.high):
            raise ValueError("mean is above high")
        return self


Number = Real | Uncertain


def number_bounds(value: Number, lo: float, hi: float) -> tuple[float, float]:
    """The smallest and largest value a Number can take in a draw, clipped to [lo, hi].

    `{mean: m, sd: 0}` is the number m, whatever its low and high say.
    """
    if isinstance(value, Uncertain):
        if value.mean is not None and value.sd == 0:
            m = min(max(value.mean, lo), hi)
            return m, m
        a = value.low if value.low is not None else lo
        b = value.high if value.high is not None else hi
        return max(a, lo), min(b, hi)
    return value, value


def central(value: Number) -> float:
    """The point estimate of a Number (its mean, or its interval's midpoint)."""
    if isinstance(value, Uncertain):
        return value.mean if value.mean is not None else (value.low + value.high) / 2
    return float(value)


class Cited(Strict):
    """Provenance: which source says so, in its own words."""

    source: Id
    quote: Text
    note: Text | None = None


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


#: What an option's `control` may say besides an actor id: the land stays where the front line
#: puts it (`line`), a holder's part becomes a demilitarised zone held by nobody (`buffer`, with
#: `from:` that holder), or the whole region goes to an administration held by no party
#: (`international`). Any other value names the actor that gets the whole region.
CONTROL_KEYWORDS = ("line", "buffer", "international")

#: The shares a region's holders hold must sum to 1 to within this.
SHARE_TOLERANCE = 1e-9


class Option(Strict):
    """One way an issue can be settled. For territory, `control` says who holds the land.

    `control` is an actor id (the whole region to that actor), `line`, `buffer` (with `from`,
    the holder whose part becomes the zone) or `international`; `recognised` says whether the
    settlement is legally recognised (de jure) or only a fact on the ground (de facto).
    """

    meaning: Text
    control: Id | None = None
    from_: Annotated[Id | None, Field(alias="from")] = None
    recognised: bool | None = None


class Issue(Strict):
    kind: Literal["territory", "policy"]
    name: Text
    options: Annotated[dict[Id, Option | Text], Field(min_length=2)]
    default: Id
    area_km2: Annotated[float, Field(ge=0.01, le=MAX_KM2)] | None = None
    # Who holds which share of the region at meta.as_of: actor id -> share (0..1), summing to 1.
    held: dict[Id, Annotated[float, Field(ge=0, le=1)]] | None = None
    consent: Seq[Id] = ()
    source: Id | None = None
    note: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data):
        if isinstance(data, dict) and "russia_share" in data:
            raise ValueError("russia_share is replaced by held: the share each holder holds, e.g. "
                             "held: {<actor id>: 0.75, <actor id>: 0.25} (see docs/new-conflict.md)")
        return data

    @field_validator("options", mode="after")
    @classmethod
    def _expand(cls, options: dict) -> dict:
        return {k: Option(meaning=v) if isinstance(v, str) else v for k, v in options.items()}

    @model_validator(mode="after")
    def _territory(self) -> Issue:
        if self.default not in self.options:
            raise ValueError(f"default {self.default!r} is not one of the options ({', '.join(self.options)})")
        if self.kind == "territory":
            if self.area_km2 is None or self.held is None:
                raise ValueError("a territorial issue needs area_km2 and held (who holds which share)")
        else:
            if self.area_km2 is not None or self.held is not None:
                raise ValueError("only territorial issues have area_km2 and held")
            if any(o.control is not None or o.from_ is not None for o in self.options.values()):
                raise ValueError("only territorial options have control")
        return self

    @property
    def holders(self) -> tuple[str, ...]:
        """The actors holding part of the region at meta.as_of, in the order `held` lists them."""
        return tuple(self.held or ())

    def control_of(self, option_id: str) -> tuple[str, str | None, bool]:
        """(who controls the land, the side a buffer is carved from, whether it is recognised de jure)."""
        opt = self.options[option_id]
        return opt.control or "line", opt.from_, bool(opt.recognised)


Role = Literal["signatory", "mediator", "guarantor", "observer"]


class ValueTable(Cited):
    """An actor's value (0 = worst, 1 = best) for each option of one issue, with its source."""

    options: dict[Id, Number]


class Condition(Strict):
    issue: Id
    options: Annotated[Seq[Id], Field(min_length=1)]


class Interaction(Cited):
    """When `when` holds, the value of `options` on each of `issues` shifts by `delta` (kept in [0, 1])."""

    issues: Annotated[Seq[Id], Field(min_length=1)]
    options: Annotated[Seq[Id], Field(min_length=1)]
    when: Condition
    delta: Number


class Reservation(Cited):
    """What no deal is worth to the actor, on its own utility scale.

    `derive: stated` (the default) takes `value` as said. `derive: war` derives it as the
    bargaining model of war does (Fearon 1995): the actor's utility of fighting on, from the
    scenario's own front-line projection, minus the costs of fighting over the horizon, plus a
    stated `premium` for what it expects from fighting beyond the projected line.
    """

    value: Number | None = None
    derive: Literal["stated", "war"] = "stated"
    premium: Number = 0.0

    @model_validator(mode="after")
    def _value_or_derived(self) -> Reservation:
        if self.derive == "stated" and self.value is None:
            raise ValueError("a stated reservation needs a value (or say derive: war)")
        if self.derive == "war" and self.value is not None:
            raise ValueError("a reservation derived from the war takes no value; adjust it with premium")
        return self


class UncertainDate(Strict):
    """A date we are unsure of: normal around `date` with `sd_days`."""

    date: Date
    sd_days: Annotated[float, Field(ge=0, le=3650)] = 0.0


class RedLine(Cited):
    """Options of one issue the actor will never sign, whatever else the deal offers."""

    issue: Id
    options: Annotated[Seq[Id], Field(min_length=1)]


class Strategy(Strict):
    """How an actor concedes; parameters depend on the kind (see sim.domain.strategies)."""

    kind: Id = "linear"
    exponent: Annotated[float, Field(ge=0.01, le=100)] | None = None
    # A date (or an uncertain date) ties the concession to the calendar; a whole number of
    # rounds suits abstract games that have no calendar.
    deadline: Date | UncertainDate | Annotated[int, Field(ge=1, le=MAX_ROUNDS)] | None = None
    floor: Annotated[float, Field(ge=0, le=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=1)] | None = None
    source: Id | None = None
    quote: Text | None = None
    note: Text | None = None


class Actor(Strict):
    name: Text
    role: Role | Seq[Role] = "signatory"
    weights: dict[Id, Number] = {}
    values: dict[Id, ValueTable] = {}
    interactions: Seq[Interaction] = ()
    reservation: Reservation
    red_lines: Seq[RedLine] = ()
    strategy: Strategy = Strategy()
    capability: Annotated[float, Field(ge=0, le=1e6)] = 1.0
    discount: Annotated[float, Field(gt=0, le=1)] = 1.0
    note: Text | None = None

    @property
    def roles(self) -> tuple[str, ...]:
        """The actor's roles as a tuple."""
        return (self.role,) if isinstance(self.role, str) else tuple(self.role)


Response = Literal["accepted", "accepted_with_reservations", "rejected", "no_response", "contested"]


class RecordedResponse(Strict):
    """What a party is on record as answering to a proposal (checked by `negsim validate`)."""

    response: Response
    date: Date | None = None
    source: Id
    quote: Text | None = None
    note: Text | None = None


class Proposal(Strict):
    name: Text
    options: dict[Id, Id]
    source: Id
    quote: Text
    by: Seq[Id] = ()
    responses: dict[Id, RecordedResponse] = {}
    note: Text | None = None


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
