"""Bargaining solutions on a finite set of utility points: pure functions of arrays, no game.

The bargaining parties are the signatories; the disagreement point is their reservation values
r; the feasible set is the ZOPA (callers pass its Pareto-optimal points).
    Nash bargaining solution: maximise prod_s (u_s - r_s) (J. F. Nash, "The Bargaining
        Problem", Econometrica 18(2), 1950, 155-162).
    Kalai-Smorodinsky solution: maximise min_s (u_s - r_s) / (ideal_s - r_s), where ideal_s is
        the best utility s gets from a deal everyone else needed accepts (equivalently, from a
        ZOPA deal, whenever the ZOPA is not empty) (E. Kalai and M. Smorodinsky, "Other
        Solutions to Nash's Bargaining Problem", Econometrica 43(3), 1975, 513-518).
    Utilitarian optimum: maximise the sum of the signatories' utilities over the ZOPA
        (`utilitarian_all`: every actor's utility).
On a finite deal space these are the discrete versions: the best deal, not a lottery. Ties go
to the larger sum of gains (Nash, Kalai-Smorodinsky) or the larger Nash product (utilitarian),
so the chosen point is Pareto-optimal among those given. All are None when there are none.
"""

from __future__ import annotations

import numpy as np

from sim.analysis.tables import TOL

SOLUTIONS = ("nash", "kalai_smorodinsky", "utilitarian", "utilitarian_all")


def best_index(score: np.ndarray, tiebreak: np.ndarray) -> int:
    """Index of the largest score (to TOL), ties to the largest tiebreak."""
    top = score >= score.max() - TOL if np.isfinite(score.max()) else np.ones(len(score), dtype=bool)
    cand = np.nonzero(top)[0]
    return int(cand[np.argmax(tiebreak[cand])])


def bargaining_solutions(util: np.ndarray, signatories: np.ndarray, reservation: np.ndarray) -> dict:
    """Indices into `util` (points (n, A)) of each of SOLUTIONS, and the signatories' ideal point."""
    if not len(util):
        return {**dict.fromkeys(SOLUTIONS), "ideal": None}
    s = signatories
    gains = np.maximum(util[:, s] - reservation[s], 0.0)
    tie = gains.sum(axis=1)
    # Compare Nash products as log-sums: with many parties the products are tiny and an
    # absolute tolerance would call them all equal.
    with np.errstate(divide="ignore"):
        log_product = np.log(gains).sum(axis=1)
    nash = best_index(log_product, tie)
    ideal = util[:, s].max(axis=0)
    span = ideal - reservation[s]
    ratio = np.where(span > TOL, gains / np.where(span > TOL, span, 1.0), 1.0)
    ks = best_index(ratio.min(axis=1), ratio.sum(axis=1))
    # Utilitarian ties (a constant-sum pie) go to the Nash point rather than to an extreme.
    utilitarian = best_index(util[:, s].sum(axis=1), log_product)
    utilitarian_all = best_index(util.sum(axis=1), log_product)
    return {"nash": nash, "kalai_smorodinsky": ks, "utilitarian": utilitarian,
            "utilitarian_all": utilitarian_all, "ideal": ideal}
