"""Scenario discovery (PRIM, the decision tree) on data with a known answer, and leverage with common random numbers."""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys

import numpy as np
import pandas as pd
import pytest

from sim.errors import UserError
from sim.insight import figdata
from sim.insight.discovery import discover, load_cases
from sim.insight.leverage import affine, leverage, paired_difference_interval, variations
from sim.insight.prim import Box, Inputs, choose, find_boxes, paste, peel, release_idle
from sim.insight.text import discovery_text, leverage_text
from sim.jobs.executors import ExecutorSpec
from sim.results import wilson_interval
from tests.conftest import TINY
from tests.resultsfactory import make_results

SERIAL = ExecutorSpec(workers=1)


def uniform_cases(n: int = 600, seed: int = 3) -> tuple[np.ndarray, Inputs]:
    x = np.random.default_rng(seed).random((n, 3))
    return x, Inputs.from_columns({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]})


def in_true_box(x: np.ndarray) -> np.ndarray:
    """The known answer: a in [0.2, 0.6] and b >= 0.5; c does not matter."""
    return ((x[:, 0] >= 0.2) & (x[:, 0] <= 0.6) & (x[:, 1] >= 0.5)).astype(float)


# --- PRIM ------------------------------------------------------------------------------------

def test_prim_finds_the_true_box_and_leaves_the_idle_input_alone():
    x, inputs = uniform_cases()
    y = in_true_box(x)
    [found] = find_boxes(inputs, y, min_density=1.0)
    (a_lo, a_hi), (b_lo, b_hi), _ = found.pasted.box.limits
    assert found.restricted(inputs) == [0, 1]  # c is never restricted
    assert abs(a_lo - 0.2) < 0.02 and abs(a_hi - 0.6) < 0.02
    assert 0.49 < b_lo < 0.55 and b_hi == x[:, 1].max()
    assert found.pasted.mean == 1.0 and found.pasted.coverage > 0.95 and found.meets_target
    assert found.p_values[0] < 1e-10 and found.p_values[1] < 1e-10


def test_the_target_density_trades_coverage_for_density():
    x, inputs = uniform_cases()
    y = in_true_box(x)
    loose, strict = (find_boxes(inputs, y, min_density=d)[0].pasted for d in (0.8, 1.0))
    assert 0.8 <= loose.mean < strict.mean == 1.0
    assert loose.coverage >= strict.coverage and loose.support > strict.support


def test_noisy_labels_still_give_the_box_with_the_expected_density():
    x, inputs = uniform_cases(1000, seed=5)
    y = in_true_box(x)
    flip = np.random.default_rng(6).random(len(y)) < 0.1
    found = find_boxes(inputs, np.where(flip, 1 - y, y), min_density=0.8)[0]
    (a_lo, a_hi), (b_lo, _), _ = found.pasted.box.limits
    assert abs(a_lo - 0.2) < 0.06 and abs(a_hi - 0.6) < 0.08 and abs(b_lo - 0.5) < 0.06
    assert found.pasted.mean >= 0.8


def test_peeling_trajectory_gives_up_coverage_for_density_down_to_the_minimum_support():
    x, inputs = uniform_cases()
    y = in_true_box(x)
    trajectory = peel(inputs, y, np.ones(len(y), dtype=bool), alpha=0.05, min_count=30)
    support = [s.support for s in trajectory]
    assert support[0] == 1.0 and all(b < a for a, b in itertools.pairwise(support))
    assert all(s.count >= 30 for s in trajectory)
    # Each peel removes about alpha of the box: never more than one case past 5% (no ties here).
    assert all(b.count >= a.count - math.ceil(0.05 * a.count) for a, b in itertools.pairwise(trajectory))
    assert trajectory[-1].mean == 1.0 and trajectory[0].mean == pytest.approx(y.mean())


def test_pasting_moves_a_face_out_to_the_true_edge_and_no_further():
    x = np.linspace(0, 1, 201)
    y = ((x >= 0.4) & (x <= 0.8)).astype(float)
    inputs = Inputs.from_columns({"x": x})
    step = paste(inputs, y, np.ones(len(x), dtype=bool), Box(((0.35, 0.5),)))
    low, high = step.box.limits[0]
    assert low == 0.35  # moving the lower face down only adds cases outside the true box
    assert 0.76 <= high <= 0.8
    assert step.mean > 0.85


