"""The figures show what the results say: counts, colours, markers and curves, not pixels."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from unittest import mock

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from matplotlib.text import Text

from sim import plots
from sim.errors import UserError
from sim.plots import driver
from sim.plots.load import FolderData, read_folder
from sim.plots.registry import FIGURES, NEEDS, FigureEntry
from tests.resultsfactory import (
    ACTORS,
    MAX_ROUNDS,
    analysis_data,
    leverage_data,
    make_results,
    sensitivity_data,
    write_analysis,
    write_leverage,
    write_sensitivity,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def results(tmp_path):
    return make_results(tmp_path, n_runs=40, seed=1)


@pytest.fixture
def loaded(results):
    return plots.load_results(results)


def _ax(fig, gid):
    found = [ax for ax in fig.axes if ax.get_gid() == gid]
    assert len(found) == 1, f"expected one axes {gid!r}, got {[a.get_gid() for a in fig.axes]}"
    return found[0]


def _texts(fig):
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts]
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        out += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    if fig._suptitle is not None:
        out.append(fig._suptitle.get_text())
    return out


def _legends_outside(fig):
    """No legend overlaps the data area of any axes."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        box = legend.get_window_extent(renderer)
        for other in fig.axes:
            assert not box.overlaps(other.get_window_extent(renderer)), "legend covers data"


def _drawn_texts(fig):
    """Every text the canvas actually draws (a non-empty string, visible), with its extent in pixels."""
    drawn = {}
    original = Text.draw

    def record(self, renderer):
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            drawn[id(self)] = self

    with mock.patch.object(Text, "draw", record):
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [(t, t.get_window_extent(renderer)) for t in drawn.values()]


def _layout_problems(fig):
    """Texts that leave the canvas, and pairs of texts that overlap: empty when every text can be read."""
    canvas = fig.bbox
    texts = _drawn_texts(fig)
    problems = [f"outside the canvas: {t.get_text()!r}" for t, box in texts
                if box.x0 < canvas.x0 - 1 or box.y0 < canvas.y0 - 1 or box.x1 > canvas.x1 + 1
                or box.y1 > canvas.y1 + 1]
    for i, (a, box_a) in enumerate(texts):
        for b, box_b in texts[i + 1:]:
            # A pixel of contact is kerning, not an overlap anyone sees.
            if box_a.overlaps(box_b.padded(-1.5)):
                problems.append(f"overlap: {a.get_text()!r} and {b.get_text()!r}")
    return problems


# ------------------------------------------------------------------------------ loading


def test_load_results_reads_all_three_tables(results):
    manifest, runs, rounds = plots.load_results(results)
    assert manifest["runs"] == 40 and len(runs) == 40
    assert rounds is not None and set(rounds["actor"]) == set(ACTORS)


def test_load_results_without_rounds_gives_none(tmp_path):
    _, _, rounds = plots.load_results(make_results(tmp_path, n_runs=5, with_rounds=False))
    assert rounds is None


@pytest.mark.parametrize("remove, needle", [(None, "does not exist"), ("manifest.json", "manifest.json"),
                                            ("runs.parquet", "runs.parquet")])
def test_load_results_missing_pieces_are_user_errors(tmp_path, remove, needle):
    if remove is None:
        target = tmp_path / "nowhere"
    else:
        target = make_results(tmp_path, n_runs=3)
        (target / remove).unlink()
    with pytest.raises(UserError, match=needle) as info:
        plots.load_results(target)
    assert "\n" not in str(info.value)


def test_load_results_bad_manifest_is_a_user_error(results):
    (results / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(UserError, match="JSON"):
        plots.load_results(results)


# ------------------------------------------------------------------------------ colours


def test_actor_colours_known_ids_are_fixed_and_distinct():
    ids = ["ukraine", "russia", "united_states", "europe"]
    colours = plots.actor_colours(ids)
    assert colours == {k: plots.KNOWN_ACTOR_COLOURS[k] for k in ids}
    assert len(set(colours.values())) == 4


def test_actor_colours_fallback_is_deterministic_distinct_and_order_free():
    ids = ["zeta", "alpha", "russia", *[f"x{i}" for i in range(20)]]
    a = plots.actor_colours(ids)
    b = plots.actor_colours(list(reversed(ids)))
    assert a == b
    assert len(set(a.values())) == len(ids)
    assert a["russia"] == plots.KNOWN_ACTOR_COLOURS["russia"]
    assert all(mcolors.is_color_like(c) for c in a.values())


# ------------------------------------------------------------------------------ outcomes


def test_outcome_bars_match_the_runs_table(loaded):
    manifest, runs, _ = loaded
    fig = plots.outcome_figure(manifest, runs)
    ax = _ax(fig, "outcomes")
    labels = [t.get_text().lower() for t in ax.get_yticklabels()]
    widths = [p.get_width() for p in ax.containers[0]]
    expected = runs["outcome"].value_counts()
    for kind in plots.OUTCOMES:
        i = next(j for j, lab in enumerate(labels) if lab.startswith(kind))
        assert widths[i] == expected.get(kind, 0)
    assert sum(widths) == len(runs)
    share = expected["agreement"] / len(runs)
    assert any(f"{expected['agreement']} ({share:.0%})" in t for t in _texts(fig))


def test_deal_families_use_proposal_names_and_count_agreements(loaded):
    manifest, runs, _ = loaded
    fig = plots.outcome_figure(manifest, runs)
    ax = _ax(fig, "families")
    labels = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]
    names = {p["id"]: p["name"] for p in manifest["proposals"]}
    assert labels == list(names.values())
    agreed = runs[runs["outcome"] == "agreement"]
    counts = agreed["nearest_proposal"].value_counts()
    widths = [p.get_width() for p in ax.containers[0]]
    assert widths == [counts.get(pid, 0) for pid in names]
    assert sum(widths) == len(agreed)


def test_outcome_figure_with_a_single_outcome_kind(tmp_path):
    manifest, runs, _ = plots.load_results(make_results(tmp_path, n_runs=7, outcomes=["open"]))
    fig = plots.outcome_figure(manifest, runs)
    widths = [p.get_width() for p in _ax(fig, "outcomes").containers[0]]
    assert sorted(widths) == [0, 0, 0, 0, 7]
    assert any("no agreements" in t for t in _texts(fig))


# ------------------------------------------------------------------------------ utilities


def test_utility_boxes_use_actor_colours_and_reservations_sit_at_medians(loaded):
    manifest, runs, _ = loaded
    fig = plots.utility_figure(manifest, runs)
    ax = _ax(fig, "utilities")
    colours = plots.actor_colours([a["id"] for a in manifest["actors"]])
    agreed = runs[runs["outcome"] == "agreement"]
    for actor, colour in colours.items():
        (box,) = [p for p in ax.patches if p.get_gid() == f"box:{actor}"]
        assert mcolors.same_color(box.get_facecolor(), colour)
        violins = [c for c in ax.collections if c.get_gid() == f"violin:{actor}"]
        assert all(mcolors.same_color(v.get_facecolor()[0][:3], colour) for v in violins)
        (line,) = [ln for ln in ax.lines if ln.get_gid() == f"reservation:{actor}"]
        assert np.allclose(line.get_ydata(), agreed[f"reservation_{actor}"].median())
    assert "agreements only" in fig._suptitle.get_text()
    assert [t.get_text() for t in ax.get_xticklabels()] == list(ACTORS.values())
    _legends_outside(fig)


def test_utility_figure_without_agreements_uses_all_runs(tmp_path):
    manifest, runs, _ = plots.load_results(make_results(tmp_path, n_runs=6, outcomes=["breakdown", "open"]))
    fig = plots.utility_figure(manifest, runs)
    assert "all 6 runs" in fig._suptitle.get_text()
    ax = _ax(fig, "utilities")
    (line,) = [ln for ln in ax.lines if ln.get_gid() == "reservation:beta"]
    assert np.allclose(line.get_ydata(), runs["reservation_beta"].median())


def test_utility_figure_with_one_actor(tmp_path):
    manifest, runs, _ = plots.load_results(make_results(tmp_path, n_runs=5, actors=["alpha"]))
    ax = _ax(plots.utility_figure(manifest, runs), "utilities")
    assert [p.get_gid() for p in ax.patches if (p.get_gid() or "").startswith("box:")] == ["box:alpha"]


# ------------------------------------------------------------------------------ regions


