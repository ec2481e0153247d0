"""How the runs end: outcome counts, each actor's utility, and time to agreement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.plots.load import actor_ids, actor_names
from sim.plots.style import (
    FAMILY_COLOUR,
    LABEL_SIZE,
    NOTE_COLOUR,
    OUTCOME_COLOUR,
    OUTCOME_LABELS,
    OUTCOMES,
    actor_colours,
    agreements,
    annotate_barh,
    empty_note,
    new_figure,
    suptitle,
    wrap,
)


def outcome_figure(manifest: Mapping[str, Any], runs: pd.DataFrame) -> Figure:
    """Bars of outcome counts, and of agreements by nearest named proposal."""
    fig, (ax_out, ax_fam) = new_figure(2, width_ratios=(1, 1.15))
    ax_out.set_gid("outcomes")
    ax_fam.set_gid("families")
    total = len(runs)

    outcomes = runs["outcome"].astype(str) if "outcome" in runs.columns else pd.Series([], dtype=str)
    counts = outcomes.value_counts()
    # Always show the four known outcomes, even at zero, so an absent outcome is visibly absent.
    kinds = [*OUTCOMES, *sorted(k for k in counts.index if k not in OUTCOMES)]
    values = [int(counts.get(k, 0)) for k in kinds]
    ypos = np.arange(len(kinds))
    bars = ax_out.barh(ypos, values, color=OUTCOME_COLOUR, height=0.6, label="runs")
    ax_out.set_yticks(ypos, [OUTCOME_LABELS.get(k, k) for k in kinds])
    ax_out.invert_yaxis()
    annotate_barh(ax_out, bars, values, total)
    ax_out.set_xlabel("runs (count)")
    ax_out.set_title("How runs end", fontsize=LABEL_SIZE + 1)

    agreed = agreements(runs)
    n_agreed = len(agreed)
    if n_agreed == 0:
        empty_note(ax_fam, "no agreements,\nso no deal families")
    else:
        names = {p["id"]: p.get("name") or p["id"] for p in manifest.get("proposals", []) if "id" in p}
        nearest = (agreed["nearest_proposal"].fillna("").astype(str)
                   if "nearest_proposal" in agreed.columns else pd.Series([""] * n_agreed))
        fam_counts = nearest.value_counts()
        # Manifest order keeps families in the same place across results folders.
        ids = [*names, *sorted(k for k in fam_counts.index if k not in names)]
        fam_values = [int(fam_counts.get(k, 0)) for k in ids]
        labels = [wrap(names.get(k) or (k if k else "(no proposal)"), 26) for k in ids]
        ypos = np.arange(len(ids))
        fam_bars = ax_fam.barh(ypos, fam_values, color=FAMILY_COLOUR, height=0.6, label="agreements")
        ax_fam.set_yticks(ypos, labels)
        ax_fam.invert_yaxis()
        annotate_barh(ax_fam, fam_bars, fam_values, n_agreed)
        ax_fam.set_xlabel("agreements (count; share of agreements)")
    ax_fam.set_title("Agreements by nearest named proposal", fontsize=LABEL_SIZE + 1)
    suptitle(fig, f"Outcomes of {total:,} runs", manifest)
    return fig


def utility_figure(manifest: Mapping[str, Any], runs: pd.DataFrame) -> Figure:
    """Per-actor utility distribution (violin + box) with the median reservation value marked."""
    fig, (ax,) = new_figure(1)
    ax.set_gid("utilities")
    agreed = agreements(runs)
    subset = agreed if len(agreed) else runs
    which = (f"agreements only ({len(agreed):,} of {len(runs):,} runs)" if len(agreed)
             else f"all {len(runs):,} runs (no run reached an agreement)")

    actors = [a for a in actor_ids(manifest, runs) if f"utility_{a}" in subset.columns]
    names = actor_names(manifest)
    colours = actor_colours(actor_ids(manifest, runs))
    if not actors or subset.empty:
        empty_note(ax, "no utilities to show")
    else:
        data = [subset[f"utility_{a}"].dropna().to_numpy(float) for a in actors]
        pos = np.arange(1, len(actors) + 1)
        # A violin needs spread (a KDE of one value is singular); the box below always draws.
        spread = [i for i, d in enumerate(data) if d.size > 1 and np.ptp(d) > 1e-9]
        if spread:
            parts = ax.violinplot([data[i] for i in spread], positions=pos[spread], widths=0.8,
                                  showextrema=False)
            for i, body in zip(spread, parts["bodies"]):
                body.set_facecolor(colours[actors[i]])
                body.set_edgecolor(colours[actors[i]])
                body.set_alpha(0.35)
                body.set_gid(f"violin:{actors[i]}")
        drawable = [i for i, d in enumerate(data) if d.size]
        box = ax.boxplot([data[i] for i in drawable], positions=pos[drawable], widths=0.22,
                         patch_artist=True, showfliers=False,
                         medianprops={"color": "white", "linewidth": 2},
                         whiskerprops={"color": "#333333"}, capprops={"color": "#333333"})
        for i, patch in zip(drawable, box["boxes"]):
            patch.set_facecolor(colours[actors[i]])
            patch.set_edgecolor("#333333")
            patch.set_gid(f"box:{actors[i]}")
        for i, d in enumerate(data):
            if d.size and np.ptp(d) <= 1e-9:
                # A box of one value is a flat line that vanishes under the reservation marker;
                # a coloured point keeps the actor visible and says "always this value".
                ax.scatter([pos[i]], [d[0]], s=110, marker="D", color=colours[actors[i]],
                           edgecolor="#333333", zorder=4, gid=f"point:{actors[i]}")
                ax.annotate(f"always {d[0]:.2f}", xy=(pos[i], d[0]), xytext=(10, 8),
                            textcoords="offset points", fontsize=LABEL_SIZE - 2, color=NOTE_COLOUR)

        marked = False
        for x, a in zip(pos, actors):
            col = f"reservation_{a}"
            if col not in subset.columns or subset[col].dropna().empty:
                continue
            r = float(subset[col].median())
            ax.plot([x - 0.42, x + 0.42], [r, r], color="black", linestyle="--", linewidth=1.6,
                    gid=f"reservation:{a}", zorder=3.5,
                    label=None if marked else "reservation value (median over the same runs)")
            marked = True
        ax.set_xticks(pos, [wrap(names.get(a, a), 16) for a in actors])
        ax.set_xlim(0.4, len(actors) + 0.6)
        if marked:
            # Below the axes: the violins use the full height of the plot.
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False,
                      fontsize=LABEL_SIZE - 1)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("utility of the outcome (0–1)")
    ax.grid(axis="y", color="#DDDDDD", linewidth=0.8)
    ax.set_axisbelow(True)
    suptitle(fig, f"Utility per actor — {which}", manifest)
    return fig


def no_deal_curve(runs: pd.DataFrame, max_rounds: int | None = None,
                  outcomes: Sequence[str] = ("agreement",)) -> tuple[np.ndarray, np.ndarray]:
    """Share of runs with no deal after k rounds, k = 0..max_rounds (non-deals never agree)."""
    total = len(runs)
    ended = runs["round"].to_numpy(int) if total else np.array([], dtype=int)
    last = int(ended.max()) + 1 if total else 0
    horizon = max(int(max_rounds or 0), last, 1)
    k = np.arange(horizon + 1)
    if total == 0:
        return k, np.ones_like(k, dtype=float)
    # `round` is 0-based: a deal struck in round r exists once r + 1 rounds are complete.
    done = np.sort(ended[runs["outcome"].isin(list(outcomes)).to_numpy()] + 1)
    agreed_by = np.searchsorted(done, k, side="right")
    return k, 1.0 - agreed_by / total


def survival_figure(manifest: Mapping[str, Any], runs: pd.DataFrame) -> Figure:
    """Kaplan–Meier-style curve: share of runs with no agreement yet, by round."""
    fig, (ax,) = new_figure(1)
    ax.set_gid("survival")
    total = len(runs)
    if total == 0 or "round" not in runs.columns or "outcome" not in runs.columns:
        empty_note(ax, "no runs to show")
    else:
        k, s = no_deal_curve(runs, manifest.get("max_rounds"))
        ax.step(k, s, where="post", color=OUTCOME_COLOUR, linewidth=2.2,
                label=f"no agreement yet ({s[-1]:.0%} of runs never agree)", gid="no_agreement")
        if (runs["outcome"] == "partial").any():
            _, sp = no_deal_curve(runs, manifest.get("max_rounds"), outcomes=("agreement", "partial"))
            # Grey, not blue: blue is an actor's colour in the other figures.
            ax.step(k, sp, where="post", color=FAMILY_COLOUR, linewidth=1.8, linestyle="--",
                    label=f"no agreement or partial deal yet ({sp[-1]:.0%} never reach either)", gid="no_partial")
        half = np.nonzero(s <= 0.5)[0]
        if half.size and half[0] < k[-1]:
            at = int(k[half[0]])
            ax.axvline(at, color="#BBBBBB", linestyle=":", linewidth=1.2)
            # Text on whichever side of the marker has room.
            left = at > 0.6 * k[-1]
            ax.text(at, 0.03, f"half agreed after {at} rounds " if left else f" half agreed after {at} rounds",
                    ha="right" if left else "left", va="bottom", fontsize=LABEL_SIZE - 2, color=NOTE_COLOUR)
        ax.set_xlim(0, k[-1])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=1, frameon=False,
                  fontsize=LABEL_SIZE - 1)
    ax.set_ylim(0, 1.0)
    as_of, days = manifest.get("as_of"), manifest.get("round_days")
    if as_of and days and manifest.get("horizon"):
        # The talks have a calendar: label rounds by the date they end on.
        start = dt.date.fromisoformat(as_of)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.xaxis.set_major_formatter(
            lambda v, _: (start + dt.timedelta(days=v * days)).strftime("%d %b\n%Y") if v >= 0 else "")
        ax.set_xlabel(f"date (a round every {days:g} days from {as_of})")
    else:
        ax.set_xlabel("rounds completed")
    ax.set_ylabel("share of runs with no agreement yet\n(partial, breakdown, no deal: never agree)")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.grid(color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)
    suptitle(fig, f"Time to agreement over {total:,} runs", manifest)
    return fig
