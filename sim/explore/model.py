"""The explorer's model: slider settings in, the numbers every view shows out (no web code here).

Settings name the knobs moved away from the file (by path), the protocol, the opening text, and
how many seeded runs to make. They become `--set`-style overrides (sim.scenario.overrides), are
validated like a scenario file, compiled, and simulated with sim.simulate exactly as `negsim run`
does: run k of seed s draws the same numbers here as there, so with no knob moved the explorer
shows the numbers of `negsim run --runs N --seed S`, and any difference after a move is the
move's effect, not noise (common random numbers).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sim import catalogue
from sim.domain.game import Game, compile_scenario
from sim.explore import DEFAULT_RUNS
from sim.explore.knobs import group_titles, scenario_knobs
from sim.jobs.plan import Prepared, prepare
from sim.jobs.spec import JobSpec
from sim.results.summary import agreement_by_date, wilson_interval
from sim.scenario.load import validate
from sim.scenario.overrides import apply_overrides
from sim.simulate import ChunkSpec, simulate_chunk

#: Endings in the order the views list them, with the words they show.
OUTCOMES = {"agreement": "agreement", "partial": "ceasefire without settlement", "open": "talks still open",
            "suspended": "talks paused", "breakdown": "breakdown"}



@dataclass(frozen=True)
class Settings:
    """What the user chose: knob values that differ from the file, protocol, opening text, runs, seed."""

    values: tuple[tuple[str, float], ...] = ()
    protocol: str = ""  # "" keeps the scenario's protocol
    opening: str = ""  # a proposal id tabled first (protocol.initial_text); "" keeps the scenario's
    runs: int = DEFAULT_RUNS
    seed: int = 0

    def with_value(self, path: str, value: float) -> Settings:
        """These settings with one knob at `value`."""
        values = dict(self.values)
        # A slider's arithmetic leaves 0.21000000000000002; ten digits keep every step and drop the noise.
        values[path] = float(f"{float(value):.10g}")
        return replace(self, values=tuple(sorted(values.items())))

    def without(self, path: str) -> Settings:
        """These settings with one knob back at the file's number."""
        return replace(self, values=tuple((p, v) for p, v in self.values if p != path))


@dataclass
class Outcome:
    """The numbers of one set of runs, ready to draw and to print."""

    settings: Settings
    actor_ids: tuple[str, ...]
    actor_names: tuple[str, ...]
    signatories: tuple[str, ...]
    counts: dict[str, int]
    agreement: tuple[float, float, float]  # share of runs, 95% Wilson interval
    signed: tuple[float, float, float]  # agreement or ceasefire without settlement
    curve: pd.DataFrame  # per round: date, share agreed and signed by then
    by_date: list[tuple[str, float, float]]  # month ends and the horizon: date, agreement, signed
    families: list[tuple[str, int]]  # agreements by nearest named proposal
    regions: list[dict]  # per region: id, name, shares {option: share}
    regions_basis: str  # "agreements", or "last texts" when no run agreed
    transferred_km2: float | None  # median km² changing hands in agreements
    utility: dict[str, float]  # mean utility of the agreed deals, per actor
    reservation: dict[str, float]  # mean reservation value at the end of the runs
    agreed_utilities: np.ndarray  # (agreements, actors), each under its own run's preferences
    frontier: np.ndarray  # (points, actors) Pareto frontier at the point estimates
    frontier_reservation: np.ndarray  # (actors,) reservation values at the point estimates
    nash: dict[str, float] | None
    zopa_size: int
    pareto_size: int
    proposals: list[dict]  # evaluate_proposals records at the point estimates
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds: the deal-space analysis, and in all

    @property
    def runs(self) -> int:
        """How many runs the numbers rest on."""
        return sum(self.counts.values())

    def numbers(self) -> dict[str, str]:
        """Every headline number as the page prints it, keyed for the page (and its tests) to find."""
        rate, lo, hi = self.agreement
        s_rate, s_lo, s_hi = self.signed
        out = {"runs": f"{self.runs:,}",
               "agreement": f"{rate:.1%}", "agreement_ci": f"{lo:.1%}–{hi:.1%}",
               "signed": f"{s_rate:.1%}", "signed_ci": f"{s_lo:.1%}–{s_hi:.1%}"}
        for key in OUTCOMES:
            out[f"outcome_{key}"] = f"{self.counts.get(key, 0) / max(self.runs, 1):.1%}"
        if self.by_date:
            out["horizon"] = self.by_date[-1][0]
        out["zopa"] = f"{self.zopa_size:,}"
        out["median_km2"] = "-" if self.transferred_km2 is None else f"{self.transferred_km2:,.0f}"
        for a, aid in enumerate(self.actor_ids):
            out[f"utility_{aid}"] = "-" if aid not in self.utility else f"{self.utility[aid]:.3f}"
            out[f"reservation_{aid}"] = f"{self.reservation[aid]:.3f}"
        return out


