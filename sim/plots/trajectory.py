"""One run round by round: the front line per region, and each actor's aspiration and reservation value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from sim.errors import UserError
from sim.plots.load import actor_ids, actor_names, territories
from sim.plots.style import (
    LABEL_SIZE,
    NOTE_COLOUR,
    OUTCOME_LABELS,
    actor_colours,
    empty_note,
    new_figure,
    suptitle,
    wrap,
)


def pick_run(runs: pd.DataFrame, rounds: pd.DataFrame | None = None, run: int | None = None,
             point: int | None = None) -> tuple[int, int]:
    """(point, run) to show: the given run, else a typical one (see `typical_run`)."""
    if run is None:
        pt, rid, _ = typical_run(runs, rounds, point)
        return pt, rid
    ids = runs if rounds is None or rounds.empty else rounds
    match = ids[ids["run"] == int(run)] if "run" in ids.columns else ids.iloc[0:0]
    if point is not None and "point" in match.columns:
        match = match[match["point"] == int(point)]
    if match.empty:
        have = ids["run"] if "run" in ids.columns else pd.Series([], dtype=int)
        span = f"runs {int(have.min())}–{int(have.max())}" if len(have) else "no runs"
        raise UserError(f"--run: run {run}{'' if point is None else f' of point {point}'} is not in the "
                        f"results ({span})")
    row = match.iloc[0]
    return int(row["point"]) if "point" in match.columns else 0, int(row["run"])


def typical_run(runs: pd.DataFrame, rounds: pd.DataFrame | None = None,
                point: int | None = None) -> tuple[int, int, str]:
    """(point, run, why): a run whose outcome is the most common one, ending nearest the median round of such runs.

    Only runs whose rounds were recorded can be shown; the outcome and median are those of all
    runs (of the point, if given). Ties go to the lowest (point, run). `why` says so in words.
    """
    keys = [c for c in ("point", "run") if c in runs.columns]
    every = runs.sort_values(keys, kind="stable") if len(runs) and keys else runs
    if point is not None and "point" in every.columns:
        every = every[every["point"] == int(point)]
    shown = every
    if rounds is not None and not rounds.empty and "run" in keys and set(keys) <= set(rounds.columns):
        # Only runs whose rounds were recorded (an inner merge keeps the left order).
        shown = every.merge(rounds[keys].drop_duplicates(), on=keys, how="inner")
    if shown.empty or "run" not in shown.columns:
        return (0 if point is None else int(point)), 0, "no run recorded"
    if "outcome" not in shown.columns or "round" not in shown.columns:
        row = shown.iloc[0]
        return int(row.get("point", 0)), int(row["run"]), "the first run recorded"
    counts = every["outcome"].astype(str).value_counts()
    # The most common outcome of all runs, unless no run with it was recorded.
    modal = next(o for o in counts.index if (shown["outcome"] == o).any())
    peers = every[every["outcome"] == modal]
    median = float(np.median(peers["round"]))
    mine = shown[shown["outcome"] == modal]
    row = mine.iloc[int(np.argmin(np.abs(mine["round"].to_numpy(float) - median)))]
    # The headline names the outcome; this says why this run of it.
    common = "the most common outcome" if modal == counts.index[0] else "the most common outcome recorded"
    why = f"typical: {common} ({counts[modal] / len(every):.0%} of runs), ending nearest their median round ({median:g})"
    return int(row.get("point", 0)), int(row["run"]), why


def run_rounds(rounds: pd.DataFrame, point: int, run: int) -> pd.DataFrame:
    """The rounds table of one run, sorted by round."""
    sel = rounds["run"] == run
    if "point" in rounds.columns:
        sel &= rounds["point"] == point
    return rounds[sel].sort_values(["round"], kind="stable")


def _ending(manifest: Mapping[str, Any], row: Mapping[str, Any] | None) -> tuple[str, int | None]:
    if row is None:
        return "", None
    names = actor_names(manifest)
    outcome = str(row.get("outcome", ""))
    end = int(row["round"]) if "round" in row and pd.notna(row["round"]) else None
    label = OUTCOME_LABELS.get(outcome, outcome)
    text = f"{label} in round {end}" if end is not None else label
    walked = row.get("walked_away") or ""
    vetoed = row.get("vetoed_by") or ""
    if outcome == "breakdown" and walked:
        text += f": {names.get(walked, walked)} walked away"
    elif vetoed:
        text += f": {names.get(vetoed, vetoed)} withheld consent"
    return text, end


_REGION_STYLES = (("#000000", "-", "o"), ("#555555", "--", "s"), ("#888888", "-.", "^"),
                  ("#333333", ":", "D"), ("#AAAAAA", "-", "v"), ("#666666", (0, (5, 1)), "P"),
                  ("#222222", (0, (1, 1)), "X"), ("#999999", "--", "*"))


def front_lines(columns: Sequence[str], regions: Sequence[str]) -> list[tuple[str, str, str]]:
    """(region, holder, column) of the front-line columns (`held_<region>_<holder>`) to draw.

    Regions come from the manifest when it lists them, else from the columns (the longest known
    region id wins when ids share a prefix). A region with two holders is drawn once, as its first
    holder's share (the other holds the rest); with more holders, one line per holder.
    """
    cols = [c for c in columns if c.startswith("held_")]
    if not regions:
        regions = sorted({c[5:].rsplit("_", 1)[0] for c in cols})
    found: dict[str, list[tuple[str, str]]] = {}
    for col in cols:
        rest = col[5:]
        reg = max((r for r in regions if rest.startswith(r + "_")), key=len, default=None)
        if reg is not None:
            found.setdefault(reg, []).append((rest[len(reg) + 1:], col))
    out = []
    for reg in regions:
        held = found.get(reg, [])  # in the order the scenario lists the holders
        out += [(reg, h, col) for h, col in (held[:1] if len(held) == 2 else held)]
    return out


def trajectory_figure(manifest: Mapping[str, Any], runs: pd.DataFrame, rounds: pd.DataFrame,
                      run: int | None = None, point: int | None = None) -> Figure:
    """One run round by round: the front line per region, and each actor's aspiration and reservation."""
    fig, (ax_front, ax_pos) = new_figure(2, width_ratios=(1, 1.25))
    ax_front.set_gid("front")
    ax_pos.set_gid("positions")
    if rounds is None or rounds.empty:
        empty_note(ax_front, "no rounds recorded")
        empty_note(ax_pos, "no rounds recorded")
        suptitle(fig, "One run, round by round", manifest)
        return fig
    if run is None:
        pt, rid, why = typical_run(runs, rounds, point)
    else:
        (pt, rid), why = pick_run(runs, rounds, run, point), "the run chosen for this figure"
    table = run_rounds(rounds, pt, rid)
    match = runs[(runs["run"] == rid) & ((runs["point"] == pt) if "point" in runs.columns else True)] \
        if "run" in runs.columns else runs.iloc[0:0]
    row = match.iloc[0].to_dict() if len(match) else None
    ending, end = _ending(manifest, row)

    region_names = {r["id"]: r.get("name") or r["id"] for r in territories(manifest)}
    names = actor_names(manifest)
    lines = front_lines(list(table.columns), list(region_names))
    per_round = table.drop_duplicates("round", keep="first")
    if not lines:
        empty_note(ax_front, "no regions in this scenario" if not region_names else
                    "no front-line data\n(no territorial issues recorded)")
    else:
        x = per_round["round"].to_numpy(int)
        moved = False
        holders = {holder for _, holder, _ in lines}
        one = names.get(next(iter(holders)), next(iter(holders))) if len(holders) == 1 else None
        for k, (reg, holder, column) in enumerate(lines):
            colour, style, marker = _REGION_STYLES[k % len(_REGION_STYLES)]
            share = 100 * per_round[column].to_numpy(float)
            moved |= bool(np.ptp(share) > 1e-9) if share.size else False
            # One holder throughout: its name goes on the axis once, not in every legend entry.
            label = region_names.get(reg, reg) if one else f"{region_names.get(reg, reg)}: {names.get(holder, holder)}"
            ax_front.plot(x, share, color=colour, linestyle=style, marker=marker, markersize=3.5,
                          markevery=max(1, len(x) // 12), linewidth=1.6, label=wrap(label, 24),
                          gid=f"front:{reg}:{holder}")
        # From a round ten below the lowest share, so that small moves show; a region held whole
        # stays visible under the frame's top.
        held = 100 * per_round[[column for _, _, column in lines]].to_numpy(float)
        floor = np.floor(max(0.0, np.nanmin(held) - 5) / 10) * 10 if held.size and np.isfinite(held).any() else 0
        ax_front.set_ylim(floor - 2 if floor == 0 else floor, 102)
        ax_front.set_xlabel("round")
        ax_front.set_ylabel(wrap(f"share of the region held by {one} (%)", 40) if one
                            else "share of the region held (%)")
        ax_front.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_front.grid(color="#EEEEEE", linewidth=0.8)
        if not moved:
            ax_front.text(0.5, 0.97, "front line unchanged in this run", transform=ax_front.transAxes,
                          ha="center", va="top", fontsize=LABEL_SIZE - 2, color=NOTE_COLOUR)
    ax_front.set_title("Front line" if lines or region_names else "Land", fontsize=LABEL_SIZE + 1)

    all_actors = actor_ids(manifest, runs)
    colours = actor_colours(all_actors + [a for a in pd.unique(table["actor"]) if a not in all_actors])
    names = actor_names(manifest)
    order = [a for a in all_actors if a in set(table["actor"])] + \
        [a for a in pd.unique(table["actor"]) if a not in all_actors]
    handles = ax_front.get_legend_handles_labels()[0]
    for a in order:
        mine = table[table["actor"] == a]
        x = mine["round"].to_numpy(int)
        # A run of one or two rounds has no line to speak of: markers keep it visible.
        dots = {"marker": "o", "markersize": 5} if len(x) <= 2 else {}
        ax_pos.plot(x, mine["aspiration"].to_numpy(float), color=colours[a], linewidth=2, gid=f"aspiration:{a}",
                    **dots)
        ax_pos.plot(x, mine["reservation"].to_numpy(float), color=colours[a], linewidth=1.6, linestyle="--",
                    gid=f"reservation:{a}", **dots)
        handles.append(Line2D([], [], color=colours[a], linewidth=3, label=wrap(names.get(a, a), 22)))
    handles += [Line2D([], [], color="#333333", linewidth=2, label="aspiration"),
                Line2D([], [], color="#333333", linewidth=1.6, linestyle="--", label="reservation value")]
    last = max(int(table["round"].max()), end or 0, 1)
    for ax in (ax_front, ax_pos):
        # A little room on the right keeps the end-of-run marker off the frame.
        ax.set_xlim(0, last + max(0.3, 0.02 * last))
    ax_pos.set_ylim(0, 1.02)
    ax_pos.set_xlabel("round")
    ax_pos.set_ylabel("utility (0–1)")
    ax_pos.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_pos.grid(color="#EEEEEE", linewidth=0.8)
    # One legend under both panels (regions, then actors, then line styles): two legends under
    # their own panels run into each other and off the canvas once names are long.
    fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)), frameon=False,
               fontsize=LABEL_SIZE - 2)
    ax_pos.set_title("Aspiration (solid) and reservation value (dashed)", fontsize=LABEL_SIZE + 1)

    if end is not None:
        for ax in (ax_front, ax_pos):
            if ax.has_data():
                ax.axvline(end, color="black", linestyle=":", linewidth=1.4, gid="end")
        lo, hi = ax_pos.get_xlim()
        left = end > (lo + hi) / 2  # text on whichever side of the marker has room
        # The headline says who ended it; the marker only needs what happened.
        note = ax_pos.annotate(ending.split(": ")[0], xy=(end, 0.985), xycoords=ax_pos.get_xaxis_transform(),
                               xytext=(-5 if left else 5, 0), textcoords="offset points", ha="right" if left else "left",
                               va="top", fontsize=LABEL_SIZE - 2, color="black", gid="ending",
                               bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "#BBBBBB"})
        note.set_in_layout(False)  # it sits inside the axes; the layout need not make room for it
    where = f"Run {rid}" + (f" of point {pt}" if "point" in runs.columns and runs["point"].nunique() > 1 else "")
    suptitle(fig, f"{where} round by round: {ending or 'outcome unknown'}\n({why})", manifest)
    return fig
