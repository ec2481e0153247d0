"""Chunks of runs and how they are executed: planning, the task loop over an executor, stopping."""

from __future__ import annotations

import functools
import gc
import math
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sim.domain.game import Game
from sim.jobs.executors import LOCAL, ExecutorSpec
from sim.results import ResultsFolder
from sim.simulate import ChunkSpec, simulate_chunk
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
    """Big enough to amortise start-up, small enough to balance load and report progress: eight chunks
    per worker, or on one worker, which has no load to balance, the largest (each chunk costs a model,
    two files and a merge step)."""
    per_chunk = total_runs if workers <= 1 else math.ceil(total_runs / (workers * 8))
    return int(min(2000, max(50, per_chunk)))


def _work(task: Task) -> tuple[int, dict]:
    try:
        return task.chunk_id, simulate_chunk(task.game, task.spec)
    finally:
        release_free_memory()


def release_free_memory() -> None:
    """Free what a finished chunk left: its cyclic garbage.

    A chunk's model is a reference cycle (Mesa's agents, events and scenario point back at it)
    holding the chunk's arrays; with hundreds of thousands of long-lived objects (numba's loaded
    kernels) Python's collector seldom looks at the oldest generation, and a million-run job grew
    by ~10 MB a chunk. So each chunk's end collects, over young objects only: the first call freezes
    what is alive then (imports, kernels, the game; in a thread pool also the other thread's
    chunk in flight, once) out of every later collection, which then costs ~3 ms instead of ~120.
    The freed memory stays with the allocators for the next chunk (see return_free_memory).
    """
    global _frozen
    gc.collect()
    if not _frozen:
        gc.freeze()
        _frozen = True


def return_free_memory() -> None:
    """Hand the allocators' free pages back to the system (glibc's malloc_trim, Arrow's pool): once a
    job's chunks are done, not after each one, whose successor would fault the same pages in again
    (trimming after every chunk cost a million-run job a seventh of its CPU in page faults). The chunks'
    garbage is already collected where they ran (release_free_memory)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    import pyarrow

    pyarrow.default_memory_pool().release_unused()


_frozen = False


@functools.cache
def _malloc_trim():
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): its allocator is left alone
        return None


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
    try:
        ResultsFolder(Path(folder), job_id).write_chunk(task.chunk_id, simulate_chunk(task.game, task.spec))
    finally:
        release_free_memory()
    return task.chunk_id, None


def execute(tasks: list[Task], folder: ResultsFolder, where: ExecutorSpec = LOCAL,
            progress: bool | None = None, executor=_OPEN, on_chunk: Callable[[int], None] | None = None) -> int:
    """Run every task not already finished in `folder`; write each chunk as it completes (and tell
    `on_chunk` its id once it is stored)."""
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
    from functools import partial

    done = folder.finished_chunks()
    todo = [t for t in tasks if t.chunk_id not in done]
    # Local workers (a local Dask cluster's too) share the disk: each writes its own chunk (atomically),
    # which keeps the parent's core free and sends no tables around; a remote cluster's send them back.
    local = where.dask == "local" or (where.dask is None and (
        executor is _OPEN or isinstance(executor, (ProcessPoolExecutor, ThreadPoolExecutor))))
    work = partial(_work_and_write, folder=str(folder.path), job_id=folder.job_id) if local else None

    def keep(task: Task, tables) -> None:
        if tables is not None:
            folder.write_chunk(task.chunk_id, tables)
        if on_chunk is not None:
            on_chunk(task.chunk_id)

    try:
        run_tasks(todo, keep, where, progress=progress, executor=executor, work=work)
    finally:
        return_free_memory()
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
