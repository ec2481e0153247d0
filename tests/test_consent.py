"""Issue-level consent: who must agree beyond the signatories, and partial (ceasefire-only) outcomes."""

from __future__ import annotations

import numpy as np

from sim.domain.game import compile_scenario
from sim.model.model import AGREEMENT, PARTIAL, NegotiationModel, RunDraws
from sim.scenario import load_scenario
from tests.conftest import TINY, scripted_responses as _scripted

TINY_TEXT = TINY.read_text()


def consent_game(write_scenario, initial: str):
    text = TINY_TEXT.replace("      strong: Article 5-like guarantee\n    default: none",
                             "      strong: Article 5-like guarantee\n    default: none\n    consent: [gamma]")
    text = text.replace("  max_rounds: 20", f"  max_rounds: 20\n  initial_text: {initial}\n  consent_patience_days: 42")
    return compile_scenario(load_scenario(write_scenario(text)).scenario)


def build(game, runs=8):
    draws = RunDraws.draw(game, 0, np.arange(runs), game.protocol["max_rounds"])
    return NegotiationModel(game, game.sample_preferences(draws.params), draws, rng=0)


def test_consent_needed_only_when_the_issue_leaves_its_default(write_scenario):
    game = consent_game(write_scenario, "split")
    model = build(game)
    gamma = game.actor_index("gamma")
    with_guarantee = game.space.encode({"guarantees": "strong"})[None]
    without = game.space.encode({"guarantees": "none"})[None]
    assert model.consent_needed(with_guarantee)[0, gamma]
    assert not model.consent_needed(without)[0, gamma]


def test_withheld_consent_ends_in_a_partial_outcome(write_scenario, monkeypatch):
    _scripted(monkeypatch, {"alpha": True, "beta": True, "gamma": False})
    game = consent_game(write_scenario, "split")  # split has strong guarantees: needs gamma
    model = build(game)
    # the mediator may move the text back to the default; pin it to see the veto play out
    monkeypatch.setattr(type(model.protocol), "rewrite", lambda self, model, runs: None)
    model.run()
    assert (model.status == PARTIAL).all()
    assert (model.end_round == 2).all()  # blocked in rounds 0, 1, 2 with consent_patience_days 42 (3 rounds of 14 days)
    assert (model.vetoed_by == game.actor_index("gamma")).all()


def test_text_at_the_default_needs_no_extra_consent(write_scenario, monkeypatch):
    _scripted(monkeypatch, {"alpha": True, "beta": True, "gamma": False})
    game = consent_game(write_scenario, "maximal")  # maximal leaves guarantees at its default
    model = build(game)
    model.run()
    assert (model.status == AGREEMENT).all() and (model.end_round == 0).all()
