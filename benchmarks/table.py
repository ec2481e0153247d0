"""How every benchmark script reports: the machine, one aligned table of rows, the same rows as JSON.

A row is {"benchmark", "value" (None: skipped), "unit", "detail"}. Import-light: the process
pool's forkserver re-imports the scripts that use it.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from pathlib import Path


def machine() -> str:
    """One line describing where the numbers were measured."""
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.platform()}")


def paired_ratio(tops: list[float], bottoms: list[float]) -> tuple[float, str]:
    """The median of top / bottom over pairs timed back to back, and their range as text: on a machine
    whose speed swings, a slow spell then mostly falls on both halves of one pair."""
    ratios = sorted(a / b for a, b in zip(tops, bottoms, strict=True))
    return statistics.median(ratios), f"{ratios[0]:.2f}-{ratios[-1]:.2f}x over {len(ratios)} pairs"


def format_table(rows: list[dict]) -> str:
    """Rows as an aligned plain-text table."""
    width = max(len(r["benchmark"]) for r in rows)
    lines = [f"{'benchmark':<{width}}  {'value':>12}  unit     detail", "-" * (width + 50)]
    for r in rows:
        value = "skipped" if r["value"] is None else f"{r['value']:,.2f}"
        lines.append(f"{r['benchmark']:<{width}}  {value:>12}  {r['unit']:<7}  {r.get('detail', '')}")
    return "\n".join(lines)


def report(rows: list[dict], json_path: str | Path | None = None) -> None:
    """Print the machine and the table; also write {"machine", "rows"} to `json_path` if given."""
    print(f"machine: {machine()}")
    print(format_table(rows))
    if json_path:
        Path(json_path).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")