class Explorer:
    """A scenario opened for exploring: its knobs, and outcomes computed (and remembered) per setting."""

    def __init__(self, prepared: Prepared, cache_size: int = 48):
        self.prepared = prepared
        self.pool: Executor | None = None  # a process pool to share the runs out on (see compute_outcome)
        self.workers = 1
        self.scenario = prepared.loaded.scenario
        self.knobs, self.omitted = scenario_knobs(self.scenario, prepared.data)
        self.by_path = {k.path: k for k in self.knobs}
        self.titles = group_titles(self.scenario)
        self.base_game = compile_scenario(self.scenario)
        self._cache: OrderedDict[Settings, Outcome] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def open(cls, scenario: str | Path) -> Explorer:
        """Read and validate a scenario file (every quote and source checked once, as `negsim run` does)."""
        return cls(prepare(JobSpec(kind="run", scenario=str(scenario))))

    @property
    def name(self) -> str:
        """The scenario's title."""
        return self.scenario.meta.title

    def proposals(self) -> list[tuple[str, str]]:
        """(id, name) of every named proposal."""
        return [(pid, p.name) for pid, p in self.scenario.proposals.items()]

    def protocols(self) -> list[str]:
        """Every protocol the catalogue knows."""
        return list(catalogue.protocol_names())

    def overrides(self, settings: Settings) -> dict[str, Any]:
        """The dotted-path overrides these settings make."""
        out: dict[str, Any] = {}
        for path, value in settings.values:
            out.update(self.by_path[path].overrides(value))
        if settings.protocol:
            out["protocol.kind"] = settings.protocol
        if settings.opening:
            out["protocol.initial_text"] = settings.opening
        return out

    def game(self, settings: Settings) -> Game:
        """The scenario with these settings, validated and compiled; ScenarioError if a value is refused."""
        overrides = self.overrides(settings)
        if not overrides:
            return self.base_game
        data = apply_overrides(self.prepared.data, overrides, self.prepared.srcmap)
        # Quotes and sources are checked once when the file is opened; no knob touches them.
        return compile_scenario(validate(data, self.prepared.srcmap, base_dir=None))

    def compute(self, settings: Settings) -> Outcome:
        """Run the settings' seeded runs and summarise them (remembered: the same settings cost nothing twice)."""
        with self._lock:
            if settings in self._cache:
                self._cache.move_to_end(settings)
                return self._cache[settings]
        names = {iid: issue.name for iid, issue in self.scenario.issues.items()}
        outcome = compute_outcome(self.game(settings), settings, names, self.pool, self.workers)
        with self._lock:
            self._cache[settings] = outcome
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return outcome


#: Fewer runs than this per worker are quicker in this process than shipped to a pool.
MIN_SHARE = 100


