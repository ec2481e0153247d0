"""Every shipped scenario validates, compiles and runs a few rounds."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sim.domain.evaluate import evaluate_proposals
from sim.domain.game import compile_scenario
from sim.scenario import load_scenario
from sim.simulate import ChunkSpec, simulate_chunk
from tests.conftest import shipped_scenarios

SCENARIOS = shipped_scenarios()


def test_there_are_shipped_scenarios():
    names = {p.name for p in SCENARIOS}
    assert "alaska_2025.yaml" in names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_validates_and_runs(path):
    loaded = load_scenario(path)
    game = compile_scenario(loaded.scenario)
    assert evaluate_proposals(game) is not None
    out = simulate_chunk(game, ChunkSpec(0, 0, (0, 8)), max_rounds=4)
    runs = out["runs"].to_pandas()
    assert len(runs) == 8
    assert runs["round"].between(0, 3).all()
    for aid in game.actor_ids:
        assert runs[f"utility_{aid}"].between(0, 1).all()


def test_alaska_scenario_facts():
    loaded = load_scenario(next(p for p in SCENARIOS if p.name == "alaska_2025.yaml"))
    sc = loaded.scenario
    game = compile_scenario(sc)
    assert {"united_states", "russia", "ukraine", "europe"} <= set(sc.actors)
    assert {"crimea", "luhansk", "donetsk", "zaporizhzhia", "kherson"} <= set(game.territory.region_ids)
    assert sum(1 for i in sc.issues.values() if i.kind == "policy") >= 6
    assert len(sc.proposals) >= 5
    assert game.space.size > 10**6
    area = dict(zip(game.territory.region_ids, game.territory.area_km2))
    assert area["donetsk"] == pytest.approx(26517)
    assert all(game.territory.holders(t) == ("russia", "ukraine") for t in range(game.territory.n_regions))
    russia = game.territory.held0[:, 0]
    assert np.all((russia > 0.5) & (russia <= 1))
    assert_allclose(game.territory.held0.sum(axis=1), 1.0)
    for actor in sc.actors.values():
        for table in actor.values.values():
            assert table.source in sc.sources and table.quote
