"""Load a scenario file: YAML -> pydantic shape checks -> cross-references -> one report.

Every problem found is reported at once, each as `file:line: field.path: message`.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.errors import Problem, ScenarioError
from sim.scenario.schema import (
    MAX_DRIFT_KM2,
    MAX_ROUNDS,
    MAX_WEIGHT,
    Number,
    Scenario,
    Uncertain,
    central,
    number_bounds,
)
from sim.scenario.yamlsrc import (
    SourceMap,
    not_regular,
    parse_yaml,
    read_bytes,
    read_regular,
)

#: The largest local copy of a source whose quotes are checked (read whole, so bounded).
MAX_SOURCE_BYTES = 20_000_000


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with where it came from."""

    scenario: Scenario
    path: Path
    sha256: str
    srcmap: SourceMap
    raw: bytes = b""  # the file as read (consistency checks look at its comments)

    @property
    def name(self) -> str:
        """The scenario's `meta.name`."""
        return self.scenario.meta.name


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> LoadedScenario:
    """Read, validate and cross-check a scenario file; raise ScenarioError listing every problem."""
    path = Path(path)
    raw = read_bytes(path)
    data, srcmap = parse_yaml(raw, str(path))
    if overrides:
        from sim.scenario.overrides import apply_overrides

        data = apply_overrides(data, overrides, srcmap)
    scenario = validate(data, srcmap, base_dir=path.parent)
    digest = hashlib.sha256(raw).hexdigest()
    return LoadedScenario(scenario, path, digest, srcmap, raw)


def validate(data: Any, srcmap: SourceMap, base_dir: Path | None = None) -> Scenario:
    """Turn parsed YAML into a Scenario or raise ScenarioError with every problem."""
    if not isinstance(data, dict):
        raise ScenarioError([srcmap.problem((), "a scenario must be a mapping with meta, sources, "
                                                 "issues, actors, proposals and protocol")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_pydantic_problems(exc, srcmap, data)) from None
    problems = cross_check(scenario, srcmap, base_dir)
    if problems:
        raise ScenarioError(problems)
    return scenario


_TYPE_ERRORS = {"float_type", "float_parsing", "dict_type", "model_type", "string_type",
                "model_attributes_type", "int_type", "int_parsing", "tuple_type", "literal_error",
                "bool_type", "bool_parsing", "is_instance_of", "date_type", "date_parsing"}
_EXPECTS = {"float_type": "a number", "float_parsing": "a number", "dict_type": "a mapping",
            "model_type": "a mapping", "model_attributes_type": "a mapping", "string_type": "text",
            "int_type": "a whole number", "int_parsing": "a whole number", "tuple_type": "a list",
            "bool_type": "true or false", "bool_parsing": "true or false", "date_type": "a date",
            "date_parsing": "a date"}


def _locate(loc: tuple, data: Any, kind: str) -> tuple:
    """The part of a pydantic error location that names a place in the scenario data.

    pydantic puts union branches (`float`, `Uncertain`, `function-after[...]`, `tuple[...]`) and
    dict-key markers (`[key]`) into locations. Walking the parsed data tells them apart from the
    keys the user wrote, whatever their spelling (`Colour`, `float`, `1`). The one part not in
    the data that is kept is the name of a missing field.
    """
    out: list = []
    node = data
    for k, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
            out.append(part)
        elif isinstance(node, list) and type(part) is int and 0 <= part < len(node):
            node = node[part]
            out.append(part)
        elif kind == "missing" and k == len(loc) - 1 and isinstance(part, str):
            out.append(part)
    return tuple(out)


def _pydantic_problems(exc: ValidationError, srcmap: SourceMap, data: Any) -> list[Problem]:
    grouped: dict[tuple, list[dict]] = {}
    for err in exc.errors(include_url=False, include_context=False):
        grouped.setdefault(_locate(err["loc"], data, err["type"]), []).append(err)
    # A union (a Number is `float | Uncertain`) fails in every branch: when one branch got as far
    # as a field inside the value (`...strong.sd: must be >= 0`), the other branches' "wrong
    # type" errors on the value itself are noise.
    inner = {loc[:k] for loc in grouped for k in range(len(loc))}  # every proper prefix of a location
    for loc in [loc for loc, errs in grouped.items() if loc in inner]:
        if all(e["type"] in _TYPE_ERRORS for e in grouped[loc]):
            del grouped[loc]
    problems = []
    for loc, errs in grouped.items():
        specific = [e for e in errs if e["type"] not in _TYPE_ERRORS]
        if specific:
            messages = list(dict.fromkeys(_message(e) for e in specific))
        elif len(errs) > 1:
            wants = list(dict.fromkeys(_EXPECTS.get(e["type"], e["msg"]) for e in errs))
            messages = [f"expected {' or '.join(wants)}, got {_got(errs[0].get('input'), wants)}"
                        if "a number" not in wants or "a mapping" not in wants
                        else f"expected a number or an uncertain number {{mean, sd}} / {{low, high}}, "
                             f"got {_got(errs[0].get('input'), wants)}"]
        else:
            messages = [_message(errs[0])]
        for message in messages:
            problems.append(srcmap.problem(loc, message))
    return sorted(problems, key=lambda p: (p.line or 0, p.field))


def _message(err: dict) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; see docs/scenario-format.md)"
    if kind == "missing":
        return "required field is missing"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "string_pattern_mismatch" and "a-z" in msg:
        return f"{_show(err.get('input'))} is not a valid id (lower-case letters, digits and _, starting with a letter)"
    if kind in _EXPECTS:
        return f"expected {_EXPECTS[kind]}, got {_got(err.get('input'), [_EXPECTS[kind]])}"
    if kind == "literal_error":
        return f"expected {msg.removeprefix('Input should be ')}, got {_got(err.get('input'), [])}"
    if kind == "finite_number":
        return f"expected a finite number, got {_show(err.get('input'))}"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        return f"must be {msg.removeprefix('Input should be ')}, got {_show(err.get('input'))}"
    return msg


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as YAML spells it
    if value is None:
        return "null"
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) >= 1e16:
        text = f"{value:g}"  # 1e+308, not 1e308 written out
    elif isinstance(value, _dt.date):
        text = value.isoformat(sep=" ") if isinstance(value, _dt.datetime) else value.isoformat()
    else:
        try:
            text = repr(value)
        except ValueError:  # an int too long to print (a hex literal of thousands of digits)
            text = "a number too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


