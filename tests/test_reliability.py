"""Interruption and data safety: Ctrl-C, SIGKILL at random moments, atomic files, bad command lines.

The signal and kill tests drive the installed console script in processes of their own, as a user
would; the commands whose exit code and messages are the subject run in this process. Each interrupted job
is resumed and compared with an uninterrupted one: same tables, every (point, run) exactly
once, every file in the folder readable, no temporary file left behind.
"""

from __future__ import annotations

import errno
import io
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sim.cli
import sim.jobs.chunks
import sim.jobs.run
from sim.jobs import JobSpec, resume_job, run_job
from sim.jobs.executors import ExecutorSpec
from sim.results import ResultsFolder, atomic_write_bytes, atomic_write_table
from tests.conftest import TINY, negsim_command, negsim_in_process

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and process groups")

GRID = "actors.alpha.weights.north=0.5:3:8"


def negsim(*args) -> subprocess.CompletedProcess:
    """`negsim ARGS` in this process: exit code, stdout and stderr are what these tests check, and a
    process apiece cost 2-3 s of imports a command. Signals and kills go to real processes (`start`)."""
    return negsim_in_process(*args)


def start(args: list[str]) -> subprocess.Popen:
    """A negsim process in its own session, so that a signal to its group reaches it and its workers only."""
    return subprocess.Popen(negsim_command() + [str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for_first_chunk(proc: subprocess.Popen, out: Path, timeout: float = 120) -> float:
    """Block until the job has written its first chunk; return the time it appeared."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (out / "chunks").is_dir() and any((out / "chunks").glob("runs-*.parquet.sha256")):
            return time.monotonic()
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"negsim ended (exit {proc.returncode}) before writing a chunk:\n{err}")
        time.sleep(0.005)
    proc.kill()
    pytest.fail("no chunk written in time")


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def assert_every_file_readable(folder: Path) -> None:
    """Every finished file parses: Parquet by pyarrow, the manifest as JSON (temporaries are skipped)."""
    for f in folder.rglob("*"):
        if not f.is_file() or f.name.endswith(".tmp"):
            continue
        if f.suffix == ".parquet":
            pq.read_table(f)  # raises on a truncated or corrupt file
        elif f.suffix == ".json":
            json.loads(f.read_text())


def assert_clean_and_complete(out: Path, reference: Path, rounds: bool, runs: int, points: int) -> None:
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    assert temporaries(out) == [] and not (out / "chunks").exists()
    assert_every_file_readable(out)
    table = pq.read_table(out / "runs.parquet")
    keys = list(zip(table["point"].to_pylist(), table["run"].to_pylist()))
    assert keys == [(p, r) for p in range(points) for r in range(runs)]  # no gaps, no duplicates, in order
    assert table.equals(pq.read_table(reference / "runs.parquet"))
    if rounds:
        assert pq.read_table(out / "rounds.parquet").equals(pq.read_table(reference / "rounds.parquet"))


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- Ctrl-C ----------------------------------------------------------------------------------

CTRL_C_JOBS = {
    # its arguments (besides --out), and the library spec of the same job
    "run": (["run", TINY, "--runs", "240", "--chunk", "8", "--seed", "7", "--workers", "2"],
            JobSpec(kind="run", scenario=str(TINY), runs=240, seed=7, chunk_size=8, rounds=True)),
    "sweep": (["sweep", TINY, "--grid", GRID, "--runs", "30", "--chunk", "6", "--seed", "7", "--rounds",
               "--workers", "2"],
              JobSpec(kind="sweep", scenario=str(TINY), grids=(GRID,), runs=30, seed=7, chunk_size=6, rounds=True)),
}


@pytest.mark.parametrize("kind", sorted(CTRL_C_JOBS))
def test_ctrl_c_keeps_finished_chunks_and_resume_completes(tmp_path, kind):
    args, spec = CTRL_C_JOBS[kind]
    out = tmp_path / "cut"
    proc = start(args + ["--out", out])
    wait_for_first_chunk(proc, out)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the job finished before Ctrl-C reached it")
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert f"negsim {kind} --resume {out}" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["finished"]
    kept = ResultsFolder(out).finished_chunks()
    assert 1 <= len(kept) < len(spec_tasks(spec))
    assert temporaries(out) == []
    assert_every_file_readable(out)

    resumed = negsim(kind, "--resume", out, "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    whole = run_job(spec, out=tmp_path / "whole", executor=ExecutorSpec(1), progress=False).out
    points = 8 if kind == "sweep" else 1
    assert_clean_and_complete(out, whole, rounds=True, runs=spec.runs, points=points)
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["resumed"]) == 1 and manifest["resumed"][0]["workers"] == 1


def spec_tasks(spec: JobSpec) -> list:
    points = 8 if spec.grids else 1
    return sim.jobs.chunks.plan_chunks(points, spec.runs, spec.seed, spec.chunk_size, spec.rounds)


def test_ctrl_c_on_a_dask_cluster(tmp_path):
    """On Dask the main thread runs Dask's callbacks and __del__ methods, where a KeyboardInterrupt is
    printed and dropped ("Exception ignored"): Ctrl-C must still stop the job, with exit code 130."""
    pytest.importorskip("distributed")
    out = tmp_path / "dask"
    proc = start(["run", TINY, "--runs", "3000", "--chunk", "15", "--workers", "2", "--dask", "local", "--out", out])
    wait_for_first_chunk(proc, out)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "KeyboardInterrupt" not in err and "Exception ignored" not in err, err
    assert f"negsim run --resume {out}" in err
    assert json.loads((out / "manifest.json").read_text())["status"] == "incomplete"
    assert 1 <= len(ResultsFolder(out).finished_chunks()) < 200


def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    args, spec = CTRL_C_JOBS["sweep"]
    out = tmp_path / "term"
    proc = start(args + ["--out", out])
    wait_for_first_chunk(proc, out)
    proc.send_signal(signal.SIGTERM)  # how batch schedulers stop a job: the main process only
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the job finished before SIGTERM reached it")
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert json.loads((out / "manifest.json").read_text())["status"] == "incomplete"
    assert f"negsim sweep --resume {out}" in err


# --- SIGKILL at random moments -----------------------------------------------------------------

KILL_RUNS = 45
KILL_ARGS = ["sweep", TINY, "--grid", GRID, "--runs", str(KILL_RUNS), "--chunk", "5", "--seed", "3", "--rounds",
             "--workers", "2"]


@pytest.mark.parametrize("trials, seed", [
    pytest.param(5, 20250815, id="5-trials", marks=pytest.mark.slow),
    pytest.param(25, 1, id="25-trials", marks=pytest.mark.slow),
])
def test_sigkill_at_random_moments_then_resume_gives_the_uninterrupted_tables(tmp_path, trials, seed):
    """SIGKILL to the whole job (main process, forkserver, workers) at seeded random moments between
    its first chunk and its expected end, then `--resume`: the same tables as an uninterrupted job."""
    reference = tmp_path / "reference"
    proc = start(KILL_ARGS + ["--out", reference])
    first = wait_for_first_chunk(proc, reference)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    span = time.monotonic() - first  # from first chunk to the end, merge included
    rng = random.Random(seed)
    killed = []
    for trial in range(trials):
        out = tmp_path / f"trial{trial}"
        proc = start(KILL_ARGS + ["--out", out])
        wait_for_first_chunk(proc, out)
        delay = rng.uniform(0, 0.9 * span)  # the span varies with the load: aim a little short of it
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            killed.append(trial)
        proc.communicate(timeout=60)
        # Whatever the moment: the manifest parses, and no finished file is half written.
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["status"] in ("running", "complete"), (trial, delay, manifest["status"])
        assert_every_file_readable(out)
        # The manifest may still say "running", with a dead pid. Resume serially and on the pool in turn.
        resumed = negsim("sweep", "--resume", out, "--workers", str(1 + trial % 2))
        assert resumed.returncode == 0, (trial, delay, resumed.stderr)
        assert "Traceback" not in resumed.stderr
        assert_clean_and_complete(out, reference, rounds=True, runs=KILL_RUNS, points=8)
    # Most moments fall before the end; a trial whose job had finished still checks the resume of a done job.
    print(f"SIGKILL trials: {len(killed)} of {trials} killed mid-job (span {span:.2f}s)")
    assert len(killed) >= trials // 2, f"only trials {killed} were killed mid-job (span {span:.2f}s)"


def _session_members(sid: int) -> list[tuple[int, str]]:
    """(pid, state) of the live processes in session `sid` (zombies excluded)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append((int(stat.parent.name), fields[0]))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_workers_exit_when_the_main_process_is_killed(tmp_path):
    """SIGKILL to the main process alone (the OOM killer's way) must not leave idle workers forever."""
    out = tmp_path / "orphans"
    proc = start(KILL_ARGS + ["--out", out])
    wait_for_first_chunk(proc, out)
    proc.kill()
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 20
    while _session_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _session_members(proc.pid)
    for pid, _ in left:  # do not leak them into the rest of the test session
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"processes of the killed job still running: {left}"


def test_resume_removes_temporaries_of_writes_cut_short(tmp_path, monkeypatch):
    """A process killed mid-write leaves `.NAME.PID.tmp` files; resume deletes them before it runs."""
    spec = JobSpec(scenario=str(TINY), grids=("actors.alpha.weights.north=0.5,2",), runs=10, seed=1, chunk_size=5,
                   rounds=True)
    whole = run_job(spec, out=tmp_path / "whole", executor=ExecutorSpec(1), progress=False).out
    real = sim.jobs.chunks._work
    calls = {"n": 0}

    def work(task):
        if calls["n"] == 2:
            raise KeyboardInterrupt
        calls["n"] += 1
        return real(task)

    with monkeypatch.context() as m:
        m.setattr(sim.jobs.chunks, "_work", work)
        with pytest.raises(KeyboardInterrupt):
            run_job(spec, out=tmp_path / "cut", executor=ExecutorSpec(1), progress=False)
    cut = tmp_path / "cut"
    half = (whole / "runs.parquet").read_bytes()[:300]
    planted = [cut / "chunks" / ".runs-000003.parquet.99999.tmp", cut / "chunks" / ".rounds-000002.parquet.4242.tmp",
               cut / ".runs.parquet.77777.tmp", cut / ".manifest.json.5555.tmp"]
    for p in planted:
        p.write_bytes(half)
    resume_job(cut, executor=ExecutorSpec(1), progress=False)
    assert temporaries(cut) == [] and not (cut / "chunks").exists()
    assert_clean_and_complete(cut, whole, rounds=True, runs=10, points=2)


def test_an_interrupt_before_the_first_chunk_leaves_a_resumable_folder(tmp_path, monkeypatch):
    spec = JobSpec(scenario=str(TINY), grids=("protocol.temperature=0,0.05",), runs=6, chunk_size=3, rounds=True)
    whole = run_job(spec, out=tmp_path / "whole", executor=ExecutorSpec(1), progress=False).out

    def interrupted(self, name, table):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(ResultsFolder, "write_table", interrupted)  # Ctrl-C while points.parquet is written
        with pytest.raises(KeyboardInterrupt):
            run_job(spec, out=tmp_path / "early", executor=ExecutorSpec(1), progress=False)
    early = tmp_path / "early"
    assert json.loads((early / "manifest.json").read_text())["status"] == "running"
    assert not (early / "points.parquet").exists()
    resume_job(early, executor=ExecutorSpec(1), progress=False)
    assert_clean_and_complete(early, whole, rounds=True, runs=6, points=2)


@pytest.mark.parametrize("moment", ["merged", "some runs chunks deleted", "all runs and some rounds chunks deleted"])
def test_resume_after_a_kill_in_the_middle_of_the_merge(tmp_path, monkeypatch, moment):
    """Killed after runs.parquet was written, while the chunk files were being deleted, before the
    manifest said "complete": the resume redoes what is missing and gives the same tables."""
    spec = JobSpec(scenario=str(TINY), grids=("protocol.temperature=0,0.05",), runs=12, chunk_size=3, rounds=True)
    whole = run_job(spec, out=tmp_path / "whole", executor=ExecutorSpec(1), progress=False).out
    from sim.results.chunks import ChunkMerge

    real = ChunkMerge.finish
    deleted = []
    real_unlink = Path.unlink

    def merge_then_die(self, keep_chunks=False):
        real(self, keep_chunks=True)
        if moment != "merged":  # delete in the order the merge does, and stop part-way
            limit = 3 if moment.startswith("some") else 8 + 3

            def unlink(path, missing_ok=False):
                if path.parent == self.folder.chunk_dir and len(deleted) == limit:
                    raise KeyboardInterrupt
                deleted.append(path.name)
                real_unlink(path, missing_ok)

            with monkeypatch.context() as m2:
                m2.setattr(Path, "unlink", unlink)
                self.folder.drop_merged_chunks()
        raise KeyboardInterrupt  # never reached the final manifest

    with monkeypatch.context() as m:
        m.setattr(ChunkMerge, "finish", merge_then_die)
        with pytest.raises(KeyboardInterrupt):
            run_job(spec, out=tmp_path / "cut", executor=ExecutorSpec(1), progress=False)
    cut = tmp_path / "cut"
    left = sorted(p.name for p in (cut / "chunks").glob("*.parquet"))
    if moment == "merged":
        assert len(left) == 16
    else:
        # the runs file of a chunk never outlives its rounds file
        runs_ids = {n.split("-")[1] for n in left if n.startswith("runs-")}
        assert runs_ids <= {n.split("-")[1] for n in left if n.startswith("rounds-")}
        assert len(left) == 16 - len([d for d in deleted if d.endswith(".parquet")])
    resume_job(cut, executor=ExecutorSpec(2), progress=False)
    assert_clean_and_complete(cut, whole, rounds=True, runs=12, points=2)


def test_resume_of_a_complete_folder_changes_nothing(tmp_path):
    out = run_job(JobSpec(kind="run", scenario=str(TINY), runs=5, rounds=True), out=tmp_path / "done",
                  executor=ExecutorSpec(1), progress=False).out
    before = snapshot(out)
    result = negsim("run", "--resume", out, "--workers", "1")
    assert result.returncode == 0 and "already complete" in result.stdout, result.stderr
    assert snapshot(out) == before and sorted(p.name for p in out.iterdir()) == sorted(
        ["manifest.json", "runs.parquet", "rounds.parquet", ".negsim-results", ".negsim-lock"])


# --- atomic files ----------------------------------------------------------------------------

def _half_then_fail(real):
    """A pq.write_table that writes half of the real file to its target, then fails (a full disk)."""

    def write_table(table, where, **kw):
        buf = io.BytesIO()
        real(table, buf, **kw)
        data = buf.getvalue()[: len(buf.getvalue()) // 2]
        if hasattr(where, "write"):
            where.write(data)
        else:
            Path(where).write_bytes(data)
        raise OSError(errno.ENOSPC, "No space left on device")

    return write_table


def test_a_crash_while_writing_a_table_leaves_no_partial_file(tmp_path, monkeypatch):
    table = pa.table({"point": [0, 0, 0], "run": [0, 1, 2], "x": [0.5, 1.5, 2.5]})
    fresh, old = tmp_path / "fresh.parquet", tmp_path / "old.parquet"
    atomic_write_table(old, pa.table({"point": [9], "run": [9], "x": [9.0]}))
    old_bytes = old.read_bytes()
    monkeypatch.setattr(pq, "write_table", _half_then_fail(pq.write_table))
    for target in (fresh, old):
        with pytest.raises(OSError, match="No space left"):
            atomic_write_table(target, table)
    assert not fresh.exists()  # no partial target
    assert old.read_bytes() == old_bytes  # the previous version is intact
    assert temporaries(tmp_path) == []  # and the half-written temporary is gone


def test_a_crash_while_writing_bytes_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "manifest.json"
    atomic_write_bytes(target, b'{"status": "running"}\n')

    def fail(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b'{"status": "complete", "more": "' + b"x" * 10000 + b'"}\n')
    assert json.loads(target.read_text()) == {"status": "running"}
    assert temporaries(tmp_path) == []


def test_a_chunk_cut_short_is_not_counted_as_finished(tmp_path, monkeypatch):
    folder = ResultsFolder.create(tmp_path / "f")
    tables = {"rounds": pa.table({"point": [0], "run": [0], "round": [0]}),
              "runs": pa.table({"point": [0], "run": [0]})}
    folder.write_chunk(0, tables)
    real = pq.write_table
    monkeypatch.setattr(pq, "write_table", _half_then_fail(real))
    with pytest.raises(OSError):
        folder.write_chunk(1, tables)
    assert folder.finished_chunks() == {0}
    assert temporaries(folder.path) == [] and not folder.chunk_file("runs", 1).exists()


def test_chunks_skip_the_wait_for_the_disk_and_the_merged_tables_do_not(tmp_path, monkeypatch):
    """A sealed chunk is written without fsync (a power cut that damages it fails its seal on --resume),
    while the merged table, which no seal checks, is flushed to disk before it is moved into place."""
    folder = ResultsFolder.create(tmp_path / "d")
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    for cid in range(2):
        folder.write_chunk(cid, {"runs": pa.table({"point": [0, 0], "run": [2 * cid, 2 * cid + 1]})})
    assert synced == [] and folder.finished_chunks() == {0, 1}
    assert folder.merge() == {"runs": 4}
    assert [Path(p).name for p in synced] == [f".runs.parquet.{os.getpid()}.tmp"]
    assert pq.read_table(folder.path / "runs.parquet")["run"].to_pylist() == [0, 1, 2, 3]


@pytest.mark.parametrize("merge", ["append", "decode"])
def test_a_crash_during_the_merge_keeps_the_chunks(tmp_path, monkeypatch, merge):
    """The disk fills up in the middle of the merge, on either of its paths (chunks appended as they
    are, or decoded and written again): no merged file, no temporary, every chunk still there."""
    import sim.results.chunks
    import sim.results.parquet_append

    folder = ResultsFolder.create(tmp_path / "m")
    for cid in range(3):
        folder.write_chunk(cid, {"runs": pa.table({"point": [0, 0], "run": [2 * cid, 2 * cid + 1]})})
    calls = {"n": 0}
    if merge == "decode":
        monkeypatch.setattr(sim.results.chunks.RowGroupAppender, "add", lambda self, path: self._decline())
        target, name = pq.ParquetWriter, "write_table"
    else:
        target, name = sim.results.parquet_append, "_copy"
    real = getattr(target, name)

    def flaky(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*a, **kw)

    monkeypatch.setattr(target, name, flaky)
    with pytest.raises(OSError):
        folder.merge()
    assert calls["n"] == 2, "the failure was not reached: the merge took another path"
    assert not (folder.path / "runs.parquet").exists() and temporaries(folder.path) == []
    assert folder.finished_chunks() == {0, 1, 2}
    monkeypatch.setattr(target, name, real)
    assert folder.merge() == {"runs": 6}
    assert pq.read_table(folder.path / "runs.parquet")["run"].to_pylist() == list(range(6))


# --- bad command lines -------------------------------------------------------------------------

def assert_clean_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit code 2, no traceback, the message on one line (argparse puts its usage above it)."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    err = result.stderr
    assert "Traceback" not in err and "Exception" not in err, err
    lines = err.strip().splitlines()
    if lines and lines[0].startswith("usage:"):
        lines = [line for line in lines if ": error: " in line]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, err)


BAD_FLAGS = [
    (["run", TINY, "--runs", "-5"], "argument --runs: must be at least 1, got -5"),
    (["run", TINY, "--runs", "1.5"], "argument --runs: expected a whole number"),
    (["run", TINY, "--workers", "0"], "argument --workers: must be at least 1, got 0"),
    (["run", TINY, "--seed", "x"], "argument --seed: expected a whole number, got 'x'"),
    (["run", TINY, "--seed", "-1"], "argument --seed: must be 0 or more"),
    (["run", TINY, "--chunk", "0"], "argument --chunk: must be at least 1"),
    (["run", TINY, "--protocol", "auction"], "argument --protocol: invalid choice: 'auction'"),
    (["run", TINY, "--set", "protocol.max_rounds"], "--set protocol.max_rounds: expected PATH=VALUE"),
    (["run", TINY, "--set", "protocol.nonsense=3"], "protocol.nonsense"),
    (["sweep", TINY, "--grid", "x=1:2:zero"], "--grid x=1:2:zero: COUNT 'zero' is not a whole number"),
    (["sweep", TINY, "--method", "foo", "--sample", "protocol.temperature=0:1", "--points", "2"],
     "argument --method: invalid choice: 'foo'"),
    (["sweep", TINY, "--grid", "meta.title=0:1:3"],
     "meta.title ('Tiny test scenario') is not a number, so it cannot take a numeric range"),
    (["sweep", TINY, "--grid", "actors.nobody.weights.north=0:1:3"],
     "--grid actors.nobody.weights.north: no such field"),
    (["sweep", TINY, "--sample", "protocol.temperature=0:1"], "give the number of sampled points with --points N"),
    (["sweep", TINY, "--sample", "protocol.temperature=1:0", "--points", "4"], "must be below HIGH"),
    (["sweep", TINY, "--points", "0"], "argument --points: must be at least 1"),
    (["run"], "give a SCENARIO file, or --resume DIR"),
    (["sweep"], "give a SCENARIO file, or --resume DIR"),
]


def main(capsys, *args) -> subprocess.CompletedProcess:
    """`negsim ARGS` in this process (the same main() as the console script), as a CompletedProcess."""
    capsys.readouterr()
    try:
        code = sim.cli.main([str(a) for a in args])
    except SystemExit as exc:  # argparse
        code = exc.code
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


@pytest.mark.parametrize("args, message", BAD_FLAGS, ids=[" ".join(str(a) for a in c[0][2:]) or c[0][0]
                                                          for c in BAD_FLAGS])
def test_nonsense_flag_values_are_one_clear_line(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert_clean_error(main(capsys, *args, "--out", out), message)
    assert not out.exists()


def test_nonsense_flags_through_the_console_script(tmp_path):
    for args, message in (BAD_FLAGS[0], BAD_FLAGS[9]):
        assert_clean_error(negsim(*args, "--out", tmp_path / "out"), message)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["validate", "evaluate", "analyze", "explain", "run", "sweep"])
def test_missing_scenario_file(tmp_path, capsys, command):
    missing = tmp_path / "nope.yaml"
    extra = ["--out", tmp_path / "out", "--runs", "3"] if command in ("run", "sweep") else []
    assert_clean_error(main(capsys, command, missing, *extra), f"{missing}: no such file")
    assert not (tmp_path / "out").exists()
    if command == "run":
        assert_clean_error(negsim(command, missing, *extra), f"{missing}: no such file")


def test_results_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "somefile"
    blocker.write_text("a file, not a folder")
    for args in (["run", TINY, "--runs", "3"], ["sweep", TINY, "--grid", "protocol.temperature=0,0.1", "--runs", "3"]):
        result = negsim(*args, "--out", blocker / "sub", "--workers", "1")
        assert_clean_error(result, "--out: cannot create the results folder", "Not a directory")
    assert blocker.read_text() == "a file, not a folder"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes through chmod 0o500")
def test_results_folder_in_a_read_only_parent(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        result = negsim("run", TINY, "--runs", "3", "--workers", "1", "--out", parent / "out")
        assert_clean_error(result, "--out: cannot create the results folder", "Permission denied")
    finally:
        parent.chmod(0o700)


def test_existing_results_folder_is_refused_and_left_byte_for_byte(tmp_path, capsys):
    done = run_job(JobSpec(kind="sweep", scenario=str(TINY), grids=("protocol.temperature=0,0.1",), runs=4),
                   out=tmp_path / "done", executor=ExecutorSpec(1), progress=False).out
    (done / "notes.txt").write_text("mine")
    before = snapshot(done)
    assert_clean_error(negsim("run", TINY, "--runs", "3", "--out", done, "--workers", "2"),
                       "results folder already exists", "--resume", "--force")
    assert snapshot(done) == before
    assert_clean_error(main(capsys, "sweep", TINY, "--grid", "protocol.temperature=0,0.1", "--runs", "3", "--out",
                            done, "--workers", "1"), "results folder already exists")
    assert snapshot(done) == before
    # --resume and --out together are ambiguous
    assert_clean_error(main(capsys, "sweep", "--resume", done, "--out", tmp_path / "x"), "drop --out/--force")
    # a folder that is not a results folder is never replaced, even with --force
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    assert_clean_error(main(capsys, "run", TINY, "--runs", "3", "--out", mine, "--force", "--workers", "1"),
                       "only replaces a results folder")
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert snapshot(done) == before


def test_resume_of_something_that_is_not_a_results_folder(tmp_path, capsys):
    assert_clean_error(negsim("run", "--resume", tmp_path / "nothing"), "not a results folder")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    assert_clean_error(main(capsys, "sweep", "--resume", broken), "not a results folder")
    assert sorted(p.name for p in broken.iterdir()) == ["manifest.json"]
    # negsim's own folder with a damaged manifest: one line saying so, not a traceback
    ours = run_job(JobSpec(kind="run", scenario=str(TINY), runs=3), out=tmp_path / "ours", executor=ExecutorSpec(1),
                   progress=False).out
    (ours / "manifest.json").write_text('{"status": "runn')
    assert_clean_error(main(capsys, "run", "--resume", ours), "not valid JSON")
    (ours / "manifest.json").write_text("[1, 2]")
    assert_clean_error(main(capsys, "run", "--resume", ours), "not a negsim manifest")


def test_a_live_job_cannot_be_resumed_twice(tmp_path):
    """The manifest of a running job names its pid: a --resume while it runs is refused."""
    out = tmp_path / "live"
    # A job far longer than the test (it is killed below): with the compiled engine the usual small
    # one can end before the second command has even started.
    proc = start(["sweep", TINY, "--grid", GRID, "--runs", "20000", "--chunk", "50", "--seed", "3", "--rounds",
                  "--workers", "2", "--out", out])
    wait_for_first_chunk(proc, out)
    try:
        result = negsim("sweep", "--resume", out, "--workers", "1")
        assert proc.poll() is None, "the job ended before it could be checked"
        assert_clean_error(result, f"this job is still running (process {proc.pid} on this machine)")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate(timeout=60)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "running" and manifest["process"]["pid"] == proc.pid
    sim.jobs.run._refuse_if_running(manifest, ResultsFolder(out))  # dead now: no longer in the way
    sleeper = subprocess.Popen(["sleep", "60"])  # a recycled pid: alive, but not negsim
    try:
        manifest["process"]["pid"] = sleeper.pid
        sim.jobs.run._refuse_if_running(manifest, ResultsFolder(out))
    finally:
        sleeper.kill()
        sleeper.wait()
