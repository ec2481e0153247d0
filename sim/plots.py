"""Figures from a results folder written by `negsim run`.

Every figure function takes the manifest (a dict) and the tables or JSON it shows (the runs
table, the sweep's points, a sensitivity or deal-space analysis, one run's rounds) and returns a
`matplotlib.figure.Figure`; none of them runs a simulation. `plot_results` is the one driver
that reads a folder and writes the image files of every figure the folder supports.

Figures are built with `matplotlib.figure.Figure` and an Agg canvas rather than through pyplot,
so importing this module never selects a backend or registers figures in pyplot's global list
for whoever imports it (a notebook, the CLI, the tests).
"""

from __future__ import annotations

import colorsys
import datetime as dt
import json
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator
from numpy.typing import ArrayLike

from sim.errors import UserError

FIGSIZE = (10.0, 5.6)
DPI = 150
FORMATS = ("png", "svg", "pdf")

# Runs without agreement by the horizon are `open` (talks going) or `suspended` (paused);
# `timeout` is how folders written before the calendar semantics name them.
OUTCOMES = ("agreement", "partial", "breakdown", "open", "suspended")
OUTCOME_LABELS = {
    "agreement": "Agreement",
    "partial": "Partial deal",
    "breakdown": "Breakdown",
    "open": "Open (talks go on)",
    "suspended": "Suspended (talks paused)",
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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not readable JSON ({exc})") from None


def load_points(results_dir: str | Path) -> pd.DataFrame | None:
    """The sweep's parameter points (`points.parquet`: `point` + one column per swept path), if any."""
    path = Path(results_dir) / "points.parquet"
    if not path.is_file():
        return None
    points = _read_parquet(path)
    if "point" not in points.columns:
        raise UserError(f"{path}: no `point` column (expected one row per parameter point)")
    return points


def load_sensitivity(path: str | Path) -> dict | None:
    """Sobol indices from `sensitivity.json` (a file, or a folder holding one); None if absent."""
    path = Path(path)
    if path.is_dir():
        path = path / "sensitivity.json"
    if not path.is_file():
        return None
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("outputs"), dict):
        raise UserError(f"{path}: expected a JSON object with `outputs` (Sobol indices per output)")
    return data


def load_analysis(results_dir: str | Path) -> dict | None:
    """The deal-space analysis (`analysis.json`) of a results folder, if it holds one."""
    path = Path(results_dir) / "analysis.json"
    if not path.is_file():
        return None
    data = _read_json(path)
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    return data


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
    _suptitle(fig, f"Time to agreement over {total:,} runs", manifest)
    return fig


# ---------------------------------------------------------------------------------------------
# Sweeps: agreement probability against the swept parameters


def wilson_band(successes: ArrayLike, n: ArrayLike, z: float = 1.959964) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (95% by default) for arrays of counts; (0, 1) where n is 0."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    safe = np.where(n > 0, n, 1.0)
    p = k / safe
    denom = 1 + z * z / safe
    centre = (p + z * z / (2 * safe)) / denom
    half = z * np.sqrt(p * (1 - p) / safe + z * z / (4 * safe * safe)) / denom
    low = np.where(n > 0, np.maximum(0.0, centre - half), 0.0)
    high = np.where(n > 0, np.minimum(1.0, centre + half), 1.0)
    return low, high


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
    low, high = wilson_band(k, n)
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


def parameter_label(path: str, manifest: Mapping[str, Any]) -> str:
    """A dotted scenario path in words: `actors.beta.weights.north` -> `Beta: weight of North`."""
    names = _actor_names(manifest)
    issues = {i["id"]: i.get("name") or i["id"] for i in manifest.get("issues", []) if "id" in i}
    parts = str(path).replace("[", ".").replace("]", "").split(".")
    if len(parts) >= 3 and parts[0] == "actors":
        who = names.get(parts[1], parts[1])
        rest = parts[2:]
        if rest[0] == "weights" and len(rest) == 2:
            return f"{who}: weight of {issues.get(rest[1], rest[1])}"
        if rest[0] == "reservation":
            return f"{who}: reservation value"
        if rest[0] == "values" and len(rest) >= 4 and rest[2] == "options":
            return f"{who}: value of {issues.get(rest[1], rest[1])} = {_humanise(rest[3])}"
        if rest[0] == "strategy" and len(rest) >= 2:
            return f"{who}: strategy {_humanise(rest[1])}"
        return f"{who}: {' '.join(_humanise(r) for r in rest)}"
    if parts[0] == "protocol" and len(parts) == 2:
        return f"protocol: {_humanise(parts[1])}"
    return str(path)


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
    return _wrap(f"{parameter_label(path, manifest)} ({_parameter_unit(path)})", width)


