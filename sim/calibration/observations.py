"""Observations files: what actually happened, in the terms of one scenario.

This module owns the observations format (pydantic models), its loader and the records the
calibration works from. A file names the scenario whose issues, actors and proposals it speaks
of (`meta.scenario`) and lists dated decisions (one party's recorded answer to one deal),
outcome-level facts (no agreement by a date, talks suspended between two dates) and monthly
front-line figures, each with a source and, for decisions and outcomes, a verbatim quote.

Loading follows the scenario loader and reuses its parts: safe YAML with line numbers, pydantic
shape checks, then cross-checks against the scenario; every problem is reported at once as
`file:line: field: message` in one ScenarioError. The format is described in
docs/observations-format.md.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, StringConstraints, ValidationError, model_validator

from sim.domain.game import Game, compile_scenario
from sim.errors import Problem, ScenarioError
from sim.scenario.load import (
    LoadedScenario,
    _check_quote,
    _check_source_path,
    _pydantic_problems,
    load_scenario,
)
from sim.scenario.schema import (
    MAX_DRIFT_KM2,
    Date,
    Id,
    Response,
    Scenario,
    Source,
    Strict,
    Text,
)
from sim.scenario.yamlsrc import SourceMap, not_regular, parse_yaml, read_bytes

# Numbers and dates are strict, as everywhere in the format (see Strict): YAML's `"0.6"` (a
# string), `true` or a Unix timestamp standing for a date would otherwise be coerced silently,
# and a typo would become data. A month's front figure is bounded like a scenario's drift.
Km2 = Annotated[float, Field(strict=True, ge=-MAX_DRIFT_KM2, le=MAX_DRIFT_KM2)]
Weight = Annotated[float, Field(strict=True, ge=0, le=1)]
Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Confidence = Literal["high", "medium", "low"]
Grade = Literal["A", "B", "C"]
OutcomeKind = Literal["no_agreement_by", "talks_suspended"]

#: Default weight of a decision = confidence factor x reliability factor (see decision_weight).
CONFIDENCE_FACTOR: dict[str, float] = {"high": 1.0, "medium": 0.6, "low": 0.3}
RELIABILITY_FACTOR: dict[str, float] = {"A": 1.0, "B": 0.8, "C": 0.4}
#: An acceptance "as a basis" counts as an acceptance at this fraction of the weight.
RESERVATIONS_FACTOR = 0.5
#: Responses that are recorded but not scored unless the file gives a weight.
UNSCORED = frozenset({"contested", "no_response"})
ACCEPTING = frozenset({"accepted", "accepted_with_reservations"})

DOCS = "docs/observations-format.md"


# --- the file format ------------------------------------------------------------------------------


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


# --- what the calibration works from --------------------------------------------------------------


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


def month_span(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of a `YYYY-MM` month."""
    year, mon = (int(part) for part in month.split("-"))
    return dt.date(year, mon, 1), dt.date(year, mon, calendar.monthrange(year, mon)[1])


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


# --- loading --------------------------------------------------------------------------------------


def load_observations(path: str | Path, scenario: LoadedScenario | None = None) -> LoadedObservations:
    """Read, validate and cross-check an observations file; raise ScenarioError listing every problem.

    `scenario` is the scenario the file is written against, already loaded; without it, the
    one named in `meta.scenario` (relative to the file) is loaded.
    """
    path = Path(path)
    raw = read_bytes(path)
    data, srcmap = parse_yaml(raw, str(path))
    obs = validate(data, srcmap)
    if scenario is None:
        scenario = _load_named_scenario(obs, srcmap, path)
    problems = cross_check(obs, srcmap, scenario, path.parent)
    if problems:
        raise ScenarioError(problems)
    return LoadedObservations(path, obs, scenario, srcmap, hashlib.sha256(raw).hexdigest())


