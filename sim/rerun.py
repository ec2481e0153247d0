"""`negsim rerun`: reproduce a results folder from its manifest and check the tables match.

Everything a result depends on is in its manifest (scenario path and SHA-256, overrides,
grid and sample specs, runs, seed); workers, chunking and backend are deliberately not part
of it, since results do not depend on them. The rerun goes to a temporary folder beside the
original, which is never modified.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim.errors import Problem, UserError
from sim.jobs.executors import LOCAL, ExecutorSpec
from sim.results import ResultsFolder


def _same_value(x, y) -> bool:
    # NaN (say the distance to the nearest proposal of a scenario that names none) equals NaN here.
    return x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))


def _same_column(a: pa.ChunkedArray, b: pa.ChunkedArray) -> bool:
    if a.equals(b):
        return True  # Arrow's equality, for which NaN differs from NaN
    if a.type != b.type or not pa.types.is_floating(a.type):
        return False
    return (pc.is_null(a).equals(pc.is_null(b))
            and np.array_equal(a.to_numpy(zero_copy_only=False), b.to_numpy(zero_copy_only=False), equal_nan=True))


def _compare(name: str, a: Path, b: Path) -> tuple[bool, str]:
    if not a.exists() and not b.exists():
        return True, ""
    if a.exists() != b.exists():
        return False, f"{name}: present in only one of the two folders"
    left, right = pq.read_table(a), pq.read_table(b)
    if left.schema != right.schema:
        return False, f"{name}: columns differ"
    if left.num_rows != right.num_rows:
        return False, f"{name}: {left.num_rows:,} rows against {right.num_rows:,}"
    for column in left.column_names:
        if not _same_column(left[column], right[column]):
            l, r = left[column].to_pylist(), right[column].to_pylist()
            row = next(i for i, (x, y) in enumerate(zip(l, r)) if not _same_value(x, y))
            return False, f"{name}: first difference in column {column!r}, row {row}: {l[row]!r} vs {r[row]!r}"
    return True, f"{name}: identical ({left.num_rows:,} rows)"


def rerun(results_dir: str | Path, executor: ExecutorSpec = LOCAL) -> tuple[bool, str]:
    """Re-run the job recorded in a results folder; return (all tables identical, report text)."""
    from sim.jobs import JobSpec, run_job

    folder = ResultsFolder(Path(results_dir))
    manifest = folder.read_manifest()
    if manifest.get("status") != "complete":
        raise UserError([Problem(str(folder.manifest_path), None, "status",
                                 f"the job is {manifest.get('status')!r}; finish it with --resume first")])
    job = manifest.get("job")
    if not job:
        raise UserError([Problem(str(folder.manifest_path), None, "job", "no job record: cannot rerun")])
    spec = JobSpec.from_dict(job)
    scenario = Path(job.get("scenario_path") or spec.scenario)
    spec = dataclasses.replace(spec, scenario=str(scenario), chunk_size=None)
    import hashlib

    from sim.scenario.load import read_bytes

    digest = hashlib.sha256(read_bytes(scenario)).hexdigest()
    if digest != manifest["scenario"]["sha256"]:
        raise UserError([Problem(str(scenario), None, "", "the scenario file has changed since the run "
                                                          "(SHA-256 differs): a rerun would not be a check")])
    tmp = Path(tempfile.mkdtemp(prefix=".rerun-", dir=folder.path.parent))
    try:
        result = run_job(spec, out=tmp / "out", argv=["negsim", "rerun", str(folder.path)], executor=executor,
                         progress=False)
        lines, ok = [], True
        for name in ("points.parquet", "runs.parquet", "rounds.parquet"):
            same, text = _compare(name, folder.path / name, result.out / name)
            ok &= same
            if text:
                lines.append(("match    " if same else "MISMATCH ") + text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    verdict = "reproduced: every table is identical" if ok else "NOT reproduced"
    return ok, "\n".join([f"rerun of {folder.path}: {verdict}"] + lines)
