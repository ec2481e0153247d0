"""negsim benchmark of issue 16: a million Alaska runs with the rounds table, on two workers, end to end.

    .venv/bin/python benchmarks/million.py                 # 1,000,000 runs, compiled engine (about 2 min)
    .venv/bin/python benchmarks/million.py --runs 200000   # a smaller job
    .venv/bin/python benchmarks/million.py --smoke         # tiny sizes (seconds): checks the command
    .venv/bin/python benchmarks/million.py --numpy-runs 0  # skip the numpy engine's job
    .venv/bin/python benchmarks/million.py --json out.json

What it runs: `negsim run scenarios/alaska_2025.yaml --runs N --engine compiled --workers 2 --yes
--out TMP` (rounds.parquet is always written by `negsim run`), as a fresh process, and reports:
  - wall time and runs per second (target: 1,000,000 runs in under 90 s on 2 cores);
  - peak memory of the whole process tree (negsim, the forkserver and its workers), sampled
    every 50 ms from /proc: the sum of their PSS (each page shared by the forked processes
    counted once: the target, under 1 GB), the sum of their RSS (shared pages once per process)
    and the largest single process;
  - the job's phases, read from its results folder while it runs: start-up (to the first chunk
    file), simulating and writing chunks (to the last chunk stored; the merge appends each chunk
    meanwhile), the end of the merge (to rounds.parquet) and the summary (to the exit), with the
    peak memory of each;
  - the phases of one chunk in one process (drawing and the kernels, the runs table, the rounds
    table, write_chunk: encoding, checksum and fsync), and the merge of those chunks;
  - the same job on the numpy engine at a smaller size (`--numpy-runs`, 0 skips it), and the
    ratio of the two engines' runs per second.
The compiled engine's first use on a machine compiles the kernels (about 2 minutes, cached
after); a warm-up job of 2,000 runs takes that out of the timings.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ALASKA = ROOT / "scenarios" / "alaska_2025.yaml"

from table import report  # noqa: E402 - benchmarks/ is on the path as the script's own folder

NEGSIM = [sys.executable, "-m", "sim"]


class TreeSampler(threading.Thread):
    """Peak RSS of a process and its descendants, and when the results folder reached each phase."""

    def __init__(self, pid: int, out: Path, period: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.out, self.period = pid, out, period
        self.peak_sum = self.peak_one = self.peak_pss = 0
        self.t0 = time.perf_counter()
        self.marks: dict[str, float] = {}
        self.cpu: dict[int, float] = {}  # CPU seconds of each process, last seen
        self.phase_peak: dict[str, int] = {}  # peak PSS of the process tree in each phase
        self.stored = 0  # chunks stored so far
        self.done = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.done.is_set():
            rss, pss = [], 0
            for p in [root, *_children(root)]:
                try:
                    rss.append(p.memory_info().rss)
                    cpu = p.cpu_times()
                    self.cpu[p.pid] = cpu.user + cpu.system
                except psutil.Error:
                    continue
                pss += _pss(p.pid, rss[-1])
            if rss:
                self.peak_sum, self.peak_one = max(self.peak_sum, sum(rss)), max(self.peak_one, max(rss))
                self.peak_pss = max(self.peak_pss, pss)
            self._phases()
            phase = self.phase()
            self.phase_peak[phase] = max(self.phase_peak.get(phase, 0), pss)
            self.done.wait(self.period)

    def _phases(self) -> None:
        now = time.perf_counter() - self.t0
        chunks = self.out / "chunks"
        if "first chunk" not in self.marks and chunks.is_dir() and any(chunks.glob("runs-*.sha256")):
            self.marks["first chunk"] = now
        # The merge runs alongside the chunks (each is appended once those before it are): what is
        # left of it starts when the last chunk is stored, seen afterwards as the last new seal.
        if "merged" not in self.marks and chunks.is_dir():
            stored = sum(1 for _ in chunks.glob("runs-*.sha256"))
            if stored > self.stored:
                self.stored, self.marks["merge starts"] = stored, now
        if "merged" not in self.marks and (self.out / "rounds.parquet").exists():
            self.marks["merged"] = now


    def phase(self) -> str:
        """The job's phase now (the names of run_job's phases)."""
        for name, mark in (("summary", "merged"), ("simulate + write chunks", "first chunk")):
            if mark in self.marks:
                return name
        return "start-up"


def _pss(pid: int, rss: int) -> int:
    """A process's proportional set size (its shared pages split among their users); its RSS if unknown."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return rss


