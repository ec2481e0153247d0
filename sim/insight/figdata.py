"""The numbers each insight figure draws, from the JSON-ready results (so a figure is a few lines of matplotlib).

- discovery_tradeoff: PRIM's peeling trajectory as a coverage-density curve (Bryant & Lempert 2010);
- discovery_limits: a box's range on each restricted input, scaled to that input's data range;
- discovery_scatter: the points on two inputs, their probability and whether they reach the
  threshold, with a box's rectangle;
- leverage_curves: probability and paired change against the weight factor and the position step;
- sobol_intervals: a sensitivity output's indices with their intervals and half-sample estimates.
Every array is a numpy array; missing numbers are NaN.
"""

from __future__ import annotations

import numpy as np


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

    Categorical inputs have NaN scaled limits and list their kept values in `labels`.
    """
    chosen = _boxes(result, source)[box]
    names, low, high, labels, p = [], [], [], [], []
    for item in chosen["restrictions"]:
        names.append(item["input"])
        p.append(item.get("p_value", np.nan))
        if "values" in item:
            low.append(np.nan)
            high.append(np.nan)
            labels.append(", ".join(str(v) for v in item["values"]))
            continue
        d_lo, d_hi = item["data"]
        span = (d_hi - d_lo) or 1.0
        low.append((item["low"] - d_lo) / span)
        high.append((item["high"] - d_lo) / span)
        labels.append(f"{item['low']:.4g} to {item['high']:.4g}")
    return {"inputs": names, "low": np.array(low, dtype=float), "high": np.array(high, dtype=float),
            "labels": labels, "p_value": np.array(p, dtype=float), "coverage": chosen["coverage"],
            "density": chosen["density"], "support": chosen["support"]}


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
