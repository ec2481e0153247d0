"""Results folders under faults (issue 14): ownership and --force, verified chunks on --resume,
failed writes, signals at the edges, options that conflict with a folder, one job per folder.

Each test names the class of fault it covers; each failed on the code before the fix.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sim.jobs.executors import ExecutorSpec
from sim.results import LOCK, MARKER, ResultsFolder
from sim.jobs import JobSpec, resume_job, run_job
from tests.conftest import TINY, negsim_command
from tests.test_reliability import assert_clean_and_complete, assert_clean_error, negsim, snapshot, start

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals, locks and resource limits")

SWEEP = JobSpec(scenario=str(TINY), grids=("protocol.temperature=0,0.05",), runs=12, chunk_size=3, rounds=True)


def _interrupted_before_merge(tmp_path: Path, monkeypatch, name: str = "cut", spec: JobSpec = SWEEP) -> Path:
    """A job whose chunks are all written but which was stopped before the merge."""
    from sim.results.chunks import ChunkMerge

    def stop(self, keep_chunks=False):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(ChunkMerge, "finish", stop)
        with pytest.raises(KeyboardInterrupt):
            run_job(spec, out=tmp_path / name, executor=ExecutorSpec(1), progress=False)
    return tmp_path / name


# --- 1. --force removes only what negsim wrote, only in negsim's folders -------------------------

def test_force_never_replaces_a_folder_without_the_marker(tmp_path, capsys):
    project = tmp_path / "project"
    project.mkdir()
    (project / "manifest.json").write_text('{"name": "my web app"}')  # a file name is not an identity
    (project / "notes.md").write_text("years of work")
    before = snapshot(project)
    assert_clean_error(negsim("run", TINY, "--runs", "3", "--out", project, "--force", "--workers", "1"),
                       "only replaces a results folder")
    assert snapshot(project) == before


def test_force_keeps_a_users_own_files_inside_a_results_folder(tmp_path):
    out = run_job(JobSpec(kind="run", scenario=str(TINY), runs=3), out=tmp_path / "r", executor=ExecutorSpec(1), progress=False).out
    (out / "my-analysis.ipynb").write_text("{}")
    (out / "notes").mkdir()
    (out / "notes" / "draft.txt").write_text("keep me")
    done = negsim("run", TINY, "--runs", "4", "--out", out, "--force", "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert (out / "my-analysis.ipynb").read_text() == "{}" and (out / "notes" / "draft.txt").read_text() == "keep me"
    assert "kept 2 file(s) negsim did not write" in done.stderr
    assert pq.read_table(out / "runs.parquet").num_rows == 4


def test_force_removes_figures_and_reports_it_wrote(tmp_path):
    out = tmp_path / "r"
    assert negsim("run", TINY, "--runs", "5", "--out", out, "--plot", "--workers", "1").returncode == 0
    figures = sorted((out / "figures").iterdir())
    assert figures and all(str(f.relative_to(out)) in json.loads((out / MARKER).read_text())["files"]
                           for f in figures)
    assert negsim("run", TINY, "--runs", "5", "--out", out, "--force", "--workers", "1").returncode == 0
    assert not (out / "figures").exists()


@pytest.mark.parametrize("kind", ["symlink to a folder", "dangling symlink", "a file", "empty name"])
def test_out_that_is_not_a_folder_is_one_line(tmp_path, kind):
    target = tmp_path / "out"
    if kind == "symlink to a folder":
        (tmp_path / "real").mkdir()
        target.symlink_to(tmp_path / "real")
    elif kind == "dangling symlink":
        target.symlink_to(tmp_path / "nowhere")
    elif kind == "a file":
        target.write_text("data")
    else:
        target = ""
    for extra in ([], ["--force"]):
        assert_clean_error(negsim("run", TINY, "--runs", "3", "--out", target, *extra, "--workers", "1"), "--out")
    if kind == "a file":
        assert target.read_text() == "data"


# --- 2. --resume verifies every chunk ------------------------------------------------------------

@pytest.mark.parametrize("damage", ["truncated", "empty", "garbled", "rounds deleted", "stray file",
                                    "chunk from another job", "checksum deleted"])
def test_resume_verifies_chunks_and_reruns_the_bad_ones(tmp_path, monkeypatch, damage, capsys):
    cut = _interrupted_before_merge(tmp_path, monkeypatch)
    chunks = cut / "chunks"
    victim = chunks / "runs-000002.parquet"
    if damage == "truncated":
        victim.write_bytes(victim.read_bytes()[:100])
    elif damage == "empty":
        victim.write_bytes(b"")
    elif damage == "garbled":
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0xFF
        victim.write_bytes(bytes(data))
    elif damage == "rounds deleted":
        (chunks / "rounds-000002.parquet").unlink()
    elif damage == "stray file":
        shutil.copy(victim, chunks / "runs-backup.parquet")
    elif damage == "chunk from another job":
        other = _interrupted_before_merge(tmp_path, monkeypatch, "other",
                                          JobSpec(scenario=str(TINY), grids=("protocol.temperature=0,0.05",),
                                                  runs=12, chunk_size=3, rounds=True, seed=99))
        for name in ("runs-000002.parquet", "rounds-000002.parquet"):
            for suffix in ("", ".sha256"):
                shutil.copy(other / "chunks" / (name + suffix), chunks / (name + suffix))
    else:
        Path(str(victim) + ".sha256").unlink()
    resume_job(cut, executor=ExecutorSpec(1), progress=False)
    err = capsys.readouterr().err
    if damage != "stray file":
        assert "failed verification" in err or damage == "checksum deleted", err
    whole = run_job(SWEEP, out=tmp_path / "whole", executor=ExecutorSpec(1), progress=False).out
    if damage == "stray file":  # not negsim's, so kept where it is; nothing else is left
        assert [p.name for p in chunks.iterdir()] == ["runs-backup.parquet"]
        (chunks / "runs-backup.parquet").unlink()
        chunks.rmdir()
    assert_clean_and_complete(cut, whole, rounds=True, runs=12, points=2)


# --- 3. failed writes ---------------------------------------------------------------------------

def _limited(max_bytes: int):
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return limit


def test_a_write_that_fails_is_one_line_and_the_folder_can_be_replaced_or_resumed(tmp_path):
    out = tmp_path / "full"
    # Writes past 60 kB fail (EFBIG), as on a full disk: the chunks and the merge cannot be written.
    done = subprocess.run(negsim_command() + ["run", str(TINY), "--runs", "4000", "--out", str(out), "--workers", "1"],
                          capture_output=True, text=True, timeout=300, preexec_fn=_limited(60_000))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "could not write" in done.stderr, done.stderr
    resumed = negsim("run", "--resume", out, "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert pq.read_table(out / "runs.parquet").num_rows == 4000
    again = negsim("run", TINY, "--runs", "10", "--out", out, "--force", "--workers", "1")
    assert again.returncode == 0, again.stderr


def test_a_folder_without_its_manifest_can_be_replaced(tmp_path):
    out = tmp_path / "bare"
    ResultsFolder.create(out).release()  # killed right after creating the folder
    assert_clean_error(negsim("run", "--resume", out), "--force")
    assert negsim("run", TINY, "--runs", "3", "--out", out, "--force", "--workers", "1").returncode == 0


# --- 4. signals at the edges ----------------------------------------------------------------------

def test_sigterm_during_start_up_exits_130(tmp_path):
    proc = start(["sweep", TINY, "--grid", "protocol.temperature=0:0.1:40", "--runs", "2000", "--out",
                  tmp_path / "early", "--workers", "1"])
    time.sleep(0.4)  # in the imports or the planning, before any chunk
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err)
    assert "Traceback" not in err


@pytest.mark.parametrize("gap", [0.1, 0.3])
def test_a_second_ctrl_c_stops_at_once_and_the_folder_resumes(tmp_path, gap):
    from tests.test_reliability import wait_for_first_chunk

    out = tmp_path / "twice"
    # 100 small chunks: several seconds of job, so both signals land while it runs, and a resume that is
    # not most of the test's time (a 20,000-run job's was: about 400 chunks at 25-30 ms each).
    proc = start(["run", TINY, "--runs", "5000", "--chunk", "50", "--workers", "2", "--out", out])
    wait_for_first_chunk(proc, out)
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(gap)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("a second Ctrl-C hung the program")
    assert proc.returncode == 130 and "Traceback" not in err, err
    resumed = negsim("run", "--resume", out, "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert pq.read_table(out / "runs.parquet").num_rows == 5000


# --- 5. options that conflict with the folder ----------------------------------------------------

@pytest.mark.parametrize("extra", [["--set", "protocol.temperature=0.3"], ["--protocol", "alternating"]])
def test_resume_refuses_options_that_change_the_job(tmp_path, monkeypatch, extra):
    cut = _interrupted_before_merge(tmp_path, monkeypatch, spec=JobSpec(kind="run", scenario=str(TINY), runs=12,
                                                                        chunk_size=3, rounds=True))
    before = snapshot(cut)
    assert_clean_error(negsim("run", "--resume", cut, *extra), "differ")
    assert snapshot(cut) == before


# --- 6. one job per folder ------------------------------------------------------------------------

@pytest.mark.parametrize("how", [["--force"], ["--resume"]])
def test_a_folder_in_use_is_refused(tmp_path, monkeypatch, how):
    cut = _interrupted_before_merge(tmp_path, monkeypatch, spec=JobSpec(kind="run", scenario=str(TINY), runs=12,
                                                                        chunk_size=3, rounds=True))
    before = snapshot(cut)
    with open(cut / LOCK, "a+") as held:  # another negsim process holds the folder
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        args = ["run", "--resume", cut] if how == ["--resume"] else ["run", TINY, "--runs", "3", "--out", cut,
                                                                      "--force"]
        assert_clean_error(negsim(*args, "--workers", "1"), "stop it first")
    assert snapshot(cut) == before


# --- 7. jobs the machine cannot hold -----------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["run", TINY, "--runs", "100000000000"], "on disk"),
    (["sweep", TINY, "--grid", "protocol.temperature=0:1:1000000000000"], "parameter points"),
    (["sweep", TINY, "--grid", "protocol.temperature=0:1:1000", "--grid", "actors.alpha.weights.north=0:1:1000"],
     "parameter points"),
    (["sweep", TINY, "--sample", "protocol.temperature=0:1", "--points", "100000000"], "parameter points"),
    (["run", TINY, "--workers", "100000"], "worker processes"),
    (["run", TINY, "--runs", "10", "--set", "protocol.max_rounds=10000", "--chunk", "5000"], "memory budget"),
    (["sweep", TINY, "--grid", "protocol.temperature=0,0.1", "--set", "protocol.max_rounds=2000", "--runs",
      "200000", "--workers", "1"], "--yes"),
])
def test_jobs_too_big_are_refused_up_front(tmp_path, args, message):
    started = time.monotonic()
    assert_clean_error(negsim(*args, "--out", tmp_path / "big"), message)
    assert time.monotonic() - started < 60 and not (tmp_path / "big").exists()


def test_memory_per_run_does_not_grow_with_the_number_of_rounds():
    import numpy as np

    from sim.jobs.budget import CHUNK_BUDGET, chunk_cap
    from sim.domain.game import compile_scenario
    from sim.model.model import TALKS_STREAM, RoundDraws, RunDraws, _stream
    from sim.scenario import load_scenario

    game = compile_scenario(load_scenario(Path(__file__).parent.parent / "scenarios" / "alaska_2025.yaml").scenario)
    draws = RunDraws.draw(game, 1, np.arange(3), 10_000)
    assert draws.front.block.shape[1] <= RoundDraws.BLOCK and draws.talks.block.shape[1] <= RoundDraws.BLOCK
    # read block by block, the draws are those of one (rounds, 2) draw per run from its own stream
    seen = np.array([draws.talks.at(k) for k in range(200)])  # (rounds, runs, 2)
    whole = np.array([_stream(1, r, TALKS_STREAM).random((200, 2)) for r in range(3)])  # (runs, rounds, 2)
    assert np.array_equal(seen, whole.transpose(1, 0, 2))
    # a job of 10,000 rounds is cut into chunks whose tables fit the budget
    cap, per_run = chunk_cap(10_000, 4, rounds=True)
    assert cap * per_run <= CHUNK_BUDGET


# --- 11. missing or damaged result files ----------------------------------------------------------

@pytest.mark.parametrize("lost", ["runs.parquet", "rounds.parquet"])
def test_a_complete_folder_that_lost_a_table_is_rebuilt_by_resume(tmp_path, lost):
    out = run_job(JobSpec(kind="run", scenario=str(TINY), runs=6, rounds=True), out=tmp_path / "r", executor=ExecutorSpec(1),
                  progress=False).out
    kept = pq.read_table(out / lost)
    (out / lost).unlink()
    for command in (["plot", out], ["report", out]):
        if lost == "runs.parquet":
            assert_clean_error(negsim(*command), "runs.parquet: missing")
    done = negsim("run", "--resume", out, "--workers", "1")
    assert done.returncode == 0 and "running the whole job again" in done.stderr, done.stderr
    assert pq.read_table(out / lost).equals(kept)
