"""Bargaining-theory benchmarks for a scenario: Pareto frontier, ZOPA, Nash, Kalai-Smorodinsky, utilitarian.

Everything is computed at one set of preferences (the point estimates unless told otherwise)
without enumerating the deal space, which routinely exceeds 10^7 deals. Pure numpy; no Mesa.

Structure used
    Utility is additive over issues except for interaction terms, which tie the issues they
    affect to the issue they are conditioned on. Issues linked by terms form *groups*
    (connected components); utility is exactly additive over groups. Within a group every
    contribution is computed exactly (each affected issue value is shifted, then clipped to
    [0, 1], as in sim.domain.utility), either by listing the group's option combinations or,
    when that is cheaper, by fixing the group's condition issues: given them, every other issue
    of the group contributes independently.

Pareto frontier
    If a partial deal x on group A is dominated by x' then x + y is dominated by x' + y for
    every y on the other groups, so Pareto(A + B) is a subset of Pareto(A) (+) Pareto(B)
    (Minkowski sum). Per-group frontiers are merged one group at a time, largest first, and
    pruned after each merge. A deal is Pareto-optimal when no other deal gives every actor at
    least as much and some actor more than TOL = 1e-9. Deals with equal utility vectors never
    prune each other, so `pareto_size` counts deals, ties included (`pareto_points` counts
    distinct utility vectors).

Whose consent counts (the ZOPA)
    A deal is in the zone of possible agreement (ZOPA) when every signatory gets at least its
    reservation value (to TOL), and so does every actor named in an issue's `consent` list, for
    each issue on which the deal departs from the issue's default (the rule the model closes
    rounds with, NegotiationModel.consent_needed). Mediators, guarantors and observers count only
    through such a `consent` list. Because consent depends on the deal, the ZOPA is not closed
    under Pareto improvement, so it gets its own merge: every consent actor adds a 0/1 "dormant"
    criterion (all its consent issues at their defaults). A deal at least as good in utilities
    and flags as a ZOPA deal is itself in the ZOPA, so the ZOPA's Pareto set and every solution
    below are found on that merge; partial deals that cannot reach some needed reservation value
    whatever the remaining groups say are dropped early. Without consent lists the ZOPA's Pareto
    set is simply the frontier's part inside it.

Solution concepts (the bargaining parties are the signatories; the disagreement point is
their reservation values r; the feasible set is the ZOPA)
    Nash bargaining solution: maximise prod_s (u_s - r_s) (J. F. Nash, "The Bargaining
        Problem", Econometrica 18(2), 1950, 155-162).
    Kalai-Smorodinsky solution: maximise min_s (u_s - r_s) / (ideal_s - r_s), where ideal_s is
        the best utility s gets from a deal everyone else needed accepts (equivalently, from a
        ZOPA deal, whenever the ZOPA is not empty) (E. Kalai and M. Smorodinsky, "Other
        Solutions to Nash's Bargaining Problem", Econometrica 43(3), 1975, 513-518).
    Utilitarian optimum: maximise the sum of the signatories' utilities over the ZOPA
        (`utilitarian_all`: every actor's utility).
    On a finite deal space these are the discrete versions: the best deal, not a lottery. Ties
    go to the larger sum of gains (Nash, Kalai-Smorodinsky) or the larger Nash product
    (utilitarian), and the chosen deal is Pareto-optimal within the ZOPA. All are None when the
    ZOPA is empty.

Proposals
    `distance_to_frontier` is the largest e such that some deal gives *every* actor (all
    actors, not only signatories) at least e more than the proposal: how much all could gain at
    once by moving to the frontier; 0 when the proposal is weakly Pareto-optimal.
    `below_reservation` lists every actor below its reservation value; `blocking` only those
    whose consent the proposal needs.

ZOPA size
    Counted exactly by branch and bound over the groups (a partial deal is dropped as soon as
    some needed actor cannot reach its reservation value, and counted wholesale once every
    needed actor is sure to); if that would hold more than `exact_limit` partial deals it is
    estimated from uniformly sampled deals, with a 95% Wilson interval.

Approximation
    If a merged frontier exceeds `max_frontier` points it is thinned on an epsilon grid (one
    point per epsilon-cell, epsilon doubled from 1e-4 until it fits); every thinning adds at most
    epsilon to how far (per actor) a true frontier point can lie above the nearest kept point.
    The result then has `frontier_exact: false`, `exact: false`, and the bound in `max_error`.
    `exact` is false too when the ZOPA size is an estimate. `method` says which was done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING

from sim.errors import UserError

if TYPE_CHECKING:
    import numpy as np

    from sim.domain.game import Game
    from sim.domain.utility import Preferences

TOL = 1e-9
_QUANT = 1e-10  # utilities closer than this are treated as the same point when deduplicating
_SPLIT_ABOVE = 4096  # groups with more option combinations than this are split on their condition issues
_CHUNK = 1 << 17  # option combinations listed at a time
_HASH = None  # random odd int64 multipliers for hashing rows, made with numpy


def _numpy() -> None:
    """Bind numpy on first use, so that building the CLI parser (add_arguments) does not import it."""
    global np, _HASH
    if _HASH is None:
        import numpy

        np = numpy
        _HASH = numpy.random.default_rng(20250815).integers(1, 2**62, size=64, dtype=numpy.int64) | 1


@dataclass
class _Table:
    """Partial deals over some issues: criteria (utilities, then dormancy flags), multiplicities, one deal each."""

    crit: np.ndarray  # (n, A + C) float
    count: np.ndarray  # (n,) int64: deals sharing this criteria vector
    deals: np.ndarray  # (n, I) int64, -1 on issues this table does not cover


@dataclass(frozen=True)
class _Setup:
    """What one analysis needs to know about a game at one set of preferences."""

    n_actors: int
    signatories: np.ndarray  # (S,)
    consent_actors: np.ndarray  # (C,) non-signatories named in some issue's consent
    consent_issues: tuple[frozenset[int], ...]  # per consent actor
    reservation: np.ndarray  # (A,)
    weights: np.ndarray  # (A, I)
    values: np.ndarray  # (A, O)
    deltas: np.ndarray  # (K,)
    offsets: np.ndarray
    n_options: np.ndarray
    defaults: np.ndarray
    allowed: np.ndarray  # (O,) options no needed party has ruled out (Game.forbidden_options)

    def signable(self, issues: list[int], combos: np.ndarray) -> np.ndarray:
        """(M,) which partial deals over `issues` use only allowed options."""
        return self.allowed[combos + self.offsets[np.asarray(issues, dtype=np.int64)]].all(axis=1)


def _setup(game: Game, prefs: Preferences, run: int) -> _Setup:
    _numpy()  # every computation starts here or in nondominated()
    sig = np.asarray(game.signatories, dtype=np.int64)
    sig_set = set(sig.tolist())
    consent: dict[int, set[int]] = {}
    for i, who in enumerate(game.consent):
        for a in who:
            if a not in sig_set:
                consent.setdefault(int(a), set()).add(i)
    actors = np.array(sorted(consent), dtype=np.int64)
    return _Setup(
        n_actors=game.n_actors,
        signatories=sig,
        consent_actors=actors,
        consent_issues=tuple(frozenset(consent[a]) for a in actors.tolist()),
        reservation=np.asarray(prefs.reservation[run], dtype=float),
        weights=np.asarray(prefs.weights[run], dtype=float),
        values=np.asarray(prefs.values[run], dtype=float),
        deltas=np.asarray(prefs.deltas[run], dtype=float),
        offsets=game.space.offsets,
        n_options=game.space.n_options,
        defaults=np.array(game.space.defaults, dtype=np.int64),
        allowed=_allowed(game),
    )


def _allowed(game: Game) -> np.ndarray:
    """Options left once the red lines of the parties whose yes a deal needs are taken out.

    A red line takes its options out of the frontier, the ZOPA and the solutions alike, since
    no deal containing them can be signed. (A consent party's red line on an issue where it has
    no say is not taken out; see Game.forbidden_options.)
    """
    allowed = ~game.forbidden_options()
    space = game.space
    for i, (start, n) in enumerate(zip(space.offsets, space.n_options)):
        if not allowed[start:start + n].any():
            raise UserError(f"every option of {space.issue_ids[i]!r} is some party's red line: "
                            "no deal can be signed")
    return allowed


# ---------------------------------------------------------------------------------------------
# Groups of issues and their exact contributions
# ---------------------------------------------------------------------------------------------

def issue_groups(game: Game) -> list[list[int]]:
    """Issues linked by interaction terms (connected components), in issue order; utility is additive over them."""
    n = game.space.n_issues
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    terms, offsets, n_opt = game.terms, game.space.offsets, game.space.n_options
    for k in range(terms.count):
        cond = int(terms.cond_issue[k])
        for i in range(n):
            if terms.affected[k, offsets[i]:offsets[i] + n_opt[i]].any():
                parent[find(i)] = find(cond)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def _product(n_options: np.ndarray, issues: list[int], start: int = 0, stop: int | None = None) -> np.ndarray:
    """Combinations start..stop-1 of the options of `issues` (all by default), (M, len(issues)), last fastest."""
    sizes = [int(n_options[i]) for i in issues]
    index = np.arange(start, prod(sizes) if stop is None else stop, dtype=np.int64)
    out = np.empty((len(index), len(sizes)), dtype=np.int64)
    for j in range(len(sizes) - 1, -1, -1):
        out[:, j] = index % sizes[j]
        index //= sizes[j]
    return out


def _contributions(game: Game, st: _Setup, issues: list[int], combos: np.ndarray) -> np.ndarray:
    """Weighted per-issue values (M, A, len(issues)) of partial deals, interactions applied and clipped.

    Only terms conditioned on one of `issues` can fire; callers pass every condition issue that
    can shift these issues' values, so the result is exact.
    """
    terms = game.terms
    idx = np.asarray(issues, dtype=np.int64)
    flat = combos + st.offsets[idx]  # (M, g)
    v = st.values[:, flat]  # (A, M, g)
    if terms.count:
        pos = {i: j for j, i in enumerate(issues)}
        shifted = False
        for k in range(terms.count):
            j = pos.get(int(terms.cond_issue[k]))
            if j is None:
                continue
            hit = terms.affected[k][flat] & terms.cond_mask[k][combos[:, j]][:, None]
            if hit.any():
                if not shifted:
                    v = v.copy()
                    shifted = True
                v[terms.actor[k]] += st.deltas[k] * hit
        if shifted:
            np.clip(v, 0.0, 1.0, out=v)
    return np.moveaxis(v * st.weights[:, None, idx], 0, 1)  # (M, A, g)


def _flags(st: _Setup, issues: list[int], combos: np.ndarray, with_flags: bool = True) -> np.ndarray:
    """Dormancy (M, C): 1 when none of a consent actor's issues among `issues` leaves its default."""
    out = np.ones((len(combos), len(st.consent_actors) if with_flags else 0))
    if with_flags:
        for c, mine in enumerate(st.consent_issues):
            for j, i in enumerate(issues):
                if i in mine:
                    out[:, c] *= combos[:, j] == st.defaults[i]
    return out


