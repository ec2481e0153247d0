"""Scenario discovery: the ranges of the swept inputs in which agreement is likely (PRIM boxes).

Two figures of one discovery result (sim.insight.figdata.folder_discovery: PRIM boxes of the
points whose rate reaches the median point's): `discovery_figure` puts the peeling trajectory's
coverage-density trade-off beside each box's restricted ranges; `discovery_map_figure` shows
the points on the two inputs that matter most, coloured by their rate, with the boxes on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim.insight.figdata import discovery_limits, discovery_scatter, discovery_tradeoff
from sim.plots.style import (
    LABEL_SIZE,
    NOTE_COLOUR,
    OUTCOME_COLOUR,
    empty_note,
    fit_labels,
    new_figure,
    nice_ceiling,
    parameter_label,
    suptitle,
    wrap,
)

#: One colour per PRIM box (Okabe–Ito, apart from the cividis scale of the points' rates).
BOX_COLOURS = ("#D55E00", "#CC79A7", "#009E73")
_OUTCOME_WORDS = {"agreement": "full agreement", "signed": "signing (agreement or ceasefire)"}


def outcome_words(result: Mapping[str, Any]) -> str:
    """The outcome a discovery is about, in a few words."""
    return _OUTCOME_WORDS.get(str(result.get("output")), str(result.get("output_text") or result.get("output")))


def level_text(result: Mapping[str, Any]) -> str:
    """The level a point's rate must reach to be of interest, and how it was chosen, in words."""
    t, n = share_text(float(result["threshold"])), int(result["points"])
    rule = result.get("threshold_rule")
    if rule == "constant":
        return f"{t} at every one of the {n:,} points"
    if rule == "above floor":
        floor = share_text(float(min(result["cases"]["rate"])))
        return f"at least {t} (more than half the {n:,} points have the lowest rate, {floor})"
    if rule == "median":
        return f"at least {t}, the median over the {n:,} points"
    return f"at least {t}"


def share_text(share: float) -> str:
    """A rate as a percentage with as many digits as it has, up to three (8.25%, 50%, 77.5%), never rounded away."""
    return f"{100 * share:.3g}%"


def design_text(result: Mapping[str, Any]) -> str:
    """What the points are: how many, of what kind of design, with how many runs each."""
    lo, hi = result["runs_per_point"]
    runs = f"{lo:,} runs each" if lo == hi else f"{lo:,}–{hi:,} runs each"
    what = "sweep" if result.get("source") == "sweep" else "sensitivity design"
    return f"{result['points']:,} points of a {what}, {runs}"


def box_summary(box: Mapping[str, Any], k: int) -> str:
    """`box 1: coverage 80%, density 90%, support 30% (12 points)`."""
    return (f"box {k}: coverage {box['coverage']:.0%}, density {box['density']:.0%}, "
            f"support {box['support']:.0%} ({box['points']:,} points)")


def _nothing_to_show(result: Mapping[str, Any]) -> str:
    """Why a discovery has no box to draw, or "" when it has one."""
    if result.get("threshold_rule") == "constant":
        return (f"the {outcome_words(result)} rate is {share_text(float(result['threshold']))} at every point:\n"
                "no range of inputs stands out")
    if not result.get("prim"):
        return "no box: no point reaches the level"
    return ""


def _percent_axis(axis) -> None:
    axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 5, 10]))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}%"))


def _tradeoff(ax, result: Mapping[str, Any]) -> list:
    """Box 1's peeling trajectory as coverage against density, the chosen and the pasted box marked."""
    curve = discovery_tradeoff(dict(result), 0)
    cov, dens = 100 * curve["coverage"], 100 * curve["density"]
    ax.plot(cov, dens, color=OUTCOME_COLOUR, marker="o", markersize=3, linewidth=1.2, gid="trajectory",
            label="boxes of the peeling (narrower to the left)")
    c = curve["chosen"]
    ax.plot([cov[c]], [dens[c]], linestyle="none", marker="o", markersize=10, markerfacecolor="none",
            markeredgecolor="black", markeredgewidth=1.3, gid="chosen", label="box chosen for its target density")
    final_cov, final_dens = (100 * v for v in curve["final"])
    ax.plot([final_cov], [final_dens], linestyle="none", marker="*", markersize=15, color=BOX_COLOURS[0],
            markeredgecolor="black", markeredgewidth=0.6, gid="pasted", label="box 1, after pasting")
    ax.axhline(100 * curve["target"], color=NOTE_COLOUR, linestyle=":", linewidth=1.2, gid="target",
               label=f"target density {curve['target']:.0%}")
    ax.set_xlim(max(0.0, float(np.min(np.append(cov, final_cov))) - 8), 103)
    ax.set_ylim(max(0.0, float(np.min(np.append(dens, final_dens))) - 8), 103)
    _percent_axis(ax.xaxis)
    _percent_axis(ax.yaxis)
    ax.set_xlabel(wrap("coverage: % of the points of interest inside the box", 34))
    ax.set_ylabel(wrap("density: % of the box's points that are of interest", 30))
    ax.set_title("Trade-off of box 1", fontsize=LABEL_SIZE)
    ax.grid(color="#EEEEEE", linewidth=0.8)
    ax.set_axisbelow(True)
    handles, _ = ax.get_legend_handles_labels()
    return handles


