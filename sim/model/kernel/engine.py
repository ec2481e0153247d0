"""The compiled engine's side of NegotiationModel.run: hand the model's arrays to a kernel, round after round.

The model is built as always (agents, protocol start, the war's opening state, the events on
Mesa's event list). `run_compiled` then plays the rounds in kernels, one call from one
scheduled event to the next: Mesa fires the events between the calls (WarState.apply_event,
unchanged), the kernels change the model's own arrays in place, and the round records come
back in flat buffers instead of the DataCollector. A model the kernels do not cover (a plug-in
protocol or strategy, draws without seeds) is left to the numpy engine.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from sim.model.kernel.rounds import HARDLINER, HOLD, TIME_DEPENDENT, TIT_FOR_TAT
from sim.model.status import ACTIVE, SUSPENDED

GameArrays = namedtuple("GameArrays", "offsets n_options defaults issue_of t_actor t_affected t_cond_issue t_cond_mask "
                        "cond_issues red_lines signatory consent_issue consent_actor consent_default patience "
                        "consent_patience pause_mean resume_probability noisy strategy floor lanes lane_of lane_pos owns")
State = namedtuple("State", "status end_round walked_away vetoed_by resume_round suspensions paused_rounds blocked "
                   "text tabled weights values base_values deltas reservation reservation0 war_value0 cost cost0 "
                   "accumulated pressure drift line front_state talks_state accept deadline temperature exponent "
                   "aspiration utility previous_utility accepted stalled")
WarArrays = namedtuple("WarArrays", "on months look_ahead drift_sd area gainer loser n_holders kept last held0 "
                       "line_options line_region line_whole line_holder line_room war_deal deal_line")
WarWork = namedtuple("WarWork", "parties actors line values issues regions amount changes")
Records = namedtuple("Records", "on round run text line utility aspiration reservation accepted cost")

#: Rounds per kernel call at most when the model keeps round records (what their buffer grows by).
SEGMENT = 64


def strategy_code(strategy) -> int | None:
    """The kernels' code for a catalogued strategy; None for one they do not know (a plug-in)."""
    from sim.domain.strategies import (
        Hardliner,
        Strategy,
        SubgamePerfect,
        TimeDependent,
        TitForTat,
    )

    cls = type(strategy)
    if cls._floor is not Strategy._floor or Strategy._floor.__qualname__ != "Strategy._floor":
        return None
    for code, known in ((TIME_DEPENDENT, TimeDependent), (HARDLINER, Hardliner), (TIT_FOR_TAT, TitForTat),
                        (HOLD, SubgamePerfect)):
        # The class's own rule, not one swapped in (a test's monkeypatch, say), which the kernel would ignore.
        if cls.aspiration is known.aspiration and known.aspiration.__qualname__ == f"{known.__name__}.aspiration":
            return code
    return None


def _c(x, dtype=None) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=dtype)


def game_arrays(model) -> GameArrays | None:
    """The game's constants as the kernels read them; None if a strategy is not one they know."""
    game = model.game
    codes = [strategy_code(actor.strategy) for actor in model.actors]
    if any(c is None for c in codes):
        return None
    space, terms = game.space, game.terms
    offsets = _c(space.offsets, np.int64)
    n_options = _c(space.n_options, np.int64)
    red_lines = game.red_lines
    if red_lines is None or not red_lines.any():  # numpy's crosses_red_line then reads no table at all
        red_lines = np.zeros((game.n_actors, space.n_flat), bool)
    elif red_lines.shape != (game.n_actors, space.n_flat):
        return None
    floors = [np.nan if a.strategy.floor is None else float(a.strategy.floor) for a in model.actors]
    proto = game.protocol
    owns = np.zeros((game.n_actors, space.n_issues), bool)  # actor a owns a term that issue i conditions
    owns[terms.actor, terms.cond_issue] = True
    return GameArrays(
        offsets, n_options, _c(space.defaults, np.int64), _c(np.repeat(np.arange(space.n_issues), n_options), np.int64),
        _c(terms.actor, np.int64), _c(terms.affected, bool).reshape(len(terms.actor), space.n_flat),
        _c(terms.cond_issue, np.int64), _c(terms.cond_mask, bool).reshape(len(terms.actor), terms.cond_mask.shape[-1]),
        _c(np.unique(terms.cond_issue), np.int64), _c(red_lines, bool), _c(model.signatory_mask, bool),
        _c(model._consent_issue, np.int64), _c(model._consent_actor, np.int64), _c(model._consent_default, np.int64),
        _c([a.patience for a in model.actors], np.int64), int(proto["consent_patience"]),
        float(max(proto["pause_rounds"], 1e-9)), float(proto["resume_probability"]),
        bool(proto.get("noisy_rationality", False)), _c(codes, np.int64), _c(floors, np.float64),
        *einsum_lanes(space.n_issues), _c(owns, bool))


