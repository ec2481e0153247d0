"""One self-contained HTML report of a results folder, to send to a colleague.

`write_report(results_dir)` writes `RESULTS_DIR/report.html`: the scenario in brief (and, if the
scenario file the run used is still there unchanged, its actors, issues, proposals and every
judgement with its quote and source), the key numbers, every figure the folder supports, and
how to reproduce the run. Figures are embedded as base64 PNG and the styles are inline, so the
file opens anywhere, offline, with nothing else beside it; the only links are the scenario's
own source URLs. Every piece of text that comes from a file is escaped.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

# numpy, pandas and matplotlib (through sim.plots) are imported inside the functions that need
# them, so that importing this module for `add_arguments` keeps `negsim --help` fast.

#: Resolution of the embedded figures: 10 x 5.6 in at 110 dpi is 1100 x 616 px, sharp at the
#: report's 1000 px column and about 60-150 KB per figure.
REPORT_DPI = 110

CAPTIONS = {
    "outcomes": "How the runs ended, and which named proposal each agreement is nearest to.",
    "utilities": "What each actor gets: utility of the outcome per actor, with its reservation value "
                 "(what no deal is worth to it) marked.",
    "regions": "What each region becomes in the agreements, and how much territory changes hands.",
    "time_to_agreement": "How long agreement takes: share of runs still without agreement after each round.",
    "sweep": "Agreement probability across the swept parameters, with 95% Wilson intervals.",
    "sensitivity": "Which uncertain numbers matter: Sobol first-order (alone) and total (with interactions) "
                   "indices per output.",
    "frontier": "The deal space: Pareto-optimal deals projected on pairs of actors, the Nash and "
                "Kalai–Smorodinsky bargaining solutions, and the named proposals.",
    "trajectory": "One run round by round: who holds how much of each region (when the scenario has regions), "
                  "and each actor's aspiration and reservation value.",
}

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 0; background: #fafafa; color: #1a1a1a; line-height: 1.45; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 1.7em; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.3em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1.08em; margin-top: 1.3em; }
.sub { color: #555; margin-top: 0; }
.warn { background: #fff4e5; border-left: 4px solid #e69f00; padding: 8px 12px; }
.note { color: #555; font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.94em; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 4px 10px 4px 0; text-align: left; vertical-align: top; }
th { font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.big { font-size: 1.25em; font-weight: 600; }
figure { margin: 1.2em 0 1.8em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.93em; margin-top: 0.3em; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; }
pre { background: #f4f4f4; padding: 10px 12px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
q { font-style: italic; }
details { margin: 0.4em 0; }
summary { cursor: pointer; font-weight: 600; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 2px; margin-right: 0.35em;
          vertical-align: baseline; }
"""


