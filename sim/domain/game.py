"""A scenario compiled to arrays: the one object the model, the analysis and the CLI work from.

Compiling happens once per scenario (and once per worker process); sampling a batch of runs
is then a few vectorised array writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from sim.domain.space import DealSpace
from sim.domain.strategies import Strategy, make_strategy
from sim.domain.territory import KEYWORD_CODES, NO_OPTION, Territory
from sim.domain.utility import (
    InteractionTerms,
    Preferences,
    UncertainParameter,
    sample_parameters,
    utilities,
)
from sim.domain.war import War, compile_war
from sim.scenario.actors import SIGNATORY
from sim.scenario.schema import Number, Scenario, Uncertain, UncertainDate, central

#: Rates in the protocols (the mediator's step, the acceptance logistic) are stated per this many days.
REFERENCE_DAYS = 14.0


@dataclass(frozen=True)
class Game:
    """Everything about a scenario that the numerics need, as arrays in a fixed order."""

    name: str
    space: DealSpace
    territory: Territory
    actor_ids: tuple[str, ...]
    actor_names: tuple[str, ...]
    roles: tuple[tuple[str, ...], ...]
    base_weights: np.ndarray  # (A, I) unnormalised central weights
    base_values: np.ndarray  # (A, O)
    base_reservation: np.ndarray  # (A,)
    base_deltas: np.ndarray  # (K,)
    terms: InteractionTerms
    params: tuple[UncertainParameter, ...]
    strategies: tuple[Strategy, ...]
    capability: np.ndarray  # (A,)
    discount: np.ndarray  # (A,) per-round discount factor on the value of an agreement
    consent: tuple[tuple[int, ...], ...]  # per issue: actors whose consent it needs beyond signatories
    proposal_ids: tuple[str, ...]
    proposal_names: tuple[str, ...]
    proposals: np.ndarray  # (P, I)
    protocol: dict = field(default_factory=dict)
    war: War | None = None
    base_deadlines: np.ndarray | None = None  # (A,) concession deadlines in rounds
    red_lines: np.ndarray | None = None  # (A, O) options each actor will never sign
    derived_reservation: np.ndarray | None = None  # (A,) reservation = war value - costs + premium
    as_of: str = ""  # ISO date of round 0
    horizon: str = ""  # ISO date the talks are followed to ("" for a game without a calendar)
    round_days: float = 14.0

    def must_agree(self, deals: np.ndarray, issues: list[int] | None = None) -> np.ndarray:
        """(..., A) whose yes each deal (..., I) needs: the one definition of who must agree.

        Every signatory's, whatever the deal says; and that of every actor in an issue's `consent`
        list when the deal departs from the issue's default (the status quo): lifting sanctions
        needs the sanctioning powers, keeping them does not. With `issues`, deals are partial:
        options of those issues only.
        """
        deals = np.asarray(deals)
        need = np.zeros(deals.shape[:-1] + (self.n_actors,), dtype=bool)
        need[..., self.signatories] = True
        for j, i in enumerate(range(self.space.n_issues) if issues is None else issues):
            if self.consent[i]:
                departs = deals[..., j] != self.space.defaults[i]
                need[..., list(self.consent[i])] |= departs[..., None]
        return need

    def yes_needed(self) -> np.ndarray:
        """(O, A) whose yes a deal needs because it contains each option (must_agree, one option at a time)."""
        return np.concatenate([self.must_agree(np.arange(n)[:, None], [i])
                               for i, n in enumerate(self.space.n_options.tolist())])

    @property
    def parties(self) -> np.ndarray:
        """(A,) actors whose yes some deal needs: the signatories and anyone with a consent right."""
        return self.yes_needed().any(axis=0)

    def forbidden_options(self) -> np.ndarray:
        """(O,) options some party has declared a red line: no deal that can be signed contains them.

        A red line binds on the options where its actor's yes is needed (yes_needed): everywhere
        for a signatory, a consent party's only on departures from the defaults of its issues.
        """
        if self.red_lines is None:
            return np.zeros(self.space.n_flat, dtype=bool)
        return (self.red_lines.T & self.yes_needed()).any(axis=1)

    def crosses_red_line(self, deals: np.ndarray, actor: int | None = None) -> np.ndarray:
        """(..., A) whether each deal (..., I) contains an option the actor will never sign;
        (...,) for one `actor`."""
        lines = self.red_lines if actor is None or self.red_lines is None else self.red_lines[actor:actor + 1]
        shape = deals.shape[:-1] + (() if actor is not None else (self.n_actors,))
        if lines is None or not lines.any():
            return np.zeros(shape, dtype=bool)
        crossed = np.moveaxis(lines[:, deals + self.space.offsets].any(axis=-1), 0, -1)
        return crossed[..., 0] if actor is not None else crossed

    @property
    def rate_scale(self) -> float:
        """Round length over REFERENCE_DAYS: converts a protocol's per-two-weeks rates to per-round ones."""
        return self.round_days / REFERENCE_DAYS

    def date_of_round(self, k: int) -> str:
        """The ISO date of round k (round 0 is the as-of date; an abstract game starts on 2000-01-01)."""
        start = dt.date.fromisoformat(self.as_of) if self.as_of else dt.date(2000, 1, 1)
        return (start + dt.timedelta(days=round(k * self.round_days))).isoformat()

    @property
    def n_actors(self) -> int:
        """Number of actors."""
        return len(self.actor_ids)

    @property
    def signatories(self) -> np.ndarray:
        """Indices of the actors who must sign."""
        return np.array([a for a, r in enumerate(self.roles) if SIGNATORY in r], dtype=np.int64)

    @property
    def mediator(self) -> int | None:
        """Index of the mediator, if any."""
        name = self.protocol.get("mediator")
        if name is not None:
            return self.actor_ids.index(name)
        found = [a for a, r in enumerate(self.roles) if "mediator" in r]
        return found[0] if found else None

    def actor_index(self, actor_id: str) -> int:
        """Position of an actor."""
        return self.actor_ids.index(actor_id)

    def central_preferences(self, derive: bool = True) -> Preferences:
        """Preferences at every number's point estimate, as a batch of one.

        Reservation values derived from the war use the war's central drift and costs; with
        `derive=False` they hold the stated premium instead (what reservation_split expects).
        """
        prefs = _assemble(self, np.zeros((1, 0)), central_only=True)
        if derive and self.war is not None and self.derived_reservation is not None and self.derived_reservation.any():
            from sim.domain.war import reservation_split

            split = reservation_split(self, prefs, self.war.drift[None], self.war.cost[None])
            prefs.reservation = np.where(self.derived_reservation, split["reservation"], prefs.reservation)
        return prefs

    def sample_preferences(self, uniforms: np.ndarray) -> Preferences:
        """Preferences for a batch, from uniforms (R, n_params) drawn by each run's own generator."""
        return self.preferences_from(sample_parameters(self.params, uniforms))

    def preferences_from(self, samples: np.ndarray) -> Preferences:
        """Preferences for a batch, from the uncertain numbers' values (R, n_params) (sample_parameters)."""
        return _assemble(self, samples, central_only=False)

    def utilities(self, prefs: Preferences, deals: np.ndarray) -> np.ndarray:
        """(R, N, A) utilities of deals (N, I) or (R, N, I)."""
        return utilities(self.space.offsets, self.terms, prefs, deals)


