"""Which kernel plays a model's protocol, with the protocol's own arrays bound to it.

Only the catalogue's own mediated and alternating protocols have kernels; expected_utility, a
plug-in protocol (or a subclass that changes a round) and a model whose numpy rules were swapped
(see rules_untouched) return None and run on the numpy engine.
"""

from __future__ import annotations

import importlib
from collections import namedtuple

import numpy as np

MediatorArrays = namedtuple("MediatorArrays", "mediator bias step sweeps party_mask forbidden weights unit")
MediatedWork = namedtuple("MediatedWork", "utility issues issues2 flags actors actors2 lam text jacobi single score "
                          "edits moved current war base slope bound scored deal state cur slope_weight todo")


#: The numpy rules the kernels replay, by module and owner: a kernel runs only while every one of them
#: is the one it replays (a subclass, a plug-in or a test that swaps one in gets the numpy engine).
NUMPY_RULES = (
    ("sim.model.agents", "Actor", ("concede", "acceptance_chance", "walks_away")),
    ("sim.model.agents", "", ("acceptance_probability",)),
    ("sim.model.model", "NegotiationModel", ("respond", "close_round", "suspend", "resume", "finish", "consent_needed",
                                             "utilities", "step")),
    ("sim.model.dynamics", "WarState", ("advance", "refresh", "war_value")),
    ("sim.model.protocols", "Protocol", ("answer",)),
    ("sim.model.protocols.mediated", "Mediated", ("round", "rewrite", "objective_weights")),
    ("sim.model.protocols.mediated", "", ("surplus_score",)),
    ("sim.model.protocols.alternating", "Alternating", ("round", "_concede", "offer", "beliefs")),
    ("sim.model.protocols.alternating", "", ("maximin_deal", "undiscount")),
    ("sim.domain.utility", "", ("utilities", "issue_values", "single_change_utilities")),
    ("sim.domain.war", "", ("war_value",)),
    ("sim.domain.war", "War", ("advance", "line_values")),
    ("sim.domain.territory", "Territory", ("shift", "settle", "changes")),
)


def rules_untouched(model) -> bool:
    """Whether the model plays by the numpy rules the kernels replay (nothing swapped or overridden)."""
    owners = {"Actor": [type(a) for a in model.actors], "NegotiationModel": [type(model)],
              "WarState": [type(model.war)] if model.war is not None else []}
    for module_name, owner, names in NUMPY_RULES:
        module = importlib.import_module(module_name)
        holders = [getattr(module, owner)] + owners.get(owner, []) if owner else [module]
        for holder in holders:
            for name in names:
                fn = getattr(holder, name)
                if (getattr(fn, "__module__", None) != module_name
                        or getattr(fn, "__qualname__", None) != (f"{owner}.{name}" if owner else name)):
                    return False
    # Methods set on an instance (Mesa itself sets `step` on the model, wrapping the class's).
    instances = {"Actor": model.actors, "WarState": [model.war] if model.war is not None else [],
                 type(model.protocol).__name__: [model.protocol]}
    return not any(name in vars(obj) for _, owner, names in NUMPY_RULES for obj in instances.get(owner, [])
                   for name in names)


def kernel_for(model):
    """The model's protocol kernel as call(mode, runs, k0, k1, max_rounds, g, s, w, b) -> (next round, records,
    running) (see sim.model.kernel.rounds.PLAY), or None when no kernel covers the model."""
    from sim.model.protocols.alternating import Alternating
    from sim.model.protocols.mediated import Mediated

    if not rules_untouched(model):
        return None
    if type(model.protocol) is Mediated:
        return _mediated(model)
    if type(model.protocol) is Alternating:
        return _alternating(model)
    return None