def _got(value: Any, wanted: list[str]) -> str:
    """A wrong-typed input, shown with what YAML made of it: `true (a boolean)`, `'0.06' (text)`."""
    shown = _show(value)
    if isinstance(value, bool):
        return f"{shown} (a boolean)"
    if isinstance(value, (int, float)):
        return shown if shown == "a number too long to show" else f"{shown} (a number)"
    if isinstance(value, _dt.datetime):
        return f"{shown} (a date and time)"
    if isinstance(value, _dt.date):
        return f"{shown} (a date)"
    if isinstance(value, str):
        hint = ""
        if any("number" in w for w in wanted) and _looks_like(value, float):
            hint = "; write the number without quotes"
        elif "a date" in wanted and _looks_like(value, _dt.date.fromisoformat):
            hint = "; write the date without quotes"
        elif "true or false" in wanted and value.strip() in ("true", "false"):
            hint = "; write true or false without quotes"
        return f"{shown} (text{hint})"
    if isinstance(value, list):
        return f"{shown} (a list)"
    if isinstance(value, dict):
        return f"{shown} (a mapping)"
    return shown


def _looks_like(text: str, parse) -> bool:
    try:
        parse(text.strip())
    except (ValueError, TypeError):
        return False
    return True


def _check_number(problems: list, srcmap: SourceMap, path: tuple, value: Number, lo: float, hi: float,
                  what: str) -> None:
    """A number (plain or uncertain) lies in [lo, hi], and an uncertain one's sd is at most hi - lo."""
    if isinstance(value, Uncertain):
        for bound in ("mean", "low", "high"):
            v = getattr(value, bound)
            if v is not None and not lo <= v <= hi:
                problems.append(srcmap.problem(path + (bound,), f"{what} {bound} {_show(v)} is outside "
                                                                f"[{_show(lo)}, {_show(hi)}]"))
        if value.sd is not None and value.sd > hi - lo:
            problems.append(srcmap.problem(path + ("sd",), f"{what} sd {_show(value.sd)} is wider than the "
                                                           f"whole range [{_show(lo)}, {_show(hi)}]"))
    elif not lo <= value <= hi:
        problems.append(srcmap.problem(path, f"{what} {_show(value)} is outside [{_show(lo)}, {_show(hi)}]"))


