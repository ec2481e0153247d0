"""Sweeps: the agreement probability against the swept parameters, with 95% Wilson intervals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.plots.style import (
    LABEL_SIZE,
    OUTCOME_COLOUR,
    empty_note,
    new_figure,
    new_grid,
    parameter_label,
    suptitle,
    wrap,
)
from sim.results.summary import wilson_interval


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

    Columns: x (value, or mean value of the bin), label, runs, agreements, rate, low, high. Every
    point with that value contributes all its runs (the other parameters are averaged over).
    """
    rows = _sweep_rows(runs, points)
    cols = ["x", "label", "runs", "agreements", "rate", "low", "high"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    idx, xs, labels = _levels(rows[path], max_levels)
    n = np.bincount(idx, minlength=len(xs))
    k = np.bincount(idx, weights=rows["agreed"].to_numpy(float), minlength=len(xs)).astype(int)
    low, high = wilson_interval(k, n)
    out = pd.DataFrame({"x": xs, "label": labels, "runs": n, "agreements": k,
                        "rate": k / np.where(n > 0, n, 1), "low": low, "high": high})
    return out[out["runs"] > 0].reset_index(drop=True)


def agreement_grid(runs: pd.DataFrame, points: pd.DataFrame, path_x: str, path_y: str,
                   max_levels: int = 8) -> dict:
    """Agreement probability on a 2-D grid of two swept parameters (binned if sampled).

    Returns {"x_labels", "y_labels", "rate" (Y, X; NaN where no runs), "runs" (Y, X), "agreements"}.
    """
    rows = _sweep_rows(runs, points)
    if rows.empty:
        return {"x_labels": [], "y_labels": [], "rate": np.zeros((0, 0)), "runs": np.zeros((0, 0), int),
                "agreements": np.zeros((0, 0), int)}
    ix, _, xl = _levels(rows[path_x], max_levels)
    iy, _, yl = _levels(rows[path_y], max_levels)
    n = np.zeros((len(yl), len(xl)), dtype=int)
    k = np.zeros_like(n)
    np.add.at(n, (iy, ix), 1)
    np.add.at(k, (iy, ix), rows["agreed"].to_numpy(int))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
    return {"x_labels": xl, "y_labels": yl, "rate": rate, "runs": n, "agreements": k}


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
    ax.set_ylim(0, 1.025)  # a rate of 100% stays clear of the frame
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.grid(color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)


def sweep_figure(manifest: Mapping[str, Any], runs: pd.DataFrame, points: pd.DataFrame) -> Figure:
    """Agreement probability over the swept parameters.

    One parameter: a line with its 95% Wilson band (points with the same value pooled). Two: a
    heatmap of the agreement probability per cell. More: one panel per parameter, each marginal
    (pooled over the others) and binned when sampled.
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

    if len(paths) == 1:
        fig, (ax,) = new_figure(1)
        ax.set_gid("sweep")
        table = agreement_by_parameter(runs, points, paths[0])
        categorical = not pd.api.types.is_numeric_dtype(points[paths[0]])
        _draw_rate_line(ax, table, categorical)
        ax.set_xlabel(_axis_text(paths[0], manifest, 80))
        ax.set_ylabel("agreement probability (% of runs)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, frameon=False,
                  fontsize=LABEL_SIZE - 1)
        ax.set_title(f"{how}; each value pools {int(table['runs'].min()):,}–{int(table['runs'].max()):,} runs"
                     if table["runs"].nunique() > 1 else f"{how}; {int(table['runs'].iloc[0]):,} runs per value",
                     fontsize=LABEL_SIZE)
        suptitle(fig, "Agreement probability against the swept parameter", manifest)
        return fig

    if len(paths) == 2:
        fig, (ax,) = new_figure(1)
        ax.set_gid("sweep_heatmap")
        grid = agreement_grid(runs, points, paths[0], paths[1])
        rate = grid["rate"]
        # Cividis reads in grey and under colour-vision deficiencies; cells without runs are grey.
        cmap = matplotlib.colormaps["cividis"].with_extremes(bad="#DDDDDD")
        image = ax.imshow(np.ma.masked_invalid(rate), origin="lower", aspect="auto", cmap=cmap,
                          vmin=0, vmax=1, interpolation="nearest", gid="agreement_rate")
        ny, nx = rate.shape
        ax.set_xticks(np.arange(nx), [wrap(lbl, 10) for lbl in grid["x_labels"]],
                      fontsize=LABEL_SIZE - (2 if nx > 8 else 1))
        ax.set_yticks(np.arange(ny), grid["y_labels"], fontsize=LABEL_SIZE - (2 if ny > 8 else 1))
        if nx * ny <= 64:
            for (j, i), value in np.ndenumerate(rate):
                if np.isnan(value):
                    continue
                # Light text on the dark (low) end of cividis, dark text on the light end.
                ax.text(i, j, f"{value:.0%}", ha="center", va="center", fontsize=LABEL_SIZE - 1,
                        color="white" if value < 0.55 else "black", gid="cell_label")
        ax.set_xlabel(_axis_text(paths[0], manifest, 70))
        ax.set_ylabel(_axis_text(paths[1], manifest, 30))
        bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
        bar.set_label("agreement probability (% of runs)")
        bar.ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        n_cell = grid["runs"][grid["runs"] > 0]
        ax.set_title(f"{how}; {int(n_cell.min()):,}–{int(n_cell.max()):,} runs per cell"
                     if n_cell.size and n_cell.min() != n_cell.max()
                     else f"{how}; {int(n_cell.max()) if n_cell.size else 0:,} runs per cell", fontsize=LABEL_SIZE)
        suptitle(fig, "Agreement probability over two swept parameters", manifest)
        return fig

    shown = paths[:9]
    ncols = len(shown) if len(shown) <= 3 else (2 if len(shown) == 4 else 3)
    nrows = -(-len(shown) // ncols)
    fig, axes = new_grid(nrows, ncols, sharey=True)
    for ax, path in zip(axes, shown):
        ax.set_gid(f"sweep:{path}")
        table = agreement_by_parameter(runs, points, path, max_levels=8)
        _draw_rate_line(ax, table, not pd.api.types.is_numeric_dtype(points[path]))
        ax.set_xlabel(_axis_text(path, manifest, 30 if ncols == 3 else 46), fontsize=LABEL_SIZE - 2)
        ax.tick_params(labelsize=LABEL_SIZE - 2)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    for ax in axes[::ncols]:
        ax.set_ylabel("agreement\nprobability (%)", fontsize=LABEL_SIZE - 1)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False, fontsize=LABEL_SIZE - 1)
    more = f"; first 9 of {len(paths)} parameters" if len(paths) > 9 else ""
    suptitle(fig, f"Agreement probability by parameter, pooled over the others ({how}{more})", manifest)
    return fig
