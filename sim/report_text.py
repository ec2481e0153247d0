"""Plain-text renderings for the terminal: preferences with provenance, proposal evaluations."""

from __future__ import annotations

import textwrap

from sim.domain.game import Game
from sim.errors import UserError
from sim.scenario.schema import Number, Scenario, Uncertain


def _num(value: Number) -> str:
    if isinstance(value, Uncertain):
        if value.mean is not None:
            return f"{value.mean:.2f}±{value.sd:.2f}"
        return f"{value.low:.2f}..{value.high:.2f}"
    return f"{value:.2f}"


def _cite(sc: Scenario, source_id: str, quote: str, indent: str) -> str:
    src = sc.sources[source_id]
    where = src.url or src.path
    text = f"“{quote}” ({src.outlet}, {src.date}; {where})"
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent + "  ")


def explain(sc: Scenario, game: Game, only: str | None = None) -> str:
    """Every actor's weights, option values, interactions and reservation value, each with its quote."""
    actors = list(sc.actors.items())
    if only is not None:
        actors = [(aid, a) for aid, a in actors if only in (aid, a.name)]
        if not actors:
            raise UserError(f"--actor: no actor {only!r} (known: {', '.join(sc.actors)})")
    prefs = game.central_preferences()
    lines = [f"{sc.meta.title} (as of {sc.meta.as_of})", ""]
    for aid, actor in actors:
        a = game.actor_index(aid)
        strat = actor.strategy
        lines.append(f"== {actor.name} [{aid}] — {', '.join(actor.roles)}; strategy {strat.kind}"
                     + (f" (exponent {strat.exponent})" if strat.exponent else ""))
        lines.append(f"   reservation value {_num(actor.reservation.value)} (what no deal is worth)")
        lines.append(_cite(sc, actor.reservation.source, actor.reservation.quote, "     "))
        order = sorted(actor.weights, key=lambda iid: -prefs.weights[0, a, game.space.issue_index(iid)])
        for iid in order:
            share = prefs.weights[0, a, game.space.issue_index(iid)]
            if iid not in actor.values:
                continue
            table = actor.values[iid]
            values = ", ".join(f"{oid} {_num(v)}" for oid, v in table.options.items())
            lines.append(f"   {sc.issues[iid].name} [{iid}]: weight {_num(actor.weights[iid])} "
                         f"({share:.0%} of what matters)")
            lines.append(textwrap.fill(values, width=100, initial_indent="     ", subsequent_indent="     "))
            lines.append(_cite(sc, table.source, table.quote, "     "))
            if table.note:
                lines.append(textwrap.fill(f"note: {table.note}", width=100, initial_indent="     ",
                                           subsequent_indent="       "))
        for inter in actor.interactions:
            lines.append(f"   interaction: {', '.join(inter.options)} on {', '.join(inter.issues)} "
                         f"shifts by {_num(inter.delta)} when {inter.when.issue} is {' or '.join(inter.when.options)}")
            lines.append(_cite(sc, inter.source, inter.quote, "     "))
        lines.append("")
    return "\n".join(lines).rstrip()


def evaluation_table(game: Game, records: list[dict]) -> str:
    """A fixed-width table of proposals x actors: utility, margin against reservation, verdict."""
    if not records:
        return f"{game.name}: no named proposals"
    width = max(len(r["name"]) for r in records)
    head = f"{'proposal':<{width}}  " + "  ".join(f"{a[:14]:>16}" for a in game.actor_ids) + "  km² moved"
    lines = [head, "-" * len(head)]
    for r in records:
        cells = []
        for a in game.actor_ids:
            verdict = "yes" if r["accepts"][a] else "NO"
            cells.append(f"{r['utilities'][a]:.2f} {r['margins'][a]:+.2f} {verdict:>3}")
        lines.append(f"{r['name']:<{width}}  " + "  ".join(f"{c:>16}" for c in cells)
                     + f"  {r['area_transferred_km2']:>9,.0f}")
    lines.append("")
    lines.append("cells: utility, margin over the reservation value, accepts? "
                 f"(signatories: {', '.join(game.actor_ids[s] for s in game.signatories)})")
    return "\n".join(lines)
