"""Running chunks on a dask.distributed cluster, as a concurrent.futures executor.

Dask is an optional extra (`pip install 'negsim[dask]'`): it is imported only when a job asks
for it, and its absence is a plain error message, not a traceback. Two forms:

    --dask local               start a LocalCluster here: worker processes, 1 thread each (the
                               compiled engine: one worker of threads in this process, see below)
    --dask tcp://host:8786     use a running cluster (`dask scheduler`, `dask worker tcp://host:8786`)

Workers of a remote cluster need negsim installed (the same version) to unpickle the work.
An address is checked before anything else (check_dask_address): whatever is or is not there,
a bad address fails within seconds with one line, never a traceback or a long wait.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import warnings
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager

from sim.errors import Problem, UserError
from sim.jobs.dask_address import (
    CHECK_TIMEOUT,
    _check,
    _detail,
    _import_distributed,
    _unreachable,
)

CONNECT_TIMEOUT = "20s"  # for the Client, once check_dask_address found a scheduler there


@contextmanager
def _sigint_ignored_by_children() -> Iterator[None]:
    # An ignored SIGINT survives exec, so workers started now ignore Ctrl-C: only this process
    # acts on it (keeps what finished, says how to resume), not each worker with a traceback.
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker_version() -> str:
    import sim

    return sim.__version__


def _worker_malloc_trim() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


#: What a remote cluster's operator is told when its workers trim memory on every free.
TRIM_NOTE = ("note: the workers at {address} run with MALLOC_TRIM_THRESHOLD_={value} (Dask's default), "
             "which makes negsim about 2x slower; start them with the Dask setting "
             "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null")


#: Dask's housekeeping that a local cluster can do without (it shows no dashboard): the statistical profiler
#: samples each server's stacks 100 times a second, taking the GIL from the model (about 8% more CPU per
#: chunk with the numpy engine, measured), and the event-loop tick and system monitor wake every server
#: 50 and 2 times a second. A remote cluster keeps its operator's settings.
LOCAL_QUIET = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s",
               "distributed.admin.system-monitor.interval": "2s",
               # The HTTP servers every scheduler and worker starts serve nothing for a local cluster (by
               # default: metrics, the scheduler's state as JSON, a proxy to its workers), see LOCAL_HTTP.
               "distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}
#: Where a local cluster's scheduler listens for HTTP: by default port 8787 on every interface (for
#: in-process workers), which took the port from the user's own Dask dashboard; here loopback, any port.
LOCAL_HTTP = {"dashboard_address": "127.0.0.1:0"}


@contextmanager
def dask_executor(address: str, workers: int | None = None, processes: bool = True,
                  threads: bool = False) -> Iterator[Executor]:
    """A concurrent.futures executor on a Dask cluster: `local` starts one, an address joins one.

    `workers` is the number of local workers (default: all cores); it is ignored for a remote
    cluster, whose size its operator chose. `threads` makes them threads of one in-process worker
    (the compiled engine, whose kernels release the GIL), as `processes=False` does (for tests).
    """
    distributed = _import_distributed()
    from sim import __version__

    cluster = None
    if address == "local":
        n = workers or os.cpu_count() or 1
        import dask

        with warnings.catch_warnings(), dask.config.set(LOCAL_QUIET):
            # What Dask warns about its own start-up is not something the user can act on.
            warnings.simplefilter("ignore")
            if threads or not processes:
                # As the threads backend: no process to start (a second or two for each to import negsim
                # and Dask), no kernels to load in each, no chunk's tables to send back (about 25 MB each).
                cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=n, processes=False,
                                                   dashboard_address=None, scheduler_kwargs=LOCAL_HTTP,
                                                   silence_logs=logging.ERROR)
            else:
                cluster = _local_processes(distributed, n)
        client = distributed.Client(cluster)
    else:
        security = _check(address, CHECK_TIMEOUT)
        try:
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT, security=security)
        except Exception as exc:  # noqa: BLE001 - whatever Dask raises, the user gets one line
            raise _unreachable(address, _detail(exc)) from None
    try:
        if cluster is None:
            _check_workers(client, address, __version__)
        with client.get_executor(pure=False) as executor:
            yield executor
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _local_processes(distributed, n: int):
    """A LocalCluster of `n` worker processes, 1 thread each (the numpy engine holds the GIL between array calls)."""
    import dask

    from sim.jobs.executors import forkserver_context

    # Dask's nannies spawn each worker, which then imports distributed and negsim afresh (about
    # 4 s per worker here); forked from a server that has imported both, a worker starts at once.
    # Forked workers inherit this process's environment, not the nanny's MALLOC_TRIM setting.
    forkserver_context(["distributed", "sim.simulate"])
    # Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc hand
    # every freed numpy temporary back to the kernel and fault it in again: measured about 2x
    # slower than the process pool. None unsets it, so workers keep glibc's own threshold.
    with _sigint_ignored_by_children(), \
            dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                             "distributed.worker.multiprocessing-method": "forkserver"}):
        return distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                        scheduler_kwargs=LOCAL_HTTP, silence_logs=logging.ERROR)


def _check_workers(client, address: str, version: str) -> None:
    """Fail early, with a message, if the cluster cannot run negsim's work."""
    try:
        found = client.run(_worker_version)
    except Exception as exc:  # noqa: BLE001 - anything a worker raises means it cannot run our code
        raise UserError([Problem("", None, "--dask", f"the workers at {address} cannot import negsim "
                                                     f"({type(exc).__name__}: {exc}); install it on every "
                                                     "worker: pip install 'negsim[dask]'")]) from None
    if not found:
        raise UserError([Problem("", None, "--dask", f"the Dask cluster at {address} has no workers; start "
                                                     f"some with `dask worker {address}`")])
    wrong = sorted({v for v in found.values() if v != version})
    if wrong:
        raise UserError([Problem("", None, "--dask", f"workers at {address} run negsim {', '.join(wrong)}, "
                                                     f"this is {version}; install the same version everywhere")])
    trims = sorted({v for v in client.run(_worker_malloc_trim).values() if v is not None})
    if trims:
        print(TRIM_NOTE.format(address=address, value=", ".join(trims)), file=sys.stderr)
