"""The alternating-offers protocol: Rubinstein's known answers, termination, offers, rotation, reproducibility."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.domain.game import compile_scenario
from sim.domain.space import DealSpace
from sim.model.protocols.alternating import Alternating
from sim.model.model import AGREEMENT, OPEN_AT_HORIZON, NegotiationModel, RunDraws
from sim.domain.strategies import make_strategy
from sim.scenario import load_scenario
from sim.simulate import ChunkSpec, simulate_chunk
from tests.conftest import ROOT, TINY, scripted_responses as _scripted

EXAMPLES = ROOT / "scenarios" / "examples"
TINY_TEXT = TINY.read_text().replace("  kind: mediated\n", "  kind: alternating\n")
RUBINSTEIN = [("rubinstein_equal.yaml", 0.95, 0.95), ("rubinstein_unequal.yaml", 0.9, 0.8)]


@pytest.fixture(scope="module")
def tiny():
    return compile_scenario(load_scenario(TINY).scenario)


def alternating(game, **protocol):
    """The game under the alternating protocol, with protocol settings overridden."""
    return dataclasses.replace(game, protocol={**game.protocol, "kind": "alternating", **protocol})


def build(game, runs=8, seed=0, max_rounds=None) -> NegotiationModel:
    max_rounds = max_rounds or game.protocol["max_rounds"]
    draws = RunDraws.draw(game, seed, np.arange(runs), max_rounds)
    return NegotiationModel(game, game.sample_preferences(draws.params), draws, max_rounds=max_rounds, rng=seed)


def grid_share(n: int, horizon: int, d1: float, d2: float) -> Fraction:
    """First mover's share in subgame-perfect play of the finite game over a pie cut in n slices, exactly.

    Backward induction in exact arithmetic: the proposer gives the responder the smallest
    number of slices worth at least what the responder gets by waiting a round.
    """
    d = (Fraction(str(d1)), Fraction(str(d2)))
    value = [Fraction(0), Fraction(0)]
    first = None
    for t in range(horizon - 1, -1, -1):
        p, q = t % 2, 1 - t % 2
        give = Fraction(math.ceil(value[q] / d[q] ** t * n), n)
        if (1 - give) * d[p] ** t >= value[p]:
            value[p], value[q] = (1 - give) * d[p] ** t, give * d[q] ** t
            first = 1 - give if p == 0 else give
    return first


def rubinstein(d1: float, d2: float) -> float:
    """Rubinstein's (1982) first-mover share for discount factors d1, d2."""
    return (1 - d2) / (1 - d1 * d2)


@pytest.mark.parametrize("name,d1,d2", RUBINSTEIN)
def test_rubinstein_known_answer(name, d1, d2):
    game = compile_scenario(load_scenario(EXAMPLES / name).scenario)
    assert tuple(game.discount) == (d1, d2)
    runs = simulate_chunk(game, ChunkSpec(0, 0, (0, 3)))["runs"].to_pandas()
    assert (runs["outcome"] == "agreement").all() and (runs["round"] == 0).all()
    share = runs["utility_first"].to_numpy()
    n, horizon = len(game.space.option_ids[0]) - 1, game.protocol["max_rounds"]
    assert np.allclose(share, float(grid_share(n, horizon, d1, d2)), atol=1e-12)
    # A pie in n slices moves the equilibrium by less than 1 / (n (1 - d1 d2)): each round the
    # proposer rounds the responder's share up to a whole slice.
    assert np.all(np.abs(share - rubinstein(d1, d2)) < 1 / (n * (1 - d1 * d2)))
    assert np.allclose(share + runs["utility_second"].to_numpy(), 1.0)


