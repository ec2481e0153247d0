"""What a calibration says: posterior predictive checks, scores, identifiability, figures, and
the calibrated scenario written back as YAML with each freed number's provenance."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from sim.calibration.fit import Posterior
from sim.calibration.likelihood import DecisionLikelihood

#: A posterior sd above this share of the prior's says the data hardly inform the number.
UNINFORMED_SHARE = 0.9
#: Posterior correlations beyond this say two numbers cannot be told apart.
CONFOUNDED = 0.9


def scores(probability: np.ndarray, accepted: np.ndarray, weight: np.ndarray | None = None) -> dict:
    """Brier and log scores (lower is better) and the hit rate of forecasts of yes/no answers."""
    p = np.clip(np.asarray(probability, dtype=float), 1e-6, 1 - 1e-6)
    y = np.asarray(accepted, dtype=float)
    w = np.ones_like(p) if weight is None else np.asarray(weight, dtype=float)
    if not len(p) or w.sum() <= 0:
        return {"n": 0, "brier": float("nan"), "log": float("nan"), "hit_rate": float("nan")}
    brier = float(np.average((p - y) ** 2, weights=w))
    log = float(np.average(-(y * np.log(p) + (1 - y) * np.log1p(-p)), weights=w))
    hits = float(np.average((p >= 0.5) == (y == 1), weights=w))
    return {"n": int(len(p)), "brier": brier, "log": log, "hit_rate": hits}


def predictive_check(like: DecisionLikelihood, posterior: Posterior, max_draws: int = 1000) -> dict:
    """Each decision's posterior predictive probability of a yes against what happened, with scores
    for the model and for the base rate (the weighted share of yes answers in the same data)."""
    draws = posterior.draws[:: max(1, len(posterior.draws) // max_draws)]
    p = like.probabilities(draws).mean(axis=0) if len(like.decisions) else np.zeros(0)
    y, w = like.accepted, like.weight
    base = float(np.average(y, weights=w)) if len(y) and w.sum() > 0 else 0.5
    rows = [{"id": d.id, "date": d.date.isoformat(), "actor": d.actor, "response": d.response,
             "accepted": bool(d.accepted), "weight": round(float(d.weight), 3), "predicted": round(float(q), 4)}
            for d, q in zip(like.decisions, p)]
    return {"decisions": rows, "model": scores(p, y, w), "base_rate": {"rate": base, **scores(np.full(len(y), base), y, w)}}


def identifiability(like: DecisionLikelihood, posterior: Posterior) -> list[str]:
    """Warnings: numbers the data do not inform, and pairs the data cannot tell apart."""
    out = []
    sd = posterior.sd()
    for f, s in zip(like.free, sd):
        if f.prior.sd > 0 and s > UNINFORMED_SHARE * f.prior.sd:
            out.append(f"{f.path}: the posterior sd is {s / f.prior.sd:.0%} of the prior's; the observations "
                       "say little about it (the posterior is mostly the prior)")
    if posterior.draws.shape[1] > 1 and len(posterior.draws) > 2:
        corr = np.corrcoef(posterior.draws, rowvar=False)
        for i in range(len(like.free)):
            for j in range(i + 1, len(like.free)):
                if abs(corr[i, j]) > CONFOUNDED:
                    out.append(f"{like.free[i].path} and {like.free[j].path}: posterior correlation "
                               f"{corr[i, j]:+.2f}; the observations cannot tell them apart")
    return out


def posterior_table(like: DecisionLikelihood, posterior: Posterior) -> list[dict]:
    """Prior and posterior of each free number."""
    mean, sd = posterior.mean(), posterior.sd()
    rows = []
    for k, f in enumerate(like.free):
        q = np.quantile(posterior.draws[:, k], [0.05, 0.95])
        rows.append({"path": f.path, "prior": f.prior.describe(), "prior_sd": f.prior.sd, "mean": float(mean[k]),
                     "sd": float(sd[k]), "q05": float(q[0]), "q95": float(q[1]),
                     "rhat": posterior.rhat.get(f.path), "ess": posterior.ess.get(f.path)})
    return rows


def summary_text(result: dict) -> str:
    """The calibration's summary, as printed and written to calibration.txt."""
    lines = [f"calibrated {result['scenario']} against {result['observations']}: "
             f"{result['n_decisions']} scored decisions, {result['n_outcomes']} outcomes ({result['method']})"]
    diag = result.get("diagnostics", {})
    if diag.get("acceptance") is not None:
        lines.append(f"emcee: {diag['walkers']} walkers x {diag['steps']} steps ({diag['burn']} burn-in), "
                     f"acceptance fraction {diag['acceptance']:.2f}, max R-hat {diag['max_rhat']:.3f}, "
                     f"min effective sample size {diag['min_ess']:.0f}")
    if diag.get("outcome_ess") is not None:
        lines.append(f"outcomes by simulation: {diag['outcome_draws']} draws x {diag['runs_per_draw']} runs; "
                     f"effective sample size after reweighting {diag['outcome_ess']:.0f} of {diag['outcome_draws']}")
        for oid, p in diag.get("outcome_probabilities", {}).items():
            lines.append(f"  P({oid}) before reweighting {p:.1%}")
    lines.append(f"{'free number':<58} {'prior':>14} {'posterior':>16} {'90% interval':>17}")
    for row in result["posterior"]:
        lines.append(f"{row['path']:<58} {row['prior']:>14} {row['mean']:>9.3g}±{row['sd']:<6.2g} "
                     f"{row['q05']:>8.3g}–{row['q95']:<8.3g}")
    ppc = result["predictive"]
    m, b = ppc["model"], ppc["base_rate"]
    lines.append(f"posterior predictive check over {m['n']} decisions (weighted): hit rate {m['hit_rate']:.0%}, "
                 f"Brier {m['brier']:.3f}, log score {m['log']:.3f}; base rate ({b['rate']:.0%} yes): "
                 f"Brier {b['brier']:.3f}, log score {b['log']:.3f}")
    for warning in result.get("identifiability", []):
        lines.append(f"identifiability: {warning}")
    if result.get("calibrated_scenario"):
        lines.append(f"calibrated scenario: {result['calibrated_scenario']}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Figures


def plot_calibration(out: Path, like: DecisionLikelihood, posterior: Posterior, ppc: dict) -> list[Path]:
    """trace.png (emcee only), corner.png and ppc.png in out/figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    paths = []
    names = [_short(n) for n in like.names]
    k = len(names)
    if posterior.chain is not None:
        fig, axes = plt.subplots(k, 1, figsize=(8, 1.8 * k + 0.6), sharex=True, squeeze=False)
        for i, ax in enumerate(axes[:, 0]):
            ax.plot(posterior.chain[:, :, i], color="0.3", alpha=0.15, lw=0.6)
            ax.axvline(posterior.burn, color="tab:red", lw=1, ls="--")
            ax.set_ylabel(names[i], fontsize=8)
        axes[-1, 0].set_xlabel("step (walkers in grey; burn-in left of the dashed line)")
        fig.suptitle("emcee trace")
        fig.tight_layout()
        paths.append(_save(fig, figdir / "trace.png"))
    fig, axes = plt.subplots(k, k, figsize=(2.2 * k + 0.8, 2.2 * k + 0.6), squeeze=False)
    draws = posterior.draws[:: max(1, len(posterior.draws) // 3000)]
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
            elif i == j:
                ax.hist(draws[:, i], bins=30, color="0.4")
                prior = like.free[i].prior
                ax.set_title(f"prior {prior.describe()}", fontsize=7)
            else:
                ax.plot(draws[:, j], draws[:, i], ".", ms=1.5, alpha=0.3, color="0.2")
            if i == k - 1:
                ax.set_xlabel(names[j], fontsize=7)
            if j == 0 and i > 0:
                ax.set_ylabel(names[i], fontsize=7)
            ax.tick_params(labelsize=6)
    fig.suptitle("posterior of the free numbers")
    fig.tight_layout()
    paths.append(_save(fig, figdir / "corner.png"))
    rows = ppc["decisions"]
    if rows:
        fig, ax = plt.subplots(figsize=(8, 0.24 * len(rows) + 1.4))
        ys = np.arange(len(rows))
        for y, row in zip(ys, rows):
            colour = "tab:green" if row["accepted"] else "tab:red"
            ax.plot([row["predicted"]], [y], "o", color=colour, ms=3 + 6 * row["weight"])
        ax.axvline(0.5, color="0.6", lw=0.8)
        ax.set_yticks(ys, [f"{r['date']} {r['actor']}: {r['id']}" for r in rows], fontsize=6)
        ax.set_xlim(-0.02, 1.02)
        ax.invert_yaxis()
        ax.set_xlabel("predicted P(yes); green = the record says yes, red = no; size = weight")
        m = ppc["model"]
        ax.set_title(f"posterior predictive check: hit rate {m['hit_rate']:.0%}, Brier {m['brier']:.3f} "
                     f"(base rate {ppc['base_rate']['brier']:.3f})", fontsize=9)
        fig.tight_layout()
        paths.append(_save(fig, figdir / "ppc.png"))
    return paths


def _short(path: str) -> str:
    parts = path.split(".")
    return ".".join(parts[1:]) if parts[0] == "actors" else path


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------
# The calibrated scenario


def calibrated_yaml(raw: str, srcmap, free, mean: np.ndarray, sd: np.ndarray, provenance: str,
                    new_name: str) -> str:
    """The scenario's text with each freed number replaced by its posterior, and a header.

    Uncertain numbers become `{mean, sd}`; numbers the format holds only as points (temperatures,
    exponents) become the posterior mean, with the sd in the comment. Every changed line keeps a
    `# J:` mark saying where the number came from.
    """
    from sim.scenario.overrides import parse_path

    lines = raw.split("\n")
    for f, m, s in zip(free, mean, sd):
        path = parse_path(f.path)
        key = str(path[-1])
        uncertain = f.kind == "number"
        value = f"{{mean: {m:.4g}, sd: {s:.3g}}}" if uncertain else f"{m:.4g}"
        note = f"# J: calibrated, posterior {m:.4g}±{s:.2g} ({provenance}; prior {f.prior.describe()})"
        line = srcmap.line_of(path)
        if line is None or srcmap.lines.get(tuple(path)) is None:
            raise ValueError(f"{f.path} is not written in the scenario file, so it cannot be replaced there")
        text = lines[line - 1]
        pattern = re.compile(r"(?P<head>(?:^|[\s{,])" + re.escape(key) + r"\s*:\s*)(?P<value>\{[^{}]*\}|[-+0-9.eE]+)")
        match = pattern.search(text)
        if match is None:  # a block mapping: mean and sd on lines of their own
            for sub, number in (("mean", m), ("sd", s)):
                sub_line = srcmap.lines.get(tuple(path) + (sub,))
                if sub_line is None:
                    raise ValueError(f"cannot find the number of {f.path} on line {line}")
                lines[sub_line - 1] = re.sub(r"(:\s*)[-+0-9.eE]+", lambda mm: mm.group(1) + f"{number:.4g}",
                                             _strip_comment(lines[sub_line - 1]), count=1)
            lines[line - 1] = _strip_comment(text) + "   " + note
            continue
        replaced = text[:match.start("value")] + value + text[match.end("value"):]
        lines[line - 1] = _strip_comment(replaced) + "   " + note
    name_line = srcmap.lines.get(("meta", "name"))
    if name_line is not None:
        lines[name_line - 1] = re.sub(r"(name:\s*)\S+", lambda mm: mm.group(1) + new_name, lines[name_line - 1],
                                      count=1)
    header = [f"# CALIBRATED by negsim calibrate ({provenance}).",
              "# Each freed number below carries its posterior and a '# J: calibrated' comment; the rest",
              "# of the file is the original scenario, unchanged.", ""]
    return "\n".join(header + lines)


def _strip_comment(text: str) -> str:
    """The line without a trailing comment (a # outside quotes)."""
    quote = None
    for i, ch in enumerate(text):
        if ch in "\"'" and quote is None:
            quote = ch
        elif ch == quote:
            quote = None
        elif ch == "#" and quote is None and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip()
    return text.rstrip()