def _table(game: Game, st: _Setup, issues: list[int], combos: np.ndarray, with_flags: bool) -> _Table:
    """A table of partial deals over `issues` (full contributions summed over those issues)."""
    combos = combos[st.signable(issues, combos)]
    crit = np.concatenate([_contributions(game, st, issues, combos).sum(axis=2),
                           _flags(st, issues, combos, with_flags)], axis=1)
    deals = np.full((len(combos), game.space.n_issues), -1, dtype=np.int64)
    deals[:, issues] = combos
    return _dedup(_Table(crit, np.ones(len(combos), dtype=np.int64), deals))


def _dedup(t: _Table) -> _Table:
    """Merge rows with the same criteria (to _QUANT), adding their multiplicities."""
    if len(t.crit) < 2:
        return t
    key = np.round(t.crit / _QUANT).astype(np.int64)
    # Hash rows to one int64 (wrapping multiply) so the unique pass is one-dimensional; a
    # collision is detected below and then the rows are compared in full.
    _, first, inverse = np.unique(key @ _HASH[:key.shape[1]], return_index=True, return_inverse=True)
    if len(first) == len(key):
        return t
    if not np.array_equal(key[first][inverse], key):
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=t.count, minlength=len(first)).astype(np.int64)
    return _Table(t.crit[first], counts, t.deals[first])


