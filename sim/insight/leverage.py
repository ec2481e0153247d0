"""Leverage: how much a change of one actor's weight or position on one issue moves the chance of agreement.

The question Bueno de Mesquita-style users ask first: whose stance on what could move the
outcome? For an actor and an issue we vary, one at a time,

- **weight**: the actor's weight (salience) on the issue, times each factor (an uncertain
  weight has its mean, sd and bounds scaled alike); weights are normalised per actor, so the
  table also shows the issue's share of the actor's total weight;
- **position**: the actor's value table on the issue, blended a share |s| of the way towards a
  target: for s > 0 the mean values of the other actors that value the issue (it moves towards
  the others), for s < 0 valuing only its own favourite option (it hardens). Every option's
  value v becomes (1 - |s|) v + |s| t, for an uncertain value its mean and bounds alike and its
  sd times (1 - |s|), so values stay in [0, 1]; red lines and interaction terms are unchanged.

Every variation is applied to the parsed scenario by the override mechanism
(sim.scenario.overrides, as `--set` and `--grid` are), validated like a file, and simulated on
the same runs with the same seed: run k draws the same chance at every step (common random
numbers; an uncertain number's draw is keyed by its path, so a scaled weight scales the same
draw). The change against the unmodified scenario is a paired difference, with Newcombe's
hybrid score interval for paired proportions (Newcombe 1998, Stat. Med. 17:2635, method 10),
and each step's probability carries its Wilson interval.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any

import numpy as np

from sim.drivers import OUTCOMES
from sim.errors import Problem, UserError
from sim.jobs.executors import LOCAL, ExecutorSpec
from sim.results.summary import wilson_interval
from sim.scenario.overrides import get
from sim.scenario.yamlsrc import dotted

WEIGHT_FACTORS = (0.5, 0.75, 1.5, 2.0)
POSITION_STEPS = (-0.5, -0.25, 0.25, 0.5)
_Z95 = 1.959964


def paired_difference_interval(both: int, only_new: int, only_old: int, neither: int,
                               z: float = _Z95) -> tuple[float, float]:
    """Newcombe's (1998) method 10 interval for p_new - p_old from paired 0/1 outcomes.

    `only_new`: runs that reach the outcome only in the new variant, `only_old` only in the old
    one. Wilson intervals of both proportions combined with the continuity-corrected phi
    correlation of the pairs; it stays informative when no run changes.
    """
    n = both + only_new + only_old + neither
    if n == 0:
        return (-1.0, 1.0)
    p1, p2 = (both + only_new) / n, (both + only_old) / n
    l1, u1 = wilson_interval(both + only_new, n, z)
    l2, u2 = wilson_interval(both + only_old, n, z)
    margins = (both + only_new) * (only_old + neither) * (both + only_old) * (only_new + neither)
    phi = 0.0
    if margins > 0:
        cross = both * neither - only_new * only_old
        corrected = cross if cross <= 0 else max(cross - n / 2, 0.0)
        phi = corrected / math.sqrt(margins)
    d = p1 - p2
    low = d - math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    high = d + math.sqrt(max((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2, 0.0))
    return max(-1.0, low), min(1.0, high)


def _central(raw: Any) -> float:
    if isinstance(raw, dict):
        return float(raw["mean"]) if raw.get("mean") is not None else (float(raw["low"]) + float(raw["high"])) / 2
    return float(raw)


def _tidy(x: float) -> float:
    return float(f"{x:.12g}")  # 0.30000000000000004 would print and validate as noise


def affine(raw: Any, scale: float, shift: float) -> Any:
    """scale * value + shift for a plain or uncertain number (its sd scales by |scale|)."""
    if isinstance(raw, dict):
        out = dict(raw)
        for key in ("mean", "low", "high"):
            if out.get(key) is not None:
                out[key] = _tidy(scale * float(out[key]) + shift)
        if out.get("sd") is not None:
            out["sd"] = _tidy(abs(scale) * float(out["sd"]))
        return out
    return _tidy(scale * float(raw) + shift)


def _unknown(label: str, given: str, known: list[str], what: str) -> UserError:
    near = difflib.get_close_matches(given, known, n=3)
    hint = f"; did you mean {', '.join(near)}?" if near else f"; known: {', '.join(known)}"
    return UserError([Problem("", None, label, f"no {what} {given!r} in the scenario{hint}")])


def _values_of(data: dict, actor: str) -> dict[str, dict]:
    """Each issue's option values of an actor, as parsed (plain or uncertain numbers)."""
    tables = (get(data, ("actors", actor), {}) or {}).get("values") or {}
    return {issue: (table or {}).get("options") or {} for issue, table in tables.items()}


