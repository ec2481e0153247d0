"""Actor agents: one per scenario actor, each holding its state for a whole batch of runs.

A batch is R Monte Carlo runs of the same scenario advanced in lock-step; every array an
actor holds has the run axis first, so one Mesa step moves all R negotiations one round.
"""

from __future__ import annotations

import mesa
import numpy as np

from sim.domain.strategies import ConcessionState, Strategy


def acceptance_probability(margin: np.ndarray, temperature: float | np.ndarray) -> np.ndarray:
    """P(accept) = logistic(margin / temperature); a step at 0 where the temperature is 0.

    The temperature may be one number or one per run (calibration draws it per run).
    """
    temperature = np.asarray(temperature, dtype=float)
    safe = np.where(temperature > 0, temperature, 1.0)
    # A tiny temperature (1e-300 is a valid one) makes margin / temperature overflow to +-inf,
    # where tanh is exactly +-1: the step it tends to.
    with np.errstate(over="ignore"):
        logistic = 0.5 * (1.0 + np.tanh(margin / (2.0 * safe)))
    return np.where(temperature > 0, logistic, (margin >= 0).astype(float))


class Actor(mesa.Agent):
    """A party to the talks: its strategy, its aspiration and its last response, per run."""

    def __init__(self, model: mesa.Model, index: int, actor_id: str, strategy: Strategy, deadline: np.ndarray,
                 temperature: float | np.ndarray, patience: int, signatory: bool):
        super().__init__(model)
        self.index = index
        self.actor_id = actor_id
        self.strategy = strategy
        self.deadline = deadline
        self.temperature = temperature
        self.patience = patience
        self.signatory = signatory
        runs = model.n_runs
        self.aspiration = np.ones(runs)
        self.utility = np.zeros(runs)  # of the text on the table this round
        self.previous_utility = np.full(runs, np.nan)
        self.accepted = np.zeros(runs, dtype=bool)
        self.stalled = np.zeros(runs, dtype=np.int64)

    @property
    def reservation(self) -> np.ndarray:
        """This actor's reservation value in every run (it may move between rounds)."""
        return self.model.reservation[:, self.index]

    def concede(self) -> None:
        """Set this round's aspiration from the strategy."""
        gain = np.nan_to_num(self.utility - self.previous_utility, nan=0.0)
        state = ConcessionState(self.model.round, self.deadline, self.reservation, self.aspiration, gain)
        wanted = self.strategy.aspiration(state) - self.model.pressure[:, self.index]
        self.aspiration = np.clip(np.maximum(wanted, self.reservation), 0.0, 1.0)

    def acceptance_chance(self, utility: np.ndarray) -> np.ndarray:
        """The chance of accepting the text on the table: logistic in the margin
        over max(aspiration, reservation); records the text's utility.

        The noise only blurs how far above its reservation value an actor insists on being:
        it never signs a text worth less than fighting on, nor one that crosses its red lines,
        unless the scenario asks for noisy rationality (`protocol.noisy_rationality`), where
        the logistic applies across the reservation value too. NegotiationModel.respond turns
        the chance into this round's answer.
        """
        self.previous_utility = np.where(np.isnan(self.previous_utility), utility, self.utility)
        self.utility = utility
        margin = utility - np.maximum(self.aspiration, self.reservation)
        chance = acceptance_probability(margin, self.temperature)
        game = self.model.game
        if not game.protocol.get("noisy_rationality", False):
            chance = np.where(utility >= self.reservation, chance, 0.0)
        chance = np.where(game.crosses_red_line(self.model.text, self.index), 0.0, chance)
        self.stalled = np.where(utility < self.reservation, self.stalled + 1, 0)
        return chance

    def walks_away(self) -> np.ndarray:
        """Runs in which this actor leaves the table.

        It leaves when the texts tabled for `patience` rounds in a row were all worth less than
        fighting on: the mediator, who searches the deal space on everyone's behalf, has not
        found a deal the others would sign that beats no deal. Leaving pauses the talks (see
        NegotiationModel.suspend); it does not end them.
        """
        return self.signatory & (self.stalled >= self.patience)