def einsum_lanes(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two lanes of sim.model.kernel.numeric.esum over n terms, in the order each adds its terms:
    (2, L) term indices (-1: the 0.0 the odd lane adds last, n: padding), each term's lane and place in it."""
    lanes: list[list[int]] = [[], []]
    i = 0
    while n - i >= 8:
        for j in (6, 4, 2, 0):
            lanes[0].append(i + j)
            lanes[1].append(i + j + 1)
        i += 8
    while i < n:
        lanes[0].append(i)
        lanes[1].append(i + 1 if i + 1 < n else -1)
        i += 2
    width = max(len(lanes[0]), len(lanes[1]), 1)
    seq = np.full((2, width), n, dtype=np.int64)
    lane_of, lane_pos = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for lane in (0, 1):
        for pos, term in enumerate(lanes[lane]):
            seq[lane, pos] = term
            if term >= 0:
                lane_of[term], lane_pos[term] = lane, pos
    return seq, lane_of, lane_pos


def _per_run(model, value) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float), (model.n_runs,))


def state(model, front_state: np.ndarray, talks_state: np.ndarray) -> State:
    """The batch's state: the model's own arrays (changed in place) and the actors' stacked ones."""
    runs, actors = model.n_runs, model.actors
    prefs, war = model.prefs, model.war
    n_actors = len(actors)
    terr = model.game.territory

    def stack(name: str, dtype=float) -> np.ndarray:
        return _c(np.stack([np.broadcast_to(getattr(a, name), (runs,)) for a in actors], axis=1), dtype)

    if war is not None:
        war_arrays = (war.base_values, war.reservation0, war.war_value0, war.cost, war.cost0, war.accumulated,
                      war.pressure, war.drift, war.line)
    else:
        zeros = np.zeros((runs, n_actors))
        line = np.array(np.broadcast_to(terr.held0, (runs, terr.n_regions, terr.n_parties)), dtype=np.float64, order="C")
        war_arrays = (prefs.values, zeros, zeros, zeros, zeros, zeros, zeros, np.zeros((runs, terr.n_regions)), line)
    for k, array in enumerate((model.text, model.tabled, prefs.weights, prefs.values, prefs.deltas, model.reservation)
                              + war_arrays):
        if not (array.flags.c_contiguous and array.flags.writeable):
            raise ValueError(f"the compiled engine works on contiguous, writeable arrays ({k}, {array.shape}, {array.strides})")
    return State(
        model.status, model.end_round, model.walked_away, model.vetoed_by, model.resume_round, model.suspensions,
        model.paused_rounds, model.blocked, model.text, model.tabled, prefs.weights, prefs.values, war_arrays[0],
        prefs.deltas, model.reservation, *war_arrays[1:], front_state, talks_state, _c(model.draws.accept, np.float64),
        stack("deadline"), _c(np.stack([_per_run(model, a.temperature) for a in actors], axis=1)),
        _c(np.stack([_per_run(model, a.strategy.exponent) for a in actors], axis=1)), stack("aspiration"),
        stack("utility"), stack("previous_utility"), stack("accepted", bool), stack("stalled", np.int64))


