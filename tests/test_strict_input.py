"""Bad input to the scenario loader, by class (GitHub issue 14, items 9-11).

Each test covers a class of input, not one example: every numeric, date and boolean field of
a scenario that uses every part of the format is tried with loose types and with extreme
numbers; every path to a non-regular file (scenario, source, observations) is tried with a
FIFO; every kind of quote that holds no words is tried. The rule for each: one located
message (`file:line: field: message`), exit code 2 and no traceback from the CLI.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from sim.errors import ScenarioError
from sim.scenario import load_scenario
from sim.scenario.load import MAX_SOURCE_BYTES, validate
from sim.scenario.overrides import _scalar_kinds, apply_overrides, field_types, get, is_numeric, parse_path, \
    parse_value, valid_paths
from sim.scenario.yamlsrc import dotted, parse_yaml
from tests.conftest import DATA, ROOT, TINY, negsim_command

TINY_TEXT = TINY.read_text()

# tiny.yaml extended so that every part of the format appears: a calendar, strategy
# deadlines (plain and uncertain), recorded responses, talks, a war with front drift, costs
# and one event of each kind that changes something.
RICH_TEXT = TINY_TEXT.replace("  max_rounds: 20\n", """\
  horizon: 2025-12-31
  round_days: 14
  temperature: 0.05
  noisy_rationality: false
  patience_days: 42
  talks: {pause_days: 28, resume_probability: 0.5}
  mediator_bias: 0.3
  moves_per_round: 2
  mediator_step: 1.0
  consent_patience_days: 56
  eu_q: 1.0
dynamics:
  look_ahead_days: 365
  front:
    north: {gainer: beta, loser: alpha, drift_km2_per_month: {mean: 10, sd: 5}, sd_km2_per_month: 20}
    south: {gainer: beta, loser: alpha, drift_km2_per_month: 3}
  costs:
    alpha: {per_month: {mean: 0.01, sd: 0.002}}
    beta: {per_month: 0.005}
  events:
    - date: 2025-10-01
      kind: costs
      name: Aid cut
      costs: {alpha: 0.01}
      drift: {north: 5}
      source: notes
      quote: alpha can fight on
    - date: 2025-11-01
      kind: summit
      name: Summit
      pressure: 0.1
      source: notes
      quote: gamma wants a deal
    - date: 2025-11-15
      kind: weights
      name: New priorities
      weights: {alpha: {north: 1.5}}
      source: notes
      quote: alpha wants land
    - date: 2025-12-01
      kind: breakdown
      name: Breakdown
      probability: 0.1
      source: notes
      quote: beta can fight on
""").replace("    strategy: {kind: boulware, exponent: 0.5}\n", """\
    strategy: {kind: boulware, exponent: 0.5, deadline: {date: 2025-11-30, sd_days: 14}, floor: 0.1, temperature: 0.02}
    capability: 1.0
    discount: 0.99
