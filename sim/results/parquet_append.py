"""One Parquet file made of other Parquet files' row groups, copied as they are (the merge of a job's chunks).

A Parquet file is b"PAR1", the column chunks' pages, a footer (Thrift compact protocol: the
schema, and per row group the byte offsets of its column chunks), its length and b"PAR1". The
pages hold no offsets, so the files' pages copied one after another need only one new footer:
the first file's, with every file's row groups, their offsets moved by where the pages landed.
The footer is decoded and encoded here field by field (pyarrow can write a footer but not adopt
another file's pages); anything this code does not know (page indexes, encryption, another
schema, rows out of order) makes `append_row_groups` decline, and the caller decodes instead.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from sim.results.atomic import temporary_sibling

_BOOLS, _I8, _INTS, _DOUBLE, _BINARY, _LISTS, _STRUCT = (1, 2), 3, (4, 5, 6), 7, 8, (9, 10), 12
_MAGIC = b"PAR1"
#: Offsets into the file: RowGroup.file_offset; ColumnChunk.file_offset; ColumnMetaData's
#: data_page_offset, index_page_offset, dictionary_page_offset, bloom_filter_offset.
_GROUP_OFFSETS, _CHUNK_OFFSETS, _META_OFFSETS = (5,), (2,), (9, 10, 11, 14)
#: Fields this code does not handle (another file's pages, page indexes, encryption): a file with
#: one is merged by decoding it instead.
_FILE_UNKNOWN, _CHUNK_UNKNOWN = (8, 9), (1, 4, 6, 8, 9)


#: Which fields the merge decodes (a nested plan for a struct or a list of structs, True for a whole
#: value); any other field is kept as its raw bytes and written back as it was, which spares
#: decoding and encoding most of a footer (the encodings, page statistics, the schema).
_META_PLAN = {3: True, 9: True, 10: True, 11: True, 12: True, 14: True}
_CHUNK_PLAN = {2: True, 3: _META_PLAN}
_GROUP_PLAN = {1: _CHUNK_PLAN, 3: True, 4: True, 5: True, 7: True}
_FILE_PLAN = {3: True, 4: _GROUP_PLAN}


class _Raw(bytes):
    """A value kept as its encoded bytes."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        out |= (b & 0x7F) << shift
        if b < 0x80:
            return out, pos
        shift += 7


def _skip(buf: bytes, pos: int, ttype: int) -> int:
    """The position after one value of type `ttype` at `pos`."""
    if ttype in _INTS:
        while buf[pos] & 0x80:
            pos += 1
        return pos + 1
    if ttype == _BINARY:
        n, pos = _varint(buf, pos)
        return pos + n
    if ttype == _STRUCT:
        while buf[pos]:
            head = buf[pos]
            pos = _skip(buf, pos + 1, 4) if not head >> 4 else pos + 1
            pos = _skip(buf, pos, head & 0x0F)
        return pos + 1
    if ttype in _LISTS:
        head = buf[pos]
        n, elem, pos = head >> 4, head & 0x0F, pos + 1
        if n == 15:
            n, pos = _varint(buf, pos)
        if elem in _BOOLS or elem == _I8:
            return pos + n
        if elem == _DOUBLE:
            return pos + 8 * n
        for _ in range(n):
            pos = _skip(buf, pos, elem)
        return pos
    if ttype in _BOOLS:
        return pos
    if ttype == _I8:
        return pos + 1
    if ttype == _DOUBLE:
        return pos + 8
    raise ValueError(f"Thrift type {ttype} is not expected in a Parquet footer")


def _decode(buf: bytes, pos: int, ttype: int, plan=True):
    """(value, next position) of one Thrift compact value; a struct is a list of [field, type, value],
    where a field `plan` does not name is its raw bytes (_Raw)."""
    if ttype in _INTS:
        v, pos = _varint(buf, pos)
        return (v >> 1) ^ -(v & 1), pos
    if ttype == _STRUCT:
        fields, fid = [], 0
        while buf[pos]:
            head = buf[pos]
            pos += 1
            if head >> 4:
                fid += head >> 4
            else:
                fid, pos = _decode(buf, pos, 4)
            t = head & 0x0F
            sub = plan is True or plan.get(fid)
            if sub:
                value, pos = _decode(buf, pos, t, sub)
            else:
                end = _skip(buf, pos, t)
                value, pos = _Raw(buf[pos:end]), end
            fields.append([fid, t, value])
        return fields, pos + 1
    if ttype == _BINARY:
        n, pos = _varint(buf, pos)
        return buf[pos:pos + n], pos + n
    if ttype in _LISTS:
        head = buf[pos]
        n, elem, pos = head >> 4, head & 0x0F, pos + 1
        if n == 15:
            n, pos = _varint(buf, pos)
        items = []
        for _ in range(n):
            item, pos = _decode(buf, pos, _I8 if elem in _BOOLS else elem, plan)  # a listed boolean is a byte
            items.append(item)
        return (elem, items), pos
    if ttype in _BOOLS:  # a struct field's boolean lives in its type
        return None, pos
    if ttype == _I8:
        return buf[pos], pos + 1
    if ttype == _DOUBLE:
        return buf[pos:pos + 8], pos + 8
    raise ValueError(f"Thrift type {ttype} is not expected in a Parquet footer")


