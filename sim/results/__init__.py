"""Results: the folder format (sim.results.folder: marker, ledger, lock; sim.results.chunks: sealed
chunks and the merge; sim.results.atomic: atomic writes) and reading it back (sim.results.summary: the run summary, agreement by date, the
per-point rates of a sweep, and the one interval function everything uses)."""

from sim.results.folder import (
                                LOCK,
                                MARKER,
                                TABLES,
                                TEMPORARY,
                                ResultsFolder,
                                atomic_write_bytes,
                                atomic_write_table,
                                now_iso,
                                write_failure,
)
from sim.results.summary import (
                                agreement_by_date,
                                agreement_curve_text,
                                point_rates,
                                summarise,
                                sweep_table,
                                wilson_interval,
)

__all__ = ["LOCK", "MARKER", "TABLES", "TEMPORARY", "ResultsFolder", "agreement_by_date", "agreement_curve_text",
           "atomic_write_bytes", "atomic_write_table", "now_iso", "point_rates", "summarise", "sweep_table",
           "wilson_interval", "write_failure"]
