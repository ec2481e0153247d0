"""The catalogue: every protocol, strategy and figure by name, and where it lives.

Read by the scenario loader (which names are valid), the CLI (its choices) and the tests (they
run over every entry), without importing anything heavy: a class is imported only when a run
needs it. Adding a protocol or a strategy is one module plus one line here; `register_*` adds
one at run time (a plug-in, or a test fixture) with no other edit.
"""

from __future__ import annotations

import importlib

#: protocol name -> "module:Class" (a subclass of sim.model.protocols.Protocol)
PROTOCOLS: dict[str, str] = {
    "mediated": "sim.model.protocols.mediated:Mediated",
    "alternating": "sim.model.protocols.alternating:Alternating",
    "expected_utility": "sim.model.protocols.expected_utility:ExpectedUtility",
}

#: strategy name -> "module:Class" (a subclass of sim.domain.strategies.Strategy)
STRATEGIES: dict[str, str] = {
    "linear": "sim.domain.strategies:TimeDependent",
    "boulware": "sim.domain.strategies:Boulware",
    "conceder": "sim.domain.strategies:Conceder",
    "hardliner": "sim.domain.strategies:Hardliner",
    "tit_for_tat": "sim.domain.strategies:TitForTat",
    "subgame_perfect": "sim.domain.strategies:SubgamePerfect",
}

_LOADED: dict[tuple[str, str], type] = {}


def protocol_names() -> tuple[str, ...]:
    """Every protocol a scenario may name."""
    return tuple(PROTOCOLS)


def strategy_names() -> tuple[str, ...]:
    """Every strategy a scenario may name."""
    return tuple(STRATEGIES)


def protocol_class(name: str) -> type:
    """The class of a protocol (imported on first use)."""
    return _load("protocol", PROTOCOLS, name)


def strategy_class(name: str) -> type:
    """The class of a strategy (imported on first use)."""
    return _load("strategy", STRATEGIES, name)


def register_protocol(name: str, target: str | type) -> None:
    """Add (or replace) a protocol: a "module:Class" path, or the class itself."""
    _register(PROTOCOLS, "protocol", name, target)


def register_strategy(name: str, target: str | type) -> None:
    """Add (or replace) a strategy: a "module:Class" path, or the class itself."""
    _register(STRATEGIES, "strategy", name, target)


def _register(table: dict, kind: str, name: str, target: str | type) -> None:
    if isinstance(target, str):
        table[name] = target
        _LOADED.pop((kind, name), None)
    else:
        table[name] = f"{target.__module__}:{target.__qualname__}"
        _LOADED[(kind, name)] = target


def _load(kind: str, table: dict, name: str) -> type:
    if name not in table:
        raise KeyError(f"unknown {kind} {name!r} (known: {', '.join(table)})")
    key = (kind, name)
    if key not in _LOADED or f"{_LOADED[key].__module__}:{_LOADED[key].__qualname__}" != table[name]:
        module, _, attr = table[name].partition(":")
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        _LOADED[key] = obj
    return _LOADED[key]
