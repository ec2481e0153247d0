"""Shared fixtures: paths to the shipped and test scenarios, a loader for inline YAML."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles. A profile only supplies defaults: a test's own @settings(max_examples=...)
# still wins, so "dev" adds examples only to the properties that do not fix their own count.
#   ci   the same examples on every run and machine (derandomised, no example database), so a
#        result never changes between runs and a failure is reproducible from the log alone;
#        timing health checks are off because CI machines are shared and noisy.
#   dev  random exploration with the local example database, to find new counterexamples.
# `./dev.sh test` and CI (CI=true) use "ci"; a bare `pytest` uses "dev";
# HYPOTHESIS_PROFILE=ci|dev chooses explicitly.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=100,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=500, deadline=None, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("ci" if os.environ.get("CI", "").lower() in ("true", "1") else "dev")
)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
TINY = DATA / "tiny.yaml"


def shipped_scenarios() -> list[Path]:
    """Every scenario file shipped under scenarios/ (observation files are not scenarios)."""
    return sorted(p for p in (ROOT / "scenarios").rglob("*.yaml") if "observations" not in p.relative_to(ROOT).parts)


def negsim_command() -> list[str]:
    """The installed console script (next to this interpreter), else `python -m sim`."""
    script = Path(sys.executable).with_name("negsim")
    if script.exists():
        return [str(script)]
    found = shutil.which("negsim")
    return [found] if found else [sys.executable, "-m", "sim"]


def negsim_in_process(*args) -> subprocess.CompletedProcess:
    """`negsim ARGS` run in this process, for tests whose subject is what a command prints and returns.

    A process apiece costs 2-3 s of imports a command; tests/test_cli.py covers the console script
    itself. The stop-signal handlers main() installs are put back afterwards.
    """
    from sim.cli import main

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exit_:  # argparse's way out of a bad command line (exit 2)
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    return subprocess.CompletedProcess(["negsim", *map(str, args)], code, out.getvalue(), err.getvalue())


@pytest.fixture
def tiny_path() -> Path:
    return TINY


@pytest.fixture
def write_scenario(tmp_path):
    """Write YAML text next to a copy of the tiny source file; return the path."""

    def write(text: str, name: str = "scenario.yaml") -> Path:
        shutil.copy(DATA / "tiny_source.txt", tmp_path / "tiny_source.txt")
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture
def alaska_with_breakdown(write_scenario) -> Path:
    """The Alaska scenario plus a dated breakdown event (probability 0.5), with its sources beside it."""
    root = Path(__file__).resolve().parent.parent / "scenarios"
    text = (root / "alaska_2025.yaml").read_text().replace('''    - date: 2025-10-22
      kind: costs''', '''    - date: 2025-09-12
      kind: breakdown
      name: "talks end for good"
      probability: 0.5
      source: record_2025
      quote: "Negotiators remain in contact, but for now it is probably more accurate to speak of a pause"
    - date: 2025-10-22
      kind: costs''')
    assert "kind: breakdown" in text  # the anchor above still exists in the scenario
    path = write_scenario(text, name="alaska_breakdown.yaml")
    shutil.copytree(root / "sources", path.parent / "sources", dirs_exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    os.environ.setdefault("PYTHONHASHSEED", "0")


def scripted_responses(monkeypatch, verdicts: dict[str, bool]):
    """Make each named actor accept (True) or reject (False) whatever is on the table."""
    from sim.model.agents import Actor

    real = Actor.acceptance_chance

    def acceptance_chance(self, utility):
        chance = real(self, utility)
        if self.actor_id in verdicts:
            chance = np.full_like(chance, 1.0 if verdicts[self.actor_id] else 0.0)
        return chance

    monkeypatch.setattr(Actor, "acceptance_chance", acceptance_chance)
