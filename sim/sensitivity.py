"""Variance-based sensitivity analysis: which parameters drive agreement and each actor's utility.

First-order and total Sobol' indices are computed by `scipy.stats.sobol_indices` (the
estimators of Saltelli et al. 2010, Comput. Phys. Commun. 181(2)). We build scipy's own
design (matrices A and B from one scrambled Sobol' sequence of 2d dimensions, and the d
matrices A_B^(i)) so that the model can evaluate all N (d + 2) parameter vectors in one
parallel batch, then hand the outputs to scipy.

For a scenario, the model function maps a parameter vector (one value per `--sample` path) to
the agreement rate and every actor's mean utility over R Monte Carlo runs. Every vector is
evaluated on the same R seeded runs (common random numbers: run k always draws from
SeedSequence(seed, spawn_key=(0, k))), so the model is a deterministic function of the
parameters and the indices apportion the parameters' effect, not Monte Carlo noise. An
actor's utility in a run is the agreed deal's utility, or its reservation value (what no deal
is worth to it) when the run ends without a full agreement.

Each index carries a percentile bootstrap interval: the N base points (a row of A, of B and of
every A_B together) are resampled with replacement, seeded from the design's generator, and the
same estimators (Saltelli 2010 first order, Jansen 1999 total, as scipy computes them) recomputed.
The convergence check (sim.insight.sobol.convergence) asks two things of every output: that
the indices from the first N/2 base points, themselves a balanced Sobol' set, lie within the
intervals at N (stable), and that no interval is wider than MAX_CI_WIDTH (precise). The report
also keeps the design's A and B points with the agreement and signing rates found there, for
scenario discovery (sim.insight.discovery).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.errors import Problem, UserError
from sim.insight.sobol import (
    BOOTSTRAP,
    CONFIDENCE,
    MAX_CI_WIDTH,
    MIN_CONVERGENCE_POINTS,
    bootstrap_indices,
    convergence,
    saltelli_indices,
)
from sim.jobs.executors import LOCAL, ExecutorSpec


def next_power_of_two(n: int) -> int:
    """The smallest power of 2 that is at least n."""
    return 1 << max(0, int(n) - 1).bit_length()


def sobol_design(bounds: Sequence[tuple[float, float]], n: int,
                 seed: int | np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Saltelli's A (d, n), B (d, n) and A_B (d, d, n) for independent uniform inputs, as scipy builds them."""
    from scipy.stats import qmc

    from sim.jobs import qmc_engine

    d = len(bounds)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    unit = qmc_engine(qmc.Sobol, 2 * d, rng, scramble=True, bits=64).random(n).T.reshape(2, d, n)
    low = np.array([b[0] for b in bounds], dtype=float)[None, :, None]
    high = np.array([b[1] for b in bounds], dtype=float)[None, :, None]
    a, b = low + unit * (high - low)
    ab = np.tile(a, (d, 1, 1))
    ab[np.arange(d), np.arange(d)] = b
    return a, b, ab


@dataclass
class SobolResult:
    """Indices per output (rows) and parameter (columns); NaN where an output does not vary.

    first_ci and total_ci hold (low, high) on their last axis, first_se and total_se the
    bootstrap standard errors; first_half and total_half are the indices from the first n/2
    base points; convergence holds one record per output (see `convergence`). samples_x and
    samples_y are the design's A and B points and the outputs there.
    """

    first_order: np.ndarray  # (s, d)
    total: np.ndarray  # (s, d)
    mean: np.ndarray  # (s,)
    variance: np.ndarray  # (s,)
    n: int
    n_evaluations: int
    first_ci: np.ndarray | None = None  # (s, d, 2)
    total_ci: np.ndarray | None = None  # (s, d, 2)
    first_se: np.ndarray | None = None  # (s, d)
    total_se: np.ndarray | None = None  # (s, d)
    first_half: np.ndarray | None = None  # (s, d)
    total_half: np.ndarray | None = None  # (s, d)
    convergence: list[dict] | None = None  # (s,)
    samples_x: np.ndarray | None = None  # (d, 2n)
    samples_y: np.ndarray | None = None  # (s, 2n)