def _draw_rate_line(ax, table: pd.DataFrame, categorical: bool) -> None:
    x = np.arange(len(table)) if categorical else table["x"].to_numpy(float)
    ax.fill_between(x, table["low"], table["high"], color=_OUTCOME_COLOUR, alpha=0.18, linewidth=0,
                    label="95% Wilson interval", gid="wilson_band")
    ax.plot(x, table["low"], color=_OUTCOME_COLOUR, linewidth=0.8, alpha=0.6, gid="wilson_low")
    ax.plot(x, table["high"], color=_OUTCOME_COLOUR, linewidth=0.8, alpha=0.6, gid="wilson_high")
    ax.plot(x, table["rate"], color="black", linewidth=2, marker="o", markersize=4.5,
            label="agreement probability", gid="agreement_rate")
    if categorical:
        ax.set_xticks(x, [_wrap(lbl, 12) for lbl in table["label"]])
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
        fig, (ax,) = _new_figure(1)
        ax.set_gid("sweep")
        _empty_note(ax, "no swept parameter with runs to show")
        _suptitle(fig, "Agreement probability across the sweep", manifest)
        return fig

    if len(paths) == 1:
        fig, (ax,) = _new_figure(1)
        ax.set_gid("sweep")
        table = agreement_by_parameter(runs, points, paths[0])
        categorical = not pd.api.types.is_numeric_dtype(points[paths[0]])
        _draw_rate_line(ax, table, categorical)
        ax.set_xlabel(_axis_text(paths[0], manifest, 80))
        ax.set_ylabel("agreement probability (% of runs)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, frameon=False,
                  fontsize=_LABEL_SIZE - 1)
        ax.set_title(f"{how}; each value pools {int(table['runs'].min()):,}–{int(table['runs'].max()):,} runs"
                     if table["runs"].nunique() > 1 else f"{how}; {int(table['runs'].iloc[0]):,} runs per value",
                     fontsize=_LABEL_SIZE)
        _suptitle(fig, "Agreement probability against the swept parameter", manifest)
        return fig

    if len(paths) == 2:
        fig, (ax,) = _new_figure(1)
        ax.set_gid("sweep_heatmap")
        grid = agreement_grid(runs, points, paths[0], paths[1])
        rate = grid["rate"]
        # Cividis reads in grey and under colour-vision deficiencies; cells without runs are grey.
        cmap = matplotlib.colormaps["cividis"].with_extremes(bad="#DDDDDD")
        image = ax.imshow(np.ma.masked_invalid(rate), origin="lower", aspect="auto", cmap=cmap,
                          vmin=0, vmax=1, interpolation="nearest", gid="agreement_rate")
        ny, nx = rate.shape
        ax.set_xticks(np.arange(nx), [_wrap(lbl, 10) for lbl in grid["x_labels"]],
                      fontsize=_LABEL_SIZE - (2 if nx > 8 else 1))
        ax.set_yticks(np.arange(ny), grid["y_labels"], fontsize=_LABEL_SIZE - (2 if ny > 8 else 1))
        if nx * ny <= 64:
            for (j, i), value in np.ndenumerate(rate):
                if np.isnan(value):
                    continue
                # Light text on the dark (low) end of cividis, dark text on the light end.
                ax.text(i, j, f"{value:.0%}", ha="center", va="center", fontsize=_LABEL_SIZE - 1,
                        color="white" if value < 0.55 else "black", gid="cell_label")
        ax.set_xlabel(_axis_text(paths[0], manifest, 70))
        ax.set_ylabel(_axis_text(paths[1], manifest, 30))
        bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
        bar.set_label("agreement probability (% of runs)")
        bar.ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        n_cell = grid["runs"][grid["runs"] > 0]
        ax.set_title(f"{how}; {int(n_cell.min()):,}–{int(n_cell.max()):,} runs per cell"
                     if n_cell.size and n_cell.min() != n_cell.max()
                     else f"{how}; {int(n_cell.max()) if n_cell.size else 0:,} runs per cell", fontsize=_LABEL_SIZE)
        _suptitle(fig, "Agreement probability over two swept parameters", manifest)
        return fig

    shown = paths[:9]
    ncols = len(shown) if len(shown) <= 3 else (2 if len(shown) == 4 else 3)
    nrows = -(-len(shown) // ncols)
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
    for ax, path in zip(axes, shown):
        ax.set_gid(f"sweep:{path}")
        table = agreement_by_parameter(runs, points, path, max_levels=8)
        _draw_rate_line(ax, table, not pd.api.types.is_numeric_dtype(points[path]))
        ax.set_xlabel(_axis_text(path, manifest, 30 if ncols == 3 else 46), fontsize=_LABEL_SIZE - 2)
        ax.tick_params(labelsize=_LABEL_SIZE - 2)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    for ax in axes[::ncols]:
        ax.set_ylabel("agreement\nprobability (%)", fontsize=_LABEL_SIZE - 1)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False, fontsize=_LABEL_SIZE - 1)
    more = f"; first 9 of {len(paths)} parameters" if len(paths) > 9 else ""
    _suptitle(fig, f"Agreement probability by parameter, pooled over the others ({how}{more})", manifest)
    return fig


