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
  5. A 4-party, 10-issue, 100-round alternating-offers negotiation: negsim's Monte Carlo
     runs per second, and the same negotiations (the same sampled utilities) in NegMAS,
     as a ratio. NegMAS is optional and lives in its own interpreter (`--negmas-python`,
     default `.venv-negmas/bin/python`; see benchmarks/README.md); without it the NegMAS
     rows say "skipped".

Sections: monte_carlo, startup, memory, analyze (registered in SECTIONS), negmas.
The process pool uses forkserver, which re-imports this file in every worker: keep the
module level import-light and everything else under `if __name__ == "__main__"`.
"""

from __future__ import annotations

import argparse
import json
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

from table import report  # noqa: E402 - benchmarks/ is on the path as the script's own folder


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
    from sim.jobs.executors import ExecutorSpec
    from sim.results import ResultsFolder
    from sim.jobs import Task, auto_chunk_size, execute, plan_chunks
    from sim.scenario import load_scenario

    game = compile_scenario(load_scenario(ALASKA).scenario)

    def rate(workers: int) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            folder = ResultsFolder.create(Path(tmp) / "out")
            chunk = auto_chunk_size(runs, workers)
            tasks = [Task(cid, game, spec) for cid, _, spec in plan_chunks(1, runs, 7, chunk, False)]
            start = time.perf_counter()
            execute(tasks, folder, ExecutorSpec(workers), progress=False)
            folder.merge()
            return runs / (time.perf_counter() - start)

    detail = f"{runs:,} runs x {game.protocol['max_rounds']} rounds max"
    one = rate(1)
    # The first pool of a process pays for starting the forkserver (about a second: it imports
    # numpy, pandas, Mesa once); later pools in the same process fork from it at once.
    cold = rate(2)
    warm = rate(2)
    return [
        {"benchmark": "Alaska Monte Carlo, 1 worker", "value": one, "unit": "runs/s", "detail": detail},
        {"benchmark": "Alaska Monte Carlo, 2 workers (cold start)", "value": cold, "unit": "runs/s",
         "detail": detail + ", including the forkserver's start-up"},
        {"benchmark": "Alaska Monte Carlo, 2 workers (warm)", "value": warm, "unit": "runs/s",
         "detail": detail + ", forkserver already running"},
        {"benchmark": "speed-up, 2 workers / 1, cold", "value": cold / one, "unit": "x", "detail": "target >= 1.8"},
        {"benchmark": "speed-up, 2 workers / 1, warm", "value": warm / one, "unit": "x", "detail": "target >= 1.8"},
    ]


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

    # The same chunk size for both jobs: a job's memory is bounded by one chunk (the default
    # chunk grows with the job up to 2,000 runs), so this isolates the dependence on job size.
    code = main(["run", str(ALASKA), "--runs", str(runs), "--seed", "1", "--out", out, "--workers", "2",
                 "--chunk", "1000"])
    raise SystemExit(code)


# ---------------------------------------------------------------------------------------------
# The benchmark negotiation: 4 parties, 10 issues (5 with 4 options, 5 with 3: 248,832 deals)
# ---------------------------------------------------------------------------------------------

BENCH_SIZES = (4,) * 5 + (3,) * 5
BENCH_SEED = 2025
BENCH_RESERVATION = 0.3
#: The parties' concession: ours (kind, exponent) and NegMAS's AspirationNegotiator curve. NegMAS's
#: "boulware" is a(t) = 1 - t**4, ours is 1 - t**(1/e), so exponent 0.25 is the same curve.
BENCH_PARTIES = (("boulware", 0.25, "boulware"), ("boulware", 0.25, "boulware"),
                 ("linear", 1.0, "linear"), ("linear", 1.0, "linear"))
#: Fresh utilities per run: every weight uniform in [0.5, 1.5] x its base value, every option
#: value uniform in its base value +- VALUE_SPREAD (clipped to [0, 1]).
VALUE_SPREAD = 0.2


def bench_scenario(uncertain: bool, seed: int = BENCH_SEED) -> dict:
    """The benchmark negotiation as scenario data (what a YAML file would parse to).

    Base utilities come from one seed: weights uniform in [0.1, 1] (normalised by the model),
    option values uniform in [0, 1], reservation 0.3 for everyone. `uncertain` turns every
    weight and value into a {low, high} range around its base value, so that every Monte Carlo
    run negotiates with fresh utilities; the point estimates (the ranges' midpoints, up to
    clipping) are what the alternating protocol's proposers assume about the others.
    """
    import datetime as dt

    import numpy as np

    rng = np.random.default_rng(seed)
    n_a = len(BENCH_PARTIES)
    weights = rng.uniform(0.1, 1.0, (n_a, len(BENCH_SIZES)))
    values = [rng.random((n_a, n)) for n in BENCH_SIZES]
    cite = {"source": "generated", "quote": "random utilities for the benchmark"}

    def weight(w: float):
        return round(w, 6) if not uncertain else {"low": round(0.5 * w, 6), "high": round(1.5 * w, 6)}

    def value(v: float):
        if not uncertain:
            return round(v, 6)
        return {"low": round(max(0.0, v - VALUE_SPREAD), 6), "high": round(min(1.0, v + VALUE_SPREAD), 6)}

    def strategy(kind: str, exponent: float) -> dict:
        return {"kind": kind, "exponent": exponent}

    return {
        "meta": {"name": "bench_4x10", "title": "Benchmark: 4 parties, 10 issues", "as_of": dt.date(2025, 8, 15),
                 "description": f"Random linear-additive utilities (seed {seed}) over 248,832 deals."},
        "sources": {"generated": {"title": "Generated by benchmarks/run.py", "outlet": "negsim benchmarks",
                                  "date": dt.date(2025, 8, 15), "url": "https://example.org/negsim-benchmark"}},
        "issues": {f"i{i}": {"kind": "policy", "name": f"Issue {i}", "default": "o0",
                             "options": {f"o{j}": f"option {j}" for j in range(n)}}
                   for i, n in enumerate(BENCH_SIZES)},
        "actors": {f"p{a}": {
            "name": f"Party {a}",
            "role": "signatory",
            "weights": {f"i{i}": weight(float(weights[a, i])) for i in range(len(BENCH_SIZES))},
            "values": {f"i{i}": {"options": {f"o{j}": value(float(values[i][a, j])) for j in range(n)}, **cite}
                       for i, n in enumerate(BENCH_SIZES)},
            "reservation": {"value": BENCH_RESERVATION, **cite},
            "strategy": strategy(kind, exponent),
        } for a, (kind, exponent, _) in enumerate(BENCH_PARTIES)},
        # patience beyond the last round: nobody walks out (NegMAS's negotiators never do)
        "protocol": {"kind": "alternating", "max_rounds": 100, "temperature": 0.0, "patience_days": 3650},
    }


def bench_game(uncertain: bool, seed: int = BENCH_SEED):
    """The benchmark scenario, validated by the project's loader and compiled."""
    from sim.domain.game import compile_scenario
    from sim.scenario.load import validate
    from sim.scenario.yamlsrc import SourceMap

    return compile_scenario(validate(bench_scenario(uncertain, seed), SourceMap("<benchmark>")))


