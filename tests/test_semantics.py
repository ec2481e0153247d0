"""The model's semantics: calendar time, pauses, red lines, reservation floors, the mediator's
weight, common random numbers, consistency warnings and the Nash pie under mediation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.domain.game import compile_scenario
from sim.jobs.executors import ExecutorSpec
from sim.model.model import NegotiationModel, RunDraws
from sim.scenario import load_scenario
from sim.simulate import ChunkSpec, nearest_proposal, simulate_chunk

ROOT = Path(__file__).resolve().parent.parent
ALASKA = ROOT / "scenarios" / "alaska_2025.yaml"
NASH = ROOT / "scenarios" / "examples" / "nash_pie.yaml"


@pytest.fixture(scope="module")
def alaska():
    loaded = load_scenario(ALASKA)
    return loaded, compile_scenario(loaded.scenario)


@pytest.fixture(scope="module")
def alaska_runs(alaska):
    return simulate_chunk(alaska[1], ChunkSpec(7, 0, (0, 400)))


def test_rounds_follow_the_calendar(alaska):
    loaded, game = alaska
    sc = loaded.scenario
    # 15 Aug 2025 to 30 Jun 2026 is 319 days, about 22.8 fortnights: 23 rounds of 13.87 days
    # after the opening one, so the last round falls on the horizon, not 11 days before it
    assert game.protocol["max_rounds"] == 24 == sc.n_rounds
    assert sc.round_days == pytest.approx(319 / 23)
    assert sc.round_at(sc.protocol.horizon) == pytest.approx(23)
    assert game.date_of_round(23) == "2026-06-30"
    assert game.date_of_round(1) == "2025-08-29"


def test_agreement_curve_is_monotone_and_ends_at_the_horizon():
    from sim.results import agreement_by_date

    manifest = {"as_of": "2025-08-15", "horizon": "2025-12-31", "round_days": 14, "max_rounds": 10}
    points = agreement_by_date(np.array([0, 3, 3, 9]), 10, manifest)
    dates = [d for d, *_ in points]
    assert dates == ["2025-08-31", "2025-09-30", "2025-10-31", "2025-11-30", "2025-12-31"]
    shares = [p for _, p, _, _ in points]
    assert shares == sorted(shares) and shares[0] == 0.1 and shares[-1] == 0.4


def test_no_actor_signs_below_its_reservation_or_across_a_red_line(alaska, alaska_runs):
    _, game = alaska
    runs = alaska_runs["runs"].to_pandas()
    agreed = runs[runs["outcome"] == "agreement"]
    for aid in ("russia", "ukraine"):
        assert (agreed[f"utility_{aid}"] >= agreed[f"reservation_{aid}"] - 1e-12).all()
    assert not agreed["deal_donetsk"].isin(["de_facto_russia", "de_jure_russia"]).any()


def test_the_mediator_never_tables_a_red_line_option(alaska, alaska_runs):
    _, game = alaska
    rounds = alaska_runs["rounds"].to_pandas()
    texts = np.stack(rounds["text"].to_numpy()).astype(np.int64)
    forbidden = game.forbidden_options()
    later = rounds["round"].to_numpy() > 0  # round 0 is the mediator's own ideal text, already filtered
    assert not forbidden[(texts + game.space.offsets)[later]].any()


def test_forbidden_options_respect_consent_scope(alaska):
    _, game = alaska
    forbidden = game.forbidden_options()
    i = game.space.issue_index("donetsk")
    options = game.space.option_ids[i]
    start = game.space.offsets[i]
    assert forbidden[start + options.index("de_facto_russia")]
    assert not forbidden[start + options.index("frozen_line")]


def test_noisy_rationality_is_explicit(write_scenario):
    text = (ROOT / "tests" / "data" / "tiny.yaml").read_text()
    assert "noisy_rationality" not in text
    game = compile_scenario(load_scenario(write_scenario(text)).scenario)
    assert game.protocol["noisy_rationality"] is False


def test_the_mediators_weight_is_exactly_its_bias(alaska):
    _, game = alaska
    from sim.model.protocols.mediated import Mediated

    draws = RunDraws.draw(game, 0, np.arange(3), game.protocol["max_rounds"])
    model = NegotiationModel(game, game.sample_preferences(draws.params), draws, rng=0)
    proto = model.protocol
    assert isinstance(proto, Mediated)
    us = game.actor_index("united_states")
    lam = proto.objective_weights(model, np.arange(3))
    assert np.allclose(lam[:, us], game.protocol["mediator_bias"])
    assert np.allclose(lam.sum(axis=1), 1.0)
    assert game.parties[us]  # a guarantor whose consent can be needed, all the same


def test_nearest_proposal_has_a_distance_limit(alaska):
    _, game = alaska
    deal = game.proposals[game.proposal_ids.index("us_28_point_plan")].copy()
    best, dist = nearest_proposal(game, deal[None])
    assert game.proposal_ids[best[0]] == "us_28_point_plan" and dist[0] == 0
    for i in (5, 6, 7):  # change three policy issues
        deal[i] = (deal[i] + 1) % game.space.n_options[i]
    best, dist = nearest_proposal(game, deal[None])
    assert best[0] == -1 and dist[0] >= 3


def test_walkouts_pause_and_talks_resume(alaska, alaska_runs):
    runs = alaska_runs["runs"].to_pandas()
    assert (runs["suspensions"] > 0).any()
    assert "breakdown" not in set(runs["outcome"])  # no breakdown event in the scenario
    resumed = runs[(runs["suspensions"] > 0) & (runs["outcome"] == "open")]
    assert len(resumed) > 0


#: Short patience and pauses, and strategies whose concessions depend on the path: many pauses, some of
#: them while every other open run of a small chunk is paused too.
PAUSING = ("protocol.talks.resume_probability=1.0", "protocol.patience_days=14", "protocol.talks.pause_days=20",
           "actors.russia.strategy.kind=tit_for_tat", "actors.ukraine.strategy.kind=tit_for_tat")


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
@pytest.mark.parametrize("protocol", ["mediated", "alternating"])
def test_a_paused_run_plays_alone_as_in_any_chunk(engine, protocol):
    # A paused run's actors used to concede and answer only in rounds where another run of its chunk
    # was at the table: alone, run 1 of seed 5 agreed; among 200 it stayed open. So a run's outcome
    # depended on the chunking, and with it on the number of workers.
    from sim.jobs import scenario_with_sets
    from sim.model.kernel import numba_available

    if engine == "compiled" and not numba_available():
        pytest.skip("numba (the `fast` extra) is not installed")
    game = scenario_with_sets(str(ALASKA), (f"protocol.kind={protocol}", *PAUSING))[1]
    batch = simulate_chunk(game, ChunkSpec(5, 0, (0, 120), False), engine=engine)["runs"]
    paused = [k for k, n in enumerate(batch.column("suspensions").to_pylist()) if n > 0]
    assert len(paused) >= 2
    for k in paused[:6]:
        alone = simulate_chunk(game, ChunkSpec(5, 0, (k, k + 1), False), engine=engine)["runs"]
        assert alone.to_pylist() == batch.slice(k, 1).to_pylist(), k


def test_breakdown_only_by_an_explicit_event(alaska_with_breakdown, alaska):
    path = alaska_with_breakdown
    game = compile_scenario(load_scenario(path).scenario)
    runs = simulate_chunk(game, ChunkSpec(7, 0, (0, 200)), )["runs"].to_pandas()
    share = (runs["outcome"] == "breakdown").mean()
    assert 0.35 < share < 0.65
    assert (runs.loc[runs["outcome"] == "breakdown", "day"] <= 42).all()


def test_war_costs_move_derived_reservations(alaska):
    loaded, game = alaska
    base = game.central_preferences().reservation[0]
    costly = game.war.cost * 10
    from sim.domain.war import reservation_split

    split = reservation_split(game, game.central_preferences(derive=False), game.war.drift[None], costly[None])
    ru = game.actor_index("russia")
    assert split["reservation"][0, ru] < base[ru] - 0.1


def test_a_field_the_scenario_does_not_use_changes_nothing(tmp_path):
    # capability is read only by the expected-utility protocol; Alaska is mediated.
    from sim.jobs import JobSpec, run_job
    from sim.results import point_rates

    spec = JobSpec(kind="sweep", scenario=str(ALASKA), grids=("actors.europe.capability=0.2:1.0:3",),
                   runs=150, seed=11)
    result = run_job(spec, out=tmp_path / "sweep", argv=["test"], executor=ExecutorSpec(1))
    n, agreed = point_rates(result.out / "runs.parquet", 3)
    import pandas as pd

    runs = pd.read_parquet(result.out / "runs.parquet")
    per_point = [runs[runs["point"] == p].drop(columns=["point"]).reset_index(drop=True) for p in range(3)]
    for other in per_point[1:]:
        pd.testing.assert_frame_equal(per_point[0].drop(columns=[c for c in other if c.startswith("p:")]),
                                      other.drop(columns=[c for c in other if c.startswith("p:")]))
    assert len(set(agreed.tolist())) == 1


def test_nash_pie_agrees_near_the_nash_split_under_mediation():
    game = compile_scenario(load_scenario(NASH).scenario)
    assert game.protocol["kind"] == "mediated"
    runs = simulate_chunk(game, ChunkSpec(1, 0, (0, 100)))["runs"].to_pandas()
    assert (runs["outcome"] == "agreement").mean() > 0.95
    share = runs["deal_split"].str.slice(6).astype(int) / 100
    assert abs(share.median() - 0.40) <= 0.06


def test_shipped_scenarios_match_the_record_at_point_estimates():
    from sim.domain.consistency import consistency_warnings

    examples = sorted((ROOT / "scenarios" / "examples").glob("*.yaml"))
    assert len(examples) == 7
    for path in (ALASKA, ROOT / "scenarios" / "peace_plan_nov_2025.yaml", *examples):
        loaded = load_scenario(path)
        assert consistency_warnings(loaded, compile_scenario(loaded.scenario)) == []


def test_validate_warns_and_strict_fails(write_scenario, capsys):
    from sim.cli import main

    text = ALASKA.read_text().replace("      ukraine:\n        response: rejected\n        date: 2025-08-12",
                                      "      ukraine:\n        response: accepted\n        date: 2025-08-12", 1)
    text = text.replace("      per_month: 0.0005                           # J: aid money and attention",
                        "      per_month: 0.0005", 1)
    path = write_scenario(text, name="alaska_warn.yaml")
    (path.parent / "sources").mkdir(exist_ok=True)
    for f in (ROOT / "scenarios" / "sources").iterdir():
        (path.parent / "sources" / f.name).write_bytes(f.read_bytes())
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "proposals.us_framework_pre_alaska.responses.ukraine: warning: the record says accepted" in err
    assert "dynamics.costs.united_states.per_month: warning: a judgement with neither" in err
    assert main(["validate", "--strict", str(path)]) == 2


def test_explain_states_every_structural_knob(alaska):
    from sim.report_text import explain

    loaded, game = alaska
    text = explain(loaded.scenario, game)
    for knob in ("one round every 13.9 days", "acceptance temperature", "bias 0.3", "step 1",
                 "walks out after 42 days", "resume with probability 0.9", "derived from the war (Fearon)"):
        assert knob in text


def test_jansen_total_index_known_answer():
    # f depends on group 1 only: swapping group 1 changes f as much as resampling everything,
    # swapping group 2 changes nothing.
    from sim.drivers import _jansen

    rng = np.random.default_rng(0)
    x1_a, x1_b = rng.random(4000), rng.random(4000)
    f_a, f_b = np.sin(6 * x1_a), np.sin(6 * x1_b)
    rows = np.arange(4000)
    assert _jansen(f_a, f_b, f_b, rows) == pytest.approx(1.0, abs=0.06)  # A with group 1 from B is f(B)
    assert _jansen(f_a, f_b, f_a, rows) == 0.0


def test_jansen_removes_chance_noise():
    # A knob that only reshuffles which runs agree (the same probability in every row) drives
    # nothing; without the paired correction its binomial noise would read as an index of ~0.5.
    from sim.drivers import _jansen

    rng = np.random.default_rng(1)
    p = rng.random(400)[:, None]  # the inputs set each row's probability
    y_a = (rng.random((400, 32)) < p).astype(float)
    y_b = (rng.random((400, 32)) < rng.random(400)[:, None]).astype(float)
    reshuffled = (rng.random((400, 32)) < p).astype(float)
    assert _jansen(y_a, y_b, reshuffled, np.arange(400)) == pytest.approx(0.0, abs=0.03)
    assert _jansen(y_a, y_b, y_b, np.arange(400)) == pytest.approx(1.0, abs=0.1)


def test_drivers_are_reproducible_and_in_range(alaska):
    from sim.drivers import GROUPS, drivers, drivers_text

    loaded, _ = alaska
    a = drivers(loaded.scenario, rows=6, runs_per_row=6, seed=3, boot=20)
    b = drivers(loaded.scenario, rows=6, runs_per_row=6, seed=3, boot=20)
    assert a == b
    assert set(a.total) == set(GROUPS) and all(v >= 0 for v in a.total.values())
    assert 0.0 <= a.rate <= 1.0 and 0.0 <= a.chance <= 1.0
    assert "structural knobs" in drivers_text(a)


def test_report_shows_derived_reservations_and_the_date_curve(tmp_path):
    from sim.jobs import JobSpec, run_job
    from sim.report import build_report

    result = run_job(JobSpec(kind="run", scenario=str(ALASKA), runs=300, seed=5, rounds=False), out=tmp_path / "r",
                     argv=["test"], executor=ExecutorSpec(1))
    html = build_report(result.out)
    assert "derived from the war" in html
    import pandas as pd

    assert (pd.read_parquet(result.out / "runs.parquet")["outcome"] == "agreement").any()
    assert "<th>agreement by</th>" in html and "<td>2025-12-31</td>" in html


def _with_protocol(loaded, **changes):
    sc = loaded.scenario
    return sc.model_copy(update={"protocol": sc.protocol.model_copy(update=changes)})


def test_hidden_flexibility_does_not_accumulate_over_rounds(alaska):
    # The same text answered ten times is accepted by the same runs every time, with the
    # logistic's chance: more rounds are not more coin tosses.
    loaded, game = alaska
    draws = RunDraws.draw(game, 3, np.arange(2000), game.protocol["max_rounds"])
    model = NegotiationModel(game, game.sample_preferences(draws.params), draws, collect_rounds=False, rng=3)
    ua = game.actor_index("ukraine")
    actor = model.actors[ua]
    actor.aspiration[:] = model.reservation[:, ua] + 0.05
    utility = np.repeat(model.reservation[:, ua:ua + 1] + 0.03, game.n_actors, axis=1)
    first = model.respond(utility)[:, ua].copy()
    for _ in range(9):
        assert np.array_equal(model.respond(utility)[:, ua], first)
    temperature = game.protocol["temperatures"][ua]
    expected = 1.0 / (1.0 + np.exp(0.02 / temperature))
    assert first.mean() == pytest.approx(expected, abs=0.03)


@pytest.mark.parametrize("round_days", [7, 28])
def test_the_clocks_grain_leaves_calendar_quantities_alone(alaska, round_days):
    from sim.domain.war import reservation_split

    loaded, game = alaska
    other = compile_scenario(_with_protocol(loaded, round_days=round_days))
    prefs = game.central_preferences(derive=False)
    base = reservation_split(game, prefs, game.war.drift[None], game.war.cost[None])
    moved = reservation_split(other, prefs, other.war.drift[None], other.war.cost[None])
    np.testing.assert_allclose(moved["reservation"], base["reservation"])  # a year ahead, at any grain
    assert other.date_of_round(other.protocol["max_rounds"] - 1) == "2026-06-30"  # the last round on the horizon
    days = {"patience": other.protocol["patience"][0] * other.round_days,
            "consent_patience": other.protocol["consent_patience"] * other.round_days}
    assert days["patience"] >= 42 and days["patience"] < 42 + other.round_days
    assert days["consent_patience"] >= 56 and days["consent_patience"] < 56 + other.round_days


def test_no_deadline_means_conceding_over_the_look_ahead_not_by_the_horizon(alaska):
    loaded, game = alaska
    eu = game.actor_index("europe")
    assert loaded.scenario.actors["europe"].strategy.deadline is None
    assert game.central_preferences().deadlines[0, eu] == pytest.approx(365 / game.round_days)
    later = compile_scenario(_with_protocol(loaded, horizon=__import__("datetime").date(2027, 6, 30)))
    assert later.central_preferences().deadlines[0, eu] * later.round_days == pytest.approx(365)


def test_horizon_and_look_ahead_are_checked(write_scenario, capsys):
    from sim.cli import main

    text = (ROOT / "tests" / "data" / "tiny.yaml").read_text()
    assert "max_rounds: 20" in text
    early = write_scenario(text.replace("  max_rounds: 20", "  horizon: 2025-01-01"), "early.yaml")
    assert main(["validate", str(early)]) != 0
    assert "protocol.horizon" in capsys.readouterr().err
    from pydantic import ValidationError

    from sim.scenario.schema import Dynamics

    with pytest.raises(ValidationError, match="not both"):
        Dynamics(look_ahead_days=365, horizon_rounds=26)
