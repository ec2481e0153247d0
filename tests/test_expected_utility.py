"""The expected-utility protocol: Bueno de Mesquita's published example, model properties, scenario runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.domain.game import compile_scenario
from sim.model.protocols.expected_utility import SCALE, expected_utility_rounds, issue_positions, weighted_median
from sim.model.model import OUTCOME_NAMES, NegotiationModel, RunDraws
from sim.catalogue import protocol_class
from sim.scenario import load_scenario
from sim.simulate import ChunkSpec, simulate_chunk
from tests.conftest import ROOT

EXAMPLE = ROOT / "scenarios" / "examples" / "bdm_ec_emissions_1994.yaml"
ALASKA = ROOT / "scenarios" / "alaska_2025.yaml"

# Bueno de Mesquita (1994), Table p. 78, as reproduced in Scholz, Calbert & Smith (2011), Table 1:
# the date (years) by which the EC applies emission standards to medium-sized cars.
ACTORS = ("Netherlands", "Belgium", "Luxembourg", "Germany", "France", "Italy", "UK", "Ireland", "Denmark", "Greece")
CAPABILITY = np.array([0.08, 0.08, 0.03, 0.16, 0.16, 0.16, 0.16, 0.05, 0.05, 0.08])
POSITION = np.array([4, 7, 4, 4, 10, 10, 10, 7, 4, 7], dtype=float)
SALIENCE = np.array([80, 40, 20, 80, 60, 60, 90, 10, 100, 70]) / 100.0
# Scholz et al. (2011), Table 2: median and mean voter position after rounds 1-8 (Q = 1.0).
PUBLISHED_MEDIAN = [8.4, 9.9, 9.9, 9.9, 9.9, 7.4, 8.8, 9.6]
PUBLISHED_MEAN = [7.4, 7.5, 7.6, 7.3, 7.3, 7.4, 7.5, 7.6]
# Published to one decimal; some entries read as truncated (9.96 -> 9.9), others as rounded
# (7.59 -> 7.6), so agreement means being less than one unit of the last digit away.
DIGIT = 0.1


@pytest.fixture(scope="module")
def alaska_eu():
    game = compile_scenario(load_scenario(ALASKA).scenario)
    return dataclasses.replace(game, protocol={**game.protocol, "kind": "expected_utility"})


@pytest.fixture(scope="module")
def example():
    return compile_scenario(load_scenario(EXAMPLE).scenario)


def test_protocol_is_registered():
    assert protocol_class("expected_utility").name == "expected_utility"


def test_published_example_round_by_round():
    """Known answer: the published worked example of the expected-utility model.

    Inputs: Bueno de Mesquita, B. (1994), "Political forecasting: an expected utility method",
    in B. Bueno de Mesquita & F. N. Stokman (eds.), European Community Decision Making: Models,
    Applications, and Comparisons, Yale University Press, table on p. 78 (EC emission standards
    for medium-sized cars), as reproduced in Table 1 of Scholz, J. B., Calbert, G. J. & Smith,
    G. A. (2011), "Unravelling Bueno De Mesquita's group decision model", Journal of Theoretical
    Politics 23(4): 510-531 (conference version: ICAART 2011, SciTePress).
    Answer: Scholz et al. (2011), Table 2, median and mean voter position for rounds 1-8 with
    Q = 1.0 ("No value for Q was given. We chose Q=1.0."), run with the compromise choice of
    the code behind that table (`compromise="scholz_code"`).

    We match every published median but one and every published mean to better than one unit
    of the last published digit. Round 2 is the exception: we get 9.61 where the table has 9.9
    (Belgium, the median actor, closes 75% rather than ~95% of its gap to France that round);
    the sequence then rejoins the published one.
    """
    h = expected_utility_rounds(POSITION, CAPABILITY, SALIENCE, 8, q=1.0, compromise="scholz_code")
    assert h.forecast[0] == 7.0  # the initial weighted median (Condorcet winner)
    assert h.mean[0] == pytest.approx(500.3 / 67.7)  # 7.39
    forecast, mean = h.forecast[1:], h.mean[1:]
    for k in range(8):
        assert abs(mean[k] - PUBLISHED_MEAN[k]) < DIGIT, (k + 1, mean[k])
        if k != 1:
            assert abs(forecast[k] - PUBLISHED_MEDIAN[k]) < DIGIT, (k + 1, forecast[k])
    assert forecast[1] == pytest.approx(9.611, abs=1e-3)  # published 9.9: the one deviation
    # Round 4: Belgium compromises with the Netherlands, far down the scale, as in the paper's run.
    assert h.positions[4, ACTORS.index("Belgium")] < 5.0
    # Risk exponents span BDM's [0.5, 2]: the most and least secure actors sit at the ends.
    assert h.risk.min() == pytest.approx(0.5) and h.risk.max() == pytest.approx(2.0)


def test_least_move_rule_agrees_until_scholz_codes_choice_matters():
    """Moving the least (BDM 1994; Scholz et al. section 6.2) gives the published rounds 1-3 exactly.

    From round 4 on, Belgium holds offers from both sides and the two rules part ways.
    """
    code = expected_utility_rounds(POSITION, CAPABILITY, SALIENCE, 8, compromise="scholz_code")
    least = expected_utility_rounds(POSITION, CAPABILITY, SALIENCE, 8, compromise="least_move")
    np.testing.assert_array_equal(least.positions[:4], code.positions[:4])
    assert abs(least.forecast[1] - PUBLISHED_MEDIAN[0]) < DIGIT
    assert abs(least.forecast[3] - PUBLISHED_MEDIAN[2]) < DIGIT
    assert not np.array_equal(least.positions[4], code.positions[4])


def test_least_move_rule_is_mirror_symmetric():
    """Reversing the scale reverses every forecast: option order carries no bias."""
    both = expected_utility_rounds(np.stack([POSITION, 14.0 - POSITION]), CAPABILITY, SALIENCE, 12)
    np.testing.assert_allclose(both.forecast[:, 1], 14.0 - both.forecast[:, 0], atol=1e-9)


def test_pairwise_probability_collapses_the_example_onto_its_median():
    """Scholz et al.'s eq. 31 as printed (per-dyad normalisation) does not give their Table 2."""
    h = expected_utility_rounds(POSITION, CAPABILITY, SALIENCE, 8, probability="pairwise")
    np.testing.assert_allclose(h.forecast, 7.0)