def _ranges(ax, result: Mapping[str, Any], manifest: Mapping[str, Any]) -> tuple[list, list[str]]:
    """Each box's restricted inputs: the sampled range in grey, the part the box keeps in its colour."""
    rows: list[tuple[int, str, list, str, float]] = []
    for k in range(len(result["prim"])):
        limits = discovery_limits(dict(result), "prim", k)
        rows += [(k, name, limits["segments"][j], f"{limits['labels'][j]} (sampled: {limits['sampled'][j]})",
                  float(limits["p_value"][j])) for j, name in enumerate(limits["inputs"])]
    handles = [Patch(color=BOX_COLOURS[k % len(BOX_COLOURS)], label=box_summary(box, k + 1))
               for k, box in enumerate(result["prim"])]
    if not rows:
        empty_note(ax, "box 1 restricts no input:\nthe whole sampled space")
        return handles, []
    y, labels, last = [], [], None
    for k, name, segments, text, p in rows:
        # A half-row gap between the boxes keeps their inputs apart.
        y.append((y[-1] + 1 + (0.5 if k != last else 0)) if y else 0.0)
        last = k
        colour = BOX_COLOURS[k % len(BOX_COLOURS)]
        ax.barh(y[-1], 1.0, left=0.0, height=0.34, color="#E3E3E3", gid="sampled_range")
        for low, high in segments:
            ax.barh(y[-1], high - low, left=low, height=0.34, color=colour, gid=f"box{k + 1}:{name}")
        p_text = f", p = {p:.2g}" if np.isfinite(p) else ""
        ax.text(0.5, y[-1] - 0.22, f"box {k + 1} keeps {text}{p_text}", ha="center", va="bottom",
                fontsize=LABEL_SIZE - 2, color="#222222", gid="range_label")
        labels.append(f"{parameter_label(name, manifest)}")
    ax.set_yticks(y, labels)
    # At least three rows' height, so that one restricted input is a bar, not a block.
    pad = max(0.0, 3.0 - (y[-1] + 1.35)) / 2
    ax.set_ylim(y[-1] + 0.5 + pad, -0.85 - pad)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xticks([0, 0.5, 1], ["lowest", "middle", "highest"])
    ax.set_xlabel("where in the input's sampled values (grey: all of them)")
    ax.set_title("Restricted inputs", fontsize=LABEL_SIZE)
    return handles, labels


def discovery_figure(manifest: Mapping[str, Any], result: Mapping[str, Any]) -> Figure:
    """PRIM's coverage-density trade-off (box 1's peeling) beside every box's restricted input ranges."""
    fig, (trade, ranges) = new_figure(2, width_ratios=(1, 1.45))
    trade.set_gid("discovery_tradeoff")
    ranges.set_gid("discovery_ranges")
    headline = f"Scenario discovery: where the {outcome_words(result)} rate of a point is {level_text(result)}"
    why = _nothing_to_show(result)
    if why:
        empty_note(trade, why)
        ranges.set_visible(False)
        suptitle(fig, headline, manifest)
        return fig
    handles = _tradeoff(trade, result)
    boxes, labels = _ranges(ranges, result, manifest)
    interest = f"{result['of_interest']:,} of {result['points']:,} points are of interest"
    fig.legend(handles + boxes, [h.get_label() for h in handles + boxes], loc="outside lower center", ncols=2,
               frameon=False, fontsize=LABEL_SIZE - 2, title=f"PRIM (Friedman & Fisher 1999) on {design_text(result)}; "
                                                           f"{interest}", title_fontsize=LABEL_SIZE - 2)
    if labels:
        # Labels are fitted to the panel's height, known once the layout has been done.
        fig.canvas.draw()
        height = ranges.get_window_extent().height * 72 / fig.dpi
        fitted, size = fit_labels(labels, height, max_width=30)
        ranges.set_yticks(ranges.get_yticks(), fitted, fontsize=size)
    suptitle(fig, headline, manifest)
    return fig


def _draw_box_on_line(ax, result: Mapping[str, Any], name: str, values: np.ndarray) -> list:
    box = result["prim"][0]
    limit = next((r for r in box["restrictions"] if r["input"] == name), None)
    low, high = (float(limit["low"]), float(limit["high"])) if limit and "low" in limit else \
        (float(np.nanmin(values)), float(np.nanmax(values)))
    ax.axvspan(low, high, color=BOX_COLOURS[0], alpha=0.15, linewidth=0, gid="box1")
    return [Patch(color=BOX_COLOURS[0], alpha=0.35, label=box_summary(box, 1))]


