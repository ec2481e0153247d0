"""Figures from a results folder written by `negsim run`.

Every figure function takes the manifest (a dict) and the runs table (a DataFrame) and returns
a `matplotlib.figure.Figure`; none of them runs a simulation. `plot_results` is the one driver
that reads a folder and writes the image files.

Figures are built with `matplotlib.figure.Figure` and an Agg canvas rather than through pyplot,
so importing this module never selects a backend or registers figures in pyplot's global list
for whoever imports it (a notebook, the CLI, the tests).
"""

from __future__ import annotations

import colorsys
import json
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim.errors import UserError

FIGSIZE = (10.0, 5.6)
DPI = 150
FORMATS = ("png", "svg", "pdf")

OUTCOMES = ("agreement", "partial", "breakdown", "timeout")
OUTCOME_LABELS = {
    "agreement": "Agreement",
    "partial": "Partial deal",
    "breakdown": "Breakdown",
    "timeout": "Timeout",
}

# Okabe–Ito: distinguishable under the common colour-vision deficiencies. The two belligerents
# get the pair with the largest lightness gap (vermillion vs orange) so they stay apart in grey.
KNOWN_ACTOR_COLOURS = {
    "united_states": "#0072B2",  # blue
    "russia": "#D55E00",  # vermillion
    "ukraine": "#E69F00",  # orange
    "europe": "#009E73",  # bluish green
}
# The rest of Okabe–Ito, then Paul Tol's "muted" colours; black and yellow come last because
# black reads as "no colour" and yellow is faint on white.
_SPARE_ACTOR_COLOURS = (
    "#56B4E9", "#CC79A7", "#332288", "#999933", "#882255", "#44AA99", "#AA4499", "#DDCC77",
    "#117733", "#88CCEE", "#F0E442", "#000000",
)
# Dispositions of a region are not actors; a separate palette keeps "actor colour" unambiguous.
_OPTION_COLOURS = (
    "#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB",
    "#332288", "#882255", "#999933",
)
_OUTCOME_COLOUR = "#4D4D4D"
_FAMILY_COLOUR = "#8C8C8C"
_NOTE_COLOUR = "#555555"

_TITLE_SIZE = 13
_LABEL_SIZE = 11


# ---------------------------------------------------------------------------------------------
# Loading


def load_results(results_dir: str | Path) -> tuple[dict, pd.DataFrame, pd.DataFrame | None]:
    """Read manifest, runs and (if present) rounds from a results folder."""
    root = Path(results_dir)
    if not root.is_dir():
        raise UserError(f"results folder {root} does not exist (expected the folder written by `negsim run`)")
    manifest_path = root / "manifest.json"
    runs_path = root / "runs.parquet"
    if not manifest_path.is_file():
        raise UserError(f"{manifest_path}: missing; is {root} a results folder written by `negsim run`?")
    if not runs_path.is_file():
        raise UserError(f"{runs_path}: missing; the run may have failed before writing any results")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{manifest_path}: not readable JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise UserError(f"{manifest_path}: expected a JSON object at the top level")
    runs = _read_parquet(runs_path)
    rounds_path = root / "rounds.parquet"
    rounds = _read_parquet(rounds_path) if rounds_path.is_file() else None
    return manifest, runs, rounds


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise UserError(f"{path}: not a readable parquet file ({type(exc).__name__}: {exc})") from None


# ---------------------------------------------------------------------------------------------
# Colours and small helpers


def actor_colours(actor_ids: Iterable[str]) -> dict[str, str]:
    """One hex colour per actor: fixed for known ids, deterministic for the rest."""
    ids = list(dict.fromkeys(actor_ids))
    colours = {aid: KNOWN_ACTOR_COLOURS[aid] for aid in ids if aid in KNOWN_ACTOR_COLOURS}
    # Sorting makes the fallback independent of the order the caller lists actors in, so every
    # figure of one results folder agrees even if a figure sees the actors in another order.
    unknown = sorted(aid for aid in ids if aid not in KNOWN_ACTOR_COLOURS)
    for i, aid in enumerate(unknown):
        if i < len(_SPARE_ACTOR_COLOURS):
            colours[aid] = _SPARE_ACTOR_COLOURS[i]
        else:
            # Golden-ratio hue steps never repeat, however many actors a scenario has.
            r, g, b = colorsys.hls_to_rgb((i * 0.618034) % 1.0, 0.45, 0.65)
            colours[aid] = f"#{int(r * 255):02X}{int(g * 255):02X}{int(b * 255):02X}"
    return {aid: colours[aid] for aid in ids}


def _new_figure(ncols: int = 1, width_ratios: Sequence[float] | None = None) -> tuple[Figure, list]:
    # Constrained layout (rather than tight_layout) also makes room for legends placed
    # outside the axes, so they never sit on top of the data.
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False, width_ratios=width_ratios)[0]
    return fig, list(axes)


