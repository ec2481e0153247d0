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

import errno
import hashlib
import io
import json
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
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


#: The marker that makes a folder a negsim results folder: `--force` only ever touches a folder
#: that carries it, and then only the files it lists (and the chunk files of the job).
MARKER = ".negsim-results"
MARKER_TOOL = "negsim results folder"
LOCK = ".negsim-lock"
#: Chunk files: `runs-000012.parquet`, `rounds-000012.parquet`, each with a `.sha256` sidecar.
_CHUNK = re.compile(r"^(runs|rounds)-(\d{6})\.parquet$")


@dataclass
class ResultsFolder:
    """A results folder being written or read; creating or opening one takes its lock."""

    path: Path
    job_id: str = ""
    _lock: object = field(default=None, repr=False, compare=False)

    @property
    def manifest_path(self) -> Path:
        """Where the manifest lives."""
        return self.path / "manifest.json"

    @property
    def chunk_dir(self) -> Path:
        """Where finished chunks are kept until the merge."""
        return self.path / "chunks"

    @property
    def marker_path(self) -> Path:
        """The marker file that says this folder is negsim's."""
        return self.path / MARKER

    # -- claiming a folder -----------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, force: bool = False, job_id: str | None = None) -> ResultsFolder:
        """Make a new results folder, locked; refuse one that exists unless `force`, which only
        replaces a negsim results folder, and only removes the files negsim wrote in it."""
        path = _out_path(path)
        job_id = job_id or uuid.uuid4().hex
        if path.is_symlink():
            raise _out_problem(path, "is a symbolic link; give the folder it points to, or another --out "
                                     "(nothing was written)")
        if path.exists() and not path.is_dir():
            raise _out_problem(path, "exists and is not a folder; choose another --out (nothing was written)")
        if path.exists():
            if not force:
                raise _out_problem(path, "results folder already exists; choose another --out, continue it with "
                                         "--resume, or replace it with --force (nothing was written)")
            folder = cls(path, job_id)
            # A folder holding only our lock and temporaries was killed right after its creation.
            contents = [p for p in path.iterdir() if p.name != LOCK and not p.name.endswith(".tmp")]
            if contents and not folder.is_ours():
                raise _out_problem(path, f"--force only replaces a results folder negsim wrote (one with its "
                                         f"{MARKER} marker); this is not one, so it was left untouched")
            folder._take_lock()
            kept = folder._remove_own_files()
            if kept:
                print(f"note: {path}: kept {len(kept)} file(s) negsim did not write: "
                      + ", ".join(sorted(kept)[:5]) + (" ..." if len(kept) > 5 else ""), file=sys.stderr)
        else:
            try:
                path.mkdir(parents=True)
            except FileExistsError:
                raise _out_problem(path, "was created by another process just now; choose another --out") from None
            except OSError as exc:
                raise _out_problem(path, f"cannot create the results folder: {exc.strerror}") from None
            folder = cls(path, job_id)
            folder._take_lock()
        try:
            folder._write_marker([])
            folder.chunk_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise write_failure(path, exc) from None
        return folder

    @classmethod
    def open(cls, path: str | Path) -> ResultsFolder:
        """An existing results folder, to resume; locked; a UserError if it is not one."""
        path = _out_path(path, flag="--resume")
        folder = cls(path)
        if not path.is_dir() or not (folder.is_ours() or folder._legacy()):
            raise UserError([Problem(str(path), None, "--resume", f"not a results folder (no {MARKER} marker "
                                                                  "and no manifest.json negsim wrote)")])
        folder._take_lock(flag="--resume")
        if not folder.manifest_path.is_file():
            raise UserError([Problem(str(path), None, "--resume",
                                     "the job stopped before it wrote its manifest, so there is nothing to "
                                     "resume; start it again with --force")])
        folder.job_id = folder._marker().get("job", "")
        return folder

    def is_ours(self) -> bool:
        """Whether the folder carries negsim's marker."""
        return self._marker().get("tool") == MARKER_TOOL

    def _legacy(self) -> bool:
        # Folders from before the marker: a manifest negsim wrote, recognised by its own keys.
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            return False
        return isinstance(manifest, dict) and "negsim_version" in manifest and "job" in manifest

    def _marker(self) -> dict:
        try:
            data = json.loads(self.marker_path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_marker(self, files: list[str]) -> None:
        data = {"tool": MARKER_TOOL, "format": 1, "job": self.job_id, "files": sorted(set(files))}
        atomic_write_bytes(self.marker_path, (json.dumps(data, indent=1) + "\n").encode())

    def own(self, *paths: str | Path) -> None:
        """Record files negsim wrote here (figures, reports), so that --force may remove them later."""
        marker = self._marker()
        if marker.get("tool") != MARKER_TOOL:
            return
        rel = [str(Path(p).resolve().relative_to(self.path.resolve())) if Path(p).is_absolute() else str(p)
               for p in paths]
        self.job_id = self.job_id or marker.get("job", "")
        self._write_marker(list(marker.get("files", [])) + rel)

    def _owned(self) -> set[str]:
        marker = self._marker()
        listed = set(marker.get("files", []))
        base = {"manifest.json", "runs.parquet", "rounds.parquet", "points.parquet", MARKER}
        return listed | base

    def _remove_own_files(self) -> list[str]:
        """Delete what negsim wrote (listed files, chunks, temporaries); return what was kept."""
        owned = self._owned()
        kept = []
        for f in sorted(self.path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            rel = str(f.relative_to(self.path))
            if f.is_dir() and not f.is_symlink():
                try:
                    f.rmdir()  # only when empty: a user's files keep their folder
                except OSError:
                    pass
                continue
            ours = (rel in owned or f.name == LOCK or (f.parent == self.chunk_dir and _is_chunk_file(f.name))
                    or (f.name.startswith(".") and f.name.endswith(".tmp")))
            if not ours:
                kept.append(rel)
            elif f.name != LOCK:
                f.unlink(missing_ok=True)
        return kept

    def _take_lock(self, flag: str = "--out") -> None:
        """An exclusive lock on the folder for the life of this process (or until released)."""
        import fcntl

        try:
            fh = open(self.path / LOCK, "a+")
        except OSError as exc:
            raise UserError([Problem(str(self.path), None, flag, f"cannot lock the folder: {exc.strerror}")]) from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            try:
                process = json.loads(self.manifest_path.read_text()).get("process") or {}
            except (OSError, ValueError, AttributeError):
                process = {}
            who = (f"this job is still running (process {process['pid']} on this machine)" if process.get("pid")
                   else "another negsim process is using this folder now")
            raise UserError([Problem(str(self.path), None, flag, f"{who}; stop it first, or wait for it, "
                                                                 "or choose another --out")]) from None
        self._lock = fh

    def release(self) -> None:
        """Give up the folder's lock (it also goes when the process ends)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

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
        """The manifest, or a UserError saying what is wrong with it."""
        try:
            data = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise UserError([Problem(str(self.path), None, "manifest.json", "not a results folder (no manifest.json)")]) from None
        except json.JSONDecodeError as exc:
            raise UserError([Problem(str(self.manifest_path), exc.lineno, "manifest.json",
                                     f"not valid JSON ({exc.msg}); the folder is damaged: start the job "
                                     "again with --force")]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError([Problem(str(self.manifest_path), None, "manifest.json",
                                     f"cannot be read ({exc}); start the job again with --force")]) from None
        if not isinstance(data, dict):
            raise UserError([Problem(str(self.manifest_path), 1, "manifest.json",
                                     "not a negsim manifest (not a JSON object); start the job again with --force")])
        return data

    # -- chunks ---------------------------------------------------------------------------

    def chunk_file(self, table: str, chunk_id: int) -> Path:
        """File name of one chunk of one table."""
        return self.chunk_dir / f"{table}-{chunk_id:06d}.parquet"

    def write_chunk(self, chunk_id: int, tables: dict[str, pa.Table]) -> None:
        """Store a finished chunk with a checksum and the job's identity beside each file; the runs
        file and its checksum go last, so their presence means the chunk is whole."""
        for name in sorted(tables, key=lambda n: n == "runs"):
            target = self.chunk_file(name, chunk_id)
            buffer = io.BytesIO()
            pq.write_table(tables[name], buffer, compression="zstd")
            data = buffer.getvalue()
            atomic_write_bytes(target, data)
            seal = {"sha256": hashlib.sha256(data).hexdigest(), "rows": tables[name].num_rows,
                    "job": self.job_id, "chunk": chunk_id, "table": name}
            atomic_write_bytes(_seal_path(target), json.dumps(seal).encode())

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
        plans in (point, run) order, so each chunk only needs sorting within itself; should the ids
        ever disagree with that order the whole table is sorted in memory instead. Overlapping
        chunks (duplicate runs) are an error.
        """
        ids = sorted(self.finished_chunks() if chunk_ids is None else chunk_ids)
        counts = {}
        for name in TABLES:
            files = [self.chunk_file(name, cid) for cid in ids if self.chunk_file(name, cid).is_file()]
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
            for pattern in ("runs-*.sha256", "runs-*.parquet", "*.sha256", "*.parquet", TEMPORARY):
                for f in self.chunk_dir.glob(pattern):
                    if _is_chunk_file(f.name) or f.name.startswith("."):
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


def _seal_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _is_chunk_file(name: str) -> bool:
    base = name[:-len(".sha256")] if name.endswith(".sha256") else name
    return _CHUNK.match(base) is not None


def _out_path(path: str | Path, flag: str = "--out") -> Path:
    if str(path).strip() == "":
        raise UserError([Problem("", None, flag, "is empty; give a folder name")])
    return Path(path)


def _out_problem(path: Path, message: str) -> UserError:
    return UserError([Problem(str(path), None, "--out", message)])


def write_failure(path: Path, exc: OSError) -> UserError:
    """A failed write (disk full, quota, file too large, I/O error) as one line, not a traceback."""
    why = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
           errno.EFBIG: "a file grew beyond the size this system allows", errno.EROFS: "the disk is read-only",
           errno.EACCES: "permission denied", errno.EIO: "an input/output error"}.get(exc.errno, exc.strerror or str(exc))
    where = getattr(exc, "filename", None) or path
    return UserError([Problem(str(where), None, "write", f"could not write: {why}")])


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