def _e(value: Any) -> str:
    """Escape any value for HTML text or attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def _pct(x: float) -> str:
    return f"{x:.1%}"


# ---------------------------------------------------------------------------------------------
# Numbers


def key_numbers(manifest: Mapping[str, Any], runs: pd.DataFrame) -> dict:
    """The numbers the report leads with, computed from the runs table."""
    import numpy as np
    import pandas as pd

    from sim import plots

    n = len(runs)
    outcome = runs["outcome"].astype(str) if "outcome" in runs.columns else pd.Series([], dtype=str)
    counts = outcome.value_counts()
    kinds = [*plots.OUTCOMES, *sorted(k for k in counts.index if k not in plots.OUTCOMES)]
    agreed = runs[outcome == "agreement"] if n else runs
    k = len(agreed)
    low, high = plots.wilson_band(k, n)
    actors = plots._actor_ids(manifest, runs)
    names = {p["id"]: p.get("name") or p["id"] for p in manifest.get("proposals", []) if "id" in p}
    families = []
    if k and "nearest_proposal" in agreed.columns:
        for pid, c in agreed["nearest_proposal"].fillna("").astype(str).value_counts().head(5).items():
            families.append({"id": pid, "name": names.get(pid) or pid or "(no named proposal close)", "count": int(c),
                             "share": c / k})
    utilities = {}
    for a in actors:
        col = f"utility_{a}"
        if col not in runs.columns:
            continue
        utilities[a] = {
            "agreements": float(agreed[col].mean()) if k else None,
            "all": float(runs[col].mean()) if n else None,
            "reservation": float(runs[f"reservation_{a}"].mean()) if f"reservation_{a}" in runs.columns and n else None,
        }
    walked = {}
    if "walked_away" in runs.columns and "suspensions" in runs.columns:
        # Walking out pauses the talks; who did so last in each run that paused.
        paused = runs.loc[runs["suspensions"] > 0, "walked_away"].fillna("").astype(str)
        walked = {a: int(c) for a, c in paused[paused != ""].value_counts().items()}
    curve = []
    if k and manifest.get("horizon") and "round" in agreed.columns:
        from sim.results import agreement_by_date

        curve = agreement_by_date(agreed["round"].to_numpy(), n, manifest)
    deals = []
    deal_cols = [c for c in runs.columns if c.startswith("deal_")]
    if k and deal_cols:
        top = agreed.groupby(deal_cols).size().sort_values(ascending=False).head(3)
        for deal, c in top.items():
            deal = deal if isinstance(deal, tuple) else (deal,)
            deals.append({"deal": {col[5:]: opt for col, opt in zip(deal_cols, deal)}, "count": int(c),
                          "share": c / k})
    return {
        "runs": n,
        "agreements": k,
        "agreement_rate": k / n if n else None,
        "ci": (float(low), float(high)),
        "outcomes": {kind: int(counts.get(kind, 0)) for kind in kinds},
        "median_round": float(np.median(agreed["round"])) if k and "round" in agreed.columns else None,
        "max_rounds": manifest.get("max_rounds"),
        "families": families,
        "utilities": utilities,
        "walked_away": walked,
        "by_date": curve,
        "top_deals": deals,
    }


# ---------------------------------------------------------------------------------------------
# The scenario file, if it is still the one the run used


def find_scenario(manifest: Mapping[str, Any], results_dir: Path) -> tuple[Path | None, str]:
    """(path, "") if the scenario file is found with the manifest's SHA-256, else (None, why not)."""
    sc = manifest.get("scenario") or {}
    recorded = sc.get("path")
    if not recorded:
        return None, "the manifest does not name a scenario file"
    path = Path(recorded)
    candidates = [path] if path.is_absolute() else [
        *([Path(manifest["cwd"]) / path] if manifest.get("cwd") else []), path, results_dir / path]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        return None, f"the scenario file {recorded} is no longer where the run found it"
    digest = hashlib.sha256(found.read_bytes()).hexdigest()
    if sc.get("sha256") and digest != sc["sha256"]:
        return None, (f"the scenario file {found} has changed since the run (SHA-256 {digest[:12]}…, "
                      f"the run used {str(sc['sha256'])[:12]}…)")
    return found, ""


def _num(value: Any) -> str:
    if hasattr(value, "low") and hasattr(value, "mean"):
        if value.mean is not None:
            bounds = ""
            if value.low is not None or value.high is not None:
                bounds = f", within {value.low if value.low is not None else '…'}–" \
                         f"{value.high if value.high is not None else '…'}"
            return f"{value.mean:.2f} ± {value.sd:.2f} (normal{bounds})"
        return f"{value.low:.2f}–{value.high:.2f} (uniform)"
    return f"{float(value):.2f}"


def _cite(sc, source_id: str | None, quote: str | None) -> str:
    if not source_id:
        return ""
    src = sc.sources.get(source_id)
    if src is None:
        return f"<span class='note'>source {_e(source_id)}</span>"
    where = f"{src.outlet}, {src.date}"
    if src.url:
        link = f"<a href=\"{_e(src.url)}\">{_e(where)}</a>"
    else:
        link = f"{_e(where)} ({_e(src.path)})"
    text = f"<q>{_e(quote)}</q> — " if quote else ""
    return f"{text}{link}"


