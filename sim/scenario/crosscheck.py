"""Cross-checks of a scenario that passed its shape checks: every id it refers to exists (sources,
issues, options, actors, proposals, regions, strategies, protocols), every number lies in the
range its kind allows, weights leave some issue mattering, and dates fall inside the talks.

Each problem is located in the file (`file:line: field.path: message`) and all are returned at
once; the territorial model's own checks live in sim.scenario.territory, a source's local copy
and its quotes in sim.scenario.sources.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from sim.errors import Problem
from sim.scenario.messages import show_yaml
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
from sim.scenario.sources import check_quote, check_source_path
from sim.scenario.yamlsrc import SourceMap


def _check_number(problems: list, srcmap: SourceMap, path: tuple, value: Number, lo: float, hi: float,
                  what: str) -> None:
    """A number (plain or uncertain) lies in [lo, hi], and an uncertain one's sd is at most hi - lo."""
    if isinstance(value, Uncertain):
        for bound in ("mean", "low", "high"):
            v = getattr(value, bound)
            if v is not None and not lo <= v <= hi:
                problems.append(srcmap.problem(path + (bound,), f"{what} {bound} {show_yaml(v)} is outside "
                                                                f"[{show_yaml(lo)}, {show_yaml(hi)}]"))
        if value.sd is not None and value.sd > hi - lo:
            problems.append(srcmap.problem(path + ("sd",), f"{what} sd {show_yaml(value.sd)} is wider than the "
                                                           f"whole range [{show_yaml(lo)}, {show_yaml(hi)}]"))
    elif not lo <= value <= hi:
        problems.append(srcmap.problem(path, f"{what} {show_yaml(value)} is outside "
                                             f"[{show_yaml(lo)}, {show_yaml(hi)}]"))


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
            check_quote(out, srcmap, path + ("quote",), sources[source_id], quote, base_dir)

    for sid, src in sources.items():
        if src.path is not None:
            check_source_path(out, srcmap, ("sources", sid, "path"), src.path, base_dir)

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

    signatories = [a for a, act in actors.items() if act.signs]
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
        out.append(p(("protocol", "round_days"), f"a round every {show_yaml(proto.round_days)} days from "
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
    """Fronts, war costs and events name real regions and actors and happen while the talks last."""
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
