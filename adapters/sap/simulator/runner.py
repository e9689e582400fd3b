"""Running the simulator: in a subprocess on a socket the parent has bound, or standalone.

:func:`run_simulator` binds a loopback socket (port 0 picks a free one, so the URL is known
before the child starts), starts ``python -m adapters.sap.simulator`` on it and yields the
server's root URL; the services live under ``{url}/sap/opu/odata/sap/<service>``. A
subprocess for the same reasons as the hub's fault target: its own interpreter and GIL,
stoppable with SIGTERM, and it exits when its parent dies. The socket and process helpers
are shared (``hub.testing.loopback``).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
from collections.abc import Iterator

from pydantic import ValidationError

from adapters.sap.simulator.app import ODATA_ROOT, create_simulator
from adapters.sap.simulator.state import SERVICE_NAMES, SimulatorConfig
from hub.testing.loopback import base_url, listen, run_module, serve_app

__all__ = ["main", "run_simulator", "serve"]


def serve(config: SimulatorConfig, sock: socket.socket, *, parent_pid: int | None = None) -> None:
    """Serve on a listening socket until SIGINT/SIGTERM (or the parent process changes)."""
    serve_app(create_simulator(config), sock, parent_pid=parent_pid)


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
        "adapters.sap.simulator",
        ["--config", config.model_dump_json()],
        host=host,
        port=port,
        ready_path="/_sim/health",
        what="the SAP simulator",
        startup_timeout=startup_timeout,
        stop_timeout=stop_timeout,
    ) as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m adapters.sap.simulator",
        description="Run the SAP S/4HANA OData V2 simulator (API_SALES_ORDER_SRV, "
        "API_BUSINESS_PARTNER; loopback only, in memory).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault RNG")
    parser.add_argument("--config", default=None, help="SimulatorConfig as JSON")
    parser.add_argument(
        "--metadata-dir",
        default=None,
        help="folder with SAP's API_SALES_ORDER_SRV.edmx and API_BUSINESS_PARTNER.edmx to "
        "serve instead of the project's EDMX subset",
    )
    parser.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        config = (
            SimulatorConfig.model_validate_json(args.config) if args.config else SimulatorConfig()
        )
    except ValidationError as exc:
        parser.error(f"invalid --config: {exc}")
    if args.seed is not None:
        config = config.model_copy(update={"seed": args.seed})
    if args.metadata_dir is not None:
        try:
            config = SimulatorConfig.model_validate(
                {**config.model_dump(), "metadata_dir": args.metadata_dir}
            )
        except ValidationError as exc:
            parser.error(f"invalid --metadata-dir: {exc}")
    if args.fd is not None:
        sock = socket.socket(fileno=args.fd)
    else:
        try:
            sock = listen(args.host, args.port)
        except (ValueError, OSError) as exc:
            parser.error(str(exc))
        user = config.users[0]
        roots = ", ".join(f"{base_url(sock)}{ODATA_ROOT}/{name}/" for name in SERVICE_NAMES)
        sys.stderr.write(
            f"SAP simulator: {roots}\n"
            f"(HTTP Basic user {user.name}, password {user.password}; "
            f"control API under {base_url(sock)}/_sim/)\n"
        )
        sys.stderr.flush()
    serve(config, sock, parent_pid=args.parent_pid)
    return 0