def _scenario_label(manifest: Mapping[str, Any]) -> str:
    sc = manifest.get("scenario") or {}
    title = sc.get("title") or sc.get("name") or ""
    if title and sc.get("as_of"):
        title = f"{title} (as of {sc['as_of']})"
    return title


def _suptitle(fig: Figure, headline: str, manifest: Mapping[str, Any]) -> None:
    sub = _scenario_label(manifest)
    fig.suptitle(headline + (f"\n{sub}" if sub else ""), fontsize=_TITLE_SIZE)


def _empty_note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes,
            fontsize=_LABEL_SIZE, color=_NOTE_COLOUR)
    ax.set_xticks([])
    ax.set_yticks([])


def _actor_ids(manifest: Mapping[str, Any], runs: pd.DataFrame) -> list[str]:
    listed = [a["id"] for a in manifest.get("actors", []) if "id" in a]
    if listed:
        return listed
    # A manifest without actors (older or hand-made) still has them in the column names.
    return [c.removeprefix("utility_") for c in runs.columns if c.startswith("utility_")]


def _actor_names(manifest: Mapping[str, Any]) -> dict[str, str]:
    return {a["id"]: a.get("name") or a["id"] for a in manifest.get("actors", []) if "id" in a}


def _humanise(option_id: str) -> str:
    return str(option_id).replace("_", " ")


def _wrap(text: str, width: int = 24) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _agreements(runs: pd.DataFrame) -> pd.DataFrame:
    if "outcome" not in runs.columns:
        return runs.iloc[0:0]
    return runs[runs["outcome"] == "agreement"]


def _annotate_barh(ax, bars, counts: Sequence[int], total: int) -> None:
    top = max([0, *counts])
    for bar, n in zip(bars, counts):
        share = n / total if total else 0.0
        ax.text(bar.get_width() + top * 0.015 + 0.01, bar.get_y() + bar.get_height() / 2,
                f"{n:,} ({share:.0%})", va="center", ha="left", fontsize=_LABEL_SIZE - 1)
    # Head-room on the right so the count labels fit inside the axes.
    ax.set_xlim(0, max(top, 1) * 1.3)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


# ---------------------------------------------------------------------------------------------
# Figures


def outcome_figure(manifest: Mapping[str, Any], runs: pd.DataFrame) -> Figure:
    """Bars of outcome counts, and of agreements by nearest named proposal."""
    fig, (ax_out, ax_fam) = _new_figure(2, width_ratios=(1, 1.15))
    ax_out.set_gid("outcomes")
    ax_fam.set_gid("families")
    total = len(runs)

    outcomes = runs["outcome"].astype(str) if "outcome" in runs.columns else pd.Series([], dtype=str)
    counts = outcomes.value_counts()
    # Always show the four known outcomes, even at zero, so an absent outcome is visibly absent.
    kinds = [*OUTCOMES, *sorted(k for k in counts.index if k not in OUTCOMES)]
    values = [int(counts.get(k, 0)) for k in kinds]
    ypos = np.arange(len(kinds))
    bars = ax_out.barh(ypos, values, color=_OUTCOME_COLOUR, height=0.6, label="runs")
    ax_out.set_yticks(ypos, [OUTCOME_LABELS.get(k, k) for k in kinds])
    ax_out.invert_yaxis()
    _annotate_barh(ax_out, bars, values, total)
    ax_out.set_xlabel("runs (count)")
    ax_out.set_title("How runs end", fontsize=_LABEL_SIZE + 1)

    agreed = _agreements(runs)
    n_agreed = len(agreed)
    if n_agreed == 0:
        _empty_note(ax_fam, "no agreements,\nso no deal families")
    else:
        names = {p["id"]: p.get("name") or p["id"] for p in manifest.get("proposals", []) if "id" in p}
        nearest = (agreed["nearest_proposal"].fillna("").astype(str)
                   if "nearest_proposal" in agreed.columns else pd.Series([""] * n_agreed))
        fam_counts = nearest.value_counts()
        # Manifest order keeps families in the same place across results folders.
        ids = [*names, *sorted(k for k in fam_counts.index if k not in names)]
        fam_values = [int(fam_counts.get(k, 0)) for k in ids]
        labels = [_wrap(names.get(k) or (k if k else "(no proposal)"), 26) for k in ids]
        ypos = np.arange(len(ids))
        fam_bars = ax_fam.barh(ypos, fam_values, color=_FAMILY_COLOUR, height=0.6, label="agreements")
        ax_fam.set_yticks(ypos, labels)
        ax_fam.invert_yaxis()
        _annotate_barh(ax_fam, fam_bars, fam_values, n_agreed)
        ax_fam.set_xlabel("agreements (count; share of agreements)")
    ax_fam.set_title("Agreements by nearest named proposal", fontsize=_LABEL_SIZE + 1)
    _suptitle(fig, f"Outcomes of {total:,} runs", manifest)
    return fig


