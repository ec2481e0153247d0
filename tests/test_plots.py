"""The figures show what the results say: counts, colours, markers and curves, not pixels."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import plots
from sim.errors import UserError

try:
    from tests.resultsfactory import ACTORS, MAX_ROUNDS, make_results
except ImportError:  # tests/ on sys.path rather than the project root
    from resultsfactory import ACTORS, MAX_ROUNDS, make_results


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
    manifest, runs, _ = plots.load_results(make_results(tmp_path, n_runs=7, outcomes=["timeout"]))
    fig = plots.outcome_figure(manifest, runs)
    widths = [p.get_width() for p in _ax(fig, "outcomes").containers[0]]
    assert sorted(widths) == [0, 0, 0, 7]
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
    manifest, runs, _ = plots.load_results(make_results(tmp_path, n_runs=6, outcomes=["breakdown", "timeout"]))
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
@given(st.lists(st.tuples(st.sampled_from(["agreement", "partial", "breakdown", "timeout"]),
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
    names = ["outcomes", "utilities", "regions", "time_to_agreement"]
    assert paths == [results / "figures" / f"{n}.{fmt}" for n in names]
    for path in paths:
        assert path.stat().st_size > 1000
    assert keep.read_text(encoding="utf-8") == "mine"
    head = paths[0].read_bytes()[:100]
    assert head.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in paths[0].read_bytes()[:2000]


def test_plot_results_honours_out_and_rejects_unknown_formats(results, tmp_path):
    paths = plots.plot_results(results, out=tmp_path / "elsewhere" / "figs")
    assert all(p.parent == tmp_path / "elsewhere" / "figs" and p.exists() for p in paths)
    with pytest.raises(UserError, match="format"):
        plots.plot_results(results, fmt="gif")


def test_plot_results_with_zero_agreements_and_empty_rounds(tmp_path):
    folder = make_results(tmp_path, n_runs=5, outcomes=["breakdown", "timeout", "partial"], empty_rounds=True)
    paths = plots.plot_results(folder)
    assert len(paths) == 4 and all(p.exists() for p in paths)


def test_plot_results_with_no_runs_at_all(tmp_path):
    folder = make_results(tmp_path, n_runs=0)
    paths = plots.plot_results(folder)
    assert [p.stem for p in paths] == ["outcomes", "utilities", "regions", "time_to_agreement"]


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
