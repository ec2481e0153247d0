"""Serving the explorer: on localhost by default, every resource from the server itself, nothing fetched elsewhere.

Bokeh and Panel serve their JavaScript and CSS from the local server when Bokeh's resource
mode is "server" (its default for a server, which an environment variable such as
BOKEH_RESOURCES=cdn could change; it is set explicitly here). Neither library sends
telemetry. The page's own requests are checked in tests/test_explore.py with a real browser.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from pathlib import Path

from sim.errors import UserError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def free_port(host: str) -> int:
    """A port nothing listens on at `host` now (the OS picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def page_factory(target: str | Path, runs: int, seed: int) -> tuple[Callable, str, object]:
    """(a function building one session's page, the page title, the scenario's Explorer or None) for a
    scenario file or a results folder.

    Everything that can fail on bad input (a missing file, an invalid scenario) fails here, before
    a server starts, as a UserError.
    """
    path = Path(target)
    if path.is_dir():
        from sim.explore.results import ResultsData

        data = ResultsData.open(path)  # read once; every session browses the same tables

        def results_page():
            from sim.explore.results_app import ResultsPage

            return ResultsPage(data).layout()

        return results_page, f"negsim explore: {path.name}", None
    if not path.exists():
        raise UserError(f"{path}: no such scenario file or results folder")
    from sim.explore.model import Explorer

    explorer = Explorer.open(path)

    def scenario_page():
        from sim.explore.app import ScenarioPage

        return ScenarioPage(explorer, runs, seed).layout()

    return scenario_page, f"negsim explore: {explorer.scenario.meta.name}", explorer


def _origins(host: str, port: int) -> list[str]:
    if host in ("0.0.0.0", "::", ""):
        return ["*"]  # listening everywhere: any name this machine is reached by may open the page
    names = set(LOOPBACK[:2]) if host in LOOPBACK else {host}
    return sorted(f"{name}:{port}" for name in names)


def serve(target: str | Path, host: str = "127.0.0.1", port: int = 5006, show: bool = True, runs: int = 500,
          seed: int = 0, workers: int | None = 1, announce: Callable[[str], None] | None = None) -> None:
    """Serve the explorer of `target` until interrupted (Ctrl-C or SIGTERM); port 0 picks a free one.

    workers: processes the runs are shared out on (1: in the server itself; None: every core).
    A pool pays only where cores are spare: on two cores, shipping the runs out and back costs
    about what the second core gains, and the server's own analysis of the deal space competes.
    """
    from bokeh.settings import settings

    from sim.jobs.executors import ExecutorSpec

    executor = ExecutorSpec(workers)
    executor.check()
    make_page, title, explorer = page_factory(target, runs, seed)
    settings.resources.set_value("server")
    with contextlib.ExitStack() as stack:
        if explorer is not None:
            explorer.pool = stack.enter_context(executor.open())
            explorer.workers = executor.effective_workers
            if explorer.pool is not None:  # start the worker processes, so no page waits for them
                list(explorer.pool.map(abs, range(explorer.workers)))
            from sim.explore.model import Settings

            explorer.compute(Settings(runs=runs, seed=seed))  # the first page then opens at once
        _serve(make_page, title, host, port, show, announce)


def _serve(make_page: Callable, title: str, host: str, port: int, show: bool,
           announce: Callable[[str], None] | None) -> None:
    import panel as pn

    port = port or free_port(host)
    try:
        server = pn.serve({"/": make_page}, port=port, address=host, show=False, start=False, title=title,
                          websocket_origin=_origins(host, port), verbose=False)
    except OSError as exc:
        raise UserError(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    shown_host = f"[{host}]" if ":" in host else ("127.0.0.1" if host in ("0.0.0.0", "") else host)
    url = f"http://{shown_host}:{server.port}/"
    (announce or _print)(f"negsim explore: serving {url} (Ctrl-C stops)")
    if show:
        import webbrowser

        server.io_loop.add_callback(webbrowser.open, url)
    server.start()
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _print(text: str) -> None:
    print(text, flush=True)
