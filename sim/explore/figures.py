"""The explorer's Bokeh figures: built once per page, then updated in place from each Outcome.

Every figure draws from named ColumnDataSources ("negsim-outcomes", "negsim-curve", ...), so
an update only sends new numbers to the browser, and a test can read the plotted numbers back
from the page (`Bokeh.documents[0].get_model_by_name(name).data`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, Legend, NumeralTickFormatter, Span
from bokeh.plotting import figure

from sim.analysis import nondominated
from sim.explore.model import OUTCOMES, Outcome

#: Dispositions of a region (not actors: a palette apart from the actors' colours, as in sim.plots).
OPTION_COLOURS = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB", "#332288",
                  "#882255", "#999933")
GREY, DARK = "#9A9A9A", "#333333"
WIDTH = 500
HEIGHT = 300


def _plain(fig) -> None:
    fig.toolbar.logo = None
    fig.toolbar_location = None
    fig.title.text_font_size = "13px"
    fig.outline_line_color = None
    fig.grid.grid_line_color = "#EEEEEE"


def outcomes_figure() -> tuple[figure, ColumnDataSource]:
    """Horizontal bars: the share of runs ending each way."""
    labels = list(OUTCOMES.values())[::-1]
    source = ColumnDataSource({"label": labels, "share": [0.0] * len(labels), "text": [""] * len(labels)},
                              name="negsim-outcomes")
    fig = figure(y_range=labels, x_range=(0, 1.08), width=WIDTH, height=HEIGHT - 60, title="How the runs end",
                 tools="")
    fig.hbar(y="label", right="share", height=0.7, source=source, color="#4D4D4D")
    fig.text(x="share", y="label", text="text", source=source, x_offset=4, text_baseline="middle",
             text_font_size="12px")
    fig.xaxis.formatter = NumeralTickFormatter(format="0%")
    fig.xaxis.axis_label = "share of runs"
    _plain(fig)
    return fig, source


def update_outcomes(source: ColumnDataSource, outcome: Outcome) -> None:
    """New shares for the outcome bars."""
    keys = list(OUTCOMES)[::-1]
    n = max(outcome.runs, 1)
    shares = [outcome.counts.get(k, 0) / n for k in keys]
    source.data = {"label": [OUTCOMES[k] for k in keys], "share": shares, "text": [f"{s:.1%}" for s in shares]}


def curve_figure() -> tuple[figure, ColumnDataSource]:
    """Agreement (and signature) by date: the share of runs that have reached it by each round's date."""
    source = ColumnDataSource({"date": [], "agreement": [], "signed": [], "round": []}, name="negsim-curve")
    fig = figure(x_axis_type="datetime", y_range=(0, 1.02), width=WIDTH, height=HEIGHT,
                 title="Agreement by date", tools="")
    signed = fig.step(x="date", y="signed", source=source, mode="after", line_width=2, color="#777777",
                      line_dash="dashed")
    agreed = fig.step(x="date", y="agreement", source=source, mode="after", line_width=2.5, color="#0072B2")
    fig.add_tools(HoverTool(renderers=[agreed], mode="vline", tooltips=[
        ("date", "@date{%F}"), ("agreement", "@agreement{0.0%}"), ("signed", "@signed{0.0%}")],
        formatters={"@date": "datetime"}))
    fig.yaxis.formatter = NumeralTickFormatter(format="0%")
    fig.yaxis.axis_label = "share of runs, by then"
    legend = Legend(items=[("full agreement", [agreed]), ("signed (incl. ceasefire without settlement)", [signed])],
                    location="top_left", label_text_font_size="11px", background_fill_alpha=0.7)
    fig.add_layout(legend)
    _plain(fig)
    return fig, source


def update_curve(source: ColumnDataSource, outcome: Outcome) -> None:
    """New curves."""
    c = outcome.curve
    source.data = {"date": c["date"].to_numpy(), "agreement": c["agreement"].to_numpy(),
                   "signed": c["signed"].to_numpy(), "round": c["round"].to_numpy()}


def regions_figure(outcome: Outcome) -> tuple[figure, ColumnDataSource, list[str]]:
    """Stacked bars: what each region becomes in the agreed deals (the last texts if none agreed)."""
    options = list(dict.fromkeys(o for r in outcome.regions for o in r["shares"]))
    names = [r["name"] for r in outcome.regions][::-1] or ["(no regions)"]
    source = ColumnDataSource({"region": names, **{o: [0.0] * len(names) for o in options}}, name="negsim-regions")
    fig = figure(y_range=names, x_range=(0, 1), width=WIDTH, height=max(HEIGHT - 40, 60 + 34 * len(names)),
                 title="What each region becomes", tools="")
    if options:
        colours = [OPTION_COLOURS[k % len(OPTION_COLOURS)] for k in range(len(options))]
        bars = fig.hbar_stack(options, y="region", height=0.7, color=colours, source=source, line_color="white")
        fig.add_layout(Legend(items=[(o.replace("_", " "), [b]) for o, b in zip(options, bars)], location="center",
                              orientation="horizontal", label_text_font_size="11px", ncols=3, border_line_alpha=0,
                              padding=2, spacing=2, glyph_height=14, glyph_width=14), "below")
    fig.xaxis.formatter = NumeralTickFormatter(format="0%")
    _plain(fig)
    return fig, source, options


