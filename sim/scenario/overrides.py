"""Overriding scenario fields by dotted path (`--set`, `--grid`, `--sample`, sensitivity analysis).

A path names a field of the parsed YAML the way error messages do:
`actors.ukraine.weights.donetsk`, `actors.alpha.interactions[0].delta` (or `interactions.0.delta`),
`actors.beta.reservation.value.mean`. A path must exist in the file, or be an optional field the
schema declares on a mapping that exists (`protocol.temperature` when the file leaves it at its
default); anything else is an error listing the nearest valid paths. Overrides are applied to
the parsed data before validation, so an overridden scenario is checked exactly like a file.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import types
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from sim.errors import Problem, ScenarioError
from sim.scenario.yamlsrc import SourceMap, dotted, parse_yaml

Path_ = tuple[str | int, ...]

_NAME = re.compile(r"[^.\[\]\s]+")
_INDEX = re.compile(r"\[(\d+)\]")


def parse_path(text: str) -> Path_:
    """`a.b[0].c` or `a.b.0.c` -> ('a', 'b', 0, 'c'); ValueError if it is not a dotted path."""
    s = text.strip()
    parts: list[str | int] = []
    pos = 0
    while pos < len(s):
        if parts and s[pos] == "[":
            m = _INDEX.match(s, pos)
        elif parts and s[pos] != ".":
            break
        else:
            m = _NAME.match(s, pos + 1 if parts else pos)
        if not m:
            break
        piece = m.group(1) if m.re is _INDEX else m.group(0)
        # A bare number names a list item, as `[n]` does; scenario ids always start with a letter.
        parts.append(int(piece) if piece.isdigit() else piece)
        pos = m.end()
    if not parts or pos != len(s):
        raise ValueError(f"{text!r} is not a dotted path like actors.alpha.weights.north")
    return tuple(parts)


def canonical(path: Path_ | str) -> str:
    """The dotted spelling used in error messages (`a.b[0].c`)."""
    return dotted(parse_path(path) if isinstance(path, str) else path)


_INT_12 = re.compile(r"[-+]?[0-9]+")
_FLOAT_12 = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def parse_value(text: str, label: str = "--set") -> Any:
    """A value as the scenario loader would read it (YAML 1.2 scalar, or a flow mapping/list)."""
    if not text.strip():
        raise ScenarioError([Problem("", None, label, "no value after '='")])
    # PyYAML resolves numbers by YAML 1.1 rules (`1e-3` is text, `010` is octal); YAML 1.2's
    # core schema, which the loader follows for booleans, reads both as plain decimals.
    if _INT_12.fullmatch(text.strip()):
        return int(text.strip())
    if _FLOAT_12.fullmatch(text.strip()):
        return float(text.strip())
    try:
        value, _ = parse_yaml(text.encode(), label)
    except ScenarioError as exc:
        raise ScenarioError([Problem("", None, label, f"cannot read value {text!r}: {p.message}")
                             for p in exc.problems]) from None
    return value


# --- the schema, walked alongside the data ------------------------------------------------

def _members(tp: Any) -> list[Any]:
    """The alternatives a type annotation allows, with Annotated/Optional/Union peeled off."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _members(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in get_args(tp) for m in _members(arg)]
    if tp is type(None):
        return []
    return [tp]


def _child_types(members: list[Any], part: str | int) -> list[Any]:
    out: list[Any] = []
    for m in members:
        origin = get_origin(m)
        if isinstance(m, type) and issubclass(m, BaseModel):
            # A field may be spelled in the file by its alias (`from`, for Python's keyword).
            fields = {info.alias or name: info for name, info in m.model_fields.items()}
            if isinstance(part, str) and part in fields:
                out += _members(fields[part].annotation)
        elif origin is dict and isinstance(part, str):
            out += _members(get_args(m)[1])
        elif origin in (tuple, list) and isinstance(part, int):
            out += _members(get_args(m)[0])
    return out


def field_types(path: Path_, root: type[BaseModel] | None = None) -> list[Any]:
    """The types the schema allows at `path` (empty if the schema does not know the path)."""
    if root is None:
        from sim.scenario.schema import Scenario

        root = Scenario
    members: list[Any] = [root]
    for part in path:
        members = _child_types(members, part)
        if not members:
            return []
    return members


def _scalar_kinds(members: list[Any]) -> set[type]:
    kinds: set[type] = set()
    for m in members:
        if get_origin(m) is Literal:
            kinds |= {type(a) for a in get_args(m)}
        elif isinstance(m, type):
            kinds.add(m)
    return kinds


