"""NegotiationModel: a Mesa model advancing a batch of independent negotiation runs in lock-step.

One Mesa step is one negotiation round for every run still at the table. Each run's
randomness comes from its own generator (drawn up front into `RunDraws`), so a run gives the
same result alone or inside any batch; the model's own `rng` is never used for outcomes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import mesa
import numpy as np

from sim.domain.game import Game
from sim.domain.utility import Preferences
from sim.model.agents import Actor
from sim.model.status import (  # noqa: F401
    ACTIVE,
    AGREEMENT,
    BREAKDOWN,
    OPEN_AT_HORIZON,
    OUTCOME_NAMES,
    PARTIAL,
    SUSPENDED,
    SUSPENDED_AT_HORIZON,
)

# Streams of every run's own randomness, one generator each, so that a longer horizon or a
# new kind of draw never shifts another stream (common random numbers across sweep points).
ACCEPT_STREAM, FRONT_STREAM, TALKS_STREAM = 1, 2, 3


@dataclass
class RunDraws:
    """Everything random about a batch of runs, drawn per run from that run's own streams."""

    params: np.ndarray  # (R, K) uniforms for the uncertain scenario numbers
    accept: np.ndarray  # (R, A) uniforms: each actor's hidden flexibility in each run (see respond)
    war: np.ndarray | None = None  # (R, K_war) uniforms for uncertain drift and costs
    front: RoundDraws | None = None  # per round (R, T) standard normals for front-line noise
    talks: RoundDraws | None = None  # per round (R, 2) uniforms: does a paused run resume, and when
    events: np.ndarray | None = None  # (R, E) uniforms for events that happen by chance (breakdowns)

    @classmethod
    def draw(cls, game: Game, seed: int, run_ids: np.ndarray, max_rounds: int,
             param_seeds: dict[str, int] | None = None, param_ids: np.ndarray | None = None) -> RunDraws:
        """Draw every run's randomness, keyed by (seed, run) and never by the batch or the point.

        An uncertain number's uniform is keyed by its scenario path as well, so it is the same
        whatever other numbers are uncertain; `param_seeds` gives some paths a seed of their own
        (a Sobol design swaps groups of inputs between two matrices this way), and `param_ids`
        keys the uncertain numbers by other ids than the runs (runs sharing an id share them).
        """
        run_ids = np.asarray(run_ids, dtype=np.int64)
        keys = run_ids if param_ids is None else np.asarray(param_ids, dtype=np.int64)
        runs, a = len(run_ids), game.n_actors
        params = keyed_uniforms(seed, keys, [p.path for p in game.params], param_seeds)
        accept = np.empty((runs, a))
        war = front = events = None
        n_events = len(game.war.events) if game.war is not None else 0
        if game.war is not None:
            war = keyed_uniforms(seed, keys, [p.path for p in game.war.params], param_seeds)
            events = np.empty((runs, n_events))
        talk_streams, front_streams = [], []
        for r, run in enumerate(run_ids):
            accept[r] = _stream(seed, run, ACCEPT_STREAM).random(a)
            talk_streams.append(_stream(seed, run, TALKS_STREAM))
            if game.war is not None:
                # The events' uniforms follow every round's two in the talks stream: jump there.
                after = _stream(seed, run, TALKS_STREAM)
                after.bit_generator.advance(2 * max_rounds)
                events[r] = after.random(n_events)
                front_streams.append(_stream(seed, run, FRONT_STREAM))
        talks = RoundDraws(talk_streams, 2, max_rounds, normal=False)
        if game.war is not None:
            front = RoundDraws(front_streams, game.territory.n_regions, max_rounds, normal=True)
        return cls(params, accept, war, front, talks, events)


class RoundDraws:
    """Each run's per-round draws, made a block of rounds at a time from the run's own stream.

    The values are those of one draw of (max_rounds, width) per run, but only a block is held at
    a time, so memory does not grow with the number of rounds; rounds are read in order.
    """

    BLOCK = 64

    def __init__(self, streams: list[np.random.Generator], width: int, max_rounds: int, normal: bool):
        self.streams, self.width, self.max_rounds, self.normal = streams, width, max_rounds, normal
        self.start = 0
        self.block = self._draw(min(self.BLOCK, max_rounds))

    def _draw(self, n: int) -> np.ndarray:
        out = np.empty((len(self.streams), n, self.width))
        for r, g in enumerate(self.streams):
            out[r] = g.standard_normal((n, self.width)) if self.normal else g.random((n, self.width))
        return out

    def at(self, k: int) -> np.ndarray:
        """(R, width): every run's draws for round k."""
        if k < self.start or k >= self.max_rounds:
            raise IndexError(f"round {k} was already passed or is beyond the last ({self.max_rounds - 1})")
        while k >= self.start + self.block.shape[1]:
            self.start += self.block.shape[1]
            self.block = self._draw(min(self.BLOCK, self.max_rounds - self.start))
        return self.block[:, k - self.start]


