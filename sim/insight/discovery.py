"""Scenario discovery: the ranges of inputs in which agreement is likely, from a sweep or a sensitivity design.

Each parameter point of a sweep (`points.parquet` with `runs.parquet`), or each sample point
of a sensitivity design (the A and B matrices `negsim sensitivity` keeps in its JSON), is one
case: its inputs are the swept values, and it is *of interest* when its probability of the
chosen outcome (see sim.drivers.OUTCOMES), estimated over its runs, is at least the threshold.
PRIM (sim.insight.prim) and, when scikit-learn is installed, a classification tree
(sim.insight.tree) then describe where the cases of interest lie, as boxes with coverage,
density and support (Bryant & Lempert 2010, Technol. Forecast. Soc. Change 77(1)).
A point's probability carries Monte Carlo error: with few runs per point, points near the
threshold may fall on either side of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.drivers import OUTCOMES
from sim.errors import Problem, UserError
from sim.insight.prim import (
    ALPHA,
    MIN_DENSITY,
    MIN_SUPPORT,
    Box,
    Inputs,
    PrimResult,
    Step,
    find_boxes,
)
from sim.insight.tree import MAX_DEPTH, sklearn_missing, tree_boxes

METHODS = ("prim", "tree", "both")

#: What the outcome codes of runs.parquet count as a yes, per OUTCOMES key.
_COUNTED = {"agreement": ("agreement",), "signed": ("agreement", "partial")}


@dataclass(frozen=True)
class Cases:
    """The points to explain: their inputs, runs, and how many of those runs reached each outcome."""

    source: str  # "sweep" or "sensitivity"
    path: Path
    scenario: str
    columns: dict[str, list]  # input name -> one value per point
    runs: np.ndarray  # (n,) runs per point
    hits: dict[str, np.ndarray]  # OUTCOMES key -> (n,) runs reaching it per point


def _problem(path: Path, message: str) -> UserError:
    return UserError([Problem(str(path), None, "", message)])


def load_cases(path: str | Path) -> Cases:
    """The points of a sweep folder, or the sample points of a sensitivity JSON (a file, or a folder holding one)."""
    root = Path(path)
    if not root.exists():
        raise _problem(root, "does not exist; give a results folder written by `negsim sweep`, or a JSON file "
                             "written by `negsim sensitivity --out`")
    if root.is_dir() and (root / "points.parquet").is_file():
        return _sweep_cases(root)
    sens = root / "sensitivity.json" if root.is_dir() else root
    if sens.is_file():
        return _sensitivity_cases(sens)
    raise _problem(root, "has no parameter points (no points.parquet or sensitivity.json): scenario discovery "
                         "needs a sweep (`negsim sweep --grid/--sample`) or a sensitivity design "
                         "(`negsim sensitivity --out FILE`)")


def _sweep_cases(root: Path) -> Cases:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    runs_path = root / "runs.parquet"
    if not runs_path.is_file():
        raise _problem(root, "has points.parquet but no runs.parquet: the sweep has not finished; continue it "
                             "with `negsim sweep --resume`")
    points = pq.read_table(root / "points.parquet").to_pydict()
    ids = np.asarray(points.pop("point", range(len(next(iter(points.values()), [])))), dtype=np.int64)
    if not points:
        raise _problem(root / "points.parquet", "names no swept input: nothing to discover ranges of")
    n_points = int(ids.max()) + 1 if len(ids) else 0
    runs = np.zeros(n_points, dtype=np.int64)
    hits = {key: np.zeros(n_points, dtype=np.int64) for key in _COUNTED}
    for batch in pq.ParquetFile(runs_path).iter_batches(columns=["point", "outcome"], batch_size=65536):
        point = batch.column(0).to_numpy()
        runs += np.bincount(point, minlength=n_points)[:n_points]
        for key, counted in _COUNTED.items():
            yes = pc.is_in(batch.column(1), value_set=pa.array(counted))
            hits[key] += np.bincount(point, weights=yes.to_numpy(zero_copy_only=False).astype(float),
                                     minlength=n_points)[:n_points].astype(np.int64)
    name = ""
    try:
        name = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["scenario"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return Cases("sweep", root, name, points, runs[ids], {k: v[ids] for k, v in hits.items()})


def _sensitivity_cases(path: Path) -> Cases:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _problem(path, f"cannot be read as JSON ({exc})") from None
    samples = data.get("samples") if isinstance(data, dict) else None
    if not isinstance(samples, dict) or not samples.get("inputs"):
        raise _problem(path, "holds no sample points (written by an older negsim, or not by `negsim sensitivity`); "
                             "run `negsim sensitivity ... --out FILE` again")
    runs = int(samples.get("runs") or data.get("runs") or 0)
    columns = {str(k): list(v) for k, v in samples["inputs"].items()}
    n = len(next(iter(columns.values())))
    # The design stores rates; runs are whole, so the counts come back exactly.
    hits = {key: np.rint(np.asarray(samples[f"{key}_rate"], dtype=float) * runs).astype(np.int64)
            for key in _COUNTED if f"{key}_rate" in samples}
    return Cases("sensitivity", path, str(data.get("scenario") or ""), columns, np.full(n, runs, dtype=np.int64), hits)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _restrictions(box: Box, restricted: list[int], inputs: Inputs, p_values: dict[int, float] | None) -> list[dict]:
    out = []
    for j in restricted:
        lim, cats = box.limits[j], inputs.categories[j]
        item: dict = {"input": inputs.names[j]}
        if cats is None:
            col = inputs.x[:, j]
            item.update(low=lim[0], high=lim[1], data=[float(col.min()), float(col.max())])
        else:
            item.update(values=[cats[int(c)] for c in sorted(lim)], data=list(cats))
        if p_values is not None and j in p_values:
            item["p_value"] = p_values[j]
        out.append(item)
    return out


def _box_record(step: Step, inputs: Inputs, y: np.ndarray, available: np.ndarray | None = None,
                p_values: dict[int, float] | None = None) -> dict:
    """A box as JSON; `available`: the cases it was found among (a later PRIM box: those no earlier box holds)."""
    available = np.ones(inputs.n, dtype=bool) if available is None else available
    inside = available & step.box.contains(inputs)
    restricted = step.box.restricted(Inputs(inputs.names, inputs.x[available], inputs.categories))
    return {"coverage": step.coverage, "density": step.mean, "support": step.support, "points": step.count,
            "of_interest": int(y[inside].sum()), "restrictions": _restrictions(step.box, restricted, inputs, p_values)}


def _trajectory(result: PrimResult, inputs: Inputs) -> list[dict]:
    among = Inputs(inputs.names, inputs.x[result.available], inputs.categories)
    return [{"coverage": s.coverage, "density": s.mean, "support": s.support, "points": s.count,
             "restricted": len(s.box.restricted(among))} for s in result.trajectory]


def discover(path: str | Path, threshold: float = 0.5, output: str = "agreement", method: str = "both",
             alpha: float = ALPHA, min_support: float = MIN_SUPPORT, min_density: float = MIN_DENSITY,
             max_boxes: int = 3, max_depth: int = MAX_DEPTH) -> dict:
    """Boxes of inputs where the outcome's probability is at least `threshold`; the JSON-ready result."""
    for flag, value, ok, what in (("--threshold", threshold, 0 <= threshold <= 1, "between 0 and 1"),
                                  ("--min-density", min_density, 0 <= min_density <= 1, "between 0 and 1"),
                                  ("--min-support", min_support, 0 < min_support <= 1, "above 0 and at most 1"),
                                  ("--alpha", alpha, 0 < alpha < 1, "strictly between 0 and 1")):
        if not ok:
            raise UserError([Problem("", None, flag, f"must be a share {what}, got {value}")])
    if output not in OUTCOMES:
        raise UserError([Problem("", None, "--output", f"unknown outcome {output!r} (known: {', '.join(OUTCOMES)})")])
    if method not in METHODS:
        raise UserError([Problem("", None, "--method", f"unknown method {method!r} (known: {', '.join(METHODS)})")])
    cases = load_cases(path)
    if output not in cases.hits:
        raise _problem(cases.path, f"records no {output!r} rate; choose --output "
                                   f"{' or '.join(cases.hits) or 'agreement'}")
    keep = cases.runs > 0
    columns = {k: [v for v, ok in zip(vals, keep) if ok] for k, vals in cases.columns.items()}
    runs, hits = cases.runs[keep], cases.hits[output][keep]
    if not keep.any():
        raise _problem(cases.path, "no point has any finished run")
    inputs = Inputs.from_columns(columns)
    rate = hits / runs
    y = (rate >= threshold - 1e-12).astype(float)
    result: dict = {
        "scenario": cases.scenario, "source": cases.source, "path": str(cases.path),
        "output": output, "output_text": OUTCOMES[output], "threshold": threshold,
        "inputs": list(inputs.names), "points": inputs.n, "dropped_points": int((~keep).sum()),
        "runs_per_point": [int(runs.min()), int(runs.max())], "of_interest": int(y.sum()),
        "base_density": float(y.mean()),
        "settings": {"alpha": alpha, "min_support": min_support, "min_density": min_density,
                     "max_boxes": max_boxes, "max_depth": max_depth},
        "prim": None, "prim_trajectories": None, "tree": None, "tree_note": None,
        "cases": {"rate": rate.tolist(), "runs": runs.tolist(), "of_interest": y.astype(bool).tolist(),
                  "inputs": columns},
        "method": "PRIM peeling and pasting with covering (Friedman & Fisher 1999); CART tree (scikit-learn)",
    }
    if method in ("prim", "both"):
        boxes = find_boxes(inputs, y, alpha, min_support, min_density, max_boxes) if y.any() else []
        result["prim"] = [_box_record(b.pasted, inputs, y, b.available, b.p_values)
                          | {"meets_target": b.meets_target, "chosen_step": b.chosen} for b in boxes]
        result["prim_trajectories"] = [_trajectory(b, inputs) for b in boxes]
    if method in ("tree", "both"):
        result["tree_note"] = sklearn_missing()
        if result["tree_note"] is None:
            result["tree"] = [_box_record(s, inputs, y) for s in tree_boxes(inputs, y, min_support, max_depth)]
    return result
