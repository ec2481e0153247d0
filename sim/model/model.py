"""NegotiationModel: a Mesa model advancing a batch of independent negotiation runs in lock-step.

One Mesa step is one negotiation round for every run still at the table. Each run's
randomness comes from its own generator (drawn up front into `RunDraws`), so a run gives the
same result alone or inside any batch; the model's own `rng` is never used for outcomes.
"""

from __future__ import annotations

import mesa
import numpy as np

from sim.domain.game import Game
from sim.domain.utility import Preferences
from sim.model.agents import Actor
from sim.model.draws import (  # noqa: F401  (re-exported: callers import them from here)
    ACCEPT_STREAM,
    FRONT_STREAM,
    TALKS_STREAM,
    RoundDraws,
    RunDraws,
    _stream,
    keyed_uniforms,
)
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


class NegotiationModel(mesa.Model):
    """A batch of negotiations of one scenario under one protocol."""

    def __init__(self, game: Game, prefs: Preferences, draws: RunDraws, protocol=None,
                 max_rounds: int | None = None, collect_rounds: bool = True, rng=None, engine: str | None = None):
        super().__init__(rng=rng)
        from sim.model.kernel import resolve_engine
        from sim.model.protocols import make_protocol

        self.engine = resolve_engine(engine)  # how run() plays the rounds: "compiled" or "numpy"
        self.kernel_records: dict | None = None  # the compiled engine's round records, in one flat buffer
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
        return self.game.must_agree(text) & ~self.signatory_mask

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
        at_table = np.flatnonzero(self.active)
        # Every open run plays the round, paused ones too (their actors concede and answer; nothing closes
        # for them), whether or not another run of the chunk is at the table: a run's course must not
        # depend on which runs share its chunk, and so on how many workers split the job.
        self.protocol.round(self)
        if self.collect_rounds and at_table.size:
            self._recorded = at_table
            self.datacollector.collect(self)
        self.round += 1
        if self.round >= self.max_rounds:
            self.finish(self.active, OPEN_AT_HORIZON)
            self.finish(self.status == SUSPENDED, SUSPENDED_AT_HORIZON, open_too=True)
            horizon = (self.status == OPEN_AT_HORIZON) | (self.status == SUSPENDED_AT_HORIZON)
            self.end_round[horizon] = self.max_rounds - 1
        if not self.open.any():
            self.running = False

    def flat_records(self) -> dict[str, np.ndarray] | None:
        """Every collected (run, round) row at once, each run's rows in round order: `round`, `run`, `text`
        (N, I), `line` (N, T, P) and (N, A) arrays of each agent reporter; None if nothing was collected.
        (The numpy engine's come round by round, the kernels' block of runs by block of runs.)"""
        if self.kernel_records is None:
            records = self.round_records()
            if not records:
                return None
            return {"round": np.concatenate([np.full(len(r["runs"]), r["round"], dtype=np.int64) for r in records]),
                    "run": np.concatenate([r["runs"] for r in records]),
                    **{key: np.concatenate([r[key] for r in records])
                       for key in ("text", "line", *self.datacollector.agent_reporters)}}
        # The kernels' buffer as it is.
        return dict(self.kernel_records) if len(self.kernel_records["run"]) else None

    def round_records(self) -> list[dict]:
        """Per collected round: run indices, the text, and (runs, actors) arrays of each agent reporter."""
        if self.kernel_records is not None:
            flat = self.flat_records()
            if flat is None:
                return []
            by_round = np.argsort(flat["round"], kind="stable")  # each round's runs stay in order
            flat = {key: rows[by_round] for key, rows in flat.items()}
            cuts = np.flatnonzero(np.diff(flat["round"])) + 1
            return [{"round": int(flat["round"][rows[0]]), "runs": flat["run"][rows],
                     **{key: flat[key][rows] for key in flat if key not in ("round", "run")}}
                    for rows in np.split(np.arange(len(flat["round"])), cuts)]
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
        """Play until every run has ended: in compiled kernels (see sim.model.kernel.engine) when the
        engine is compiled and covers the protocol, else one Mesa step per round."""
        if self.engine == "compiled" and self.running:
            from sim.model.kernel.engine import run_compiled

            if run_compiled(self):
                return
        while self.running and self.round < self.max_rounds:
            self.step()
