"""Golden fixtures: seeded runs of every shipped scenario under every protocol it allows.

The fingerprints in tests/golden/runs.json were written by `scripts/golden.py --write`; a change
that alters any number of any run fails here, naming the scenario, protocol and column. Moves
of code (issue 15) must leave them unchanged; a deliberate change of the model rewrites them in
the same commit, which names why.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "runs.json"
from sim.catalogue import PROTOCOLS  # noqa: E402
RUNS, SEED = 200, 11
DECIMALS = 9  # floats are compared to 9 decimals: a reordered sum may move the last bit, not a result


def shipped() -> list[Path]:
    """Every shipped scenario: the main ones and the examples."""
    return sorted((ROOT / "scenarios").glob("*.yaml")) + sorted((ROOT / "scenarios" / "examples").glob("*.yaml"))


def fingerprint(table: pa.Table) -> dict:
    """Per column: a SHA-256 of its values (floats rounded) and, for numbers, their sum to read."""
    out = {"rows": table.num_rows, "columns": {}}
    for name in sorted(table.column_names):
        column = table[name]
        if pa.types.is_floating(column.type):
            values = np.round(column.to_numpy(zero_copy_only=False).astype(float), DECIMALS) + 0.0
            data = values.tobytes()
            total = float(np.nansum(values))
        elif pa.types.is_integer(column.type) or pa.types.is_boolean(column.type):
            values = column.to_numpy(zero_copy_only=False).astype(np.int64)
            data, total = values.tobytes(), int(values.sum())
        else:
            data, total = json.dumps(column.to_pylist()).encode(), None
        out["columns"][name] = {"sha256": hashlib.sha256(data).hexdigest()[:16], "sum": total}
    return out


def compute(scenario: Path, protocol: str) -> dict | None:
    """The fingerprint of RUNS seeded runs, or None when the scenario does not allow the protocol."""
    from sim.errors import UserError
    from sim.simulate import ChunkSpec, simulate_chunk
    from sim.jobs import scenario_with_sets

    try:
        _, game = scenario_with_sets(str(scenario), (f"protocol.kind={protocol}",))
    except UserError:
        return None
    return fingerprint(simulate_chunk(game, ChunkSpec(SEED, 0, (0, RUNS), False))["runs"])


def all_fingerprints() -> dict:
    """{scenario/protocol: fingerprint or null} for every shipped scenario and protocol."""
    return {f"{p.relative_to(ROOT / 'scenarios')}/{proto}": compute(p, proto) for p in shipped() for proto in PROTOCOLS}


CASES = [f"{p.relative_to(ROOT / 'scenarios')}/{proto}" for p in shipped() for proto in PROTOCOLS]


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("case", CASES)
def test_seeded_runs_match_the_golden_fixtures(golden, case):
    assert case in golden, f"{case} has no golden fixture: run scripts/golden.py --write and commit it"
    scenario, protocol = case.rsplit("/", 1)
    now = compute(ROOT / "scenarios" / scenario, protocol)
    was = golden[case]
    if was is None or now is None:
        assert was == now, f"{case}: the protocol is {'now' if now else 'no longer'} allowed"
        return
    assert now["rows"] == was["rows"]
    changed = [f"{name} (sum {was['columns'].get(name, {}).get('sum')} -> {col['sum']})"
               for name, col in now["columns"].items() if was["columns"].get(name) != col]
    missing = sorted(set(was["columns"]) - set(now["columns"]))
    assert not changed and not missing, f"{case}: changed columns: {changed}; missing: {missing}"