# ---------------------------------------------------------------------------------------------
# Pareto filtering and merging
# ---------------------------------------------------------------------------------------------

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
    _numpy()
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


def _prune(t: _Table, n_util: int) -> _Table:
    mask = nondominated(t.crit, n_util)
    return _Table(t.crit[mask], t.count[mask], t.deals[mask])


def _concat(tables: list[_Table]) -> _Table:
    return _Table(np.concatenate([t.crit for t in tables]), np.concatenate([t.count for t in tables]),
                  np.concatenate([t.deals for t in tables]))


def _minkowski(a: _Table, b: _Table, n_util: int) -> _Table:
    """All sums of a row of a and a row of b (utilities add, dormancy flags multiply)."""
    na, nb = len(a.crit), len(b.crit)
    crit = np.empty((na, nb, a.crit.shape[1]))
    crit[:, :, :n_util] = a.crit[:, None, :n_util] + b.crit[None, :, :n_util]
    crit[:, :, n_util:] = a.crit[:, None, n_util:] * b.crit[None, :, n_util:]
    count = (a.count[:, None] * b.count[None, :]).ravel()
    deals = np.maximum(a.deals[:, None, :], b.deals[None, :, :]).reshape(na * nb, a.deals.shape[1])
    return _Table(crit.reshape(na * nb, a.crit.shape[1]), count, deals)


@dataclass
class _Thinning:
    """Record of epsilon-grid thinning (approximation) applied while merging."""

    max_frontier: int
    epsilons: list[float]

    @property
    def max_error(self) -> float:
        return float(sum(self.epsilons))


