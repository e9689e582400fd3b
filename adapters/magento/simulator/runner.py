"""Running the simulator: in a subprocess on a socket the parent has bound, or standalone.

:func:`run_simulator` binds a loopback socket (port 0 picks a free one, so the URL is known
before the child starts), starts ``python -m adapters.magento.simulator`` on it and yields
the server's root URL; REST lives under ``{url}/rest/default/V1/…`` (also ``/rest/V1/…``
and ``/V1/…``). A subprocess for the same reasons as the hub's fault target: its own
interpreter and GIL, stoppable with SIGTERM, and it exits when its parent dies. The socket
and process helpers are the fault target's (``hub.testing.fault_target``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn
from pydantic import ValidationError

from adapters.magento.simulator.app import create_simulator
from adapters.magento.simulator.state import SimulatorConfig
from hub.testing.fault_target import _base_url, _listen, _stop, _watch_parent

__all__ = ["main", "run_simulator", "serve"]

_SOURCE_ROOT = Path(__file__).resolve().parents[3]


def serve(config: SimulatorConfig, sock: socket.socket, *, parent_pid: int | None = None) -> None:
    """Serve on a listening socket until SIGINT/SIGTERM (or the parent process changes)."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_simulator(config),
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            server_header=False,
            timeout_graceful_shutdown=2,
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


def _wait_ready(proc: subprocess.Popen[bytes], base_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, timeout=1.0) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the simulator exited with status {proc.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"{base_url}/_sim/health").status_code == 200:
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the simulator did not answer within {timeout:g}s")
            time.sleep(0.05)


@contextlib.contextmanager
def run_simulator(
    port: int = 0,
    config: SimulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    startup_timeout: float = 30.0,
    stop_timeout: float = 10.0,
) -> Iterator[str]:
    """Run the simulator in a subprocess; yield its root URL (``http://127.0.0.1:PORT``)."""
    config = config or SimulatorConfig()
    sock = _listen(host, port)
    base_url = _base_url(sock)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_SOURCE_ROOT), env.get("PYTHONPATH", "")) if p
    )
    command = [
        sys.executable,
        "-m",
        "adapters.magento.simulator",
        "--fd",
        str(sock.fileno()),
        "--parent-pid",
        str(os.getpid()),
        "--config",
        config.model_dump_json(),
    ]
    try:
        proc = subprocess.Popen(  # noqa: S603 -- our own interpreter and module, no shell
            command, pass_fds=(sock.fileno(),), stdin=subprocess.DEVNULL, env=env
        )
    finally:
        sock.close()  # the child holds its own copy
    try:
        _wait_ready(proc, base_url, startup_timeout)
        yield base_url
    finally:
        _stop(proc, stop_timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m adapters.magento.simulator",
        description="Run the Magento 2.4 REST simulator (loopback only, in memory).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault RNG")
    parser.add_argument("--orders", type=int, default=None, help="orders generated at start")
    parser.add_argument("--config", default=None, help="SimulatorConfig as JSON")
    parser.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        config = (
            SimulatorConfig.model_validate_json(args.config) if args.config else SimulatorConfig()
        )
    except ValidationError as exc:
        parser.error(f"invalid --config: {exc}")
    overrides: dict[str, int] = {}
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.orders is not None:
        overrides["initial_orders"] = args.orders
    if overrides:
        config = config.model_copy(update=overrides)
    if args.fd is not None:
        sock = socket.socket(fileno=args.fd)
    else:
        try:
            sock = _listen(args.host, args.port)
        except (ValueError, OSError) as exc:
            parser.error(str(exc))
        sys.stderr.write(
            f"Magento simulator on {_base_url(sock)}/rest/{config.store_code}/V1 "
            f"(token: {config.tokens[0]})\n"
        )
        sys.stderr.flush()
    serve(config, sock, parent_pid=args.parent_pid)
    return 0
