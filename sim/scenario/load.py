"""Load a scenario file: YAML -> pydantic shape checks -> cross-references -> one report.

Every problem found is reported at once, each as `file:line: field.path: message`. This module
owns the entry points (load_scenario, validate) and the LoadedScenario they return; the wording
of shape errors lives in sim.scenario.messages, the cross-checks in sim.scenario.crosscheck and
the checks of a source's local copy in sim.scenario.sources.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.errors import ScenarioError
from sim.scenario.crosscheck import cross_check
from sim.scenario.messages import pydantic_problems
from sim.scenario.schema import Scenario
from sim.scenario.sources import MAX_SOURCE_BYTES
from sim.scenario.yamlsrc import SourceMap, parse_yaml, read_bytes

# Re-exported: callers import these from here (sim.rerun, the tests, benchmarks).
__all__ = ["MAX_SOURCE_BYTES", "LoadedScenario", "cross_check", "load_scenario", "read_bytes", "validate"]


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with where it came from."""

    scenario: Scenario
    path: Path
    sha256: str
    srcmap: SourceMap
    raw: bytes = b""  # the file as read (consistency checks look at its comments)

    @property
    def name(self) -> str:
        """The scenario's `meta.name`."""
        return self.scenario.meta.name


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> LoadedScenario:
    """Read, validate and cross-check a scenario file; raise ScenarioError listing every problem."""
    path = Path(path)
    raw = read_bytes(path)
    data, srcmap = parse_yaml(raw, str(path))
    if overrides:
        from sim.scenario.overrides import apply_overrides

        data = apply_overrides(data, overrides, srcmap)
    scenario = validate(data, srcmap, base_dir=path.parent)
    digest = hashlib.sha256(raw).hexdigest()
    return LoadedScenario(scenario, path, digest, srcmap, raw)


def validate(data: Any, srcmap: SourceMap, base_dir: Path | None = None) -> Scenario:
    """Turn parsed YAML into a Scenario or raise ScenarioError with every problem."""
    if not isinstance(data, dict):
        raise ScenarioError([srcmap.problem((), "a scenario must be a mapping with meta, sources, "
                                                 "issues, actors, proposals and protocol")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(pydantic_problems(exc, srcmap, data)) from None
    problems = cross_check(scenario, srcmap, base_dir)
    if problems:
        raise ScenarioError(problems)
    return scenario
