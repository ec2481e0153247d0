"""The territorial model is neutral (GitHub issue 15, item 5): any actors hold any region.

A region names its holders (two or more), options say who controls the land (an actor, the line,
a buffer carved from a named holder, an international administration), the front line moves
between named holders, and every column, label and message uses the scenario's own actors.
The shipped Ukraine scenarios keep their numbers: tests/test_golden.py proves it, and the
two-holder arithmetic below is checked against the single-share formulas it replaced.
"""

from __future__ import annotations

import json
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text
from numpy.testing import assert_allclose

from sim.domain.evaluate import evaluate_proposals
from sim.domain.game import compile_scenario
from sim.errors import ScenarioError
from sim.scenario import load_scenario
from sim.simulate import ChunkSpec, simulate_chunk
from tests.conftest import DATA, ROOT, TINY
from tests.conftest import negsim_in_process as negsim

matplotlib.use("Agg")

THREE_WAY = ROOT / "scenarios" / "examples" / "three_way_region.yaml"
CORRIDOR = ROOT / "scenarios" / "examples" / "corridor_villages.yaml"
#: What a scenario about other actors must never show: the actors of the shipped scenarios.
FOREIGN = re.compile(r"russia|ukrain", re.IGNORECASE)


def foreign_words(text: str) -> list[str]:
    """Every place `text` names Russia or Ukraine, with some context."""
    return [text[max(0, m.start() - 40):m.end() + 40] for m in FOREIGN.finditer(text)]


@pytest.fixture(scope="module")
def three_way():
    return compile_scenario(load_scenario(THREE_WAY).scenario)


# --- no output names an actor the scenario does not have ------------------------------------

@pytest.mark.parametrize("scenario", [THREE_WAY, CORRIDOR], ids=lambda p: p.stem)
def test_no_output_names_an_actor_the_scenario_does_not_have(scenario, tmp_path):
    from sim import plots

    assert not foreign_words(scenario.read_text())
    out = tmp_path / "results"
    said = []
    for args in (("validate", "--strict", scenario), ("explain", scenario), ("evaluate", scenario),
                 ("evaluate", "--json", scenario), ("analyze", scenario), ("analyze", "--json", scenario),
                 ("run", scenario, "--trace", "0"),
                 ("run", scenario, "--runs", "60", "--workers", "1", "--out", out, "--plot"),
                 ("plot", out), ("report", out)):
        proc = negsim(*args)
        assert proc.returncode == 0, (args, proc.stderr)
        said.append(proc.stdout + proc.stderr)
    assert not foreign_words("\n".join(said))
    trace = said[6]
    game = compile_scenario(load_scenario(scenario).scenario)
    terr = game.territory
    if terr.n_regions:  # the trace names who holds what, by the actors' own names
        names = dict(zip(game.actor_ids, game.actor_names))
        assert f"front: {terr.region_ids[0]}: {names[terr.holders(0)[0]]} " in trace

    runs, rounds = pd.read_parquet(out / "runs.parquet"), pd.read_parquet(out / "rounds.parquet")
    for table in (runs, rounds):
        assert not foreign_words(" ".join(table.columns))
        text = table[[c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]].astype(str)
        assert not foreign_words(" ".join(text.to_numpy().ravel()))
    assert [c for c in runs.columns if c.startswith("held_")] == [
        f"held_{r}_{h}" for t, r in enumerate(terr.region_ids) for h in terr.holders(t)]
    assert [c for c in runs.columns if c.startswith("gain_km2_")] == [f"gain_km2_{a}" for a in terr.landholders]
    for name in ("manifest.json", "analysis.json", "report.html"):
        assert not foreign_words((out / name).read_text()), name

    # The figures' text, from the objects handed to matplotlib.
    texts = []
    for name, make in plots.figure_plans(out):
        fig = make()
        texts += [t.get_text() for t in fig.findobj(Text)]
        fig.clear()
    assert texts and not foreign_words("\n".join(texts))
    if any(kind == "territory" for kind in (i.kind for i in load_scenario(scenario).scenario.issues.values())):
        names = {a: n for a, n in zip(game.actor_ids, game.actor_names)}
        assert any(names[h] in t for t in texts for h in terr.holders(0))  # the front's legend names the holders


