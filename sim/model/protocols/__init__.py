"""Negotiation protocols: the rules of one round, one module each, listed in sim.catalogue.

A protocol gets the model (a batch of runs) and moves every active run one round forward:
who proposes, who responds, when a run ends. A new one subclasses `Protocol` in its own module
and adds a line to sim.catalogue.PROTOCOLS; scenarios then name it (`protocol: {kind: ...}`),
the CLI offers it (`--protocol`), and the conformance tests run it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.domain.game import Game


class Protocol:
    """Base class: `start` sets the opening text, `round` plays one round for every active run.

    Subclasses set `name` (the catalogue's key) and may use the model's shared rules:
    `model.respond` (every actor answers the text), `model.close_round` (agreement, ceasefire,
    walk-outs) and the actors' `concede`.
    """

    name = "base"

    def __init__(self, game: Game):
        self.game = game

    def start(self, model) -> None:
        """Table the opening text (default: every issue at its status quo)."""
        model.tabled = model.text.copy()

    def round(self, model) -> None:
        """Move every active run one round forward."""
        raise NotImplementedError

    def answer(self, model) -> tuple[np.ndarray, np.ndarray]:
        """The shared start of a round on a single text: every actor concedes and answers the text
        on the table, and the round's endings are applied; returns the text's utilities (R, A)
        and the answers (R, A)."""
        model.tabled = model.text.copy()
        for actor in model.actors:
            actor.concede()
        text_utility = model.utilities(model.text[:, None, :])[:, 0, :]
        accepted = model.respond(text_utility)
        model.close_round(accepted)
        return text_utility, accepted


def make_protocol(kind: str, game: Game) -> Protocol:
    """Instantiate the protocol a scenario names (imported from the catalogue on first use)."""
    from sim.catalogue import protocol_class

    return protocol_class(kind)(game)


def ideal_deal(game: Game, weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each run's best deal for one actor, issue by issue (interactions ignored); (R, I).

    Issues the actor does not care about keep their default option.
    """
    space = game.space
    runs = weights.shape[0]
    deal = np.repeat(np.array(space.defaults, dtype=np.int64)[None], runs, axis=0)
    for i, (start, n) in enumerate(zip(space.offsets, space.n_options)):
        best = np.argmax(values[:, start:start + n], axis=1)
        deal[:, i] = np.where(weights[:, i] > 0, best, deal[:, i])
    return deal