def update_regions(fig: figure, source: ColumnDataSource, options: list[str], outcome: Outcome) -> None:
    """New shares per region and option."""
    regions = outcome.regions[::-1]
    data = {"region": [r["name"] for r in regions] or ["(no regions)"]}
    for o in options:
        data[o] = [r["shares"].get(o, 0.0) for r in regions] or [0.0]
    source.data = data
    what = "agreed deals" if outcome.regions_basis == "agreements" else "last texts (no run agreed)"
    fig.title.text = f"What each region becomes, share of {what}"


@dataclass
class FrontierFigure:
    """The deal space for one pair of actors, with the sources it draws from."""

    fig: figure
    points: ColumnDataSource
    edge: ColumnDataSource
    agreed: ColumnDataSource
    marks: ColumnDataSource
    x_reservation: Span
    y_reservation: Span


def frontier_figure() -> FrontierFigure:
    """Pareto frontier projected on two actors, their reservation values, Nash, proposals and agreements."""
    fig = figure(x_range=(-0.02, 1.02), y_range=(-0.02, 1.02), width=WIDTH, height=HEIGHT + 80,
                 title="Deal space", tools="", match_aspect=True)
    points = ColumnDataSource({"x": [], "y": []}, name="negsim-frontier")
    edge = ColumnDataSource({"x": [], "y": []}, name="negsim-frontier-edge")
    agreed = ColumnDataSource({"x": [], "y": []}, name="negsim-agreed")
    marks = ColumnDataSource({"x": [], "y": [], "label": [], "colour": [], "size": []}, name="negsim-marks")
    r_pts = fig.scatter("x", "y", source=points, size=3, color=GREY, alpha=0.5)
    r_edge = fig.step("x", "y", source=edge, mode="before", color=DARK, line_width=1.5)
    r_agreed = fig.scatter("x", "y", source=agreed, size=5, color="#0072B2", alpha=0.35, marker="diamond")
    r_marks = fig.scatter("x", "y", source=marks, size="size", fill_color="colour", line_color="black",
                          marker="circle")
    fig.text("x", "y", text="label", source=marks, x_offset=7, y_offset=-7, text_font_size="11px")
    x_res = Span(location=0, dimension="height", line_dash="dashed", line_color=DARK, line_width=1.2)
    y_res = Span(location=0, dimension="width", line_dash="dashed", line_color=DARK, line_width=1.2)
    fig.add_layout(x_res)
    fig.add_layout(y_res)
    fig.add_layout(Legend(items=[("Pareto-optimal deals (all actors), projected", [r_pts]),
                                 ("best trade-off for this pair", [r_edge]),
                                 ("agreed deals in the runs (each run's own preferences)", [r_agreed]),
                                 ("Nash deal, named proposals (numbered as in the table)", [r_marks])],
                          label_text_font_size="11px", border_line_alpha=0, padding=2, spacing=0), "below")
    fig.add_tools(HoverTool(renderers=[r_marks], tooltips=[("", "@label")]))
    _plain(fig)
    return FrontierFigure(fig, points, edge, agreed, marks, x_res, y_res)


def update_frontier(ff: FrontierFigure, outcome: Outcome, x_actor: str, y_actor: str, chosen: str = "") -> None:
    """Project the frontier, the agreements and the marks on (x_actor, y_actor); `chosen` is a proposal id."""
    ix, iy = outcome.actor_ids.index(x_actor), outcome.actor_ids.index(y_actor)
    front = outcome.frontier[:, [ix, iy]] if len(outcome.frontier) else np.zeros((0, 2))
    # Thousands of points: send them only when they moved (a reservation value alone leaves them).
    if len(ff.points.data["x"]) != len(front) or not (np.array_equal(ff.points.data["x"], front[:, 0])
                                                       and np.array_equal(ff.points.data["y"], front[:, 1])):
        ff.points.data = {"x": front[:, 0], "y": front[:, 1]}
        edge = front[nondominated(front)] if len(front) else front
        edge = edge[np.argsort(edge[:, 0])]
        ff.edge.data = {"x": edge[:, 0], "y": edge[:, 1]}
    agreed = outcome.agreed_utilities
    ff.agreed.data = {"x": agreed[:, ix] if len(agreed) else [], "y": agreed[:, iy] if len(agreed) else []}
    xs, ys, labels, colours, sizes = [], [], [], [], []
    if outcome.nash is not None:
        xs.append(outcome.nash[x_actor])
        ys.append(outcome.nash[y_actor])
        labels.append("Nash")
        colours.append("black")
        sizes.append(10)
    for k, rec in enumerate(outcome.proposals, start=1):
        xs.append(rec["utilities"][x_actor])
        ys.append(rec["utilities"][y_actor])
        labels.append(f"{k}" if rec["id"] != chosen else f"{k}: {rec['name']}")
        colours.append("#E69F00" if rec["id"] == chosen else "white")
        sizes.append(14 if rec["id"] == chosen else 10)
    ff.marks.data = {"x": xs, "y": ys, "label": labels, "colour": colours, "size": sizes}
    ff.x_reservation.location = float(outcome.frontier_reservation[ix])
    ff.y_reservation.location = float(outcome.frontier_reservation[iy])
    names = dict(zip(outcome.actor_ids, outcome.actor_names))
    ff.fig.xaxis.axis_label = f"utility of {names[x_actor]} (dashed: its reservation value)"
    ff.fig.yaxis.axis_label = f"utility of {names[y_actor]}"
    ff.fig.title.text = (f"Deal space: {outcome.pareto_size:,} Pareto-optimal deals; "
                         f"zone of agreement {outcome.zopa_size:,}")
