"""Sweeps: spec parsing, overrides by dotted path, point validation, executors, resume, the CLI."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import sim.jobs.chunks
import sim.jobs.cluster
from sim.errors import UserError
from sim.jobs import JobSpec, parse_grid, parse_sample, plan_job, resume_job, run_job
from sim.jobs.executors import ExecutorSpec
from sim.results import ResultsFolder, sweep_table
from sim.scenario import load_scenario
from sim.scenario.overrides import canonical, parse_path
from tests.conftest import DATA, TINY, negsim_command
from tests.conftest import negsim_in_process as negsim

GRID = "actors.alpha.weights.north=0.5:3:3"


def errors_of(spec: JobSpec) -> str:
    with pytest.raises(UserError) as info:
        plan_job(spec)
    return "\n".join(str(p) for p in info.value.problems)


def tables(out) -> pd.DataFrame:
    return pd.read_parquet(out / "runs.parquet")


# --- parsing ---------------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(low=finite, high=finite, count=st.integers(2, 60))
@example(low=1e6, high=1e6 + 1e-7, count=5)  # a range too narrow for 12 significant digits
def test_grid_range_is_evenly_spaced_and_inclusive(low, high, count):
    if low == high:
        return
    if len(set(np.linspace(low, high, count).tolist())) < count:  # not representable: refused, never duplicated
        with pytest.raises(UserError, match="too narrow"):
            parse_grid(f"a.b={low!r}:{high!r}:{count}")
        return
    path, values, is_range = parse_grid(f"a.b={low!r}:{high!r}:{count}")
    assert path == "a.b" and is_range and len(values) == count
    assert values[0] == pytest.approx(low, rel=1e-11, abs=1e-9) and values[-1] == pytest.approx(high, rel=1e-11, abs=1e-9)
    steps = np.diff(values)
    assert np.all(steps > 0) if high > low else np.all(steps < 0)


def test_grid_lists_are_yaml_scalars():
    assert parse_grid("p=frozen_line, 0.5,true,no,3") == ("p", ["frozen_line", 0.5, True, "no", 3], False)
    assert parse_grid("p=0.1:0.3:3")[1] == [0.1, 0.2, 0.3]  # tidy, not 0.30000000000000004


@pytest.mark.parametrize("text, message", [
    ("actors.alpha.weights.north", "expected PATH=VALUE"),
    ("=0:1:3", "expected PATH=VALUE"),
    ("p=", "nothing after '='"),
    ("p=0:1", "LOW:HIGH:COUNT"),
    ("p=0:x:3", "HIGH 'x' is not a number"),
    ("p=0:1:2.5", "COUNT '2.5' is not a whole number"),
    ("p=0:1:1", "COUNT must be at least 2"),
    ("p=1:1:4", "LOW and HIGH are equal"),
    ("p=0:nan:3", "not a finite number"),
    ("p=a,,b", "empty value"),
])
def test_bad_grid_specs_say_what_is_wrong(text, message):
    with pytest.raises(UserError) as info:
        parse_grid(text)
    assert message in str(info.value) and "--grid" in str(info.value)


@given(low=finite, width=st.floats(min_value=1e-6, max_value=1e6))
def test_sample_ranges(low, width):
    high = low + width
    if not low < high:
        return
    assert parse_sample(f"x.y={low!r}:{high!r}") == ("x.y", low, high)


@pytest.mark.parametrize("text, message", [
    ("p=0.5", "LOW:HIGH"), ("p=1:0", "must be below HIGH"), ("p=0:inf", "not a finite number"), ("p", "PATH=VALUE"),
])
def test_bad_sample_specs(text, message):
    with pytest.raises(UserError) as info:
        parse_sample(text)
    assert message in str(info.value)


names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@given(st.lists(st.one_of(names, st.integers(0, 50)), min_size=1, max_size=6).filter(lambda p: isinstance(p[0], str)))
def test_dotted_paths_round_trip(parts):
    path = tuple(parts)
    assert parse_path(canonical(path)) == path
    assert parse_path(".".join(str(p) for p in path)) == path


# --- overrides -------------------------------------------------------------------------------

def test_bad_path_lists_the_nearest_valid_paths():
    text = errors_of(JobSpec(scenario=str(TINY), grids=("actors.alpha.weights.nrth=0:1:3",), runs=5))
    assert "--grid actors.alpha.weights.nrth: no such field" in text
    assert "nearest valid paths: actors.alpha.weights.north" in text
    text = errors_of(JobSpec(scenario=str(TINY), sets=("actors.alpah.reservation.value=0.3",), runs=5))
    assert "actors.alpha.reservation.value" in text


def _flatten(value, prefix=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(v, prefix + (k,))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _flatten(v, prefix + (i,))
    else:
        yield prefix, value


BASE = dict(_flatten(load_scenario(TINY).scenario.model_dump()))
NUMERIC_LEAVES = sorted(canonical(p) for p, v in BASE.items()
                        if isinstance(v, float) and p[0] == "actors" and p[2] in ("values", "reservation")
                        and "mean" not in p and "sd" not in p and "low" not in p and "high" not in p)


@settings(max_examples=30, deadline=None)
@given(path=st.sampled_from(NUMERIC_LEAVES), value=st.floats(0.0, 1.0))
def test_an_override_changes_exactly_its_field(path, value):
    changed = dict(_flatten(load_scenario(TINY, overrides={path: value}).scenario.model_dump()))
    diff = {canonical(p) for p in BASE.keys() | changed.keys() if BASE.get(p) != changed.get(p)}
    assert diff <= {path}
    assert changed[parse_path(path)] == value


def test_uncertain_numbers_by_leaf_or_whole():
    plan = plan_job(JobSpec(scenario=str(TINY), sets=("actors.beta.reservation.value.low=0.35",), runs=5))
    assert plan.loaded.scenario.actors["beta"].reservation.value.low == 0.35
    before = len(plan_job(JobSpec(scenario=str(TINY), runs=5)).games[0].params)
    plan = plan_job(JobSpec(scenario=str(TINY), sets=("actors.beta.values.guarantees.options.strong=0.3",), runs=5))
    assert plan.loaded.scenario.actors["beta"].values["guarantees"].options["strong"] == 0.3
    assert len(plan.games[0].params) == before - 1
    # An uncertain number can be made by --set and then one of its leaves swept.
    plan = plan_job(JobSpec(scenario=str(TINY), sets=("actors.alpha.reservation.value={mean: 0.3, sd: 0.1}",),
                            grids=("actors.alpha.reservation.value.sd=0.05,0.2",), runs=5))
    sds = [next(q.b for q in g.params if q.path == "actors.alpha.reservation.value") for g in plan.games]
    assert sds == [0.05, 0.2]


def test_a_plain_number_has_no_mean():
    text = errors_of(JobSpec(scenario=str(TINY), sets=("actors.alpha.reservation.value.mean=0.5",), runs=5))
    assert "is a plain number (0.3), not an uncertain one" in text


def test_numeric_range_on_a_text_field_is_an_error():
    text = errors_of(JobSpec(scenario=str(TINY), grids=("actors.alpha.strategy.kind=0:1:3",), runs=5))
    assert "actors.alpha.strategy.kind ('boulware') is not a number" in text
    # ... while listing values of a text field is fine
    plan = plan_job(JobSpec(scenario=str(TINY), grids=("actors.alpha.strategy.kind=boulware,linear",), runs=5))
    assert plan.n_points == 2


def test_every_point_is_validated_and_named():
    text = errors_of(JobSpec(scenario=str(TINY), grids=("actors.alpha.weights.north=1,-0.5,2",), runs=5))
    assert text == (f"{TINY}: --grid actors.alpha.weights.north (point 1 = -0.5): "
                    "weight -0.5 is outside [0.0, 1000000.0]")


def test_whole_number_fields_take_whole_numbers():
    plan = plan_job(JobSpec(scenario=str(TINY), grids=("protocol.max_rounds=10:20:3",), runs=5))
    assert [g.protocol["max_rounds"] for g in plan.games] == [10, 15, 20]
    assert plan.points_table()["protocol.max_rounds"].type == pa.int64()


# --- running ---------------------------------------------------------------------------------

def test_points_table_and_point_ids_on_runs(tmp_path):
    spec = JobSpec(scenario=str(TINY), grids=(GRID, "protocol.temperature=0,0.05"), samples=(), runs=12, seed=3)
    result = run_job(spec, out=tmp_path / "s", executor=ExecutorSpec(1), progress=False)
    points = pd.read_parquet(result.out / "points.parquet")
    assert list(points.columns) == ["point", "actors.alpha.weights.north", "protocol.temperature"]
    assert points.values.tolist() == [[0, 0.5, 0.0], [1, 0.5, 0.05], [2, 1.75, 0.0], [3, 1.75, 0.05],
                                      [4, 3.0, 0.0], [5, 3.0, 0.05]]
    runs = tables(result.out)
    assert runs.groupby("point")["run"].apply(list).tolist() == [list(range(12))] * 6
    assert not (result.out / "rounds.parquet").exists() and not (result.out / "chunks").exists()
    manifest = json.loads((result.out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["points"] == 6
    assert manifest["job"]["grids"] == list(spec.grids) and manifest["job"]["rounds"] is False
    assert "agreement" in result.summary and "protocol.temperature" in result.summary

    with_rounds = run_job(JobSpec(scenario=str(TINY), samples=("protocol.temperature=0:0.1",), points=3, runs=4,
                                  rounds=True), out=tmp_path / "r", executor=ExecutorSpec(1), progress=False)
    assert set(pd.read_parquet(with_rounds.out / "rounds.parquet")["point"]) == {0, 1, 2}
    sampled = pd.read_parquet(with_rounds.out / "points.parquet")["protocol.temperature"]
    assert sampled.between(0, 0.1).all() and sampled.nunique() == 3


def test_sampling_is_seeded():
    a = plan_job(JobSpec(scenario=str(TINY), samples=("protocol.temperature=0:0.1",), points=4, seed=1, runs=1))
    b = plan_job(JobSpec(scenario=str(TINY), samples=("protocol.temperature=0:0.1",), points=4, seed=1, runs=1))
    c = plan_job(JobSpec(scenario=str(TINY), samples=("protocol.temperature=0:0.1",), points=4, seed=2, runs=1,
                         method="sobol"))
    assert a.values == b.values != c.values


def test_serial_pool_and_dask_give_identical_tables(tmp_path, monkeypatch):
    spec = JobSpec(scenario=str(TINY), grids=(GRID,), runs=30, seed=11, chunk_size=10)
    serial = run_job(spec, out=tmp_path / "serial", executor=ExecutorSpec(1), progress=False).out
    pool = run_job(spec, out=tmp_path / "pool", executor=ExecutorSpec(2), progress=False).out
    # An in-process LocalCluster (threads) exercises the Dask path without starting processes.
    monkeypatch.setattr(sim.jobs.cluster, "dask_executor", functools.partial(sim.jobs.cluster.dask_executor, processes=False))
    dask = run_job(spec, out=tmp_path / "dask", executor=ExecutorSpec(2, "local"), progress=False).out
    expected = tables(serial)
    assert len(expected) == 90
    pd.testing.assert_frame_equal(tables(pool), expected)
    pd.testing.assert_frame_equal(tables(dask), expected)


def _interrupt_after(monkeypatch, n_chunks: int) -> None:
    real = sim.jobs.chunks._work
    calls = {"n": 0}

    def work(task):
        if calls["n"] == n_chunks:
            raise KeyboardInterrupt
        calls["n"] += 1
        return real(task)

    monkeypatch.setattr(sim.jobs.chunks, "_work", work)


def test_interrupted_sweep_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch, capsys):
    spec = JobSpec(scenario=str(TINY), grids=(GRID,), runs=20, seed=4, chunk_size=5, rounds=True)
    whole = run_job(spec, out=tmp_path / "whole", executor=ExecutorSpec(1), progress=False).out
    with monkeypatch.context() as m:
        _interrupt_after(m, 5)
        with pytest.raises(KeyboardInterrupt):
            run_job(spec, out=tmp_path / "cut", executor=ExecutorSpec(1), progress=False)
    cut = tmp_path / "cut"
    assert json.loads((cut / "manifest.json").read_text())["status"] == "incomplete"
    assert ResultsFolder(cut).finished_chunks() == {0, 1, 2, 3, 4}
    assert f"negsim sweep --resume {cut}" in capsys.readouterr().err
    result = resume_job(cut, executor=ExecutorSpec(2), progress=False)
    for name in ("runs", "rounds"):
        pd.testing.assert_frame_equal(pd.read_parquet(cut / f"{name}.parquet"),
                                      pd.read_parquet(whole / f"{name}.parquet"))
    runs = tables(cut)
    assert not runs.duplicated(["point", "run"]).any() and len(runs) == 3 * 20
    assert result.manifest["status"] == "complete" and len(result.manifest["resumed"]) == 1


def test_resume_refuses_a_changed_scenario(tmp_path, monkeypatch):
    scenario = tmp_path / "tiny.yaml"
    shutil.copy(TINY, scenario)
    shutil.copy(DATA / "tiny_source.txt", tmp_path / "tiny_source.txt")
    spec = JobSpec(scenario=str(scenario), grids=(GRID,), runs=10, chunk_size=5)
    with monkeypatch.context() as m:
        _interrupt_after(m, 2)
        with pytest.raises(KeyboardInterrupt):
            run_job(spec, out=tmp_path / "cut", executor=ExecutorSpec(1), progress=False)
    scenario.write_text(scenario.read_text() + "\n# edited\n")
    with pytest.raises(UserError) as info:
        resume_job(tmp_path / "cut", executor=ExecutorSpec(1), progress=False)
    assert "scenario file has changed since this job started" in str(info.value)
    with pytest.raises(UserError) as info:
        resume_job(tmp_path / "cut", executor=ExecutorSpec(1), given={"runs": 99})
    assert "runs (manifest: 10, given: 99)" in str(info.value)


def test_existing_folder_is_refused_unless_force(tmp_path):
    spec = JobSpec(scenario=str(TINY), runs=3, kind="run", rounds=True)
    out = run_job(spec, out=tmp_path / "r", executor=ExecutorSpec(1), progress=False).out
    with pytest.raises(UserError, match="already exists"):
        run_job(spec, out=out, executor=ExecutorSpec(1), progress=False)
    (out / "marker").write_text("a file of the user's")
    run_job(spec, out=out, executor=ExecutorSpec(1), force=True, progress=False)
    assert (out / "marker").read_text() == "a file of the user's" and (out / "runs.parquet").exists()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(UserError, match="only replaces a results folder"):
        run_job(spec, out=precious, executor=ExecutorSpec(1), force=True, progress=False)
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_missing_dask_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(UserError, match=r"pip install 'negsim\[dask\]'"):
        with sim.jobs.cluster.dask_executor("local", 1):
            pass


def test_local_dask_workers_keep_glibc_memory_defaults(monkeypatch):
    """Dask's MALLOC_TRIM_THRESHOLD_=65536 halves the model's speed; local workers must not get it."""
    pytest.importorskip("distributed")
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with sim.jobs.cluster.dask_executor("local", 1) as executor:
        seen = executor.submit(sim.jobs.cluster._worker_malloc_trim).result()
    assert seen is None
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ  # nor is this process's environment changed


def test_a_local_dask_cluster_serves_nothing_over_http_and_leaves_port_8787_alone():
    """Dask's scheduler listens for HTTP on port 8787 of every interface by default (metrics, its state as
    JSON, a proxy to its workers); negsim's local cluster binds it to loopback on a free port, and neither
    it nor the worker answers anything there."""
    pytest.importorskip("distributed")
    from urllib.error import HTTPError
    from urllib.request import urlopen

    with sim.jobs.cluster.dask_executor("local", 1, threads=True) as executor:
        cluster = executor._client.cluster
        servers = [cluster.scheduler.http_server] + [w.http_server for w in cluster.workers.values()]
        host, port = servers[0].address, servers[0].port
        assert host == "127.0.0.1" and port != 8787
        for server in servers:
            for path in ("/health", "/json/identity.json", "/metrics", "/info/main/workers.html"):
                with pytest.raises(HTTPError) as refused:
                    urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=5)
                assert refused.value.code == 404, (server.port, path)


def test_a_finished_chunks_cyclic_garbage_is_freed_at_its_end():
    import gc
    import weakref

    class Model:  # a chunk's model points back at itself through its agents, as Mesa's does
        def __init__(self):
            self.arrays = np.zeros(1_000_000)
            self.agents = [self]

    was_enabled = gc.isenabled()
    gc.disable()  # only the collection release_free_memory makes can free it
    try:
        model = Model()
        alive = weakref.ref(model)
        del model
        sim.jobs.chunks.release_free_memory()
        assert alive() is None
        model = Model()  # and again once the first call has frozen the long-lived objects
        alive = weakref.ref(model)
        del model
        sim.jobs.chunks.release_free_memory()
        assert alive() is None
    finally:
        if was_enabled:
            gc.enable()


def test_free_memory_goes_back_to_the_system_once_a_jobs_chunks_are_done(tmp_path, monkeypatch):
    # Trimming after every chunk made the next chunk fault the same pages in again (a seventh of a
    # million-run job's CPU): the allocators keep them until the job's chunks are all done.
    trims, chunks_done = [], []
    monkeypatch.setattr(sim.jobs.chunks, "_malloc_trim", lambda: lambda pad: trims.append(len(chunks_done)))
    work = sim.jobs.chunks._work
    monkeypatch.setattr(sim.jobs.chunks, "_work", lambda task: chunks_done.append(task.chunk_id) or work(task))
    spec = JobSpec(scenario=str(TINY), grids=(GRID,), samples=(), runs=4, seed=3, chunk_size=2)
    run_job(spec, out=tmp_path / "s", executor=ExecutorSpec(1), progress=False)
    assert len(chunks_done) == 6 and trims == [6]


def test_merge_is_sorted_and_refuses_overlapping_chunks(tmp_path):
    folder = ResultsFolder.create(tmp_path / "m")

    def chunk(cid, point, runs):
        folder.write_chunk(cid, {"runs": pa.table({"point": [point] * len(runs), "run": runs})})

    chunk(0, 1, [0, 1])  # ids out of (point, run) order: the merge must still sort
    chunk(1, 0, [1, 0])
    assert folder.merge(keep_chunks=True) == {"runs": 4}
    merged = pq.read_table(folder.path / "runs.parquet").to_pydict()
    assert list(zip(merged["point"], merged["run"])) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    chunk(2, 0, [1])
    with pytest.raises(UserError, match="chunks overlap"):
        folder.merge()


def test_summary_shows_top_and_bottom_points():
    points = pd.DataFrame({"point": range(30), "x": np.linspace(0, 1, 30)})
    n = np.full(30, 100)
    agreed = np.arange(30) * 3
    text = sweep_table(points, n, agreed, {"scenario": {"name": "t"}, "runs": 100, "seed": 0}, show=3)
    lines = text.splitlines()
    assert "highest and lowest 3 of 30 points" in lines[1]
    rows = [line.split()[0] for line in lines[3:]]
    assert rows == ["29", "28", "27", "⋮", "2", "1", "0"]


# --- the command line ------------------------------------------------------------------------

def test_cli_sweep_and_bad_point(tmp_path):
    out = tmp_path / "s"
    result = negsim("sweep", str(TINY), "--grid", GRID, "--set", "protocol.temperature=0.01", "--runs", "15",
                    "--workers", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "agreement" in result.stdout and "95% CI" in result.stdout and "actors.alpha.weights.north" in result.stdout
    assert len(pd.read_parquet(out / "points.parquet")) == 3 and len(tables(out)) == 45
    bad = negsim("sweep", str(TINY), "--grid", "actors.alpha.weights.north=1,-0.5", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "--grid actors.alpha.weights.north (point 1 = -0.5): weight -0.5 is outside" in bad.stderr
    assert not (tmp_path / "bad").exists()


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_cli_ctrl_c_then_resume(tmp_path):
    out = tmp_path / "cut"
    grid = "actors.alpha.weights.north=0.5:3:20"
    args = ["sweep", str(TINY), "--grid", grid, "--runs", "12", "--chunk", "4", "--workers", "1", "--seed", "2"]
    proc = subprocess.Popen(negsim_command() + args + ["--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list((out / "chunks").glob("runs-*.parquet.sha256"))) >= 2:  # sealed: finished
            break
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.skip("the sweep finished before it could be interrupted")
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: signal the whole process group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"negsim sweep --resume {out}" in err and "Traceback" not in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    kept = ResultsFolder(out).finished_chunks()
    assert 2 <= len(kept) < 60
    resumed = negsim("sweep", "--resume", str(out), "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    whole = run_job(JobSpec(scenario=str(TINY), grids=(grid,), runs=12, chunk_size=4, seed=2),
                    out=tmp_path / "whole", executor=ExecutorSpec(1), progress=False).out
    pd.testing.assert_frame_equal(tables(out), tables(whole))
