"""Running many simulations: chunking, executors (serial, process pool, Dask), manifest, summary.

Work is cut into chunks of runs; each chunk is simulated wherever an executor sends it and
written by this process as soon as it comes back, so memory stays flat and a stopped job
keeps what it finished. Results never depend on the executor: every run seeds itself.
"""

from __future__ import annotations

import math
import os
import platform
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim import __version__
from sim.domain.game import Game
from sim.errors import Problem, UserError
from sim.executors import LOCAL, ExecutorSpec
from sim.results import ResultsFolder, now_iso
from sim.simulate import NEAR_ISSUES, ChunkSpec, simulate_chunk
from sim.stopping import _note_interrupt, _raise_interrupt, _stop


@dataclass(frozen=True)
class Task:
    """One chunk of work with the game it runs on."""

    chunk_id: int
    game: Game
    spec: ChunkSpec


def plan_chunks(n_points: int, runs: int, seed: int, chunk_size: int, collect_rounds: bool) -> list[tuple[int, int, ChunkSpec]]:
    """(chunk id, point, spec) for every chunk, in a fixed order independent of the executor."""
    out = []
    for point in range(n_points):
        for start in range(0, runs, chunk_size):
            spec = ChunkSpec(seed, point, (start, min(start + chunk_size, runs)), collect_rounds)
            out.append((len(out), point, spec))
    return out


def auto_chunk_size(total_runs: int, workers: int) -> int:
    """Big enough to amortise start-up, small enough to balance load and report progress."""
    return int(min(2000, max(50, math.ceil(total_runs / max(1, workers * 8)))))


def _work(task: Task) -> tuple[int, dict]:
    return task.chunk_id, simulate_chunk(task.game, task.spec)


@contextmanager
def stop_on_signals(raise_at_once: bool = True) -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM stop the job as KeyboardInterrupt; batch schedulers stop jobs with SIGTERM.

    With `raise_at_once` the exception is raised wherever the main thread is, and the signal is
    also remembered: an exception landing in a __del__ or a callback is only printed ("Exception
    ignored") and dropped, and the job would run on to the end and exit 0; run_tasks raises it
    again after each chunk. Without, the signal is only remembered, for run_tasks to raise
    between chunks: while it waits on Dask or the process pool, whose futures run Python code in
    __del__ and callbacks, that is the only way to stop cleanly.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGINT) not in (_raise_interrupt, _note_interrupt):
        _stop.clear()  # outermost: forget a signal from an earlier job in this process
    handler = _raise_interrupt if raise_at_once else _note_interrupt
    # A signal ignored from the start (say `nohup`, or `negsim ... &` in a script) stays ignored.
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _check_stop() -> None:
    if _stop.is_set():
        raise KeyboardInterrupt


_OPEN = object()  # run_tasks/execute: open an executor from `where`


def run_tasks(tasks: list[Task], on_result: Callable[[Task, object], None], where: ExecutorSpec = LOCAL,
              progress: bool | None = None, work: Callable[[Task], tuple[int, object]] | None = None,
              executor=_OPEN) -> None:
    """Run `work` (default: simulate the chunk) on every task; hand each result to `on_result`.

    `where` says where to run; `executor` may instead pass one already open (from where.open()).
    """
    if executor is _OPEN:
        if tasks:
            with where.open() as opened:
                run_tasks(tasks, on_result, where, progress=progress, work=work, executor=opened)
        return
    work = work or _work
    bar = _progress(sum(t.spec.runs[1] - t.spec.runs[0] for t in tasks), progress)
    try:
        with stop_on_signals(raise_at_once=executor is None):
            if executor is None:
                for task in tasks:
                    _, result = work(task)
                    on_result(task, result)
                    bar.update(task.spec.runs[1] - task.spec.runs[0])
                    _check_stop()
                return
            finished: queue.SimpleQueue[Future] = queue.SimpleQueue()
            futures: dict[Future, Task] = {}
            try:
                for t in tasks:
                    fut = executor.submit(work, t)
                    futures[fut] = t
                    fut.add_done_callback(finished.put)
                    _check_stop()
                while futures:
                    try:
                        fut = finished.get(timeout=0.2)
                    except queue.Empty:
                        _check_stop()
                        continue
                    task = futures.pop(fut)
                    _, result = fut.result()
                    on_result(task, result)
                    bar.update(task.spec.runs[1] - task.spec.runs[0])
                    _check_stop()
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    finally:
        bar.close()


