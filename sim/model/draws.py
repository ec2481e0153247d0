"""Every run's randomness: its own streams, keyed by (seed, run) and never by the batch or the point.

Run k of seed s draws from `Generator(PCG64(SeedSequence(s, spawn_key=(k, stream))))`, one per
stream, so that a longer horizon or a new kind of draw never shifts another stream (common
random numbers across sweep points). The compiled engine draws the same numbers from the same
streams without building numpy's generator objects (sim.model.kernel.rng).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.domain.game import Game

# Streams of every run's own randomness, one generator each.
ACCEPT_STREAM, FRONT_STREAM, TALKS_STREAM = 1, 2, 3


@dataclass
class RunDraws:
    """Everything random about a batch of runs, drawn per run from that run's own streams."""

    params: np.ndarray  # (R, K) uniforms for the uncertain scenario numbers
    accept: np.ndarray  # (R, A) uniforms: each actor's hidden flexibility in each run (see respond)
    war: np.ndarray | None = None  # (R, K_war) uniforms for uncertain drift and costs
    front: RoundDraws | None = None  # per round (R, T) standard normals for front-line noise
    talks: RoundDraws | None = None  # per round (R, 2) uniforms: does a paused run resume, and when
    events: np.ndarray | None = None  # (R, E) uniforms for events that happen by chance (breakdowns)
    seed: int | None = None  # the master seed and run ids the streams are keyed by
    run_ids: np.ndarray | None = None
    states: np.ndarray | None = None  # (2, R, 4) PCG64 states of the front and talks streams (compiled draws)

    @classmethod
    def draw(cls, game: Game, seed: int, run_ids: np.ndarray, max_rounds: int,
             param_seeds: dict[str, int] | None = None, param_ids: np.ndarray | None = None,
             engine: str | None = None) -> RunDraws:
        """Draw every run's randomness, keyed by (seed, run) and never by the batch or the point.

        An uncertain number's uniform is keyed by its scenario path as well, so it is the same
        whatever other numbers are uncertain; `param_seeds` gives some paths a seed of their own
        (a Sobol design swaps groups of inputs between two matrices this way), and `param_ids`
        keys the uncertain numbers by other ids than the runs (runs sharing an id share them).
        The per-round draws are made as the rounds are played; with the compiled engine
        (`engine`, see sim.model.kernel.resolve_engine) the streams are seeded in the kernel.
        """
        from sim.model.kernel import resolve_engine

        run_ids = np.asarray(run_ids, dtype=np.int64)
        keys = run_ids if param_ids is None else np.asarray(param_ids, dtype=np.int64)
        params = keyed_uniforms(seed, keys, [p.path for p in game.params], param_seeds)
        war = None
        if game.war is not None:
            war = keyed_uniforms(seed, keys, [p.path for p in game.war.params], param_seeds)
        n_events = len(game.war.events) if game.war is not None else 0
        if resolve_engine(engine) == "compiled" and int(seed) >= 0 and (run_ids >= 0).all():
            from sim.model.kernel.rng import draw_runs, seed_words

            accept = np.empty((len(run_ids), game.n_actors))
            events = np.empty((len(run_ids), n_events))
            states = np.empty((2, len(run_ids), 4), dtype=np.uint64)
            draw_runs(seed_words(seed), run_ids, game.n_actors, n_events, max_rounds, ACCEPT_STREAM, FRONT_STREAM,
                      TALKS_STREAM, accept, events, states[0], states[1])
        else:
            accept, events, states = _numpy_draws(game, seed, run_ids, max_rounds, n_events)
        talks = RoundDraws(_streams(seed, run_ids, TALKS_STREAM), 2, max_rounds, normal=False)
        front = None
        if game.war is not None:
            front = RoundDraws(_streams(seed, run_ids, FRONT_STREAM), game.territory.n_regions, max_rounds, normal=True)
        return cls(params, accept, war, front, talks, events if game.war is not None else None, int(seed), run_ids,
                   states)


