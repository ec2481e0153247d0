"""End to end, as a user types it: `negsim run` on each backend and engine, and `./dev.sh alaska`
against the code as it stood when issue 16 (the compiled engine) was opened. One command, ratios.

    .venv/bin/python benchmarks/backends.py            # full sizes (about 5 minutes on 2 cores)
    .venv/bin/python benchmarks/backends.py --smoke    # tiny sizes (checks the command, not the speed)
    .venv/bin/python benchmarks/backends.py --only alaska --repeat 5
    .venv/bin/python benchmarks/backends.py --json out.json

Sections:
  backends  the same Alaska job (`--runs N`, 2 workers) through the local backend `negsim run` picks
            (the process pool for the numpy engine, threads for the compiled one), `--dask local`
            and, for scale, one worker; wall time of the whole command (start-up, cluster, merge
            included), taken in turn (--repeat times; by default 3 numpy, 7 compiled); the ratios are
            the median of each turn's own ratio, its runs back to back. Target (issue 16): Dask within
            10% of the pool.
  engines   the issue's own comparison, "today's engine" being BASELINE's tree: `negsim run` of the Alaska
            scenario on one worker, mediated and alternating, BASELINE against this tree (its default
            engine), runs per second of the whole command. Targets: mediated >= 8x, alternating >= 20x.
  alaska    `negsim run scenarios/alaska_2025.yaml --runs 4000 --seed 2025 --plot` (what `./dev.sh
            alaska` runs) from this tree against the same command from BASELINE's tree (extracted with
            `git archive`, run on this .venv). Target: at least 1.5x faster.
Each command is a fresh process with its own results folder in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALASKA = ROOT / "scenarios" / "alaska_2025.yaml"

from baseline import BASELINE, tree  # noqa: E402 - benchmarks/ is on the path as the script's own folder
from table import paired_ratio, report  # noqa: E402

#: Runs `sim.cli` from whichever tree is first on PYTHONPATH (the installed `negsim` script is this tree's).
NEGSIM = [sys.executable, "-c", "import sys; from sim.cli import console_main; sys.argv[0] = 'negsim'; "
                                "sys.exit(console_main())"]


def _wall(cmd: list[str], tree: Path, out: Path) -> float:
    """Seconds one command takes, run from `tree` (its `sim` package first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("NEGSIM_ENGINE", None)
    start = time.perf_counter()
    done = subprocess.run(cmd + ["--out", str(out)], cwd=tree, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def _timings(variants: dict[str, tuple[list[str], Path]], repeat: int) -> dict[str, list[float]]:
    """Wall times of each variant, the variants taken in turn so that a busy spell weighs on all."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeat):
            for k, (name, (cmd, tree)) in enumerate(variants.items()):
                times[name].append(_wall(cmd, tree, Path(tmp) / f"{r}-{k}"))
    return times


def _medians(variants: dict[str, tuple[list[str], Path]], repeat: int) -> dict[str, float]:
    """Median wall time of each variant (see _timings)."""
    return {name: statistics.median(t) for name, t in _timings(variants, repeat).items()}



def bench_backends(runs: int, repeat: int, engine: str) -> list[dict]:
    """One Alaska job through one worker, the process pool and a local Dask cluster."""
    job = NEGSIM + ["run", str(ALASKA), "--runs", str(runs), "--seed", "7", "--engine", engine]
    local = "threads" if engine == "compiled" else "pool"  # the local backend `negsim run` picks for the engine
    variants = {"1 worker": (job + ["--workers", "1"], ROOT), f"{local}, 2 workers": (job + ["--workers", "2"], ROOT),
                "dask local, 2 workers": (job + ["--workers", "2", "--dask", "local"], ROOT)}
    times = _timings(variants, repeat)
    seconds = {name: statistics.median(t) for name, t in times.items()}
    rows = [{"benchmark": f"{engine}: {name}", "value": runs / s, "unit": "runs/s",
             "detail": f"{runs:,} runs, {s:.1f} s end to end, median of {repeat}"} for name, s in seconds.items()]
    dask, spread = paired_ratio(times["dask local, 2 workers"], times[f"{local}, 2 workers"])
    rows.append({"benchmark": f"{engine}: dask local / {local} (time)", "value": dask, "unit": "x",
                 "detail": f"target <= 1.10; median of back-to-back pairs, {spread}"})
    two, spread = paired_ratio(times["1 worker"], times[f"{local}, 2 workers"])
    rows.append({"benchmark": f"{engine}: {local} 2 workers / 1 (speed)", "value": two, "unit": "x",
                 "detail": f"start-up included; median of back-to-back pairs, {spread}"})
    return rows


def bench_alaska(repeat: int, runs: int) -> list[dict]:
    """`./dev.sh alaska`'s command, this tree against BASELINE's."""
    cmd = NEGSIM + ["run", str(ALASKA), "--runs", str(runs), "--seed", "2025", "--plot"]
    with tempfile.TemporaryDirectory() as tmp:
        seconds = _medians({"now": (cmd, ROOT), "baseline": (cmd, tree(Path(tmp)))}, repeat)
    detail = f"negsim run alaska_2025.yaml --runs {runs:,} --seed 2025 --plot, median of {repeat}"
    return [{"benchmark": f"alaska end to end, {BASELINE} (before issue 16)", "value": seconds["baseline"],
             "unit": "s", "detail": detail},
            {"benchmark": "alaska end to end, this tree", "value": seconds["now"], "unit": "s", "detail": detail},
            {"benchmark": "alaska end to end: baseline / now", "value": seconds["baseline"] / seconds["now"],
             "unit": "x", "detail": "target >= 1.5"}]


def bench_engines(repeat: int, sizes: dict[str, dict[str, int]]) -> list[dict]:
    """One worker, each protocol: BASELINE's tree against this one, end to end (start-up included)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        baseline = tree(Path(tmp))
        for protocol, runs in sizes.items():
            def cmd(n: int) -> list[str]:
                return NEGSIM + ["run", str(ALASKA), "--runs", str(n), "--seed", "7", "--workers", "1",
                                 "--set", f"protocol.kind={protocol}"]

            seconds = _medians({"now": (cmd(runs["now"]), ROOT), "baseline": (cmd(runs["baseline"]), baseline)}, repeat)
            rate = {k: runs[k] / s for k, s in seconds.items()}
            for k, label in (("baseline", f"{BASELINE} (before issue 16)"), ("now", "this tree")):
                rows.append({"benchmark": f"{protocol}, 1 worker: {label}", "value": rate[k], "unit": "runs/s",
                             "detail": f"{runs[k]:,} runs, {seconds[k]:.1f} s end to end, median of {repeat}"})
            target = {"mediated": 8, "alternating": 20}[protocol]
            rows.append({"benchmark": f"{protocol}, 1 worker: now / baseline", "value": rate["now"] / rate["baseline"],
                         "unit": "x", "detail": f"target >= {target}x; start-up included"})
    return rows


def main() -> int:
    """Run the chosen sections and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the command, not the speed")
    parser.add_argument("--only", nargs="+", choices=("backends", "engines", "alaska"),
                        default=("backends", "engines", "alaska"))
    parser.add_argument("--repeat", type=int, default=None, help="timings per figure (median)")
    parser.add_argument("--runs", type=int, default=None, help="runs of the backends job (default 40,000)")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()
    repeat = args.repeat or (1 if args.smoke else 3)
    rows: list[dict] = []
    if "backends" in args.only:
        runs = args.runs or (200 if args.smoke else 40_000)
        from sim.model.kernel import numba_available

        for engine in ("numpy", "compiled") if numba_available() else ("numpy",):
            # The compiled job takes seconds, and the Dask ratio turns on a few tenths of one: more pairs.
            rows += bench_backends(runs, args.repeat or (1 if args.smoke else 3 if engine == "numpy" else 7), engine)
    if "engines" in args.only:
        sizes = ({"mediated": {"baseline": 100, "now": 400}, "alternating": {"baseline": 20, "now": 100}} if args.smoke
                 else {"mediated": {"baseline": 20_000, "now": 100_000}, "alternating": {"baseline": 4_000, "now": 40_000}})
        rows += bench_engines(repeat, sizes)
    if "alaska" in args.only:
        rows += bench_alaska(repeat, 200 if args.smoke else 4000)
    report(rows, args.json)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