def brute_force(game) -> dict:
    """Plain numpy: every deal's utility to every actor, then Pareto, Nash and Kalai-Smorodinsky.

    Utilities by broadcasting the per-issue tables into one (deals, actors) array; Pareto by
    sorting on the utility sum (nothing later in that order dominates anything earlier) and
    repeatedly dropping every deal the next surviving one dominates; Nash and KS over the
    frontier deals that give every signatory its reservation value (no consent lists here).
    """
    import numpy as np

    prefs = game.central_preferences()
    space = game.space
    w, v, r = prefs.weights[0], prefs.values[0], prefs.reservation[0]
    sizes = tuple(int(n) for n in space.n_options)
    n_a = game.n_actors
    u = np.zeros(sizes + (n_a,))
    for i, (start, n) in enumerate(zip(space.offsets, sizes)):
        shape = [1] * len(sizes) + [n_a]
        shape[i] = n
        u = u + (v[:, start:start + n] * w[:, i:i + 1]).T.reshape(shape)
    u = u.reshape(-1, n_a)
    idx = np.argsort(-u.sum(axis=1), kind="stable")
    rest = u[idx]
    k = 0
    while k < len(rest):
        keep = (rest > rest[k]).any(axis=1)
        keep[k] = True
        rest, idx = rest[keep], idx[keep]
        k = int(keep[:k].sum()) + 1
    sig = game.signatories
    gains = rest[:, sig] - r[sig]
    ok = (gains >= 0).all(axis=1)
    zopa, gains = rest[ok], gains[ok]
    nash = zopa[np.argmax(np.prod(gains, axis=1))]
    ideal = zopa[:, sig].max(axis=0)
    ks = zopa[np.argmax((gains / (ideal - r[sig])).min(axis=1))]
    return {"pareto_size": len(idx), "nash": nash, "kalai_smorodinsky": ks, "deals": len(u)}