def sobol_analysis(func: Callable[[np.ndarray], np.ndarray], bounds: Sequence[tuple[float, float]], n: int,
                   seed: int | np.random.Generator | None = None, resamples: int = BOOTSTRAP,
                   confidence: float = CONFIDENCE) -> SobolResult:
    """First-order and total Sobol' indices of `func` over uniform inputs, by scipy.stats.sobol_indices,
    with bootstrap intervals and the half-sample convergence check.

    `func` takes parameter vectors as columns, an array (d, N), and returns (s, N) outputs (or
    (N,) for one output). It is called once, with all N = n (d + 2) vectors. `n` must be a
    power of 2 (scipy's requirement for the balance of Sobol' points). The bootstrap draws from
    the same generator as the design, after it, so a seed fixes everything.
    """
    from scipy.stats import sobol_indices

    if n < 2 or n & (n - 1):
        raise ValueError(f"n must be a power of 2 (at least 2), got {n}")
    d = len(bounds)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    a, b, ab = sobol_design(bounds, n, rng)
    x = np.concatenate([a, b, *ab], axis=1)
    y = np.atleast_2d(np.asarray(func(x), dtype=float))
    if y.shape[1] != x.shape[1]:
        raise ValueError(f"func returned {y.shape[1]} columns for {x.shape[1]} parameter vectors")
    s = y.shape[0]
    f_a, f_b = y[:, :n], y[:, n:2 * n]
    f_ab = y[:, 2 * n:].reshape(s, d, n).transpose(1, 0, 2)
    res = sobol_indices(func={"f_A": f_a, "f_B": f_b, "f_AB": f_ab}, n=n)
    first = np.asarray(res.first_order, dtype=float).reshape(s, d)
    total = np.asarray(res.total_order, dtype=float).reshape(s, d)
    both = np.concatenate([f_a, f_b], axis=1)
    variance = both.var(axis=1)
    # scipy reports 0 for an output that never varies; "no variance to apportion" is the truth.
    first[variance == 0] = np.nan
    total[variance == 0] = np.nan
    boot = bootstrap_indices(f_a, f_b, f_ab, rng, resamples, confidence)
    first_half = total_half = np.full_like(first, np.nan)
    if n >= MIN_CONVERGENCE_POINTS:
        first_half, total_half = saltelli_indices(f_a[:, :n // 2], f_b[:, :n // 2], f_ab[..., :n // 2])
    settled = convergence(np.hstack([first, total]), np.hstack([first_half, total_half]),
                          np.hstack([boot["first_ci"], boot["total_ci"]]),
                          np.hstack([boot["first_se"], boot["total_se"]]), level=confidence)
    return SobolResult(first, total, both.mean(axis=1), variance, n, x.shape[1], boot["first_ci"], boot["total_ci"],
                       boot["first_se"], boot["total_se"], first_half, total_half, settled, x[:, :2 * n], y[:, :2 * n])


# --- the scenario as a model function -------------------------------------------------------

#: The model's output that is kept with the design's points but not reported as Sobol' indices.
SIGNED = "signed_rate"


def _evaluate_chunk(task) -> tuple[int, tuple[int, int, np.ndarray, int]]:
    """(chunk id, (runs, agreements, summed utility per actor, signed)) of one chunk, reduced in the worker."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from sim.results.summary import run_payoffs
    from sim.simulate import simulate_chunk

    runs = simulate_chunk(task.game, task.spec)["runs"]
    agreed = pc.equal(runs["outcome"], "agreement").to_numpy(zero_copy_only=False)
    payoff = np.array([run_payoffs(runs[f"utility_{a}"].to_numpy(), runs[f"reservation_{a}"].to_numpy(), agreed).sum()
                       for a in task.game.actor_ids])
    signed = int(pc.sum(pc.is_in(runs["outcome"], value_set=pa.array(["agreement", "partial"]))).as_py() or 0)
    return task.chunk_id, (runs.num_rows, int(agreed.sum()), payoff, signed)


def scenario_model(prep, runs: int, seed: int, executor: ExecutorSpec = LOCAL,
                   progress: bool | None = None, chunk_size: int = 2000) -> tuple[Callable, list[str]]:
    """The model function for Sobol' analysis of a prepared scenario, and the names of its outputs.

    The last output, SIGNED, is the rate of runs signed by the horizon (agreement or a ceasefire
    without settlement), recorded for scenario discovery rather than reported as Sobol' indices.
    """
    from sim.jobs import Task, run_tasks
    from sim.simulate import ChunkSpec

    actors = list(prep.loaded.scenario.actors)
    outputs = ["agreement_rate"] + [f"utility_{a}" for a in actors] + [SIGNED]
    starts = list(range(0, runs, chunk_size))

    def model(x: np.ndarray) -> np.ndarray:
        values = [tuple(prep.value_of(axis, x[j, k]) for j, axis in enumerate(prep.axes)) for k in range(x.shape[1])]
        games = prep.games(values)
        tasks = [Task(k * len(starts) + c, game, ChunkSpec(seed, 0, (start, min(start + chunk_size, runs)), False))
                 for k, game in enumerate(games) for c, start in enumerate(starts)]
        n = np.zeros(len(games))
        agreed = np.zeros(len(games))
        signed = np.zeros(len(games))
        payoff = np.zeros((len(actors), len(games)))
        results: dict[int, tuple] = {}

        def collect(task, result) -> None:
            results[task.chunk_id] = result

        run_tasks(tasks, collect, executor, progress=progress, work=_evaluate_chunk)
        # Sum in chunk order, not completion order: floating-point sums must not depend on workers.
        for chunk_id in sorted(results):
            k = chunk_id // len(starts)
            n[k] += results[chunk_id][0]
            agreed[k] += results[chunk_id][1]
            payoff[:, k] += results[chunk_id][2]
            signed[k] += results[chunk_id][3]
        return np.vstack([agreed / n, payoff / n, signed / n])

    return model, outputs


def scenario_sensitivity(scenario: str, samples: Sequence[str], points: int = 64, runs: int = 100, seed: int = 0,
                         sets: Sequence[str] = (), executor: ExecutorSpec = LOCAL,
                         progress: bool | None = None) -> dict:
    """Sobol' indices of the agreement rate and each actor's mean utility over the `samples` ranges.

    `points` is rounded up to a power of 2. Returns the JSON-ready report.
    """
    from sim.jobs import SAMPLER_SPAWN_KEY, JobSpec, prepare

    if not samples:
        raise UserError([Problem("", None, "--sample", "give at least one parameter range PATH=LOW:HIGH")])
    n = next_power_of_two(max(points, 2))
    spec = JobSpec(kind="sensitivity", scenario=scenario, sets=tuple(sets), samples=tuple(samples), points=n,
                   runs=runs, seed=seed)
    prep = prepare(spec)
    model, outputs = scenario_model(prep, runs, seed, executor, progress=progress)
    bounds = [(axis.low, axis.high) for axis in prep.axes]
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=SAMPLER_SPAWN_KEY))
    res = sobol_analysis(model, bounds, n, rng)
    names = [axis.name for axis in prep.axes]

    def clean(v: float) -> float | None:
        return None if not np.isfinite(v) else round(float(v), 6)

    def per_parameter(values: np.ndarray) -> dict:
        return {p: clean(values[j]) for j, p in enumerate(names)}

    def intervals(ci: np.ndarray) -> dict:
        return {p: [clean(ci[j, 0]), clean(ci[j, 1])] for j, p in enumerate(names)}

    blocks = {}
    for i, out in enumerate(outputs):
        if out == SIGNED:
            continue
        blocks[out] = {"first_order": per_parameter(res.first_order[i]), "total": per_parameter(res.total[i]),
                       "mean": clean(res.mean[i]), "variance": clean(res.variance[i]),
                       "first_order_ci": intervals(res.first_ci[i]), "total_ci": intervals(res.total_ci[i]),
                       "first_order_half": per_parameter(res.first_half[i]),
                       "total_half": per_parameter(res.total_half[i]),
                       "convergence": {k: (clean(v) if isinstance(v, float) else v)
                                       for k, v in res.convergence[i].items()}}
    verdicts = [b["convergence"]["converged"] for b in blocks.values() if b["convergence"]["converged"] is not None]
    verdict = ("not checked" if not verdicts or n < MIN_CONVERGENCE_POINTS
               else "converged" if all(verdicts) else "not converged")
    # Unrounded, so that rate x runs gives back each point's whole count of runs.
    rate = {out: [float(v) for v in res.samples_y[i]] for i, out in enumerate(outputs)}
    return {
        "scenario": prep.loaded.name,
        "parameters": names,
        "ranges": {name: [axis.low, axis.high] for name, axis in zip(names, prep.axes)},
        "outputs": blocks,
        "n_evaluations": res.n_evaluations,
        "points": n,
        "runs": runs,
        "seed": seed,
        "method": "scipy.stats.sobol_indices (Saltelli 2010), scrambled Sobol' design, common random numbers",
        "bootstrap": {"resamples": BOOTSTRAP, "confidence": CONFIDENCE,
                      "method": "percentile bootstrap over the base points (each point's A, B and A_B rows together)"},
        "convergence": {"verdict": verdict, "half_points": n // 2, "max_ci_width": MAX_CI_WIDTH,
                        "rule": "converged: every index from the first N/2 base points lies within its interval at N "
                                "(simultaneous over all indices) and every 95% interval is at most "
                                f"{MAX_CI_WIDTH} wide"},
        "samples": {"design": "the A and B matrices of the Saltelli design: independent scrambled Sobol' points",
                    "runs": runs, "inputs": {axis.name: [prep.value_of(axis, v) for v in res.samples_x[j]]
                                             for j, axis in enumerate(prep.axes)},
                    "agreement_rate": rate["agreement_rate"], "signed_rate": rate[SIGNED]},
    }


def _index_cell(block: dict, kind: str, p: str) -> str:
    value = block[kind].get(p)
    ci = (block.get(f"{kind}_ci") or {}).get(p) or [None, None]
    text = f"{value:6.3f}" if value is not None else "     -"
    return text + (f" ({ci[0]:.2f} to {ci[1]:.2f})" if None not in ci else "")


def _verdict_text(conv: dict) -> str:
    if not conv or conv.get("converged") is None:
        return ""
    if conv["converged"]:
        return "; converged"
    why = []
    if not conv["precise"]:
        why.append(f"intervals up to {conv['max_width']:.2f} wide")
    if not conv["stable"]:
        why.append(f"indices still moving by up to {conv['max_change']:.2f} between N/2 and N")
    return "; NOT converged: " + ", ".join(why)


def sensitivity_table(report: dict) -> str:
    """The report as plain text: one block per output, one line per parameter, intervals and verdicts if known."""
    names = report["parameters"]
    d = len(names)
    lines = [f"Sobol' indices for {report['scenario']} (scipy.stats.sobol_indices, Saltelli 2010): "
             f"{d} parameter(s), {report['points']} base points x ({d} + 2) = {report['n_evaluations']:,} "
             f"evaluations x {report['runs']:,} runs (seed {report['seed']})"]
    width = max(len("parameter"), *(len(p) for p in names))
    has_ci = any("first_order_ci" in block for block in report["outputs"].values())
    head = ("first order (95% CI)", "total (95% CI)") if has_ci else ("first order", "total")
    cell = 22 if has_ci else 11
    for out, block in report["outputs"].items():
        mean, var = block["mean"], block["variance"]
        lines.append("")
        if var is None or var == 0:
            lines.append(f"{out}: constant ({mean}) over the sample; no variance to apportion")
            continue
        lines.append(f"{out} (mean {mean:.3f}, sd {var ** 0.5:.3f}){_verdict_text(block.get('convergence'))}")
        lines.append(f"  {'parameter'.ljust(width)}  {head[0].ljust(cell)}  {head[1]}")
        for p in sorted(names, key=lambda p: -(block["total"][p] or 0)):
            lines.append(f"  {p.ljust(width)}  {_index_cell(block, 'first_order', p).ljust(cell)}  "
                         f"{_index_cell(block, 'total', p)}")
    lines.append("")
    lines.append("first order: share of the output's variance due to the parameter alone; total: including its "
                 "interactions. Estimates carry sampling error; more --points narrows it.")
    conv = report.get("convergence")
    if conv:
        boot = report.get("bootstrap") or {}
        lines.append(f"intervals: {boot.get('method', 'bootstrap')}, {boot.get('resamples', '?')} resamples.")
        lines.append(f"convergence: {conv['verdict'].upper()}"
                     + (f"; more --points (now {report['points']}) narrow the intervals"
                        if conv["verdict"] == "not converged" else "") + f" ({conv['rule']})")
    return "\n".join(lines)
