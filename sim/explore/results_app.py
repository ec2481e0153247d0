"""The results page of `negsim explore RESULTS_DIR`: filter the runs by outcome, pick one, step through it."""

from __future__ import annotations

import html

import panel as pn
from bokeh.models import ColumnDataSource, Legend, Span
from bokeh.plotting import figure

from sim.explore.app import html_pane
from sim.explore.model import OUTCOMES
from sim.explore.results import MAX_LISTED, ResultsData, RoundView

#: Colours of the actors' lines, in manifest order (Okabe–Ito, as the figures use).
LINE_COLOURS = ("#D55E00", "#E69F00", "#0072B2", "#009E73", "#56B4E9", "#CC79A7", "#332288", "#999933")


class ResultsPage:
    """One browser session's view of a results folder."""

    def __init__(self, data: ResultsData):
        self.data = data
        counts = data.outcome_counts()
        labels = {f"{OUTCOMES.get(k, k)} ({n:,})": k for k, n in counts.items()}
        self.outcomes = pn.widgets.CheckButtonGroup(label="outcomes", options=labels, value=list(counts))
        points = data.points()
        self.point = pn.widgets.Select(label="point", options=points, value=points[0], width=120,
                                       visible=len(points) > 1)
        self.run = pn.widgets.Select(label="run", options={}, sizing_mode="stretch_width",
                                     css_classes=["negsim-run-picker"])
        self.listed = html_pane()
        self.step = pn.widgets.Player(label="round", start=0, end=1, value=0, interval=800, loop_policy="once",
                                      show_loop_controls=False, width=420, css_classes=["negsim-player"])
        self.view = html_pane()
        self.source = ColumnDataSource({"round": []}, name="negsim-run")
        self.marker = Span(location=0, dimension="height", line_color="#333", line_dash="dotted", line_width=1.5)
        self.fig = self._figure()
        self.story: list[RoundView] = []
        self.outcomes.param.watch(lambda _e: self._refilter(), "value")
        self.point.param.watch(lambda _e: self._refilter(), "value")
        self.run.param.watch(lambda _e: self._load_run(), "value")
        self.step.param.watch(lambda _e: self._show_round(), "value")
        self._refilter()

    def _figure(self):
        fig = figure(width=640, height=380, title="Each actor: utility of the text (solid), reservation value (dashed)",
                     tools="", x_axis_label="round", y_axis_label="utility (0–1)")
        items = []
        for k, aid in enumerate(self.data.actor_names):
            colour = LINE_COLOURS[k % len(LINE_COLOURS)]
            self.source.data[f"u_{aid}"] = []
            self.source.data[f"r_{aid}"] = []
            solid = fig.line("round", f"u_{aid}", source=self.source, color=colour, line_width=2)
            fig.line("round", f"r_{aid}", source=self.source, color=colour, line_width=1.5, line_dash="dashed")
            items.append((self.data.actor_names[aid], [solid]))
        fig.add_layout(Legend(items=items, label_text_font_size="11px", border_line_alpha=0, padding=2, spacing=0),
                       "below")
        fig.add_layout(self.marker)
        fig.toolbar.logo = None
        fig.toolbar_location = None
        return fig

    def layout(self) -> pn.viewable.Viewable:
        """The page: counts, filters and run picker on top, the chosen run's rounds below."""
        counts = ", ".join(f"{OUTCOMES.get(k, k)} {v:,}" for k, v in self.data.outcome_counts().items())
        head = (f"<h2 style='margin:4px 0'>{html.escape(self.data.title)}</h2>"
                f"<div>{len(self.data.runs):,} runs: {html.escape(counts)}</div>")
        note = "" if self.data.has_rounds else ("<p><b>This folder has no rounds table</b> (a sweep writes one only "
                                                "with --rounds): each run shows only how it ended.</p>")
        return pn.Column(html_pane(head + note),
                         pn.Row(pn.Column("filter by outcome", self.outcomes), self.point),
                         self.run, self.listed, self.step,
                         pn.Row(pn.pane.Bokeh(self.fig), self.view, sizing_mode="stretch_width"), sizing_mode="stretch_width")

    def _refilter(self) -> None:
        point = self.point.value if len(self.data.points()) > 1 else None
        runs = self.data.filter(self.outcomes.value, point)
        shown = runs.head(MAX_LISTED)
        options = {self.data.label(row): (int(row["point"]), int(row["run"])) for _, row in shown.iterrows()}
        self.listed.object = (f'<span class="negsim-value" data-key="listed">{len(runs):,}</span> runs match'
                              + (f" (the first {MAX_LISTED:,} are listed)" if len(runs) > MAX_LISTED else ""))
        self.run.options = options
        if options and self.run.value not in options.values():
            self.run.value = next(iter(options.values()))
        elif not options:
            self.story = []
            self._show_round()

    def _load_run(self) -> None:
        if self.run.value is None:
            return
        point, run = self.run.value
        self.story = self.data.story(run, point)
        last = max(len(self.story) - 1, 0)
        self.step.end = max(last, 1)  # a one-round run still needs a slider with two ends
        self.source.data = {"round": [r.round for r in self.story],
                            **{f"{p}_{aid}": [float(r.actors.loc[r.actors["actor"] == aid, col].iloc[0])
                                              if (r.actors["actor"] == aid).any() else float("nan")
                                              for r in self.story]
                               for aid in self.data.actor_names for p, col in (("u", "utility"),
                                                                               ("r", "reservation"))}}
        if self.step.value != 0:
            self.step.value = 0  # the watcher shows round 0
        else:
            self._show_round()

    def _show_round(self) -> None:
        row = self._run_row()
        ending = self.data.label(row) if row is not None else "no run matches the filter"
        if not self.story:
            self.view.object = f"<p>{html.escape(ending)}</p>" + ("" if row is None else "<p>(no rounds recorded)</p>")
            return
        k = min(int(self.step.value), len(self.story) - 1)
        r = self.story[k]
        self.marker.location = r.round
        text = "".join(f"<tr><td>{html.escape(i)}</td><td style='text-align:left'>{'<b>' if i in r.changed else ''}"
                       f"{html.escape(o)}"
                       f"{'</b>' if i in r.changed else ''}</td></tr>" for i, o in r.text.items())
        actors = "".join(
            f"<tr><td>{html.escape(self.data.actor_names.get(a.actor, a.actor))}</td><td>{a.utility:.3f}</td>"
            f"<td>{a.aspiration:.3f}</td><td>{a.reservation:.3f}</td><td>{'yes' if a.accepted else 'no'}</td>"
            f"<td>{a.cost:.3f}</td></tr>" for a in r.actors.itertuples())
        self.view.object = (
            f"<p>{html.escape(ending)}</p>"
            f'<p>round <span class="negsim-value" data-key="round">{r.round}</span> of {self.story[-1].round}, '
            f'<span class="negsim-value" data-key="date">{r.date}</span></p>'
            f"<table><tr><th>actor</th><th>utility of the text</th><th>aspiration</th><th>reservation</th>"
            f"<th>accepts</th><th>war cost so far</th></tr>{actors}</table>"
            f"<div class='negsim-kind'>the text on the table (bold: changed since the round before)</div>"
            f"<table>{text}</table>")

    def _run_row(self):
        if self.run.value is None:
            return None
        point, run = self.run.value
        match = self.data.runs[(self.data.runs["run"] == run) & (self.data.runs["point"] == point)]
        return match.iloc[0] if len(match) else None
