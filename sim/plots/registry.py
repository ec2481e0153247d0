"""The figure registry: every figure a results folder can have, each one entry.

An entry names the figure (its file stem), says what it shows (the report's caption), lists
what it needs from a results folder (keys of NEEDS, each a test on the folder's `FolderData`)
and draws it from that data. `figure_plans`, `plot_results`, the report, the CLI's help and the
tests all read FIGURES, so a new figure is one entry here plus its drawing function. Importing
this module is cheap: a figure's module (and matplotlib) is imported when it is first drawn.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.plots.load import FolderData, discovery_source, territories

#: Image formats `plot_results` writes.
FORMATS = ("png", "svg", "pdf")


@dataclass(frozen=True)
class Need:
    """Something a figure needs from a results folder: what it is, in words, and the test for it."""

    what: str
    present: Callable[[FolderData], bool]


NEEDS: dict[str, Need] = {
    "outcome column": Need("runs with an `outcome` column", lambda d: "outcome" in d.runs.columns),
    "round column": Need("runs with a `round` column", lambda d: "round" in d.runs.columns),
    "utility columns": Need("runs with `utility_<actor>` columns",
                            lambda d: any(str(c).startswith("utility_") for c in d.runs.columns)),
    "region deals": Need("runs with a `deal_<region>` column for a region of the manifest",
                         lambda d: any(f"deal_{r['id']}" in d.runs.columns for r in territories(d.manifest))),
    "sweep points": Need("points.parquet with a swept parameter, runs with a `point` column",
                         lambda d: d.points is not None and len(d.points.columns) > 1 and "point" in d.runs.columns),
    "sensitivity": Need("Sobol indices: sensitivity.json, or --sensitivity FILE",
                        lambda d: d.sensitivity is not None),
    "discovery points": Need("parameter points with their outcomes: a sweep's points.parquet and runs, or a "
                             "sensitivity file's sample points (`samples`)",
                             lambda d: discovery_source(d) is not None),
    "leverage result": Need("leverage.json (`negsim leverage --out RESULTS`), or that file alone",
                            lambda d: d.leverage is not None),
    "analysis frontier": Need("analysis.json with the frontier's utilities",
                              lambda d: d.analysis is not None and d.analysis.get("frontier_utilities") is not None),
    "rounds table": Need("rounds.parquet with rows",
                         lambda d: d.rounds is not None and not d.rounds.empty and "run" in d.rounds.columns),
}


@dataclass(frozen=True)
class FigureEntry:
    """One figure: file stem, caption, what it needs from a results folder, and how it is drawn."""

    name: str
    caption: str
    needs: tuple[str, ...]
    draw: Callable[[FolderData], Any]  # FolderData -> matplotlib Figure

    def drawable(self, data: FolderData) -> bool:
        """Whether the folder holds everything this figure needs."""
        return all(NEEDS[need].present(data) for need in self.needs)


def _discovery(data: FolderData) -> dict:
    """The folder's scenario discovery at the default level (computed once per folder; see folder_discovery)."""
    from sim.insight.figdata import folder_discovery

    return folder_discovery(discovery_source(data))


def _drawn_by(target: str) -> Callable[..., Any]:
    """The drawing function at "module:function" inside sim.plots, imported on first use."""
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(f"sim.plots.{module}"), function)


