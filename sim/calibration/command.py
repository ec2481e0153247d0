"""`negsim calibrate` as a library function with typed arguments (the backtest: sim.calibration.backtest).

A calibration reads a scenario and an observations file, sets the chosen numbers free, infers
their posterior from the recorded decisions (sim.calibration.fit), reweighs it by the outcomes
through simulation, and writes a folder (manifest, posterior draws, calibration.json and .txt,
figures) and the calibrated scenario next to the original.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.errors import Problem, UserError


@dataclass(frozen=True)
class CalibrationSpec:
    """Everything that decides a calibration's numbers (recorded in its manifest)."""

    scenario: str
    observations: str
    free: tuple[str, ...]
    priors: tuple[tuple[str, float, float], ...] = ()  # (path, mean, sd)
    method: str = "emcee"  # or "map"
    margin: str = "reservation"
    walkers: int = 32
    steps: int = 4000
    seed: int = 0
    outcome_draws: int = 200  # posterior draws simulated for the outcome observations (0: skip)
    runs_per_draw: int = 32
    cutoff: str | None = None  # only observations complete on or before this date

    def to_dict(self) -> dict:
        """JSON-able."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class Calibration:
    """A finished calibration: the likelihood, the posterior and what it says."""

    spec: CalibrationSpec
    like: object
    posterior: object
    loaded: object  # the scenario (LoadedScenario) the posterior is for, priors applied
    observations: object
    result: dict = field(default_factory=dict)


def _problem(field_name: str, message: str, file: str = "") -> UserError:
    return UserError([Problem(file, None, field_name, message)])


def prepare(spec: CalibrationSpec):
    """Load the scenario (with --prior applied), the observations and the decision likelihood."""
    from sim.calibration.likelihood import (
        CalibrationError,
        DecisionLikelihood,
        free_parameters,
    )
    from sim.calibration.observations import load_observations
    from sim.domain.game import compile_scenario
    from sim.scenario import load_scenario

    if not spec.free:
        raise _problem("--free", "name at least one number to calibrate, "
                                 "e.g. --free actors.<actor id>.reservation.premium")
    overrides = {}
    for path, mean, sd in spec.priors:
        if sd <= 0:
            raise _problem("--prior", f"{path}: the sd must be positive, got {sd:g}")
        if path not in spec.free:
            raise _problem("--prior", f"{path} is not set free; add --free {path}")
        if path.endswith((".temperature", ".exponent")):
            continue  # structural numbers: the prior is set on the FreeParameter below
        overrides[path] = {"mean": mean, "sd": sd}
    loaded = load_scenario(spec.scenario, overrides=overrides or None)
    game = compile_scenario(loaded.scenario)
    observations = load_observations(spec.observations)
    if spec.cutoff is not None:
        observations, _ = observations.cutoff(spec.cutoff)
    try:
        free = free_parameters(game, loaded.scenario, list(spec.free))
    except CalibrationError as exc:
        raise _problem("--free", str(exc)) from None
    free = _structural_priors(free, spec.priors)
    decisions = translate(observations, game)
    own = [a.strategy.temperature is not None for a in loaded.scenario.actors.values()]
    try:
        like = DecisionLikelihood(game, decisions, free, own_temperature=np.array(own), margin=spec.margin)
    except CalibrationError as exc:
        raise _problem("--margin", str(exc)) from None
    return loaded, game, observations, like


def _structural_priors(free, priors):
    from dataclasses import replace

    from sim.calibration.likelihood import Prior

    given = {path: (mean, sd) for path, mean, sd in priors}
    out = []
    for f in free:
        if f.kind != "number" and f.path in given:
            mean, sd = given[f.path]
            f = replace(f, prior=Prior(True, mean, sd, f.prior.lo, f.prior.hi))
        out.append(f)
    return tuple(out)


def translate(observations, game) -> list:
    """The observations' decisions as deals of `game` (matched by issue and option ids)."""
    from dataclasses import replace

    source = observations.game
    out = []
    for d in observations.decisions():
        options = source.space.describe(d.deal)
        try:
            deal = game.space.encode(options)
            actor = game.actor_index(d.actor)
        except (KeyError, ValueError) as exc:
            raise _problem("observations", f"decision {d.id}: the scenario has no {exc}; observations must use "
                                           "the scenario's actors, issues and options", str(observations.path)) from None
        out.append(replace(d, deal=deal, actor_index=actor))
    return out


