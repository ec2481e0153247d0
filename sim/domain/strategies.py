"""Concession strategies: how an actor's aspiration falls over the rounds.

Each strategy is a small class listed by name in sim.catalogue; the scenario says `strategy:
{kind: boulware, exponent: 0.3}`. All work on arrays over a batch of Monte Carlo runs, so one
call serves every run. To add one, subclass `Strategy`, implement `aspiration`, and add a line
to the catalogue (or decorate it with `@register`, which does that at import time). They are
pure functions of the concession state, so they belong to the domain, not to the Mesa model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.catalogue import STRATEGIES, register_strategy, strategy_class  # noqa: F401  (STRATEGIES: the names)


def register(cls: type[Strategy]) -> type[Strategy]:
    """Make a strategy class available to scenarios under its `name` (a run-time catalogue entry)."""
    register_strategy(cls.name, cls)
    return cls


@dataclass(frozen=True)
class ConcessionState:
    """What a strategy may look at when it sets this round's aspiration (arrays over runs)."""

    round: int
    deadline: np.ndarray | float  # per run, in rounds
    reservation: np.ndarray
    previous: np.ndarray
    others_concession: np.ndarray


@dataclass(frozen=True)
class Strategy:
    """Base class: aspiration starts at 1 (the actor's best deal) and never drops below the floor."""

    name = "base"
    exponent: float = 1.0
    floor: float | None = None

    def aspiration(self, state: ConcessionState) -> np.ndarray:
        """This round's aspiration for every run."""
        raise NotImplementedError

    def _floor(self, state: ConcessionState) -> np.ndarray:
        floor = state.reservation if self.floor is None else np.maximum(state.reservation, self.floor)
        return floor


@dataclass(frozen=True)
class TimeDependent(Strategy):
    """Time-dependent concession (Faratin, Sierra & Jennings 1998, Robotics and Autonomous Systems 24).

    a(t) = f + (1 - f) * (1 - (t / T) ** (1 / e)): e < 1 holds firm until late (Boulware),
    e = 1 concedes linearly, e > 1 concedes early (Conceder); f is the floor, T the deadline.
    """

    name = "linear"

    def aspiration(self, state: ConcessionState) -> np.ndarray:
        """Aspiration on the Faratin et al. time curve."""
        floor = self._floor(state)
        frac = c_power(np.minimum(state.round / np.maximum(state.deadline, 1.0), 1.0), 1.0 / self.exponent)
        return floor + (1.0 - floor) * (1.0 - frac)


def c_power(base: np.ndarray, exponent) -> np.ndarray:
    """base ** exponent elementwise, by the C library's pow (with numpy's exact fast paths for a scalar
    2, 0.5 or 1). numpy's own `**` runs SIMD code on CPUs with AVX-512 that can round 1-2 units in the
    last place away from pow; this gives the same bits on every CPU and in the compiled engine."""
    base = np.asarray(base, dtype=float)
    if np.ndim(exponent) == 0:
        exponent = float(exponent)
        if exponent == 2.0:
            return base * base
        if exponent == 0.5:
            return np.sqrt(base)
        if exponent == 1.0:
            return base.copy()
    base, exponent = np.broadcast_arrays(base, np.asarray(exponent, dtype=float))
    out = np.fromiter(map(_pow, base.ravel().tolist(), exponent.ravel().tolist()), dtype=float, count=base.size)
    return out.reshape(base.shape)


def _pow(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except ValueError:  # a negative base with a fractional exponent: numpy's nan
        return math.nan
    except OverflowError:
        return math.inf


@dataclass(frozen=True)
class Boulware(TimeDependent):
    """Boulware: time-dependent concession with a small exponent (default 0.2), conceding late."""

    name = "boulware"
    exponent: float = 0.2


@dataclass(frozen=True)
class Conceder(TimeDependent):
    """Conceder: time-dependent concession with a large exponent (default 5), conceding early."""

    name = "conceder"
    exponent: float = 5.0


@dataclass(frozen=True)
class Hardliner(Strategy):
    """Hardliner: asks for `floor` (default its best deal) every round and never concedes below it.

    The 'hard-headed' agent of the ANAC literature (Baarslag et al. 2013, Evaluating practical
    negotiating agents); with a floor it is a take-it-or-leave-it bargainer.
    """

    name = "hardliner"

    def aspiration(self, state: ConcessionState) -> np.ndarray:
        """Constant aspiration at the floor (or 1)."""
        level = 1.0 if self.floor is None else self.floor
        return np.maximum(state.reservation, np.full_like(state.reservation, level))


@dataclass(frozen=True)
class TitForTat(Strategy):
    """Relative tit-for-tat (Faratin et al. 1998, behaviour-dependent tactics; Axelrod 1984).

    Concedes as much utility as the others conceded to it last round (scaled by `exponent`),
    starting from 1, never below the floor.
    """

    name = "tit_for_tat"

    def aspiration(self, state: ConcessionState) -> np.ndarray:
        """Previous aspiration minus the others' last concession."""
        floor = self._floor(state)
        step = self.exponent * np.maximum(state.others_concession, 0.0)
        return np.maximum(floor, state.previous - step)


@dataclass(frozen=True)
class SubgamePerfect(Strategy):
    """Subgame-perfect play of the alternating-offers game (Rubinstein 1982), by backward induction.

    Only the `alternating` protocol knows the game tree, so it writes this actor's aspiration
    each round from the plan it solved at the start (see `subgame_perfect_plan`): as proposer,
    the equilibrium offer's worth to itself; as responder, what it gets by rejecting.
    Under any other protocol there is no tree to solve and the actor holds its aspiration
    (1 at the start: a hardliner).
    """

    name = "subgame_perfect"

    def aspiration(self, state: ConcessionState) -> np.ndarray:
        """Unchanged aspiration; the alternating protocol overwrites it from its plan."""
        return np.asarray(state.previous, dtype=float)


def make_strategy(kind: str, exponent: float | None = None, floor: float | None = None) -> Strategy:
    """Instantiate a catalogued strategy; an exponent of None keeps the class default."""
    cls = strategy_class(kind)
    kwargs = {"floor": floor}
    if exponent is not None:
        kwargs["exponent"] = exponent
    return cls(**kwargs)
