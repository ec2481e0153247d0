"""The figures' shared look: size, colours, outcome names, the blank figure, titles and wording.

Figures are built with `matplotlib.figure.Figure` and an Agg canvas rather than through pyplot,
so drawing one never selects a backend or registers figures in pyplot's global list for whoever
imports the package (a notebook, the CLI, the tests).
"""

from __future__ import annotations

import colorsys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim.plots.load import actor_names

FIGSIZE = (10.0, 5.6)
DPI = 150

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
OPTION_COLOURS = (
    "#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB",
    "#332288", "#882255", "#999933",
)
OUTCOME_COLOUR = "#4D4D4D"
FAMILY_COLOUR = "#8C8C8C"
NOTE_COLOUR = "#555555"

TITLE_SIZE = 13
LABEL_SIZE = 11


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


def new_figure(ncols: int = 1, width_ratios: Sequence[float] | None = None) -> tuple[Figure, list]:
    """A slide-sized figure with one row of `ncols` axes."""
    fig, axes = new_grid(1, ncols, width_ratios=width_ratios)
    return fig, list(axes)


def new_grid(nrows: int, ncols: int, **subplots: Any) -> tuple[Figure, Any]:
    """A slide-sized figure with a grid of axes, flattened in reading order."""
    # Constrained layout (rather than tight_layout) also makes room for legends placed
    # outside the axes, so they never sit on top of the data.
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=False, **subplots).ravel()


def suptitle(fig: Figure, headline: str, manifest: Mapping[str, Any]) -> None:
    """The figure's headline, with the scenario (and its date) below it."""
    sc = manifest.get("scenario") or {}
    sub = sc.get("title") or sc.get("name") or ""
    if sub and sc.get("as_of"):
        sub = f"{sub} (as of {sc['as_of']})"
    fig.suptitle(wrap(headline, 96) + (f"\n{wrap(sub, 100)}" if sub else ""), fontsize=TITLE_SIZE)


def empty_note(ax, text: str) -> None:
    """Say in the middle of empty axes why there is nothing to draw."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes,
            fontsize=LABEL_SIZE, color=NOTE_COLOUR)
    ax.set_xticks([])
    ax.set_yticks([])


def humanise(option_id: str) -> str:
    """An id in words: underscores become spaces."""
    return str(option_id).replace("_", " ")


def wrap(text: str, width: int = 24) -> str:
    """Text broken at spaces into lines of about `width` characters; a word or number is never split."""
    # A longer word keeps its own line: "Zaporizhzhia" cut into "Zaporizhzh/ia", or "0.325" into
    # "0.3/25", reads as something else.
    lines = [textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False) or [line]
             for line in str(text).split("\n")]  # line breaks already in the text are kept
    return "\n".join(part for line in lines for part in line)


def fit_labels(labels: Sequence[str], height_pt: float, max_width: int = 40) -> tuple[list[str], float]:
    """Tick labels of equally spaced rows wrapped (and, if need be, made smaller) to fit, and their font size.

    Each row gets height_pt / len(labels) points; a label gets as many lines as that holds, each
    at most max_width characters, so labels neither overlap each other nor take the panel's width.
    """
    slot = height_pt / max(1, len(labels))
    longest = max((len(text) for text in labels), default=1)
    wrapped: list[str] = list(labels)
    size = LABEL_SIZE - 1
    # Below LABEL_SIZE - 2 a label is no longer legible where the gallery shows figures.
    for size in (LABEL_SIZE - 1, LABEL_SIZE - 2):
        lines = max(1, int(slot * 0.85 // (size * 1.25)))
        width = max(min(20, max_width), min(max_width, -(-longest // lines) + 4))
        wrapped = [wrap(text, width) for text in labels]
        if max((text.count("\n") + 1 for text in wrapped), default=1) <= lines:
            break
    return wrapped, size


def nice_ceiling(value: float, floor: float = 0.05) -> float:
    """An upper axis limit for a share: a little above `value`, on a round step, between `floor` and 1."""
    target = max(float(value) * 1.15, floor)
    step = 0.02 if target <= 0.1 else 0.05 if target <= 0.5 else 0.1
    return min(1.0, round(np.ceil(target / step - 1e-9) * step, 10))


def agreements(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that ended in agreement (none when the table has no outcome)."""
    if "outcome" not in runs.columns:
        return runs.iloc[0:0]
    return runs[runs["outcome"] == "agreement"]


def text_colour_on(background: Any) -> str:
    """Black or white, whichever contrasts more with the background colour (WCAG relative luminance)."""
    channels = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(background)]
    lum = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    return "white" if 1.05 / (lum + 0.05) > (lum + 0.05) / 0.05 else "black"


def annotate_barh(ax, bars, counts: Sequence[int], total: int) -> None:
    """Label horizontal bars with count and share: inside a long bar, just past a short one."""
    top = max([0, *counts])
    for bar, n in zip(bars, counts):
        share = n / total if total else 0.0
        y = bar.get_y() + bar.get_height() / 2
        text = f"{n:,} ({share:.0%})"
        if top and n >= 0.6 * top:
            # Past a long bar the label would run off the axes, so it goes inside, in a colour that reads.
            ax.text(bar.get_width() - top * 0.02, y, text, va="center", ha="right", fontsize=LABEL_SIZE - 1,
                    color=text_colour_on(bar.get_facecolor()), gid="bar_label")
        else:
            ax.text(bar.get_width() + top * 0.02, y, text, va="center", ha="left", fontsize=LABEL_SIZE - 1,
                    gid="bar_label")
    ax.set_xlim(0, max(top, 1) * 1.05)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def parameter_label(path: str, manifest: Mapping[str, Any]) -> str:
    """A dotted scenario path in words: `actors.beta.weights.north` -> `Beta: weight of North`."""
    names = actor_names(manifest)
    issues = {i["id"]: i.get("name") or i["id"] for i in manifest.get("issues", []) if "id" in i}
    parts = str(path).replace("[", ".").replace("]", "").split(".")
    if len(parts) >= 3 and parts[0] == "actors":
        who = names.get(parts[1], parts[1])
        rest = parts[2:]
        if rest[0] == "weights" and len(rest) == 2:
            return f"{who}: weight of {issues.get(rest[1], rest[1])}"
        if rest[0] == "reservation":
            # reservation.value, reservation.premium, and .mean / .sd / .low / .high of either
            what = "reservation value" if len(rest) < 2 or rest[1] == "value" else f"reservation {humanise(rest[1])}"
            return f"{who}: {what}" + (f" ({humanise(rest[2])})" if len(rest) > 2 else "")
        if rest[0] == "values" and len(rest) >= 4 and rest[2] == "options":
            return f"{who}: value of {issues.get(rest[1], rest[1])} = {humanise(rest[3])}"
        if rest[0] == "strategy" and len(rest) >= 2:
            return f"{who}: strategy {humanise(rest[1])}"
        return f"{who}: {' '.join(humanise(r) for r in rest)}"
    if parts[0] == "protocol" and len(parts) == 2:
        return f"protocol: {humanise(parts[1])}"
    return str(path)