def test_weighted_median_is_the_condorcet_winner():
    x = np.array([0.0, 30.0, 60.0, 100.0])
    assert weighted_median(x, np.array([1.0, 1.0, 1.0, 0.5])) == 30.0
    assert weighted_median(x, np.array([1.0, 1.0, 1.0, 1.0])) == 45.0  # exact tie: the midpoint
    assert np.isnan(weighted_median(x, np.zeros(4)))


actors_st = st.integers(2, 7).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0, 100), min_size=n, max_size=n),
    st.lists(st.floats(0, 1), min_size=n, max_size=n),
    st.lists(st.floats(0, 1), min_size=n, max_size=n),
))


@settings(max_examples=60, deadline=None)
@given(actors=actors_st, rule=st.sampled_from(["pooled", "pairwise"]))
def test_forecast_stays_within_the_range_of_positions(actors, rule):
    x, c, s = (np.array(v) for v in actors)
    h = expected_utility_rounds(x, c, s, 6, span=SCALE, probability=rule)
    active = s > 0
    if not active.any():
        return
    lo, hi = x[active].min(), x[active].max()
    assert np.all(h.positions[:, active] >= lo - 1e-9) and np.all(h.positions[:, active] <= hi + 1e-9)
    np.testing.assert_array_equal(h.positions[:, ~active], np.broadcast_to(x[~active], h.positions[:, ~active].shape))
    f = h.forecast[~np.isnan(h.forecast)]
    assert np.all(f >= lo - 1e-9) and np.all(f <= hi + 1e-9)
    assert np.all((h.risk[:, active] >= 0.5 - 1e-9) & (h.risk[:, active] <= 2.0 + 1e-9))


