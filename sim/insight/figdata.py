"""The numbers each insight figure draws, from the JSON-ready results (so a figure is a few lines of matplotlib).

- folder_discovery: the scenario discovery a results folder's figures and report show, at the
  default level (discovery_threshold: the median point's rate);
- discovery_tradeoff: PRIM's peeling trajectory as a coverage-density curve (Bryant & Lempert 2010);
- discovery_limits: a box's range on each restricted input, scaled to that input's data range;
- discovery_scatter: the points on two inputs, their probability and whether they reach the
  threshold, with a box's rectangle;
- leverage_curves: probability and paired change against the weight factor and the position step;
- sobol_intervals: a sensitivity output's indices with their intervals and half-sample estimates.
Every array is a numpy array; missing numbers are NaN.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import numpy as np

#: How the default level of interest was chosen (see discovery_threshold), in words.
THRESHOLD_RULES = {
    "median": "the median of the points' rates",
    "above floor": "the lowest rate above the one more than half the points share",
    "constant": "the rate every point has, so no range of inputs stands out",
}


def discovery_threshold(rates) -> tuple[float, str]:
    """The default level of interest for scenario discovery over points with these rates, and its rule's key.

    The median rate, so that the boxes describe the more favourable half of the design, whatever
    the outcome's overall level (a fixed 50% finds nothing where agreement is rare). When more
    than half the points share the lowest rate the median is that floor, and every point would
    reach it: the level is then the next rate above it. When every rate is the same there is
    nothing to tell apart: the level is that rate ("constant").
    """
    r = np.asarray(rates, dtype=float)
    r = r[np.isfinite(r)]
    if r.size == 0 or float(r.max() - r.min()) < 1e-12:
        return (float(r[0]) if r.size else 0.0), "constant"
    median, floor = float(np.median(r)), float(r.min())
    if median > floor + 1e-12:
        return median, "median"
    return float(r[r > floor + 1e-12].min()), "above floor"


def default_threshold(path: str | Path, output: str = "agreement") -> tuple[float, str]:
    """discovery_threshold over the points of a sweep folder or sensitivity design (those with finished runs)."""
    from sim.insight.discovery import load_cases

    cases = load_cases(path)
    done = cases.runs > 0
    hits = cases.hits.get(output)
    return discovery_threshold(hits[done] / cases.runs[done] if hits is not None else np.zeros(0))


def folder_discovery(path: str | Path, output: str = "agreement") -> dict:
    """PRIM boxes of a sweep folder or a sensitivity design at the default level; the JSON-ready result.

    As `negsim discover PATH --threshold LEVEL --method prim` gives it, LEVEL from
    discovery_threshold, plus `threshold_rule` (a key of THRESHOLD_RULES). The result is kept
    while the files it was computed from are unchanged, so the figures and the report of one
    folder compute it once.
    """
    root = Path(path)
    files = [root / name for name in ("points.parquet", "runs.parquet", "sensitivity.json")] if root.is_dir() \
        else [root]
    stamp = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.is_file())
    return copy.deepcopy(_folder_discovery(str(root.resolve()), output, stamp))


@functools.lru_cache(maxsize=4)
def _folder_discovery(path: str, output: str, stamp: tuple) -> dict:
    from sim.insight.discovery import discover

    threshold, rule = default_threshold(path, output)
    result = discover(path, threshold=threshold, output=output, method="prim")
    result["threshold_rule"] = rule
    return result


def _boxes(result: dict, source: str) -> list[dict]:
    boxes = result.get(source) or []
    if not boxes:
        raise ValueError(f"the discovery result has no {source} boxes")
    return boxes


def discovery_tradeoff(result: dict, box: int = 0) -> dict:
    """Coverage, density, support and number of restricted inputs along PRIM box `box`'s peeling trajectory.

    `chosen` is the index of the trajectory box that was pasted and reported; `final` the
    reported box's (coverage, density) after pasting and releasing.
    """
    reported = _boxes(result, "prim")[box]
    path = result["prim_trajectories"][box]
    return {"coverage": np.array([s["coverage"] for s in path]), "density": np.array([s["density"] for s in path]),
            "support": np.array([s["support"] for s in path]),
            "restricted": np.array([s["restricted"] for s in path]), "chosen": int(reported["chosen_step"]),
            "final": (reported["coverage"], reported["density"]), "target": result["settings"]["min_density"]}


def discovery_limits(result: dict, source: str = "prim", box: int = 0) -> dict:
    """Per restricted input of a box: its range scaled to [0, 1] over the input's data range, and labels.

    `labels` says what the box keeps ("0.3 to 0.6", "≥ 0.5", "≤ 0.4", "one of a, b") and `sampled`
    what the data hold ("0.2 to 0.9", "3 values"). Categorical inputs have NaN scaled limits.
    `segments` gives, per input, the stretches of [0, 1] the box keeps: one for a numeric input,
    one per kept value of a categorical one (value k of K at [k/K, (k+1)/K], in the data's order).
    """
    chosen = _boxes(result, source)[box]
    names, low, high, labels, sampled, p, segments = [], [], [], [], [], [], []
    for item in chosen["restrictions"]:
        names.append(item["input"])
        p.append(item.get("p_value", np.nan))
        if "values" in item:
            low.append(np.nan)
            high.append(np.nan)
            labels.append("one of " + ", ".join(str(v) for v in item["values"]))
            sampled.append(f"{len(item['data'])} values")
            everything = [str(v) for v in item["data"]]
            k = max(1, len(everything))
            segments.append([(everything.index(str(v)) / k, (everything.index(str(v)) + 1) / k)
                             for v in item["values"]])
            continue
        d_lo, d_hi = item["data"]
        span = (d_hi - d_lo) or 1.0
        low.append((item["low"] - d_lo) / span)
        high.append((item["high"] - d_lo) / span)
        segments.append([(low[-1], high[-1])])
        # A limit at the edge of the data restricts nothing on that side.
        above, below = item["low"] > d_lo, item["high"] < d_hi
        labels.append(f"{_short(item['low'])} to {_short(item['high'])}" if above and below
                      else f"≥ {_short(item['low'])}" if above else f"≤ {_short(item['high'])}")
        sampled.append(f"{_short(d_lo)} to {_short(d_hi)}")
    return {"inputs": names, "low": np.array(low, dtype=float), "high": np.array(high, dtype=float),
            "labels": labels, "sampled": sampled, "segments": segments, "p_value": np.array(p, dtype=float),
            "coverage": chosen["coverage"],
            "density": chosen["density"], "support": chosen["support"]}


def _short(v: float) -> str:
    return f"{v:.3g}"


def _axis(values: list) -> tuple[np.ndarray, list | None]:
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=float), None
    levels = sorted(set(values), key=str)
    return np.array([levels.index(v) for v in values], dtype=float), [str(v) for v in levels]


def discovery_scatter(result: dict, x: str | None = None, y: str | None = None, source: str = "prim",
                      box: int = 0) -> dict:
    """The points on two inputs (default: the box's two most significant restrictions, else the first inputs).

    `rectangle` is (x low, x high, y low, y high) of the box on those inputs (the data range
    where it does not restrict one); `ticks_x`/`ticks_y` name the codes of a categorical axis.
    """
    boxes = result.get(source) or []
    restrictions = boxes[box]["restrictions"] if len(boxes) > box else []
    ranked = [r["input"] for r in sorted(restrictions, key=lambda r: r.get("p_value", 0.0))]
    order = list(dict.fromkeys(ranked + list(result["inputs"])))
    x = x or order[0]
    y = y or next((name for name in order if name != x), x)
    cases = result["cases"]
    xs, ticks_x = _axis(cases["inputs"][x])
    ys, ticks_y = _axis(cases["inputs"][y])
    rectangle = None
    if restrictions:
        limits = {r["input"]: r for r in restrictions}

        def span(name: str, values: np.ndarray, ticks: list | None) -> tuple[float, float]:
            r = limits.get(name)
            if r is None or ticks is not None:
                return float(np.nanmin(values)), float(np.nanmax(values))
            return float(r["low"]), float(r["high"])

        rectangle = (*span(x, xs, ticks_x), *span(y, ys, ticks_y))
    return {"x_name": x, "y_name": y, "x": xs, "y": ys, "rate": np.asarray(cases["rate"], dtype=float),
            "of_interest": np.asarray(cases["of_interest"], dtype=bool), "threshold": result["threshold"],
            "rectangle": rectangle, "ticks_x": ticks_x, "ticks_y": ticks_y}


def leverage_curves(result: dict, output: str = "agreement") -> dict:
    """Per kind ("weight", "position"): the steps (the scenario as written included) with rates and changes."""
    out = {}
    base = result["steps"][0]
    for kind, neutral in (("weight", 1.0), ("position", 0.0)):
        rows = [s for s in result["steps"] if s["kind"] == kind]
        if not rows:
            continue
        rows = sorted(rows + [dict(base, step=neutral, share=result["share"], weight=result["weight"])],
                      key=lambda s: s["step"])
        cells = [s[output] for s in rows]
        curve = {"step": np.array([s["step"] for s in rows], dtype=float)}
        for key in ("rate", "low", "high", "change", "change_low", "change_high"):
            curve[key] = np.array([c[key] for c in cells], dtype=float)
        if kind == "weight":
            curve["share"] = np.array([s.get("share", np.nan) for s in rows], dtype=float)
        out[kind] = curve
    return out


def sobol_intervals(report: dict, output: str = "agreement_rate") -> dict:
    """One output's first-order and total indices with their 95% intervals and half-sample estimates."""
    block = report["outputs"][output]
    names = list(report["parameters"])

    def values(key: str) -> np.ndarray:
        return np.array([np.nan if (block.get(key) or {}).get(p) is None else block[key][p] for p in names],
                        dtype=float)

    def bounds(key: str, side: int) -> np.ndarray:
        return np.array([np.nan if not (block.get(key) or {}).get(p) or block[key][p][side] is None
                         else block[key][p][side] for p in names], dtype=float)

    out = {"parameters": names, "converged": (block.get("convergence") or {}).get("converged")}
    for kind in ("first_order", "total"):
        out[kind] = values(kind)
        out[f"{kind}_low"] = bounds(f"{kind}_ci", 0)
        out[f"{kind}_high"] = bounds(f"{kind}_ci", 1)
        out[f"{kind}_half"] = values(f"{kind}_half")
    return out