# ---------------------------------------------------------------------------------------------
# Sensitivity: Sobol indices


def _output_title(key: str, manifest: Mapping[str, Any]) -> str:
    if key == "agreement_rate":
        return "Agreement rate"
    if key.startswith("utility_"):
        aid = key.removeprefix("utility_")
        return f"Utility of {_actor_names(manifest).get(aid, aid)}"
    return _humanise(key).capitalize()


def sensitivity_outputs(manifest: Mapping[str, Any], sensitivity: Mapping[str, Any]) -> list[str]:
    """Output keys in display order: agreement rate, utilities in actor order, then the rest."""
    outputs = list((sensitivity.get("outputs") or {}).keys())
    actors = [f"utility_{a}" for a in _actor_ids(manifest, pd.DataFrame())]
    first = [k for k in ["agreement_rate", *actors] if k in outputs]
    return first + sorted(k for k in outputs if k not in first)


def _float(value: Any) -> float:
    """A JSON number as a float; None (a non-finite estimate) and non-numbers as NaN."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def noisy_indices(sensitivity: Mapping[str, Any], tol: float = 0.05) -> list[tuple[str, str, str, float]]:
    """(output, parameter, what, value) for every estimate that cannot be true: negative, above 1, or first > total."""
    out = []
    for key, idx in (sensitivity.get("outputs") or {}).items():
        first = idx.get("first_order") or {}
        total = idx.get("total") or {}
        for kind, values in (("first_order", first), ("total", total)):
            out += [(key, p, kind, _float(v)) for p, v in values.items() if _float(v) < 0]
        out += [(key, p, "first>total", _float(first[p])) for p in first
                if p in total and _float(first[p]) > _float(total[p]) + tol]
        for kind, values in (("first_order", first), ("total", total)):
            out += [(key, p, f"{kind}>1", _float(v)) for p, v in values.items() if _float(v) > 1 + tol]
    return out


def sensitivity_figure(manifest: Mapping[str, Any], sensitivity: Mapping[str, Any]) -> Figure:
    """Sobol first-order and total indices per parameter (grouped bars), one panel per output."""
    outputs = sensitivity_outputs(manifest, sensitivity)
    data = sensitivity.get("outputs") or {}
    params = [str(p) for p in sensitivity.get("parameters") or []]
    for key in outputs:
        for kind in ("first_order", "total"):
            params += [p for p in (data[key].get(kind) or {}) if p not in params]

    n_out = max(1, len(outputs))
    ncols = n_out if n_out <= 3 else (2 if n_out == 4 else 3)
    nrows = -(-n_out // ncols)
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True).ravel()
    if not outputs or not params:
        axes[0].set_gid("sensitivity")
        _empty_note(axes[0], "no Sobol indices to show")
        for ax in axes[1:]:
            ax.set_visible(False)
        _suptitle(fig, "Sensitivity: Sobol indices", manifest)
        return fig

    y = np.arange(len(params))
    h = 0.38
    lowest, highest = 0.0, 1.0
    noisy = noisy_indices(sensitivity)
    annotate = len(params) <= 6 and n_out <= 6
    for ax, key in zip(axes, outputs):
        ax.set_gid(f"sensitivity:{key}")
        for kind, shift, colour, label in (("first_order", -h / 2, _OUTCOME_COLOUR, "first-order index (alone)"),
                                           ("total", h / 2, "#B3B3B3", "total index (with interactions)")):
            values = data[key].get(kind) or {}
            x = np.array([_float(values.get(p)) for p in params])
            conf = data[key].get(f"{kind}_conf") or {}
            err = np.array([_float(conf.get(p)) for p in params]) if conf else None
            ax.barh(y + shift, np.nan_to_num(x), height=h, color=colour, label=label, gid=kind,
                    xerr=err, error_kw={"elinewidth": 0.9, "ecolor": "#333333", "capsize": 2})
            finite = x[np.isfinite(x)]
            if finite.size:
                lowest, highest = min(lowest, float(finite.min())), max(highest, float(finite.max()))
            if annotate:
                for yy, v in zip(y + shift, x):
                    if np.isfinite(v):
                        ax.text(max(v, 0) + 0.015, yy, f"{v:.2f}", va="center", ha="left",
                                fontsize=_LABEL_SIZE - 3, color=_NOTE_COLOUR)
        if not any(np.isfinite(_float(v)) for kind in ("first_order", "total")
                   for v in (data[key].get(kind) or {}).values()):
            # scipy gives NaN when the output never varies: there is no variance to apportion.
            ax.text(0.5, 0.5, "constant over the sample:\nno variance to apportion", transform=ax.transAxes,
                    ha="center", va="center", fontsize=_LABEL_SIZE - 1, color=_NOTE_COLOUR, gid="constant")
        ax.axvline(0, color="#333333", linewidth=0.8)
        ax.set_title(_output_title(key, manifest), fontsize=_LABEL_SIZE + 1)
        ax.grid(axis="x", color="#E5E5E5", linewidth=0.8)
        ax.set_axisbelow(True)
    ax0 = axes[0]
    ax0.set_yticks(y, [_wrap(parameter_label(p, manifest), 26) for p in params],
                   fontsize=_LABEL_SIZE - (2 if len(params) > 5 else 1))
    ax0.invert_yaxis()
    ax0.set_xlim(min(0.0, lowest) - 0.05, max(1.0, highest) + (0.12 if annotate else 0.05))
    for ax in axes[len(outputs):]:
        ax.set_visible(False)
    for i, ax in enumerate(axes[:len(outputs)]):
        if i >= len(outputs) - ncols:  # the lowest visible panel of each column
            ax.set_xlabel("Sobol index (share of output variance)", fontsize=_LABEL_SIZE - 1)
            ax.xaxis.set_tick_params(labelbottom=True)
    handles, labels = ax0.get_legend_handles_labels()
    note = ""
    if noisy:
        what = {"first_order": "first-order", "total": "total", "first>total": "first-order above total",
                "first_order>1": "first-order above 1", "total>1": "total above 1"}
        cases = "; ".join(f"{_output_title(o, manifest).lower()}, {parameter_label(p, manifest)}: {what[k]} {v:.2f}"
                          for o, p, k, v in noisy[:3]) + ("; …" if len(noisy) > 3 else "")
        note = (f"Note: {len(noisy)} estimate{'s' if len(noisy) > 1 else ''} cannot be true ({cases}). "
                "True indices lie in [0, 1] with first-order ≤ total: read these as sampling noise; "
                "more evaluations narrow them.")
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False, fontsize=_LABEL_SIZE - 1,
               title=_wrap(note, 125) if note else None, title_fontsize=_LABEL_SIZE - 2)
    evals = sensitivity.get("n_evaluations")
    sub = f" from {int(evals):,} model evaluations" if evals else ""
    if sensitivity.get("runs"):
        sub += f", {int(sensitivity['runs']):,} runs each"
    _suptitle(fig, f"Sensitivity: Sobol indices per parameter{sub}", manifest)
    return fig


# ---------------------------------------------------------------------------------------------
# Deal space: Pareto frontier and bargaining solutions


# Nash is a filled star; the others are hollow and larger, so solutions that coincide nest
# inside each other instead of hiding one another.
_SOLUTIONS = (
    ("nash", "Nash bargaining solution", "*", 200),
    ("kalai_smorodinsky", "Kalai–Smorodinsky solution", "D", 230),
    ("utilitarian", "Utilitarian (max sum, signatories)", "s", 380),
)


def _pareto_2d(points: np.ndarray) -> np.ndarray:
    """The points no other point beats on both coordinates, sorted by the first coordinate."""
    if not len(points):
        return points
    order = np.lexsort((-points[:, 1], -points[:, 0]))
    best_y = -np.inf
    keep = []
    for i in order:
        if points[i, 1] > best_y + 1e-12:
            keep.append(i)
            best_y = points[i, 1]
    out = points[keep]
    return out[np.argsort(out[:, 0])]


def frontier_pairs(actors: Sequence[str], signatories: Sequence[str], max_panels: int = 6) -> list[tuple[str, str]]:
    """Which actor pairs get a panel: every pair if few, else the signatories' pairs."""
    all_pairs = [(a, b) for i, a in enumerate(actors) for b in actors[i + 1:]]
    sig = [a for a in actors if a in set(signatories)]
    sig_pairs = [(a, b) for i, a in enumerate(sig) for b in sig[i + 1:]]
    if len(actors) <= 3 or not sig_pairs:
        return all_pairs[:max_panels]
    return sig_pairs[:max_panels]


