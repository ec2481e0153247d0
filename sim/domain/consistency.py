"""Consistency of a scenario with itself and with the record: the warnings of `negsim validate`.

A scenario can be well formed and still say something its own sources contradict: an actor that
would reject its own proposal, a party the model has accepting a proposal it is on record as
rejecting, a judgement number with neither a `# J:` mark nor a source. These are warnings (an
error under `--strict`); each names the file, the line and the field, like a load error.
"""

from __future__ import annotations

from sim.errors import Problem

#: How far below its reservation value an actor's utility may be for "accepted with
#: reservations" (a proposal taken as a basis for talks) to still count as consistent.
BASIS_TOLERANCE = 0.05


def consistency_warnings(loaded, game) -> list[Problem]:
    """Every inconsistency between the scenario's numbers, its own proposals and the record."""
    sc, srcmap = loaded.scenario, loaded.srcmap
    out: list[Problem] = []
    if len(game.proposals):
        from sim.domain.evaluate import point_responses

        point = point_responses(game)
        margins, signs, crossed = point["margins"], point["signs"], point["crossed"]
        for p, (pid, prop) in enumerate(sc.proposals.items()):
            for who in prop.by:
                a = game.actor_index(who)
                if not signs[p, a]:
                    why = "crosses its own red line" if crossed[p, a] else f"margin {margins[p, a]:+.3f}"
                    out.append(srcmap.problem(("proposals", pid, "by"),
                                              f"{who} rejects its own proposal at point estimates ({why})"))
            for who, resp in prop.responses.items():
                a = game.actor_index(who)
                said = resp.response
                model = "accepts" if signs[p, a] else ("rejects (red line)" if crossed[p, a]
                                                       else f"rejects (margin {margins[p, a]:+.3f})")
                wrong = ((said == "rejected" and signs[p, a])
                         or (said == "accepted" and not signs[p, a])
                         or (said == "accepted_with_reservations"
                             and (crossed[p, a] or margins[p, a] < -BASIS_TOLERANCE)))
                if wrong:
                    out.append(srcmap.problem(("proposals", pid, "responses", who),
                                              f"the record says {said.replace('_', ' ')}, the model {model} "
                                              "at point estimates"))
    out.extend(unmarked_judgements(loaded))
    return sorted(out, key=lambda pr: (pr.line or 0, pr.field))


def _judgement_paths(sc) -> list[tuple[tuple, bool]]:
    """(path, cited) of every number that is a judgement; cited when its entry names a source."""
    paths: list[tuple[tuple, bool]] = []
    for aid, actor in sc.actors.items():
        base = ("actors", aid)
        paths += [((*base, "weights", iid), False) for iid in actor.weights]
        # Reservation values and value tables always cite a source (the schema requires it).
        strat = actor.strategy
        for name in ("exponent", "deadline", "floor", "temperature"):
            if name in strat.model_fields_set:
                paths.append(((*base, "strategy", name), strat.source is not None))
        for name in ("capability", "discount"):
            if name in actor.model_fields_set:
                paths.append(((*base, name), False))
    if sc.dynamics is not None:
        dyn = sc.dynamics
        for iid, front in dyn.front.items():
            paths.append((("dynamics", "front", iid, "drift_km2_per_month"), front.source is not None))
        for aid, cost in dyn.costs.items():
            paths.append((("dynamics", "costs", aid, "per_month"), cost.source is not None))
    return paths


def unmarked_judgements(loaded) -> list[Problem]:
    """Judgement numbers whose line, comment block or enclosing keys carry no `# J` mark, and no source."""
    srcmap = loaded.srcmap
    lines = loaded.raw.decode("utf-8-sig", errors="replace").splitlines()
    out = []
    for path, cited in _judgement_paths(loaded.scenario):
        if cited:
            continue
        if not any(_marked(lines, srcmap.lines.get(path[:k])) for k in range(len(path), 1, -1)):
            out.append(srcmap.problem(path, "a judgement with neither a '# J:' mark nor a source"))
    return out


def _marked(lines: list[str], line: int | None) -> bool:
    """Whether a key's line, or the comment lines right above it, carry a judgement mark."""
    if not line or line > len(lines):
        return False
    if "# J" in lines[line - 1]:
        return True
    k = line - 2
    while k >= 0 and lines[k].strip().startswith("#"):
        if lines[k].strip().startswith("# J"):
            return True
        k -= 1
    return False