""").replace("    strategy: {kind: linear}\n", "    strategy: {kind: linear, deadline: 2025-12-15}\n").replace(
    "    quote: gamma wants a deal\n  maximal:", """\
    quote: gamma wants a deal
    responses:
      alpha: {response: accepted, date: 2025-09-01, source: notes, quote: alpha wants guarantees}
  maximal:""")
RICH_DATA, RICH_SRCMAP = parse_yaml(RICH_TEXT.encode(), "rich.yaml")


def test_rich_scenario_is_valid(write_scenario):
    sc = load_scenario(write_scenario(RICH_TEXT)).scenario
    assert sc.dynamics is not None and len(sc.dynamics.events) == 4


def refused(overrides: dict) -> list:
    """The problems of the rich scenario with `overrides` applied (it must not validate)."""
    data = apply_overrides(RICH_DATA, overrides, RICH_SRCMAP)
    with pytest.raises(ScenarioError) as info:
        validate(data, RICH_SRCMAP, base_dir=None)
    problems = info.value.problems
    for p in problems:
        assert p.file == "rich.yaml" and p.message.strip() and "\n" not in str(p)
    return problems


def located_at(problems: list, path: tuple) -> list:
    """The problems that name `path` or one of its ancestors (with a line number)."""
    target = dotted(path)
    return [p for p in problems if p.line and (target == p.field or target.startswith(p.field + ".")
                                                or target.startswith(p.field + "[") or p.field.startswith(target))]


def _kinds(path: tuple) -> set:
    return _scalar_kinds(field_types(path))


PATHS = [parse_path(p) for p in dict.fromkeys(valid_paths(RICH_DATA))]
NUMERIC = [p for p in PATHS if is_numeric(RICH_DATA, p)]
DATES = [p for p in PATHS if dt.date in _kinds(p)]
BOOLS = [p for p in PATHS if _kinds(p) == {bool}]
WHOLE = [p for p in PATHS if int in _kinds(p) and float not in _kinds(p) and p[-1] != "deadline"]


def test_the_rich_scenario_covers_the_format():
    names = {p[-1] for p in NUMERIC}
    assert {"area_km2", "drift_km2_per_month", "sd_km2_per_month", "per_month", "pressure", "capability",
            "exponent", "mean", "sd", "max_rounds", "round", "look_ahead_days", "mediator_step"} <= names
    assert any(p[:3] == ("dynamics", "events", 0) and "costs" in p for p in NUMERIC)
    assert {"as_of", "horizon", "date"} <= {p[-1] for p in DATES}
    assert ("protocol", "noisy_rationality") in BOOLS


# --- item 9: no loose types --------------------------------------------------------------------

@pytest.mark.parametrize("path", NUMERIC, ids=dotted)
def test_a_boolean_is_never_a_number(path):
    problems = refused({path: True})
    hits = [p for p in located_at(problems, path) if "got true (a boolean)" in p.message]
    assert hits, problems


@pytest.mark.parametrize("path", NUMERIC, ids=dotted)
def test_text_is_never_a_number(path):
    problems = refused({path: "0.06"})
    hits = [p for p in located_at(problems, path) if "got '0.06' (text" in p.message]
    assert hits, problems


@pytest.mark.parametrize("path", DATES, ids=dotted)
@pytest.mark.parametrize("value", [0, 1755216000, "2025-09-01", True])
def test_only_a_date_is_a_date(path, value):
    problems = refused({path: value})
    assert located_at(problems, path), problems
    if type(value) is int and int in _kinds(path):  # a deadline may be a whole number of rounds instead
        return
    assert any(p.message.startswith("expected a date") for p in located_at(problems, path)), problems


@pytest.mark.parametrize("path", BOOLS, ids=dotted)
@pytest.mark.parametrize("value", [1, 0, "true", "yes"])
def test_only_true_or_false_is_a_boolean(path, value):
    problems = refused({path: value})
    assert [p for p in located_at(problems, path) if "expected true or false" in p.message], problems


@pytest.mark.parametrize("path", WHOLE, ids=dotted)
def test_a_fraction_is_not_a_whole_number(path):
    problems = refused({path: 2.5})
    assert [p for p in located_at(problems, path) if "expected a whole number" in p.message], problems


def test_an_int_is_a_number_and_a_real_yaml_date_is_a_date(write_scenario):
    sc = load_scenario(write_scenario(RICH_TEXT.replace("temperature: 0.05", "temperature: 0"))).scenario
    assert sc.protocol.temperature == 0.0 and isinstance(sc.protocol.temperature, float)
    assert sc.meta.as_of == dt.date(2025, 8, 15)


def test_yaml_12_floats_are_numbers_not_text(write_scenario):
    # PyYAML (YAML 1.1) reads 1e-3 as text; with no coercion of text it would be refused.
    text = TINY_TEXT.replace("strong: {mean: 0.2, sd: 0.1}", "strong: {mean: 2e-1, sd: 1e-3}")
    strong = load_scenario(write_scenario(text)).scenario.actors["beta"].values["guarantees"].options["strong"]
    assert (strong.mean, strong.sd) == (0.2, 0.001)
    data, _ = parse_yaml(b"a: 1e-3\nb: 2E5\nc: 10\nd: 1.5\ne: 0x1f\nf: 1e\n", "x.yaml")
    assert data == {"a": 0.001, "b": 200000.0, "c": 10, "d": 1.5, "e": 31, "f": "1e"}
    assert type(data["c"]) is int


@pytest.mark.parametrize("old, new, field, message", [
    ("weights: {north: 2,", "weights: {north: true,", "actors.alpha.weights.north",
     "expected a number or an uncertain number {mean, sd} / {low, high}, got true (a boolean)"),
    ("  max_rounds: 20", "  max_rounds: true", "protocol.max_rounds", "expected a whole number, got true (a boolean)"),
    ("reservation: {value: 0.3,", 'reservation: {value: "0.3",', "actors.alpha.reservation.value",
     "expected a number or an uncertain number {mean, sd} / {low, high}, got '0.3' (text; write the number "
     "without quotes)"),
    ("  as_of: 2025-08-15", "  as_of: 0", "meta.as_of", "expected a date, got 0 (a number)"),
    ("    date: 2025-08-15", '    date: "2025-08-15"', "sources.notes.date",
     "expected a date, got '2025-08-15' (text; write the date without quotes)"),
])
def test_loose_types_have_one_clear_located_message(write_scenario, old, new, field, message):
    text = TINY_TEXT.replace(old, new, 1)
    path = write_scenario(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    (problem,) = info.value.problems
    line = next(n for n, row in enumerate(text.splitlines(), 1) if new.strip() in row)
    assert str(problem) == f"{path}:{line}: {field}: {message}"


def test_set_override_is_typed():
    assert parse_value("0.2") == 0.2 and parse_value("true") is True
    data, srcmap = parse_yaml(TINY.read_bytes(), str(TINY))
    ok = validate(apply_overrides(data, {"actors.alpha.weights.north": parse_value("0.2")}, srcmap), srcmap)
    assert ok.actors["alpha"].weights["north"] == 0.2
    with pytest.raises(ScenarioError, match=r"got true \(a boolean\)"):
        validate(apply_overrides(data, {"actors.alpha.weights.north": parse_value("true")}, srcmap), srcmap)


def test_cli_set_true_on_a_number_is_refused_and_nothing_is_written(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([*negsim_command(), "run", str(TINY), "--runs", "5", "--workers", "1", "--out", str(out),
                           "--set", "actors.alpha.weights.north=true"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "got true (a boolean)" in proc.stderr
    assert "actors.alpha.weights.north" in proc.stderr
    assert not out.exists()
    ok = subprocess.run([*negsim_command(), "run", str(TINY), "--runs", "5", "--workers", "1", "--out", str(out),
                         "--set", "actors.alpha.weights.north=0.2"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr


# --- item 10: every number has a finite, sensible range ----------------------------------------

EXTREME = [1e308, -1e308, math.inf, -math.inf, math.nan, 1e300, -1e300]


@pytest.mark.parametrize("path", NUMERIC, ids=dotted)
@pytest.mark.parametrize("value", EXTREME, ids=repr)
def test_extreme_numbers_are_refused_everywhere(path, value):
    current = get(RICH_DATA, path, None)
    if isinstance(current, dict):  # an uncertain number: its parts are tried one by one
        path = path + (("mean",) if "mean" in current else ("low",))
    assert located_at(refused({path: value}), path)


def _bounded_leaves(tp, bounds: tuple = (), where: str = "", seen: set | None = None):
    """(where, type, has lower bound, has upper bound) for every number and date in a type, models included."""
    import types
    import typing

    import annotated_types as at
    from pydantic import BaseModel
    from pydantic.fields import FieldInfo

    seen = set() if seen is None else seen
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(tp)
        for m in meta:
            bounds += tuple(m.metadata) if isinstance(m, FieldInfo) else (m,)
        yield from _bounded_leaves(base, bounds, where, seen)
    elif origin in (typing.Union, types.UnionType, dict, tuple, list):
        args = typing.get_args(tp)[1:] if origin is dict else typing.get_args(tp)
        for arg in args:
            if arg is not Ellipsis:
                yield from _bounded_leaves(arg, bounds if origin not in (dict, tuple, list) else (), where, seen)
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp in seen:
            return
        seen.add(tp)
        for name, info in tp.model_fields.items():
            yield from _bounded_leaves(info.annotation, tuple(info.metadata), f"{tp.__name__}.{name}", seen)
    elif tp in (int, float, dt.date):
        yield (where, tp, any(isinstance(b, (at.Ge, at.Gt)) for b in bounds),
               any(isinstance(b, (at.Le, at.Lt)) for b in bounds))


def test_every_number_and_date_in_the_formats_has_a_finite_range():
    from sim.calibration.observations import Observations
    from sim.scenario.schema import Scenario

    leaves = [*_bounded_leaves(Scenario), *_bounded_leaves(Observations)]
    assert len(leaves) > 40
    unbounded = [(where, tp.__name__) for where, tp, lo, hi in leaves if not (lo and hi)]
    assert not unbounded, f"numbers or dates without a range in the schema: {unbounded}"


@pytest.mark.parametrize("path", [p for p in NUMERIC if p[-1] in ("sd", "sd_km2_per_month", "sd_days")], ids=dotted)
def test_huge_spreads_are_refused(path):
    assert located_at(refused({path: 1e300}), path)


@pytest.mark.parametrize("weights", [
    "{guarantees: {mean: 0, sd: 0}, north: {mean: 0, sd: 0}}",
    "{guarantees: {low: 0, high: 0}, north: 0}",
    "{guarantees: {mean: 0, sd: 0, low: 0, high: 0.5}, north: 0.0}",
])
def test_weights_that_are_zero_in_every_draw(write_scenario, weights):
    text = TINY_TEXT.replace("weights: {guarantees: 1, north: 1}", f"weights: {weights}")
    with pytest.raises(ScenarioError) as info:
        load_scenario(write_scenario(text))
    assert any(p.field == "actors.gamma.weights" and "all weights are zero" in p.message and p.line
               for p in info.value.problems), info.value.problems


def test_weights_must_sum_to_a_positive_number_at_their_central_values(write_scenario):
    text = TINY_TEXT.replace("weights: {guarantees: 1, north: 1}",
                             "weights: {guarantees: {mean: 0, sd: 0.1}, north: 0}")
    with pytest.raises(ScenarioError) as info:
        load_scenario(write_scenario(text))
    assert any(p.field == "actors.gamma.weights" and "central" in p.message for p in info.value.problems), \
        info.value.problems


def test_an_event_cannot_zero_every_weight_of_an_actor():
    problems = refused({("dynamics", "events", 2, "weights"): {"gamma": {"guarantees": 0, "north": 0}}})
    assert any(p.field == "dynamics.events[2].weights.gamma" and "all" in p.message and "zero" in p.message
               for p in problems), problems


def test_too_many_rounds_are_refused():
    problems = refused({("protocol", "round_days"): 0.01})
    assert any(p.field.startswith("protocol") and "rounds" in p.message for p in problems), problems


def test_huge_event_cost_is_refused_by_the_cli(tmp_path):
    shutil.copy(DATA / "tiny_source.txt", tmp_path / "tiny_source.txt")
    path = tmp_path / "costly.yaml"
    path.write_text(TINY_TEXT + textwrap.dedent("""\
        dynamics:
          events:
            - round: 2
              kind: costs
              name: Ruin
              costs: {alpha: 1e308}
              source: notes
              quote: alpha can fight on
        """))
    out = tmp_path / "out"
    proc = subprocess.run([*negsim_command(), "run", str(path), "--runs", "5", "--workers", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = len(TINY_TEXT.splitlines()) + 6
    assert f"{path}:{line}: dynamics.events[0].costs.alpha: " in proc.stderr, proc.stderr
    assert not out.exists()


# --- item 11: files that are not regular, huge sources, empty quotes, numpy warnings -----------

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")


def _in_subprocess(code: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter (a hang fails the test instead of blocking it)."""
    try:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                              cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for {timeout} s")


