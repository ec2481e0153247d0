"""The compiled engine: numba kernels that play every round of a batch of runs in one call.

The model (sim.model.model) keeps its structure — Mesa agents, the event list, the protocols'
opening moves, the war's start — and hands its arrays to a kernel that plays the rounds between
two scheduled events. The kernels replay the numpy engine's arithmetic operation for operation,
including numpy's summation orders (see sim.model.kernel.numeric), and draw each run's random
numbers from the same PCG64 streams (sim.model.kernel.rng), so both engines give the same runs.

Kernels exist for the `mediated` and `alternating` protocols, and for the offer search of the
`subgame_perfect` strategy's backward induction (sim.model.kernel.plan); `expected_utility` (whose cost is
its own vectorised numpy, whose powers libm would not round as numpy's SIMD code does) and any
plug-in protocol or strategy play on the numpy engine whichever engine is asked for.

Which engine runs: `engine=` on the model, else the environment variable NEGSIM_ENGINE
(`compiled` or `numpy`; `--engine` on the CLI sets it), else the compiled engine where its
kernels have been built on this machine (sim.jobs.kernels; `./dev.sh` does it), else numpy.
Compiling happens ahead of time (one to two minutes on 2 cores), never in the middle of a user's run.
"""

from __future__ import annotations

import os

from sim.errors import UserError

ENGINES = ("compiled", "numpy")
ENGINE_ENV = "NEGSIM_ENGINE"

try:  # numba is the optional extra `fast`
    import numba as _numba
except ImportError:  # pragma: no cover - exercised where numba is absent
    _numba = None


def _cache_by_source() -> None:
    """Keep compiled kernels in a folder named after this package's sources (and numba's and numpy's
    versions). numba checks only the file of the function it compiled, not the helpers that were
    compiled into it from other modules: an edit there would otherwise leave a stale kernel in use."""
    import hashlib
    from pathlib import Path

    import numpy

    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(f"{_numba.__version__} {numpy.__version__}".encode())
    for path in sorted(here.glob("*.py")) + [here.parent / "status.py"]:
        digest.update(path.read_bytes())
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "negsim" / "kernels"
    folder = root / digest.hexdigest()[:16]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # numba then keeps its cache beside the sources, as it does by default
    _numba.config.CACHE_DIR = str(folder)


#: LLVM's optimisation level for the kernels: level 2 compiles them a little faster than numba's default 3
#: and runs them as fast (benchmarks/engine.py). NUMBA_OPT, when set, has the last word.
OPT_LEVEL = 2

if _numba is not None:
    if "NUMBA_OPT" not in os.environ:
        _numba.config.OPT = _numba.core.config._OptLevel(OPT_LEVEL)
    _cache_by_source()


def numba_available() -> bool:
    """Whether the compiled engine can run here."""
    return _numba is not None


#: sim.jobs.kernels.build leaves a file named BUILT_MARK-<checkout stamp> in the kernels' cache folder
#: once every kernel is compiled for this checkout.
BUILT_MARK = "built"


def checkout_stamp(sources=None) -> str:
    """What numba checks before it loads a cached kernel, as one key: the path of the kernels' sources
    (`sources`, default this checkout's) and the modification time and size of each file.

    numba keeps a checkout's kernels under that checkout's path and compiles again when a file's
    time changes, so a second clone of the same sources, or the same files touched by a branch
    switch, has no kernels yet even though its source version's folder does: the mark must say so,
    or `auto` would pick the compiled engine and the run would stop for minutes to compile.
    """
    import hashlib
    from pathlib import Path

    global _own_stamp
    if sources is None and _own_stamp is not None:
        return _own_stamp  # every chunk asks which engine to use: a dozen stat calls a chunk add up
    here = Path(sources or Path(__file__).parent).resolve()
    stamps = [str(here)] + [f"{p.name} {p.stat().st_mtime!r} {p.stat().st_size}" for p in sorted(here.glob("*.py"))]
    stamp = hashlib.sha256("\n".join(stamps).encode()).hexdigest()[:16]
    if sources is None:
        _own_stamp = stamp
    return stamp


_own_stamp: str | None = None  # this checkout's stamp, once computed


def built_mark():
    """The mark file (a Path) that says this checkout's kernels are compiled; None without numba."""
    folder = kernel_cache_folder()
    return None if folder is None else folder / f"{BUILT_MARK}-{checkout_stamp()}"


def kernel_cache_folder():
    """The folder (a Path) numba keeps this version's kernels in; None without numba."""
    from pathlib import Path

    if _numba is None or not _numba.config.CACHE_DIR:
        return None
    return Path(_numba.config.CACHE_DIR)


def kernels_built() -> bool:
    """Whether this version's kernels have been compiled on this machine (sim.jobs.kernels.build)."""
    mark = built_mark()
    return mark is not None and mark.is_file()


def resolve_engine(requested: str | None = None) -> str:
    """The engine to use: the one asked for, else NEGSIM_ENGINE, else compiled where its kernels are built,
    else numpy (see the module header)."""
    name = requested or os.environ.get(ENGINE_ENV) or ""
    if name in ("", "auto"):
        return "compiled" if kernels_built() else "numpy"
    if name not in ENGINES:
        raise UserError(f"unknown engine {name!r} (known: {', '.join(ENGINES)}; from --engine or ${ENGINE_ENV})")
    if name == "compiled" and not numba_available():
        raise UserError("the compiled engine needs numba (pip install 'negsim[fast]'); use --engine numpy")
    return name


def jit(fn):
    """A kernel's building block: compiled into every kernel that calls it (numba inlines it there,
    which spares each call the reference counting of the arrays it is handed); plain Python without numba."""
    if _numba is None:
        return fn
    return _numba.njit(inline="always", cache=True, nogil=True)(fn)


def part(fn):
    """A larger part of a kernel, compiled as a function of its own (inlining it everywhere would
    multiply the compile time for little gain); plain Python without numba.

    A call hands over every array of its namedtuples field by field (hundreds of words for the
    batch's state), so the parts called by the round loops take all runs at once and loop over
    them themselves: one call a round, not one a run."""
    if _numba is None:
        return fn
    return _numba.njit(cache=True, nogil=True, _nrt=False)(fn)


def kernel(fn=None, *, allocates: bool = False):
    """A kernel called from Python: compiled once per machine (cached on disk), releasing the GIL so that
    threads can run kernels side by side; plain Python without numba.

    Kernels that allocate no arrays (`allocates=False`, the round loops) are compiled without numba's
    reference counting: in loops that touch dozens of arrays it costs fifty times the arithmetic.
    """
    if fn is None:
        return lambda f: kernel(f, allocates=allocates)
    if _numba is None:
        return fn
    return _numba.njit(cache=True, nogil=True, _nrt=allocates)(fn)
