"""The observations file format (pydantic models): what actually happened, in the terms of one
scenario. Dated decisions (one party's recorded answer to one deal), outcome-level facts (no
agreement by a date, talks suspended between two dates) and monthly front-line figures, each
with a source and, for decisions and outcomes, a verbatim quote. The format is described in
docs/observations-format.md; the models share the scenario format's building blocks.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from sim.scenario.schema import (
    MAX_DRIFT_KM2,
    Date,
    Id,
    Response,
    Source,
    Strict,
    Text,
)

# Numbers and dates are strict, as everywhere in the format (see Strict): YAML's `"0.6"` (a
# string), `true` or a Unix timestamp standing for a date would otherwise be coerced silently,
# and a typo would become data. A month's front figure is bounded like a scenario's drift.
Km2 = Annotated[float, Field(strict=True, ge=-MAX_DRIFT_KM2, le=MAX_DRIFT_KM2)]
Weight = Annotated[float, Field(strict=True, ge=0, le=1)]
Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Confidence = Literal["high", "medium", "low"]
Grade = Literal["A", "B", "C"]
OutcomeKind = Literal["no_agreement_by", "talks_suspended"]

DOCS = "docs/observations-format.md"


class ObservationsMeta(Strict):
    """Which file this is and which scenario its deals are written in."""

    name: Id
    scenario: Text  # path of the scenario, relative to this file
    description: Text
    title: Text | None = None
    as_of: Date | None = None  # when the record was closed: nothing may be dated after it


class DecisionEntry(Strict):
    """One party's recorded answer to one deal: a proposal of the scenario or an inline deal."""

    id: Id
    date: Date
    proposal: Id | None = None
    deal: Annotated[dict[Id, Id], Field(min_length=1)] | None = None
    note: Text | None = None
    actor: Id
    response: Response
    confidence: Confidence
    reliability: Grade
    weight: Weight | None = None
    source: Id
    quote: Text

    @model_validator(mode="after")
    def _one_deal(self) -> DecisionEntry:
        if self.proposal is not None and self.deal is not None:
            raise ValueError("give either proposal or deal, not both")
        if self.proposal is None and self.deal is None:
            raise ValueError("say what was answered: a proposal of the scenario or an inline deal")
        return self

    @property
    def known_on(self) -> dt.date:
        """The day the answer was on record."""
        return self.date


class OutcomeEntry(Strict):
    """A dated fact about the talks as a whole."""

    id: Id
    kind: OutcomeKind
    date: Date | None = None
    start: Date | None = None
    end: Date | None = None
    source: Id
    quote: Text
    note: Text | None = None

    @model_validator(mode="after")
    def _dates_fit_kind(self) -> OutcomeEntry:
        if self.kind == "no_agreement_by":
            if self.date is None or self.start is not None or self.end is not None:
                raise ValueError("a no_agreement_by outcome takes a date (and no start or end)")
        elif self.start is None or self.end is None or self.date is not None:
            raise ValueError("a talks_suspended outcome takes start and end dates (and no date)")
        return self

    @property
    def known_on(self) -> dt.date:
        """The day by which the fact is complete (a suspension only once it has ended)."""
        return self.date if self.date is not None else self.end


class FrontEntry(Strict):
    """Russia's net territorial gain over one month, whole country, in km²."""

    month: Month
    gained_km2: Km2
    low_km2: Km2 | None = None
    high_km2: Km2 | None = None
    reliability: Grade
    source: Id
    quote: Text | None = None
    note: Text | None = None

    @property
    def known_on(self) -> dt.date:
        """The month's last day: the figure covers the whole month."""
        return month_span(self.month)[1]


class Observations(Strict):
    """A whole observations file after shape validation (cross-references are checked separately)."""

    meta: ObservationsMeta
    sources: Annotated[dict[Id, Source], Field(min_length=1)]
    decisions: list[DecisionEntry] = []
    outcomes: list[OutcomeEntry] = []
    front: list[FrontEntry] = []


def month_span(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of a `YYYY-MM` month."""
    year, mon = (int(part) for part in month.split("-"))
    return dt.date(year, mon, 1), dt.date(year, mon, calendar.monthrange(year, mon)[1])
