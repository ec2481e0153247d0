"""Sweeps: the agreement probability against the swept parameters, with 95% Wilson intervals.

Points that share a value (or, when sampled, a bin) are pooled, and every figure says so with
the counts; two sampled parameters are shown as one marker per point, not as a grid of bins
that would be mostly empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.plots.style import (
    LABEL_SIZE,
    OUTCOME_COLOUR,
    empty_note,
    new_figure,
    new_grid,
    nice_ceiling,
    parameter_label,
    suptitle,
    text_colour_on,
    wrap,
)
from sim.stats import wilson_interval


def sweep_description(manifest: Mapping[str, Any]) -> dict:
    """What the manifest says about a sweep: {"paths", "method", "runs_per_point"} (each may be empty).

    Reads `manifest["sweep"]` ({"grid": [[path, values]], "sample": [[path, low, high]], "method",
    "points", "runs_per_point"}) or, failing that, the `job` record `negsim sweep` writes
    ({"grids": ["PATH=SPEC"], "samples": [...], "method", "runs", "swept": [paths]}).
    """
    sweep = manifest.get("sweep") or {}
    job = manifest.get("job") or {}
    paths = [str(g[0]) for g in sweep.get("grid") or [] if g] + [str(s[0]) for s in sweep.get("sample") or [] if s]
    paths = paths or [str(p) for p in job.get("swept") or []]
    method = sweep.get("method") or ""
    if not method and job:
        grids, samples = job.get("grids") or [], job.get("samples") or []
        sampler = str(job.get("method") or "lhs")
        method = f"grid × {sampler}" if grids and samples else (sampler if samples else ("grid" if grids else ""))
    elif not method and sweep.get("grid"):
        method = "grid"
    runs = sweep.get("runs_per_point") or (job.get("runs") if job else None)
    return {"paths": list(dict.fromkeys(paths)), "method": method, "runs_per_point": runs}


def swept_parameters(manifest: Mapping[str, Any], points: pd.DataFrame) -> list[str]:
    """The swept dotted paths: manifest order first, then any other varying column of points."""
    listed = sweep_description(manifest)["paths"]
    cols = [str(c) for c in points.columns if c != "point"]
    ordered = [c for c in dict.fromkeys(listed) if c in cols] + [c for c in cols if c not in listed]
    # A column that never changes is a setting, not a dimension of the sweep.
    varying = [c for c in ordered if points[c].nunique(dropna=False) > 1]
    return varying or ordered[:1]


def _levels(values: pd.Series, max_levels: int) -> tuple[np.ndarray, list, list[str]]:
    """Group a parameter's values: (level index per row, x position per level, tick label per level).

    Few distinct values (a grid) keep one level each; a numeric sample with more is cut into
    quantile bins, placed at the mean value of the points inside.
    """
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    distinct = pd.unique(values.dropna())
    if not numeric:
        cats = [str(v) for v in dict.fromkeys(values.astype(str))]
        idx = values.astype(str).map({c: i for i, c in enumerate(cats)}).to_numpy(int)
        return idx, list(range(len(cats))), cats
    v = values.to_numpy(float)
    if len(distinct) <= max_levels:
        xs = np.sort(np.asarray(distinct, dtype=float))
        idx = np.searchsorted(xs, v)
        return idx, list(xs), [_fmt_value(x) for x in xs]
    edges = np.unique(np.quantile(v, np.linspace(0, 1, max_levels + 1)))
    idx = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(edges) - 2)
    used = np.unique(idx)
    remap = {b: i for i, b in enumerate(used)}
    idx = np.array([remap[b] for b in idx])
    xs = [float(v[idx == i].mean()) for i in range(len(used))]
    labels = [f"{_fmt_value(edges[b])}–{_fmt_value(edges[b + 1])}" for b in used]
    return idx, xs, labels


def _fmt_value(x: float) -> str:
    return f"{x:.3g}"


def _sweep_rows(runs: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """One row per run with its outcome and its point's parameter values."""
    left = runs[["point", "outcome"]] if {"point", "outcome"} <= set(runs.columns) else pd.DataFrame(
        columns=["point", "outcome"])
    merged = left.merge(points, on="point", how="inner")
    merged["agreed"] = (merged["outcome"] == "agreement").astype(int)
    return merged


