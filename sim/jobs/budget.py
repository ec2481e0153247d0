"""What a job will cost before it starts: points, memory per chunk, disk, time; refuse what the
machine cannot hold, and ask for --yes before a job of more than a day.

The figures are deliberately rough upper bounds measured on the shipped scenarios (Arrow tables
in memory: about 1 kB per run and 140 B per recorded (round, actor) row; on disk after zstd,
about a fifth of that), so a refusal names the number that was too big and what to do.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from sim.errors import Problem, UserError

#: Parameter points a job may have; beyond this a sweep is a mistake (a typo in COUNT).
MAX_POINTS = 100_000
#: Local worker processes per core; more only thrash.
MAX_WORKERS_PER_CORE = 8
#: Memory one chunk's tables may take in a worker; chunks are cut smaller to fit.
CHUNK_BUDGET = 256 * 2**20
RUN_BYTES = 1_000
ROUND_ROW_BYTES = 140
DISK_SHARE = 0.2  # bytes on disk per byte in memory (zstd Parquet)
#: Run-rounds per second one worker manages on a slow path (the alternating protocol).
RUN_ROUNDS_PER_SECOND = 5_000
#: Jobs estimated to take longer need --yes.
ASK_ABOVE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Estimate:
    """A job's expected size."""

    runs: int
    chunk_size: int
    bytes_per_run: int
    memory: int  # peak, all workers together
    disk: int
    seconds: float


def check_points(n: int, label: str) -> None:
    """Refuse a job with more parameter points than MAX_POINTS."""
    if n > MAX_POINTS:
        raise UserError([Problem("", None, label, f"{n:,} parameter points; at most {MAX_POINTS:,} (a sweep this "
                                                  "large is almost always a typo in COUNT or --points)")])


def check_workers(workers: int | None, dask: str | None) -> None:
    """Refuse more local worker processes than the machine can run."""
    if workers is None or dask is not None:
        return
    cores = os.cpu_count() or 1
    if workers > MAX_WORKERS_PER_CORE * cores:
        raise UserError([Problem("", None, "--workers", f"{workers:,} worker processes on {cores} cores; at most "
                                                        f"{MAX_WORKERS_PER_CORE * cores} (use --dask for a cluster)")])


def chunk_cap(max_rounds: int, n_actors: int, rounds: bool) -> tuple[int, int]:
    """(largest chunk that fits CHUNK_BUDGET, bytes per run)."""
    per_run = RUN_BYTES + (max_rounds * n_actors * ROUND_ROW_BYTES if rounds else 0)
    return max(1, CHUNK_BUDGET // per_run), per_run


def estimate(n_points: int, runs: int, chunk_size: int, max_rounds: int, n_actors: int, rounds: bool,
             workers: int) -> Estimate:
    """The job's size in runs, memory, disk and time."""
    _, per_run = chunk_cap(max_rounds, n_actors, rounds)
    total = n_points * runs
    memory = workers * chunk_size * per_run
    disk = int(total * per_run * DISK_SHARE)
    seconds = total * max_rounds / (RUN_ROUNDS_PER_SECOND * max(workers, 1))
    return Estimate(total, chunk_size, per_run, memory, disk, seconds)


def check_estimate(est: Estimate, out: Path, yes: bool) -> None:
    """Refuse a job the machine cannot hold; ask for --yes before one of more than a day."""
    available = _available_memory()
    if available and est.memory > 0.8 * available:
        raise UserError([Problem("", None, "--chunk", f"the job's chunks would hold about {_size(est.memory)} in "
                                                      f"memory, {_size(available)} is available; lower --chunk or "
                                                      "--workers")])
    free = _free_disk(out)
    if free is not None and est.disk > 0.9 * free:
        raise UserError([Problem(str(out), None, "--runs", f"the results would take about {_size(est.disk)} on disk, "
                                                           f"{_size(free)} is free; fewer --runs or points, or "
                                                           "another --out")])
    if est.seconds > ASK_ABOVE_SECONDS and not yes:
        raise UserError([Problem("", None, "--runs", f"{est.runs:,} runs would take about "
                                                     f"{est.seconds / 3600:,.0f} hours here; add --yes to start it "
                                                     "anyway, or use --dask on a cluster")])


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _free_disk(out: Path) -> int | None:
    here = Path(out).resolve()
    while not here.exists() and here != here.parent:
        here = here.parent
    try:
        return shutil.disk_usage(here).free
    except OSError:
        return None


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} PB"
