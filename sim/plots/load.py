"""Reading a results folder for the figures and the report: the one reader of its files.

`read_folder` gathers everything a folder (or a sensitivity JSON file on its own) holds into a
`FolderData`; the `load_*` functions read one piece each, and the manifest helpers say which
actors and regions it names. Every problem is a one-line `UserError`. pandas is imported when a
table is read, so the figure registry (which imports this module) stays cheap to import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import UserError

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, eq=False)
class FolderData:
    """Everything a results folder holds for its figures; absent pieces are None (runs: an empty table)."""

    manifest: dict
    runs: pd.DataFrame
    rounds: pd.DataFrame | None = None
    points: pd.DataFrame | None = None
    sensitivity: dict | None = None
    analysis: dict | None = None
    run: int | None = None  # the run whose trajectory to draw (None: a typical one)
    source: Path | None = None  # the folder (or sensitivity or leverage file) it was read from
    leverage: dict | None = None  # an actor's leverage on an issue (`negsim leverage --out`)
    sensitivity_path: Path | None = None  # the file the Sobol indices (and their design's points) came from


def discovery_source(data: FolderData) -> Path | None:
    """What scenario discovery reads for this data: the sweep folder, else the sensitivity design's file; or None.

    A sweep needs finished runs with their point; a sensitivity file needs the design's sample
    points (`samples`, which files written before scenario discovery lack).
    """
    if (data.points is not None and len(data.points.columns) > 1 and len(data.runs)
            and {"point", "outcome"} <= set(data.runs.columns) and data.source is not None):
        return data.source
    samples = (data.sensitivity or {}).get("samples")
    if isinstance(samples, Mapping) and samples.get("inputs") and data.sensitivity_path is not None:
        return data.sensitivity_path
    return None


def read_folder(results_dir: str | Path, sensitivity: str | Path | None = None,
                run: int | None = None) -> FolderData:
    """Read a results folder, or a sensitivity JSON file by itself, into one `FolderData`.

    sensitivity: a `sensitivity.json` kept elsewhere than in the folder; Sobol indices of another
    scenario than the folder's are refused (`check_same_scenario`), and so is a `leverage.json`
    of another scenario. A folder holding a sensitivity, analysis or leverage result but no runs
    of its own is read with an empty runs table (a leverage result alone names its scenario,
    actor and issue in place of a manifest).
    """
    import pandas as pd

    root = Path(results_dir)
    if root.is_file() and root.suffix == ".json":
        if is_leverage(content := _read_json(root)):
            if run is not None:
                raise UserError(f"--run: {root} is a leverage file; it has no runs")
            return FolderData(leverage_manifest(content), pd.DataFrame(), source=root, leverage=content)
        alone = load_sensitivity(root)
        if run is not None:
            raise UserError(f"--run: {root} is a sensitivity file; it has no runs")
        return FolderData({"scenario": {"name": alone.get("scenario") or ""}}, pd.DataFrame(), sensitivity=alone,
                          source=root, sensitivity_path=root)
    if sensitivity is not None:
        given = Path(sensitivity)
        if not given.exists():
            raise UserError(f"--sensitivity: {given} does not exist")
        sens = load_sensitivity(given)
    else:
        given = root / "sensitivity.json"
        sens = load_sensitivity(root) if root.is_dir() else None
    analysis = load_analysis(root) if root.is_dir() else None
    lever = load_leverage(root) if root.is_dir() else None
    no_runs = not (root / "runs.parquet").is_file() and (sens or analysis or lever)
    if no_runs and (root / "manifest.json").is_file():
        manifest, runs, rounds = _read_json(root / "manifest.json"), pd.DataFrame(), None
    elif no_runs and lever is not None and not (sens or analysis):
        manifest, runs, rounds = leverage_manifest(lever), pd.DataFrame(), None
    else:
        manifest, runs, rounds = load_results(root)
    if sens is not None:
        check_same_scenario(manifest, sens, given)
    if lever is not None:
        check_same_leverage_scenario(manifest, lever, root / "leverage.json")
    return FolderData(manifest, runs, rounds, load_points(root), sens, analysis, run, root, lever,
                      given if sens is not None else None)


def check_same_scenario(manifest: Mapping[str, Any], sensitivity: Mapping[str, Any], path: Path) -> None:
    """Refuse Sobol indices computed on another scenario than the results folder's (a UserError naming both)."""
    ours, theirs = _scenario_names(manifest, sensitivity)
    if ours and theirs and ours != theirs:
        raise UserError(f"--sensitivity: {path} holds Sobol indices of scenario {theirs!r}, but the results are "
                        f"of scenario {ours!r}; give the sensitivity file of {ours!r} (or none)")


def check_same_leverage_scenario(manifest: Mapping[str, Any], leverage: Mapping[str, Any], path: Path) -> None:
    """Refuse a leverage result of another scenario than the results folder's (a UserError naming both)."""
    ours, theirs = _scenario_names(manifest, leverage)
    if ours and theirs and ours != theirs:
        raise UserError(f"{path}: holds the leverage of an actor in scenario {theirs!r}, but the results are of "
                        f"scenario {ours!r}; write `negsim leverage --out` for {theirs!r} into another folder")


def _scenario_names(manifest: Mapping[str, Any], other: Mapping[str, Any]) -> tuple[str, str]:
    return str((manifest.get("scenario") or {}).get("name") or ""), str(other.get("scenario") or "")


