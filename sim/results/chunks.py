"""Sealed chunks of a results folder and their merge. While a job runs, each finished chunk is a
Parquet file per table with a `.sha256` seal beside it (checksum, rows, job, chunk id), so a
resumed job can tell a whole chunk from a damaged one or another job's. At the end the chunks
of each table become one Parquet file sorted by (point, run): each chunk is written sorted, and
the merge appends the chunks' row groups as they are, bytes and all, under one new footer (no
decoding, no sorting), so it costs a file copy and its memory does not grow with the number of
runs. Chunks it cannot append so (from an older negsim, or out of order) are decoded, sorted and
streamed one at a time instead.

SealedChunks is a part of ResultsFolder (sim.results.folder), which supplies `path` and `job_id`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import UserError
from sim.results.atomic import (
    ROW_KEYS,
    TEMPORARY,
    atomic_write_bytes,
    atomic_write_table,
    parquet_options,
    temporary_sibling,
)
from sim.results.parquet_append import RowGroupAppender

#: The tables a chunk holds, each merged into NAME.parquet at the end.
TABLES = ("runs", "rounds")
#: Chunk files: `runs-000012.parquet`, `rounds-000012.parquet`, each with a `.sha256` sidecar.
_CHUNK = re.compile(r"^(runs|rounds)-(\d{6})\.parquet$")
#: The order of each table's rows, in its chunks and in the merged file.
KEYS = {"runs": ROW_KEYS[:2], "rounds": ROW_KEYS}


class SealedChunks:
    """The chunk files of a results folder: writing and sealing them, checking them on resume, merging."""

    path: Path
    job_id: str

    @property
    def chunk_dir(self) -> Path:
        """Where finished chunks are kept until the merge."""
        return self.path / "chunks"

    def chunk_file(self, table: str, chunk_id: int) -> Path:
        """File name of one chunk of one table."""
        return self.chunk_dir / f"{table}-{chunk_id:06d}.parquet"

    def write_chunk(self, chunk_id: int, tables: dict[str, pa.Table]) -> None:
        """Store a finished chunk with a checksum and the job's identity beside each file; the runs
        file and its checksum go last, so their presence means the chunk is whole."""
        for name in sorted(tables, key=lambda n: n == "runs"):
            target = self.chunk_file(name, chunk_id)
            table, keys = tables[name], [k for k in KEYS.get(name, ()) if k in tables[name].column_names]
            sorting = None
            if keys[:2] == ["point", "run"]:
                # Sorted here, and said so in the file, so that the merge can append it as it is.
                table = table if _is_sorted(table, keys) else table.sort_by([(k, "ascending") for k in keys])
                sorting = pq.SortingColumn.from_ordering(table.schema, [(k, "ascending") for k in keys])
            buffer = io.BytesIO()
            pq.write_table(table, buffer, sorting_columns=sorting, **parquet_options(table.schema))
            data = buffer.getvalue()
            # Not flushed to disk: a chunk a power cut damages fails its seal on --resume (verify_chunks)
            # and runs again, so the worker need not wait for the disk (four fsyncs: 11-12 ms per 2,000
            # Alaska runs here, 2-3% of a worker's time). The merged tables are flushed.
            atomic_write_bytes(target, data, durable=False)
            seal = {"sha256": hashlib.sha256(data).hexdigest(), "rows": tables[name].num_rows,
                    "job": self.job_id, "chunk": chunk_id, "table": name}
            atomic_write_bytes(_seal_path(target), json.dumps(seal).encode(), durable=False)

    def finished_chunks(self) -> set[int]:
        """Ids of chunks whose runs file and checksum exist (not yet verified)."""
        out = set()
        for p in self.chunk_dir.glob("runs-*.parquet"):
            m = _CHUNK.match(p.name)
            if m and _seal_path(p).is_file():
                out.add(int(m.group(2)))
        return out

    def verify_chunks(self, expected: dict[int, int], tables: tuple[str, ...]) -> tuple[set[int], list[str]]:
        """Check every stored chunk: checksum, job, id and row count; return (good ids, problems).

        `expected` maps each planned chunk id to its number of runs; `tables` are the tables each
        chunk must have. A chunk that fails is deleted, so the job runs it again.
        """
        good, problems = set(), []
        for cid in sorted(self.finished_chunks()):
            reason = None if cid in expected else "is not part of this job's plan"
            for name in tables if reason is None else ():
                reason = self._check_file(self.chunk_file(name, cid), cid, name,
                                          expected[cid] if name == "runs" else None)
                if reason:
                    break
            if reason is None:
                good.add(cid)
            else:
                problems.append(f"chunk {cid}: {reason}")
                self._drop_chunk(cid)
        return good, problems

    def _check_file(self, target: Path, cid: int, name: str, rows: int | None) -> str | None:
        try:
            seal = json.loads(_seal_path(target).read_text())
            data = target.read_bytes()
        except FileNotFoundError:
            return f"its {name} file is missing"
        except (OSError, ValueError):
            return f"its {name} checksum cannot be read"
        if not isinstance(seal, dict) or seal.get("job") != self.job_id:
            return f"its {name} file was written by another job"
        if seal.get("chunk") != cid or seal.get("table") != name:
            return f"its {name} file belongs to another chunk"
        if hashlib.sha256(data).hexdigest() != seal.get("sha256"):
            return f"its {name} file is damaged (checksum mismatch)"
        if rows is not None and seal.get("rows") != rows:
            return f"its {name} file has {seal.get('rows')} rows, the plan {rows}"
        return None

    def _drop_chunk(self, cid: int) -> None:
        for name in ("runs", "rounds"):  # runs first: without it the chunk no longer counts as finished
            target = self.chunk_file(name, cid)
            _seal_path(target).unlink(missing_ok=True)
            target.unlink(missing_ok=True)

    def merge(self, chunk_ids: list[int] | None = None, keep_chunks: bool = False) -> dict[str, int]:
        """Concatenate the chunks of each table into one Parquet file sorted by (point, run); return row counts.

        Only the chunks named (default: every finished one) are read, in id order, which the runner
        plans in (point, run) order: chunks written sorted and in that order are appended as they
        are (RowGroupAppender); others are decoded and each sorted within itself; should the ids
        ever disagree with that order the whole table is sorted in memory instead. Overlapping
        chunks (duplicate runs) are an error.
        """
        ids = sorted(self.finished_chunks() if chunk_ids is None else chunk_ids)
        return self.start_merge(ids).finish(keep_chunks)

    def start_merge(self, chunk_ids: list[int]) -> ChunkMerge:
        """A merge of these chunks that appends each as soon as it and those before it are finished
        (ChunkMerge.chunk_done), so that little is left to do when the last one is."""
        return ChunkMerge(self, sorted(chunk_ids))

    def drop_merged_chunks(self) -> None:
        """Delete the chunk files once their tables are merged, and the chunks folder."""
        # Runs files first: a chunk whose runs file exists counts as whole, so a job killed
        # while deleting must not leave one without its rounds file (a resume would skip it).
        for pattern in ("runs-*.sha256", "runs-*.parquet", "*.sha256", "*.parquet", TEMPORARY):
            for f in self.chunk_dir.glob(pattern):
                if is_chunk_file(f.name) or f.name.startswith("."):
                    f.unlink()
        try:
            self.chunk_dir.rmdir()
        except OSError:
            pass

    def _stream_merge(self, files: list[Path], schema: pa.Schema, keys: list, target: Path, check: bool) -> int:
        tmp = temporary_sibling(target)
        rows = 0
        last: tuple[int, int] | None = None
        in_order = True
        try:
            with open(tmp, "wb") as fh:
                with pq.ParquetWriter(fh, schema, **parquet_options(schema)) as writer:
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


class ChunkMerge:
    """The merge of a job's chunks, table by table, done while the job runs: each chunk is appended to
    the table's file (a hidden temporary until `finish`) as soon as it and every chunk before it in
    id order are finished. The chunk files stay until `finish` has moved every table into place, so
    an interrupted job keeps them for --resume (`abort` drops the temporaries)."""

    def __init__(self, folder: SealedChunks, chunk_ids: list[int]):
        self.folder, self.ids = folder, chunk_ids
        self._next, self._ready = 0, set()
        self._appenders = {name: RowGroupAppender(KEYS[name], folder.path / f"{name}.parquet") for name in TABLES}

    def chunk_done(self, chunk_id: int) -> None:
        """Chunk `chunk_id` is stored: append it, and any finished chunks after it, where the order allows."""
        self._ready.add(chunk_id)
        while self._next < len(self.ids) and self.ids[self._next] in self._ready:
            cid = self.ids[self._next]
            for name, appender in self._appenders.items():
                path = self.folder.chunk_file(name, cid)
                if not appender.declined and path.is_file():
                    appender.add(path)
            self._next += 1

    def finish(self, keep_chunks: bool = False) -> dict[str, int]:
        """Every chunk being stored: finish each table's file, then delete the chunks; return row counts."""
        counts = {}
        try:
            for cid in self.ids[self._next:]:
                self.chunk_done(cid)
            for name, appender in self._appenders.items():
                rows = appender.finish()
                if rows is None:  # declined (or no chunk has this table): decode the chunks instead
                    rows = self._decode_merge(name)
                if rows is not None:
                    counts[name] = rows
        except BaseException:
            self.abort()
            raise
        if not keep_chunks:
            self.folder.drop_merged_chunks()
        return counts

    def abort(self) -> None:
        """Drop the tables' temporaries; the chunks stay."""
        for appender in self._appenders.values():
            appender.abort()

    def _decode_merge(self, name: str) -> int | None:
        folder = self.folder
        files = [folder.chunk_file(name, cid) for cid in self.ids if folder.chunk_file(name, cid).is_file()]
        if not files:
            return None
        schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="default")
        keys = [(k, "ascending") for k in KEYS[name]]
        return folder._stream_merge(files, schema, keys, folder.path / f"{name}.parquet", check=name == "runs")


def _seal_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def is_chunk_file(name: str) -> bool:
    """Whether `name` is a chunk file or its seal (what a merge or --force may delete)."""
    base = name[:-len(".sha256")] if name.endswith(".sha256") else name
    return _CHUNK.match(base) is not None


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


def _is_sorted(table: pa.Table, keys: list[str]) -> bool:
    """Whether the rows are in ascending order of `keys` (compared as a tuple)."""
    if table.num_rows < 2:
        return True
    greater = np.zeros(table.num_rows - 1, dtype=bool)
    equal = np.ones(table.num_rows - 1, dtype=bool)
    for key in keys:
        column = table[key]
        if column.null_count:
            return False
        a = column.to_numpy()
        greater |= equal & (a[1:] > a[:-1])
        equal &= a[1:] == a[:-1]
    return bool((greater | equal).all())
