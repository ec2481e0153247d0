"""The deal space: pairwise projections of the Pareto frontier, the bargaining solutions and the named proposals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

from sim.errors import UserError
from sim.plots.load import actor_ids, actor_names
from sim.plots.style import (
    LABEL_SIZE,
    NOTE_COLOUR,
    actor_colours,
    empty_note,
    new_grid,
    suptitle,
    wrap,
)

# Nash is a filled star; the others are hollow and larger, so solutions that coincide nest
# inside each other instead of hiding one another.
_SOLUTIONS = (
    ("nash", "Nash bargaining solution", "*", 200),
    ("kalai_smorodinsky", "Kalai–Smorodinsky solution", "D", 230),
    ("utilitarian", "Utilitarian (max sum, signatories)", "s", 380),
)


def _pareto_2d(points: np.ndarray) -> np.ndarray:
    """The points no other point beats on both coordinates, sorted by the first coordinate."""
    if not len(points):
        return points
    order = np.lexsort((-points[:, 1], -points[:, 0]))
    best_y = -np.inf
    keep = []
    for i in order:
        if points[i, 1] > best_y + 1e-12:
            keep.append(i)
            best_y = points[i, 1]
    out = points[keep]
    return out[np.argsort(out[:, 0])]


def frontier_pairs(actors: Sequence[str], signatories: Sequence[str], max_panels: int = 6) -> list[tuple[str, str]]:
    """Which actor pairs get a panel: every pair if few, else the signatories' pairs."""
    all_pairs = [(a, b) for i, a in enumerate(actors) for b in actors[i + 1:]]
    sig = [a for a in actors if a in set(signatories)]
    sig_pairs = [(a, b) for i, a in enumerate(sig) for b in sig[i + 1:]]
    if len(actors) <= 3 or not sig_pairs:
        return all_pairs[:max_panels]
    return sig_pairs[:max_panels]


