"""The compiled engine (sim.model.kernel) against the numpy engine and the golden fixtures.

Every shipped scenario under every protocol it allows gives the same runs tables with the
compiled kernels, with the numpy engine and in tests/golden/runs.json (per-column hashes, floats
to 9 decimals), and the same rounds tables on both engines; the kernels' random streams are
numpy's own, draw for draw; strategies and rules the shipped scenarios do not use, threads, and a
machine without numba are covered too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.model.kernel
from sim.errors import UserError
from sim.jobs import scenario_with_sets
from sim.model.kernel import ENGINE_ENV, numba_available, resolve_engine
from sim.model.model import NegotiationModel, RunDraws, _stream
from sim.simulate import ChunkSpec, rounds_table, runs_table, simulate_chunk
from tests.test_golden import CASES, GOLDEN, ROOT, RUNS, SEED, fingerprint

_numba_missing = pytest.mark.skipif(not numba_available(), reason="numba (the `fast` extra) is not installed")


def needs_numba(test):
    """A test of the compiled kernels: in the default suite where they are built (`./dev.sh test` builds them
    first), else marked slow, since it would first compile them (minutes)."""
    test = _numba_missing(test)
    return test if sim.model.kernel.kernels_built() else pytest.mark.slow(test)


#: Protocols with a kernel; the others run on the numpy engine under either setting.
COMPILED = ("mediated", "alternating")


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())


def _game(case: str, *sets: str):
    scenario, protocol = case.rsplit("/", 1)
    try:
        return scenario_with_sets(str(ROOT / "scenarios" / scenario), (f"protocol.kind={protocol}", *sets))[1]
    except UserError:
        return None


def simulate(game, engine: str, runs: int = RUNS, rounds: bool = False, start: int = 0, seed: int = SEED):
    """What simulate_chunk does, keeping the model: (model, {'runs': Table, 'rounds': Table})."""
    spec = ChunkSpec(seed, 0, (start, start + runs), rounds)
    max_rounds = game.protocol["max_rounds"]
    draws = RunDraws.draw(game, seed, spec.run_ids, max_rounds, engine=engine)
    model = NegotiationModel(game, game.sample_preferences(draws.params), draws, max_rounds=max_rounds,
                             collect_rounds=rounds, rng=seed, engine=engine)
    model.run()
    tables = {"runs": runs_table(game, model, spec, draws)}
    if rounds:
        tables["rounds"] = rounds_table(game, model, spec)
    return model, tables


def _same(a, b) -> list[str]:
    """The columns whose values differ, to the last bit (the golden fingerprint rounds floats)."""
    assert a.num_rows == b.num_rows and a.column_names == b.column_names
    differ = []
    for name in a.column_names:
        x, y = (t[name].to_numpy(zero_copy_only=False) for t in (a, b))
        if x.dtype == object:
            x, y = np.array(x.tolist()), np.array(y.tolist())
        if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            differ.append(name)
    return differ


@needs_numba
@pytest.mark.parametrize("case", CASES)
def test_compiled_and_numpy_engines_give_the_golden_runs(golden, case):
    game = _game(case)
    if game is None:
        assert golden[case] is None
        return
    for engine in ("compiled", "numpy"):
        model, tables = simulate(game, engine)
        # the kernels really played the rounds where they cover the protocol (no silent fallback)
        assert (model.kernel_records is not None) == (engine == "compiled" and game.protocol["kind"] in COMPILED)
        now = fingerprint(tables["runs"])
        changed = [name for name, col in now["columns"].items() if golden[case]["columns"].get(name) != col]
        assert now["rows"] == golden[case]["rows"] and not changed, f"{case} on {engine}: {changed}"


@needs_numba
@pytest.mark.parametrize("case", [c for c in CASES if c.rsplit("/", 1)[1] in COMPILED])
def test_both_engines_record_the_same_rounds(case):
    game = _game(case)
    if game is None:
        return
    compiled, numpy_ = (simulate(game, engine, runs=40, rounds=True)[1] for engine in ("compiled", "numpy"))
    assert not _same(compiled["rounds"], numpy_["rounds"]) and not _same(compiled["runs"], numpy_["runs"])
    assert compiled["rounds"].schema.equals(numpy_["rounds"].schema)


@needs_numba
@pytest.mark.parametrize("protocol", COMPILED)
def test_the_round_records_buffer_grows_without_losing_a_row(monkeypatch, protocol):
    from sim.model.kernel import engine as kernel_engine

    game = _game(f"alaska_2025.yaml/{protocol}")
    expected = simulate(game, "numpy", runs=30, rounds=True)[1]["rounds"]
    # Two rounds per kernel call: the buffer, sized for the first call, doubles again and again.
    monkeypatch.setattr(kernel_engine, "SEGMENT", 2)
    grown = []
    monkeypatch.setattr(kernel_engine, "_grown", lambda *a, _grow=kernel_engine._grown: grown.append(1) or _grow(*a))
    model, tables = simulate(game, "compiled", runs=30, rounds=True)
    assert len(grown) >= 3 and len(model.kernel_records["run"]) * game.n_actors == tables["rounds"].num_rows
    assert not _same(tables["rounds"], expected)

@needs_numba
@pytest.mark.parametrize("protocol", COMPILED)
def test_runs_played_block_by_block_give_the_numpy_engines_tables_and_rounds(monkeypatch, protocol):
    from sim.model.kernel import engine as kernel_engine
    from sim.model.kernel.rounds import PLAY_BLOCK

    game = _game(f"alaska_2025.yaml/{protocol}")
    runs = 2 * PLAY_BLOCK + 7  # two whole blocks and a short one
    numpy_model, expected = simulate(game, "numpy", runs=runs, rounds=True)
    monkeypatch.setattr(kernel_engine, "SEGMENT", 3)  # several kernel calls, each block by block
    model, tables = simulate(game, "compiled", runs=runs, rounds=True)
    for table in ("runs", "rounds"):
        assert not _same(tables[table], expected[table]), table
    assert model.steps == numpy_model.steps
    by_engine = [m.round_records() for m in (model, numpy_model)]
    assert [r["round"] for r in by_engine[0]] == [r["round"] for r in by_engine[1]]
    for ours, theirs in zip(*by_engine):
        assert np.array_equal(ours["runs"], theirs["runs"]) and np.array_equal(ours["text"], theirs["text"])


@needs_numba
@pytest.mark.parametrize("protocol", COMPILED)
@pytest.mark.parametrize("sets", [
    ("actors.russia.strategy.kind=tit_for_tat", "actors.ukraine.strategy.kind=hardliner"),
    ("actors.russia.strategy.kind=hardliner", "actors.russia.strategy.floor=0.4", "actors.united_states.strategy.kind=conceder"),
    ("actors.ukraine.strategy.kind=subgame_perfect", "protocol.noisy_rationality=true"),
    ("protocol.temperature=0", "protocol.talks.resume_probability=0.5"),
])
def test_strategies_and_rules_the_shipped_scenarios_leave_out(protocol, sets):
    game = _game(f"alaska_2025.yaml/{protocol}", *sets)
    assert game is not None, sets
    runs = 24 if "subgame_perfect" in " ".join(sets) else 60
    compiled, numpy_ = (simulate(game, engine, runs=runs, rounds=True) for engine in ("compiled", "numpy"))
    assert compiled[0].kernel_records is not None
    for table in ("runs", "rounds"):
        assert not _same(compiled[1][table], numpy_[1][table]), (sets, table)


@needs_numba
def test_a_breakdown_event_ends_the_same_runs(alaska_with_breakdown):
    path = alaska_with_breakdown
    _, game = scenario_with_sets(str(path), ())
    compiled, numpy_ = (simulate(game, engine, runs=80, rounds=True)[1] for engine in ("compiled", "numpy"))
    assert "breakdown" in set(compiled["runs"].column("outcome").to_pylist())
    assert not _same(compiled["runs"], numpy_["runs"]) and not _same(compiled["rounds"], numpy_["rounds"])


@needs_numba
def test_the_kernels_draw_numpys_own_random_numbers():
    import numba

    from sim.model.kernel import rng

    @numba.njit
    def draws(state, n, normal):
        out = np.empty(n)
        for i in range(n):
            out[i] = rng.next_normal(state) if normal else rng.next_double(state)
        return out

    state = np.empty(4, dtype=np.uint64)
    for seed in (0, 7, 2**32 - 1, 2**32, 2**63 - 1, 12345678901234567890):
        for run in (0, 1, 2**31, 2**32 + 3, 10**12):
            for stream in (1, 2, 3):
                rng.pcg_seed(rng.seed_words(seed), run, stream, state)
                assert np.array_equal(draws(state.copy(), 64, False), _stream(seed, run, stream).random(64))
                assert np.array_equal(draws(state.copy(), 256, True), _stream(seed, run, stream).standard_normal(256))
                jumped, g = state.copy(), _stream(seed, run, stream)
                rng.advance(jumped, 98765)
                g.bit_generator.advance(98765)
                assert np.array_equal(draws(jumped, 4, False), g.random(4))
    # enough normals to take the ziggurat's rare branches (the tail and the wedges) many times
    rng.pcg_seed(rng.seed_words(99), 3, 2, state)
    assert np.array_equal(draws(state, 300_000, True), _stream(99, 3, 2).standard_normal(300_000))


@needs_numba
@pytest.mark.parametrize("protocol", COMPILED)
def test_a_run_alone_is_the_run_in_a_batch(protocol):
    game = _game(f"alaska_2025.yaml/{protocol}")
    batch = simulate(game, "compiled", runs=30, start=100, rounds=True)[1]
    for k in (0, 13, 29):
        alone = simulate(game, "compiled", runs=1, start=100 + k, rounds=True)[1]
        assert batch["runs"].slice(k, 1).to_pylist() == alone["runs"].to_pylist()
        rows = batch["rounds"].to_pandas()
        assert rows[rows["run"] == 100 + k].reset_index(drop=True).equals(alone["rounds"].to_pandas())


@needs_numba
def test_threads_run_kernels_side_by_side():
    game = _game("alaska_2025.yaml/mediated")
    specs = [ChunkSpec(3, 0, (start, start + 50), False) for start in range(0, 200, 50)]
    alone = [simulate_chunk(game, spec, engine="compiled")["runs"] for spec in specs]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda spec: simulate_chunk(game, spec, engine="compiled")["runs"], specs))
    assert all(a.equals(b) for a, b in zip(alone, together))


@needs_numba
@needs_numba
@pytest.mark.parametrize("case, sets", [
    ("examples/rubinstein_unequal.yaml/alternating", ()),
    ("alaska_2025.yaml/alternating", ("actors.russia.strategy.kind=subgame_perfect",
                                      "actors.ukraine.strategy.kind=subgame_perfect")),
])
def test_the_compiled_engine_solves_the_subgame_perfect_plan_in_a_kernel_to_the_same_bits(case, sets, monkeypatch):
    import sim.model.kernel.plan

    game = _game(case, *sets)
    calls = {"n": 0}
    real = sim.model.kernel.plan.plan_offers

    def counted(*args):
        calls["n"] += 1
        return real(*args)

    monkeypatch.setattr(sim.model.kernel.plan, "plan_offers", counted)
    compiled_model, compiled_tables = simulate(game, "compiled", runs=40)
    assert calls["n"] == game.protocol["max_rounds"]  # one kernel call a round of the horizon
    numpy_model, numpy_tables = simulate(game, "numpy", runs=40)
    assert calls["n"] == game.protocol["max_rounds"]  # the numpy engine searched in numpy
    ours, theirs = compiled_model.protocol.plan, numpy_model.protocol.plan
    for field in ("aspiration", "deal", "agree"):
        assert np.array_equal(getattr(ours, field), getattr(theirs, field)), field
    assert _same(compiled_tables["runs"], numpy_tables["runs"]) == []


def test_a_swapped_rule_sends_the_model_to_the_numpy_engine(monkeypatch):
    from sim.model.agents import Actor

    game = _game("alaska_2025.yaml/mediated")
    monkeypatch.setattr(Actor, "acceptance_chance", lambda self, utility: np.zeros(len(utility)))
    model, tables = simulate(game, "compiled", runs=20)
    assert model.kernel_records is None  # the kernels do not know the swapped rule, so they did not run
    assert set(tables["runs"].column("outcome").to_pylist()) <= {"open", "suspended"}  # nobody ever accepts


def test_the_engine_comes_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.setenv(ENGINE_ENV, "numpy")
    assert resolve_engine() == "numpy"
    assert resolve_engine("numpy") == "numpy"
    monkeypatch.delenv(ENGINE_ENV)
    # Unasked, the compiled engine plays once its kernels are built (never compiling mid-run), else numpy.
    monkeypatch.setattr(sim.model.kernel, "kernels_built", lambda: False)
    assert resolve_engine() == "numpy"
    monkeypatch.setattr(sim.model.kernel, "kernels_built", lambda: True)
    assert resolve_engine() == "compiled"
    if numba_available():
        assert resolve_engine("compiled") == "compiled"
    with pytest.raises(UserError, match="unknown engine"):
        resolve_engine("fortran")


def test_the_built_mark_is_per_checkout_and_per_file_time(tmp_path, monkeypatch):
    """numba keys its cache on each source file's path and time: a second clone, or a branch switch that
    touched the files, has nothing compiled, so the mark must not say built (a run would compile)."""
    from sim.model.kernel import checkout_stamp

    sources = Path(sim.model.kernel.__file__).parent
    one, two = tmp_path / "one", tmp_path / "two"
    for clone in (one, two):
        shutil.copytree(sources, clone, ignore=shutil.ignore_patterns("__pycache__"))
    assert checkout_stamp(one) == checkout_stamp(one)
    assert checkout_stamp(one) != checkout_stamp(two)  # same files, another path
    before = checkout_stamp(one)
    stat = (one / "rng.py").stat()
    os.utime(one / "rng.py", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert checkout_stamp(one) != before  # same contents, another time

    monkeypatch.setattr(sim.model.kernel, "kernel_cache_folder", lambda: tmp_path)
    assert not sim.model.kernel.kernels_built()
    sim.model.kernel.built_mark().write_text("built\n")
    assert sim.model.kernel.kernels_built()
    monkeypatch.setattr(sim.model.kernel, "checkout_stamp", lambda sources=None: "another")
    assert not sim.model.kernel.kernels_built()


def test_without_numba_everything_runs_on_numpy(golden):
    # A fresh interpreter in which `import numba` fails, as where the `fast` extra is not installed.
    code = f"""
