"""Safe YAML reading that remembers the line of every value.

PyYAML's SafeLoader composes the node tree; we build the Python objects ourselves so that
we can (a) record the line of every key path for error messages, (b) reject duplicate keys,
(c) refuse any tag beyond plain YAML data, and (d) bound the work an alias bomb or a deeply
nested document can cause. Booleans follow YAML 1.2 (only true/false), so an option named
`no` or `off` stays a string; so do floats (`1e-3` is a number, as in YAML 1.2). Only regular
files are read (a named pipe or a device is refused before it is opened), up to MAX_BYTES.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sim.errors import Problem, ScenarioError

# The largest shipped scenario is ~110 KB and ~8,000 nodes; these bounds keep the pure-Python
# YAML parser's worst case around a second while leaving room for much larger real scenarios.
MAX_BYTES = 512_000
MAX_NODES = 50_000
MAX_DEPTH = 60

_STD = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_ALLOWED_TAGS = _SCALAR_TAGS | {_STD + "map", _STD + "seq"}
#: What each scalar tag reads as, for error messages.
_SCALAR_KINDS = {_STD + "int": "a whole number", _STD + "float": "a number", _STD + "bool": "true or false",
                 _STD + "timestamp": "a date", _STD + "null": "null", _STD + "str": "text"}
_BOOL_12 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (yes/no/on/off are strings) that stops composing early.

    The node and depth limits are enforced while the node tree is composed, so a huge flow
    list, an alias bomb or thousands of `[` are refused as soon as they pass the limit, not
    after the whole document has been read (and before Python's recursion limit is reached).
    Counts match `_Builder`'s: every value node (not mapping keys), an alias counting as the
    size of the node it repeats; depth counts keys too, so nested complex keys are bounded.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._negsim_nodes = 0
        self._negsim_depth = 0

    def compose_node(self, parent, index):  # noqa: D102 (PyYAML's hook)
        is_key = isinstance(parent, yaml.MappingNode) and index is None
        self._negsim_depth += 1
        try:
            event = self.peek_event()
            if self._negsim_depth > MAX_DEPTH + 1:
                raise _TooBig(f"nested deeper than {MAX_DEPTH} levels", event.start_mark.line + 1)
            before = self._negsim_nodes
            if isinstance(event, yaml.AliasEvent):
                target = self.anchors.get(event.anchor)
                if not is_key:
                    self._negsim_nodes += getattr(target, "negsim_size", 1)
            elif not is_key:
                self._negsim_nodes += 1
            if self._negsim_nodes > MAX_NODES:
                raise _TooBig(f"more than {MAX_NODES} YAML nodes (an alias bomb?)", event.start_mark.line + 1)
            node = super().compose_node(parent, index)
            if not isinstance(event, yaml.AliasEvent):
                node.negsim_size = max(1, self._negsim_nodes - before)
            return node
        finally:
            self._negsim_depth -= 1


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _STD + "bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_STD + "bool", _BOOL_12, list("tTfF"))
# YAML 1.1 floats need a dot and a signed exponent, so PyYAML reads `1e-3`, `2E5` or `1e308` as
# text; YAML 1.2 (and every reader of a scenario) reads them as numbers. The schema takes no
# text for a number, so they are resolved as floats here (the 1.1 forms stay floats too).
_FLOAT_12 = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_Loader.add_implicit_resolver(_STD + "float", _FLOAT_12, list("-+0123456789."))


Path_ = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Line numbers (1-based) of every key path in one YAML document."""

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def problem(self, path: Path_, message: str) -> Problem:
        """A Problem located at `path` in this file."""
        return Problem(self.file, self.line_of(path), dotted(path), message)


