"""Stopping on Ctrl-C and SIGTERM: the shared flag and the handlers (standard library only, so the
CLI can install them before anything heavy is imported)."""

from __future__ import annotations

import os
import signal
import threading

_stop = threading.Event()  # a SIGINT or SIGTERM arrived while stop_on_signals was in force


def _raise_interrupt(signum, frame):
    if _stop.is_set():
        _stop_now()
    _stop.set()
    raise KeyboardInterrupt


def _note_interrupt(signum, frame):
    if _stop.is_set():
        _stop_now()
    _stop.set()


def _stop_now() -> None:
    """A second Ctrl-C (or SIGTERM) while the first is being handled: leave at once.

    The clean-up of the first (cancelling queued chunks, shutting the pool down, writing the
    manifest) is what a second KeyboardInterrupt would break half-way, leaving threads to wait
    for ever. Exiting here loses nothing: chunks are written atomically, and a manifest still
    saying "running" names a process that no longer exists, which --resume accepts.
    """
    os.write(2, b"negsim: interrupted again: stopping now; finished chunks are kept (continue with --resume)\n")
    os._exit(130)


def handle_stop_signals() -> None:
    """For the whole program: Ctrl-C and SIGTERM raise KeyboardInterrupt (exit 130), a second one exits at once.

    Installed first thing by the CLI, so a SIGTERM during start-up or planning is handled like
    one during the runs, not by the default action (exit 143 with nothing said).
    """
    _stop.clear()
    for s in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(s) is not signal.SIG_IGN:
            signal.signal(s, _raise_interrupt)