def _reservation_text(res) -> str:
    if res.derive == "war":
        return f"derived from the war (value of fighting on − its costs) + premium {_num(res.premium)}"
    return _num(res.value)


def _scenario_details(loaded, manifest: Mapping[str, Any]) -> str:
    from sim import plots

    sc = loaded.scenario
    colours = plots.actor_colours(list(sc.actors))
    out = []
    out.append("<h3>Actors</h3><table><tr><th>actor</th><th>role</th><th>strategy</th>"
               "<th>reservation value (what no deal is worth)</th><th>because</th></tr>")
    for aid, actor in sc.actors.items():
        strat = actor.strategy
        kind = strat.kind + (f" (exponent {strat.exponent:g})" if strat.exponent else "")
        out.append(f"<tr><td><span class='swatch' style='background:{_e(colours[aid])}'></span>{_e(actor.name)}"
                   f" <code>{_e(aid)}</code></td><td>{_e(', '.join(actor.roles))}</td><td>{_e(kind)}</td>"
                   f"<td>{_e(_reservation_text(actor.reservation))}</td>"
                   f"<td>{_cite(sc, actor.reservation.source, actor.reservation.quote)}</td></tr>")
    out.append("</table>")

    # Land columns only when the scenario has regions; holders by the scenario's own names.
    land = any(issue.kind == "territory" for issue in sc.issues.values())
    out.append("<h3>Issues</h3><table><tr><th>issue</th><th>kind</th><th>options (* = default)</th>"
               + ("<th class='num'>area km²</th><th>held at the start</th>" if land else "") + "</tr>")
    for iid, issue in sc.issues.items():
        opts = "<br>".join(f"{'*' if oid == issue.default else ''}<code>{_e(oid)}</code>: {_e(opt.meaning)}"
                           for oid, opt in issue.options.items())
        row = f"<tr><td>{_e(issue.name)} <code>{_e(iid)}</code></td><td>{_e(issue.kind)}</td><td>{opts}</td>"
        if land:
            area = f"{issue.area_km2:,.0f}" if issue.area_km2 is not None else ""
            held = ", ".join(f"{sc.actors[a].name if a in sc.actors else a} {share:.0%}"
                             for a, share in (issue.held or {}).items())
            row += f"<td class='num'>{_e(area)}</td><td>{_e(held)}</td>"
        out.append(row + "</tr>")
    out.append("</table>")

    if sc.proposals:
        out.append("<h3>Named proposals</h3><table><tr><th>proposal</th><th>terms</th><th>source</th></tr>")
        for pid, prop in sc.proposals.items():
            terms = ", ".join(f"{iid} = {oid}" for iid, oid in prop.options.items())
            out.append(f"<tr><td>{_e(prop.name)} <code>{_e(pid)}</code></td><td>{_e(terms)}</td>"
                       f"<td>{_cite(sc, prop.source, prop.quote)}</td></tr>")
        out.append("</table>")

    out.append("<h3>Assumptions, with their sources</h3>"
               "<p class='note'>Weights say how much each issue matters to an actor; values (0 = worst, "
               "1 = best) how good each option is for it. A range or ± is uncertain: the runs sample it.</p>")
    for aid, actor in sc.actors.items():
        out.append(f"<details><summary>{_e(actor.name)}</summary><table>"
                   "<tr><th>issue</th><th>weight</th><th>values of the options</th><th>because</th></tr>")
        for iid, table in actor.values.items():
            weight = _num(actor.weights[iid]) if iid in actor.weights else "0"
            values = ", ".join(f"{oid} {_num(v)}" for oid, v in table.options.items())
            note = f"<br><span class='note'>{_e(table.note)}</span>" if table.note else ""
            out.append(f"<tr><td>{_e(sc.issues[iid].name if iid in sc.issues else iid)}</td><td>{_e(weight)}</td>"
                       f"<td>{_e(values)}</td><td>{_cite(sc, table.source, table.quote)}{note}</td></tr>")
        for inter in actor.interactions:
            text = (f"{', '.join(inter.options)} on {', '.join(inter.issues)} shifts by {_num(inter.delta)} "
                    f"when {inter.when.issue} is {' or '.join(inter.when.options)}")
            out.append(f"<tr><td>interaction</td><td></td><td>{_e(text)}</td>"
                       f"<td>{_cite(sc, inter.source, inter.quote)}</td></tr>")
        out.append("</table></details>")

    out.append("<h3>Sources</h3><ul>")
    for sid, src in sc.sources.items():
        where = f"<a href=\"{_e(src.url)}\">{_e(src.url)}</a>" if src.url else _e(src.path)
        out.append(f"<li><code>{_e(sid)}</code>: {_e(src.title)} — {_e(src.outlet)}, {_e(src.date)}; {where}</li>")
    out.append("</ul>")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# HTML


