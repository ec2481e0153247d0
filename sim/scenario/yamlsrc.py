"""Safe YAML reading that remembers the line of every value.

PyYAML's SafeLoader composes the node tree; we build the Python objects ourselves so that
we can (a) record the line of every key path for error messages, (b) reject duplicate keys,
(c) refuse any tag beyond plain YAML data, and (d) bound the work an alias bomb or a deeply
nested document can cause. Booleans follow YAML 1.2 (only true/false), so an option named
`no` or `off` stays a string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sim.errors import Problem, ScenarioError

MAX_BYTES = 2_000_000
MAX_NODES = 200_000
MAX_DEPTH = 60

_STD = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}
_BOOL_12 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (yes/no/on/off are strings)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _STD + "bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_STD + "bool", _BOOL_12, list("tTfF"))


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
    """`('actors', 'ukraine', 'weights', 'crimea')` -> `actors.ukraine.weights.crimea`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _Builder:
    def __init__(self, srcmap: SourceMap):
        self.srcmap = srcmap
        self.nodes = 0
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooBig(f"more than {MAX_NODES} YAML nodes (an alias bomb?)", node)
        if depth > MAX_DEPTH:
            raise _TooBig(f"nested deeper than {MAX_DEPTH} levels", node)
        self.srcmap.lines.setdefault(path, node.start_mark.line + 1)
        if node.tag not in _ALLOWED_TAGS:
            self.problems.append(self.srcmap.problem(path, f"tag {node.tag!r} is not allowed; "
                                                           "scenarios are plain YAML data"))
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return _scalar_value(node)

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict:
        out: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == _STD + "merge":
                self.problems.append(self.srcmap.problem(path, "merge keys (<<) are not supported"))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(self.srcmap.problem(path, "mapping keys must be plain scalars"))
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
    def __init__(self, message: str, node: yaml.Node):
        super().__init__(message)
        self.line = node.start_mark.line + 1


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _scalar_value(node: yaml.ScalarNode) -> Any:
    return _Loader.yaml_constructors[node.tag](_CONSTRUCTOR, node)


def read_bytes(path: Path) -> bytes:
    """A file's bytes, or a ScenarioError saying plainly why it cannot be read."""
    name = str(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            raise ScenarioError([Problem(name, None, "", f"file is {path.stat().st_size:,} bytes; "
                                                         f"the limit is {MAX_BYTES:,}")])
        return path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError([Problem(name, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError([Problem(name, None, "", "is a directory, not a scenario file")]) from None
    except OSError as exc:
        raise ScenarioError([Problem(name, None, "", f"cannot read: {exc.strerror}")]) from None


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
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = exc.problem or str(exc)
        if "\t" in msg or "found character '\\t'" in str(exc):
            msg = "tab characters cannot indent YAML; use spaces"
        raise ScenarioError([Problem(name, line, "", f"YAML syntax error: {msg}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(name, None, "", f"YAML error: {exc}")]) from None
    except RecursionError:
        raise ScenarioError([Problem(name, None, "", f"nested deeper than {MAX_DEPTH} levels")]) from None
    finally:
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
