"""How a shape error in a scenario (or observations) file is worded: pydantic's errors, grouped by
the place in the file they concern, become one-line messages in the user's terms.

pydantic reports union branches, internal type names and repeated "wrong type" errors; this
module keeps the part of each location the user wrote, drops the noise, and shows a wrong value
as YAML spells it (`true (a boolean)`, `'0.06' (text; write the number without quotes)`).
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

from pydantic import ValidationError

from sim.errors import Problem
from sim.scenario.yamlsrc import SourceMap

_TYPE_ERRORS = {"float_type", "float_parsing", "dict_type", "model_type", "string_type",
                "model_attributes_type", "int_type", "int_parsing", "tuple_type", "literal_error",
                "bool_type", "bool_parsing", "is_instance_of", "date_type", "date_parsing"}
_EXPECTS = {"float_type": "a number", "float_parsing": "a number", "dict_type": "a mapping",
            "model_type": "a mapping", "model_attributes_type": "a mapping", "string_type": "text",
            "int_type": "a whole number", "int_parsing": "a whole number", "tuple_type": "a list",
            "bool_type": "true or false", "bool_parsing": "true or false", "date_type": "a date",
            "date_parsing": "a date"}


def _locate(loc: tuple, data: Any, kind: str) -> tuple:
    """The part of a pydantic error location that names a place in the scenario data.

    pydantic puts union branches (`float`, `Uncertain`, `function-after[...]`, `tuple[...]`) and
    dict-key markers (`[key]`) into locations. Walking the parsed data tells them apart from the
    keys the user wrote, whatever their spelling (`Colour`, `float`, `1`). The one part not in
    the data that is kept is the name of a missing field.
    """
    out: list = []
    node = data
    for k, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
            out.append(part)
        elif isinstance(node, list) and type(part) is int and 0 <= part < len(node):
            node = node[part]
            out.append(part)
        elif kind == "missing" and k == len(loc) - 1 and isinstance(part, str):
            out.append(part)
    return tuple(out)


def pydantic_problems(exc: ValidationError, srcmap: SourceMap, data: Any) -> list[Problem]:
    """Every pydantic error as one located problem, sorted by line, without union-branch noise."""
    grouped: dict[tuple, list[dict]] = {}
    for err in exc.errors(include_url=False, include_context=False):
        grouped.setdefault(_locate(err["loc"], data, err["type"]), []).append(err)
    # A union (a Number is `float | Uncertain`) fails in every branch: when one branch got as far
    # as a field inside the value (`...strong.sd: must be >= 0`), the other branches' "wrong
    # type" errors on the value itself are noise.
    inner = {loc[:k] for loc in grouped for k in range(len(loc))}  # every proper prefix of a location
    for loc in [loc for loc, errs in grouped.items() if loc in inner]:
        if all(e["type"] in _TYPE_ERRORS for e in grouped[loc]):
            del grouped[loc]
    problems = []
    for loc, errs in grouped.items():
        specific = [e for e in errs if e["type"] not in _TYPE_ERRORS]
        if specific:
            messages = list(dict.fromkeys(_message(e) for e in specific))
        elif len(errs) > 1:
            wants = list(dict.fromkeys(_EXPECTS.get(e["type"], e["msg"]) for e in errs))
            messages = [f"expected {' or '.join(wants)}, got {_got(errs[0].get('input'), wants)}"
                        if "a number" not in wants or "a mapping" not in wants
                        else f"expected a number or an uncertain number {{mean, sd}} / {{low, high}}, "
                             f"got {_got(errs[0].get('input'), wants)}"]
        else:
            messages = [_message(errs[0])]
        for message in messages:
            problems.append(srcmap.problem(loc, message))
    return sorted(problems, key=lambda p: (p.line or 0, p.field))


def _message(err: dict) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; see docs/scenario-format.md)"
    if kind == "missing":
        return "required field is missing"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "string_pattern_mismatch" and "a-z" in msg:
        return (f"{show_yaml(err.get('input'))} is not a valid id (lower-case letters, digits and _, "
                "starting with a letter)")
    if kind in _EXPECTS:
        return f"expected {_EXPECTS[kind]}, got {_got(err.get('input'), [_EXPECTS[kind]])}"
    if kind == "literal_error":
        return f"expected {msg.removeprefix('Input should be ')}, got {_got(err.get('input'), [])}"
    if kind == "finite_number":
        return f"expected a finite number, got {show_yaml(err.get('input'))}"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        return f"must be {msg.removeprefix('Input should be ')}, got {show_yaml(err.get('input'))}"
    return msg


def show_yaml(value: Any) -> str:
    """A value as YAML spells it, cut to 40 characters."""
    if isinstance(value, bool):
        return "true" if value else "false"  # as YAML spells it
    if value is None:
        return "null"
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) >= 1e16:
        text = f"{value:g}"  # 1e+308, not 1e308 written out
    elif isinstance(value, _dt.date):
        text = value.isoformat(sep=" ") if isinstance(value, _dt.datetime) else value.isoformat()
    else:
        try:
            text = repr(value)
        except ValueError:  # an int too long to print (a hex literal of thousands of digits)
            text = "a number too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


def _got(value: Any, wanted: list[str]) -> str:
    """A wrong-typed input, shown with what YAML made of it: `true (a boolean)`, `'0.06' (text)`."""
    shown = show_yaml(value)
    if isinstance(value, bool):
        return f"{shown} (a boolean)"
    if isinstance(value, (int, float)):
        return shown if shown == "a number too long to show" else f"{shown} (a number)"
    if isinstance(value, _dt.datetime):
        return f"{shown} (a date and time)"
    if isinstance(value, _dt.date):
        return f"{shown} (a date)"
    if isinstance(value, str):
        hint = ""
        if any("number" in w for w in wanted) and _looks_like(value, float):
            hint = "; write the number without quotes"
        elif "a date" in wanted and _looks_like(value, _dt.date.fromisoformat):
            hint = "; write the date without quotes"
        elif "true or false" in wanted and value.strip() in ("true", "false"):
            hint = "; write true or false without quotes"
        return f"{shown} (text{hint})"
    if isinstance(value, list):
        return f"{shown} (a list)"
    if isinstance(value, dict):
        return f"{shown} (a mapping)"
    return shown


def _looks_like(text: str, parse) -> bool:
    try:
        parse(text.strip())
    except (ValueError, TypeError):
        return False
    return True
