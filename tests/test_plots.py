"""The figures show what the results say: counts, colours, markers and curves, not pixels."""

from __future__ import annotations

import json
import subprocess
import sys

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from sim import plots
from sim.errors import UserError
from sim.plots import driver
from sim.plots.load import FolderData, read_folder
from sim.plots.registry import FIGURES, NEEDS, FigureEntry

try:
    from tests.resultsfactory import (
        ACTORS,
        MAX_ROUNDS,
        analysis_data,
        make_results,
        sensitivity_data,
        write_analysis,
        write_sensitivity,
    )
except ImportError:  # tests/ on sys.path rather than the project root
    from resultsfactory import (
        ACTORS,
        MAX_ROUNDS,
        analysis_data,
        make_results,
        sensitivity_data,
        write_analysis,
        write_sensitivity,
    )


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


# ------------------------------------------------------------------------------ survival


def test_survival_curve_starts_at_one_falls_and_ends_at_non_agreement_share(loaded):
    manifest, runs, _ = loaded
    fig = plots.survival_figure(manifest, runs)
    ax = _ax(fig, "survival")
    (line,) = [ln for ln in ax.lines if ln.get_gid() == "no_agreement"]
    y = np.asarray(line.get_ydata(), float)
    assert y[0] == 1.0
    assert np.all(np.diff(y) <= 0)
    assert y[-1] == pytest.approx((runs["outcome"] != "agreement").mean())
    assert line.get_xdata()[-1] == MAX_ROUNDS
    assert "never agree" in ax.get_ylabel() and "rounds" in ax.get_xlabel()
    _legends_outside(fig)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["agreement", "partial", "breakdown", "open", "suspended"]),
                          st.integers(0, 9)), min_size=1, max_size=30))
def test_no_deal_curve_counts_agreements_struck_before_each_round(rows):
    runs = pd.DataFrame(rows, columns=["outcome", "round"])
    k, s = plots.no_deal_curve(runs, max_rounds=10)
    for kk, ss in zip(k, s):
        agreed = ((runs["outcome"] == "agreement") & (runs["round"] < kk)).sum()
        assert ss == pytest.approx(1 - agreed / len(runs))


# ------------------------------------------------------------------------------ driver


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_plot_results_writes_the_expected_files(results, fmt):
    keep = results / "figures" / "notes.txt"
    keep.parent.mkdir()
    keep.write_text("mine", encoding="utf-8")
    paths = plots.plot_results(results, fmt=fmt)
    names = _figures_without("sweep points", "sensitivity", "analysis frontier")
    assert names == ["outcomes", "utilities", "regions", "time_to_agreement", "trajectory"]
    assert paths == [results / "figures" / f"{n}.{fmt}" for n in names]
    for path in paths:
        assert path.stat().st_size > 1000
    assert keep.read_text(encoding="utf-8") == "mine"
    head = paths[0].read_bytes()[:100]
    assert head.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in paths[0].read_bytes()[:2000]


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
    assert [p.stem for p in paths] == _figures_without("sweep points", "sensitivity", "analysis frontier",
                                                       "rounds table")


def test_every_figure_has_titles_and_labels_and_slide_size(loaded):
    manifest, runs, _ = loaded
    for draw in (plots.outcome_figure, plots.utility_figure, plots.region_figure, plots.survival_figure):
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
    _legends_outside(fig)


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
    assert markers["Beta's maximum — below the reservation value of Alpha"] == "$2$"


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


def test_trajectory_defaults_to_the_first_agreement_and_draws_the_rounds_table(loaded):
    manifest, runs, rounds = loaded
    first = runs[runs["outcome"] == "agreement"].sort_values(["point", "run"]).iloc[0]
    assert plots.pick_run(runs, rounds) == (int(first["point"]), int(first["run"]))
    fig = plots.trajectory_figure(manifest, runs, rounds)
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
        assert line.get_gid() == f"front:{region}:beta" and line.get_label().endswith("Beta")
        assert np.allclose(line.get_ydata(), 100 * per_round[f"held_{region}_beta"])
    for ax in (front, pos):
        (end,) = [ln for ln in ax.lines if ln.get_gid() == "end"]
        assert np.allclose(end.get_xdata(), first["round"])
    (ending,) = [t for t in pos.texts if t.get_gid() == "ending"]
    assert ending.get_text() == f"Agreement in round {first['round']}"
    assert "%" in front.get_ylabel() and "round" in pos.get_xlabel()
    _legends_outside(fig)


def test_trajectory_of_a_given_run_says_who_walked_away(loaded):
    manifest, runs, rounds = loaded
    broke = runs[runs["outcome"] == "breakdown"].iloc[0]
    fig = plots.trajectory_figure(manifest, runs, rounds, run=int(broke["run"]))
    (ending,) = [t for t in _ax(fig, "positions").texts if t.get_gid() == "ending"]
    assert ending.get_text() == f"Breakdown in round {broke['round']}: {ACTORS[broke['walked_away']]} walked away"
    assert f"run {broke['run']}" in fig._suptitle.get_text()
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


def test_plot_results_takes_a_sensitivity_file_beside_or_alone(tmp_path, monkeypatch):
    drawn = _quick_save(monkeypatch)
    folder = make_results(tmp_path, n_runs=10, with_rounds=False)
    elsewhere = tmp_path / "sobol.json"
    elsewhere.write_text(json.dumps(sensitivity_data()), encoding="utf-8")
    paths = plots.plot_results(folder, sensitivity=elsewhere)
    assert [p.stem for p in paths] == _figures_without("sweep points", "analysis frontier", "rounds table")
    assert paths[-1].stem == "sensitivity"
    alone = plots.plot_results(elsewhere)
    assert alone == [tmp_path / "figures" / "sensitivity.png"] and drawn[-1] == "sensitivity"
    with pytest.raises(UserError, match="--sensitivity"):
        plots.plot_results(folder, sensitivity=tmp_path / "missing.json")


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