def utility_figure(manifest: Mapping[str, Any], runs: pd.DataFrame) -> Figure:
    """Per-actor utility distribution (violin + box) with the median reservation value marked."""
    fig, (ax,) = _new_figure(1)
    ax.set_gid("utilities")
    agreed = _agreements(runs)
    subset = agreed if len(agreed) else runs
    which = (f"agreements only ({len(agreed):,} of {len(runs):,} runs)" if len(agreed)
             else f"all {len(runs):,} runs (no run reached an agreement)")

    actors = [a for a in _actor_ids(manifest, runs) if f"utility_{a}" in subset.columns]
    names = _actor_names(manifest)
    colours = actor_colours(_actor_ids(manifest, runs))
    if not actors or subset.empty:
        _empty_note(ax, "no utilities to show")
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
                            textcoords="offset points", fontsize=_LABEL_SIZE - 2, color=_NOTE_COLOUR)

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
        ax.set_xticks(pos, [_wrap(names.get(a, a), 16) for a in actors])
        ax.set_xlim(0.4, len(actors) + 0.6)
        if marked:
            # Below the axes: the violins use the full height of the plot.
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False,
                      fontsize=_LABEL_SIZE - 1)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("utility of the outcome (0–1)")
    ax.grid(axis="y", color="#DDDDDD", linewidth=0.8)
    ax.set_axisbelow(True)
    _suptitle(fig, f"Utility per actor — {which}", manifest)
    return fig


def _territories(manifest: Mapping[str, Any]) -> list[dict]:
    return [i for i in manifest.get("issues", []) if i.get("kind") == "territory" and "id" in i]