def frontier_figure(manifest: Mapping[str, Any], frontier: ArrayLike, reservations: Mapping[str, float] | ArrayLike,
                    analysis: Mapping[str, Any] | None = None, actors: Sequence[str] | None = None) -> Figure:
    """Pairwise projections of the Pareto frontier with Nash, Kalai–Smorodinsky and the proposals.

    frontier: (F, A) utilities of the frontier's points, columns in `actors` order (default: the
    analysis's `actors`, else the manifest's). reservations: per actor (mapping, or aligned with
    actors), drawn as dashed lines. analysis: `analysis_json` output (solutions, proposals).
    """
    analysis = analysis or {}
    actors = list(actors or analysis.get("actors") or _actor_ids(manifest, pd.DataFrame()))
    util = np.asarray(frontier, dtype=float)
    if util.size and (util.ndim != 2 or util.shape[1] != len(actors)):
        raise UserError(f"frontier utilities: expected one column per actor ({len(actors)}: {', '.join(actors)}), "
                        f"got an array of shape {util.shape}")
    util = util.reshape(-1, max(1, len(actors)))
    if isinstance(reservations, Mapping):
        res = {a: float(reservations[a]) for a in actors if a in reservations}
    else:
        res = {a: float(r) for a, r in zip(actors, np.asarray(reservations, dtype=float).ravel())}
    signatories = list(analysis.get("signatories") or manifest.get("signatories") or actors)
    pairs = frontier_pairs(actors, signatories)
    names = _actor_names(manifest)
    colours = actor_colours(_actor_ids(manifest, pd.DataFrame()) or actors)
    colours.update({a: c for a, c in actor_colours(actors).items() if a not in colours})

    ncols = min(3, max(1, len(pairs)))
    nrows = -(-max(1, len(pairs)) // ncols)
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    if not pairs or not len(util):
        axes[0].set_gid("frontier")
        _empty_note(axes[0], "no frontier to show" if pairs else "need at least two actors")
        _suptitle(fig, "Deal space: Pareto frontier", manifest)
        return fig

    proposals = [p for p in analysis.get("proposals") or [] if isinstance(p.get("utilities"), Mapping)]
    for ax, (a, b) in zip(axes, pairs):
        ia, ib = actors.index(a), actors.index(b)
        ax.set_gid(f"frontier:{a}:{b}")
        xy = util[:, [ia, ib]]
        ax.scatter(xy[:, 0], xy[:, 1], s=14 if len(xy) < 500 else 4, color="#8C8C8C", alpha=0.6, linewidths=0,
                   rasterized=len(xy) > 2000,
                   label="Pareto-optimal deals (all actors), projected", gid="frontier_points")
        edge = _pareto_2d(xy)
        ax.step(edge[:, 0], edge[:, 1], where="pre", color="#4D4D4D", linewidth=1.2,
                label="best trade-off for this pair", gid="frontier_edge")
        for actor, along in ((a, "x"), (b, "y")):
            if actor in res:
                line = ax.axvline if along == "x" else ax.axhline
                line(res[actor], color=colours.get(actor, "black"), linestyle="--", linewidth=1.4,
                     gid=f"reservation:{actor}", label="reservation value (no deal), actor's colour")
        for key, label, marker, size in _SOLUTIONS:
            sol = analysis.get(key)
            if not isinstance(sol, Mapping) or not isinstance(sol.get("utilities"), Mapping):
                continue
            u = sol["utilities"]
            if a in u and b in u:
                # Hollow marks for the others, so a solution that coincides with Nash stays visible.
                ax.scatter([u[a]], [u[b]], s=size, marker=marker, facecolor="black" if key == "nash" else "none",
                           edgecolor="black", linewidths=1.3, zorder=5 if key == "nash" else 6, label=label, gid=key)
        for k, prop in enumerate(proposals, start=1):
            u = prop["utilities"]
            if a in u and b in u:
                ax.scatter([u[a]], [u[b]], s=150, marker="o", color="white", edgecolor=_NOTE_COLOUR,
                           linewidths=1.2, zorder=6, gid=f"proposal:{prop.get('id', k)}")
                ax.annotate(str(k), (u[a], u[b]), ha="center", va="center", fontsize=_LABEL_SIZE - 3,
                            fontweight="bold", color="black", zorder=7, gid=f"proposal_label:{prop.get('id', k)}")
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(f"utility of {names.get(a, a)} (0–1)", color=colours.get(a, "black"), fontsize=_LABEL_SIZE - 1)
        ax.set_ylabel(f"utility of {names.get(b, b)} (0–1)", color=colours.get(b, "black"), fontsize=_LABEL_SIZE - 1)
        ax.tick_params(labelsize=_LABEL_SIZE - 2)
        ax.grid(color="#EEEEEE", linewidth=0.8)
        ax.set_axisbelow(True)
    for ax in axes[len(pairs):]:
        ax.set_visible(False)

    # One legend for all panels: each kind of mark once, then the numbered proposals.
    seen: dict[str, Any] = {}
    for ax in axes[:len(pairs)]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    if "reservation value (no deal), actor's colour" in seen:
        seen["reservation value (no deal), actor's colour"] = Line2D([], [], color="black", linestyle="--")
    for key, label, marker, _ in _SOLUTIONS:
        if label in seen:  # one legend size for all three, whatever their size on the axes
            seen[label] = Line2D([], [], linestyle="none", marker=marker, markersize=11 if key == "nash" else 8,
                                 markerfacecolor="black" if key == "nash" else "none", markeredgecolor="black")
    # Few panels leave room on the right; three in a row leave it below.
    side = len(pairs) <= 2
    for k, prop in enumerate(proposals, start=1):
        text = str(prop.get("name") or prop.get("id"))  # the marker is the number
        refuse = [x for x in prop.get("below_reservation") or [] if x in signatories]
        if refuse:
            text += f" — below the reservation value of {', '.join(names.get(x, x) for x in refuse)}"
        seen[_wrap(text, 52 if side else 60)] = Line2D([], [], linestyle="none", marker=f"${k}$", markersize=7,
                                                       color="black")
    fig.legend(list(seen.values()), list(seen.keys()), loc="outside right center" if side else "outside lower center",
               frameon=False, ncols=1 if side else (2 if len(seen) > 4 else len(seen)),
               fontsize=_LABEL_SIZE - 3 if len(seen) > 8 else _LABEL_SIZE - 2)
    size = analysis.get("pareto_size")
    sub = f"{int(size):,} Pareto-optimal deals" if size is not None else f"{len(util):,} frontier points"
    if analysis.get("exact") is False:
        sub += " (approximate frontier)"
    _suptitle(fig, f"Deal space: {sub}, bargaining solutions and named proposals", manifest)
    return fig


# ---------------------------------------------------------------------------------------------
# One run's trajectory


def pick_run(runs: pd.DataFrame, rounds: pd.DataFrame | None = None, run: int | None = None,
             point: int | None = None) -> tuple[int, int]:
    """(point, run) to show: the given run, else the first run that agreed, else the first run."""
    if run is not None:
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
    keys = [c for c in ("point", "run") if c in runs.columns]
    order = runs.sort_values(keys) if len(runs) and keys else runs
    if point is not None and "point" in order.columns:
        order = order[order["point"] == int(point)]
    if rounds is not None and not rounds.empty and "run" in keys and set(keys) <= set(rounds.columns):
        # Only runs whose rounds were recorded (an inner merge keeps the left order).
        order = order.merge(rounds[keys].drop_duplicates(), on=keys, how="inner")
    if order.empty:
        return (0 if point is None else int(point)), 0
    agreed = order[order["outcome"] == "agreement"] if "outcome" in order.columns else order.iloc[0:0]
    row = (agreed if len(agreed) else order).iloc[0]
    return int(row.get("point", 0)), int(row["run"])


def run_rounds(rounds: pd.DataFrame, point: int, run: int) -> pd.DataFrame:
    """The rounds table of one run, sorted by round."""
    sel = rounds["run"] == run
    if "point" in rounds.columns:
        sel &= rounds["point"] == point
    return rounds[sel].sort_values(["round"], kind="stable")


def _ending(manifest: Mapping[str, Any], row: Mapping[str, Any] | None) -> tuple[str, int | None]:
    if row is None:
        return "", None
    names = _actor_names(manifest)
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
    fig, (ax_front, ax_pos) = _new_figure(2, width_ratios=(1, 1.25))
    ax_front.set_gid("front")
    ax_pos.set_gid("positions")
    if rounds is None or rounds.empty:
        _empty_note(ax_front, "no rounds recorded")
        _empty_note(ax_pos, "no rounds recorded")
        _suptitle(fig, "One run, round by round", manifest)
        return fig
    pt, rid = pick_run(runs, rounds, run, point)
    table = run_rounds(rounds, pt, rid)
    match = runs[(runs["run"] == rid) & ((runs["point"] == pt) if "point" in runs.columns else True)] \
        if "run" in runs.columns else runs.iloc[0:0]
    row = match.iloc[0].to_dict() if len(match) else None
    ending, end = _ending(manifest, row)

    region_names = {r["id"]: r.get("name") or r["id"] for r in _territories(manifest)}
    names = _actor_names(manifest)
    lines = front_lines(list(table.columns), list(region_names))
    per_round = table.drop_duplicates("round", keep="first")
    if not lines:
        _empty_note(ax_front, "no regions in this scenario" if not region_names else
                    "no front-line data\n(no territorial issues recorded)")
    else:
        x = per_round["round"].to_numpy(int)
        moved = False
        for k, (reg, holder, column) in enumerate(lines):
            colour, style, marker = _REGION_STYLES[k % len(_REGION_STYLES)]
            share = 100 * per_round[column].to_numpy(float)
            moved |= bool(np.ptp(share) > 1e-9) if share.size else False
            label = f"{region_names.get(reg, reg)}: {names.get(holder, holder)}"
            ax_front.plot(x, share, color=colour, linestyle=style, marker=marker, markersize=3.5,
                          markevery=max(1, len(x) // 12), linewidth=1.6, label=_wrap(label, 24),
                          gid=f"front:{reg}:{holder}")
        ax_front.set_ylim(-2, 102)  # a region held whole stays visible above the frame
        ax_front.set_xlabel("round")
        ax_front.set_ylabel("share of the region held (%)")
        ax_front.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_front.grid(color="#EEEEEE", linewidth=0.8)
        ax_front.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=min(2, len(lines)),
                        frameon=False, fontsize=_LABEL_SIZE - 2)
        if not moved:
            ax_front.text(0.5, 0.97, "front line unchanged in this run", transform=ax_front.transAxes,
                          ha="center", va="top", fontsize=_LABEL_SIZE - 2, color=_NOTE_COLOUR)
    ax_front.set_title("Front line" if lines or region_names else "Land", fontsize=_LABEL_SIZE + 1)

    all_actors = _actor_ids(manifest, runs)
    colours = actor_colours(all_actors + [a for a in pd.unique(table["actor"]) if a not in all_actors])
    names = _actor_names(manifest)
    order = [a for a in all_actors if a in set(table["actor"])] + \
        [a for a in pd.unique(table["actor"]) if a not in all_actors]
    handles = []
    for a in order:
        mine = table[table["actor"] == a]
        x = mine["round"].to_numpy(int)
        # A run of one or two rounds has no line to speak of: markers keep it visible.
        dots = {"marker": "o", "markersize": 5} if len(x) <= 2 else {}
        ax_pos.plot(x, mine["aspiration"].to_numpy(float), color=colours[a], linewidth=2, gid=f"aspiration:{a}",
                    **dots)
        ax_pos.plot(x, mine["reservation"].to_numpy(float), color=colours[a], linewidth=1.6, linestyle="--",
                    gid=f"reservation:{a}", **dots)
        handles.append(Line2D([], [], color=colours[a], linewidth=3, label=_wrap(names.get(a, a), 22)))
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
    ax_pos.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14),
                  ncols=min(3, max(2, len(handles) // 2)), frameon=False, fontsize=_LABEL_SIZE - 2)
    ax_pos.set_title("Aspiration (solid) and reservation value (dashed)", fontsize=_LABEL_SIZE + 1)

    if end is not None:
        for ax in (ax_front, ax_pos):
            if ax.has_data():
                ax.axvline(end, color="black", linestyle=":", linewidth=1.4, gid="end")
        lo, hi = ax_pos.get_xlim()
        left = end > (lo + hi) / 2  # text on whichever side of the marker has room
        ax_pos.annotate(ending, xy=(end, 0.985), xycoords=ax_pos.get_xaxis_transform(), xytext=(-5 if left else 5, 0),
                        textcoords="offset points", ha="right" if left else "left", va="top",
                        fontsize=_LABEL_SIZE - 2, color="black", gid="ending",
                        bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "#BBBBBB"})
    where = f"run {rid}" + (f" of point {pt}" if "point" in runs.columns and runs["point"].nunique() > 1 else "")
    _suptitle(fig, f"One run round by round ({where}): {ending or 'outcome unknown'}", manifest)
    return fig


# ---------------------------------------------------------------------------------------------
# Driver


FIGURES = ("outcomes", "utilities", "regions", "time_to_agreement", "sweep", "sensitivity", "frontier",
           "trajectory")


def figure_plans(results_dir: str | Path, run: int | None = None,
                 sensitivity: str | Path | None = None) -> list[tuple[str, Any]]:
    """(file stem, zero-argument function drawing the figure) for every figure the folder supports.

    Reading happens here, drawing only when a function is called, so a caller can draw one
    figure at a time (and free it) however many there are. sensitivity: a `sensitivity.json`
    elsewhere than in the folder. results_dir may also be a sensitivity JSON file by itself.
    """
    root = Path(results_dir)
    if root.is_file() and root.suffix == ".json":
        alone = load_sensitivity(root)
        if run is not None:
            raise UserError(f"--run: {root} is a sensitivity file; it has no runs")
        bare = {"scenario": {"name": alone.get("scenario") or ""}}
        return [("sensitivity", lambda: sensitivity_figure(bare, alone))]
    if sensitivity is not None:
        given = Path(sensitivity)
        if not given.exists():
            raise UserError(f"--sensitivity: {given} does not exist")
        sensitivity = load_sensitivity(given)
    else:
        sensitivity = load_sensitivity(root) if root.is_dir() else None
    analysis = load_analysis(root) if root.is_dir() else None
    if not (root / "runs.parquet").is_file() and (sensitivity or analysis) and (root / "manifest.json").is_file():
        # A sensitivity or analysis folder need not hold runs of its own.
        manifest = _read_json(root / "manifest.json")
        runs, rounds = pd.DataFrame(), None
    else:
        manifest, runs, rounds = load_results(root)
    points = load_points(root)

    cols = set(runs.columns)
    plans: list[tuple[str, Any]] = []
    if "outcome" in cols:
        plans.append(("outcomes", lambda: outcome_figure(manifest, runs)))
    if any(c.startswith("utility_") for c in cols):
        plans.append(("utilities", lambda: utility_figure(manifest, runs)))
    if any(f"deal_{r['id']}" in cols for r in _territories(manifest)):
        plans.append(("regions", lambda: region_figure(manifest, runs)))
    if {"outcome", "round"} <= cols:
        plans.append(("time_to_agreement", lambda: survival_figure(manifest, runs)))
    if points is not None and {"outcome", "point"} <= cols and len(points.columns) > 1:
        plans.append(("sweep", lambda: sweep_figure(manifest, runs, points)))
    if sensitivity is not None:
        plans.append(("sensitivity", lambda: sensitivity_figure(manifest, sensitivity)))
    if analysis is not None and analysis.get("frontier_utilities") is not None:
        plans.append(("frontier", lambda: frontier_figure(
            manifest, analysis["frontier_utilities"], analysis.get("reservations") or {}, analysis,
            analysis.get("actors"))))
    has_rounds = rounds is not None and not rounds.empty and "run" in rounds.columns
    if run is not None and not has_rounds:
        raise UserError(f"--run: {root} has no rounds to show (rounds.parquet is missing or empty)")
    if has_rounds:
        pick_run(runs, rounds, run)  # an unknown --run fails before any file is written
        plans.append(("trajectory", lambda: trajectory_figure(manifest, runs, rounds, run)))
    return plans


def save_figure(fig: Figure, path: Path, fmt: str, dpi: int = DPI) -> None:
    """Write a figure and free it; fixed metadata keeps svg/pdf output byte-stable."""
    try:
        meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {})
        fig.savefig(path, format=fmt, dpi=dpi, metadata=meta)
    finally:
        fig.clear()