def bench_analyze(smoke: bool) -> list[dict]:
    """`analyze` on the 248,832-deal benchmark space (against numpy brute force) and on Alaska."""
    import numpy as np

    from sim.analysis import analyze
    from sim.domain.game import compile_scenario
    from sim.scenario import load_scenario

    repeat = 2 if smoke else 15
    game = bench_game(uncertain=False)
    ours = _timeit(lambda: analyze(game), repeat)
    result = analyze(game)
    brute = _timeit(lambda: brute_force(game), 1 if smoke else 5)
    check = brute_force(game)
    same = (check["pareto_size"] == result["pareto_size"]
            and np.allclose(check["nash"], result["nash"]["utilities"])
            and np.allclose(check["kalai_smorodinsky"], result["kalai_smorodinsky"]["utilities"]))
    size = f"{game.space.size:,}"
    alaska = compile_scenario(load_scenario(ALASKA).scenario)
    alaska_time = _timeit(lambda: analyze(alaska), 1 if smoke else 7)
    alaska_result = analyze(alaska)
    return [
        {"benchmark": f"analyze, {size} deals (4 parties, 10 issues)", "value": ours * 1000, "unit": "ms",
         "detail": f"Pareto + ZOPA + Nash + KS + utilitarian; target <= 50 ms; frontier "
                   f"{result['pareto_size']:,} deals"},
        {"benchmark": f"numpy brute force, {size} deals", "value": brute * 1000, "unit": "ms",
         "detail": "all utilities, sort-and-prune Pareto, Nash, KS; "
                   + ("same frontier, Nash and KS" if same else "RESULTS DIFFER from analyze")},
        {"benchmark": "analyze / brute force", "value": ours / brute, "unit": "x",
         "detail": f"analyze is {brute / ours:.1f}x faster"},
        {"benchmark": f"analyze, Alaska ({alaska.space.size:,} deals)", "value": alaska_time * 1000, "unit": "ms",
         "detail": f"target <= 1000 ms; frontier {alaska_result['pareto_size']:,} deals, exact"},
    ]


def negmas_spec(game, seed: int, negotiations: int) -> dict:
    """What negmas_bench.py needs: issues, curves, and runs 0..n-1's sampled utilities, as negsim drew them."""
    import numpy as np

    from sim.model.model import RunDraws

    space = game.space
    run_ids = np.arange(negotiations, dtype=np.int64)
    draws = RunDraws.draw(game, seed, run_ids, game.protocol["max_rounds"])
    prefs = game.sample_preferences(draws.params)  # exactly what simulate_chunk negotiates with
    return {
        "issues": [{"id": iid, "options": list(opts)} for iid, opts in zip(space.issue_ids, space.option_ids)],
        "parties": [{"id": aid, "negmas_aspiration": curve}
                    for aid, (_, _, curve) in zip(game.actor_ids, BENCH_PARTIES)],
        "n_steps": game.protocol["max_rounds"],
        "negotiations": [{
            "run": int(k),
            "weights": prefs.weights[k].tolist(),  # normalised: sum to 1 per party
            "values": [[prefs.values[k, a, s:s + n].tolist() for s, n in zip(space.offsets, space.n_options)]
                       for a in range(game.n_actors)],
            "reservation": prefs.reservation[k].tolist(),
        } for k in range(negotiations)],
    }


def _mean(x) -> str:
    return f"{x.mean():.0f}" if len(x) else "-"


def default_negmas_python() -> str | None:
    """`.venv-negmas/bin/python` in the repository, if it exists."""
    path = ROOT / ".venv-negmas" / "bin" / "python"
    return str(path) if path.exists() else None