def agreement_by_parameter(runs: pd.DataFrame, points: pd.DataFrame, path: str,
                           max_levels: int = 12) -> pd.DataFrame:
    """Agreement probability per value (or bin) of one swept parameter, with its 95% Wilson interval.

    Columns: x (value, or mean value of the bin), label, points (how many parameter points are
    pooled), runs, agreements, rate, low, high. Every point with that value contributes all its
    runs (the other parameters are averaged over).
    """
    rows = _sweep_rows(runs, points)
    cols = ["x", "label", "points", "runs", "agreements", "rate", "low", "high"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    idx, xs, labels = _levels(rows[path], max_levels)
    n = np.bincount(idx, minlength=len(xs))
    k = np.bincount(idx, weights=rows["agreed"].to_numpy(float), minlength=len(xs)).astype(int)
    pooled = rows["point"].groupby(idx).nunique().reindex(range(len(xs)), fill_value=0).to_numpy(int)
    low, high = wilson_interval(k, n)
    out = pd.DataFrame({"x": xs, "label": labels, "points": pooled, "runs": n, "agreements": k,
                        "rate": k / np.where(n > 0, n, 1), "low": low, "high": high})
    return out[out["runs"] > 0].reset_index(drop=True)


def agreement_grid(runs: pd.DataFrame, points: pd.DataFrame, path_x: str, path_y: str,
                   max_levels: int = 8) -> dict:
    """Agreement probability on a 2-D grid of two swept parameters (binned if sampled).

    Returns {"x_labels", "y_labels", "rate" (Y, X; NaN where no runs), "runs" (Y, X), "agreements",
    "points" (Y, X: how many parameter points each cell pools)}.
    """
    rows = _sweep_rows(runs, points)
    if rows.empty:
        return {"x_labels": [], "y_labels": [], "rate": np.zeros((0, 0)), "runs": np.zeros((0, 0), int),
                "agreements": np.zeros((0, 0), int), "points": np.zeros((0, 0), int)}
    ix, _, xl = _levels(rows[path_x], max_levels)
    iy, _, yl = _levels(rows[path_y], max_levels)
    n = np.zeros((len(yl), len(xl)), dtype=int)
    k = np.zeros_like(n)
    np.add.at(n, (iy, ix), 1)
    np.add.at(k, (iy, ix), rows["agreed"].to_numpy(int))
    pooled = np.zeros_like(n)
    cells = pd.DataFrame({"y": iy, "x": ix, "point": rows["point"].to_numpy()}).drop_duplicates()
    np.add.at(pooled, (cells["y"].to_numpy(), cells["x"].to_numpy()), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
    return {"x_labels": xl, "y_labels": yl, "rate": rate, "runs": n, "agreements": k, "points": pooled}


def _parameter_unit(path: str) -> str:
    parts = str(path).split(".")
    if "weights" in parts:
        return "relative weight"
    if "reservation" in parts or "values" in parts:
        return "utility, 0–1"
    if parts[-1] == "temperature":
        return "utility scale"
    if "delta" in parts[-1]:
        return "utility shift"
    if parts[-1] in {"max_rounds", "patience", "deadline", "horizon_rounds"}:
        return "rounds"
    if parts[-1].endswith("_days"):
        return "days"
    if "km2" in parts[-1]:
        return "km²"
    return "scenario units"


def _axis_text(path: str, manifest: Mapping[str, Any], width: int = 44) -> str:
    return wrap(f"{parameter_label(path, manifest)} ({_parameter_unit(path)})", width)


def _draw_rate_line(ax, table: pd.DataFrame, categorical: bool) -> None:
    x = np.arange(len(table)) if categorical else table["x"].to_numpy(float)
    ax.fill_between(x, table["low"], table["high"], color=OUTCOME_COLOUR, alpha=0.18, linewidth=0,
                    label="95% Wilson interval", gid="wilson_band")
    ax.plot(x, table["low"], color=OUTCOME_COLOUR, linewidth=0.8, alpha=0.6, gid="wilson_low")
    ax.plot(x, table["high"], color=OUTCOME_COLOUR, linewidth=0.8, alpha=0.6, gid="wilson_high")
    ax.plot(x, table["rate"], color="black", linewidth=2, marker="o", markersize=4.5,
            label="agreement probability", gid="agreement_rate")
    if categorical:
        ax.set_xticks(x, [wrap(lbl, 12) for lbl in table["label"]])
    # Round steps (1, 2, 5), so that every tick reads exactly as a whole percentage.
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.grid(color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)


def rate_limits(tables: list[pd.DataFrame]) -> tuple[float, float]:
    """A y range for agreement rates: the Wilson bands of all tables with a margin, inside 0..100%."""
    lows = [float(t["low"].min()) for t in tables if len(t)]
    highs = [float(t["high"].max()) for t in tables if len(t)]
    if not lows:
        return 0.0, 1.025
    lo, hi = min(lows), max(highs)
    margin = max(0.03, 0.12 * (hi - lo))
    # Past 100% (or below 0) there is nothing to see; the small overhang keeps a rate of 100% off the frame.
    return max(-0.01, lo - margin), min(1.025, hi + margin)


def _pooling(points: np.ndarray, runs: np.ndarray, unit: str) -> str:
    """How many points and runs each value, bin or cell pools, in words."""
    def span(v: np.ndarray) -> str:
        return f"{int(v.min()):,}" if v.min() == v.max() else f"{int(v.min()):,}–{int(v.max()):,}"

    if not len(points):
        return ""
    if points.max() <= 1:
        return f"{span(runs)} runs per {unit}"
    return f"each {unit} pools {span(points)} points ({span(runs)} runs)"


def _is_grid(values: pd.Series, max_levels: int) -> bool:
    """Whether a parameter took few enough values to give each its own row or column."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    return not numeric or values.nunique() <= max_levels


def agreement_by_point(runs: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """Each parameter point with its runs, agreements and agreement rate (points without runs left out)."""
    rows = _sweep_rows(runs, points)
    counts = rows.groupby("point")["agreed"].agg(runs="size", agreements="sum").reset_index()
    out = points.merge(counts, on="point", how="inner")
    out["rate"] = out["agreements"] / out["runs"]
    return out


def _one_parameter(fig, ax, manifest, runs, points, path: str, how: str) -> None:
    ax.set_gid("sweep")
    table = agreement_by_parameter(runs, points, path)
    categorical = not pd.api.types.is_numeric_dtype(points[path])
    _draw_rate_line(ax, table, categorical)
    ax.set_ylim(*rate_limits([table]))
    ax.set_xlabel(_axis_text(path, manifest, 80))
    ax.set_ylabel("agreement probability (% of runs)")
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False, fontsize=LABEL_SIZE - 1)
    unit = "bin" if len(table) < points[path].nunique() else "value"
    ax.set_title(f"{how}; {_pooling(table['points'].to_numpy(), table['runs'].to_numpy(), unit)}",
                 fontsize=LABEL_SIZE)


def _heatmap(fig, ax, manifest, runs, points, paths: list[str], how: str) -> None:
    ax.set_gid("sweep_heatmap")
    grid = agreement_grid(runs, points, paths[0], paths[1])
    rate = grid["rate"]
    # Cividis reads in grey and under colour-vision deficiencies; cells without runs are grey.
    cmap = matplotlib.colormaps["cividis"].with_extremes(bad="#DDDDDD")
    top = nice_ceiling(float(np.nanmax(rate)) if np.isfinite(rate).any() else 0.0)
    image = ax.imshow(np.ma.masked_invalid(rate), origin="lower", aspect="auto", cmap=cmap,
                      vmin=0, vmax=top, interpolation="nearest", gid="agreement_rate")
    ny, nx = rate.shape
    ax.set_xticks(np.arange(nx), grid["x_labels"], fontsize=LABEL_SIZE - 1)
    ax.set_yticks(np.arange(ny), grid["y_labels"], fontsize=LABEL_SIZE - 1)
    for (j, i), value in np.ndenumerate(rate):
        if np.isnan(value):
            continue
        # Black or white, whichever reads on the cell's colour.
        ax.text(i, j, f"{value:.0%}", ha="center", va="center", fontsize=LABEL_SIZE - 1,
                color=text_colour_on(cmap(value / top)), gid="cell_label")
    ax.set_xlabel(_axis_text(paths[0], manifest, 70))
    ax.set_ylabel(_axis_text(paths[1], manifest, 30))
    _rate_colourbar(fig, ax, image)
    used = grid["runs"] > 0
    ax.set_title(f"{how}; {_pooling(grid['points'][used], grid['runs'][used], 'cell')}", fontsize=LABEL_SIZE)


def _scatter(fig, ax, manifest, runs, points, paths: list[str], how: str) -> None:
    ax.set_gid("sweep_scatter")
    table = agreement_by_point(runs, points)
    # The colour scale runs from 0 to just above the highest rate, so that rare agreement still shows.
    marks = ax.scatter(table[paths[0]], table[paths[1]], c=table["rate"], cmap="cividis", vmin=0,
                       vmax=nice_ceiling(float(table["rate"].max())), s=46, edgecolors="#555555", linewidths=0.5,
                       gid="agreement_rate")
    ax.set_xlabel(_axis_text(paths[0], manifest, 70))
    ax.set_ylabel(_axis_text(paths[1], manifest, 30))
    ax.grid(color="#EEEEEE", linewidth=0.8)
    ax.set_axisbelow(True)
    _rate_colourbar(fig, ax, marks)
    n = table["runs"].to_numpy()
    each = f"{int(n.min()):,}" if n.min() == n.max() else f"{int(n.min()):,}–{int(n.max()):,}"
    ax.set_title(f"{how}; one marker per point, {each} runs each (not pooled)", fontsize=LABEL_SIZE)


def _rate_colourbar(fig, ax, mappable) -> None:
    bar = fig.colorbar(mappable, ax=ax, fraction=0.05, pad=0.02)
    bar.set_label("agreement probability (% of runs)")
    bar.ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
    bar.ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")


def sweep_figure(manifest: Mapping[str, Any], runs: pd.DataFrame, points: pd.DataFrame) -> Figure:
    """Agreement probability over the swept parameters, saying how points are pooled.

    One parameter: a line with its 95% Wilson band (points with the same value, or in the same
    bin, pooled). Two on a grid: a heatmap of the rate per cell; two sampled: one marker per
    point coloured by its rate. More: one panel per parameter, each marginal (pooled over the
    others) and binned when sampled.
    """
    paths = swept_parameters(manifest, points)
    rows = _sweep_rows(runs, points)
    n_points = int(points["point"].nunique())
    described = sweep_description(manifest)
    method = described["method"]
    per_point = described["runs_per_point"]
    how = f"{n_points:,} points" + (f" ({method})" if method else "")
    how += f" × {per_point:,} runs" if per_point else f", {len(rows):,} runs"

    if not paths or rows.empty:
        fig, (ax,) = new_figure(1)
        ax.set_gid("sweep")
        empty_note(ax, "no swept parameter with runs to show")
        suptitle(fig, "Agreement probability across the sweep", manifest)
        return fig

    if len(paths) <= 2:
        fig, (ax,) = new_figure(1)
        if len(paths) == 1:
            _one_parameter(fig, ax, manifest, runs, points, paths[0], how)
            headline = "Agreement probability against the swept parameter"
        elif all(_is_grid(points[p], 8) for p in paths):
            _heatmap(fig, ax, manifest, runs, points, paths, how)
            headline = "Agreement probability over two swept parameters"
        else:
            _scatter(fig, ax, manifest, runs, points, paths, how)
            headline = "Agreement probability at each sampled point"
        suptitle(fig, headline, manifest)
        return fig

    shown = paths[:9]
    ncols = len(shown) if len(shown) <= 3 else (2 if len(shown) == 4 else 3)
    nrows = -(-len(shown) // ncols)
    fig, axes = new_grid(nrows, ncols, sharey=True)
    tables = []
    for ax, path in zip(axes, shown):
        ax.set_gid(f"sweep:{path}")
        table = agreement_by_parameter(runs, points, path, max_levels=8)
        tables.append(table)
        _draw_rate_line(ax, table, not pd.api.types.is_numeric_dtype(points[path]))
        ax.set_xlabel(_axis_text(path, manifest, 30 if ncols == 3 else 46), fontsize=LABEL_SIZE - 2)
        ax.tick_params(labelsize=LABEL_SIZE - 2)
        unit = "bin" if len(table) < points[path].nunique() else "value"
        ax.set_title(wrap(_pooling(table["points"].to_numpy(), table["runs"].to_numpy(), unit), 40),
                     fontsize=LABEL_SIZE - 2)
    axes[0].set_ylim(*rate_limits(tables))  # shared by every panel
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    for ax in axes[::ncols]:
        ax.set_ylabel("agreement\nprobability (%)", fontsize=LABEL_SIZE - 1)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False, fontsize=LABEL_SIZE - 1)
    more = f"; first 9 of {len(paths)} parameters" if len(paths) > 9 else ""
    suptitle(fig, f"Agreement probability by parameter, pooled over the others ({how}{more})", manifest)
    return fig