@settings(max_examples=40, deadline=None)
@given(actors=actors_st, who=st.integers(0, 6))
def test_an_actor_with_all_capability_and_salience_sets_the_forecast(actors, who):
    x, _, s = (np.array(v) for v in actors)
    who = who % len(x)
    c = np.zeros(len(x))
    c[who], s[who] = 1.0, 1.0
    h = expected_utility_rounds(x, c, s, 6, span=SCALE)
    np.testing.assert_array_equal(h.forecast, x[who])


def test_example_scenario_maps_to_the_published_inputs(example):
    pos, sal = issue_positions(example, example.central_preferences())
    i = example.space.issue_ids.index("emission_standards")
    np.testing.assert_allclose(pos[0, i], (POSITION - 4.0) / 6.0 * SCALE)
    np.testing.assert_allclose(sal[0, i], SALIENCE)
    np.testing.assert_allclose(example.capability, CAPABILITY)


def test_protocol_plays_the_model_on_the_example(example):
    """The protocol's rounds are the pure model's rounds (least-move rule) on the 0-100 scale."""
    draws = RunDraws.draw(example, 0, np.arange(2), 8)
    model = NegotiationModel(example, example.sample_preferences(draws.params), draws, max_rounds=8, rng=0)
    i = example.space.issue_ids.index("emission_standards")
    h = expected_utility_rounds((POSITION - 4.0) / 6.0 * SCALE, CAPABILITY, SALIENCE, 6, span=SCALE)
    years = np.array([int(o.removeprefix("year_")) for o in example.space.option_ids[i]])
    assert years[model.text[0, i]] == 7  # the opening text is the initial median
    for k in range(1, 7):
        model.protocol.advance(model, np.arange(2))
        np.testing.assert_allclose(model.eu_positions[:, i], np.broadcast_to(h.positions[k], (2, 10)), atol=1e-9)
        assert years[model.text[0, i]] == round(4.0 + h.forecast[k] / SCALE * 6.0)
    assert (model.text[:, example.space.issue_ids.index("rest_of_agenda")] == 0).all()


def test_example_scenario_runs(example):
    out = simulate_chunk(example, ChunkSpec(0, 0, (0, 6)))
    runs = out["runs"].to_pandas()
    assert set(runs["outcome"]) <= set(OUTCOME_NAMES.values())
    assert set(runs["deal_emission_standards"]) <= set(example.space.option_ids[0])
    assert (runs["deal_rest_of_agenda"] == "settled").all()


def test_alaska_runs_under_expected_utility(alaska_eu):
    out = simulate_chunk(alaska_eu, ChunkSpec(3, 0, (0, 24)))
    runs = out["runs"].to_pandas()
    assert len(runs) == 24 and set(runs["outcome"]) <= set(OUTCOME_NAMES.values())
    assert runs["round"].between(0, alaska_eu.protocol["max_rounds"] - 1).all()
    for aid in alaska_eu.actor_ids:
        assert runs[f"utility_{aid}"].between(0, 1).all()


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.integers(0, 23), start=st.integers(0, 10))
def test_alaska_run_alone_equals_run_in_batch(alaska_eu, seed, k, start):
    batch = simulate_chunk(alaska_eu, ChunkSpec(seed, 0, (start, start + 24)))
    alone = simulate_chunk(alaska_eu, ChunkSpec(seed, 0, (start + k, start + k + 1)))
    assert batch["runs"].slice(k, 1).equals(alone["runs"])
    rounds = batch["rounds"].filter(pa.compute.equal(batch["rounds"]["run"], start + k))
    assert rounds.equals(alone["rounds"])
