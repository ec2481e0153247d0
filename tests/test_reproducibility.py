"""Reproducibility: the same scenario, seed and parameters give the same tables, whatever runs them.

Run k of point p draws everything from SeedSequence(seed, spawn_key=(p, k)), so the tables may
not depend on repetition, worker count, backend (serial, process pool, threads, Dask) or chunk size;
`negsim rerun` checks a results folder against a fresh run of its manifest.
"""

from __future__ import annotations

import functools
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
import sim.jobs.cluster
from sim.domain.game import compile_scenario
from sim.jobs import JobSpec, plan_chunks, run_job
from sim.jobs.executors import ExecutorSpec
from sim.scenario import load_scenario
from sim.simulate import ChunkSpec, simulate_chunk
from tests.conftest import DATA, TINY
from tests.conftest import negsim_in_process as negsim

GRID = "actors.alpha.weights.north=0.5,2"
RUNS = 23  # chunks of 7 leave a short last chunk


def read(out: Path) -> dict[str, pa.Table]:
    return {name: pq.read_table(out / f"{name}.parquet") for name in ("points", "runs", "rounds")
            if (out / f"{name}.parquet").exists()}


def assert_same_tables(out: Path, reference: Path) -> None:
    got, want = read(out), read(reference)
    assert sorted(got) == sorted(want) == ["points", "rounds", "runs"]
    for name in want:
        assert got[name].schema == want[name].schema, name
        assert got[name].equals(want[name]), f"{name}.parquet differs"