def pie(game, n: int):
    """The two-player pie game cut into n slices instead of the example's grid."""
    options = tuple(f"share_{k:05d}" for k in range(n + 1))
    share = np.arange(n + 1) / n
    return dataclasses.replace(
        game, space=DealSpace(game.space.issue_ids, (options,), (n // 2,)),
        base_values=np.stack([share, 1 - share]),
        terms=dataclasses.replace(game.terms, cond_mask=np.zeros((0, n + 1), dtype=bool)))


@pytest.mark.parametrize("name,d1,d2", RUBINSTEIN)
def test_rubinstein_share_converges_as_the_pie_is_cut_finer(name, d1, d2):
    base = compile_scenario(load_scenario(EXAMPLES / name).scenario)
    errors, horizon = [], 160  # long enough: 0.95 ** 160 < 3e-4
    for n in (100, 1000, 10000):
        model = build(pie(base, n), runs=2, max_rounds=horizon)
        model.run()
        assert (model.status == AGREEMENT).all() and (model.end_round == 0).all()
        share = model.text[:, 0] / n
        assert np.all(share == float(grid_share(n, horizon, d1, d2)))
        errors.append(abs(share[0] - rubinstein(d1, d2)))
        assert errors[-1] < 1 / (n * (1 - d1 * d2))
    assert errors[-1] < 1e-3 and errors[-1] < errors[0]


def test_subgame_perfect_responder_rejects_less_than_waiting_is_worth():
    # The responder's threshold is what it gets by waiting: the first mover cannot take more.
    game = compile_scenario(load_scenario(EXAMPLES / "rubinstein_unequal.yaml").scenario)
    model = build(game, runs=1)
    plan = model.protocol.plan
    w_second = plan.aspiration[0, 0, 1]
    assert w_second == pytest.approx(0.8 * (1 - plan.deal[0, 1, 0] / 1000), abs=1e-9)
    assert 1 - plan.deal[0, 0, 0] / 1000 >= w_second - 1e-9
    assert 1 - (plan.deal[0, 0, 0] + 1) / 1000 < w_second


def zero_reservations(text: str) -> str:
    for value in ("0.3", "{low: 0.3, high: 0.5}", "0.2"):
        text = text.replace(f"reservation: {{value: {value},", "reservation: {value: 0,")
    return text


def test_time_dependent_strategies_end_in_agreement_or_stay_open(write_scenario):
    # Discount 1; nobody's reservation is above anything on offer, so nobody walks out.
    text = zero_reservations(TINY_TEXT)
    assert text.count("reservation: {value: 0,") == 3
    game = compile_scenario(load_scenario(write_scenario(text)).scenario)
    assert np.all(game.discount == 1.0)
    runs = simulate_chunk(game, ChunkSpec(5, 0, (0, 64)))["runs"].to_pandas()
    assert set(runs["outcome"]) <= {"agreement", "open"}
    assert (runs["outcome"] == "agreement").mean() > 0.5
    assert runs["round"].between(0, game.protocol["max_rounds"] - 1).all()


def test_every_run_ends(tiny):
    model = build(alternating(tiny), runs=64, seed=2)
    model.run()
    assert not model.active.any()
    assert np.all(model.end_round < tiny.protocol["max_rounds"])


def test_hardliners_never_agree_and_time_out(tiny):
    # Both ask for their best deal every round and the other never gives it: talks time out.
    game = alternating(tiny, temperatures=(0.0,) * tiny.n_actors, patience=(1000,) * tiny.n_actors)
    game = dataclasses.replace(game, strategies=tuple(make_strategy("hardliner") for _ in tiny.strategies))
    model = build(game, runs=16)
    model.run()
    assert (model.status == OPEN_AT_HORIZON).all()


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31), discount=st.sampled_from([1.0, 0.97]))
def test_offers_give_the_proposer_its_aspiration(seed, discount):
    game = alternating(compile_scenario(load_scenario(TINY).scenario))
    game = dataclasses.replace(game, discount=np.full(game.n_actors, discount))
    rounds = simulate_chunk(game, ChunkSpec(seed, 0, (0, 12)))["rounds"].to_pandas()
    order = Alternating(game).order
    proposer = rounds["round"].map(lambda t: game.actor_ids[order[t % len(order)]])
    mine = rounds[rounds["actor"] == proposer]
    assert len(mine)
    # Its own offer is worth its aspiration to it, discounted; when the aspiration is beyond
    # reach (the pie has shrunk) it asks for its best deal, worth 1 (undiscounted) in tiny.
    reachable = np.minimum(mine["aspiration"], discount ** mine["round"])
    assert (mine["utility"] >= reachable - 1e-9).all()
    assert mine["accepted"].all()


def test_agreement_needs_every_signatory(tiny, monkeypatch):
    _scripted(monkeypatch, {"alpha": True, "beta": False, "gamma": True})
    model = build(alternating(tiny, patience=(1000,) * tiny.n_actors), runs=16)
    model.run()
    # beta accepts only its own offers, which come in odd rounds (order: alpha, beta)
    agreed = model.status == AGREEMENT
    assert agreed.any() and np.all(model.end_round[agreed] % 2 == 1)
    assert all(model.protocol.proposer_at(t) == tiny.actor_index("beta") for t in model.end_round[agreed])


def test_no_agreement_when_every_responder_rejects(tiny, monkeypatch):
    _scripted(monkeypatch, {"alpha": False, "beta": False, "gamma": True})
    model = build(alternating(tiny), runs=16)
    model.run()
    assert not (model.status == AGREEMENT).any()