def test_region_stacks_sum_to_the_number_of_agreements(loaded):
    manifest, runs, _ = loaded
    fig = plots.region_figure(manifest, runs)
    ax = _ax(fig, "regions")
    agreed = runs[runs["outcome"] == "agreement"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["North", "South"]
    totals = np.zeros(2)
    for container in ax.containers:
        opt = container.patches[0].get_gid().removeprefix("option:")
        heights = np.array([p.get_height() for p in container])
        assert list(heights) == [(agreed["deal_north"] == opt).sum(), (agreed["deal_south"] == opt).sum()]
        totals += heights
    assert list(totals) == [len(agreed)] * 2
    hist = _ax(fig, "transfers")
    assert sum(p.get_height() for p in hist.patches) == len(agreed)
    assert "km²" in hist.get_xlabel()
    _legends_outside(fig)


def test_region_figure_without_agreements_shows_the_last_text_on_the_table(tmp_path):
    manifest, runs, _ = plots.load_results(make_results(tmp_path, n_runs=4, outcomes=["breakdown"]))
    fig = plots.region_figure(manifest, runs)
    ax = _ax(fig, "regions")
    totals = sum(np.array([p.get_height() for p in c]) for c in ax.containers)
    assert list(totals) == [4, 4]
    assert "last text on the table" in fig._suptitle.get_text()
    assert not _ax(fig, "transfers").patches


# ------------------------------------------------------------------------------ time to agreement


def _drawn_line(ax, gid):
    (line,) = [ln for ln in ax.lines if ln.get_gid() == gid]
    # The last point is a stub past the last round that repeats the final level.
    x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    assert y[-1] == y[-2] and x[-1] > x[-2]
    return x[:-1], y[:-1]


def _band_limits(ax, gid):
    (band,) = [c for c in ax.collections if c.get_gid() == gid]
    ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
    return ys.min(), ys.max()


def test_time_to_agreement_rises_to_the_agreement_share_with_its_wilson_band(loaded):
    from sim.results import wilson_interval

    manifest, runs, _ = loaded
    fig = plots.time_to_agreement_figure(manifest, runs)
    ax = _ax(fig, "agreed")
    x, y = _drawn_line(ax, "agreed")
    assert list(x) == list(range(MAX_ROUNDS))
    agreed = runs[runs["outcome"] == "agreement"]
    assert np.allclose(y, [(agreed["round"] <= r).sum() / len(runs) for r in range(MAX_ROUNDS)])
    assert np.all(np.diff(y) >= 0) and y[-1] == pytest.approx(len(agreed) / len(runs))
    _, high = wilson_interval(len(agreed), len(runs))
    assert _band_limits(ax, "agreed_band") == pytest.approx((0.0, high))
    bottom, top = ax.get_ylim()
    assert bottom == 0 and high <= top <= high * 1.3 + 0.02  # the axis follows the data, not 0-100%
    (end,) = [t for t in ax.texts if t.get_gid() == "agreed_end"]
    assert end.get_text() == f"{len(agreed) / len(runs):.1%} by round {MAX_ROUNDS - 1}"
    # Some runs end in a partial deal, so a second panel, on its own scale, counts the signed runs.
    _, sy = _drawn_line(_ax(fig, "signed"), "signed")
    assert sy[-1] == pytest.approx(runs["outcome"].isin(["agreement", "partial"]).mean())
    assert "round" in ax.get_xlabel() and "agreed" in ax.get_ylabel()
    assert not _layout_problems(fig)


def test_time_to_agreement_is_legible_when_agreement_is_rare(tmp_path):
    mix = ["partial"] * 18 + ["agreement", "open"]
    manifest, runs, _ = plots.load_results(make_results(tmp_path, n_runs=200, outcomes=mix))
    manifest.update(as_of="2025-08-15", round_days=14.0, horizon="2026-05-08")  # 20 rounds of 14 days
    fig = plots.time_to_agreement_figure(manifest, runs)
    agreed, signed = _ax(fig, "agreed"), _ax(fig, "signed")
    assert _drawn_line(agreed, "agreed")[1][-1] == pytest.approx(0.05)
    # 5% agreement gets an axis of its own (not a line along the bottom of a 0-100% axis) ...
    assert agreed.get_ylim()[1] <= 0.2
    # ... while the signed share, 95%, keeps the full height.
    assert signed.get_ylim()[1] == 1.0
    (end,) = [t for t in agreed.texts if t.get_gid() == "agreed_end"]
    assert end.get_text() == "5.0% by 08 May 2026"
    # Ticks on the first of a month, at the round that month starts in (17 days in: round 17/14).
    ticks = [(x, label.get_text()) for x, label in zip(agreed.get_xticks(), agreed.get_xticklabels())]
    assert ticks[0] == (pytest.approx(17 / 14), "Sep\n2025") and len(ticks) <= 4
    assert all(label.split("\n")[0] in ("Sep", "Oct", "Nov", "Dec", "Jan", "Feb", "Mar", "Apr", "May")
               for _, label in ticks)
    assert "14 days" in agreed.get_xlabel()
    assert not _layout_problems(fig)


def test_time_to_agreement_without_any_agreement_says_none(tmp_path):
    manifest, runs, _ = plots.load_results(make_results(tmp_path, n_runs=200, outcomes=["open", "breakdown"]))
    fig = plots.time_to_agreement_figure(manifest, runs)
    ax = _ax(fig, "agreed")
    assert not _drawn_line(ax, "agreed")[1].any()
    # The axis reaches just past the Wilson interval of 0 in 200 (up to 1.9%).
    assert _band_limits(ax, "agreed_band")[1] < ax.get_ylim()[1] <= 0.06
    assert [f.get_gid() for f in fig.axes] == ["agreed"]  # no partial deals: no second panel
    assert any(t.get_text().startswith("none by round") for t in ax.texts)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["agreement", "partial", "breakdown", "open", "suspended"]),
                          st.integers(0, 9)), min_size=1, max_size=30))
def test_agreement_curve_counts_agreements_struck_in_each_round_or_before(rows):
    runs = pd.DataFrame(rows, columns=["outcome", "round"])
    r, share = plots.agreement_curve(runs, max_rounds=10)
    assert list(r) == list(range(10))
    for rr, ss in zip(r, share):
        agreed = ((runs["outcome"] == "agreement") & (runs["round"] <= rr)).sum()
        assert ss == pytest.approx(agreed / len(runs))
    _, still = plots.no_deal_curve(runs, max_rounds=10)
    assert np.allclose(1 - still[1:], share)  # the same count, one round later in rounds completed