def _assemble(game: Game, samples: np.ndarray, central_only: bool) -> Preferences:
    runs = samples.shape[0]
    weights = np.repeat(game.base_weights[None], runs, axis=0)
    values = np.repeat(game.base_values[None], runs, axis=0)
    reservation = np.repeat(game.base_reservation[None], runs, axis=0)
    deltas = np.repeat(game.base_deltas[None], runs, axis=0)
    base_deadlines = game.base_deadlines if game.base_deadlines is not None else np.ones(game.n_actors)
    deadlines = np.repeat(base_deadlines[None], runs, axis=0)
    if not central_only:
        targets = {"weight": weights, "value": values, "reservation": reservation, "delta": deltas,
                   "deadline": deadlines}
        for k, param in enumerate(game.params):
            targets[param.target][(slice(None),) + param.loc] = samples[:, k]
    totals = weights.sum(axis=2)
    weights = weights / np.where(totals > 0, totals, 1.0)[..., None]
    return Preferences(weights, values, reservation, deltas, totals, deadlines)


def compile_scenario(sc: Scenario) -> Game:
    """Turn a validated Scenario into a Game."""
    issue_ids = tuple(sc.issues)
    space = DealSpace(
        issue_ids=issue_ids,
        option_ids=tuple(tuple(issue.options) for issue in sc.issues.values()),
        defaults=tuple(list(issue.options).index(issue.default) for issue in sc.issues.values()),
    )
    territory = _territory(sc, space)
    actor_ids = tuple(sc.actors)
    offsets = space.offsets
    n_a, n_i, n_o = len(actor_ids), space.n_issues, space.n_flat
    weights = np.zeros((n_a, n_i))
    values = np.zeros((n_a, n_o))
    reservation = np.zeros(n_a)
    deadlines = np.zeros(n_a)
    red_lines = np.zeros((n_a, n_o), dtype=bool)
    proto = sc.protocol
    n_rounds = sc.n_rounds
    params: list[UncertainParameter] = []

    def put(value: Number, path: str, target: str, loc: tuple, lo: float, hi: float) -> float:
        if isinstance(value, Uncertain):
            lo_b = max(lo, value.low) if value.low is not None else lo
            hi_b = min(hi, value.high) if value.high is not None else hi
            if value.mean is not None:
                params.append(UncertainParameter(path, target, loc, True, value.mean, value.sd, lo_b, hi_b))
            else:
                params.append(UncertainParameter(path, target, loc, False, value.low, value.high, lo_b, hi_b))
        return central(value)

    deltas: list[float] = []
    t_actor, t_aff, t_cond, t_mask = [], [], [], []
    max_opts = int(space.n_options.max())
    for a, (aid, actor) in enumerate(sc.actors.items()):
        base = f"actors.{aid}"
        for iid, w in actor.weights.items():
            i = issue_ids.index(iid)
            weights[a, i] = put(w, f"{base}.weights.{iid}", "weight", (a, i), 0.0, np.inf)
        for iid, table in actor.values.items():
            i = issue_ids.index(iid)
            for oid, v in table.options.items():
                o = offsets[i] + space.option_ids[i].index(oid)
                values[a, o] = put(v, f"{base}.values.{iid}.options.{oid}", "value", (a, o), 0.0, 1.0)
        if actor.reservation.derive == "war":
            # The stored number is the premium; the war adds the value of fighting on and its costs.
            reservation[a] = put(actor.reservation.premium, f"{base}.reservation.premium", "reservation", (a,),
                                 -1.0, 1.0)
        else:
            reservation[a] = put(actor.reservation.value, f"{base}.reservation.value", "reservation", (a,), 0.0, 1.0)
        deadline = actor.strategy.deadline
        if deadline is None:
            # With no deadline of its own an actor concedes over the span it values fighting
            # over (dynamics.look_ahead_days), not by the horizon: the horizon is the question
            # asked of the model, and a schedule tied to it would pile agreements up against it.
            deadlines[a] = max(sc.look_ahead_days / sc.round_days, 1.0) if sc.protocol.horizon else n_rounds
        elif isinstance(deadline, UncertainDate):
            mean = max(sc.round_at(deadline.date), 1.0)
            if deadline.sd_days > 0:
                params.append(UncertainParameter(f"{base}.strategy.deadline", "deadline", (a,), True, mean,
                                                 deadline.sd_days / sc.round_days, 1.0, np.inf))
            deadlines[a] = mean
        elif isinstance(deadline, dt.date):
            deadlines[a] = max(sc.round_at(deadline), 1.0)
        else:
            deadlines[a] = float(deadline)
        for line in actor.red_lines:
            i = issue_ids.index(line.issue)
            for oid in line.options:
                red_lines[a, offsets[i] + space.option_ids[i].index(oid)] = True
        for k, inter in enumerate(actor.interactions):
            kk = len(deltas)
            deltas.append(put(inter.delta, f"{base}.interactions[{k}].delta", "delta", (kk,), -1.0, 1.0))
            aff = np.zeros(n_o, dtype=bool)
            for iid in inter.issues:
                i = issue_ids.index(iid)
                for oid in inter.options:
                    if oid in space.option_ids[i]:
                        aff[offsets[i] + space.option_ids[i].index(oid)] = True
            j = issue_ids.index(inter.when.issue)
            mask = np.zeros(max_opts, dtype=bool)
            for oid in inter.when.options:
                mask[space.option_ids[j].index(oid)] = True
            t_actor.append(a)
            t_aff.append(aff)
            t_cond.append(j)
            t_mask.append(mask)
    terms = InteractionTerms(
        actor=np.array(t_actor, dtype=np.int64),
        affected=np.array(t_aff, dtype=bool).reshape(-1, n_o),
        cond_issue=np.array(t_cond, dtype=np.int64),
        cond_mask=np.array(t_mask, dtype=bool).reshape(-1, max_opts),
    )
    strategies = tuple(
        make_strategy(actor.strategy.kind, actor.strategy.exponent, actor.strategy.floor)
        for actor in sc.actors.values()
    )
    consent = tuple(tuple(actor_ids.index(a) for a in issue.consent) for issue in sc.issues.values())
    proposals = np.array([space.encode(p.options) for p in sc.proposals.values()], dtype=np.int64)
    return Game(
        name=sc.meta.name,
        space=space,
        territory=territory,
        actor_ids=actor_ids,
        actor_names=tuple(a.name for a in sc.actors.values()),
        roles=tuple(a.roles for a in sc.actors.values()),
        base_weights=weights,
        base_values=values,
        base_reservation=reservation,
        base_deltas=np.array(deltas, dtype=float),
        terms=terms,
        params=tuple(params),
        strategies=strategies,
        capability=np.array([a.capability for a in sc.actors.values()], dtype=float),
        discount=np.array([a.discount for a in sc.actors.values()], dtype=float),
        consent=consent,
        proposal_ids=tuple(sc.proposals),
        proposal_names=tuple(p.name for p in sc.proposals.values()),
        proposals=proposals.reshape(-1, space.n_issues),
        protocol={
            **proto.model_dump(exclude={"talks"}),
            "max_rounds": n_rounds,
            "temperatures": tuple(proto.temperature if a.strategy.temperature is None else a.strategy.temperature
                                  for a in sc.actors.values()),
            "patience": (rounds_of(proto.patience_days, sc.round_days),) * n_a,
            "pause_rounds": proto.talks.pause_days / sc.round_days,
            "consent_patience": rounds_of(proto.consent_patience_days, sc.round_days),
            "resume_probability": proto.talks.resume_probability,
        },
        war=compile_war(sc, space, territory, actor_ids),
        base_deadlines=deadlines,
        red_lines=red_lines,
        derived_reservation=np.array([a.reservation.derive == "war" for a in sc.actors.values()]),
        as_of=sc.meta.as_of.isoformat(),
        horizon=sc.protocol.horizon.isoformat() if sc.protocol.horizon else "",
        round_days=sc.round_days,
    )


