"""One self-contained HTML report of a results folder, to send to a colleague.

`write_report(results_dir)` writes `RESULTS_DIR/report.html`: the scenario in brief (and, if the
scenario file the run used is still there unchanged, its actors, issues, proposals and every
judgement with its quote and source), the key numbers, the scenario discovery of a sweep or
sensitivity design, the Sobol indices with their intervals and convergence, an actor's leverage
when the folder holds `leverage.json`, every figure the folder supports (from the figure
registry, each with its caption), the definition of every term and rule the numbers use, and
how to reproduce the run. Sobol indices or a leverage result of another scenario are refused.
Every piece of text that comes from a file is escaped. sim.report.page assembles the page;
sim.report.numbers, sim.report.insight, sim.report.definitions and sim.report.scenario write its
sections; sim.report.markup holds the style sheet and escaping.

numpy, pandas and matplotlib are imported inside the functions that need them, so importing
this package (the CLI does) keeps `negsim --help` fast.
"""

from sim.report.definitions import definitions
from sim.report.numbers import key_numbers
from sim.report.page import build_report, write_report
from sim.report.scenario import find_scenario

__all__ = ["build_report", "definitions", "find_scenario", "key_numbers", "write_report"]
