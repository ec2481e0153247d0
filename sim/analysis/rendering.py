"""An analysis as JSON-able data and as a plain-text table, for `negsim analyze` and analysis.json.

Nothing here imports numpy at module level, so the CLI can build its parser without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.domain.game import Game

_LABELS = {"nash": "Nash", "kalai_smorodinsky": "Kalai-Smorodinsky", "utilitarian": "utilitarian (signat.)",
           "utilitarian_all": "utilitarian (all)"}


def _utilities(actor_ids, u) -> dict[str, float]:
    return {a: round(float(u[k]), 6) for k, a in enumerate(actor_ids)}


def analysis_json(result: dict) -> dict:
    """The analysis as plain JSON-able data."""
    actors = result["actor_ids"]

    def point(p: dict | None) -> dict | None:
        if p is None:
            return None
        return {"deal": p["deal"], "utilities": _utilities(actors, p["utilities"]),
                "deals_with_these_utilities": p["deals_with_these_utilities"]}

    zopa = result["zopa"]
    return {
        "scenario": result["scenario"],
        "space_size": result["space_size"],
        "pareto_size": result["pareto_size"],
        "pareto_points": result["pareto_points"],
        "zopa_size": zopa["size"] if zopa["exact"] else round(float(zopa["size"]), 1),
        "zopa_size_exact": zopa["exact"],
        "zopa_size_method": zopa["method"],
        **({"zopa_size_interval": [round(zopa["low"], 1), round(zopa["high"], 1)]} if not zopa["exact"] else {}),
        "zopa_pareto_size": result["zopa_pareto_size"],
        "signatories": result["signatories"],
        "consent_actors": result["consent_actors"],
        "reservations": _utilities(actors, result["reservation"]),
        "ideal": None if result["ideal"] is None else _utilities(result["signatories"], result["ideal"]),
        **{key: point(result[key]) for key in _LABELS},
        "proposals": [{
            "id": p["id"],
            "name": p["name"],
            "utilities": _utilities(actors, p["utilities"]),
            "distance_to_frontier": round(p["distance_to_frontier"], 6),
            "below_reservation": p["below_reservation"],
            "blocking": p["blocking"],
            "in_zopa": p["in_zopa"],
            "pareto_optimal": p["pareto_optimal"],
        } for p in result["proposals"]],
        "groups": result["groups"],
        "method": result["method"],
        "exact": result["exact"],
        "frontier_exact": result["frontier_exact"],
        "max_error": result["max_error"],
    }


def analysis_text(game: Game, result: dict) -> str:
    """A plain-text report of the analysis."""
    actors = list(game.actor_ids)
    width = max(8, *(len(a) for a in actors))
    zopa = result["zopa"]
    size = f"{zopa['size']:,}" if zopa["exact"] else f"~{zopa['size']:,.0f} ({zopa['low']:,.0f}-{zopa['high']:,.0f})"
    lines = [
        f"Bargaining analysis: {game.name} ({game.space.size:,} possible deals)",
        f"Pareto frontier:  {result['pareto_size']:,} deals ({result['pareto_points']:,} distinct utility points)",
        f"ZOPA:             {size} deals; {result['zopa_pareto_size']:,} of them Pareto-optimal within it",
        f"Bargaining parties: {', '.join(result['signatories'])}; disagreement point = reservation values",
    ]
    if result["consent_actors"]:
        lines.append("Consent also needed from: " + "; ".join(
            f"{a} (if {', '.join(issues)} leave their defaults)" for a, issues in result["consent_actors"].items()))
    lines.append(f"Method: {result['method']}")
    if not result["frontier_exact"]:
        lines.append(f"APPROXIMATE: frontier points may be off by up to {result['max_error']:.4g} per actor")
    lines.append("")
    header = f"{'':<22}" + "".join(f"{a:>{width + 2}}" for a in actors)
    lines += [header, f"{'reservation':<22}" + "".join(f"{v:>{width + 2}.3f}" for v in result["reservation"])]
    for key, label in _LABELS.items():
        p = result[key]
        if p is None:
            lines.append(f"{label:<22}  (empty ZOPA: no deal every required actor accepts)")
            continue
        lines.append(f"{label:<22}" + "".join(f"{v:>{width + 2}.3f}" for v in p["utilities"]))
    for key, label in _LABELS.items():
        p = result[key]
        if p is None:
            continue
        lines += ["", f"{label} deal:"]
        iw = max(len(i) for i in p["deal"])
        lines += [f"  {i:<{iw}}  {o}" for i, o in p["deal"].items()]
    if result["proposals"]:
        lines += ["", "Named proposals (distance = what every actor could gain at once by moving to the frontier):",
                  f"{'proposal':<28}" + "".join(f"{a:>{width + 2}}" for a in actors)
                  + f"{'distance':>10}  {'Pareto':<7} below reservation"]
        for p in result["proposals"]:
            name = p["id"] if len(p["id"]) <= 27 else p["id"][:24] + "..."
            below = ", ".join(p["below_reservation"]) or "-"
            lines.append(f"{name:<28}" + "".join(f"{v:>{width + 2}.3f}" for v in p["utilities"])
                         + f"{p['distance_to_frontier']:>10.3f}  {'yes' if p['pareto_optimal'] else 'no':<7} {below}")
    return "\n".join(lines)


def render_scenario_analysis(scenario_path: str, as_json: bool = False) -> str:
    """The analysis of a scenario file at its point estimates, as JSON text or as the plain-text table."""
    import json

    from sim.analysis.bargaining import analyze
    from sim.domain.game import compile_scenario
    from sim.scenario import load_scenario

    game = compile_scenario(load_scenario(scenario_path).scenario)
    result = analyze(game)
    return json.dumps(analysis_json(result), indent=2) if as_json else analysis_text(game, result)
