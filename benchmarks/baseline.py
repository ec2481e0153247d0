"""The engine as it stood when issue 16 (the compiled engine) was opened, for timings side by side.

`tree` extracts BASELINE's `sim` package with git. `Engine` keeps a child process that runs that
package's own simulate_chunk on request, its imports and first runs done before any timing, so a
benchmark can time today's engine, the numpy fallback and the compiled engine in turn in one
command. Run as a script, this file is that child: one JSON request per line on stdin, one JSON
answer per line on stdout. It imports nothing from this tree's `sim`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: main just before the compiled engine's first commit: "today" in issue 16.
BASELINE = "bd20bcf"


def tree(tmp: Path) -> Path:
    """BASELINE's `sim` package, extracted from git into `tmp` (scenarios are this tree's)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE, "sim"], capture_output=True)
    if archive.returncode:
        raise SystemExit(f"git archive {BASELINE} failed (a shallow clone?): {archive.stderr.decode()[-500:]}")
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
    return tmp


class Engine:
    """BASELINE's simulate_chunk in a child process: `timed(protocol, runs, chunk)` plays the Alaska runs
    0 .. runs - 1 (seed 7, no rounds table) in chunks there and returns (wall, CPU) seconds of the child."""

    def __init__(self, tmp: Path, scenario: Path, protocols: tuple[str, ...]):
        self.scenario = scenario
        env = {**os.environ, "PYTHONPATH": str(tree(tmp))}
        env.pop("NEGSIM_ENGINE", None)
        self.child = subprocess.Popen([sys.executable, __file__], cwd=tmp, env=env, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        for protocol in protocols:  # imports and each protocol's first run, left out of the timings
            self.timed(protocol, 2, 1)

    def timed(self, protocol: str, runs: int, chunk: int) -> tuple[float, float]:
        """(wall seconds, CPU seconds) of the child playing the runs."""
        request = {"scenario": str(self.scenario), "protocol": protocol, "runs": runs, "chunk": chunk}
        self.child.stdin.write(json.dumps(request) + "\n")
        self.child.stdin.flush()
        answer = self.child.stdout.readline()
        if not answer:
            raise SystemExit(f"{BASELINE}'s engine stopped (exit status {self.child.wait()}); see its error above")
        timing = json.loads(answer)
        return timing["wall"], timing["cpu"]

    def close(self) -> None:
        """End the child."""
        self.child.stdin.close()
        self.child.wait()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve() -> None:
    """The child's loop: answer each request with the timing of its runs."""
    import sim
    from sim.jobs import scenario_with_sets
    from sim.simulate import ChunkSpec, simulate_chunk

    if Path(sim.__file__).resolve().parent.parent != Path.cwd().resolve():
        raise SystemExit(f"the child imported {sim.__file__}, not {BASELINE}'s tree")
    games = {}
    for line in sys.stdin:
        request = json.loads(line)
        key = (request["scenario"], request["protocol"])
        if key not in games:
            games[key] = scenario_with_sets(key[0], (f"protocol.kind={key[1]}",))[1]
        runs, chunk = request["runs"], request["chunk"]
        specs = [ChunkSpec(7, 0, (start, min(start + chunk, runs)), False) for start in range(0, runs, chunk)]
        wall, cpu = time.perf_counter(), time.process_time()
        for spec in specs:
            simulate_chunk(games[key], spec)
        print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}), flush=True)


if __name__ == "__main__":
    _serve()
