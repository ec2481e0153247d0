"""Bootstrap intervals and a convergence check for Sobol' indices (used by sim.sensitivity).

The estimators are scipy's (scipy.stats.sobol_indices: Saltelli et al. 2010 for the first-order
index, Jansen 1999 for the total), recomputed here on resampled and halved designs, since
scipy's own `bootstrap()` cannot be seeded and so would make a report unrepeatable.
"""

from __future__ import annotations

import numpy as np

#: Bootstrap resamples behind each interval, and the intervals' confidence level.
BOOTSTRAP = 1000
CONFIDENCE = 0.95
#: Below this many base points the half-sample check says nothing.
MIN_CONVERGENCE_POINTS = 8
#: An index is precise enough when its interval is at most this wide (Sarrazin et al. 2016 use
#: 0.05 for screening; 0.1 still ranks parameters whose indices differ by more than that).
MAX_CI_WIDTH = 0.1


def saltelli_indices(f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-order (Saltelli 2010) and total (Jansen 1999) indices, (s, d) each, exactly as scipy computes them.

    f_a, f_b: (s, n) outputs at A and B; f_ab: (d, s, n) at each A_B^(i). NaN where the output
    does not vary.
    """
    both = np.concatenate([f_a, f_b], axis=-1)
    mean = both.mean(axis=-1, keepdims=True)
    f_a, f_b, f_ab = f_a - mean, f_b - mean, f_ab - mean
    var = (both - mean).var(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = (np.mean(f_b * (f_ab - f_a), axis=-1) / var).T  # (s, d)
        total = (0.5 * np.mean((f_a - f_ab) ** 2, axis=-1) / var).T
    first[var == 0] = np.nan
    total[var == 0] = np.nan
    return first, total


def bootstrap_indices(f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray, rng: np.random.Generator,
                      resamples: int = BOOTSTRAP, confidence: float = CONFIDENCE) -> dict[str, np.ndarray]:
    """Percentile bootstrap intervals ((s, d, 2): first_ci, total_ci) and standard errors ((s, d): first_se,
    total_se) of the indices.

    A resample draws n base points with replacement and keeps each point's A, B and A_B rows
    together, since the estimators pair them.
    """
    import warnings

    n = f_a.shape[1]
    reps = {"first": [], "total": []}
    for _ in range(resamples):
        idx = rng.integers(0, n, size=n)
        first, total = saltelli_indices(f_a[:, idx], f_b[:, idx], f_ab[..., idx])
        reps["first"].append(first)
        reps["total"].append(total)
    q = [(1 - confidence) / 2, (1 + confidence) / 2]
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: a constant output has no interval
        for kind, values in reps.items():
            values = np.array(values)
            out[f"{kind}_ci"] = np.moveaxis(np.nanquantile(values, q, axis=0), 0, -1)
            out[f"{kind}_se"] = np.nanstd(values, axis=0, ddof=1)
    return out


def convergence(full: np.ndarray, half: np.ndarray, ci: np.ndarray, se: np.ndarray,
                max_width: float = MAX_CI_WIDTH, level: float = CONFIDENCE) -> list[dict]:
    """Per output (rows of (s, k) indices, both kinds side by side): is the estimate settled?

    stable: every index from half the base points lies within its interval at N. Each interval
    is widened from `level` to a simultaneous one over all the finite indices given (Bonferroni,
    using the bootstrap standard error), because with dozens of indices one in twenty would
    otherwise fall outside by chance alone. precise: every interval is at most `max_width` wide.
    converged: both; None where the output is constant or half the points cannot estimate it.
    """
    from scipy.stats import norm

    finite = np.isfinite(full) & np.isfinite(half) & np.isfinite(se)
    z = float(norm.ppf(1 - (1 - level) / (2 * max(1, int(finite.sum())))))
    out = []
    for i in range(full.shape[0]):
        if not finite[i].all() or not np.isfinite(ci[i]).all():
            out.append({"stable": None, "precise": None, "converged": None, "max_change": None, "max_width": None})
            continue
        change = np.abs(half[i] - full[i])
        width = ci[i, :, 1] - ci[i, :, 0]
        stable = bool(np.all(change <= z * se[i] + 1e-12))
        precise = bool(np.all(width <= max_width + 1e-12))
        out.append({"stable": stable, "precise": precise, "converged": stable and precise,
                    "max_change": float(change.max()), "max_width": float(width.max())})
    return out
