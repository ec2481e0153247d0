"""Parameter sweeps and the life of a job: plan, validate, run, interrupt, resume.

A job is a scenario, constant overrides (`--set path=value`), swept paths (`--grid path=spec`,
whose product is taken, and `--sample path=low:high` drawn by Latin hypercube or scrambled
Sobol' from `scipy.stats.qmc`), and R Monte Carlo runs per parameter point. `negsim run` is
the one-point case. Every point is validated like a scenario file before anything runs.

A job is fully described by its `JobSpec`, which the manifest records; `--resume` rebuilds the
same plan from it (after checking that the scenario file's SHA-256 is unchanged and that the
rebuilt points equal points.parquet) and runs only the chunks not yet on disk. Run k of point
p draws the same streams as run k of every other point (keyed by (seed, k) only), so a resumed job, or one on any
number of workers or on a Dask cluster, writes exactly the tables an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import os
import shlex
import socket
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sim.budget import check_estimate, check_points, check_workers, chunk_cap, estimate
from sim.domain.game import Game, compile_scenario
from sim.errors import Problem, ScenarioError, UserError
from sim.executors import LOCAL, ExecutorSpec
from sim.results import ResultsFolder, now_iso, write_failure
from sim.scenario.load import LoadedScenario, validate
from sim.scenario.overrides import (Path_, apply_overrides, get, is_numeric, is_whole_number, parse_value,
                                    resolve)
from sim.scenario.yamlsrc import SourceMap, dotted, parse_yaml, read_bytes

METHODS = ("lhs", "sobol")
DEFAULT_SWEEP_RUNS = 200
MAX_REPORTED = 20  # problems printed before "... and N more"
MAX_BAD_POINTS = 50  # stop validating after this many invalid points; the user has enough to fix
# The sampler's stream must not coincide with any run's SeedSequence(seed, spawn_key=(point, run)).
SAMPLER_SPAWN_KEY = (0x5A3D_17E5,)


# --- specs as typed on the command line --------------------------------------------------

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


# --- the job ---------------------------------------------------------------------------

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


@dataclass(frozen=True)
class Axis:
    """One swept path: a grid of values, or a range to sample."""

    flag: str
    text: str
    path: Path_
    values: tuple = ()
    low: float | None = None
    high: float | None = None

    @property
    def name(self) -> str:
        """The path as a column name."""
        return dotted(self.path)


@dataclass
class Plan:
    """A validated job: every point's values and compiled game, ready to cut into chunks."""

    spec: JobSpec
    loaded: LoadedScenario  # the scenario with the constant overrides applied
    axes: list[Axis]
    values: list[tuple]  # per point, one value per axis
    games: list[Game]
    notes: list[str] = field(default_factory=list)

    @property
    def n_points(self) -> int:
        """Number of parameter points."""
        return len(self.games)

    def points_table(self) -> pa.Table:
        """One row per point: `point` and one column per swept path."""
        cols: dict[str, pa.Array] = {"point": pa.array(range(self.n_points), type=pa.int64())}
        for k, axis in enumerate(self.axes):
            cols[axis.name] = _column([v[k] for v in self.values])
        return pa.table(cols)

    def tasks(self) -> list:
        """The job's chunks, in the fixed order chunk ids come from."""
        from sim.runner import Task, plan_chunks

        chunks = plan_chunks(self.n_points, self.spec.runs, self.spec.seed, self.spec.chunk_size, self.spec.rounds)
        return [Task(cid, self.games[point], spec) for cid, point, spec in chunks]


