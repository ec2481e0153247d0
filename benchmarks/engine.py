"""The compiled engine against the numpy engine, side by side in one command: runs per second and ratios.

    .venv/bin/python benchmarks/engine.py            # full sizes (a few minutes, more the first time: compiling)
    .venv/bin/python benchmarks/engine.py --smoke    # tiny sizes (checks the command, not the speed)
    .venv/bin/python benchmarks/engine.py --json out.json

What it measures, on one core (one process, no pool), for the Alaska scenario:
  1. the kernels' start: the first compiled run of each protocol compiles its kernel (or loads it
     from numba's on-disk cache); that time is reported and left out of the rates below;
  2. mediated runs per second, numpy engine ("old": one Mesa step per round, numpy over the
     batch) against compiled ("new": every round of the batch in a kernel), in chunks of the
     size `negsim run` picks for the job on one worker;
  3. the same for alternating offers;
  4. the compiled engine in two threads against one (the kernels release the GIL), in negsim's own
     thread pool (sim.jobs.executors), and in two processes against one thread: two processes share
     no GIL, so their ratio is the most two cores of this machine give the job (shared caches and
     memory bandwidth make it less than 2).
Each rate is the median of `--repeat` timings, old and new taken in turn so that a busy machine
weighs on both alike; wall time and the process's CPU time are both reported (CPU time is the
steadier on a shared machine). The two-worker ratios are the median of each repeat's own ratio: its
one-thread, two-thread and two-process timings run back to back, so a slow spell mostly falls on
all three of one repeat rather than on one side of the ratio. Targets (issue 16): mediated >= 8x,
alternating >= 20x, two threads >= 1.8x one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ALASKA = ROOT / "scenarios" / "alaska_2025.yaml"

from table import paired_ratio, report  # noqa: E402 - benchmarks/ is on the path as the script's own folder


def _game(protocol: str):
    from sim.jobs import scenario_with_sets

    return scenario_with_sets(str(ALASKA), (f"protocol.kind={protocol}",))[1]


def _chunks(runs: int, chunk: int, seed: int = 7):
    from sim.simulate import ChunkSpec

    return [ChunkSpec(seed, 0, (start, min(start + chunk, runs)), False) for start in range(0, runs, chunk)]


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def warm_up(protocol: str) -> float:
    """Seconds the first compiled run takes: compiling the kernels, or loading them from the cache."""
    from sim.simulate import simulate_chunk

    game = _game(protocol)
    return _timed(lambda: [simulate_chunk(game, spec, engine="compiled") for spec in _chunks(2, 1)])[0]


def engines(protocol: str, runs: dict[str, int], chunk: int, repeat: int) -> list[dict]:
    """Runs per second of each engine (median of `repeat`, taken in turn) and the ratio new / old."""
    from sim.simulate import simulate_chunk

    game = _game(protocol)
    times: dict[str, list[tuple[float, float]]] = {"numpy": [], "compiled": []}
    for _ in range(repeat):
        for engine in ("numpy", "compiled"):
            specs = _chunks(runs[engine], min(chunk, runs[engine]))
            times[engine].append(_timed(lambda specs=specs, engine=engine: [simulate_chunk(game, s, engine=engine)
                                                                            for s in specs]))
    rates = {engine: (runs[engine] / statistics.median(t[0] for t in ts),
                      runs[engine] / statistics.median(t[1] for t in ts)) for engine, ts in times.items()}
    detail = f"Alaska, {game.protocol['max_rounds']} rounds, chunks of {chunk}, median of {repeat}"
    rows = [{"benchmark": f"{protocol}: {name} engine", "value": rates[engine][0], "unit": "runs/s",
             "detail": f"{detail}, {runs[engine]:,} runs; {rates[engine][1]:,.0f} runs per CPU second"}
            for engine, name in (("numpy", "old (numpy)"), ("compiled", "new (compiled)"))]
    target = {"mediated": 8, "alternating": 20}.get(protocol)
    for i, clock in enumerate(("wall", "CPU")):
        rows.append({"benchmark": f"{protocol}: new / old ({clock} time)", "value": rates["compiled"][i] / rates["numpy"][i],
                     "unit": "x", "detail": f"target >= {target}x" if target else ""})
    return rows


def _share(game, specs, barrier, done) -> None:
    """One of the two processes of `threads`' ceiling: play its chunks once both are ready."""
    from sim.simulate import simulate_chunk

    barrier.wait()
    for spec in specs:
        simulate_chunk(game, spec, engine="compiled")
    done.put(None)