def test_agreement_curve_matches_the_reports_agreement_by_date():
    from sim.results import agreement_by_date

    runs = pd.DataFrame({"outcome": ["agreement"] * 3 + ["open"], "round": [0, 2, 5, 19]})
    manifest = {"as_of": "2025-01-01", "round_days": 10.0, "horizon": "2025-07-10", "max_rounds": 20}
    _, share = plots.agreement_curve(runs, 20)
    for date, p, _, _ in agreement_by_date(np.array([0, 2, 5]), 4, manifest):
        day = (pd.Timestamp(date) - pd.Timestamp("2025-01-01")).days
        assert share[min(int(day // 10), 19)] == pytest.approx(p)


# ------------------------------------------------------------------------------ driver


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_plot_results_writes_the_expected_files(results, fmt):
    keep = results / "figures" / "notes.txt"
    keep.parent.mkdir()
    keep.write_text("mine", encoding="utf-8")
    paths = plots.plot_results(results, fmt=fmt)
    names = _figures_without(*EXTRAS)
    assert names == ["outcomes", "utilities", "regions", "time_to_agreement", "trajectory"]
    assert paths == [results / "figures" / f"{n}.{fmt}" for n in names]
    for path in paths:
        assert path.stat().st_size > 1000
    assert keep.read_text(encoding="utf-8") == "mine"
    head = paths[0].read_bytes()[:100]
    assert head.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in paths[0].read_bytes()[:2000]


#: What a plain run's folder lacks: the needs of the figures of sweeps, sensitivity, analysis and leverage.
EXTRAS = ("sweep points", "sensitivity", "analysis frontier", "discovery points", "leverage result")


def _figures_without(*needs: str) -> list[str]:
    """The registry's figures that need none of `needs`, in registry order."""
    return [name for name, entry in FIGURES.items() if not set(entry.needs) & set(needs)]


def _quick_save(monkeypatch):
    """Draw every figure but skip rendering the image file (other tests render them)."""
    drawn = []

    def save(fig, path, fmt, dpi=plots.DPI):
        assert isinstance(fig, Figure)
        drawn.append(path.stem)
        path.write_bytes(b"figure")

    monkeypatch.setattr(driver, "save_figure", save)
    return drawn


def test_plot_results_honours_out_and_rejects_unknown_formats(results, tmp_path, monkeypatch):
    _quick_save(monkeypatch)
    paths = plots.plot_results(results, out=tmp_path / "elsewhere" / "figs")
    assert all(p.parent == tmp_path / "elsewhere" / "figs" and p.exists() for p in paths)
    with pytest.raises(UserError, match="format"):
        plots.plot_results(results, fmt="gif")


def test_plot_results_with_zero_agreements_and_empty_rounds(tmp_path):
    folder = make_results(tmp_path, n_runs=5, outcomes=["breakdown", "suspended", "partial"], empty_rounds=True)
    paths = plots.plot_results(folder)
    assert len(paths) == 4 and all(p.exists() for p in paths)


def test_plot_results_with_no_runs_at_all(tmp_path):
    folder = make_results(tmp_path, n_runs=0)
    paths = plots.plot_results(folder)
    assert [p.stem for p in paths] == _figures_without(*EXTRAS, "rounds table")


def test_every_figure_has_titles_and_labels_and_slide_size(loaded):
    manifest, runs, _ = loaded
    for draw in (plots.outcome_figure, plots.utility_figure, plots.region_figure, plots.time_to_agreement_figure):
        fig = draw(manifest, runs)
        assert tuple(fig.get_size_inches()) == plots.FIGSIZE
        assert "Tiny test scenario" in fig._suptitle.get_text()
        for ax in fig.axes:
            assert ax.get_title() or fig._suptitle.get_text()
            if ax.has_data():
                assert ax.get_xlabel() or ax.get_ylabel()


# ------------------------------------------------------------------------------ sweeps

BETA_RES = "actors.beta.reservation.value"
ALPHA_NORTH = "actors.alpha.weights.north"


def _expected_rates(runs, points, path):
    merged = runs.merge(points, on="point")
    grouped = merged.groupby(path)["outcome"]
    return grouped.apply(lambda s: (s == "agreement").sum()).astype(int), grouped.size()


def _line(ax, gid):
    (line,) = [ln for ln in ax.lines if ln.get_gid() == gid]
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def test_sweep_of_one_parameter_pools_points_and_bands_are_wilson_intervals(tmp_path):
    from sim.results import wilson_interval

    # The second path never changes, so it is no dimension: three values, two points each.
    folder = make_results(tmp_path, n_runs=180, sweep={BETA_RES: [0.3, 0.4, 0.5], ALPHA_NORTH: [2.0, 2.0]})
    manifest, runs, _ = plots.load_results(folder)
    points = plots.load_points(folder)
    assert plots.swept_parameters(manifest, points) == [BETA_RES]
    fig = plots.sweep_figure(manifest, runs, points)
    ax = _ax(fig, "sweep")
    agreed, n = _expected_rates(runs, points, BETA_RES)
    assert list(n) == [60, 60, 60]  # two points of 30 runs pooled per value
    x, y = _line(ax, "agreement_rate")
    assert list(x) == [0.3, 0.4, 0.5]
    assert np.allclose(y, agreed / n)
    bands = [wilson_interval(int(k), int(m)) for k, m in zip(agreed, n)]
    assert np.allclose(_line(ax, "wilson_low")[1], [b[0] for b in bands])
    assert np.allclose(_line(ax, "wilson_high")[1], [b[1] for b in bands])
    assert "reservation value" in ax.get_xlabel() and "%" in ax.get_ylabel()
    # The pooling is said, with its counts.
    assert ax.get_title() == "6 points (grid) × 30 runs; each value pools 2 points (60 runs)"
    # The axis follows the bands, with a margin, instead of always spanning 0-100%.
    bottom, top = ax.get_ylim()
    lows, highs = [b[0] for b in bands], [b[1] for b in bands]
    assert bottom < min(lows) and top > max(highs)
    assert (bottom, top) == pytest.approx(plots.rate_limits([plots.agreement_by_parameter(runs, points, BETA_RES)]))
    _legends_outside(fig)


def test_rate_limits_follow_the_data_with_a_margin_inside_0_and_100_percent():
    narrow = pd.DataFrame({"low": [0.05, 0.06], "high": [0.12, 0.15]})
    bottom, top = plots.rate_limits([narrow])
    assert 0.0 < bottom < 0.05 and 0.15 < top < 0.25
    wide = pd.DataFrame({"low": [0.0, 0.5], "high": [0.4, 1.0]})
    assert plots.rate_limits([wide]) == pytest.approx((-0.01, 1.025))  # a rate of 100% stays off the frame
    assert plots.rate_limits([narrow.iloc[0:0]]) == (0.0, 1.025)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=1, max_size=6))
def test_wilson_interval_of_arrays_is_the_interval_of_each_count(pairs):
    from sim.results import wilson_interval

    ks = [k for k, _ in pairs]
    ns = [k + extra for k, extra in pairs]
    low, high = wilson_interval(np.array(ks), np.array(ns))
    for i, (k, n) in enumerate(zip(ks, ns)):
        one = wilson_interval(k, n)
        assert isinstance(one[0], float) and (low[i], high[i]) == one
        share = k / n if n else 0.0
        assert 0.0 <= one[0] <= share + 1e-12 and share - 1e-12 <= one[1] <= 1.0  # contains the share


def test_wilson_interval_known_values():
    from sim.results import wilson_interval

    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)  # Wilson (1927), z = 1.96
    assert wilson_interval(0, 20) == pytest.approx((0.0, 0.1611), abs=1e-4)


def test_sweep_of_two_parameters_is_a_heatmap_of_agreement_rates(tmp_path):
    folder = make_results(tmp_path, n_runs=240, sweep={BETA_RES: [0.3, 0.4, 0.5], ALPHA_NORTH: [1, 2, 3, 4]},
                          manifest_sweep=False)  # paths from points.parquet alone
    manifest, runs, _ = plots.load_results(folder)
    points = plots.load_points(folder)
    assert "sweep" not in manifest
    fig = plots.sweep_figure(manifest, runs, points)
    ax = _ax(fig, "sweep_heatmap")
    (image,) = ax.images
    merged = runs.merge(points, on="point")
    table = merged.assign(agreed=merged["outcome"] == "agreement").pivot_table(
        index=ALPHA_NORTH, columns=BETA_RES, values="agreed", aggfunc="mean")
    assert np.allclose(np.asarray(image.get_array()), table.to_numpy())
    cells = [t for t in ax.texts if t.get_gid() == "cell_label"]
    assert len(cells) == 12
    assert cells[0].get_text() == f"{table.to_numpy()[0, 0]:.0%}"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.3", "0.4", "0.5"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2", "3", "4"]
    assert ax.get_title() == "12 points, 240 runs; 20 runs per cell"
    assert "Beta: reservation value" in ax.get_xlabel() and "Alpha: weight of North" in ax.get_ylabel()


def test_heatmap_cells_that_pool_points_say_so(tmp_path):
    # The third path never changes: every (beta, alpha) cell holds two points.
    folder = make_results(tmp_path, n_runs=160, sweep={BETA_RES: [0.3, 0.5], ALPHA_NORTH: [1, 2],
                                                       "protocol.temperature": [0.05, 0.05]})
    manifest, runs, _ = plots.load_results(folder)
    points = plots.load_points(folder)
    ax = _ax(plots.sweep_figure(manifest, runs, points), "sweep_heatmap")
    grid = plots.agreement_grid(runs, points, BETA_RES, ALPHA_NORTH)
    assert grid["points"].tolist() == [[2, 2], [2, 2]] and grid["runs"].tolist() == [[40, 40], [40, 40]]
    assert ax.get_title() == "8 points (grid) × 20 runs; each cell pools 2 points (40 runs)"


def test_sweep_of_two_sampled_parameters_shows_every_point_coloured_by_its_rate(tmp_path):
    paths = {BETA_RES: (0.3, 0.5), ALPHA_NORTH: (1.0, 4.0)}
    folder = make_results(tmp_path, n_runs=400, points=40, sample=paths)
    manifest, runs, _ = plots.load_results(folder)
    points = plots.load_points(folder)
    fig = plots.sweep_figure(manifest, runs, points)
    ax = _ax(fig, "sweep_scatter")  # not a grid of bins that would be mostly empty
    (marks,) = [c for c in ax.collections if c.get_gid() == "agreement_rate"]
    merged = runs.merge(points, on="point")
    rates = merged.assign(agreed=merged["outcome"] == "agreement").groupby("point")["agreed"].mean()
    assert np.allclose(marks.get_offsets(), points.set_index("point").loc[rates.index, [BETA_RES, ALPHA_NORTH]])
    assert np.allclose(marks.get_array(), rates.to_numpy())
    # The colour scale ends just above the highest rate, so that low rates still differ in colour.
    assert marks.norm.vmin == 0 and rates.max() <= marks.norm.vmax <= plots.nice_ceiling(rates.max())
    assert ax.get_title() == "40 points (lhs) × 10 runs; one marker per point, 10 runs each (not pooled)"
    assert "Beta: reservation value" in ax.get_xlabel() and "Alpha: weight of North" in ax.get_ylabel()


