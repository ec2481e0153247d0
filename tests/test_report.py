"""The HTML report: key numbers, embedded figures, escaped text, no outside resources, and it renders."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import plots, report
from sim.errors import UserError
from tests.resultsfactory import (
    TINY_YAML,
    make_results,
    sensitivity_data,
    write_analysis,
    write_leverage,
    write_sensitivity,
)

CHROMIUM = Path("/usr/bin/chromium")
SOURCE_URL = "https://example.org/notes?a=1&b=2"
NASTY = '<script>alert("x")</script> & "Ukraine\'s" <b>line</b>'


def _scenario_copy(folder: Path) -> Path:
    """tiny.yaml with hostile text in the description and a quote, and a source with a URL."""
    folder.mkdir(parents=True, exist_ok=True)
    text = TINY_YAML.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^  description: .*$", f"  description: {json.dumps(NASTY)}", text)
    text = text.replace("    path: tiny_source.txt", f"    path: tiny_source.txt\n    url: {SOURCE_URL}")
    text = text.replace("quote: alpha can fight on", f"quote: {json.dumps(NASTY)}")
    path = folder / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    # The loader checks every quote against the local source file, so the source says it too.
    source = (TINY_YAML.parent / "tiny_source.txt").read_text(encoding="utf-8")
    (folder / "tiny_source.txt").write_text(source + "\n" + NASTY + "\n", encoding="utf-8")
    return path


def _point_manifest_at(results: Path, scenario: Path, **extra) -> dict:
    manifest = json.loads((results / "manifest.json").read_text(encoding="utf-8"))
    manifest["scenario"].update(path=str(scenario), sha256=hashlib.sha256(scenario.read_bytes()).hexdigest())
    manifest["scenario"].pop("description", None)  # from the scenario file, then
    manifest.update(extra)
    (results / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """A sweep with sensitivity, analysis and leverage, its scenario file present: every figure, one report."""
    tmp = tmp_path_factory.mktemp("report")
    folder = make_results(tmp, n_runs=80, seed=3, sweep={"actors.beta.reservation.value": [0.3, 0.5]})
    write_sensitivity(folder, noisy=True)
    write_analysis(folder)
    write_leverage(folder)
    _point_manifest_at(folder, _scenario_copy(tmp / "scenario"))
    path = report.write_report(folder)
    return folder, path, path.read_text(encoding="utf-8")


@pytest.fixture
def no_figures(monkeypatch):
    """Reports without drawing: for tests about the text around the figures."""
    from sim.plots import driver

    monkeypatch.setattr(driver, "plans_for", lambda data: [])


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(text):
    parser = _Collect()
    parser.feed(text)
    return parser.tags


def test_report_is_written_to_the_results_folder_by_default(full):
    folder, path, text = full
    assert path == folder / "report.html"
    assert text.startswith("<!DOCTYPE html>")


def test_report_states_the_key_numbers(full):
    folder, _, text = full
    runs = pd.read_parquet(folder / "runs.parquet")
    n = len(runs)
    agreed = runs[runs["outcome"] == "agreement"]
    from sim.results import wilson_interval

    lo, hi = wilson_interval(len(agreed), n)
    assert f"Agreement in {len(agreed):,} of {n:,} runs: {len(agreed) / n:.1%}" in text
    assert f"95% Wilson interval {lo:.1%}–{hi:.1%}" in text
    assert "pooled over 2 parameter points" in text
    for kind in plots.OUTCOMES:
        count = int((runs["outcome"] == kind).sum())
        label = html.escape(plots.OUTCOME_LABELS[kind], quote=True)
        assert re.search(rf"<td>{re.escape(label)}</td><td class='num'>{count:,}</td>", text)
    assert f"Median round of agreement: <b>{np.median(agreed['round']):.0f}</b>" in text
    top = agreed["nearest_proposal"].value_counts()
    names = {"split": "Split the difference", "maximal": "Beta&#x27;s maximum"}
    assert f"<td>{names[top.index[0]]}</td><td class='num'>{top.iloc[0]:,}</td>" in text
    for actor in ("alpha", "beta", "gamma"):
        assert f"<td class='num'>{agreed[f'utility_{actor}'].mean():.3f}</td>" in text
    assert "Sobol indices of the agreement rate" in text and "sampling noise" in text
    assert "Kalai–Smorodinsky" in text


def test_mean_utility_over_all_runs_counts_a_run_without_agreement_at_its_reservation_value(tmp_path, no_figures):
    from sim.results.summary import PAYOFF_RULE, run_payoffs

    folder = make_results(tmp_path, n_runs=40, seed=5)
    runs = pd.read_parquet(folder / "runs.parquet")
    agreed = runs["outcome"] == "agreement"
    # As in real runs, `utility_` holds the last text on the table even where nobody signed it.
    for actor in ("alpha", "beta", "gamma"):
        runs.loc[~agreed, f"utility_{actor}"] = 0.99
    runs.to_parquet(folder / "runs.parquet", index=False)
    text = report.build_report(folder)
    nums = report.key_numbers(json.loads((folder / "manifest.json").read_text(encoding="utf-8")), runs)
    for actor in ("alpha", "beta", "gamma"):
        rule = np.where(agreed, runs[f"utility_{actor}"], runs[f"reservation_{actor}"]).mean()
        assert nums["utilities"][actor]["all"] == pytest.approx(rule)
        assert rule == pytest.approx(run_payoffs(runs[f"utility_{actor}"], runs[f"reservation_{actor}"], agreed).mean())
        assert rule != pytest.approx(runs[f"utility_{actor}"].mean())
        assert (f"<td class='num'>{runs.loc[agreed, f'utility_{actor}'].mean():.3f}</td>"
                f"<td class='num'>{rule:.3f}</td>") in text
    assert html.escape(PAYOFF_RULE, quote=True) in text  # the rule it computes is the rule it states


def test_report_defines_every_term_it_uses(full):
    folder, _, text = full
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    terms = report.definitions(manifest, sweep=True, sensitivity=True, analysis=True, discovery=True, leverage=True)
    assert "<h2>Definitions</h2>" in text
    for term, meaning in terms:
        assert f"<dt>{html.escape(term, quote=True)}</dt><dd>{html.escape(meaning, quote=True)}</dd>" in text
    names = {term for term, _ in terms}
    # The terms behind every number of the page, and those of its sweep, sensitivity and deal-space sections.
    assert {"agreement", "partial deal", "agreement rate", "95% Wilson interval", "agreement by a date",
            "median round of agreement", "nearest named proposal", "reservation value", "mean utility in agreements",
            "mean utility over all runs", "pooled", "Sobol first-order index", "Sobol total index",
            "95% bootstrap interval", "converged", "zone of possible agreement", "refused proposal",
            "scenario discovery", "point of interest", "PRIM box", "coverage", "density", "support",
            "p-value of a restriction", "leverage", "weight factor", "position step", "paired change"} <= names
    plain = report.definitions({"max_rounds": 20})
    assert not {"pooled", "Sobol total index", "zone of possible agreement", "PRIM box", "paired change",
                "converged"} & {term for term, _ in plain}


def test_report_refuses_sensitivity_of_another_scenario_and_labels_an_unnamed_one(tmp_path, no_figures):
    folder = make_results(tmp_path, n_runs=10)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**sensitivity_data(), "scenario": "alaska_2025"}), encoding="utf-8")
    with pytest.raises(UserError, match="'alaska_2025'.*'tiny'"):
        report.write_report(folder, sensitivity=other)
    assert not (folder / "report.html").exists()
    same = tmp_path / "same.json"
    same.write_text(json.dumps({**sensitivity_data(), "scenario": "tiny"}), encoding="utf-8")
    text = report.build_report(folder, same)
    assert f"From <code>{same}</code>, computed on scenario <code>tiny</code> (64 base points" in text
    assert "Warning" not in text
    unnamed = tmp_path / "unnamed.json"
    unnamed.write_text(json.dumps(sensitivity_data()), encoding="utf-8")
    text = report.build_report(folder, unnamed)
    assert ("<p class='warn'>Warning: the sensitivity file does not name its scenario, so it may not be of "
            "&#x27;tiny&#x27;.</p>") in text


def test_report_embeds_every_figure_as_a_png_data_uri(full):
    folder, _, text = full
    images = [attrs for tag, attrs in _tags(text) if tag == "img"]
    assert len(images) == len(plots.FIGURES)
    for attrs in images:
        src = attrs["src"]
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
        assert attrs.get("alt")
    ids = [attrs["id"] for tag, attrs in _tags(text) if tag == "figure"]
    assert ids == [f"fig-{stem}" for stem in plots.FIGURES]  # the registry's figures, in its order
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", text)
    assert captions == [html.escape(entry.caption, quote=True) for entry in plots.FIGURES.values()]
    assert [attrs["alt"] for attrs in images] == [entry.caption for entry in plots.FIGURES.values()]


def test_report_loads_nothing_from_outside_and_links_only_sources(full):
    _, _, text = full
    for tag, attrs in _tags(text):
        assert tag not in {"link", "script", "iframe", "object", "embed", "base"}
        if "src" in attrs:
            assert attrs["src"].startswith("data:"), (tag, attrs["src"][:40])
        if "href" in attrs:
            assert tag == "a" and attrs["href"] == SOURCE_URL
        assert "url(" not in attrs.get("style", "")
    style = re.search(r"<style>(.*?)</style>", text, re.S).group(1)
    assert "url(" not in style and "@import" not in style and "http" not in style
    # Outside the source links, no http address appears anywhere.
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) <= {SOURCE_URL.replace("&", "&amp;")}


def test_report_escapes_text_from_files_and_shows_the_scenario_with_sources(full):
    _, _, text = full
    assert "<script>" not in text and "<b>line</b>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;Ukraine&#x27;s&quot;" in text
    assert text.count("&lt;script&gt;") >= 2  # the description and the quote
    assert f"<a href=\"{SOURCE_URL.replace('&', '&amp;')}\">" in text
    for heading in ("Actors", "Issues", "Named proposals", "Assumptions, with their sources", "Sources"):
        assert f"<h3>{heading}</h3>" in text
    assert "0.30–0.50 (uniform)" in text  # beta's uncertain reservation value
    assert "unchanged since the run" in text


def test_report_says_how_to_reproduce(full):
    folder, _, text = full
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert "<pre>negsim run tiny.yaml --runs 80 --seed 3</pre>" in text
    assert f"<pre>negsim rerun {folder}</pre>" in text
    assert f"<th>seed</th><td><code>{manifest['seed']}</code></td>" in text
    assert manifest["scenario"]["sha256"] in text


def test_report_leaves_out_a_changed_or_missing_scenario(tmp_path, no_figures):
    folder = make_results(tmp_path, n_runs=10)
    scenario = _scenario_copy(tmp_path / "scenario")
    _point_manifest_at(folder, scenario)
    scenario.write_text(scenario.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    text = report.build_report(folder)
    assert "has changed since the run" in text and "<h3>Actors</h3>" not in text
    assert "Actors: Alpha (signatory), Beta (signatory), Gamma (mediator)." in text
    scenario.unlink()
    assert "no longer where the run found it" in report.build_report(folder)


def test_report_of_an_incomplete_run_with_a_string_command_and_no_runs(tmp_path, no_figures):
    folder = make_results(tmp_path, n_runs=0)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(status="incomplete", command="negsim run x.yaml --seed 1")
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    text = report.build_report(folder)
    assert "<b>incomplete</b>" in text and "holds no runs" in text
    assert "<pre>negsim run x.yaml --seed 1</pre>" in text


def test_report_command_line(tmp_path, no_figures, capsys):
    folder = make_results(tmp_path, n_runs=10)
    from sim.cli import main

    out = tmp_path / "to send" / "tiny.html"
    assert main(["report", str(folder), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(UserError, match="is a folder"):
        report.write_report(folder, out=tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        report.write_report(tmp_path / "nowhere")
    with pytest.raises(UserError, match="is a file"):
        report.write_report(folder / "manifest.json")


# ------------------------------------------------------------------------------ rendering

_CHECK = """<script>
window.addEventListener("load", function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++;
  document.documentElement.setAttribute("data-images", ok + "/" + imgs.length);
});
</script>"""


def _chromium(tmp_path, *args):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (Debian package `chromium`)")
def test_report_renders_in_headless_chromium_with_every_image_decoded(full, tmp_path):
    from PIL import Image

    folder, path, text = full
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", path.resolve().as_uri())
    assert shot.is_file(), "chromium wrote no screenshot"
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2000, 1280)
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.005, "the screenshot is blank"
    # A copy with a check script (the report itself has none) counts the images that decoded.
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", _CHECK + "</body>"), encoding="utf-8")
    dom = _chromium(tmp_path, "--dump-dom", "--virtual-time-budget=5000", probe.as_uri()).stdout
    found = re.search(r'data-images="(\d+)/(\d+)"', dom)
    assert found, "the check script did not run"
    assert found.group(1) == found.group(2) == str(len(plots.FIGURES))


def test_report_includes_a_sensitivity_file_kept_elsewhere(tmp_path, no_figures):
    folder = make_results(tmp_path, n_runs=10)
    assert "<h2>Sensitivity</h2>" not in report.build_report(folder)
    data = sensitivity_data()
    data["outputs"]["agreement_rate"]["total"]["actors.alpha.weights.north"] = None
    sobol = tmp_path / "sobol.json"
    sobol.write_text(json.dumps(data), encoding="utf-8")
    from sim.cli import main

    assert main(["report", str(folder), "--sensitivity", str(sobol)]) == 0
    text = (folder / "report.html").read_text(encoding="utf-8")
    assert "<h2>Sensitivity</h2>" in text
    assert "<td class='num'>0.500</td><td class='num'>0.600</td>" in text  # beta's reservation value
    assert "<td class='num'>0.250</td><td class='num'>–</td>" in text  # a missing estimate
    with pytest.raises(UserError, match="--sensitivity"):
        report.write_report(folder, sensitivity=tmp_path / "missing.json")


# ------------------------------------------------------------------------------ insight sections


def _section(text: str, heading: str) -> str:
    start = text.index(f"<h2>{heading}</h2>")
    return text[start:text.index("<h2>", start + 4)]


def _cells(section: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", section, flags=re.S)
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r)]
            for r in rows]


def test_report_tables_the_discovery_boxes_of_a_sensitivity_design(tmp_path, no_figures):
    from sim.insight.figdata import folder_discovery
    from sim.plots.style import parameter_label

    folder = make_results(tmp_path, n_runs=10)
    write_sensitivity(folder, samples=True)
    text = report.build_report(folder)
    section = _section(text, "Scenario discovery")
    result = folder_discovery(folder / "sensitivity.json")
    rates = np.array(sensitivity_data(samples=True)["samples"]["agreement_rate"])
    assert result["threshold"] == pytest.approx(np.median(rates))
    assert f"at least {100 * result['threshold']:.3g}%, the median over the 128 points" in section
    assert f"{result['of_interest']:,} of them are" in section
    rows = _cells(section)
    assert rows[0] == ["box", "input", "the box keeps", "sampled", "p-value", "coverage", "density", "support"]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    expected = []
    for k, box in enumerate(result["prim"]):
        for j, item in enumerate(box["restrictions"]):
            d_lo, d_hi = item["data"]
            kept = (f"{item['low']:.3g} to {item['high']:.3g}" if d_lo < item["low"] and item["high"] < d_hi
                    else f"≥ {item['low']:.3g}" if d_lo < item["low"] else f"≤ {item['high']:.3g}")
            row = [f"{parameter_label(item['input'], manifest)} {item['input']}", kept,
                   f"{d_lo:.3g} to {d_hi:.3g}", f"{item['p_value']:.2g}"]
            if j == 0:
                row = [str(k + 1), *row, f"{box['coverage']:.1%}", f"{box['density']:.1%}",
                       f"{box['support']:.1%} ({box['points']} points)"]
            expected.append(row)
    assert rows[1:] == expected and expected
    assert "negsim discover" in section and "Definitions" in text and "<dt>PRIM box</dt>" in text


def test_report_of_a_sweep_without_a_varying_rate_says_so_and_a_plain_run_has_no_discovery(tmp_path, no_figures):
    flat = make_results(tmp_path, n_runs=40, sweep={"actors.beta.reservation.value": [0.3, 0.4, 0.5, 0.6]},
                        outcomes=["open"], name="flat")
    section = _section(report.build_report(flat), "Scenario discovery")
    assert "0% at every one of the 4 points" in section and "no range of inputs stands out" in section
    assert "<table>" not in section
    plain = report.build_report(make_results(tmp_path, n_runs=10, name="plain"))
    assert "Scenario discovery" not in plain and "<h2>Leverage</h2>" not in plain
    assert "<dt>PRIM box</dt>" not in plain and "<dt>paired change</dt>" not in plain


def test_report_shows_the_leverage_table(full):
    folder, _, text = full
    lever = json.loads((folder / "leverage.json").read_text(encoding="utf-8"))
    rows = _cells(_section(text, "Leverage"))
    assert rows[0][:5] == ["step", "weight or values", "full agreement (95% interval)",
                           "change, points (95% interval)", "runs gained / lost"]

    def rate(c):
        return f"{c['rate']:.1%} ({c['low']:.1%}–{c['high']:.1%})"

    def change(c):
        return f"{100 * c['change']:+.1f} ({100 * c['change_low']:+.1f} to {100 * c['change_high']:+.1f})"

    base, *steps = lever["steps"]
    assert rows[1][0] == "as in the scenario" and rows[1][2:] == [rate(base["agreement"]), "reference", "",
                                                                  rate(base["signed"]), "reference"]
    by_label = {r[0]: r for r in rows[2:]}
    for step in steps:
        label = (f"weight × {step['step']:g}" if step["kind"] == "weight" else
                 f"position: hardens {abs(step['step']):.0%}" if step["step"] < 0 else
                 f"position: {step['step']:.0%} towards the others")
        a = step["agreement"]
        assert by_label[label][2:] == [rate(a), change(a), f"{a['gained']} / {a['lost']}", rate(step["signed"]),
                                       change(step["signed"])]
    assert [r[0] for r in rows[2:]] == ["weight × 0.5", "weight × 2", "position: hardens 50%",
                                        "position: 50% towards the others"]
    assert "<dt>paired change</dt>" in text and '<figure id="fig-leverage">' in text


def test_report_gives_sobol_intervals_and_the_convergence_verdict(full):
    _, _, text = full
    section = _section(text, "Sensitivity")
    data = sensitivity_data(noisy=True)
    rows = _cells(section)
    assert rows[0] == ["parameter", "first-order", "total", "first-order, 95% interval", "total, 95% interval"]
    block = data["outputs"]["agreement_rate"]
    for row in rows[1:]:
        path = row[0].split()[-1]
        low, high = block["first_order_ci"][path]
        t_low, t_high = block["total_ci"][path]
        assert row[3:] == [f"{low:.2f} to {high:.2f}", f"{t_low:.2f} to {t_high:.2f}"]
    assert "Convergence (1,000 bootstrap resamples): <b>not converged</b>" in section
    assert "agreement rate: intervals up to 0.17 wide" in section and "--points" in section
