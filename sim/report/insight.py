"""The report's insight sections: scenario discovery (the PRIM boxes as a table) and an actor's leverage.

Both take the JSON-ready results of sim.insight (the discovery at the default level of
sim.insight.figdata.folder_discovery, which the discovery figures draw too; a `leverage.json`)
and return HTML below the section's heading; every piece of text from a file is escaped.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from typing import Any

from sim.report.markup import esc, pct


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def discovery_html(manifest: Mapping[str, Any], result: Mapping[str, Any]) -> str:
    """The PRIM boxes of a sweep or sensitivity design: per box its restricted inputs, coverage, density, support."""
    from sim.insight.figdata import discovery_limits
    from sim.plots.discovery import design_text, level_text, outcome_words
    from sim.plots.style import parameter_label

    s = result["settings"]
    design = design_text(result)
    out = [f"<p>{esc(design[:1].upper() + design[1:])}. A point is of interest when its {esc(outcome_words(result))} "
           f"rate is {esc(level_text(result))}; {result['of_interest']:,} of them are. In which ranges of the inputs "
           "do they lie?</p>"]
    if result.get("threshold_rule") == "constant":
        out.append("<p>Every point has the same rate, so no range of inputs stands out.</p>")
        return "\n".join(out)
    boxes = result.get("prim") or []
    if not boxes:
        out.append("<p>No point reaches the level: there is no range to describe.</p>")
        return "\n".join(out)
    out.append(f"<p>PRIM (Friedman &amp; Fisher 1999: peeling {s['alpha']:g} of the points at a time, boxes of at "
               f"least {pct(s['min_support'])} of the points, target density {pct(s['min_density'])}, then pasting; "
               "a later box only among the points outside the earlier ones) finds:</p>")
    out.append("<table><tr><th>box</th><th>input</th><th>the box keeps</th><th>sampled</th>"
               "<th class='num'>p-value</th><th class='num'>coverage</th><th class='num'>density</th>"
               "<th class='num'>support</th></tr>")
    for k, box in enumerate(boxes):
        limits = discovery_limits(dict(result), "prim", k)
        rows = [(f"{esc(parameter_label(name, manifest))} <code>{esc(name)}</code>", esc(limits["labels"][j]),
                 esc(limits["sampled"][j]),
                 f"{limits['p_value'][j]:.2g}" if math.isfinite(limits["p_value"][j]) else "–")
                for j, name in enumerate(limits["inputs"])]
        rows = rows or [("no input restricted: the whole sampled space", "", "", "")]
        span = f" rowspan='{len(rows)}'" if len(rows) > 1 else ""
        stats = (pct(box["coverage"]), pct(box["density"]), f"{pct(box['support'])} ({box['points']:,} points)")
        for j, (name, kept, sampled, p) in enumerate(rows):
            # The box's number and statistics span its rows: they are the box's, not one input's.
            head = f"<td{span}>{k + 1}</td>" if j == 0 else ""
            tail = "".join(f"<td class='num'{span}>{v}</td>" for v in stats) if j == 0 else ""
            out.append(f"<tr>{head}<td>{name}</td><td>{kept}</td><td>{sampled}</td><td class='num'>{p}</td>{tail}</tr>")
    out.append("</table>")
    short = [k + 1 for k, box in enumerate(boxes) if not box.get("meets_target", True)]
    if short:
        out.append(f"<p class='note'>Box {', '.join(map(str, short))} reaches no box of the target density: it is "
                   "the densest the peeling found.</p>")
    command = shlex.join(["negsim", "discover", str(result.get("path") or ""), "--threshold",
                          f"{float(result['threshold']):.4g}"])
    out.append(f"<p class='note'>A point's rate is estimated from its runs, so points near the level may fall on "
               f"either side of it. To change the level, the target density or the method (a decision tree too), "
               f"run</p><pre>{esc(command)}</pre>")
    return "\n".join(out)


def _step_text(step: Mapping[str, Any]) -> str:
    if step["kind"] == "baseline":
        return "as in the scenario"
    if step["kind"] == "weight":
        return f"weight × {step['step']:g}"
    s = step["step"]
    return f"position: hardens {abs(s):.0%}" if s < 0 else f"position: {s:.0%} towards the others"


def _detail(step: Mapping[str, Any], result: Mapping[str, Any]) -> str:
    if step["kind"] == "weight":
        return f"{step['weight']:.3g} ({step['share']:.0%} of its weight)"
    values = step.get("values") or result.get("values") or {}
    return ", ".join(f"{o} {float(v):.2g}" for o, v in values.items())


def leverage_html(manifest: Mapping[str, Any], result: Mapping[str, Any]) -> str:
    """An actor's leverage on an issue: every step's probabilities and paired changes, as a table."""
    steps = list(result["steps"])
    base, rest = steps[0], steps[1:]
    order = {"weight": 0, "position": 1}
    rest.sort(key=lambda s: (order.get(s["kind"], 2), s["step"]))
    actor = f"{result.get('actor_name') or result['actor']}"
    issue = f"{result.get('issue_name') or result['issue']}"
    values = ", ".join(f"{o} {float(v):.2g}" for o, v in (result.get("values") or {}).items())
    out = [f"<p>How much a change of <b>{esc(actor)}</b>'s weight on <b>{esc(issue)}</b>, or of its position there, "
           f"moves the chance of agreement: {int(result['runs']):,} runs at every step (seed {esc(result.get('seed'))}),"
           f" the same runs throughout. As written, its weight there is {float(result['weight']):.3g} "
           f"({float(result['share']):.0%} of its total) and its values {esc(values)}.</p>"]
    if result.get("scenario") and result["scenario"] != (manifest.get("scenario") or {}).get("name"):
        out.append(f"<p class='note'>Computed on scenario <code>{esc(result['scenario'])}</code>.</p>")
    out.append("<table><tr><th>step</th><th>weight or values</th><th class='num'>full agreement (95% interval)</th>"
               "<th class='num'>change, points (95% interval)</th><th class='num'>runs gained / lost</th>"
               "<th class='num'>signed (95% interval)</th><th class='num'>change, points (95% interval)</th></tr>")
    for step in [base, *rest]:
        cells = []
        for output in ("agreement", "signed"):
            c = step[output]
            cells.append(f"<td class='num'>{pct(c['rate'])} ({pct(c['low'])}–{pct(c['high'])})</td>")
            change = "reference" if step is base else \
                f"{_pts(c['change'])} ({_pts(c['change_low'])} to {_pts(c['change_high'])})"
            cells.append(f"<td class='num'>{change}</td>")
            if output == "agreement":
                moved = "" if step is base else f"{c['gained']:,} / {c['lost']:,}"
                cells.append(f"<td class='num'>{moved}</td>")
        detail = _detail(step, result) if step is not base else \
            f"{float(result['weight']):.3g} ({float(result['share']):.0%}); {values}"
        out.append(f"<tr><td>{esc(_step_text(step))}</td><td>{esc(detail)}</td>{''.join(cells)}</tr>")
    out.append("</table>")
    reference = result.get("reference")
    toward = (", ".join(f"{o} {float(v):.2g}" for o, v in reference.items()) if reference
              else "no other actor values the issue")
    out.append(f"<p class='note'>Towards the others: its values move a share of the way to the other actors' mean "
               f"values ({esc(toward)}); hardening: towards valuing only its favourite option "
               f"({esc(result.get('favourite'))}). Red lines and interactions are unchanged.</p>")
    return "\n".join(out)