def test_sweep_of_many_sampled_parameters_has_one_binned_panel_each(tmp_path):
    paths = {BETA_RES: (0.3, 0.5), ALPHA_NORTH: (1.0, 4.0), "protocol.temperature": (0.0, 0.1)}
    folder = make_results(tmp_path, n_runs=400, points=80, sample=paths)
    manifest, runs, _ = plots.load_results(folder)
    points = plots.load_points(folder)
    assert manifest["sweep"]["method"] == "lhs"
    fig = plots.sweep_figure(manifest, runs, points)
    for path in paths:
        ax = _ax(fig, f"sweep:{path}")
        table = plots.agreement_by_parameter(runs, points, path, max_levels=8)
        assert table["runs"].sum() == len(runs)
        assert 2 <= len(table) <= 8  # sampled values are binned
        x, y = _line(ax, "agreement_rate")
        assert np.allclose(y, table["agreements"] / table["runs"])
        assert np.all(np.diff(x) > 0)
        # Each panel says how many points and runs its bins pool.
        def span(col):
            low, high = int(table[col].min()), int(table[col].max())
            return f"{low}" if low == high else f"{low}–{high}"

        assert ax.get_title().replace("\n", " ") == f"each bin pools {span('points')} points ({span('runs')} runs)"
    assert "pooled over the others" in fig._suptitle.get_text()


# ------------------------------------------------------------------------------ sensitivity


def test_sensitivity_bars_are_the_json_indices_agreement_first(tmp_path):
    data = sensitivity_data()
    manifest, _, _ = plots.load_results(make_results(tmp_path, n_runs=0))
    fig = plots.sensitivity_figure(manifest, data)
    panels = [ax for ax in fig.axes if (ax.get_gid() or "").startswith("sensitivity:")]
    assert [ax.get_gid() for ax in panels] == ["sensitivity:agreement_rate", "sensitivity:utility_alpha",
                                               "sensitivity:utility_beta", "sensitivity:utility_gamma"]
    assert panels[0].get_title() == "Agreement rate" and panels[1].get_title() == "Utility of Alpha"
    params = data["parameters"]
    for ax in panels:
        key = ax.get_gid().removeprefix("sensitivity:")
        for kind in ("first_order", "total"):
            bars = [p for p in ax.patches if p.get_gid() == kind]
            assert [b.get_width() for b in bars] == pytest.approx([data["outputs"][key][kind][p] for p in params])
    labels = [t.get_text().replace("\n", " ") for t in panels[0].get_yticklabels()]
    assert labels[0] == "Beta: reservation value"
    assert not any("Note:" in t for t in _legend_texts(fig))
    noisy = plots.sensitivity_figure(manifest, sensitivity_data(noisy=True))
    assert any("cannot be true" in t and "-0.07" in t for t in _legend_texts(noisy))


def _legend_texts(fig):
    out = []
    for legend in fig.legends:
        out.append(legend.get_title().get_text().replace("\n", " "))
        out += [t.get_text() for t in legend.get_texts()]
    return out


# ------------------------------------------------------------------------------ frontier


def test_frontier_projections_solutions_proposals_and_reservations(tmp_path):
    manifest, _, _ = plots.load_results(make_results(tmp_path, n_runs=0))
    data = analysis_data()
    for prop in data["proposals"]:
        del prop["blocking"]  # as analysis.json files written before the analysis listed them
    data["kalai_smorodinsky"] = {"deal": {}, "utilities": {"alpha": 0.55, "beta": 0.45, "gamma": 0.7}}
    front = np.asarray(data["frontier_utilities"])
    fig = plots.frontier_figure(manifest, front, data["reservations"], data, actors=data["actors"])
    pairs = [("alpha", "beta"), ("alpha", "gamma"), ("beta", "gamma")]  # three actors: every pair
    for a, b in pairs:
        ax = _ax(fig, f"frontier:{a}:{b}")
        ia, ib = data["actors"].index(a), data["actors"].index(b)
        scatter = {c.get_gid(): c for c in ax.collections}
        assert np.allclose(scatter["frontier_points"].get_offsets(), front[:, [ia, ib]])
        for key in ("nash", "kalai_smorodinsky", "utilitarian"):
            u = data[key]["utilities"]
            assert np.allclose(scatter[key].get_offsets(), [[u[a], u[b]]])
        for k, prop in enumerate(data["proposals"], start=1):
            assert np.allclose(scatter[f"proposal:{prop['id']}"].get_offsets(),
                               [[prop["utilities"][a], prop["utilities"][b]]])
            (label,) = [t for t in ax.texts if t.get_gid() == f"proposal_label:{prop['id']}"]
            assert label.get_text() == str(k)
        (vline,) = [ln for ln in ax.lines if ln.get_gid() == f"reservation:{a}"]
        (hline,) = [ln for ln in ax.lines if ln.get_gid() == f"reservation:{b}"]
        assert np.allclose(vline.get_xdata(), data["reservations"][a])
        assert np.allclose(hline.get_ydata(), data["reservations"][b])
        assert vline.get_linestyle() == "--"
        assert mcolors.same_color(vline.get_color(), plots.actor_colours(ACTORS)[a])
        assert a in ax.get_xlabel().lower() and "utility" in ax.get_ylabel()
    legend = _legend_texts(fig)
    assert "Nash bargaining solution" in legend
    (box,) = fig.legends
    markers = {t.get_text().replace("\n", " "): getattr(h, "get_marker", lambda: None)()
               for t, h in zip(box.get_texts(), box.legend_handles)}
    assert markers["Split the difference"] == "$1$"
    # Without `blocking`, the signatories below their reservation value are named.
    assert markers["Beta's maximum — refused by Alpha"] == "$2$"
    assert not _layout_problems(fig)


def test_frontier_names_every_party_whose_yes_a_proposal_needs(tmp_path):
    manifest, _, _ = plots.load_results(make_results(tmp_path, n_runs=0))
    data = analysis_data()
    for prop in data["proposals"]:
        prop.pop("blocking")
    data["proposals"][1]["blocking"] = ["alpha", "gamma"]  # gamma, no signatory, must consent to this one
    fig = plots.frontier_figure(manifest, data["frontier_utilities"], data["reservations"], data)
    texts = [t.replace("\n", " ") for t in _legend_texts(fig)]
    assert "Beta's maximum — refused by Alpha, Gamma" in texts
    data["proposals"][1]["blocking"] = []  # nobody whose yes it needs is below: no refusal named
    fig = plots.frontier_figure(manifest, data["frontier_utilities"], data["reservations"], data)
    assert "Beta's maximum" in [t.replace("\n", " ") for t in _legend_texts(fig)]


def test_frontier_of_alaska_names_europe_as_refusing_the_28_point_plan():
    """Lifting sanctions needs Europe's yes: the analysis lists Europe as blocking, and so does the legend."""
    from sim.analysis import analysis_json, analyze
    from sim.domain.game import compile_scenario
    from sim.scenario import load_scenario

    loaded = load_scenario(ROOT / "scenarios" / "alaska_2025.yaml")
    game = compile_scenario(loaded.scenario)
    result = analyze(game)
    data = analysis_json(result)
    plan = next(p for p in data["proposals"] if p["id"] == "us_28_point_plan")
    assert plan["blocking"] == ["europe"] and "europe" not in data["signatories"]
    manifest = {"actors": [{"id": a, "name": n} for a, n in zip(game.actor_ids, game.actor_names)],
                "signatories": data["signatories"]}
    fig = plots.frontier_figure(manifest, result["frontier_utilities"], data["reservations"], data,
                                list(result["actor_ids"]))
    europe = dict(zip(game.actor_ids, game.actor_names))["europe"]
    (line,) = [t.replace("\n", " ") for t in _legend_texts(fig) if t.replace("\n", " ").startswith(plan["name"])]
    assert line.endswith(f"refused by {europe}")


def test_frontier_pairs_are_all_pairs_if_few_else_the_signatories():
    assert plots.frontier_pairs(["a", "b", "c"], ["a", "b"]) == [("a", "b"), ("a", "c"), ("b", "c")]
    four = ["united_states", "russia", "ukraine", "europe"]
    assert plots.frontier_pairs(four, ["russia", "ukraine"]) == [("russia", "ukraine")]
    assert len(plots.frontier_pairs(four, ["russia", "ukraine", "united_states"])) == 3
    assert len(plots.frontier_pairs(four, four)) == 6
    assert len(plots.frontier_pairs(four, ["russia"])) == 6  # one signatory: no pair of them


def test_frontier_accepts_reservations_as_an_array(tmp_path):
    manifest, _, _ = plots.load_results(make_results(tmp_path, n_runs=0, actors=["alpha", "beta"]))
    fig = plots.frontier_figure(manifest, [[0.2, 0.9], [0.6, 0.5], [0.9, 0.1]], [0.3, 0.4])
    ax = _ax(fig, "frontier:alpha:beta")
    (edge,) = [ln for ln in ax.lines if ln.get_gid() == "frontier_edge"]
    assert list(edge.get_xdata()) == [0.2, 0.6, 0.9]
    (line,) = [ln for ln in ax.lines if ln.get_gid() == "reservation:beta"]
    assert np.allclose(line.get_ydata(), 0.4)


# ------------------------------------------------------------------------------ trajectory


