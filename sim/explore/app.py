"""The scenario page of `negsim explore SCENARIO`: sliders by actor, pickers, live figures and numbers.

One ScenarioPage per browser session. A slider acts when released (Bokeh's value_throttled);
the runs are computed off the server's event loop, and moves made meanwhile are folded into one
more computation with the latest values, so the page never queues stale work.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import re
import shlex

import panel as pn

from sim.errors import UserError
from sim.explore import MAX_RUNS, figures
from sim.explore.knobs import Knob
from sim.explore.model import OUTCOMES, Explorer, Outcome, Settings

LOG = logging.getLogger(__name__)

# Each pane draws in its own shadow root, so the sheet is given to every HTML pane (see html_pane).
CSS = """
.negsim-quote { font-size: 12px; color: #333; margin: 2px 0 6px 0; }
.negsim-quote blockquote { margin: 0 0 2px 0; padding-left: 8px; border-left: 3px solid #BBB; font-style: italic; }
.negsim-kind { font-size: 11px; color: #777; }
table { border-collapse: collapse; font-size: 13px; }
td, th { padding: 2px 8px; text-align: right; border-bottom: 1px solid #EEE; white-space: nowrap; }
th { white-space: normal; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; }
.negsim-headline { font-size: 17px; margin: 0 0 4px 0; }
.negsim-chosen td { background: #FFF3D6; }
"""


def html_pane(text: str = "", **options) -> pn.pane.HTML:
    """An HTML pane with the explorer's style sheet."""
    return pn.pane.HTML(text, stylesheets=[CSS], sizing_mode="stretch_width", **options)


def knob_class(path: str) -> str:
    """The CSS class a knob's slider carries (for tests and styling): `knob-` and the path, punctuation as '-'."""
    return "knob-" + re.sub(r"[^A-Za-z0-9_]+", "-", path).strip("-")


def _citation_html(knob: Knob) -> str:
    c = knob.citation
    if c is None:
        return ""
    where = html.escape(c.where)
    link = f'<a href="{where}" target="_blank" rel="noopener noreferrer">{where}</a>' if c.where.startswith(
        "http") else where
    note = f"<br><i>note: {html.escape(c.note)}</i>" if c.note else ""
    quote = f"<blockquote>“{html.escape(c.quote)}”</blockquote>" if c.quote else ""
    return f'<div class="negsim-quote">{quote}{html.escape(c.outlet)}, {html.escape(c.date)}; {link}{note}</div>'


def _widget_value(knob: Knob, value: float):
    """What a knob's slider holds for `value`: a date for a deadline (value: days after the as-of date)."""
    if knob.form == "date":
        return knob.as_of + dt.timedelta(days=int(value))
    return int(value) if knob.whole else float(value)


def _slider(knob: Knob, value: float):
    """A slider for `knob` standing at `value`."""
    name = f"{knob.label} (file: {knob.show()})"
    common = {"label": name, "css_classes": [knob_class(knob.path)], "sizing_mode": "stretch_width",
              "value": _widget_value(knob, value)}
    if knob.form == "date":
        return pn.widgets.DateSlider(start=_widget_value(knob, knob.start), end=_widget_value(knob, knob.end),
                                     **common)
    if knob.whole:
        return pn.widgets.IntSlider(start=int(knob.start), end=int(knob.end), step=1, **common)
    return pn.widgets.FloatSlider(start=knob.start, end=knob.end, step=knob.step, **common)


def _slider_value(knob: Knob, value) -> float:
    if knob.form == "date":
        day = value.date() if isinstance(value, dt.datetime) else value
        return float((day - knob.as_of).days)
    return float(value)


def reproduce_command(explorer: Explorer, settings: Settings) -> str:
    """The `negsim run` command line giving the same runs as the page shows."""
    args = ["negsim", "run", str(explorer.prepared.path), "--runs", str(settings.runs), "--seed", str(settings.seed)]
    for path, value in explorer.overrides(settings).items():
        # repr gives the shortest text that reads back as the same float: the runs must be the same.
        if isinstance(value, dict):
            text = "{" + ", ".join(f"{k}: {v!r}" for k, v in value.items()) + "}"
        elif isinstance(value, dt.date):
            text = value.isoformat()
        else:
            text = value if isinstance(value, str) else repr(value)
        args += ["--set", f"{path}={text}"]
    return shlex.join(args)


class ScenarioPage:
    """One browser session's view of an Explorer."""

    def __init__(self, explorer: Explorer, runs: int, seed: int):
        self.explorer = explorer
        self.settings = Settings(runs=runs, seed=seed)
        self.sliders: dict[str, object] = {}
        self._busy = self._pending = self._quiet = False
        ex = explorer
        proposals = {"(none)": ""} | {name: pid for pid, name in ex.proposals()}
        self.protocol = pn.widgets.Select(label="protocol", options={f"(scenario's: {ex.base_game.protocol['kind']})": ""}
                                          | {p: p for p in ex.protocols()}, value="", width=200)
        opening = {"(scenario's opening)": ""} | {k: v for k, v in proposals.items() if v}
        self.opening = pn.widgets.Select(label="opening text (mediated talks)", options=opening, value="", width=260)
        self.compare = pn.widgets.Select(label="mark a proposal", options=proposals, value="", width=260)
        actors = dict(zip(ex.base_game.actor_names, ex.base_game.actor_ids))
        sig = [ex.base_game.actor_ids[s] for s in ex.base_game.signatories] + list(ex.base_game.actor_ids)
        pair = list(dict.fromkeys(sig))[:2]
        self.x_actor = pn.widgets.Select(label="deal space: across", options=actors, value=pair[0], width=170)
        self.y_actor = pn.widgets.Select(label="up", options=actors, value=pair[-1], width=170)
        self.runs = pn.widgets.IntInput(label="runs", value=runs, start=10, end=MAX_RUNS, step=100, width=90)
        self.seed = pn.widgets.IntInput(label="seed", value=seed, start=0, width=90)
        self.reset = pn.widgets.Button(label="reset all to the file", width=160)
        self.status = html_pane()
        self.numbers = html_pane()
        self.table = html_pane()
        self.command = html_pane()
        self.f_outcomes, self.s_outcomes = figures.outcomes_figure()
        self.f_curve, self.s_curve = figures.curve_figure()
        self.frontier = figures.frontier_figure()
        self.outcome: Outcome | None = None
        self.doc = None
        self.f_regions = self.s_regions = None
        self.region_options: list[str] = []
        for w in (self.protocol, self.opening, self.runs, self.seed):
            w.param.watch(self._picked, "value")
        for w in (self.compare, self.x_actor, self.y_actor):
            w.param.watch(lambda _e: self._redraw_frontier(), "value")
        self.reset.on_click(self._reset)

    def sidebar(self) -> pn.Tabs:
        """One tab per actor (then the war, then the talks); in each, a picker of sections (the reservation
        value, the strategy, each issue...) showing one section's sliders with the quote they read.

        A section's sliders are made when it is first shown: a scenario has hundreds of numbers,
        and drawing them all would make the page take seconds to open.
        """
        tabs = []
        groups: dict[str, dict[str, list[Knob]]] = {}
        for knob in self.explorer.knobs:
            groups.setdefault(knob.group, {}).setdefault(knob.section, []).append(knob)
        for group, section in self.explorer.omitted:
            groups.setdefault(group, {}).setdefault(section, [])
        for group, sections in groups.items():
            labels = {f"{section} ({len(knobs)} slider{'' if len(knobs) == 1 else 's'})": section
                      for section, knobs in sections.items()}
            picker = pn.widgets.Select(label="numbers of", options=labels, value=next(iter(sections)),
                                       css_classes=[f"section-{knob_class(group)}"], sizing_mode="stretch_width")
            shown = pn.Column(sizing_mode="stretch_width")
            built: dict[str, list] = {}

            def show(_event=None, picker=picker, shown=shown, built=built, sections=sections, group=group) -> None:
                section = picker.value
                if section not in built:
                    built[section] = self._section(sections[section], self.explorer.omitted.get((group, section), 0))
                shown.objects = built[section]

            picker.param.watch(show, "value")
            show()
            title = self.explorer.titles.get(group, group)
            heading = html_pane(f"<b>{html.escape(title)}</b>")
            tabs.append((title.split(" (")[0], pn.Column(heading, picker, shown, sizing_mode="stretch_width")))
        # Tabs down the left: a scenario may have many actors, and their names are long.
        return pn.Tabs(*tabs, dynamic=True, tabs_location="left", sizing_mode="stretch_width")

    def _section(self, knobs: list[Knob], omitted: int = 0) -> list:
        """A section's quote (once if they share it), sliders at the page's current values, and their kind."""
        items: list = []
        if omitted:
            items.append(html_pane(f"<p>{omitted:,} option values: too many for sliders (a curve, not a list "
                                      "of judgements); change them in the scenario file</p>"))
        citations = {_citation_html(kn) for kn in knobs}
        if len(citations) == 1:  # one quote behind the whole section (an issue's value table)
            items.append(html_pane(next(iter(citations))))
        moved = dict(self.settings.values)
        for knob in knobs:
            slider = _slider(knob, moved.get(knob.path, knob.value))
            slider.param.watch(lambda e, kn=knob: self._moved(kn, e.new), "value_throttled")
            self.sliders[knob.path] = slider
            items.append(slider)
            if len(citations) > 1:
                items.append(html_pane(_citation_html(knob)))
        kinds = sorted({kn.kind for kn in knobs})
        if kinds:
            items.append(html_pane(f'<div class="negsim-kind">{", ".join(kinds)}</div>'))
        return items

    def layout(self) -> pn.viewable.Viewable:
        """The whole page: controls on top, sliders on the left, figures and numbers on the right."""
        self.doc = pn.state.curdoc
        first = self.explorer.compute(self.settings)
        self.f_regions, self.s_regions, self.region_options = figures.regions_figure(first)
        self._show(first)
        controls = pn.Row(self.protocol, self.opening, self.compare, self.x_actor, self.y_actor, self.runs,
                          self.seed, pn.Column(pn.Spacer(height=18), self.reset))
        side = pn.Column(self.sidebar(), width=560, height=900, scroll=True)
        plots = pn.GridBox(pn.pane.Bokeh(self.f_outcomes), pn.pane.Bokeh(self.f_curve),
                           pn.pane.Bokeh(self.f_regions), pn.pane.Bokeh(self.frontier.fig), ncols=2)
        main = pn.Column(self.status, self.numbers, plots, self.table, self.command, sizing_mode="stretch_width")
        title = pn.pane.HTML(f"<h2 style='margin:4px 0'>{html.escape(self.explorer.name)}</h2>",
                             sizing_mode="stretch_width")
        return pn.Column(title, controls, pn.Row(side, main, sizing_mode="stretch_width"), sizing_mode="stretch_width")

    # --- events -----------------------------------------------------------------------------

    def _moved(self, knob: Knob, value) -> None:
        if self._quiet:
            return
        number = _slider_value(knob, value)
        self.settings = (self.settings.without(knob.path) if abs(number - knob.value) < 1e-12
                         else self.settings.with_value(knob.path, number))
        self._schedule()

    def _picked(self, _event) -> None:
        runs = min(max(int(self.runs.value or 1), 10), MAX_RUNS)
        self.settings = Settings(self.settings.values, self.protocol.value, self.opening.value, runs,
                                 max(int(self.seed.value or 0), 0))
        self._schedule()

    def _reset(self, _event) -> None:
        self._quiet = True
        try:
            for path, slider in self.sliders.items():
                knob = self.explorer.by_path[path]
                slider.value = _widget_value(knob, knob.value)
        finally:
            self._quiet = False
        self.settings = Settings(protocol=self.settings.protocol, opening=self.settings.opening,
                                 runs=self.settings.runs, seed=self.settings.seed)
        self._schedule()

    def _schedule(self) -> None:
        self._pending = True
        if not self._busy:
            self._busy = True  # set here, not in the coroutine: a second move before it starts must not start another
            pn.state.execute(self._recompute)

    async def _recompute(self) -> None:
        try:
            while self._pending:
                self._pending = False
                settings = self.settings
                await self._on_document(lambda: self._set_status("busy", "computing…"))
                try:
                    outcome = await asyncio.to_thread(self.explorer.compute, settings)
                except UserError as exc:  # a value the scenario's checks refuse: say which, keep the last numbers
                    text = "; ".join(str(p) for p in exc.problems)
                    await self._on_document(lambda text=text: self._set_status("error", text))
                    continue
                except Exception as exc:  # a bug must not leave the page saying "computing…" for ever
                    LOG.exception("negsim explore: computing %s failed", settings)
                    text = f"failed: {type(exc).__name__}: {exc} (details on the server's terminal)"
                    await self._on_document(lambda text=text: self._set_status("error", text))
                    continue
                await self._on_document(lambda outcome=outcome: self._show(outcome))
        finally:
            self._busy = False

    async def _on_document(self, change) -> None:
        """Make `change` to the page's models inside the document's lock, as Bokeh requires."""
        if self.doc is None or self.doc.session_context is None:
            change()
            return
        done = asyncio.get_running_loop().create_future()

        def apply() -> None:
            try:
                change()
            finally:
                done.set_result(None)

        self.doc.add_next_tick_callback(apply)
        await done

    # --- drawing ----------------------------------------------------------------------------

    def _set_status(self, state: str, text: str) -> None:
        colour = {"error": "#B00020", "busy": "#555"}.get(state, "#2E7D32")
        self.status.object = (f'<span class="negsim-status" data-state="{state}" style="color:{colour}">'
                              f"{html.escape(text)}</span>")

    def _show(self, outcome: Outcome) -> None:
        self.outcome = outcome
        figures.update_outcomes(self.s_outcomes, outcome)
        figures.update_curve(self.s_curve, outcome)
        if self.f_regions is not None:
            figures.update_regions(self.f_regions, self.s_regions, self.region_options, outcome)
        self._redraw_frontier()
        self.numbers.object = numbers_html(self.explorer, outcome)
        self.table.object = proposals_html(outcome, self.compare.value)
        self.command.object = (f"<div class='negsim-kind'>the same runs from the command line:</div>"
                               f"<code style='font-size:12px'>{html.escape(reproduce_command(self.explorer, outcome.settings))}"
                               "</code>")
        self._set_status("ready", f"{outcome.runs:,} runs and the deal space in {outcome.seconds:.2f} s")

    def _redraw_frontier(self) -> None:
        if self.outcome is None:
            return
        x, y = self.x_actor.value, self.y_actor.value
        if x == y:
            others = [a for a in self.outcome.actor_ids if a != x]
            y = others[0] if others else x
        figures.update_frontier(self.frontier, self.outcome, x, y, self.compare.value)
        self.table.object = proposals_html(self.outcome, self.compare.value)


def _value(key: str, text: str) -> str:
    return f'<span class="negsim-value" data-key="{key}">{html.escape(text)}</span>'


def numbers_html(explorer: Explorer, outcome: Outcome) -> str:
    """The headline numbers, each in a span with a `data-key` (see Outcome.numbers)."""
    n = outcome.numbers()
    head = (f'<p class="negsim-headline">full agreement {_value("agreement", n["agreement"])} '
            f'(95% CI {_value("agreement_ci", n["agreement_ci"])}) · signed {_value("signed", n["signed"])} '
            f'(95% CI {_value("signed_ci", n["signed_ci"])}) · by {html.escape(n.get("horizon", "the last round"))}, '
            f'{_value("runs", n["runs"])} runs</p>')
    endings = " · ".join(f"{label} {_value(f'outcome_{k}', n[f'outcome_{k}'])}" for k, label in OUTCOMES.items())
    dates = ", ".join(f"{d} {a:.1%}" for d, a, _ in outcome.by_date[-6:])
    agreed = max(outcome.counts.get("agreement", 0), 1)
    near = "; ".join(f"{html.escape(name)} {count / agreed:.0%}" for name, count in outcome.families[:3])
    rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{_value(f'utility_{a}', n[f'utility_{a}'])}</td>"
                   f"<td>{_value(f'reservation_{a}', n[f'reservation_{a}'])}</td></tr>"
                   for a, name in zip(outcome.actor_ids, outcome.actor_names))
    moved = [f"{html.escape(explorer.by_path[p].label)} [{html.escape(p)}]: {html.escape(explorer.by_path[p].show())}"
             f" → <b>{html.escape(explorer.by_path[p].show(v))}</b>" for p, v in outcome.settings.values]
    return (head + f"<div>{endings}</div><div>agreement by date: {html.escape(dates)}</div>"
            f"<div>zone of agreement at the point estimates: {_value('zopa', n['zopa'])} deals · median km² changing "
            f"hands in agreements: {_value('median_km2', n['median_km2'])}</div>"
            + (f"<div>agreements by nearest named proposal: {near}</div>" if near else "")
            + f"<table><tr><th>actor</th><th>mean utility of agreed deals</th><th>mean reservation value at the end"
            f"</th></tr>{rows}</table>"
            + (f"<div>moved from the file ({len(moved)}): " + "; ".join(moved) + "</div>" if moved
               else "<div>every number as in the file</div>"))


def proposals_html(outcome: Outcome, chosen: str = "") -> str:
    """The named proposals at the point estimates: each actor's utility, margin and answer."""
    if not outcome.proposals:
        return "<p>no named proposals</p>"
    names = dict(zip(outcome.actor_ids, outcome.actor_names))
    head = "".join(f"<th>{html.escape(names[a])}</th>" for a in outcome.actor_ids)
    rows = []
    for k, rec in enumerate(outcome.proposals, start=1):
        cells = "".join(f"<td>{rec['utilities'][a]:.2f} ({rec['margins'][a]:+.2f}) "
                        f"{'yes' if rec['accepts'][a] else ('RED' if rec['red_line'][a] else 'no')}</td>"
                        for a in outcome.actor_ids)
        cls = ' class="negsim-chosen"' if rec["id"] == chosen else ""
        rows.append(f"<tr{cls}><td>{k}. {html.escape(rec['name'])}</td>{cells}</tr>")
    return ("<div class='negsim-kind'>named proposals at the point estimates: utility (margin over the reservation "
            "value) and answer; RED crosses a red line</div>"
            f"<table><tr><th>proposal</th>{head}</tr>{''.join(rows)}</table>")