def _numpy_draws(game: Game, seed: int, run_ids: np.ndarray, max_rounds: int, n_events: int):
    accept = np.empty((len(run_ids), game.n_actors))
    events = np.empty((len(run_ids), n_events))
    for r, run in enumerate(run_ids):
        accept[r] = _stream(seed, run, ACCEPT_STREAM).random(game.n_actors)
        if game.war is not None:
            # The events' uniforms follow every round's two in the talks stream: jump there.
            after = _stream(seed, run, TALKS_STREAM)
            after.bit_generator.advance(2 * max_rounds)
            events[r] = after.random(n_events)
    return accept, events, None


def _streams(seed: int, run_ids: np.ndarray, stream: int) -> Callable[[], list[np.random.Generator]]:
    return lambda: [_stream(seed, run, stream) for run in run_ids]


class RoundDraws:
    """Each run's per-round draws, made a block of rounds at a time from the run's own stream.

    The values are those of one draw of (max_rounds, width) per run, but only a block is held at
    a time, so memory does not grow with the number of rounds; rounds are read in order. The
    streams are opened when a round is first read (`streams` may be a list or a function making one).
    """

    BLOCK = 64

    def __init__(self, streams: list[np.random.Generator] | Callable[[], list[np.random.Generator]], width: int,
                 max_rounds: int, normal: bool):
        self._streams, self.width, self.max_rounds, self.normal = streams, width, max_rounds, normal
        self.start = 0
        self._block: np.ndarray | None = None

    @property
    def streams(self) -> list[np.random.Generator]:
        """Each run's generator of this kind of draw."""
        if callable(self._streams):
            self._streams = self._streams()
        return self._streams

    @property
    def block(self) -> np.ndarray:
        """(R, n, width): the block of rounds held now."""
        if self._block is None:
            self._block = self._draw(min(self.BLOCK, self.max_rounds))
        return self._block

    def _draw(self, n: int) -> np.ndarray:
        out = np.empty((len(self.streams), n, self.width))
        for r, g in enumerate(self.streams):
            out[r] = g.standard_normal((n, self.width)) if self.normal else g.random((n, self.width))
        return out

    def at(self, k: int) -> np.ndarray:
        """(R, width): every run's draws for round k."""
        if k < self.start or k >= self.max_rounds:
            raise IndexError(f"round {k} was already passed or is beyond the last ({self.max_rounds - 1})")
        while k >= self.start + self.block.shape[1]:
            self.start += self.block.shape[1]
            self._block = self._draw(min(self.BLOCK, self.max_rounds - self.start))
        return self.block[:, k - self.start]


def _stream(seed: int, run: int, stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(int(run), stream))))


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (Steele, Lea & Flood 2014): a bijective 64-bit mix, vectorised."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def keyed_uniforms(seed: int, run_ids: np.ndarray, keys: list[str],
                   key_seeds: dict[str, int] | None = None) -> np.ndarray:
    """(R, K) uniforms in [0, 1), one per (run, key), each a pure function of (seed, run, key)."""
    runs = np.asarray(run_ids, dtype=np.int64).astype(np.uint64)
    seeds = [(key_seeds or {}).get(key, seed) for key in keys]
    roots = {s: np.random.SeedSequence(s).generate_state(1, np.uint64)[0] for s in set(seeds)}
    names = np.array([zlib.crc32(key.encode()) for key in keys], dtype=np.uint64)
    base = _splitmix64(np.array([roots[s] for s in seeds], dtype=np.uint64).reshape(len(keys)) ^ names)
    # Every (run, key) at once: the same integer arithmetic, element by element, as one key at a time.
    with np.errstate(over="ignore"):
        mixed = _splitmix64(_splitmix64(base[None, :] + (runs * np.uint64(0xD1B54A32D192ED03))[:, None]))
    return (mixed >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