def _work_and_write(task: Task, folder: str, job_id: str = "") -> tuple[int, None]:
    ResultsFolder(Path(folder), job_id).write_chunk(task.chunk_id, simulate_chunk(task.game, task.spec))
    return task.chunk_id, None


def execute(tasks: list[Task], folder: ResultsFolder, where: ExecutorSpec = LOCAL,
            progress: bool | None = None, executor=_OPEN) -> int:
    """Run every task not already finished in `folder`; write each chunk as it completes."""
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    done = folder.finished_chunks()
    todo = [t for t in tasks if t.chunk_id not in done]
    # Local workers share the disk: each writes its own chunk (atomically), which keeps the
    # parent's core free; Dask workers may be elsewhere, so they send their tables back.
    local = where.dask is None and (executor is _OPEN or isinstance(executor, ProcessPoolExecutor))
    work = partial(_work_and_write, folder=str(folder.path), job_id=folder.job_id) if local else None

    def keep(task: Task, tables) -> None:
        if tables is not None:
            folder.write_chunk(task.chunk_id, tables)

    run_tasks(todo, keep, where, progress=progress, executor=executor, work=work)
    return len(todo)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool | None):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled or total == 0:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, unit="run", file=sys.stderr, dynamic_ncols=True)


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarise(runs_path: Path, manifest: dict) -> str:
    """A short plain-text summary of a runs table, read in batches so memory stays flat."""
    from collections import Counter

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = pq.ParquetFile(runs_path)
    deal_cols = [c for c in source.schema_arrow.names if c.startswith("deal_")]
    outcomes, families, deals = Counter(), Counter(), Counter()
    agreed_rounds, signed_rounds = [], []
    has_pauses = "suspensions" in source.schema_arrow.names
    paused = 0
    extra = ["suspensions"] if has_pauses else []
    for batch in source.iter_batches(columns=["outcome", "round", "nearest_proposal", *extra, *deal_cols]):
        outcome = batch.column("outcome")
        outcomes.update(outcome.to_pylist())
        is_agreed = pc.equal(outcome, "agreement")
        agreed = batch.filter(is_agreed)
        agreed_rounds.append(agreed.column("round").to_numpy(zero_copy_only=False))
        signed_rounds.append(batch.filter(pc.equal(outcome, "partial")).column("round").to_numpy(zero_copy_only=False))
        families.update(agreed.column("nearest_proposal").to_pylist())
        deals.update(zip(*(agreed.column(c).to_pylist() for c in deal_cols)))
        if has_pauses:
            paused += int(pc.sum(pc.greater(batch.column("suspensions"), 0)).as_py() or 0)
    n = sum(outcomes.values())
    n_agreed = outcomes.get("agreement", 0)
    lo, hi = wilson_interval(n_agreed, n)
    lines = [f"{n:,} runs of {manifest['scenario']['name']} (seed {manifest['seed']})",
             f"agreement rate {n_agreed / max(n, 1):.1%} (95% CI {lo:.1%}–{hi:.1%}); "
             + ", ".join(f"{k} {v:,}" for k, v in outcomes.most_common())]
    n_signed = n_agreed + outcomes.get("partial", 0)
    if n_signed > n_agreed:
        lo, hi = wilson_interval(n_signed, n)
        lines.append(f"signed by the horizon (agreement, or a ceasefire without settlement when a consent is "
                     f"withheld) {n_signed / max(n, 1):.1%} (95% CI {lo:.1%}–{hi:.1%})")
        lines.append(agreement_curve_text(np.concatenate(agreed_rounds + signed_rounds), n, manifest, "signed"))
    if n_agreed:
        rounds = np.concatenate(agreed_rounds)
        lines.append(agreement_curve_text(rounds, n, manifest))
        names = {p["id"]: p["name"] for p in manifest.get("proposals", [])}
        lines.append(f"agreements by nearest named proposal (at most {manifest.get('near_issues', 2)} issues apart):")
        for pid, c in families.most_common(5):
            lines.append(f"  {c / n_agreed:6.1%}  {names.get(pid, pid) if pid else '(no named proposal close)'}")
        lines.append("most frequent agreed deals:")
        for deal, c in deals.most_common(3):
            text = ", ".join(f"{col[5:]}={opt}" for col, opt in zip(deal_cols, deal))
            lines.append(f"  {c / n_agreed:6.1%}  {text}")
    if has_pauses and n:
        lines.append(f"talks paused by a walk-out at least once in {paused / n:.1%} of runs")
    return "\n".join(lines)