def test_a_restriction_that_does_not_matter_is_released():
    x, inputs = uniform_cases()
    y = in_true_box(x)
    from sim.insight.prim import Step

    narrow = Box(((0.2, 0.6), (0.5, 1.0), (0.0, 0.5)))  # c <= 0.5 only halves the box
    inside = narrow.contains(inputs)
    start = Step(narrow, int(inside.sum()), 1.0, y[inside].sum() / y.sum(), inside.mean())
    released = release_idle(inputs, y, np.ones(len(y), dtype=bool), start)
    assert 2 not in released.box.restricted(inputs)
    assert released.mean == start.mean == 1.0 and released.coverage > 1.8 * start.coverage


def test_covering_finds_two_disjoint_boxes():
    x, inputs = uniform_cases(800, seed=8)
    y = (((x[:, 0] <= 0.3) & (x[:, 1] <= 0.3)) | ((x[:, 0] >= 0.7) & (x[:, 1] >= 0.7))).astype(float)
    boxes = find_boxes(inputs, y, min_density=0.9)
    assert len(boxes) == 2
    corners = sorted(b.pasted.box.limits[0][0] for b in boxes)
    assert corners[0] == x[:, 0].min() and corners[1] > 0.65
    assert sum(b.pasted.coverage for b in boxes) > 0.85 and all(b.pasted.mean >= 0.9 for b in boxes)
    assert not (boxes[0].pasted.box.contains(inputs) & boxes[1].pasted.box.contains(inputs) & boxes[1].available).any()


def test_categorical_inputs_peel_one_value_at_a_time():
    rng = np.random.default_rng(9)
    kind = rng.choice(["a", "b", "c", "d"], 600)
    a = rng.random(600)
    y = (np.isin(kind, ["a", "b"]) & (a > 0.5)).astype(float)
    inputs = Inputs.from_columns({"kind": list(kind), "a": a})
    found = find_boxes(inputs, y, min_density=0.95)[0]
    kept = {inputs.categories[0][int(c)] for c in found.pasted.box.limits[0]}
    assert kept == {"a", "b"}
    assert abs(found.pasted.box.limits[1][0] - 0.5) < 0.03 and found.pasted.coverage > 0.95


def test_choose_takes_the_widest_box_reaching_the_target_else_the_densest():
    from sim.insight.prim import Step

    box = Box(((0.0, 1.0),))
    path = [Step(box, 100, 0.5, 1.0, 1.0), Step(box, 80, 0.7, 0.9, 0.8), Step(box, 50, 0.9, 0.7, 0.5),
            Step(box, 20, 1.0, 0.3, 0.2)]
    assert choose(path, 0.85) == (2, True)
    assert choose(path, 0.7) == (1, True)
    assert choose(path[:2], 0.95) == (1, False)


# --- discovery from results folders ------------------------------------------------------------

def grid_sweep(tmp_path, partial_outside: bool = False):
    """A 10 x 10 grid sweep whose runs all agree inside a in [0.3, 0.6], b in [0.5, 0.9] and never outside."""
    grid = np.round(np.linspace(0, 0.9, 10), 6)
    points = pd.DataFrame([{"point": k, "a": float(a), "b": float(b)}
                           for k, (a, b) in enumerate((a, b) for a in grid for b in grid)])
    inside = (points.a >= 0.3) & (points.a <= 0.6) & (points.b >= 0.5)
    outside = "partial" if partial_outside else "breakdown"
    runs = pd.DataFrame([{"point": k, "run": r, "outcome": "agreement" if inside[k] else outside}
                         for k in range(len(points)) for r in range(20)])
    folder = tmp_path / "sweep"
    folder.mkdir()
    points.to_parquet(folder / "points.parquet", index=False)
    runs.to_parquet(folder / "runs.parquet", index=False)
    (folder / "manifest.json").write_text(json.dumps({"scenario": {"name": "grid"}}))
    return folder


