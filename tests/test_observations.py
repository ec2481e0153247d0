"""Observations files: the shipped record loads against the Alaska scenario, bad input gives one
clear located problem, and a cutoff splits the record without losing anything."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.calibration.observations import DecisionEntry, decision_weight, load_observations
from sim.domain.game import compile_scenario
from sim.errors import ScenarioError
from sim.scenario import load_scenario
from tests.conftest import ROOT

ALASKA = ROOT / "scenarios" / "alaska_2025.yaml"
SHIPPED = ROOT / "scenarios" / "observations" / "record_2025.yaml"
RECORD = ROOT / "scenarios" / "sources" / "record_2025.md"

BASE = f"""\
meta:
  name: tiny_record
  scenario: {ALASKA}
  description: A few observations for the tests.
  as_of: 2025-12-31
sources:
  record:
    title: The record
    outlet: negsim
    date: 2025-12-31
    path: record.md
decisions:
  - id: d3_ukraine
    date: 2025-08-16
    proposal: russia_alaska_offer
    actor: ukraine
    response: rejected
    confidence: high
    reliability: B
    source: record
    quote: "Zelensky refuses to give up Donbas (Reuters)"
  - id: d7_ukraine
    date: 2025-10-17
    deal: {{donetsk: frozen_line, ceasefire_sequencing: ceasefire_first}}
    actor: ukraine
    response: accepted
    confidence: high
    reliability: B
    weight: 0.5
    source: record
    quote: "We should stop where we are now. And then we'll talk"
outcomes:
  - id: pause
    kind: talks_suspended
    start: 2025-09-12
    end: 2025-10-16
    source: record
    quote: "it is probably more accurate to speak of a pause"
front:
  - month: 2025-11
    gained_km2: 701
    low_km2: 650
    reliability: B
    source: record
"""


@pytest.fixture(scope="module")
def alaska():
    return load_scenario(ALASKA)


@pytest.fixture(scope="module")
def shipped(alaska):
    return load_observations(SHIPPED)


@pytest.fixture
def write(tmp_path):
    """Write an observations file (BASE with replacements) next to a copy of the record."""
    shutil.copy(RECORD, tmp_path / "record.md")

    def write_(*changes: tuple[str, str]):
        text = BASE
        for old, new in changes:
            assert text.count(old) == 1, old
            text = text.replace(old, new)
        path = tmp_path / "obs.yaml"
        path.write_text(text)
        return path, text

    return write_


def line_of(text: str, fragment: str) -> int:
    """1-based line on which `fragment` starts."""
    return text[: text.index(fragment)].count("\n") + 1


# --- the shipped file -----------------------------------------------------------------------------


def test_shipped_file_loads_against_the_alaska_scenario(shipped):
    assert shipped.scenario.name == "alaska_2025"
    assert shipped.scenario.path.resolve() == ALASKA.resolve()
    assert shipped.summary() == ("record_2025: 34 decisions (29 scored) by 4 actors, 5 outcomes, "
                                 "5 months of front figures, 2025-08-08 to 2025-12-31")
    assert len(shipped.decisions()) == 29
    assert len(shipped.decisions(include_unscored=True)) == 34
    assert {o.kind for o in shipped.outcomes()} == {"no_agreement_by", "talks_suspended"}
    assert [f.month for f in shipped.front()] == ["2025-08", "2025-09", "2025-10", "2025-11", "2025-12"]


def test_every_decision_is_a_complete_deal_in_the_scenario(shipped):
    game = compile_scenario(shipped.scenario.scenario)
    n_options = game.space.n_options
    for d in shipped.decisions(include_unscored=True):
        assert d.deal.shape == (game.space.n_issues,) and d.deal.dtype == np.int64
        assert ((d.deal >= 0) & (d.deal < n_options)).all(), d.id
        assert game.actor_ids[d.actor_index] == d.actor
        if d.proposal is not None:
            assert (d.deal == game.proposals[game.proposal_ids.index(d.proposal)]).all()
    for d in shipped.decisions():
        assert 0 < d.weight <= 1, d.id
        assert d.accepted == (d.response in ("accepted", "accepted_with_reservations"))


def test_shipped_file_agrees_with_the_responses_the_scenario_records(shipped):
    """Where the scenario records a party's answer to one of its proposals, the record agrees."""
    proposals = shipped.scenario.scenario.proposals
    checked = 0
    for entry in shipped.observations.decisions:
        if entry.proposal is not None and entry.actor in proposals[entry.proposal].responses:
            assert proposals[entry.proposal].responses[entry.actor].response == entry.response, entry.id
            checked += 1
    assert checked >= 6


