"""The catalogue of protocols and strategies: every entry conforms, and a new one is one class
plus one line (here registered by a test fixture), usable from a scenario and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from sim import catalogue
from sim.domain.game import compile_scenario
from sim.domain.strategies import ConcessionState, Strategy, make_strategy
from sim.model.model import OUTCOME_NAMES, NegotiationModel, RunDraws
from sim.model.protocols import Protocol, ideal_deal, make_protocol
from sim.scenario import load_scenario
from tests.conftest import TINY

NASH = Path(__file__).resolve().parent.parent / "scenarios" / "examples" / "nash_pie.yaml"


def _run(game, runs: int = 40, seed: int = 3) -> NegotiationModel:
    draws = RunDraws.draw(game, seed, np.arange(runs), game.protocol["max_rounds"])
    model = NegotiationModel(game, game.sample_preferences(draws.params), draws, collect_rounds=False, rng=seed)
    model.run()
    return model


@pytest.mark.parametrize("name", catalogue.protocol_names())
def test_every_catalogued_protocol_conforms(name):
    cls = catalogue.protocol_class(name)
    assert issubclass(cls, Protocol) and cls.name == name
    loaded = load_scenario(TINY, overrides={"protocol.kind": name})
    game = compile_scenario(loaded.scenario)
    assert isinstance(make_protocol(name, game), cls)
    first, again = _run(game), _run(game)
    assert np.array_equal(first.status, again.status) and np.array_equal(first.text, again.text)
    assert set(np.unique(first.status).tolist()) <= set(OUTCOME_NAMES)  # every run ended, with a named outcome
    assert np.all((first.text >= 0) & (first.text < np.array(game.space.n_options)))


@pytest.mark.parametrize("name", catalogue.strategy_names())
def test_every_catalogued_strategy_conforms(name):
    cls = catalogue.strategy_class(name)
    assert issubclass(cls, Strategy) and cls.name == name
    strategy = make_strategy(name, floor=0.2)
    state = ConcessionState(3, np.full(5, 10.0), np.full(5, 0.3), np.ones(5), np.zeros(5))
    a = strategy.aspiration(state)
    assert a.shape == (5,) and np.all((a >= 0.2 - 1e-12) & (a <= 1.0))


class FirstOffer(Protocol):
    """A test protocol: the mediator tables its own best deal once; everyone answers every round."""

    name = "first_offer"

    def start(self, model) -> None:
        game = self.game
        m = game.mediator if game.mediator is not None else 0
        model.text[:] = ideal_deal(game, model.prefs.weights[:, m], model.prefs.values[:, m])
        model.tabled = model.text.copy()

    def round(self, model) -> None:
        self.answer(model)


@dataclass(frozen=True)
class Stubborn(Strategy):
    """A test strategy: asks for everything until half-time, then for its floor."""

    name = "stubborn"

    def aspiration(self, state: ConcessionState) -> np.ndarray:
        floor = self._floor(state)
        return np.where(state.round < np.asarray(state.deadline) / 2, 1.0, floor)


@pytest.fixture
def plugins(monkeypatch):
    """Register the test protocol and strategy for one test (one line each), then forget them."""
    monkeypatch.setattr(catalogue, "PROTOCOLS", dict(catalogue.PROTOCOLS))
    monkeypatch.setattr(catalogue, "STRATEGIES", dict(catalogue.STRATEGIES))
    catalogue.register_protocol("first_offer", FirstOffer)
    catalogue.register_strategy("stubborn", Stubborn)


def test_a_new_protocol_and_strategy_need_no_other_edit(plugins, tmp_path, capsys):
    from sim.cli import main

    text = TINY.read_text().replace("strategy: {kind: linear}", "strategy: {kind: stubborn}")
    scenario = tmp_path / "plugin.yaml"
    scenario.write_text(text.replace("  kind: mediated", "  kind: first_offer"))
    (tmp_path / "tiny_source.txt").write_bytes((TINY.parent / "tiny_source.txt").read_bytes())
    assert main(["validate", str(scenario)]) == 0
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--runs", "20", "--out", str(out), "--workers", "1"]) == 0
    assert pq.read_table(out / "runs.parquet").num_rows == 20
    # and the CLI offers it as --protocol for any scenario
    assert main(["run", str(TINY), "--protocol", "first_offer", "--runs", "5", "--out", str(tmp_path / "o2"),
                 "--workers", "1"]) == 0
    capsys.readouterr()


def test_an_unknown_name_lists_the_catalogue(tmp_path, capsys):
    from sim.cli import main

    scenario = tmp_path / "bad.yaml"
    scenario.write_text(TINY.read_text().replace("  kind: mediated", "  kind: auction"))
    (tmp_path / "tiny_source.txt").write_bytes((TINY.parent / "tiny_source.txt").read_bytes())
    assert main(["validate", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert "unknown protocol 'auction'" in err and all(name in err for name in catalogue.protocol_names())


def test_nash_pie_still_agrees_near_the_nash_split_through_the_catalogue():
    game = compile_scenario(load_scenario(NASH).scenario)
    assert game.protocol["kind"] == "mediated"
    model = _run(game, runs=20)
    assert (model.status == 1).mean() == 1.0
