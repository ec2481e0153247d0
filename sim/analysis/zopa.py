"""The zone of possible agreement (ZOPA): which deals everyone whose yes they need prefers to no deal.

Whose consent counts: a deal is in the ZOPA when every actor whose yes it needs (Game.must_agree:
every signatory, and every actor in an issue's `consent` list for each issue on which the deal
departs from the issue's default, the rule the model closes rounds with) gets at least its
reservation value, to TOL. Mediators, guarantors and observers count only through such a
`consent` list. Because consent depends on the deal, the ZOPA is not closed under Pareto
improvement, so each consent actor adds a 0/1 dormancy criterion (sim.analysis.tables): a deal
at least as good in utilities and flags as a ZOPA deal is itself in the ZOPA, so the ZOPA's
Pareto set is found on the frontier merge with flags (sim.analysis.frontier); `reachable` drops
partial deals that cannot reach some needed reservation value whatever the remaining groups say.

ZOPA size: counted exactly by branch and bound over the groups (a partial deal is dropped as
soon as some needed actor cannot reach its reservation value, and counted wholesale once every
needed actor is sure to); if that would hold more than `exact_limit` partial deals it is
estimated from uniformly sampled deals, with a 95% Wilson interval.
"""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING

import numpy as np

from sim.analysis.tables import TOL, Setup, Table
from sim.stats import wilson_interval

if TYPE_CHECKING:
    from sim.domain.game import Game
    from sim.domain.utility import Preferences


def in_zopa(st: Setup, util: np.ndarray, dormant: np.ndarray) -> np.ndarray:
    """Which rows (utilities (n, A), dormancy (n, C)) every actor whose consent is needed accepts."""
    ok = np.all(util[:, st.signatories] >= st.reservation[st.signatories] - TOL, axis=1)
    for c, a in enumerate(st.consent_actors.tolist()):
        ok &= (util[:, a] >= st.reservation[a] - TOL) | (dormant[:, c] > 0.5)
    return ok


def dormant(game: Game, st: Setup, deals: np.ndarray) -> np.ndarray:
    """(n, C) 1.0 where a full deal (n, I) needs nothing of a consent actor's yes, else 0.0."""
    return (~game.must_agree(deals)[:, st.consent_actors]).astype(float)


def reachable(st: Setup, t: Table, headroom: np.ndarray) -> np.ndarray:
    """Rows that, completed with at most `headroom` more utility per actor, could still be in the ZOPA."""
    n_a = st.n_actors
    ok = np.all(t.crit[:, st.signatories] + headroom[st.signatories] >= st.reservation[st.signatories] - TOL, axis=1)
    for c, a in enumerate(st.consent_actors.tolist()):
        ok &= (t.crit[:, n_a + c] > 0.5) | (t.crit[:, a] + headroom[a] >= st.reservation[a] - TOL)
    return ok


def count_zopa(st: Setup, tables: list[Table], groups: list[list[int]], limit: int) -> int | None:
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


def estimate_zopa(game: Game, st: Setup, prefs: Preferences, run: int, samples: int,
                  seed: int = 0) -> tuple[float, float, float]:
    """(estimate, low, high): ZOPA size from uniformly sampled deals, with a 95% Wilson interval."""
    rng = np.random.default_rng(seed)
    deals = np.stack([rng.integers(0, int(n), samples) for n in st.n_options], axis=1)
    util = game.utilities(prefs.take(slice(run, run + 1)), deals)[0]
    signable = st.signable(list(range(len(st.n_options))), deals)
    hits = int((in_zopa(st, util, dormant(game, st, deals)) & signable).sum())
    low, high = wilson_interval(hits, samples)
    size = game.space.size
    return hits / samples * size, low * size, high * size
