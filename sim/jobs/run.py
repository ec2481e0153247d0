"""Running a job: create (or resume) its results folder, run the chunks, merge, summarise.

A job is fully described by its JobSpec, which the manifest records; --resume rebuilds the
same plan from it (after checking that the scenario file is unchanged and that the rebuilt
points equal points.parquet) and runs only the chunks not yet on disk, verified by their seals."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim.errors import Problem, UserError
from sim.jobs.budget import check_estimate, chunk_cap, estimate
from sim.jobs.executors import LOCAL, ExecutorSpec
from sim.jobs.plan import Plan, plan_job
from sim.jobs.spec import JobSpec
from sim.results import ResultsFolder, now_iso, write_failure
from sim.results.summary import point_rates, sweep_table
from sim.scenario.yamlsrc import read_bytes

if TYPE_CHECKING:
    from sim.domain.game import Game


def _libraries() -> dict[str, str]:
    import pyarrow
    import scipy

    out = {"numpy": np.__version__, "scipy": scipy.__version__, "pyarrow": pyarrow.__version__}
    try:
        import mesa

        out["mesa"] = mesa.__version__
    except Exception:  # noqa: BLE001 - a version string is a courtesy, never a reason to fail
        pass
    return out


def _engine() -> str:
    """The engine this job's chunks ask for ("compiled" or "numpy"; the same runs either way). A model
    the kernels do not cover (a plug-in protocol, say) plays on numpy whichever is asked for."""
    from sim.model.kernel import resolve_engine

    return resolve_engine()


@dataclass
class JobResult:
    """What a finished job left: its folder, manifest and a summary to print (and the game of its first
    point, compiled already, for what follows in the same command: None after a resume with nothing to do)."""

    out: Path
    manifest: dict
    summary: str
    game: Game | None = None


def run_job(spec: JobSpec, out: str | Path | None = None, argv: list[str] | None = None,
            executor: ExecutorSpec = LOCAL, force: bool = False, progress: bool | None = None,
            yes: bool = False) -> JobResult:
    """Plan and validate a job, check it fits the machine, create its results folder, run it and merge."""
    from sim.jobs import auto_chunk_size, base_manifest, default_out

    executor.check()  # too many processes or a bad Dask address: refused before the plan is built
    plan = plan_job(spec)
    game = plan.games[0]
    executor = executor.sized_for(plan.n_points * spec.runs * game.protocol["max_rounds"])
    workers_eff = executor.effective_workers
    cap, _ = chunk_cap(game.protocol["max_rounds"], game.n_actors, spec.rounds)
    if spec.chunk_size is None:
        chunk = auto_chunk_size(plan.n_points * spec.runs, workers_eff)
        spec = dataclasses.replace(spec, chunk_size=max(1, min(chunk, spec.runs, cap)))
    elif spec.chunk_size > cap:
        raise UserError([Problem("", None, "--chunk", f"{spec.chunk_size:,} runs per chunk of {game.protocol['max_rounds']:,} "
                                                      f"rounds would not fit in a worker's memory budget; at most {cap:,}")])
    plan = dataclasses.replace(plan, spec=spec)
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    kind = "" if spec.kind == "run" else "sweep"
    out = Path(out) if out else default_out(plan.loaded.name, kind)
    check_estimate(estimate(plan.n_points, spec.runs, spec.chunk_size, game.protocol["max_rounds"], game.n_actors,
                            spec.rounds, workers_eff), out, yes)
    # The executor comes first: an unreachable cluster or a missing extra must leave no folder behind.
    with executor.open() as pool:
        manifest = base_manifest(plan.loaded, plan.games[0], argv or sys.argv, spec.seed, spec.runs,
                                 workers=workers_eff, chunk_size=spec.chunk_size, dask=executor.dask)
        manifest["points"] = plan.n_points
        manifest["job"] = {**spec.to_dict(), "scenario_path": str(Path(spec.scenario).resolve()),
                           "n_points": plan.n_points, "swept": [a.name for a in plan.axes]}
        manifest["libraries"] = _libraries()
        manifest["engine"] = _engine()
        manifest["backend"] = executor.backend
        folder = ResultsFolder.create(out, force=force)
        manifest["job_id"] = folder.job_id
        # At once, so that a job stopped from here on leaves a folder that --resume (or --force) accepts.
        try:
            folder.write_manifest(manifest)
            if spec.kind != "run":
                folder.write_table("points", plan.points_table())
        except OSError as exc:
            raise write_failure(folder.path, exc) from None
        return _execute_and_finish(plan, folder, manifest, executor, pool, progress)


def resume_job(path: str | Path, argv: list[str] | None = None, executor: ExecutorSpec = LOCAL,
               scenario: str | None = None, given: dict | None = None, progress: bool | None = None) -> JobResult:
    """Continue an interrupted job from its manifest: run the missing chunks, merge, summarise.

    `given` holds job options the user also typed; each must match the manifest.
    """
    folder = ResultsFolder.open(path)
    manifest = folder.read_manifest()
    job = manifest.get("job")
    if not job:
        raise UserError([Problem(str(folder.manifest_path), None, "--resume",
                                 "this manifest has no job record (written by an older negsim); "
                                 "it cannot be resumed")])
    spec = JobSpec.from_dict(job)
    _check_same_options(spec, given or {}, folder)
    recorded = Path(job["scenario_path"])
    if scenario is not None and Path(scenario).resolve() != recorded:
        raise UserError([Problem(scenario, None, "--resume", f"this job's scenario is {recorded}; drop SCENARIO "
                                                             "or give that file")])
    tables = ["runs.parquet"] + (["rounds.parquet"] if spec.rounds else [])
    lost = [t for t in tables if not (folder.path / t).is_file()]
    if manifest.get("status") == "complete" and lost:
        # The chunks are gone with the merge: the only way back is to run the job again.
        print(f"note: {folder.path} says complete but {', '.join(lost)} is missing; running the whole job again",
              file=sys.stderr)
        manifest["status"] = "incomplete"
    if manifest.get("status") == "complete":
        return JobResult(folder.path, manifest, f"{folder.path} is already complete; nothing to resume\n"
                         + _summary(folder.path, manifest))
    _refuse_if_running(manifest, folder)
    folder.remove_temporaries()
    raw = read_bytes(recorded)
    now = hashlib.sha256(raw).hexdigest()
    was = manifest["scenario"]["sha256"]
    if now != was:
        raise UserError([Problem(str(recorded), None, "--resume",
                                 f"the scenario file has changed since this job started (SHA-256 was "
                                 f"{was[:12]}…, is now {now[:12]}…); resuming would mix results of two "
                                 "different scenarios. Restore the file, or start a new job")])
    plan = plan_job(dataclasses.replace(spec, scenario=str(recorded)), raw=raw)
    if spec.kind != "run":
        _check_points(plan, folder)
    manifest.setdefault("resumed", []).append({"at": now_iso(), "command": list(argv or sys.argv),
                                              "workers": executor.effective_workers, "dask": executor.dask,
                                              "backend": executor.backend, "engine": _engine()})
    with executor.open() as pool:
        return _execute_and_finish(plan, folder, manifest, executor, pool, progress)


def _check_same_options(spec: JobSpec, given: dict, folder: ResultsFolder) -> None:
    differ = []
    for key, value in given.items():
        if value in (None, (), []):
            continue
        recorded = getattr(spec, key)
        if isinstance(recorded, tuple):
            value = tuple(value)
        if value != recorded:
            differ.append(f"{key} (manifest: {recorded!r}, given: {value!r})")
    if differ:
        raise UserError([Problem(str(folder.path), None, "--resume",
                                 "a resumed job keeps the options in its manifest; these differ: "
                                 + "; ".join(differ) + ". Drop them, or start a new job")])


def _refuse_if_running(manifest: dict, folder: ResultsFolder) -> None:
    run = manifest.get("process") or {}
    if manifest.get("status") != "running" or run.get("host") != socket.gethostname():
        return
    pid = run.get("pid")
    if pid and pid != os.getpid() and _alive(pid):
        raise UserError([Problem(str(folder.path), None, "--resume",
                                 f"this job is still running (process {pid} on this machine); stop it "
                                 "first, or wait for it")])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        # A recycled pid belongs to some other program; only a negsim process counts.
        return b"sim" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def _check_points(plan: Plan, folder: ResultsFolder) -> None:
    import pyarrow.parquet as pq

    stored_path = folder.path / "points.parquet"
    rebuilt = plan.points_table()
    if not stored_path.is_file():
        folder.write_table("points", rebuilt)
        return
    stored = pq.read_table(stored_path)
    if not stored.equals(rebuilt):
        raise UserError([Problem(str(stored_path), None, "--resume",
                                 "the points rebuilt from the manifest differ from points.parquet (a "
                                 "different scipy or negsim version?); resuming would mix two designs. "
                                 "Start a new job")])


def resume_hint(kind: str, out: Path) -> str:
    """The command that continues a job in `out`."""
    return f"negsim {'run' if kind == 'run' else 'sweep'} --resume {shlex.quote(str(out))}"


def _execute_and_finish(plan: Plan, folder: ResultsFolder, manifest: dict, where: ExecutorSpec, pool,
                        progress: bool | None) -> JobResult:
    from concurrent.futures.process import BrokenProcessPool

    from sim.jobs import execute, stop_on_signals

    tasks = plan.tasks()
    expected = {t.chunk_id: t.spec.runs[1] - t.spec.runs[0] for t in tasks}
    tables = ("runs", "rounds") if plan.spec.rounds else ("runs",)
    manifest.update(status="running", finished=None, job_id=folder.job_id,
                    process={"pid": os.getpid(), "host": socket.gethostname()})
    try:
        folder.write_manifest(manifest)
        folder.chunk_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise write_failure(folder.path, exc) from None
    # A chunk counts only if its checksum, job and row count hold: a truncated, garbled or
    # foreign chunk is deleted here and run again, and the user is told.
    stored, rejected = folder.verify_chunks(expected, tables)
    if rejected:
        print(f"note: {len(rejected)} stored chunk(s) failed verification and will be run again: "
              + "; ".join(rejected[:5]) + (" ..." if len(rejected) > 5 else ""), file=sys.stderr)
    # Each table's file grows as the chunks finish (in plan order), so that the merge is nearly done
    # when the last chunk is; the chunks stay until it is.
    merging = folder.start_merge(sorted(expected))
    try:
        # Ctrl-C or SIGTERM (how batch schedulers stop jobs), during the runs or the merge, leaves
        # the manifest "incomplete" and the finished chunks usable for --resume.
        with stop_on_signals():
            for cid in sorted(stored):
                merging.chunk_done(cid)
            execute(tasks, folder, where, progress=progress, executor=pool, on_chunk=merging.chunk_done)
            missing = set(expected) - folder.finished_chunks()
            counts = merging.finish() if not missing else {}
    except BaseException as exc:
        merging.abort()
        interrupted = isinstance(exc, KeyboardInterrupt)
        done = len(folder.finished_chunks() & set(expected))
        manifest.update(status="incomplete" if interrupted else "failed", finished=now_iso())
        if not interrupted:
            manifest["error"] = f"{type(exc).__name__}: {exc}"
        try:
            folder.write_manifest(manifest)
        except OSError:
            pass  # the disk may be full: the manifest still says "running", which --resume accepts
        what = "interrupted" if interrupted else "stopped by an error"
        print(f"{what}: {done} of {len(tasks)} chunks finished and are kept in {folder.path}; continue with:\n"
              f"  {resume_hint(plan.spec.kind, folder.path)}", file=sys.stderr)
        if isinstance(exc, BrokenProcessPool):
            raise UserError("a worker process died (out of memory?); the finished chunks are kept") from None
        if isinstance(exc, OSError):
            raise write_failure(folder.path, exc) from None
        raise
    if missing:
        merging.abort()
        raise UserError(f"{folder.path}: {len(missing)} chunk(s) missing after the run; resume with "
                        f"{resume_hint(plan.spec.kind, folder.path)}")
    manifest.update(status="complete", finished=now_iso(), rows=counts)
    manifest.pop("error", None)
    try:
        folder.write_manifest(manifest)
    except OSError as exc:
        raise write_failure(folder.path, exc) from None
    return JobResult(folder.path, manifest, _summary(folder.path, manifest), plan.games[0])


def _summary(out: Path, manifest: dict) -> str:
    import pyarrow.parquet as pq

    job = manifest.get("job", {})
    if job.get("kind", "run") == "run":
        from sim.results import summarise

        return summarise(out / "runs.parquet", manifest) + f"\nresults: {out}"
    points = pq.read_table(out / "points.parquet").to_pandas()
    n, agreed = point_rates(out / "runs.parquet", len(points))
    return sweep_table(points, n, agreed, manifest) + f"\nresults: {out}"