def calibrate(spec: CalibrationSpec, out: str | Path | None = None, force: bool = False,
              write_scenario: str | Path | None = None, progress: bool | None = None,
              argv: list[str] | None = None) -> Calibration:
    """Run a calibration, write its folder and the calibrated scenario; return it."""
    from sim.calibration import fit
    from sim.calibration.report import (
        calibrated_yaml,
        identifiability,
        plot_calibration,
        posterior_table,
        predictive_check,
        summary_text,
    )
    from sim.jobs import default_out
    from sim.results import ResultsFolder, atomic_write_bytes, now_iso

    loaded, game, observations, like = prepare(spec)
    target = Path(write_scenario) if write_scenario else _calibrated_path(Path(spec.scenario))
    if target.parent.resolve() != Path(spec.scenario).parent.resolve():
        raise _problem("--write", f"{target}: the calibrated scenario must sit in the folder of the original, "
                                  "whose source files its quotes are checked against (nothing was written)",
                       str(target))
    if target.exists() and not force:
        raise _problem("--write", f"{target} exists; choose another with --write, or replace it with --force "
                                  "(nothing was written)", str(target))
    folder = ResultsFolder.create(out or default_out(loaded.name, "calibrate"), force=force)
    outcomes = _outcomes_after_start(observations, game)
    if spec.method == "map":
        posterior = fit.fit_map(like)
    else:
        try:
            import emcee  # noqa: F401
        except ImportError:
            raise _problem("--method", "emcee is not installed: pip install 'negsim[calibrate]', or use "
                                       "--method map") from None
        logging.getLogger("emcee").setLevel(logging.ERROR)  # its short-chain notice is reported below instead
        posterior = fit.sample_emcee(like, spec.walkers, spec.steps, spec.seed, progress=progress)
    diagnostics = {"walkers": max(spec.walkers, 2 * len(like.free) + 2), "steps": spec.steps,
                   "burn": posterior.burn, "acceptance": posterior.acceptance,
                   "max_rhat": max(posterior.rhat.values(), default=float("nan")),
                   "min_ess": min(posterior.ess.values(), default=float("nan"))}
    if outcomes and spec.outcome_draws > 0:
        posterior.draws = fit.thin(posterior.draws, spec.outcome_draws, spec.seed)
        probabilities = fit.outcome_probabilities(game, like, posterior.draws, outcomes, spec.seed,
                                                  spec.runs_per_draw, progress=progress)
        fit.reweigh_by_outcomes(posterior, probabilities, spec.runs_per_draw, spec.seed, [o.id for o in outcomes])
        diagnostics.update(outcome_ess=posterior.outcome_ess, outcome_draws=len(posterior.draws),
                           runs_per_draw=spec.runs_per_draw, outcome_probabilities=posterior.outcome_probabilities)
    ppc = predictive_check(like, posterior)
    provenance = (f"{Path(spec.observations).name}, {len(like.decisions)} decisions"
                  + (f" and {len(outcomes)} outcomes" if outcomes and spec.outcome_draws > 0 else "")
                  + (f" to {spec.cutoff}" if spec.cutoff else "") + f", {spec.method}, seed {spec.seed}")
    result = {
        "scenario": loaded.name, "observations": observations.name, "method": spec.method,
        "margin": spec.margin, "n_decisions": len(like.decisions), "n_outcomes": len(outcomes),
        "posterior": posterior_table(like, posterior), "predictive": ppc, "diagnostics": diagnostics,
        "identifiability": identifiability(like, posterior),
    }
    if posterior.outcome_ess is not None and posterior.outcome_ess < 0.1 * len(posterior.draws):
        result["identifiability"].append(
            f"outcomes: after reweighting only {posterior.outcome_ess:.0f} of {len(posterior.draws)} draws carry "
            "weight; the model finds the observed outcomes unlikely under most draws (see the outcome "
            "probabilities above), so the reweighted posterior rests on few draws")
    text = calibrated_yaml(loaded.raw.decode(), loaded.srcmap, like.free, posterior.mean(), posterior.sd(),
                           provenance, f"{loaded.name}_calibrated")
    manifest = {"negsim_calibrate": 1, "command": list(argv or []), "started": now_iso(), "spec": spec.to_dict(),
                "scenario": {"path": str(spec.scenario), "sha256": loaded.sha256, "name": loaded.name},
                "observations": {"path": str(spec.observations), "sha256": observations.sha256,
                                 "name": observations.name},
                "calibrated_scenario": str(target)}
    folder.write_manifest(manifest)
    np.savez_compressed(folder.path / "posterior.npz", names=np.array(like.names), draws=posterior.draws,
                        chain=posterior.chain if posterior.chain is not None else np.zeros((0, 0, 0)))
    atomic_write_bytes(folder.path / "calibrated.yaml", text.encode())
    atomic_write_bytes(target, text.encode())
    _check_written(target)
    result["calibrated_scenario"] = str(target)
    result["figures"] = [str(p) for p in plot_calibration(folder.path, like, posterior, ppc)]
    atomic_write_bytes(folder.path / "calibration.json", (json.dumps(result, indent=2, default=_jsonable) + "\n").encode())
    atomic_write_bytes(folder.path / "calibration.txt", (summary_text(result) + "\n").encode())
    manifest["finished"] = now_iso()
    folder.write_manifest(manifest)
    result["folder"] = str(folder.path)
    return Calibration(spec, like, posterior, loaded, observations, result)


def _outcomes_after_start(observations, game) -> list:
    """The outcome observations a run of this scenario can show: those that end after its as_of date.

    A run starts at as_of; what happened to the talks before then is the scenario's starting
    point, not something its runs can reproduce or contradict.
    """
    start = dt.date.fromisoformat(game.as_of)
    return [o for o in observations.outcomes() if o.known_on > start]


def _calibrated_path(scenario: Path) -> Path:
    return scenario.with_name(scenario.stem + ".calibrated.yaml")


def _check_written(path: Path) -> None:
    """The calibrated scenario must load like any other: a defect here is ours, so say so plainly."""
    from sim.errors import ScenarioError
    from sim.scenario import load_scenario

    try:
        load_scenario(path)
    except ScenarioError as exc:
        path.unlink(missing_ok=True)
        raise UserError([Problem(str(path), None, "calibrated scenario",
                                 "the written file did not validate and was removed: "
                                 + "; ".join(p.message for p in exc.problems[:3]))]) from None


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def parse_prior(text: str) -> tuple[str, float, float]:
    """`PATH=MEAN,SD` -> (path, mean, sd)."""
    path, sep, rest = text.partition("=")
    parts = rest.split(",")
    try:
        if not sep or len(parts) != 2:
            raise ValueError
        return path.strip(), float(parts[0]), float(parts[1])
    except ValueError:
        raise _problem("--prior", f"expected PATH=MEAN,SD, got {text!r}") from None
