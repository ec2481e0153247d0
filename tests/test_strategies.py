"""Concession strategies: the shape of every registered aspiration curve, and adding a new one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.domain.strategies import STRATEGIES, ConcessionState, Strategy, make_strategy, register

RUNS = 5


def state(t: int, deadline: int = 20, reservation=0.3, previous=1.0, others=0.0) -> ConcessionState:
    """A ConcessionState for a batch of RUNS identical runs."""
    full = lambda x: np.broadcast_to(np.asarray(x, dtype=float), (RUNS,)).copy()  # noqa: E731
    return ConcessionState(t, deadline, full(reservation), full(previous), full(others))


def curve(strategy: Strategy, deadline: int, reservation: float, rounds: int | None = None) -> np.ndarray:
    """Aspiration in rounds 0..rounds-1, each round fed the previous one and no concession by others."""
    out, previous = [], np.ones(RUNS)
    for t in range(rounds or deadline + 5):
        a = strategy.aspiration(state(t, deadline, reservation, previous))
        out.append(a)
        previous = a
    return np.array(out)  # (rounds, RUNS)


def test_linear_hits_the_floor_exactly_at_the_deadline_and_is_linear():
    a = curve(make_strategy("linear"), deadline=20, reservation=0.3)[:, 0]
    assert a[0] == 1.0
    assert a[20] == pytest.approx(0.3, abs=1e-15)
    assert np.all(a[20:] == a[20])
    steps = np.diff(a[:21])
    assert np.allclose(steps, -(1 - 0.3) / 20, atol=1e-12)


def test_linear_respects_an_explicit_floor_above_the_reservation():
    a = curve(make_strategy("linear", floor=0.5), deadline=10, reservation=0.2)[:, 0]
    assert a[10] == pytest.approx(0.5) and a.min() == pytest.approx(0.5)


@settings(max_examples=60, deadline=None)
@given(deadline=st.integers(1, 80), reservation=st.floats(0, 0.95),
       boulware=st.floats(0.05, 0.99), conceder=st.floats(1.01, 20))
def test_boulware_above_linear_above_conceder(deadline, reservation, boulware, conceder):
    lin = curve(make_strategy("linear"), deadline, reservation)
    bw = curve(make_strategy("boulware", exponent=boulware), deadline, reservation)
    co = curve(make_strategy("conceder", exponent=conceder), deadline, reservation)
    assert np.all(bw >= lin - 1e-12) and np.all(lin >= co - 1e-12)
    for a in (lin, bw, co):
        assert np.all(np.diff(a, axis=0) <= 1e-12)  # never rises
        assert a[0] == pytest.approx(1.0)
        assert a[deadline] == pytest.approx(max(reservation, 0.0), abs=1e-12)


def test_default_exponents_make_boulware_and_conceder_differ_from_linear():
    lin = curve(make_strategy("linear"), 20, 0.0)[1:20, 0]
    assert np.all(curve(make_strategy("boulware"), 20, 0.0)[1:20, 0] > lin)
    assert np.all(curve(make_strategy("conceder"), 20, 0.0)[1:20, 0] < lin)


def test_hardliner_is_constant_at_its_floor():
    assert np.all(curve(make_strategy("hardliner"), 20, 0.3) == 1.0)
    assert np.all(curve(make_strategy("hardliner", floor=0.7), 20, 0.3) == 0.7)
    # never below what no deal is worth
    assert np.all(curve(make_strategy("hardliner", floor=0.2), 20, 0.4) == 0.4)


@settings(max_examples=80, deadline=None)
@given(previous=st.floats(0, 1), conceded=st.floats(-0.5, 0.5), reservation=st.floats(0, 1),
       floor=st.none() | st.floats(0, 1))
def test_tit_for_tat_concedes_what_the_others_conceded_never_below_the_floor(previous, conceded, reservation,
                                                                            floor):
    tft = make_strategy("tit_for_tat", floor=floor)
    a = tft.aspiration(state(3, 20, reservation, previous, conceded))
    lowest = reservation if floor is None else max(reservation, floor)
    expected = max(lowest, previous - max(conceded, 0.0))
    assert np.allclose(a, expected)
    assert np.all(a >= lowest)


def test_tit_for_tat_scales_the_others_concession_by_its_exponent():
    a = make_strategy("tit_for_tat", exponent=0.5).aspiration(state(3, 20, 0.0, 0.9, 0.2))
    assert np.allclose(a, 0.8)


@pytest.mark.parametrize("kind", sorted(STRATEGIES))
@settings(max_examples=25, deadline=None)
@given(deadline=st.integers(1, 60), reservation=st.floats(0, 1), floor=st.none() | st.floats(0, 1))
def test_every_registered_strategy_stays_in_range_and_never_rises(kind, deadline, reservation, floor):
    # Left to itself (the others concede nothing), every strategy starts at or below 1 and only falls.
    strategy = make_strategy(kind, floor=floor)
    a = curve(strategy, deadline, reservation)
    lowest = reservation if floor is None else max(reservation, floor)
    assert np.all(a <= 1.0 + 1e-12)
    assert np.all(a >= min(lowest, 1.0) - 1e-12)
    assert np.all(np.diff(a, axis=0) <= 1e-12)


def test_a_new_strategy_is_a_few_lines(monkeypatch):
    monkeypatch.setitem(STRATEGIES, "stepwise", None)  # restored (removed) after the test

    @register
    @dataclass(frozen=True)
    class Stepwise(Strategy):
        """Drops by a tenth every `exponent` rounds."""

        name = "stepwise"
        exponent: float = 2.0

        def aspiration(self, state: ConcessionState) -> np.ndarray:
            return np.maximum(self._floor(state), 1.0 - 0.1 * (state.round // self.exponent))

    s = make_strategy("stepwise", exponent=3.0, floor=0.6)
    assert isinstance(s, Stepwise) and s.exponent == 3.0
    a = curve(s, 20, 0.0, rounds=15)[:, 0]
    assert a[0] == 1.0 and a[3] == pytest.approx(0.9) and a[14] == pytest.approx(0.6)


def test_subgame_perfect_holds_its_aspiration_outside_the_alternating_protocol():
    a = curve(make_strategy("subgame_perfect"), 20, 0.3)
    assert np.all(a == 1.0)