def _column(values: list) -> pa.Array:
    if all(isinstance(v, bool) for v in values):
        return pa.array(values, type=pa.bool_())
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.array(values, type=pa.int64())
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return pa.array([float(v) for v in values], type=pa.float64())
    return pa.array([_show(v) for v in values], type=pa.string())


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Prepared:
    """A scenario with its constant overrides applied and validated, and the swept paths resolved."""

    spec: JobSpec
    path: Path
    data: Any  # parsed YAML with the --set overrides applied
    srcmap: SourceMap
    loaded: LoadedScenario
    axes: list[Axis]
    constants: dict[Path_, Any]
    labels: dict[Path_, str]
    full_checks: bool  # whether points need the (slow) quote and source-file checks

    def value_of(self, axis: Axis, x: float) -> float | int:
        """A sampled number as the field takes it (counts such as max_rounds are rounded)."""
        return int(round(x)) if is_whole_number(self.data, axis.path) else float(x)

    def games(self, values: list[tuple]) -> list[Game]:
        """Validate and compile every point (one value per axis); ScenarioError naming point and override."""
        if not self.axes:
            return [compile_scenario(self.loaded.scenario) for _ in values]
        return _validate_points(self.data, self.srcmap, self.path, self.axes, values, self.constants,
                                self.labels, self.full_checks)


def scenario_with_sets(scenario: str | Path, sets: tuple[str, ...] = ()) -> tuple[LoadedScenario, Game]:
    """A scenario with `--set PATH=VALUE` overrides applied, validated and compiled."""
    prepared = prepare(JobSpec(kind="run", scenario=str(scenario), sets=tuple(sets)))
    return prepared.loaded, prepared.games([()])[0]


def prepare(spec: JobSpec, raw: bytes | None = None) -> Prepared:
    """Read the scenario, apply and validate the --set overrides, parse and resolve the swept paths."""
    path = Path(spec.scenario)
    raw = read_bytes(path) if raw is None else raw
    data, srcmap = parse_yaml(raw, str(path))
    if spec.method not in METHODS:
        raise UserError([Problem("", None, "--method", f"unknown method {spec.method!r} (known: {', '.join(METHODS)})")])
    constants: dict[Path_, Any] = {}
    labels: dict[Path_, str] = {}
    for text in spec.sets:
        p_text, value = parse_set(text)
        p = resolve(apply_overrides(data, constants, srcmap), p_text, f"--set {p_text}", str(path))
        _no_repeat(p, labels, f"--set {text}")
        constants[p] = value
        labels[p] = f"--set {text}"
    base = apply_overrides(data, constants, srcmap)
    try:
        scenario = validate(base, srcmap, base_dir=path.parent)
    except ScenarioError as exc:
        raise ScenarioError(_blame(exc.problems, [(p, labels[p], None) for p in constants], str(path))) from None
    loaded = LoadedScenario(scenario, path, hashlib.sha256(raw).hexdigest(), srcmap)
    axes = _axes(spec, base, srcmap, str(path), labels)
    full = _touches_provenance(constants) or _touches_provenance({a.path: None for a in axes})
    return Prepared(spec, path, base, srcmap, loaded, axes, constants, labels, full)


def plan_job(spec: JobSpec, raw: bytes | None = None) -> Plan:
    """Parse the specs, resolve every path, build the points and validate and compile each one.

    Raises UserError/ScenarioError (nothing is written) if anything is wrong; problems with a
    point name the point and the override that caused them.
    """
    if spec.samples and not spec.points:
        raise UserError([Problem("", None, "--sample", "give the number of sampled points with --points N")])
    if spec.points and not spec.samples:
        raise UserError([Problem("", None, "--points", "--points counts sampled points; it needs --sample PATH=LOW:HIGH")])
    if spec.points:
        check_points(spec.points, "--points")
    prep = prepare(spec, raw)
    grid_axes = [a for a in prep.axes if a.flag == "--grid"]
    sample_axes = [a for a in prep.axes if a.flag == "--sample"]
    check_points(math.prod(len(a.values) for a in grid_axes) * (spec.points or 1), "--grid")
    notes: list[str] = []
    grid = list(itertools.product(*(a.values for a in grid_axes)))
    samples: list[tuple] = [()]
    if sample_axes:
        unit, notes = sample_unit(spec.method, spec.points, len(sample_axes), spec.seed)
        samples = [tuple(prep.value_of(a, a.low + u[j] * (a.high - a.low)) for j, a in enumerate(sample_axes))
                   for u in unit]
    values = [g + s for g in grid for s in samples]
    return Plan(spec, prep.loaded, prep.axes, values, prep.games(values), notes)


