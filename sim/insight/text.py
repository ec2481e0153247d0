"""Plain-text reports of scenario discovery and leverage, as the CLI prints them."""

from __future__ import annotations


def _num(v: float) -> str:
    return f"{v:.4g}"


def _pct(share: float) -> str:
    """A setting the user typed, as a percentage without rounding it away (12.5%, not 12%)."""
    return f"{100 * share:.4g}%"


def _restriction_line(item: dict, width: int) -> str:
    name = item["input"].ljust(width)
    if "values" in item:
        kept = ", ".join(str(v) for v in item["values"])
        span = f"one of {kept}"
        whole = f"(of {len(item['data'])} values)"
    else:
        lo, hi = item["low"], item["high"]
        d_lo, d_hi = item["data"]
        if lo > d_lo and hi < d_hi:
            span = f"{_num(lo)} to {_num(hi)}"
        elif lo > d_lo:
            span = f">= {_num(lo)}"
        else:
            span = f"<= {_num(hi)}"
        whole = f"(of {_num(d_lo)} to {_num(d_hi)})"
    p = f"  p = {item['p_value']:.2g}" if "p_value" in item else ""
    return f"    {name}  {span:<22} {whole}{p}"


def _box_lines(label: str, box: dict, n_interest: int) -> list[str]:
    lines = [f"  {label}: coverage {box['coverage']:.0%} ({box['of_interest']} of {n_interest} such points), "
             f"density {box['density']:.0%}, support {box['support']:.0%} ({box['points']} points)"]
    if not box["restrictions"]:
        lines.append("    no input restricted: the whole sampled space")
    width = max([len(r["input"]) for r in box["restrictions"]] + [0])
    lines += [_restriction_line(r, width) for r in box["restrictions"]]
    return lines


