"""`negsim explore`: the knobs and the model behind the page, and the page itself in a real browser.

The browser tests start the explorer as a child process on a free localhost port, drive Debian's
Chromium through Playwright, move a slider, read the printed and the plotted numbers back, and
record every request the page makes: none may leave the machine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest

from sim.errors import ScenarioError, UserError
from sim.explore.knobs import Knob
from sim.explore.model import Explorer, Settings
from sim.jobs import ExecutorSpec, JobSpec, run_job, scenario_with_sets
from sim.simulate import ChunkSpec, simulate_chunk
from tests.conftest import ROOT, TINY

ALASKA = ROOT / "scenarios" / "alaska_2025.yaml"
PREMIUM = "actors.russia.reservation.premium"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def alaska() -> Explorer:
    return Explorer.open(ALASKA)


def _outcomes(game, runs: int, seed: int) -> pd.Series:
    table = simulate_chunk(game, ChunkSpec(seed, 0, (0, runs), False))["runs"].to_pandas()
    return table["outcome"].value_counts().sort_index()


# ------------------------------------------------------------------------------ knobs


def test_every_uncertain_number_has_a_knob_and_every_preference_its_quote(alaska):
    game = alaska.base_game
    uncertain = [p.path for p in game.params] + [p.path for p in game.war.params]
    paths = [k.path for k in alaska.knobs]
    for path in uncertain:  # an uncertain deadline's knob moves its date: `...deadline.date`
        assert any(p == path or p.startswith(path + ".") for p in paths), path
    groups = [k.group for k in alaska.knobs]
    assert list(dict.fromkeys(groups)) == [*game.actor_ids, "war", "talks"]
    preferences = [k for k in alaska.knobs if ".weights." in k.path or ".values." in k.path]
    assert len(preferences) > 200
    assert all(k.citation is not None and len(k.citation.quote.split()) >= 3 for k in preferences)
    premium = alaska.by_path[PREMIUM]
    assert (premium.form, premium.value, premium.spread) == ("mean", 0.16, 0.05)
    assert "strategic initiative" in premium.citation.quote
    assert premium.kind == "judgements" and alaska.by_path["protocol.temperature"].kind == "structural knobs"


@pytest.mark.parametrize("scenario", [ALASKA, ROOT / "scenarios" / "examples" / "three_way_region.yaml"],
                         ids=lambda p: p.stem)
def test_every_knob_accepts_both_ends_of_its_slider(scenario):
    explorer = Explorer.open(scenario)
    for knob in explorer.knobs:
        assert knob.start <= knob.value <= knob.end, knob.path
        for end in (knob.start, knob.end):
            explorer.game(Settings().with_value(knob.path, end))  # raises ScenarioError if refused


def test_a_moved_uncertain_number_keeps_its_spread():
    interval = Knob("actors.x.weights.y", "x", "s", "w", 0.16, 0.04, 0.96, 0.01, form="interval", spread=0.04)
    assert interval.overrides(0.3) == {"actors.x.weights.y": {"low": 0.26, "high": 0.34}}
    mean = Knob("actors.x.reservation.premium", "x", "s", "p", 0.16, -0.5, 0.5, 0.01, form="mean", spread=0.05)
    assert mean.overrides(0.3) == {"actors.x.reservation.premium.mean": 0.3}
    assert mean.show(0.3) == "0.3 ± 0.05"
    date = Knob("actors.x.strategy.deadline.date", "x", "s", "d", 10, 1, 400, 1, form="date",
                as_of=dt.date(2025, 8, 15))
    assert date.overrides(17.4) == {"actors.x.strategy.deadline.date": dt.date(2025, 9, 1)}
    whole = Knob("dynamics.look_ahead_days", "war", "s", "l", 365, 30, 1095, 1, whole=True)
    assert whole.overrides(400.6) == {"dynamics.look_ahead_days": 401}


def test_a_refused_value_is_a_user_error_naming_the_field(alaska):
    with pytest.raises(ScenarioError, match="weights"):
        alaska.game(Settings(values=(("actors.russia.weights.donetsk", -0.5),)))


# ------------------------------------------------------------------------------ the model


def test_untouched_sliders_give_the_numbers_of_negsim_run(alaska):
    outcome = alaska.compute(Settings(runs=150, seed=3))
    _, game = scenario_with_sets(ALASKA)
    expected = _outcomes(game, 150, 3)
    assert {k: v for k, v in outcome.counts.items() if v} == expected.to_dict()
    assert outcome.numbers()["runs"] == "150"


def test_moving_a_slider_changes_the_numbers_and_the_same_seed_repeats_them(alaska):
    base = alaska.compute(Settings(runs=150, seed=1))
    moved = alaska.compute(Settings(runs=150, seed=1).with_value(PREMIUM, 0.45))
    assert moved.numbers()["signed"] != base.numbers()["signed"]
    assert moved.signed[0] < base.signed[0]  # a dearer no-deal makes Russia sign less
    assert moved.zopa_size < base.zopa_size  # and shrinks the zone of agreement
    again = Explorer.open(ALASKA).compute(Settings(runs=150, seed=1).with_value(PREMIUM, 0.45))
    assert again.numbers() == moved.numbers()
    assert again.curve.equals(moved.curve)
    back = alaska.compute(Settings(runs=150, seed=1).with_value(PREMIUM, 0.45).without(PREMIUM))
    assert back.numbers() == base.numbers()
    assert alaska.compute(Settings(runs=150, seed=1)) is base  # remembered, not recomputed


def test_sharing_the_runs_out_on_processes_gives_the_same_numbers(alaska):
    settings = Settings(runs=240, seed=5).with_value(PREMIUM, 0.25)
    with ExecutorSpec(2).open() as pool:
        shared = Explorer.open(ALASKA)
        shared.pool, shared.workers = pool, 2
        outcome = shared.compute(settings)
    alone = alaska.compute(settings)
    assert outcome.numbers() == alone.numbers() and outcome.curve.equals(alone.curve)
    assert (outcome.agreed_utilities == alone.agreed_utilities).all()


def test_pickers_set_the_protocol_and_the_opening_text(alaska):
    pid = alaska.proposals()[1][0]
    game = alaska.game(Settings(protocol="alternating", opening=pid))
    assert game.protocol["kind"] == "alternating" and game.protocol["initial_text"] == pid


def test_the_page_prints_the_command_line_that_reproduces_it(alaska):
    from sim.explore.app import reproduce_command

    settings = (Settings(runs=80, seed=2, protocol="alternating").with_value(PREMIUM, 0.3)
                .with_value("actors.united_states.weights.sanctions_relief", 0.25)
                .with_value("actors.russia.strategy.deadline.date", 120.0))
    args = shlex.split(reproduce_command(alaska, settings))
    assert args[:3] == ["negsim", "run", str(ALASKA)]
    sets = tuple(a for k, a in itertools.pairwise(args) if k == "--set")
    assert "actors.united_states.weights.sanctions_relief={low: 0.21, high: 0.29}" in sets
    assert "actors.russia.strategy.deadline.date=2025-12-13" in sets and "protocol.kind=alternating" in sets
    _, game = scenario_with_sets(ALASKA, sets)
    expected = _outcomes(game, 80, 2)
    assert {k: v for k, v in alaska.compute(settings).counts.items() if v} == expected.to_dict()


def test_the_scenario_page_recomputes_when_a_slider_moves(alaska, monkeypatch):
    import panel as pn

    from sim.explore.app import ScenarioPage

    page = ScenarioPage(alaska, runs=120, seed=0)
    page.layout()
    before = page.numbers.object
    shares = list(page.s_outcomes.data["share"])
    scheduled = []
    monkeypatch.setattr(pn.state, "execute", scheduled.append)  # no server's event loop here: run it below
    page._moved(alaska.by_path[PREMIUM], 0.45)
    page._moved(alaska.by_path[PREMIUM], 0.45)  # a second move while the first waits folds into it
    assert len(scheduled) == 1
    asyncio.run(scheduled[0]())
    assert page.numbers.object != before and list(page.s_outcomes.data["share"]) != shares
    assert 'data-state="ready"' in page.status.object and "0.45 ± 0.05" in page.numbers.object
    page._reset(None)
    assert page.settings.values == () and page.sliders[PREMIUM].value == 0.16
    asyncio.run(scheduled[-1]())
    assert page.numbers.object == before


# ------------------------------------------------------------------------------ results folders


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("explore") / "tiny"
    run_job(JobSpec(kind="run", scenario=str(TINY), runs=30, seed=4, rounds=True), out=out,
            executor=ExecutorSpec(1), progress=False)
    return out


def test_a_results_folder_filters_by_outcome_and_steps_through_a_run(folder):
    from sim.explore.results import ResultsData
    from sim.explore.results_app import ResultsPage

    data = ResultsData.open(folder)
    counts = data.outcome_counts()
    assert sum(counts.values()) == 30
    common = next(iter(counts))
    assert len(data.filter([common])) == counts[common]
    assert len(data.filter([k for k in counts if k != common])) == 30 - counts[common]
    longest = data.runs.sort_values("round").iloc[-1]
    story = data.story(int(longest["run"]))
    rounds = pd.read_parquet(folder / "rounds.parquet")
    assert [r.round for r in story] == sorted(rounds.loc[rounds["run"] == longest["run"], "round"].unique())
    issues = dict(data.issues)
    for r in story:
        assert all(option in issues[i] for i, option in r.text.items())
        assert len(r.actors) == len(data.actor_names)
    page = ResultsPage(data)
    page.layout()
    page.run.value = (0, int(longest["run"]))
    page.step.value = len(story) - 1
    assert f'data-key="round">{story[-1].round}<' in page.view.object
    with pytest.raises(UserError, match="does not exist"):
        ResultsData.open(folder / "nowhere")


def test_a_sweep_folder_offers_its_points_and_a_folder_without_rounds_says_so(tmp_path):
    from sim.explore.results import ResultsData
    from sim.explore.results_app import ResultsPage
    from tests.resultsfactory import make_results

    sweep = ResultsData.open(make_results(tmp_path, n_runs=24, sweep={"actors.beta.reservation.value": [0.3, 0.5]}))
    assert sweep.points() == [0, 1]
    assert set(sweep.filter(point=1)["point"]) == {1}
    last = sweep.filter(point=1).iloc[-1]
    assert sweep.story(int(last["run"]), point=1)[-1].round == int(last["round"])
    page = ResultsPage(sweep)
    page.layout()
    assert page.point.visible and all(point == 0 for point, _ in page.run.options.values())
    page.point.value = 1
    assert all(point == 1 for point, _ in page.run.options.values())
    bare = ResultsData.open(make_results(tmp_path, n_runs=6, with_rounds=False, name="bare"))
    assert not bare.has_rounds and bare.story(0) == []
    page = ResultsPage(bare)
    assert "no rounds table" in page.layout().objects[0].object and "no rounds recorded" in page.view.object


# ------------------------------------------------------------------------------ the command


def test_the_command_listens_on_localhost_by_default_and_refuses_bad_input(tmp_path, capsys):
    import argparse

    from sim.cli.explore import add_parser, main
    from sim.explore.serve import _origins

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["explore", str(ALASKA)])
    assert (args.host, args.port, args.browser, args.runs, args.seed, args.workers) == ("127.0.0.1", 5006, True,
                                                                                       500, 0, 1)
    with pytest.raises(SystemExit):
        parser.parse_args(["explore", str(ALASKA), "--port", "70000"])
    assert _origins("127.0.0.1", 5111) == ["127.0.0.1:5111", "localhost:5111"]
    assert main([str(tmp_path / "missing.yaml"), "--no-browser"]) == 2
    assert "no such scenario file or results folder" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("meta: {name: x}\n")
    assert main([str(bad), "--no-browser"]) == 2


# ------------------------------------------------------------------------------ in a real browser


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium (Debian package `chromium`; .ci/run installs it)")
    playwright = pytest.importorskip("playwright.sync_api", reason="needs the Python package playwright")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@contextmanager
def _explorer(target: Path, *options: str):
    """`negsim explore TARGET` in a child process on a free port; yields the URL it prints.

    BOKEH_RESOURCES=cdn would make a Bokeh server page load its scripts from a CDN; the explorer
    must serve them itself regardless.
    """
    # stderr goes to a file, not a pipe: a pipe nobody reads would stall the server once full.
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen([sys.executable, "-m", "sim.cli.explore", str(target), "--port", "0",
                                 "--no-browser", *options], cwd=ROOT, stdout=subprocess.PIPE, stderr=errors,
                                text=True, env=os.environ | {"BOKEH_RESOURCES": "cdn"})
        found: list[str] = []
        ready = threading.Event()

        def read() -> None:
            for line in proc.stdout:
                if "serving http" in line:
                    found.append(line.split("serving ", 1)[1].split()[0])
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        try:
            ready.wait(90)
            if not found:
                errors.seek(0)
                pytest.fail(f"the explorer did not start (exit status {proc.poll()}):\n{errors.read()}")
            yield found[0]
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _record(context) -> list[str]:
    """Every URL the pages of `context` ask for (documents, scripts, styles, fetches, websockets)."""
    urls: list[str] = []
    context.on("request", lambda request: urls.append(request.url))
    context.on("page", lambda page: page.on("websocket", lambda ws: urls.append(ws.url)))
    # Anything bound elsewhere is stopped here as well as reported below, so a failure cannot hang.
    context.route(lambda url: not _local(url), lambda route: route.abort())
    return urls


def _local(url: str) -> bool:
    if url.startswith(("data:", "about:")):
        return True
    return urlsplit(url.removeprefix("blob:")).hostname in ("127.0.0.1", "localhost")


def _assert_stayed_local(urls: list[str]) -> None:
    assert urls, "no request was recorded"
    assert any(u.startswith("ws://") for u in urls), "the page never opened its websocket"
    assert [u for u in urls if not _local(u)] == []


def test_moving_a_slider_in_the_browser_changes_the_plotted_and_printed_numbers(browser):
    from playwright.sync_api import expect

    with _explorer(ALASKA, "--runs", "200") as url:
        context = browser.new_context(viewport={"width": 1600, "height": 1100})
        urls = _record(context)
        page = context.new_page()
        page.goto(url)
        agreement, signed = page.locator("[data-key=agreement]"), page.locator("[data-key=signed]")
        expect(page.locator(".negsim-status")).to_have_attribute("data-state", "ready", timeout=60_000)
        # "ready" can arrive before the first numbers do (they come in their own message): wait for them.
        expect(agreement).to_have_text(re.compile(r"%$"), timeout=30_000)
        expect(signed).to_have_text(re.compile(r"%$"), timeout=30_000)
        printed = (agreement.inner_text(), signed.inner_text())
        plotted = page.evaluate("() => Array.from(Bokeh.documents[0].get_model_by_name('negsim-outcomes').data.share)")
        handle = page.locator(f".knob-{PREMIUM.replace('.', '-')} .noUi-handle")
        handle.focus()
        handle.press("End")  # the premium's top, 0.5: Russia holds out for much more
        # The status, the printed numbers and the plot's data source reach the browser in separate
        # messages (and the text may be blank between two): poll until all of them show the new run.
        # (Panel renders into shadow roots, which Playwright's locators pierce and page scripts do not.)
        model = "Bokeh.documents[0].get_model_by_name('negsim-outcomes').data"
        status = page.locator(".negsim-status")

        def settled():
            after = page.evaluate(f"() => Array.from({model}.share)")
            labels = page.evaluate(f"() => Array.from({model}.label)")
            texts = agreement.inner_text(), signed.inner_text()
            done = (status.get_attribute("data-state") == "ready" and texts[1].endswith("%")
                    and texts[1] != printed[1] and after != plotted
                    and texts[0] == f"{after[labels.index('agreement')]:.1%}")
            return done, after, labels, texts

        deadline = time.monotonic() + 30
        while not (state := settled())[0] and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        # Judged on one reading of the page: read again, a text can be blank between two messages.
        done, after, labels, texts = state
        assert done, (printed, texts, plotted, after)
        assert after != plotted
        # The bars draw the numbers the page prints.
        assert f"{after[labels.index('agreement')]:.1%}" == texts[0]
        assert float(texts[1].rstrip("%")) < float(printed[1].rstrip("%"))
        expect(page.get_by_text(f"--set {PREMIUM}.mean=0.5")).to_be_visible()
        context.close()
    _assert_stayed_local(urls)


def test_a_results_folder_in_the_browser_filters_runs_and_steps_through_rounds(browser, folder):
    from playwright.sync_api import expect

    from sim.explore.model import OUTCOMES
    from sim.explore.results import ResultsData

    data = ResultsData.open(folder)
    counts = data.outcome_counts()
    common = next(iter(counts))
    longest = data.filter([k for k in counts if k != common] or None).sort_values("round").iloc[-1]
    with _explorer(folder) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        urls = _record(context)
        page = context.new_page()
        page.goto(url)
        listed = page.locator("[data-key=listed]")
        expect(listed).to_have_text("30", timeout=60_000)
        if len(counts) > 1:
            page.get_by_role("button", name=f"{OUTCOMES.get(common, common)} ({counts[common]})").click()
            expect(listed).to_have_text(str(30 - counts[common]))
        page.locator(".negsim-run-picker select").select_option(label=data.label(longest))
        expect(page.locator("[data-key=round]")).to_have_text("0")
        if int(longest["round"]) > 0:
            page.locator(".negsim-player button.next").click()
            expect(page.locator("[data-key=round]")).to_have_text("1")
            expect(page.locator("[data-key=date]")).to_have_text(data.date_of(1))
        context.close()
    _assert_stayed_local(urls)
