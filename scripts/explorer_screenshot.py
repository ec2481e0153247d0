"""Regenerate docs/explorer.png, the README's picture of `negsim explore`.

    .venv/bin/python scripts/explorer_screenshot.py     # about 15 s; needs Debian's chromium

Starts the explorer on the Alaska scenario (500 runs, seed 0) as a child process on a free
localhost port, opens it in headless Chromium through Playwright, shows Russia's numbers on
Donetsk (the weight and option values with the quote they read), waits for the figures, and
saves the page as a PNG reduced to a 256-colour palette to keep the file small. Every number
is as in the scenario file and the runs are seeded, so rerunning gives the same picture.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "explorer.png"
CHROMIUM = Path(os.environ.get("NEGSIM_CHROMIUM", "/usr/bin/chromium"))


def start_explorer(scenario: Path, runs: int) -> tuple[subprocess.Popen, str]:
    """`negsim explore SCENARIO` in a child process on a free port, and the URL it serves."""
    shown = scenario.resolve().relative_to(ROOT) if scenario.resolve().is_relative_to(ROOT) else scenario
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli.explore", str(shown), "--port", "0", "--no-browser",
                             "--runs", str(runs)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            if "serving http" in line and not found:
                found.append(line.split("serving ", 1)[1].split()[0])
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(120)
    if not found:
        proc.kill()
        raise SystemExit(f"the explorer did not start (exit status {proc.wait()})")
    return proc, found[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"PNG to write (default {OUT.relative_to(ROOT)})")
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "alaska_2025.yaml")
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"needs Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set NEGSIM_CHROMIUM)")
    from PIL import Image
    from playwright.sync_api import expect, sync_playwright

    proc, url = start_explorer(args.scenario, args.runs)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url)
            expect(page.locator(".negsim-status")).to_have_attribute("data-state", "ready", timeout=120_000)
            picker = page.locator(".section-knob-russia select")
            donetsk = next((o for o in picker.locator("option").all_inner_texts() if "[donetsk]" in o), None)
            if donetsk:
                picker.select_option(label=donetsk)
                expect(page.locator(".knob-actors-russia-weights-donetsk")).to_be_visible()
            page.wait_for_function("() => Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle")
            png = page.screenshot(full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(20)
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out, optimize=True)
    print(f"{args.out} ({image.width}x{image.height}, {args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