def agreement_by_date(rounds: np.ndarray, n: int, manifest: dict) -> list[tuple[str, float, float, float]]:
    """P(agreement by D) with its 95% Wilson interval, at each month end of the talks and the horizon."""
    import datetime as dt

    as_of = dt.date.fromisoformat(manifest.get("as_of") or manifest["scenario"]["as_of"])
    round_days = float(manifest.get("round_days") or 14.0)
    last = int(manifest["max_rounds"]) - 1
    horizon = (dt.date.fromisoformat(manifest["horizon"]) if manifest.get("horizon")
               else as_of + dt.timedelta(days=last * round_days))
    dates, d = [], as_of
    while True:
        d = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)  # month end
        if d >= horizon:
            break
        if d > as_of:
            dates.append(d)
        d = d + dt.timedelta(days=1)
    dates.append(horizon)
    out = []
    for date in dates:
        k = int(np.floor((date - as_of).days / round_days + 1e-9))
        hits = int((rounds <= k).sum())
        lo, hi = wilson_interval(hits, n)
        out.append((date.isoformat(), hits / max(n, 1), lo, hi))
    return out


def agreement_curve_text(rounds: np.ndarray, n: int, manifest: dict, what: str = "agreement") -> str:
    """The agreement-by-date curve (or another ending's, named by `what`) as one line of text."""
    points = agreement_by_date(rounds, n, manifest)
    return f"{what} by date: " + ", ".join(f"{d} {p:.1%}" for d, p, _, _ in points)


