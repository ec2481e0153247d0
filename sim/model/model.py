"""NegotiationModel: a Mesa model advancing a batch of independent negotiation runs in lock-step.

One Mesa step is one negotiation round for every run still at the table. Each run's
randomness comes from its own generator (drawn up front into `RunDraws`), so a run gives the
same result alone or inside any batch; the model's own `rng` is never used for outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from sim.domain.game import Game
from sim.domain.utility import Preferences
from sim.model.agents import Actor

ACTIVE, AGREEMENT, PARTIAL, BREAKDOWN, TIMEOUT = 0, 1, 2, 3, 4
OUTCOME_NAMES = {AGREEMENT: "agreement", PARTIAL: "partial", BREAKDOWN: "breakdown", TIMEOUT: "timeout"}


@dataclass
class RunDraws:
    """Everything random about a batch of runs, drawn per run from that run's own generator."""

    params: np.ndarray  # (R, K) uniforms for the uncertain scenario numbers
    accept: np.ndarray  # (R, max_rounds, A) uniforms for noisy acceptance
    war: np.ndarray | None = None  # (R, K_war) uniforms for uncertain drift and costs
    front: np.ndarray | None = None  # (R, max_rounds, T) standard normals for front-line noise

    @classmethod
    def draw(cls, game: Game, generators: list[np.random.Generator], max_rounds: int) -> RunDraws:
        """Draw in a fixed order per run; the war's draws come last, so a scenario without
        dynamics draws exactly what the static model draws."""
        k, a = len(game.params), game.n_actors
        runs = len(generators)
        params = np.empty((runs, k))
        accept = np.empty((runs, max_rounds, a))
        war = front = None
        if game.war is not None:
            war = np.empty((runs, len(game.war.params)))
            front = np.empty((runs, max_rounds, game.territory.n_regions))
        for r, gen in enumerate(generators):
            params[r] = gen.random(k)
            accept[r] = gen.random((max_rounds, a))
            if war is not None:
                war[r] = gen.random(war.shape[1])
                front[r] = gen.standard_normal(front.shape[1:])
        return cls(params, accept, war, front)


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
        for a, actor_id in enumerate(game.actor_ids):
            Actor(self, a, actor_id, game.strategies[a], game.protocol["deadlines"][a],
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
        """(R, T) Russia's share of each region now (the as-of line in a static scenario)."""
        if self.war is not None:
            return self.war.line
        return np.broadcast_to(self.game.territory.russia_share, (self.n_runs, self.game.territory.n_regions))

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
        """Runs still at the table."""
        return self.status == ACTIVE

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

    def close_round(self, accepted: np.ndarray) -> None:
        """Apply the ending rules to this round's responses (R, A), shared by every protocol.

        Agreement: every signatory and every actor whose consent the text needs accepts.
        Partial: the signatories accept but a needed consent is withheld `patience` rounds in a
        row (the mediator's patience); they then sign a ceasefire without a settlement.
        Breakdown: a signatory walks away (see Actor.walks_away).
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
            self.finish(leaving, BREAKDOWN)

    def finish(self, mask: np.ndarray, outcome: int) -> None:
        """Close the runs in `mask` with an outcome at this round."""
        mask = mask & self.active
        self.status[mask] = outcome
        self.end_round[mask] = self.round

    def step(self) -> None:
        """One negotiation round for every active run."""
        if not self.active.any() or self.round >= self.max_rounds:
            self.running = False
            return
        if self.war is not None and self.round > 0:
            self.war.advance()
        was_active = self.active.copy()
        self.protocol.round(self)
        if self.collect_rounds:
            self._recorded = np.flatnonzero(was_active)
            self.datacollector.collect(self)
        self.round += 1
        if self.round >= self.max_rounds:
            self.finish(self.active, TIMEOUT)
            self.end_round[self.status == TIMEOUT] = self.max_rounds - 1
        if not self.active.any():
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
