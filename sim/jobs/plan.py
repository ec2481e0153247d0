"""Planning a job: resolve every path, build the parameter points, validate and compile each one."""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from sim.domain.game import Game, compile_scenario
from sim.errors import Problem, ScenarioError, UserError
from sim.jobs.budget import (
    check_points,
)
from sim.jobs.spec import (
    METHODS,
    JobSpec,
    parse_grid,
    parse_sample,
    parse_set,
    sample_unit,
)
from sim.results.summary import show_value
from sim.scenario.load import LoadedScenario, validate
from sim.scenario.overrides import (
    Path_,
    apply_overrides,
    get,
    is_numeric,
    is_whole_number,
    resolve,
)
from sim.scenario.yamlsrc import SourceMap, dotted, parse_yaml, read_bytes

MAX_REPORTED = 20  # problems printed before "... and N more"


MAX_BAD_POINTS = 50  # stop validating after this many invalid points; the user has enough to fix


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
        from sim.jobs import Task, plan_chunks

        chunks = plan_chunks(self.n_points, self.spec.runs, self.spec.seed, self.spec.chunk_size, self.spec.rounds)
        return [Task(cid, self.games[point], spec) for cid, point, spec in chunks]


def _column(values: list) -> pa.Array:
    if all(isinstance(v, bool) for v in values):
        return pa.array(values, type=pa.bool_())
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.array(values, type=pa.int64())
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return pa.array([float(v) for v in values], type=pa.float64())
    return pa.array([show_value(v) for v in values], type=pa.string())


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
            blame = [(a.path, f"{a.flag} {a.name}", show_value(v)) for a, v in zip(axes, vals)]
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