def test_discovery_of_a_grid_sweep_recovers_the_box_exactly(tmp_path):
    folder = grid_sweep(tmp_path)
    loose = discover(folder, threshold=0.5)["prim"][0]  # the default target density, 0.8, takes a wider box
    assert loose["coverage"] == 1.0 and 0.8 <= loose["density"] < 1.0
    result = discover(folder, threshold=0.5, min_density=1.0)
    assert result["points"] == 100 and result["of_interest"] == 20 and result["source"] == "sweep"
    [box] = result["prim"]
    assert box["coverage"] == 1.0 and box["density"] == 1.0 and box["points"] == 20
    limits = {r["input"]: (r["low"], r["high"]) for r in box["restrictions"]}
    assert limits == {"a": (0.3, 0.6), "b": (0.5, 0.9)}
    tree = result["tree"]
    assert tree[0]["density"] == 1.0 and tree[0]["coverage"] == 1.0
    assert {r["input"]: (r["low"], r["high"]) for r in tree[0]["restrictions"]} == limits
    text = discovery_text(result)
    assert "20 of 100 points" in text and "0.3 to 0.6" in text and ">= 0.5" in text


def test_signed_counts_ceasefires_and_agreement_does_not(tmp_path):
    folder = grid_sweep(tmp_path, partial_outside=True)
    every = discover(folder, threshold=0.5, output="signed")
    assert every["of_interest"] == 100
    assert discover(folder, threshold=0.5, output="agreement")["of_interest"] == 20
    # Every point reaches it: one box, the whole space, from both methods.
    for box in (every["prim"][0], every["tree"][0]):
        assert box["restrictions"] == [] and box["coverage"] == box["density"] == box["support"] == 1.0
    assert "no input restricted" in discovery_text(every)


def test_no_point_reaching_the_threshold_gives_no_box(tmp_path):
    folder = make_results(tmp_path, n_runs=40, sweep={"actors.alpha.weights.north": [0.5, 1, 2, 3]},
                          outcomes=["breakdown"])
    result = discover(folder, threshold=0.1)
    assert result["of_interest"] == 0 and result["prim"] == [] and result["tree"] == []
    assert "No point reaches the threshold" in discovery_text(result)


def test_discovery_counts_match_the_runs_table(tmp_path):
    folder = make_results(tmp_path, n_runs=1200, points=30, sample={"actors.alpha.weights.north": (0.5, 3.0),
                                                                     "protocol.temperature": (0.0, 0.05)})
    cases = load_cases(folder)
    runs = pd.read_parquet(folder / "runs.parquet")
    rate = runs.assign(ok=runs.outcome == "agreement").groupby("point").ok.mean().to_numpy()
    assert np.allclose(cases.hits["agreement"] / cases.runs, rate)
    result = discover(folder, threshold=0.6)
    assert result["of_interest"] == int((rate >= 0.6).sum())
    assert result["prim"] and all(b["density"] >= 0.6 for b in result["prim"])


def test_discovery_from_a_sensitivity_design(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.random((2, 128))
    rate = np.where(x[0] > 0.5, 0.9, 0.1)
    data = {"scenario": "s", "parameters": ["p", "q"], "runs": 50,
            "samples": {"runs": 50, "inputs": {"p": x[0].tolist(), "q": x[1].tolist()},
                        "agreement_rate": rate.tolist(), "signed_rate": rate.tolist()}}
    path = tmp_path / "sensitivity.json"
    path.write_text(json.dumps(data))
    result = discover(tmp_path, threshold=0.5, min_density=1.0)
    assert result["source"] == "sensitivity" and result["points"] == 128
    [box] = result["prim"]
    assert [r["input"] for r in box["restrictions"]] == ["p"] and box["density"] == 1.0 and box["coverage"] == 1.0


def test_bad_discovery_input_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="has no parameter points"):
        discover(tmp_path)
    make_results(tmp_path, name="single")
    with pytest.raises(UserError, match="has no parameter points"):
        discover(tmp_path / "single")
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"parameters": ["p"], "outputs": {}}))
    with pytest.raises(UserError, match="no sample points"):
        discover(old)
    folder = grid_sweep(tmp_path)
    with pytest.raises(UserError, match="--threshold"):
        discover(folder, threshold=1.5)
    (folder / "runs.parquet").unlink()
    with pytest.raises(UserError, match="has not finished"):
        discover(folder)
    with pytest.raises(UserError, match="does not exist"):
        discover(tmp_path / "nowhere")


