"""Bargaining analysis (sim.analysis) against brute force and against known answers.

Known answers: Nash (1950), Econometrica 18(2): splitting a unit pie with disagreement point
(d1, d2) gives x1 = d1 + (1 - d1 - d2)/2; on the frontier u2 = 1 - u1^2 with disagreement
(0, 0) Nash gives u1 = 1/sqrt(3) and Kalai & Smorodinsky (1975), Econometrica 43(3), give
u1 = u2 = (sqrt(5) - 1)/2.

`python -m tests.test_analysis` prints timings (kept out of the tests on purpose).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from functools import lru_cache
from math import sqrt
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analysis import (
    TOL,
    analysis_json,
    analysis_text,
    analyze,
    frontier,
    issue_groups,
    nondominated,
)
from sim.analysis.frontier import Thinning, group_frontier
from sim.analysis.tables import Setup
from sim.analysis.zopa import dormant
from sim.domain.game import compile_scenario
from sim.domain.space import DealSpace
from sim.domain.territory import Territory
from sim.domain.utility import InteractionTerms
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
TINY = Path(__file__).resolve().parent / "data" / "tiny.yaml"
EXAMPLES = ROOT / "scenarios" / "examples"
ALASKA = ROOT / "scenarios" / "alaska_2025.yaml"


@lru_cache(maxsize=None)
def load(path: Path):
    return compile_scenario(load_scenario(path).scenario)


def _tiny_game():
    return load(TINY)


def random_game(seed: int, n_options: list[int], n_actors: int = 4, n_terms: int = 0,
                n_signatories: int | None = None, n_consent: int = 0, reservation: float | None = None,
                n_proposals: int = 3, n_red_lines: int = 0):
    """A synthetic Game: random weights and values, optional interaction terms, consent rules and
    red lines (a signatory's anywhere, a consent party's only where its consent counts)."""
    rng = np.random.default_rng(seed)
    n_i = len(n_options)
    space = DealSpace(tuple(f"i{i}" for i in range(n_i)),
                      tuple(tuple(f"o{o}" for o in range(n)) for n in n_options),
                      tuple(int(rng.integers(0, n)) for n in n_options))
    n_flat, offsets, max_opts = sum(n_options), space.offsets, max(n_options)
    t_actor, t_aff, t_cond, t_mask, deltas = [], [], [], [], []
    for _ in range(n_terms if n_i > 1 else 0):
        cond = int(rng.integers(0, n_i))
        others = [i for i in range(n_i) if i != cond]
        aff = np.zeros(n_flat, dtype=bool)
        for i in rng.choice(others, size=min(len(others), int(rng.integers(1, 3))), replace=False):
            picked = rng.choice(n_options[i], size=int(rng.integers(1, n_options[i] + 1)), replace=False)
            aff[offsets[i] + picked] = True
        mask = np.zeros(max_opts, dtype=bool)
        mask[rng.choice(n_options[cond], size=int(rng.integers(1, n_options[cond] + 1)), replace=False)] = True
        t_actor.append(int(rng.integers(0, n_actors)))
        t_aff.append(aff)
        t_cond.append(cond)
        t_mask.append(mask)
        deltas.append(float(rng.uniform(-0.6, 0.6)))  # large enough that clipping to [0, 1] matters
    terms = InteractionTerms(np.array(t_actor, dtype=np.int64), np.array(t_aff, dtype=bool).reshape(-1, n_flat),
                             np.array(t_cond, dtype=np.int64), np.array(t_mask, dtype=bool).reshape(-1, max_opts))
    n_sig = n_actors if n_signatories is None else n_signatories
    consent: list[list[int]] = [[] for _ in range(n_i)]
    for _ in range(n_consent if n_sig < n_actors else 0):
        consent[int(rng.integers(0, n_i))].append(int(rng.integers(n_sig, n_actors)))
    res = rng.uniform(0.2, 0.6, n_actors) if reservation is None else np.full(n_actors, float(reservation))
    red_lines = np.zeros((n_actors, n_flat), dtype=bool)
    for _ in range(n_red_lines):
        a = int(rng.integers(0, n_actors))
        issues = [i for i in range(n_i) if a < n_sig or a in consent[i]]
        if issues:
            i = int(rng.choice(issues))
            o = int(rng.integers(0, n_options[i]))
            if a < n_sig or o != space.defaults[i]:  # keeping the status quo never needs a consent
                red_lines[a, offsets[i] + o] = True
    # Keep at least one option of every issue signable.
    for i in range(n_i):
        if red_lines[:, offsets[i]:offsets[i] + n_options[i]].any(axis=0).all():
            red_lines[:, offsets[i]] = False
    return dataclasses.replace(
        _tiny_game(), name=f"random_{seed}", space=space,
        territory=Territory.empty(),
        actor_ids=tuple(f"a{a}" for a in range(n_actors)), actor_names=tuple(f"A{a}" for a in range(n_actors)),
        roles=tuple(("signatory",) if a < n_sig else ("guarantor",) for a in range(n_actors)),
        base_weights=rng.random((n_actors, n_i)) + 0.05, base_values=rng.random((n_actors, n_flat)),
        base_reservation=res, base_deltas=np.array(deltas, dtype=float), terms=terms, params=(), strategies=(),
        capability=np.ones(n_actors), consent=tuple(tuple(sorted(set(c))) for c in consent),
        proposal_ids=tuple(f"p{k}" for k in range(n_proposals)),
        proposal_names=tuple(f"P{k}" for k in range(n_proposals)),
        proposals=np.stack([rng.integers(0, n, n_proposals) for n in n_options], axis=1), protocol={},
        red_lines=red_lines, base_deadlines=np.ones(n_actors), derived_reservation=np.zeros(n_actors, dtype=bool))


# ---------------------------------------------------------------------------------------------
# Brute force: enumerate every deal
# ---------------------------------------------------------------------------------------------

def brute_dominated(u: np.ndarray, ref: np.ndarray | None = None) -> np.ndarray:
    """Rows of u that some row of ref (default u) dominates, all pairs, no tricks."""
    ref = u if ref is None else ref
    out = np.zeros(len(u), dtype=bool)
    for k in range(len(u)):
        out[k] = np.any(np.all(ref >= u[k] - TOL, axis=1) & np.any(ref > u[k] + TOL, axis=1))
    return out


def brute_force(game) -> dict:
    prefs = game.central_preferences()
    deals = game.space.enumerate()
    u = game.utilities(prefs, deals)[0]
    # A deal a needed party has ruled out can never be signed: it is not in the deal space analysed.
    signable = ~game.crosses_red_line(deals)[:, game.parties].any(axis=1)
    r = prefs.reservation[0]
    need = np.zeros(u.shape, dtype=bool)
    need[:, game.signatories] = True
    for i, who in enumerate(game.consent):
        for a in who:
            need[:, a] |= deals[:, i] != game.space.defaults[i]
    zopa = np.all(~need | (u >= r - TOL), axis=1) & signable
    pareto = np.zeros(len(u), dtype=bool)
    pareto[signable] = ~brute_dominated(u[signable])
    zu = u[zopa]
    s = game.signatories
    out = {"u": u, "deals": deals, "pareto": pareto, "zopa": zopa, "zopa_pareto": int((~brute_dominated(zu)).sum()),
           "u_signable": u[signable]}
    if len(zu):
        gains = np.maximum(zu[:, s] - r[s], 0)
        ideal = zu[:, s].max(axis=0)
        span = ideal - r[s]
        ratio = np.where(span > TOL, gains / np.where(span > TOL, span, 1), 1.0)
        with np.errstate(divide="ignore"):
            log_nash = np.log(gains).sum(axis=1).max()  # logs, so that tiny products still compare
        out.update(nash=log_nash, ideal=ideal, ks=ratio.min(axis=1).max(),
                   utilitarian=zu[:, s].sum(axis=1).max(), utilitarian_all=zu.sum(axis=1).max())
    return out


def distinct(points: np.ndarray) -> np.ndarray:
    return np.unique(np.round(points, 8), axis=0)


def check_against_brute_force(game, result: dict) -> None:
    bf = brute_force(game)
    prefs = game.central_preferences()
    r, s = prefs.reservation[0], game.signatories
    # Pareto frontier: the same utility points and the same number of deals, ties included.
    assert result["pareto_size"] == int(bf["pareto"].sum())
    assert np.array_equal(distinct(result["frontier_utilities"]), distinct(bf["u"][bf["pareto"]]))
    assert (result["frontier_deals"] >= 0).all()
    again = game.utilities(prefs, result["frontier_deals"])[0]
    np.testing.assert_allclose(again, result["frontier_utilities"], atol=1e-9)
    # ZOPA
    assert result["zopa"]["exact"]
    assert result["zopa_size"] == int(bf["zopa"].sum())
    assert result["zopa_pareto_size"] == bf["zopa_pareto"]
    if not bf["zopa"].any():
        assert result["nash"] is None and result["kalai_smorodinsky"] is None and result["utilitarian"] is None
    else:
        for key in ("nash", "kalai_smorodinsky", "utilitarian", "utilitarian_all"):
            point = result[key]
            u = game.utilities(prefs, point["deal_index"][None])[0, 0]
            np.testing.assert_allclose(u, point["utilities"], atol=1e-9)
            k = game.space.to_index(point["deal_index"])
            assert bf["zopa"][k], key
            assert not brute_dominated(u[None], bf["u"][bf["zopa"]])[0], key  # Pareto-optimal within the ZOPA
        gains = lambda key: np.maximum(result[key]["utilities"][s] - r[s], 0)  # noqa: E731
        with np.errstate(divide="ignore"):
            log_nash = np.log(gains("nash")).sum()
        assert log_nash == bf["nash"] if np.isinf(bf["nash"]) else log_nash == pytest.approx(bf["nash"], abs=1e-7)
        np.testing.assert_allclose(result["ideal"], bf["ideal"], atol=1e-9)
        span = bf["ideal"] - r[s]
        ks = np.where(span > TOL, gains("kalai_smorodinsky") / np.where(span > TOL, span, 1), 1).min()
        assert ks == pytest.approx(bf["ks"], abs=1e-9)
        assert result["utilitarian"]["utilities"][s].sum() == pytest.approx(bf["utilitarian"], abs=1e-9)
        assert result["utilitarian_all"]["utilities"].sum() == pytest.approx(bf["utilitarian_all"], abs=1e-9)
    # Proposals
    u_all = bf["u_signable"]
    for p, rec in enumerate(result["proposals"]):
        up = game.utilities(prefs, game.proposals[p][None])[0, 0]
        np.testing.assert_allclose(rec["utilities"], up, atol=1e-12)
        lift = max(0.0, float(np.max(np.min(u_all - up, axis=1))))
        assert rec["distance_to_frontier"] == pytest.approx(lift, abs=1e-9)
        assert rec["pareto_optimal"] == (not brute_dominated(up[None], u_all)[0])
        assert rec["below_reservation"] == [a for k, a in enumerate(game.actor_ids) if up[k] < r[k] - TOL]


# ---------------------------------------------------------------------------------------------
# Exact answers equal brute force
# ---------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n_options=st.lists(st.integers(2, 4), min_size=1, max_size=5),
       n_actors=st.integers(2, 4), n_terms=st.integers(0, 4), n_signatories=st.integers(1, 4),
       n_consent=st.integers(0, 4), split=st.booleans())
def test_exact_analysis_equals_brute_force(seed, n_options, n_actors, n_terms, n_signatories, n_consent, split):
    game = random_game(seed, n_options, n_actors, n_terms, min(n_signatories, n_actors), n_consent,
                       n_red_lines=seed % 4)
    # `split` forces groups linked by interactions to be solved by fixing their condition
    # issues instead of by listing them, so both exact paths are checked.
    with mock.patch.object(frontier, "_SPLIT_ABOVE", 0 if split else frontier._SPLIT_ABOVE):
        result = analyze(game)
    assert result["exact"] and result["max_error"] == 0
    check_against_brute_force(game, result)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), reservation=st.sampled_from([0.0, 0.25, 0.5]), split=st.booleans())
def test_ties_are_counted(seed, reservation, split):
    # Values on a 0.5 grid make many deals share a utility vector (every one must be counted)
    # and put utilities exactly on the reservation values.
    game = random_game(seed, [3, 3, 2, 3], n_actors=3, n_terms=3, n_signatories=2, n_consent=3,
                       reservation=reservation)
    game = dataclasses.replace(game, base_values=np.round(game.base_values * 2) / 2,
                               base_weights=np.ones_like(game.base_weights),
                               base_deltas=np.round(game.base_deltas * 4) / 4)
    with mock.patch.object(frontier, "_SPLIT_ABOVE", 0 if split else frontier._SPLIT_ABOVE):
        result = analyze(game)
    check_against_brute_force(game, result)


@pytest.mark.parametrize("seed", range(3))
def test_many_parties_with_tiny_nash_products(seed):
    # Eight signatories with small gains: products near 1e-10 must still be told apart.
    game = random_game(seed, [3, 3, 3, 2], n_actors=8, reservation=0.4)
    check_against_brute_force(game, analyze(game))


def test_tiny_scenario_equals_brute_force():
    game = load(TINY)
    result = analyze(game)
    check_against_brute_force(game, result)
    assert result["signatories"] == ["alpha", "beta"]


def test_groups_follow_interaction_terms():
    game = load(ALASKA)
    groups = issue_groups(game)
    big = max(groups, key=len)
    names = {game.space.issue_ids[i] for i in big}
    assert names == {"crimea", "luhansk", "donetsk", "zaporizhzhia", "kherson", "security_guarantees",
                     "foreign_troops"}
    assert sorted(i for g in groups for i in g) == list(range(game.space.n_issues))


@pytest.mark.parametrize("with_flags", [False, True])
def test_alaska_interaction_group_split_equals_listing(with_flags):
    # The Alaska group of five regions + guarantees + foreign troops (37,500 combinations) is
    # solved by fixing guarantees and troops; listing every combination must give the same set.
    game = load(ALASKA)
    st_ = Setup.of(game, game.central_preferences(), 0)
    big = max(issue_groups(game), key=len)
    thinning = Thinning(10**9, [])
    split = group_frontier(game, st_, big, thinning, with_flags)
    with mock.patch.object(frontier, "_SPLIT_ABOVE", 10**9):
        listed = group_frontier(game, st_, big, thinning, with_flags)
    assert len(split.crit) < 37_500
    assert np.array_equal(distinct(split.crit), distinct(listed.crit))
    assert split.count.sum() == listed.count.sum()


def test_nondominated_matches_brute_force_on_random_points():
    rng = np.random.default_rng(0)
    pts = rng.random((3000, 4))
    pts = pts / pts.sum(axis=1, keepdims=True) + rng.normal(0, 0.01, pts.shape)  # a thick simplex: many survivors
    pts = np.concatenate([pts, pts[:50]])  # exact duplicates never dominate each other
    assert np.array_equal(nondominated(pts), ~brute_dominated(pts))


# ---------------------------------------------------------------------------------------------
# Known answers from bargaining theory
# ---------------------------------------------------------------------------------------------

def test_nash_pie_known_answer():
    game = load(EXAMPLES / "nash_pie.yaml")
    result = analyze(game)
    d1, d2 = 0.2, 0.4
    x1 = d1 + (1 - d1 - d2) / 2
    assert result["nash"]["deal"] == {"split": "share_040"}
    assert result["nash"]["utilities"][0] == pytest.approx(x1, abs=1e-12)
    assert result["nash"]["utilities"][1] == pytest.approx(1 - x1, abs=1e-12)
    # On a linear frontier with ideal point (1 - d2, 1 - d1) Kalai-Smorodinsky coincides with Nash.
    assert result["kalai_smorodinsky"]["deal"] == {"split": "share_040"}
    assert result["ideal"] == pytest.approx([1 - d2, 1 - d1])
    assert result["zopa_size"] == 41  # shares 0.20 .. 0.60
    assert result["pareto_size"] == 101  # the indifferent mediator dominates nothing
    by_id = {p["id"]: p for p in result["proposals"]}
    assert by_id["party_2_below"]["below_reservation"] == ["party_2"]
    assert by_id["party_2_below"]["blocking"] == ["party_2"]
    assert by_id["even_split"]["pareto_optimal"] and by_id["even_split"]["distance_to_frontier"] == 0


def test_curved_frontier_known_answers():
    game = load(EXAMPLES / "ks_frontier.yaml")
    result = analyze(game)
    grid = 1e-3
    u1, u2 = result["nash"]["utilities"][:2]
    assert u1 == pytest.approx(1 / sqrt(3), abs=grid)
    assert u2 == pytest.approx(1 - u1 ** 2, abs=1e-12)
    golden = (sqrt(5) - 1) / 2  # 0.618034
    k1, k2 = result["kalai_smorodinsky"]["utilities"][:2]
    assert k1 == pytest.approx(golden, abs=grid) and k2 == pytest.approx(golden, abs=grid)
    assert result["ideal"] == pytest.approx([1.0, 1.0])
    check_against_brute_force(game, result)


def test_nash_is_the_pie_formula_for_other_disagreement_points():
    game = load(EXAMPLES / "nash_pie.yaml")
    for d1, d2 in [(0.0, 0.0), (0.1, 0.3), (0.5, 0.1), (0.3, 0.3)]:
        prefs = game.central_preferences()
        prefs.reservation[0, :2] = [d1, d2]
        result = analyze(game, prefs)
        assert result["nash"]["utilities"][0] == pytest.approx(d1 + (1 - d1 - d2) / 2, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# Approximations are flagged and bounded
# ---------------------------------------------------------------------------------------------

def test_thinned_frontier_is_flagged_and_within_its_error_bound():
    game = random_game(3, [4, 4, 3, 3, 3, 4], n_actors=4)  # 246 frontier points when exact
    bf = brute_force(game)
    result = analyze(game, max_frontier=60)
    assert not result["exact"] and result["max_error"] > 0
    assert "epsilon" in result["method"]
    assert analysis_json(result)["exact"] is False
    kept = result["frontier_utilities"]
    for f in bf["u"][bf["pareto"]]:
        assert np.any(np.all(kept >= f - result["max_error"] - 1e-9, axis=1))


def test_zopa_size_is_estimated_when_too_large_to_count():
    game = random_game(5, [4, 4, 4, 3, 3, 3], n_actors=3, n_terms=2, n_signatories=2, n_consent=2, reservation=0.4)
    exact = analyze(game)
    est = analyze(game, exact_limit=10)
    assert exact["zopa"]["exact"] and not est["zopa"]["exact"]
    assert exact["exact"] and not est["exact"] and est["frontier_exact"]
    assert est["zopa"]["low"] <= exact["zopa_size"] <= est["zopa"]["high"]
    assert "sample" in analysis_json(est)["zopa_size_method"]
    assert len(analysis_json(est)["zopa_size_interval"]) == 2


# ---------------------------------------------------------------------------------------------
# The Alaska scenario, output shape, CLI
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def alaska():
    game = load(ALASKA)
    return game, analyze(game)


def test_alaska_analysis_is_consistent(alaska):
    game, result = alaska
    prefs = game.central_preferences()
    r = prefs.reservation[0]
    assert result["exact"]
    assert result["pareto_size"] >= result["pareto_points"] > 100
    assert 0 < result["zopa_size"] < game.space.size
    assert set(result["consent_actors"]) == {"united_states", "europe"}
    for key in ("nash", "kalai_smorodinsky", "utilitarian"):
        point = result[key]
        u = game.utilities(prefs, point["deal_index"][None])[0, 0]
        np.testing.assert_allclose(u, point["utilities"], atol=1e-9)
        assert np.all(u[game.signatories] >= r[game.signatories] - TOL)
        flags = dormant(game, Setup.of(game, prefs, 0), point["deal_index"][None])[0]
        for c, a in enumerate(result["consent_actors"]):
            assert flags[c] or u[game.actor_index(a)] >= r[game.actor_index(a)] - TOL
    # The frontier is over signable deals: none crosses a needed party's red line.
    assert not game.crosses_red_line(result["frontier_deals"])[:, game.parties].any()
    # No sampled signable deal dominates a frontier point, and every one is covered by one.
    rng = np.random.default_rng(1)
    deals = np.stack([rng.integers(0, n, 30000) for n in game.space.n_options], axis=1)
    deals = deals[~game.crosses_red_line(deals)[:, game.parties].any(axis=1)][:3000]
    assert len(deals) > 2000
    u = game.utilities(prefs, deals)[0]
    front = result["frontier_utilities"]
    assert not brute_dominated(front[::7], u).any()
    covered = [np.any(np.all(front >= x - TOL, axis=1)) for x in u]
    assert all(covered)


def test_alaska_zopa_count_agrees_with_sampling(alaska):
    game, result = alaska
    est = analyze(game, exact_limit=10)  # the default 200,000 samples, seed 0
    assert est["zopa"]["low"] <= result["zopa_size"] <= est["zopa"]["high"]


def test_json_shape(alaska):
    game, result = alaska
    out = json.loads(json.dumps(analysis_json(result)))
    for key in ("pareto_size", "zopa_size", "nash", "kalai_smorodinsky", "utilitarian", "proposals", "method", "exact"):
        assert key in out
    assert set(out["nash"]) >= {"deal", "utilities"}
    assert set(out["nash"]["deal"]) == set(game.space.issue_ids)
    assert set(out["nash"]["utilities"]) == set(game.actor_ids)
    assert len(out["proposals"]) == len(game.proposal_ids)
    for p in out["proposals"]:
        assert set(p) >= {"id", "name", "utilities", "distance_to_frontier", "below_reservation", "pareto_optimal"}
        assert p["distance_to_frontier"] >= 0
        assert set(p["below_reservation"]) <= set(game.actor_ids)


def test_text_report(alaska):
    game, result = alaska
    text = analysis_text(game, result)
    assert "Nash" in text and "Kalai-Smorodinsky" in text and "us_28_point_plan" in text
    empty = analyze(random_game(1, [2, 2], n_actors=2, reservation=1.0))
    assert empty["zopa_size"] == 0 and empty["nash"] is None
    assert "empty ZOPA" in analysis_text(random_game(1, [2, 2], n_actors=2, reservation=1.0), empty)
    assert analysis_json(empty)["nash"] is None


def test_command_prints_json_and_text(capsys):
    from sim.cli import main

    assert main(["analyze", str(EXAMPLES / "nash_pie.yaml"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["nash"]["deal"] == {"split": "share_040"}
    assert main(["analyze", str(EXAMPLES / "nash_pie.yaml")]) == 0
    assert "share_040" in capsys.readouterr().out


def test_importing_the_package_leaves_numpy_unloaded():
    # The CLI imports sim.analysis to build its parser; `negsim --help` should not load numpy.
    code = "import sys, sim.analysis; sim.analysis.render_scenario_analysis; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("seed", range(12))
def test_who_must_agree_is_every_signatory_and_consent_on_departure(seed):
    game = random_game(seed, [2, 3, 4, 3], n_actors=4, n_signatories=1 + seed % 3, n_consent=4, n_red_lines=8)
    deals = game.space.enumerate()

    def need_of(issues: list[int]) -> np.ndarray:
        need = np.zeros((len(deals), game.n_actors), dtype=bool)
        need[:, game.signatories] = True
        for i in issues:
            for a in game.consent[i]:
                need[:, a] |= deals[:, i] != game.space.defaults[i]
        return need

    need = need_of(list(range(game.space.n_issues)))
    assert np.array_equal(game.must_agree(deals), need)
    assert np.array_equal(game.must_agree(deals[:, [1, 3]], [1, 3]), need_of([1, 3]))
    assert np.array_equal(game.parties, need.any(axis=0))
    # An option is ruled out exactly when some deal containing it needs the yes of an actor
    # that has it as a red line.
    forbidden = game.forbidden_options()
    flat = deals + game.space.offsets
    for o in range(game.space.n_flat):
        containing = (flat == o).any(axis=1)
        assert forbidden[o] == (need[containing] & game.red_lines[:, o]).any(), o


# ---------------------------------------------------------------------------------------------
# Timings (not a test): python -m tests.test_analysis
# ---------------------------------------------------------------------------------------------

def benchmark(repeats: int = 7) -> None:
    """Print the best and median wall time of analyze() on the benchmark spaces."""
    cases = [(f"random 4 actors, 5x4 + 5x3 options, seed {seed}",
              random_game(seed, [4] * 5 + [3] * 5, n_actors=4, reservation=0.4)) for seed in range(4)]
    cases.append(("alaska_2025", load(ALASKA)))
    for name, game in cases:
        analyze(game)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            result = analyze(game)
            times.append(time.perf_counter() - t0)
        print(f"{name}: {game.space.size:,} deals, frontier {result['pareto_points']:,} points, "
              f"ZOPA {result['zopa_size']:,}: best {min(times) * 1000:.1f} ms, median {np.median(times) * 1000:.1f} ms "
              f"({', '.join(f'{k} {v * 1000:.1f}' for k, v in result['seconds'].items())} ms)")


if __name__ == "__main__":
    benchmark()
