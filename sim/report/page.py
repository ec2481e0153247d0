"""The report page: one self-contained HTML file of a results folder, and writing it.

Figures are embedded as base64 PNG and the styles are inline, so the file opens anywhere,
offline, with nothing else beside it; the only links are the scenario's own source URLs.
"""

from __future__ import annotations

import base64
import io
import shlex
from pathlib import Path
from typing import Any

from sim.errors import UserError
from sim.plots.load import discovery_source, read_folder
from sim.plots.registry import FIGURES
from sim.report.definitions import definitions_html
from sim.report.insight import discovery_html, leverage_html
from sim.report.markup import CSS, esc
from sim.report.numbers import (
    analysis_html,
    key_numbers,
    numbers_html,
    sensitivity_html,
    sensitivity_source_html,
    sweep_html,
)
from sim.report.scenario import scenario_section

#: Resolution of the embedded figures: 10 x 5.6 in at 110 dpi is 1100 x 616 px, sharp at the
#: report's 1000 px column and about 60-150 KB per figure.
REPORT_DPI = 110


def figure_html(stem: str, fig) -> str:
    """A drawn figure as an HTML figure: embedded PNG, with its registry caption as caption and alt text."""
    from sim.plots.style import FIGSIZE

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=REPORT_DPI)
    finally:
        fig.clear()
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    w, h = (round(v * REPORT_DPI) for v in FIGSIZE)
    caption = FIGURES[stem].caption
    return (f"<figure id=\"fig-{esc(stem)}\"><img src=\"data:image/png;base64,{data}\" width=\"{w}\" height=\"{h}\" "
            f"alt=\"{esc(caption)}\"><figcaption>{esc(caption)}</figcaption></figure>")


def _command_text(command: Any) -> str:
    if isinstance(command, (list, tuple)):
        return shlex.join(str(c) for c in command)
    return str(command or "")


def build_report(results_dir: str | Path, sensitivity: str | Path | None = None) -> str:
    """The report of a results folder as one HTML string (sensitivity: a JSON file kept elsewhere)."""
    from sim.plots import driver

    root = Path(results_dir)
    if root.is_file():
        raise UserError(f"{root} is a file; a report is of a results folder (a sensitivity file goes in "
                        "with --sensitivity FILE)")
    data = read_folder(root, sensitivity)
    manifest, runs, points = data.manifest, data.runs, data.points
    sc_meta = manifest.get("scenario") or {}
    title = sc_meta.get("title") or sc_meta.get("name") or "negsim results"
    description, scenario_html = scenario_section(manifest, root)

    parts = [f"<h1>{esc(title)}</h1>"]
    sub = []
    if sc_meta.get("as_of"):
        sub.append(f"as of {sc_meta['as_of']}")
    sub.append(f"{len(runs):,} simulated runs")
    if manifest.get("finished") or manifest.get("started"):
        sub.append(f"run {str(manifest.get('finished') or manifest.get('started'))[:10]}")
    parts.append(f"<p class='sub'>{esc(' · '.join(sub))}</p>")
    if manifest.get("status") not in (None, "complete"):
        parts.append(f"<p class='warn'>This run's status is <b>{esc(manifest.get('status'))}</b>: the numbers below "
                     "cover only the runs that finished.</p>")
    if description:
        parts.append(f"<p>{esc(description)}</p>")

    nums = key_numbers(manifest, runs)
    pooled = f", pooled over {points['point'].nunique():,} parameter points" if points is not None else ""
    parts.append("<h2>Key numbers</h2>")
    parts.append("<p class='note'>Every term and rule behind these numbers is stated under Definitions, below "
                 "the figures.</p>")
    parts.append(numbers_html(manifest, nums, pooled))
    if points is not None and len(points.columns) > 1:
        parts.append("<h2>Sweep</h2>" + sweep_html(manifest, points))
    found = discovery_source(data)
    if found is not None:
        from sim.insight.figdata import folder_discovery

        parts.append("<h2>Scenario discovery</h2>" + discovery_html(manifest, folder_discovery(found)))
    drivers = root / "drivers.json"
    if drivers.exists():
        import json

        from sim.drivers import drivers_text

        parts.append("<h2>What drives this answer</h2><pre>"
                     + esc(drivers_text(json.loads(drivers.read_text()))) + "</pre>")
    if data.sensitivity is not None:
        parts.append("<h2>Sensitivity</h2>" + sensitivity_source_html(manifest, data.sensitivity, sensitivity)
                     + sensitivity_html(manifest, data.sensitivity))
    if data.leverage is not None:
        parts.append("<h2>Leverage</h2>" + leverage_html(manifest, data.leverage))
    if data.analysis is not None:
        parts.append("<h2>Deal space</h2>" + analysis_html(manifest, data.analysis))

    parts.append("<h2>Figures</h2>")
    for stem, draw in driver.plans_for(data):
        parts.append(figure_html(stem, draw()))

    parts.append("<h2>Definitions</h2>")
    parts.append(definitions_html(manifest, sweep=points is not None and len(points.columns) > 1,
                                  sensitivity=data.sensitivity is not None, analysis=data.analysis is not None,
                                  discovery=found is not None, leverage=data.leverage is not None))

    parts.append("<h2>The scenario</h2>")
    parts.append(scenario_html)

    parts.append("<h2>How to reproduce</h2>")
    command = _command_text(manifest.get("command"))
    parts.append(f"<p>The command that produced these results (run in <code>{esc(manifest.get('cwd', '?'))}</code>):</p>"
                 f"<pre>{esc(command)}</pre>")
    facts = [("seed", manifest.get("seed")), ("runs", manifest.get("runs")),
             ("negsim version", manifest.get("negsim_version")), ("Python", manifest.get("python")),
             ("platform", manifest.get("platform")), ("scenario file", sc_meta.get("path")),
             ("scenario SHA-256", sc_meta.get("sha256")), ("seeding", manifest.get("seeding")),
             ("started", manifest.get("started")), ("finished", manifest.get("finished"))]
    parts.append("<table>" + "".join(f"<tr><th>{esc(k)}</th><td><code>{esc(v)}</code></td></tr>"
                                     for k, v in facts if v is not None) + "</table>")
    parts.append("<p>Every run seeds itself from the seed and its own number, so the same command gives the same "
                 "results on any machine and any number of workers. To check that this folder reproduces, run</p>"
                 f"<pre>negsim rerun {esc(shlex.quote(str(root)))}</pre>"
                 f"<p>and to rebuild this report, <code>negsim report {esc(shlex.quote(str(root)))}</code>.</p>")

    body = "\n".join(parts)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(title)} — negsim report</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            f"{body}\n<p class='note'>Written by negsim {esc(manifest.get('negsim_version', ''))}.</p>\n"
            "</main>\n</body>\n</html>\n")


def write_report(results_dir: str | Path, out: str | Path | None = None, *,
                 sensitivity: str | Path | None = None) -> Path:
    """Write the HTML report (default RESULTS_DIR/report.html) and return its path.

    sensitivity: a `negsim sensitivity --out FILE` JSON to include when it is not in the folder.
    """
    from sim.plots.driver import own_files

    target = Path(out) if out is not None else Path(results_dir) / "report.html"
    if target.is_dir():
        raise UserError(f"--out: {target} is a folder; give a file name such as {target / 'report.html'}")
    text = build_report(results_dir, sensitivity)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    own_files(Path(results_dir), [target])
    return target