def _no_repeat(p: Path_, labels: dict, label: str) -> None:
    if p in labels:
        raise UserError([Problem("", None, label, f"{dotted(p)} is already set by {labels[p]}")])


def _axes(spec: JobSpec, base: Any, srcmap: SourceMap, file: str, labels: dict) -> list[Axis]:
    axes = []
    for text in spec.grids:
        p_text, values, is_range = parse_grid(text)
        p = resolve(base, p_text, f"--grid {p_text}", file)
        _no_repeat(p, labels, f"--grid {text}")
        if is_range:
            _require_number(base, p, f"--grid {text}", file)
            if is_whole_number(base, p):
                values = [int(round(v)) for v in values]
        axes.append(Axis("--grid", text, p, values=tuple(values)))
        labels[p] = f"--grid {text}"
    for text in spec.samples:
        p_text, low, high = parse_sample(text)
        p = resolve(base, p_text, f"--sample {p_text}", file)
        _no_repeat(p, labels, f"--sample {text}")
        _require_number(base, p, f"--sample {text}", file)
        axes.append(Axis("--sample", text, p, low=low, high=high))
        labels[p] = f"--sample {text}"
    return axes


def _require_number(data: Any, p: Path_, label: str, file: str) -> None:
    if not is_numeric(data, p):
        current = get(data, p, None)
        shown = f" ({current!r})" if current is not None and not isinstance(current, (dict, list)) else ""
        raise UserError([Problem(file, None, label, f"{dotted(p)}{shown} is not a number, so it cannot take a "
                                                    "numeric range; list its values instead: PATH=a,b,c")])


def _touches_provenance(overrides: dict) -> bool:
    # Quote and source-file checks read files and dominate validation time; they only need
    # repeating for a point whose overrides touch provenance.
    return any(p and (p[0] == "sources" or any(part in ("quote", "source", "path", "url") for part in p))
               for p in overrides)


def _validate_points(base: Any, srcmap: SourceMap, path: Path, axes: list[Axis], values: list[tuple],
                     constants: dict, labels: dict, full: bool) -> list[Game]:
    games: list[Game] = []
    problems: list[Problem] = []
    bad = 0
    for k, vals in enumerate(values):
        overrides = {a.path: v for a, v in zip(axes, vals)}
        data = apply_overrides(base, overrides, srcmap)
        try:
            scenario = validate(data, srcmap, base_dir=path.parent if full else None)
        except ScenarioError as exc:
            bad += 1
            blame = [(a.path, f"{a.flag} {a.name}", _show(v)) for a, v in zip(axes, vals)]
            blame += [(p, labels[p], None) for p in constants]
            problems += _blame(exc.problems, blame, str(path), k)
            if bad >= MAX_BAD_POINTS:
                problems.append(Problem(str(path), None, "", f"stopped checking after {bad} invalid points "
                                                             f"(of {len(values)})"))
                break
            continue
        if not problems:
            games.append(compile_scenario(scenario))
    if problems:
        shown = problems[:MAX_REPORTED]
        if len(problems) > MAX_REPORTED:
            shown.append(Problem(str(path), None, "", f"... and {len(problems) - MAX_REPORTED} more problems; "
                                                      f"{bad} of {len(values)} points are invalid"))
        raise ScenarioError(shown)
    return games


def _related(field_: str, p: str) -> bool:
    return any(a == b or a.startswith(b + ".") or a.startswith(b + "[") for a, b in ((field_, p), (p, field_)))


