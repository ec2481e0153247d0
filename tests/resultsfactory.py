"""A tiny, internally consistent results folder (manifest + runs + rounds) for tests of readers.

The numbers mirror tests/data/tiny.yaml: two regions (north, south), one policy issue
(guarantees), three actors (alpha, beta, gamma) and two named proposals. Outcomes follow a
fixed, known mix unless the caller passes its own list, so tests can count what to expect.

Optional extras, in the formats the other commands write: a sweep (`points.parquet` and the
manifest's `sweep`), `sensitivity.json` (Sobol indices, with intervals, convergence and, if
asked, the design's sample points), `analysis.json` (deal-space benchmarks with the frontier's
utilities) and `leverage.json` (an actor's leverage on an issue, as `negsim leverage` writes it).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

ACTORS = {"alpha": "Alpha", "beta": "Beta", "gamma": "Gamma"}
ISSUES = {
    "north": {"name": "North", "kind": "territory", "area_km2": 1000.0,
              "options": ["ukraine", "frozen_line", "de_jure_russia"]},
    "south": {"name": "South", "kind": "territory", "area_km2": 500.0,
              "options": ["ukraine", "demilitarized", "de_facto_russia"]},
    "guarantees": {"name": "Security guarantees", "kind": "policy", "area_km2": None,
                   "options": ["none", "strong"]},
}
PROPOSALS = {
    "split": ("Split the difference", {"north": "frozen_line", "south": "demilitarized", "guarantees": "strong"}),
    "maximal": ("Beta's maximum", {"north": "de_jure_russia", "south": "de_facto_russia", "guarantees": "none"}),
}
# Share of each region that changes hands under each disposition (the rest stays as it is).
_TRANSFER = {"ukraine": 0.0, "frozen_line": 0.0, "demilitarized": 0.0,
             "de_jure_russia": 0.4, "de_facto_russia": 0.8}
# Per-actor value of each option, as in tiny.yaml (gamma does not care about south).
_VALUES = {
    "alpha": {"ukraine": 1.0, "frozen_line": 0.5, "de_jure_russia": 0.0, "demilitarized": 0.4,
              "de_facto_russia": 0.0, "none": 0.0, "strong": 1.0},
    "beta": {"ukraine": 0.0, "frozen_line": 0.6, "de_jure_russia": 1.0, "demilitarized": 0.7,
             "de_facto_russia": 1.0, "none": 1.0, "strong": 0.2},
    "gamma": {"ukraine": 0.5, "frozen_line": 1.0, "de_jure_russia": 0.5, "demilitarized": 0.5,
              "de_facto_russia": 0.5, "none": 0.5, "strong": 1.0},
}
_RESERVATION = {"alpha": (0.3, 0.3), "beta": (0.3, 0.5), "gamma": (0.2, 0.2)}
# 10-run cycle: 5 agreements, 1 partial, 2 breakdowns, 1 open and 1 suspended at the horizon.
DEFAULT_MIX = ("agreement", "breakdown", "agreement", "open", "agreement",
               "partial", "agreement", "breakdown", "agreement", "suspended")
MAX_ROUNDS = 20


TINY_YAML = Path(__file__).resolve().parent / "data" / "tiny.yaml"
# Front line (beta's share; alpha, the other holder, has the rest) at round 0 and its drift per
# round, as a war-dynamics run records it.
_LINE0 = {"north": 0.6, "south": 0.2}
HOLDERS = ("beta", "alpha")
_LINE_STEP = {"north": 0.01, "south": -0.005}


def make_results(tmp_path: Path, n_runs: int = 40, seed: int = 0, *,
                 outcomes: Sequence[str] | None = None, actors: Sequence[str] = tuple(ACTORS),
                 with_rounds: bool = True, empty_rounds: bool = False, points: int = 1,
                 sweep: Mapping[str, Sequence] | None = None, sample: Mapping[str, tuple[float, float]] | None = None,
                 manifest_sweep: bool | str = True, real_scenario: bool = False, name: str = "results") -> Path:
    """Write a results folder under tmp_path and return its path.

    outcomes: one outcome per run (cycled if shorter); default DEFAULT_MIX cycled.
    actors: a subset of alpha/beta/gamma. with_rounds=False omits rounds.parquet;
    empty_rounds=True writes it with the right columns and no rows. points: runs are spread
    over this many parameter points (run i is run i // points of point i % points).
    sweep: {dotted path: values} makes a grid sweep (points = the product of the values) and
    sample: {dotted path: (low, high)} an LHS-like sample of `points` points; both write
    points.parquet and the manifest's `sweep` (left out if manifest_sweep=False; manifest_sweep="job"
    writes the `job` record of `negsim sweep` instead, with "PATH=SPEC" strings). In a sweep,
    without `outcomes`, a run agrees with a probability that falls with the point's values.
    real_scenario: the manifest names tests/data/tiny.yaml by absolute path with its true SHA-256.
    """
    rng = np.random.default_rng(seed)
    mix = list(outcomes) if outcomes is not None else list(DEFAULT_MIX)
    out = Path(tmp_path) / name
    out.mkdir(parents=True, exist_ok=True)

    grid = [(str(k), list(v)) for k, v in (sweep or {}).items()]
    ranges = [(str(k), float(lo), float(hi)) for k, (lo, hi) in (sample or {}).items()]
    table = None
    if grid:
        combos = list(itertools.product(*[v for _, v in grid]))
        points = len(combos)
        table = pd.DataFrame([{"point": p, **{k: c[j] for j, (k, _) in enumerate(grid)}} for p, c in enumerate(combos)])
    elif ranges:
        prng = np.random.default_rng(seed + 1)
        cols = {"point": np.arange(points)}
        for k, lo, hi in ranges:
            # Latin hypercube: one value in each of `points` equal strata, strata shuffled.
            cols[k] = lo + (hi - lo) * (prng.permutation(points) + prng.uniform(size=points)) / points
        table = pd.DataFrame(cols)
    agree_p = None
    if table is not None and outcomes is None:
        # Agreement gets less likely as the swept values rise (each scaled to 0..1 over its range).
        scaled = [(table[c] - table[c].min()) / max(float(table[c].max() - table[c].min()), 1e-12)
                  for c in table.columns if c != "point" and pd.api.types.is_numeric_dtype(table[c])]
        agree_p = (0.9 - 0.7 * sum(scaled) / max(1, len(scaled))).to_numpy(float) if scaled else None

    runs, rounds = [], []
    for i in range(n_runs):
        outcome = mix[i % len(mix)] if mix else "agreement"
        point, run = i % points, i // points
        if agree_p is not None:
            outcome = "agreement" if rng.uniform() < agree_p[point] else ("breakdown", "open")[i % 2]
        deal = {iid: str(rng.choice(spec["options"])) for iid, spec in ISSUES.items()}
        if outcome in ("open", "suspended"):
            end = MAX_ROUNDS - 1
        else:
            end = int(rng.integers(0, MAX_ROUNDS - 1))
        row: dict = {"point": point, "run": run, "outcome": outcome, "round": end,
                     "walked_away": str(rng.choice(list(actors))) if outcome == "breakdown" else "",
                     "vetoed_by": ""}
        for iid in ISSUES:
            row[f"deal_{iid}"] = deal[iid]
        reservations = {a: float(rng.uniform(*_RESERVATION[a])) for a in actors}
        for a in actors:
            value = float(np.mean([_VALUES[a][deal[iid]] for iid in ISSUES]))
            # A non-agreement is worth the reservation value to everyone.
            row[f"utility_{a}"] = value if outcome == "agreement" else reservations[a]
            row[f"reservation_{a}"] = reservations[a]
        moved = sum(ISSUES[r]["area_km2"] * _TRANSFER[deal[r]] for r in ("north", "south"))
        for reg in _LINE0:
            row[f"held_{reg}_beta"] = _LINE0[reg] + _LINE_STEP[reg] * end
            row[f"held_{reg}_alpha"] = 1.0 - row[f"held_{reg}_beta"]
        for a in actors:
            row[f"cost_{a}"] = 0.01 * end
        row["transferred_km2"] = moved
        row["gain_km2_alpha"] = -moved
        row["gain_km2_beta"] = moved
        distances = {pid: sum(deal[iid] != opts[iid] for iid in ISSUES) / len(ISSUES)
                     for pid, (_, opts) in PROPOSALS.items()}
        nearest = min(distances, key=lambda p: (distances[p], p))
        row["nearest_proposal"] = nearest
        row["proposal_distance"] = float(distances[nearest])
        row["p:actors.beta.reservation.value"] = reservations.get("beta", float("nan"))
        runs.append(row)
        for r in range(end + 1):
            for a in actors:
                aspiration = 1.0 - (1.0 - reservations[a]) * r / MAX_ROUNDS
                rounds.append({"point": point, "run": run, "round": r, "actor": a,
                               "utility": float(rng.uniform(0, 1)), "aspiration": aspiration,
                               # The value of no deal drifts with the war (down for alpha, up for beta).
                               "reservation": reservations[a] + {"alpha": -0.004, "beta": 0.003}.get(a, 0.0) * r,
                               "accepted": bool(outcome == "agreement" and r == end),
                               "cost": 0.01 * r, "text": "1.1.1",
                               **{f"held_{reg}_{h}": (_LINE0[reg] + _LINE_STEP[reg] * r if h == "beta"
                                                      else 1.0 - _LINE0[reg] - _LINE_STEP[reg] * r)
                                  for reg in _LINE0 for h in HOLDERS}})

    columns = ["point", "run", "outcome", "round", "walked_away", "vetoed_by", *[f"deal_{i}" for i in ISSUES],
               *[f"{kind}_{a}" for a in actors for kind in ("utility", "reservation")],
               *[f"held_{reg}_{h}" for reg in _LINE0 for h in HOLDERS], *[f"cost_{a}" for a in actors],
               "transferred_km2", "gain_km2_alpha", "gain_km2_beta", "nearest_proposal", "proposal_distance",
               "p:actors.beta.reservation.value"]
    runs_df = pd.DataFrame(runs, columns=columns)
    runs_df.to_parquet(out / "runs.parquet", index=False)
    if with_rounds:
        rounds_df = pd.DataFrame(rounds, columns=["point", "run", "round", "actor", "utility",
                                                  "aspiration", "reservation", "accepted", "cost", "text",
                                                  *[f"held_{reg}_{h}" for reg in _LINE0 for h in HOLDERS]])
        if empty_rounds:
            rounds_df = rounds_df.iloc[0:0]
        rounds_df.to_parquet(out / "rounds.parquet", index=False)

    if table is not None:
        table.to_parquet(out / "points.parquet", index=False)
    scenario = {"path": "tests/data/tiny.yaml", "sha256": "0" * 64, "name": "tiny",
                "title": "Tiny test scenario", "as_of": "2025-08-15",
                "description": "Two regions, one policy issue, three actors; numbers chosen to be checked by hand."}
    if real_scenario:
        scenario.update(path=str(TINY_YAML), sha256=hashlib.sha256(TINY_YAML.read_bytes()).hexdigest())
    manifest = {
        "negsim_version": "0.1.0",
        "command": ["negsim", "run", "tiny.yaml", "--runs", str(n_runs), "--seed", str(seed)],
        "cwd": str(Path(tmp_path)),
        "started": "2025-08-15T12:00:00+00:00",
        "finished": "2025-08-15T12:00:01+00:00",
        "status": "complete",
        "seed": seed,
        "runs": n_runs,
        "scenario": scenario,
        "actors": [{"id": a, "name": ACTORS[a], "roles": ["mediator" if a == "gamma" else "signatory"]}
                   for a in actors],
        "issues": [{"id": iid, "name": spec["name"], "kind": spec["kind"], "options": spec["options"],
                    "area_km2": spec["area_km2"]} for iid, spec in ISSUES.items()],
        "proposals": [{"id": pid, "name": name} for pid, (name, _) in PROPOSALS.items()],
        "signatories": [a for a in actors if a != "gamma"],
        "max_rounds": MAX_ROUNDS,
        "protocol": "mediated",
    }
    if table is not None and manifest_sweep == "job":
        manifest["points"] = points
        manifest["job"] = {"kind": "sweep", "scenario": "tiny.yaml", "sets": [],
                           "grids": [f"{k}={','.join(map(str, v))}" for k, v in grid],
                           "samples": [f"{k}={lo}:{hi}" for k, lo, hi in ranges], "method": "lhs",
                           "points": points if ranges else None, "runs": -(-n_runs // points), "seed": seed,
                           "n_points": points, "swept": [k for k, _ in grid] + [k for k, _, _ in ranges]}
    elif table is not None and manifest_sweep:
        manifest["sweep"] = {"grid": [[k, v] for k, v in grid], "sample": [[k, lo, hi] for k, lo, hi in ranges],
                             "method": "grid" if grid else "lhs", "points": points,
                             "runs_per_point": -(-n_runs // points)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out


# ---------------------------------------------------------------------------------------------
# sensitivity.json and analysis.json

SENSITIVITY_PARAMETERS = ("actors.beta.reservation.value", "actors.alpha.weights.north",
                          "actors.beta.values.guarantees.options.strong")


def sensitivity_data(actors: Sequence[str] = tuple(ACTORS), noisy: bool = False, intervals: bool = True,
                     samples: bool = False, converged: bool = False) -> dict:
    """Sobol indices in the format of `sensitivity.json`; noisy=True adds a negative estimate.

    intervals: each index's 95% bootstrap interval (`first_order_ci`, `total_ci`: [low, high],
    not symmetric about the estimate) and the convergence check, per output and overall
    (`converged` says which verdict). samples: the design's 128 sample points with their
    agreement and signing rates (of 50 runs each), agreement falling with Beta's reservation value.
    """
    params = list(SENSITIVITY_PARAMETERS)
    outputs = {}
    for k, key in enumerate(["agreement_rate", *[f"utility_{a}" for a in actors]]):
        first = {p: round(0.5 / (j + 1) - 0.05 * k, 4) for j, p in enumerate(params)}
        total = {p: round(first[p] + 0.1 + 0.02 * j, 4) for j, p in enumerate(params)}
        outputs[key] = {"first_order": first, "total": total}
        if intervals:
            outputs[key]["first_order_ci"] = {p: [round(v - 0.04 - 0.01 * j, 4), round(v + 0.09, 4)]
                                              for j, (p, v) in enumerate(first.items())}
            outputs[key]["total_ci"] = {p: [round(v - 0.12, 4), round(v + 0.05 + 0.01 * j, 4)]
                                        for j, (p, v) in enumerate(total.items())}
            width = 0.08 if converged else 0.17 + 0.01 * k
            outputs[key]["convergence"] = {"stable": True, "precise": converged, "converged": converged,
                                           "max_change": 0.03, "max_width": width}
    if noisy:
        outputs["agreement_rate"]["first_order"][params[-1]] = -0.07
    data = {"parameters": params, "outputs": outputs, "n_evaluations": 5 * 64, "points": 64, "runs": 50,
            "method": "sobol"}
    if intervals:
        data["bootstrap"] = {"resamples": 1000, "confidence": 0.95, "method": "percentile bootstrap"}
        data["convergence"] = {"verdict": "converged" if converged else "not converged", "half_points": 32,
                               "max_ci_width": 0.1, "rule": "converged: every index from the first N/2 base points "
                                                            "lies within its interval at N and every 95% interval "
                                                            "is at most 0.1 wide"}
    if samples:
        rng = np.random.default_rng(11)
        x = {p: rng.uniform(*_SAMPLE_RANGES[p], size=128) for p in params}
        scaled = (x[params[0]] - 0.3) / 0.2
        agree = rng.binomial(50, np.clip(0.9 - 0.8 * scaled, 0, 1)) / 50
        data["samples"] = {"design": "A and B", "runs": 50, "inputs": {p: v.tolist() for p, v in x.items()},
                           "agreement_rate": agree.tolist(), "signed_rate": np.maximum(agree, 0.5).tolist()}
    return data


_SAMPLE_RANGES = {SENSITIVITY_PARAMETERS[0]: (0.3, 0.5), SENSITIVITY_PARAMETERS[1]: (1.0, 3.0),
                  SENSITIVITY_PARAMETERS[2]: (0.0, 0.4)}


def write_sensitivity(folder: Path, **kwargs) -> dict:
    """Write sensitivity.json into a results folder; return what was written."""
    data = sensitivity_data(**kwargs)
    (Path(folder) / "sensitivity.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return data


def _deal_utility(actor: str, deal: Mapping[str, str]) -> float:
    return float(np.mean([_VALUES[actor][deal[iid]] for iid in ISSUES]))


def analysis_data(actors: Sequence[str] = tuple(ACTORS)) -> dict:
    """Deal-space benchmarks of the tiny scenario in the format of `analysis.json` (with its frontier).

    Every deal is enumerated (18 of them); utilities are the factory's per-option means, the
    disagreement point the midpoints of the reservation ranges, the signatories alpha and beta.
    """
    actors = list(actors)
    deals = [dict(zip(ISSUES, combo)) for combo in itertools.product(*[s["options"] for s in ISSUES.values()])]
    util = np.array([[_deal_utility(a, d) for a in actors] for d in deals])
    front = [i for i in range(len(deals))
             if not any(np.all(util[j] >= util[i]) and np.any(util[j] > util[i]) for j in range(len(deals)))]
    res = {a: float(np.mean(_RESERVATION[a])) for a in actors}
    sig = [a for a in actors if a != "gamma"]
    ok = [i for i in front if all(util[i][actors.index(a)] >= res[a] for a in sig)]

    def solution(i: int) -> dict:
        return {"deal": deals[i], "utilities": {a: round(float(util[i][k]), 6) for k, a in enumerate(actors)},
                "deals_with_these_utilities": 1}

    gains = {i: [util[i][actors.index(a)] - res[a] for a in sig] for i in ok}
    nash = max(ok, key=lambda i: (float(np.prod(gains[i])), i)) if ok else None
    ks = max(ok, key=lambda i: (min(gains[i]), i)) if ok else None
    utilitarian = max(ok, key=lambda i: (sum(gains[i]), i)) if ok else None
    proposals = []
    for pid, (pname, opts) in PROPOSALS.items():
        deal = {iid: opts.get(iid, ISSUES[iid]["options"][0]) for iid in ISSUES}
        u = {a: round(_deal_utility(a, deal), 6) for a in actors}
        proposals.append({"id": pid, "name": pname, "utilities": u, "distance_to_frontier": 0.0,
                          "below_reservation": [a for a in actors if u[a] < res[a]],
                          # tiny.yaml needs no consent beyond the signatories'.
                          "blocking": [a for a in sig if u[a] < res[a]],
                          "in_zopa": all(u[a] >= res[a] for a in sig),
                          "pareto_optimal": any(d == deal for d in (deals[i] for i in front))})
    return {
        "scenario": "tiny", "space_size": len(deals), "pareto_size": len(front), "pareto_points": len(front),
        "zopa_size": len(ok), "zopa_size_exact": True, "signatories": sig, "reservations": res,
        "nash": solution(nash) if nash is not None else None,
        "kalai_smorodinsky": solution(ks) if ks is not None else None,
        "utilitarian": solution(utilitarian) if utilitarian is not None else None,
        "proposals": proposals, "method": "enumeration (test factory)", "exact": True,
        "actors": actors, "frontier_utilities": util[front].round(6).tolist(),
    }


def write_analysis(folder: Path, **kwargs) -> dict:
    """Write analysis.json (with frontier_utilities, actors, reservations) into a results folder."""
    data = analysis_data(**kwargs)
    (Path(folder) / "analysis.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return data


# ---------------------------------------------------------------------------------------------
# leverage.json


def _leverage_cell(rate: float, base: float, runs: int, gained: int, lost: int) -> dict:
    from sim.insight.leverage import paired_difference_interval
    from sim.stats import wilson_interval

    hits = round(rate * runs)
    low, high = wilson_interval(hits, runs)
    both = round(base * runs) - lost
    c_low, c_high = paired_difference_interval(both, gained, lost, runs - both - gained - lost)
    return {"rate": hits / runs, "low": low, "high": high, "change": (gained - lost) / runs,
            "change_low": c_low, "change_high": c_high, "gained": gained, "lost": lost}


def leverage_data(runs: int = 200, scenario: str = "tiny") -> dict:
    """A leverage result of Beta on security guarantees in the format of `leverage.json`.

    Agreement falls as Beta's weight on the guarantees grows and rises as its position moves
    towards the others'; signing is always 10 points above agreement. Counts are whole runs.
    """
    base_rate = 0.5
    plan = [("baseline", 0.0, 0, 0), ("weight", 0.5, 30, 2), ("weight", 2.0, 1, 41),
            ("position", -0.5, 0, 24), ("position", 0.5, 36, 0)]
    steps = []
    for kind, step, gained, lost in plan:
        record: dict = {"kind": kind, "step": step, "overrides": {}}
        for output, shift in (("agreement", 0.0), ("signed", 0.1)):
            rate = base_rate + shift + (gained - lost) / runs
            record[output] = _leverage_cell(rate, base_rate + shift, runs, gained, lost)
        if kind == "weight":
            record["weight"] = 2 * step
            record["share"] = 2 * step / (2 + 2 * step)
        elif kind == "position":
            # Towards the others' mean values (none 0.25, strong 1), or hardening to its favourite, none.
            record["values"] = ({"none": 1 - 0.75 * step, "strong": 0.2 + 0.8 * step} if step > 0
                                else {"none": 1.0, "strong": 0.2 * (1 + step)})
        steps.append(record)
    return {"scenario": scenario, "actor": "beta", "actor_name": ACTORS["beta"], "issue": "guarantees",
            "issue_name": ISSUES["guarantees"]["name"], "runs": runs, "seed": 4, "sets": [],
            "outcomes": {"signed": "signed by the horizon (agreement or ceasefire without settlement)",
                         "agreement": "full agreement by the horizon"},
            "weight": 2.0, "share": 0.5, "values": {"none": 1.0, "strong": 0.2},
            "reference": {"none": 0.25, "strong": 1.0}, "favourite": "none", "steps": steps,
            "method": "test factory"}


def write_leverage(folder: Path, **kwargs) -> dict:
    """Write leverage.json into a folder; return what was written."""
    data = leverage_data(**kwargs)
    (Path(folder) / "leverage.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return data