def _zero_in_every_draw(weight: Number) -> bool:
    """Whether a weight is 0 whatever is drawn (0, `{mean: 0, sd: 0}`, `{low: 0, high: 0}`, ...)."""
    return number_bounds(weight, 0.0, MAX_WEIGHT)[1] <= 0


def _check_weights(out: list, srcmap: SourceMap, path: tuple, weights: dict) -> None:
    """An actor's weights are not all zero in any draw and sum to a positive number at their central values."""
    if not weights:
        return
    if all(_zero_in_every_draw(w) for w in weights.values()):
        out.append(srcmap.problem(path, "all weights are zero; at least one issue must matter"))
    elif sum(max(central(w), 0.0) for w in weights.values()) <= 0:
        out.append(srcmap.problem(path, "the weights sum to zero at their central values (means or "
                                        "midpoints); at least one issue must matter"))


def cross_check(sc: Scenario, srcmap: SourceMap, base_dir: Path | None) -> list[Problem]:
    """Every reference in the scenario points at something that exists; numbers are in range."""
    out: list[Problem] = []
    p = srcmap.problem
    sources, issues, actors = sc.sources, sc.issues, sc.actors

    def cite(path: tuple, source_id: str, quote: str | None = None) -> None:
        if source_id not in sources:
            out.append(p(path + ("source",), f"unknown source {source_id!r} (known: {', '.join(sources)})"))
        elif quote is not None:
            _check_quote(out, srcmap, path + ("quote",), sources[source_id], quote, base_dir)

    for sid, src in sources.items():
        if src.path is not None:
            _check_source_path(out, srcmap, ("sources", sid, "path"), src.path, base_dir)

    for iid, issue in issues.items():
        for who in issue.consent:
            if who not in actors:
                out.append(p(("issues", iid, "consent"), f"unknown actor {who!r} (known: {', '.join(actors)})"))
        if issue.source is not None:
            cite(("issues", iid), issue.source)

    for aid, actor in actors.items():
        base = ("actors", aid)
        for iid, w in actor.weights.items():
            if iid not in issues:
                out.append(p(base + ("weights", iid), f"unknown issue {iid!r} (known: {', '.join(issues)})"))
            _check_number(out, srcmap, base + ("weights", iid), w, 0.0, MAX_WEIGHT, "weight")
        _check_weights(out, srcmap, base + ("weights",), actor.weights)
        if not actor.weights:
            out.append(p(base, "no weights: say which issues matter to this actor"))
        for iid, table in actor.values.items():
            tpath = base + ("values", iid)
            cite(tpath, table.source, table.quote)
            if iid not in issues:
                out.append(p(tpath, f"unknown issue {iid!r} (known: {', '.join(issues)})"))
                continue
            known = issues[iid].options
            for oid, v in table.options.items():
                if oid not in known:
                    out.append(p(tpath + ("options", oid), f"unknown option {oid!r} of issue {iid!r} "
                                                           f"(options: {', '.join(known)})"))
                _check_number(out, srcmap, tpath + ("options", oid), v, 0.0, 1.0, "value")
            missing = [o for o in known if o not in table.options]
            if missing:
                out.append(p(tpath + ("options",), f"no value for option(s) {', '.join(missing)}"))
        for iid in actor.weights:
            if iid in issues and iid not in actor.values and not _zero_in_every_draw(actor.weights[iid]):
                out.append(p(base + ("weights", iid), f"issue {iid!r} has a weight but no values table"))
        for iid in actor.values:
            if iid in issues and iid not in actor.weights:
                out.append(p(base + ("values", iid), f"issue {iid!r} has values but no weight"))
        for k, inter in enumerate(actor.interactions):
            ipath = base + ("interactions", k)
            cite(ipath, inter.source, inter.quote)
            _check_number(out, srcmap, ipath + ("delta",), inter.delta, -1.0, 1.0, "delta")
            for iid in inter.issues:
                if iid not in issues:
                    out.append(p(ipath + ("issues",), f"unknown issue {iid!r}"))
                    continue
                for oid in inter.options:
                    if oid not in issues[iid].options:
                        out.append(p(ipath + ("options",), f"issue {iid!r} has no option {oid!r}"))
                if iid == inter.when.issue:
                    out.append(p(ipath + ("when", "issue"), "an interaction links two different issues"))
            if inter.when.issue not in issues:
                out.append(p(ipath + ("when", "issue"), f"unknown issue {inter.when.issue!r}"))
            else:
                for oid in inter.when.options:
                    if oid not in issues[inter.when.issue].options:
                        out.append(p(ipath + ("when", "options"),
                                     f"issue {inter.when.issue!r} has no option {oid!r}"))
        rpath = base + ("reservation",)
        cite(rpath, actor.reservation.source, actor.reservation.quote)
        if actor.reservation.value is not None:
            _check_number(out, srcmap, rpath + ("value",), actor.reservation.value, 0.0, 1.0, "reservation")
        _check_number(out, srcmap, rpath + ("premium",), actor.reservation.premium, -1.0, 1.0, "premium")
        if actor.reservation.derive == "war" and sc.dynamics is None:
            out.append(p(rpath + ("derive",), "a reservation derived from the war needs a dynamics section"))
        for k, line in enumerate(actor.red_lines):
            lpath = base + ("red_lines", k)
            cite(lpath, line.source, line.quote)
            if line.issue not in issues:
                out.append(p(lpath + ("issue",), f"unknown issue {line.issue!r} (known: {', '.join(issues)})"))
                continue
            known = issues[line.issue].options
            for oid in line.options:
                if oid not in known:
                    out.append(p(lpath + ("options",), f"issue {line.issue!r} has no option {oid!r} "
                                                       f"(options: {', '.join(known)})"))
            if set(line.options) >= set(known):
                out.append(p(lpath + ("options",), f"every option of {line.issue!r} is a red line: "
                                                   "the actor could never sign anything"))
        strat = actor.strategy
        if strat.source is not None:
            cite(base + ("strategy",), strat.source, strat.quote)
        if isinstance(strat.deadline, int) and sc.protocol.horizon:
            out.append(p(base + ("strategy", "deadline"), "the talks have a calendar (protocol.horizon): "
                                                          "give the deadline as a date"))
        deadline_date = getattr(strat.deadline, "date", strat.deadline)
        if isinstance(deadline_date, _dt.date) and deadline_date <= sc.meta.as_of:
            out.append(p(base + ("strategy", "deadline"), f"deadline {deadline_date} is not after "
                                                          f"meta.as_of ({sc.meta.as_of})"))
        from sim.catalogue import STRATEGIES

        if actor.strategy.kind not in STRATEGIES:
            out.append(p(base + ("strategy", "kind"), f"unknown strategy {actor.strategy.kind!r} "
                                                      f"(known: {', '.join(sorted(STRATEGIES))})"))

    signatories = [a for a, act in actors.items() if "signatory" in act.roles]
    if not signatories:
        out.append(p(("actors",), "no actor has role signatory; someone must sign the deal"))

    for pid, prop in sc.proposals.items():
        ppath = ("proposals", pid)
        cite(ppath, prop.source, prop.quote)
        for k, who in enumerate(prop.by):
            if who not in actors:
                out.append(p(ppath + ("by", k), f"unknown actor {who!r} (known: {', '.join(actors)})"))
        for who, resp in prop.responses.items():
            if who not in actors:
                out.append(p(ppath + ("responses", who), f"unknown actor {who!r} (known: {', '.join(actors)})"))
            cite(ppath + ("responses", who), resp.source, resp.quote)
        for iid, oid in prop.options.items():
            if iid not in issues:
                out.append(p(ppath + ("options", iid), f"unknown issue {iid!r} (known: {', '.join(issues)})"))
            elif oid not in issues[iid].options:
                out.append(p(ppath + ("options", iid), f"issue {iid!r} has no option {oid!r} "
                                                       f"(options: {', '.join(issues[iid].options)})"))

    if sc.dynamics is not None:
        _check_dynamics(sc, out, srcmap, cite)
    from sim.scenario.territory import check_territory

    out.extend(check_territory(sc, srcmap))  # holders, control, buffers, who the front moves between

    proto = sc.protocol
    if proto.horizon is not None and proto.horizon > sc.meta.as_of and sc.n_rounds > MAX_ROUNDS:
        out.append(p(("protocol", "round_days"), f"a round every {_show(proto.round_days)} days from "
                                                 f"{sc.meta.as_of} to {proto.horizon} makes {sc.n_rounds:,} "
                                                 f"rounds; at most {MAX_ROUNDS:,}"))
    from sim.catalogue import PROTOCOLS

    if proto.kind not in PROTOCOLS:
        out.append(p(("protocol", "kind"), f"unknown protocol {proto.kind!r} (known: {', '.join(PROTOCOLS)})"))
    if proto.horizon is not None and proto.horizon <= sc.meta.as_of:
        out.append(p(("protocol", "horizon"), f"the horizon must come after meta.as_of ({sc.meta.as_of})"))
    if proto.mediator is not None and proto.mediator not in actors:
        out.append(p(("protocol", "mediator"), f"unknown actor {proto.mediator!r} (known: {', '.join(actors)})"))
    if proto.kind == "mediated" and proto.mediator is None:
        mediators = [a for a, act in actors.items() if "mediator" in act.roles]
        if len(mediators) != 1:
            out.append(p(("protocol", "mediator"), "the mediated protocol needs a mediator: name one here "
                                                   "or give exactly one actor the role mediator"))
    for k, who in enumerate(proto.proposer_order or ()):
        if who not in actors:
            out.append(p(("protocol", "proposer_order", k), f"unknown actor {who!r} (known: {', '.join(actors)})"))
    if proto.initial_text is not None and proto.initial_text not in sc.proposals:
        out.append(p(("protocol", "initial_text"), f"unknown proposal {proto.initial_text!r} "
                                                   f"(known: {', '.join(sc.proposals) or 'none'})"))
    return sorted(out, key=lambda pr: (pr.line or 0, pr.field))