@dataclasses.dataclass(frozen=True)
class Variation:
    """One step: what is varied, by how much, and the overrides (dotted path -> parsed value) that do it."""

    kind: str  # "baseline", "weight" or "position"
    step: float
    overrides: dict


def variations(data: dict, actor: str, issue: str, weight_factors=WEIGHT_FACTORS,
               position_steps=POSITION_STEPS) -> tuple[list[Variation], dict]:
    """The baseline and every step's overrides for a parsed scenario; and what they are relative to."""
    actors = list(data.get("actors") or {})
    if actor not in actors:
        raise _unknown("--actor", actor, actors, "actor")
    issues = list(data.get("issues") or {})
    if issue not in issues:
        raise _unknown("--issue", issue, issues, "issue")
    raw_weight = ((data["actors"][actor] or {}).get("weights") or {}).get(issue)
    if raw_weight is None or _central(raw_weight) <= 0:
        raise UserError([Problem("", None, "--issue", f"{actor} gives {issue} no weight, so neither its weight "
                                                      "factor nor its position there moves anything; give it one "
                                                      f"with --set actors.{actor}.weights.{issue}=0.1")])
    weights = {i: _central(w) for i, w in ((data["actors"][actor] or {}).get("weights") or {}).items()}
    own = _values_of(data, actor).get(issue) or {}
    others = []  # the value tables of the other actors who care about the issue
    for other in (a for a in actors if a != actor):
        table = _values_of(data, other).get(issue)
        weight = ((data["actors"][other] or {}).get("weights") or {}).get(issue)
        if table and weight is not None and _central(weight) > 0:
            others.append(table)
    own_central = {o: _central(v) for o, v in own.items()}
    favourite = max(own_central, key=lambda o: own_central[o]) if own_central else None
    reference = ({o: _tidy(float(np.mean([_central(t[o]) for t in others if o in t]))) for o in own}
                 if others else None)
    out = [Variation("baseline", 0.0, {})]
    for f in weight_factors:
        if f < 0:
            raise UserError([Problem("", None, "--weight-factors", f"a weight factor must be 0 or more, got {f:g}")])
        out.append(Variation("weight", f, {("actors", actor, "weights", issue): affine(raw_weight, f, 0.0)}))
    for s in position_steps:
        if not -1 <= s <= 1:
            raise UserError([Problem("", None, "--position-steps", f"a position step is between -1 and 1, got {s:g}")])
        if s > 0 and reference is None:
            raise UserError([Problem("", None, "--position-steps", f"no other actor values {issue}, so there is "
                                                                   "no view to move towards; give only steps below 0")])
        if s != 0 and not own:
            raise UserError([Problem("", None, "--issue", f"{actor} has no values for {issue}")])
        target = reference if s > 0 else {o: float(o == favourite) for o in own}
        out.append(Variation("position", s, {("actors", actor, "values", issue, "options", o):
                                             affine(v, 1 - abs(s), abs(s) * target[o]) for o, v in own.items()}))
    context = {"weight": _central(raw_weight), "weight_total": float(sum(weights.values())),
               "values": own_central, "reference": reference, "favourite": favourite,
               "others": len(others)}
    return out, context


