"""Regenerate the example figures in docs/img/gallery/ from a quick simulation of the tiny test scenario.

    .venv/bin/python scripts/make_gallery.py            # about 20 s; writes docs/img/gallery/*.png

The scenario is tests/data/tiny.yaml (three actors, two regions, one policy issue) with a war
added between rounds (the north front drifts towards beta, war costs mount), so that the
trajectory figure has a front line that moves. Everything goes through the command line, as a
user would run it:
  1. `negsim run` (600 runs), with the deal-space analysis (`analysis.json`, as `negsim run`
     writes it), `negsim sensitivity` over three uncertain numbers (a small design, so some
     estimates come out noisy and unconverged, which the figure notes; its sample points give
     the scenario-discovery figures) and `negsim leverage` of Beta on the guarantees
     (`leverage.json`) written into its folder;
  2. `negsim sweep` over Beta's reservation value (one parameter), and over Beta's reservation
     value x Alpha's weight of North (two parameters);
then every figure of the registry (sim.plots.registry.FIGURES) is drawn from the first folder
that supports it, as `negsim plot` would draw it; the two-parameter sweep adds `sweep-2d`. Each
image is 1000 px wide (the README shows it 800 px wide), reduced to a 128-colour palette to keep
each file small. All seeds are fixed, so rerunning gives the same images.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim import plots  # noqa: E402
from sim.jobs import write_analysis  # noqa: E402
from sim.plots.load import FolderData, read_folder  # noqa: E402

OUT = ROOT / "docs" / "img" / "gallery"
WIDTH_PX = 1000
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


def sensitivity(scenario: Path, out: Path) -> None:
    cli("sensitivity", str(scenario), *[f"--sample={p}={lo}:{hi}" for p, (lo, hi) in SOBOL.items()],
        "--points", "64", "--runs", "40", "--seed", str(SEED), "--workers", "1", "--out", str(out))


def leverage(scenario: Path, out: Path) -> None:
    cli("leverage", str(scenario), "--actor", "beta", "--issue", "guarantees", "--runs", "300", "--seed", str(SEED),
        "--workers", "1", "--out", str(out))


def gallery(examples: list[tuple[str, FolderData]]) -> list[tuple[str, Callable[[], Any]]]:
    """(file stem, drawing) of every registered figure: each from the first example folder that supports it.

    A later example adds, under its suffix, only the figures the first one cannot draw (a sweep's
    figure from a second sweep, say), so the gallery is the registry, shown once, plus variants.
    """
    from sim.plots.driver import plans_for

    base = {name for name, _ in plans_for(examples[0][1])}
    out: list[tuple[str, Callable[[], Any]]] = []
    for k, (suffix, data) in enumerate(examples):
        out += [(name + suffix, draw) for name, draw in plans_for(data)
                if (k == 0 or name not in base) and name + suffix not in {stem for stem, _ in out}]
    order = list(plots.FIGURES)
    return sorted(out, key=lambda item: (order.index(item[0].split("-")[0]), item[0]))


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
        write_analysis(base, json.loads((base / "manifest.json").read_text(encoding="utf-8")))
        sensitivity(scenario, base / "sensitivity.json")
        leverage(scenario, base)
        sweep1 = sweep(scenario, tmp / "sweep1", [f"{BETA_RES}=0.2:0.6:9"], 80)
        sweep2 = sweep(scenario, tmp / "sweep2", [f"{BETA_RES}=0.25:0.55:4", f"{ALPHA_NORTH}=1:4:4"], 50)
        examples = [("", read_folder(base)), ("", read_folder(sweep1)), ("-2d", read_folder(sweep2))]
        missing = [name for name in plots.FIGURES if name not in {stem for stem, _ in gallery(examples)}]
        if missing:
            raise SystemExit(f"no example folder supports {', '.join(missing)}: add one to the gallery")
        for stem, draw in gallery(examples):
            size = save_small(draw(), args.out / f"{stem}.png")
            print(f"{args.out / f'{stem}.png'}  {size / 1000:.0f} KB")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