def start_rewrite(model) -> bool:
    """Mediated.start's opening rewrite of every run, in a kernel; False if the kernels do not cover the model."""
    from sim.model.kernel.engine import game_arrays, records, state, war_arrays
    from sim.model.kernel.rounds import REWRITE

    call = _mediated(model) if rules_untouched(model) else None
    g = game_arrays(model) if call is not None else None
    if g is None:
        return False
    dummy = np.zeros((model.n_runs, 4), dtype=np.uint64)
    call(REWRITE, np.arange(model.n_runs, dtype=np.int64), 0, 0, model.max_rounds, g, state(model, dummy, dummy),
         war_arrays(model), records(model, 0))
    return True


def _mediated_arrays(model):
    from sim.model.kernel.engine import war_work

    proto, game = model.protocol, model.game
    n_actors, n_issues, n_flat = game.n_actors, game.space.n_issues, game.space.n_flat
    weights = model.mediator_weights
    if not (weights.flags.c_contiguous and weights.flags.writeable):
        return None
    m = MediatorArrays(-1 if proto.mediator is None else int(proto.mediator), float(proto.bias), float(proto.step),
                       int(proto.sweeps), np.ascontiguousarray(proto.party_mask, bool),
                       np.ascontiguousarray(proto.forbidden, bool), weights,
                       bool(((model.prefs.values >= 0.0) & (model.prefs.values <= 1.0)).all()))
    work = MediatedWork(np.zeros(n_actors), np.zeros(n_issues), np.zeros(n_issues), np.zeros(n_actors, bool),
                        np.zeros(n_actors), np.zeros(n_actors), np.zeros(n_actors), np.zeros(n_issues, np.int64),
                        np.zeros(n_issues, np.int64), np.zeros(n_issues, np.int64), np.zeros(n_flat),
                        np.zeros((n_flat, n_actors)), np.zeros((n_actors, n_flat)), np.zeros((n_actors, n_issues)),
                        war_work(model), np.zeros(n_actors), np.zeros(n_actors), np.zeros(n_flat), np.zeros(n_flat, bool),
                        np.zeros(n_issues, np.int64), np.zeros(4, np.uint64), np.zeros((n_actors, n_issues)),
                        np.zeros(n_actors), np.zeros(model.n_runs, np.int64))
    return m, work


def _mediated(model):
    from sim.model.kernel.mediated import play_mediated

    arrays = _mediated_arrays(model)
    if arrays is None:
        return None
    m, work = arrays

    def call(mode, runs, k0, k1, max_rounds, g, s, wr, b):
        return play_mediated(mode, runs, k0, k1, max_rounds, g, s, wr, m, b, work, 0)

    return call


AlternatingArrays = namedtuple("AlternatingArrays", "order party_mask scales c_values c_weights c_deltas c_reservation "
                               "planned plan_aspiration plan_deal plan_agree seen seen_before last_from has_last played")
AlternatingWork = namedtuple("AlternatingWork", "utility issues flags state war involved goal_mask goal_coef goal_offset "
                             "floor_mask floor_coef floor_offset margins lam kap u gtab ftab best trial ideal "
                             "moved products prefix last keep todo win_lo win_hi open_issues")


