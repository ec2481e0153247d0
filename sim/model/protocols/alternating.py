"""Alternating offers: the parties take turns tabling a whole deal; the others accept or reject it.

The strategy `subgame_perfect` (sim.domain.strategies) is played out here, from the solved tree.

Every round one proposer (in `protocol.proposer_order`, default the signatories in scenario
order) tables the deal that, among the deals worth at least its aspiration to itself, leaves
the others it must win over the largest smallest margin over what it believes they get from
no deal. Everyone answers; an agreement's worth shrinks by each actor's `discount` per round.
The search works on the value tables (a Lagrangian start plus coordinate ascent), never on
the enumerated deal space, and is vectorised over the runs of a batch.

`subgame_perfect` actors follow the backward-induction solution of the finite-horizon game
(Rubinstein 1982 for two parties), computed from each run's preferences when the model starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.domain.strategies import SubgamePerfect
from sim.domain.utility import InteractionTerms, Preferences, utilities
from sim.model.protocols import Protocol, ideal_deal

if TYPE_CHECKING:
    from sim.domain.game import Game

#: Feasibility slack: utilities are sums of a few products, so equal deals can differ by ~1e-16.
TOL = 1e-12
#: Bisection steps on the Lagrangian trade-off (to 1e-6); coordinate ascent polishes the rest.
BISECTION_STEPS = 20
#: Multiplicative-weight rounds that balance several margins (one margin needs none).
WEIGHT_ROUNDS = 3
#: Learning rate of those rounds; margins live in [-1, 1].
ETA = 8.0
#: Coordinate-ascent sweeps over the issues after the Lagrangian start.
SWEEPS = 3


@dataclass(frozen=True)
class Target:
    """min over the actors in `mask` of coef_a * u_a(d) - offset_a: a smallest affine margin."""

    coef: np.ndarray  # (r, A)
    offset: np.ndarray  # (r, A)
    mask: np.ndarray  # (A,) bool

    def take(self, rows: np.ndarray | slice, actors: np.ndarray | slice = slice(None)) -> Target:
        """The same margins for a subset of runs and actors."""
        return Target(self.coef[rows][:, actors], self.offset[rows][:, actors], self.mask[actors])

    def components(self, u: np.ndarray) -> np.ndarray:
        """(r, n, A) margins of utilities u (r, n, A); +inf for actors outside the mask."""
        comps = u * self.coef[:, None, :] - self.offset[:, None, :]
        return np.where(self.mask, comps, np.inf)

    def value(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(r, n) smallest margin and (r, n) mean margin over the mask (0 if the mask is empty)."""
        if not self.mask.any():
            zero = np.zeros(u.shape[:2])
            return zero, zero
        comps = self.components(u)
        return comps.min(axis=2), np.where(self.mask, comps, 0.0).sum(axis=2) / self.mask.sum()


