"""What each region becomes in the agreements, and how much territory changes hands."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.plots.load import territories
from sim.plots.style import (
    FAMILY_COLOUR,
    LABEL_SIZE,
    OPTION_COLOURS,
    agreements,
    empty_note,
    humanise,
    new_figure,
    suptitle,
    text_colour_on,
    wrap,
)


def transfer_bins(km: np.ndarray, max_bins: int = 24) -> tuple[np.ndarray, np.ndarray, float]:
    """(bin centres, agreements per bin, bin width) of the km² transferred, on a round width.

    The width is a round number of km² (at least 1) giving at most `max_bins` bins over the
    range, so totals that differ by a few km² share one bar instead of each becoming a hairline,
    and a bar is never narrower than 1/max_bins of the axis.
    """
    lo, hi = float(np.min(km)), float(np.max(km))
    raw = max((hi - lo) / max_bins, 1.0)
    magnitude = 10 ** np.floor(np.log10(raw))
    width = float(next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw - 1e-9))
    index = np.floor((km - lo) / width + 1e-9).astype(int)
    used, counts = np.unique(index, return_counts=True)
    return lo + (used + 0.5) * width, counts, width


def region_figure(manifest: Mapping[str, Any], runs: pd.DataFrame) -> Figure:
    """Stacked bars of each region's disposition among agreements, and km² transferred.

    With no agreements the bars show the last text on the table in every run instead, and
    say so, because that is the only settlement information such a run set has.
    """
    fig, (ax_reg, ax_km) = new_figure(2, width_ratios=(1.3, 1))
    ax_reg.set_gid("regions")
    ax_km.set_gid("transfers")
    agreed = agreements(runs)
    n = len(agreed)
    regions = [r for r in territories(manifest) if f"deal_{r['id']}" in runs.columns]
    basis = agreed if n else runs
    nb = len(basis)

    if not regions:
        empty_note(ax_reg, "no territorial issues in this scenario")
    elif nb == 0:
        empty_note(ax_reg, "no runs to show")
    else:
        # Option ids shared between regions (e.g. "ukraine") keep one colour across the bars.
        order: list[str] = []
        tables = []
        for reg in regions:
            deals = basis[f"deal_{reg['id']}"].fillna("").astype(str).replace("", "(none)")
            counts = deals.value_counts()
            opts = [*reg.get("options", []), *sorted(k for k in counts.index if k not in reg.get("options", []))]
            tables.append({o: int(counts.get(o, 0)) for o in opts})
            order.extend(o for o in opts if o not in order)
        colour = {o: OPTION_COLOURS[i % len(OPTION_COLOURS)] for i, o in enumerate(order)}
        x = np.arange(len(regions))
        bottom = np.zeros(len(regions))
        for opt in order:
            heights = np.array([t.get(opt, 0) for t in tables], dtype=float)
            if not heights.any():
                continue  # keep the legend to dispositions that actually occur
            bars = ax_reg.bar(x, heights, bottom=bottom, width=0.6, color=colour[opt],
                              edgecolor="white", linewidth=0.8, label=humanise(opt), gid=f"option:{opt}")
            for bar, h, b in zip(bars, heights, bottom):
                if h / nb >= 0.07:  # smaller segments are too thin for a readable label
                    ax_reg.text(bar.get_x() + bar.get_width() / 2, b + h / 2, f"{h / nb:.0%}",
                                ha="center", va="center", fontsize=LABEL_SIZE - 2,
                                color=text_colour_on(colour[opt]), gid="share_label")
            bottom += heights
        ax_reg.set_xticks(x, [wrap(r.get("name") or r["id"], 12) for r in regions],
                          fontsize=LABEL_SIZE - (2 if len(regions) > 4 else 1))
        ax_reg.set_ylabel("agreements (count)" if n else "runs (count)")
        ax_reg.set_ylim(0, nb * 1.02)
        # A figure legend below both panels: under the region axes it would collide with region
        # names that take two or three lines.
        handles, labels = ax_reg.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=min(5, len(labels)), frameon=False,
                   fontsize=LABEL_SIZE - 2, title="disposition in the deal" if n else "disposition in the last text",
                   title_fontsize=LABEL_SIZE - 2)
    ax_reg.set_title("What each region becomes" if n else "Last text on the table (no agreements)",
                     fontsize=LABEL_SIZE + 1)

    km = agreed["transferred_km2"].dropna().to_numpy(float) if "transferred_km2" in agreed.columns else np.array([])
    if km.size == 0:
        empty_note(ax_km, "no agreements, so nothing transferred" if n == 0 else "no km² data")
    else:
        centres, counts, width = transfer_bins(km)
        ax_km.bar(centres, counts, width=width * 0.85, color=FAMILY_COLOUR, edgecolor="white", linewidth=0.5,
                  gid="transferred_hist")
        lo, hi = float(km.min()), float(km.max())
        ax_km.set_xlim(min(lo, centres[0] - width), max(hi, centres[-1] + width))
        if hi - lo < width:
            # Every agreement moves about the same land: one bar, said in words rather than left to the eye.
            ax_km.text(0.5, 0.97, f"every agreement: {lo:,.0f}–{hi:,.0f} km²" if hi - lo >= 0.5
                       else f"every agreement: {lo:,.0f} km²", transform=ax_km.transAxes, ha="center", va="top",
                       fontsize=LABEL_SIZE - 1, color="black", gid="transfer_note")
        else:
            # Black, not a hue: every hue here already means an actor or a disposition.
            ax_km.axvline(float(np.median(km)), color="black", linestyle="--", linewidth=1.4, gid="median")
            ax_km.text(0.98, 0.97, f"median {np.median(km):,.0f} km²", transform=ax_km.transAxes,
                       ha="right", va="top", fontsize=LABEL_SIZE - 1, color="black", gid="transfer_note")
        ax_km.set_ylim(0, max(counts) * 1.15)
        ax_km.set_xlabel("territory transferred (km²)")
        ax_km.set_ylabel("agreements (count)")
        ax_km.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax_km.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax_km.set_title("Territory transferred in agreements", fontsize=LABEL_SIZE + 1)
    headline = (f"Regions in the {n:,} agreements" if n
                else f"Regions: no agreement in {len(runs):,} runs, last text on the table shown")
    suptitle(fig, headline, manifest)
    return fig
