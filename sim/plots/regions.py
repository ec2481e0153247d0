"""What each region becomes in the agreements, and how much territory changes hands."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

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
    wrap,
)


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
                                ha="center", va="center", fontsize=LABEL_SIZE - 2, color="white")
            bottom += heights
        ax_reg.set_xticks(x, [wrap(r.get("name") or r["id"], 10) for r in regions])
        ax_reg.set_ylabel("agreements (count)" if n else "runs (count)")
        ax_reg.set_ylim(0, nb * 1.02)
        ax_reg.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=min(3, len(order)),
                      frameon=False, fontsize=LABEL_SIZE - 2, title="disposition in the deal" if n else "disposition in the last text",
                      title_fontsize=LABEL_SIZE - 2)
    ax_reg.set_title("What each region becomes" if n else "Last text on the table (no agreements)",
                     fontsize=LABEL_SIZE + 1)

    km = agreed["transferred_km2"].dropna().to_numpy(float) if "transferred_km2" in agreed.columns else np.array([])
    if km.size == 0:
        empty_note(ax_km, "no agreements, so nothing transferred" if n == 0 else "no km² data")
    else:
        values, counts = np.unique(km, return_counts=True)
        if values.size <= 20:
            # Few distinct totals (each region moves whole or not at all): one bar per total,
            # centred on it, reads better than bins that straddle several totals.
            step = float(np.diff(values).min()) if values.size > 1 else max(abs(values[0]) * 0.2, 1.0)
            ax_km.bar(values, counts, width=step * 0.7, color=FAMILY_COLOUR, edgecolor="white",
                      gid="transferred_hist")
            if values.size <= 8:
                ax_km.set_xticks(values)
        else:
            ax_km.hist(km, bins=20, color=FAMILY_COLOUR, edgecolor="white", gid="transferred_hist")
        # Black, not a hue: every hue here already means an actor or a disposition.
        ax_km.axvline(float(np.median(km)), color="black", linestyle="--", linewidth=1.4)
        ax_km.text(0.98, 0.97, f"median {np.median(km):,.0f} km²", transform=ax_km.transAxes,
                   ha="right", va="top", fontsize=LABEL_SIZE - 1, color="black")
        ax_km.set_xlabel("territory transferred (km²)")
        ax_km.set_ylabel("agreements (count)")
        ax_km.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax_km.set_title("Territory transferred in agreements", fontsize=LABEL_SIZE + 1)
    headline = (f"Regions in the {n:,} agreements" if n
                else f"Regions: no agreement in {len(runs):,} runs, last text on the table shown")
    suptitle(fig, headline, manifest)
    return fig