def _blame(problems: list[Problem], blame: list[tuple[Path_, str, str | None]], file: str,
           point: int | None = None) -> list[Problem]:
    """Re-label validation problems by the overrides that caused them.

    `blame` lists (path, label, value at this point or None for a constant --set). A problem
    at or inside an overridden path names that override (`--grid p (point 3 = -0.5): ...`);
    one no override explains keeps its file:line and says which point it arose at.
    """
    out = []
    for prob in problems:
        hits = [(p, label, v) for p, label, v in blame if prob.field and _related(prob.field, dotted(p))]
        if not hits:
            where = ", ".join(f"{label}={v}" for _, label, v in blame if v is not None)
            context = f" (point {point}: {where})" if point is not None else ""
            out.append(Problem(prob.file, prob.line, prob.field, prob.message + context))
            continue
        label = ", ".join(lab for _, lab, _ in hits)
        swept = [v for _, _, v in hits if v is not None]
        if point is not None and swept:
            label += f" (point {point} = {', '.join(swept)})"
        exact = len(hits) == 1 and prob.field == dotted(hits[0][0])
        out.append(Problem(file, None, label, prob.message if exact else f"{prob.field}: {prob.message}"))
    return out


# --- running -----------------------------------------------------------------------------

def _libraries() -> dict[str, str]:
    import pyarrow
    import scipy

    out = {"numpy": np.__version__, "scipy": scipy.__version__, "pyarrow": pyarrow.__version__}
    try:
        import mesa

        out["mesa"] = mesa.__version__
    except Exception:  # noqa: BLE001 - a version string is a courtesy, never a reason to fail
        pass
    return out


@dataclass
class JobResult:
    """What a finished job left: its folder, manifest and a summary to print."""

    out: Path
    manifest: dict
    summary: str


def run_job(spec: JobSpec, out: str | Path | None = None, argv: list[str] | None = None,
            executor: ExecutorSpec = LOCAL, force: bool = False, progress: bool | None = None,
            yes: bool = False) -> JobResult:
    """Plan and validate a job, check it fits the machine, create its results folder, run it and merge."""
    from sim.runner import auto_chunk_size, base_manifest, default_out

    check_workers(executor.workers, executor.dask)
    workers_eff = executor.effective_workers
    plan = plan_job(spec)
    game = plan.games[0]
    cap, _ = chunk_cap(game.protocol["max_rounds"], game.n_actors, spec.rounds)
    if spec.chunk_size is None:
        chunk = auto_chunk_size(plan.n_points * spec.runs, workers_eff)
        spec = dataclasses.replace(spec, chunk_size=max(1, min(chunk, spec.runs, cap)))
    elif spec.chunk_size > cap:
        raise UserError([Problem("", None, "--chunk", f"{spec.chunk_size:,} runs per chunk of {game.protocol['max_rounds']:,} "
                                                      f"rounds would not fit in a worker's memory budget; at most {cap:,}")])
    plan = dataclasses.replace(plan, spec=spec)
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    kind = "" if spec.kind == "run" else "sweep"
    out = Path(out) if out else default_out(plan.loaded.name, kind)
    check_estimate(estimate(plan.n_points, spec.runs, spec.chunk_size, game.protocol["max_rounds"], game.n_actors,
                            spec.rounds, workers_eff), out, yes)
    # The executor comes first: an unreachable cluster or a missing extra must leave no folder behind.
    with executor.open() as pool:
        manifest = base_manifest(plan.loaded, plan.games[0], argv or sys.argv, spec.seed, spec.runs,
                                 workers=workers_eff, chunk_size=spec.chunk_size, dask=executor.dask)
        manifest["points"] = plan.n_points
        manifest["job"] = {**spec.to_dict(), "scenario_path": str(Path(spec.scenario).resolve()),
                           "n_points": plan.n_points, "swept": [a.name for a in plan.axes]}
        manifest["libraries"] = _libraries()
        folder = ResultsFolder.create(out, force=force)
        manifest["job_id"] = folder.job_id
        # At once, so that a job stopped from here on leaves a folder that --resume (or --force) accepts.
        try:
            folder.write_manifest(manifest)
            if spec.kind != "run":
                folder.write_table("points", plan.points_table())
        except OSError as exc:
            raise write_failure(folder.path, exc) from None
        return _execute_and_finish(plan, folder, manifest, executor, pool, progress)