def test_a_file_may_name_its_scenario_by_absolute_path(write, alaska):
    path, _ = write()
    loaded = load_observations(path)
    assert loaded.scenario.path == ALASKA
    assert loaded.summary() == ("tiny_record: 2 decisions (2 scored) by 1 actor, 1 outcome, "
                                "1 month of front figures, 2025-08-16 to 2025-10-17")
    deal = next(d for d in loaded.decisions() if d.id == "d7_ukraine").deal
    space = compile_scenario(alaska.scenario).space
    assert space.describe(deal)["ceasefire_sequencing"] == "ceasefire_first"
    assert space.describe(deal)["crimea"] == alaska.scenario.issues["crimea"].default


# --- weights ----------------------------------------------------------------------------------


def _entry(**fields) -> DecisionEntry:
    base = dict(id="x", date=dt.date(2025, 9, 1), proposal="p", actor="a", response="rejected",
                confidence="high", reliability="A", source="s", quote="as the record says")
    return DecisionEntry(**(base | fields))


@pytest.mark.parametrize("fields, weight", [
    ({}, 1.0),
    ({"confidence": "medium", "reliability": "B"}, 0.48),
    ({"confidence": "low", "reliability": "C"}, 0.12),
    ({"response": "accepted_with_reservations"}, 0.5),
    ({"response": "contested"}, 0.0),
    ({"response": "no_response", "confidence": "medium"}, 0.0),
    ({"response": "contested", "weight": 0.2}, 0.2),
    ({"response": "accepted_with_reservations", "weight": 0.9}, 0.9),
])
def test_default_weights_follow_the_record_grades(fields, weight):
    assert decision_weight(_entry(**fields)) == pytest.approx(weight)


# --- bad input: one clear problem each ------------------------------------------------------------


