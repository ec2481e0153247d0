"""How a run stands: at the table, paused, or ended (and how). Shared by the model and its readers."""

ACTIVE, AGREEMENT, PARTIAL, BREAKDOWN, OPEN_AT_HORIZON, SUSPENDED, SUSPENDED_AT_HORIZON = 0, 1, 2, 3, 4, 5, 6

#: Names of the endings as they appear in result tables. `open` and `suspended` are runs with
#: no agreement by the horizon, talks still going or paused; `breakdown` only comes from an
#: explicit breakdown event.
OUTCOME_NAMES = {AGREEMENT: "agreement", PARTIAL: "partial", BREAKDOWN: "breakdown",
                 OPEN_AT_HORIZON: "open", SUSPENDED_AT_HORIZON: "suspended"}