def test_without_scikit_learn_the_tree_is_skipped_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # `import sklearn` now raises ImportError
    result = discover(grid_sweep(tmp_path), threshold=0.5)
    assert result["tree"] is None and "scikit-learn is not installed" in result["tree_note"]
    assert result["prim"][0]["coverage"] == 1.0
    assert "decision tree: scikit-learn is not installed" in discovery_text(result)


def test_figure_data_of_a_discovery(tmp_path):
    result = discover(grid_sweep(tmp_path), threshold=0.5, min_density=1.0)
    curve = figdata.discovery_tradeoff(result)
    assert curve["coverage"][0] == 1.0 and curve["density"][0] == pytest.approx(0.2)
    assert curve["density"][curve["chosen"]] == 1.0 and curve["final"] == (1.0, 1.0)
    limits = figdata.discovery_limits(result)
    assert limits["inputs"] == ["a", "b"]
    assert np.allclose(limits["low"], [1 / 3, 5 / 9]) and np.allclose(limits["high"], [2 / 3, 1.0])
    scatter = figdata.discovery_scatter(result)
    assert {scatter["x_name"], scatter["y_name"]} == {"a", "b"} and scatter["of_interest"].sum() == 20
    assert len(scatter["x"]) == 100 and scatter["rectangle"] is not None


# --- leverage --------------------------------------------------------------------------------

def test_paired_interval_covers_the_true_difference():
    rng = np.random.default_rng(11)
    n, hits, trials = 150, 0, 800
    for _ in range(trials):
        old = rng.random(n) < 0.3
        new = np.where(rng.random(n) < 0.8, old, rng.random(n) < 0.45)  # true p_new = 0.8*0.3 + 0.2*0.45
        a, b = int((new & old).sum()), int((new & ~old).sum())
        c, d = int((~new & old).sum()), int((~new & ~old).sum())
        low, high = paired_difference_interval(a, b, c, d)
        hits += low <= 0.33 - 0.3 <= high
    assert 0.93 <= hits / trials <= 0.975


def test_paired_interval_properties():
    low, high = paired_difference_interval(40, 0, 0, 60)  # no run changed: 0, but not a point
    assert low < 0 < high and high - low > 0.01
    assert paired_difference_interval(14, 5, 0, 22) == pytest.approx(
        tuple(-v for v in reversed(paired_difference_interval(14, 0, 5, 22))))
    low, high = paired_difference_interval(36, 12, 2, 0)
    assert low < 10 / 50 < high
    # Uncorrelated pairs (ad = bc, so phi = 0): Newcombe's square-and-add of the two Wilson intervals.
    l1, u1 = wilson_interval(20, 40)
    l2, u2 = wilson_interval(20, 40)
    assert paired_difference_interval(10, 10, 10, 10) == pytest.approx(
        (-math.hypot(0.5 - l1, u2 - 0.5), math.hypot(0.5 - l2, u1 - 0.5)))


def test_affine_keeps_an_uncertain_number_uncertain():
    assert affine({"mean": 0.12, "sd": 0.03}, 2.0, 0.0) == {"mean": 0.24, "sd": 0.06}
    assert affine({"low": 0.2, "high": 0.4}, 0.5, 0.5) == {"low": 0.6, "high": 0.7}
    assert affine(0.3, 0.75, 0.25) == 0.475