BAD = {
    "unknown actor": (
        [("actor: ukraine\n    response: rejected", "actor: ukrain\n    response: rejected")],
        "actor: ukrain", "decisions[0].actor", "unknown actor 'ukrain'"),
    "unknown proposal": (
        [("proposal: russia_alaska_offer", "proposal: russia_offer")],
        "proposal: russia_offer", "decisions[0].proposal", "unknown proposal 'russia_offer'"),
    "unknown option": (
        [("donetsk: frozen_line,", "donetsk: frozen,")],
        "deal: {donetsk: frozen,", "decisions[1].deal.donetsk", "issue 'donetsk' has no option 'frozen'"),
    "unknown issue": (
        [("donetsk: frozen_line,", "donbas: frozen_line,")],
        "deal: {donbas", "decisions[1].deal.donbas", "unknown issue 'donbas'"),
    "proposal and deal": (
        [("proposal: russia_alaska_offer\n", "proposal: russia_alaska_offer\n    deal: {donetsk: ukraine}\n")],
        "- id: d3_ukraine", "decisions[0]", "give either proposal or deal, not both"),
    "neither proposal nor deal": (
        [("    proposal: russia_alaska_offer\n", "")],
        "- id: d3_ukraine", "decisions[0]", "a proposal of the scenario or an inline deal"),
    "quote not in the source": (
        [("give up Donbas (Reuters)", "give up Crimea (Reuters)")],
        "quote: \"Zelensky refuses", "decisions[0].quote", "quote not found in record.md"),
    "weight as a string": (
        [("weight: 0.5", 'weight: "0.5"')],
        "weight:", "decisions[1].weight", "expected a number, got '0.5'"),
    "weight as a boolean": (
        [("weight: 0.5", "weight: true")],
        "weight:", "decisions[1].weight", "expected a number, got true (a boolean)"),
    "weight above one": (
        [("weight: 0.5", "weight: 1.5")],
        "weight:", "decisions[1].weight", "must be less than or equal to 1"),
    "duplicate id": (
        [("id: d7_ukraine", "id: d3_ukraine")],
        "- id: d3_ukraine\n    date: 2025-10-17", "decisions[1].id",
        "duplicate id 'd3_ukraine' (first used on line 13)"),
    "suspension ending before it starts": (
        [("end: 2025-10-16", "end: 2025-09-01")],
        "end: 2025-09-01", "outcomes[0].end", "ends (2025-09-01) before it starts (2025-09-12)"),
    "suspension without an end": (
        [("    end: 2025-10-16\n", "")],
        "- id: pause", "outcomes[0]", "takes start and end dates"),
    "date a year before the scenario": (
        [("date: 2025-08-16", "date: 2024-08-01")],
        "date: 2024-08-01", "decisions[0].date", "more than a year before the scenario's as_of (2025-08-15)"),
    "date after the record closed": (
        [("date: 2025-10-17", "date: 2026-01-05")],
        "date: 2026-01-05", "decisions[1].date", "after meta.as_of (2025-12-31)"),
    "date as a string": (
        [("date: 2025-10-17", 'date: "2025-10-17"')],
        'date: "2025-10-17"', "decisions[1].date",
        "expected a date, got '2025-10-17' (text; write the date without quotes)"),
    "unknown source": (
        [("    source: record\n    quote: \"Zelensky", "    source: reuters\n    quote: \"Zelensky")],
        "source: reuters", "decisions[0].source", "unknown source 'reuters'"),
    "unknown response": (
        [("response: rejected", "response: refused")],
        "response: refused", "decisions[0].response", "'accepted_with_reservations'"),
    "front range the wrong way": (
        [("low_km2: 650", "low_km2: 750")],
        "low_km2: 750", "front[0].low_km2", "low_km2 (750) is above gained_km2 (701)"),
    "front figure as a string": (
        [("gained_km2: 701", 'gained_km2: "701"')],
        "gained_km2:", "front[0].gained_km2", "expected a number"),
    "front month not a month": (
        [("month: 2025-11", "month: 2025-13")],
        "month: 2025-13", "front[0].month", "pattern"),
    "misspelt field": (
        [("weight: 0.5", "wieght: 0.5")],
        "wieght:", "decisions[1].wieght", "unknown field (check the spelling; see docs/observations-format.md)"),
    "source outside the folders": (
        [("path: record.md", "path: ../../../etc/hostname")],
        "path: ../../../etc/hostname", "sources.record.path", "points outside"),
    "missing source file": (
        [("path: record.md", "path: missing.md")],
        "path: missing.md", "sources.record.path", "no file 'missing.md' next to this file"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_gives_one_located_problem(write, alaska, case):
    changes, at, field, message = BAD[case]
    path, text = write(*changes)
    with pytest.raises(ScenarioError) as info:
        load_observations(path, alaska)
    problems = info.value.problems
    assert len(problems) == 1, info.value
    (problem,) = problems
    assert problem.file == str(path)
    assert problem.field == field
    assert problem.line == line_of(text, at), info.value
    assert message in problem.message, problem.message
    assert str(problem).startswith(f"{path}:{problem.line}: {field}: ")


def test_every_problem_is_reported_at_once(write, alaska):
    path, _ = write(("actor: ukraine\n    response: rejected", "actor: ukrain\n    response: rejected"),
                    ("proposal: russia_alaska_offer", "proposal: russia_offer"),
                    ("end: 2025-10-16", "end: 2025-09-01"))
    with pytest.raises(ScenarioError) as info:
        load_observations(path, alaska)
    assert [p.field for p in info.value.problems] == ["decisions[0].proposal", "decisions[0].actor",
                                                      "outcomes[0].end"]


def test_a_missing_scenario_is_reported_at_meta_scenario(write):
    path, text = write((f"scenario: {ALASKA}", "scenario: nowhere.yaml"))
    with pytest.raises(ScenarioError) as info:
        load_observations(path)
    (problem,) = info.value.problems
    assert (problem.field, problem.line) == ("meta.scenario", line_of(text, "scenario: nowhere"))
    assert "no scenario file 'nowhere.yaml'" in problem.message


# --- cutoff ---------------------------------------------------------------------------------------


def test_cutoff_splits_by_date_and_loses_nothing(shipped):
    before, after = shipped.cutoff(dt.date(2025, 10, 20))
    ids = lambda lo: [d.id for d in lo.decisions(include_unscored=True)]  # noqa: E731
    assert sorted(ids(before) + ids(after)) == sorted(ids(shipped))
    assert "d7_russia" in ids(before) and "d7_europe" in ids(after)  # 20 and 21 October
    assert all(d.date <= dt.date(2025, 10, 20) for d in before.decisions(include_unscored=True))
    # The Istanbul pause ended on 16 October, the Budapest one not until 20 November.
    assert [o.id for o in before.outcomes()] == ["no_deal_at_alaska", "istanbul_pause"]
    assert "budapest_cancelled" in [o.id for o in after.outcomes()]
    # A month counts once it is over.
    assert [f.month for f in before.front()] == ["2025-08", "2025-09"]
    assert [f.month for f in after.front()] == ["2025-10", "2025-11", "2025-12"]
    assert before.cutoff("2025-10-20")[1].summary().startswith("record_2025: 0 decisions (0 scored)")


@settings(max_examples=100, deadline=None)
@given(day=st.dates(min_value=dt.date(2025, 7, 1), max_value=dt.date(2026, 2, 1)))
def test_cutoff_at_any_date_partitions_the_record(shipped, day):
    before, after = shipped.cutoff(day)
    every = shipped.decisions(include_unscored=True)
    early = before.decisions(include_unscored=True)
    late = after.decisions(include_unscored=True)
    assert {d.id for d in early} | {d.id for d in late} == {d.id for d in every}
    assert not {d.id for d in early} & {d.id for d in late}
    assert all(d.date <= day for d in early) and all(d.date > day for d in late)
    assert len(before.outcomes()) + len(after.outcomes()) == len(shipped.outcomes())
    assert all(o.known_on <= day < p.known_on for o in before.outcomes() for p in after.outcomes())
    assert len(before.front()) + len(after.front()) == len(shipped.front())
