"""The explorer's knobs: every uncertain or judgement number of a scenario, with its provenance.

A knob is one number a user may move: a weight, an option value, a reservation value or
premium, an interaction delta, a concession deadline or exponent, the war's drift and costs,
and the structural knobs of the talks. Each names the dotted path an override sets (the same
paths `--set` and sweeps use, resolved by sim.scenario.overrides), the range its slider spans,
and the quote and source it reads. Moving an uncertain number moves its centre: its spread (sd,
or the width of its interval) stays, so the Monte Carlo runs keep sampling around it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sim.drivers import GROUPS, param_group
from sim.errors import ScenarioError
from sim.scenario.overrides import is_whole_number, parse_path, resolve
from sim.scenario.schema import Scenario, Uncertain, UncertainDate

#: The two groups that are not actors: the war between rounds, and how the talks are run.
WAR, TALKS = "war", "talks"
STRUCTURAL = GROUPS[2]

#: A value table with more options than this is a curve (a pie split into a thousand shares), not a
#: list of judgements one by one: its options get no sliders, and the section says so.
MAX_OPTION_SLIDERS = 24


@dataclass(frozen=True)
class Citation:
    """The statement a number reads: the quote, and where it was said."""

    quote: str
    outlet: str
    date: str
    where: str  # URL, or the file under the scenario's folder
    note: str = ""


@dataclass(frozen=True)
class Knob:
    """One number a slider moves, where it lives in the scenario, and what it rests on."""

    path: str  # dotted scenario path of the number (of its {mean, sd} or {low, high} mapping)
    group: str  # actor id, WAR or TALKS
    section: str  # heading inside the group (an issue's name, "reservation value", ...)
    label: str
    value: float  # the file's point estimate (days after the as-of date for a deadline)
    start: float
    end: float
    step: float
    form: str = "point"  # point | mean (of {mean, sd}) | interval ({low, high}) | date
    spread: float = 0.0  # the sd, or half the interval's width
    whole: bool = False  # takes whole numbers only
    citation: Citation | None = None
    kind: str = GROUPS[1]  # quoted preferences | judgements | structural knobs
    as_of: dt.date | None = None  # day 0 of a date knob

    def overrides(self, value: float) -> dict[str, Any]:
        """The `--set`-style overrides that put this number at `value` (its centre, if uncertain)."""
        if self.form == "date":
            return {self.path: self.as_of + dt.timedelta(days=round(value))}
        if self.whole:
            return {self.path: round(value)}
        value = float(value)
        if self.form == "mean":
            return {f"{self.path}.mean": value}
        if self.form == "interval":
            return {self.path: {"low": _tidy(value - self.spread), "high": _tidy(value + self.spread)}}
        return {self.path: value}

    def show(self, value: float | None = None) -> str:
        """The number as the scenario would state it: `0.13 ± 0.03`, `0.12–0.20`, a date."""
        value = self.value if value is None else value
        if self.form == "date":
            return (self.as_of + dt.timedelta(days=round(value))).isoformat()
        if self.form == "mean":
            return f"{value:.4g} ± {self.spread:.2g}"
        if self.form == "interval":
            return f"{value - self.spread:.4g}–{value + self.spread:.4g}"
        return f"{round(value)}" if self.whole else f"{value:.4g}"


def _tidy(x: float) -> float:
    # 0.16 - 0.04000000000000001 is -6.9e-18, not 0, and a weight's low may not be below 0.
    return round(x, 12) + 0.0


def _nice_step(span: float) -> float:
    """A round step giving a few hundred positions over `span`."""
    raw = span / 200 if span > 0 else 0.01
    exp = math.floor(math.log10(raw))
    return min((m * 10 ** exp for m in (1, 2, 5, 10) if m * 10 ** exp >= raw), default=10 ** (exp + 1))


def _cite(sc: Scenario, source: str | None, quote: str | None, note: str | None = None) -> Citation | None:
    if not source or source not in sc.sources:
        return None
    src = sc.sources[source]
    return Citation(quote or "", src.outlet, str(src.date), src.url or src.path or "", note or "")


class _Collector:
    """Builds knobs, dropping any whose path an override could not set."""

    def __init__(self, data: Any, sc: Scenario):
        self.data, self.sc, self.knobs = data, sc, []
        self.omitted: dict[tuple[str, str], int] = {}  # (group, section) -> numbers left without a slider

    def number(self, path: str, number: float | Uncertain, group: str, section: str, label: str,
               low: float, high: float, citation: Citation | None = None, kind: str | None = None) -> None:
        """A knob for a plain or uncertain number, its slider over [low, high] widened to hold it."""
        form, spread, value = "point", 0.0, number
        if isinstance(number, Uncertain):
            if number.mean is not None:
                form, spread, value = "mean", float(number.sd), float(number.mean)
                # A truncated normal's mean must stay inside its own bounds.
                low = max(low, number.low) if number.low is not None else low
                high = min(high, number.high) if number.high is not None else high
            else:
                spread = _tidy((number.high - number.low) / 2)
                form, value = "interval", number.low + spread
                low, high = low + spread, high - spread
        value = float(value)
        start, end = min(low, value), max(high, value)
        if end <= start:  # an interval as wide as the field's whole range: there is nowhere to move it
            return
        whole = form == "point" and is_whole_number(self.data, parse_path(path))
        step = 1.0 if whole else _nice_step(end - start)
        self.add(Knob(path, group, section, label, value, start, end, step, form, spread, whole, citation,
                      kind or param_group(path)))

    def add(self, knob: Knob) -> None:
        """Keep a knob whose path resolves in the file (or is a declared optional field)."""
        try:
            resolve(self.data, knob.path)
        except ScenarioError:
            return
        self.knobs.append(knob)


def scenario_knobs(sc: Scenario, data: Any) -> tuple[list[Knob], dict[tuple[str, str], int]]:
    """Every knob of a validated scenario (`data`: its parsed YAML), grouped by actor, then war and talks;
    and how many numbers each (group, section) leaves without a slider (see MAX_OPTION_SLIDERS)."""
    out = _Collector(data, sc)
    for aid, actor in sc.actors.items():
        _actor_knobs(out, sc, aid, actor)
    _war_knobs(out, sc)
    _talks_knobs(out, sc)
    return out.knobs, out.omitted


def _actor_knobs(out: _Collector, sc: Scenario, aid: str, actor) -> None:
    base = f"actors.{aid}"
    res = actor.reservation
    cite = _cite(sc, res.source, res.quote, res.note)
    if res.derive == "war":
        out.number(f"{base}.reservation.premium", res.premium, aid, "reservation value",
                   "premium over the value of fighting on", -0.5, 0.5, cite)
    else:
        out.number(f"{base}.reservation.value", res.value, aid, "reservation value", "reservation value (no deal)",
                   0.0, 1.0, cite)
    strat = actor.strategy
    s_cite = _cite(sc, strat.source, strat.quote, strat.note)
    deadline = strat.deadline
    if isinstance(deadline, (dt.date, UncertainDate)):
        day = deadline.date if isinstance(deadline, UncertainDate) else deadline
        path = f"{base}.strategy.deadline" + (".date" if isinstance(deadline, UncertainDate) else "")
        last = max(sc.protocol.horizon or day, day) + dt.timedelta(days=180)
        value = float((day - sc.meta.as_of).days)
        out.add(Knob(path, aid, "strategy", "concedes by", value, min(1.0, value), float((last - sc.meta.as_of).days),
                     1.0, "date", getattr(deadline, "sd_days", 0.0), citation=s_cite, kind=GROUPS[1],
                     as_of=sc.meta.as_of))
    elif isinstance(deadline, int):
        out.number(f"{base}.strategy.deadline", deadline, aid, "strategy", "concedes by round", 1, sc.n_rounds, s_cite,
                   GROUPS[1])
    ranges = {"exponent": ("concession exponent (<1 Boulware, >1 conceder)", 0.05, 4.0),
              "floor": ("aspiration floor", 0.0, 1.0), "temperature": ("own acceptance temperature", 0.0, 0.2)}
    for name, (label, low, high) in ranges.items():
        if name in strat.model_fields_set and getattr(strat, name) is not None:
            out.number(f"{base}.strategy.{name}", getattr(strat, name), aid, "strategy", label, low, high, s_cite,
                       GROUPS[1])
    for name, label, low, high in (("capability", "capability", 0.0, 3 * actor.capability + 1.0),
                                   ("discount", "discount factor per round", 0.5, 1.0)):
        if name in actor.model_fields_set:
            out.number(f"{base}.{name}", getattr(actor, name), aid, "strategy", label, low, high, None, GROUPS[1])
    _preference_knobs(out, sc, aid, actor)
    if sc.dynamics is not None and aid in sc.dynamics.costs:
        cost = sc.dynamics.costs[aid]
        top = max(4 * _centre(cost.per_month), 0.01)
        out.number(f"dynamics.costs.{aid}.per_month", cost.per_month, aid, "war costs",
                   "cost of a month of war (utility)", 0.0, min(top, 1.0), _cite(sc, cost.source, cost.quote, cost.note))


def _centre(number) -> float:
    if isinstance(number, Uncertain):
        return number.mean if number.mean is not None else (number.low + number.high) / 2
    return float(number)


def _preference_knobs(out: _Collector, sc: Scenario, aid: str, actor) -> None:
    base = f"actors.{aid}"
    # Issues in the order of what matters most to the actor, as `negsim explain` lists them.
    order = sorted(sc.issues, key=lambda iid: -_centre(actor.weights.get(iid, 0.0)))
    for iid in order:
        table = actor.values.get(iid)
        if iid not in actor.weights and table is None:
            continue
        section = f"{sc.issues[iid].name} [{iid}]"
        cite = _cite(sc, table.source, table.quote, table.note) if table is not None else None
        if iid in actor.weights:
            w = actor.weights[iid]
            # A lone weight at 0 would leave nothing that matters, which the scenario's checks refuse.
            low = 0.0 if len(actor.weights) > 1 else min(0.01, _centre(w))
            out.number(f"{base}.weights.{iid}", w, aid, section, "weight (how much the issue matters)", low,
                       max(0.3, 3 * _centre(w)), cite)
        options = table.options if table is not None else {}
        if len(options) > MAX_OPTION_SLIDERS:
            out.omitted[(aid, section)] = len(options)
            continue
        for oid, v in options.items():
            out.number(f"{base}.values.{iid}.options.{oid}", v, aid, section, f"value of {oid}", 0.0, 1.0, cite)
    for k, inter in enumerate(actor.interactions):
        label = (f"{', '.join(inter.options)} on {', '.join(inter.issues)} when {inter.when.issue} is "
                 f"{' or '.join(inter.when.options)}: shift")
        out.number(f"{base}.interactions[{k}].delta", inter.delta, aid, "interactions", label, -1.0, 1.0,
                   _cite(sc, inter.source, inter.quote, inter.note))


def _war_knobs(out: _Collector, sc: Scenario) -> None:
    dyn = sc.dynamics
    if dyn is None:
        return
    for iid, front in dyn.front.items():
        m = max(abs(_centre(front.drift_km2_per_month)), 50.0)
        low = -3 * m if _centre(front.drift_km2_per_month) < 0 else 0.0
        name = sc.issues[iid].name if iid in sc.issues else iid
        out.number(f"dynamics.front.{iid}.drift_km2_per_month", front.drift_km2_per_month, WAR, "front line",
                   f"{name}: km² a month {front.gainer} takes from {front.loser}", low, 3 * m,
                   _cite(sc, front.source, front.quote, front.note), GROUPS[1])
    if dyn.horizon_rounds is None:
        out.number("dynamics.look_ahead_days", int(sc.look_ahead_days), WAR, "front line",
                   "days ahead fighting on is valued", 30, 1095, None, STRUCTURAL)


def _talks_knobs(out: _Collector, sc: Scenario) -> None:
    proto = sc.protocol
    spec = [("temperature", "acceptance temperature (hidden flexibility)", 0.0, max(0.1, 3 * proto.temperature)),
            ("mediator_bias", "mediator's own share of its objective", 0.0, 1.0),
            ("mediator_step", "mediator's step per 14 days", 0.1, max(3.0, 3 * proto.mediator_step)),
            ("patience_days", "days of bad texts before a walk-out", 7.0, max(180.0, 2 * proto.patience_days)),
            ("consent_patience_days", "days of withheld consent before a ceasefire", 7.0,
             max(180.0, 2 * proto.consent_patience_days)),
            ("round_days", "days between rounds", 3.0, max(30.0, 2 * proto.round_days))]
    roles = [(a.role,) if isinstance(a.role, str) else tuple(a.role) for a in sc.actors.values()]
    mediated = proto.mediator is not None or any("mediator" in r for r in roles)
    for name, label, low, high in spec:
        if name.startswith("mediator") and not mediated:
            continue  # no mediator, nothing for these to move
        out.number(f"protocol.{name}", getattr(proto, name), TALKS, "how the talks are run", label, low, high, None,
                   STRUCTURAL)
    talks = proto.talks
    cite = _cite(sc, talks.source, talks.quote, talks.note)
    out.number("protocol.talks.pause_days", talks.pause_days, TALKS, "pauses after a walk-out",
               "mean length of a pause (days)", 1.0, max(120.0, 2 * talks.pause_days), cite, STRUCTURAL)
    out.number("protocol.talks.resume_probability", talks.resume_probability, TALKS, "pauses after a walk-out",
               "chance the talks resume", 0.0, 1.0, cite, STRUCTURAL)


def group_titles(sc: Scenario) -> dict[str, str]:
    """A title for every knob group, actors first."""
    titles = {aid: actor.name for aid, actor in sc.actors.items()}
    titles[WAR] = "The war"
    titles[TALKS] = "The talks (structural knobs)"
    return titles
