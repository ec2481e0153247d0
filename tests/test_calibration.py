"""Calibration and backtests: the decision likelihood, recovery of known parameters (coverage),
the calibrated scenario, the CLI's files and refusals, and proper scores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sim.calibration.likelihood import DecisionLikelihood, free_parameters
from sim.calibration.observations import Decision, load_observations
from sim.calibration.report import scores
from sim.domain.game import compile_scenario
from sim.scenario import load_scenario
from tests.conftest import negsim_in_process as negsim

ROOT = Path(__file__).resolve().parent.parent
ALASKA = ROOT / "scenarios" / "alaska_2025.yaml"
RECORD = ROOT / "scenarios" / "observations" / "record_2025.yaml"
FREE = ["actors.russia.reservation.premium", "actors.ukraine.reservation.premium",
        "actors.ukraine.values.donetsk.options.de_facto_russia"]


@pytest.fixture(scope="module")
def alaska():
    loaded = load_scenario(ALASKA)
    return loaded, compile_scenario(loaded.scenario)


def _synthetic(game, like_free, theta, n, rng):
    """n decisions by Russia and Ukraine on random deals, answered under theta."""
    import datetime as dt

    space = game.space
    deals = np.column_stack([rng.integers(0, k, size=n) for k in space.n_options])
    # Keep deals no signatory rules out: a red-line crossing says nothing about theta.
    ok = ~game.crosses_red_line(deals)[:, :2].any(axis=1)
    deals = deals[ok][:n]
    actors = rng.integers(0, 2, size=len(deals))
    decisions = [Decision(f"s{i}", dt.date(2025, 9, 1), game.actor_ids[a], int(a), d, False, 1.0, "rejected", None)
                 for i, (a, d) in enumerate(zip(actors, deals))]
    like = DecisionLikelihood(game, decisions, like_free)
    p = like.probabilities(theta[None])[0]
    answers = rng.random(len(p)) < p
    decisions = [Decision(d.id, d.date, d.actor, d.actor_index, d.deal, bool(y), 1.0,
                          "accepted" if y else "rejected", None) for d, y in zip(decisions, answers)]
    return DecisionLikelihood(game, decisions, like_free)


def test_the_likelihood_is_the_logit_of_the_margin_over_the_reservation_value(alaska):
    loaded, game = alaska
    obs = load_observations(RECORD)
    free = free_parameters(game, loaded.scenario, ["protocol.temperature"])
    like = DecisionLikelihood(game, obs.decisions(), free)
    temperature = 0.03
    p = like.probabilities(np.array([[temperature]]))[0]
    prefs = game.central_preferences()
    utility = game.utilities(prefs, like.deals)[0]
    margin = utility[np.arange(len(p)), like.actor] - prefs.reservation[0, like.actor]
    expected = np.where(like.red_line, 1e-4, 1.0 / (1.0 + np.exp(-margin / temperature)))
    np.testing.assert_allclose(p, np.clip(expected, 1e-9, 1 - 1e-9), rtol=1e-9, atol=1e-12)


def test_known_parameters_are_recovered_with_their_stated_coverage(alaska):
    # Bayesian coverage: draw the truth from the prior, simulate the record, infer; the 90%
    # interval should hold the truth about 9 times in 10 (here at least 15 of 20: P(fewer) < 1%).
    from sim.calibration.fit import sample_emcee

    loaded, game = alaska
    free = free_parameters(game, loaded.scenario, FREE)
    covered, rng = [], np.random.default_rng(7)
    for seed in range(20):
        truth = np.array([f.prior.sample(rng, 1)[0] for f in free])
        like = _synthetic(game, free, truth, 80, rng)
        post = sample_emcee(like, walkers=16, steps=500, seed=seed, progress=False)
        lo, hi = np.quantile(post.draws, [0.05, 0.95], axis=0)
        covered.append((lo <= truth) & (truth <= hi))
    covered = np.array(covered)
    assert covered.sum(axis=0).min() >= 15, covered.sum(axis=0)


def test_emcee_is_reproducible_and_map_agrees(alaska):
    from sim.calibration.fit import fit_map, sample_emcee

    loaded, game = alaska
    free = free_parameters(game, loaded.scenario, FREE[:2])
    like = _synthetic(game, free, np.array([0.1, 0.05]), 120, np.random.default_rng(3))
    a = sample_emcee(like, walkers=12, steps=300, seed=5, progress=False)
    b = sample_emcee(like, walkers=12, steps=300, seed=5, progress=False)
    assert np.array_equal(a.draws, b.draws)
    point = fit_map(like).map_point
    assert np.all(np.abs(point - a.mean()) < 2 * a.sd() + 0.01)
    assert 0.1 < a.acceptance < 0.9


def test_scores_are_proper_and_known():
    y = np.array([True, False, True, True])
    perfect = scores(np.array([1.0, 0.0, 1.0, 1.0]), y)
    assert perfect["brier"] < 1e-9 and perfect["hit_rate"] == 1.0
    half = scores(np.full(4, 0.5), y)
    assert half["brier"] == pytest.approx(0.25) and half["log"] == pytest.approx(np.log(2))
    # Proper: the expected Brier score of forecast q under truth p is lowest at q = p.
    p = 0.3
    expected = [p * (1 - q) ** 2 + (1 - p) * q ** 2 for q in np.linspace(0, 1, 101)]
    assert np.argmin(expected) == 30


def _copy_scenario(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "scenarios" / "sources", tmp_path / "sources")
    shutil.copy(ALASKA, tmp_path / ALASKA.name)
    return tmp_path / ALASKA.name


def test_calibrate_writes_a_folder_and_a_calibrated_scenario(tmp_path):
    scenario = _copy_scenario(tmp_path)
    out = tmp_path / "cal"
    args = ["calibrate", scenario, RECORD, "--free", FREE[0], "--free", "protocol.temperature",
            "--steps", "200", "--walkers", "12", "--outcome-draws", "16", "--runs-per-draw", "8", "--out", out]
    done = negsim(*args)
    assert done.returncode == 0, done.stderr
    assert "posterior predictive check over 29 decisions" in done.stdout
    for name in ("manifest.json", "calibration.json", "calibration.txt", "posterior.npz", "calibrated.yaml",
                 "figures/trace.png", "figures/corner.png", "figures/ppc.png"):
        assert (out / name).is_file(), name
    written = scenario.with_name("alaska_2025.calibrated.yaml")
    text = written.read_text()
    assert text.count("# J: calibrated, posterior") == 2 and "name: alaska_2025_calibrated" in text
    calibrated = load_scenario(written)
    assert calibrated.scenario.actors["russia"].reservation.premium.sd < 0.05  # narrower than the prior's 0.05
    result = json.loads((out / "calibration.json").read_text())
    assert {r["path"] for r in result["posterior"]} == {FREE[0], "protocol.temperature"}
    assert result["predictive"]["model"]["brier"] < result["predictive"]["base_rate"]["brier"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"]["sha256"] and manifest["observations"]["sha256"]
    # Again without --force: refused, nothing overwritten.
    before = written.read_bytes()
    again = negsim(*args[:-2], "--out", tmp_path / "cal2")
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr
    assert written.read_bytes() == before and not (tmp_path / "cal2").exists()


@pytest.mark.parametrize("extra, message", [
    (["--free", "actors.russia.values.nato.options.alliance_consensus"], "not an uncertain number"),
    (["--free", "actors.nobody.strategy.exponent"], "unknown actor"),
    (["--free", FREE[0], "--prior", f"{FREE[0]}=0.1"], "PATH=MEAN,SD"),
    (["--free", FREE[0], "--prior", f"{FREE[1]}=0.1,0.02"], "not set free"),
])
def test_calibrate_refuses_bad_requests_in_one_line(tmp_path, extra, message):
    done = negsim("calibrate", ALASKA, RECORD, *extra, "--out", tmp_path / "x")
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x").exists()


def test_a_prior_makes_a_point_number_free(alaska, tmp_path):
    from sim.calibration.command import CalibrationSpec, prepare

    spec = CalibrationSpec(str(ALASKA), str(RECORD), ("actors.russia.values.nato.options.alliance_consensus",),
                           priors=(("actors.russia.values.nato.options.alliance_consensus", 0.35, 0.1),))
    _, game, _, like = prepare(spec)
    assert like.free[0].prior.a == 0.35 and like.free[0].prior.b == 0.1


def test_backtest_scores_after_the_cutoff_and_logs_the_forecast(tmp_path):
    log = tmp_path / "forecasts.jsonl"
    args = ["backtest", ALASKA, RECORD, "--cutoff", "2025-10-01", "--free", FREE[0], "--free", FREE[1],
            "--steps", "200", "--walkers", "12", "--outcome-draws", "16", "--runs-per-draw", "8",
            "--forecast-runs", "200", "--out", tmp_path / "bt", "--log", log]
    done = negsim(*args)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "bt" / "backtest.json").read_text())
    assert result["n_train"] == 8 and result["n_test"] == 21
    assert all(r["date"] > "2025-10-01" for r in result["decisions"])
    assert set(result["scores"]) == {"model", "base_rate", "nothing_new"}
    assert (tmp_path / "bt" / "figures" / "calibration.png").is_file()
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["scenario_sha256"] == load_scenario(ALASKA).sha256 and entry["cutoff"] == "2025-10-01"
    assert entry["made"] and len(entry["decisions"]) == 21


def test_validate_reads_observation_files(tmp_path):
    good = negsim("validate", RECORD)
    assert good.returncode == 0 and "29 scored" in good.stdout
    bad = tmp_path / "observations" / "bad.yaml"
    bad.parent.mkdir()
    _copy_scenario(tmp_path)  # the observations name ../alaska_2025.yaml and quote ../sources/
    bad.write_text(RECORD.read_text().replace("actor: ukraine", "actor: kyiv", 1))
    done = negsim("validate", bad)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[0]
    assert line.startswith(f"{bad}:") and ".actor:" in line and "kyiv" in line