def _check_dynamics(sc: Scenario, out: list, srcmap: SourceMap, cite) -> None:
    p = srcmap.problem
    dyn, issues, actors = sc.dynamics, sc.issues, sc.actors
    regions = [iid for iid, issue in issues.items() if issue.kind == "territory"]

    def region(path: tuple, iid: str) -> None:
        if iid not in regions:
            out.append(p(path, f"unknown region {iid!r} (territorial issues: {', '.join(regions) or 'none'})"))

    def actor(path: tuple, aid: str) -> None:
        if aid not in actors:
            out.append(p(path, f"unknown actor {aid!r} (known: {', '.join(actors)})"))

    for iid, front in dyn.front.items():
        path = ("dynamics", "front", iid)
        region(path, iid)
        _check_number(out, srcmap, path + ("drift_km2_per_month",), front.drift_km2_per_month, -MAX_DRIFT_KM2,
                      MAX_DRIFT_KM2, "drift")
        if front.source is not None:
            cite(path, front.source, front.quote)
    for aid, cost in dyn.costs.items():
        path = ("dynamics", "costs", aid)
        actor(path, aid)
        _check_number(out, srcmap, path + ("per_month",), cost.per_month, 0.0, 1.0, "cost")
        if cost.source is not None:
            cite(path, cost.source, cost.quote)
    # What weights events leave each actor with, in the order the events happen.
    when = {k: (sc.round_at(e.date) if e.date is not None else e.round) for k, e in enumerate(dyn.events)}
    current = {aid: dict(actor.weights) for aid, actor in actors.items()}
    for k in sorted(when, key=lambda k: when[k]):
        for aid, table in dyn.events[k].weights.items():
            if aid in current:
                current[aid].update(table)
                if table and all(_zero_in_every_draw(w) for w in current[aid].values()):
                    out.append(p(("dynamics", "events", k, "weights", aid),
                                 f"after this event all of {aid}'s weights are zero; at least one issue "
                                 "must matter"))
    for k, event in enumerate(dyn.events):
        path = ("dynamics", "events", k)
        cite(path, event.source, event.quote)
        if event.date is not None:
            if sc.protocol.horizon is None:
                out.append(p(path + ("date",), "a dated event needs a calendar: give protocol.horizon"))
            elif not sc.meta.as_of < event.date <= sc.protocol.horizon:
                out.append(p(path + ("date",), f"{event.date} is outside the talks "
                                               f"({sc.meta.as_of} to {sc.protocol.horizon})"))
        elif event.round >= sc.n_rounds:
            out.append(p(path + ("round",), f"round {event.round} is never reached "
                                            f"(the talks have {sc.n_rounds} rounds)"))
        for aid in event.costs:
            actor(path + ("costs", aid), aid)
        for iid in event.drift:
            region(path + ("drift", iid), iid)
        for aid, table in event.weights.items():
            actor(path + ("weights", aid), aid)
            for iid in table:
                if iid not in issues:
                    out.append(p(path + ("weights", aid, iid), f"unknown issue {iid!r}"))
                elif aid in actors and iid not in actors[aid].values:
                    out.append(p(path + ("weights", aid, iid), f"{aid} has no values for {iid!r}"))