def rounds_of(days: float, round_days: float) -> int:
    """A span of days as a whole number of rounds (at least one)."""
    return max(1, int(np.ceil(days / round_days - 1e-9)))


def _territory(sc: Scenario, space: DealSpace) -> Territory:
    regions = [(iid, issue) for iid, issue in sc.issues.items() if issue.kind == "territory"]
    max_opts = int(space.n_options.max()) if space.n_issues else 0
    # A region's parties: its holders, then any other actor an option gives the whole region to.
    parties = []
    for _, issue in regions:
        extra = [c for o in issue.options for c, _, _ in [issue.control_of(o)]
                 if c not in KEYWORD_CODES and c not in issue.holders]
        parties.append(issue.holders + tuple(dict.fromkeys(extra)))
    n_parties = max((len(p) for p in parties), default=0)
    control = np.full((len(regions), max_opts), NO_OPTION, dtype=np.int64)
    carved_from = np.full((len(regions), max_opts), -1, dtype=np.int64)
    recognised = np.zeros((len(regions), max_opts), dtype=bool)
    held0 = np.zeros((len(regions), n_parties))
    for t, (iid, issue) in enumerate(regions):
        for o, oid in enumerate(issue.options):
            code, source, rec = issue.control_of(oid)
            control[t, o] = KEYWORD_CODES[code] if code in KEYWORD_CODES else parties[t].index(code)
            carved_from[t, o] = parties[t].index(source) if source is not None else -1
            recognised[t, o] = rec
        # Every holder but the last as written; the last gets the remainder (Territory.settle).
        for k, aid in enumerate(issue.holders[:-1]):
            held0[t, k] = issue.held[aid]
    landholders = tuple(a for a in sc.actors if any(a in p for p in parties))
    party_of = np.array([[p.index(a) if a in p else -1 for p in parties] for a in landholders],
                        dtype=np.int64).reshape(len(landholders), len(regions))
    territory = Territory(
        region_ids=tuple(iid for iid, _ in regions),
        issue_index=np.array([space.issue_index(iid) for iid, _ in regions], dtype=np.int64),
        area_km2=np.array([issue.area_km2 for _, issue in regions], dtype=float),
        parties=tuple(parties),
        n_holders=np.array([len(issue.holders) for _, issue in regions], dtype=np.int64),
        held0=held0,
        control=control,
        carved_from=carved_from,
        recognised=recognised,
        landholders=landholders,
        party_of=party_of,
    )
    territory.settle(territory.held0)
    return territory