def _alternating(model):
    from sim.model.kernel.alternating import play_alternating

    proto, game, prefs = model.protocol, model.game, model.prefs
    runs, n_actors = model.n_runs, game.n_actors
    central = proto.central
    # The evaluations skip clipping values that need none; numpy clips only where terms apply.
    if not all(((v >= 0.0) & (v <= 1.0)).all() for v in (prefs.values, central.values)):
        return None
    planned = np.zeros(n_actors, bool)
    planned[proto.planned] = True
    plan = proto.plan
    if plan is not None:
        plan_arrays = (np.ascontiguousarray(plan.aspiration, float), np.ascontiguousarray(plan.deal, np.int64),
                       np.ascontiguousarray(plan.agree, bool))
    else:
        plan_arrays = (np.zeros((0, 0, 0)), np.zeros((0, 0, 0), np.int64), np.zeros((0, 0), bool))
    last_from = np.zeros((n_actors, runs, n_actors))
    has_last = np.zeros(n_actors, bool)
    for p, utility in proto.last_from.items():
        last_from[p], has_last[p] = utility, True
    y = AlternatingArrays(
        np.asarray(proto.order, np.int64), np.ascontiguousarray(proto.party_mask, bool),
        np.stack([proto.discount ** t for t in range(model.max_rounds)]) if model.max_rounds else np.zeros((0, n_actors)),
        np.ascontiguousarray(central.values[0], float), np.ascontiguousarray(central.weights[0], float),
        np.ascontiguousarray(central.deltas[0], float), np.ascontiguousarray(central.reservation[0], float),
        planned, *plan_arrays, proto.seen, proto.seen_before, last_from, has_last, np.zeros(model.max_rounds, bool))
    if not all(a.flags.c_contiguous and a.flags.writeable for a in (proto.seen, proto.seen_before)):
        return None
    w = _alternating_work(model)

    def call(mode, runs, k0, k1, max_rounds, g, s, wr, b):
        out = play_alternating(mode, runs, k0, k1, max_rounds, g, s, wr, y, b, w, 0)
        for t in range(k0, out[0]):
            if y.played[t]:
                proto.proposers.append(proto.proposer_at(t))
        for p in np.flatnonzero(has_last):
            proto.last_from[int(p)] = last_from[p]
        return out

    return call


def _alternating_work(model):
    """The offer search's work space (AlternatingWork) for the model's game and runs."""
    from sim.model.kernel.engine import einsum_lanes, war_work

    game = model.game
    runs, n_actors, n_issues, n_flat = model.n_runs, game.n_actors, game.space.n_issues, game.space.n_flat
    a_float = lambda: np.zeros(n_actors)
    return AlternatingWork(a_float(), np.zeros(n_issues), np.zeros(n_actors, bool), np.zeros(4, np.uint64),
                           war_work(model), np.zeros(n_actors, np.int64), np.zeros(n_actors, bool), a_float(), a_float(),
                           np.zeros(n_actors, bool), a_float(), a_float(), a_float(), a_float(), a_float(), a_float(),
                           np.zeros(n_flat), np.zeros(n_flat), np.zeros(n_issues, np.int64), np.zeros(n_issues, np.int64),
                           np.zeros(n_issues, np.int64), np.zeros((n_actors, n_flat)),
                           np.zeros((n_actors, n_issues)), np.zeros((n_actors, 2, einsum_lanes(n_issues)[0].shape[1])),
                           np.zeros((n_actors, 2)), np.zeros(n_flat, bool), np.zeros(runs, np.int64),
                           np.zeros(n_issues, np.int64), np.zeros(n_issues, np.int64), np.zeros(n_issues, np.int64))


def plan_search(model):
    """subgame_perfect_plan's offer search for the model's runs in a kernel, as search(p, need) -> (deals,
    feasible); None where the kernels do not cover the model (the plan then searches in numpy)."""
    from sim.model.kernel.engine import game_arrays
    from sim.model.kernel.plan import plan_offers
    from sim.model.protocols.alternating import Alternating

    if type(model.protocol) is not Alternating or not rules_untouched(model):
        return None
    g = game_arrays(model)
    prefs = model.prefs
    if g is None or not ((prefs.values >= 0.0) & (prefs.values <= 1.0)).all():  # as _alternating requires
        return None
    values, weights, deltas = (np.ascontiguousarray(a, float) for a in (prefs.values, prefs.weights, prefs.deltas))
    parties = np.ascontiguousarray(model.protocol.party_mask, bool)
    w = _alternating_work(model)

    def search(p: int, need: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        deals = np.zeros((model.n_runs, model.game.space.n_issues), np.int64)
        feasible = np.zeros(model.n_runs, bool)
        plan_offers(g, values, weights, deltas, parties, int(p), np.ascontiguousarray(need, float), deals, feasible, w)
        return deals, feasible

    return search