def _two_processes(game, specs) -> float:
    """Seconds two forked processes take to play the chunks between them (half each), started together."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")  # the children inherit the loaded kernels
    barrier, done = ctx.Barrier(3), ctx.Queue()
    children = [ctx.Process(target=_share, args=(game, specs[k::2], barrier, done)) for k in (0, 1)]
    for child in children:
        child.start()
    barrier.wait()
    start = time.perf_counter()
    for _ in children:
        done.get()
    seconds = time.perf_counter() - start
    for child in children:
        child.join()
    return seconds


def threads(runs: int, chunk: int, repeat: int) -> list[dict]:
    """The compiled mediated engine on two threads against one (kernels release the GIL), in negsim's own
    local backend: its thread pool (with its short turns at the GIL), or on one worker this thread. Beside
    it, the same chunks in two processes, which share no GIL: what two cores of this machine give."""
    from sim.jobs.executors import ExecutorSpec
    from sim.simulate import simulate_chunk

    game = _game("mediated")
    specs = _chunks(runs, chunk)
    times: dict[object, list[float]] = {1: [], 2: [], "processes": []}

    def work(spec):
        return simulate_chunk(game, spec, engine="compiled")

    for _ in range(repeat):
        for n in (1, 2):
            with ExecutorSpec(n, threads=True).open() as pool:
                run = (lambda: [work(s) for s in specs]) if pool is None else (lambda pool=pool: list(pool.map(work, specs)))
                times[n].append(_timed(run)[0])
        times["processes"].append(_two_processes(game, specs))
    one, two, apart = (runs / statistics.median(times[n]) for n in (1, 2, "processes"))
    (threads_x, threads_range), (apart_x, apart_range) = (paired_ratio(times[1], times[n]) for n in (2, "processes"))
    return [{"benchmark": "mediated, compiled: 2 threads", "value": two, "unit": "runs/s",
             "detail": f"{runs:,} runs in chunks of {chunk}; 1 thread: {one:,.0f} runs/s (medians)"},
            {"benchmark": "mediated, compiled: 2 threads / 1", "value": threads_x, "unit": "x",
             "detail": f"target >= 1.8x; {threads_range}; the Python around each kernel holds the GIL"},
            {"benchmark": "mediated, compiled: 2 processes / 1 thread", "value": apart_x, "unit": "x",
             "detail": f"{apart_range}; {apart:,.0f} runs/s: no GIL between them, what two cores give this job here"}]


def main() -> int:
    """Run every section and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the command, not the speed")
    parser.add_argument("--repeat", type=int, default=None, help="timings per rate (median)")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()
    from sim.jobs import auto_chunk_size
    from sim.model.kernel import numba_available

    if not numba_available():
        print("numba is not installed (pip install 'negsim[fast]'): there is no compiled engine to measure")
        return 1
    repeat = args.repeat or (1 if args.smoke else 3)
    mediated = {"numpy": 40, "compiled": 200} if args.smoke else {"numpy": 4_000, "compiled": 20_000}
    alternating = {"numpy": 20, "compiled": 100} if args.smoke else {"numpy": 1_000, "compiled": 8_000}
    rows = []
    for protocol in ("mediated", "alternating"):
        seconds = warm_up(protocol)
        rows.append({"benchmark": f"{protocol}: kernels ready", "value": seconds, "unit": "s",
                     "detail": "first compiled run: compiles the kernels once per machine, then loads them"})
    # `negsim run` on one worker cuts a job into chunks of this size (here: for the compiled job).
    chunk = auto_chunk_size(mediated["compiled"], 1)
    rows += engines("mediated", mediated, chunk, repeat)
    rows += engines("alternating", alternating, auto_chunk_size(alternating["compiled"], 1), repeat)
    # The two-worker ratio moves most with the machine's spells: more pairs, each a second or two.
    rows += threads(mediated["compiled"] // 2, chunk // 2 or 1, args.repeat or (1 if args.smoke else 7))
    report(rows, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
