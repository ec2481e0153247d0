"""`negsim backtest`: calibrate on what was known by a cut-off date, forecast what came after,
score the forecast with proper scores against simple baselines, and log it for later scoring."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from sim.calibration.command import CalibrationSpec, _jsonable, _outcomes_after_start, _problem, prepare, translate


def backtest(spec: CalibrationSpec, cutoff: str, out: str | Path | None = None, force: bool = False,
             log: str | Path | None = None, runs: int = 2000, progress: bool | None = None,
             argv: list[str] | None = None) -> dict:
    """Calibrate on what was known by `cutoff`, forecast the decisions and outcomes after it, score."""
    from dataclasses import replace

    from sim.calibration import fit
    from sim.calibration.observations import load_observations
    from sim.calibration.report import scores
    from sim.jobs import default_out
    from sim.results import ResultsFolder, atomic_write_bytes, now_iso

    try:
        day = dt.date.fromisoformat(cutoff)
    except ValueError:
        raise _problem("--cutoff", f"expected a date YYYY-MM-DD, got {cutoff!r}") from None
    train = replace(spec, cutoff=day.isoformat())
    loaded, game, observations, like = prepare(train)
    full = load_observations(spec.observations)
    _, after = full.cutoff(day)
    test_decisions = translate(after, game)
    if not like.decisions:
        raise _problem("--cutoff", f"no scored decision on or before {day}: nothing to calibrate on")
    if not test_decisions:
        raise _problem("--cutoff", f"no scored decision after {day}: nothing to score")
    folder = ResultsFolder.create(out or default_out(loaded.name, "backtest"), force=force)
    logging.getLogger("emcee").setLevel(logging.ERROR)
    posterior = (fit.fit_map(like) if spec.method == "map"
                 else fit.sample_emcee(like, spec.walkers, spec.steps, spec.seed, progress=progress))
    train_outcomes = _outcomes_after_start(observations, game)
    draws = fit.thin(posterior.draws, spec.outcome_draws or 200, spec.seed)
    posterior.draws = draws
    if train_outcomes and spec.outcome_draws > 0:
        probabilities = fit.outcome_probabilities(game, like, draws, train_outcomes, spec.seed,
                                                  spec.runs_per_draw, progress=progress)
        fit.reweigh_by_outcomes(posterior, probabilities, spec.runs_per_draw, spec.seed,
                                [o.id for o in train_outcomes])
    from sim.calibration.likelihood import DecisionLikelihood

    test_like = DecisionLikelihood(game, test_decisions, like.free, like.own_temperature, margin=like.margin)
    forecast = test_like.probabilities(posterior.draws).mean(axis=0)
    y, w = test_like.accepted, test_like.weight
    train_y, train_w = like.accepted, like.weight
    base = float(np.average(train_y, weights=train_w))
    # "Nobody ever accepts anything new": a proposal not answered yes before the cut-off gets no;
    # a party repeating a yes it already gave keeps it.
    said_yes = {(d.actor, d.proposal or json.dumps(observations.game.space.describe(d.deal), sort_keys=True))
                for d in observations.decisions() if d.accepted}
    nothing_new = np.array([1.0 if (d.actor, d.proposal or json.dumps(full.game.space.describe(d.deal),
                                                                      sort_keys=True)) in said_yes else 0.0
                            for d in after.decisions()])
    scored = {"model": scores(forecast, y, w), "base_rate": {"rate": base, **scores(np.full(len(y), base), y, w)},
              "nothing_new": scores(np.clip(nothing_new, 0.02, 0.98), y, w)}
    months = _month_ends(day, game)
    curve = _agreement_forecast(game, like, posterior.draws, months, spec.seed, runs, day)
    outcome_checks = []
    for o in after.outcomes():
        if o.kind == "no_agreement_by" and o.date in curve["by_date"]:
            p_no = 1.0 - curve["by_date"][o.date]["signed"]
            outcome_checks.append({"id": o.id, "kind": o.kind, "date": o.date.isoformat(), "forecast": p_no,
                                   **scores(np.array([p_no]), np.array([True]))})
    rows = [{"id": d.id, "date": d.date.isoformat(), "actor": d.actor, "response": d.response,
             "accepted": bool(d.accepted), "weight": round(float(d.weight), 3), "forecast": round(float(p), 4),
             "nothing_new": float(n)} for d, p, n in zip(test_decisions, forecast, nothing_new)]
    made = now_iso()
    result = {"scenario": loaded.name, "scenario_sha256": loaded.sha256, "observations": observations.name,
              "observations_sha256": full.sha256, "cutoff": day.isoformat(), "made": made,
              "spec": spec.to_dict(), "n_train": len(like.decisions), "n_test": len(test_decisions),
              "scores": scored, "decisions": rows,
              "agreement_forecast": {k.isoformat(): v for k, v in curve["by_date"].items()},
              "outcomes": outcome_checks,
              "posterior": [{"path": n, "mean": float(m), "sd": float(s)}
                            for n, m, s in zip(like.names, posterior.mean(), posterior.sd())]}
    folder.write_manifest({"negsim_backtest": 1, "command": list(argv or []), "started": made,
                           "spec": spec.to_dict(), "cutoff": day.isoformat()})
    atomic_write_bytes(folder.path / "backtest.json", (json.dumps(result, indent=2, default=_jsonable) + "\n").encode())
    result["figures"] = [str(_reliability_plot(folder.path, forecast, y, w, scored))]
    text = backtest_text(result)
    atomic_write_bytes(folder.path / "backtest.txt", (text + "\n").encode())
    log_path = Path(log) if log else Path("results") / "forecast-log.jsonl"
    _append_log(log_path, result)
    result["folder"] = str(folder.path)
    result["log"] = str(log_path)
    return result


def _month_ends(day: dt.date, game) -> list[dt.date]:
    """The month ends after `day`, to the horizon (six months on without one)."""
    import calendar

    horizon = dt.date.fromisoformat(game.horizon) if game.horizon else day + dt.timedelta(days=183)
    out, year, month = [], day.year, day.month
    while True:
        last = dt.date(year, month, calendar.monthrange(year, month)[1])
        if day < last <= horizon:
            out.append(last)
        if last >= horizon:
            return out
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _agreement_forecast(game, like, draws, months, seed: int, runs: int, cutoff: dt.date) -> dict:
    """P(agreement) and P(signed: agreement or ceasefire) by each month end, over the posterior.

    The runs start at the scenario's as_of date. The forecast is conditional on what was known at
    the cut-off, that nothing had been signed: the months after it are read from the runs still
    unsigned then.
    """
    from sim.calibration.fit import simulate_statuses, status_index
    from sim.model.status import AGREEMENT, PARTIAL

    per_draw = max(1, runs // max(len(draws), 1))
    history, _ = simulate_statuses(game, like, draws, seed, per_draw)
    signed = (AGREEMENT, PARTIAL)
    unsigned = ~np.isin(history[status_index(game, history, cutoff)], signed)
    n = max(int(unsigned.sum()), 1)
    out = {}
    for m in months:
        status = history[status_index(game, history, m)][unsigned]
        out[m] = {"agreement": float((status == AGREEMENT).sum() / n), "signed": float(np.isin(status, signed).sum() / n)}
    return {"by_date": out, "runs": int(history.shape[1]), "unsigned_at_cutoff": int(unsigned.sum())}


def _reliability_plot(out: Path, forecast: np.ndarray, y: np.ndarray, w: np.ndarray, scored: dict) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    bins = np.linspace(0, 1, 6)
    which = np.clip(np.digitize(forecast, bins) - 1, 0, len(bins) - 2)
    for b in range(len(bins) - 1):
        sel = which == b
        if sel.any():
            ax.plot(np.average(forecast[sel], weights=w[sel] + 1e-12), np.average(y[sel], weights=w[sel] + 1e-12),
                    "o", color="tab:blue", ms=4 + 2 * sel.sum())
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
    ax.plot(forecast, y + np.linspace(-0.03, 0.03, len(y)), "|", color="0.3", alpha=0.6)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.06, 1.06)
    ax.set_xlabel("forecast P(yes) (bins of 0.2; dot size = decisions)")
    ax.set_ylabel("share that said yes")
    m, b = scored["model"], scored["base_rate"]
    ax.set_title(f"calibration of the forecast: Brier {m['brier']:.3f} (base rate {b['brier']:.3f})", fontsize=9)
    fig.tight_layout()
    path = figdir / "calibration.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _append_log(path: Path, result: dict) -> None:
    """Append the forecast to a JSON-lines log, so that a forecast made today can be scored later."""
    entry = {"made": result["made"], "scenario": result["scenario"], "scenario_sha256": result["scenario_sha256"],
             "observations_sha256": result["observations_sha256"], "cutoff": result["cutoff"],
             "decisions": [{k: r[k] for k in ("id", "actor", "date", "forecast")} for r in result["decisions"]],
             "agreement_forecast": result["agreement_forecast"]}
    entry["entry_sha256"] = hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")


def backtest_text(result: dict) -> str:
    """The backtest's scores and forecasts, as printed."""
    s = result["scores"]
    lines = [f"backtest of {result['scenario']} on {result['observations']}: calibrated on {result['n_train']} "
             f"decisions to {result['cutoff']}, scored on the {result['n_test']} after it",
             f"{'forecast':<28} {'Brier':>7} {'log score':>10} {'hit rate':>9}"]
    for name, label in (("model", "model (posterior predictive)"), ("base_rate", "base rate"),
                        ("nothing_new", "nobody accepts anything new")):
        row = s[name]
        extra = f" ({row['rate']:.0%} yes)" if name == "base_rate" else ""
        lines.append(f"{label + extra:<28} {row['brier']:>7.3f} {row['log']:>10.3f} {row['hit_rate']:>9.0%}")
    lines.append("decisions after the cut-off (forecast P(yes) -> what happened):")
    for r in result["decisions"]:
        lines.append(f"  {r['date']} {r['actor']:<14} {r['id']:<28} {r['forecast']:>6.1%} -> {r['response']}")
    if result["agreement_forecast"]:
        lines.append("forecast, given nothing signed by the cut-off: " + ", ".join(
            f"{d} signed {v['signed']:.1%} (full agreement {v['agreement']:.1%})"
            for d, v in list(result["agreement_forecast"].items())[:6]))
    for o in result.get("outcomes", []):
        lines.append(f"outcome {o['id']} ({o['date']}): forecast {o['forecast']:.1%}, Brier {o['brier']:.3f}")
    return "\n".join(lines)
