"""The likelihood of the recorded decisions, and the priors of the numbers set free.

An actor accepts a text when its utility margin over max(aspiration, reservation) plus its
hidden flexibility is positive, the flexibility logistic with scale T (see
NegotiationModel.respond). So each recorded answer d_i of actor a to deal x_i on date t_i has

    P(yes | theta) = logistic( (u_a(x_i) - r_a) / T_a ),

the logit form of the statistical strategic models (Signorino 1999, APSR 93(2); Lewis &
Schultz 2003, Political Analysis 11(4)). The log-likelihood is sum_i w_i log P(d_i | theta),
w_i the decision's weight from the record's confidence and reliability grades.

The margin is over the reservation value, the model's floor (as `validate` checks the record
at point estimates): most recorded answers are to texts tabled in public as a basis for talks
("could be a basis", "we should stop where we are"), which say whether a party prefers the deal
to fighting on, not that it has already conceded its aspiration. With margin="aspiration" the
margin is over max(aspiration at the decision's date, r_a), the round-by-round rule of the
mediated talks; the recorded answers then also inform concession deadlines and exponents.

Simplifications, stated so they can be judged: (1) the answers are treated as independent
given theta (a composite likelihood): an actor's flexibility is drawn once per run, so its
answers are in truth correlated; the weights below 1 of contested and weak entries temper
this; (2) the floor at the reservation value and the red lines are softened to the logistic
(as under noisy rationality) so that a recorded yes can pull a reservation value down instead
of having probability 0; a red-line crossing keeps a fixed tiny probability that no theta moves;
(3) with margin="aspiration", the aspiration is the strategy's schedule at the decision's
date (round 0 for decisions before as_of), with no summit pressure; the reservation value is
the one at as_of in both cases.

Set free (`--free PATH`): any uncertain number of the scenario (prior: its own {mean, sd} or
{low, high}, truncated as the scenario truncates it), or any point number given a prior with
`--prior PATH=MEAN,SD`; and `protocol.temperature`, `actors.X.strategy.temperature` and
`actors.X.strategy.exponent`, whose default priors are stated in DEFAULT_PRIORS.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

#: Priors of the structural numbers the scenario gives as points: (sd as a multiple of the
#: scenario's value, lower bound, upper bound), a truncated normal centred on the value.
DEFAULT_PRIORS = {"temperature": (1.0, 1e-3, 0.5), "exponent": (0.5, 0.05, 10.0)}

#: The probability a decision keeps when the deal crosses the actor's red line.
RED_LINE_PROBABILITY = 1e-4

_EPS = 1e-9

#: What a recorded answer's margin is measured over (see the module header).
MARGINS = ("reservation", "aspiration")


@dataclass(frozen=True)
class Prior:
    """A truncated normal (mean, sd) or a uniform (low, high), within [lo, hi]."""

    normal: bool
    a: float
    b: float
    lo: float
    hi: float

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """Log density up to a constant; -inf outside the support."""
        inside = (x >= self.lo) & (x <= self.hi)
        if self.normal and self.b > 0:
            dens = -0.5 * ((x - self.a) / self.b) ** 2
        else:
            dens = np.zeros_like(x)
        return np.where(inside, dens, -np.inf)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n draws (rejection from the untruncated law; the support is never far in the tail here)."""
        out = np.empty(0)
        while out.size < n:
            if self.normal:
                x = rng.normal(self.a, max(self.b, 1e-12), size=4 * n)
            else:
                x = rng.uniform(self.a, self.b, size=4 * n)
            out = np.concatenate([out, x[(x >= self.lo) & (x <= self.hi)]])
        return out[:n]

    @property
    def sd(self) -> float:
        """The prior's spread as a standard deviation (for the identifiability check)."""
        return self.b if self.normal else (self.b - self.a) / np.sqrt(12.0)

    def describe(self) -> str:
        """`0.13±0.033` or `U(0.1, 0.3)`."""
        return f"{self.a:.3g}±{self.b:.2g}" if self.normal else f"U({self.a:.3g}, {self.b:.3g})"