def compute_outcome(game: Game, settings: Settings, issue_names: dict[str, str] | None = None,
                    pool: Executor | None = None, workers: int = 1) -> Outcome:
    """Simulate `settings.runs` runs of `game` under `settings.seed` and summarise them.

    With a `pool`, the runs are shared out among `workers` processes while this one analyses the
    deal space; each run seeds itself, so the numbers are the same either way.
    """
    from sim.analysis import analyze
    from sim.domain.evaluate import evaluate_proposals

    t0 = time.perf_counter()
    n = settings.runs
    parts = min(workers, n // MIN_SHARE) if pool is not None else 1
    bounds = np.linspace(0, n, max(parts, 1) + 1).astype(int)
    chunks = [ChunkSpec(settings.seed, 0, (int(a), int(b)), False) for a, b in itertools.pairwise(bounds)]
    futures = [pool.submit(simulate_chunk, game, spec) for spec in chunks] if parts > 1 else []
    tables = [] if futures else [simulate_chunk(game, chunks[0])["runs"]]
    t_analysis = time.perf_counter()
    analysis = analyze(game)
    timings = {"analysis": time.perf_counter() - t_analysis}
    tables += [f.result()["runs"] for f in futures]
    runs = pa.concat_tables(tables).to_pandas()
    n = len(runs)
    counts = {k: int((runs["outcome"] == k).sum()) for k in OUTCOMES}
    agreed = runs[runs["outcome"] == "agreement"]
    signed = runs[runs["outcome"].isin(["agreement", "partial"])]
    curve, by_date = _curves(game, agreed["round"].to_numpy(), signed["round"].to_numpy(), n)
    names = dict(zip(game.proposal_ids, game.proposal_names))
    families = agreed["nearest_proposal"].map(lambda p: names.get(p, "(no named proposal near)")).value_counts()
    regions = _regions(game, agreed if len(agreed) else runs, issue_names or {})
    km = agreed["transferred_km2"].dropna() if "transferred_km2" in agreed else pd.Series([], dtype=float)
    actors = game.actor_ids
    nash = analysis.get("nash")
    outcome = Outcome(
        settings=settings, actor_ids=actors, actor_names=game.actor_names,
        signatories=tuple(actors[s] for s in game.signatories), counts=counts,
        agreement=_share(counts["agreement"], n), signed=_share(len(signed), n), curve=curve, by_date=by_date,
        families=[(str(k), int(v)) for k, v in families.items()], regions=regions,
        regions_basis="agreements" if len(agreed) else "last texts",
        transferred_km2=float(km.median()) if len(km) else None,
        utility={a: float(agreed[f"utility_{a}"].mean()) for a in actors} if len(agreed) else {},
        reservation={a: float(runs[f"reservation_{a}"].mean()) for a in actors},
        agreed_utilities=agreed[[f"utility_{a}" for a in actors]].to_numpy(float),
        frontier=np.asarray(analysis["frontier_utilities"], dtype=float),
        frontier_reservation=np.asarray(analysis["reservation"], dtype=float),
        nash=None if nash is None else {a: float(u) for a, u in zip(actors, nash["utilities"])},
        zopa_size=int(analysis["zopa_size"]), pareto_size=int(analysis["pareto_size"]),
        proposals=evaluate_proposals(game))
    outcome.seconds = time.perf_counter() - t0
    outcome.timings = timings | {"total": outcome.seconds}
    return outcome


def _share(k: int, n: int) -> tuple[float, float, float]:
    lo, hi = wilson_interval(k, n)
    return (k / n if n else 0.0, lo, hi)


def _curves(game: Game, agreed_rounds: np.ndarray, signed_rounds: np.ndarray,
            n: int) -> tuple[pd.DataFrame, list[tuple[str, float, float]]]:
    """Share agreed (and signed) by each round's date, and by each month end as `negsim run` prints it."""
    rounds = np.arange(game.protocol["max_rounds"])
    agreed = np.searchsorted(np.sort(agreed_rounds), rounds, side="right") / max(n, 1)
    signed = np.searchsorted(np.sort(signed_rounds), rounds, side="right") / max(n, 1)
    curve = pd.DataFrame({"round": rounds, "date": pd.to_datetime([game.date_of_round(int(r)) for r in rounds]),
                          "agreement": agreed, "signed": signed})
    if not game.as_of:
        return curve, []
    manifest = {"as_of": game.as_of, "round_days": game.round_days, "max_rounds": game.protocol["max_rounds"],
                "horizon": game.horizon, "scenario": {"as_of": game.as_of}}
    a_rows = agreement_by_date(agreed_rounds, n, manifest)
    s_rows = agreement_by_date(signed_rounds, n, manifest)
    return curve, [(d, a, s) for (d, a, _, _), (_, s, _, _) in zip(a_rows, s_rows)]


def _regions(game: Game, basis: pd.DataFrame, names: dict[str, str]) -> list[dict]:
    """Each region's share of the basis runs by what it becomes in the deal."""
    out = []
    for rid in game.territory.region_ids:
        i = game.space.issue_index(rid)
        counts = basis[f"deal_{rid}"].value_counts()
        total = max(int(counts.sum()), 1)
        shares = {o: int(counts.get(o, 0)) / total for o in game.space.option_ids[i]}
        out.append({"id": rid, "name": names.get(rid, rid), "shares": shares})
    return out