def test_a_scenario_without_regions_says_nothing_about_land(tmp_path):
    nash = ROOT / "scenarios" / "examples" / "nash_pie.yaml"
    out = tmp_path / "results"
    for args in (("--trace", "0"), ("--runs", "20", "--workers", "1", "--out", out)):
        proc = negsim("run", nash, *args)
        assert proc.returncode == 0, proc.stderr
        assert "front" not in proc.stdout and "km²" not in proc.stdout
    assert "km²" not in negsim("evaluate", nash).stdout
    runs = pd.read_parquet(out / "runs.parquet")
    assert not [c for c in runs.columns if c.startswith(("held_", "gain_km2"))]
    record = json.loads(negsim("evaluate", "--json", nash).stdout)["proposals"][0]
    assert "gain_km2" not in record and "area_transferred_km2" not in record


# --- the three-way example: holders, control, buffers, international ------------------------

def test_three_way_region_accounting(three_way):
    terr = three_way.territory
    assert terr.parties == (("aldera", "brevia", "corvan"), ("brevia", "aldera"))
    assert_allclose(terr.held0, [[0.5, 0.3, 0.2], [0.6, 0.4, 0.0]])
    records = {r["id"]: r for r in evaluate_proposals(three_way)}
    # Each keeps what it holds: nothing changes hands.
    assert records["corvan_plan"]["area_transferred_km2"] == 0
    assert records["corvan_plan"]["gain_km2"] == {"aldera": 0, "brevia": 0, "corvan": 0}
    # A buffer carved from Brevia's 30% of 1,200 km²: Brevia loses it, no one else gains it.
    assert records["aldera_offer"]["area_transferred_km2"] == 360
    assert records["aldera_offer"]["gain_km2"] == {"aldera": 0, "brevia": -360, "corvan": 0}
    # An international administration takes the whole region from its three holders.
    assert records["commission_compromise"]["area_transferred_km2"] == 1200
    assert records["commission_compromise"]["gain_km2"] == {"aldera": -600, "brevia": -360, "corvan": -240}


def test_whole_region_to_one_holder_moves_the_others_land(three_way):
    space, terr = three_way.space, three_way.territory
    deal = np.array(space.defaults)
    deal[space.issue_index("highlands")] = space.option_ids[space.issue_index("highlands")].index("corvan")
    deal[space.issue_index("valley")] = space.option_ids[space.issue_index("valley")].index("alderan")
    acc = terr.accounting(deal[None])
    assert_allclose(acc["held_km2"][0, 0], [0, 0, 1200])
    assert_allclose(acc["held_km2"][0, 1, :2], [0, 300])
    assert_allclose(acc["transferred_km2"], [960 + 180])  # Aldera's and Brevia's highland parts, Brevia's valley part
    assert_allclose(acc["gain_km2"][0], [-600 + 180, -360 - 180, 960])  # landholders: aldera, brevia, corvan


def test_the_front_moves_only_between_the_named_holders(three_way):
    model_runs = simulate_chunk(three_way, ChunkSpec(3, 0, (0, 40)))
    rounds = model_runs["rounds"].to_pandas()
    # Brevia is neither the highlands' gainer nor its loser: its share never moves.
    assert_allclose(rounds["held_highlands_brevia"], 0.3)
    shares = rounds[["held_highlands_aldera", "held_highlands_brevia", "held_highlands_corvan"]].to_numpy()
    assert_allclose(shares.sum(axis=1), 1.0)
    assert (shares >= 0).all() and (rounds["held_highlands_aldera"] >= 0.5 - 0.05).all()
    assert_allclose(rounds["held_valley_brevia"] + rounds["held_valley_aldera"], 1.0)


@pytest.mark.parametrize("gainer, loser", [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)])
def test_shift_conserves_the_region_and_stops_when_the_loser_has_nothing(three_way, gainer, loser):
    terr = three_way.territory
    line = np.repeat(terr.held0[None], 3, axis=0)
    amounts = np.array([[0.05, 0.0], [-0.04, 0.0], [5.0, 0.0]])  # a step, a step back, more than there is
    g, lo = np.array([gainer, -1]), np.array([loser, -1])
    out = terr.shift(line, g, lo, amounts)
    s0 = terr.held0[0]
    assert_allclose(out.sum(axis=-1), 1.0)
    assert_allclose(out[:, 1], line[:, 1])  # the valley has no drift here
    other = 3 - gainer - loser
    assert_allclose(out[:, 0, other], s0[other])
    assert_allclose(out[0, 0, gainer], s0[gainer] + 0.05)
    assert_allclose(out[1, 0, gainer], s0[gainer] - 0.04)
    assert_allclose(out[2, 0, [gainer, loser]], [s0[gainer] + s0[loser], 0.0])


