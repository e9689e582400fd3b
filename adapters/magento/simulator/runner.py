"""Running the simulator: in a subprocess on a socket the parent has bound, or standalone.

:func:`run_simulator` binds a loopback socket (port 0 picks a free one, so the URL is known
before the child starts), starts ``python -m adapters.magento.simulator`` on it and yields
the server's root URL; REST lives under ``{url}/rest/default/V1/…`` (also ``/rest/V1/…``
and ``/V1/…``). A subprocess for the same reasons as the hub's fault target: its own
interpreter and GIL, stoppable with SIGTERM, and it exits when its parent dies. The socket
and process helpers are shared (``hub.testing.loopback``).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
from collections.abc import Iterator

from pydantic import ValidationError

from adapters.magento.simulator.app import create_simulator
from adapters.magento.simulator.state import SimulatorConfig
from hub.testing.loopback import base_url, listen, run_module, serve_app

__all__ = ["main", "run_simulator", "serve"]


def serve(config: SimulatorConfig, sock: socket.socket, *, parent_pid: int | None = None) -> None:
    """Serve on a listening socket until SIGINT/SIGTERM (or the parent process changes).

    uvicorn's own ``Date`` header is off: the simulator sends its simulated clock's."""
    serve_app(create_simulator(config), sock, parent_pid=parent_pid, date_header=False)


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
    with run_module(
        "adapters.magento.simulator",
        ["--config", config.model_dump_json()],
        host=host,
        port=port,
        ready_path="/_sim/health",
        what="the Magento simulator",
        startup_timeout=startup_timeout,
        stop_timeout=stop_timeout,
    ) as url:
        yield url


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
            sock = listen(args.host, args.port)
        except (ValueError, OSError) as exc:
            parser.error(str(exc))
        oauth = config.oauth_integrations[0] if config.oauth_integrations else None
        sys.stderr.write(
            f"Magento simulator on {base_url(sock)}/rest/{config.store_code}/V1 "
            f"(token: {config.tokens[0]}"
            + (f"; OAuth consumer key: {oauth.consumer_key}" if oauth else "")
            + ")\n"
        )
        sys.stderr.flush()
    serve(config, sock, parent_pid=args.parent_pid)
    return 0
