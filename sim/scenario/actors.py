"""Actors of a scenario: who they are (roles), what each issue is worth to them (weights, value
tables, interactions between issues), what no deal is worth (reservation), what they will never
sign (red lines), and how they concede (strategy).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.scenario.fields import MAX_ROUNDS, Cited, Date, Id, Number, Seq, Strict, Text

Role = Literal["signatory", "mediator", "guarantor", "observer"]
SIGNATORY: Role = "signatory"  # the role whose yes every deal needs


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

    @property
    def signs(self) -> bool:
        """Whether the actor signs a deal: its yes is always needed (Game.must_agree adds consent holders)."""
        return SIGNATORY in self.roles