def discovery_map_figure(manifest: Mapping[str, Any], result: Mapping[str, Any]) -> Figure:
    """The points on the two inputs that matter most (one input: against its rate), with the PRIM boxes drawn."""
    fig, (ax,) = new_figure(1)
    ax.set_gid("discovery_map")
    headline = f"Scenario discovery: the points, and the box where the {outcome_words(result)} rate is " \
               f"{level_text(result)}"
    why = _nothing_to_show(result)
    if why:
        empty_note(ax, why)
        suptitle(fig, headline, manifest)
        return fig
    data = discovery_scatter(dict(result))
    rate, interest = 100 * data["rate"], data["of_interest"]
    one_input = data["x_name"] == data["y_name"]
    top = 100 * nice_ceiling(float(np.nanmax(data["rate"])) if len(rate) else 0.0)
    if one_input:
        ax.scatter(data["x"][~interest], rate[~interest], s=36, color="#BBBBBB", edgecolors="#555555",
                   linewidths=0.5, gid="points_below", label="point below the level")
        ax.scatter(data["x"][interest], rate[interest], s=40, color=OUTCOME_COLOUR, edgecolors="black",
                   linewidths=0.6, gid="points_of_interest", label="point of interest")
        ax.axhline(100 * data["threshold"], color=NOTE_COLOUR, linestyle=":", linewidth=1.2, gid="level",
                   label=f"level {share_text(data['threshold'])}")
        boxes = _draw_box_on_line(ax, result, data["x_name"], data["x"])
        ax.set_ylim(0, top * 1.04)
        _percent_axis(ax.yaxis)
        ax.set_ylabel(f"{outcome_words(result)} rate of the point")
    else:
        marks = ax.scatter(data["x"], data["y"], c=rate, cmap="cividis", vmin=0, vmax=top, s=34,
                           edgecolors=np.where(interest, "black", "#9A9A9A").tolist(),
                           linewidths=np.where(interest, 1.3, 0.4), gid="points", zorder=3)
        # Box 1 only: a later box is found among the points outside the earlier ones, so drawn over
        # all the points its rectangle would overlap theirs; the discovery figure lists them all.
        x0, x1, y0, y1 = data["rectangle"]
        x0, x1 = _padded(x0, x1, data["x"], data["ticks_x"] is not None)
        y0, y1 = _padded(y0, y1, data["y"], data["ticks_y"] is not None)
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=BOX_COLOURS[0], linewidth=2.2,
                               gid="box1", zorder=2))
        boxes = [Line2D([], [], color=BOX_COLOURS[0], linewidth=2.2, label=box_summary(result["prim"][0], 1))]
        boxes.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="white", markeredgecolor="black",
                            markeredgewidth=1.3, label=f"point of interest (rate at least {share_text(data['threshold'])})"))
        bar = fig.colorbar(marks, ax=ax, fraction=0.05, pad=0.02)
        bar.set_label(f"{outcome_words(result)} rate of the point")
        _percent_axis(bar.ax.yaxis)
        ax.set_ylabel(_axis_label(data["y_name"], manifest, 30))
        _categorical_ticks(ax.yaxis, data["ticks_y"])
    ax.set_xlabel(_axis_label(data["x_name"], manifest, 80))
    _categorical_ticks(ax.xaxis, data["ticks_x"])
    ax.grid(color="#EEEEEE", linewidth=0.8)
    ax.set_axisbelow(True)
    shown = [data["x_name"]] if one_input else [data["x_name"], data["y_name"]]
    others = [n for n in result["inputs"] if n not in shown]
    title = "one marker per point (not pooled)"
    if len(result["prim"]) > 1:
        title += f"; box 1 of {len(result['prim'])}"
    if others:
        title += "; a point inside the box's rectangle may lie outside the box on " + \
                 (f"the {len(others)} inputs not shown" if len(others) > 1 else "the input not shown")
    ax.set_title(wrap(title, 100), fontsize=LABEL_SIZE - 1)
    handles, _ = ax.get_legend_handles_labels()
    fig.legend(handles + boxes, [h.get_label() for h in handles + boxes], loc="outside lower center",
               ncols=2, frameon=False, fontsize=LABEL_SIZE - 2)
    suptitle(fig, headline, manifest)
    return fig


def _padded(low: float, high: float, values: np.ndarray, categorical: bool) -> tuple[float, float]:
    """A box's limits on an axis, moved out a little so that its edge does not run through the points on them.

    Never beyond half-way to the nearest value outside the limits, so the drawn rectangle holds
    exactly the points the limits hold.
    """
    if categorical:
        return low - 0.3, high + 0.3
    span = float(np.nanmax(values) - np.nanmin(values)) or 1.0
    below, above = values[values < low], values[values > high]
    pad_low = min(0.02 * span, (low - below.max()) / 2 if below.size else np.inf)
    pad_high = min(0.02 * span, (above.min() - high) / 2 if above.size else np.inf)
    return low - pad_low, high + pad_high


def _axis_label(path: str, manifest: Mapping[str, Any], width: int) -> str:
    return wrap(parameter_label(path, manifest), width)


def _categorical_ticks(axis, ticks: list | None) -> None:
    if ticks is not None:
        axis.set_ticks(range(len(ticks)), [wrap(t.replace("_", " "), 14) for t in ticks])