def test_variations_of_weight_and_position():
    data = {"actors": {"me": {"weights": {"x": {"mean": 2.0, "sd": 0.5}, "y": 2.0},
                              "values": {"x": {"options": {"lo": 0.0, "hi": 1.0}}}},
                       "you": {"weights": {"x": 1.0}, "values": {"x": {"options": {"lo": 1.0, "hi": 0.2}}}}},
            "issues": {"x": {}, "y": {}}}
    steps, context = variations(data, "me", "x", weight_factors=(0.5,), position_steps=(-0.5, 0.5))
    assert [(v.kind, v.step) for v in steps] == [("baseline", 0.0), ("weight", 0.5), ("position", -0.5),
                                                  ("position", 0.5)]
    assert steps[1].overrides == {("actors", "me", "weights", "x"): {"mean": 1.0, "sd": 0.25}}
    # Hardening moves towards valuing only its favourite (hi); conceding towards the other's view.
    assert steps[2].overrides[("actors", "me", "values", "x", "options", "lo")] == 0.0
    assert steps[2].overrides[("actors", "me", "values", "x", "options", "hi")] == 1.0
    assert steps[3].overrides[("actors", "me", "values", "x", "options", "lo")] == 0.5
    assert steps[3].overrides[("actors", "me", "values", "x", "options", "hi")] == 0.6
    assert context["favourite"] == "hi" and context["reference"] == {"lo": 1.0, "hi": 0.2}
    with pytest.raises(UserError, match="did you mean me"):
        variations(data, "mee", "x")
    with pytest.raises(UserError, match="no issue 'z'"):
        variations(data, "me", "z")
    with pytest.raises(UserError, match="no other actor values y"):
        variations(data, "me", "y", weight_factors=(), position_steps=(0.5,))
    with pytest.raises(UserError, match="between -1 and 1"):
        variations(data, "me", "x", position_steps=(1.5,))


def test_leverage_uses_common_random_numbers_and_the_override_mechanism():
    from sim.jobs import scenario_with_sets
    from sim.simulate import ChunkSpec, simulate_chunk

    result = leverage(str(TINY), "beta", "guarantees", runs=120, seed=4, weight_factors=(1.0, 2.0),
                      position_steps=(0.0, 0.5), executor=SERIAL)
    neutral = [s for s in result["steps"] if s["kind"] != "baseline" and s["step"] in (0.0, 1.0)]
    assert len(neutral) == 2
    for step in neutral:  # the same runs with the same numbers: not one run may differ
        assert step["agreement"]["change"] == 0 and step["agreement"]["gained"] == step["agreement"]["lost"] == 0
    # Each step is the scenario with the override written out by hand, on the same seeded runs.
    doubled = next(s for s in result["steps"] if s["kind"] == "weight" and s["step"] == 2.0)
    for step, sets in ((result["steps"][0], ()), (doubled, ("actors.beta.weights.guarantees=4",))):
        _, game = scenario_with_sets(str(TINY), sets)
        outcome = simulate_chunk(game, ChunkSpec(4, 0, (0, 120), False))["runs"]["outcome"].to_pylist()
        assert step["agreement"]["rate"] == pytest.approx(outcome.count("agreement") / 120)
    assert doubled["share"] == pytest.approx(4 / 6)
    cell = doubled["agreement"]
    assert cell["change"] == pytest.approx((cell["gained"] - cell["lost"]) / 120)
    assert cell["change_low"] <= cell["change"] <= cell["change_high"]
    text = leverage_text(result)
    assert "weight x factor" in text and "position" in text and "reference" in text
    curves = figdata.leverage_curves(result)
    assert list(curves["weight"]["step"]) == [1.0, 1.0, 2.0] and list(curves["position"]["step"]) == [0.0, 0.0, 0.5]