def _thin(t: _Table, n_util: int, thinning: _Thinning) -> _Table:
    eps = 1e-4
    while True:
        cells = np.concatenate([np.floor(t.crit[:, :n_util] / eps), t.crit[:, n_util:]], axis=1).astype(np.int64)
        # within a cell keep the row with the largest utility sum
        order = np.argsort(-t.crit[:, :n_util].sum(axis=1), kind="stable")
        _, first = np.unique(cells[order], axis=0, return_index=True)
        if len(first) <= thinning.max_frontier:
            break
        eps *= 2
    keep = order[first]
    thinning.epsilons.append(eps)
    return _prune(_Table(t.crit[keep], t.count[keep], t.deals[keep]), n_util)


def _reachable(st: _Setup, t: _Table, headroom: np.ndarray) -> np.ndarray:
    """Rows that, completed with at most `headroom` more utility per actor, could still be in the ZOPA."""
    n_a = st.n_actors
    ok = np.all(t.crit[:, st.signatories] + headroom[st.signatories] >= st.reservation[st.signatories] - TOL, axis=1)
    for c, a in enumerate(st.consent_actors.tolist()):
        ok &= (t.crit[:, n_a + c] > 0.5) | (t.crit[:, a] + headroom[a] >= st.reservation[a] - TOL)
    return ok


def _merge_all(tables: list[_Table], n_util: int, thinning: _Thinning, zopa: _Setup | None = None) -> _Table:
    """Pareto set of the Minkowski sum of tables, merged largest first so late merges multiply by little.

    With `zopa`, partial deals that cannot reach every needed reservation value whatever the
    remaining groups say are dropped as soon as that is certain (tables then carry flags).
    """
    tables = sorted(tables, key=lambda t: -len(t.crit))  # callers pass Pareto-pruned tables
    headroom = np.zeros((len(tables) + 1, n_util))
    for k in range(len(tables) - 1, -1, -1):
        headroom[k] = headroom[k + 1] + tables[k].crit[:, :n_util].max(axis=0)

    def bound(t: _Table, k: int) -> _Table:
        if zopa is None:
            return t
        keep = _reachable(zopa, t, headroom[k])
        return _Table(t.crit[keep], t.count[keep], t.deals[keep])

    acc = bound(tables[0], 1)
    for k, t in enumerate(tables[1:], start=2):
        acc = _prune(_dedup(bound(_minkowski(acc, t, n_util), k)), n_util)
        if len(acc.crit) > thinning.max_frontier:
            acc = _thin(acc, n_util, thinning)
    return acc


def _group_frontier(game: Game, st: _Setup, group: list[int], thinning: _Thinning, with_flags: bool) -> _Table:
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
        parts = [_prune(_table(game, st, group, _product(st.n_options, group, lo, min(lo + _CHUNK, size)),
                               with_flags), n_util) for lo in range(0, size, _CHUNK)]
        return parts[0] if len(parts) == 1 else _prune(_dedup(_concat(parts)), n_util)
    # Fixing the condition issues makes every other issue of the group independent.
    parts = []
    for fixed in _product(st.n_options, cond):
        if not st.signable(cond, fixed[None])[0]:
            continue
        tables = [_table(game, st, cond, fixed[None], with_flags)]  # one row: the fixed condition issues
        for i in rest:
            options = np.flatnonzero(st.signable([i], np.arange(int(st.n_options[i]))[:, None]))
            n_i = len(options)
            combos = np.concatenate([np.repeat(fixed[None], n_i, axis=0), options[:, None]], axis=1)
            contrib = _contributions(game, st, cond + [i], combos)[:, :, -1]
            flags = _flags(st, [i], combos[:, -1:], with_flags)
            deals = np.full((n_i, n_issues), -1, dtype=np.int64)
            deals[:, i] = options
            tables.append(_prune(_dedup(_Table(np.concatenate([contrib, flags], axis=1),
                                               np.ones(n_i, dtype=np.int64), deals)), n_util))
        parts.append(_merge_all(tables, n_util, thinning))
    return _prune(_dedup(_concat(parts)), n_util)


def _group_tables(game: Game, st: _Setup, groups: list[list[int]], limit: int) -> list[_Table] | None:
    """Full (unpruned, deduplicated) table of every group, or None if some group is too large to list."""
    out = []
    for group in groups:
        if prod(int(st.n_options[i]) for i in group) > limit:
            return None
        out.append(_table(game, st, group, _product(st.n_options, group), True))
    return out


# ---------------------------------------------------------------------------------------------
# ZOPA
# ---------------------------------------------------------------------------------------------