def test_line_tied_values_move_towards_whoever_gains(three_way):
    war, space = three_way.war, three_way.space
    prefs = three_way.central_preferences()
    i = space.issue_index("highlands")
    opts = space.option_ids[i]
    at = {o: space.offsets[i] + opts.index(o) for o in opts}
    terr = three_way.territory
    line = np.repeat(np.concatenate([terr.held0[None]]), 3, axis=0)
    line[1, 0] = [0.6, 0.3, 0.1]  # Aldera took a fifth of what it could still gain, from Corvan
    line[2, 0] = [0.5, 0.1, 0.4]  # Corvan took 0.2 from Brevia: a quarter of its 0.8 to gain
    moved = war.line_values(np.repeat(prefs.values, 3, axis=0), line)
    stated = prefs.values[0, :, at["frozen_line"]]
    assert_allclose(moved[0, :, at["frozen_line"]], stated)
    assert_allclose(moved[1, :, at["frozen_line"]], stated + 0.2 * (prefs.values[0, :, at["aldera"]] - stated))
    assert_allclose(moved[2, :, at["frozen_line"]], stated + 0.25 * (prefs.values[0, :, at["corvan"]] - stated))
    # A buffer follows the line too; options not tied to the line do not move.
    assert not np.allclose(moved[1, :, at["demilitarised"]], prefs.values[0, :, at["demilitarised"]])
    for o in ("aldera", "international"):
        assert_allclose(moved[:, :, at[o]], np.repeat(prefs.values[:, :, at[o]], 3, axis=0))


# --- two holders: exactly the single-share arithmetic of the shipped scenarios ----------------

def test_two_holders_are_bit_for_bit_the_single_share_formulas():
    game = compile_scenario(load_scenario(ROOT / "scenarios" / "alaska_2025.yaml").scenario)
    terr, war = game.territory, game.war
    rng = np.random.default_rng(4)
    s0 = terr.held0[:, 0]
    first = np.clip(s0 + rng.normal(0, 0.1, (50, terr.n_regions)), 0, 1)
    first[:5] = s0  # some runs on the as-of line exactly
    line = terr.settle(np.stack([first, np.zeros_like(first)], axis=-1))
    assert np.array_equal(line[..., 1], 1.0 - first)
    gain = rng.normal(0, 400, first.shape)
    moved = war.advance(line, gain)
    assert np.array_equal(moved[..., 0], np.where(war.gainer >= 0, np.clip(first + gain / terr.area_km2, 0, 1), first))
    # Line-tied values: up towards the first holder's whole-region option, down towards the other's.
    prefs = game.sample_preferences(rng.random((50, len(game.params))))
    got = war.line_values(prefs.values, line)
    region = war.line_region
    base, stated = prefs.values, prefs.values[:, :, war.line_options]
    s, s_0 = first[:, region], s0[region]
    to_first = base[:, :, war.whole_option[region, 0]]
    to_second = base[:, :, war.whole_option[region, 1]]
    up = np.clip((s - s_0) / np.where(s_0 < 1, 1 - s_0, 1.0), 0.0, 1.0)[:, None, :]
    down = np.clip((s_0 - s) / np.where(s_0 > 0, s_0, 1.0), 0.0, 1.0)[:, None, :]
    want = np.clip(stated + up * (to_first - stated) + down * (to_second - stated), 0.0, 1.0)
    assert np.array_equal(got[:, :, war.line_options], want)
    # km² changing hands: |change of the first holder's share| plus the buffer, per region.
    deals = np.minimum(rng.integers(0, 5, (50, game.space.n_issues)), game.space.n_options - 1)
    acc = terr.accounting(deals, line)
    alloc = terr.allocation(deals, line)
    held, buffer = alloc["held"][..., 0], alloc["buffer"]
    assert np.array_equal(acc["transferred_km2"], ((np.abs(held - s0) + buffer) * terr.area_km2).sum(axis=-1))
    assert np.array_equal(acc["gain_km2"][:, terr.landholders.index("russia")],
                          ((held - s0) * terr.area_km2).sum(axis=-1))