def _parser():
    from sim.cli.insight import add_parsers

    parser = argparse.ArgumentParser(prog="negsim")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_handlers(tmp_path, capsys):
    folder = grid_sweep(tmp_path)
    out = tmp_path / "discovery.json"
    args = _parser().parse_args(["discover", str(folder), "--threshold", "50%", "--out", str(out)])
    assert args.handler(args) == 0
    assert "PRIM boxes" in capsys.readouterr().out
    assert json.loads(out.read_text())["of_interest"] == 20
    args = _parser().parse_args(["leverage", str(TINY), "--actor", "alpha", "--issue", "north", "--runs", "30",
                                 "--workers", "1", "--what", "weight", "--weight-factors", "0.5,2", "--json"])
    assert args.handler(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [s["kind"] for s in printed["steps"]] == ["baseline", "weight", "weight"]
    args = _parser().parse_args(["leverage", str(TINY), "--actor", "nobody", "--issue", "north", "--runs", "5"])
    with pytest.raises(UserError, match="no actor 'nobody'"):
        args.handler(args)
    with pytest.raises(SystemExit):
        _parser().parse_args(["discover", str(folder), "--threshold", "2"])
    for command in ("discover", "leverage"):
        with pytest.raises(SystemExit) as done:
            _parser().parse_args([command, "--help"])
        assert done.value.code == 0 and "usage: negsim " + command in capsys.readouterr().out


# --- where the figures and the report find the results ---------------------------------------------

def test_folder_discovery_takes_the_median_level_and_follows_the_files(tmp_path):
    folder = grid_sweep(tmp_path)  # 20 of 100 points always agree, the rest never: the median is the floor, 0
    result = figdata.folder_discovery(folder)
    assert result["threshold"] == 1.0 and result["threshold_rule"] == "above floor"
    assert result["of_interest"] == 20 and result["tree"] is None  # PRIM only
    assert result["prim"][0]["coverage"] == 1.0
    again = figdata.folder_discovery(folder)
    assert again == result and again is not result  # kept, but handed out as a copy
    runs = pd.read_parquet(folder / "runs.parquet").assign(outcome="agreement")
    runs.to_parquet(folder / "runs.parquet", index=False)
    changed = figdata.folder_discovery(folder)
    assert changed["threshold_rule"] == "constant" and changed["threshold"] == 1.0


def test_leverage_out_writes_leverage_json_where_plot_and_report_find_it(tmp_path, capsys, monkeypatch):
    from sim.plots.load import read_folder

    common = ["leverage", str(TINY), "--actor", "beta", "--issue", "guarantees", "--runs", "20", "--workers", "1",
              "--what", "weight", "--weight-factors", "2"]
    folder = make_results(tmp_path, n_runs=10)  # a results folder of the same scenario, tiny
    args = _parser().parse_args([*common, "--out", str(folder)])
    assert args.handler(args) == 0
    written = json.loads((folder / "leverage.json").read_text())
    assert [s["kind"] for s in written["steps"]] == ["baseline", "weight"]
    assert read_folder(folder).leverage == written
    fresh = tmp_path / "lever"
    args = _parser().parse_args([*common, "--out", str(fresh)])
    assert args.handler(args) == 0 and (fresh / "leverage.json").is_file()
    assert read_folder(fresh).leverage["actor"] == "beta"
    named = tmp_path / "beta.json"
    args = _parser().parse_args([*common, "--out", str(named)])
    assert args.handler(args) == 0 and json.loads(named.read_text())["issue"] == "guarantees"
    capsys.readouterr()

    def no_work(*a, **k):
        raise AssertionError("simulated before refusing --out")

    monkeypatch.setattr("sim.insight.leverage.leverage", no_work)
    other = make_results(tmp_path, n_runs=10, name="other")
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["scenario"]["name"] = "alaska_2025"
    (other / "manifest.json").write_text(json.dumps(manifest))
    for out, message in ((other, "holds results of scenario 'alaska_2025', not of 'tiny'"),
                         (tmp_path / "missing" / "deeper", "does not exist"),
                         (tmp_path / "missing" / "x.json", "does not exist")):
        args = _parser().parse_args([*common, "--out", str(out)])
        with pytest.raises(UserError, match=message):
            args.handler(args)
    assert not (tmp_path / "missing").exists()


def test_discover_defaults_to_the_median_level_the_figures_use(tmp_path, capsys):
    folder = make_results(tmp_path, n_runs=1200, points=30, sample={"actors.alpha.weights.north": (0.5, 3.0),
                                                                     "protocol.temperature": (0.0, 0.05)})
    rates = load_cases(folder)
    rates = rates.hits["agreement"] / rates.runs
    out = tmp_path / "found.json"
    args = _parser().parse_args(["discover", str(folder), "--method", "prim", "--out", str(out)])
    assert args.handler(args) == 0
    text = capsys.readouterr().out.splitlines()
    written = json.loads(out.read_text())
    assert written["threshold"] == pytest.approx(np.median(rates)) and written["threshold_rule"] == "median"
    assert text[1] == f"(the level, {100 * np.median(rates):.4g}%, is the median of the points' rates; " \
                      "--threshold sets another)"
    figure = figdata.folder_discovery(folder)
    assert figure["threshold"] == written["threshold"] and figure["prim"] == written["prim"]