def base_manifest(loaded, game: Game, argv: list[str], seed: int, runs: int, **parameters) -> dict:
    """Everything needed to know what produced a results folder, and to reproduce it."""
    return {
        "negsim_version": __version__,
        "command": list(argv),
        "cwd": os.getcwd(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "started": now_iso(),
        "finished": None,
        "status": "running",
        "seed": seed,
        "runs": runs,
        "parameters": parameters,
        "seeding": ("per run: numpy SeedSequence(seed, spawn_key=(run, stream)), PCG64, for acceptance, front "
                    "and talks; uncertain numbers from SplitMix64 of (seed, run, path); the same at every point"),
        "scenario": {"path": str(loaded.path), "sha256": loaded.sha256, "name": loaded.name,
                     "description": loaded.scenario.meta.description,
                     "title": loaded.scenario.meta.title, "as_of": str(loaded.scenario.meta.as_of)},
        "actors": [{"id": a, "name": n, "roles": list(r)}
                   for a, n, r in zip(game.actor_ids, game.actor_names, game.roles)],
        "issues": [{"id": iid, "name": loaded.scenario.issues[iid].name, "kind": loaded.scenario.issues[iid].kind,
                    "options": list(game.space.option_ids[i]), "area_km2": loaded.scenario.issues[iid].area_km2}
                   for i, iid in enumerate(game.space.issue_ids)],
        "proposals": [{"id": p, "name": n} for p, n in zip(game.proposal_ids, game.proposal_names)],
        "signatories": [game.actor_ids[s] for s in game.signatories],
        "max_rounds": game.protocol["max_rounds"],
        "as_of": game.as_of,
        "horizon": game.horizon,
        "round_days": game.round_days,
        "near_issues": NEAR_ISSUES,
        "protocol": game.protocol["kind"],
    }


DEFAULT_RUNS = 1000


def default_out(name: str, kind: str = "") -> Path:
    """results/<scenario>[-<kind>]-<UTC timestamp>."""
    import time

    stem = f"{name}-{kind}" if kind else name
    return Path("results") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"


def run_command(args, argv: list[str]) -> int:
    """`negsim run`: simulate (or resume), write the results folder, print a summary, optionally plot."""
    from sim.sweep import JobSpec, resume_job, run_job

    dask = getattr(args, "dask", None)
    sets = tuple(args.set or ())
    if getattr(args, "protocol", None):
        sets += (f"protocol.kind={args.protocol}",)
    if getattr(args, "resume", None):
        if args.out or getattr(args, "force", False):
            raise UserError([Problem("", None, "--resume", "continues the folder it names; drop --out/--force")])
        # Options that define the job must match the manifest: a resumed job silently ignoring
        # a --set would pass off the old scenario's numbers as the new one's.
        result = resume_job(args.resume, argv=argv, executor=ExecutorSpec(args.workers, dask), scenario=args.scenario,
                            given={"runs": args.runs, "seed": args.seed, "chunk_size": args.chunk, "sets": sets})
    else:
        if not args.scenario:
            raise UserError([Problem("", None, "negsim run", "give a SCENARIO file, or --resume DIR")])
        runs = args.runs if args.runs is not None else DEFAULT_RUNS
        spec = JobSpec(kind="run", scenario=args.scenario, sets=sets, runs=runs, seed=args.seed or 0,
                       chunk_size=args.chunk, rounds=True)
        result = run_job(spec, out=args.out, argv=argv, executor=ExecutorSpec(args.workers, dask),
                         force=getattr(args, "force", False), yes=getattr(args, "yes", False))
    print(result.summary)
    out, manifest = result.out, result.manifest
    if getattr(args, "drivers", False) and manifest.get("job", {}).get("kind", "run") == "run":
        print(write_drivers(out, manifest))
    if getattr(args, "plot", False) and manifest.get("job", {}).get("kind", "run") == "run":
        from sim.plots import plot_results

        write_analysis(out, manifest)

        for path in plot_results(out):
            print(f"figure: {path}")
    return 0


def write_drivers(out: Path, manifest: dict) -> str:
    """Estimate what drives the run's answer, write drivers.json, and return the text section."""
    import json

    from sim.drivers import drivers, drivers_text
    from sim.results import atomic_write_bytes
    from sim.sweep import scenario_with_sets

    job = manifest.get("job", {})
    loaded, _ = scenario_with_sets(job.get("scenario_path") or manifest["scenario"]["path"],
                                   tuple(job.get("sets", ())))
    result = drivers(loaded.scenario, seed=int(manifest.get("seed") or 0))
    atomic_write_bytes(out / "drivers.json", (json.dumps(result.to_dict(), indent=1) + "\n").encode())
    ResultsFolder(out).own("drivers.json")
    return drivers_text(result)


def write_analysis(out: Path, manifest: dict) -> Path:
    """The deal-space benchmarks (frontier, Nash, Kalai-Smorodinsky) of the run's scenario, as analysis.json."""
    import json

    from sim.analysis import analysis_json, analyze
    from sim.results import atomic_write_bytes
    from sim.sweep import scenario_with_sets

    job = manifest.get("job", {})
    _, game = scenario_with_sets(job.get("scenario_path") or manifest["scenario"]["path"], tuple(job.get("sets", ())))
    result = analyze(game)
    data = analysis_json(result) | {"actors": list(result["actor_ids"]),
                                    "frontier_utilities": result["frontier_utilities"].tolist()}
    path = out / "analysis.json"
    atomic_write_bytes(path, (json.dumps(data, indent=1, default=float) + "\n").encode())
    ResultsFolder(out).own("analysis.json")
    return path