def _run_negmas(python: str, spec: Path, mode: str, negotiations: int) -> dict:
    script = Path(__file__).resolve().parent / "negmas_bench.py"
    proc = subprocess.run([python, str(script), str(spec), "--mode", mode, "--negotiations", str(negotiations)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["no output"])[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_negmas(smoke: bool, negmas_python: str | None) -> list[dict]:
    """The benchmark negotiation in negsim (Monte Carlo runs) and, if available, in NegMAS."""
    import numpy as np

    from sim.simulate import ChunkSpec, simulate_chunk

    seed = 11
    game = bench_game(uncertain=True)
    runs = 200 if smoke else 4000
    chunk = 2000  # what `negsim run` uses for large jobs (runner.auto_chunk_size caps chunks at 2000)
    tables = []
    start = time.perf_counter()
    for lo in range(0, runs, chunk):
        tables.append(simulate_chunk(game, ChunkSpec(seed, 0, (lo, min(lo + chunk, runs)), False))["runs"])
    ours = runs / (time.perf_counter() - start)
    outcome = np.concatenate([t.column("outcome").to_numpy(zero_copy_only=False) for t in tables])
    end_round = np.concatenate([t.column("round").to_numpy() for t in tables])
    agreed = outcome == "agreement"
    rows = [{"benchmark": "4x10 alternating offers, negsim", "value": ours, "unit": "runs/s",
             "detail": f"{runs:,} runs x 100 rounds max, 1 process, fresh utilities every run; "
                       f"{agreed.mean():.0%} agree, mean round {_mean(end_round[agreed])}"}]
    if negmas_python is None:
        rows.append({"benchmark": "NegMAS comparison", "value": None, "unit": "",
                     "detail": "skipped: no NegMAS interpreter (see benchmarks/README.md; --negmas-python PATH)"})
        return rows
    fresh_n, reused_n = (1, 2) if smoke else (10, 30)
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(negmas_spec(game, seed, fresh_n)))
        try:
            fresh = _run_negmas(negmas_python, spec_path, "fresh", fresh_n)
            reused = _run_negmas(negmas_python, spec_path, "reused", reused_n)
        except (OSError, RuntimeError) as exc:
            rows.append({"benchmark": "NegMAS comparison", "value": None, "unit": "",
                         "detail": f"skipped: {negmas_python} failed: {exc}"})
            return rows
    # The first fresh_n runs of ours negotiated exactly the utilities NegMAS got: compare outcomes.
    theirs = np.array([r["agreement"] for r in fresh["results"]])
    steps = np.array([r["step"] for r in fresh["results"]])
    version = fresh["negmas_version"]
    per_fresh = fresh["seconds"] / fresh["negotiations"]
    per_reused = reused["seconds"] / reused["negotiations"]
    mine = agreed[:fresh_n]
    return rows + [
        {"benchmark": f"same in NegMAS {version}, fresh utilities", "value": fresh["per_second"], "unit": "neg/s",
         "detail": f"{per_fresh:.2f} s each ({fresh['inverter_seconds'] / fresh['negotiations']:.2f} s of it "
                   f"building utility inverters), {fresh['negotiations']} negotiations with the utilities of our "
                   f"runs 0-{fresh_n - 1}: {theirs.sum()} agree, mean step {_mean(steps[theirs])} "
                   f"(negsim: {mine.sum()}, mean round {_mean(end_round[:fresh_n][mine])})"},
        {"benchmark": f"same in NegMAS {version}, reused utilities", "value": reused["per_second"], "unit": "neg/s",
         "detail": f"{per_reused:.3f} s each, {reused['negotiations']} negotiations after a "
                   f"{reused['warmup']['seconds']:.2f} s warm-up"},
        {"benchmark": "negsim / NegMAS, fresh utilities", "value": ours / fresh["per_second"], "unit": "x",
         "detail": "target >= 100"},
        {"benchmark": "negsim / NegMAS, reused utilities", "value": ours / reused["per_second"], "unit": "x",
         "detail": "NegMAS without building its inverters"},
    ]


SECTIONS = {
    "analyze": bench_analyze,
}


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark section and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the benchmarks still run")
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    parser.add_argument("--only", nargs="*", help="sections to run (monte_carlo startup memory analyze negmas)")
    parser.add_argument("--negmas-python", default=default_negmas_python(),
                        help="interpreter with negmas installed (default: .venv-negmas/bin/python if it "
                             "exists); 'none' skips NegMAS")
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
        "negmas": lambda: bench_negmas(smoke, None if args.negmas_python in (None, "", "none") else args.negmas_python),
    }
    rows = []
    for name, fn in sections.items():
        if args.only and name not in args.only:
            continue
        rows.extend(fn())
    report(rows, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
