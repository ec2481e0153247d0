"""The Mesa model and the mediated protocol: acceptance rules, seeding, reproducibility."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.domain.game import compile_scenario
from sim.model.model import AGREEMENT, BREAKDOWN, OPEN_AT_HORIZON, SUSPENDED_AT_HORIZON, NegotiationModel, RunDraws
from sim.scenario import load_scenario
from sim.simulate import ChunkSpec, simulate_chunk
from tests.conftest import TINY, scripted_responses as _scripted

TINY_TEXT = TINY.read_text()


@pytest.fixture(scope="module")
def game():
    return compile_scenario(load_scenario(TINY).scenario)


def build(game, runs=4, seed=0, max_rounds=None):
    max_rounds = max_rounds or game.protocol["max_rounds"]
    draws = RunDraws.draw(game, seed, np.arange(runs), max_rounds)
    prefs = game.sample_preferences(draws.params)
    return NegotiationModel(game, prefs, draws, max_rounds=max_rounds, rng=seed)


def test_mesa_structure(game):
    model = build(game)
    assert len(model.agents) == game.n_actors
    assert sorted(a.unique_id for a in model.agents) == list(range(1, game.n_actors + 1))
    assert [a.actor_id for a in model.actors] == list(game.actor_ids)
    model.step()
    assert model.round == 1 and model.time == 1


def test_agreement_needs_every_signatory(game, monkeypatch):
    _scripted(monkeypatch, {"alpha": True, "beta": False, "gamma": True})
    model = build(game, runs=16)
    model.run()
    assert not (model.status == AGREEMENT).any()


def test_mediator_need_not_sign(game, monkeypatch):
    _scripted(monkeypatch, {"alpha": True, "beta": True, "gamma": False})
    model = build(game, runs=16)
    model.run()
    assert (model.status == AGREEMENT).all() and (model.end_round == 0).all()


def test_everyone_accepts_a_deal_above_aspirations_in_round_zero(write_scenario):
    # every actor gets the best possible value from the opening text, so round 0 closes it
    text = TINY_TEXT.replace("  max_rounds: 20", "  max_rounds: 20\n  initial_text: split")
    text = text.replace("north: {options: {ukraine: 1, frozen_line: 0.5, de_jure_russia: 0}",
                        "north: {options: {ukraine: 0, frozen_line: 1, de_jure_russia: 0}")
    text = text.replace("south: {options: {ukraine: 1, demilitarized: 0.4, de_facto_russia: 0}",
                        "south: {options: {ukraine: 0, demilitarized: 1, de_facto_russia: 0}")
    text = text.replace("north: {options: {ukraine: 0, frozen_line: 0.6, de_jure_russia: 1}",
                        "north: {options: {ukraine: 0, frozen_line: 1, de_jure_russia: 0}")
    text = text.replace("south: {options: {ukraine: 0, demilitarized: 0.7, de_facto_russia: 1}",
                        "south: {options: {ukraine: 0, demilitarized: 1, de_facto_russia: 0}")
    text = text.replace("guarantees: {options: {none: 1, strong: {mean: 0.2, sd: 0.1}}",
                        "guarantees: {options: {none: 0, strong: 1}")
    text = text.replace("  kind: mediated\n", "  kind: mediated\n  temperature: 0\n")
    g = compile_scenario(load_scenario(write_scenario(text)).scenario)
    out = simulate_chunk(g, ChunkSpec(1, 0, (0, 20))).get("runs").to_pandas()
    assert (out["outcome"] == "agreement").all()
    assert (out["round"] == 0).all()
    assert (out["nearest_proposal"] == "split").all() and (out["proposal_distance"] == 0).all()


def test_unacceptable_text_is_never_agreed_without_noise(write_scenario):
    # alpha's reservation value is its best deal: only a text giving alpha everything clears it,
    # and no such text leaves beta above its own, so no run ever agrees.
    text = TINY_TEXT.replace("reservation: {value: 0.3, source: notes, quote: alpha can fight on}",
                             "reservation: {value: 1.0, source: notes, quote: alpha can fight on}")
    # Talks that never resume after a walk-out, so each run pauses exactly once.
    text = text.replace("  kind: mediated\n", "  kind: mediated\n  temperature: 0\n  talks: {resume_probability: 0}\n")
    g = compile_scenario(load_scenario(write_scenario(text)).scenario)
    out = simulate_chunk(g, ChunkSpec(1, 0, (0, 30)))
    runs, rounds = out["runs"].to_pandas(), out["rounds"].to_pandas()
    assert (runs["outcome"] == "suspended").all() and (runs["suspensions"] == 1).all()
    # whoever walked out had been offered less than fighting on in its last round at the table
    for _, run in runs.iterrows():
        last = rounds[(rounds["run"] == run["run"]) & (rounds["actor"] == run["walked_away"])].iloc[-1]
        assert run["walked_away"] in ("alpha", "beta") and last["utility"] < last["reservation"]
        assert not last["accepted"]


def test_outcome_codes_cover_every_run(game):
    model = build(game, runs=50, seed=3)
    model.run()
    assert set(np.unique(model.status)) <= {AGREEMENT, BREAKDOWN, OPEN_AT_HORIZON, SUSPENDED_AT_HORIZON}
    assert np.all(model.end_round < game.protocol["max_rounds"])


def test_same_seed_same_tables(game):
    a = simulate_chunk(game, ChunkSpec(42, 0, (0, 64)))
    b = simulate_chunk(game, ChunkSpec(42, 0, (0, 64)))
    assert a["runs"].equals(b["runs"]) and a["rounds"].equals(b["rounds"])
    c = simulate_chunk(game, ChunkSpec(43, 0, (0, 64)))
    assert not a["runs"].equals(c["runs"])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.integers(0, 39), start=st.integers(0, 10))
def test_run_alone_equals_run_in_batch(seed, k, start):
    g = compile_scenario(load_scenario(TINY).scenario)
    batch = simulate_chunk(g, ChunkSpec(seed, 0, (start, start + 40)))
    alone = simulate_chunk(g, ChunkSpec(seed, 0, (start + k, start + k + 1)))
    row = batch["runs"].slice(k, 1)
    assert row.equals(alone["runs"])
    rounds = batch["rounds"].filter(pa.compute.equal(batch["rounds"]["run"], start + k))
    assert rounds.equals(alone["rounds"])