def _in_zopa(st: _Setup, util: np.ndarray, dormant: np.ndarray) -> np.ndarray:
    """Which rows (utilities (n, A), dormancy (n, C)) every actor whose consent is needed accepts."""
    ok = np.all(util[:, st.signatories] >= st.reservation[st.signatories] - TOL, axis=1)
    for c, a in enumerate(st.consent_actors.tolist()):
        ok &= (util[:, a] >= st.reservation[a] - TOL) | (dormant[:, c] > 0.5)
    return ok


def _dormant_of_deals(st: _Setup, deals: np.ndarray) -> np.ndarray:
    out = np.ones((len(deals), len(st.consent_actors)))
    for c, mine in enumerate(st.consent_issues):
        for i in mine:
            out[:, c] *= deals[:, i] == st.defaults[i]
    return out


def _count_zopa(st: _Setup, tables: list[_Table], groups: list[list[int]], limit: int) -> int | None:
    """Exact number of ZOPA deals by branch and bound over the groups; None if it would exceed `limit` states."""
    n_a = st.n_actors
    need = np.zeros(n_a, dtype=bool)
    need[st.signatories] = True
    need[st.consent_actors] = True
    r = st.reservation
    # Groups that spread the required actors' utilities most decide the most, so go first.
    spread = [float((t.crit[:, :n_a].max(axis=0) - t.crit[:, :n_a].min(axis=0))[need].sum()) for t in tables]
    order = np.argsort(spread)[::-1]
    tables = [tables[k] for k in order]
    groups = [groups[k] for k in order]
    m = len(tables)
    hi = np.zeros((m + 1, n_a))
    lo = np.zeros((m + 1, n_a))
    touches = np.zeros((m + 1, len(st.consent_actors)), dtype=bool)
    for k in range(m - 1, -1, -1):
        hi[k] = hi[k + 1] + tables[k].crit[:, :n_a].max(axis=0)
        lo[k] = lo[k + 1] + tables[k].crit[:, :n_a].min(axis=0)
        for c, mine in enumerate(st.consent_issues):
            touches[k, c] = touches[k + 1, c] or bool(mine & set(groups[k]))
    sizes = [int(t.count.sum()) for t in tables]
    rest_size = [prod(sizes[k:]) for k in range(m + 1)]
    util = np.zeros((1, n_a))
    flag = np.ones((1, len(st.consent_actors)))
    count = np.ones(1, dtype=np.int64)
    total = 0
    for k in range(m + 1):
        if k > 0:
            t = tables[k - 1]
            if len(util) * len(t.crit) > limit:
                return None
            util = (util[:, None, :] + t.crit[None, :, :n_a]).reshape(-1, n_a)
            flag = (flag[:, None, :] * t.crit[None, :, n_a:]).reshape(len(util), flag.shape[1])
            count = (count[:, None] * t.count[None, :]).ravel()
        sure = np.ones(len(util), dtype=bool)
        dead = np.zeros(len(util), dtype=bool)
        for a in st.signatories.tolist():
            dead |= util[:, a] + hi[k, a] < r[a] - TOL
            sure &= util[:, a] + lo[k, a] >= r[a] - TOL
        for c, a in enumerate(st.consent_actors.tolist()):
            active = flag[:, c] < 0.5
            dead |= active & (util[:, a] + hi[k, a] < r[a] - TOL)
            sure &= (util[:, a] + lo[k, a] >= r[a] - TOL) | (~active & (not touches[k, c]))
        done = sure & ~dead
        total += int(count[done].sum()) * rest_size[k]
        live = ~dead & ~sure
        util, flag, count = util[live], flag[live], count[live]
        if not len(util):
            break
    return total


def _estimate_zopa(game: Game, st: _Setup, prefs: Preferences, run: int, samples: int,
                   seed: int = 0) -> tuple[float, float, float]:
    """(estimate, low, high): ZOPA size from uniformly sampled deals, with a 95% Wilson interval."""
    rng = np.random.default_rng(seed)
    deals = np.stack([rng.integers(0, int(n), samples) for n in st.n_options], axis=1)
    util = game.utilities(prefs.take(slice(run, run + 1)), deals)[0]
    signable = st.signable(list(range(len(st.n_options))), deals)
    hits = int((_in_zopa(st, util, _dormant_of_deals(st, deals)) & signable).sum())
    z, n = 1.959964, samples
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    size = game.space.size
    return p * size, max(0.0, centre - half) * size, min(1.0, centre + half) * size


# ---------------------------------------------------------------------------------------------
# Solutions
# ---------------------------------------------------------------------------------------------

def _best(score: np.ndarray, tiebreak: np.ndarray) -> int:
    """Index of the largest score (to TOL), ties to the largest tiebreak."""
    top = score >= score.max() - TOL if np.isfinite(score.max()) else np.ones(len(score), dtype=bool)
    cand = np.nonzero(top)[0]
    return int(cand[np.argmax(tiebreak[cand])])


