"""The package's shape: no import circle, no import upwards across the layers, small modules.

Layers, lowest first: base (errors, catalogue, stopping) < scenario < domain < analysis, model
< simulate, trace < results < jobs, rerun, sensitivity, drivers, insight < calibration < plots, reports,
explore < cli. A module may import from its own layer and below, at module level or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

SIM = Path(__file__).resolve().parent.parent / "sim"

LAYERS = [
    ("sim", "sim.errors", "sim.catalogue", "sim.stopping", "sim.stats"),
    ("sim.scenario",),
    ("sim.domain",),
    ("sim.analysis", "sim.model"),
    ("sim.simulate", "sim.trace"),
    ("sim.results",),
    ("sim.jobs", "sim.rerun", "sim.sensitivity", "sim.drivers", "sim.insight"),
    ("sim.calibration",),
    ("sim.plots", "sim.report_text", "sim.report", "sim.explore"),
    ("sim.cli", "sim.__main__"),
]

#: Modules allowed over the size limit (with the size they may not pass): none now.
LIMIT = 420
OVERSIZED: dict[str, int] = {}


def _modules() -> dict[str, Path]:
    out = {}
    for path in SIM.rglob("*.py"):
        name = ".".join(path.relative_to(SIM.parent).with_suffix("").parts)
        out[name[:-len(".__init__")] if name.endswith(".__init__") else name] = path
    return out


def _imports(path: Path, modules: dict[str, Path], top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sim"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sim"))
    return {m for m in found if m in modules}


def _layer(module: str) -> int:
    best = (-1, -1)
    for k, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best[1]:
                best = (k, len(name))
    assert best[0] >= 0, f"{module} belongs to no layer: add it to LAYERS"
    return best[0]


def test_no_import_circle():
    modules = _modules()
    graph = {m: _imports(p, modules, top_level_only=True) - {m} for m, p in modules.items()}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in graph[m]:
            if d in path or state.get(d) == 1:
                raise AssertionError("import circle: " + " -> ".join(path + [m, d]))
            if d not in state:
                visit(d, path + [m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


def test_no_import_upwards():
    modules = _modules()
    upward = [f"{m} -> {d}" for m, p in sorted(modules.items()) for d in sorted(_imports(p, modules, False))
              if _layer(d) > _layer(m)]
    assert not upward, upward


def test_modules_stay_small():
    sizes = {str(p.relative_to(SIM.parent)): len(p.read_text().splitlines()) for p in _modules().values()}
    too_big = {f: n for f, n in sizes.items() if n > OVERSIZED.get(f, LIMIT)}
    assert not too_big, f"over {LIMIT} lines (or grown past their recorded size): {too_big}"
