"""Figures from a results folder written by `negsim run`, `negsim sweep` or `negsim sensitivity`.

One registry (sim.plots.registry: FIGURES) lists every figure with its caption, what it needs
from a results folder and how it is drawn; sim.plots.load reads a folder; sim.plots.driver
draws the figures a folder supports and writes them; sim.plots.style holds the shared look; the
other modules draw one kind of figure each, taking the manifest and the tables or JSON they show
and returning a `matplotlib.figure.Figure` (none of them runs a simulation).

The names below are importable from sim.plots itself; each is imported from its module on first
use, so importing the package (or its registry) does not import matplotlib or pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load": ("FolderData", "actor_ids", "actor_names", "check_same_leverage_scenario", "check_same_scenario",
             "discovery_source", "is_leverage", "leverage_manifest", "load_analysis", "load_leverage", "load_points",
             "load_results", "load_sensitivity", "read_folder", "sensitivity_origin", "territories"),
    "registry": ("FIGURES", "FORMATS", "NEEDS", "FigureEntry", "Need"),
    "driver": ("figure_plans", "own_files", "plans_for", "plot_results", "save_figure"),
    "style": ("DPI", "FIGSIZE", "KNOWN_ACTOR_COLOURS", "OUTCOMES", "OUTCOME_LABELS", "actor_colours",
              "nice_ceiling", "parameter_label"),
    "outcomes": ("agreement_curve", "no_deal_curve", "outcome_figure", "time_to_agreement_figure", "utility_figure"),
    "regions": ("region_figure", "transfer_bins"),
    "sweep": ("agreement_by_parameter", "agreement_by_point", "agreement_grid", "rate_limits", "sweep_description",
              "sweep_figure", "swept_parameters"),
    "sensitivity": ("convergence_text", "noisy_indices", "output_title", "sensitivity_figure", "sensitivity_outputs",
                    "sobol_bounds", "sobol_value"),
    "discovery": ("BOX_COLOURS", "box_summary", "design_text", "discovery_figure", "discovery_map_figure",
                  "level_text", "outcome_words"),
    "leverage": ("leverage_figure", "step_labels"),
    "frontier": ("frontier_figure", "frontier_pairs"),
    "trajectory": ("front_lines", "pick_run", "run_rounds", "trajectory_figure", "typical_run"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'sim.plots' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"sim.plots.{_MODULE_OF[name]}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
