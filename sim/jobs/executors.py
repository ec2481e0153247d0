"""Where a job's chunks run: one ExecutorSpec, serially here, on a local process pool, or on Dask.

Library functions take an ExecutorSpec instead of separate `workers` and `dask` arguments, so a
new backend is a new field here and a branch in `open`, not a change to every signature.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

#: Below this many (run, round) steps a job runs in this process unless --workers says otherwise: a worker
#: process starts by importing Mesa, pandas and Arrow (and loading the compiled kernels), about a second,
#: while on one core such a job takes about two seconds with the numpy engine and well under one compiled.
SMALL_JOB_RUN_ROUNDS = 100_000


@dataclass(frozen=True)
class ExecutorSpec:
    """Where chunks run. `workers`: processes (default: all cores; 1 runs in this process), or
    the workers of a local Dask cluster; `dask`: a scheduler address or "local" (None: no Dask)."""

    workers: int | None = None
    dask: str | None = None
    #: Local workers (a local Dask cluster's too) as threads of this process rather than processes (None:
    #: threads when the compiled engine plays, whose kernels release the GIL: no worker start-up, no kernels
    #: loaded per process).
    threads: bool | None = None

    @property
    def effective_workers(self) -> int:
        """How many workers the job counts on (for chunking and the manifest)."""
        return self.workers or os.cpu_count() or 1

    @property
    def uses_threads(self) -> bool:
        """Whether local workers are threads (see `threads`)."""
        if self.threads is not None:
            return self.threads
        from sim.model.kernel import resolve_engine

        return resolve_engine() == "compiled"

    @property
    def backend(self) -> str:
        """"dask", "threads", "pool" or "serial"."""
        if self.dask is not None:
            return "dask"
        if self.effective_workers == 1:
            return "serial"
        return "threads" if self.uses_threads else "pool"

    def sized_for(self, run_rounds: int) -> ExecutorSpec:
        """This spec for a job of at most `run_rounds` (run, round) steps: a small job given no
        --workers runs in this process, since starting workers would cost more than they save."""
        if self.workers is None and self.dask is None and run_rounds < SMALL_JOB_RUN_ROUNDS:
            return dataclasses.replace(self, workers=1)
        return self

    def check(self) -> None:
        """Refuse what cannot work before anything is written: too many processes, a bad address."""
        from sim.jobs.budget import check_workers

        check_workers(self.workers, self.dask)
        if self.dask is not None:
            from sim.jobs.dask_address import check_dask_address

            check_dask_address(self.dask)

    def open(self):
        """A context manager giving the executor (None: run serially in this process)."""
        return open_executor(self.workers, self.dask, threads=self.uses_threads)


#: Run here or on all local cores, whichever the machine gives (the default everywhere).
LOCAL = ExecutorSpec()


def init_worker() -> None:
    """Start-up of a pool worker: ignore Ctrl-C (the parent handles it), die with the parent."""
    # Ctrl-C reaches every process of the terminal's group; only the parent should act on it
    # (keep what finished, write the manifest), not each worker with its own traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed outright (SIGKILL, the OOM killer) runs no clean-up, and the pool's workers,
    # blocked on its task queue, would wait forever (keeping the forkserver alive with them).
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True).start()


def _exit_with_parent(sentinel: int) -> None:
    from multiprocessing.connection import wait

    wait([sentinel])  # readable once the parent process has gone
    os._exit(1)


def forkserver_context(preload: list[str]):
    """The multiprocessing context of worker processes, its fork server started with `preload` imported.

    A fork server, not fork: no fork of a process that may hold Arrow's threads; preloading makes
    each worker a fork of a process that has already imported negsim (about 1.5 s saved per worker).
    There is one fork server per process: the first caller's `preload` is the one that counts.
    """
    import multiprocessing as mp
    from multiprocessing import forkserver

    from sim.jobs.cluster import _sigint_ignored_by_children

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(preload)
    with _sigint_ignored_by_children():
        # Workers are forked by the server with its signal dispositions, so they ignore Ctrl-C from
        # birth: a worker still starting when Ctrl-C comes would otherwise die and break the pool.
        forkserver.ensure_running()
    return ctx


#: The interpreter's switch interval while worker threads share this process (Python's default: 5 ms).
#: A worker thread alternates GIL-free stretches (the kernels, Arrow's encoding) with short Python ones;
#: coming back from C it waits for the GIL until the thread holding it is made to let go, up to a whole
#: interval, while its core idles. 1 ms: a 60,000-run Alaska job on 2 threads 7.88 -> 7.16 s (median of 4).
THREAD_SWITCH_INTERVAL = 0.001


@contextmanager
def short_gil_turns() -> Iterator[None]:
    """Shorten the interpreter's switch interval (THREAD_SWITCH_INTERVAL) for the block, then restore it."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, THREAD_SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@contextmanager
def open_executor(workers: int | None, dask: str | None, threads: bool = False) -> Iterator[Executor | None]:
    """An executor for a backend; None means run serially in this process (see ExecutorSpec.open).

    With `dask`, the address is checked first (sim.jobs.dask_address.check_dask_address: a few seconds at
    most, one-line UserError), so a caller that opens this before creating its results folder
    leaves nothing behind. An empty `dask` is a bad address, not "no Dask". `threads`: local workers,
    a local Dask cluster's included, are threads of this process.
    """
    if dask is not None:
        from sim.jobs.cluster import dask_executor

        in_process = threads and dask == "local"  # a remote cluster's workers run elsewhere
        with short_gil_turns() if in_process else nullcontext(), dask_executor(dask, workers, threads=threads) as executor:
            yield executor
        return
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        yield None
        return
    if threads:
        from concurrent.futures import ThreadPoolExecutor

        with short_gil_turns(), ThreadPoolExecutor(workers, thread_name_prefix="negsim-worker") as pool:
            try:
                yield pool
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        return
    from concurrent.futures import ProcessPoolExecutor

    ctx = forkserver_context(["sim.simulate"])
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker)
    try:
        yield executor
    finally:
        # On an interrupt, waiting for queued chunks would make Ctrl-C take as long as the job.
        executor.shutdown(wait=True, cancel_futures=True)