def _children(proc):
    import psutil

    try:
        return proc.children(recursive=True)
    except psutil.Error:
        return []


def run_job(runs: int, engine: str, workers: int, tmp: Path) -> dict:
    """One `negsim run` in a fresh process: wall time, peak memory, phases, file sizes."""
    out = tmp / f"{engine}-{runs}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = NEGSIM + ["run", str(ALASKA), "--runs", str(runs), "--engine", engine, "--workers", str(workers),
                    "--out", str(out), "--yes"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    sampler = TreeSampler(proc.pid, out)
    sampler.t0 = start  # the phases count from the job's start
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{stderr.decode()[-2000:]}")
    marks = sampler.marks
    phases, last = {}, 0.0
    for name, mark in (("start-up", "first chunk"), ("simulate + write chunks", "merge starts"),
                       ("end of the merge", "merged"), ("summary", None)):
        end = marks.get(mark, wall) if mark else wall
        if mark is None or mark in marks:
            phases[name] = max(0.0, end - last)
            last = end
    sizes = {name: (out / f"{name}.parquet").stat().st_size for name in ("runs", "rounds")
             if (out / f"{name}.parquet").exists()}
    shutil.rmtree(out, ignore_errors=True)
    return {"runs": runs, "engine": engine, "workers": workers, "wall": wall, "rate": runs / wall,
            "peak_pss_mb": sampler.peak_pss / 2**20, "peak_sum_mb": sampler.peak_sum / 2**20, "peak_one_mb": sampler.peak_one / 2**20,
            "maxrss_children_mb": max(after, before) / 1024, "cpu": sum(sampler.cpu.values()),
            "phases": phases, "sizes": sizes, "phase_peak_mb": {k: v / 2**20 for k, v in sampler.phase_peak.items()}}


def chunk_phases(chunks: int, size: int, tmp: Path) -> list[dict]:
    """The phases of `chunks` chunks of `size` runs in this process, then their merge (per 1,000 runs)."""
    from sim.domain.game import compile_scenario
    from sim.model.model import NegotiationModel, RunDraws
    from sim.results import ResultsFolder
    from sim.scenario import load_scenario
    from sim.simulate import ChunkSpec, rounds_table, runs_table

    game = compile_scenario(load_scenario(ALASKA).scenario)
    horizon = game.protocol["max_rounds"]
    folder = ResultsFolder.create(tmp / "phases", force=True)
    times = {"draws + model": 0.0, "kernels": 0.0, "runs table": 0.0, "rounds table": 0.0, "write_chunk": 0.0}

    def timed(name, fn):
        start = time.perf_counter()
        value = fn()
        times[name] += time.perf_counter() - start
        return value

    rows = 0
    for cid in range(chunks + 1):  # chunk 0 warms up (imports, the kernels' cache): not counted
        spec = ChunkSpec(0, 0, (cid * size, (cid + 1) * size), True, "compiled")
        if cid == 1:
            times = dict.fromkeys(times, 0.0)
        model = timed("draws + model", lambda spec=spec: _model(game, spec, horizon, RunDraws, NegotiationModel))
        draws = model.draws
        timed("kernels", model.run)
        tables = {"runs": timed("runs table", lambda: runs_table(game, model, spec, draws)),
                  "rounds": timed("rounds table", lambda: rounds_table(game, model, spec))}
        rows += tables["rounds"].num_rows if cid else 0
        timed("write_chunk", lambda cid=cid, tables=tables: folder.write_chunk(cid, tables))
    start = time.perf_counter()
    folder.merge(list(range(1, chunks + 1)))
    times["merge"] = time.perf_counter() - start
    per = 1000 / (chunks * size)
    total = sum(times.values())
    out = [{"benchmark": f"one process, {name}", "value": t * per * 1000, "unit": "ms/1k runs",
            "detail": f"{100 * t / total:.0f}% of {chunks} chunks of {size:,} runs ({rows:,} rounds rows)"}
           for name, t in times.items()]
    shutil.rmtree(tmp / "phases", ignore_errors=True)
    return out