def _trajectory_line(trajectory: list[dict], chosen: int) -> str:
    picks = sorted({0, chosen, len(trajectory) - 1, len(trajectory) // 3, 2 * len(trajectory) // 3})
    parts = [f"{trajectory[i]['coverage']:.0%}/{trajectory[i]['density']:.0%}" + (" (chosen)" if i == chosen else "")
             for i in picks]
    return f"    peeling trajectory, coverage/density over {len(trajectory)} boxes: " + " -> ".join(parts)


def discovery_text(result: dict) -> str:
    """The discovery result as the CLI prints it."""
    n, k = result["points"], result["of_interest"]
    lo, hi = result["runs_per_point"]
    runs = f"{lo:,} runs each" if lo == hi else f"{lo:,}-{hi:,} runs each"
    what = "sweep" if result["source"] == "sweep" else "sensitivity design"
    s = result["settings"]
    lines = [f"Scenario discovery for {result['scenario'] or result['path']} ({what}, {n:,} points, {runs}): "
             f"where at least {_pct(result['threshold'])} of a point's runs end in: {result['output_text']}",
             f"{k:,} of {n:,} points ({result['base_density']:.0%}) reach it."]
    if result["dropped_points"]:
        lines.append(f"({result['dropped_points']} points without finished runs left out)")
    if k == 0:
        lines.append("No point reaches the threshold: there is no range to describe; lower --threshold.")
    if result["prim"] is not None and k:
        lines += ["", f"PRIM boxes (Friedman & Fisher 1999: peeling alpha {s['alpha']:g}, minimum support "
                      f"{_pct(s['min_support'])}, target density {_pct(s['min_density'])}, then pasting):"]
        for i, (box, path) in enumerate(zip(result["prim"], result["prim_trajectories"]), 1):
            among = "" if i == 1 else f" (of the points outside box{'es' if i > 2 else ''} " \
                f"{', '.join(str(b) for b in range(1, i))})"
            lines += _box_lines(f"box {i}{among}", box, k)
            if not box["meets_target"]:
                lines.append("    no box reached the target density; this is the densest of the trajectory")
            lines.append(_trajectory_line(path, box["chosen_step"]))
    if result["tree_note"]:
        lines += ["", f"decision tree: {result['tree_note']}"]
    elif result["tree"] is not None and k:
        lines += ["", f"decision tree (scikit-learn CART, depth at most {s['max_depth']}), leaves where most points "
                      "reach it:"]
        if not result["tree"]:
            lines.append("  none: no leaf holds a majority of such points")
        for i, box in enumerate(result["tree"], 1):
            lines += _box_lines(f"leaf {i}", box, k)
    lines += ["", "coverage: share of the points reaching the threshold that lie in the box; density: share of the "
                  "box's points that reach it; support: share of all points in the box. p: how likely a restriction "
                  "this good arises by chance (hypergeometric, Bryant & Lempert 2010); above 0.05 it may be noise. "
                  "Each point's probability is estimated from its runs, so points near the threshold may fall on "
                  "either side of it."]
    return "\n".join(lines)


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def _step_label(step: dict, result: dict) -> str:
    if step["kind"] == "baseline":
        return "as in the scenario"
    if step["kind"] == "weight":
        return f"x{step['step']:g} = {step['weight']:.3g}"
    s = step["step"]
    return f"hardens {abs(s):.0%}" if s < 0 else f"{s:.0%} to the others"


def _rate_cells(cell: dict) -> str:
    return f"{cell['rate']:6.1%} ({cell['low']:.1%}-{cell['high']:.1%})"


def _change_cells(cell: dict, baseline: bool) -> str:
    if baseline:
        return "reference"
    return (f"{_pts(cell['change'])} pts ({_pts(cell['change_low'])} to {_pts(cell['change_high'])}), "
            f"{cell['gained']}+/{cell['lost']}-")


def leverage_text(result: dict, output: str = "agreement") -> str:
    """The leverage table as the CLI prints it: one block for the weight, one for the position."""
    actor = f"{result['actor_name']} [{result['actor']}]"
    issue = f"{result['issue_name']} [{result['issue']}]"
    values = ", ".join(f"{o} {v:.2g}" for o, v in result["values"].items())
    lines = [f"Leverage of {actor} on {issue}; outcome: {result['outcomes'][output]}",
             f"{result['runs']:,} runs (seed {result['seed']}) at every step, the same runs throughout (common "
             f"random numbers); its weight {result['weight']:.3g} ({result['share']:.0%} of its total), "
             f"its values {values}"]
    steps = result["steps"]
    base = steps[0]
    def share(s: dict) -> str:
        return f"{s.get('share', result['share']):.0%}"

    def values_of(s: dict) -> str:
        return "/".join(f"{v:.2g}" for v in (s.get("values") or result["values"]).values())

    blocks = (("weight", "weight x factor", share), ("position", "position", values_of))
    for kind, title, extra in blocks:
        rows = [base] + [s for s in steps if s["kind"] == kind]
        if len(rows) == 1:
            continue
        if kind == "position":
            rows = sorted(rows, key=lambda s: s["step"])
        else:
            rows = sorted(rows, key=lambda s: s["step"] if s["kind"] == kind else 1.0)
        header2 = "share" if kind == "weight" else "/".join(result["values"])
        labels = [_step_label(s, result) for s in rows]
        extras = [extra(s) for s in rows]
        w1, w2 = max(len(title), *map(len, labels)), max(len(header2), *map(len, extras))
        lines += ["", f"  {title.ljust(w1)}  {header2.ljust(w2)}  probability (95% CI)     change vs the scenario "
                      "(95% CI), runs gained+/lost-"]
        for s, label, ex in zip(rows, labels, extras):
            lines.append(f"  {label.ljust(w1)}  {ex.ljust(w2)}  {_rate_cells(s[output]):<23}  "
                         f"{_change_cells(s[output], s is base)}")
    reference = result.get("reference")
    toward = (", ".join(f"{o} {v:.2g}" for o, v in reference.items()) if reference else "no other actor values it")
    lines += ["", "weight: the actor's weight on the issue times the factor; share: the issue's share of its "
                  "total weight (weights are normalised). position: its values on the issue moved a share of the "
                  f"way towards the other actors' mean values ({toward}), or, hardening, towards valuing only its "
                  f"favourite option ({result['favourite']}); red lines and interactions unchanged. change: paired "
                  "difference against the scenario as written on the same runs, Newcombe's (1998) interval for "
                  "paired proportions."]
    return "\n".join(lines)