def _solutions(st: _Setup, util: np.ndarray) -> dict:
    """Nash, Kalai-Smorodinsky and utilitarian indices into `util` (the Pareto-optimal ZOPA points)."""
    if not len(util):
        return {"nash": None, "kalai_smorodinsky": None, "utilitarian": None, "utilitarian_all": None, "ideal": None}
    s = st.signatories
    gains = np.maximum(util[:, s] - st.reservation[s], 0.0)
    tie = gains.sum(axis=1)
    # Compare Nash products as log-sums: with many parties the products are tiny and an
    # absolute tolerance would call them all equal.
    with np.errstate(divide="ignore"):
        log_product = np.log(gains).sum(axis=1)
    nash = _best(log_product, tie)
    ideal = util[:, s].max(axis=0)
    span = ideal - st.reservation[s]
    ratio = np.where(span > TOL, gains / np.where(span > TOL, span, 1.0), 1.0)
    ks = _best(ratio.min(axis=1), ratio.sum(axis=1))
    # Utilitarian ties (a constant-sum pie) go to the Nash point rather than to an extreme.
    utilitarian = _best(util[:, s].sum(axis=1), log_product)
    utilitarian_all = _best(util.sum(axis=1), log_product)
    return {"nash": nash, "kalai_smorodinsky": ks, "utilitarian": utilitarian,
            "utilitarian_all": utilitarian_all, "ideal": ideal}


def analyze(game: Game, prefs: Preferences | None = None, exact_limit: int = 2_000_000, max_frontier: int = 50_000,
            run: int = 0, samples: int = 200_000) -> dict:
    """Pareto frontier, ZOPA, Nash / Kalai-Smorodinsky / utilitarian deals and proposal diagnostics.

    prefs: preferences to analyse (default: the point estimates); `run` picks one run of a batch.
    exact_limit: the most partial deals the exact ZOPA count may hold at once (and the largest
        issue group it may list); beyond it the ZOPA size is estimated from `samples` deals.
    max_frontier: the most points a merged frontier may keep before it is thinned on an
        epsilon grid (then `exact` is False and `max_error` bounds the error).
    """
    t0 = time.perf_counter()
    prefs = game.central_preferences() if prefs is None else prefs
    st = _setup(game, prefs, run)
    n_a = st.n_actors
    groups = issue_groups(game)
    thinning = _Thinning(max_frontier, [])
    # The all-actor frontier needs no consent flags; the ZOPA search carries them but drops
    # partial deals that cannot reach the reservation values, so it stays small.
    front = _merge_all([_group_frontier(game, st, g, thinning, False) for g in groups], n_a, thinning)
    util = front.crit[:, :n_a]
    t_frontier = time.perf_counter()

    if len(st.consent_actors):
        inner = _merge_all([_group_frontier(game, st, g, thinning, True) for g in groups], n_a, thinning, zopa=st)
    else:
        # Without deal-dependent consent the ZOPA is upward closed, so its Pareto set is the
        # frontier's part inside it.
        inner = front
    zutil = inner.crit[:, :n_a]
    zidx = np.nonzero(_in_zopa(st, zutil, inner.crit[:, n_a:]))[0]
    zpareto = zidx if inner is front else zidx[nondominated(zutil[zidx])]
    sol = _solutions(st, zutil[zpareto])
    t_solutions = time.perf_counter()

    def point(key: str) -> dict | None:
        k = sol[key]
        if k is None:
            return None
        row = zpareto[k]
        return {"deal": game.space.describe(inner.deals[row]), "deal_index": inner.deals[row].copy(),
                "utilities": zutil[row].copy(), "deals_with_these_utilities": int(inner.count[row])}

    # ZOPA size: exact branch and bound, else a sampled estimate.
    zopa_count: dict
    tables = _group_tables(game, st, groups, exact_limit)
    exact_count = _count_zopa(st, tables, groups, exact_limit) if tables is not None else None
    if exact_count is not None:
        zopa_count = {"size": exact_count, "exact": True, "method": "exact count, branch and bound over issue groups"}
    else:
        est, low, high = _estimate_zopa(game, st, prefs, run, samples)
        zopa_count = {"size": est, "exact": False, "low": low, "high": high,
                      "method": f"estimate from a uniform sample of {samples:,} deals (seed 0), "
                                f"95% Wilson interval"}
    t_zopa = time.perf_counter()

    proposals = _proposal_records(game, st, prefs, run, util)
    method = ("frontier: Minkowski merge of per-group Pareto sets over "
              f"{len(groups)} issue groups (largest {max(len(g) for g in groups)} issues), exact")
    if thinning.epsilons:
        method = method.removesuffix(", exact") + (
            f", thinned on an epsilon grid (epsilons {', '.join(f'{e:g}' for e in thinning.epsilons)}) to at most "
            f"{max_frontier:,} points, max error {thinning.max_error:g} per actor")
    method += f"; ZOPA size: {zopa_count['method']}"
    return {
        "scenario": game.name,
        "actor_ids": game.actor_ids,
        "issue_ids": game.space.issue_ids,
        "space_size": game.space.size,
        "signatories": [game.actor_ids[a] for a in st.signatories.tolist()],
        "consent_actors": {game.actor_ids[a]: [game.space.issue_ids[i] for i in sorted(mine)]
                           for a, mine in zip(st.consent_actors.tolist(), st.consent_issues)},
        "reservation": st.reservation.copy(),
        "groups": [[game.space.issue_ids[i] for i in g] for g in groups],
        "frontier_utilities": util,
        "frontier_deals": front.deals,
        "frontier_counts": front.count,
        "pareto_points": len(util),
        "pareto_size": int(front.count.sum()),
        "zopa_pareto_utilities": zutil[zpareto],
        "zopa_pareto_deals": inner.deals[zpareto],
        "zopa_pareto_points": int(len(zpareto)),
        "zopa_pareto_size": int(inner.count[zpareto].sum()),
        "zopa": zopa_count,
        "zopa_size": zopa_count["size"],
        "ideal": None if sol["ideal"] is None else sol["ideal"].copy(),
        "nash": point("nash"),
        "kalai_smorodinsky": point("kalai_smorodinsky"),
        "utilitarian": point("utilitarian"),
        "utilitarian_all": point("utilitarian_all"),
        "proposals": proposals,
        "frontier_exact": not thinning.epsilons,
        "exact": not thinning.epsilons and zopa_count["exact"],
        "max_error": thinning.max_error,
        "method": method,
        "seconds": {"frontier": t_frontier - t0, "zopa_frontier_and_solutions": t_solutions - t_frontier,
                    "zopa_size": t_zopa - t_solutions, "total": time.perf_counter() - t0},
    }


