"""The report's definitions: every term and rule its numbers and figures rely on, stated once.

`definitions` lists (term, meaning) pairs for the sections a report actually has, so a reader
never has to guess what "agreement", "over all runs" or "95% interval" means; `definitions_html`
renders them as a definition list. The wording follows the model (README "Endings" and
"Calendar") and the functions that compute the numbers (sim.results.summary, sim.plots).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.report.markup import esc


def _calendar(manifest: Mapping[str, Any]) -> str:
    as_of, days, horizon = manifest.get("as_of"), manifest.get("round_days"), manifest.get("horizon")
    if as_of and days and horizon:
        return (f"Round r (counted from 0) is held on day r × {float(days):.3g} of the talks, from {as_of} to the "
                f"horizon {horizon} (the last round, {int(manifest.get('max_rounds') or 0) - 1}).")
    rounds = manifest.get("max_rounds")
    return f"Rounds are counted from 0{f', at most {rounds} of them' if rounds else ''}; the talks have no calendar."


def definitions(manifest: Mapping[str, Any], *, sweep: bool = False, sensitivity: bool = False,
                analysis: bool = False, discovery: bool = False, leverage: bool = False) -> list[tuple[str, str]]:
    """(term, meaning) for every term the report uses; the flags: whether it has those sections."""
    from sim.results.summary import PAYOFF_RULE

    near = manifest.get("near_issues", 2)
    out = [
        ("run", "One simulated course of the talks, with its own draw of every uncertain number in the scenario "
                "and of each actor's hidden flexibility; runs seed themselves, so the same seed gives the same runs."),
        ("round", _calendar(manifest)),
        ("agreement", "Every signatory accepts the text, and so does every actor whose consent an issue needs "
                      "because the text departs from that issue's status quo."),
        ("partial deal", "The signatories accept but a needed consent is withheld for the consent patience: they "
                         "settle for a ceasefire without a settlement. Not counted as agreement."),
        ("breakdown", "The talks end for good, only through an explicit, sourced breakdown event of the scenario."),
        ("open, suspended", "No agreement by the horizon, with the talks still going (open) or paused after a "
                            "walk-out (suspended)."),
        ("signed", "Agreement or partial deal: the runs in which the signatories signed something."),
        ("agreement rate", "Runs that end in agreement, divided by all runs (of every point, in a sweep)."),
        ("95% Wilson interval", "The Wilson score interval of a share of runs (z = 1.96): a range that holds the "
                                "model's true share in 95% of repetitions with as many runs. Every interval of a "
                                "share of runs in this report is one."),
        ("agreement by a date", "The share of all runs whose agreement is struck in a round held on or before "
                                "that date; the time-to-agreement figure plots it for every round."),
        ("median round of agreement", "The median round (counted from 0) among the runs that agreed."),
        ("nearest named proposal", f"The scenario's named proposal that differs from the agreed deal on the fewest "
                                   f"issues, if at most {near} issues apart; otherwise no named proposal is close."),
        ("utility", "What a deal is worth to an actor, from 0 (worst) to 1 (best): its weighted sum of the values "
                    "of the deal's options, with the scenario's interactions."),
        ("reservation value", "What no deal is worth to an actor: below it the actor never signs (unless the "
                              "scenario asks for noisy rationality). Where the scenario derives it from the war it "
                              "moves as the war goes on; the runs record it where each run ended."),
        ("walk-out", "A signatory that has seen the scenario's patience of texts worse to it than fighting on "
                     "walks out: the talks pause and resume with the scenario's probability."),
        ("mean utility in agreements", "The actor's utility of the agreed deal, averaged over the runs that agreed."),
        ("mean utility over all runs", f"Averaged over every run, where {PAYOFF_RULE}."),
    ]
    if sweep:
        out.append(("pooled", "In a sweep, the key numbers count the runs of every parameter point together; the "
                              "sweep figure pools the points that share a value (or a bin of a sampled value) "
                              "and its title gives how many points and runs each pools."))
    if sensitivity:
        out += [
            ("Sobol first-order index", "The share of an output's variance over the sampled ranges that one "
                                        "parameter causes alone."),
            ("Sobol total index", "The share of the variance that involves the parameter, alone or together with "
                                  "others. True indices lie in [0, 1] with first-order ≤ total; estimates outside "
                                  "that are sampling noise."),
            ("sensitivity outputs", f"The agreement rate, and each actor's mean utility over all runs, where "
                                    f"{PAYOFF_RULE}."),
            ("95% bootstrap interval", "Of a Sobol index: the middle 95% of the index recomputed on each bootstrap "
                                      "resample of the design's base points (each drawn with replacement, its rows kept "
                                      "together); it need not be symmetric about the estimate."),
            ("converged", "The Sobol indices are settled when the indices from the first half of the base points "
                          "lie within the intervals from all of them (allowing for the number of indices checked) "
                          "and no interval is wider than the file's limit; otherwise more base points are needed."),
        ]
    if discovery:
        out += [
            ("scenario discovery", "Finding the ranges of the varied inputs in which the outcome is likely "
                                   "(Bryant & Lempert 2010), here with PRIM boxes over the parameter points."),
            ("point of interest", "A parameter point (of a sweep, or of a sensitivity design) whose full-agreement "
                                  "rate over its runs is at least the level: by default the median rate over the "
                                  "points (when more than half the points share the lowest rate, the next rate "
                                  "above it)."),
            ("PRIM box", "A range for each restricted input (a set of values for a categorical one) found by the "
                         "patient rule induction method (Friedman & Fisher 1999): peeling off thin slices of the "
                         "points to raise the share of points of interest, then pasting back what lowers it; the "
                         "box of most support reaching the target density is kept, and later boxes are found among "
                         "the points outside earlier ones."),
            ("coverage", "The share of all points of interest that lie in the box."),
            ("density", "The share of the box's points that are points of interest."),
            ("support", "The share of all points that lie in the box."),
            ("p-value of a restriction", "How likely a box this dense would arise by chance if that input were "
                                         "left unrestricted (one-sided hypergeometric test, Bryant & Lempert "
                                         "2010); above 0.05 the restriction may be noise."),
        ]
    if leverage:
        out += [
            ("leverage", "How much the probability of an outcome moves when one actor's weight on one issue, or its "
                         "position there, changes, all else as written, on the same seeded runs."),
            ("weight factor", "The actor's weight on the issue times a factor (an uncertain weight's mean, sd and "
                              "bounds alike); weights are normalised per actor, so the issue's share of its total "
                              "weight is shown too."),
            ("position step", "The actor's values of the issue's options moved a share of the way towards the "
                              "other actors' mean values (towards), or towards valuing only its favourite option "
                              "(hardens); its red lines and interactions stay as written."),
            ("paired change", "The difference in probability from the scenario as written, counted on the same "
                              "runs (runs gained minus runs lost, over all runs), with Newcombe's (1998) 95% "
                              "interval for paired proportions."),
        ]
    if analysis:
        out += [
            ("Pareto-optimal deal", "A deal no other deal improves for one actor without worsening it for another "
                                    "(all actors count), at the scenario's point estimates."),
            ("zone of possible agreement", "The signable deals (crossing no red line) that every actor whose yes "
                                           "they need values at least at its reservation value, at the "
                                           "scenario's point estimates."),
            ("Nash, Kalai–Smorodinsky, utilitarian", "The deals of the zone of possible agreement that maximise the "
                                                     "product of the signatories' gains over their reservation "
                                                     "values, the smallest gain relative to each one's best "
                                                     "possible gain, and the sum of their gains."),
            ("refused proposal", "A named proposal below the reservation value of an actor whose yes it needs (a "
                                 "signatory, or a consent actor when the proposal touches its issue)."),
        ]
    return out


def definitions_html(manifest: Mapping[str, Any], **sections: bool) -> str:
    """The definitions as an HTML definition list."""
    items = "".join(f"<dt>{esc(term)}</dt><dd>{esc(meaning)}</dd>" for term, meaning in definitions(manifest, **sections))
    return f"<dl class='defs'>{items}</dl>"