def resume_job(path: str | Path, argv: list[str] | None = None, executor: ExecutorSpec = LOCAL,
               scenario: str | None = None, given: dict | None = None, progress: bool | None = None) -> JobResult:
    """Continue an interrupted job from its manifest: run the missing chunks, merge, summarise.

    `given` holds job options the user also typed; each must match the manifest.
    """
    folder = ResultsFolder.open(path)
    manifest = folder.read_manifest()
    job = manifest.get("job")
    if not job:
        raise UserError([Problem(str(folder.manifest_path), None, "--resume",
                                 "this manifest has no job record (written by an older negsim); "
                                 "it cannot be resumed")])
    spec = JobSpec.from_dict(job)
    _check_same_options(spec, given or {}, folder)
    recorded = Path(job["scenario_path"])
    if scenario is not None and Path(scenario).resolve() != recorded:
        raise UserError([Problem(scenario, None, "--resume", f"this job's scenario is {recorded}; drop SCENARIO "
                                                             "or give that file")])
    tables = ["runs.parquet"] + (["rounds.parquet"] if spec.rounds else [])
    lost = [t for t in tables if not (folder.path / t).is_file()]
    if manifest.get("status") == "complete" and lost:
        # The chunks are gone with the merge: the only way back is to run the job again.
        print(f"note: {folder.path} says complete but {', '.join(lost)} is missing; running the whole job again",
              file=sys.stderr)
        manifest["status"] = "incomplete"
    if manifest.get("status") == "complete":
        return JobResult(folder.path, manifest, f"{folder.path} is already complete; nothing to resume\n"
                         + _summary(folder.path, manifest))
    _refuse_if_running(manifest, folder)
    folder.remove_temporaries()
    raw = read_bytes(recorded)
    now = hashlib.sha256(raw).hexdigest()
    was = manifest["scenario"]["sha256"]
    if now != was:
        raise UserError([Problem(str(recorded), None, "--resume",
                                 f"the scenario file has changed since this job started (SHA-256 was "
                                 f"{was[:12]}…, is now {now[:12]}…); resuming would mix results of two "
                                 "different scenarios. Restore the file, or start a new job")])
    plan = plan_job(dataclasses.replace(spec, scenario=str(recorded)), raw=raw)
    if spec.kind != "run":
        _check_points(plan, folder)
    manifest.setdefault("resumed", []).append({"at": now_iso(), "command": list(argv or sys.argv),
                                              "workers": executor.effective_workers, "dask": executor.dask})
    with executor.open() as pool:
        return _execute_and_finish(plan, folder, manifest, executor, pool, progress)


def _check_same_options(spec: JobSpec, given: dict, folder: ResultsFolder) -> None:
    differ = []
    for key, value in given.items():
        if value in (None, (), []):
            continue
        recorded = getattr(spec, key)
        if isinstance(recorded, tuple):
            value = tuple(value)
        if value != recorded:
            differ.append(f"{key} (manifest: {recorded!r}, given: {value!r})")
    if differ:
        raise UserError([Problem(str(folder.path), None, "--resume",
                                 "a resumed job keeps the options in its manifest; these differ: "
                                 + "; ".join(differ) + ". Drop them, or start a new job")])


def _refuse_if_running(manifest: dict, folder: ResultsFolder) -> None:
    run = manifest.get("process") or {}
    if manifest.get("status") != "running" or run.get("host") != socket.gethostname():
        return
    pid = run.get("pid")
    if pid and pid != os.getpid() and _alive(pid):
        raise UserError([Problem(str(folder.path), None, "--resume",
                                 f"this job is still running (process {pid} on this machine); stop it "
                                 "first, or wait for it")])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        # A recycled pid belongs to some other program; only a negsim process counts.
        return b"sim" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def _check_points(plan: Plan, folder: ResultsFolder) -> None:
    import pyarrow.parquet as pq

    stored_path = folder.path / "points.parquet"
    rebuilt = plan.points_table()
    if not stored_path.is_file():
        folder.write_table("points", rebuilt)
        return
    stored = pq.read_table(stored_path)
    if not stored.equals(rebuilt):
        raise UserError([Problem(str(stored_path), None, "--resume",
                                 "the points rebuilt from the manifest differ from points.parquet (a "
                                 "different scipy or negsim version?); resuming would mix two designs. "
                                 "Start a new job")])


