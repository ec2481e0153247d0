"""Sobol sensitivity indices: which uncertain numbers the outputs depend on, and which estimates are noise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.plots.load import actor_ids, actor_names, sensitivity_origin
from sim.plots.style import (
    FIGSIZE,
    LABEL_SIZE,
    NOTE_COLOUR,
    OUTCOME_COLOUR,
    empty_note,
    fit_labels,
    humanise,
    new_grid,
    parameter_label,
    suptitle,
    wrap,
)

_VERDICTS = {"not checked": "convergence not checked"}


def output_title(key: str, manifest: Mapping[str, Any]) -> str:
    """A sensitivity output in words: `agreement_rate` -> `Agreement rate`, `utility_beta` -> `Utility of Beta`."""
    if key == "agreement_rate":
        return "Agreement rate"
    if key.startswith("utility_"):
        aid = key.removeprefix("utility_")
        return f"Utility of {actor_names(manifest).get(aid, aid)}"
    return humanise(key).capitalize()


def _lower_first(text: str) -> str:
    """`Utility of Russian Federation` -> `utility of Russian Federation` (names keep their capitals)."""
    return text[:1].lower() + text[1:]


def sensitivity_outputs(manifest: Mapping[str, Any], sensitivity: Mapping[str, Any]) -> list[str]:
    """Output keys in display order: agreement rate, utilities in actor order, then the rest."""
    outputs = list((sensitivity.get("outputs") or {}).keys())
    actors = [f"utility_{a}" for a in actor_ids(manifest)]
    first = [k for k in ["agreement_rate", *actors] if k in outputs]
    return first + sorted(k for k in outputs if k not in first)


def sobol_value(value: Any) -> float:
    """A JSON number as a float; None (a non-finite estimate) and non-numbers as NaN."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def sobol_bounds(block: Mapping[str, Any], kind: str, params: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of each parameter's interval of one kind ("first_order" or "total"); NaN where there is none.

    `<kind>_ci` holds [low, high] per parameter (a bootstrap interval, not symmetric); files
    written before it hold `<kind>_conf`, a half-width around the estimate.
    """
    ci = block.get(f"{kind}_ci") or {}
    conf = block.get(f"{kind}_conf") or {}
    low, high = np.full(len(params), np.nan), np.full(len(params), np.nan)
    for j, p in enumerate(params):
        pair = ci.get(p)
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            low[j], high[j] = sobol_value(pair[0]), sobol_value(pair[1])
        elif p in conf:
            mid, half = sobol_value((block.get(kind) or {}).get(p)), sobol_value(conf[p])
            low[j], high[j] = mid - half, mid + half
    return low, high


def convergence_text(manifest: Mapping[str, Any], sensitivity: Mapping[str, Any]) -> tuple[str, str]:
    """(the verdict, e.g. "not converged", or ""; why, per output not converged, in words, or "")."""
    verdict = str((sensitivity.get("convergence") or {}).get("verdict") or "")
    reasons = []
    for key in sensitivity_outputs(manifest, sensitivity):
        conv = (sensitivity["outputs"][key] or {}).get("convergence") or {}
        if conv.get("converged") is not False:
            continue
        why = []
        if conv.get("precise") is False and conv.get("max_width") is not None:
            why.append(f"intervals up to {float(conv['max_width']):.2f} wide")
        if conv.get("stable") is False and conv.get("max_change") is not None:
            why.append(f"indices moved by up to {float(conv['max_change']):.2f} from half the points")
        reasons.append(f"{_lower_first(output_title(key, manifest))}: {', '.join(why) or 'not settled'}")
    more = len(reasons) - 2
    return verdict, "; ".join(reasons[:2]) + (f"; and {more} more output{'s' if more > 1 else ''}" if more > 0 else "")


def noisy_indices(sensitivity: Mapping[str, Any], tol: float = 0.05) -> list[tuple[str, str, str, float]]:
    """(output, parameter, what, value) for every estimate that cannot be true: negative, above 1, or first > total."""
    out = []
    for key, idx in (sensitivity.get("outputs") or {}).items():
        first = idx.get("first_order") or {}
        total = idx.get("total") or {}
        for kind, values in (("first_order", first), ("total", total)):
            out += [(key, p, kind, sobol_value(v)) for p, v in values.items() if sobol_value(v) < 0]
        out += [(key, p, "first>total", sobol_value(first[p])) for p in first
                if p in total and sobol_value(first[p]) > sobol_value(total[p]) + tol]
        for kind, values in (("first_order", first), ("total", total)):
            out += [(key, p, f"{kind}>1", sobol_value(v)) for p, v in values.items() if sobol_value(v) > 1 + tol]
    return out


def sensitivity_figure(manifest: Mapping[str, Any], sensitivity: Mapping[str, Any]) -> Figure:
    """Sobol first-order and total indices per parameter (grouped bars), one panel per output."""
    outputs = sensitivity_outputs(manifest, sensitivity)
    data = sensitivity.get("outputs") or {}
    params = [str(p) for p in sensitivity.get("parameters") or []]
    for key in outputs:
        for kind in ("first_order", "total"):
            params += [p for p in (data[key].get(kind) or {}) if p not in params]

    n_out = max(1, len(outputs))
    # One row while panels stay wide enough for bars: two rows would leave each parameter too
    # little height for its label.
    ncols = n_out if n_out <= 5 else 3
    nrows = -(-n_out // ncols)
    fig, axes = new_grid(nrows, ncols, sharex=True, sharey=True)
    if not outputs or not params:
        axes[0].set_gid("sensitivity")
        empty_note(axes[0], "no Sobol indices to show")
        for ax in axes[1:]:
            ax.set_visible(False)
        suptitle(fig, "Sensitivity: Sobol indices", manifest)
        return fig

    y = np.arange(len(params))
    h = 0.38
    lowest, highest = 0.0, 1.0
    noisy = noisy_indices(sensitivity)
    annotate = len(params) <= 6 and ncols <= 3
    for ax, key in zip(axes, outputs):
        ax.set_gid(f"sensitivity:{key}")
        for kind, shift, colour, label in (("first_order", -h / 2, OUTCOME_COLOUR, "first-order index (alone)"),
                                           ("total", h / 2, "#B3B3B3", "total index (with interactions)")):
            values = data[key].get(kind) or {}
            x = np.array([sobol_value(values.get(p)) for p in params])
            ax.barh(y + shift, np.nan_to_num(x), height=h, color=colour, label=label, gid=kind)
            low, high = sobol_bounds(data[key], kind, params)
            shown = np.isfinite(low) & np.isfinite(high)
            if shown.any():
                # Drawn from its ends, not around the estimate: a bootstrap interval need not hold it.
                ax.errorbar((low + high)[shown] / 2, (y + shift)[shown], xerr=(high - low)[shown] / 2, fmt="none",
                            ecolor="#333333", elinewidth=0.9, capsize=2, gid=f"{kind}_ci")
            finite = np.concatenate([x, low, high])
            finite = finite[np.isfinite(finite)]
            if finite.size:
                lowest, highest = min(lowest, float(finite.min())), max(highest, float(finite.max()))
            if annotate:
                for yy, v in zip(y + shift, x):
                    if np.isfinite(v):
                        ax.text(max(v, 0) + 0.015, yy, f"{v:.2f}", va="center", ha="left",
                                fontsize=LABEL_SIZE - 3, color=NOTE_COLOUR)
        if not any(np.isfinite(sobol_value(v)) for kind in ("first_order", "total")
                   for v in (data[key].get(kind) or {}).values()):
            # scipy gives NaN when the output never varies: there is no variance to apportion.
            ax.text(0.5, 0.5, "constant over the sample:\nno variance to apportion", transform=ax.transAxes,
                    ha="center", va="center", fontsize=LABEL_SIZE - 1, color=NOTE_COLOUR, gid="constant")
        ax.axvline(0, color="#333333", linewidth=0.8)
        # Panels side by side share the width: a long actor name wraps within its own panel.
        ax.set_title(wrap(output_title(key, manifest), {1: 80, 2: 40, 3: 28, 4: 20}.get(ncols, 16)),
                     fontsize=LABEL_SIZE + (1 if ncols < 3 else 0))
        ax.grid(axis="x", color="#E5E5E5", linewidth=0.8)
        ax.set_axisbelow(True)
    ax0 = axes[0]
    names = [parameter_label(p, manifest) for p in params]
    ax0.set_yticks(y, fit_labels(names, (FIGSIZE[1] - 2.0) * 72 / nrows)[0], fontsize=LABEL_SIZE - 1)
    ax0.invert_yaxis()
    ax0.set_xlim(min(0.0, lowest) - 0.05, max(1.0, highest) + (0.12 if annotate else 0.05))
    ax0.xaxis.set_major_locator(MaxNLocator(nbins=3 if ncols > 3 else 5, steps=[1, 2, 2.5, 5, 10]))
    for ax in axes[len(outputs):]:
        ax.set_visible(False)
    for i, ax in enumerate(axes[:len(outputs)]):
        if i >= len(outputs) - ncols:  # the lowest visible panel of each column
            ax.xaxis.set_tick_params(labelbottom=True)

    handles, labels = ax0.get_legend_handles_labels()
    note = ""
    if noisy:
        what = {"first_order": "first-order", "total": "total", "first>total": "first-order above total",
                "first_order>1": "first-order above 1", "total>1": "total above 1"}
        cases = "; ".join(f"{_lower_first(output_title(o, manifest))}, {parameter_label(p, manifest)}: {what[k]} {v:.2f}"
                          for o, p, k, v in noisy[:2]) + ("; …" if len(noisy) > 2 else "")
        note = (f"Note: {len(noisy)} estimate{'s' if len(noisy) > 1 else ''} cannot be true ({cases}). "
                "True indices lie in [0, 1] with first-order ≤ total: read these as sampling noise; "
                "more evaluations narrow them.")
    verdict, why = convergence_text(manifest, sensitivity)
    if why:
        limit = (sensitivity.get("convergence") or {}).get("max_ci_width")
        wanted = f" (an interval may be at most {float(limit):g} wide)" if limit is not None else ""
        note = f"Not converged{wanted}: {why}; more points narrow them." + (f"\n{note}" if note else "")
    origin = sensitivity_origin(manifest, sensitivity)
    if origin:
        note = f"Warning: {origin}." + (f"\n{note}" if note else "")
    # The legend names the x axis of every panel at once; one label per panel would collide.
    bars = " with its 95% bootstrap interval" if any(
        np.isfinite(sobol_bounds(data[k], kind, params)[0]).any() for k in outputs for kind in ("first_order", "total")) \
        else ""
    note = f"Sobol index{bars}: the share of the output's variance (x axis)" + (f"\n{note}" if note else "")
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False, fontsize=LABEL_SIZE - 1,
               title="\n".join(wrap(line, 125) for line in note.split("\n")), title_fontsize=LABEL_SIZE - 2)
    # Labels are fitted to the panels' height, known once the layout has been done.
    fig.canvas.draw()
    height = ax0.get_window_extent().height * 72 / fig.dpi
    labels, size = fit_labels(names, height)
    ax0.set_yticks(y, labels, fontsize=size)
    evals = sensitivity.get("n_evaluations")
    sub = f" from {int(evals):,} model evaluations" if evals else ""
    if sensitivity.get("runs"):
        sub += f", {int(sensitivity['runs']):,} runs each"
    suptitle(fig, f"Sensitivity: Sobol indices per parameter{sub}" + (f": {_VERDICTS.get(verdict, verdict)}" if verdict else ""), manifest)
    return fig