# --- validation ---------------------------------------------------------------------------

def _problems(text: str, tmp_path) -> list[str]:
    (tmp_path / "tiny_source.txt").write_text((DATA / "tiny_source.txt").read_text())
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("old, new, where, message", [
    ("    held: {beta: 0.6, alpha: 0.4}", "    held: {beta: 0.7, alpha: 0.4}", ":18: issues.north.held",
     "the shares held sum to 1.1, not 1"),
    ("    held: {beta: 0.6, alpha: 0.4}", "    held: {beta: 0.6, delta: 0.4}", ":18: issues.north.held.delta",
     "unknown actor 'delta'"),
    ("from: alpha,", "from: gamma,", ":31: issues.south.options.demilitarized.from", "'gamma' holds no part of south"),
    ("      ukraine: {control: alpha, meaning: returned to Alpha}\n      frozen_line",
     "      ukraine: {control: alpha, from: beta, meaning: returned to Alpha}\n      frozen_line",
     ":20: issues.north.options.ukraine.from", "only a buffer"),
])
def test_territory_errors_name_the_file_line_and_field(tmp_path, old, new, where, message):
    text = TINY.read_text()
    assert old in text
    problems = _problems(text.replace(old, new, 1), tmp_path)
    assert any(where in p and message in p for p in problems), problems


def test_drift_between_non_holders_is_refused(tmp_path):
    text = TINY.read_text() + ("dynamics:\n  front:\n"
                               "    north: {gainer: gamma, loser: gamma, drift_km2_per_month: 5}\n")
    problems = _problems(text, tmp_path)
    assert any(":95: dynamics.front.north.gainer: 'gamma' is not a holder of north" in p for p in problems), problems
    assert any("dynamics.front.north.loser" in p for p in problems), problems


def test_an_actor_may_not_be_called_like_a_control_keyword(tmp_path):
    text = TINY.read_text().replace("  gamma:\n", "  line:\n").replace("mediator: gamma", "mediator: line")
    problems = _problems(text, tmp_path)
    assert any("actors.line: 'line' is a word of the territorial model" in p for p in problems), problems


def test_an_option_may_give_the_land_to_an_actor_that_holds_none_of_it(tmp_path):
    text = TINY.read_text().replace("      ukraine: {control: alpha, meaning: returned to Alpha}\n      frozen_line",
                                    "      ukraine: {control: gamma, meaning: to Gamma}\n      frozen_line", 1)
    (tmp_path / "tiny_source.txt").write_text((DATA / "tiny_source.txt").read_text())
    (tmp_path / "s.yaml").write_text(text)
    game = compile_scenario(load_scenario(tmp_path / "s.yaml").scenario)
    terr = game.territory
    assert terr.parties[0] == ("beta", "alpha", "gamma") and terr.holders(0) == ("beta", "alpha")
    assert terr.landholders == ("alpha", "beta", "gamma")
    deal = np.array([game.space.defaults, game.space.defaults])  # north on the line, then to gamma
    deal[1, 0] = 0
    acc = terr.accounting(deal)
    assert_allclose(acc["gain_km2"][1] - acc["gain_km2"][0], [-400, -600, 1000])
    assert_allclose(acc["transferred_km2"][1] - acc["transferred_km2"][0], 1000)


def test_front_columns_never_share_a_name(tmp_path):
    # Region `north` held by `beta_x` and region `north_beta` held by `x` would both be held_north_beta_x.
    text = TINY.read_text().replace("  beta:\n", "  beta_x:\n").replace("{beta: ", "{beta_x: ")
    text = text.replace("control: beta,", "control: beta_x,").replace("  south:\n", "  north_beta:\n")
    text = text.replace("south: ", "north_beta: ")
    text = text.replace("    held: {beta_x: 0.2, alpha: 0.8}", "    held: {x: 0.2, alpha: 0.8}")
    problems = _problems(text, tmp_path)
    assert any("issues.north_beta.held.x: the results column held_north_beta_x" in p for p in problems), problems
