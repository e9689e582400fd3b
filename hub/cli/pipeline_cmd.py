"""``o2c db``, ``o2c ingest`` and ``o2c worker``: the durable pipeline from the shell."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import track

from hub.cli.mapping_cmd import ConfigOption
from hub.cli.output import err, out
from hub.config import load_settings
from hub.ingest import IngestRejected
from hub.logs import configure_logging
from hub.polling import PollScheduler
from hub.runtime import runtime_from
from hub.store import migrate

db_app = typer.Typer(help="Create and upgrade the hub's database.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Bring the database (database.url / O2C_DATABASE_URL) to the newest schema."""
    runtime = runtime_from(load_settings(config))
    before = migrate.current_revision(runtime.engine)
    migrate.upgrade(runtime.engine)
    after = migrate.current_revision(runtime.engine)
    out.print(f"database at {after}" + ("" if before == after else f" (was {before or 'empty'})"))


def ingest(
    system: Annotated[str, typer.Argument(help="Source system, e.g. magento.")],
    kind: Annotated[str, typer.Argument(help="Document kind, e.g. order.")],
    files: Annotated[list[Path], typer.Argument(help="JSON documents to ingest.")],
    config: ConfigOption = None,
) -> None:
    """Store documents durably and queue their deliveries; prints one message id each.

    A duplicate prints the original id. A document that cannot be mapped is kept in
    quarantine; its problems are printed and the exit code is 1.
    """
    runtime = runtime_from(load_settings(config))
    runtime.upgrade_if_embedded()
    runtime.require_current_schema()
    rejected = 0
    for path in track(
        files, description="ingesting", console=err, transient=True, disable=len(files) < 20
    ):
        try:
            raw = path.read_bytes()
        except OSError as exc:
            err.print(f"{path}: cannot read: {exc.strerror}", style="red", markup=False)
            rejected += 1
            continue
        try:
            result = runtime.ingestor.ingest(system, kind, raw)
        except IngestRejected as exc:
            rejected += 1
            err.print(f"{path}: {exc.message}", style="red", markup=False)
            continue
        note = "" if result.created else "  (duplicate: already stored)"
        out.print(f"{result.message_id}{note}", markup=False)
    if rejected:
        raise typer.Exit(1)


def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Deliveries at once (default: workers.concurrency).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run delivery workers until SIGTERM or Ctrl-C (in-flight work finishes first)."""
    runtime = runtime_from(load_settings(config))
    runtime.upgrade_if_embedded()
    runtime.require_current_schema()
    the_worker = runtime.worker(concurrency=concurrency)
    err.print(
        f"worker {the_worker.name}: {the_worker.options.concurrency} at once, "
        f"targets {', '.join(sorted(the_worker.targets)) or 'none'}"
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await the_worker.run(stop)
        finally:
            for target in the_worker.targets.values():
                await target.aclose()

    asyncio.run(main())
    err.print(
        f"worker stopped: {the_worker.delivered} delivered, {the_worker.failed} failed attempts"
    )


def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default: server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: server.port).")] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Deliveries at once (default: workers.concurrency).")
    ] = None,
    workers: Annotated[
        bool,
        typer.Option(
            "--workers/--no-workers", help="Run delivery workers in this process (off: API only)."
        ),
    ] = True,
    pollers: Annotated[
        bool,
        typer.Option(
            "--pollers/--no-pollers",
            help="Poll the enabled sources of routes.yaml in this process (see `o2c poll`).",
        ),
    ] = True,
    config: ConfigOption = None,
) -> None:
    """Run the HTTP API, delivery workers, pollers and recurring billing in one process.

    SQLite upgrades itself; PostgreSQL needs `o2c db upgrade` first."""
    import uvicorn

    from hub.api.app import create_app
    from hub.invoicing.billing import billing_loop, scheduled_billing

    settings = load_settings(config)
    if settings.server.workers > 1:
        err.print(
            f"server.workers is {settings.server.workers}: one `o2c serve` is one process; "
            "run several (`o2c serve --no-workers --port …`) behind a balancer, and "
            "`o2c worker` processes for delivery",
            style="yellow",
        )
    runtime = runtime_from(settings)
    runtime.upgrade_if_embedded()
    runtime.require_current_schema()
    the_worker = runtime.worker(concurrency=concurrency)
    scheduler = PollScheduler(runtime.pollers() if pollers else [])
    billing = scheduled_billing(runtime)  # (service, every N seconds) or None
    poll_secrets = tuple(s for p in scheduler.pollers for s in p.adapter.secrets())
    configure_logging(settings.logging, secrets=the_worker.secrets + poll_secrets)
    worker_task: asyncio.Task[None] | None = None
    poll_task: asyncio.Task[None] | None = None
    billing_task: asyncio.Task[None] | None = None

    def alive() -> bool:
        return not workers or (worker_task is not None and not worker_task.done())

    app = create_app(runtime, alive)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host or settings.server.host,
            port=port or settings.server.port,
            log_level="warning",
            lifespan="off",
        )
    )

    async def main() -> None:
        nonlocal worker_task, poll_task, billing_task
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def shutdown() -> None:
            server.should_exit = True
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, shutdown)
        if workers:
            worker_task = asyncio.create_task(the_worker.run(stop))
        if scheduler.pollers:
            poll_task = asyncio.create_task(scheduler.run(stop))
        if billing is not None:
            billing_task = asyncio.create_task(billing_loop(billing[0], stop, every=billing[1]))
        try:
            await server.serve()  # returns once shutdown() asked it to
        finally:
            stop.set()
            if worker_task is not None:
                await worker_task
            if poll_task is not None:
                await poll_task  # the page in progress is ingested and its cursor saved
            if billing_task is not None:
                await billing_task  # the period being billed is finished
            await scheduler.aclose()
            for target in the_worker.targets.values():
                await target.aclose()

    polling = ", ".join(p.name for p in scheduler.pollers)
    err.print(
        f"serving on http://{server.config.host}:{server.config.port} with worker {the_worker.name}"
        + (f", polling {polling}" if polling else "")
        + (f", billing every {billing[1]} s" if billing is not None else "")
    )
    asyncio.run(main())
