"""Property-based fuzzing of the scenario loader: whatever the file holds, `load_scenario`
either returns a scenario or raises ScenarioError whose problems each name the file and say
something, on one line. Never another exception (no traceback can reach the user).

Inputs: arbitrary YAML-able trees dumped with `yaml.safe_dump`, random bytes and text, and
mutations of the valid scenarios tests/data/tiny.yaml and scenarios/alaska_2025.yaml (at the
data level: delete a key, retype a leaf, add unknown keys, rename ids, swap lists and
mappings; at the text level: truncate, insert a tab, a colon or another stray character).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import ScenarioError
from sim.scenario import load_scenario
from sim.scenario.yamlsrc import parse_yaml
from tests.conftest import DATA, ROOT, TINY

ALASKA = ROOT / "scenarios" / "alaska_2025.yaml"
TINY_TEXT = TINY.read_text()
ALASKA_TEXT = ALASKA.read_text()
TINY_DATA = parse_yaml(TINY.read_bytes(), "tiny.yaml")[0]
ALASKA_DATA = parse_yaml(ALASKA.read_bytes(), "alaska.yaml")[0]

SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]

_counter = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A scenario folder holding the local source files both seed scenarios cite."""
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copy(DATA / "tiny_source.txt", root / "tiny_source.txt")
    shutil.copytree(ROOT / "scenarios" / "sources", root / "sources")
    return root


def check(folder: Path, raw: bytes) -> None:
    """The property: success, or a ScenarioError made only of well-formed problems."""
    path = folder / f"case{next(_counter)}.yaml"
    path.write_bytes(raw)
    try:
        load_scenario(path)
    except ScenarioError as exc:
        assert exc.problems, "a ScenarioError without problems"
        for problem in exc.problems:
            assert problem.file == str(path), problem
            assert problem.message.strip(), problem
            assert problem.line is None or (isinstance(problem.line, int) and problem.line >= 1), problem
            assert "\n" not in str(problem) and "\r" not in str(problem), repr(str(problem))
    finally:
        path.unlink()


def dump(tree: Any) -> bytes:
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True).encode("utf-8", "surrogatepass")


# --- strategies ------------------------------------------------------------------------------

WORDS = sorted({"meta", "name", "title", "as_of", "description", "sources", "issues", "actors", "proposals",
                "protocol", "dynamics", "kind", "options", "default", "weights", "values", "reservation",
                "value", "source", "quote", "path", "url", "mean", "sd", "low", "high", "role", "mediator",
                "max_rounds", "temperature", "initial_text", "interactions", "when", "delta", "consent",
                "strategy", "front", "costs", "events", "round", "north", "south", "alpha", "beta", "gamma",
                "notes", "territory", "policy", "signatory", "frozen_line", "ukraine", "no", "off", "~", ""})

weird_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "\t", "\n", "\x00", "\ufeff", "\u2028", "\ud800", "..", "../../etc/passwd",
                     "/etc/passwd", "a" * 3000, "1e400", "nan", ".inf", "-.inf", "0x1f", "0o17", "1:30",
                     "2025-13-45", "null", "~", "yes", "no", "on", "off", "!!python/object", "*a", "&a",
                     "{", "[", "- x", "a: b", "#", "%", "@", "`", "'", '"']),
    st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
)
keys = st.one_of(st.sampled_from(WORDS), weird_text)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(16**1000), max_value=16**1000),  # beyond float range, still printable
    st.sampled_from([2**63, -(2**63) - 1, 10**308, 10**309, 16**1200]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.5, -3.0, 2.0, 1e-320, 1e308]),
    st.dates(min_value=dt.date(1, 1, 1)),
    st.datetimes(),
    weird_text,
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)),
    max_leaves=40,
)
# Scenario-shaped: the right top-level sections filled with arbitrary trees.
shaped = st.fixed_dictionaries(
    {},
    optional={k: trees for k in ("meta", "sources", "issues", "actors", "proposals", "protocol", "dynamics")},
)


# --- arbitrary input ------------------------------------------------------------------------

@settings(max_examples=300, deadline=None, suppress_health_check=SLOW)
@given(tree=st.one_of(trees, shaped))
def test_arbitrary_yaml_trees(folder, tree):
    check(folder, dump(tree))


@settings(max_examples=1000, deadline=None, suppress_health_check=SLOW)
@given(raw=st.one_of(st.binary(max_size=600),
                     st.binary(max_size=200).map(lambda b: b"\xef\xbb\xbf" + b),
                     st.binary(max_size=200).map(lambda b: TINY_TEXT.encode()[:800] + b)))
def test_random_bytes(folder, raw):
    check(folder, raw)


@settings(max_examples=500, deadline=None, suppress_health_check=SLOW)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=400))
def test_random_text(folder, text):
    check(folder, text.encode("utf-8"))


# --- mutations of valid scenarios ------------------------------------------------------------

def all_paths(node: Any, path: tuple = ()) -> list[tuple]:
    """Every path into a tree of dicts and lists (the root too)."""
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += all_paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += all_paths(v, path + (i,))
    return out


def get(tree: Any, path: tuple) -> Any:
    for part in path:
        tree = tree[part]
    return tree


