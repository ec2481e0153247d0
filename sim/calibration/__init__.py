"""Calibration against what happened: observations files (the record of decisions, outcomes and
front-line figures, written in the terms of one scenario: observations_format, observations_records,
observations), the likelihood of the recorded answers (likelihood), the fit (fit), its report and
command (report, command) and the backtest (backtest).
"""
