"""Cross-checks of the territorial model: who holds each region, who an option gives it to, and
who the front line moves between. Every id is one of the scenario's own actors; nothing here
knows any particular conflict.

A region says who holds what share (`held: {actor: share}`, two or more holders, summing to
1); each option says who controls the land (`control:` an actor, `line`, `buffer` with `from:`
a holder, or `international`); `dynamics.front.<region>` says who gains from whom (`gainer`,
`loser`, both holders). Events may add drift only to a region whose front says so.
"""

from __future__ import annotations

from sim.errors import Problem
from sim.scenario.schema import CONTROL_KEYWORDS, SHARE_TOLERANCE, Scenario
from sim.scenario.yamlsrc import SourceMap

_CONTROL_FORMS = "control: <actor id> | line | buffer (with from: <holder>) | international"


def check_territory(sc: Scenario, srcmap: SourceMap) -> list[Problem]:
    """Every problem with the scenario's regions, their options and their front lines."""
    p = srcmap.problem
    out: list[Problem] = []
    actors = sc.actors
    known = ", ".join(actors)
    regions = {iid: issue for iid, issue in sc.issues.items() if issue.kind == "territory"}
    if regions:
        for aid in actors:
            if aid in CONTROL_KEYWORDS:
                out.append(p(("actors", aid), f"{aid!r} is a word of the territorial model "
                                              f"({', '.join(CONTROL_KEYWORDS)}); give this actor another id"))
    for iid, issue in regions.items():
        base = ("issues", iid)
        held = issue.held or {}
        holders = ", ".join(held)
        for aid in held:
            if aid not in actors:
                out.append(p(base + ("held", aid), f"unknown actor {aid!r} (known: {known}); a region is held by "
                                                   "actors of the scenario"))
        if len(held) < 2:
            out.append(p(base + ("held",), f"a region needs two or more holders (this one lists {holders or 'none'}); "
                                           "a side that holds none of it yet is listed with 0"))
        total = sum(held.values())
        if held and abs(total - 1.0) > SHARE_TOLERANCE:
            out.append(p(base + ("held",), f"the shares held sum to {total:.6g}, not 1 ({holders})"))
        for oid, opt in issue.options.items():
            path = base + ("options", oid)
            control = opt.control
            if control is None:
                out.append(p(path, f"say who controls the land under this option: {_CONTROL_FORMS}"))
            elif control not in CONTROL_KEYWORDS and control not in actors:
                out.append(p(path + ("control",), f"unknown actor {control!r} (known: {known}); or say "
                                                  f"{' | '.join(CONTROL_KEYWORDS)}"))
            if control == "buffer":
                if opt.from_ is None:
                    out.append(p(path, f"a buffer says whose part of {iid} becomes the zone: from: <holder> "
                                       f"(holders: {holders})"))
                elif opt.from_ not in held:
                    out.append(p(path + ("from",), f"{opt.from_!r} holds no part of {iid} (holders: {holders}); "
                                                   "a buffer is carved from a holder's part"))
            elif opt.from_ is not None:
                out.append(p(path + ("from",), "only a buffer (control: buffer) is carved from a side"))
    # Results name a front-line column `held_<region>_<holder>`: two pairs must not share a name.
    columns: dict[str, tuple[str, str]] = {}
    for iid, issue in regions.items():
        for aid in issue.held or {}:
            other = columns.setdefault(f"held_{iid}_{aid}", (iid, aid))
            if other != (iid, aid):
                out.append(p(("issues", iid, "held", aid),
                             f"the results column held_{iid}_{aid} would also be {other[1]}'s share of {other[0]}; "
                             "rename a region or an actor"))
    dyn = sc.dynamics
    if dyn is None:
        return out
    for iid, front in dyn.front.items():
        issue = regions.get(iid)
        if issue is None:
            continue  # not a region: reported with the other dynamics checks
        held = issue.held or {}
        for role in ("gainer", "loser"):
            who = getattr(front, role)
            if who not in held:
                what = f"unknown actor {who!r}" if who not in actors else f"{who!r} is not a holder of {iid}"
                out.append(p(("dynamics", "front", iid, role),
                             f"{what} (holders: {', '.join(held)}); the front moves land between the "
                             "region's holders"))
        if front.gainer == front.loser:
            out.append(p(("dynamics", "front", iid, "loser"), f"the gainer and the loser are both {front.gainer!r}"))
    for k, event in enumerate(dyn.events):
        for iid in event.drift:
            if iid in regions and iid not in dyn.front:
                out.append(p(("dynamics", "events", k, "drift", iid),
                             f"{iid} has no front line (dynamics.front.{iid}) saying who gains from whom; "
                             "add one (its drift may be 0)"))
    return out
