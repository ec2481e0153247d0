"""How the runs end: outcome counts, each actor's utility, and the share of runs agreed by each date."""

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
    FIGSIZE,
    LABEL_SIZE,
    NOTE_COLOUR,
    OUTCOME_COLOUR,
    OUTCOME_LABELS,
    OUTCOMES,
    actor_colours,
    agreements,
    annotate_barh,
    empty_note,
    fit_labels,
    new_figure,
    nice_ceiling,
    suptitle,
    wrap,
)
from sim.stats import wilson_interval

#: The most rows of proposals the families panel shows before leaving out those no agreement is near.
MAX_FAMILY_ROWS = 6


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
        unused = [k for k in names if not fam_counts.get(k, 0)]
        if len(ids) > MAX_FAMILY_ROWS and unused:
            # Many proposals: rows of zeros would squeeze every label past legibility.
            ids = [k for k in ids if k not in unused]
        fam_values = [int(fam_counts.get(k, 0)) for k in ids]
        labels, size = fit_labels([names.get(k) or (k if k else "(no named proposal close)") for k in ids],
                                  (FIGSIZE[1] - 1.8) * 72, max_width=30)
        ypos = np.arange(len(ids))
        fam_bars = ax_fam.barh(ypos, fam_values, color=FAMILY_COLOUR, height=0.6, label="agreements")
        ax_fam.set_yticks(ypos, labels, fontsize=size)
        ax_fam.invert_yaxis()
        annotate_barh(ax_fam, fam_bars, fam_values, n_agreed)
        left_out = [k for k in unused if k not in ids]
        ax_fam.set_xlabel("agreements (count; share of agreements)" + (
            f"\nnot shown: {len(left_out)} named proposals\nthat no agreement is near" if left_out else ""))
    ax_fam.set_title("Agreements by nearest proposal", fontsize=LABEL_SIZE + 1)
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
        ax.set_xticks(pos, [wrap(names.get(a, a), 20) for a in actors])
        ax.set_xlim(0.4, len(actors) + 0.6)
        if marked:
            # Below everything: the violins use the full height of the plot, and the actor names
            # under them may take several lines.
            fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", frameon=False,
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


def agreement_curve(runs: pd.DataFrame, max_rounds: int | None = None,
                    outcomes: Sequence[str] = ("agreement",)) -> tuple[np.ndarray, np.ndarray]:
    """Share of runs that ended in one of `outcomes` in round r or before, r = 0..the last round (rising).

    Round r is held on day r x round_days of the talks (the runs table's `day`), so with a
    calendar the share at r is the share agreed by that date, as `agreement_by_date` counts it.
    """
    total = len(runs)
    last = max(int(max_rounds or 0) - 1, int(runs["round"].max()) if total else 0, 0)
    r = np.arange(last + 1)
    if total == 0:
        return r, np.zeros(len(r))
    done = np.sort(runs.loc[runs["outcome"].isin(list(outcomes)), "round"].to_numpy(int))
    return r, np.searchsorted(done, r, side="right") / total


#: The curves of the time-to-agreement figure: (gid, outcomes counted, panel title).
_DATE_CURVES = (
    ("agreed", ("agreement",), "Full agreement (every needed party signs)"),
    ("signed", ("agreement", "partial"), "Signed: agreement or ceasefire"),
)


def _round_dates(manifest: Mapping[str, Any]) -> tuple[dt.date, float] | None:
    """(start date, days per round) when the talks have a calendar, else None."""
    as_of, days = manifest.get("as_of"), manifest.get("round_days")
    if not (as_of and days and manifest.get("horizon")):
        return None
    return dt.date.fromisoformat(as_of), float(days)


