"""Bargaining-theory benchmarks for a scenario: Pareto frontier, ZOPA, Nash, Kalai-Smorodinsky, utilitarian.

Computed at one set of preferences without enumerating the deal space; pure numpy, no Mesa.
Its parts, each importing only those above it:
    tables      the set-up of one analysis, groups of issues, exact tables of partial deals
    zopa        whose yes a deal needs, membership of the ZOPA, its exact count or estimate
    frontier    Pareto filtering, per-group frontiers and their Minkowski merge, thinning
    solutions   Nash, Kalai-Smorodinsky, utilitarian: pure functions of utility points
    bargaining  analyze(): all of it for one game, and its named proposals
    rendering   JSON and text for `negsim analyze` and a results folder's analysis.json

The numpy parts are imported on first use of one of their names: the CLI imports this package
to build its parser, and `negsim --help` should not wait for numpy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from sim.analysis.rendering import (
    analysis_json,
    analysis_text,
    render_scenario_analysis,
)

if TYPE_CHECKING:
    from sim.analysis.bargaining import analyze
    from sim.analysis.frontier import nondominated
    from sim.analysis.solutions import bargaining_solutions
    from sim.analysis.tables import TOL, issue_groups

_LAZY = {"TOL": "tables", "issue_groups": "tables", "nondominated": "frontier",
         "bargaining_solutions": "solutions", "analyze": "bargaining"}

__all__ = ["TOL", "analysis_json", "analysis_text", "analyze", "bargaining_solutions",
           "issue_groups", "nondominated", "render_scenario_analysis"]


def __getattr__(name: str):
    """Load a numpy part the first time one of its names is asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Every public name, loaded or not."""
    return sorted(set(globals()) | set(__all__))
