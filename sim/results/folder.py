"""Results folders: claiming one (the marker that makes it negsim's, the lock, --force and
--resume), the ledger of files negsim wrote there, and the manifest.

Layout of a results folder:
    manifest.json       what produced it (scenario hash, version, seed, command, parameters, times)
    chunks/             one Parquet file per finished chunk while a job runs (kept for --resume)
    runs.parquet        one row per run, sorted by (point, run)
    rounds.parquet      one row per (point, run, round, actor)
    points.parquet      sweeps only: one row per parameter point (`point` + one column per swept path)
Every file is written to a temporary name and renamed, so a crash never leaves a half file
(sim.results.atomic). The chunks, their seals and the merge are in sim.results.chunks; both are
re-exported here.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from sim.errors import Problem, UserError
from sim.results.atomic import (
    TEMPORARY,
    atomic_write_bytes,
    atomic_write_table,
    write_failure,
)
from sim.results.chunks import TABLES, SealedChunks, is_chunk_file

# Re-exported: callers import the whole folder format from here.
__all__ = ["LOCK", "MARKER", "MARKER_TOOL", "TABLES", "TEMPORARY", "ResultsFolder", "SealedChunks",
           "atomic_write_bytes", "atomic_write_table", "now_iso", "write_failure"]


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


#: The marker that makes a folder a negsim results folder: `--force` only ever touches a folder
#: that carries it, and then only the files it lists (and the chunk files of the job).
MARKER = ".negsim-results"
MARKER_TOOL = "negsim results folder"
LOCK = ".negsim-lock"


@dataclass
class ResultsFolder(SealedChunks):
    """A results folder being written or read; creating or opening one takes its lock."""

    path: Path
    job_id: str = ""
    _lock: object = field(default=None, repr=False, compare=False)

    @property
    def manifest_path(self) -> Path:
        """Where the manifest lives."""
        return self.path / "manifest.json"

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
            ours = (rel in owned or f.name == LOCK or (f.parent == self.chunk_dir and is_chunk_file(f.name))
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


def _out_path(path: str | Path, flag: str = "--out") -> Path:
    if str(path).strip() == "":
        raise UserError([Problem("", None, flag, "is empty; give a folder name")])
    return Path(path)


def _out_problem(path: Path, message: str) -> UserError:
    return UserError([Problem(str(path), None, "--out", message)])
