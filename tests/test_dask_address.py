"""`--dask ADDRESS` that is not a reachable Dask scheduler: one line, exit 2, within seconds, no folder.

Issue 14, item 8: a port that answers with something else made Dask read a garbage length prefix
and try to allocate exabytes (a 56-line traceback), `tls://` without certificates was a traceback,
and a refused port took 22 s. Every class of bad address is checked here through the CLI's main(), in this process, so the time measured
is the command's own and not the 2-3 s an interpreter takes to import negsim (on a slow machine that
start-up alone pushed a whole `negsim run` past the old bound); one case also goes through the
console script.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sim.errors import UserError
from sim.jobs.dask_address import CHECK_TIMEOUT
from sim.jobs.executors import ExecutorSpec
from tests.conftest import TINY, negsim_command, negsim_in_process

pytest.importorskip("distributed")

#: Seconds for a failing `negsim run --dask ADDRESS` in-process: the check's documented bound
#: (1.5 x its timeout) plus room for reading the scenario on a slow, busy machine.
LIMIT = 1.5 * CHECK_TIMEOUT + 2.0


class _Server:
    """A TCP listener on 127.0.0.1 that treats every connection with `behaviour`."""

    def __init__(self, behaviour):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.behaviour = behaviour
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            try:
                self.behaviour(conn, self.stop)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.sock.close()


def _garbage(conn, stop):
    while not stop.wait(0.02):
        conn.sendall(os.urandom(4096))


def _framed_garbage(conn, stop):
    # A plausible Dask length prefix, then bytes that are no Dask message: past the pre-flight read.
    conn.sendall(struct.pack("Q", 64) + os.urandom(64))
    stop.wait(60)


def _silent(conn, stop):
    stop.wait(60)


def _hang_up(conn, stop):
    pass


class _Quiet(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def servers():
    behaviours = {"garbage": _garbage, "framed": _framed_garbage, "silent": _silent, "hang_up": _hang_up}
    made = {name: _Server(b) for name, b in behaviours.items()}
    http = ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, daemon=True).start()
    ports = {name: s.port for name, s in made.items()} | {"http": http.server_address[1]}
    yield ports
    http.shutdown()
    http.server_close()
    for s in made.values():
        s.close()


def _env():
    # No TLS configuration from the caller's environment: tls:// must be "not configured" here.
    return {k: v for k, v in os.environ.items() if not k.startswith("DASK_")} | {"MPLBACKEND": "Agg"}


@pytest.fixture
def no_dask_env(monkeypatch):
    """The in-process twin of _env(): no DASK_ variable from the caller reaches the command."""
    for name in [k for k in os.environ if k.startswith("DASK_")]:
        monkeypatch.delenv(name)


def run_with(address: str, out, *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    """`negsim run TINY --dask ADDRESS --out OUT` in this process, and how long the command took."""
    start = time.monotonic()
    result = negsim_in_process("run", TINY, "--runs", "10", "--dask", address, "--out", out, *extra)
    return result, time.monotonic() - start


def assert_one_line_failure(result, out, *words):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("--dask: "), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    # The address is checked before the results folder is created: nothing is left behind.
    assert not out.exists()


BAD = [
    # malformed
    pytest.param("foo", ("foo", "tcp://"), id="no-scheme-no-port"),
    pytest.param("", ("tcp://",), id="empty"),
    pytest.param("tcp://", ("tcp://",), id="scheme-only"),
    pytest.param("tcp://host:notaport", ("notaport",), id="port-not-a-number"),
    pytest.param("tcp://127.0.0.1:99999", ("99999",), id="port-out-of-range"),
    pytest.param("tcp://:8786", ("host",), id="no-host"),
    pytest.param("tcp://[::1", ("tcp://[::1",), id="broken-ipv6"),
    pytest.param("http://127.0.0.1:{http}", ("http",), id="http-scheme"),
    # unsupported or unconfigured schemes
    pytest.param("tls://127.0.0.1:{silent}", ("tls",), id="tls-without-certificates"),
    pytest.param("wss://127.0.0.1:{silent}", ("wss",), id="wss-without-certificates"),
    pytest.param("ucx://127.0.0.1:8786", ("ucx",), id="ucx"),
    pytest.param("inproc://127.0.0.1/1/2", ("inproc",), id="inproc"),
    # nothing there
    pytest.param("tcp://127.0.0.1:1", ("refused",), id="refused"),
    pytest.param("tcp://no-such-host.invalid:8786", ("no-such-host.invalid",), id="unresolvable-host"),
    # something there, but not Dask
    pytest.param("tcp://127.0.0.1:{garbage}", ("did not answer as a Dask scheduler",), id="sends-garbage"),
    pytest.param("tcp://127.0.0.1:{framed}", ("did not answer as a Dask scheduler",), id="sends-framed-garbage"),
    pytest.param("tcp://127.0.0.1:{silent}", ("did not answer as a Dask scheduler",), id="says-nothing"),
    pytest.param("tcp://127.0.0.1:{hang_up}", ("did not answer as a Dask scheduler",), id="hangs-up"),
    pytest.param("tcp://127.0.0.1:{http}", ("did not answer as a Dask scheduler",), id="http-server"),
    pytest.param("ws://127.0.0.1:{http}", ("did not answer as a Dask scheduler",), id="ws-to-http-server"),
]


@pytest.mark.parametrize("address, words", BAD)
def test_a_bad_dask_address_fails_fast_with_one_line(address, words, servers, tmp_path, no_dask_env):
    address = address.format(**servers)
    out = tmp_path / "out"
    result, elapsed = run_with(address, out)
    assert_one_line_failure(result, out, *words)
    assert elapsed < LIMIT, (elapsed, result.stderr)


def test_the_console_script_says_the_same_one_line(servers, tmp_path):
    """Through the installed `negsim`: the same single line and exit code (its start-up is not timed)."""
    out = tmp_path / "out"
    result = subprocess.run(negsim_command() + ["run", str(TINY), "--runs", "10", "--dask",
                                                f"tcp://127.0.0.1:{servers['silent']}", "--out", str(out)],
                            capture_output=True, text=True, timeout=60, env=_env(), cwd=tmp_path)
    assert_one_line_failure(result, out, "did not answer as a Dask scheduler")


def test_the_check_itself_is_quick_and_accepts_a_real_scheduler_only():
    """In-process: a real scheduler passes (so the pre-flight matches this Dask's wire format), its
    worker is refused with a hint, and a refused port fails well inside the timeout."""
    import distributed

    from sim.jobs.cluster import LOCAL_HTTP
    from sim.jobs.dask_address import check_dask_address

    check_dask_address("local")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                   dashboard_address=None, scheduler_kwargs=LOCAL_HTTP) as c:
        check_dask_address(c.scheduler_address)
        check_dask_address(c.scheduler_address.removeprefix("tcp://"))  # Dask's default scheme
        worker = next(iter(c.scheduler_info["workers"]))
        with pytest.raises(UserError, match="worker, not the scheduler"):
            check_dask_address(worker)
    start = time.monotonic()
    with pytest.raises(UserError, match="refused"):
        check_dask_address("tcp://127.0.0.1:1", timeout=1.0)
    assert time.monotonic() - start < 5


def test_local_still_works(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(negsim_command() + ["run", str(TINY), "--runs", "10", "--dask", "local", "--workers",
                                                "1", "--out", str(out)],
                            capture_output=True, text=True, timeout=120, env=_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert (out / "manifest.json").exists()


def test_resume_with_a_bad_address_leaves_the_folder_resumable(tmp_path, monkeypatch, servers, no_dask_env):
    """--resume reads the existing folder, then checks the address before it changes anything."""
    import sim.jobs.chunks
    from sim.jobs import JobSpec, run_job
    from sim.results import ResultsFolder

    real, calls = sim.jobs.chunks._work, {"n": 0}

    def work(task):
        if calls["n"] == 1:
            raise KeyboardInterrupt
        calls["n"] += 1
        return real(task)

    monkeypatch.setattr(sim.jobs.chunks, "_work", work)
    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        run_job(JobSpec(kind="run", scenario=str(TINY), runs=10, chunk_size=5, rounds=True), out=cut, executor=ExecutorSpec(1),
                progress=False)
    monkeypatch.undo()
    before = {p.name: p.read_bytes() for p in cut.iterdir() if p.is_file()}
    assert ResultsFolder(cut).finished_chunks() == {0}
    start = time.monotonic()
    result = negsim_in_process("run", "--resume", cut, "--dask", f"tcp://127.0.0.1:{servers['http']}")
    elapsed = time.monotonic() - start
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith("--dask: "), result.stderr
    assert elapsed < LIMIT
    assert {p.name: p.read_bytes() for p in cut.iterdir() if p.is_file()} == before
    resumed = subprocess.run(negsim_command() + ["run", "--resume", str(cut), "--workers", "1"],
                             capture_output=True, text=True, timeout=120, env=_env(), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
