"""The installed `negsim` console script, end to end, in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import TINY, negsim_command


def negsim(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(negsim_command() + list(args), capture_output=True, text=True, cwd=cwd, timeout=300)


def test_help_and_module_entry_point():
    script = negsim("--help")
    assert script.returncode == 0 and "validate" in script.stdout and "run" in script.stdout
    module = subprocess.run([sys.executable, "-m", "sim", "--help"], capture_output=True, text=True)
    assert module.returncode == 0 and module.stdout == script.stdout


def test_validate_ok_and_summary():
    result = negsim("validate", str(TINY))
    assert result.returncode == 0, result.stderr
    assert "OK: tiny" in result.stdout and "18 possible deals" in result.stdout


def test_validate_reports_every_problem_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.read_text().replace("weights: {north: 2,", "weights: {north: -2,").replace(
        "  mediator: gamma", "  mediator: nobody"))
    (tmp_path / "tiny_source.txt").write_text((TINY.parent / "tiny_source.txt").read_text())
    result = negsim("validate", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{bad}:") for line in lines)
    assert any("actors.alpha.weights.north: weight -2.0 is outside" in line for line in lines)
    assert any("protocol.mediator: unknown actor 'nobody'" in line for line in lines)


def test_explain_shows_quotes():
    result = negsim("explain", str(TINY), "--actor", "beta")
    assert result.returncode == 0
    assert "Beta" in result.stdout and "“beta hates guarantees”" in result.stdout and "Alpha [" not in result.stdout
    missing = negsim("explain", str(TINY), "--actor", "omega")
    assert missing.returncode == 2 and "no actor 'omega'" in missing.stderr


def test_evaluate_json_contract():
    result = negsim("evaluate", str(TINY), "--json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    first = data["proposals"][0]
    assert {"name", "utilities", "accepts", "margins", "area_transferred_km2"} <= set(first)
    assert first["name"] == "Split the difference"
    assert first["utilities"]["alpha"] == pytest.approx(0.6)
    assert first["accepts"] == {"alpha": True, "beta": True, "gamma": True}
    assert first["area_transferred_km2"] == pytest.approx(400)


def test_evaluate_table():
    result = negsim("evaluate", str(TINY))
    assert result.returncode == 0 and "Split the difference" in result.stdout and "km² moved" in result.stdout


def test_run_writes_results_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "res"
    result = negsim("run", str(TINY), "--runs", "120", "--seed", "5", "--out", str(out), "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "agreement rate" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["seed"] == 5 and manifest["runs"] == 120
    assert len(manifest["scenario"]["sha256"]) == 64 and manifest["started"] and manifest["finished"]
    # the console script's own command line (a command run from Python records its arguments instead)
    assert manifest["command"][1:] == ["run", str(TINY), "--runs", "120", "--seed", "5", "--out", str(out),
                                       "--workers", "2"]
    runs = pd.read_parquet(out / "runs.parquet")
    assert list(runs["run"]) == list(range(120))
    rounds = pd.read_parquet(out / "rounds.parquet")
    assert set(rounds["actor"]) == {"alpha", "beta", "gamma"}
    before = (out / "runs.parquet").read_bytes()
    again = negsim("run", str(TINY), "--runs", "10", "--out", str(out))
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    assert (out / "runs.parquet").read_bytes() == before


def test_run_results_identical_across_worker_counts(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert negsim("run", str(TINY), "--runs", "90", "--seed", "9", "--out", str(one), "--workers", "1",
                  "--chunk", "90").returncode == 0
    assert negsim("run", str(TINY), "--runs", "90", "--seed", "9", "--out", str(two), "--workers", "2",
                  "--chunk", "7").returncode == 0
    pd.testing.assert_frame_equal(pd.read_parquet(one / "runs.parquet"), pd.read_parquet(two / "runs.parquet"))
    pd.testing.assert_frame_equal(pd.read_parquet(one / "rounds.parquet"), pd.read_parquet(two / "rounds.parquet"))


def test_nonsense_flags_are_rejected_cleanly():
    result = negsim("run", str(TINY), "--runs", "many")
    assert result.returncode == 2 and "expected a whole number" in result.stderr
    result = negsim("run", str(TINY), "--runs", "0")
    assert result.returncode == 2 and "at least 1" in result.stderr


def test_missing_scenario_file(tmp_path):
    result = negsim("validate", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and result.stderr.strip() == f"{tmp_path / 'nope.yaml'}: no such file"


def test_default_results_folder_is_under_results(tmp_path):
    result = negsim("run", str(TINY), "--runs", "5", "--workers", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (made,) = list((tmp_path / "results").iterdir())
    assert made.name.startswith("tiny-") and (made / "manifest.json").exists()


def test_trace_tells_one_runs_story():
    result = negsim("run", str(TINY), "--seed", "3", "--trace", "5")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Run 5 of tiny (seed 3)")
    assert "Round 0" in out and "on the table:" in out and "Outcome:" in out
    assert "Alpha rejects" in out or "Alpha accepts" in out