def sensitivity_origin(manifest: Mapping[str, Any], sensitivity: Mapping[str, Any]) -> str:
    """A warning to show with Sobol indices not known to be of the results' scenario, else ""."""
    ours = str((manifest.get("scenario") or {}).get("name") or "")
    theirs = str(sensitivity.get("scenario") or "")
    if theirs and ours and theirs != ours:
        return f"these Sobol indices are of scenario {theirs!r}, not of {ours!r}"
    if theirs:
        return ""
    return "the sensitivity file does not name its scenario" + (f", so it may not be of {ours!r}" if ours else "")


def load_results(results_dir: str | Path, with_rounds: bool = True) -> tuple[dict, pd.DataFrame, pd.DataFrame | None]:
    """Read manifest, runs and (if present and wanted) rounds, without their tabled texts, from a results folder."""
    root = Path(results_dir)
    if not root.is_dir():
        raise UserError(f"results folder {root} does not exist (expected the folder written by `negsim run`)")
    manifest_path = root / "manifest.json"
    runs_path = root / "runs.parquet"
    if not manifest_path.is_file():
        raise UserError(f"{manifest_path}: missing; is {root} a results folder written by `negsim run`?")
    if not runs_path.is_file():
        raise UserError(f"{runs_path}: missing; the run may have failed before writing any results")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{manifest_path}: not readable JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise UserError(f"{manifest_path}: expected a JSON object at the top level")
    runs = _read_parquet(runs_path)
    rounds_path = root / "rounds.parquet"
    # Without the tabled texts (a list of option codes per row): no figure or report section reads
    # them, and turning them into pandas objects took more time than reading all the rest.
    rounds = _read_parquet(rounds_path, leave_out=("text",)) if with_rounds and rounds_path.is_file() else None
    return manifest, runs, rounds


def load_points(results_dir: str | Path) -> pd.DataFrame | None:
    """The sweep's parameter points (`points.parquet`: `point` + one column per swept path), if any."""
    path = Path(results_dir) / "points.parquet"
    if not path.is_file():
        return None
    points = _read_parquet(path)
    if "point" not in points.columns:
        raise UserError(f"{path}: no `point` column (expected one row per parameter point)")
    return points


def load_sensitivity(path: str | Path) -> dict | None:
    """Sobol indices from `sensitivity.json` (a file, or a folder holding one); None if absent."""
    path = Path(path)
    if path.is_dir():
        path = path / "sensitivity.json"
    if not path.is_file():
        return None
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("outputs"), dict):
        raise UserError(f"{path}: expected a JSON object with `outputs` (Sobol indices per output)")
    return data


def is_leverage(data: Any) -> bool:
    """Whether parsed JSON is a leverage result of `negsim leverage` (an actor, an issue and its steps)."""
    return isinstance(data, dict) and isinstance(data.get("steps"), list) and "actor" in data and "issue" in data


def load_leverage(path: str | Path) -> dict | None:
    """An actor's leverage on an issue (`leverage.json`: a file, or a folder holding one); None if absent."""
    path = Path(path)
    if path.is_dir():
        path = path / "leverage.json"
    if not path.is_file():
        return None
    data = _read_json(path)
    if not is_leverage(data):
        raise UserError(f"{path}: expected the JSON of `negsim leverage --out` (with `actor`, `issue` and `steps`)")
    return data


def leverage_manifest(leverage: Mapping[str, Any]) -> dict:
    """The little a leverage result says of its scenario, in place of a manifest: its name, the actor and the issue."""
    return {"scenario": {"name": str(leverage.get("scenario") or "")},
            "actors": [{"id": leverage["actor"], "name": leverage.get("actor_name") or leverage["actor"]}],
            "issues": [{"id": leverage["issue"], "name": leverage.get("issue_name") or leverage["issue"]}]}


def load_analysis(results_dir: str | Path) -> dict | None:
    """The deal-space analysis (`analysis.json`) of a results folder, if it holds one."""
    path = Path(results_dir) / "analysis.json"
    if not path.is_file():
        return None
    data = _read_json(path)
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    return data


def _read_parquet(path: Path, leave_out: tuple[str, ...] = ()) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)  # one open: the footer gives the columns, then the data is read
        return source.read(columns=[c for c in source.schema_arrow.names if c not in leave_out]).to_pandas()
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise UserError(f"{path}: not a readable parquet file ({type(exc).__name__}: {exc})") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not readable JSON ({exc})") from None


# ---------------------------------------------------------------------------------------------
# What the manifest names


def actor_ids(manifest: Mapping[str, Any], runs: pd.DataFrame | None = None) -> list[str]:
    """The actors in manifest order; without a list there, those of the runs' `utility_` columns."""
    listed = [a["id"] for a in manifest.get("actors", []) if "id" in a]
    if listed or runs is None:
        return listed
    # A manifest without actors (older or hand-made) still has them in the column names.
    return [c.removeprefix("utility_") for c in runs.columns if c.startswith("utility_")]


def actor_names(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Actor id -> display name, as the manifest lists them."""
    return {a["id"]: a.get("name") or a["id"] for a in manifest.get("actors", []) if "id" in a}


def territories(manifest: Mapping[str, Any]) -> list[dict]:
    """The manifest's territorial issues (regions), in its order."""
    return [i for i in manifest.get("issues", []) if i.get("kind") == "territory" and "id" in i]