def validate(data: Any, srcmap: SourceMap) -> Observations:
    """Turn parsed YAML into Observations (shape only) or raise ScenarioError with every problem."""
    if not isinstance(data, dict):
        raise ScenarioError([srcmap.problem((), "an observations file must be a mapping with meta, sources, "
                                                 "decisions, outcomes and front")])
    try:
        return Observations.model_validate(data)
    except ValidationError as exc:
        problems = _pydantic_problems(exc, srcmap, data)
        # The shared messages point at the scenario format's documentation.
        raise ScenarioError([dataclasses.replace(p, message=p.message.replace("docs/scenario-format.md", DOCS))
                             for p in problems]) from None


def _load_named_scenario(obs: Observations, srcmap: SourceMap, path: Path) -> LoadedScenario:
    rel = obs.meta.scenario
    where = ("meta", "scenario")
    try:
        target = path.parent / rel  # an absolute path replaces the folder
        st = target.stat()
    except FileNotFoundError:
        st = None
    except (OSError, ValueError):  # a NUL byte or an unencodable name
        raise ScenarioError([srcmap.problem(where, f"{rel!r} is not a usable file name")]) from None
    if st is None:
        raise ScenarioError([srcmap.problem(where, f"no scenario file {rel!r} (the path is relative to this file)")])
    if problem := not_regular(st):
        raise ScenarioError([srcmap.problem(where, f"{rel!r} is {problem}")])
    try:
        return load_scenario(target)
    except ScenarioError as exc:
        raise ScenarioError([srcmap.problem(where, f"the scenario {rel!r} does not load (its problems follow)")]
                            + exc.problems) from None


def cross_check(obs: Observations, srcmap: SourceMap, loaded: LoadedScenario,
                base_dir: Path | None) -> list[Problem]:
    """Every reference points into the scenario or the file's sources; dates and figures make sense."""
    out: list[Problem] = []
    p = srcmap.problem
    sc: Scenario = loaded.scenario
    sources = _usable_sources(obs, srcmap, out, base_dir, loaded.path.parent)

    def cite(path: tuple, source_id: str, quote: str | None) -> None:
        if source_id not in obs.sources:
            out.append(p(path + ("source",), f"unknown source {source_id!r} (known: {', '.join(obs.sources)})"))
        elif quote is not None and source_id in sources:
            root, source = sources[source_id]
            before = len(out)
            _check_quote(out, srcmap, path + ("quote",), source, quote, root)
            _as_written(out, before, source.path, obs.sources[source_id].path)

    # The record may reach back before the scenario's as_of (what led up to it), but not by
    # more than a year; nothing may postdate the record's own closing date (or today).
    earliest = _year_before(sc.meta.as_of)
    today = dt.date.today()
    latest = obs.meta.as_of or today
    if obs.meta.as_of is not None and obs.meta.as_of > today:
        out.append(p(("meta", "as_of"), f"{obs.meta.as_of} is in the future"))

    def dated(path: tuple, day: dt.date, last: dt.date | None = None) -> None:
        if day < earliest:
            out.append(p(path, f"{day} is more than a year before the scenario's as_of ({sc.meta.as_of})"))
        elif (last or day) > latest:
            what = f"meta.as_of ({latest})" if obs.meta.as_of is not None else "today"
            out.append(p(path, f"{day if last is None else day.strftime('%Y-%m')} is after {what}"))

    first_use: dict[str, int | None] = {}

    def unique(path: tuple, ident: str) -> None:
        if ident in first_use:
            out.append(p(path, f"duplicate id {ident!r} (first used on line {first_use[ident]})"))
        else:
            first_use[ident] = srcmap.line_of(path)

    for k, entry in enumerate(obs.decisions):
        base = ("decisions", k)
        unique(base + ("id",), entry.id)
        dated(base + ("date",), entry.date)
        if entry.actor not in sc.actors:
            out.append(p(base + ("actor",), f"unknown actor {entry.actor!r} (known: {', '.join(sc.actors)})"))
        if entry.proposal is not None and entry.proposal not in sc.proposals:
            out.append(p(base + ("proposal",), f"unknown proposal {entry.proposal!r} of scenario "
                                               f"{sc.meta.name} (known: {', '.join(sc.proposals) or 'none'})"))
        for iid, oid in (entry.deal or {}).items():
            if iid not in sc.issues:
                out.append(p(base + ("deal", iid), f"unknown issue {iid!r} (known: {', '.join(sc.issues)})"))
            elif oid not in sc.issues[iid].options:
                out.append(p(base + ("deal", iid), f"issue {iid!r} has no option {oid!r} "
                                                   f"(options: {', '.join(sc.issues[iid].options)})"))
        cite(base, entry.source, entry.quote)

    for k, entry in enumerate(obs.outcomes):
        base = ("outcomes", k)
        unique(base + ("id",), entry.id)
        for name in ("date", "start", "end"):
            if getattr(entry, name) is not None:
                dated(base + (name,), getattr(entry, name))
        if entry.start is not None and entry.end is not None and entry.end < entry.start:
            out.append(p(base + ("end",), f"the suspension ends ({entry.end}) before it starts ({entry.start})"))
        cite(base, entry.source, entry.quote)

    months: dict[str, int | None] = {}
    for k, entry in enumerate(obs.front):
        base = ("front", k)
        if entry.month in months:
            out.append(p(base + ("month",), f"duplicate month {entry.month} "
                                            f"(first given on line {months[entry.month]})"))
        else:
            months[entry.month] = srcmap.line_of(base + ("month",))
        dated(base + ("month",), *month_span(entry.month))
        if entry.low_km2 is not None and entry.low_km2 > entry.gained_km2:
            out.append(p(base + ("low_km2",), f"low_km2 ({entry.low_km2:g}) is above gained_km2 "
                                              f"({entry.gained_km2:g})"))
        if entry.high_km2 is not None and entry.high_km2 < entry.gained_km2:
            out.append(p(base + ("high_km2",), f"high_km2 ({entry.high_km2:g}) is below gained_km2 "
                                               f"({entry.gained_km2:g})"))
        cite(base, entry.source, entry.quote)
    return sorted(out, key=lambda pr: (pr.line or 0, pr.field))


