"""Utilities as value tables: one row of option values per (actor, issue), vectorised over deals and runs.

u_a(d) = sum_i w_ai * clip(v_ai(d_i) + sum_k delta_k [interaction k fires], 0, 1)

Weights are normalised to sum 1 per actor and values lie in [0, 1], so every utility lies in
[0, 1]. An interaction k (owned by one actor) shifts the value of some options of some issues
when another issue takes one of a set of options ("ceding land is worth less without
guarantees"). Arrays carry a leading run axis R so one call evaluates a whole Monte Carlo batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class InteractionTerms:
    """The static structure of all interaction terms (their deltas may vary per run)."""

    actor: np.ndarray  # (K,) owning actor
    affected: np.ndarray  # (K, O) flat options whose value shifts
    cond_issue: np.ndarray  # (K,) issue the condition looks at
    cond_mask: np.ndarray  # (K, max_options) options of cond_issue that fire the term

    @property
    def count(self) -> int:
        """Number of interaction terms."""
        return len(self.actor)


@dataclass
class Preferences:
    """Sampled preferences of every actor for a batch of R runs."""

    weights: np.ndarray  # (R, A, I), rows sum to 1
    values: np.ndarray  # (R, A, O) flat option values in [0, 1]
    reservation: np.ndarray  # (R, A)
    deltas: np.ndarray  # (R, K)
    weight_totals: np.ndarray | None = None  # (R, A) sum of the unnormalised weights
    deadlines: np.ndarray | None = None  # (R, A) concession deadline in rounds (may be fractional)

    @property
    def n_runs(self) -> int:
        """Batch size R."""
        return self.weights.shape[0]

    def take(self, runs: np.ndarray | slice) -> Preferences:
        """The preferences of a subset of runs."""
        totals = None if self.weight_totals is None else self.weight_totals[runs]
        deadlines = None if self.deadlines is None else self.deadlines[runs]
        return Preferences(self.weights[runs], self.values[runs], self.reservation[runs], self.deltas[runs], totals,
                           deadlines)


def issue_values(offsets: np.ndarray, terms: InteractionTerms, prefs: Preferences,
                 deals: np.ndarray) -> np.ndarray:
    """Per-issue values v[r, a, n, i] of deals (N, I) or (R, N, I), interactions applied and clipped."""
    deals = np.asarray(deals, dtype=np.int64)
    runs, actors, _ = prefs.values.shape
    if deals.ndim == 2:
        deals = deals[None]
    n, n_issues = deals.shape[-2], deals.shape[-1]
    flat = deals + offsets  # (R or 1, N, I)
    index = np.broadcast_to(flat.reshape(flat.shape[0], 1, n * n_issues), (runs, actors, n * n_issues))
    v = np.take_along_axis(prefs.values, index, axis=2).reshape(runs, actors, n, n_issues)
    if terms.count:
        v = v.copy()
        for k in range(terms.count):
            fires = terms.cond_mask[k][deals[..., terms.cond_issue[k]]]  # (R or 1, N)
            hit = terms.affected[k][flat] & fires[..., None]  # (R or 1, N, I)
            v[:, terms.actor[k]] += prefs.deltas[:, k, None, None] * hit
        np.clip(v, 0.0, 1.0, out=v)
    return v


def utilities(offsets: np.ndarray, terms: InteractionTerms, prefs: Preferences, deals: np.ndarray) -> np.ndarray:
    """Utility of every actor for deals (N, I) or (R, N, I): shape (R, N, A)."""
    v = issue_values(offsets, terms, prefs, deals)
    return np.einsum("rani,rai->rna", v, prefs.weights)


@dataclass(frozen=True)
class UncertainParameter:
    """One number in the scenario that is sampled afresh in every run."""

    path: str  # dotted scenario path, e.g. actors.ukraine.values.donetsk.options.frozen_line
    target: str  # "weight" | "value" | "reservation" | "delta" | "deadline" (and "drift" | "cost" for the war)
    loc: tuple[int, ...]  # index into the target array (without the run axis)
    normal: bool  # truncated normal (mean, sd) if True, else uniform (low, high)
    a: float  # mean or low
    b: float  # sd or high
    lo: float  # truncation bounds
    hi: float


def sample_parameters(params: tuple[UncertainParameter, ...], uniforms: np.ndarray) -> np.ndarray:
    """Map uniforms (R, K) in [0, 1) to parameter values (R, K) by inverse CDF (truncated normal or uniform)."""
    if not params:
        return np.zeros((uniforms.shape[0], 0))
    normal = np.array([p.normal for p in params])
    a = np.array([p.a for p in params])
    b = np.array([p.b for p in params])
    lo = np.array([p.lo for p in params])
    hi = np.array([p.hi for p in params])
    out = a + uniforms * (b - a)  # uniform branch
    if normal.any():
        from scipy.special import (  # scipy costs ~0.3 s to import; only sampling needs it
            ndtr,
            ndtri,
        )

        sd = np.where(b > 0, b, 1.0)
        # A tiny sd (5e-324 is a valid one) makes these overflow to +-inf, where ndtr is exact.
        with np.errstate(over="ignore"):
            p_lo, p_hi = ndtr((lo - a) / sd), ndtr((hi - a) / sd)
        z = ndtri(np.clip(p_lo + uniforms * (p_hi - p_lo), 1e-12, 1 - 1e-12))
        trunc = np.where(b > 0, np.clip(a + sd * z, lo, hi), np.clip(a, lo, hi))
        out = np.where(normal, trunc, out)
    return out


def single_change_utilities(offsets: np.ndarray, n_options: np.ndarray, terms: InteractionTerms,
                            prefs: Preferences, text: np.ndarray) -> np.ndarray:
    """Utilities (R, O, A) of every one-issue edit of each run's text: candidate c sets issue
    issue_of(c) to option c (flat option index), everything else as in `text` (R, I).

    Exact, and far cheaper than evaluating O full deals: an edit of issue i only changes
    issue i's value, except when i is the condition of an interaction term; those few
    candidates are evaluated in full.
    """
    runs = text.shape[0]
    issue_of = np.repeat(np.arange(len(n_options)), n_options)
    values = prefs.values
    if terms.count:
        fires = np.stack([terms.cond_mask[k][text[:, terms.cond_issue[k]]] for k in range(terms.count)], axis=1)
        values = values.copy()
        for k in range(terms.count):
            values[:, terms.actor[k], :] += (prefs.deltas[:, k] * fires[:, k])[:, None] * terms.affected[k][None, :]
        np.clip(values, 0.0, 1.0, out=values)
    flat = text + offsets  # (R, I)
    current = np.take_along_axis(values, np.broadcast_to(flat[:, None, :], (runs, values.shape[1], flat.shape[1])),
                                 axis=2)  # (R, A, I)
    base = np.einsum("rai,rai->ra", current, prefs.weights)
    weights_c = prefs.weights[:, :, issue_of]  # (R, A, O)
    out = base[:, :, None] + weights_c * (values - current[:, :, issue_of])  # (R, A, O)
    out = out.transpose(0, 2, 1).copy()
    if terms.count:
        for j in np.unique(terms.cond_issue):
            cands = np.flatnonzero(issue_of == j)
            deals = np.repeat(text[:, None, :], len(cands), axis=1)
            deals[:, :, j] = cands - offsets[j]
            out[:, cands, :] = utilities(offsets, terms, prefs, deals)
    return out
