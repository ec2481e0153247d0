"""Bueno de Mesquita's expected-utility model of group decisions, as a pure function and a protocol.

The pure part (`expected_utility_rounds`, `eu_round`, `weighted_median`) runs the model on
positions, capabilities and saliences for any batch shape (..., n actors); the protocol
(`ExpectedUtility`, registered as `expected_utility`) plays it issue by issue on every run of a
scenario and tables the forecast as the negotiating text. See `ExpectedUtility` for the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.domain.game import Game
from sim.domain.utility import Preferences
from sim.model.protocols import Protocol

#: Positions in the protocol live on [0, SCALE]: an issue's first option at 0, its last at SCALE.
SCALE = 100.0
COMPROMISE_RULES = ("least_move", "scholz_code")
PROBABILITY_RULES = ("pooled", "pairwise")
_TIE = 1e-12
_SAME = 1e-6  # positions closer than this share of the span count as the same position


@dataclass(frozen=True)
class EUHistory:
    """What `expected_utility_rounds` returns; round 0 is the input."""

    positions: np.ndarray  # (k + 1, ..., n) every actor's position after each round
    forecast: np.ndarray  # (k + 1, ...) capability*salience-weighted median position (the forecast)
    mean: np.ndarray  # (k + 1, ...) capability*salience-weighted mean position
    risk: np.ndarray  # (k, ..., n) the risk exponents r_i used in each round


def weighted_median(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The weighted median of x along the last axis: the Condorcet winner among the positions.

    With utilities linear in distance, position p beats q in a pairwise vote iff
    sum_k w_k |x_k - p| < sum_k w_k |x_k - q| (Scholz et al. 2011, Appendix step 3), and that sum
    is smallest at the weighted median. Where the cumulative weight hits exactly half, every
    point between the two middle positions wins; we take their midpoint, so mirroring the scale
    mirrors the forecast. Returns nan where all weights are zero.
    """
    order = np.argsort(x, axis=-1, kind="stable")
    xs = np.take_along_axis(x, order, axis=-1)
    cum = np.cumsum(np.take_along_axis(w, order, axis=-1), axis=-1)
    half = cum[..., -1:] / 2.0
    lo = np.argmax(cum >= half * (1.0 - _TIE), axis=-1)
    hi = np.argmax(cum > half * (1.0 + _TIE), axis=-1)
    hi = np.where((cum > half * (1.0 + _TIE)).any(axis=-1), hi, lo)
    mid = (np.take_along_axis(xs, lo[..., None], -1) + np.take_along_axis(xs, hi[..., None], -1))[..., 0] / 2.0
    return np.where(cum[..., -1] > 0, mid, np.nan)