def resume_hint(kind: str, out: Path) -> str:
    """The command that continues a job in `out`."""
    return f"negsim {'run' if kind == 'run' else 'sweep'} --resume {shlex.quote(str(out))}"


def _execute_and_finish(plan: Plan, folder: ResultsFolder, manifest: dict, where: ExecutorSpec, pool,
                        progress: bool | None) -> JobResult:
    from concurrent.futures.process import BrokenProcessPool

    from sim.runner import execute, stop_on_signals

    tasks = plan.tasks()
    expected = {t.chunk_id: t.spec.runs[1] - t.spec.runs[0] for t in tasks}
    tables = ("runs", "rounds") if plan.spec.rounds else ("runs",)
    manifest.update(status="running", finished=None, job_id=folder.job_id,
                    process={"pid": os.getpid(), "host": socket.gethostname()})
    try:
        folder.write_manifest(manifest)
        folder.chunk_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise write_failure(folder.path, exc) from None
    # A chunk counts only if its checksum, job and row count hold: a truncated, garbled or
    # foreign chunk is deleted here and run again, and the user is told.
    _, rejected = folder.verify_chunks(expected, tables)
    if rejected:
        print(f"note: {len(rejected)} stored chunk(s) failed verification and will be run again: "
              + "; ".join(rejected[:5]) + (" ..." if len(rejected) > 5 else ""), file=sys.stderr)
    try:
        # Ctrl-C or SIGTERM (how batch schedulers stop jobs), during the runs or the merge, leaves
        # the manifest "incomplete" and the finished chunks usable for --resume.
        with stop_on_signals():
            execute(tasks, folder, where, progress=progress, executor=pool)
            missing = set(expected) - folder.finished_chunks()
            counts = folder.merge(sorted(expected)) if not missing else {}
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        done = len(folder.finished_chunks() & set(expected))
        manifest.update(status="incomplete" if interrupted else "failed", finished=now_iso())
        if not interrupted:
            manifest["error"] = f"{type(exc).__name__}: {exc}"
        try:
            folder.write_manifest(manifest)
        except OSError:
            pass  # the disk may be full: the manifest still says "running", which --resume accepts
        what = "interrupted" if interrupted else "stopped by an error"
        print(f"{what}: {done} of {len(tasks)} chunks finished and are kept in {folder.path}; continue with:\n"
              f"  {resume_hint(plan.spec.kind, folder.path)}", file=sys.stderr)
        if isinstance(exc, BrokenProcessPool):
            raise UserError("a worker process died (out of memory?); the finished chunks are kept") from None
        if isinstance(exc, OSError):
            raise write_failure(folder.path, exc) from None
        raise
    if missing:
        raise UserError(f"{folder.path}: {len(missing)} chunk(s) missing after the run; resume with "
                        f"{resume_hint(plan.spec.kind, folder.path)}")
    manifest.update(status="complete", finished=now_iso(), rows=counts)
    manifest.pop("error", None)
    try:
        folder.write_manifest(manifest)
    except OSError as exc:
        raise write_failure(folder.path, exc) from None
    return JobResult(folder.path, manifest, _summary(folder.path, manifest))


# --- reporting ---------------------------------------------------------------------------

