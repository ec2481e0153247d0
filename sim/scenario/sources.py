"""Local copies of a scenario's sources: a `path` must name a regular file of bounded size inside
the scenario's folder, and every quote cited from such a copy must appear in it.

Only file metadata is read before a copy is accepted, so a named pipe, a device or a huge file
never blocks or exhausts the loader; a source given only by URL is trusted as written.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from sim.scenario.yamlsrc import SourceMap, not_regular, read_regular

#: The largest local copy of a source whose quotes are checked (read whole, so bounded).
MAX_SOURCE_BYTES = 20_000_000


def _resolve_inside(base_dir: Path | None, rel: str) -> Path | None:
    if base_dir is None:
        return None
    try:
        root = base_dir.resolve()
        target = (root / rel).resolve()
    except (OSError, ValueError, RuntimeError):  # a NUL byte, an unencodable name, a symlink loop
        return None
    return target if target.is_relative_to(root) else None


def _stat(target: Path) -> os.stat_result | None:
    try:
        return target.stat()
    except (OSError, ValueError):  # missing, or a folder on the way that we may not enter
        return None


def _source_problem(target: Path, rel: str) -> str | None:
    """Why a local source copy cannot be used (missing, not a regular file, too big), or None.

    Only the file's metadata is read: a named pipe or a device is never opened (opening a pipe
    blocks until something writes to it), and a huge file is refused before it is read.
    """
    st = _stat(target)
    if st is None:
        return f"no file {rel!r} next to the scenario"
    if problem := not_regular(st):
        return f"{rel!r} is {problem}"
    if st.st_size > MAX_SOURCE_BYTES:
        return f"{rel!r} is {st.st_size:,} bytes; the limit for a source file is {MAX_SOURCE_BYTES:,}"
    return None


def check_source_path(out: list, srcmap: SourceMap, path: tuple, rel: str, base_dir: Path | None) -> None:
    """A source's `path` names a usable file inside `base_dir` (nothing is checked without one)."""
    if base_dir is None:
        return
    if "\x00" in rel:
        out.append(srcmap.problem(path, f"{rel!r} is not a usable file name (it contains a NUL character)"))
        return
    target = _resolve_inside(base_dir, rel)
    if target is None:
        out.append(srcmap.problem(path, f"{rel!r} points outside the scenario's folder"))
    elif problem := _source_problem(target, rel):
        out.append(srcmap.problem(path, problem))


def _normalise(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


@functools.lru_cache(maxsize=2)
def _source_text(name: str, size: int, mtime_ns: int) -> str:
    """A source copy's normalised text, cached by name, size and time of change: a source is
    usually cited many times, and a sweep validates many points. Read without blocking, so a
    file replaced by a named pipe since it was checked fails instead of hanging."""
    raw = read_regular(name, MAX_SOURCE_BYTES)
    return _normalise(raw[:MAX_SOURCE_BYTES].decode("utf-8", errors="replace"))


def check_quote(out: list, srcmap: SourceMap, path: tuple, source, quote: str, base_dir: Path | None) -> None:
    """The pieces of `quote` (split at ellipses) appear in the source's local copy, if it has one;
    a source given only by URL is trusted as written."""
    if source.path is None or base_dir is None:
        return
    target = _resolve_inside(base_dir, source.path)
    st = None if target is None else _stat(target)
    if st is None or not_regular(st) or st.st_size > MAX_SOURCE_BYTES:
        return  # reported by check_source_path
    try:
        text = _source_text(str(target), st.st_size, st.st_mtime_ns)
    except OSError as exc:
        out.append(srcmap.problem(path, f"cannot read {source.path} to check the quote: {exc.strerror or exc}"))
        return
    pieces = [piece for piece in re.split(r"\s*(?:\.\.\.|…)\s*", quote) if piece.strip()]
    for piece in pieces:
        if _normalise(piece).strip("\"' ") not in text:
            out.append(srcmap.problem(path, f"quote not found in {source.path}: {piece[:60]!r}"))
            return
