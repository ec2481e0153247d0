"""negsim benchmarks: one command, one table. Numbers are ratios against baselines measured in
the same command, because these machines are noisy.

    .venv/bin/python benchmarks/run.py            # full sizes (a few minutes)
    .venv/bin/python benchmarks/run.py --smoke    # tiny sizes (seconds; the test suite runs this)
    .venv/bin/python benchmarks/run.py --json out.json

Sections:
  1. Monte Carlo runs per second of the Alaska scenario (fresh samples every run, 50 rounds)
     on 1 and 2 workers, through the same executor `negsim run` uses.
  2. `analyze` (Pareto + Nash + Kalai-Smorodinsky) on a 248,832-deal space and on the full
     Alaska deal space.
  3. Start-up: `negsim --help` and `negsim validate`, against `python -c pass`.
  4. Peak memory of a 100,000-run job against a 10,000-run job (must stay flat).
  5. The same 4-party, 10-issue, 100-round negotiation in NegMAS (optional; needs the
     `negmas` package, installed separately: see benchmarks/README.md), as a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ALASKA = ROOT / "scenarios" / "alaska_2025.yaml"


def _timeit(fn, repeat: int) -> float:
    """Median wall time of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_monte_carlo(runs: int) -> list[dict]:
    """Alaska runs per second through the runner on 1 and 2 workers."""
    from sim.domain.game import compile_scenario
    from sim.results import ResultsFolder
    from sim.runner import Task, auto_chunk_size, execute, plan_chunks
    from sim.scenario import load_scenario

    game = compile_scenario(load_scenario(ALASKA).scenario)
    rows = []
    rates = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            folder = ResultsFolder.create(Path(tmp) / "out")
            chunk = auto_chunk_size(runs, workers)
            tasks = [Task(cid, game, spec) for cid, _, spec in plan_chunks(1, runs, 7, chunk, False)]
            start = time.perf_counter()
            execute(tasks, folder, workers=workers, progress=False)
            folder.merge()
            elapsed = time.perf_counter() - start
        rates[workers] = runs / elapsed
        rows.append({"benchmark": f"Alaska Monte Carlo, {workers} worker(s)", "value": rates[workers],
                     "unit": "runs/s", "detail": f"{runs:,} runs x {game.protocol['max_rounds']} rounds max"})
    rows.append({"benchmark": "speed-up, 2 workers / 1", "value": rates[2] / rates[1], "unit": "x",
                 "detail": "target >= 1.8"})
    return rows


def bench_startup(repeat: int) -> list[dict]:
    """Wall time of `negsim --help` and `negsim validate` against a bare interpreter."""
    python = sys.executable
    negsim = [python, "-m", "sim"]

    def run(cmd):
        subprocess.run(cmd, check=True, capture_output=True)

    bare = _timeit(lambda: run([python, "-c", "pass"]), repeat)
    helps = _timeit(lambda: run(negsim + ["--help"]), repeat)
    validate = _timeit(lambda: run(negsim + ["validate", str(ALASKA)]), repeat)
    return [
        {"benchmark": "python -c pass", "value": bare * 1000, "unit": "ms", "detail": "baseline"},
        {"benchmark": "negsim --help", "value": helps * 1000, "unit": "ms",
         "detail": f"{helps / bare:.1f}x the bare interpreter; target <= 150 ms"},
        {"benchmark": "negsim validate alaska_2025.yaml", "value": validate * 1000, "unit": "ms",
         "detail": f"{validate / bare:.1f}x the bare interpreter"},
    ]


def _peak_rss_mb(cmd: list[str]) -> float:
    """Peak resident memory (MB) of the largest process among a command and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(cmd, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(after, before) / 1024


def bench_memory(small: int, large: int) -> list[dict]:
    """Peak memory of a job of `large` runs against one of `small` runs (fresh processes)."""
    out = []
    peaks = {}
    for runs in (small, large):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(runs), str(Path(tmp) / "o")]
            peaks[runs] = _peak_rss_mb(cmd)
        out.append({"benchmark": f"peak memory, {runs:,} runs", "value": peaks[runs], "unit": "MB",
                    "detail": "largest process (parent or worker)"})
    out.append({"benchmark": f"memory ratio {large:,} / {small:,} runs", "value": peaks[large] / peaks[small],
                "unit": "x", "detail": "flat means ~1"})
    return out


def _memory_child(runs: int, out: str) -> None:
    # A fresh process so ru_maxrss measures only this job.
    from sim.cli import main

    code = main(["run", str(ALASKA), "--runs", str(runs), "--seed", "1", "--out", out, "--workers", "2"])
    raise SystemExit(code)


def format_table(rows: list[dict]) -> str:
    """Rows as an aligned plain-text table."""
    width = max(len(r["benchmark"]) for r in rows)
    lines = [f"{'benchmark':<{width}}  {'value':>12}  unit     detail", "-" * (width + 50)]
    for r in rows:
        lines.append(f"{r['benchmark']:<{width}}  {r['value']:>12,.2f}  {r['unit']:<7}  {r.get('detail', '')}")
    return "\n".join(lines)


def machine() -> str:
    """One line describing where the numbers were measured."""
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.platform()}")


SECTIONS = {}


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark section and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the benchmarks still run")
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    parser.add_argument("--only", nargs="*", help="sections to run (monte_carlo startup memory analyze negmas)")
    parser.add_argument("--memory-child", nargs=2, metavar=("RUNS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        _memory_child(int(args.memory_child[0]), args.memory_child[1])
    smoke = args.smoke
    sections = {
        "monte_carlo": lambda: bench_monte_carlo(200 if smoke else 20_000),
        "startup": lambda: bench_startup(2 if smoke else 10),
        "memory": lambda: bench_memory(200, 600) if smoke else bench_memory(10_000, 100_000),
        **{name: (lambda fn=fn: fn(smoke)) for name, fn in SECTIONS.items()},
    }
    rows = []
    for name, fn in sections.items():
        if args.only and name not in args.only:
            continue
        rows.extend(fn())
    print(f"machine: {machine()}")
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
