"""Drawing a results folder's figures: which ones it supports, and writing them as image files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from sim.errors import UserError
from sim.plots.load import FolderData, read_folder
from sim.plots.registry import FIGURES, FORMATS, NEEDS
from sim.plots.style import DPI


def plans_for(data: FolderData) -> list[tuple[str, Callable[[], Any]]]:
    """(file stem, zero-argument function drawing the figure) for every registered figure the data supports."""
    if data.run is not None:
        if not NEEDS["rounds table"].present(data):
            raise UserError(f"--run: {data.source} has no rounds to show (rounds.parquet is missing or empty)")
        from sim.plots.trajectory import pick_run

        pick_run(data.runs, data.rounds, data.run)  # an unknown --run fails before any file is written
    return [(entry.name, lambda entry=entry: entry.draw(data)) for entry in FIGURES.values() if entry.drawable(data)]


def figure_plans(results_dir: str | Path, run: int | None = None,
                 sensitivity: str | Path | None = None) -> list[tuple[str, Callable[[], Any]]]:
    """(file stem, zero-argument function drawing the figure) for every figure the folder supports.

    Reading happens here, drawing only when a function is called, so a caller can draw one
    figure at a time (and free it) however many there are. sensitivity: a `sensitivity.json`
    elsewhere than in the folder. results_dir may also be a sensitivity JSON file by itself.
    """
    return plans_for(read_folder(results_dir, sensitivity, run))


def save_figure(fig: Figure, path: Path, fmt: str, dpi: int = DPI) -> None:
    """Write a figure and free it; fixed metadata keeps svg/pdf output byte-stable."""
    try:
        meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {})
        fig.savefig(path, format=fmt, dpi=dpi, metadata=meta)
    finally:
        fig.clear()


def plot_results(results_dir: str | Path, fmt: str = "png", out: str | Path | None = None,
                 run: int | None = None, *, sensitivity: str | Path | None = None, dpi: int = DPI) -> list[Path]:
    """Draw every figure the results support into OUT (default RESULTS/figures); return the paths.

    run: the run id whose trajectory to draw (default: a typical run, see
    sim.plots.trajectory.typical_run). sensitivity: a sensitivity JSON file kept outside the
    folder; one of another scenario is refused. results_dir may be such a JSON file alone (its
    figure goes beside it, in figures/).
    dpi: resolution of raster output (png).
    """
    if fmt not in FORMATS:
        raise UserError(f"--format: unknown figure format {fmt!r} (known: {', '.join(FORMATS)})")
    plans = figure_plans(results_dir, run, sensitivity)
    root = Path(results_dir)
    target = Path(out) if out is not None else (root.parent if root.is_file() else root) / "figures"
    if target.exists() and not target.is_dir():
        raise UserError(f"--out: {target} exists and is not a folder")
    target.mkdir(parents=True, exist_ok=True)

    written = []
    for stem, draw in plans:
        path = target / f"{stem}.{fmt}"
        save_figure(draw(), path, fmt, dpi)
        written.append(path)
    own_files(root, written)
    return written


def own_files(root: Path, paths: list[Path]) -> None:
    """Record files written inside a results folder as negsim's (so --force may replace them)."""
    from sim.results import ResultsFolder

    if root.is_dir():
        # Absolute, so that the ledger records them relative to the folder whatever the working directory.
        inside = [p.resolve() for p in paths if p.resolve().is_relative_to(root.resolve())]
        if inside:
            ResultsFolder(root).own(*inside)
