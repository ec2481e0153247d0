"""What drives an answer: the share of the outcome's variance due to each kind of input.

A forecast is evidence only if it moves with what the actors said, not with how the model was
set up. The inputs of a run fall into four groups:

- **quoted preferences**: the uncertain weights, option values and interaction deltas, each read
  from a quoted statement;
- **judgements**: the uncertain reservation values (or their premiums), concession deadlines,
  front-line drift and war costs;
- **structural knobs**: round length, acceptance temperature, mediator bias and step, patience,
  varied over the ranges in STRUCTURAL_RANGES (the scenario's own numbers are their centres);
The answer is the probability that the signatories sign by the horizon (OUTCOMES: a full
agreement, or a ceasefire without settlement when a third party withholds a consent; or, with
outcome="agreement", full agreements only), f(x) for one vector x of all the
uncertain inputs, estimated over `runs_per_row` runs that differ only in chance (acceptance
noise, front-line noise, the talks' pauses; the same chance draws in every matrix). For each
group g we estimate its total Sobol' index with Jansen's estimator (Jansen 1999; Saltelli et
al. 2010, Comput. Phys. Commun. 181(2)): ST_g = E[(f(A) - f(A with g from B))^2] / (2 Var f),
from two independent input matrices A and B. Uncertain numbers are keyed by (seed, id, path)
(see RunDraws.draw), so "g from B" is "g's paths under B's seed". The design is small, so the
indices carry sampling error: the interval is a bootstrap over rows. `chance` reports how much
of the run-by-run variance is left to chance once the inputs are fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GROUPS = ("quoted preferences", "judgements", "structural knobs")

#: What the answer counts: the name shown, and the outcome codes counted as a yes.
OUTCOMES = {"signed": "signed by the horizon (agreement or ceasefire without settlement)",
            "agreement": "full agreement by the horizon"}

#: Ranges the structural knobs are varied over, as (low, high) multipliers or absolute bounds.
#: None of these is a finding about the war: they are how the model is run.
STRUCTURAL_RANGES = {
    "round_days": ("times", 0.5, 2.0),
    "temperature": ("times", 0.5, 2.0),
    "mediator_bias": ("times", 0.5, 1.5),
    "mediator_step": ("times", 0.5, 2.0),
    "patience_days": ("times", 0.5, 2.0),
}


def param_group(path: str) -> str:
    """Which group an uncertain number's path belongs to."""
    parts = path.split(".")
    if parts[0] == "actors" and len(parts) > 2:
        if parts[2] in ("weights", "values") or parts[2].startswith("interactions"):
            return GROUPS[0]
    return GROUPS[1]


@dataclass(frozen=True)
class DriversResult:
    """Total indices per group with bootstrap intervals, and the design that produced them."""

    total: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]
    rate: float
    chance: float  # share of run-level variance within rows (inputs fixed, chance free)
    rows: int
    runs_per_row: int
    seed: int
    knobs: tuple[str, ...] = tuple(STRUCTURAL_RANGES)
    outcome: str = "signed"

    def to_dict(self) -> dict:
        """A JSON-able record."""
        return {"output": OUTCOMES[self.outcome], "outcome": self.outcome,
                "method": "Jansen total-effect estimator, grouped inputs, chance noise removed",
                "total": self.total, "low": self.low, "high": self.high, "agreement_rate": self.rate,
                "chance": self.chance,
                "rows": self.rows, "runs_per_row": self.runs_per_row, "seed": self.seed,
                "structural_ranges": {k: list(STRUCTURAL_RANGES[k]) for k in self.knobs}}


def _knob_values(protocol, u: np.ndarray, ranges: dict) -> dict:
    out = {}
    for (name, (kind, lo, hi)), x in zip(ranges.items(), u):
        centre = float(getattr(protocol, name))
        out[name] = centre * (lo + x * (hi - lo)) if kind == "times" else lo + x * (hi - lo)
    return out


def _game_for(scenario, knobs: dict):
    from sim.domain.game import compile_scenario

    protocol = scenario.protocol.model_copy(update=knobs)
    return compile_scenario(scenario.model_copy(update={"protocol": protocol}))


def _agreed(game, seed: int, run_ids: np.ndarray, param_seeds: dict[str, int], row: int,
            outcome: str = "signed") -> np.ndarray:
    from sim.model.model import AGREEMENT, PARTIAL, NegotiationModel, RunDraws

    max_rounds = game.protocol["max_rounds"]
    draws = RunDraws.draw(game, seed, run_ids, max_rounds, param_seeds=param_seeds,
                          param_ids=np.full(len(run_ids), row))
    prefs = game.sample_preferences(draws.params)
    model = NegotiationModel(game, prefs, draws, max_rounds=max_rounds, collect_rounds=False, rng=seed)
    model.run()
    counted = (AGREEMENT, PARTIAL) if outcome == "signed" else (AGREEMENT,)
    return np.isin(model.status, counted).astype(float)