def frontier_figure(manifest: Mapping[str, Any], frontier: ArrayLike, reservations: Mapping[str, float] | ArrayLike,
                    analysis: Mapping[str, Any] | None = None, actors: Sequence[str] | None = None) -> Figure:
    """Pairwise projections of the Pareto frontier with Nash, Kalai–Smorodinsky and the proposals.

    frontier: (F, A) utilities of the frontier's points, columns in `actors` order (default: the
    analysis's `actors`, else the manifest's). reservations: per actor (mapping, or aligned with
    actors), drawn as dashed lines. analysis: `analysis_json` output (solutions, proposals).
    """
    analysis = analysis or {}
    actors = list(actors or analysis.get("actors") or actor_ids(manifest))
    util = np.asarray(frontier, dtype=float)
    if util.size and (util.ndim != 2 or util.shape[1] != len(actors)):
        raise UserError(f"frontier utilities: expected one column per actor ({len(actors)}: {', '.join(actors)}), "
                        f"got an array of shape {util.shape}")
    util = util.reshape(-1, max(1, len(actors)))
    if isinstance(reservations, Mapping):
        res = {a: float(reservations[a]) for a in actors if a in reservations}
    else:
        res = {a: float(r) for a, r in zip(actors, np.asarray(reservations, dtype=float).ravel())}
    signatories = list(analysis.get("signatories") or manifest.get("signatories") or actors)
    pairs = frontier_pairs(actors, signatories)
    names = actor_names(manifest)
    colours = actor_colours(actor_ids(manifest) or actors)
    colours.update({a: c for a, c in actor_colours(actors).items() if a not in colours})

    ncols = min(3, max(1, len(pairs)))
    nrows = -(-max(1, len(pairs)) // ncols)
    fig, axes = new_grid(nrows, ncols)
    if not pairs or not len(util):
        axes[0].set_gid("frontier")
        empty_note(axes[0], "no frontier to show" if pairs else "need at least two actors")
        suptitle(fig, "Deal space: Pareto frontier", manifest)
        return fig

    proposals = [p for p in analysis.get("proposals") or [] if isinstance(p.get("utilities"), Mapping)]
    for ax, (a, b) in zip(axes, pairs):
        ia, ib = actors.index(a), actors.index(b)
        ax.set_gid(f"frontier:{a}:{b}")
        xy = util[:, [ia, ib]]
        ax.scatter(xy[:, 0], xy[:, 1], s=14 if len(xy) < 500 else 4, color="#8C8C8C", alpha=0.6, linewidths=0,
                   rasterized=len(xy) > 2000,
                   label="Pareto-optimal deals (all actors), projected", gid="frontier_points")
        edge = _pareto_2d(xy)
        ax.step(edge[:, 0], edge[:, 1], where="pre", color="#4D4D4D", linewidth=1.2,
                label="best trade-off for this pair", gid="frontier_edge")
        for actor, along in ((a, "x"), (b, "y")):
            if actor in res:
                line = ax.axvline if along == "x" else ax.axhline
                line(res[actor], color=colours.get(actor, "black"), linestyle="--", linewidth=1.4,
                     gid=f"reservation:{actor}", label="reservation value (no deal), actor's colour")
        for key, label, marker, size in _SOLUTIONS:
            sol = analysis.get(key)
            if not isinstance(sol, Mapping) or not isinstance(sol.get("utilities"), Mapping):
                continue
            u = sol["utilities"]
            if a in u and b in u:
                # Hollow marks for the others, so a solution that coincides with Nash stays visible.
                ax.scatter([u[a]], [u[b]], s=size, marker=marker, facecolor="black" if key == "nash" else "none",
                           edgecolor="black", linewidths=1.3, zorder=5 if key == "nash" else 6, label=label, gid=key)
        for k, prop in enumerate(proposals, start=1):
            u = prop["utilities"]
            if a in u and b in u:
                ax.scatter([u[a]], [u[b]], s=150, marker="o", color="white", edgecolor=NOTE_COLOUR,
                           linewidths=1.2, zorder=6, gid=f"proposal:{prop.get('id', k)}")
                ax.annotate(str(k), (u[a], u[b]), ha="center", va="center", fontsize=LABEL_SIZE - 3,
                            fontweight="bold", color="black", zorder=7, gid=f"proposal_label:{prop.get('id', k)}")
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
        ax.set_aspect("equal", adjustable="box")
        width = {1: 60, 2: 40}.get(ncols, 30)  # square panels side by side: long names wrap
        ax.set_xlabel(wrap(f"utility of {names.get(a, a)} (0–1)", width), color=colours.get(a, "black"),
                      fontsize=LABEL_SIZE - 1)
        ax.set_ylabel(wrap(f"utility of {names.get(b, b)} (0–1)", width), color=colours.get(b, "black"),
                      fontsize=LABEL_SIZE - 1)
        ax.tick_params(labelsize=LABEL_SIZE - 2)
        ax.grid(color="#EEEEEE", linewidth=0.8)
        ax.set_axisbelow(True)
    for ax in axes[len(pairs):]:
        ax.set_visible(False)

    # One legend for all panels: each kind of mark once, then the numbered proposals.
    seen: dict[str, Any] = {}
    for ax in axes[:len(pairs)]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    if "reservation value (no deal), actor's colour" in seen:
        seen["reservation value (no deal), actor's colour"] = Line2D([], [], color="black", linestyle="--")
    for key, label, marker, _ in _SOLUTIONS:
        if label in seen:  # one legend size for all three, whatever their size on the axes
            seen[label] = Line2D([], [], linestyle="none", marker=marker, markersize=11 if key == "nash" else 8,
                                 markerfacecolor="black" if key == "nash" else "none", markeredgecolor="black")
    # Few panels leave room on the right; three in a row leave it below.
    side = len(pairs) <= 2
    for k, prop in enumerate(proposals, start=1):
        text = str(prop.get("name") or prop.get("id"))  # the marker is the number
        # Those whose yes the deal needs (signatories, and a consent actor such as a guarantor when
        # the deal touches its issue) and who get less than no deal; files written before the
        # analysis listed them fall back on the signatories below their reservation value.
        refuse = prop.get("blocking")
        if refuse is None:
            refuse = [x for x in prop.get("below_reservation") or [] if x in signatories]
        if refuse:  # the caption says what "refused" means
            text += f" — refused by {', '.join(names.get(x, x) for x in refuse)}"
        seen[wrap(text, 52 if side else 60)] = Line2D([], [], linestyle="none", marker=f"${k}$", markersize=7,
                                                       color="black")
    fig.legend(list(seen.values()), list(seen.keys()), loc="outside right center" if side else "outside lower center",
               frameon=False, ncols=1 if side else (2 if len(seen) > 4 else len(seen)),
               fontsize=LABEL_SIZE - 2)
    size = analysis.get("pareto_size")
    sub = f"{int(size):,} Pareto-optimal deals" if size is not None else f"{len(util):,} frontier points"
    if analysis.get("exact") is False:
        sub += " (approximate frontier)"
    suptitle(fig, f"Deal space: {sub}, bargaining solutions and named proposals", manifest)
    return fig