def job(chunk: int | None) -> JobSpec:
    return JobSpec(kind="sweep", scenario=str(TINY), grids=(GRID,), runs=RUNS, seed=2025, chunk_size=chunk,
                   rounds=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The job run serially in one chunk per point."""
    return run_job(job(RUNS), out=tmp_path_factory.mktemp("ref") / "out", executor=ExecutorSpec(1), progress=False).out


def test_repeated_runs_are_byte_identical(tmp_path, reference):
    again = run_job(job(RUNS), out=tmp_path / "again", executor=ExecutorSpec(1), progress=False).out
    for name in ("points", "runs", "rounds"):
        assert (again / f"{name}.parquet").read_bytes() == (reference / f"{name}.parquet").read_bytes(), name


@pytest.mark.parametrize("workers, chunk, backend", [
    (1, 1, "serial"),
    (1, 7, "serial"),
    (2, 7, "pool"),
    (2, 1, "pool"),
    (2, RUNS, "pool"),
    (2, 7, "threads"),
    (2, 1, "threads"),
    (2, 7, "dask"),
    (1, 1, "dask"),
])
def test_tables_do_not_depend_on_workers_backend_or_chunks(tmp_path, monkeypatch, reference, workers, chunk,
                                                           backend):
    dask = None
    if backend == "dask":
        # An in-process LocalCluster (threads): the Dask path without the cost of starting processes.
        monkeypatch.setattr(sim.jobs.cluster, "dask_executor",
                            functools.partial(sim.jobs.cluster.dask_executor, processes=False))
        dask = "local"
    threads = {"threads": True, "pool": False}.get(backend)
    out = run_job(job(chunk), out=tmp_path / "out", executor=ExecutorSpec(workers, dask, threads), progress=False).out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["chunk_size"] == chunk and manifest["parameters"]["dask"] == dask
    assert manifest["backend"] == backend
    assert_same_tables(out, reference)


def test_a_real_two_process_dask_cluster_gives_the_same_tables(tmp_path, reference):
    pytest.importorskip("distributed")
    start = time.monotonic()
    out = tmp_path / "dask"
    # The numpy engine's local cluster is worker processes (the compiled engine's, threads of this one).
    result = negsim("sweep", TINY, "--grid", GRID, "--runs", RUNS, "--seed", 2025, "--rounds", "--chunk", 5,
                    "--dask", "local", "--workers", 2, "--engine", "numpy", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert_same_tables(out, reference)
    assert time.monotonic() - start < 60


def test_a_local_dask_cluster_for_the_compiled_engine_is_threads_of_this_process():
    pytest.importorskip("distributed")
    import os

    from sim.jobs.executors import ExecutorSpec

    with ExecutorSpec(2, "local", threads=True).open() as executor:
        assert {executor.submit(os.getpid).result() for _ in range(4)} == {os.getpid()}
    with ExecutorSpec(2, "local", threads=False).open() as executor:
        assert os.getpid() not in {executor.submit(os.getpid).result() for _ in range(4)}


def test_worker_threads_take_short_turns_at_the_gil_and_the_interval_comes_back():
    import sys

    from sim.jobs.executors import THREAD_SWITCH_INTERVAL, ExecutorSpec

    before = sys.getswitchinterval()
    assert before > THREAD_SWITCH_INTERVAL  # Python's default, 5 ms
    with ExecutorSpec(2, threads=True).open() as executor:
        assert executor.submit(sys.getswitchinterval).result() == THREAD_SWITCH_INTERVAL
    assert sys.getswitchinterval() == before
    with ExecutorSpec(2, threads=False).open() as executor:  # worker processes: nothing to share
        assert sys.getswitchinterval() == before
    with pytest.raises(RuntimeError), ExecutorSpec(2, threads=True).open():
        raise RuntimeError("a failing job")
    assert sys.getswitchinterval() == before


# --- properties: chunked equals unchunked -------------------------------------------------------

DYNAMICS = """
dynamics:
  horizon_rounds: 10
  front:
    north: {gainer: beta, loser: alpha, drift_km2_per_month: 25, sd_km2_per_month: 60}
    south: {gainer: beta, loser: alpha, drift_km2_per_month: -5, sd_km2_per_month: 10}
  costs:
    alpha: {per_month: 0.004}
    beta: {per_month: 0.002}
  events:
    - {round: 3, kind: deadline, name: sanctions deadline, costs: {beta: 0.004},
       source: notes, quote: beta can fight on}
    - {round: 5, kind: summit, name: summit, pressure: 0.1, source: notes, quote: gamma wants a deal}
"""


@pytest.fixture(scope="module")
def games(tmp_path_factory) -> dict:
    """tiny.yaml under each protocol, and with a war going on (drift, noise, costs, events)."""
    folder = tmp_path_factory.mktemp("dynamic")
    shutil.copy(DATA / "tiny_source.txt", folder / "tiny_source.txt")
    (folder / "tiny_dynamic.yaml").write_text(TINY.read_text().replace("  max_rounds: 20\n", "  max_rounds: 20\n  round_days: 30.4375\n") + DYNAMICS)
    out = {name: compile_scenario(load_scenario(TINY, {"protocol.kind": name}).scenario)
           for name in ("mediated", "alternating", "expected_utility")}
    out["dynamic"] = compile_scenario(load_scenario(folder / "tiny_dynamic.yaml").scenario)
    return out


GAMES = ["mediated", "alternating", "expected_utility", "dynamic"]


def test_the_games_differ(games):
    """The four games are really different models (else the properties below test one thing four times)."""
    outcomes = {name: simulate_chunk(games[name], ChunkSpec(1, 0, (0, 30)))["runs"] for name in GAMES}
    for a in GAMES:
        for b in GAMES:
            if a < b:
                assert not outcomes[a].equals(outcomes[b]), (a, b)


def chunked(game, seed: int, point: int, runs: int, size: int, rounds: bool) -> dict[str, pa.Table]:
    specs = [spec for _, p, spec in plan_chunks(point + 1, runs, seed, size, rounds) if p == point]
    assert [s.runs for s in specs] == [(a, min(a + size, runs)) for a in range(0, runs, size)]
    parts = [simulate_chunk(game, spec) for spec in specs]
    return {name: pa.concat_tables([p[name] for p in parts]) for name in parts[0]}


def assert_chunked_equals_whole(game, seed: int, point: int, runs: int, size: int) -> None:
    whole = simulate_chunk(game, ChunkSpec(seed, point, (0, runs), True))
    parts = chunked(game, seed, point, runs, size, True)
    assert parts["runs"].equals(whole["runs"])
    # rounds come out run-major within a chunk; the merge sorts by (point, run, round)
    keys = [("run", "ascending"), ("round", "ascending")]
    assert parts["rounds"].sort_by(keys).equals(whole["rounds"].sort_by(keys))
    assert whole["runs"]["run"].to_pylist() == list(range(runs))


@pytest.mark.parametrize("name", GAMES)
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), point=st.integers(0, 40), runs=st.integers(1, 14), data=st.data())
def test_chunked_execution_equals_unchunked(games, name, seed, point, runs, data):
    size = data.draw(st.integers(1, runs), label="chunk size")
    assert_chunked_equals_whole(games[name], seed, point, runs, size)


@pytest.mark.parametrize("name", GAMES)
def test_a_run_depends_on_the_seed_not_the_point(games, name):
    # Common random numbers: run k draws the same at every point of a sweep.
    game = games[name]
    base = simulate_chunk(game, ChunkSpec(5, 0, (0, 20)))["runs"]
    other_seed = simulate_chunk(game, ChunkSpec(6, 0, (0, 20)))["runs"]
    other_point = simulate_chunk(game, ChunkSpec(5, 1, (0, 20)))["runs"]
    sampled = [c for c in base.column_names if c.startswith("p:")]
    assert sampled
    assert not np.array_equal(base[sampled[0]].to_numpy(), other_seed[sampled[0]].to_numpy())
    assert base.drop(["point"]).equals(other_point.drop(["point"]))


# --- negsim rerun ------------------------------------------------------------------------------

@pytest.fixture
def finished(tmp_path) -> tuple[Path, Path]:
    """A scenario of our own (so it can be edited) and a finished run of it."""
    folder = tmp_path / "scenario"
    folder.mkdir()
    shutil.copy(DATA / "tiny_source.txt", folder / "tiny_source.txt")
    scenario = folder / "tiny.yaml"
    shutil.copy(TINY, scenario)
    out = tmp_path / "results"
    result = negsim("run", scenario, "--runs", 40, "--seed", 9, "--chunk", 15, "--workers", 1, "--out", out)
    assert result.returncode == 0, result.stderr
    return scenario, out


def test_rerun_reproduces_then_catches_tampering_and_a_changed_scenario(finished):
    scenario, out = finished
    result = negsim("rerun", out, "--workers", 2)
    assert result.returncode == 0, result.stderr
    assert "reproduced" in result.stdout and "NOT" not in result.stdout
    assert "match    runs.parquet: identical (40 rows)" in result.stdout
    assert not any(p.name.startswith(".rerun-") for p in out.parent.iterdir())  # its scratch folder is gone

    # rewrite one value of one row
    runs = pq.read_table(out / "runs.parquet")
    column = runs.column_names.index("utility_beta")
    values = runs["utility_beta"].to_pylist()
    values[17] += 0.001
    pq.write_table(runs.set_column(column, "utility_beta", pa.array(values)), out / "runs.parquet")
    result = negsim("rerun", out, "--workers", 1)
    assert result.returncode == 1, result.stderr
    assert "NOT reproduced" in result.stdout
    assert "MISMATCH runs.parquet: first difference in column 'utility_beta', row 17" in result.stdout
    assert "match    rounds.parquet" in result.stdout

    scenario.write_text(scenario.read_text().replace("max_rounds: 20", "max_rounds: 21"))
    result = negsim("rerun", out, "--workers", 1)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "the scenario file has changed since the run (SHA-256 differs)" in result.stderr


def test_rerun_of_a_sweep_with_a_different_protocol(tmp_path):
    out = tmp_path / "s"
    result = negsim("sweep", TINY, "--grid", "protocol.temperature=0,0.05", "--set", "protocol.kind=alternating",
                    "--runs", 10, "--rounds", "--workers", 1, "--out", out)
    assert result.returncode == 0, result.stderr
    again = negsim("rerun", out, "--workers", 1)
    assert again.returncode == 0 and "reproduced" in again.stdout, again.stdout + again.stderr
    assert "match    points.parquet" in again.stdout


def test_rerun_treats_nan_as_equal_to_nan(tmp_path, capsys):
    """A scenario without named proposals has NaN distances to the nearest one; NaN must match NaN."""
    text = TINY.read_text()
    text = text[:text.index("proposals:")] + "proposals: {}\n" + text[text.index("protocol:"):]
    shutil.copy(DATA / "tiny_source.txt", tmp_path / "tiny_source.txt")
    (tmp_path / "bare.yaml").write_text(text)
    out = run_job(JobSpec(kind="run", scenario=str(tmp_path / "bare.yaml"), runs=6, rounds=True),
                  out=tmp_path / "r", executor=ExecutorSpec(1), progress=False).out
    assert np.isnan(pq.read_table(out / "runs.parquet")["proposal_distance"].to_numpy()).all()
    from sim.rerun import rerun

    ok, text = rerun(out, ExecutorSpec(1))
    assert ok, text


def test_rerun_refuses_an_unfinished_folder(tmp_path):
    out = tmp_path / "r"
    run_job(JobSpec(kind="run", scenario=str(TINY), runs=4, rounds=True), out=out, executor=ExecutorSpec(1), progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["status"] = "incomplete"
    (out / "manifest.json").write_text(json.dumps(manifest))
    result = negsim("rerun", out, "--workers", 1)
    assert result.returncode == 2 and "finish it with --resume first" in result.stderr


# --- the manifest -------------------------------------------------------------------------------

def test_manifest_holds_what_is_needed_to_reproduce(finished):
    import hashlib

    scenario, out = finished
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"]["path"] == str(scenario)
    assert manifest["scenario"]["sha256"] == hashlib.sha256(scenario.read_bytes()).hexdigest()
    assert manifest["negsim_version"] == sim.__version__
    assert manifest["seed"] == 9 and manifest["runs"] == 40 and manifest["points"] == 1
    assert manifest["command"][1:] == ["run", str(scenario), "--runs", "40", "--seed", "9", "--chunk", "15",
                                       "--workers", "1", "--out", str(out)]
    assert manifest["job"]["kind"] == "run"
    assert manifest["job"]["scenario_path"] == str(scenario.resolve())
    assert {k: manifest["job"][k] for k in ("runs", "seed", "chunk_size", "rounds", "sets", "grids", "samples")} == {
        "runs": 40, "seed": 9, "chunk_size": 15, "rounds": True, "sets": [], "grids": [], "samples": []}
    assert set(manifest["libraries"]) >= {"numpy", "scipy", "pyarrow", "mesa"}
    assert manifest["libraries"]["numpy"] == np.__version__ and manifest["libraries"]["pyarrow"] == pa.__version__
    assert manifest["python"] and manifest["platform"] and manifest["cwd"]
    assert "SeedSequence(seed, spawn_key=(run, stream))" in manifest["seeding"]
    started, ended = (time.strptime(manifest[k], "%Y-%m-%dT%H:%M:%SZ") for k in ("started", "finished"))
    assert started <= ended
    assert manifest["status"] == "complete" and manifest["rows"]["runs"] == 40


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), runs=st.lists(st.integers(0, 2**40), max_size=12),
       keys=st.lists(st.text(min_size=1, max_size=12), max_size=6, unique=True), own_seed=st.integers(0, 99))
def test_an_uncertain_numbers_uniform_depends_on_its_seed_run_and_key_alone(seed, runs, keys, own_seed):
    from sim.model.draws import keyed_uniforms

    key_seeds = {keys[0]: own_seed} if keys else None
    table = keyed_uniforms(seed, np.array(runs, dtype=np.int64), keys, key_seeds)
    assert table.shape == (len(runs), len(keys)) and ((table >= 0) & (table < 1)).all()
    for k, key in enumerate(keys):
        for r, run in enumerate(runs):
            alone = keyed_uniforms((key_seeds or {}).get(key, seed), np.array([run]), [key])
            assert alone[0, 0] == table[r, k]
