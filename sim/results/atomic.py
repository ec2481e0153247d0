"""Writing a results file so that a crash never leaves half of it: every file goes to a temporary
sibling, is flushed to disk (sealed chunks aside, see atomic_write_bytes) and renamed over its
target. A write that fails for want of space, quota or permission becomes one UserError line
instead of a traceback. Also how negsim encodes Parquet (parquet_options).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import Problem, UserError

TEMPORARY = ".*.tmp"  # glob of the temporary siblings below; a process killed mid-write leaves one


#: The columns that identify a results table's row, in the order its rows are sorted by (a runs table
#: has the first two). The only columns whose smallest and largest values each row group records:
#: readers select rows by them (the explorer reads one run's rounds), the merge orders chunks by them.
ROW_KEYS = ("point", "run", "round")


def parquet_options(schema: pa.Schema) -> dict:
    """How negsim writes Parquet: zstd pages, dictionaries only for labels, integers and flags,
    statistics only for the keys (ROW_KEYS)."""
    # Monte Carlo doubles seldom repeat: a dictionary costs time and, once zstd has compressed the
    # pages, bytes. A list column (the rounds' text) pays its levels twice with one: half the write.
    plain = {f.name for f in schema if pa.types.is_floating(f.type) or pa.types.is_nested(f.type)}
    # Statistics of every column took a tenth of a rounds chunk's encoding, and nothing reads them.
    return {"compression": "zstd", "use_dictionary": [f.name for f in schema if f.name not in plain],
            "write_statistics": [f.name for f in schema if f.name in ROW_KEYS]}


def temporary_sibling(path: Path) -> Path:
    """The hidden temporary file `path` is written to before the rename (one per process)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _write_then_rename(path: Path, write, durable: bool = True) -> None:
    """Call write(file) on a temporary sibling, flush it to disk (if `durable`), rename it over `path`."""
    tmp = temporary_sibling(path)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())  # else a power cut after the rename can leave an empty file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Write a file via a temporary sibling and a rename. `durable=False` skips waiting for the disk: the
    file is still whole or absent after a crash of the process, but a power cut may leave it empty or
    cut short, so only a file whose reader checks it (a sealed chunk) may be written so."""
    _write_then_rename(path, lambda fh: fh.write(data), durable)


def atomic_write_table(path: Path, table: pa.Table) -> None:
    """Write a Parquet file via a temporary sibling and a rename."""
    _write_then_rename(path, lambda fh: pq.write_table(table, fh, **parquet_options(table.schema)))


def write_failure(path: Path, exc: OSError) -> UserError:
    """A failed write (disk full, quota, file too large, I/O error) as one line, not a traceback."""
    why = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
           errno.EFBIG: "a file grew beyond the size this system allows", errno.EROFS: "the disk is read-only",
           errno.EACCES: "permission denied", errno.EIO: "an input/output error"}.get(exc.errno, exc.strerror or str(exc))
    where = getattr(exc, "filename", None) or path
    return UserError([Problem(str(where), None, "write", f"could not write: {why}")])