def war_arrays(model) -> WarArrays:
    """The war's constants (placeholders that are never read when the scenario has no dynamics)."""
    game = model.game
    terr = game.territory
    n_regions, n_parties = terr.n_regions, terr.n_parties
    kept, last = _c(terr.kept_mask(), bool).reshape(n_regions, n_parties), _c(terr.last_mask(), bool).reshape(
        n_regions, n_parties)
    war = game.war
    if war is None:
        none = np.zeros(0, dtype=np.int64)
        flat = np.zeros((0, n_parties))
        return WarArrays(False, 0.0, 0.0, np.zeros(n_regions), _c(terr.area_km2, np.float64),
                         np.full(n_regions, -1, np.int64), np.full(n_regions, -1, np.int64),
                         _c(terr.n_holders, np.int64), kept, last, _c(terr.held0, np.float64), none, none,
                         np.zeros((0, n_parties), np.int64), np.zeros((0, n_parties), bool), flat,
                         np.zeros(game.space.n_issues, np.int64), np.full(game.space.n_issues, -1, np.int64))
    region = war.line_region
    held0 = terr.held0[region]
    explicit, is_last = kept[region], last[region]
    room = np.where(is_last, np.where(explicit, held0, 0.0).sum(axis=-1)[:, None], np.where(held0 < 1, 1 - held0, 1.0))
    deal_options = game.space.offsets + war.war_deal
    deal_line = [int(np.flatnonzero(war.line_options == o)[0]) if (war.line_options == o).any() else -1
                 for o in deal_options]
    return WarArrays(True, float(war.months_per_round), float(war.look_ahead_months), _c(war.drift_sd, np.float64),
                     _c(terr.area_km2, np.float64), _c(war.gainer, np.int64), _c(war.loser, np.int64),
                     _c(terr.n_holders, np.int64), kept, last, _c(terr.held0, np.float64),
                     _c(war.line_options, np.int64), _c(region, np.int64),
                     _c(war.whole_option[region], np.int64).reshape(len(region), n_parties),
                     _c(explicit | is_last, bool).reshape(len(region), n_parties),
                     _c(np.where(room > 0, room, 1.0), np.float64).reshape(len(region), n_parties),
                     _c(war.war_deal, np.int64), _c(deal_line, np.int64))


def war_work(model) -> WarWork:
    """Scratch space of the war's per-run steps."""
    game = model.game
    terr = game.territory
    return WarWork(np.zeros(terr.n_parties), np.zeros(game.n_actors), np.zeros((terr.n_regions, terr.n_parties)),
                   np.zeros((game.n_actors, game.space.n_flat)), np.zeros(game.space.n_issues), np.zeros(terr.n_regions),
                   np.zeros(terr.n_regions), np.zeros((terr.n_regions, terr.n_parties)))


def records(model, rows: int) -> Records:
    """Empty round records for up to `rows` (run, round) rows (none when the model keeps no rounds)."""
    game = model.game
    rows = rows if model.collect_rounds else 0
    terr, n_actors = game.territory, game.n_actors
    return Records(bool(model.collect_rounds), np.empty(rows, np.int64), np.empty(rows, np.int64),
                   np.empty((rows, game.space.n_issues), np.int64), np.empty((rows, terr.n_regions, terr.n_parties)),
                   np.empty((rows, n_actors)), np.empty((rows, n_actors)), np.empty((rows, n_actors)),
                   np.empty((rows, n_actors), bool), np.empty((rows, n_actors)))


def _grown(model, kept: Records, filled: int, rows: int) -> Records:
    """Round records for at least `rows` rows holding `kept`'s first `filled`: one buffer for all the
    chunk's rounds, which the rounds table reads as it is (no pass joining a buffer per kernel call);
    it doubles when a call may not fit, so a long horizon copies each row about once."""
    grown = records(model, max(rows, 2 * len(kept.round)))
    for old, new in zip(kept[1:], grown[1:]):
        new[:filled] = old[:filled]
    return grown


