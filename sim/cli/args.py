"""Argument types and the execution options shared by the job commands (argparse only, nothing heavy)."""

from __future__ import annotations

import argparse


def whole_number(minimum: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
        return value
    return parse


positive_int = whole_number(1, "at least 1")
seed = whole_number(0, "0 or more")


def path_text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a path")
    return text


def add_engine_option(p: argparse.ArgumentParser) -> None:
    """`--engine`: which engine plays the rounds (the results are the same)."""
    p.add_argument("--engine", choices=("numpy", "compiled"), default=None,
                   help="the compiled kernels (pip install 'negsim[fast]'; about 5x faster for the mediated and "
                        "alternating protocols) or numpy; both give the same runs. Default: compiled where its "
                        "kernels are built (./dev.sh builds them; python -m sim.jobs.kernels), else numpy; "
                        "asking for compiled before they are built compiles them first (minutes). Also read from "
                        "$NEGSIM_ENGINE, which Dask workers elsewhere need set")


def use_engine(args: argparse.Namespace) -> None:
    """Make the chosen engine this process's and its local workers' (they inherit the environment)."""
    engine = getattr(args, "engine", None)
    if engine is None:
        return
    import os

    from sim.model.kernel import ENGINE_ENV, resolve_engine

    os.environ[ENGINE_ENV] = resolve_engine(engine)


def add_job_options(p: argparse.ArgumentParser, command: str) -> None:
    """Execution options shared by `run` and `sweep`."""
    add_engine_option(p)
    p.add_argument("--workers", type=positive_int, default=None,
                   help="workers: threads with the compiled engine, processes with numpy; with --dask local, "
                        "the local cluster's (default: all cores)")
    p.add_argument("--chunk", type=positive_int, default=None, help="runs per work unit (default: automatic)")
    p.add_argument("--yes", action="store_true",
                   help="start a job estimated to take more than a day (jobs too big for the memory or disk "
                        "are refused regardless)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run on Dask (pip install 'negsim[dask]'): 'local' starts a LocalCluster of --workers "
                        "(threads of this process with the compiled engine, processes with numpy); "
                        "tcp://host:8786 joins a cluster started with `dask scheduler` and "
                        "`dask worker tcp://host:8786`")
    p.add_argument("--resume", metavar="DIR",
                   help=f"continue an interrupted `negsim {command}` in DIR: finished chunks are kept, the "
                        "others run; refused if the scenario file has changed")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out results folder: it is deleted once the new job has been "
                        "validated, before it runs (a folder without manifest.json is never deleted)")