class _Evaluator:
    """Utilities of a few actors only: the search never needs anyone else's, and they cost time."""

    def __init__(self, game: Game, prefs: Preferences, actors: np.ndarray):
        terms = game.terms
        kept = np.isin(terms.actor, actors)
        position = np.zeros(game.n_actors, dtype=np.int64)
        position[actors] = np.arange(len(actors))
        self.offsets = game.space.offsets
        self.terms = InteractionTerms(position[terms.actor[kept]], terms.affected[kept],
                                      terms.cond_issue[kept], terms.cond_mask[kept])
        self.prefs = Preferences(prefs.weights[:, actors], prefs.values[:, actors],
                                 prefs.reservation[:, actors], prefs.deltas[:, kept])

    def __call__(self, deals: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """(r, n, a) utilities of deals (r, n, I) for all runs or the subset `rows`."""
        prefs = self.prefs if rows is None else self.prefs.take(rows)
        return utilities(self.offsets, self.terms, prefs, deals)


def _tables(game: Game, prefs: Preferences) -> np.ndarray:
    """(r, A, O): each option's contribution to each actor's utility, interactions left out."""
    issue_of = np.repeat(np.arange(game.space.n_issues), game.space.n_options)
    return prefs.weights[:, :, issue_of] * prefs.values


def _argmax_deal(game: Game, score: np.ndarray) -> np.ndarray:
    """(r, I) deal taking, issue by issue, the option with the highest score (r, O)."""
    space = game.space
    deal = np.empty((score.shape[0], space.n_issues), dtype=np.int64)
    for i, (start, n) in enumerate(zip(space.offsets, space.n_options)):
        deal[:, i] = np.argmax(score[:, start:start + n], axis=1)
    return deal


def undiscount(value: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """value / scale, where a scale that underflowed to 0 makes any positive value unreachable."""
    out = np.where(value > 0, np.inf, 0.0)
    with np.errstate(over="ignore"):  # a scale that nearly underflowed: the value is out of reach (inf)
        return np.divide(value, scale, out=out, where=scale > 0)


def _normalised(weights: np.ndarray, mask: np.ndarray) -> np.ndarray:
    w = np.where(mask, weights, 0.0)
    total = w.sum(axis=1, keepdims=True)
    return w / np.where(total > 0, total, 1.0)


def maximin_deal(game: Game, prefs: Preferences, goal: Target, floor: Target,
                 fallback: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per run, approximately maximise goal(d) subject to floor(d) >= 0; returns (deals, feasible).

    Lagrangian start: utilities are additive over issues, so for weights on the goal's and
    the floor's actors the best deal is a per-issue argmax; bisection on the trade-off finds
    the deal nearest the goal that still clears the floor, and a few multiplicative-weight
    rounds (Arora, Hazan & Kale 2012) shift weight to whichever margin is smallest. Coordinate
    ascent over single-issue changes, on full utilities, then settles interaction terms and
    moves along flat stretches the Lagrangian cannot see (it only finds corners of the convex
    hull). Exact for a single issue; a heuristic otherwise. A feasible `fallback` is kept
    wherever nothing better clears the floor.
    """
    runs = goal.coef.shape[0]
    # Work on the actors that appear in the goal or the floor, in that order.
    involved = np.flatnonzero(goal.mask | floor.mask)
    goal, floor = goal.take(slice(None), involved), floor.take(slice(None), involved)
    evaluate = _Evaluator(game, prefs, involved)
    floor_only = np.flatnonzero(floor.mask)
    evaluate_floor = _Evaluator(game, prefs, involved[floor_only])
    floor_alone = floor.take(slice(None), floor_only)
    table = _tables(game, prefs)[:, involved]
    lam = _normalised(np.ones(goal.coef.shape), goal.mask)
    kap = _normalised(np.ones(floor.coef.shape), floor.mask)
    rounds = WEIGHT_ROUNDS if goal.mask.sum() > 1 or floor.mask.sum() > 1 else 1

    def key(u: np.ndarray, goal: Target, floor: Target) -> np.ndarray:
        g_min, g_mean = goal.value(u)
        h_min, _ = floor.value(u)
        # Feasibility first (margins lie in [-1, 1], so -10 + h ranks below every feasible deal),
        # then the smallest goal margin, ties broken by the mean one.
        return np.where(h_min >= -TOL, g_min + 1e-3 * g_mean, -10.0 + h_min)

    best = np.zeros((runs, game.space.n_issues), dtype=np.int64)
    best_key = np.full(runs, -np.inf)
    for _ in range(rounds):
        gtab = np.einsum("ra,rao->ro", lam * goal.coef, table)
        ftab = np.einsum("ra,rao->ro", kap * floor.coef, table)
        lo, hi = np.zeros(runs), np.full(runs, 1.0 - 1e-9)
        for _ in range(BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            deal = _argmax_deal(game, (1.0 - mid)[:, None] * gtab + mid[:, None] * ftab)
            ok = floor_alone.value(evaluate_floor(deal[:, None, :]))[0][:, 0] >= -TOL
            hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
        deal = _argmax_deal(game, (1.0 - hi)[:, None] * gtab + hi[:, None] * ftab)
        u = evaluate(deal[:, None, :])
        k = key(u, goal, floor)[:, 0]
        better = k > best_key
        best[better], best_key[better] = deal[better], k[better]
        lam = _normalised(lam * np.exp(-ETA * np.where(goal.mask, goal.components(u)[:, 0], 0.0)), goal.mask)
        kap = _normalised(kap * np.exp(-ETA * np.where(floor.mask, floor.components(u)[:, 0], 0.0)), floor.mask)
    if fallback is not None:
        k = key(evaluate(fallback[:, None, :]), goal, floor)[:, 0]
        use = k > best_key
        best[use], best_key[use] = fallback[use], k[use]

    deal = best
    moving = np.arange(runs)
    for _ in range(SWEEPS):
        # A run that did not move in a whole sweep sits at a coordinate-wise optimum and would
        # not move in the next one either, so later sweeps only revisit the runs that moved.
        moved = np.zeros(len(moving), dtype=bool)
        g_rows, f_rows = goal.take(moving), floor.take(moving)
        rows = np.arange(len(moving))
        for i, n in enumerate(game.space.n_options):
            cand = np.repeat(deal[moving, None, :], n, axis=1)
            cand[:, :, i] = np.arange(n)
            k = key(evaluate(cand, moving), g_rows, f_rows)
            pick = np.argmax(k, axis=1)
            # Only strict gains move, so a sweep never cycles between equally good options.
            change = k[rows, pick] > k[rows, deal[moving, i]] + 1e-15
            deal[moving[change], i] = pick[change]
            moved |= change
        moving = moving[moved]
        if not moving.size:
            break
    feasible = floor.value(evaluate(deal[:, None, :]))[0][:, 0] >= -TOL
    return deal, feasible


@dataclass
class Plan:
    """Backward-induction solution, per run: what each actor asks for each round, and the offer."""

    aspiration: np.ndarray  # (R, T, A): proposer's worth of its offer; responders' value of rejecting
    deal: np.ndarray  # (R, T, I): the proposer's equilibrium offer
    agree: np.ndarray  # (R, T): whether that offer is made to be accepted


def subgame_perfect_plan(game: Game, prefs: Preferences, order: tuple[int, ...], parties: np.ndarray,
                         horizon: int, search=None) -> Plan:
    """Subgame-perfect offers and acceptance thresholds over `horizon` rounds, vectorised over runs.

    Backward induction (Rubinstein 1982; Stahl 1972 for the finite horizon) on continuation
    values W_a(t), an agreement at round t being worth u_a * discount_a ** t and no agreement
    after the last round the reservation value. In round t the proposer p offers the deal
    that is best for itself among those every other party accepts, u_j(d) * discount_j ** t
    >= W_j(t + 1); it makes that offer only if it beats waiting, otherwise it asks for
    everything and the round passes. For two parties and one issue this is exact on the
    grid of options. Beyond that it is an approximation, stated here: (1) the constrained
    best deal comes from `maximin_deal` (Lagrangian start plus coordinate ascent), not an
    exhaustive search; (2) every party (signatories and consent-holders, as in Aydogan et
    al. 2017's stacked protocol) must accept, whether or not the deal touches the issues that
    need its consent; (3) information is complete: each run's sampled preferences are known
    to all; (4) responders accept when indifferent, and acceptance noise is ignored.

    `search(p, need)`, when given, finds round t's offers instead of `maximin_deal` (the compiled
    engine's kernel, which gives the same deals): (R, I) deals and (R,) whether each clears `need`.
    """
    runs, actors = prefs.n_runs, game.n_actors
    discount = np.asarray(game.discount, dtype=float)
    aspiration = np.ones((runs, horizon, actors))
    deals = np.repeat(np.array(game.space.defaults, dtype=np.int64)[None, None], runs, axis=0)
    deals = np.repeat(deals, horizon, axis=1)
    agree = np.zeros((runs, horizon), dtype=bool)
    ones = np.ones((runs, actors))
    value = prefs.reservation.copy()  # W(T): no agreement at all
    for t in range(horizon - 1, -1, -1):
        p = order[t % len(order)]
        scale = discount ** t
        # Compare in undiscounted utility: after many rounds discount ** t is tiny and an
        # absolute tolerance on discounted values would swamp the differences between deals.
        need = undiscount(value, scale)
        responders = parties.copy()
        responders[p] = False
        own = np.zeros(actors, dtype=bool)
        own[p] = True
        if search is not None:
            deal, feasible = search(p, need)
        else:
            deal, feasible = maximin_deal(game, prefs, Target(ones, np.zeros((runs, actors)), own),
                                          Target(ones, need, responders))
        u = game.utilities(prefs, deal[:, None, :])[:, 0, :]
        worth = feasible & (u[:, p] >= need[:, p] - TOL)
        # Thresholds in the discounted terms the protocol hands the actors, with the same slack.
        aspiration[:, t, :] = value - TOL * scale
        aspiration[:, t, p] = np.where(worth, (u[:, p] - TOL) * scale[p], 1.0)
        deals[:, t] = deal
        agree[:, t] = worth
        value = np.where(worth[:, None], u * scale, value)
    return Plan(aspiration, deals, agree)


class Alternating(Protocol):
    """Multilateral stacked alternating offers (Aydogan, Festen, Hindriks & Jonker 2017).

    "Alternating offers protocols for multilateral negotiation", in Fujita et al. (eds.), Modern
    Approaches to Agent-based Complex Automated Negotiation, Springer SCI 674, ch. 10,
    doi:10.1007/978-3-319-51563-2_10; for two parties the alternating-offers game of Rubinstein
    (1982, "Perfect equilibrium in a bargaining model", Econometrica 50(1), 97-109). In their
    stacked protocol (SAOP) the others take the offer in turn, each accepting it, replacing it
    with its own or walking away; here one round is one offer and everyone's answer to it, so
    an offer stands only if all accept it at once and a rejection passes the turn on.

    Round t's proposer is `proposer_order[t % len(proposer_order)]` (default: the
    signatories). It tables a full deal worth at least its aspiration a to itself, discounted:
    u_p(d) * discount_p ** t >= a (or its best deal, if a is out of reach). Among those deals
    it picks the one that leaves the others the largest smallest margin over their reservation
    values, u_j(d) * discount_j ** t - r_j, judged with their point-estimate preferences, since
    it does not know their private draws. Everyone answers the offer with its discounted
    utility; the proposer accepts its own offer, and the shared round-closing rule (every
    signatory plus any consent the text needs) decides agreement, ceasefire-only and breakdown.
    Actors with the `subgame_perfect` strategy follow the backward-induction plan instead.

    Two adaptations of the shared actor rules to turn-taking: an actor's patience runs out
    only on offers below its reservation value that are no better for it than the same
    proposer's previous offer (extreme opening offers are the norm here, a proposer that has
    stopped conceding is not), and tit-for-tat measures the others' concession on their
    offers, not on a table that alternates between their offers and its own.

    The proposer's picture of the others is the scenario's point estimates throughout; with
    war dynamics it does not follow how the front line moves their values and reservations.
    """

    name = "alternating"

    def __init__(self, game: Game):
        self.game = game
        order = game.protocol.get("proposer_order")
        self.order = (tuple(game.actor_index(a) for a in order) if order
                      else tuple(int(a) for a in game.signatories))
        self.party_mask = game.parties.copy()
        self.central = game.central_preferences()
        self.discount = np.asarray(game.discount, dtype=float)
        self.planned = [a for a, s in enumerate(game.strategies) if isinstance(s, SubgamePerfect)]
        self.plan: Plan | None = None
        self.proposers: list[int] = []

    def proposer_at(self, t: int) -> int:
        """Index of the actor who proposes in round t."""
        return self.order[t % len(self.order)]

    def start(self, model) -> None:
        """Table the status quo (every issue at its default) and solve the plan if anyone follows one."""
        model.text[:] = np.array(self.game.space.defaults, dtype=np.int64)
        model.tabled = model.text.copy()
        # Utility to each actor of the latest two offers made by someone else (for tit-for-tat).
        self.seen = np.full((model.n_runs, self.game.n_actors), np.nan)
        self.seen_before = self.seen.copy()
        self.last_from: dict[int, np.ndarray] = {}  # proposer -> utilities (R, A) of its last offer
        if self.planned:
            search = _compiled_plan_search(model) if model.engine == "compiled" else None
            self.plan = subgame_perfect_plan(self.game, model.prefs, self.order, self.party_mask,
                                             model.max_rounds, search)

    def round(self, model) -> None:
        """The proposer tables an offer; everyone answers; agreements and walk-outs close."""
        t, actors = model.round, model.actors
        p = self.proposer_at(t)
        self.proposers.append(p)
        self._concede(model)
        proposer = actors[p]
        runs = np.flatnonzero(model.active)
        if self.plan is not None and p in self.planned:
            keep = self.plan.agree[runs, t]
            model.text[runs[keep]] = self.plan.deal[runs[keep], t]
            runs = runs[~keep]
        if runs.size:
            model.text[runs] = self.offer(model, p, runs, proposer.aspiration[runs])
        model.tabled = model.text.copy()
        utility = model.utilities(model.text[:, None, :])[:, 0, :]
        worth = utility * self.discount ** t
        stalled = proposer.stalled.copy()
        model.respond(worth, proposer=p)
        # Patience, as in the mediated protocol, runs out on offers worth less than no deal,
        # but opening offers are meant to be extreme: only an offer that is also no better
        # than the same proposer's last one (it has stopped conceding) counts. The proposer's
        # own offer says nothing about the others, so it neither counts nor resets.
        proposer.stalled = stalled
        last = self.last_from.get(p)
        if last is not None:
            improved = utility > last + 1e-9
            for actor in actors:
                if actor.index != p:
                    actor.stalled = np.where(improved[:, actor.index], 0, actor.stalled)
        self.last_from[p] = utility
        others = np.arange(self.game.n_actors) != p
        self.seen_before[:, others] = self.seen[:, others]
        self.seen[:, others] = utility[:, others]
        model.close_round(np.stack([a.accepted for a in actors], axis=1))

    def _concede(self, model) -> None:
        """Every actor sets its aspiration; plan-followers take theirs from the plan."""
        for actor in model.actors:
            # Actor.concede reads "what the others conceded" off the last two texts on the table,
            # but here those alternate between its own offers and the others'. Show it the
            # others' last two offers instead, then put its record of the table back.
            utility, previous = actor.utility, actor.previous_utility
            actor.utility, actor.previous_utility = self.seen[:, actor.index], self.seen_before[:, actor.index]
            actor.concede()
            actor.utility, actor.previous_utility = utility, previous
        if self.plan is not None:
            for a in self.planned:
                model.actors[a].aspiration = self.plan.aspiration[:, model.round, a].copy()

    def beliefs(self, model, p: int, runs: np.ndarray) -> Preferences:
        """What proposer p knows in these runs: its own sampled preferences, the others' point estimates."""
        c, r = self.central, len(runs)
        weights = np.repeat(c.weights, r, axis=0)
        values = np.repeat(c.values, r, axis=0)
        reservation = np.repeat(c.reservation, r, axis=0)
        deltas = np.repeat(c.deltas, r, axis=0)
        weights[:, p] = model.prefs.weights[runs, p]
        values[:, p] = model.prefs.values[runs, p]
        reservation[:, p] = model.prefs.reservation[runs, p]
        own = self.game.terms.actor == p
        deltas[:, own] = model.prefs.deltas[runs][:, own]
        return Preferences(weights, values, reservation, deltas)

    def offer(self, model, p: int, runs: np.ndarray, aspiration: np.ndarray) -> np.ndarray:
        """(r, I) proposer p's offers in these runs at its aspiration (its best deal if out of reach)."""
        game, t = self.game, model.round
        prefs = self.beliefs(model, p, runs)
        r, actors = len(runs), game.n_actors
        scale = self.discount ** t
        ideal = ideal_deal(game, prefs.weights[:, p], prefs.values[:, p])
        best_own = game.utilities(prefs, ideal[:, None, :])[:, 0, p]
        # The floor is in undiscounted utility (see subgame_perfect_plan for why).
        target = np.zeros((r, actors))
        target[:, p] = np.minimum(undiscount(aspiration, scale[p]), best_own)
        own = np.zeros(actors, dtype=bool)
        own[p] = True
        goal = Target(np.broadcast_to(scale, (r, actors)), prefs.reservation, self.party_mask & ~own)
        deal, _ = maximin_deal(game, prefs, goal, Target(np.ones((r, actors)), target, own), fallback=ideal)
        return deal


def _compiled_plan_search(model):
    from sim.model.kernel.protocols import plan_search

    return plan_search(model)