def _resolve_inside(base_dir: Path | None, rel: str) -> Path | None:
    if base_dir is None:
        return None
    try:
        root = base_dir.resolve()
        target = (root / rel).resolve()
    except (OSError, ValueError, RuntimeError):  # a NUL byte, an unencodable name, a symlink loop
        return None
    return target if target.is_relative_to(root) else None


def _stat(target: Path) -> os.stat_result | None:
    try:
        return target.stat()
    except (OSError, ValueError):  # missing, or a folder on the way that we may not enter
        return None


def _source_problem(target: Path, rel: str) -> str | None:
    """Why a local source copy cannot be used (missing, not a regular file, too big), or None.

    Only the file's metadata is read: a named pipe or a device is never opened (opening a pipe
    blocks until something writes to it), and a huge file is refused before it is read.
    """
    st = _stat(target)
    if st is None:
        return f"no file {rel!r} next to the scenario"
    if problem := not_regular(st):
        return f"{rel!r} is {problem}"
    if st.st_size > MAX_SOURCE_BYTES:
        return f"{rel!r} is {st.st_size:,} bytes; the limit for a source file is {MAX_SOURCE_BYTES:,}"
    return None


def _check_source_path(out: list, srcmap: SourceMap, path: tuple, rel: str, base_dir: Path | None) -> None:
    if base_dir is None:
        return
    if "\x00" in rel:
        out.append(srcmap.problem(path, f"{rel!r} is not a usable file name (it contains a NUL character)"))
        return
    target = _resolve_inside(base_dir, rel)
    if target is None:
        out.append(srcmap.problem(path, f"{rel!r} points outside the scenario's folder"))
    elif problem := _source_problem(target, rel):
        out.append(srcmap.problem(path, problem))


