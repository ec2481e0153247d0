"""A job as typed on the command line: its spec, and the parsing of --set, --grid and --sample."""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.errors import Problem, UserError
from sim.jobs.budget import (
    check_points,
)
from sim.scenario.overrides import (
    parse_value,
)

METHODS = ("lhs", "sobol")


DEFAULT_SWEEP_RUNS = 200


# The sampler's stream must not coincide with any run's SeedSequence(seed, spawn_key=(point, run)).
SAMPLER_SPAWN_KEY = (0x5A3D_17E5,)


def split_assignment(text: str, flag: str) -> tuple[str, str]:
    """`path=rest` -> (path, rest), or a UserError naming the flag."""
    path, eq, rest = text.partition("=")
    if not eq or not path.strip():
        raise UserError([Problem("", None, f"{flag} {text}", "expected PATH=VALUE, e.g. "
                                                             f"{flag} actors.alpha.weights.north={_EXAMPLE[flag]}")])
    if not rest.strip():
        raise UserError([Problem("", None, f"{flag} {text}", "nothing after '='")])
    return path.strip(), rest.strip()


_EXAMPLE = {"--set": "0.4", "--grid": "0.2:0.9:8", "--sample": "0.2:0.9"}


def _finite(text: str, label: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError([Problem("", None, label, f"{what} {text!r} is not a number")]) from None
    if not math.isfinite(value):
        raise UserError([Problem("", None, label, f"{what} {text!r} is not a finite number")])
    return value


def _tidy(value: float) -> float:
    # linspace gives 0.30000000000000004; 12 significant digits is exact for any grid a user types.
    return float(f"{value:.12g}")


def parse_grid(text: str) -> tuple[str, list[Any], bool]:
    """`path=low:high:count` (evenly spaced, inclusive) or `path=a,b,c` -> (path, values, is_range)."""
    path, rhs = split_assignment(text, "--grid")
    label = f"--grid {text}"
    if ":" in rhs:
        parts = rhs.split(":")
        if len(parts) != 3:
            raise UserError([Problem("", None, label, "a range is LOW:HIGH:COUNT, e.g. 0.2:0.9:8 "
                                                      "(or list the values: a,b,c)")])
        low = _finite(parts[0], label, "LOW")
        high = _finite(parts[1], label, "HIGH")
        try:
            count = int(parts[2])
        except ValueError:
            raise UserError([Problem("", None, label, f"COUNT {parts[2]!r} is not a whole number")]) from None
        if count < 2:
            raise UserError([Problem("", None, label, f"COUNT must be at least 2, got {count} "
                                                      "(for one value use --set)")])
        if low == high:
            raise UserError([Problem("", None, label, "LOW and HIGH are equal; every point would be the same")])
        check_points(count, label)
        raw = [float(v) for v in np.linspace(low, high, count)]
        if len(set(raw)) < count:
            raise UserError([Problem("", None, label, f"the range is too narrow for {count} distinct numbers; "
                                                      "widen it or lower COUNT")])
        tidy = [_tidy(v) for v in raw]
        return path, tidy if len(set(tidy)) == count else raw, True
    items = [item.strip() for item in rhs.split(",")]
    if any(not item for item in items):
        raise UserError([Problem("", None, label, "empty value in the list (two commas in a row, or a "
                                                  "trailing comma?)")])
    values = [parse_value(item, label) for item in items]
    if any(isinstance(v, (dict, list)) for v in values):
        raise UserError([Problem("", None, label, "grid values must be plain values; use --set for a mapping")])
    return path, values, False


def parse_sample(text: str) -> tuple[str, float, float]:
    """`path=low:high` -> (path, low, high) with low < high."""
    path, rhs = split_assignment(text, "--sample")
    label = f"--sample {text}"
    parts = rhs.split(":")
    if len(parts) != 2:
        raise UserError([Problem("", None, label, "a sampled range is LOW:HIGH, e.g. 0.2:0.9")])
    low = _finite(parts[0], label, "LOW")
    high = _finite(parts[1], label, "HIGH")
    if not low < high:
        raise UserError([Problem("", None, label, f"LOW ({parts[0]}) must be below HIGH ({parts[1]})")])
    return path, low, high


def parse_set(text: str) -> tuple[str, Any]:
    """`path=value` -> (path, value read as YAML)."""
    path, rhs = split_assignment(text, "--set")
    return path, parse_value(rhs, f"--set {text}")


def sample_unit(method: str, n: int, d: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """(n, d) points in the unit cube by `lhs` or scrambled `sobol`, seeded from `seed`; plus notes."""
    from scipy.stats import qmc

    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=SAMPLER_SPAWN_KEY))
    notes = []
    if method == "lhs":
        engine = qmc_engine(qmc.LatinHypercube, d, rng)
    elif method == "sobol":
        engine = qmc_engine(qmc.Sobol, d, rng, scramble=True)
        if n & (n - 1):
            notes.append(f"--points {n} is not a power of 2, so the Sobol' points lose their balance "
                         f"properties; {1 << (n - 1).bit_length()} would keep them")
    else:
        raise UserError([Problem("", None, "--method", f"unknown method {method!r} (known: {', '.join(METHODS)})")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the power-of-2 warning, said once in `notes`
        return engine.random(n), notes


def qmc_engine(cls, d: int, rng, **kwargs):
    """A scipy.stats.qmc engine seeded by `rng`, on any supported scipy."""
    # scipy renamed `seed` to `rng` in 1.15; accept both so the floor in pyproject (1.11) works.
    try:
        return cls(d, rng=rng, **kwargs)
    except TypeError:
        return cls(d, seed=rng, **kwargs)


@dataclass(frozen=True)
class JobSpec:
    """Everything that determines a job's results; recorded in the manifest for --resume."""

    kind: str = "sweep"  # "run" | "sweep"
    scenario: str = ""
    sets: tuple[str, ...] = ()
    grids: tuple[str, ...] = ()
    samples: tuple[str, ...] = ()
    method: str = "lhs"
    points: int | None = None  # sampled points (with --sample)
    runs: int = 200
    seed: int = 0
    chunk_size: int | None = None
    rounds: bool = False

    def to_dict(self) -> dict:
        """JSON-ready form for the manifest."""
        out = dataclasses.asdict(self)
        out.update(sets=list(self.sets), grids=list(self.grids), samples=list(self.samples))
        return out

    @classmethod
    def from_dict(cls, data: dict) -> JobSpec:
        """Inverse of to_dict (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in data.items() if k in names}
        for k in ("sets", "grids", "samples"):
            kw[k] = tuple(kw.get(k, ()))
        return cls(**kw)
