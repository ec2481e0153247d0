"""The Pareto frontier of the deal space, found without enumerating it.

If a partial deal x on group A is dominated by x' then x + y is dominated by x' + y for every y
on the other groups, so Pareto(A + B) is a subset of Pareto(A) (+) Pareto(B) (Minkowski sum).
Per-group frontiers (sim.analysis.tables) are merged one group at a time, largest first, and
pruned after each merge. A deal is Pareto-optimal when no other deal gives every actor at least
as much and some actor more than TOL. Deals with equal utility vectors never prune each other,
so a frontier counts deals, ties included, as well as distinct utility vectors.

Dormancy flags ride along as extra criteria (a flag of 1 is better: the deal needs less
consent), so the same merge finds the ZOPA's Pareto set (sim.analysis.zopa).

Approximation: if a merged frontier exceeds `max_frontier` points it is thinned on an epsilon
grid (one point per epsilon-cell, epsilon doubled from 1e-4 until it fits); every thinning adds
at most epsilon to how far (per actor) a true frontier point can lie above the nearest kept
point. Thinning records its epsilons, so the caller can say the result is approximate and by
how much.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING

import numpy as np

from sim.analysis.tables import (
    TOL,
    Setup,
    Table,
    contributions,
    dedup,
    dormancy,
    option_product,
    partial_table,
)
from sim.analysis.zopa import reachable

if TYPE_CHECKING:
    from sim.domain.game import Game

_SPLIT_ABOVE = 4096  # groups with more option combinations than this are split on their condition issues
_CHUNK = 1 << 17  # option combinations listed at a time


def _blocks(x: np.ndarray, size: int) -> list[np.ndarray]:
    """Row indices of x cut into spatially compact blocks of at most `size` rows (median splits)."""
    stack, out = [np.arange(len(x))], []
    while stack:
        idx = stack.pop()
        if len(idx) <= size:
            out.append(idx)
            continue
        sub = x[idx]
        spread = sub.max(axis=0) - sub.min(axis=0)
        d = int(np.argmax(spread))
        if spread[d] <= 0:
            out.extend(np.array_split(idx, -(-len(idx) // size)))
            continue
        half = len(idx) // 2
        part = np.argpartition(sub[:, d], half)
        stack += [idx[part[:half]], idx[part[half:]]]
    return out


def _dominated_by(x: np.ndarray, ref: np.ndarray, n_util: int, tol: float) -> np.ndarray:
    """Which rows of x some row of ref dominates (all pairs; for small inputs)."""
    ge = ref[None, :, 0] >= x[:, None, 0] - tol
    for d in range(1, x.shape[1]):
        ge &= ref[None, :, d] >= x[:, None, d] - tol
    r, c = np.nonzero(ge)
    strict = ref[c, 0] > x[r, 0] + tol
    for d in range(1, n_util):
        strict |= ref[c, d] > x[r, d] + tol
    out = np.zeros(len(x), dtype=bool)
    out[r[strict]] = True
    return out


def nondominated(crit: np.ndarray, n_util: int | None = None, tol: float = TOL, block: int = 96) -> np.ndarray:
    """Mask of rows no other row dominates (>= everywhere, > on some of the first n_util columns)."""
    crit = np.asarray(crit, dtype=float)
    n, dims = crit.shape
    n_util = dims if n_util is None else n_util
    if n < 2:
        return np.ones(n, dtype=bool)
    if n <= block:
        return ~_dominated_by(crit, crit, n_util, tol)
    # Only rows above a block's lowest corner can dominate anything in it; compact blocks keep
    # that corner high, and sorting on one column finds the candidates by binary search.
    order = np.argsort(crit[:, 0], kind="stable")
    x = crit[order]
    cols = [np.ascontiguousarray(x[:, d]) for d in range(dims)]
    total = x[:, :n_util].sum(axis=1)
    dominated = np.zeros(n, dtype=bool)
    for idx in _blocks(x, block):
        low = x[idx].min(axis=0) - tol
        start = int(np.searchsorted(cols[0], low[0], side="left"))
        # a dominator also has a utility sum no smaller than the block's smallest
        inside = total[start:] >= total[idx].min() - n_util * tol
        for d in range(1, dims):
            inside &= cols[d][start:] >= low[d]
        ref = start + np.nonzero(inside)[0]
        ge = cols[0][ref][None, :] >= cols[0][idx][:, None] - tol
        for d in range(1, dims):
            ge &= cols[d][ref][None, :] >= cols[d][idx][:, None] - tol
        r, c = np.nonzero(ge)
        q, p = ref[c], idx[r]
        strict = cols[0][q] > cols[0][p] + tol
        for d in range(1, n_util):
            strict |= cols[d][q] > cols[d][p] + tol
        dominated[p[strict]] = True
    out = np.empty(n, dtype=bool)
    out[order] = ~dominated
    return out


def prune(t: Table, n_util: int) -> Table:
    """The table's Pareto set (utilities in the first n_util criteria)."""
    return t.take(nondominated(t.crit, n_util))


def _concat(tables: list[Table]) -> Table:
    return Table(np.concatenate([t.crit for t in tables]), np.concatenate([t.count for t in tables]),
                 np.concatenate([t.deals for t in tables]))