def _figure_html(stem: str, fig) -> str:
    from sim import plots

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=REPORT_DPI)
    finally:
        fig.clear()
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    w, h = (int(round(v * REPORT_DPI)) for v in plots.FIGSIZE)
    caption = CAPTIONS.get(stem, stem)
    return (f"<figure id=\"fig-{_e(stem)}\"><img src=\"data:image/png;base64,{data}\" width=\"{w}\" height=\"{h}\" "
            f"alt=\"{_e(caption)}\"><figcaption>{_e(caption)}</figcaption></figure>")


def _command_text(command: Any) -> str:
    if isinstance(command, (list, tuple)):
        return shlex.join(str(c) for c in command)
    return str(command or "")


def _numbers_html(manifest: Mapping[str, Any], nums: dict, pooled: str) -> str:
    from sim import plots

    names = plots._actor_names(manifest)
    out = []
    if nums["runs"] == 0:
        return "<p class='warn'>This results folder holds no runs.</p>"
    lo, hi = nums["ci"]
    out.append(f"<p class='big'>Agreement in {nums['agreements']:,} of {nums['runs']:,} runs: "
               f"{_pct(nums['agreement_rate'])} (95% Wilson interval {_pct(lo)}–{_pct(hi)}){_e(pooled)}.</p>")
    if nums["median_round"] is not None:
        of = f" of at most {nums['max_rounds']}" if nums["max_rounds"] else ""
        out.append(f"<p>Median round of agreement: <b>{nums['median_round']:.0f}</b>{_e(of)}.</p>")
    out.append("<table><tr><th>outcome</th><th class='num'>runs</th><th class='num'>share</th></tr>")
    for kind, c in nums["outcomes"].items():
        out.append(f"<tr><td>{_e(plots.OUTCOME_LABELS.get(kind, kind))}</td><td class='num'>{c:,}</td>"
                   f"<td class='num'>{_pct(c / nums['runs'])}</td></tr>")
    out.append("</table>")
    if nums["by_date"]:
        out.append("<table><tr><th>agreement by</th><th class='num'>share of runs</th>"
                   "<th class='num'>95% Wilson interval</th></tr>" + "".join(
                       f"<tr><td>{_e(d)}</td><td class='num'>{_pct(p)}</td><td class='num'>{_pct(lo)}–{_pct(hi)}"
                       "</td></tr>" for d, p, lo, hi in nums["by_date"]) + "</table>")
    if nums["walked_away"]:
        out.append("<p>Talks paused by a walk-out (last to walk out, per run): " + ", ".join(
            f"{_e(names.get(a, a))} {c:,}" for a, c in nums["walked_away"].items()) + ".</p>")
    if nums["families"]:
        out.append("<h3>Agreements by nearest named proposal</h3><table><tr><th>proposal</th>"
                   "<th class='num'>agreements</th><th class='num'>share of agreements</th></tr>")
        for f in nums["families"]:
            out.append(f"<tr><td>{_e(f['name'])}</td><td class='num'>{f['count']:,}</td>"
                       f"<td class='num'>{_pct(f['share'])}</td></tr>")
        out.append("</table>")
    if nums["top_deals"]:
        out.append("<h3>Most frequent agreed deals</h3>"
                   "<table><tr><th>deal</th><th class='num'>share of agreements</th></tr>")
        for d in nums["top_deals"]:
            text = ", ".join(f"{k} = {v}" for k, v in d["deal"].items())
            out.append(f"<tr><td>{_e(text)}</td><td class='num'>{_pct(d['share'])}</td></tr>")
        out.append("</table>")
    if nums["utilities"]:
        colours = plots.actor_colours(list(nums["utilities"]))
        out.append("<h3>Mean utility per actor (0–1)</h3><table><tr><th>actor</th>"
                   "<th class='num'>in agreements</th><th class='num'>over all runs</th>"
                   "<th class='num'>reservation value (mean)</th></tr>")
        for a, u in nums["utilities"].items():
            cells = [f"{u[k]:.3f}" if u[k] is not None else "–" for k in ("agreements", "all", "reservation")]
            out.append(f"<tr><td><span class='swatch' style='background:{_e(colours[a])}'></span>"
                       f"{_e(names.get(a, a))}</td>" + "".join(f"<td class='num'>{c}</td>" for c in cells) + "</tr>")
        out.append("</table><p class='note'>A run without agreement is worth each actor its reservation value.</p>")
    return "\n".join(out)


