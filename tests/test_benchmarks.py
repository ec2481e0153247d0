"""The benchmark harness still runs: `benchmarks/run.py --smoke` at tiny sizes, without NegMAS, and
`benchmarks/engine.py --smoke` with today's engine (the tree before issue 16) beside this tree's two.

No timing is asserted (these machines are noisy); only that every section produced its rows
with positive numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Every row the smoke run must print (row names start with these).
EXPECTED = [
    "Alaska Monte Carlo, 1 worker",
    "Alaska Monte Carlo, 2 workers (cold start)",
    "Alaska Monte Carlo, 2 workers (warm)",
    "speed-up, 2 workers / 1, cold",
    "speed-up, 2 workers / 1, warm",
    "python -c pass",
    "negsim --help",
    "negsim validate alaska_2025.yaml",
    "peak memory, 200 runs",
    "peak memory, 600 runs",
    "memory ratio 600 / 200 runs",
    "analyze, 248,832 deals (4 parties, 10 issues)",
    "numpy brute force, 248,832 deals",
    "analyze / brute force",
    "analyze, Alaska (36,450,000 deals)",
    "4x10 alternating offers, negsim",
]


def _bench_module(name: str):
    """A module of benchmarks/, which its scripts import as their own folder's."""
    import importlib

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_smoke_run_prints_every_row(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--negmas-python", "none",
         "--json", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["machine"] and proc.stdout.startswith("machine: ")
    rows = {r["benchmark"]: r for r in data["rows"]}
    for name in EXPECTED:
        assert name in rows, f"missing row {name!r}; got {sorted(rows)}"
        value = rows[name]["value"]
        assert isinstance(value, (int, float)) and value > 0, (name, value)
        assert name in proc.stdout  # the table has it too
    # The brute-force baseline found the same frontier and solutions as analyze.
    assert "same frontier, Nash and KS" in rows["numpy brute force, 248,832 deals"]["detail"]
    # Without NegMAS its comparison is reported as skipped, not dropped silently.
    skipped = rows["NegMAS comparison"]
    assert skipped["value"] is None and skipped["detail"].startswith("skipped")
    assert "skipped" in proc.stdout


def test_paired_ratio_is_the_median_of_each_pairs_own_ratio():
    """Pair 3 ran in a slow spell (both halves), pair 2's top half caught one: the pairs' median is 1.1,
    where the ratio of the separate medians would read 4.4 / 2.0 = 2.2."""
    paired_ratio = _bench_module("table").paired_ratio
    ratio, spread = paired_ratio([2.2, 4.4, 4.4], [2.0, 2.0, 4.0])
    assert abs(ratio - 1.1) < 1e-12
    assert spread == "1.10-2.20x over 3 pairs"


def test_engine_smoke_times_todays_engine_beside_both_of_this_trees(tmp_path):
    """benchmarks/engine.py runs today's engine (the tree before issue 16, from git) in a child process
    beside the numpy fallback and the compiled engine, and prints every ratio."""
    from sim.model.kernel import kernels_built, numba_available

    if not (numba_available() and kernels_built()):
        pytest.skip("the compiled engine's kernels are not built here (./dev.sh builds them)")
    BASELINE = _bench_module("baseline").BASELINE
    if subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{BASELINE}^{{commit}}"]).returncode:
        pytest.skip(f"{BASELINE} is not in this clone's history (a shallow clone)")
    out = tmp_path / "engine.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "engine.py"), "--smoke", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {r["benchmark"]: r for r in json.loads(out.read_text())["rows"]}
    for protocol in ("mediated", "alternating"):
        for name in (f"today's engine ({BASELINE}, before issue 16)", "numpy fallback (this tree)", "compiled engine",
                     "compiled / today's (wall time)", "compiled / numpy fallback (CPU time)"):
            row = rows[f"{protocol}: {name}"]
            assert isinstance(row["value"], float) and row["value"] > 0, row
    assert rows["mediated: compiled / today's (wall time)"]["detail"].startswith("target >= 8x")
    assert rows["alternating: compiled / today's (wall time)"]["detail"].startswith("target >= 20x")
    assert rows["mediated, compiled: 2 threads / 1"]["value"] > 0
