"""Partial deals as tables: the set-up of one analysis, the groups of issues, their exact contributions.

Utility is additive over issues except for interaction terms, which tie the issues they affect
to the issue they are conditioned on. Issues linked by terms form *groups* (connected
components); utility is exactly additive over groups. Within a group every contribution is
computed exactly (each affected issue value is shifted, then clipped to [0, 1], as in
sim.domain.utility), either by listing the group's option combinations or, when that is
cheaper, by fixing the group's condition issues (sim.analysis.frontier).

A table row is a partial deal: its criteria are every actor's summed weighted values, then one
0/1 *dormancy* flag per consent actor, 1 while the deal needs nothing of that actor's yes
(Game.must_agree, the one definition of who must agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING

import numpy as np

from sim.errors import UserError

if TYPE_CHECKING:
    from sim.domain.game import Game
    from sim.domain.utility import Preferences

#: Two utilities closer than this are equal: dominance, reservation values and ties.
TOL = 1e-9
_QUANT = 1e-10  # utilities closer than this are treated as the same point when deduplicating
# Random odd multipliers hash a row of quantised criteria to one int64 (wrapping multiply).
_HASH = np.random.default_rng(20250815).integers(1, 2**62, size=64, dtype=np.int64) | 1


@dataclass
class Table:
    """Partial deals over some issues: criteria (utilities, then dormancy flags), multiplicities, one deal each."""

    crit: np.ndarray  # (n, A + C) float
    count: np.ndarray  # (n,) int64: deals sharing this criteria vector
    deals: np.ndarray  # (n, I) int64, -1 on issues this table does not cover

    def take(self, rows: np.ndarray) -> Table:
        """The table's rows `rows` (a mask or indices)."""
        return Table(self.crit[rows], self.count[rows], self.deals[rows])


@dataclass(frozen=True)
class Setup:
    """What one analysis needs to know about a game at one set of preferences."""

    n_actors: int
    signatories: np.ndarray  # (S,)
    consent_actors: np.ndarray  # (C,) non-signatories whose yes some deal needs
    consent_issues: tuple[frozenset[int], ...]  # per consent actor: the issues on which its yes can be needed
    reservation: np.ndarray  # (A,)
    weights: np.ndarray  # (A, I)
    values: np.ndarray  # (A, O)
    deltas: np.ndarray  # (K,)
    offsets: np.ndarray
    n_options: np.ndarray
    defaults: np.ndarray
    allowed: np.ndarray  # (O,) options no needed party has ruled out (Game.forbidden_options)

    @classmethod
    def of(cls, game: Game, prefs: Preferences, run: int) -> Setup:
        """The set-up for analysing `game` at run `run` of `prefs`."""
        space = game.space
        sig = np.asarray(game.signatories, dtype=np.int64)
        beyond = game.yes_needed()  # (O, A)
        beyond[:, sig] = False
        actors = np.flatnonzero(beyond.any(axis=0)).astype(np.int64)
        issues = tuple(frozenset(i for i in range(space.n_issues)
                                 if beyond[space.offsets[i]:space.offsets[i] + space.n_options[i], a].any())
                       for a in actors.tolist())
        return cls(
            n_actors=game.n_actors,
            signatories=sig,
            consent_actors=actors,
            consent_issues=issues,
            reservation=np.asarray(prefs.reservation[run], dtype=float),
            weights=np.asarray(prefs.weights[run], dtype=float),
            values=np.asarray(prefs.values[run], dtype=float),
            deltas=np.asarray(prefs.deltas[run], dtype=float),
            offsets=space.offsets,
            n_options=space.n_options,
            defaults=np.array(space.defaults, dtype=np.int64),
            allowed=_allowed(game),
        )

    def signable(self, issues: list[int], combos: np.ndarray) -> np.ndarray:
        """(M,) which partial deals over `issues` use only allowed options."""
        return self.allowed[combos + self.offsets[np.asarray(issues, dtype=np.int64)]].all(axis=1)


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


def option_product(n_options: np.ndarray, issues: list[int], start: int = 0, stop: int | None = None) -> np.ndarray:
    """Combinations start..stop-1 of the options of `issues` (all by default), (M, len(issues)), last fastest."""
    sizes = [int(n_options[i]) for i in issues]
    index = np.arange(start, prod(sizes) if stop is None else stop, dtype=np.int64)
    out = np.empty((len(index), len(sizes)), dtype=np.int64)
    for j in range(len(sizes) - 1, -1, -1):
        out[:, j] = index % sizes[j]
        index //= sizes[j]
    return out


def contributions(game: Game, st: Setup, issues: list[int], combos: np.ndarray) -> np.ndarray:
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


def dormancy(game: Game, st: Setup, issues: list[int], combos: np.ndarray, with_flags: bool = True) -> np.ndarray:
    """(M, C) 1.0 where a partial deal over `issues` needs nothing of a consent actor's yes, else 0.0."""
    if not with_flags:
        return np.ones((len(combos), 0))
    return (~game.must_agree(combos, issues)[:, st.consent_actors]).astype(float)


def partial_table(game: Game, st: Setup, issues: list[int], combos: np.ndarray, with_flags: bool) -> Table:
    """A table of the signable partial deals among `combos` over `issues` (contributions summed over them)."""
    combos = combos[st.signable(issues, combos)]
    crit = np.concatenate([contributions(game, st, issues, combos).sum(axis=2),
                           dormancy(game, st, issues, combos, with_flags)], axis=1)
    deals = np.full((len(combos), game.space.n_issues), -1, dtype=np.int64)
    deals[:, issues] = combos
    return dedup(Table(crit, np.ones(len(combos), dtype=np.int64), deals))


def dedup(t: Table) -> Table:
    """Merge rows with the same criteria (to _QUANT), adding their multiplicities."""
    if len(t.crit) < 2:
        return t
    key = np.round(t.crit / _QUANT).astype(np.int64)
    # Hashing rows to one int64 makes the unique pass one-dimensional; a collision is detected
    # below and then the rows are compared in full.
    _, first, inverse = np.unique(key @ _HASH[:key.shape[1]], return_index=True, return_inverse=True)
    if len(first) == len(key):
        return t
    if not np.array_equal(key[first][inverse], key):
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=t.count, minlength=len(first)).astype(np.int64)
    return Table(t.crit[first], counts, t.deals[first])


def group_tables(game: Game, st: Setup, groups: list[list[int]], limit: int) -> list[Table] | None:
    """Full (unpruned, deduplicated) table of every group, or None if some group is too large to list."""
    out = []
    for group in groups:
        if prod(int(st.n_options[i]) for i in group) > limit:
            return None
        out.append(partial_table(game, st, group, option_product(st.n_options, group), True))
    return out