def _sweep_html(manifest: Mapping[str, Any], points: pd.DataFrame) -> str:
    import pandas as pd

    from sim import plots

    paths = plots.swept_parameters(manifest, points)
    described = plots.sweep_description(manifest)
    rows = []
    for path in paths:
        col = points[path]
        if pd.api.types.is_numeric_dtype(col):
            span = f"{col.min():.4g} to {col.max():.4g}, {col.nunique():,} distinct values"
        else:
            span = ", ".join(str(v) for v in pd.unique(col))
        rows.append(f"<tr><td><code>{_e(path)}</code></td><td>{_e(plots.parameter_label(path, manifest))}</td>"
                    f"<td>{_e(span)}</td></tr>")
    method = described["method"] or "parameter"
    per = f", {described['runs_per_point']:,} runs per point" if described["runs_per_point"] else ""
    return (f"<p>A {_e(method)} sweep over {points['point'].nunique():,} parameter points{_e(per)}.</p>"
            "<table><tr><th>path</th><th>meaning</th><th>values</th></tr>" + "".join(rows) + "</table>")


def _sensitivity_html(manifest: Mapping[str, Any], sens: Mapping[str, Any]) -> str:
    import numpy as np

    from sim import plots

    outs = sens.get("outputs") or {}
    key = "agreement_rate" if "agreement_rate" in outs else next(iter(outs), None)
    if key is None:
        return ""
    first = outs[key].get("first_order") or {}
    total = outs[key].get("total") or {}
    order = [str(p) for p in sens.get("parameters") or []]
    params = [*order, *(p for p in {**first, **total} if p not in order)]
    params.sort(key=lambda p: -np.nan_to_num(plots._float(total.get(p)), nan=-np.inf))

    def cell(v: Any) -> str:
        x = plots._float(v)
        return f"{x:.3f}" if np.isfinite(x) else "–"

    rows = "".join(f"<tr><td>{_e(plots.parameter_label(p, manifest))} <code>{_e(p)}</code></td>"
                   f"<td class='num'>{cell(first.get(p))}</td><td class='num'>{cell(total.get(p))}</td></tr>"
                   for p in params)
    noisy = plots.noisy_indices(sens)
    note = (f"<p class='note'>{len(noisy)} estimate{'s' if len(noisy) > 1 else ''} (over all outputs) fall outside "
            "what a Sobol index can be (below 0, above 1, or first-order above total): sampling noise, not a "
            "property of the model; more evaluations narrow it.</p>") if noisy else ""
    return (f"<h3>Sobol indices of the {_e(plots._output_title(key, manifest).lower())}</h3>"
            "<table><tr><th>parameter</th><th class='num'>first-order</th><th class='num'>total</th></tr>"
            f"{rows}</table>{note}")


