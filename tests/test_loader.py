"""Scenario loading: YAML safety, schema errors with line numbers, cross-reference checks."""

from __future__ import annotations

import pytest

from sim.errors import ScenarioError
from sim.scenario import load_scenario
from sim.scenario.yamlsrc import parse_yaml
from tests.conftest import TINY

TINY_TEXT = TINY.read_text()


def problems_of(path) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return [str(p) for p in info.value.problems]


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line number of the n-th line containing needle."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in text")


def test_tiny_scenario_loads():
    loaded = load_scenario(TINY)
    assert loaded.name == "tiny"
    assert list(loaded.scenario.actors) == ["alpha", "beta", "gamma"]
    assert len(loaded.sha256) == 64


def test_yaml_12_booleans_keep_option_names_as_strings():
    data, _ = parse_yaml(b"a: no\nb: off\nc: yes\nd: true\n", "x.yaml")
    assert data == {"a": "no", "b": "off", "c": "yes", "d": True}


def test_duplicate_key_reports_both_lines():
    with pytest.raises(ScenarioError) as info:
        parse_yaml(b"meta:\n  name: a\n  name: b\n", "x.yaml")
    (problem,) = info.value.problems
    assert problem.line == 3 and problem.field == "meta.name" and "first defined on line 2" in problem.message


def test_python_tags_are_refused():
    with pytest.raises(ScenarioError) as info:
        parse_yaml(b"meta: !!python/object/apply:os.system ['true']\n", "x.yaml")
    assert "not allowed" in str(info.value)


def test_alias_bomb_is_stopped():
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for k in range(1, 8):
        prev = chr(ord("a") + k - 1)
        cur = chr(ord("a") + k)
        lines.append(f"{cur}: &{cur} [" + ", ".join(f"*{prev}" for _ in range(10)) + "]")
    with pytest.raises(ScenarioError) as info:
        parse_yaml("\n".join(lines).encode(), "bomb.yaml")
    assert "alias bomb" in str(info.value)


def test_tabs_are_explained():
    with pytest.raises(ScenarioError) as info:
        parse_yaml(b"meta:\n\tname: x\n", "t.yaml")
    assert "tab" in str(info.value) and info.value.problems[0].line == 2


def test_unknown_field_has_its_line(write_scenario):
    text = TINY_TEXT.replace("    role: mediator\n", "    role: mediator\n    colour: blue\n")
    path = write_scenario(text)
    (problem,) = problems_of(path)
    assert problem == f"{path}:{line_of(text, 'colour: blue')}: actors.gamma.colour: unknown field " \
                      "(check the spelling; see docs/scenario-format.md)"


def test_wrong_type_reports_one_clear_message(write_scenario):
    text = TINY_TEXT.replace("weights: {north: 2, south: 1, guarantees: 1}", "weights: {north: lots, south: 1, guarantees: 1}")
    path = write_scenario(text)
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:{line_of(text, 'north: lots')}: actors.alpha.weights.north: expected a number")


def test_negative_weight_and_all_zero_weights(write_scenario):
    text = TINY_TEXT.replace("weights: {north: 2, south: 1, guarantees: 1}", "weights: {north: -3, south: 1, guarantees: 1}")
    text = text.replace("weights: {guarantees: 1, north: 1}", "weights: {guarantees: 0, north: 0}")
    problems = problems_of(write_scenario(text))
    assert any("actors.alpha.weights.north: weight -3.0 is outside" in p for p in problems)
    assert any("actors.gamma.weights: all weights are zero" in p for p in problems)


def test_unknown_references_all_reported_at_once(write_scenario):
    text = TINY_TEXT.replace("options: {north: de_jure_russia, south: de_facto_russia}",
                             "options: {north: annexed, west: de_facto_russia}")
    text = text.replace("reservation: {value: 0.2, source: notes", "reservation: {value: 0.2, source: nowhere")
    text = text.replace("  mediator: gamma", "  mediator: delta")
    path = write_scenario(text)
    problems = problems_of(path)
    joined = "\n".join(problems)
    assert "proposals.maximal.options.north: issue 'north' has no option 'annexed'" in joined
    assert "proposals.maximal.options.west: unknown issue 'west'" in joined
    assert "actors.gamma.reservation.source: unknown source 'nowhere'" in joined
    assert "protocol.mediator: unknown actor 'delta'" in joined
    for p in problems:
        assert p.startswith(f"{path}:")


def test_missing_option_value_and_value_out_of_range(write_scenario):
    text = TINY_TEXT.replace("guarantees: {options: {none: 0, strong: 1}", "guarantees: {options: {none: 1.5}")
    problems = problems_of(write_scenario(text))
    assert any("actors.alpha.values.guarantees.options.none: value 1.5 is outside [0.0, 1.0]" in p for p in problems)
    assert any("actors.alpha.values.guarantees.options: no value for option(s) strong" in p for p in problems)


def test_quote_must_occur_in_local_source(write_scenario):
    text = TINY_TEXT.replace("quote: alpha wants guarantees", "quote: alpha demands the moon")
    path = write_scenario(text)
    (problem,) = problems_of(path)
    assert f":{line_of(text, 'alpha demands the moon')}: actors.alpha.values.guarantees.quote: quote not found" in problem


def test_source_path_cannot_escape_the_scenario_folder(write_scenario):
    text = TINY_TEXT.replace("path: tiny_source.txt", "path: ../../etc/passwd")
    problems = problems_of(write_scenario(text))
    assert any("sources.notes.path: '../../etc/passwd' points outside the scenario's folder" in p for p in problems)


def test_uncertain_number_forms(write_scenario):
    text = TINY_TEXT.replace("strong: {mean: 0.2, sd: 0.1}", "strong: {mean: 0.2}")
    problems = problems_of(write_scenario(text))
    assert any("actors.beta.values.guarantees.options.strong: give both mean and sd" in p for p in problems)


def test_empty_and_binary_files(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("  \n")
    assert problems_of(empty) == [f"{empty}: file is empty"]
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\x00\x01\x02")
    assert "binary file" in problems_of(binary)[0]


def test_missing_file(tmp_path):
    assert problems_of(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: no such file"]
