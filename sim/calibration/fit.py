"""Inference: sample the posterior with emcee (or fit its maximum), weigh it by the outcomes.

Two stages. (1) The recorded decisions have a closed-form likelihood (sim.calibration.
likelihood), sampled with emcee's affine-invariant ensemble sampler (Foreman-Mackey et al.
2013, PASP 125(925)), or maximised (MAP, with a Laplace approximation of the spread). (2)
Outcome-level observations ("no agreement signed by D", "talks suspended from D1 to D2") have
no formula: their probability under each posterior draw is estimated by simulating the
scenario (`runs_per_draw` Monte Carlo runs with the free numbers fixed at the draw, the rest
sampled as usual), and the draws are reweighted by it and resampled (sampling-importance-
resampling; Rubin 1988; a simulated likelihood in the sense of Diggle & Gratton 1984). A
probability estimated as 0 is smoothed to 1/(2n) so that one unlucky estimate does not remove
a draw. The effective sample size of the weights says how much the outcomes moved the
posterior (near the number of draws: hardly at all).
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field

import numpy as np

from sim.calibration.likelihood import DecisionLikelihood


@dataclass
class Posterior:
    """Draws of the free numbers (S, K), with how they were obtained and how well."""

    names: list[str]
    draws: np.ndarray
    method: str  # "emcee" or "map"
    chain: np.ndarray | None = None  # (steps, walkers, K) for emcee, burn-in included
    burn: int = 0
    acceptance: float | None = None
    rhat: dict[str, float] = field(default_factory=dict)
    ess: dict[str, float] = field(default_factory=dict)
    map_point: np.ndarray | None = None
    outcome_ess: float | None = None  # effective sample size after reweighting by the outcomes
    outcome_probabilities: dict[str, float] = field(default_factory=dict)  # mean over draws, before

    def mean(self) -> np.ndarray:
        """(K,) posterior means."""
        return self.draws.mean(axis=0)

    def sd(self) -> np.ndarray:
        """(K,) posterior standard deviations."""
        return self.draws.std(axis=0, ddof=1) if len(self.draws) > 1 else np.zeros(self.draws.shape[1])


def sample_emcee(like: DecisionLikelihood, walkers: int, steps: int, seed: int, progress: bool | None = None,
                 burn: float = 0.5) -> Posterior:
    """Run emcee on the decision posterior; discard the first `burn` share of steps."""
    import emcee

    k = len(like.free)
    walkers = max(walkers, 2 * k + 2)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xCA1,)))
    start = np.column_stack([f.prior.sample(rng, walkers) for f in like.free])
    # Start where the prior has mass and the likelihood is finite (every start is).
    sampler = emcee.EnsembleSampler(walkers, k, like.log_posterior, vectorize=True)
    # emcee draws its proposals from a legacy RandomState; seeding it makes the chain reproducible.
    sampler.random_state = np.random.RandomState(int(rng.integers(2**31 - 1))).get_state()
    bar = _bar(steps, progress, "step")
    for _ in sampler.sample(start, iterations=steps):
        bar.update(1)
    bar.close()
    chain = sampler.get_chain()  # (steps, walkers, k)
    cut = int(steps * burn)
    kept = chain[cut:]
    draws = kept.reshape(-1, k)
    names = like.names
    rhat = dict(zip(names, split_rhat(kept)))
    ess = dict(zip(names, effective_sample_size(kept)))
    return Posterior(names, draws, "emcee", chain=chain, burn=cut,
                     acceptance=float(np.mean(sampler.acceptance_fraction)), rhat=rhat, ess=ess)


def fit_map(like: DecisionLikelihood) -> Posterior:
    """The maximum a posteriori point, with a Laplace approximation (Gaussian at the mode) for its spread."""
    from scipy.optimize import minimize

    priors = [f.prior for f in like.free]
    x0 = np.array([min(max(p.a if p.normal else 0.5 * (p.a + p.b), p.lo), p.hi) for p in priors])
    bounds = [(p.lo if np.isfinite(p.lo) else None, p.hi if np.isfinite(p.hi) else None) for p in priors]
    result = minimize(lambda x: -float(like.log_posterior(x[None])[0]), x0, method="L-BFGS-B", bounds=bounds)
    mode = result.x
    hess = _hessian(lambda x: -float(like.log_posterior(x[None])[0]), mode,
                    np.array([max(p.sd, 1e-6) * 1e-2 for p in priors]))
    try:
        cov = np.linalg.inv(hess)
        if not np.all(np.linalg.eigvalsh(cov) > 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        cov = np.diag([p.sd ** 2 for p in priors])  # flat at the mode: keep the prior's spread
    rng = np.random.default_rng(0)
    draws = rng.multivariate_normal(mode, cov, size=2000)
    lo = np.array([p.lo for p in priors])
    hi = np.array([p.hi for p in priors])
    draws = np.clip(draws, lo, hi)
    return Posterior(like.names, draws, "map", map_point=mode)


def _hessian(f, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    k = len(x)
    out = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            e_i, e_j = np.eye(k)[i] * h[i], np.eye(k)[j] * h[j]
            val = (f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j) + f(x - e_i - e_j)) / (4 * h[i] * h[j])
            out[i, j] = out[j, i] = val
    return out


def split_rhat(chain: np.ndarray) -> np.ndarray:
    """(K,) split-R-hat (Gelman et al. 2013, BDA3 ch. 11) treating each walker as a chain.

    Walkers of an ensemble are not independent, so this is a screen, not a proof: values above
    1.05 say the walkers have not mixed and the chain should be longer.
    """
    steps = chain.shape[0] // 2
    if steps < 2:
        return np.full(chain.shape[2], np.nan)
    halves = np.concatenate([chain[:steps], chain[steps:2 * steps]], axis=1)  # (steps, 2W, K)
    means = halves.mean(axis=0)
    within = halves.var(axis=0, ddof=1).mean(axis=0)
    between = steps * means.var(axis=0, ddof=1)
    var_plus = (steps - 1) / steps * within + between / steps
    return np.sqrt(np.where(within > 0, var_plus / np.where(within > 0, within, 1.0), 1.0))


def effective_sample_size(chain: np.ndarray) -> np.ndarray:
    """(K,) draws kept over emcee's integrated autocorrelation time (Goodman & Weare 2010)."""
    import emcee

    tau = emcee.autocorr.integrated_time(chain, quiet=True)
    return chain.shape[0] * chain.shape[1] / np.maximum(tau, 1.0)


