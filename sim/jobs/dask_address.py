"""Is there a Dask scheduler at this address? One line within seconds, whatever is (or is not) there.

Checked before a job opens its results folder or starts anything: a bad form, an unknown scheme,
a host that does not resolve, a refused or silent port, another protocol, or a Dask worker instead
of its scheduler each fail with one line, never a traceback or a long wait.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable

from sim.errors import Problem, UserError

CHECK_TIMEOUT = 3.0  # seconds for check_dask_address to find a scheduler, or give up


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise UserError([Problem("", None, "--dask", "needs the optional Dask extra, which is not installed: "
                                                     "pip install 'negsim[dask]'")]) from None
    return distributed


_HOST_PORT_SCHEMES = ("tcp", "tls", "ws", "wss")  # Dask transports over TCP, addressed HOST:PORT
_TLS_SCHEMES = ("tls", "wss")
_GREETING_MAX = 1 << 20  # a Dask handshake is a few hundred bytes; more means another protocol
_CHECKED: dict[str, object] = {}  # address -> its Security, for addresses found to be schedulers


def check_dask_address(address: str, timeout: float = CHECK_TIMEOUT) -> None:
    """Raise UserError (one line) unless `address` is `local` or a Dask scheduler answering now.

    Takes at most about 1.5 * `timeout` seconds, whatever is (or is not) at the address: a bad
    form, an unknown or unconfigured scheme, a host that does not resolve, a refused or silent
    port, a server that speaks another protocol, or a Dask worker instead of its scheduler.
    Opens no results folder and starts nothing; a scheduler that passes is remembered, so the
    executor opened afterwards does not check it again.
    """
    _check(address, timeout)


def _check(address: str, timeout: float):
    """check_dask_address, returning the distributed Security to connect with (None for local)."""
    if address == "local":
        return None
    if address in _CHECKED:
        return _CHECKED[address]
    _import_distributed()
    scheme, host, port = _parse(address)
    security = _security(address, scheme)
    connection_args = security.get_connection_args("client")
    deadline = time.monotonic() + timeout
    if host is not None:
        _check_tcp(address, scheme, host, port, deadline, timeout, connection_args.get("ssl_context"))
    # The Dask handshake and an `identity` call, by Dask itself: the transport, TLS and protocol
    # version are exactly those the Client will use. At least half the time is left for this step.
    budget = max(deadline - time.monotonic(), timeout / 2)
    try:
        reply = _within(budget, _identity, address, connection_args, budget)
    except TimeoutError:
        raise _not_dask(address, f"no Dask handshake within {timeout:g} s") from None
    except Exception as exc:  # noqa: BLE001 - MemoryError, OverflowError, CommClosedError, SSLError, ...
        raise _not_dask(address, _detail(exc)) from None
    kind = reply.get("type") if isinstance(reply, dict) else None
    if not isinstance(kind, str):
        raise _not_dask(address, "it does not answer Dask's `identity` call")
    if kind in ("Worker", "Nanny"):
        raise _problem(f"{address} is a Dask {kind.lower()}, not the scheduler; give the scheduler's address "
                       "(the one the workers were started with: `dask worker tcp://SCHEDULER:8786`)")
    _CHECKED[address] = security
    return security


def _problem(message: str) -> UserError:
    return UserError([Problem("", None, "--dask", message)])


def _bad_form(address: str, why: str) -> UserError:
    return _problem(f"{address!r} is not a scheduler address: {why}; give tcp://HOST:PORT of a running "
                    "`dask scheduler` (like tcp://10.0.0.5:8786), or local")


def _unreachable(address: str, why: str) -> UserError:
    return _problem(f"cannot reach a Dask scheduler at {address}: {why}. Start one with `dask scheduler` and "
                    f"workers with `dask worker {address}`, or use --dask local")


def _not_dask(address: str, why: str) -> UserError:
    return _problem(f"{address} did not answer as a Dask scheduler: {why}")


def _detail(exc: BaseException) -> str:
    """An exception as a short single line."""
    text = " ".join(str(exc).split())
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _parse(address: str) -> tuple[str, str | None, int | None]:
    """(scheme, host, port) of an address, or a UserError; host is None for non-TCP transports."""
    from distributed.comm import registry

    if not address.strip():
        raise _bad_form(address, "it is empty")
    scheme, sep, loc = address.partition("://")
    if not sep:  # host:port, as Dask accepts it, means its default scheme (tcp)
        import dask

        scheme, loc = dask.config.get("distributed.comm.default-scheme", "tcp"), address
    if scheme == "inproc":
        raise _problem(f"{address!r}: inproc:// addresses exist only inside one Python process; give "
                       "tcp://HOST:PORT of a running `dask scheduler`, or local")
    try:
        backend = registry.get_backend(scheme)
    except Exception:  # noqa: BLE001 - ValueError for an unknown scheme, anything from a plugin
        raise _problem(f"{address!r}: unknown address scheme {scheme!r}; Dask schedulers listen on "
                       "tcp://HOST:PORT (or tls:// with certificates configured), or use local") from None
    try:
        backend.get_connector()
    except Exception:  # noqa: BLE001 - e.g. ucx://, whose transport was removed from Dask
        raise _problem(f"{address!r}: the {scheme}:// transport is not available in this Dask installation; "
                       "use tcp://HOST:PORT, or local") from None
    if scheme not in _HOST_PORT_SCHEMES:
        return scheme, None, None
    try:
        host, port = _host_port(loc)
    except ValueError as exc:
        raise _bad_form(address, str(exc)) from None
    return scheme, host, port


def _host_port(loc: str) -> tuple[str, int]:
    if not loc:
        raise ValueError("it has no host and port")
    if loc.startswith("["):
        host, sep, tail = loc[1:].partition("]")
        if not sep:
            raise ValueError("an IPv6 host needs a closing bracket, like [::1]:8786")
        if not tail:
            raise ValueError("it has no port (like :8786)")
        if not tail.startswith(":"):
            raise ValueError(f"unexpected {tail!r} after the host")
        port_text = tail[1:]
    else:
        host, sep, port_text = loc.rpartition(":")
        if not sep:
            raise ValueError("it has no port (like :8786)")
        if ":" in host:
            raise ValueError("an IPv6 host needs brackets, like [::1]:8786")
    if not host:
        raise ValueError("it has no host")
    if not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"the port {port_text!r} is not a number")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"the port {port} is not between 1 and 65535")
    return host, port


def _security(address: str, scheme: str):
    """The Security the Client will use (Dask's configuration, or its security loader)."""
    from distributed.security import Security

    try:
        try:
            from distributed.client import _maybe_call_security_loader
        except ImportError:
            security = None
        else:
            security = _maybe_call_security_loader(address)
        security = security or Security()
        context = security.get_connection_args("client").get("ssl_context")
    except Exception as exc:  # noqa: BLE001 - a missing or bad certificate file, a bad loader, ...
        raise _problem(f"cannot load the Dask TLS configuration for {address}: {_detail(exc)}") from None
    if scheme in _TLS_SCHEMES and context is None:
        raise _problem(f"{address!r}: {scheme}:// needs TLS certificates in the Dask configuration "
                       "(distributed.comm.tls.ca-file, distributed.comm.tls.client.cert and .key, e.g. "
                       "DASK_DISTRIBUTED__COMM__TLS__CA_FILE=...), and none are set; or use tcp://")
    return security


def _within(timeout: float, fn: Callable, *args):
    """fn(*args) in a daemon thread; TimeoutError if it has not finished after `timeout` seconds.

    A thread, because what hangs (a DNS lookup, a read from a server that says nothing) cannot be
    interrupted; left behind as a daemon it cannot keep this process from exiting.
    """
    box: dict = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=run, name="negsim-dask-check", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError
    if "error" in box:
        raise box["error"]
    return box["value"]


def _check_tcp(address: str, scheme: str, host: str, port: int, deadline: float, timeout: float,
               ssl_context=None) -> None:
    """Resolve, connect and (tcp://, tls://) read the first bytes, each bounded by the deadline."""
    try:
        infos = _within(max(deadline - time.monotonic(), 0.1), socket.getaddrinfo, host, port, 0,
                        socket.SOCK_STREAM)
    except TimeoutError:
        raise _unreachable(address, f"looking up the host {host!r} took longer than {timeout:g} s") from None
    except (OSError, UnicodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else _detail(exc)
        raise _unreachable(address, f"the host {host!r} is not known ({why})") from None
    sock, error = None, None
    for family, kind, proto, _, sockaddr in infos:
        try:
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            error = exc
            continue
        try:
            sock.settimeout(max(deadline - time.monotonic(), 0.1))
            sock.connect(sockaddr)
            break
        except OSError as exc:
            error = exc
            sock.close()
            sock = None
    if sock is None:
        if isinstance(error, ConnectionRefusedError):
            why = "the connection was refused (nothing listens on that port)"
        elif isinstance(error, TimeoutError):
            why = f"no answer within {timeout:g} s (a firewall, or the wrong host?)"
        else:
            why = (error.strerror or _detail(error)) if error is not None else "it has no address to connect to"
        raise _unreachable(address, why)
    try:
        if scheme == "tls":
            sock = _start_tls(address, sock, ssl_context, deadline, timeout)
        if scheme in ("tcp", "tls"):
            _check_greeting(address, sock, deadline, timeout)
    finally:
        sock.close()


def _start_tls(address: str, sock: socket.socket, ssl_context, deadline: float, timeout: float) -> ssl.SSLSocket:
    sock.settimeout(max(deadline - time.monotonic(), 0.1))
    try:
        return ssl_context.wrap_socket(sock)  # Dask's context checks the CA, not the host name
    except ssl.SSLError as exc:
        raise _tls_failed(address, exc) from None
    except TimeoutError:
        raise _not_dask(address, f"no TLS handshake within {timeout:g} s") from None
    except OSError as exc:
        raise _not_dask(address, f"the connection broke during the TLS handshake ({_detail(exc)})") from None


def _tls_failed(address: str, exc: ssl.SSLError) -> UserError:
    return _problem(f"the TLS handshake with {address} failed ({_detail(exc)}); check the certificates in the "
                    "Dask configuration (distributed.comm.tls.*), and that the scheduler uses tls://")


def _check_greeting(address: str, sock: socket.socket, deadline: float, timeout: float) -> None:
    """A Dask server speaks first: an 8-byte message length, then its handshake. Another protocol's
    bytes read as a length could be exabytes, which Dask itself would then try to allocate."""
    got = b""
    try:
        while len(got) < 8:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            chunk = sock.recv(8 - len(got))
            if not chunk:
                raise _not_dask(address, "it closed the connection without a Dask greeting")
            got += chunk
    except TimeoutError:
        hint = "" if isinstance(sock, ssl.SSLSocket) else " (a tls:// scheduler, or not Dask at all?)"
        raise _not_dask(address, f"it accepted the connection but sent no Dask greeting within {timeout:g} s"
                                 + hint) from None
    except ssl.SSLError as exc:  # TLS 1.3: the server's verdict on our certificate comes now
        raise _tls_failed(address, exc) from None
    except OSError as exc:
        raise _not_dask(address, f"the connection broke before a Dask greeting ({_detail(exc)})") from None
    (size,) = struct.unpack("Q", got)
    if not 0 < size <= _GREETING_MAX:
        raise _not_dask(address, f"it speaks another protocol (it began with {got!r})")


def _identity(address: str, connection_args: dict, timeout: float):
    """Connect with Dask (handshake included) and ask the server what it is."""
    from distributed.comm import connect

    async def ask():
        comm = await connect(address, timeout=timeout, **connection_args)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    async def bounded():
        return await asyncio.wait_for(ask(), timeout)

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(bounded())
    finally:
        loop.close()