def _analysis_html(manifest: Mapping[str, Any], analysis: Mapping[str, Any]) -> str:
    import pandas as pd

    from sim import plots

    names = plots._actor_names(manifest)
    actors = list(analysis.get("actors") or plots._actor_ids(manifest, pd.DataFrame()))
    out = []
    if analysis.get("pareto_size") is not None:
        out.append(f"<p>{int(analysis['pareto_size']):,} Pareto-optimal deals; zone of possible agreement: "
                   f"{_e(analysis.get('zopa_size'))} deals.</p>")
    head = "".join(f"<th class='num'>{_e(names.get(a, a))}</th>" for a in actors)
    out.append(f"<table><tr><th></th>{head}</tr>")
    res = analysis.get("reservations") or {}
    if res:
        out.append("<tr><td>reservation value</td>" + "".join(
            f"<td class='num'>{float(res[a]):.3f}</td>" if a in res else "<td></td>" for a in actors) + "</tr>")
    for key, label in (("nash", "Nash"), ("kalai_smorodinsky", "Kalai–Smorodinsky"), ("utilitarian", "utilitarian")):
        sol = analysis.get(key)
        if isinstance(sol, Mapping) and isinstance(sol.get("utilities"), Mapping):
            u = sol["utilities"]
            out.append(f"<tr><td>{label}</td>" + "".join(
                f"<td class='num'>{float(u[a]):.3f}</td>" if a in u else "<td></td>" for a in actors) + "</tr>")
    for prop in analysis.get("proposals") or []:
        u = prop.get("utilities") or {}
        out.append(f"<tr><td>{_e(prop.get('name') or prop.get('id'))}</td>" + "".join(
            f"<td class='num'>{float(u[a]):.3f}</td>" if a in u else "<td></td>" for a in actors) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def build_report(results_dir: str | Path, sensitivity: str | Path | None = None) -> str:
    """The report of a results folder as one HTML string (sensitivity: a JSON file kept elsewhere)."""
    from sim import plots

    root = Path(results_dir)
    manifest, runs, _rounds = plots.load_results(root)
    points = plots.load_points(root)
    if sensitivity is not None and not Path(sensitivity).exists():
        raise UserError(f"--sensitivity: {sensitivity} does not exist")
    sens = plots.load_sensitivity(sensitivity if sensitivity is not None else root)
    analysis = plots.load_analysis(root)
    sc_meta = manifest.get("scenario") or {}
    title = sc_meta.get("title") or sc_meta.get("name") or "negsim results"

    scenario_path, why = find_scenario(manifest, root)
    loaded, load_error = None, ""
    if scenario_path is not None:
        from sim.errors import ScenarioError
        from sim.scenario import load_scenario

        try:
            loaded = load_scenario(scenario_path)
        except ScenarioError as exc:
            load_error = "; ".join(str(p) for p in exc.problems[:3])
    description = sc_meta.get("description") or (loaded.scenario.meta.description if loaded else "")

    parts = [f"<h1>{_e(title)}</h1>"]
    sub = []
    if sc_meta.get("as_of"):
        sub.append(f"as of {sc_meta['as_of']}")
    sub.append(f"{len(runs):,} simulated runs")
    if manifest.get("finished") or manifest.get("started"):
        sub.append(f"run {str(manifest.get('finished') or manifest.get('started'))[:10]}")
    parts.append(f"<p class='sub'>{_e(' · '.join(sub))}</p>")
    if manifest.get("status") not in (None, "complete"):
        parts.append(f"<p class='warn'>This run's status is <b>{_e(manifest.get('status'))}</b>: the numbers below "
                     "cover only the runs that finished.</p>")
    if description:
        parts.append(f"<p>{_e(description)}</p>")

    nums = key_numbers(manifest, runs)
    pooled = f", pooled over {points['point'].nunique():,} parameter points" if points is not None else ""
    parts.append("<h2>Key numbers</h2>")
    parts.append(_numbers_html(manifest, nums, pooled))
    if points is not None and len(points.columns) > 1:
        parts.append("<h2>Sweep</h2>" + _sweep_html(manifest, points))
    drivers = root / "drivers.json"
    if drivers.exists():
        import json

        from sim.drivers import drivers_text

        parts.append("<h2>What drives this answer</h2><pre>"
                     + _e(drivers_text(json.loads(drivers.read_text()))) + "</pre>")
    if sens is not None:
        parts.append("<h2>Sensitivity</h2>" + _sensitivity_html(manifest, sens))
    if analysis is not None:
        parts.append("<h2>Deal space</h2>" + _analysis_html(manifest, analysis))

    parts.append("<h2>Figures</h2>")
    for stem, draw in plots.figure_plans(root, sensitivity=sensitivity):
        parts.append(_figure_html(stem, draw()))

    parts.append("<h2>The scenario</h2>")
    if loaded is not None:
        parts.append(f"<p class='note'>From <code>{_e(scenario_path)}</code>, unchanged since the run "
                     f"(SHA-256 <code>{_e(sc_meta.get('sha256'))}</code>).</p>")
        parts.append(_scenario_details(loaded, manifest))
    else:
        reason = why or f"the scenario file no longer loads ({load_error})"
        parts.append(f"<p class='note'>Details of actors, issues and sources are left out: {_e(reason)}.</p>")
        actors = manifest.get("actors") or []
        if actors:
            listed = [f"{_e(a.get('name') or a.get('id'))} ({_e(', '.join(a.get('roles') or []))})" for a in actors]
            parts.append("<p>Actors: " + ", ".join(listed) + ".</p>")
        issues = manifest.get("issues") or []
        if issues:
            parts.append("<p>Issues: " + ", ".join(_e(i.get("name") or i.get("id")) for i in issues) + ".</p>")

    parts.append("<h2>How to reproduce</h2>")
    command = _command_text(manifest.get("command"))
    parts.append(f"<p>The command that produced these results (run in <code>{_e(manifest.get('cwd', '?'))}</code>):</p>"
                 f"<pre>{_e(command)}</pre>")
    facts = [("seed", manifest.get("seed")), ("runs", manifest.get("runs")),
             ("negsim version", manifest.get("negsim_version")), ("Python", manifest.get("python")),
             ("platform", manifest.get("platform")), ("scenario file", sc_meta.get("path")),
             ("scenario SHA-256", sc_meta.get("sha256")), ("seeding", manifest.get("seeding")),
             ("started", manifest.get("started")), ("finished", manifest.get("finished"))]
    parts.append("<table>" + "".join(f"<tr><th>{_e(k)}</th><td><code>{_e(v)}</code></td></tr>"
                                     for k, v in facts if v is not None) + "</table>")
    parts.append("<p>Every run seeds itself from the seed and its own number, so the same command gives the same "
                 "results on any machine and any number of workers. To check that this folder reproduces, run</p>"
                 f"<pre>negsim rerun {_e(shlex.quote(str(root)))}</pre>"
                 f"<p>and to rebuild this report, <code>negsim report {_e(shlex.quote(str(root)))}</code>.</p>")

    body = "\n".join(parts)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_e(title)} — negsim report</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
            f"{body}\n<p class='note'>Written by negsim {_e(manifest.get('negsim_version', ''))}.</p>\n"
            "</main>\n</body>\n</html>\n")


def write_report(results_dir: str | Path, out: str | Path | None = None, *,
                 sensitivity: str | Path | None = None) -> Path:
    """Write the HTML report (default RESULTS_DIR/report.html) and return its path.

    sensitivity: a `negsim sensitivity --out FILE` JSON to include when it is not in the folder.
    """
    target = Path(out) if out is not None else Path(results_dir) / "report.html"
    if target.is_dir():
        raise UserError(f"--out: {target} is a folder; give a file name such as {target / 'report.html'}")
    text = build_report(results_dir, sensitivity)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    from sim.plots import _own

    _own(Path(results_dir), [target])
    return target


__all__ = ["build_report", "find_scenario", "key_numbers", "write_report"]