@needs_fifo
def test_a_fifo_scenario_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    proc = _in_subprocess(textwrap.dedent(f"""\
        from sim.errors import ScenarioError
        from sim.scenario import load_scenario
        try:
            load_scenario({str(fifo)!r})
        except ScenarioError as exc:
            print(exc)
        """))
    assert proc.stdout.strip() == f"{fifo}: not a regular file (a named pipe); give a file", proc.stderr


@needs_fifo
def test_negsim_validate_refuses_a_fifo(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    try:
        proc = subprocess.run([*negsim_command(), "validate", str(fifo)], capture_output=True, text=True, timeout=8)
    except subprocess.TimeoutExpired:
        pytest.fail("negsim validate hung on a named pipe")
    assert proc.returncode == 2 and proc.stderr.strip() == f"{fifo}: not a regular file (a named pipe); give a file"


def test_read_head_never_opens_what_is_not_a_regular_file(tmp_path):
    from sim.scenario.yamlsrc import read_head

    (tmp_path / "a.yaml").write_text("decisions: []\n")
    assert read_head(tmp_path / "a.yaml", 5) == b"decis"
    assert read_head(tmp_path, 5) == b"" and read_head(tmp_path / "missing", 5) == b""
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe")
        assert read_head(tmp_path / "pipe", 5) == b""


@needs_fifo
def test_a_fifo_observations_file_is_refused(tmp_path):
    fifo = tmp_path / "record.yaml"
    os.mkfifo(fifo)
    proc = _in_subprocess(textwrap.dedent(f"""\
        from sim.errors import ScenarioError
        from sim.calibration.observations import load_observations
        try:
            load_observations({str(fifo)!r})
        except ScenarioError as exc:
            print(exc)
        """))
    assert "not a regular file (a named pipe)" in proc.stdout, proc.stderr


@needs_fifo
def test_a_fifo_source_file_is_refused(write_scenario, tmp_path):
    path = write_scenario(TINY_TEXT)
    (tmp_path / "tiny_source.txt").unlink()
    os.mkfifo(tmp_path / "tiny_source.txt")
    proc = _in_subprocess(textwrap.dedent(f"""\
        from sim.errors import ScenarioError
        from sim.scenario import load_scenario
        try:
            load_scenario({str(path)!r})
        except ScenarioError as exc:
            print(exc)
        """))
    line = TINY_TEXT.splitlines().index("    path: tiny_source.txt") + 1
    assert proc.stdout.splitlines() == [f"{path}:{line}: sources.notes.path: 'tiny_source.txt' is not a regular "
                                        "file (a named pipe)"], proc.stdout + proc.stderr


def test_a_source_over_the_size_limit_is_refused_before_it_is_read(write_scenario, tmp_path):
    path = write_scenario(TINY_TEXT)
    with open(tmp_path / "tiny_source.txt", "r+b") as fh:  # sparse: costs no disk
        fh.truncate(MAX_SOURCE_BYTES + 1)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    line = TINY_TEXT.splitlines().index("    path: tiny_source.txt") + 1
    assert [str(p) for p in info.value.problems] == [
        f"{path}:{line}: sources.notes.path: 'tiny_source.txt' is {MAX_SOURCE_BYTES + 1:,} bytes; "
        f"the limit for a source file is {MAX_SOURCE_BYTES:,}"]


@pytest.mark.parametrize("quote", ["...", "…", "... ...", "' … '", '"..."', "“…”", ". , ; !", "-- ... --",
                                   "[...]", "a … b", "1 2 3", "   \u2026\u2026  "])
@pytest.mark.parametrize("where", ["local", "url"])
def test_a_quote_without_words_is_refused(write_scenario, quote, where):
    text = TINY_TEXT.replace("quote: alpha wants guarantees", f"quote: {quote!r}" if "'" not in quote
                             else f'quote: "{quote}"' if '"' not in quote else f"quote: {quote}")
    if where == "url":
        text = text.replace("    path: tiny_source.txt", "    url: https://example.org/notes")
    path = write_scenario(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "quote: alpha wants land" not in row
                and "guarantees: {options: {none: 0, strong: 1}" in row)
    assert [(p.line, p.field) for p in info.value.problems] == [(line, "actors.alpha.values.guarantees.quote")]
    assert "words" in info.value.problems[0].message


def test_a_short_quote_with_real_words_is_accepted(write_scenario):
    text = TINY_TEXT.replace("quote: alpha wants guarantees", "quote: \"… alpha wants guarantees …\"")
    load_scenario(write_scenario(text))


EXTREME_BUT_VALID = {
    "protocol.mediator_step": 100,
    "protocol.temperature": 1e-300,
    "actors.alpha.strategy.temperature": 5e-324,
    "actors.alpha.strategy.exponent": 100,
    "actors.beta.strategy.exponent": 0.01,
    "actors.alpha.discount": 5e-324,
    "actors.alpha.capability": 1e6,
    "actors.alpha.weights.north": 1e6,
    "actors.alpha.weights.south": 5e-324,
    "actors.beta.values.guarantees.options.strong": {"mean": 0.5, "sd": 5e-324},
    "actors.beta.reservation.value": {"mean": 1.0, "sd": 1.0},
    "issues.north.area_km2": 0.01,
    "dynamics.front.north.drift_km2_per_month": {"mean": 1e6, "sd": 5e-324},
    "dynamics.front.north.sd_km2_per_month": 1e6,
    "dynamics.front.south.drift_km2_per_month": -1e6,
    "dynamics.costs.alpha.per_month": 1.0,
    "dynamics.events[0].costs.alpha": 1.0,
    "dynamics.events[0].drift.north": 1e6,
}


@pytest.mark.parametrize("kind", ["mediated", "alternating", "expected_utility"])
def test_extreme_but_valid_values_run_without_numpy_warnings(kind):
    from sim.domain.game import compile_scenario
    from sim.simulate import ChunkSpec, simulate_chunk

    data = apply_overrides(RICH_DATA, {**EXTREME_BUT_VALID, "protocol.kind": kind}, RICH_SRCMAP)
    game = compile_scenario(validate(data, RICH_SRCMAP))
    # numpy's default error state (underflow is silent), whatever other tests left behind.
    with warnings.catch_warnings(), np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
        warnings.simplefilter("error")
        simulate_chunk(game, ChunkSpec(seed=3, point=0, runs=(0, 40)))


def test_cli_run_with_extreme_but_valid_values_has_a_clean_stderr(write_scenario, tmp_path):
    path = write_scenario(RICH_TEXT)
    sets = [f"--set={k}={v}" for k, v in EXTREME_BUT_VALID.items()]
    sets = [s.replace("'", "") for s in sets]
    proc = subprocess.run([*negsim_command(), "run", str(path), "--runs", "30", "--workers", "1",
                           "--out", str(tmp_path / "out"), *sets], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "overflow" not in proc.stderr, proc.stderr
