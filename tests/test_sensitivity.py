"""Sobol' sensitivity: the scipy-backed wrapper on the Ishigami function, its intervals and convergence check,
and the CLI's JSON."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sim.insight.sobol import convergence, saltelli_indices
from sim.sensitivity import next_power_of_two, sensitivity_table, sobol_analysis, sobol_design
from tests.conftest import TINY, negsim_command

# Ishigami & Homma (1990) with a = 7, b = 0.1 on [-pi, pi]^3: analytic indices.
ISHIGAMI_FIRST = [0.3139, 0.4424, 0.0]
ISHIGAMI_TOTAL = [0.5576, 0.4424, 0.2437]


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[0]) + a * np.sin(x[1]) ** 2 + b * x[2] ** 4 * np.sin(x[0])


def test_ishigami_indices_match_the_analytic_values():
    res = sobol_analysis(ishigami, [(-np.pi, np.pi)] * 3, n=4096, seed=1)
    assert res.n_evaluations == 4096 * 5
    assert_allclose(res.first_order[0], ISHIGAMI_FIRST, atol=0.03)
    assert_allclose(res.total[0], ISHIGAMI_TOTAL, atol=0.03)


def test_several_outputs_and_a_constant_one():
    def two(x):
        return np.vstack([ishigami(x), np.zeros(x.shape[1])])

    res = sobol_analysis(two, [(-np.pi, np.pi)] * 3, n=1024, seed=2)
    assert_allclose(res.first_order[0], ISHIGAMI_FIRST, atol=0.05)
    assert np.isnan(res.first_order[1]).all() and np.isnan(res.total[1]).all()


def test_our_estimators_are_scipys():
    from scipy.stats import sobol_indices

    n, bounds = 256, [(-np.pi, np.pi)] * 3
    a, b, ab = sobol_design(bounds, n, seed=3)
    f_a, f_b = ishigami(a)[None], ishigami(b)[None]
    f_ab = np.stack([ishigami(m)[None] for m in ab])
    res = sobol_indices(func={"f_A": f_a, "f_B": f_b, "f_AB": f_ab}, n=n)
    first, total = saltelli_indices(f_a, f_b, f_ab)
    assert_allclose(first[0], res.first_order, rtol=1e-10, atol=1e-12)
    assert_allclose(total[0], res.total_order, rtol=1e-10, atol=1e-12)


def test_intervals_hold_the_analytic_indices_and_narrow_with_more_points():
    small = sobol_analysis(ishigami, [(-np.pi, np.pi)] * 3, n=256, seed=1)
    big = sobol_analysis(ishigami, [(-np.pi, np.pi)] * 3, n=4096, seed=1)
    for res in (small, big):
        assert np.all(res.first_ci[0, :, 0] <= ISHIGAMI_FIRST) and np.all(ISHIGAMI_FIRST <= res.first_ci[0, :, 1])
        assert np.all(res.total_ci[0, :, 0] <= ISHIGAMI_TOTAL) and np.all(ISHIGAMI_TOTAL <= res.total_ci[0, :, 1])
        low, high = res.first_ci[0].T
        assert np.all(low <= res.first_order[0]) and np.all(res.first_order[0] <= high)

    def width(r):
        return np.concatenate([np.diff(r.first_ci[0]), np.diff(r.total_ci[0])])

    # 16 times the points: intervals about 4 times narrower (sqrt(16)); at least 2.5 allows for noise.
    assert np.all(width(small) > 2.5 * width(big))
    assert big.convergence[0]["converged"] is True
    assert (small.convergence[0]["stable"], small.convergence[0]["precise"]) == (True, False)
    again = sobol_analysis(ishigami, [(-np.pi, np.pi)] * 3, n=256, seed=1)
    assert_allclose(again.first_ci, small.first_ci)  # the seed fixes the bootstrap too
    assert small.samples_x.shape == (3, 512)
    assert_allclose(small.samples_y[0], ishigami(small.samples_x))  # the A and B points with their outputs


def test_convergence_verdicts():
    full = np.array([[0.30, 0.60], [0.30, 0.60], [0.30, 0.60], [np.nan, np.nan]])
    half = np.array([[0.31, 0.58], [0.50, 0.60], [0.31, 0.58], [np.nan, np.nan]])
    se = np.full((4, 2), 0.02)
    narrow = np.stack([full - 0.04, full + 0.04], axis=-1)
    wide = np.stack([full - 0.2, full + 0.2], axis=-1)
    ci = np.concatenate([narrow[:2], wide[2:]])
    verdicts = convergence(full, half, ci, se, max_width=0.1)
    assert [v["converged"] for v in verdicts] == [True, False, False, None]
    assert verdicts[1]["stable"] is False and verdicts[1]["max_change"] == pytest.approx(0.2)
    assert verdicts[2]["stable"] is True and verdicts[2]["precise"] is False
    assert verdicts[2]["max_width"] == pytest.approx(0.4)


def test_n_must_be_a_power_of_two():
    with pytest.raises(ValueError, match="power of 2"):
        sobol_analysis(ishigami, [(-np.pi, np.pi)] * 3, n=100)
    assert [next_power_of_two(n) for n in (1, 2, 3, 64, 65, 100)] == [1, 2, 4, 64, 128, 128]


def test_cli_sensitivity_json_shape(tmp_path):
    out = tmp_path / "sobol.json"
    cmd = negsim_command() + ["sensitivity", str(TINY), "--sample", "actors.alpha.weights.north=0.5:3",
                              "--sample", "protocol.temperature=0:0.05", "--points", "6", "--runs", "8",
                              "--workers", "1", "--json", "--out", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "rounded up to 8" in result.stderr
    report = json.loads(result.stdout)
    assert json.loads(out.read_text()) == report
    params = ["actors.alpha.weights.north", "protocol.temperature"]
    assert report["parameters"] == params
    assert report["points"] == 8 and report["runs"] == 8 and report["n_evaluations"] == 8 * (2 + 2)
    assert set(report["outputs"]) == {"agreement_rate", "utility_alpha", "utility_beta", "utility_gamma"}
    for block in report["outputs"].values():
        assert set(block["first_order"]) == set(params) and set(block["total"]) == set(params)
    for block in report["outputs"].values():
        for kind in ("first_order", "total"):
            for p in params:
                low, high = block[f"{kind}_ci"][p]
                if block[kind][p] is not None:
                    assert low <= block[kind][p] <= high
        assert set(block["convergence"]) == {"stable", "precise", "converged", "max_change", "max_width"}
    assert report["convergence"]["verdict"] in ("converged", "not converged")
    assert report["convergence"]["half_points"] == 4 and report["bootstrap"]["resamples"] == 1000
    samples = report["samples"]
    assert set(samples["inputs"]) == set(params) and samples["runs"] == 8
    assert all(len(v) == 16 for v in [*samples["inputs"].values(), samples["agreement_rate"], samples["signed_rate"]])
    # The A and B points' rates are the design's: their mean is the reported mean agreement rate.
    assert np.mean(samples["agreement_rate"]) == pytest.approx(report["outputs"]["agreement_rate"]["mean"], abs=1e-6)
    assert all(s >= a for s, a in zip(samples["signed_rate"], samples["agreement_rate"]))
    text = sensitivity_table(report)
    assert "agreement_rate" in text and "first order (95% CI)" in text and "scipy.stats.sobol_indices" in text
    assert f"convergence: {report['convergence']['verdict'].upper()}" in text
    # A report from before the intervals still prints, without them.
    old = {**report, "outputs": {k: {key: v[key] for key in ("first_order", "total", "mean", "variance")}
                                 for k, v in report["outputs"].items()}}
    del old["convergence"]
    assert "95% CI" not in sensitivity_table(old) and "first order" in sensitivity_table(old)
    from sim.insight.figdata import sobol_intervals

    bars = sobol_intervals(report, "utility_alpha")
    assert bars["parameters"] == params and bars["converged"] in (True, False)
    finite = np.isfinite(bars["total"])
    assert np.all(bars["total_low"][finite] <= bars["total"][finite])
    assert np.all(bars["total"][finite] <= bars["total_high"][finite])
    # ... and scenario discovery reads the design's points.
    from sim.insight.discovery import discover

    found = discover(out, threshold=0.5, output="signed", method="prim")
    assert found["points"] == 16 and found["source"] == "sensitivity"