def _minkowski(a: Table, b: Table, n_util: int) -> Table:
    """All sums of a row of a and a row of b (utilities add, dormancy flags multiply)."""
    na, nb = len(a.crit), len(b.crit)
    crit = np.empty((na, nb, a.crit.shape[1]))
    crit[:, :, :n_util] = a.crit[:, None, :n_util] + b.crit[None, :, :n_util]
    crit[:, :, n_util:] = a.crit[:, None, n_util:] * b.crit[None, :, n_util:]
    count = (a.count[:, None] * b.count[None, :]).ravel()
    deals = np.maximum(a.deals[:, None, :], b.deals[None, :, :]).reshape(na * nb, a.deals.shape[1])
    return Table(crit.reshape(na * nb, a.crit.shape[1]), count, deals)


@dataclass
class Thinning:
    """Record of epsilon-grid thinning (approximation) applied while merging."""

    max_frontier: int
    epsilons: list[float]

    @property
    def max_error(self) -> float:
        """How far per actor a true frontier point can lie above the nearest kept one."""
        return float(sum(self.epsilons))


def _thin(t: Table, n_util: int, thinning: Thinning) -> Table:
    eps = 1e-4
    while True:
        cells = np.concatenate([np.floor(t.crit[:, :n_util] / eps), t.crit[:, n_util:]], axis=1).astype(np.int64)
        # within a cell keep the row with the largest utility sum
        order = np.argsort(-t.crit[:, :n_util].sum(axis=1), kind="stable")
        _, first = np.unique(cells[order], axis=0, return_index=True)
        if len(first) <= thinning.max_frontier:
            break
        eps *= 2
    thinning.epsilons.append(eps)
    return prune(t.take(order[first]), n_util)


def merge_all(tables: list[Table], n_util: int, thinning: Thinning, zopa: Setup | None = None) -> Table:
    """Pareto set of the Minkowski sum of tables, merged largest first so late merges multiply by little.

    With `zopa`, partial deals that cannot reach every needed reservation value whatever the
    remaining groups say are dropped as soon as that is certain (tables then carry flags).
    """
    tables = sorted(tables, key=lambda t: -len(t.crit))  # callers pass Pareto-pruned tables
    headroom = np.zeros((len(tables) + 1, n_util))
    for k in range(len(tables) - 1, -1, -1):
        headroom[k] = headroom[k + 1] + tables[k].crit[:, :n_util].max(axis=0)

    def bound(t: Table, k: int) -> Table:
        return t if zopa is None else t.take(reachable(zopa, t, headroom[k]))

    acc = bound(tables[0], 1)
    for k, t in enumerate(tables[1:], start=2):
        acc = prune(dedup(bound(_minkowski(acc, t, n_util), k)), n_util)
        if len(acc.crit) > thinning.max_frontier:
            acc = _thin(acc, n_util, thinning)
    return acc


def group_frontier(game: Game, st: Setup, group: list[int], thinning: Thinning, with_flags: bool) -> Table:
    """Pareto set of one group's partial deals, exact within the group."""
    n_issues, n_util = game.space.n_issues, st.n_actors
    terms = game.terms
    inside = [k for k in range(terms.count) if int(terms.cond_issue[k]) in group]
    size = prod(int(st.n_options[i]) for i in group)
    cond = sorted({int(terms.cond_issue[k]) for k in inside})
    rest = [i for i in group if i not in cond]
    n_cond = prod(int(st.n_options[i]) for i in cond)
    cheaper_listed = n_cond * sum(int(st.n_options[i]) for i in rest) >= size
    if len(group) == 1 or not rest or size <= _SPLIT_ABOVE or cheaper_listed:
        # Listed in chunks so that a huge group never sits in memory whole.
        parts = [prune(partial_table(game, st, group, option_product(st.n_options, group, lo, min(lo + _CHUNK, size)),
                                     with_flags), n_util) for lo in range(0, size, _CHUNK)]
        return parts[0] if len(parts) == 1 else prune(dedup(_concat(parts)), n_util)
    # Fixing the condition issues makes every other issue of the group independent.
    parts = []
    for fixed in option_product(st.n_options, cond):
        if not st.signable(cond, fixed[None])[0]:
            continue
        tables = [partial_table(game, st, cond, fixed[None], with_flags)]  # one row: the fixed condition issues
        for i in rest:
            options = np.flatnonzero(st.signable([i], np.arange(int(st.n_options[i]))[:, None]))
            n_i = len(options)
            combos = np.concatenate([np.repeat(fixed[None], n_i, axis=0), options[:, None]], axis=1)
            contrib = contributions(game, st, cond + [i], combos)[:, :, -1]
            flags = dormancy(game, st, [i], combos[:, -1:], with_flags)
            deals = np.full((n_i, n_issues), -1, dtype=np.int64)
            deals[:, i] = options
            tables.append(prune(dedup(Table(np.concatenate([contrib, flags], axis=1),
                                            np.ones(n_i, dtype=np.int64), deals)), n_util))
        parts.append(merge_all(tables, n_util, thinning))
    return prune(dedup(_concat(parts)), n_util)