def point_rates(runs_path: Path, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(runs, agreements) per point, read in batches so memory does not grow with the table."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    n = np.zeros(n_points, dtype=np.int64)
    agreed = np.zeros(n_points, dtype=np.int64)
    for batch in pq.ParquetFile(runs_path).iter_batches(columns=["point", "outcome"], batch_size=65536):
        point = batch.column(0).to_numpy()
        ok = pc.equal(batch.column(1), "agreement").to_numpy(zero_copy_only=False).astype(np.int64)
        n += np.bincount(point, minlength=n_points)[:n_points]
        agreed += np.bincount(point, weights=ok, minlength=n_points)[:n_points].astype(np.int64)
    return n, agreed


def _summary(out: Path, manifest: dict) -> str:
    import pyarrow.parquet as pq

    job = manifest.get("job", {})
    if job.get("kind", "run") == "run":
        from sim.runner import summarise

        return summarise(out / "runs.parquet", manifest) + f"\nresults: {out}"
    points = pq.read_table(out / "points.parquet").to_pandas()
    n, agreed = point_rates(out / "runs.parquet", len(points))
    return sweep_table(points, n, agreed, manifest) + f"\nresults: {out}"


def sweep_table(points, n: np.ndarray, agreed: np.ndarray, manifest: dict, show: int = 10) -> str:
    """Agreement rate with its Wilson 95% CI per point; the top and bottom `show` if there are many."""
    from sim.runner import wilson_interval

    total, total_agreed = int(n.sum()), int(agreed.sum())
    lo, hi = wilson_interval(total_agreed, total)
    lines = [f"{total:,} runs of {manifest['scenario']['name']} at {len(points):,} points "
             f"({manifest['runs']:,} each, seed {manifest['seed']}); overall agreement rate "
             f"{total_agreed / max(total, 1):.1%} (95% CI {lo:.1%}–{hi:.1%})"]
    names = [c for c in points.columns if c != "point"]
    rows = []
    for k in range(len(points)):
        rate = agreed[k] / n[k] if n[k] else float("nan")
        a, b = wilson_interval(int(agreed[k]), int(n[k]))
        rows.append((rate, [str(k)] + [_show(points[c].iloc[k]) for c in names]
                     + [f"{n[k]:,}", f"{rate:.1%}", f"{a:.1%}–{b:.1%}"]))
    header = ["point"] + names + ["runs", "agreement", "95% CI"]
    if len(rows) > 2 * show + 1:
        ranked = sorted(range(len(rows)), key=lambda k: (-rows[k][0], k))
        top, bottom = ranked[:show], ranked[-show:]
        body = [rows[k][1] for k in top] + [None] + [rows[k][1] for k in bottom]
        lines.append(f"highest and lowest {show} of {len(rows):,} points by agreement rate "
                     "(all of them: points.parquet, runs.parquet):")
    else:
        body = [r[1] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in body if r is not None)) for i, h in enumerate(header)]

    def fmt(cells: list[str]) -> str:
        # Text values (swept options) read best left-aligned, numbers right-aligned.
        return "  ".join(c.ljust(w) if 1 <= i <= len(names) and not _numeric(c) else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    lines.append(fmt(header))
    for r in body:
        lines.append("  ".join("⋮".rjust(w) for w in widths) if r is None else fmt(r))
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        return False


# --- the `negsim sweep` command -------------------------------------------------------------

def sweep_command(args, argv: list[str]) -> int:
    """`negsim sweep`: plan and validate the points, run them (or resume), print the per-point table."""
    given = {"sets": args.set, "grids": args.grid, "samples": args.sample, "method": args.method,
             "points": args.points, "runs": args.runs, "seed": args.seed, "chunk_size": args.chunk,
             "rounds": args.rounds or None}
    if args.resume:
        if args.out or args.force:
            raise UserError([Problem("", None, "--resume", "continues the folder it names; drop --out/--force")])
        result = resume_job(args.resume, argv=argv, executor=ExecutorSpec(args.workers, args.dask), scenario=args.scenario,
                            given=given)
    else:
        if not args.scenario:
            raise UserError([Problem("", None, "negsim sweep", "give a SCENARIO file, or --resume DIR")])
        spec = JobSpec(kind="sweep", scenario=args.scenario, sets=tuple(args.set or ()),
                       grids=tuple(args.grid or ()), samples=tuple(args.sample or ()),
                       method=args.method or "lhs", points=args.points,
                       runs=args.runs or DEFAULT_SWEEP_RUNS, seed=args.seed or 0, chunk_size=args.chunk,
                       rounds=bool(args.rounds))
        result = run_job(spec, out=args.out, argv=argv, executor=ExecutorSpec(args.workers, args.dask), force=args.force,
                         yes=getattr(args, "yes", False))
    print(result.summary)
    return 0