def initial_war_values(model, war) -> np.ndarray | None:
    """(R, A) every run's value of fighting on at the start (WarState's war_value0), in a kernel;
    None if the kernels do not cover the model."""
    from sim.model.kernel.protocols import rules_untouched
    from sim.model.kernel.war import war_values

    g = game_arrays(model) if rules_untouched(model) else None
    arrays = (war.line, war.drift, war.base_values, model.prefs.weights, model.prefs.deltas)
    if g is None or not all(a.flags.c_contiguous for a in arrays):
        return None
    out = np.empty((model.n_runs, model.game.n_actors))
    war_values(g, war_arrays(model), *arrays, out, war_work(model))
    return out


def run_compiled(model) -> bool:
    """Play every remaining round of the model in kernels; False (nothing done) if they do not cover it."""
    from sim.model.kernel.protocols import kernel_for
    from sim.model.kernel.rounds import PLAY, REFRESH

    draws = model.draws
    if draws.seed is None or draws.run_ids is None or model.max_rounds <= 0:
        return False
    call = kernel_for(model)
    g = game_arrays(model) if call is not None else None
    if g is None:
        return False
    if draws.states is not None:
        front_state, talks_state = draws.states[0].copy(), draws.states[1]
    else:
        front_state, talks_state = _seed_states(draws)
    s = state(model, front_state, talks_state)
    w = war_arrays(model)
    event_rounds = sorted({e.round for e in model.game.war.events}) if model.game.war is not None else []
    schedule = model._default_schedule
    schedule.pause()  # Mesa fires the war's events between kernel calls; the kernels play the rounds
    kept, filled = records(model, 0), 0  # every round record so far, in one buffer
    none = np.zeros(0, dtype=np.int64)
    keep = bool(model.collect_rounds)
    if model.war is not None:
        model.war.kernel_refresh = lambda runs: call(REFRESH, np.asarray(runs, dtype=np.int64), model.round,
                                                     model.round, model.max_rounds, g, s, w, records(model, 0))
    try:
        k, running = model.round, model.running
        while running and k < model.max_rounds:
            model.round = k
            model.run_until(k + 0.5)
            # Up to the next event, and with round records at most SEGMENT rounds at a time, so that the
            # buffer grows with the rounds played, not with however many rounds the horizon has.
            stop = min([e for e in event_rounds if e > k] + [model.max_rounds, k + SEGMENT if keep else model.max_rounds])
            at_table = int(((model.status == ACTIVE) | (model.status == SUSPENDED)).sum())
            if keep and filled + at_table * (stop - k) > len(kept.round):
                kept = _grown(model, kept, filled, filled + at_table * min(model.max_rounds - k, SEGMENT))
            before = k
            # The kernel writes from row 0 of what it is handed: the buffer's rows after those filled.
            k, n, running = call(PLAY, none, k, stop, model.max_rounds, g, s, w,
                                 Records(kept.on, *(rows[filled:] for rows in kept[1:])))
            model.steps += k - before
            filled += n if keep else 0
        model.round, model.running = k, running
    finally:
        schedule.resume()
        if model.war is not None:
            model.war.kernel_refresh = None
    for a, actor in enumerate(model.actors):
        actor.aspiration, actor.utility = s.aspiration[:, a].copy(), s.utility[:, a].copy()
        actor.previous_utility, actor.accepted = s.previous_utility[:, a].copy(), s.accepted[:, a].copy()
        actor.stalled = s.stalled[:, a].copy()
    model.kernel_records = {name: getattr(kept, name)[:filled] for name in Records._fields[1:]}
    return True


def _seed_states(draws) -> tuple[np.ndarray, np.ndarray]:
    from sim.model.draws import FRONT_STREAM, TALKS_STREAM
    from sim.model.kernel.rng import pcg_seed, seed_words

    words = seed_words(draws.seed)
    out = np.empty((2, len(draws.run_ids), 4), dtype=np.uint64)
    for r, run in enumerate(draws.run_ids):
        pcg_seed(words, int(run), FRONT_STREAM, out[0, r])
        pcg_seed(words, int(run), TALKS_STREAM, out[1, r])
    return out[0], out[1]