def _put_varint(out: bytearray, v: int) -> None:
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)


def _encode(out: bytearray, ttype: int, value) -> None:
    """Append one value as _decode read it."""
    if type(value) is _Raw:
        out += value
    elif ttype in _INTS:
        _put_varint(out, (value << 1) ^ (value >> 63))
    elif ttype == _STRUCT:
        last = 0
        for fid, t, v in value:
            if 0 < fid - last <= 15:
                out.append((fid - last) << 4 | t)
            else:
                out.append(t)
                _put_varint(out, (fid << 1) ^ (fid >> 63))
            _encode(out, t, v)
            last = fid
        out.append(0)
    elif ttype in (_DOUBLE, _BINARY):
        if ttype == _BINARY:
            _put_varint(out, len(value))
        out += value
    elif ttype in _LISTS:
        elem, items = value
        out.append(len(items) << 4 | elem if len(items) < 15 else 0xF0 | elem)
        if len(items) >= 15:
            _put_varint(out, len(items))
        for item in items:
            _encode(out, _I8 if elem in _BOOLS else elem, item)
    elif ttype == _I8:
        out.append(value)


def _get(struct: list, fid: int, default=None):
    return next((v for f, _, v in struct if f == fid), default)


def _set(struct: list, fid: int, value) -> None:
    for field in struct:
        if field[0] == fid:
            field[2] = value