def _proposal_records(game: Game, st: _Setup, prefs: Preferences, run: int, front: np.ndarray) -> list[dict]:
    if not len(game.proposals):
        return []
    u = game.utilities(prefs.take(slice(run, run + 1)), game.proposals)[0]  # (P, A)
    dormant = _dormant_of_deals(st, game.proposals)
    zopa = _in_zopa(st, u, dormant)
    needed = np.zeros((len(u), st.n_actors), dtype=bool)
    needed[:, st.signatories] = True
    for c, a in enumerate(st.consent_actors.tolist()):
        needed[:, a] = dormant[:, c] < 0.5
    out = []
    for p, pid in enumerate(game.proposal_ids):
        # Every actor can gain at least `lift` at once. Frontier points suffice: min_a(f_a - u_a)
        # only grows as f moves up, and every deal lies below some frontier point.
        lift = float(np.max(np.min(front - u[p], axis=1)))
        dominated = bool(np.any(np.all(front >= u[p] - TOL, axis=1) & np.any(front > u[p] + TOL, axis=1)))
        below = u[p] < st.reservation - TOL
        out.append({
            "id": pid,
            "name": game.proposal_names[p],
            "utilities": u[p].copy(),
            "distance_to_frontier": max(0.0, lift),
            "pareto_optimal": not dominated,
            "below_reservation": [game.actor_ids[a] for a in np.nonzero(below)[0].tolist()],
            "blocking": [game.actor_ids[a] for a in np.nonzero(below & needed[p])[0].tolist()],
            "in_zopa": bool(zopa[p]),
        })
    return out


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

def _utilities(actor_ids, u) -> dict[str, float]:
    return {a: round(float(u[k]), 6) for k, a in enumerate(actor_ids)}