def month_ticks(start: dt.date, days: float, last: float, most: int) -> list[tuple[float, str]]:
    """(round, month and year) at the first of every n-th month within rounds 0..last, at most `most` of them."""
    firsts, d = [], start.replace(day=1)
    while (d - start).days / days <= last:
        if d >= start:
            firsts.append(d)
        d = (d + dt.timedelta(days=32)).replace(day=1)
    if len(firsts) < 2:  # talks of a few weeks: their first and last day
        end = start + dt.timedelta(days=last * days)
        return [(0.0, f"{start:%d %b}\n{start:%Y}"), (last, f"{end:%d %b}\n{end:%Y}")]
    step = max(1, -(-len(firsts) // most))
    return [((f - start).days / days, f"{f:%b}\n{f:%Y}") for f in firsts[::step]]


def time_to_agreement_figure(manifest: Mapping[str, Any], runs: pd.DataFrame) -> Figure:
    """Share of runs agreed by each date (a rising curve with its 95% Wilson band), scaled to the data.

    A second panel, with its own scale, shows runs signed by each date (agreement or a ceasefire
    without settlement) when some runs end in a partial deal: on one axis a rare agreement
    would be a flat line under a common ceasefire.
    """
    total = len(runs)
    usable = total > 0 and {"round", "outcome"} <= set(runs.columns)
    curves = [c for c in _DATE_CURVES if c[0] == "agreed" or (usable and (runs["outcome"] == "partial").any())]
    fig, axes = new_figure(len(curves))
    calendar = _round_dates(manifest)
    for ax, (gid, kinds, title) in zip(axes, curves):
        ax.set_gid(gid)
        ax.set_title(wrap(title, 52 if len(curves) > 1 else 90), fontsize=LABEL_SIZE + 1)
        if not usable:
            empty_note(ax, "no runs to show")
            continue
        k, share = agreement_curve(runs, manifest.get("max_rounds"), kinds)
        hits = np.rint(share * total).astype(int)
        low, high = wilson_interval(hits, np.full(hits.shape, total))
        # The last round sits on the right edge: a short stub past it shows the final level.
        pad = max(0.3, 0.025 * k[-1])
        x = np.append(k, k[-1] + pad)
        ax.fill_between(x, np.append(low, low[-1]), np.append(high, high[-1]), step="post", color=OUTCOME_COLOUR,
                        alpha=0.18, linewidth=0, label="95% Wilson interval", gid=f"{gid}_band")
        ax.step(x, np.append(share, share[-1]), where="post", linewidth=2.2, label="share of runs by then",
                color=OUTCOME_COLOUR, gid=gid)
        ax.set_xlim(0, x[-1])
        top = nice_ceiling(float(high.max()))
        ax.set_ylim(0, top)
        when = (f"by {(calendar[0] + dt.timedelta(days=k[-1] * calendar[1])):%d %b %Y}" if calendar
                else f"by round {k[-1]}")
        text = f"{share[-1]:.1%} {when}" if hits[-1] else f"none {when}"
        if share[-1] <= 0.9 * top:
            # Above and left of the end of a rising curve there is nothing but the label.
            ax.annotate(text, xy=(k[-1], share[-1]), xytext=(-4, 6), textcoords="offset points", ha="right",
                        va="bottom", fontsize=LABEL_SIZE - 1, gid=f"{gid}_end")
        else:  # no room under the frame's top edge: the top-left corner, where the curve starts low
            ax.text(0.02, 0.97, text, transform=ax.transAxes, ha="left", va="top", fontsize=LABEL_SIZE - 1,
                    gid=f"{gid}_end")
        # Round steps (1, 2, 5), so that every tick reads exactly as a whole percentage.
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 5, 10]))
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax.grid(color="#E5E5E5", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.set_ylabel(f"share of runs {'agreed' if gid == 'agreed' else 'signed'} by then")
        if calendar:
            start, days = calendar
            ticks = month_ticks(start, days, k[-1], 7 if len(curves) == 1 else 4)
            ax.set_xticks([r for r, _ in ticks], [label for _, label in ticks])
            ax.set_xlabel(f"date (rounds of {days:.3g} days from {start:%d %b %Y})")
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("round")
    if usable:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False, fontsize=LABEL_SIZE - 1)
    suptitle(fig, f"Time to agreement over {total:,} runs", manifest)
    return fig
