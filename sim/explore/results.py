"""A results folder for the explorer: its runs filtered by outcome, and one run's story round by round.

The runs table is read whole (one row per run); the rounds table, which can be large, is read
one run at a time with a Parquet filter, so a folder of thousands of runs opens at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.errors import UserError
from sim.plots.load import load_results

MAX_LISTED = 1000  # runs offered in the picker at once; the rest are reached by their id


@dataclass(frozen=True, eq=False)
class RoundView:
    """What was on the table in one round of one run, and where everyone stood."""

    round: int
    date: str
    text: dict[str, str]  # issue id -> option on the table
    changed: tuple[str, ...]  # issues whose option differs from the round before
    actors: pd.DataFrame  # one row per actor: utility, aspiration, reservation, accepted, cost
    front: dict[str, float]  # `held_<region>_<holder>` -> share held on the line


class ResultsData:
    """A results folder written by `negsim run` or `negsim sweep`, read for browsing."""

    def __init__(self, folder: Path, manifest: dict, runs: pd.DataFrame):
        self.folder = folder
        self.manifest = manifest
        self.runs = runs
        self.rounds_path = folder / "rounds.parquet"
        self.issues = [(i["id"], list(i.get("options", []))) for i in manifest.get("issues", [])]
        self.actor_names = {a["id"]: a.get("name", a["id"]) for a in manifest.get("actors", [])}

    @classmethod
    def open(cls, folder: str | Path) -> ResultsData:
        """Read a folder's manifest and runs; UserError naming the file if either is missing or damaged."""
        root = Path(folder)
        # Rounds are read one run at a time (run_rounds), never the whole table.
        manifest, runs, _ = load_results(root, with_rounds=False)
        if not isinstance(manifest, dict) or not {"run", "outcome", "round"} <= set(runs.columns):
            raise UserError(f"{root}: not a results folder of `negsim run` (manifest or runs table malformed)")
        if "point" not in runs.columns:
            runs["point"] = 0
        return cls(root, manifest, runs.sort_values(["point", "run"], kind="stable").reset_index(drop=True))

    @property
    def title(self) -> str:
        """The scenario's title and the folder."""
        sc = self.manifest.get("scenario", {})
        return f"{sc.get('title') or sc.get('name') or 'results'} — {self.folder}"

    @property
    def has_rounds(self) -> bool:
        """Whether the folder recorded every round (`negsim run` does; a sweep only with --rounds)."""
        return self.rounds_path.is_file()

    def outcome_counts(self) -> dict[str, int]:
        """Runs per outcome, most frequent first."""
        return {str(k): int(v) for k, v in self.runs["outcome"].value_counts().items()}

    def points(self) -> list[int]:
        """The parameter points of a sweep (just [0] for a run)."""
        return sorted(int(p) for p in self.runs["point"].unique())

    def date_of(self, round_: int) -> str:
        """The date of a round, from the folder's calendar ("round N" without one)."""
        as_of = self.manifest.get("as_of") or self.manifest.get("scenario", {}).get("as_of")
        if not as_of:
            return f"round {round_}"
        days = float(self.manifest.get("round_days") or 14.0)
        return (dt.date.fromisoformat(as_of) + dt.timedelta(days=round(round_ * days))).isoformat()

    def filter(self, outcomes: list[str] | None = None, point: int | None = None) -> pd.DataFrame:
        """The runs with one of `outcomes` (all if None) at `point` (all if None)."""
        sel = pd.Series(True, index=self.runs.index)
        if outcomes is not None:
            sel &= self.runs["outcome"].isin(list(outcomes))
        if point is not None:
            sel &= self.runs["point"] == int(point)
        return self.runs[sel]

    def label(self, row: pd.Series) -> str:
        """One line naming a run: id, how and when it ended, the nearest named proposal."""
        names = {p["id"]: p["name"] for p in self.manifest.get("proposals", [])}
        near = names.get(row.get("nearest_proposal") or "", "")
        point = f"point {int(row['point'])}, " if len(self.points()) > 1 else ""
        return (f"{point}run {int(row['run'])}: {row['outcome']} by {self.date_of(int(row['round']))}"
                + (f", near “{near}”" if near else ""))

    def story(self, run: int, point: int = 0) -> list[RoundView]:
        """Run `run`'s rounds in order; empty if the folder has no rounds table."""
        if not self.has_rounds:
            return []
        try:
            rows = pd.read_parquet(self.rounds_path, filters=[("run", "==", int(run)), ("point", "==", int(point))])
        except Exception as exc:  # noqa: BLE001 - a damaged table: say so, as for the runs table
            raise UserError(f"{self.rounds_path}: not readable ({type(exc).__name__}: {exc})") from None
        out: list[RoundView] = []
        previous: dict[str, str] = {}
        for k, table in rows.sort_values(["round", "actor"], kind="stable").groupby("round", sort=True):
            codes = _codes(table["text"].iloc[0])
            text = {iid: (opts[c] if 0 <= c < len(opts) else str(c)) for (iid, opts), c in zip(self.issues, codes)}
            changed = tuple(i for i in text if previous and previous.get(i) != text[i])
            order = {a: n for n, a in enumerate(self.actor_names)}
            actors = (table.assign(order=table["actor"].map(order)).sort_values("order")
                      [["actor", "utility", "aspiration", "reservation", "accepted", "cost"]].reset_index(drop=True))
            front = {c: float(table[c].iloc[0]) for c in table.columns if c.startswith("held_")}
            out.append(RoundView(int(k), self.date_of(int(k)), text, changed, actors, front))
            previous = text
        return out


def _codes(text) -> list[int]:
    """The option index per issue of a rounds table's `text`: a list of ints, or dotted ("2.0.1") as some folders hold it."""
    if isinstance(text, str):
        return [int(part) for part in text.split(".") if part.strip().lstrip("-").isdigit()]
    return [int(c) for c in text]