def analysis_json(result: dict) -> dict:
    """The analysis as plain JSON-able data."""
    actors = result["actor_ids"]

    def point(p: dict | None) -> dict | None:
        if p is None:
            return None
        return {"deal": p["deal"], "utilities": _utilities(actors, p["utilities"]),
                "deals_with_these_utilities": p["deals_with_these_utilities"]}

    zopa = result["zopa"]
    return {
        "scenario": result["scenario"],
        "space_size": result["space_size"],
        "pareto_size": result["pareto_size"],
        "pareto_points": result["pareto_points"],
        "zopa_size": zopa["size"] if zopa["exact"] else round(float(zopa["size"]), 1),
        "zopa_size_exact": zopa["exact"],
        "zopa_size_method": zopa["method"],
        **({"zopa_size_interval": [round(zopa["low"], 1), round(zopa["high"], 1)]} if not zopa["exact"] else {}),
        "zopa_pareto_size": result["zopa_pareto_size"],
        "signatories": result["signatories"],
        "consent_actors": result["consent_actors"],
        "reservations": _utilities(actors, result["reservation"]),
        "ideal": None if result["ideal"] is None else _utilities(result["signatories"], result["ideal"]),
        "nash": point(result["nash"]),
        "kalai_smorodinsky": point(result["kalai_smorodinsky"]),
        "utilitarian": point(result["utilitarian"]),
        "utilitarian_all": point(result["utilitarian_all"]),
        "proposals": [{
            "id": p["id"],
            "name": p["name"],
            "utilities": _utilities(actors, p["utilities"]),
            "distance_to_frontier": round(p["distance_to_frontier"], 6),
            "below_reservation": p["below_reservation"],
            "blocking": p["blocking"],
            "in_zopa": p["in_zopa"],
            "pareto_optimal": p["pareto_optimal"],
        } for p in result["proposals"]],
        "groups": result["groups"],
        "method": result["method"],
        "exact": result["exact"],
        "frontier_exact": result["frontier_exact"],
        "max_error": result["max_error"],
    }


def analysis_text(game: Game, result: dict) -> str:
    """A plain-text report of the analysis."""
    actors = list(game.actor_ids)
    width = max(8, *(len(a) for a in actors))
    zopa = result["zopa"]
    size = f"{zopa['size']:,}" if zopa["exact"] else f"~{zopa['size']:,.0f} ({zopa['low']:,.0f}-{zopa['high']:,.0f})"
    lines = [
        f"Bargaining analysis: {game.name} ({game.space.size:,} possible deals)",
        f"Pareto frontier:  {result['pareto_size']:,} deals ({result['pareto_points']:,} distinct utility points)",
        f"ZOPA:             {size} deals; {result['zopa_pareto_size']:,} of them Pareto-optimal within it",
        f"Bargaining parties: {', '.join(result['signatories'])}; disagreement point = reservation values",
    ]
    if result["consent_actors"]:
        lines.append("Consent also needed from: " + "; ".join(
            f"{a} (if {', '.join(issues)} leave their defaults)" for a, issues in result["consent_actors"].items()))
    lines.append(f"Method: {result['method']}")
    if not result["frontier_exact"]:
        lines.append(f"APPROXIMATE: frontier points may be off by up to {result['max_error']:.4g} per actor")
    lines.append("")
    header = f"{'':<22}" + "".join(f"{a:>{width + 2}}" for a in actors)
    lines += [header, f"{'reservation':<22}" + "".join(f"{v:>{width + 2}.3f}" for v in result["reservation"])]
    labels = {"nash": "Nash", "kalai_smorodinsky": "Kalai-Smorodinsky", "utilitarian": "utilitarian (signat.)",
              "utilitarian_all": "utilitarian (all)"}
    for key, label in labels.items():
        p = result[key]
        if p is None:
            lines.append(f"{label:<22}  (empty ZOPA: no deal every required actor accepts)")
            continue
        lines.append(f"{label:<22}" + "".join(f"{v:>{width + 2}.3f}" for v in p["utilities"]))
    for key, label in labels.items():
        p = result[key]
        if p is None:
            continue
        lines += ["", f"{label} deal:"]
        iw = max(len(i) for i in p["deal"])
        lines += [f"  {i:<{iw}}  {o}" for i, o in p["deal"].items()]
    if result["proposals"]:
        lines += ["", "Named proposals (distance = what every actor could gain at once by moving to the frontier):",
                  f"{'proposal':<28}" + "".join(f"{a:>{width + 2}}" for a in actors)
                  + f"{'distance':>10}  {'Pareto':<7} below reservation"]
        for p in result["proposals"]:
            name = p["id"] if len(p["id"]) <= 27 else p["id"][:24] + "..."
            below = ", ".join(p["below_reservation"]) or "-"
            lines.append(f"{name:<28}" + "".join(f"{v:>{width + 2}.3f}" for v in p["utilities"])
                         + f"{p['distance_to_frontier']:>10.3f}  {'yes' if p['pareto_optimal'] else 'no':<7} {below}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# CLI (`negsim analyze`), wired in by sim/cli.py
# ---------------------------------------------------------------------------------------------

def add_arguments(parser) -> None:
    """Arguments of `negsim analyze`."""
    parser.add_argument("scenario", help="scenario YAML file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def command(args) -> int:
    """`negsim analyze`: frontier, ZOPA and bargaining solutions at the point estimates."""
    import json

    from sim.domain.game import compile_scenario
    from sim.scenario import load_scenario

    loaded = load_scenario(args.scenario)
    game = compile_scenario(loaded.scenario)
    result = analyze(game)
    if args.json:
        print(json.dumps(analysis_json(result), indent=2))
    else:
        print(analysis_text(game, result))
    return 0
