"""The report's numbers: key numbers of the runs, and the sweep, sensitivity and deal-space tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sim.plots.load import actor_ids, actor_names
from sim.report.markup import esc, pct

if TYPE_CHECKING:
    import pandas as pd

# numpy, pandas and matplotlib are imported inside the functions, so that importing the report
# (the CLI does, for `negsim --help`) stays fast.


def key_numbers(manifest: Mapping[str, Any], runs: pd.DataFrame) -> dict:
    """The numbers the report leads with, computed from the runs table."""
    import numpy as np
    import pandas as pd

    from sim.plots.style import OUTCOMES
    from sim.results.summary import agreement_by_date, run_payoffs, wilson_interval

    n = len(runs)
    outcome = runs["outcome"].astype(str) if "outcome" in runs.columns else pd.Series([], dtype=str)
    counts = outcome.value_counts()
    kinds = [*OUTCOMES, *sorted(k for k in counts.index if k not in OUTCOMES)]
    agreed = runs[outcome == "agreement"] if n else runs
    k = len(agreed)
    low, high = wilson_interval(k, n)
    actors = actor_ids(manifest, runs)
    names = {p["id"]: p.get("name") or p["id"] for p in manifest.get("proposals", []) if "id" in p}
    families = []
    if k and "nearest_proposal" in agreed.columns:
        for pid, c in agreed["nearest_proposal"].fillna("").astype(str).value_counts().head(5).items():
            families.append({"id": pid, "name": names.get(pid) or pid or "(no named proposal close)", "count": int(c),
                             "share": c / k})
    utilities = {}
    is_agreed = (outcome == "agreement").to_numpy() if n else np.zeros(0, dtype=bool)
    for a in actors:
        col, res = f"utility_{a}", f"reservation_{a}"
        if col not in runs.columns:
            continue
        known = res in runs.columns and n
        utilities[a] = {
            "agreements": float(agreed[col].mean()) if k else None,
            # `utility_` is the last text on the table even where nobody signed it, so a run
            # without agreement is valued at the reservation value, as PAYOFF_RULE states.
            "all": float(run_payoffs(runs[col], runs[res], is_agreed).mean()) if known else None,
            "reservation": float(runs[res].mean()) if known else None,
        }
    walked = {}
    if "walked_away" in runs.columns and "suspensions" in runs.columns:
        # Walking out pauses the talks; who did so last in each run that paused.
        paused = runs.loc[runs["suspensions"] > 0, "walked_away"].fillna("").astype(str)
        walked = {a: int(c) for a, c in paused[paused != ""].value_counts().items()}
    curve = []
    if k and manifest.get("horizon") and "round" in agreed.columns:
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



def numbers_html(manifest: Mapping[str, Any], nums: dict, pooled: str) -> str:
    """The key numbers as HTML: agreement rate, outcomes, agreement by date, families, deals, utilities."""
    from sim.plots.style import OUTCOME_LABELS, actor_colours

    names = actor_names(manifest)
    out = []
    if nums["runs"] == 0:
        return "<p class='warn'>This results folder holds no runs.</p>"
    lo, hi = nums["ci"]
    out.append(f"<p class='big'>Agreement in {nums['agreements']:,} of {nums['runs']:,} runs: "
               f"{pct(nums['agreement_rate'])} (95% Wilson interval {pct(lo)}–{pct(hi)}){esc(pooled)}.</p>")
    if nums["median_round"] is not None:
        of = f" of at most {nums['max_rounds']}" if nums["max_rounds"] else ""
        out.append(f"<p>Median round of agreement: <b>{nums['median_round']:.0f}</b>{esc(of)}.</p>")
    out.append("<table><tr><th>outcome</th><th class='num'>runs</th><th class='num'>share</th></tr>")
    for kind, c in nums["outcomes"].items():
        out.append(f"<tr><td>{esc(OUTCOME_LABELS.get(kind, kind))}</td><td class='num'>{c:,}</td>"
                   f"<td class='num'>{pct(c / nums['runs'])}</td></tr>")
    out.append("</table>")
    if nums["by_date"]:
        out.append("<table><tr><th>agreement by</th><th class='num'>share of runs</th>"
                   "<th class='num'>95% Wilson interval</th></tr>" + "".join(
                       f"<tr><td>{esc(d)}</td><td class='num'>{pct(p)}</td><td class='num'>{pct(lo)}–{pct(hi)}"
                       "</td></tr>" for d, p, lo, hi in nums["by_date"]) + "</table>")
    if nums["walked_away"]:
        out.append("<p>Talks paused by a walk-out (last to walk out, per run): " + ", ".join(
            f"{esc(names.get(a, a))} {c:,}" for a, c in nums["walked_away"].items()) + ".</p>")
    if nums["families"]:
        out.append("<h3>Agreements by nearest named proposal</h3><table><tr><th>proposal</th>"
                   "<th class='num'>agreements</th><th class='num'>share of agreements</th></tr>")
        for f in nums["families"]:
            out.append(f"<tr><td>{esc(f['name'])}</td><td class='num'>{f['count']:,}</td>"
                       f"<td class='num'>{pct(f['share'])}</td></tr>")
        out.append("</table>")
    if nums["top_deals"]:
        out.append("<h3>Most frequent agreed deals</h3>"
                   "<table><tr><th>deal</th><th class='num'>share of agreements</th></tr>")
        for d in nums["top_deals"]:
            text = ", ".join(f"{k} = {v}" for k, v in d["deal"].items())
            out.append(f"<tr><td>{esc(text)}</td><td class='num'>{pct(d['share'])}</td></tr>")
        out.append("</table>")
    if nums["utilities"]:
        from sim.results.summary import PAYOFF_RULE

        colours = actor_colours(list(nums["utilities"]))
        out.append("<h3>Mean utility per actor (0–1)</h3><table><tr><th>actor</th>"
                   "<th class='num'>in agreements</th><th class='num'>over all runs</th>"
                   "<th class='num'>reservation value (mean over all runs)</th></tr>")
        for a, u in nums["utilities"].items():
            cells = [f"{u[k]:.3f}" if u[k] is not None else "–" for k in ("agreements", "all", "reservation")]
            out.append(f"<tr><td><span class='swatch' style='background:{esc(colours[a])}'></span>"
                       f"{esc(names.get(a, a))}</td>" + "".join(f"<td class='num'>{c}</td>" for c in cells) + "</tr>")
        out.append(f"</table><p class='note'>In agreements: the mean over the runs that agreed. Over all runs: "
                   f"{esc(PAYOFF_RULE)}. The sensitivity analysis values runs the same way.</p>")
    return "\n".join(out)


def sweep_html(manifest: Mapping[str, Any], points: pd.DataFrame) -> str:
    """The swept parameters as HTML: path, meaning and the values each took."""
    import pandas as pd

    from sim.plots.style import parameter_label
    from sim.plots.sweep import sweep_description, swept_parameters

    paths = swept_parameters(manifest, points)
    described = sweep_description(manifest)
    rows = []
    for path in paths:
        col = points[path]
        if pd.api.types.is_numeric_dtype(col):
            span = f"{col.min():.4g} to {col.max():.4g}, {col.nunique():,} distinct values"
        else:
            span = ", ".join(str(v) for v in pd.unique(col))
        rows.append(f"<tr><td><code>{esc(path)}</code></td><td>{esc(parameter_label(path, manifest))}</td>"
                    f"<td>{esc(span)}</td></tr>")
    method = described["method"] or "parameter"
    per = f", {described['runs_per_point']:,} runs per point" if described["runs_per_point"] else ""
    return (f"<p>A {esc(method)} sweep over {points['point'].nunique():,} parameter points{esc(per)}.</p>"
            "<table><tr><th>path</th><th>meaning</th><th>values</th></tr>" + "".join(rows) + "</table>")


def sensitivity_source_html(manifest: Mapping[str, Any], sens: Mapping[str, Any], given: Any = None) -> str:
    """Where the Sobol indices come from (file, scenario, design), with a warning when the scenario is not known."""
    from sim.plots.load import sensitivity_origin

    where = f"<code>{esc(given)}</code>" if given is not None else "<code>sensitivity.json</code> in this folder"
    scenario = sens.get("scenario")
    design = []
    if sens.get("points"):
        design.append(f"{int(sens['points']):,} base points")
    if sens.get("n_evaluations"):
        design.append(f"{int(sens['n_evaluations']):,} model evaluations")
    if sens.get("runs"):
        design.append(f"{int(sens['runs']):,} runs each")
    if sens.get("seed") is not None:
        design.append(f"seed {sens['seed']}")
    text = (f"<p>From {where}" + (f", computed on scenario <code>{esc(scenario)}</code>" if scenario else "")
            + (f" ({esc(', '.join(design))})" if design else "") + ".</p>")
    origin = sensitivity_origin(manifest, sens)
    if origin:
        text += f"<p class='warn'>Warning: {esc(origin)}.</p>"
    return text


def sensitivity_html(manifest: Mapping[str, Any], sens: Mapping[str, Any]) -> str:
    """The Sobol indices of the agreement rate (else the first output) with their intervals, largest total first,
    and the convergence verdict."""
    import numpy as np

    from sim.plots.sensitivity import (
        convergence_text,
        noisy_indices,
        output_title,
        sobol_bounds,
        sobol_value,
    )
    from sim.plots.style import parameter_label

    outs = sens.get("outputs") or {}
    key = "agreement_rate" if "agreement_rate" in outs else next(iter(outs), None)
    if key is None:
        return ""
    first = outs[key].get("first_order") or {}
    total = outs[key].get("total") or {}
    order = [str(p) for p in sens.get("parameters") or []]
    params = [*order, *(p for p in {**first, **total} if p not in order)]
    params.sort(key=lambda p: -np.nan_to_num(sobol_value(total.get(p)), nan=-np.inf))
    bounds = {kind: sobol_bounds(outs[key], kind, params) for kind in ("first_order", "total")}
    with_ci = any(np.isfinite(low).any() for low, _ in bounds.values())

    def cell(v: Any) -> str:
        x = sobol_value(v)
        return f"{x:.3f}" if np.isfinite(x) else "–"

    def interval(kind: str, j: int) -> str:
        low, high = (float(b[j]) for b in bounds[kind])
        return f"<td class='num'>{low:.2f} to {high:.2f}</td>" if np.isfinite(low) and np.isfinite(high) else \
            "<td class='num'>–</td>"

    rows = "".join(f"<tr><td>{esc(parameter_label(p, manifest))} <code>{esc(p)}</code></td>"
                   f"<td class='num'>{cell(first.get(p))}</td><td class='num'>{cell(total.get(p))}</td>"
                   + (interval("first_order", j) + interval("total", j) if with_ci else "") + "</tr>"
                   for j, p in enumerate(params))
    head = "<th class='num'>first-order</th><th class='num'>total</th>" + (
        "<th class='num'>first-order, 95% interval</th><th class='num'>total, 95% interval</th>" if with_ci else "")
    noisy = noisy_indices(sens)
    note = (f"<p class='note'>{len(noisy)} estimate{'s' if len(noisy) > 1 else ''} (over all outputs) fall outside "
            "what a Sobol index can be (below 0, above 1, or first-order above total): sampling noise, not a "
            "property of the model; more evaluations narrow it.</p>") if noisy else ""
    verdict, why = convergence_text(manifest, sens)
    conv = sens.get("convergence") or {}
    if verdict:
        boot = sens.get("bootstrap") or {}
        how = f" ({boot['resamples']:,} bootstrap resamples)" if boot.get("resamples") else ""
        note += (f"<p>Convergence{esc(how)}: <b>{esc(verdict)}</b>"
                 + (f" ({esc(why)})" if why else "") + (f". The rule: {esc(conv['rule'])}." if conv.get("rule") else ".")
                 + (" More base points (<code>--points</code>) narrow the intervals." if verdict == "not converged"
                    else "") + "</p>")
    return (f"<h3>Sobol indices of the {esc(output_title(key, manifest).lower())}</h3>"
            f"<table><tr><th>parameter</th>{head}</tr>{rows}</table>{note}")


def analysis_html(manifest: Mapping[str, Any], analysis: Mapping[str, Any]) -> str:
    """The deal-space analysis as HTML: frontier and ZOPA sizes, and each actor's utility of every benchmark."""
    names = actor_names(manifest)
    actors = list(analysis.get("actors") or actor_ids(manifest))
    out = []
    if analysis.get("pareto_size") is not None:
        out.append(f"<p>{int(analysis['pareto_size']):,} Pareto-optimal deals; zone of possible agreement: "
                   f"{esc(analysis.get('zopa_size'))} deals.</p>")
    head = "".join(f"<th class='num'>{esc(names.get(a, a))}</th>" for a in actors)
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
        out.append(f"<tr><td>{esc(prop.get('name') or prop.get('id'))}</td>" + "".join(
            f"<td class='num'>{float(u[a]):.3f}</td>" if a in u else "<td></td>" for a in actors) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