@dataclass(frozen=True)
class FreeParameter:
    """One number set free: where it lives in the scenario, how it enters the model, its prior."""

    path: str
    kind: str  # "number" (an uncertain scenario number, column `index` of game.params),
    #            "temperature" or "exponent" (actor `index`, -1 for every actor)
    index: int
    prior: Prior


class CalibrationError(ValueError):
    """A --free or --prior request the scenario cannot honour."""


def free_parameters(game, scenario, paths: list[str]) -> tuple[FreeParameter, ...]:
    """Resolve --free paths against a compiled game (after --prior overrides made them uncertain)."""
    by_path = {p.path: k for k, p in enumerate(game.params)}
    out = []
    for path in paths:
        parts = path.split(".")
        if path in by_path:
            p = game.params[by_path[path]]
            out.append(FreeParameter(path, "number", by_path[path], Prior(p.normal, p.a, p.b, p.lo, p.hi)))
        elif path == "protocol.temperature":
            out.append(FreeParameter(path, "temperature", -1, _default_prior("temperature",
                                                                             scenario.protocol.temperature)))
        elif len(parts) == 4 and parts[0] == "actors" and parts[2] == "strategy" and parts[3] in DEFAULT_PRIORS:
            if parts[1] not in scenario.actors:
                raise CalibrationError(f"--free {path}: unknown actor {parts[1]!r} "
                                       f"(known: {', '.join(scenario.actors)})")
            a = game.actor_index(parts[1])
            strategy = scenario.actors[parts[1]].strategy
            current = getattr(strategy, parts[3])
            if parts[3] == "temperature" and current is None:
                current = scenario.protocol.temperature
            if parts[3] == "exponent" and current is None:
                current = game.strategies[a].exponent
            out.append(FreeParameter(path, parts[3], a, _default_prior(parts[3], float(current))))
        else:
            raise CalibrationError(
                f"--free {path}: not an uncertain number of the scenario; give it a prior with "
                f"--prior {path}=MEAN,SD, or free protocol.temperature, actors.X.strategy.temperature "
                f"or actors.X.strategy.exponent")
    if len({f.path for f in out}) != len(out):
        raise CalibrationError("--free names the same path twice")
    return tuple(out)


def _default_prior(kind: str, value: float) -> Prior:
    scale, lo, hi = DEFAULT_PRIORS[kind]
    centre = max(float(value), lo)
    return Prior(True, centre, scale * centre, lo, hi)


