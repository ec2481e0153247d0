"""The report's scenario section: the scenario file the run used, if it is still there unchanged.

When it is, the section lists its actors, issues, named proposals and every judgement with its
quote and source; otherwise it says why not and falls back on what the manifest records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.report.markup import esc


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
        return f"<span class='note'>source {esc(source_id)}</span>"
    where = f"{src.outlet}, {src.date}"
    if src.url:
        link = f"<a href=\"{esc(src.url)}\">{esc(where)}</a>"
    else:
        link = f"{esc(where)} ({esc(src.path)})"
    text = f"<q>{esc(quote)}</q> — " if quote else ""
    return f"{text}{link}"


def _reservation_text(res) -> str:
    if res.derive == "war":
        return f"derived from the war (value of fighting on − its costs) + premium {_num(res.premium)}"
    return _num(res.value)


def scenario_details(loaded, manifest: Mapping[str, Any]) -> str:
    """Actors, issues, named proposals, every judgement with its quote and source, and the sources, as HTML."""
    from sim.plots.style import actor_colours

    sc = loaded.scenario
    colours = actor_colours(list(sc.actors))
    out = []
    out.append("<h3>Actors</h3><table><tr><th>actor</th><th>role</th><th>strategy</th>"
               "<th>reservation value (what no deal is worth)</th><th>because</th></tr>")
    for aid, actor in sc.actors.items():
        strat = actor.strategy
        kind = strat.kind + (f" (exponent {strat.exponent:g})" if strat.exponent else "")
        out.append(f"<tr><td><span class='swatch' style='background:{esc(colours[aid])}'></span>{esc(actor.name)}"
                   f" <code>{esc(aid)}</code></td><td>{esc(', '.join(actor.roles))}</td><td>{esc(kind)}</td>"
                   f"<td>{esc(_reservation_text(actor.reservation))}</td>"
                   f"<td>{_cite(sc, actor.reservation.source, actor.reservation.quote)}</td></tr>")
    out.append("</table>")

    # Land columns only when the scenario has regions; holders by the scenario's own names.
    land = any(issue.kind == "territory" for issue in sc.issues.values())
    out.append("<h3>Issues</h3><table><tr><th>issue</th><th>kind</th><th>options (* = default)</th>"
               + ("<th class='num'>area km²</th><th>held at the start</th>" if land else "") + "</tr>")
    for iid, issue in sc.issues.items():
        opts = "<br>".join(f"{'*' if oid == issue.default else ''}<code>{esc(oid)}</code>: {esc(opt.meaning)}"
                           for oid, opt in issue.options.items())
        row = f"<tr><td>{esc(issue.name)} <code>{esc(iid)}</code></td><td>{esc(issue.kind)}</td><td>{opts}</td>"
        if land:
            area = f"{issue.area_km2:,.0f}" if issue.area_km2 is not None else ""
            held = ", ".join(f"{sc.actors[a].name if a in sc.actors else a} {share:.0%}"
                             for a, share in (issue.held or {}).items())
            row += f"<td class='num'>{esc(area)}</td><td>{esc(held)}</td>"
        out.append(row + "</tr>")
    out.append("</table>")

    if sc.proposals:
        out.append("<h3>Named proposals</h3><table><tr><th>proposal</th><th>terms</th><th>source</th></tr>")
        for pid, prop in sc.proposals.items():
            terms = ", ".join(f"{iid} = {oid}" for iid, oid in prop.options.items())
            out.append(f"<tr><td>{esc(prop.name)} <code>{esc(pid)}</code></td><td>{esc(terms)}</td>"
                       f"<td>{_cite(sc, prop.source, prop.quote)}</td></tr>")
        out.append("</table>")

    out.append("<h3>Assumptions, with their sources</h3>"
               "<p class='note'>Weights say how much each issue matters to an actor; values (0 = worst, "
               "1 = best) how good each option is for it. A range or ± is uncertain: the runs sample it.</p>")
    for aid, actor in sc.actors.items():
        out.append(f"<details><summary>{esc(actor.name)}</summary><table>"
                   "<tr><th>issue</th><th>weight</th><th>values of the options</th><th>because</th></tr>")
        for iid, table in actor.values.items():
            weight = _num(actor.weights[iid]) if iid in actor.weights else "0"
            values = ", ".join(f"{oid} {_num(v)}" for oid, v in table.options.items())
            note = f"<br><span class='note'>{esc(table.note)}</span>" if table.note else ""
            out.append(f"<tr><td>{esc(sc.issues[iid].name if iid in sc.issues else iid)}</td><td>{esc(weight)}</td>"
                       f"<td>{esc(values)}</td><td>{_cite(sc, table.source, table.quote)}{note}</td></tr>")
        for inter in actor.interactions:
            text = (f"{', '.join(inter.options)} on {', '.join(inter.issues)} shifts by {_num(inter.delta)} "
                    f"when {inter.when.issue} is {' or '.join(inter.when.options)}")
            out.append(f"<tr><td>interaction</td><td></td><td>{esc(text)}</td>"
                       f"<td>{_cite(sc, inter.source, inter.quote)}</td></tr>")
        out.append("</table></details>")

    out.append("<h3>Sources</h3><ul>")
    for sid, src in sc.sources.items():
        where = f"<a href=\"{esc(src.url)}\">{esc(src.url)}</a>" if src.url else esc(src.path)
        out.append(f"<li><code>{esc(sid)}</code>: {esc(src.title)} — {esc(src.outlet)}, {esc(src.date)}; {where}</li>")
    out.append("</ul>")
    return "\n".join(out)


def scenario_section(manifest: Mapping[str, Any], results_dir: Path) -> tuple[str, str]:
    """(the scenario's description, the HTML of the report's scenario section below its heading)."""
    sc_meta = manifest.get("scenario") or {}
    scenario_path, why = find_scenario(manifest, results_dir)
    loaded, load_error = None, ""
    if scenario_path is not None:
        from sim.errors import ScenarioError
        from sim.scenario import load_scenario

        try:
            loaded = load_scenario(scenario_path)
        except ScenarioError as exc:
            load_error = "; ".join(str(p) for p in exc.problems[:3])
    description = sc_meta.get("description") or (loaded.scenario.meta.description if loaded else "")

    parts = []
    if loaded is not None:
        parts.append(f"<p class='note'>From <code>{esc(scenario_path)}</code>, unchanged since the run "
                     f"(SHA-256 <code>{esc(sc_meta.get('sha256'))}</code>).</p>")
        parts.append(scenario_details(loaded, manifest))
    else:
        reason = why or f"the scenario file no longer loads ({load_error})"
        parts.append(f"<p class='note'>Details of actors, issues and sources are left out: {esc(reason)}.</p>")
        actors = manifest.get("actors") or []
        if actors:
            listed = [f"{esc(a.get('name') or a.get('id'))} ({esc(', '.join(a.get('roles') or []))})" for a in actors]
            parts.append("<p>Actors: " + ", ".join(listed) + ".</p>")
        issues = manifest.get("issues") or []
        if issues:
            parts.append("<p>Issues: " + ", ".join(esc(i.get("name") or i.get("id")) for i in issues) + ".</p>")
    return description, "\n".join(parts)