def _stream(seed: int, run: int, stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(int(run), stream))))


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (Steele, Lea & Flood 2014): a bijective 64-bit mix, vectorised."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def keyed_uniforms(seed: int, run_ids: np.ndarray, keys: list[str],
                   key_seeds: dict[str, int] | None = None) -> np.ndarray:
    """(R, K) uniforms in [0, 1), one per (run, key), each a pure function of (seed, run, key)."""
    out = np.empty((len(run_ids), len(keys)))
    runs = np.asarray(run_ids, dtype=np.int64).astype(np.uint64)
    for k, key in enumerate(keys):
        s = (key_seeds or {}).get(key, seed)
        root = np.random.SeedSequence(s).generate_state(1, np.uint64)[0]
        base = _splitmix64(np.array([root ^ np.uint64(zlib.crc32(key.encode()))], dtype=np.uint64))[0]
        with np.errstate(over="ignore"):
            mixed = _splitmix64(_splitmix64(base + runs * np.uint64(0xD1B54A32D192ED03)))
        out[:, k] = (mixed >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    return out


class NegotiationModel(mesa.Model):
    """A batch of negotiations of one scenario under one protocol."""

    def __init__(self, game: Game, prefs: Preferences, draws: RunDraws, protocol=None,
                 max_rounds: int | None = None, collect_rounds: bool = True, rng=None):
        super().__init__(rng=rng)
        from sim.model.protocols import make_protocol

        self.game = game
        self.prefs = prefs
        self.draws = draws
        self.n_runs = prefs.n_runs
        self.max_rounds = max_rounds or game.protocol["max_rounds"]
        self.round = 0
        self.reservation = prefs.reservation.copy()
        self.status = np.full(self.n_runs, ACTIVE, dtype=np.int64)
        self.end_round = np.full(self.n_runs, self.max_rounds - 1, dtype=np.int64)
        self.walked_away = np.full(self.n_runs, -1, dtype=np.int64)
        self.vetoed_by = np.full(self.n_runs, -1, dtype=np.int64)
        self.resume_round = np.zeros(self.n_runs, dtype=np.int64)
        self.suspensions = np.zeros(self.n_runs, dtype=np.int64)
        self.paused_rounds = np.zeros(self.n_runs, dtype=np.int64)
        self.blocked = np.zeros(self.n_runs, dtype=np.int64)  # rounds in a row a consent was withheld
        self.signatory_mask = np.zeros(game.n_actors, dtype=bool)
        self.signatory_mask[game.signatories] = True
        defaults = np.array(game.space.defaults, dtype=np.int64)
        self._consent_issue = np.array([i for i, who in enumerate(game.consent) for _ in who], dtype=np.int64)
        self._consent_actor = np.array([a for who in game.consent for a in who], dtype=np.int64)
        self._consent_default = defaults[self._consent_issue] if self._consent_issue.size else defaults[:0]
        self.text = np.zeros((self.n_runs, game.space.n_issues), dtype=np.int64)
        self.tabled = self.text  # the text the actors answered this round (before any rewrite)
        signatories = set(game.signatories.tolist())
        deadlines = prefs.deadlines if prefs.deadlines is not None else np.full((self.n_runs, game.n_actors),
                                                                                float(self.max_rounds))
        for a, actor_id in enumerate(game.actor_ids):
            Actor(self, a, actor_id, game.strategies[a], deadlines[:, a].copy(),
                  game.protocol["temperatures"][a], game.protocol["patience"][a], a in signatories)
        self.actors: list[Actor] = sorted(self.agents, key=lambda ag: ag.index)
        self.protocol = protocol or make_protocol(game.protocol["kind"], game)
        self.events_fired: list[tuple[int, str]] = []
        self.war = None
        if game.war is not None:
            from sim.model.dynamics import WarState

            self.war = WarState(self, game.war, draws.war, draws.front)
        self.collect_rounds = collect_rounds
        self._recorded = np.zeros(0, dtype=np.int64)
        self.datacollector = mesa.DataCollector(
            model_reporters={"round": "round", "runs": lambda m: m._recorded, "text": lambda m: m.tabled[m._recorded],
                             "line": lambda m: m.line[m._recorded]},
            agent_reporters={
                "utility": lambda ag: ag.utility[ag.model._recorded],
                "aspiration": lambda ag: ag.aspiration[ag.model._recorded],
                "reservation": lambda ag: ag.reservation[ag.model._recorded],
                "accepted": lambda ag: ag.accepted[ag.model._recorded],
                "cost": lambda ag: ag.model.accumulated_cost[ag.model._recorded, ag.index],
            },
        )
        self.protocol.start(self)

    @property
    def line(self) -> np.ndarray:
        """(R, T, P) the share of each region each of its parties holds now (the as-of line in a static
        scenario); see sim.domain.territory."""
        if self.war is not None:
            return self.war.line
        terr = self.game.territory
        return np.broadcast_to(terr.held0, (self.n_runs, terr.n_regions, terr.n_parties))

    @property
    def accumulated_cost(self) -> np.ndarray:
        """(R, A) war costs paid so far, in utility units."""
        if self.war is not None:
            return self.war.accumulated
        return np.zeros((self.n_runs, self.game.n_actors))

    @property
    def pressure(self) -> np.ndarray:
        """(R, A) how far summits have pushed each actor's aspiration down."""
        if self.war is not None:
            return self.war.pressure
        return np.zeros((self.n_runs, self.game.n_actors))

    @property
    def active(self) -> np.ndarray:
        """Runs at the table this round."""
        return self.status == ACTIVE

    @property
    def open(self) -> np.ndarray:
        """Runs not yet ended: at the table or paused (the war goes on in both)."""
        return (self.status == ACTIVE) | (self.status == SUSPENDED)

    def utilities(self, deals: np.ndarray, runs: np.ndarray | None = None) -> np.ndarray:
        """(R, N, A) utilities of deals (R, N, I) for all runs (or the subset `runs`)."""
        prefs = self.prefs if runs is None else self.prefs.take(runs)
        return self.game.utilities(prefs, deals)

    def consent_needed(self, text: np.ndarray) -> np.ndarray:
        """(R, A): actors whose consent the text needs beyond the signatories.

        An issue's `consent` list applies when the text departs from the issue's default
        (the status quo): lifting sanctions needs the sanctioning powers, keeping them does not.
        """
        need = np.zeros((len(text), self.game.n_actors), dtype=bool)
        if self._consent_issue.size:
            departs = text[:, self._consent_issue] != self._consent_default  # (R, pairs)
            for k, actor in enumerate(self._consent_actor):
                need[:, actor] |= departs[:, k]
        return need & ~self.signatory_mask

    def respond(self, utility: np.ndarray, proposer: int | None = None) -> np.ndarray:
        """Every actor answers the text on the table (utility (R, A)); returns the answers (R, A).

        An actor accepts when the text's margin over its aspiration, plus its hidden
        flexibility, is positive. The flexibility is one logistic draw per run and actor
        (scale: the temperature), fixed for the whole run: it is the analyst's uncertainty about
        how far above its reservation value the actor insists on being, not a coin tossed
        afresh each round. So a text is accepted with probability logistic(margin /
        temperature), as in a logit choice model, but the chance does not accumulate over
        rounds: how many rounds the clock has (its grain, the horizon) cannot make an actor
        sign what it would not sign once. A proposer (alternating offers) accepts its own offer.
        """
        chance = np.stack([a.acceptance_chance(utility[:, a.index]) for a in self.actors], axis=1)
        accepted = self.draws.accept < chance
        if proposer is not None:
            accepted[:, proposer] = True
        for actor in self.actors:
            actor.accepted = accepted[:, actor.index]
        return accepted

    def close_round(self, accepted: np.ndarray) -> None:
        """Apply the ending rules to this round's responses (R, A), shared by every protocol.

        Agreement: every signatory and every actor whose consent the text needs accepts.
        Partial: the signatories accept but a needed consent is withheld `patience` rounds in a
        row (the mediator's patience); they then sign a ceasefire without a settlement.
        Walking out: a signatory that leaves (see Actor.walks_away) suspends the talks; they
        resume after a pause drawn from the scenario's `talks`, or, with the chance it states,
        not before the horizon. Only an explicit breakdown event ends talks for good.
        """
        signed = accepted[:, self.signatory_mask].all(axis=1)
        need = self.consent_needed(self.text)
        missing = need & ~accepted
        consented = ~missing.any(axis=1)
        self.finish(signed & consented, AGREEMENT)
        blocked = signed & ~consented & self.active
        self.blocked = np.where(blocked, self.blocked + 1, 0)
        limit = self.game.protocol["consent_patience"]
        settle = blocked & (self.blocked >= limit)
        self.vetoed_by[settle] = np.argmax(missing[settle], axis=1)
        self.finish(settle, PARTIAL)
        for actor in self.actors:
            leaving = actor.walks_away() & self.active
            self.walked_away[leaving] = actor.index
            self.suspend(leaving)

    def suspend(self, mask: np.ndarray) -> None:
        """Pause the talks in `mask`: they resume after an exponential pause, or (by chance) never."""
        runs = np.flatnonzero(mask & self.active)
        if not runs.size:
            return
        now = self.draws.talks.at(self.round)
        u_resume, u_length = now[runs, 0], now[runs, 1]
        mean = max(self.game.protocol["pause_rounds"], 1e-9)
        pause = np.maximum(1, np.ceil(-mean * np.log1p(-u_length))).astype(np.int64)
        resumes = u_resume < self.game.protocol["resume_probability"]
        self.resume_round[runs] = np.where(resumes, self.round + 1 + pause, np.iinfo(np.int64).max)
        self.status[runs] = SUSPENDED
        self.suspensions[runs] += 1

    def resume(self) -> None:
        """Bring paused talks whose pause is over back to the table, with fresh patience."""
        back = (self.status == SUSPENDED) & (self.resume_round <= self.round)
        if back.any():
            self.status[back] = ACTIVE
            for actor in self.actors:
                actor.stalled[back] = 0

    def finish(self, mask: np.ndarray, outcome: int, open_too: bool = False) -> None:
        """Close the runs in `mask` (at the table, or also paused) with an outcome at this round."""
        mask = mask & (self.open if open_too else self.active)
        self.status[mask] = outcome
        self.end_round[mask] = self.round

    def step(self) -> None:
        """One negotiation round for every active run."""
        if not self.open.any() or self.round >= self.max_rounds:
            self.running = False
            return
        if self.war is not None and self.round > 0:
            self.war.advance()
        self.resume()
        self.paused_rounds += self.status == SUSPENDED
        was_active = self.active.copy()
        if was_active.any():  # in a round where every run's talks are paused, nobody answers anything
            self.protocol.round(self)
            if self.collect_rounds:
                self._recorded = np.flatnonzero(was_active)
                self.datacollector.collect(self)
        self.round += 1
        if self.round >= self.max_rounds:
            self.finish(self.active, OPEN_AT_HORIZON)
            self.finish(self.status == SUSPENDED, SUSPENDED_AT_HORIZON, open_too=True)
            horizon = (self.status == OPEN_AT_HORIZON) | (self.status == SUSPENDED_AT_HORIZON)
            self.end_round[horizon] = self.max_rounds - 1
        if not self.open.any():
            self.running = False

    def round_records(self) -> list[dict]:
        """Per collected round: run indices, the text, and (runs, actors) arrays of each agent reporter."""
        dc = self.datacollector
        if not dc.model_vars["runs"]:
            return []
        agents = dc.get_agent_vars_dataframe()
        order = [ag.unique_id for ag in self.actors]
        out = []
        for k, (time, frame) in enumerate(agents.groupby(level=0, sort=True)):
            frame = frame.droplevel(0).loc[order]
            entry = {"round": dc.model_vars["round"][k], "runs": dc.model_vars["runs"][k],
                     "text": dc.model_vars["text"][k], "line": dc.model_vars["line"][k]}
            for name in dc.agent_reporters:
                entry[name] = np.stack(frame[name].to_list(), axis=1)
            out.append(entry)
        return out

    def run(self) -> None:
        """Step until every run has ended."""
        while self.running and self.round < self.max_rounds:
            self.step()