def _model(game, spec, horizon, RunDraws, NegotiationModel):
    draws = RunDraws.draw(game, spec.seed, spec.run_ids, horizon, engine=spec.engine)
    return NegotiationModel(game, game.sample_preferences(draws.params), draws, max_rounds=horizon,
                            collect_rounds=True, rng=spec.seed, engine=spec.engine)


def job_rows(r: dict, label: str) -> list[dict]:
    """The table rows of one job."""
    mb = ", ".join(f"{k}.parquet {v / 2**20:,.0f} MB" for k, v in r["sizes"].items())
    rows = [
        {"benchmark": f"{label}: wall time", "value": r["wall"], "unit": "s",
         "detail": f"{r['runs']:,} runs, {r['engine']} engine, {r['workers']} workers; {mb}"},
        {"benchmark": f"{label}: runs per second", "value": r["rate"], "unit": "runs/s",
         "detail": f"CPU time of the process tree {r['cpu']:,.0f} s (sampled, so a little short)"},
        {"benchmark": f"{label}: peak memory, process tree", "value": r["peak_pss_mb"], "unit": "MB",
         "detail": "sum of PSS over negsim, forkserver and workers, sampled every 50 ms; target < 1024"},
        {"benchmark": f"{label}: peak memory, process tree (RSS)", "value": r["peak_sum_mb"], "unit": "MB",
         "detail": "sum of RSS: counts the pages the forked processes share once per process"},
        {"benchmark": f"{label}: peak memory, largest process", "value": r["peak_one_mb"], "unit": "MB",
         "detail": f"sampled; the kernel's ru_maxrss of the children: {r['maxrss_children_mb']:,.0f} MB"},
    ]
    for name, seconds in r["phases"].items():
        peak = r["phase_peak_mb"].get(name)
        rows.append({"benchmark": f"{label}: {name}", "value": seconds, "unit": "s",
                     "detail": "read from the results folder while the job runs"
                               + (f"; peak PSS in it {peak:,.0f} MB" if peak is not None else "")})
    return rows


def main() -> int:
    """Run the jobs and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000, help="runs of the compiled job (default 1,000,000)")
    parser.add_argument("--numpy-runs", type=int, default=None,
                        help="runs of the numpy engine's job, for the ratio (default 20,000; 0: skip)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--phase-chunks", type=int, default=None, help="chunks of the one-process phases (0: skip)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the command, not the speed")
    parser.add_argument("--tmp", type=Path, default=None, help="where the results folders go (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()
    from sim.model.kernel import numba_available

    if not numba_available():
        print("numba is not installed (pip install 'negsim[fast]'): there is no compiled engine to measure")
        return 1
    runs = 2_000 if args.smoke else args.runs
    numpy_runs = (200 if args.smoke else 20_000) if args.numpy_runs is None else args.numpy_runs
    phase_chunks = (2 if args.smoke else 10) if args.phase_chunks is None else args.phase_chunks
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp_name:
        tmp = Path(tmp_name)
        warm = time.perf_counter()
        run_job(2_000, "compiled", args.workers, tmp)  # compiles or loads the kernels; not counted
        rows.append({"benchmark": "warm-up job (2,000 runs)", "value": time.perf_counter() - warm, "unit": "s",
                     "detail": "the kernels' first use on this machine compiles them (about 2 min)"})
        if phase_chunks:
            rows += chunk_phases(phase_chunks, 2_000 if not args.smoke else 200, tmp)
        compiled = run_job(runs, "compiled", args.workers, tmp)
        rows += job_rows(compiled, "compiled")
        if numpy_runs:
            numpy_ = run_job(numpy_runs, "numpy", args.workers, tmp)
            rows += job_rows(numpy_, "numpy")
            rows.append({"benchmark": "compiled / numpy, runs per second", "value": compiled["rate"] / numpy_["rate"],
                         "unit": "x", "detail": f"{runs:,} against {numpy_runs:,} runs, same workers"})
    report(rows, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