def _outcomes(task) -> tuple[int, np.ndarray]:
    """(chunk id, (2, runs) booleans: full agreement, signed) of one chunk, reduced in the worker."""
    import pyarrow.compute as pc

    from sim.simulate import simulate_chunk

    outcome = simulate_chunk(task.game, task.spec)["runs"]["outcome"]
    agreed = pc.equal(outcome, "agreement").to_numpy(zero_copy_only=False)
    partial = pc.equal(outcome, "partial").to_numpy(zero_copy_only=False)
    return task.chunk_id, np.vstack([agreed, agreed | partial])


def _compare(new: np.ndarray, old: np.ndarray) -> dict:
    n = len(new)
    both, only_new = int((new & old).sum()), int((new & ~old).sum())
    only_old, neither = int((~new & old).sum()), int((~new & ~old).sum())
    low, high = wilson_interval(int(new.sum()), n)
    d_low, d_high = paired_difference_interval(both, only_new, only_old, neither)
    return {"rate": float(new.mean()), "low": low, "high": high, "change": (only_new - only_old) / n,
            "change_low": d_low, "change_high": d_high, "gained": only_new, "lost": only_old}


def leverage(scenario: str, actor: str, issue: str, runs: int = 1000, seed: int = 0, sets=(),
             weight_factors=WEIGHT_FACTORS, position_steps=POSITION_STEPS, executor: ExecutorSpec = LOCAL,
             progress: bool | None = None) -> dict:
    """Agreement and signing probabilities at every step of the actor's weight and position on the issue."""
    from sim.jobs import JobSpec, Task, auto_chunk_size, prepare, run_tasks
    from sim.jobs.plan import Axis
    from sim.simulate import ChunkSpec

    if runs < 1:
        raise UserError([Problem("", None, "--runs", f"must be at least 1, got {runs}")])
    prep = prepare(JobSpec(kind="run", scenario=str(scenario), sets=tuple(sets), runs=runs, seed=seed))
    steps, context = variations(prep.data, actor, issue, tuple(weight_factors), tuple(position_steps))
    paths = list(dict.fromkeys(p for v in steps for p in v.overrides))
    axes = [Axis("leverage", dotted(p), p) for p in paths]
    values = [tuple(v.overrides.get(p, get(prep.data, p)) for p in paths) for v in steps]
    games = dataclasses.replace(prep, axes=axes).games(values)
    chunk = min(runs, auto_chunk_size(runs * len(games), executor.effective_workers))
    starts = list(range(0, runs, chunk))
    tasks = [Task(k * len(starts) + c, game, ChunkSpec(seed, k, (start, min(start + chunk, runs)), False))
             for k, game in enumerate(games) for c, start in enumerate(starts)]
    outcome = np.zeros((len(games), 2, runs), dtype=bool)

    def collect(task, result) -> None:
        outcome[task.spec.point, :, task.spec.runs[0]:task.spec.runs[1]] = result

    run_tasks(tasks, collect, executor, progress=progress, work=_outcomes)
    records = []
    for k, v in enumerate(steps):
        record: dict = {"kind": v.kind, "step": v.step,
                        "overrides": {dotted(p): val for p, val in v.overrides.items()}}
        for j, key in enumerate(("agreement", "signed")):
            record[key] = _compare(outcome[k, j], outcome[0, j])
        if v.kind == "weight":
            w = context["weight"] * v.step
            record["weight"] = w
            record["share"] = w / (context["weight_total"] - context["weight"] + w) if w > 0 else 0.0
        elif v.kind == "position":
            record["values"] = {o: _central(val) for (*_, o), val in v.overrides.items()}
        records.append(record)
    sc = prep.loaded.scenario
    return {"scenario": prep.loaded.name, "actor": actor, "actor_name": sc.actors[actor].name,
            "issue": issue, "issue_name": sc.issues[issue].name, "runs": runs, "seed": seed,
            "sets": list(sets), "outcomes": dict(OUTCOMES),
            "weight": context["weight"], "share": context["weight"] / context["weight_total"],
            "values": context["values"], "reference": context["reference"], "favourite": context["favourite"],
            "steps": records,
            "method": "one-at-a-time overrides on the same seeded runs (common random numbers); Wilson intervals; "
                      "paired differences with Newcombe's (1998) hybrid score interval"}
