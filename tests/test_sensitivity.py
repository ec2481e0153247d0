"""Sobol' sensitivity: the scipy-backed wrapper on the Ishigami function, and the CLI's JSON."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sim.sensitivity import next_power_of_two, sensitivity_table, sobol_analysis
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
    text = sensitivity_table(report)
    assert "agreement_rate" in text and "first order" in text and "scipy.stats.sobol_indices" in text