def test_trajectory_defaults_to_a_typical_run_and_says_why(loaded):
    manifest, runs, rounds = loaded
    agreed = runs[runs["outcome"] == "agreement"]  # 50% of runs: the most common outcome
    median = float(np.median(agreed["round"]))
    gap = (agreed["round"] - median).abs()
    typical = agreed[gap == gap.min()].sort_values(["point", "run"]).iloc[0]
    assert plots.pick_run(runs, rounds) == (int(typical["point"]), int(typical["run"]))
    point, run, why = plots.typical_run(runs, rounds)
    assert (point, run) == (int(typical["point"]), int(typical["run"]))
    assert why == f"typical: the most common outcome (50% of runs), ending nearest their median round ({median:g})"
    fig = plots.trajectory_figure(manifest, runs, rounds)
    title = fig._suptitle.get_text().replace("\n", " ")
    assert title.startswith(f"Run {run} round by round: Agreement in round {typical['round']} ({why})")
    assert not _layout_problems(fig)


def test_typical_run_follows_the_most_common_outcome_not_the_first_success(tmp_path):
    mix = ["partial", "agreement", "partial", "open", "partial"]
    _, runs, rounds = plots.load_results(make_results(tmp_path, n_runs=50, outcomes=mix))
    point, run, why = plots.typical_run(runs, rounds)
    row = runs[(runs["run"] == run) & (runs["point"] == point)].iloc[0]
    partial = runs[runs["outcome"] == "partial"]
    assert row["outcome"] == "partial" and "the most common outcome (60% of runs)" in why
    assert abs(row["round"] - np.median(partial["round"])) == (partial["round"] - np.median(partial["round"])).abs().min()
    # Only runs whose rounds were recorded can be drawn: without this one's, another is picked.
    others = rounds[rounds["run"] != run]
    assert plots.typical_run(runs, others)[1] != run
    assert plots.typical_run(runs, others)[1] in set(others["run"])


def test_trajectory_draws_the_rounds_table_of_the_run(loaded):
    manifest, runs, rounds = loaded
    first = runs[runs["outcome"] == "agreement"].sort_values(["point", "run"]).iloc[0]
    fig = plots.trajectory_figure(manifest, runs, rounds, run=int(first["run"]))
    mine = rounds[rounds["run"] == first["run"]]
    pos = _ax(fig, "positions")
    colours = plots.actor_colours(ACTORS)
    for actor in ACTORS:
        rows = mine[mine["actor"] == actor].sort_values("round")
        for col, style in (("aspiration", "-"), ("reservation", "--")):
            (line,) = [ln for ln in pos.lines if ln.get_gid() == f"{col}:{actor}"]
            assert list(line.get_xdata()) == list(rows["round"])
            assert np.allclose(line.get_ydata(), rows[col])
            assert line.get_linestyle() == style and mcolors.same_color(line.get_color(), colours[actor])
    front = _ax(fig, "front")
    per_round = mine.drop_duplicates("round").sort_values("round")
    for region in ("north", "south"):
        # Two holders: one line, the first holder's share (beta's; alpha holds the rest).
        (line,) = [ln for ln in front.lines if ln.get_gid().startswith(f"front:{region}:")]
        assert line.get_gid() == f"front:{region}:beta" and line.get_label() == region.capitalize()
        assert np.allclose(line.get_ydata(), 100 * per_round[f"held_{region}_beta"])
    for ax in (front, pos):
        (end,) = [ln for ln in ax.lines if ln.get_gid() == "end"]
        assert np.allclose(end.get_xdata(), first["round"])
    (ending,) = [t for t in pos.texts if t.get_gid() == "ending"]
    assert ending.get_text() == f"Agreement in round {first['round']}"
    assert "%" in front.get_ylabel() and "Beta" in front.get_ylabel() and "round" in pos.get_xlabel()
    _legends_outside(fig)
    assert not _layout_problems(fig)


def test_trajectory_of_a_given_run_says_who_walked_away(loaded):
    manifest, runs, rounds = loaded
    broke = runs[runs["outcome"] == "breakdown"].iloc[0]
    fig = plots.trajectory_figure(manifest, runs, rounds, run=int(broke["run"]))
    (ending,) = [t for t in _ax(fig, "positions").texts if t.get_gid() == "ending"]
    assert ending.get_text() == f"Breakdown in round {broke['round']}"
    assert fig._suptitle.get_text().startswith(
        f"Run {broke['run']} round by round: Breakdown in round {broke['round']}: "
        f"{ACTORS[broke['walked_away']]} walked away")
    assert "(the run chosen for this figure)" in fig._suptitle.get_text()
    with pytest.raises(UserError, match="run 999"):
        plots.trajectory_figure(manifest, runs, rounds, run=999)


def test_trajectory_without_agreements_shows_run_zero(tmp_path):
    manifest, runs, rounds = plots.load_results(make_results(tmp_path, n_runs=3, outcomes=["open"]))
    assert plots.pick_run(runs, rounds) == (0, 0)


# ------------------------------------------------------------------------------ driver, new figures


def test_plot_results_draws_every_registered_figure_of_a_full_folder(tmp_path, monkeypatch):
    folder = make_results(tmp_path, n_runs=60, sweep={BETA_RES: [0.3, 0.5]})
    write_sensitivity(folder)
    write_analysis(folder)
    write_leverage(folder)
    runs = pd.read_parquet(folder / "runs.parquet")
    with pytest.raises(UserError, match="--run"):
        plots.plot_results(folder, run=10_000)
    assert not (folder / "figures").exists()  # a bad --run writes nothing
    drawn = _quick_save(monkeypatch)
    paths = plots.plot_results(folder, run=int(runs["run"].iloc[-1]))
    assert [p.stem for p in paths] == drawn == list(plots.FIGURES)
    assert all(p.exists() for p in paths)


def test_new_figures_have_titles_labels_and_slide_size(tmp_path):
    folder = make_results(tmp_path, n_runs=60, sweep={BETA_RES: [0.3, 0.5]})
    manifest, runs, rounds = plots.load_results(folder)
    data = analysis_data()
    figures = [plots.sweep_figure(manifest, runs, plots.load_points(folder)),
               plots.sensitivity_figure(manifest, sensitivity_data()),
               plots.frontier_figure(manifest, data["frontier_utilities"], data["reservations"], data),
               plots.trajectory_figure(manifest, runs, rounds)]
    for fig in figures:
        assert tuple(fig.get_size_inches()) == plots.FIGSIZE
        assert "Tiny test scenario" in fig._suptitle.get_text()
        for ax in fig.axes:
            if ax.has_data() and ax.get_visible() and ax.get_label() != "<colorbar>":
                assert ax.get_title() or fig._suptitle.get_text()
                assert ax.get_xlabel() or ax.get_ylabel() or ax.get_gid().startswith("sensitivity:")


def test_sweep_reads_the_job_record_of_negsim_sweep(tmp_path):
    folder = make_results(tmp_path, n_runs=120, sweep={ALPHA_NORTH: [1, 2], BETA_RES: [0.3, 0.4, 0.5]},
                          manifest_sweep="job")
    manifest, runs, _ = plots.load_results(folder)
    assert "sweep" not in manifest
    described = plots.sweep_description(manifest)
    assert described == {"paths": [ALPHA_NORTH, BETA_RES], "method": "grid", "runs_per_point": 20}
    fig = plots.sweep_figure(manifest, runs, plots.load_points(folder))
    ax = _ax(fig, "sweep_heatmap")
    assert "6 points (grid) × 20 runs" in ax.get_title()
    assert ax.images[0].get_array().shape == (3, 2)  # the first path across, the second up


def test_sensitivity_with_missing_estimates_and_a_constant_output(tmp_path):
    data = sensitivity_data(actors=["alpha", "beta"])
    data["outputs"]["utility_beta"] = {"first_order": {p: None for p in data["parameters"]},
                                       "total": {p: None for p in data["parameters"]}, "mean": 0.4, "variance": 0.0}
    data["outputs"]["utility_alpha"]["total"][data["parameters"][0]] = 1.2
    manifest, _, _ = plots.load_results(make_results(tmp_path, n_runs=0, actors=["alpha", "beta"]))
    fig = plots.sensitivity_figure(manifest, data)
    flat = _ax(fig, "sensitivity:utility_beta")
    assert [p.get_width() for p in flat.patches if p.get_gid() == "first_order"] == [0, 0, 0]
    assert any(t.get_gid() == "constant" for t in flat.texts)
    assert ("utility_alpha", data["parameters"][0], "total>1", 1.2) in plots.noisy_indices(data)
    assert any("total above 1 1.20" in t for t in _legend_texts(fig))