# ---------------------------------------------------------------------------------------------
# Outcome-level observations, by simulation


def simulate_statuses(game, like: DecisionLikelihood, draws: np.ndarray, seed: int, runs_per_draw: int = 32,
                      progress: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Statuses (rounds + 1, R) after each round of runs_per_draw runs under each draw, and each
    run's draw (R,): the free numbers fixed at the draw, every other number sampled as usual."""
    import dataclasses

    from sim.domain.game import _assemble
    from sim.domain.utility import sample_parameters
    from sim.model.model import NegotiationModel, RunDraws

    s = len(draws)
    max_rounds = game.protocol["max_rounds"]
    run_ids = np.arange(s * runs_per_draw)
    owner = np.repeat(np.arange(s), runs_per_draw)
    rd = RunDraws.draw(game, seed, run_ids, max_rounds)
    samples = sample_parameters(game.params, rd.params)
    temperature = np.repeat(np.array(game.protocol["temperatures"], dtype=float)[None], len(run_ids), axis=0)
    exponents = {}
    for k, f in enumerate(like.free):
        column = draws[owner, k]
        if f.kind == "number":
            samples[:, f.index] = column
        elif f.kind == "temperature":
            if f.index < 0:
                temperature[:, ~like.own_temperature] = column[:, None]
            else:
                temperature[:, f.index] = column
        else:
            exponents[f.index] = column
    prefs = _assemble(game, samples, central_only=False)
    model = NegotiationModel(game, prefs, rd, max_rounds=max_rounds, collect_rounds=False, rng=seed)
    for actor in model.actors:
        actor.temperature = temperature[:, actor.index]
        if actor.index in exponents:
            actor.strategy = dataclasses.replace(actor.strategy, exponent=exponents[actor.index])
    statuses = [model.status.copy()]
    bar = _bar(max_rounds, progress, "round")
    while model.running and model.round < max_rounds:
        model.step()
        statuses.append(model.status.copy())
        bar.update(1)
    bar.close()
    while len(statuses) < max_rounds + 1:  # every run ended early: the statuses hold
        statuses.append(statuses[-1])
    return np.array(statuses), owner


def outcome_probabilities(game, like: DecisionLikelihood, draws: np.ndarray, outcomes: list, seed: int,
                          runs_per_draw: int = 32, progress: bool | None = None) -> np.ndarray:
    """(S, O) each outcome's simulated probability under each draw of the free numbers."""
    s = len(draws)
    if not outcomes or s == 0:
        return np.ones((s, len(outcomes)))
    history, owner = simulate_statuses(game, like, draws, seed, runs_per_draw, progress)
    out = np.empty((s, len(outcomes)))
    for o, outcome in enumerate(outcomes):
        hit = outcome_hits(game, history, outcome)
        out[:, o] = np.bincount(owner, weights=hit.astype(float), minlength=s) / runs_per_draw
    return out


def status_index(game, history: np.ndarray, date: dt.date) -> int:
    """Which row of a status history holds the state on `date` (after the last round on or before it)."""
    k = int(np.floor((date - dt.date.fromisoformat(game.as_of)).days / game.round_days + 1e-9)) + 1
    return int(np.clip(k, 0, len(history) - 1))


def outcome_hits(game, history: np.ndarray, outcome) -> np.ndarray:
    """(R,) whether each run shows the outcome (statuses after each round in `history`)."""
    from sim.model.status import AGREEMENT, PARTIAL, SUSPENDED, SUSPENDED_AT_HORIZON

    if outcome.kind == "no_agreement_by":
        return ~np.isin(history[status_index(game, history, outcome.date)], (AGREEMENT, PARTIAL))
    window = history[status_index(game, history, outcome.start):status_index(game, history, outcome.end) + 1]
    return np.isin(window, (SUSPENDED, SUSPENDED_AT_HORIZON)).any(axis=0)


def reweigh_by_outcomes(posterior: Posterior, probabilities: np.ndarray, runs_per_draw: int, seed: int,
                        outcome_ids: list[str]) -> Posterior:
    """Resample the draws in proportion to the simulated probability of every outcome observed."""
    if probabilities.size == 0:
        return posterior
    smoothed = (probabilities * runs_per_draw + 0.5) / (runs_per_draw + 1.0)
    log_w = np.log(smoothed).sum(axis=1)
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    ess = float(1.0 / np.sum(w ** 2))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x515,)))
    chosen = rng.choice(len(w), size=len(w), p=w)
    posterior.draws = posterior.draws[chosen]
    posterior.outcome_ess = ess
    posterior.outcome_probabilities = {oid: float(p) for oid, p in zip(outcome_ids, probabilities.mean(axis=0))}
    return posterior


def thin(draws: np.ndarray, n: int, seed: int) -> np.ndarray:
    """At most n draws, chosen evenly at random without replacement."""
    if len(draws) <= n:
        return draws
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x7F1,)))
    return draws[np.sort(rng.choice(len(draws), size=n, replace=False))]


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, enabled: bool | None, unit: str):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False)