#: Every figure, in the order they are drawn and shown.
FIGURES: dict[str, FigureEntry] = {entry.name: entry for entry in (
    FigureEntry(
        "outcomes", "How the runs ended, and which named proposal each agreement is nearest to.",
        ("outcome column",),
        lambda d: _drawn_by("outcomes:outcome_figure")(d.manifest, d.runs)),
    FigureEntry(
        "utilities", "What each actor gets: its utility of the agreed deal in the runs that agreed (of the last "
                     "text on the table when none did), with its reservation value (what no deal is worth to it) "
                     "marked.",
        ("utility columns",),
        lambda d: _drawn_by("outcomes:utility_figure")(d.manifest, d.runs)),
    FigureEntry(
        "regions", "What each region becomes in the agreements, and how much territory changes hands.",
        ("region deals",),
        lambda d: _drawn_by("regions:region_figure")(d.manifest, d.runs)),
    FigureEntry(
        "time_to_agreement", "How long agreement takes: share of all runs agreed by each date, with its 95% "
                             "Wilson interval (and, when some runs end in a ceasefire without settlement, the "
                             "share signed by each date, on its own scale).",
        ("outcome column", "round column"),
        lambda d: _drawn_by("outcomes:time_to_agreement_figure")(d.manifest, d.runs)),
    FigureEntry(
        "sweep", "Agreement probability across the swept parameters, with 95% Wilson intervals. Runs of "
                 "parameter points with the same value (or in the same bin of a sampled value) are pooled, "
                 "and the title says how many points and runs each value pools; two sampled parameters "
                 "show one marker per point instead.",
        ("outcome column", "sweep points"),
        lambda d: _drawn_by("sweep:sweep_figure")(d.manifest, d.runs, d.points)),
    FigureEntry(
        "discovery", "Scenario discovery: PRIM boxes (Friedman & Fisher 1999) of the inputs' ranges where a "
                     "parameter point's full-agreement rate is at least the median over the points (or, when more "
                     "than half share the lowest rate, above it; the title gives the level). Left, the peeling's "
                     "trade-off: coverage (share of the points of interest inside the box) against density (share "
                     "of the box's points that are of interest); right, the part of each restricted input's "
                     "sampled values each box keeps, with the p-value of the restriction.",
        ("discovery points",),
        lambda d: _drawn_by("discovery:discovery_figure")(d.manifest, _discovery(d))),
    FigureEntry(
        "discovery_map", "Scenario discovery: every parameter point on the two inputs its first box restricts most "
                         "significantly (one input: against the point's full-agreement rate), coloured by that "
                         "rate, points of interest ringed, and the first PRIM box drawn on those two inputs.",
        ("discovery points",),
        lambda d: _drawn_by("discovery:discovery_map_figure")(d.manifest, _discovery(d))),
    FigureEntry(
        "sensitivity", "Which uncertain numbers matter: Sobol first-order (alone) and total (with interactions) "
                       "indices per output, each with its 95% bootstrap interval; the title gives the convergence "
                       "verdict (converged: the indices from half the base points lie within the intervals, and "
                       "no interval is wider than the file's limit).",
        ("sensitivity",),
        lambda d: _drawn_by("sensitivity:sensitivity_figure")(d.manifest, d.sensitivity)),
    FigureEntry(
        "leverage", "Leverage: how the probabilities of full agreement and of signing (agreement or ceasefire) by "
                    "the horizon move when one actor's weight on one issue is multiplied by a factor, or its "
                    "position there moves towards the others' mean values (or hardens); above, each probability "
                    "with its 95% Wilson interval, below, its change against the scenario as written on the same "
                    "runs, with Newcombe's 95% interval for paired proportions.",
        ("leverage result",),
        lambda d: _drawn_by("leverage:leverage_figure")(d.manifest, d.leverage)),
    FigureEntry(
        "frontier", "The deal space: Pareto-optimal deals projected on pairs of actors, the Nash and "
                    "Kalai–Smorodinsky bargaining solutions, and the named proposals; a proposal is marked "
                    "refused by those whose yes it needs (signatories, and a consent actor when it touches "
                    "that actor's issue) who value it below their reservation value.",
        ("analysis frontier",),
        lambda d: _drawn_by("frontier:frontier_figure")(
            d.manifest, d.analysis["frontier_utilities"], d.analysis.get("reservations") or {}, d.analysis,
            d.analysis.get("actors"))),
    FigureEntry(
        "trajectory", "One run round by round: who holds how much of each region (when the scenario has regions), "
                      "and each actor's aspiration and reservation value. Unless a run is chosen, a typical "
                      "one: a run with the most common outcome, ending nearest the median round of such "
                      "runs; the title names it and says why.",
        ("rounds table",),
        lambda d: _drawn_by("trajectory:trajectory_figure")(d.manifest, d.runs, d.rounds, d.run)),
)}


def figures_help() -> str:
    """What `negsim plot` draws: each figure and what it needs, one line each."""
    lines = [f"  {e.name}: {'; '.join(NEEDS[n].what for n in e.needs)}" for e in FIGURES.values()]
    return ("Draw every figure the results support into OUT/NAME.FORMAT.\n"
            "The figures, and what each needs (runs: runs.parquet):\n" + "\n".join(lines))