def _read_footer(path: Path) -> tuple[list, int]:
    """A Parquet file's decoded footer and where its pages end."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(size - 8)
        tail = fh.read(8)
        n = int.from_bytes(tail[:4], "little")
        if tail[4:] != _MAGIC or n + 12 > size:
            raise ValueError(f"{path} is not a Parquet file")
        fh.seek(size - 8 - n)
        return _decode(fh.read(n), 0, _STRUCT, _FILE_PLAN)[0], size - 8 - n


def _key_range(group: list, keys: tuple[str, ...]) -> tuple[tuple, tuple] | None:
    """(first, last) (point, run) of a row group sorted by `keys`, from its statistics; None if unsure."""
    chunks = _get(group, 1)[1]
    paths = [b".".join(_get(_get(c, 3), 3)[1]).decode() for c in chunks]
    if any(_get(c, f) is not None for c in chunks for f in _CHUNK_UNKNOWN):
        return None
    sorting = [(_get(s, 1), _get_bool(s, 2), _get_bool(s, 3)) for s in (_get(group, 4) or (0, []))[1]]
    if [p for p in keys if p not in paths] or sorting != [(paths.index(k), False, False) for k in keys]:
        return None
    bounds = []
    for key in keys[:2]:
        stats = _get(_get(chunks[paths.index(key)], 3), 12) or []
        low, high = _get(stats, 6), _get(stats, 5)
        if low is None or high is None or len(low) != 8 or _get(stats, 3, 0):
            return None
        bounds.append((int.from_bytes(low, "little", signed=True), int.from_bytes(high, "little", signed=True)))
    (p0, p1), (r0, r1) = bounds
    return ((p0, r0), (p1, r1)) if p0 == p1 else None  # one point per chunk, else the runs' ends are unknown


def _get_bool(struct: list, fid: int) -> bool | None:
    return next((t == 1 for f, t, _ in struct if f == fid), None)


class RowGroupAppender:
    """`target` built from other Parquet files' row groups, one file at a time, their pages copied as they
    are: `add` each file (in (point, run) order), then `finish`, or `abort` to write nothing.

    A file is declined (add returns False, and the appender takes no more) unless it has the first
    file's schema, each row group says it is sorted by `keys`, and its rows follow those before
    without overlapping. The pages go to a hidden temporary file as each file is added, so that a
    job's merge can run while its later chunks are still being simulated.
    """

    def __init__(self, keys: tuple[str, ...], target: Path):
        self.keys, self.target = keys, Path(target)
        self._tmp = temporary_sibling(self.target)
        self._out = None
        self._first: list | None = None
        self._last: tuple | None = None
        # Each appended row group, encoded at once: a job's merge holds thousands, and as decoded lists they
        # would be objects for Python's cycle collector to walk after every chunk (it slowed a 1M-run job 2x).
        self._groups: list[_Raw] = []
        self._rows = 0
        self.declined = False

    def add(self, path: Path) -> bool:
        """Append the row groups of the file at `path`; False if it cannot be appended as it is."""
        if self.declined:
            return False
        try:
            footer, end = _read_footer(path)
        except (ValueError, IndexError):
            return self._decline()
        first = self._first if self._first is not None else footer
        if any(_get(footer, fid) is not None for fid in _FILE_UNKNOWN) or any(
                _get(footer, fid) != _get(first, fid) for fid in (2, 5, 7)):
            return self._decline()
        groups, last = [], self._last
        for group in _get(footer, 4, (_STRUCT, []))[1]:
            if not _get(group, 3):
                continue  # an empty row group: nothing to order, nothing to keep
            span = _key_range(group, self.keys)
            if span is None or (last is not None and span[0] <= last):
                return self._decline()
            last = span[1]
            groups.append(group)
        if self._out is None:
            self._out = open(self._tmp, "wb", buffering=0)
            _write_all(self._out, _MAGIC)
        start = self._out.tell()
        with open(path, "rb", buffering=0) as src:
            _copy(src, self._out, len(_MAGIC), end - len(_MAGIC))
        for group in groups:
            _shift(group, start - len(_MAGIC))
            _set(group, 7, len(self._groups))  # its ordinal in the merged file
            data = bytearray()
            _encode(data, _STRUCT, group)
            self._groups.append(_Raw(data))
            self._rows += _get(group, 3)
        self._first, self._last = first, last
        return True

    def finish(self) -> int | None:
        """Write the footer and move the file into place; return its rows (None, nothing written, if no
        file was added)."""
        if self._out is None or self.declined:
            self.abort()
            return None
        try:
            footer = [list(field) for field in self._first]
            rows = self._rows
            _set(footer, 3, rows)
            _set(footer, 4, (_STRUCT, self._groups))
            data = bytearray()
            _encode(data, _STRUCT, footer)
            _write_all(self._out, bytes(data) + len(data).to_bytes(4, "little") + _MAGIC)
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None
            os.replace(self._tmp, self.target)
        except BaseException:
            self.abort()
            raise
        return rows

    def abort(self) -> None:
        """Drop what was appended (the temporary file); the target is left as it was."""
        if self._out is not None:
            self._out.close()
            self._out = None
        self._tmp.unlink(missing_ok=True)

    def _decline(self) -> bool:
        self.declined = True
        self.abort()
        return False


def append_row_groups(files: list[Path], keys: tuple[str, ...], target: Path) -> int | None:
    """Write `target` as the files' row groups one after another, copied as they are; return its rows.

    None (and nothing written) if any file is declined (see RowGroupAppender).
    """
    appender = RowGroupAppender(keys, target)
    try:
        for f in files:
            if not appender.add(f):
                return None
        return appender.finish()
    except BaseException:
        appender.abort()
        raise


def _shift(group: list, by: int) -> None:
    for field in group:
        if field[0] in _GROUP_OFFSETS and field[2]:
            field[2] += by
    for chunk in _get(group, 1)[1]:
        for field in chunk:
            if field[0] in _CHUNK_OFFSETS and field[2]:
                field[2] += by
        for field in _get(chunk, 3):
            if field[0] in _META_OFFSETS and field[2]:
                field[2] += by


def _copy(src, out, start: int, count: int) -> None:
    """Copy `count` bytes of `src` from `start` to the end of `out`, in the kernel where it can."""
    try:
        while count > 0:
            n = os.copy_file_range(src.fileno(), out.fileno(), count, start)
            if n == 0:
                raise OSError(errno.EIO, "a chunk file ended early", src.name)
            start, count = start + n, count - n
        return
    except AttributeError:
        pass  # not Linux
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
            raise
    src.seek(start)
    while count > 0:
        block = src.read(min(count, 1 << 24))
        if not block:
            raise OSError(errno.EIO, "a chunk file ended early", src.name)
        _write_all(out, block)
        count -= len(block)


def _write_all(out, data: bytes) -> None:
    # An unbuffered write may write less than asked (a full disk says so only on the next write).
    view = memoryview(data)
    while view:
        view = view[out.write(view):]
