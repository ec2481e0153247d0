"""Reading results back: the run summary, agreement by date, per-point rates, and what a run is worth.

`run_payoffs` is the one definition of an actor's utility of a run (agreed deal, else reservation
value) that the report and the sensitivity analysis share; `wilson_interval` lives in sim.stats
(the analysis below this layer uses it too) and is re-exported here for the existing callers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from sim.stats import wilson_interval

__all__ = ["PAYOFF_RULE", "agreement_by_date", "agreement_curve_text", "point_rates", "run_payoffs", "show_value",
           "summarise", "sweep_table", "wilson_interval"]


#: The rule `run_payoffs` applies, in words, for every text that reports a mean utility.
PAYOFF_RULE = ("a run that ends in a full agreement is worth to each actor its utility of the agreed deal; "
               "a run that ends any other way (a ceasefire without settlement, a breakdown, talks still open "
               "or paused at the horizon) is worth its reservation value where the run ended")


def run_payoffs(utility: ArrayLike, reservation: ArrayLike, agreed: ArrayLike) -> np.ndarray:
    """What each run is worth to an actor: the agreed deal's utility, or its reservation value without agreement.

    utility and reservation are the runs table's `utility_<actor>` (the last text on the table,
    signed or not) and `reservation_<actor>` columns; agreed is `outcome == "agreement"`.
    """
    return np.where(np.asarray(agreed, dtype=bool), np.asarray(utility, dtype=float),
                    np.asarray(reservation, dtype=float))


def summarise(runs_path: Path, manifest: dict) -> str:
    """A short plain-text summary of a runs table, read in batches so memory stays flat."""
    from collections import Counter

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = pq.ParquetFile(runs_path)
    deal_cols = [c for c in source.schema_arrow.names if c.startswith("deal_")]
    outcomes, families, deals = Counter(), Counter(), Counter()
    agreed_rounds, signed_rounds = [], []
    has_pauses = "suspensions" in source.schema_arrow.names
    paused = 0
    extra = ["suspensions"] if has_pauses else []
    for batch in source.iter_batches(columns=["outcome", "round", "nearest_proposal", *extra, *deal_cols]):
        outcome = batch.column("outcome")
        outcomes.update(outcome.to_pylist())
        is_agreed = pc.equal(outcome, "agreement")
        agreed = batch.filter(is_agreed)
        agreed_rounds.append(agreed.column("round").to_numpy(zero_copy_only=False))
        signed_rounds.append(batch.filter(pc.equal(outcome, "partial")).column("round").to_numpy(zero_copy_only=False))
        families.update(agreed.column("nearest_proposal").to_pylist())
        deals.update(zip(*(agreed.column(c).to_pylist() for c in deal_cols)))
        if has_pauses:
            paused += int(pc.sum(pc.greater(batch.column("suspensions"), 0)).as_py() or 0)
    n = sum(outcomes.values())
    n_agreed = outcomes.get("agreement", 0)
    lo, hi = wilson_interval(n_agreed, n)
    lines = [f"{n:,} runs of {manifest['scenario']['name']} (seed {manifest['seed']})",
             f"agreement rate {n_agreed / max(n, 1):.1%} (95% CI {lo:.1%}–{hi:.1%}); "
             + ", ".join(f"{k} {v:,}" for k, v in outcomes.most_common())]
    n_signed = n_agreed + outcomes.get("partial", 0)
    if n_signed > n_agreed:
        lo, hi = wilson_interval(n_signed, n)
        lines.append(f"signed by the horizon (agreement, or a ceasefire without settlement when a consent is "
                     f"withheld) {n_signed / max(n, 1):.1%} (95% CI {lo:.1%}–{hi:.1%})")
        lines.append(agreement_curve_text(np.concatenate(agreed_rounds + signed_rounds), n, manifest, "signed"))
    if n_agreed:
        rounds = np.concatenate(agreed_rounds)
        lines.append(agreement_curve_text(rounds, n, manifest))
        names = {p["id"]: p["name"] for p in manifest.get("proposals", [])}
        lines.append(f"agreements by nearest named proposal (at most {manifest.get('near_issues', 2)} issues apart):")
        for pid, c in families.most_common(5):
            lines.append(f"  {c / n_agreed:6.1%}  {names.get(pid, pid) if pid else '(no named proposal close)'}")
        lines.append("most frequent agreed deals:")
        for deal, c in deals.most_common(3):
            text = ", ".join(f"{col[5:]}={opt}" for col, opt in zip(deal_cols, deal))
            lines.append(f"  {c / n_agreed:6.1%}  {text}")
    if has_pauses and n:
        lines.append(f"talks paused by a walk-out at least once in {paused / n:.1%} of runs")
    return "\n".join(lines)


def agreement_by_date(rounds: np.ndarray, n: int, manifest: dict) -> list[tuple[str, float, float, float]]:
    """P(agreement by D) with its 95% Wilson interval, at each month end of the talks and the horizon."""
    import datetime as dt

    as_of = dt.date.fromisoformat(manifest.get("as_of") or manifest["scenario"]["as_of"])
    round_days = float(manifest.get("round_days") or 14.0)
    last = int(manifest["max_rounds"]) - 1
    horizon = (dt.date.fromisoformat(manifest["horizon"]) if manifest.get("horizon")
               else as_of + dt.timedelta(days=last * round_days))
    dates, d = [], as_of
    while True:
        d = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)  # month end
        if d >= horizon:
            break
        if d > as_of:
            dates.append(d)
        d = d + dt.timedelta(days=1)
    dates.append(horizon)
    out = []
    for date in dates:
        k = int(np.floor((date - as_of).days / round_days + 1e-9))
        hits = int((rounds <= k).sum())
        lo, hi = wilson_interval(hits, n)
        out.append((date.isoformat(), hits / max(n, 1), lo, hi))
    return out


def agreement_curve_text(rounds: np.ndarray, n: int, manifest: dict, what: str = "agreement") -> str:
    """The agreement-by-date curve (or another ending's, named by `what`) as one line of text."""
    points = agreement_by_date(rounds, n, manifest)
    return f"{what} by date: " + ", ".join(f"{d} {p:.1%}" for d, p, _, _ in points)


def point_rates(runs_path: Path, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(runs, agreements) per point, read in batches so memory does not grow with the table."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    n = np.zeros(n_points, dtype=np.int64)
    agreed = np.zeros(n_points, dtype=np.int64)
    for batch in pq.ParquetFile(runs_path).iter_batches(columns=["point", "outcome"], batch_size=65536):
        point = batch.column(0).to_numpy()
        ok = pc.equal(batch.column(1), "agreement").to_numpy(zero_copy_only=False).astype(np.int64)
        n += np.bincount(point, minlength=n_points)[:n_points]
        agreed += np.bincount(point, weights=ok, minlength=n_points)[:n_points].astype(np.int64)
    return n, agreed


def sweep_table(points, n: np.ndarray, agreed: np.ndarray, manifest: dict, show: int = 10) -> str:
    """Agreement rate with its Wilson 95% CI per point; the top and bottom `show` if there are many."""
    total, total_agreed = int(n.sum()), int(agreed.sum())
    lo, hi = wilson_interval(total_agreed, total)
    lines = [f"{total:,} runs of {manifest['scenario']['name']} at {len(points):,} points "
             f"({manifest['runs']:,} each, seed {manifest['seed']}); overall agreement rate "
             f"{total_agreed / max(total, 1):.1%} (95% CI {lo:.1%}–{hi:.1%})"]
    names = [c for c in points.columns if c != "point"]
    rows = []
    for k in range(len(points)):
        rate = agreed[k] / n[k] if n[k] else float("nan")
        a, b = wilson_interval(int(agreed[k]), int(n[k]))
        rows.append((rate, [str(k)] + [show_value(points[c].iloc[k]) for c in names]
                     + [f"{n[k]:,}", f"{rate:.1%}", f"{a:.1%}–{b:.1%}"]))
    header = ["point"] + names + ["runs", "agreement", "95% CI"]
    if len(rows) > 2 * show + 1:
        ranked = sorted(range(len(rows)), key=lambda k: (-rows[k][0], k))
        top, bottom = ranked[:show], ranked[-show:]
        body = [rows[k][1] for k in top] + [None] + [rows[k][1] for k in bottom]
        lines.append(f"highest and lowest {show} of {len(rows):,} points by agreement rate "
                     "(all of them: points.parquet, runs.parquet):")
    else:
        body = [r[1] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in body if r is not None)) for i, h in enumerate(header)]

    def fmt(cells: list[str]) -> str:
        # Text values (swept options) read best left-aligned, numbers right-aligned.
        return "  ".join(c.ljust(w) if 1 <= i <= len(names) and not _numeric(c) else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    lines.append(fmt(header))
    for r in body:
        lines.append("  ".join("⋮".rjust(w) for w in widths) if r is None else fmt(r))
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        return False


def show_value(value: Any) -> str:
    """A swept or overridden value as the user would type it."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
