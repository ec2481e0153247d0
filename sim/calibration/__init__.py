"""Calibration against what happened: observations files (the record of decisions, outcomes and
front-line figures, written in the terms of one scenario) and, later, the code that scores and
backtests the model against them. `sim.calibration.observations` owns the file format and its loader.
"""
