"""Results folders: manifest.json, result tables streamed in chunks, merged Parquet at the end.

Layout of a results folder:
    manifest.json       what produced it (scenario hash, version, seed, command, parameters, times)
    chunks/             one Parquet file per finished chunk while a job runs (kept for --resume)
    runs.parquet        one row per run, sorted by (point, run)
    rounds.parquet      one row per (point, run, round, actor)
    points.parquet      sweeps only: one row per parameter point (`point` + one column per swept path)
Every file is written to a temporary name and renamed, so a crash never leaves a half file.
The merge streams one chunk at a time, so its memory does not grow with the number of runs.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import Problem, UserError

TABLES = ("runs", "rounds")


TEMPORARY = ".*.tmp"  # glob of the temporary siblings below; a process killed mid-write leaves one


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _write_then_rename(path: Path, write) -> None:
    """Call write(file) on a temporary sibling, flush it to disk, rename it over `path`."""
    tmp = _temporary(path)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())  # else a power cut after the rename can leave an empty file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file via a temporary sibling and a rename."""
    _write_then_rename(path, lambda fh: fh.write(data))


def atomic_write_table(path: Path, table: pa.Table) -> None:
    """Write a Parquet file via a temporary sibling and a rename."""
    _write_then_rename(path, lambda fh: pq.write_table(table, fh, compression="zstd"))


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
    def create(cls, path: str | Path, force: bool = False) -> ResultsFolder:
        """Make a new, empty results folder; refuse one that exists unless `force` (then replace it)."""
        path = Path(path)
        if path.exists() and force:
            # --force must never wipe a folder that is not ours (say a mistyped --out $HOME).
            if not path.is_dir() or not ((path / "manifest.json").is_file() or not any(path.iterdir())):
                raise UserError([Problem(str(path), None, "--out", "--force only replaces a results folder "
                                                                   "(one with a manifest.json); this is not one, "
                                                                   "so it was left untouched")])
            shutil.rmtree(path)
        if path.exists():
            raise UserError([Problem(str(path), None, "--out", "results folder already exists; choose "
                                                               "another --out, continue it with --resume, or "
                                                               "replace it with --force (nothing was written)")])
        try:
            path.mkdir(parents=True)
            (path / "chunks").mkdir()
        except OSError as exc:
            raise UserError([Problem(str(path), None, "--out",
                                     f"cannot create the results folder: {exc.strerror}")]) from None
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> ResultsFolder:
        """An existing results folder, to resume; a UserError if it is not one."""
        path = Path(path)
        if not (path / "manifest.json").is_file():
            raise UserError([Problem(str(path), None, "--resume", "not a results folder (no manifest.json)")])
        return cls(path)

    def remove_temporaries(self) -> None:
        """Delete the temporary files of writes that never finished (a job killed mid-write)."""
        for d in (self.path, self.chunk_dir):
            for f in d.glob(TEMPORARY):
                f.unlink(missing_ok=True)

    def write_table(self, name: str, table: pa.Table) -> None:
        """Write NAME.parquet atomically (for tables known before the runs, such as points)."""
        atomic_write_table(self.path / f"{name}.parquet", table)

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
        """Concatenate the chunks of each table into one Parquet file sorted by (point, run); return row counts.

        Chunks are streamed in id order, which the runner plans in (point, run) order, so each
        chunk only needs sorting within itself; should the ids ever disagree with that order the
        whole table is sorted in memory instead. Overlapping chunks (duplicate runs) are an error.
        """
        counts = {}
        for name in TABLES:
            files = sorted(self.chunk_dir.glob(f"{name}-*.parquet"))
            if not files:
                continue
            keys = [("point", "ascending"), ("run", "ascending")]
            if name == "rounds":
                keys.append(("round", "ascending"))
            schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="default")
            target = self.path / f"{name}.parquet"
            counts[name] = self._stream_merge(files, schema, keys, target, check=name == "runs")
        if not keep_chunks:
            # Runs files first: a chunk whose runs file exists counts as whole, so a job killed
            # while deleting must not leave one without its rounds file (a resume would skip it).
            for pattern in ("runs-*.parquet", "*.parquet", TEMPORARY):
                for f in self.chunk_dir.glob(pattern):
                    f.unlink()
            try:
                self.chunk_dir.rmdir()
            except OSError:
                pass
        return counts

    def _stream_merge(self, files: list[Path], schema: pa.Schema, keys: list, target: Path, check: bool) -> int:
        tmp = _temporary(target)
        rows = 0
        last: tuple[int, int] | None = None
        in_order = True
        try:
            with open(tmp, "wb") as fh:
                with pq.ParquetWriter(fh, schema, compression="zstd") as writer:
                    for f in files:
                        table = _conform(pq.read_table(f).sort_by(keys), schema)
                        if table.num_rows:
                            first = (table["point"][0].as_py(), table["run"][0].as_py())
                            if last is not None and (first < last or (check and first == last)):
                                in_order = False
                                break
                            last = (table["point"][-1].as_py(), table["run"][-1].as_py())
                        writer.write_table(table)
                        rows += table.num_rows
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if not in_order:
            tmp.unlink()
            table = pa.concat_tables([_conform(pq.read_table(f), schema) for f in files]).sort_by(keys)
            if check:
                _refuse_duplicates(table, self.path)
            atomic_write_table(target, table)
            return table.num_rows
        os.replace(tmp, target)
        return rows


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with `schema`'s columns in its order; a column a chunk lacks becomes nulls."""
    cols = [table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
            for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def _refuse_duplicates(table: pa.Table, where: Path) -> None:
    point = table["point"].to_numpy()
    run = table["run"].to_numpy()
    same = (point[1:] == point[:-1]) & (run[1:] == run[:-1])
    if same.any():
        k = int(same.argmax())
        raise UserError(f"{where}: chunks overlap (point {point[k]}, run {run[k]} appears twice); "
                        "the folder was written by two jobs at once? Start afresh with --force")