def test_agreements_are_signed_by_every_signatory(tiny):
    out = simulate_chunk(alternating(tiny), ChunkSpec(11, 0, (0, 48)))
    runs, rounds = out["runs"].to_pandas(), out["rounds"].to_pandas()
    done = runs[runs["outcome"] == "agreement"]
    assert len(done)
    for _, row in done.iterrows():
        last = rounds[(rounds["run"] == row["run"]) & (rounds["round"] == row["round"])]
        assert last.set_index("actor").loc[["alpha", "beta"], "accepted"].all()


def test_proposer_rotation_follows_proposer_order(tiny, monkeypatch):
    _scripted(monkeypatch, {"alpha": False, "beta": False, "gamma": False})
    order = ("beta", "gamma", "alpha", "beta")
    game = alternating(tiny, proposer_order=order, patience=(1000,) * tiny.n_actors)
    model = build(game, runs=4, max_rounds=11)
    model.run()
    expected = [tiny.actor_index(order[t % 4]) for t in range(11)]
    assert model.protocol.proposers == expected
    for rec in model.round_records():
        # everyone was scripted to reject, so the only acceptance is the proposer's own
        assert np.all(rec["accepted"].sum(axis=1) == 1)
        assert np.all(rec["accepted"][:, expected[rec["round"]]])


def test_default_proposer_order_is_the_signatories(tiny):
    assert Alternating(alternating(tiny)).order == tuple(tiny.signatories)


def test_proposer_knows_its_own_draws_but_only_estimates_the_others(tiny):
    game = alternating(tiny)
    model = build(game, runs=6, seed=4)
    beta = game.actor_index("beta")
    runs = np.arange(6)
    beliefs = model.protocol.beliefs(model, beta, runs)
    central = game.central_preferences()
    assert np.array_equal(beliefs.values[:, beta], model.prefs.values[:, beta])
    assert np.array_equal(beliefs.reservation[:, beta], model.prefs.reservation[:, beta])
    others = [a for a in range(game.n_actors) if a != beta]
    assert np.array_equal(beliefs.values[:, others], np.repeat(central.values[:, others], 6, axis=0))
    assert np.array_equal(beliefs.reservation[:, others], np.repeat(central.reservation[:, others], 6, axis=0))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.integers(0, 23), start=st.integers(0, 10))
def test_run_alone_equals_run_in_batch(seed, k, start):
    game = alternating(compile_scenario(load_scenario(TINY).scenario))
    batch = simulate_chunk(game, ChunkSpec(seed, 0, (start, start + 24)))
    alone = simulate_chunk(game, ChunkSpec(seed, 0, (start + k, start + k + 1)))
    split = simulate_chunk(game, ChunkSpec(seed, 0, (start + k, start + 24)))
    assert batch["runs"].slice(k, 1).equals(alone["runs"])
    assert batch["runs"].slice(k).equals(split["runs"])
    rounds = batch["rounds"].filter(pc.equal(batch["rounds"]["run"], start + k))
    assert rounds.equals(alone["rounds"])
    assert isinstance(rounds, pa.Table)


def test_subgame_perfect_play_follows_the_plan_with_several_issues(tiny):
    # Complete information and no noise: the first equilibrium offer is tabled and signed.
    game = alternating(tiny, temperatures=(0.0,) * tiny.n_actors)
    game = dataclasses.replace(game, discount=np.array([0.9, 0.85, 0.95]),
                               strategies=tuple(make_strategy("subgame_perfect") for _ in tiny.strategies))
    model = build(game, runs=32, seed=9)
    plan = model.protocol.plan
    model.run()
    agree = plan.agree[:, 0]
    assert agree.mean() > 0.5
    assert np.all(model.status[agree] == AGREEMENT) and np.all(model.end_round[agree] == 0)
    assert np.array_equal(model.text[agree], plan.deal[agree, 0])
    # Every signatory gets at least what it would get by holding out (and never less than no deal).
    u = game.utilities(model.prefs, model.text[:, None, :])[:, 0, :]
    signatories = game.signatories
    assert np.all(u[agree][:, signatories] >= model.prefs.reservation[agree][:, signatories] - 1e-9)


def test_a_responder_walks_out_on_a_proposer_that_stopped_conceding(tiny):
    # alpha asks for everything every time; what that leaves beta is below beta's reservation,
    # so beta walks out after `patience` such offers (alpha proposes in rounds 0, 2, 4): the
    # talks pause in round 4.
    strategies = (make_strategy("hardliner"),) + tiny.strategies[1:]
    game = dataclasses.replace(alternating(tiny, temperatures=(0.0,) * tiny.n_actors, patience=(3, 3, 3)),
                               strategies=strategies)
    model = build(game, runs=16, seed=3, max_rounds=5)
    model.run()
    assert (model.suspensions == 1).all() and (model.walked_away == game.actor_index("beta")).all()

