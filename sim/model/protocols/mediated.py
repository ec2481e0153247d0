"""The mediated protocol: a single negotiating text, rewritten by a mediator after each round."""

from __future__ import annotations

import numpy as np

from sim.domain.game import Game
from sim.domain.utility import single_change_utilities
from sim.model.protocols import Protocol, ideal_deal


class Mediated(Protocol):
    """Single negotiating text written by a self-interested, weight-adjusting mediator.

    The mediator tables one full text; every signatory accepts or rejects it. If all accept,
    that is the agreement. Otherwise the mediator rewrites the text as the deal that
    maximises a weighted sum of utilities, sum_a lambda_a u_a(d), where its own weight is
    fixed at `mediator_bias` and the signatories share the rest; after each round the weight
    of every rejecting party grows with its shortfall, lambda_a *= exp(step * (target_a -
    u_a)), so the text moves along the Pareto frontier towards whoever objects. This is
    Raiffa's single negotiating text (The Art and Science of Negotiation, 1982, ch. 14)
    with the weight-adjusting search for joint gains of Ehtamo, Kettunen & Hamalainen
    (2001, "Searching for joint gains in multi-party negotiations", EJOR 130(1)). Weighted
    sums of additive utilities separate by issue, so each rewrite is a per-issue argmax
    (coordinate ascent, `moves_per_round` sweeps, which also settles interaction terms),
    never a search of the whole deal space.
    """

    name = "mediated"

    def __init__(self, game: Game):
        self.game = game
        self.mediator = game.mediator
        self.bias = float(game.protocol["mediator_bias"])
        # Step and sweeps are rates per two weeks of talks, so a finer or coarser clock
        # (round_days) moves the text as fast in calendar time.
        self.sweeps = max(1, round(int(game.protocol["moves_per_round"]) * game.rate_scale))
        self.step = float(game.protocol["mediator_step"]) * game.rate_scale
        # Whoever may have to consent to something gets a say in the text from the start; the
        # mediator's own say is its bias, exactly, even when it is also a guarantor whose consent
        # counts (its yes is still needed to close, see NegotiationModel.close_round).
        self.party_mask = game.parties.copy()
        if self.mediator is not None:
            self.party_mask[self.mediator] = False
        # The mediator never tables an option that a party whose yes it needs will never sign.
        self.forbidden = game.forbidden_options()
        self.penalty = np.where(self.forbidden, -np.inf, 0.0)

    def start(self, model) -> None:
        """Table the opening text: the named initial proposal, or the best text at equal weights."""
        game = self.game
        model.mediator_weights = np.zeros((model.n_runs, game.n_actors))
        model.mediator_weights[:, self.party_mask] = 1.0
        initial = game.protocol.get("initial_text")
        if initial is not None:
            model.text[:] = game.proposals[game.proposal_ids.index(initial)]
        else:
            m = self.mediator
            if m is not None:
                values = model.prefs.values[:, m] + self.penalty
                model.text[:] = ideal_deal(game, model.prefs.weights[:, m], values)
            if not (model.engine == "compiled" and _compiled_rewrite(model)):
                self.rewrite(model, np.arange(model.n_runs))
        model.tabled = model.text.copy()

    def round(self, model) -> None:
        """Concede, respond, close agreements and walk-outs, then rewrite the text."""
        actors = model.actors
        text_utility, accepted = self.answer(model)
        runs = np.flatnonzero(model.active)
        if runs.size:
            targets = np.stack([np.maximum(a.aspiration[runs], a.reservation[runs]) for a in actors], axis=1)
            shortfall = np.clip(targets - text_utility[runs], 0.0, None)
            parties = self.party_mask | model.consent_needed(model.text[runs])
            if self.mediator is not None:
                parties[:, self.mediator] = False
            rejecting = ~accepted[runs] & parties
            lam = model.mediator_weights[runs]
            push = np.where(lam > 0, self.step * shortfall * rejecting, 0.0)
            # exp() overflows above ~709: then scale the row by exp(-max), which normalising undoes
            # (the largest push has a positive weight, so the row keeps a positive sum).
            top = push.max(axis=1, keepdims=True)
            push = np.where(top > 700.0, push - top, push)
            weights = lam * np.exp(push)
            model.mediator_weights[runs] = weights / weights.sum(axis=1, keepdims=True)
            self.rewrite(model, runs)

    def objective_weights(self, model, runs: np.ndarray) -> np.ndarray:
        """(r, A) weights of the mediator's objective: its own fixed share, the rest to the parties."""
        lam = model.mediator_weights[runs]
        total = lam.sum(axis=1, keepdims=True)
        lam = lam / np.where(total > 0, total, 1.0) * (1.0 - self.bias)
        if self.mediator is not None:
            lam = lam.copy()
            lam[:, self.mediator] += self.bias
        return lam

    def rewrite(self, model, runs: np.ndarray) -> None:
        """Monotone coordinate ascent on the weighted Nash product, `sweeps` steps.

        The mediator maximises sum_a lambda_a g(u_a - r_a), g a log that turns linear below a
        small surplus: with equal weights and a ZOPA this is the Nash bargaining solution
        (Nash 1950), and where some party is below its reservation value the linear part
        still points towards the zone of agreement. A weighted sum of utilities (the plain
        Ehtamo et al. search) jumps between the corners of a one-issue pie; the log does not.
        Each step proposes every issue's best option at once; since the objective does not
        separate by issue, that move is kept only if it beats the best single-issue move,
        which is taken otherwise, so the objective never falls and the text never oscillates.
        """
        lam = self.objective_weights(model, runs)
        text = model.text[runs]
        prefs = model.prefs.take(runs)
        reservation = model.reservation[runs]
        game = self.game
        offsets, n_options = game.space.offsets, game.space.n_options
        issue_of = np.repeat(np.arange(len(n_options)), n_options)
        rows = np.arange(len(runs))
        for _ in range(self.sweeps):
            util = single_change_utilities(offsets, n_options, game.terms, prefs, text)
            # Ruled-out options count against a text, more than any gain in surplus could make up.
            ruled_out = self.forbidden[text + offsets].sum(axis=1)
            swapped = ruled_out[:, None] - self.forbidden[text + offsets][:, issue_of] + self.forbidden[None, :]
            score = (np.einsum("rca,ra->rc", surplus_score(util - reservation[:, None, :]), lam)
                     - RULED_OUT_COST * swapped)
            jacobi = text.copy()
            for i, (start, n) in enumerate(zip(offsets, n_options)):
                jacobi[:, i] = np.argmax(score[:, start:start + n], axis=1)
            jacobi_util = game.utilities(prefs, jacobi[:, None, :])[:, 0, :]
            jacobi_score = (np.einsum("ra,ra->r", surplus_score(jacobi_util - reservation), lam)
                            - RULED_OUT_COST * self.forbidden[jacobi + offsets].sum(axis=1))
            best = np.argmax(score, axis=1)
            single = text.copy()
            single[rows, issue_of[best]] = best - offsets[issue_of[best]]
            new = np.where((jacobi_score >= score[rows, best])[:, None], jacobi, single)
            if np.array_equal(new, text):
                break
            text = new
        model.text[runs] = text


def _compiled_rewrite(model) -> bool:
    from sim.model.kernel.protocols import start_rewrite

    return start_rewrite(model)


#: What a ruled-out option costs a text in the mediator's objective: more than any surplus.
RULED_OUT_COST = 1e6


#: Below this surplus over its reservation value a party's term in the mediator's objective is linear.
SURPLUS_FLOOR = 0.01


def surplus_score(surplus: np.ndarray) -> np.ndarray:
    """log(surplus), continued linearly (same slope) below SURPLUS_FLOOR: concave and finite everywhere."""
    safe = np.maximum(surplus, SURPLUS_FLOOR)
    return np.where(surplus >= SURPLUS_FLOOR, np.log(safe),
                    np.log(SURPLUS_FLOOR) + (surplus - SURPLUS_FLOOR) / SURPLUS_FLOOR)