class DecisionLikelihood:
    """Vectorised log prior, likelihood and per-decision probabilities for M parameter vectors."""

    def __init__(self, game, decisions: list, free: tuple[FreeParameter, ...],
                 own_temperature: np.ndarray | None = None, margin: str = "reservation"):
        if margin not in MARGINS:
            raise CalibrationError(f"margin must be one of {', '.join(MARGINS)}, not {margin!r}")
        self.game = game
        self.margin = margin
        # Actors that set their own temperature keep it when protocol.temperature is set free.
        self.own_temperature = (np.zeros(game.n_actors, dtype=bool) if own_temperature is None
                                else np.asarray(own_temperature, dtype=bool))
        self.decisions = decisions
        self.free = free
        self.central = central_values(game)
        self.actor = np.array([d.actor_index for d in decisions], dtype=np.int64)
        self.deals = np.array([d.deal for d in decisions], dtype=np.int64).reshape(len(decisions), -1)
        self.accepted = np.array([d.accepted for d in decisions], dtype=bool)
        self.weight = np.array([d.weight for d in decisions], dtype=float)
        self.rounds = np.array([max(game_round_of(game, d.date), 0.0) for d in decisions])
        crossed = game.crosses_red_line(self.deals)  # (N, A)
        self.red_line = crossed[np.arange(len(decisions)), self.actor] if len(decisions) else np.zeros(0, bool)

    @property
    def names(self) -> list[str]:
        """The free paths, in theta's column order."""
        return [f.path for f in self.free]

    def log_prior(self, theta: np.ndarray) -> np.ndarray:
        """(M,) log prior density of theta (M, K)."""
        theta = np.atleast_2d(theta)
        total = np.zeros(theta.shape[0])
        for k, f in enumerate(self.free):
            total = total + f.prior.log_density(theta[:, k])
        return total

    def preferences(self, theta: np.ndarray):
        """Preferences (a batch of M) with the free numbers at theta and the others at their centres."""
        from sim.domain.game import _assemble

        samples = np.repeat(self.central[None], theta.shape[0], axis=0)
        for k, f in enumerate(self.free):
            if f.kind == "number":
                samples[:, f.index] = theta[:, k]
        prefs = _assemble(self.game, samples, central_only=False)
        game = self.game
        if game.war is not None and game.derived_reservation is not None and game.derived_reservation.any():
            from sim.domain.war import reservation_split

            m = theta.shape[0]
            split = reservation_split(game, prefs, np.broadcast_to(game.war.drift, (m, game.war.drift.size)),
                                      np.broadcast_to(game.war.cost, (m, game.war.cost.size)))
            prefs.reservation = np.where(game.derived_reservation, split["reservation"], prefs.reservation)
        return prefs

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        """(M, N) each decision's probability of a yes under each theta."""
        from sim.domain.strategies import ConcessionState
        from sim.model.agents import acceptance_probability

        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        m, game = theta.shape[0], self.game
        if not len(self.decisions):
            return np.zeros((m, 0))
        prefs = self.preferences(theta)
        temperature = np.repeat(np.array(game.protocol["temperatures"], dtype=float)[None], m, axis=0)
        strategies = list(game.strategies)
        for k, f in enumerate(self.free):
            if f.kind == "temperature":
                if f.index < 0:  # the protocol's temperature, for actors without their own
                    temperature[:, ~self.own_temperature] = theta[:, k:k + 1]
                else:
                    temperature[:, f.index] = theta[:, k]
            elif f.kind == "exponent":
                strategies[f.index] = dataclasses.replace(strategies[f.index], exponent=theta[:, k])
        utility = game.utilities(prefs, self.deals)  # (M, N, A)
        out = np.empty((m, len(self.decisions)))
        for i, (a, t) in enumerate(zip(self.actor, self.rounds)):
            reservation = prefs.reservation[:, a]
            if self.margin == "reservation":
                out[:, i] = acceptance_probability(utility[:, i, a] - reservation, temperature[:, a])
                continue
            deadline = prefs.deadlines[:, a] if prefs.deadlines is not None else np.full(m, float(t) + 1.0)
            state = ConcessionState(int(round(t)), deadline, reservation, np.ones(m), np.zeros(m))
            aspiration = np.clip(np.maximum(strategies[a].aspiration(state), reservation), 0.0, 1.0)
            margin = utility[:, i, a] - aspiration
            out[:, i] = acceptance_probability(margin, temperature[:, a])
        out = np.where(self.red_line[None], RED_LINE_PROBABILITY, out)
        return np.clip(out, _EPS, 1.0 - _EPS)

    def log_likelihood(self, theta: np.ndarray) -> np.ndarray:
        """(M,) weighted log-likelihood of the recorded answers."""
        p = self.probabilities(theta)
        ll = np.where(self.accepted[None], np.log(p), np.log1p(-p))
        return ll @ self.weight

    def log_posterior(self, theta: np.ndarray) -> np.ndarray:
        """(M,) log prior + log-likelihood; -inf outside the prior's support."""
        theta = np.atleast_2d(theta)
        lp = self.log_prior(theta)
        out = np.full(theta.shape[0], -np.inf)
        ok = np.isfinite(lp)
        if ok.any():
            out[ok] = lp[ok] + self.log_likelihood(theta[ok])
        return out


def central_values(game) -> np.ndarray:
    """(n_params,) every uncertain number at its central value (what central_preferences uses)."""
    arrays = {"weight": game.base_weights, "value": game.base_values, "reservation": game.base_reservation,
              "delta": game.base_deltas, "deadline": game.base_deadlines}
    return np.array([float(arrays[p.target][p.loc]) for p in game.params])


def game_round_of(game, date) -> float:
    """The (fractional) round of a date in a calendar game; negative before as_of."""
    import datetime as dt

    start = dt.date.fromisoformat(game.as_of)
    return (date - start).days / game.round_days
