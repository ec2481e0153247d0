"""Building the compiled engine's kernels before they are needed.

numba compiles a kernel the first time it runs on a machine (about 70 s for all of them on 2 cores,
one process per protocol) and keeps the machine code on disk, in a folder per version of the
kernels' sources (see sim.model.kernel._cache_by_source). `build` plays a few runs of a scenario under every protocol
that has kernels, one process per protocol, which compiles them (or loads them if they already
are), then leaves a mark in that folder for this checkout (sim.model.kernel.kernels_built looks for it). The engine
chosen by default is the compiled one wherever the mark is (sim.model.kernel.resolve_engine): a
`negsim run` never stops for minutes to compile. A build also deletes the folders of older source
versions but the three most recent. `./dev.sh` builds them:

    python -m sim.jobs.kernels [SCENARIO]    # default: the shipped Alaska scenario
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

#: The protocols that have kernels (sim.model.kernel.protocols.kernel_for).
PROTOCOLS = ("mediated", "alternating")
DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "alaska_2025.yaml"
#: A scenario whose actors follow the subgame-perfect plan, which has a kernel of its own (sim.model.kernel.plan).
PLANNED_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "examples" / "rubinstein_unequal.yaml"
#: Kernel folders of other source versions kept beside this one (other checkouts, the branch before).
KEEP_OTHER_VERSIONS = 3
_VERSION_FOLDER = re.compile(r"[0-9a-f]{16}")


def play(scenario: Path, protocol: str) -> None:
    """A few runs of `scenario` under `protocol` on the compiled engine, with and without round records."""
    from sim.jobs import scenario_with_sets
    from sim.simulate import ChunkSpec, simulate_chunk

    game = scenario_with_sets(str(scenario), (f"protocol.kind={protocol}",))[1]
    for rounds in (False, True):
        simulate_chunk(game, ChunkSpec(1, 0, (0, 4), rounds), engine="compiled")
    if protocol == "alternating" and PLANNED_SCENARIO.is_file():
        planned = scenario_with_sets(str(PLANNED_SCENARIO), (f"protocol.kind={protocol}",))[1]
        simulate_chunk(planned, ChunkSpec(1, 0, (0, 2), False), engine="compiled")


def build(scenario: Path = DEFAULT_SCENARIO) -> float:
    """Compile (or load) every kernel, one process per protocol, and mark them built; return the seconds taken."""
    from sim.model.kernel import built_mark, kernel_cache_folder

    folder = kernel_cache_folder()
    if folder is None:
        raise RuntimeError("numba is not installed: there is nothing to build (pip install 'negsim[fast]')")
    start = time.perf_counter()

    def one(protocol: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sim.jobs.kernels", "--play", protocol, str(scenario)],
                              capture_output=True, text=True, env={**os.environ, "NEGSIM_ENGINE": "compiled"})

    with ThreadPoolExecutor(len(PROTOCOLS)) as pool:
        done = list(pool.map(one, PROTOCOLS))
    failed = [(p, d) for p, d in zip(PROTOCOLS, done) if d.returncode]
    if failed:
        protocol, result = failed[0]
        raise RuntimeError(f"building the {protocol} kernels failed:\n{result.stderr[-3000:]}")
    folder.mkdir(parents=True, exist_ok=True)
    built_mark().write_text(f"built in {time.perf_counter() - start:.0f} s from {scenario}\n")
    os.utime(folder)  # the newest version folder, whether its kernels were compiled now or only loaded
    if not os.environ.get("NUMBA_CACHE_DIR"):  # a folder of the user's choosing has no siblings of ours
        prune_other_versions(folder)
    return time.perf_counter() - start


def prune_other_versions(folder: Path, keep: int = KEEP_OTHER_VERSIONS) -> list[Path]:
    """Delete the kernel folders of other source versions beside `folder` but the `keep` most recently
    built; return those deleted. Every edit of the kernels' sources makes a new folder (~5 MB) that
    nothing would otherwise remove; a checkout still on a deleted version only compiles again."""
    others = [p for p in folder.parent.iterdir()
              if p != folder and p.is_dir() and _VERSION_FOLDER.fullmatch(p.name)] if folder.parent.is_dir() else []
    others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in others[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return others[keep:]


def main(argv: list[str] | None = None) -> int:
    """`python -m sim.jobs.kernels [SCENARIO]`; `--play PROTOCOL SCENARIO` is one protocol's process."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--play"]:
        play(Path(args[2]), args[1])
        return 0
    scenario = Path(args[0]) if args else DEFAULT_SCENARIO
    try:
        seconds = build(scenario)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from sim.model.kernel import kernel_cache_folder

    print(f"compiled engine ready in {seconds:.0f} s ({kernel_cache_folder()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