def test_a_sensitivity_file_of_another_scenario_is_refused_naming_both(tmp_path, monkeypatch):
    drawn = _quick_save(monkeypatch)
    folder = make_results(tmp_path, n_runs=10, with_rounds=False)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**sensitivity_data(), "scenario": "alaska_2025"}), encoding="utf-8")
    with pytest.raises(UserError, match="'alaska_2025'.*'tiny'") as info:
        plots.plot_results(folder, sensitivity=other)
    assert str(other) in str(info.value) and "\n" not in str(info.value)
    assert not drawn and not (folder / "figures").exists()
    (folder / "sensitivity.json").write_text(other.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(UserError, match="alaska_2025"):  # the same inside the folder
        plots.plot_results(folder)
    alone = plots.plot_results(other)  # by itself it is no one else's
    assert [p.stem for p in alone] == ["sensitivity"]


def test_a_sensitivity_file_that_names_no_scenario_is_labelled_in_the_figure(tmp_path):
    manifest, _, _ = plots.load_results(make_results(tmp_path, n_runs=0))
    unnamed = plots.sensitivity_figure(manifest, sensitivity_data())
    assert any("Warning: the sensitivity file does not name its scenario, so it may not be of 'tiny'" in t
               for t in _legend_texts(unnamed))
    named = plots.sensitivity_figure(manifest, {**sensitivity_data(), "scenario": "tiny"})
    assert not any("Warning" in t for t in _legend_texts(named))
    other = plots.sensitivity_figure(manifest, {**sensitivity_data(), "scenario": "alaska_2025"})
    assert any("these Sobol indices are of scenario 'alaska_2025', not of 'tiny'" in t for t in _legend_texts(other))
    assert not _layout_problems(unnamed)


def test_plot_results_takes_a_sensitivity_file_beside_or_alone(tmp_path, monkeypatch):
    drawn = _quick_save(monkeypatch)
    folder = make_results(tmp_path, n_runs=10, with_rounds=False)
    elsewhere = tmp_path / "sobol.json"
    elsewhere.write_text(json.dumps(sensitivity_data()), encoding="utf-8")
    paths = plots.plot_results(folder, sensitivity=elsewhere)
    assert [p.stem for p in paths] == _figures_without("sweep points", "analysis frontier", "rounds table",
                                                       "discovery points", "leverage result")
    assert paths[-1].stem == "sensitivity"
    alone = plots.plot_results(elsewhere)
    assert alone == [tmp_path / "figures" / "sensitivity.png"] and drawn[-1] == "sensitivity"
    with pytest.raises(UserError, match="--sensitivity"):
        plots.plot_results(folder, sensitivity=tmp_path / "missing.json")


# ------------------------------------------------------------------------------ legible at any size of name

LONG_NAMES = {"alpha": "Russian Federation", "beta": "European allies (EU, UK and the European leaders' group)",
              "gamma": "United States of America", "north": "Crimea (incl. Sevastopol)",
              "south": "Zaporizhzhia oblast", "split": "US 28-point plan (November 2025, for comparison)",
              "maximal": "Russia's reported Alaska offer (Donetsk and Luhansk for a frozen south)"}


def _full_folder(tmp_path, long_names=False, **sweep):
    folder = make_results(tmp_path, n_runs=120, **(sweep or {"sweep": {BETA_RES: [0.3, 0.5]}}))
    write_sensitivity(folder)
    write_analysis(folder)
    write_leverage(folder)
    if long_names:
        path = folder / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        for key in ("actors", "issues", "proposals"):
            for item in manifest[key]:
                item["name"] = LONG_NAMES.get(item["id"], item["name"])
        path.write_text(json.dumps(manifest), encoding="utf-8")
        lever = leverage_data()
        lever.update(actor_name=LONG_NAMES["beta"], issue_name="Security guarantees (Article 5-like, by the US)")
        (folder / "leverage.json").write_text(json.dumps(lever), encoding="utf-8")
    return folder


@pytest.mark.parametrize("long_names", [False, True], ids=["short names", "long names"])
def test_every_figure_keeps_its_text_inside_the_canvas_and_apart(tmp_path, long_names):
    data = read_folder(_full_folder(tmp_path, long_names))
    drawn = []
    for name, draw in driver.plans_for(data):
        fig = draw()
        assert not _layout_problems(fig), name
        drawn.append(name)
    assert drawn == list(FIGURES)


@pytest.mark.parametrize("sweep", [{"sweep": {BETA_RES: [0.3, 0.4, 0.5], ALPHA_NORTH: [1, 2, 3, 4]}},
                                   {"sample": {BETA_RES: (0.3, 0.5), ALPHA_NORTH: (1.0, 4.0)}, "points": 60},
                                   {"sample": {BETA_RES: (0.3, 0.5), ALPHA_NORTH: (1.0, 4.0),
                                               "protocol.temperature": (0.0, 0.1)}, "points": 60}],
                         ids=["grid", "two sampled", "three sampled"])
def test_every_kind_of_sweep_figure_keeps_its_text_inside_the_canvas_and_apart(tmp_path, sweep):
    manifest, runs, _ = plots.load_results(make_results(tmp_path, n_runs=600, **sweep))
    fig = plots.sweep_figure(manifest, runs, plots.load_points(tmp_path / "results"))
    assert not _layout_problems(fig)
    for ax in fig.axes:
        for label in ax.get_xticklabels() + ax.get_yticklabels():
            lines = label.get_text().split("\n")
            # A number is never broken over two lines ("0.3" + "25").
            assert not any(a[-1:].isdigit() and b[:1] in set("0123456789.") for a, b in pairwise(lines))


def test_region_names_wrap_between_words_only(tmp_path):
    manifest, runs, _ = plots.load_results(_full_folder(tmp_path, long_names=True))
    ax = _ax(plots.region_figure(manifest, runs), "regions")
    words = {w for name in ("Crimea (incl. Sevastopol)", "Zaporizhzhia oblast") for w in name.split()}
    for label in ax.get_xticklabels():
        assert set(label.get_text().split()) <= words, label.get_text()


def test_transfer_bins_are_never_hairlines_and_equal_totals_are_said_in_words(tmp_path):
    km = np.array([0.0] * 5 + [7515.0] * 50 + [7515.4] * 3 + [12000.0])
    _, counts, width = plots.transfer_bins(km)
    assert counts.sum() == len(km) and width >= (km.max() - km.min()) / 24
    assert list(counts) == [5, 53, 1]  # 7,515 and 7,515.4 km² are one total at this resolution
    manifest, runs, _ = plots.load_results(make_results(tmp_path, n_runs=30, outcomes=["agreement"]))
    runs["transferred_km2"] = 7515.0 + np.linspace(0, 0.4, len(runs))  # every agreement moves about the same
    fig = plots.region_figure(manifest, runs)
    hist = _ax(fig, "transfers")
    (bar,) = [p for p in hist.patches if p.get_gid() == "transferred_hist"]
    assert bar.get_height() == 30
    assert bar.get_width() >= 0.3 * (hist.get_xlim()[1] - hist.get_xlim()[0])  # a bar, not a hairline
    (note,) = [t for t in hist.texts if t.get_gid() == "transfer_note"]
    assert note.get_text() == "every agreement: 7,515 km²"
    assert not _layout_problems(fig)


# ------------------------------------------------------------------------------ the registry


def test_every_registered_figure_has_a_caption_needs_and_a_file_stem():
    assert list(FIGURES) == [entry.name for entry in FIGURES.values()]
    for name, entry in FIGURES.items():
        assert name.isidentifier() and name == name.lower()
        assert entry.caption.endswith(".") and len(entry.caption) > 30, name
        assert entry.needs and set(entry.needs) <= set(NEEDS), name
    used = {need for entry in FIGURES.values() for need in entry.needs}
    assert used == set(NEEDS), "a need no figure uses"


def test_each_need_is_met_by_a_full_folder_and_by_nothing_in_an_empty_one(tmp_path):
    folder = make_results(tmp_path, n_runs=60, sweep={BETA_RES: [0.3, 0.5]})
    write_sensitivity(folder)
    write_analysis(folder)
    write_leverage(folder)
    full = read_folder(folder)
    empty = FolderData({}, pd.DataFrame())
    for name, need in NEEDS.items():
        assert need.present(full), name
        assert not need.present(empty), name
    assert [name for name, _ in driver.plans_for(full)] == list(FIGURES)
    assert driver.plans_for(empty) == []


def test_a_new_figure_is_one_registry_entry(tmp_path, monkeypatch):
    """Added to FIGURES alone, a figure is planned, written by plot_results and shown in the report."""
    from sim import report
    from sim.plots.style import new_figure

    def draw(data):
        fig, (ax,) = new_figure(1)
        ax.plot([0, 1], [0, len(data.runs)], gid="extra_line")
        return fig

    caption = "A figure added by a test: the number of runs, as a line."
    monkeypatch.setitem(FIGURES, "extra", FigureEntry("extra", caption, ("outcome column",), draw))
    drawn = _quick_save(monkeypatch)
    folder = make_results(tmp_path, n_runs=10, with_rounds=False)
    assert [p.stem for p in plots.plot_results(folder)][-1] == "extra" == drawn[-1]
    text = report.build_report(folder)
    assert '<figure id="fig-extra">' in text and f"<figcaption>{caption}</figcaption>" in text


def test_the_gallery_is_the_registry_plus_a_second_sweep(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_gallery", ROOT / "scripts" / "make_gallery.py")
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    base = make_results(tmp_path, n_runs=20, name="run")
    write_sensitivity(base, samples=True)  # as `negsim sensitivity` writes it: discovery comes from its points
    write_analysis(base)
    write_leverage(base)
    one = make_results(tmp_path, n_runs=20, sweep={BETA_RES: [0.3, 0.5]}, name="sweep1")
    two = make_results(tmp_path, n_runs=40, sweep={BETA_RES: [0.3, 0.5], ALPHA_NORTH: [1, 2]}, name="sweep2")
    examples = [("", read_folder(base)), ("", read_folder(one)), ("-2d", read_folder(two))]
    stems = [stem for stem, _ in gallery.gallery(examples)]
    assert [s for s in stems if s != "sweep-2d"] == list(FIGURES)
    assert stems.index("sweep-2d") == stems.index("sweep") + 1


def test_importing_the_registry_imports_neither_matplotlib_nor_pandas():
    code = ("import sys, sim.plots.registry, sim.report; "
            "print(sorted(m for m in ('matplotlib', 'pandas', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_name_sim_plots_exports_resolves():
    for name in plots.__all__:
        assert getattr(plots, name) is not None, name
    with pytest.raises(AttributeError):
        plots.no_such_figure  # noqa: B018


# ------------------------------------------------------------------------------ scenario discovery


def _point_rates(folder):
    runs = pd.read_parquet(folder / "runs.parquet")
    return runs.assign(ok=runs["outcome"] == "agreement").groupby("point")["ok"].mean().to_numpy()


def _discovery_of(folder):
    from sim.insight.figdata import folder_discovery

    return folder_discovery(folder)


def test_discovery_level_is_the_median_point_and_the_drawn_box_is_the_prim_box(tmp_path):
    folder = make_results(tmp_path, n_runs=1200, points=60, sample={BETA_RES: (0.3, 0.5), ALPHA_NORTH: (1.0, 4.0)})
    result = _discovery_of(folder)
    rates = _point_rates(folder)
    assert result["threshold"] == pytest.approx(np.median(rates)) and result["threshold_rule"] == "median"
    assert result["of_interest"] == int((rates >= np.median(rates) - 1e-12).sum())
    box = result["prim"][0]
    assert box["restrictions"], "the factory's agreement falls with both inputs: the box restricts something"

    fig = plots.discovery_figure(read_folder(folder).manifest, result)
    trade, ranges = _ax(fig, "discovery_tradeoff"), _ax(fig, "discovery_ranges")
    (path,) = [ln for ln in trade.lines if ln.get_gid() == "trajectory"]
    steps = result["prim_trajectories"][0]
    assert np.allclose(path.get_xdata(), [100 * s["coverage"] for s in steps])
    assert np.allclose(path.get_ydata(), [100 * s["density"] for s in steps])
    (star,) = [ln for ln in trade.lines if ln.get_gid() == "pasted"]
    assert np.allclose([star.get_xdata()[0], star.get_ydata()[0]], [100 * box["coverage"], 100 * box["density"]])
    for item in box["restrictions"]:
        (bar,) = [p for p in ranges.patches if p.get_gid() == f"box1:{item['input']}"]
        d_lo, d_hi = item["data"]
        assert bar.get_x() == pytest.approx((item["low"] - d_lo) / (d_hi - d_lo))
        assert bar.get_x() + bar.get_width() == pytest.approx((item["high"] - d_lo) / (d_hi - d_lo))
    level = f"{100 * result['threshold']:.3g}%"
    assert f"at least {level}, the median over the 60 points" in fig._suptitle.get_text().replace("\n", " ")

    limits = {r["input"]: (r["low"], r["high"]) for r in box["restrictions"]}
    points = pd.read_parquet(folder / "points.parquet")
    fig = plots.discovery_map_figure(read_folder(folder).manifest, result)
    ax = _ax(fig, "discovery_map")
    (marks,) = [c for c in ax.collections if c.get_gid() == "points"]
    x_name = ax.get_xlabel().replace("\n", " ")
    xs, ys = (BETA_RES, ALPHA_NORTH) if x_name.startswith("Beta") else (ALPHA_NORTH, BETA_RES)
    assert np.allclose(marks.get_offsets(), points[[xs, ys]].to_numpy())
    assert np.allclose(marks.get_array(), 100 * rates)
    (rect,) = [p for p in ax.patches if p.get_gid() == "box1"]
    (x0, y0), width, height = rect.get_xy(), rect.get_width(), rect.get_height()
    x_lim = limits.get(xs, (points[xs].min(), points[xs].max()))
    y_lim = limits.get(ys, (points[ys].min(), points[ys].max()))
    # The rectangle is the box, its edges moved off the points on them by at most 2% of the range...
    for (low, high), (lo, hi), col in (((x0, x0 + width), x_lim, xs), ((y0, y0 + height), y_lim, ys)):
        pad = 0.02 * (points[col].max() - points[col].min()) + 1e-12
        assert lo - pad <= low <= lo and hi <= high <= hi + pad
    # ...and it holds exactly the points inside the box's limits on these two inputs.
    drawn = ((points[xs] >= x0) & (points[xs] <= x0 + width) & (points[ys] >= y0) & (points[ys] <= y0 + height))
    inside = points[xs].between(*x_lim) & points[ys].between(*y_lim)
    assert (drawn == inside).all()
    assert not _layout_problems(fig)


def test_discovery_level_above_a_shared_floor_and_a_constant_rate(tmp_path):
    from sim.insight.figdata import discovery_threshold

    assert discovery_threshold([0.0, 0.0, 0.0, 0.1, 0.3]) == (0.1, "above floor")
    assert discovery_threshold([0.2, 0.4, 0.6, 0.8]) == (pytest.approx(0.5), "median")
    assert discovery_threshold([0.25] * 4) == (0.25, "constant")
    folder = make_results(tmp_path, n_runs=80, sweep={BETA_RES: [0.3, 0.4, 0.5, 0.6]}, outcomes=["open"])
    result = _discovery_of(folder)
    assert result["threshold_rule"] == "constant"
    manifest = read_folder(folder).manifest
    for draw in (plots.discovery_figure, plots.discovery_map_figure):
        fig = draw(manifest, result)
        assert any("no range of inputs stands out" in t for t in _texts(fig))
        assert not [p for ax in fig.axes for p in ax.patches if (p.get_gid() or "").startswith("box")]
        assert not _layout_problems(fig)


def test_discovery_of_one_input_shades_the_box_on_the_rate_axis(tmp_path):
    folder = make_results(tmp_path, n_runs=900, sweep={BETA_RES: [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]})
    result = _discovery_of(folder)
    fig = plots.discovery_map_figure(read_folder(folder).manifest, result)
    ax = _ax(fig, "discovery_map")
    marks = {c.get_gid(): c for c in ax.collections}
    kept, below = marks["points_of_interest"], marks["points_below"]
    assert len(kept.get_offsets()) + len(below.get_offsets()) == 9
    assert np.all(kept.get_offsets()[:, 1] >= 100 * result["threshold"] - 1e-9)
    assert np.all(below.get_offsets()[:, 1] < 100 * result["threshold"])
    (span,) = [p for p in ax.patches if p.get_gid() == "box1"]
    (item,) = result["prim"][0]["restrictions"]
    assert (span.get_x(), span.get_x() + span.get_width()) == pytest.approx((item["low"], item["high"]))
    assert not _layout_problems(fig)


@pytest.mark.parametrize("design", [
    {"sweep": {BETA_RES: [0.3, 0.4, 0.5], ALPHA_NORTH: [1, 2, 3, 4]}},
    {"sample": {BETA_RES: (0.3, 0.5), ALPHA_NORTH: (1.0, 4.0), "protocol.temperature": (0.0, 0.1)}, "points": 60},
    {"sweep": {"actors.gamma.strategy.kind": ["boulware", "linear", "conceder"], BETA_RES: [0.3, 0.4, 0.5]}},
    "sensitivity"], ids=["grid", "three sampled", "categorical", "sensitivity design"])
@pytest.mark.parametrize("long_names", [False, True], ids=["short names", "long names"])
def test_discovery_figures_keep_their_text_inside_the_canvas_and_apart(tmp_path, design, long_names):
    if design == "sensitivity":
        folder = make_results(tmp_path, n_runs=10)
        write_sensitivity(folder, samples=True)
    else:
        folder = make_results(tmp_path, n_runs=900, **design)
    if long_names:
        path = folder / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        for item in manifest["actors"] + manifest["issues"]:
            item["name"] = LONG_NAMES.get(item["id"], item["name"])
        path.write_text(json.dumps(manifest), encoding="utf-8")
    data = read_folder(folder)
    plans = dict(driver.plans_for(data))
    for name in ("discovery", "discovery_map"):
        assert not _layout_problems(plans[name]()), name


def test_discovery_figures_are_planned_for_sweeps_and_sensitivity_designs_only(tmp_path):
    names = {"discovery", "discovery_map"}
    run = make_results(tmp_path, n_runs=10, name="run")
    write_sensitivity(run)  # a file without the design's points
    assert not names & {n for n, _ in driver.plans_for(read_folder(run))}
    sweep = make_results(tmp_path, n_runs=40, sweep={BETA_RES: [0.3, 0.5]}, name="sweep")
    assert names <= {n for n, _ in driver.plans_for(read_folder(sweep))}
    elsewhere = tmp_path / "sobol.json"
    elsewhere.write_text(json.dumps(sensitivity_data(samples=True)), encoding="utf-8")
    data = read_folder(run, sensitivity=elsewhere)
    assert data.sensitivity_path == elsewhere and names <= {n for n, _ in driver.plans_for(data)}
    assert names <= {n for n, _ in driver.plans_for(read_folder(elsewhere))}


# ------------------------------------------------------------------------------ Sobol intervals


def test_sensitivity_error_bars_are_the_json_intervals_and_the_title_gives_the_verdict(tmp_path):
    data = sensitivity_data()
    manifest = read_folder(make_results(tmp_path, n_runs=0)).manifest
    fig = plots.sensitivity_figure(manifest, data)
    params = data["parameters"]
    for ax in (a for a in fig.axes if (a.get_gid() or "").startswith("sensitivity:")):
        key = ax.get_gid().removeprefix("sensitivity:")
        bars = {p.get_gid(): [] for p in ax.patches}
        for p in ax.patches:
            bars[p.get_gid()].append(p)
        for kind, shift in (("first_order", -0.19), ("total", 0.19)):
            (lines,) = [c for c in ax.collections if c.get_gid() == f"{kind}_ci"]
            segments = np.array([seg[:, 0] for seg in lines.get_segments()])
            assert np.allclose(segments, [data["outputs"][key][f"{kind}_ci"][p] for p in params])
            heights = [seg[0, 1] for seg in lines.get_segments()]
            assert heights == pytest.approx([b.get_y() + b.get_height() / 2 for b in bars[kind]])
    title = fig._suptitle.get_text().replace("\n", " ")
    assert title.startswith("Sensitivity: Sobol indices per parameter from 320 model evaluations, 50 runs each: "
                            "not converged")
    legend = " ".join(_legend_texts(fig))
    assert "95% bootstrap interval" in legend and "agreement rate: intervals up to 0.17 wide" in legend
    assert "; and 2 more outputs" in legend  # four outputs not converged: two named, the rest counted
    assert not _layout_problems(fig)
    settled = plots.sensitivity_figure(manifest, sensitivity_data(converged=True))
    assert settled._suptitle.get_text().split("\n")[0].endswith(": converged")
    assert "Not converged" not in " ".join(_legend_texts(settled))
    old = plots.sensitivity_figure(manifest, sensitivity_data(intervals=False))
    assert not [c for ax in old.axes for c in ax.collections if (c.get_gid() or "").endswith("_ci")]
    assert "converged" not in old._suptitle.get_text()


def test_sobol_bounds_read_asymmetric_intervals_and_older_half_widths():
    block = {"first_order": {"a": 0.3, "b": None}, "first_order_ci": {"a": [0.1, 0.35], "b": [None, None]},
             "total": {"a": 0.5}, "total_conf": {"a": 0.1}}
    low, high = plots.sobol_bounds(block, "first_order", ["a", "b"])
    assert low[0] == 0.1 and high[0] == 0.35 and np.isnan(low[1]) and np.isnan(high[1])
    low, high = plots.sobol_bounds(block, "total", ["a", "b"])
    assert (low[0], high[0]) == pytest.approx((0.4, 0.6)) and np.isnan(low[1])


# ------------------------------------------------------------------------------ leverage


def test_leverage_figure_draws_the_json_rates_changes_and_intervals(tmp_path):
    data = leverage_data()
    manifest = read_folder(make_results(tmp_path, n_runs=0)).manifest
    fig = plots.leverage_figure(manifest, data)
    for kind, neutral in (("weight", 1.0), ("position", 0.0)):
        rows = sorted([s for s in data["steps"] if s["kind"] == kind] + [dict(data["steps"][0], step=neutral)],
                      key=lambda s: s["step"])
        top, below = _ax(fig, f"leverage:{kind}"), _ax(fig, f"leverage_change:{kind}")
        for output in ("agreement", "signed"):
            cells = [s[output] for s in rows]
            (rate,) = [c for c in top.containers if c.lines[0].get_gid() == f"rate:{output}"]
            assert np.allclose(rate.lines[0].get_ydata(), [100 * c["rate"] for c in cells])
            ends = np.array([seg[:, 1] for seg in rate.lines[2][0].get_segments()])
            assert np.allclose(ends, [(100 * c["low"], 100 * c["high"]) for c in cells])
            (change,) = [c for c in below.containers if c.lines[0].get_gid() == f"change:{output}"]
            assert np.allclose(change.lines[0].get_ydata(), [100 * c["change"] for c in cells])
            ends = np.array([seg[:, 1] for seg in change.lines[2][0].get_segments()])
            assert np.allclose(ends, [(100 * c["change_low"], 100 * c["change_high"]) for c in cells])
            (line,) = [ln for ln in top.lines if ln.get_gid() == f"baseline:{output}"]
            assert np.allclose(line.get_ydata(), 100 * data["steps"][0][output]["rate"])
        labels = [t.get_text().replace("\n", " ") for t in below.get_xticklabels()]
        assert labels == (["×0.5 (33%)", "×1 (50%)", "×2 (67%)"] if kind == "weight"
                          else ["hardens 50%", "as written", "towards 50%"])
    assert fig._suptitle.get_text().startswith("Leverage of Beta on Security guarantees: the same 200 runs at every step")
    assert "as written: full agreement 50.0%, signed (agreement or ceasefire) 60.0%" in _legend_texts(fig)
    assert not _layout_problems(fig)
    for ax in fig.axes:  # a tick reads as its value (2.5 is not "+2")
        for value, label in zip(ax.get_yticks(), ax.get_yticklabels()):
            if ax.get_ylim()[0] <= value <= ax.get_ylim()[1]:
                assert float(label.get_text().rstrip("%").replace("−", "-")) == pytest.approx(value)
    only_weight = dict(data, steps=[s for s in data["steps"] if s["kind"] != "position"])
    fig = plots.leverage_figure(manifest, only_weight)
    assert [ax.get_gid() for ax in fig.axes] == ["leverage:weight", "leverage_change:weight"]
    assert not _layout_problems(fig)


def test_a_leverage_file_is_drawn_in_its_folder_alone_or_beside_runs_and_refused_from_another_scenario(
        tmp_path, monkeypatch):
    drawn = _quick_save(monkeypatch)
    folder = make_results(tmp_path, n_runs=10, with_rounds=False)
    write_leverage(folder)
    assert "leverage" in [p.stem for p in plots.plot_results(folder)]
    alone = tmp_path / "lever"
    alone.mkdir()
    write_leverage(alone)  # no manifest, no runs: the leverage names its scenario, actor and issue
    assert [p.stem for p in plots.plot_results(alone)] == ["leverage"]
    assert [p.stem for p in plots.plot_results(alone / "leverage.json")] == ["leverage"]
    assert read_folder(alone).manifest["actors"] == [{"id": "beta", "name": "Beta"}]
    with pytest.raises(UserError, match="--run"):
        plots.plot_results(alone / "leverage.json", run=1)
    write_leverage(folder, scenario="alaska_2025")
    drawn.clear()
    with pytest.raises(UserError, match="'alaska_2025'.*'tiny'"):
        plots.plot_results(folder)
    assert not drawn
    (folder / "leverage.json").write_text(json.dumps({"steps": []}), encoding="utf-8")
    with pytest.raises(UserError, match="negsim leverage"):
        plots.plot_results(folder)


def test_the_factory_analysis_lists_as_blocking_the_signatories_below_their_reservation_value(tmp_path):
    data = analysis_data()
    for prop in data["proposals"]:
        assert prop["blocking"] == [a for a in prop["below_reservation"] if a in data["signatories"]]
    maximal = next(p for p in data["proposals"] if p["id"] == "maximal")
    assert maximal["blocking"] == ["alpha"]
    manifest = read_folder(make_results(tmp_path, n_runs=0)).manifest
    fig = plots.frontier_figure(manifest, data["frontier_utilities"], data["reservations"], data)
    assert "Beta's maximum — refused by Alpha" in [t.replace("\n", " ") for t in _legend_texts(fig)]