def dotted(path: Path_) -> str:
    """`('actors', 'ukraine', 'weights', 'crimea')` -> `actors.ukraine.weights.crimea`.

    A key with a line break or another control character is quoted (`repr`), so that every
    problem stays on one line of output.
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            out += ("." if out else "") + (text if text.isprintable() else repr(text))
    return out


class _Builder:
    def __init__(self, srcmap: SourceMap):
        self.srcmap = srcmap
        self.nodes = 0
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooBig(f"more than {MAX_NODES} YAML nodes (an alias bomb?)", node.start_mark.line + 1)
        if depth > MAX_DEPTH:
            raise _TooBig(f"nested deeper than {MAX_DEPTH} levels", node.start_mark.line + 1)
        self.srcmap.lines.setdefault(path, node.start_mark.line + 1)
        if node.tag not in _ALLOWED_TAGS:
            self.problems.append(self.srcmap.problem(path, f"tag {node.tag!r} is not allowed; "
                                                           "scenarios are plain YAML data"))
            return None
        if isinstance(node, yaml.MappingNode):
            if node.tag != _STD + "map":
                return self._misfit(node, path, "a mapping")
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _STD + "seq":
                return self._misfit(node, path, "a list")
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        if node.tag not in _SCALAR_TAGS:
            return self._misfit(node, path, "a plain value")
        try:
            return _scalar_value(node)
        except Exception as exc:  # noqa: BLE001 -- PyYAML's constructors raise anything on odd input
            # `!!int ''`, `!!bool maybe`, `!!timestamp x`, `2025-13-45`, a 5000-digit number, ...
            reason = " ".join(str(exc).split()) if isinstance(exc, ValueError) else ""
            if "Exceeds the limit" in reason:
                reason = "too many digits"
            self.problems.append(self.srcmap.problem(
                path, f"cannot read {_short(node.value)} as {_SCALAR_KINDS[node.tag]}"
                      + (f" ({_short(reason, 80, False)})" if reason else "")))
            return None

    def _misfit(self, node: yaml.Node, path: Path_, what: str) -> None:
        self.problems.append(self.srcmap.problem(path, f"tag {node.tag!r} does not fit {what}; "
                                                       "scenarios are plain YAML data"))
        return None

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict:
        out: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == _STD + "merge":
                self.problems.append(self.srcmap.problem(path, "merge keys (<<) are not supported"))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(self.srcmap.problem(path, "mapping keys must be plain scalars"))
                continue
            if key_node.tag not in _SCALAR_TAGS:
                self.problems.append(Problem(self.srcmap.file, key_node.start_mark.line + 1, dotted(path),
                                             f"tag {key_node.tag!r} is not allowed on a key; "
                                             "scenarios are plain YAML data"))
                continue
            key = str(key_node.value)
            child = path + (key,)
            if key in out:
                first = self.srcmap.lines.get(child)
                self.problems.append(Problem(self.srcmap.file, key_node.start_mark.line + 1,
                                             dotted(child), f"duplicate key (first defined on line {first})"))
                continue
            self.srcmap.lines[child] = key_node.start_mark.line + 1
            out[key] = self.build(value_node, child, depth + 1)
        return out


class _TooBig(Exception):
    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


def _short(value: str, limit: int = 40, quote: bool = True) -> str:
    text = repr(value) if quote else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _scalar_value(node: yaml.ScalarNode) -> Any:
    return _Loader.yaml_constructors[node.tag](_CONSTRUCTOR, node)


_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def not_regular(st: os.stat_result) -> str | None:
    """`not a regular file (a named pipe)` and the like, or None for a regular file."""
    if stat.S_ISREG(st.st_mode):
        return None
    kind = next((what for test, what in _KINDS if test(st.st_mode)), "something else")
    return f"not a regular file ({kind})"


def read_regular(path: Path | str, limit: int) -> bytes:
    """At most `limit` + 1 bytes of a regular file; OSError (or ValueError) otherwise.

    The file is opened without blocking and checked again once open, so a named pipe swapped
    in after the caller's own check cannot hang the read.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        if problem := not_regular(os.fstat(fd)):
            raise OSError(problem)
        return fh.read(limit + 1)


def read_head(path: Path | str, limit: int) -> bytes:
    """The first `limit` bytes of a regular file, or b"" for anything else; never blocks.

    For sniffing a file's kind before loading it: a named pipe is not opened, so the loader
    that follows can refuse it with its own message.
    """
    try:
        if not_regular(os.stat(path)):
            return b""
        return read_regular(path, limit)[:limit]
    except (OSError, ValueError):
        return b""


