"""Results folders: manifest.json, result tables streamed in chunks, merged Parquet at the end.

Layout of a results folder:
    manifest.json       what produced it (scenario hash, version, seed, command, parameters, times)
    chunks/             one Parquet file per finished chunk while a job runs (kept for --resume)
    runs.parquet        one row per run, sorted by (point, run)
    rounds.parquet      one row per (point, run, round, actor)
Every file is written to a temporary name and renamed, so a crash never leaves a half file.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import Problem, UserError

TABLES = ("runs", "rounds")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file via a temporary sibling and a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_table(path: Path, table: pa.Table) -> None:
    """Write a Parquet file via a temporary sibling and a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class ResultsFolder:
    """A results folder being written or read."""

    path: Path

    @property
    def manifest_path(self) -> Path:
        """Where the manifest lives."""
        return self.path / "manifest.json"

    @property
    def chunk_dir(self) -> Path:
        """Where finished chunks are kept until the merge."""
        return self.path / "chunks"

    @classmethod
    def create(cls, path: str | Path) -> ResultsFolder:
        """Make a new, empty results folder; refuse one that already exists."""
        path = Path(path)
        if path.exists():
            raise UserError([Problem(str(path), None, "--out", "results folder already exists; choose "
                                                               "another --out (nothing was written)")])
        try:
            path.mkdir(parents=True)
            (path / "chunks").mkdir()
        except OSError as exc:
            raise UserError([Problem(str(path), None, "--out",
                                     f"cannot create the results folder: {exc.strerror}")]) from None
        return cls(path)

    def write_manifest(self, manifest: dict) -> None:
        """Write (or rewrite) manifest.json atomically."""
        atomic_write_bytes(self.manifest_path, (json.dumps(manifest, indent=2, default=str) + "\n").encode())

    def read_manifest(self) -> dict:
        """The manifest, or a UserError saying this is not a results folder."""
        try:
            return json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise UserError(f"{self.path}: not a results folder (no manifest.json)") from None
        except json.JSONDecodeError as exc:
            raise UserError(f"{self.manifest_path}:{exc.lineno}: manifest is not valid JSON: {exc.msg}") from None

    def chunk_file(self, table: str, chunk_id: int) -> Path:
        """File name of one chunk of one table."""
        return self.chunk_dir / f"{table}-{chunk_id:06d}.parquet"

    def write_chunk(self, chunk_id: int, tables: dict[str, pa.Table]) -> None:
        """Store a finished chunk; the runs file goes last, so its presence means the chunk is whole."""
        for name in sorted(tables, key=lambda n: n == "runs"):
            atomic_write_table(self.chunk_file(name, chunk_id), tables[name])

    def finished_chunks(self) -> set[int]:
        """Ids of chunks whose runs file exists."""
        return {int(p.stem.split("-")[1]) for p in self.chunk_dir.glob("runs-*.parquet")}

    def merge(self, keep_chunks: bool = False) -> dict[str, int]:
        """Concatenate the chunks of each table into one sorted Parquet file; return row counts."""
        counts = {}
        for name in TABLES:
            files = sorted(self.chunk_dir.glob(f"{name}-*.parquet"))
            if not files:
                continue
            table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
            keys = [("point", "ascending"), ("run", "ascending")]
            if name == "rounds":
                keys.append(("round", "ascending"))
            table = table.sort_by(keys)
            atomic_write_table(self.path / f"{name}.parquet", table)
            counts[name] = table.num_rows
        if not keep_chunks:
            for f in self.chunk_dir.glob("*.parquet"):
                f.unlink()
            try:
                self.chunk_dir.rmdir()
            except OSError:
                pass
        return counts