def plot_results(results_dir: str | Path, fmt: str = "png", out: str | Path | None = None,
                 run: int | None = None, *, sensitivity: str | Path | None = None, dpi: int = DPI) -> list[Path]:
    """Draw every figure the results support into OUT (default RESULTS/figures); return the paths.

    run: the run id whose trajectory to draw (default: the first run that reached agreement,
    else the first run). sensitivity: a sensitivity JSON file kept outside the folder.
    results_dir may be such a JSON file alone (its figure goes beside it, in figures/).
    dpi: resolution of raster output (png).
    """
    if fmt not in FORMATS:
        raise UserError(f"--format: unknown figure format {fmt!r} (known: {', '.join(FORMATS)})")
    plans = figure_plans(results_dir, run, sensitivity)
    root = Path(results_dir)
    target = Path(out) if out is not None else (root.parent if root.is_file() else root) / "figures"
    if target.exists() and not target.is_dir():
        raise UserError(f"--out: {target} exists and is not a folder")
    target.mkdir(parents=True, exist_ok=True)

    written = []
    for stem, draw in plans:
        path = target / f"{stem}.{fmt}"
        save_figure(draw(), path, fmt, dpi)
        written.append(path)
    _own(root, written)
    return written


def _own(root: Path, paths: list[Path]) -> None:
    """Record files written inside a results folder as negsim's (so --force may replace them)."""
    from sim.results import ResultsFolder

    if root.is_dir():
        inside = [p for p in paths if p.resolve().is_relative_to(root.resolve())]
        if inside:
            ResultsFolder(root).own(*inside)