def region_figure(manifest: Mapping[str, Any], runs: pd.DataFrame) -> Figure:
    """Stacked bars of each region's disposition among agreements, and km² transferred.

    With no agreements the bars show the last text on the table in every run instead, and
    say so, because that is the only settlement information such a run set has.
    """
    fig, (ax_reg, ax_km) = _new_figure(2, width_ratios=(1.3, 1))
    ax_reg.set_gid("regions")
    ax_km.set_gid("transfers")
    agreed = _agreements(runs)
    n = len(agreed)
    regions = [r for r in _territories(manifest) if f"deal_{r['id']}" in runs.columns]
    basis = agreed if n else runs
    nb = len(basis)

    if not regions:
        _empty_note(ax_reg, "no territorial issues in this scenario")
    elif nb == 0:
        _empty_note(ax_reg, "no runs to show")
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
        colour = {o: _OPTION_COLOURS[i % len(_OPTION_COLOURS)] for i, o in enumerate(order)}
        x = np.arange(len(regions))
        bottom = np.zeros(len(regions))
        for opt in order:
            heights = np.array([t.get(opt, 0) for t in tables], dtype=float)
            if not heights.any():
                continue  # keep the legend to dispositions that actually occur
            bars = ax_reg.bar(x, heights, bottom=bottom, width=0.6, color=colour[opt],
                              edgecolor="white", linewidth=0.8, label=_humanise(opt), gid=f"option:{opt}")
            for bar, h, b in zip(bars, heights, bottom):
                if h / nb >= 0.07:  # smaller segments are too thin for a readable label
                    ax_reg.text(bar.get_x() + bar.get_width() / 2, b + h / 2, f"{h / nb:.0%}",
                                ha="center", va="center", fontsize=_LABEL_SIZE - 2, color="white")
            bottom += heights
        ax_reg.set_xticks(x, [_wrap(r.get("name") or r["id"], 10) for r in regions])
        ax_reg.set_ylabel("agreements (count)" if n else "runs (count)")
        ax_reg.set_ylim(0, nb * 1.02)
        ax_reg.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=min(3, len(order)),
                      frameon=False, fontsize=_LABEL_SIZE - 2, title="disposition in the deal" if n else "disposition in the last text",
                      title_fontsize=_LABEL_SIZE - 2)
    ax_reg.set_title("What each region becomes" if n else "Last text on the table (no agreements)",
                     fontsize=_LABEL_SIZE + 1)

    km = agreed["transferred_km2"].dropna().to_numpy(float) if "transferred_km2" in agreed.columns else np.array([])
    if km.size == 0:
        _empty_note(ax_km, "no agreements, so nothing transferred" if n == 0 else "no km² data")
    else:
        values, counts = np.unique(km, return_counts=True)
        if values.size <= 20:
            # Few distinct totals (each region moves whole or not at all): one bar per total,
            # centred on it, reads better than bins that straddle several totals.
            step = float(np.diff(values).min()) if values.size > 1 else max(abs(values[0]) * 0.2, 1.0)
            ax_km.bar(values, counts, width=step * 0.7, color=_FAMILY_COLOUR, edgecolor="white",
                      gid="transferred_hist")
            if values.size <= 8:
                ax_km.set_xticks(values)
        else:
            ax_km.hist(km, bins=20, color=_FAMILY_COLOUR, edgecolor="white", gid="transferred_hist")
        # Black, not a hue: every hue here already means an actor or a disposition.
        ax_km.axvline(float(np.median(km)), color="black", linestyle="--", linewidth=1.4)
        ax_km.text(0.98, 0.97, f"median {np.median(km):,.0f} km²", transform=ax_km.transAxes,
                   ha="right", va="top", fontsize=_LABEL_SIZE - 1, color="black")
        ax_km.set_xlabel("territory transferred (km²)")
        ax_km.set_ylabel("agreements (count)")
        ax_km.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax_km.set_title("Territory transferred in agreements", fontsize=_LABEL_SIZE + 1)
    headline = (f"Regions in the {n:,} agreements" if n
                else f"Regions: no agreement in {len(runs):,} runs, last text on the table shown")
    _suptitle(fig, headline, manifest)
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
    fig, (ax,) = _new_figure(1)
    ax.set_gid("survival")
    total = len(runs)
    if total == 0 or "round" not in runs.columns or "outcome" not in runs.columns:
        _empty_note(ax, "no runs to show")
    else:
        k, s = no_deal_curve(runs, manifest.get("max_rounds"))
        ax.step(k, s, where="post", color=_OUTCOME_COLOUR, linewidth=2.2,
                label=f"no agreement yet ({s[-1]:.0%} of runs never agree)", gid="no_agreement")
        if (runs["outcome"] == "partial").any():
            _, sp = no_deal_curve(runs, manifest.get("max_rounds"), outcomes=("agreement", "partial"))
            # Grey, not blue: blue is an actor's colour in the other figures.
            ax.step(k, sp, where="post", color=_FAMILY_COLOUR, linewidth=1.8, linestyle="--",
                    label=f"no agreement or partial deal yet ({sp[-1]:.0%} never reach either)", gid="no_partial")
        half = np.nonzero(s <= 0.5)[0]
        if half.size and half[0] < k[-1]:
            at = int(k[half[0]])
            ax.axvline(at, color="#BBBBBB", linestyle=":", linewidth=1.2)
            # Text on whichever side of the marker has room.
            left = at > 0.6 * k[-1]
            ax.text(at, 0.03, f"half agreed after {at} rounds " if left else f" half agreed after {at} rounds",
                    ha="right" if left else "left", va="bottom", fontsize=_LABEL_SIZE - 2, color=_NOTE_COLOUR)
        ax.set_xlim(0, k[-1])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=1, frameon=False,
                  fontsize=_LABEL_SIZE - 1)
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("rounds completed")
    ax.set_ylabel("share of runs with no agreement yet\n(breakdown, timeout, partial: never agree)")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.grid(color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)
    _suptitle(fig, f"Time to agreement over {total:,} runs", manifest)
    return fig


# ---------------------------------------------------------------------------------------------
# Driver


def plot_results(results_dir: str | Path, fmt: str = "png", out: str | Path | None = None) -> list[Path]:
    """Draw every figure the results support into OUT (default RESULTS/figures); return the paths."""
    if fmt not in FORMATS:
        raise UserError(f"--format: unknown figure format {fmt!r} (known: {', '.join(FORMATS)})")
    manifest, runs, _rounds = load_results(results_dir)
    target = Path(out) if out is not None else Path(results_dir) / "figures"
    if target.exists() and not target.is_dir():
        raise UserError(f"--out: {target} exists and is not a folder")
    target.mkdir(parents=True, exist_ok=True)

    cols = set(runs.columns)
    plans = []
    if "outcome" in cols:
        plans.append(("outcomes", outcome_figure))
    if any(c.startswith("utility_") for c in cols):
        plans.append(("utilities", utility_figure))
    if any(f"deal_{r['id']}" in cols for r in _territories(manifest)):
        plans.append(("regions", region_figure))
    if {"outcome", "round"} <= cols:
        plans.append(("time_to_agreement", survival_figure))

    written = []
    for stem, draw in plans:
        fig = draw(manifest, runs)
        path = target / f"{stem}.{fmt}"
        try:
            # Fixed metadata keeps svg/pdf output byte-stable between identical runs.
            meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {})
            fig.savefig(path, format=fmt, dpi=DPI, metadata=meta)
        finally:
            fig.clear()
        written.append(path)
    return written