def put(tree: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    get(tree, path[:-1])[path[-1]] = value
    return tree


def copy_tree(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: copy_tree(v) for k, v in node.items()}
    if isinstance(node, list):
        return [copy_tree(v) for v in node]
    return node


def other_type(value: Any) -> st.SearchStrategy:
    """A random value of a different kind than `value`."""
    kinds = {
        "none": st.none(), "bool": st.booleans(), "int": st.integers(-(10**20), 10**20),
        "float": st.floats(allow_nan=True, allow_infinity=True), "str": weird_text,
        "list": st.lists(scalars, max_size=3), "dict": st.dictionaries(keys, scalars, max_size=3),
        "date": st.dates(),
    }
    this = {type(None): "none", bool: "bool", int: "int", float: "float", str: "str", list: "list",
            dict: "dict", dt.date: "date", dt.datetime: "date"}.get(type(value))
    return st.one_of([s for name, s in kinds.items() if name != this])


@st.composite
def mutated(draw, base: dict) -> Any:
    tree = copy_tree(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = all_paths(tree)
        kind = draw(st.sampled_from(["delete", "retype", "unknown", "rename", "swap", "retarget"]))
        if kind == "delete":
            keyed = [p for p in paths if p and isinstance(get(tree, p[:-1]), dict)]
            if keyed:
                p = draw(st.sampled_from(keyed))
                del get(tree, p[:-1])[p[-1]]
        elif kind == "retype":
            p = draw(st.sampled_from(paths))
            tree = put(tree, p, draw(other_type(get(tree, p))))
        elif kind == "unknown":
            dicts = [p for p in paths if isinstance(get(tree, p), dict)]
            if dicts:
                get(tree, draw(st.sampled_from(dicts)))[draw(keys)] = draw(trees)
        elif kind == "rename":  # rename an id (a key) everywhere it is a key, or once
            keyed = [p for p in paths if p and isinstance(get(tree, p[:-1]), dict)]
            if keyed:
                p = draw(st.sampled_from(keyed))
                parent, old = get(tree, p[:-1]), p[-1]
                new = draw(st.one_of(keys, st.sampled_from([k for k in parent if k != old] or ["x"])))
                items = [(new if k == old else k, v) for k, v in parent.items()]
                parent.clear()
                parent.update(items)
        elif kind == "swap":  # a mapping becomes a list and a list a mapping
            p = draw(st.sampled_from(paths))
            node = get(tree, p)
            if isinstance(node, dict):
                node = draw(st.sampled_from([list(node.values()), [list(kv) for kv in node.items()], list(node)]))
            elif isinstance(node, list):
                node = {f"k{i}" if draw(st.booleans()) else i: v for i, v in enumerate(node)}
            else:
                node = draw(st.sampled_from([[node], {"x": node}]))
            tree = put(tree, p, node)
        else:  # retarget: point a reference-like string leaf at another id
            leaves = [p for p in paths if isinstance(get(tree, p), str)]
            if leaves:
                tree = put(tree, draw(st.sampled_from(leaves)),
                           draw(st.sampled_from(["alpha", "north", "notes", "split", "none", "ukraine", "nowhere",
                                                 "russia", "donetsk", "Alpha", "1", ""])))
    return tree


@settings(max_examples=300, deadline=None, suppress_health_check=SLOW)
@given(tree=mutated(TINY_DATA))
def test_mutated_tiny(folder, tree):
    check(folder, dump(tree))


@settings(max_examples=60, deadline=None, suppress_health_check=SLOW)
@given(tree=mutated(ALASKA_DATA))
def test_mutated_alaska(folder, tree):
    check(folder, dump(tree))


STRAYS = ["\t", ":", ": ", "\n", "\n\t", "-", "- ", "[", "]", "{", "}", "&a ", "*a", "#", "'", '"', "\x00",
          "\x07", "\ufeff", "\r", "? ", "|", ">", "%", "@", "<<: ", "\xa0", "\\0", ".nan", "0x", "1e400",
          # explicit tags, which make PyYAML's constructors read any text as a number, a date, ...
          "!!python/object:x ", "!!int ", "!!float ", "!!bool ", "!!timestamp ", "!!null ", "!!str ", "!!map ",
          "!!seq ", "!!binary ", "!!set ", "!x "]


@st.composite
def text_mutated(draw, text: str) -> bytes:
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["truncate", "insert", "insert_before_value", "delete"]))
        if how == "insert_before_value":  # where a tag or an anchor changes how a value reads
            starts = [m.end() for m in re.finditer(r": |- |\[|\{", text)]
            if starts:
                at = draw(st.sampled_from(starts))
            how = "insert"
        if how == "truncate":
            text = text[:at]
        elif how == "insert":
            text = text[:at] + draw(st.one_of(st.sampled_from(STRAYS), st.text(max_size=3))) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 20)):]
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=600, deadline=None, suppress_health_check=SLOW)
@given(raw=text_mutated(TINY_TEXT))
def test_text_mutations_of_tiny(folder, raw):
    check(folder, raw)


@settings(max_examples=60, deadline=None, suppress_health_check=SLOW)
@given(raw=text_mutated(ALASKA_TEXT))
def test_text_mutations_of_alaska(folder, raw):
    check(folder, raw)


def test_seed_scenarios_load_unchanged(folder):
    """The mutation seeds are valid, and dumping their data round-trips to a valid scenario."""
    for data in (TINY_DATA, ALASKA_DATA):
        path = folder / "roundtrip.yaml"
        path.write_bytes(dump(data))
        load_scenario(path)
