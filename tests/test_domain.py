"""Domain core: deal space indexing, utility maths on hand-computed cases, territory accounting."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from sim.domain.evaluate import evaluate_proposals
from sim.domain.game import compile_scenario
from sim.scenario import load_scenario
from tests.conftest import TINY


@pytest.fixture(scope="module")
def game():
    return compile_scenario(load_scenario(TINY).scenario)


def deal(game, **options):
    return game.space.encode(options)


def test_space_shape(game):
    assert game.space.issue_ids == ("north", "south", "guarantees")
    assert game.space.size == 3 * 3 * 2
    assert list(game.space.offsets) == [0, 3, 6]
    assert game.space.describe(deal(game, north="ukraine")) == {
        "north": "ukraine", "south": "demilitarized", "guarantees": "none"}


@given(st.lists(st.integers(0, 17), min_size=1, max_size=50))
def test_index_round_trip(indices):
    g = compile_scenario(load_scenario(TINY).scenario)
    idx = np.array(indices)
    assert_allclose(g.space.to_index(g.space.from_index(idx)), idx)


def test_hand_computed_utilities(game):
    prefs = game.central_preferences()
    d = np.array([deal(game, north="frozen_line", south="demilitarized", guarantees="strong"),
                  deal(game, north="frozen_line", south="ukraine", guarantees="none")])
    u = game.utilities(prefs, d)[0]
    # alpha: weights 2:1:1 -> 0.5, 0.25, 0.25
    assert u[0, 0] == pytest.approx(0.5 * 0.5 + 0.25 * 0.4 + 0.25 * 1.0)
    # the interaction: frozen north without guarantees loses 0.3 for alpha -> 0.5 - 0.3 = 0.2
    assert u[1, 0] == pytest.approx(0.5 * 0.2 + 0.25 * 1.0 + 0.25 * 0.0)
    # beta: weights 1:1:2, strong guarantees at its mean 0.2
    assert u[0, 1] == pytest.approx(0.25 * 0.6 + 0.25 * 0.7 + 0.5 * 0.2)
    # gamma only cares about guarantees and north, equally
    assert u[0, 2] == pytest.approx(0.5 * 1.0 + 0.5 * 1.0)


def test_interaction_values_are_clipped_to_unit_interval(game):
    prefs = game.central_preferences()
    prefs.deltas[:] = -5.0
    u = game.utilities(prefs, deal(game, north="frozen_line", guarantees="none")[None])[0, 0]
    assert u[0] == pytest.approx(0.5 * 0.0 + 0.25 * 0.4 + 0.25 * 0.0)


def test_territory_accounting(game):
    d = np.array([deal(game, north="ukraine", south="ukraine"),
                  deal(game, north="frozen_line", south="demilitarized"),
                  deal(game, north="de_jure_russia", south="de_facto_russia")])
    acc = game.territory.accounting(d)
    terr = game.territory
    assert terr.parties == (("beta", "alpha"), ("beta", "alpha")) and terr.landholders == ("alpha", "beta")
    beta, alpha = acc["held_km2"][..., 0], acc["held_km2"][..., 1]
    # north 1000 km² 60% held by beta, south 500 km² 20% held by beta
    assert_allclose(beta, [[0, 0], [600, 100], [1000, 500]])
    assert_allclose(acc["buffer_km2"], [[0, 0], [0, 400], [0, 0]])
    assert_allclose(alpha, [[1000, 500], [400, 0], [0, 0]])
    assert_allclose(acc["international_km2"], 0)
    assert_allclose(acc["transferred_km2"], [600 + 100, 400, 400 + 400])
    assert_allclose(acc["gain_km2"][:, 1], [-700, 0, 800])  # beta's net gain
    assert_allclose(acc["gain_km2"][:, 0], [700, -400, -800])  # alpha's: the buffer is no longer its own
    total = beta + acc["buffer_km2"] + alpha
    assert_allclose(total, np.broadcast_to(game.territory.area_km2, total.shape))


def test_line_follows_the_front(game):
    d = deal(game, north="frozen_line", south="demilitarized")[None]
    acc = game.territory.accounting(d, line=np.array([[0.7, 0.3], [0.2, 0.8]]))
    assert_allclose(acc["held_km2"][0, :, 0], [700, 100])
    assert acc["transferred_km2"][0] == pytest.approx(100 + 400)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 8))
def test_utilities_in_unit_interval_and_batch_equals_one_by_one(seed, runs):
    g = compile_scenario(load_scenario(TINY).scenario)
    rng = np.random.default_rng(seed)
    prefs = g.sample_preferences(rng.random((runs, len(g.params))))
    deals = g.space.enumerate()
    u = g.utilities(prefs, deals)
    assert u.shape == (runs, g.space.size, g.n_actors)
    assert np.all((u >= 0) & (u <= 1 + 1e-12))
    for r in range(runs):
        single = g.utilities(prefs.take(slice(r, r + 1)), deals[:5])[0]
        assert_allclose(single, u[r, :5])
        for n in range(3):
            assert_allclose(g.utilities(prefs.take(slice(r, r + 1)), deals[n:n + 1])[0, 0], u[r, n])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_samples_respect_declared_ranges(seed):
    g = compile_scenario(load_scenario(TINY).scenario)
    prefs = g.sample_preferences(np.random.default_rng(seed).random((50, len(g.params))))
    beta = g.actor_index("beta")
    assert np.all((prefs.reservation[:, beta] >= 0.3) & (prefs.reservation[:, beta] <= 0.5))
    assert np.all((prefs.values >= 0) & (prefs.values <= 1))
    assert_allclose(prefs.weights.sum(axis=2), 1.0)


def test_evaluate_proposals(game):
    records = {r["id"]: r for r in evaluate_proposals(game)}
    split = records["split"]
    assert split["utilities"]["alpha"] == pytest.approx(0.6)
    assert split["margins"]["alpha"] == pytest.approx(0.3)
    assert split["accepts"] == {"alpha": True, "beta": True, "gamma": True}
    assert split["area_transferred_km2"] == pytest.approx(400)
    maximal = records["maximal"]
    assert maximal["accepts"]["alpha"] is False and maximal["utilities"]["beta"] == pytest.approx(1.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["tiny", "alaska"]))
def test_single_change_utilities_equal_full_evaluation(seed, which):
    from sim.domain.utility import single_change_utilities
    from tests.conftest import ROOT

    path = TINY if which == "tiny" else ROOT / "scenarios" / "alaska_2025.yaml"
    g = compile_scenario(load_scenario(path).scenario)
    rng = np.random.default_rng(seed)
    prefs = g.sample_preferences(rng.random((3, len(g.params))))
    text = np.stack([rng.integers(0, g.space.n_options) for _ in range(3)])
    fast = single_change_utilities(g.space.offsets, g.space.n_options, g.terms, prefs, text)
    issue_of = np.repeat(np.arange(g.space.n_issues), g.space.n_options)
    option_of = np.concatenate([np.arange(n) for n in g.space.n_options])
    cands = np.repeat(text[:, None, :], len(issue_of), axis=1)
    cands[:, np.arange(len(issue_of)), issue_of] = option_of
    assert_allclose(fast, g.utilities(prefs, cands), atol=1e-12)
