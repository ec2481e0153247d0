"""The compiled engine against today's engine and the numpy fallback, side by side in one command.

    .venv/bin/python benchmarks/engine.py            # full sizes (a few minutes, more the first time: compiling)
    .venv/bin/python benchmarks/engine.py --smoke    # tiny sizes (checks the command, not the speed)
    .venv/bin/python benchmarks/engine.py --json out.json

What it measures, on one core (one process, no pool), for the Alaska scenario:
  1. the kernels' start: the first compiled run of each protocol compiles its kernel (or loads it
     from numba's on-disk cache); that time is reported and left out of the rates below;
  2. mediated runs per second of three engines, in chunks of the size `negsim run` picks for the
     compiled job on one worker: today's engine (the `sim` package as it stood when issue 16 was
     opened, commit baseline.BASELINE, extracted with git and run in a child process of its own),
     this tree's numpy fallback (one Mesa step per round, numpy over the batch; faster than today's,
     having gained from the same work) and the compiled engine (every round of a block of runs in a
     kernel);
  3. the same for alternating offers;
  4. the compiled engine in two threads against one (the kernels release the GIL), in negsim's own
     thread pool (sim.jobs.executors), and in two processes against one thread: two processes share
     no GIL, so their ratio is the most two cores of this machine give the job (shared caches and
     memory bandwidth make it less than 2).
Each rate is the median of `--repeat` timings, the engines taken in turn so that a busy machine
weighs on all alike; wall time and CPU time (the process's own; the child's for today's engine) are
both reported, CPU time being the steadier on a shared machine. Every ratio is the median of each
repeat's own ratio, its timings run back to back, so a slow spell mostly falls on both sides of one
ratio. Targets (issue 16), against today's engine: mediated >= 8x, alternating >= 20x; two threads >= 1.8x one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ALASKA = ROOT / "scenarios" / "alaska_2025.yaml"

from baseline import BASELINE, Engine  # noqa: E402 - benchmarks/ is on the path as the script's own folder
from table import paired_ratio, report  # noqa: E402


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


def engines(protocol: str, runs: dict[str, int], chunk: int, repeat: int, today) -> list[dict]:
    """Runs per second of today's engine (`today`, a baseline.Engine), the numpy fallback and the compiled
    engine, taken in turn `repeat` times, and the compiled engine's ratios to the other two."""
    from sim.simulate import simulate_chunk

    game = _game(protocol)
    times: dict[str, list[tuple[float, float]]] = {"today": [], "numpy": [], "compiled": []}
    for _ in range(repeat):
        times["today"].append(today.timed(protocol, runs["today"], min(chunk, runs["today"])))
        for engine in ("numpy", "compiled"):
            specs = _chunks(runs[engine], min(chunk, runs[engine]))
            times[engine].append(_timed(lambda specs=specs, engine=engine: [simulate_chunk(game, s, engine=engine)
                                                                            for s in specs]))
    # Runs per second by clock (0: wall, 1: CPU), timing by timing.
    rates = {engine: [[runs[engine] / t[clock] for t in ts] for clock in (0, 1)] for engine, ts in times.items()}
    detail = f"Alaska, {game.protocol['max_rounds']} rounds, chunks of {chunk}"
    rows = [{"benchmark": f"{protocol}: {name}", "value": statistics.median(rates[engine][0]), "unit": "runs/s",
             "detail": f"{detail}, {runs[engine]:,} runs, median of {repeat}; "
                       f"{statistics.median(rates[engine][1]):,.0f} runs per CPU second"}
            for engine, name in (("today", f"today's engine ({BASELINE}, before issue 16)"),
                                 ("numpy", "numpy fallback (this tree)"), ("compiled", "compiled engine"))]
    target = {"mediated": 8, "alternating": 20}.get(protocol)
    for engine, name, aim in (("today", "today's", f"target >= {target}x; "), ("numpy", "numpy fallback", "")):
        for clock, label in enumerate(("wall", "CPU")):
            ratio, spread = paired_ratio(rates["compiled"][clock], rates[engine][clock])
            rows.append({"benchmark": f"{protocol}: compiled / {name} ({label} time)", "value": ratio, "unit": "x",
                         "detail": f"{aim}median of the repeats' own ratios, {spread}"})
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
    mediated = {"today": 40, "numpy": 40, "compiled": 200} if args.smoke else {"today": 4_000, "numpy": 4_000,
                                                                                "compiled": 20_000}
    alternating = {"today": 20, "numpy": 20, "compiled": 100} if args.smoke else {"today": 1_000, "numpy": 1_000,
                                                                                  "compiled": 8_000}
    rows = []
    for protocol in ("mediated", "alternating"):
        seconds = warm_up(protocol)
        rows.append({"benchmark": f"{protocol}: kernels ready", "value": seconds, "unit": "s",
                     "detail": "first compiled run: compiles the kernels once per machine, then loads them"})
    # `negsim run` on one worker cuts a job into chunks of this size (here: for the compiled job).
    chunk = auto_chunk_size(mediated["compiled"], 1)
    with tempfile.TemporaryDirectory() as tmp, Engine(Path(tmp), ALASKA, ("mediated", "alternating")) as today:
        rows += engines("mediated", mediated, chunk, repeat, today)
        rows += engines("alternating", alternating, auto_chunk_size(alternating["compiled"], 1), repeat, today)
    # The two-worker ratio moves most with the machine's spells: more pairs, each a second or two.
    rows += threads(mediated["compiled"] // 2, chunk // 2 or 1, args.repeat or (1 if args.smoke else 7))
    report(rows, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