def read_bytes(path: Path) -> bytes:
    """A file's bytes, or a ScenarioError saying plainly why it cannot be read.

    Anything but a regular file (a named pipe, a device, a socket, a directory) is refused
    from its metadata, before it is opened; so is a file over MAX_BYTES.
    """
    name = str(path)

    def fail(message: str) -> ScenarioError:
        return ScenarioError([Problem(name, None, "", message)])

    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise fail("is a directory, not a scenario file")
        if problem := not_regular(st):
            raise fail(f"{problem}; give a file")
        if st.st_size > MAX_BYTES:
            raise fail(f"file is {st.st_size:,} bytes; the limit is {MAX_BYTES:,}")
        raw = read_regular(path, MAX_BYTES)
        if len(raw) > MAX_BYTES:  # it grew since
            raise fail(f"file is more than {MAX_BYTES:,} bytes; the limit is {MAX_BYTES:,}")
        return raw
    except FileNotFoundError:
        raise fail("no such file") from None
    except IsADirectoryError:
        raise fail("is a directory, not a scenario file") from None
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from None
    except ValueError:  # a NUL byte or an unencodable character in the name
        raise fail("not a usable file name") from None


def parse_yaml(raw: bytes, name: str) -> tuple[Any, SourceMap]:
    """Parse YAML bytes (see read_yaml)."""
    srcmap = SourceMap(name)
    if len(raw) > MAX_BYTES:
        raise ScenarioError([Problem(name, None, "", f"file is {len(raw):,} bytes; the limit is {MAX_BYTES:,}")])
    if b"\x00" in raw:
        raise ScenarioError([Problem(name, None, "", "binary file (contains NUL bytes), not YAML")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError([Problem(name, line, "", "not valid UTF-8 text")]) from None
    if not text.strip():
        raise ScenarioError([Problem(name, None, "", "file is empty")])
    loader = None
    try:
        loader = _Loader(text)  # checks for unprintable characters straight away
        node = loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise ScenarioError([Problem(name, line, "", f"YAML error: character {char} is not allowed "
                                                     "(control characters cannot appear in YAML)")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = exc.problem or exc.context or "cannot parse"
        if exc.context and exc.problem and exc.problem.startswith("but "):
            msg = f"{exc.context}, {exc.problem}"  # "expected a single document in the stream, but found another"
        elif exc.context and exc.context_mark and exc.problem and "end of stream" in exc.problem:
            # An unclosed quote or bracket: point at where it was opened, not at the end of the file.
            mark = exc.context_mark
            msg = f"{exc.context}: {exc.problem}"
        elif exc.context and exc.context_mark and mark and exc.context_mark.line < mark.line:
            msg = f"{msg} ({exc.context} that starts on line {exc.context_mark.line + 1})"
        line = mark.line + 1 if mark else None
        if "\t" in msg or "found character '\\t'" in str(exc):
            msg = "tab characters cannot indent YAML; use spaces"
        raise ScenarioError([Problem(name, line, "", f"YAML syntax error: {' '.join(msg.split())}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(name, None, "", f"YAML error: {' '.join(str(exc).split())}")]) from None
    except _TooBig as exc:
        raise ScenarioError([Problem(name, exc.line, "", str(exc))]) from None
    except RecursionError:
        raise ScenarioError([Problem(name, None, "", f"nested deeper than {MAX_DEPTH} levels")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        raise ScenarioError([Problem(name, None, "", "file is empty")])
    builder = _Builder(srcmap)
    try:
        data = builder.build(node, (), 0)
    except _TooBig as exc:
        raise ScenarioError([Problem(name, exc.line, "", str(exc))]) from None
    except RecursionError:
        raise ScenarioError([Problem(name, None, "", f"nested deeper than {MAX_DEPTH} levels")]) from None
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        raise ScenarioError([Problem(name, None, "", f"cannot read value: {exc}")]) from None
    if builder.problems:
        raise ScenarioError(builder.problems)
    return data, srcmap
