"""Regenerate the example figures in docs/img/gallery/ from a quick simulation of the tiny test scenario.

    .venv/bin/python scripts/make_gallery.py            # about 20 s; writes docs/img/gallery/*.png

The scenario is tests/data/tiny.yaml (three actors, two regions, one policy issue) with a war
added between rounds (the north front drifts towards beta, war costs mount), so that the
trajectory figure has a front line that moves. Everything goes through the command line, as a
user would run it:
  1. `negsim run` (600 runs);
  2. `negsim sweep` over Beta's reservation value (one parameter), and over Beta's reservation
     value x Alpha's weight of North (two parameters);
  3. `negsim sensitivity` over three uncertain numbers (Sobol indices; a small design, so some
     estimates come out noisy, which the figure notes);
  4. the Pareto frontier and bargaining solutions from sim.analysis (the library: the figure
     needs the frontier's points, which `negsim analyze --json` does not print);
then every figure is drawn at 700 px wide and reduced to a 128-colour palette to keep each file
small. All seeds are fixed, so rerunning gives the same images.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim import plots  # noqa: E402
from sim.domain.game import compile_scenario  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402

OUT = ROOT / "docs" / "img" / "gallery"
WIDTH_PX = 700
SEED = 7
RUNS = 600

DYNAMICS = """
dynamics:
  horizon_rounds: 6
  front:
    north: {gainer: beta, loser: alpha, drift_km2_per_month: 12, sd_km2_per_month: 8}
    south: {gainer: beta, loser: alpha, drift_km2_per_month: -3, sd_km2_per_month: 3}
  costs:
    alpha: {per_month: 0.006}
    beta: {per_month: 0.004}
"""

BETA_RES = "actors.beta.reservation.value"
ALPHA_NORTH = "actors.alpha.weights.north"
SOBOL = {BETA_RES: (0.25, 0.55), "actors.alpha.reservation.value": (0.15, 0.45), ALPHA_NORTH: (1.0, 3.0)}


def scenario_copy(folder: Path) -> Path:
    """tiny.yaml plus war dynamics, beside a copy of its source file (quotes are checked against it)."""
    src = ROOT / "tests" / "data"
    (folder / "tiny_source.txt").write_bytes((src / "tiny_source.txt").read_bytes())
    path = folder / "tiny_war.yaml"
    # A round is a month: the clock is the protocol's.
    text = (src / "tiny.yaml").read_text(encoding="utf-8").replace("  max_rounds: 20\n",
                                                                    "  max_rounds: 20\n  round_days: 30\n")
    path.write_text(text + DYNAMICS, encoding="utf-8")
    return path


def cli(*argv: str) -> None:
    """Run a `negsim` command in this process, quietly; stop the script if it fails."""
    from sim.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        code = main([*argv])
    if code:
        raise SystemExit(f"negsim {' '.join(argv)} failed ({code}):\n{err.getvalue()}")


def sweep(scenario: Path, out: Path, grids: list[str], runs: int) -> Path:
    cli("sweep", str(scenario), *[f"--grid={g}" for g in grids], "--runs", str(runs), "--seed", str(SEED),
        "--out", str(out), "--workers", "1")
    return out


def sensitivity(scenario: Path, out: Path) -> dict:
    cli("sensitivity", str(scenario), *[f"--sample={p}={lo}:{hi}" for p, (lo, hi) in SOBOL.items()],
        "--points", "64", "--runs", "40", "--seed", str(SEED), "--workers", "1", "--out", str(out))
    return json.loads(out.read_text(encoding="utf-8"))


def deal_space(scenario: Path) -> dict:
    from sim.analysis import analysis_json, analyze

    game = compile_scenario(load_scenario(scenario).scenario)
    result = analyze(game)
    data = analysis_json(result)
    data.update(actors=list(result["actor_ids"]), frontier_utilities=np.asarray(result["frontier_utilities"]).tolist())
    return data


def save_small(fig, path: Path) -> int:
    """PNG at WIDTH_PX wide, quantised to 128 colours (plots are flat colours; this keeps files small)."""
    from PIL import Image

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=WIDTH_PX / plots.FIGSIZE[0])
    finally:
        fig.clear()
    image = Image.open(buf).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT,
                                                    dither=Image.Dither.NONE)
    image.save(path, format="PNG", optimize=True)
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT,
                        help=f"folder for the images (default {OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="negsim-gallery-") as tmp:
        tmp = Path(tmp)
        scenario = scenario_copy(tmp)
        base = tmp / "run"
        cli("run", str(scenario), "--runs", str(RUNS), "--seed", str(SEED), "--out", str(base), "--workers", "1")
        manifest, runs, rounds = plots.load_results(base)
        # The trajectory of a run that takes a while: the first agreement after round 8.
        slow = runs[(runs["outcome"] == "agreement") & (runs["round"] >= 8)]
        run_id = int(slow["run"].iloc[0]) if len(slow) else None

        sweep1 = sweep(scenario, tmp / "sweep1", [f"{BETA_RES}=0.2:0.6:9"], 80)
        sweep2 = sweep(scenario, tmp / "sweep2", [f"{BETA_RES}=0.25:0.55:4", f"{ALPHA_NORTH}=1:4:4"], 50)
        m1, r1, _ = plots.load_results(sweep1)
        m2, r2, _ = plots.load_results(sweep2)
        sens = sensitivity(scenario, tmp / "sensitivity.json")
        analysis = deal_space(scenario)

        figures = {
            "outcomes": lambda: plots.outcome_figure(manifest, runs),
            "utilities": lambda: plots.utility_figure(manifest, runs),
            "regions": lambda: plots.region_figure(manifest, runs),
            "time_to_agreement": lambda: plots.survival_figure(manifest, runs),
            "sweep": lambda: plots.sweep_figure(m1, r1, plots.load_points(sweep1)),
            "sweep-2d": lambda: plots.sweep_figure(m2, r2, plots.load_points(sweep2)),
            "sensitivity": lambda: plots.sensitivity_figure(manifest, sens),
            "frontier": lambda: plots.frontier_figure(manifest, analysis["frontier_utilities"],
                                                      analysis["reservations"], analysis, analysis["actors"]),
            "trajectory": lambda: plots.trajectory_figure(manifest, runs, rounds, run=run_id),
        }
        for stem, draw in figures.items():
            size = save_small(draw(), args.out / f"{stem}.png")
            print(f"{args.out / f'{stem}.png'}  {size / 1000:.0f} KB")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
