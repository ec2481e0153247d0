"""Leverage: how an actor's weight or position on one issue moves the probability of agreement and of signing.

Draws a `negsim leverage` result (sim.insight.leverage; the curves from
sim.insight.figdata.leverage_curves): per kind of change (the weight times a factor, the
position moved towards the others or hardened), the probability of full agreement and of
signing with its 95% Wilson interval above, and the paired change against the scenario as
written, with Newcombe's interval, below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim.insight.figdata import leverage_curves
from sim.plots.style import (
    LABEL_SIZE,
    NOTE_COLOUR,
    OUTCOME_COLOUR,
    actor_colours,
    empty_note,
    new_grid,
    nice_ceiling,
    suptitle,
    wrap,
)

_KIND_TITLES = {"weight": "Its weight on the issue, times a factor", "position": "Its position on the issue"}


def step_labels(kind: str, curve: Mapping[str, np.ndarray]) -> list[str]:
    """Tick labels of a kind's steps: `×2 (40%)` (the issue's share of the weight), `hardens 50%`, `as written`."""
    out = []
    for k, step in enumerate(curve["step"]):
        if kind == "weight":
            share = curve["share"][k]
            out.append(f"×{step:g}" + (f"\n({share:.0%})" if np.isfinite(share) else ""))
        elif step == 0:
            out.append("as\nwritten")
        else:
            out.append(f"{'hardens' if step < 0 else 'towards'}\n{abs(step):.0%}")
    return out


def _percent(axis, points: bool = False) -> None:
    axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 5, 10]))
    # :g keeps a tick at 0.5 from reading as 0 or 1; 0 has no sign.
    axis.set_major_formatter(FuncFormatter(lambda v, _: (f"{v:+.3g}" if abs(v) > 1e-9 else "0") if points
                                           else f"{v:.3g}%"))


#: The outcomes drawn, each with its words and how it is set apart (besides colour: the marker).
_OUTCOMES = (("agreement", "full agreement", "o", -0.07), ("signed", "signed (agreement or ceasefire)", "s", 0.07))


def leverage_figure(manifest: Mapping[str, Any], result: Mapping[str, Any]) -> Figure:
    """Probability (Wilson) and paired change (Newcombe) of full agreement and of signing at every step."""
    outputs = [o for o in _OUTCOMES if o[0] in result["steps"][0]]
    curves = {o[0]: leverage_curves(dict(result), o[0]) for o in outputs}
    kinds = [k for k in ("weight", "position") if outputs and k in curves[outputs[0][0]]]
    fig, axes = new_grid(2, max(1, len(kinds)), sharey="row")
    axes = axes.reshape(2, -1)
    actor = str(result.get("actor_name") or result.get("actor"))
    issue = str(result.get("issue_name") or result.get("issue"))
    seed = result.get("seed")
    headline = (f"Leverage of {actor} on {issue}: the same {int(result['runs']):,} runs at every step"
                + (f", seed {seed}" if seed is not None else ""))
    if not kinds:
        axes[0, 0].set_gid("leverage")
        empty_note(axes[0, 0], "no step of the weight or the position was simulated")
        axes[1, 0].set_visible(False)
        suptitle(fig, headline, manifest)
        return fig
    aid = str(result.get("actor"))
    # The actor's colour for full agreement, the question leverage is about; grey for signing.
    colours = {"agreement": actor_colours([aid]).get(aid, OUTCOME_COLOUR), "signed": OUTCOME_COLOUR}
    top = 100 * nice_ceiling(max(float(np.nanmax(c[k]["high"])) for c in curves.values() for k in kinds))
    for col, kind in enumerate(kinds):
        top_ax, change_ax = axes[0, col], axes[1, col]
        top_ax.set_gid(f"leverage:{kind}")
        change_ax.set_gid(f"leverage_change:{kind}")
        for output, words, marker, shift in outputs:
            curve, colour = curves[output][kind], colours[output]
            x = np.arange(len(curve["step"])) + shift  # side by side, so neither hides the other's interval
            rate, change = 100 * curve["rate"], 100 * curve["change"]
            # Clipped at 0: an interval's end may differ from its estimate by rounding only.
            top_ax.errorbar(x, rate, yerr=np.maximum(0, [rate - 100 * curve["low"], 100 * curve["high"] - rate]),
                            fmt=f"{marker}-", color=colour, elinewidth=1.2, capsize=3, markersize=5, linewidth=1.3,
                            gid=f"rate:{output}", label=words)
            base = result["steps"][0][output]["rate"]
            top_ax.axhline(100 * base, color=colour, linestyle=":", linewidth=1.1, gid=f"baseline:{output}")
            change_ax.errorbar(x, change, yerr=np.maximum(0, [change - 100 * curve["change_low"],
                                                              100 * curve["change_high"] - change]),
                               fmt=marker, color=colour, elinewidth=1.2, capsize=3, markersize=5,
                               gid=f"change:{output}")
        change_ax.axhline(0, color="#333333", linewidth=0.8, gid="zero")
        steps = curves[outputs[0][0]][kind]
        top_ax.set_ylim(0, top * 1.04)
        _percent(top_ax.yaxis)
        _percent(change_ax.yaxis, points=True)
        top_ax.set_title(_KIND_TITLES[kind], fontsize=LABEL_SIZE)
        positions = np.arange(len(steps["step"]))
        top_ax.set_xticks(positions, [""] * len(positions))
        change_ax.set_xticks(positions, step_labels(kind, steps), fontsize=LABEL_SIZE - 2)
        change_ax.set_xlabel(wrap("factor (the issue's share of its total weight)" if kind == "weight"
                                  else "share of the way its values move (towards the others' mean, "
                                       "or hardening to its favourite option)", 58), fontsize=LABEL_SIZE - 1)
        for ax in (top_ax, change_ax):
            ax.grid(axis="y", color="#EEEEEE", linewidth=0.8)
            ax.set_axisbelow(True)
            ax.set_xlim(-0.5, len(positions) - 0.5)
    axes[0, 0].set_ylabel(wrap("probability by the horizon (95% Wilson interval)", 26))
    axes[1, 0].set_ylabel(wrap("change vs as written, % points (95% Newcombe interval)", 26))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles.append(Line2D([], [], color=NOTE_COLOUR, linestyle=":"))
    as_written = ", ".join(f"{words} {result['steps'][0][o]['rate']:.1%}" for o, words, _, _ in outputs)
    labels.append(f"as written: {as_written}")
    fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False, fontsize=LABEL_SIZE - 2)
    suptitle(fig, headline, manifest)
    return fig
