"""Scenario files: schema, safe loading with line numbers, cross-reference checks, overrides."""

from sim.scenario.load import LoadedScenario, load_scenario

__all__ = ["LoadedScenario", "load_scenario"]
