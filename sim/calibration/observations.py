"""Observations files: what actually happened, in the terms of one scenario.

This module owns loading an observations file: its entry point (load_observations), the shape
check (validate) and the cross-checks against the scenario it names (cross_check). A file names
the scenario whose issues, actors and proposals it speaks of (`meta.scenario`); the format
itself is in sim.calibration.observations_format and the records the calibration works from
in sim.calibration.observations_records, both re-exported here.

Loading follows the scenario loader and reuses its parts: safe YAML with line numbers, pydantic
shape checks, then cross-checks against the scenario; every problem is reported at once as
`file:line: field: message` in one ScenarioError. The format is described in
docs/observations-format.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.calibration.observations_format import (
    DOCS,
    Confidence,
    DecisionEntry,
    FrontEntry,
    Grade,
    Km2,
    Month,
    Observations,
    ObservationsMeta,
    OutcomeEntry,
    OutcomeKind,
    Weight,
    month_span,
)
from sim.calibration.observations_records import (
    ACCEPTING,
    CONFIDENCE_FACTOR,
    RELIABILITY_FACTOR,
    RESERVATIONS_FACTOR,
    UNSCORED,
    Decision,
    FrontMonth,
    LoadedObservations,
    Outcome,
    decision_weight,
)
from sim.errors import Problem, ScenarioError
from sim.scenario.load import LoadedScenario, load_scenario
from sim.scenario.messages import pydantic_problems
from sim.scenario.schema import Scenario, Source
from sim.scenario.sources import check_quote, check_source_path
from sim.scenario.yamlsrc import SourceMap, not_regular, parse_yaml, read_bytes

# Re-exported: callers import the format and the records from here.
__all__ = ["ACCEPTING", "CONFIDENCE_FACTOR", "DOCS", "RELIABILITY_FACTOR", "RESERVATIONS_FACTOR", "UNSCORED",
           "Confidence", "Decision", "DecisionEntry", "FrontEntry", "FrontMonth", "Grade", "Km2",
           "LoadedObservations", "Month", "Observations", "ObservationsMeta", "Outcome", "OutcomeEntry",
           "OutcomeKind", "Weight", "cross_check", "decision_weight", "load_observations", "month_span", "validate"]


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
        problems = pydantic_problems(exc, srcmap, data)
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
            check_quote(out, srcmap, path + ("quote",), source, quote, root)
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
            check_source_path(out, srcmap, path, src.path, base_dir)
            continue
        rebased = _rebase(base_dir / src.path, (base_dir, scenario_dir))
        if rebased is None:
            out.append(srcmap.problem(path, f"{src.path!r} points outside this file's folder and the scenario's"))
            continue
        root, rel = rebased
        before = len(out)
        check_source_path(out, srcmap, path, rel, root)
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