def drivers(scenario, rows: int = 48, runs_per_row: int = 24, seed: int = 0, boot: int = 400,
            knobs: tuple[str, ...] | None = None, outcome: str = "signed") -> DriversResult:
    """Grouped total Sobol' indices of the answer (see OUTCOMES) for a validated Scenario.

    `knobs` limits the structural group to some of STRUCTURAL_RANGES (default: all of them).
    """
    ranges = {k: v for k, v in STRUCTURAL_RANGES.items() if knobs is None or k in knobs}
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xD21,)))
    seed_a, seed_b = (int(x) for x in rng.integers(0, 2**63 - 1, size=2))
    knobs_a = rng.random((rows, len(ranges)))
    knobs_b = rng.random((rows, len(ranges)))
    base = _game_for(scenario, {})
    paths = [p.path for p in base.params] + ([p.path for p in base.war.params] if base.war is not None else [])
    groups = {p: param_group(p) for p in paths}

    def seeds(from_b: set[str]) -> dict[str, int]:
        return {p: (seed_b if g in from_b else seed_a) for p, g in groups.items()}

    y_a = np.empty((rows, runs_per_row))
    y_b = np.empty((rows, runs_per_row))
    y_ab = {g: np.empty((rows, runs_per_row)) for g in GROUPS}
    run_ids = np.arange(runs_per_row)  # the same chance draws in every row and matrix
    for i in range(rows):
        game_a = _game_for(scenario, _knob_values(scenario.protocol, knobs_a[i], ranges))
        game_b = _game_for(scenario, _knob_values(scenario.protocol, knobs_b[i], ranges))
        y_a[i] = _agreed(game_a, seed, run_ids, seeds(set()), i, outcome)
        y_b[i] = _agreed(game_b, seed, run_ids, seeds(set(GROUPS)), i, outcome)
        for g in GROUPS:
            game = game_b if g == "structural knobs" else game_a
            y_ab[g][i] = _agreed(game, seed, run_ids, seeds({g}), i, outcome)
    run_var = y_a.var()
    chance = float(np.mean(y_a.var(axis=1)) / run_var) if run_var > 0 else 0.0
    total, low, high = {}, {}, {}
    boot_rows = np.random.default_rng(seed).integers(0, rows, size=(boot, rows))
    for g in GROUPS:
        total[g] = _jansen(y_a, y_b, y_ab[g], np.arange(rows))
        samples = np.array([_jansen(y_a, y_b, y_ab[g], r) for r in boot_rows])
        low[g], high[g] = (float(x) for x in np.quantile(samples, [0.025, 0.975]))
    rate = float(np.concatenate([y_a, y_b]).mean())
    return DriversResult(total, low, high, rate, chance, rows, runs_per_row, seed, tuple(ranges), outcome)


#: Below this share of the rows' variance, the part the inputs explain is too small to split.
MIN_SIGNAL = 0.05


def _jansen(y_a: np.ndarray, y_b: np.ndarray, y_ab: np.ndarray, rows: np.ndarray) -> float:
    """Jansen's total index from run-level outcomes (rows x runs), with the chance noise removed.

    f is a probability estimated from n runs, so both the squared difference and the variance
    carry binomial noise that belongs to chance, not to any input: a knob that merely reshuffles
    which runs agree would otherwise show up as an effect. The paired runs (same chance draws)
    give an unbiased correction, E[mean(d)^2] = mu_d^2 + var(d)/n for d = y_a - y_ab.
    """
    y_a, y_b, y_ab = (np.asarray(y).reshape(len(y), -1) for y in (y_a, y_b, y_ab))
    n = y_a.shape[1]
    d = y_a[rows] - y_ab[rows]
    both = np.concatenate([y_a[rows], y_b[rows]])
    numerator = np.mean(d.mean(axis=1) ** 2)
    raw_var = var = both.mean(axis=1).var(ddof=1)
    if n > 1:  # one run per row (a deterministic f) has no chance noise to remove
        numerator -= np.mean(d.var(axis=1, ddof=1)) / n
        var -= np.mean(both.var(axis=1, ddof=1)) / n
    if var <= MIN_SIGNAL * raw_var:  # what the inputs move is lost in chance: nothing to share out
        return 0.0
    return float(max(numerator, 0.0) / (2 * var))


def drivers_text(result: DriversResult | dict) -> str:
    """The 'what drives this answer' section, as plain text."""
    data = result.to_dict() if isinstance(result, DriversResult) else result
    output = data.get("output", OUTCOMES["agreement"])
    lines = [f"what drives this answer (total Sobol' index of the probability: {output}; "
             f"{data['rows']} input vectors x {data['runs_per_row']} runs, 95% bootstrap interval):"]
    for g in GROUPS:
        lines.append(f"  {g:<20} {data['total'][g]:5.2f}  ({data['low'][g]:.2f}-{data['high'][g]:.2f})")
    lines.append(f"  chance left {data['chance']:.0%} of the run-by-run variance once the inputs were fixed")
    if data["agreement_rate"] == 0:
        lines.append("  no run of the design reached it: nothing varies, so nothing drives it")
    elif not any(data["total"].values()):
        lines.append("  what the inputs move is lost in chance: no group can be said to drive it")
    else:
        evidence = data["total"][GROUPS[0]]
        knobs = data["total"][GROUPS[2]]
        verdict = ("the quoted preferences matter more than how the model is set up" if evidence > knobs
                   else "WARNING: the model's structural knobs matter as much as the quoted preferences or more")
        lines.append(f"  {verdict}")
    return "\n".join(lines)