def weighted_mean(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The weighted mean of x along the last axis (nan where all weights are zero)."""
    total = w.sum(axis=-1)
    return np.where(total > 0, (w * x).sum(axis=-1) / np.where(total > 0, total, 1.0), np.nan)


def _win_probability(x, w, act, span, r, rule="pooled"):
    """P[b, i, j]: i's chance of prevailing over j, from every actor's votes (Scholz eq. 30-31).

    Actor k's vote for i over j is w_k ((|x_k - x_j| / span)^r_k - (|x_k - x_i| / span)^r_k).
    P sums the votes for i. "pooled" divides by the absolute votes of every actor over every
    ordered pair of active actors: the normalisation that reproduces Scholz et al.'s published
    rounds. "pairwise" divides by the absolute votes on the pair (i, j) alone, as their eq. 31
    is printed; on the published example it collapses every actor onto the initial median.
    """
    dist = (np.abs(x[:, :, None] - x[:, None, :]) / span[:, None, None]) ** r[:, :, None]  # [b, k, m]
    vote = dist[:, :, None, :] - dist[:, :, :, None]  # [b, k, i, j]: k's vote for i over j
    weighted = w[:, :, None, None] * vote
    pairs = (act[:, :, None] & act[:, None, :])[:, None]
    numerator = np.clip(weighted, 0.0, None).sum(axis=1)
    if rule == "pairwise":
        denominator = np.abs(weighted).sum(axis=1)
    else:
        denominator = np.abs(np.where(pairs, weighted, 0.0)).sum(axis=(1, 2, 3))[:, None, None]
    ok = denominator > 0
    return np.where(ok, numerator / np.where(ok, denominator, 1.0), 0.0)


def _challenge_utility(r, p, s_target, x_ch, x_tg, mu, span, q):
    """E(U_ch,tg): the challenger's expected utility of challenging the target (Scholz eq. 5-7, 15-24).

    r is the exponent of whoever does the estimating; all arguments broadcast to (B, n, n).
    """
    d = np.abs(x_ch - x_tg) / span
    u_success = 2.0 - 4.0 * (0.5 - 0.5 * d) ** r
    u_failure = 2.0 - 4.0 * (0.5 + 0.5 * d) ** r
    u_quo = 2.0 - 4.0 * 0.5 ** r
    challenge = s_target * (p * u_success + (1.0 - p) * u_failure) + (1.0 - s_target) * u_success
    no_challenge = q * u_quo
    if q < 1.0:
        to_mu = np.abs(x_ch - mu) / span
        u_better = 2.0 - 4.0 * np.clip(0.5 - 0.25 * (to_mu + d), 0.0, None) ** r
        u_worse = 2.0 - 4.0 * (0.5 + 0.25 * (to_mu + d)) ** r
        better = to_mu < d  # T = 1: the target drifting to the median helps the challenger
        no_challenge = no_challenge + (1.0 - q) * np.where(better, u_better, u_worse)
    return challenge - no_challenge


def eu_round(x: np.ndarray, c: np.ndarray, s: np.ndarray, act: np.ndarray, span: np.ndarray,
             q: float = 1.0, compromise: str = "least_move",
             probability: str = "pooled") -> tuple[np.ndarray, np.ndarray]:
    """One round of the model for a batch: positions (B, n) -> (new positions (B, n), risk exponents r (B, n)).

    c, s, act are (B, n); span (B,) is the length of the scale utilities are measured on.
    Inactive actors (act False: salience zero) neither make nor receive offers and do not vote.
    """
    if compromise not in COMPROMISE_RULES:
        raise ValueError(f"unknown compromise rule {compromise!r} (known: {', '.join(COMPROMISE_RULES)})")
    if probability not in PROBABILITY_RULES:
        raise ValueError(f"unknown probability rule {probability!r} (known: {', '.join(PROBABILITY_RULES)})")
    w = np.where(act, c * s, 0.0)
    n = x.shape[1]
    mu = weighted_median(x, w)[:, None, None] if q < 1.0 else None
    spn = span[:, None, None]
    xi, xj = x[:, :, None], x[:, None, :]  # [b, i, j] -> x_i, x_j
    s_i, s_j = s[:, :, None], s[:, None, :]
    pair = act[:, :, None] & act[:, None, :] & ~np.eye(n, dtype=bool)

    # Pass 1 (r = 1): security levels -> risk exponents (Scholz section 5, eq. 32-34).
    ones = np.ones_like(x)
    p1 = _win_probability(x, w, act, span, ones, probability)
    e1 = _challenge_utility(1.0, p1, s_j, xi, xj, mu, spn, q)  # e1[i, j] = E^i(U_ij)
    security = np.where(pair, e1, 0.0).sum(axis=1)  # sum_j E^j(U_ji): what i's adversaries expect
    hi = np.where(act, security, -np.inf).max(axis=1, keepdims=True)
    lo = np.where(act, security, np.inf).min(axis=1, keepdims=True)
    some = np.isfinite(hi)
    hi, lo = np.where(some, hi, 0.0), np.where(some, lo, 0.0)
    spread = hi - lo
    ok = act & (spread > 0)
    big_r = np.where(ok, (2.0 * security - hi - lo) / np.where(ok, spread, 1.0), 0.0)
    r = (1.0 - big_r / 3.0) / (1.0 + big_r / 3.0)

    # Pass 2 (r_i): what i expects from challenging j, and what i thinks j expects from challenging i.
    p = _win_probability(x, w, act, span, r, probability)
    r_i = r[:, :, None]
    a = _challenge_utility(r_i, p, s_j, xi, xj, mu, spn, q)  # E^i(U_ij)
    b = _challenge_utility(r_i, np.swapaxes(p, 1, 2), s_i, xj, xi, mu, spn, q)  # E^i(U_ji)

    # Offers to i from j (Scholz section 6, fig. 6): conflict i loses, compromise, capitulation.
    valid = pair & (np.abs(xi - xj) > _SAME * spn)  # actors (almost) together make no offers
    move = np.abs(xj - xi)
    conflict = valid & (a > 0) & (b > a)
    comp = valid & (a < 0) & (b > 0) & (b > -a)
    capitulate = valid & (a < 0) & (b > 0) & (-a > b)
    ratio = np.abs(a) / np.where(comp, b, 1.0)
    comp_to = xi + (xj - xi) * ratio
    if compromise == "least_move":
        comp_key = move * ratio
    else:  # as in the code behind Scholz et al.'s published rounds: lowest EU-weighted midpoint
        comp_key = (np.abs(a) * xi + np.abs(b) * xj) / np.where(comp, np.abs(a) + np.abs(b), 1.0)

    def pick(mask, key):
        # the smallest key; among (near-)equal keys the proposer who expects most (b), then the first
        key = np.where(mask, key, np.inf)
        best = key.min(axis=2, keepdims=True)
        tied = mask & (key <= best + 1e-12 * (1.0 + np.abs(best)))
        j = np.argmax(np.where(tied, b, -np.inf), axis=2)
        return mask.any(axis=2), j[:, :, None]

    has_conf, j_conf = pick(conflict, move)
    has_comp, j_comp = pick(comp, comp_key)
    has_cap, j_cap = pick(capitulate, move)
    xx = np.broadcast_to(xj, move.shape)
    new = np.where(has_cap, np.take_along_axis(xx, j_cap, 2)[:, :, 0], x)
    new = np.where(has_comp, np.take_along_axis(comp_to, j_comp, 2)[:, :, 0], new)
    new = np.where(has_conf, np.take_along_axis(xx, j_conf, 2)[:, :, 0], new)
    return np.where(act, new, x), r


def expected_utility_rounds(positions, capability, salience, rounds: int, *, q: float = 1.0, span=None,
                            compromise: str = "least_move", probability: str = "pooled",
                            active=None) -> EUHistory:
    """Run the expected-utility model for `rounds` rounds (no Mesa, no randomness).

    positions (..., n); capability and salience broadcast to it (salience in [0, 1]); `span` is
    the length of the scale (default: the spread of the initial positions, as in Scholz et al.);
    `active` (default salience > 0) says who takes part. Returns positions, forecasts (weighted
    median) and weighted means after every round, round 0 being the input.
    """
    x = np.asarray(positions, dtype=float)
    shape = x.shape
    n = shape[-1]
    c = np.broadcast_to(np.asarray(capability, dtype=float), shape).reshape(-1, n)
    s = np.broadcast_to(np.asarray(salience, dtype=float), shape).reshape(-1, n)
    act = (s > 0) if active is None else np.broadcast_to(np.asarray(active, dtype=bool), shape).reshape(-1, n)
    x = x.reshape(-1, n).copy()
    if span is None:
        span = np.where(act, x, -np.inf).max(axis=1) - np.where(act, x, np.inf).min(axis=1)
    else:
        span = np.broadcast_to(np.asarray(span, dtype=float), shape[:-1]).reshape(-1)
    span = np.where(np.isfinite(span) & (span > 0), span, 1.0)
    w = np.where(act, c * s, 0.0)
    xs, rs = [x], []
    for _ in range(rounds):
        x, r = eu_round(x, c, s, act, span, q, compromise, probability)
        xs.append(x)
        rs.append(r)
    pos = np.stack(xs)
    return EUHistory(
        positions=pos.reshape((rounds + 1,) + shape),
        forecast=weighted_median(pos, w[None]).reshape((rounds + 1,) + shape[:-1]),
        mean=weighted_mean(pos, w[None]).reshape((rounds + 1,) + shape[:-1]),
        risk=np.stack(rs).reshape((rounds,) + shape) if rs else np.zeros((0,) + shape),
    )


def issue_positions(game: Game, prefs: Preferences) -> tuple[np.ndarray, np.ndarray]:
    """Each actor's position and salience on each issue, per run: two (R, I, A) arrays.

    Position: the actor's most preferred option, as its index scaled to [0, SCALE] (options are
    listed from one pole to the other); tied best options give the mean of their indices.
    Salience: the actor's normalised weight on the issue over its largest weight, in [0, 1].
    """
    space = game.space
    runs, actors, _ = prefs.values.shape
    pos = np.zeros((runs, space.n_issues, actors))
    for i, (start, n) in enumerate(zip(space.offsets, space.n_options)):
        v = prefs.values[:, :, start:start + n]
        best = v >= v.max(axis=2, keepdims=True) - 1e-12
        idx = (best * np.arange(n)).sum(axis=2) / best.sum(axis=2)
        pos[:, i, :] = SCALE * idx / max(n - 1, 1)
    top = prefs.weights.max(axis=2, keepdims=True)
    sal = np.where(top > 0, prefs.weights / np.where(top > 0, top, 1.0), 0.0)
    return pos, np.transpose(sal, (0, 2, 1))


class ExpectedUtility(Protocol):
    """Bueno de Mesquita's expected-utility model: actors challenge, compromise and capitulate.

    Formulation: Bueno de Mesquita (1994), "Political forecasting: an expected utility method",
    in Bueno de Mesquita & Stokman (eds.), European Community Decision Making: Models,
    Applications, and Comparisons (Yale UP), as made explicit by Scholz, Calbert & Smith (2011),
    "Unravelling Bueno De Mesquita's group decision model", Journal of Theoretical Politics
    23(4): 510-531 (conference version: ICAART 2011, SciTePress,
    https://www.scitepress.org/PublishedPapers/2011/31215/), whose algorithm (their Appendix)
    this follows step by step. Per issue,
    actor i has position x_i, capability c_i and salience s_i in [0, 1]; distances are measured
    as d_ij = |x_i - x_j| / span. Each round:

    1. Probability of success (Scholz eq. 30-31): P_ij = sum_k max(0, v_k^ij) / N, with actor k's
       vote v_k^ij = c_k s_k ((|x_k - x_j| / span)^r_k - (|x_k - x_i| / span)^r_k) and
       N = sum_k sum_(a, b) |v_k^ab| over every ordered pair of actors. This pooled N is the
       normalisation that reproduces Scholz et al.'s published rounds; `probability="pairwise"`
       divides by sum_k |v_k^ij| alone, as their eq. 31 is printed, which collapses the
       published example onto its initial median. Because N runs over all pairs, P is small and
       a challenge turns mostly on whether the target resists (its salience); capability acts
       mainly through the votes' relative sizes and the forecast.
    2. Expected utility of i challenging j (eq. 5-7, 15-24), with Q = 1 by default (Scholz et
       al.'s choice for the example; Q < 1 adds the no-challenge branch with T = 1 iff the median
       mu is closer to x_i than x_j is):
       E^i(U_ij) = s_j (P_ij U_s + (1 - P_ij) U_f) + (1 - s_j) U_s - Q U_sq - (1 - Q)(T U_b + (1 - T) U_w),
       U_s = 2 - 4 (0.5 - 0.5 d_ij)^r_i, U_f = 2 - 4 (0.5 + 0.5 d_ij)^r_i, U_sq = 2 - 4 (0.5)^r_i,
       U_b, U_w = 2 - 4 (0.5 -/+ 0.25 (|x_i - mu| + |x_i - x_j|) / span)^r_i.
    3. Risk-taking (section 5, eq. 32-34): with every r = 1, actor i's security is
       S_i = sum_j E^j(U_ji), what its adversaries expect from challenging it;
       R_i = (2 S_i - max S - min S) / (max S - min S) and r_i = (1 - R_i / 3) / (1 + R_i / 3),
       in [0.5, 2]. Steps 1-2 are then redone with these r_i (the votes in P included).
    4. Offers (section 6, fig. 6), from i's own point of view, a = E^i(U_ij), b = E^i(U_ji)
       (i's estimate of j's expected utility, with i's r_i and s_i): conflict that i loses
       (b > a > 0): i moves to x_j; compromise (a < 0 < b, b > |a|): i moves to
       x_i + (x_j - x_i) |a / b| (eq. 35-36); capitulation (a < 0 < b, |a| > b): i moves to x_j.
    5. Position update: every actor takes, all at once, one offer: a lost conflict before a
       compromise before a capitulation, and within a kind the one that moves it least (BDM
       1994; Scholz 6.2: "players move the least that they can"); ties go to the proposer who
       expects most (b), then to the first actor. Actors (almost) at the same position make
       each other no offers. `compromise="scholz_code"`
       instead takes the compromise with the lowest EU-weighted midpoint
       (|a| x_i + |b| x_j) / (|a| + |b|): this is what reproduces Scholz et al.'s rounds 4-8
       (Belgium compromising with the Netherlands in round 4), but it favours the low end of
       the scale, so the protocol does not use it.
    6. Forecast: the capability*salience-weighted median position (the Condorcet winner, step 3
       of Scholz et al.'s algorithm); the weighted mean is reported alongside.

    Mapping from a scenario (`issue_positions`): an issue's options are taken as ordered from
    one pole to the other (as scenarios list them) and placed at 0, ..., SCALE; an actor's
    position is its most preferred option (the mean index if several tie), its salience is its
    normalised weight on the issue over its largest weight, its capability is
    `game.capability`; span = SCALE. Per-run sampled preferences give per-run positions. The
    most preferred option, not the value-weighted mean index, because BDM's x_i is the outcome
    an actor advocates (in his example, the date each government asked for); a value-weighted
    mean would mix how much an actor cares into where it stands and pull everyone towards the
    middle of the list, which salience already accounts for.

    As a protocol: the opening text is each issue's initial forecast (the weighted median of
    the actors' ideal points), mapped to the nearest option. Each round the actors answer the
    text on the table (`respond`), `close_round` ends runs as in the other protocols, and in the
    runs still open one round of the model is played on every issue and the new forecasts,
    mapped to the nearest options, become the next text. The model itself draws no randomness.
    Issues nobody weighs keep their default option. Optional protocol keys, read if present:
    `eu_q` (Q, default 1.0), `eu_compromise` ("least_move" or "scholz_code") and
    `eu_probability` ("pooled" or "pairwise").
    """

    name = "expected_utility"

    def __init__(self, game: Game):
        self.game = game
        q = game.protocol.get("eu_q")
        self.q = 1.0 if q is None else float(q)
        self.compromise = game.protocol.get("eu_compromise") or "least_move"
        self.probability = game.protocol.get("eu_probability") or "pooled"
        if self.compromise not in COMPROMISE_RULES or self.probability not in PROBABILITY_RULES:
            raise ValueError(f"unknown eu_compromise {self.compromise!r} or eu_probability {self.probability!r}")
        self.n_options = np.asarray(game.space.n_options, dtype=np.int64)
        self.defaults = np.asarray(game.space.defaults, dtype=np.int64)

    def start(self, model) -> None:
        """Place every actor on every issue and table the initial forecast."""
        pos, sal = issue_positions(self.game, model.prefs)
        model.eu_positions = pos  # (R, I, A)
        model.eu_salience = sal
        model.eu_forecast = weighted_median(pos, self._weights(sal))
        model.text[:] = self._text(model.eu_forecast)
        model.tabled = model.text.copy()

    def round(self, model) -> None:
        """Answer the text, close runs, then play one round of the model in the open runs."""
        self.answer(model)
        runs = np.flatnonzero(model.active)
        if runs.size:
            self.advance(model, runs)

    def advance(self, model, runs: np.ndarray) -> None:
        """One round of the model on every issue of the given runs; their text becomes the new forecast."""
        pos = model.eu_positions[runs]
        sal = model.eu_salience[runs]
        shape = pos.shape
        n = shape[-1]
        c = np.broadcast_to(self.game.capability, shape).reshape(-1, n)
        s = sal.reshape(-1, n)
        act = s > 0
        x, _ = eu_round(pos.reshape(-1, n), c, s, act, np.full(len(c), SCALE), self.q, self.compromise,
                        self.probability)
        model.eu_positions[runs] = x.reshape(shape)
        model.eu_forecast[runs] = weighted_median(model.eu_positions[runs], self._weights(sal))
        model.text[runs] = self._text(model.eu_forecast[runs])

    def _weights(self, sal: np.ndarray) -> np.ndarray:
        return self.game.capability * sal

    def _text(self, forecast: np.ndarray) -> np.ndarray:
        """The option nearest each issue's forecast; issues no one weighs keep their default."""
        k = np.rint(forecast / SCALE * (self.n_options - 1))
        k = np.where(np.isnan(k), self.defaults, k)
        return np.clip(k, 0, self.n_options - 1).astype(np.int64)