def is_numeric(data: Any, path: Path_) -> bool:
    """Whether the field at `path` holds a number (plain or uncertain), by schema, else by value."""
    kinds = _scalar_kinds(field_types(path))
    if kinds:
        return bool(kinds & {float, int}) and not kinds <= {bool}
    value = get(data, path)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_whole_number(data: Any, path: Path_) -> bool:
    """Whether the field at `path` takes whole numbers only (a count such as protocol.max_rounds)."""
    kinds = _scalar_kinds(field_types(path))
    return int in kinds and float not in kinds


# --- paths in the data ---------------------------------------------------------------------

_MISSING = object()


def get(data: Any, path: Path_, default: Any = _MISSING) -> Any:
    """The value at `path` (KeyError/IndexError if absent and no default)."""
    node = data
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            if default is _MISSING:
                raise KeyError(dotted(path)) from None
            return default
    return node


def _declared_absent(node: dict, path: Path_) -> Iterator[str]:
    for m in field_types(path):
        if isinstance(m, type) and issubclass(m, BaseModel):
            for name, info in m.model_fields.items():
                name = info.alias or name
                if name in node:
                    continue
                kinds = _scalar_kinds(_members(info.annotation))
                if kinds & {float, int, str, bool, dt.date}:
                    yield name


def valid_paths(data: Any, path: Path_ = ()) -> Iterator[str]:
    """Every path an override may name: each leaf, each uncertain number, each absent optional field."""
    if isinstance(data, dict):
        if path and data and set(data) <= {"mean", "sd", "low", "high"}:
            yield dotted(path)
        for key, value in data.items():
            yield from valid_paths(value, path + (key,))
        for name in _declared_absent(data, path):
            yield dotted(path + (name,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from valid_paths(value, path + (i,))
    elif path:
        yield dotted(path)


def nearest_paths(data: Any, text: str, n: int = 5) -> list[str]:
    """Valid paths that look most like `text` (difflib over every valid path)."""
    try:
        wanted = canonical(text)
    except ValueError:
        wanted = text
    return difflib.get_close_matches(wanted, list(valid_paths(data)), n=n, cutoff=0.6)


def resolve(data: Any, text: str | Path_, label: str = "override", file: str = "") -> Path_:
    """Check that `text` names a field that exists (or a declared optional field); return its path.

    Raises ScenarioError naming `label` and listing the nearest valid paths otherwise.
    """
    def fail(message: str) -> ScenarioError:
        near = nearest_paths(data, text if isinstance(text, str) else dotted(text))
        hint = f"; nearest valid paths: {', '.join(near)}" if near else ""
        return ScenarioError([Problem(file, None, label, message + hint)])

    try:
        path = parse_path(text) if isinstance(text, str) else tuple(text)
    except ValueError as exc:
        raise ScenarioError([Problem(file, None, label, str(exc))]) from None
    node = data
    for k, part in enumerate(path):
        here = dotted(path[:k])
        last = k == len(path) - 1
        if isinstance(node, dict):
            key = str(part)
            if key in node:
                node = node[key]
                continue
            if last and key in set(_declared_absent(node, path[:k])):
                return path[:k] + (key,)
            where = f"{here} has no field {key!r}" if here else f"no top-level field {key!r}"
            raise fail(f"no such field: {where}")
        if isinstance(node, list):
            if isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
                continue
            raise fail(f"no such field: {here} is a list of {len(node)} item(s), "
                       f"numbered from [0] to [{len(node) - 1}]" if node else f"no such field: {here} is empty")
        if part in ("mean", "sd", "low", "high") and isinstance(node, (int, float)):
            raise fail(f"{here} is a plain number ({node}), not an uncertain one; replace it whole, "
                       f"e.g. {here}='{{mean: {node}, sd: 0.1}}'")
        raise fail(f"no such field: {here} is a value ({node!r}), not a mapping")
    return path


def set_value(data: Any, path: Path_, value: Any) -> Any:
    """A copy of `data` with `path` set to `value`; only the containers along the path are copied."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, list):
        out = list(data)
        out[head] = set_value(data[head], rest, value)
        return out
    out = dict(data)
    out[head] = set_value(data.get(head), rest, value) if rest else value
    return out


def apply_overrides(data: Any, overrides: Mapping[str | Path_, Any] | None, srcmap: SourceMap) -> Any:
    """Parsed scenario data with each override (dotted path -> value) applied, in order.

    The input is not modified. A path that does not exist raises ScenarioError listing the
    nearest valid paths. Later overrides see earlier ones, so `x.value={mean: .5, sd: .1}`
    followed by `x.value.sd=0.2` works.
    """
    for text, value in (overrides or {}).items():
        label = f"override {text if isinstance(text, str) else dotted(text)}"
        path = resolve(data, text, label=label, file=srcmap.file)
        data = set_value(data, path, value)
    return data
