"""The building blocks of every model of the scenario (and observations) format: ids and text,
bounded numbers and dates, uncertain numbers, the strict base model, and cited quotes.

Every number and date the format accepts has a finite range set here (LIMIT and the MAX_*
bounds); each kind of number narrows it further in its own model or in the cross-checks.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, TypeVar

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
#: number has its own, narrower range (below, and in sim.scenario.crosscheck).
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