def _usable_sources(obs: Observations, srcmap: SourceMap, out: list, base_dir: Path | None,
                    scenario_dir: Path) -> dict[str, tuple[Path | None, Source]]:
    """Sources whose quotes can be checked: id -> (folder to read from, source with a path inside it).

    An observations file usually sits in its own folder beside the scenario and shares the
    scenario's source copies (`../sources/...`), so a local source may be inside either the
    file's folder or the scenario's; anything else is refused, as the scenario loader refuses
    paths outside its folder.
    """
    usable: dict[str, tuple[Path | None, Source]] = {}
    for sid, src in obs.sources.items():
        path = ("sources", sid, "path")
        if src.path is None or base_dir is None:
            usable[sid] = (base_dir, src)  # a URL is trusted as written
            continue
        if "\x00" in src.path:
            _check_source_path(out, srcmap, path, src.path, base_dir)
            continue
        rebased = _rebase(base_dir / src.path, (base_dir, scenario_dir))
        if rebased is None:
            out.append(srcmap.problem(path, f"{src.path!r} points outside this file's folder and the scenario's"))
            continue
        root, rel = rebased
        before = len(out)
        _check_source_path(out, srcmap, path, rel, root)
        _as_written(out, before, rel, src.path)
        usable[sid] = (root, src.model_copy(update={"path": rel}))
    return usable


def _as_written(out: list, since: int, rebased: str | None, written: str | None) -> None:
    """Problems found since `since` name a source by the path this file gives, not the rebased one."""
    for k in range(since, len(out)):
        message = out[k].message.replace("next to the scenario", "next to this file")
        if rebased is not None and written is not None:
            message = message.replace(repr(rebased), repr(written)).replace(f" {rebased}:", f" {written}:")
        out[k] = dataclasses.replace(out[k], message=message)


def _rebase(target: Path, roots: tuple[Path, ...]) -> tuple[Path, str] | None:
    try:
        resolved = target.resolve()
        for root in roots:
            root = root.resolve()
            if resolved.is_relative_to(root):
                return root, resolved.relative_to(root).as_posix()
    except (OSError, ValueError, RuntimeError):  # an unencodable name, a symlink loop
        return None
    return None


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)
