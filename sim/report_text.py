"""Plain-text renderings for the terminal: preferences with provenance, proposal evaluations."""

from __future__ import annotations

import textwrap

from sim.domain.game import REFERENCE_DAYS, Game
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


def _deadline(deadline) -> str:
    if hasattr(deadline, "sd_days"):
        return f"{deadline.date} (sd {deadline.sd_days:g} days)"
    return str(deadline) if not isinstance(deadline, int) else f"round {deadline}"


def assumptions(sc: Scenario, game: Game) -> list[str]:
    """The structural knobs of the model, stated as assumptions (none of them is evidence)."""
    proto = sc.protocol
    when = (f"from {sc.meta.as_of} to {proto.horizon}" if proto.horizon else f"for {sc.n_rounds} rounds (no calendar)")
    talks = proto.talks
    return [
        "Assumptions (structural knobs, not findings; `negsim run --drivers` shows how much they matter):",
        f"  talks followed {when}, one round every {sc.round_days:.3g} days ({game.protocol['max_rounds']} rounds)",
        f"  acceptance temperature {proto.temperature:g}"
        + (" with noisy rationality (may accept below reservation)" if proto.noisy_rationality
           else " (never accepts below its reservation value or across a red line)"),
        f"  mediator {proto.mediator or '-'}: bias {proto.mediator_bias:g} (its exact share of the mediator's "
        f"objective), step {proto.mediator_step:g} and {proto.moves_per_round} sweeps per {REFERENCE_DAYS:g} days",
        f"  a signatory walks out after {proto.patience_days:g} days of texts worse than fighting on; talks then "
        f"pause ~{talks.pause_days:g} days (exponential) and resume with probability {talks.resume_probability:g}",
        f"  consent withheld {proto.consent_patience_days:g} days running ends in a ceasefire without settlement",
    ] + ([f"  the value of fighting on looks {sc.look_ahead_days:g} days ahead"] if sc.dynamics else [])


def explain(sc: Scenario, game: Game, only: str | None = None) -> str:
    """Every actor's weights, option values, interactions and reservation value, each with its quote."""
    actors = list(sc.actors.items())
    if only is not None:
        actors = [(aid, a) for aid, a in actors if only in (aid, a.name)]
        if not actors:
            raise UserError(f"--actor: no actor {only!r} (known: {', '.join(sc.actors)})")
    prefs = game.central_preferences()
    split = None
    if game.war is not None:
        from sim.domain.war import reservation_split

        split = reservation_split(game, game.central_preferences(derive=False), game.war.drift[None],
                                  game.war.cost[None])
    lines = [f"{sc.meta.title} (as of {sc.meta.as_of})", "", *assumptions(sc, game), ""]
    for aid, actor in actors:
        a = game.actor_index(aid)
        strat = actor.strategy
        lines.append(f"== {actor.name} [{aid}] — {', '.join(actor.roles)}; strategy {strat.kind}"
                     + (f" (exponent {strat.exponent})" if strat.exponent else ""))
        res = actor.reservation
        if res.derive == "war":
            lines.append(f"   reservation value {prefs.reservation[0, a]:.3f}, derived from the war (Fearon): "
                         f"fighting on {split['war_value'][0, a]:.3f} - a year of war costs "
                         f"{split['costs'][0, a]:.3f} + premium {_num(res.premium)}")
        else:
            lines.append(f"   reservation value {_num(res.value)} (what no deal is worth)")
            if split is not None:
                implied = split["war_value"][0, a] - prefs.reservation[0, a]
                lines.append(f"     the model's value of fighting on is {split['war_value'][0, a]:.3f}, so this implies a "
                             f"cost of war of {implied:+.3f}" + (" (negative: fighting on is worth more than the "
                                                                  "model's war outcome)" if implied < 0 else ""))
        lines.append(_cite(sc, res.source, res.quote, "     "))
        for line in actor.red_lines:
            lines.append(f"   red line: never signs {' or '.join(line.options)} on {line.issue}")
            lines.append(_cite(sc, line.source, line.quote, "     "))
        if strat.deadline is not None:
            lines.append(f"   concedes towards its reservation value by {_deadline(strat.deadline)}")
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
    land = game.territory.n_regions > 0  # a scenario without regions says nothing about land
    head = (f"{'proposal':<{width}}  " + "  ".join(f"{a[:14]:>16}" for a in game.actor_ids)
            + ("  km² moved" if land else ""))
    lines = [head, "-" * len(head)]
    for r in records:
        cells = []
        for a in game.actor_ids:
            verdict = "yes" if r["accepts"][a] else ("RED" if r.get("red_line", {}).get(a) else "NO")
            cells.append(f"{r['utilities'][a]:.2f} {r['margins'][a]:+.2f} {verdict:>3}")
        lines.append(f"{r['name']:<{width}}  " + "  ".join(f"{c:>16}" for c in cells)
                     + (f"  {r['area_transferred_km2']:>9,.0f}" if land else ""))
    lines.append("")
    lines.append("cells: utility, margin over the reservation value, accepts? (RED: crosses a red line) "
                 f"(signatories: {', '.join(game.actor_ids[s] for s in game.signatories)})")
    return "\n".join(lines)
