"""Loopback test servers in subprocesses: bind, serve, wait until ready, stop.

The parent binds the socket (port 0 picks a free one, so the URL is known before the
child starts) and hands it to a child process with its own interpreter and GIL; the
child serves an ASGI app on it with uvicorn and exits when its parent goes away. Used
by the fault target and the adapters' simulators.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import uvicorn


def loopback_address(host: str) -> str:
    """``host`` as an IP address, refusing anything that is not loopback."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"host {host!r} is not an IP address or localhost") from None
    if not address.is_loopback:
        raise ValueError(f"test servers listen on loopback only, not {host!r}")
    return str(address)


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening socket on a loopback address."""
    address = loopback_address(host)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _watch_parent(server: uvicorn.Server, parent_pid: int) -> None:
    while not server.should_exit:
        if os.getppid() != parent_pid:
            server.should_exit = True
            return
        await asyncio.sleep(0.5)


def serve_app(
    app: Any, sock: socket.socket, *, parent_pid: int | None = None, **options: Any
) -> None:
    """Serve ``app`` on ``sock`` until SIGINT/SIGTERM, or until the parent process changes."""
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            server_header=False,
            timeout_graceful_shutdown=2,
            **options,
        )
    )

    async def run() -> None:
        watcher = None
        if parent_pid is not None:
            watcher = asyncio.create_task(_watch_parent(server, parent_pid))
        try:
            await server.serve(sockets=[sock])
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

    try:
        asyncio.run(run())
    finally:
        sock.close()


def wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float, what: str) -> None:
    """Poll ``url`` until it answers 200; fail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, timeout=1.0) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with status {proc.returncode} while starting")
            with contextlib.suppress(httpx.TransportError):
                if client.get(url).status_code == 200:
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{what} did not answer within {timeout:g}s")
            time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL after ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_SOURCE_ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def run_module(
    module: str,
    args: Sequence[str] = (),
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ready_path: str,
    what: str,
    startup_timeout: float = 30.0,
    stop_timeout: float = 10.0,
) -> Iterator[str]:
    """Run ``python -m module --fd N --parent-pid P *args`` serving on a socket bound here;
    yield its base URL once ``ready_path`` answers 200; SIGTERM it on exit.

    The module must accept ``--fd`` and ``--parent-pid`` (see :func:`serve_app`).
    """
    sock = listen(host, port)
    url = base_url(sock)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_SOURCE_ROOT), env.get("PYTHONPATH", "")) if p
    )
    command = [
        sys.executable,
        "-m",
        module,
        "--fd",
        str(sock.fileno()),
        "--parent-pid",
        str(os.getpid()),
        *args,
    ]
    try:
        proc = subprocess.Popen(  # noqa: S603 -- our own interpreter and module, no shell
            command, pass_fds=(sock.fileno(),), stdin=subprocess.DEVNULL, env=env
        )
    finally:
        sock.close()  # the child holds its own copy
    try:
        wait_ready(proc, f"{url}{ready_path}", startup_timeout, what)
        yield url
    finally:
        stop(proc, stop_timeout)