def _normalise(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


@functools.lru_cache(maxsize=2)
def _source_text(name: str, size: int, mtime_ns: int) -> str:
    """A source copy's normalised text, cached by name, size and time of change: a source is
    usually cited many times, and a sweep validates many points. Read without blocking, so a
    file replaced by a named pipe since it was checked fails instead of hanging."""
    raw = read_regular(name, MAX_SOURCE_BYTES)
    return _normalise(raw[:MAX_SOURCE_BYTES].decode("utf-8", errors="replace"))


def _check_quote(out: list, srcmap: SourceMap, path: tuple, source, quote: str, base_dir: Path | None) -> None:
    # Only a local copy of a source can be checked; a URL is trusted as written.
    if source.path is None or base_dir is None:
        return
    target = _resolve_inside(base_dir, source.path)
    st = None if target is None else _stat(target)
    if st is None or not_regular(st) or st.st_size > MAX_SOURCE_BYTES:
        return  # reported by _check_source_path
    try:
        text = _source_text(str(target), st.st_size, st.st_mtime_ns)
    except OSError as exc:
        out.append(srcmap.problem(path, f"cannot read {source.path} to check the quote: {exc.strerror or exc}"))
        return
    pieces = [piece for piece in re.split(r"\s*(?:\.\.\.|…)\s*", quote) if piece.strip()]
    for piece in pieces:
        if _normalise(piece).strip("\"' ") not in text:
            out.append(srcmap.problem(path, f"quote not found in {source.path}: {piece[:60]!r}"))
            return

