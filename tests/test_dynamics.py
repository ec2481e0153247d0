"""The war between rounds: front line, costs, reservation values, scheduled events."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from sim.domain.game import compile_scenario
from sim.model.model import NegotiationModel, RunDraws
from sim.scenario import load_scenario
from sim.simulate import ChunkSpec, simulate_chunk
from tests.conftest import DATA, TINY

# A round is a month here (the protocol carries the clock).
TINY_TEXT = TINY.read_text().replace("  max_rounds: 20\n", "  max_rounds: 20\n  round_days: 30.4375\n")

WAR = """
dynamics:
  horizon_rounds: 10
  front:
    north: {gainer: beta, loser: alpha, drift_km2_per_month: NORTH_DRIFT, sd_km2_per_month: NORTH_SD}
    south: {gainer: beta, loser: alpha, drift_km2_per_month: 0}
  costs:
    alpha: {per_month: ALPHA_COST}
    beta: {per_month: 0.0}
  events: EVENTS
"""


def war_scenario(tmp_path, north_drift=0.0, north_sd=0.0, alpha_cost=0.0, events="[]", extra=""):
    text = TINY_TEXT + WAR.replace("NORTH_DRIFT", str(north_drift)).replace("NORTH_SD", str(north_sd)).replace(
        "ALPHA_COST", str(alpha_cost)).replace("EVENTS", events) + extra
    (tmp_path / "tiny_source.txt").write_text((DATA / "tiny_source.txt").read_text())
    path = tmp_path / f"war-{abs(hash(text))}.yaml"
    path.write_text(text)
    return compile_scenario(load_scenario(path).scenario)


def lines(first):
    """(R, T, 2) lines of two-holder regions from the first holder's (beta's) shares (R, T)."""
    first = np.asarray(first, dtype=float)
    return np.stack([first, 1.0 - first], axis=-1)


def build(game, runs=6, seed=0):
    max_rounds = game.protocol["max_rounds"]
    draws = RunDraws.draw(game, seed, np.arange(runs), max_rounds)
    return NegotiationModel(game, game.sample_preferences(draws.params), draws, rng=seed)


def test_static_results_unchanged_by_idle_dynamics(tmp_path):
    # The same clock on both sides: the round length is the protocol's, not the war's.
    (tmp_path / "tiny_source.txt").write_text((DATA / "tiny_source.txt").read_text())
    (tmp_path / "static.yaml").write_text(TINY_TEXT)
    static = compile_scenario(load_scenario(tmp_path / "static.yaml").scenario)
    idle = war_scenario(tmp_path)
    for seed in (0, 11):
        a = simulate_chunk(static, ChunkSpec(seed, 0, (0, 60)))
        b = simulate_chunk(idle, ChunkSpec(seed, 0, (0, 60)))
        assert a["runs"].equals(b["runs"])
        assert a["rounds"].equals(b["rounds"])


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31), drift=st.floats(-400, 400), sd=st.floats(0, 600))
def test_area_conserved_and_shares_in_range(tmp_path_factory, seed, drift, sd):
    game = war_scenario(tmp_path_factory.mktemp("war"), north_drift=drift, north_sd=sd)
    model = build(game, runs=8, seed=seed)
    model.run()
    line = model.line
    assert np.all((line >= 0) & (line <= 1))
    acc = game.territory.accounting(model.text, line)
    held = acc["held_km2"].sum(axis=-1) + acc["buffer_km2"] + acc["international_km2"]
    assert_allclose(held, np.broadcast_to(game.territory.area_km2, held.shape))


def test_front_moves_by_the_drift(tmp_path):
    # one round is one month here; 50 km²/month on a 1000 km² region is 5 points of share a round
    game = war_scenario(tmp_path, north_drift=50.0)
    model = build(game, runs=4)
    model.step()
    assert_allclose(model.line[:, 0, 0], 0.6)
    model.step()
    open_runs = model.active | (model.end_round >= 1)
    assert_allclose(model.line[open_runs, 0, 0], 0.65)
    assert_allclose(model.line[open_runs, 0, 1], 0.35)  # alpha, the loser, holds the rest


def test_frozen_line_is_worth_more_to_whoever_advances(tmp_path):
    game = war_scenario(tmp_path, north_drift=100.0)
    model = build(game, runs=3)
    frozen = game.space.offsets[0] + game.space.option_ids[0].index("frozen_line")
    alpha, beta = game.actor_index("alpha"), game.actor_index("beta")
    before = model.prefs.values[:, [alpha, beta], frozen].copy()
    model.step()
    model.step()
    after = model.prefs.values[:, [alpha, beta], frozen]
    runs = model.end_round >= 1
    # beta (wants the land) gains, alpha loses, in every run still fighting after round 1
    assert np.all(after[runs, 1] > before[runs, 1]) and np.all(after[runs, 0] < before[runs, 0])


def test_costs_lower_the_reservation_value(tmp_path):
    cheap = war_scenario(tmp_path, alpha_cost=0.0, events="""
    - {round: 2, kind: costs, name: war gets dearer, costs: {alpha: 0.01}, source: notes, quote: alpha can fight on}""")
    model = build(cheap, runs=5)
    alpha = cheap.actor_index("alpha")
    r0 = model.reservation[:, alpha].copy()
    model.step()
    model.step()
    model.step()  # round 2 has now run, after the event
    open_runs = model.end_round >= 2
    horizon_months = 10 * 1.0
    assert_allclose(model.reservation[open_runs, alpha], np.clip(r0[open_runs] - horizon_months * 0.01, 0, 1))


def test_advancing_side_values_fighting_on_more(tmp_path):
    # small enough that the 10-round projection (0.6 + 0.1) does not saturate at full control
    game = war_scenario(tmp_path, north_drift=10.0)
    model = build(game, runs=5)
    alpha, beta = game.actor_index("alpha"), game.actor_index("beta")
    r0 = model.reservation.copy()
    for _ in range(3):
        model.step()
    runs = model.end_round >= 2
    assert np.all(model.reservation[runs, beta] > r0[runs, beta])
    assert np.all(model.reservation[runs, alpha] <= r0[runs, alpha])


def test_event_changes_exactly_what_it_declares_when_it_declares(tmp_path):
    game = war_scenario(tmp_path, events="""
    - {round: 3, kind: deadline, name: sanctions deadline, costs: {beta: 0.004}, source: notes, quote: beta can fight on}
    - {round: 3, kind: weights, name: new priorities, weights: {alpha: {guarantees: 3}}, source: notes, quote: alpha wants guarantees}
    - {round: 5, kind: summit, name: summit, pressure: 0.1, source: notes, quote: gamma wants a deal}""")
    model = build(game, runs=4)
    alpha, beta, gamma = (game.actor_index(a) for a in ("alpha", "beta", "gamma"))
    cost0, weights0 = model.war.cost.copy(), model.prefs.weights.copy()
    seen = []
    for k in range(6):
        model.step()
        seen.append((model.war.cost.copy(), model.prefs.weights.copy(), model.war.pressure.copy(),
                     model.events_fired.copy()))
    still = model.end_round >= 5
    # before round 3: nothing changed
    cost_r2, weights_r2, pressure_r2, fired_r2 = seen[2]
    assert_allclose(cost_r2, cost0) and np.array_equal(weights_r2, weights0) and not pressure_r2.any()
    assert fired_r2 == []
    # from round 3: only beta's cost and alpha's weights
    cost_r3, weights_r3, pressure_r3, fired_r3 = seen[3]
    delta = cost_r3 - cost0
    assert_allclose(delta[still, beta], 0.004)
    assert_allclose(np.delete(delta[still], beta, axis=1), 0.0)
    assert np.array_equal(weights_r3[:, [beta, gamma]], weights0[:, [beta, gamma]])
    guarantees = game.space.issue_index("guarantees")
    assert np.all(weights_r3[still, alpha, guarantees] == pytest.approx(3 / (2 + 1 + 3)))
    assert not pressure_r3.any()
    assert [name for _, name in fired_r3] == ["sanctions deadline", "new priorities"]
    assert all(rnd == 3 for rnd, _ in fired_r3)
    # the summit presses the signatories only, from round 5
    pressure_r5 = seen[5][2]
    assert_allclose(pressure_r5[still][:, [alpha, beta]], 0.1)
    assert_allclose(pressure_r5[still][:, gamma], 0.0)


def test_dynamic_run_alone_equals_run_in_batch(tmp_path):
    game = war_scenario(tmp_path, north_drift=30.0, north_sd=80.0, alpha_cost=0.002)
    batch = simulate_chunk(game, ChunkSpec(5, 0, (0, 30)))
    for k in (0, 17, 29):
        alone = simulate_chunk(game, ChunkSpec(5, 0, (k, k + 1)))
        assert batch["runs"].slice(k, 1).equals(alone["runs"])


@settings(max_examples=30, deadline=None)
@given(share=st.floats(0, 1))
def test_line_tied_values_meet_the_all_or_nothing_options(tmp_path_factory, share):
    game = war_scenario(tmp_path_factory.mktemp("line"))
    prefs = game.central_preferences()
    offsets, options = game.space.offsets, game.space.option_ids[0]
    frozen, ukraine, russia = (offsets[0] + options.index(o) for o in ("frozen_line", "ukraine", "de_jure_russia"))
    line = lines([[share, 0.2]])
    moved = game.war.line_values(prefs.values, line)[0, :, frozen]
    stated, to_u, to_r = prefs.values[0, :, frozen], prefs.values[0, :, ukraine], prefs.values[0, :, russia]
    lo, hi = np.minimum.reduce([stated, to_u, to_r]), np.maximum.reduce([stated, to_u, to_r])
    assert np.all((moved >= lo - 1e-12) & (moved <= hi + 1e-12))
    end = game.war.line_values(np.repeat(prefs.values, 3, axis=0), lines([[1.0, 0.2], [0.0, 0.2], [0.6, 0.2]]))
    assert_allclose(end[0, :, frozen], to_r)
    assert_allclose(end[1, :, frozen], to_u)
    assert_allclose(end[2, :, frozen], stated)