import sys, json
sys.modules["numba"] = None
sys.path.insert(0, {str(ROOT)!r})
from sim.errors import UserError
from sim.model.kernel import resolve_engine, numba_available
from tests.test_golden import compute
assert not numba_available() and resolve_engine() == "numpy"
try:
    resolve_engine("compiled")
    raise SystemExit("the compiled engine was granted without numba")
except UserError:
    pass
print(json.dumps({{case: compute(ROOT / "scenarios" / case.rsplit("/", 1)[0], case.rsplit("/", 1)[1])
                  for case in ("examples/nash_pie.yaml/mediated", "examples/three_way_region.yaml/alternating")}}))
""".replace("ROOT /", f"__import__('pathlib').Path({str(ROOT)!r}) /")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    for case, fingerprint_ in json.loads(out.stdout.strip().splitlines()[-1]).items():
        assert fingerprint_ == golden[case], case


def test_building_the_kernels_prunes_all_but_the_newest_other_versions(tmp_path):
    import os

    from sim.jobs.kernels import prune_other_versions

    root = tmp_path / "kernels"
    current = root / "0123456789abcdef"
    current.mkdir(parents=True)
    others = [root / f"{k:016x}" for k in range(1, 6)]
    for age, folder in enumerate(others):  # others[0] the newest
        folder.mkdir()
        (folder / "kernel.nbc").write_bytes(b"x")
        os.utime(folder, (1e9 - age * 1000, 1e9 - age * 1000))
    os.utime(current, (1.0, 1.0))  # the current version stays, however old
    unrelated = root / "notes"
    unrelated.mkdir()
    deleted = prune_other_versions(current, keep=2)
    assert sorted(deleted) == sorted(others[2:])
    assert sorted(p.name for p in root.iterdir()) == sorted([current.name, others[0].name, others[1].name, "notes"])


@needs_numba
def test_time_dependent_aspirations_are_the_same_bits_on_both_engines():
    """numpy's `**` rounds some powers 1-2 units in the last place away from the C library's pow on
    CPUs with AVX-512 (seed 5 of Alaska: ~600 rounds rows of 3,000 runs); the concession curve uses
    pow on both engines, so every aspiration of every round agrees."""
    game = _game("alaska_2025.yaml/mediated")
    compiled, numpy_ = (simulate(game, engine, runs=600, rounds=True, seed=5)[1] for engine in ("compiled", "numpy"))
    assert not _same(compiled["rounds"], numpy_["rounds"])


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=50), st.sampled_from([0.2, 0.5, 1.0, 2.0, 3.7, 5.0]))
@settings(max_examples=50, deadline=None)
def test_the_concession_power_is_the_c_librarys(bases, exponent):
    import math

    from sim.domain.strategies import c_power

    got = c_power(np.array(bases), exponent)
    # numpy's exact fast paths, which the kernels take too: glibc's pow is within an ulp, not always
    # correctly rounded (pow(1 - 2**-53, 0.5) is 1.0; the square root rounds to 1 - 2**-53).
    exact = {2.0: lambda b: b * b, 0.5: lambda b: float(np.sqrt(b)), 1.0: lambda b: b}
    assert got.tolist() == [exact.get(exponent, lambda b: math.pow(b, exponent))(b) for b in bases]
    assert c_power(np.array([1 - 2**-53]), 0.5)[0] == 1 - 2**-53
    assert np.isnan(c_power(np.array([-0.5]), np.array([0.5]))[0])  # numpy's nan, not an exception
