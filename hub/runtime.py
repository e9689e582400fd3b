"""Builds the hub's long-lived parts from settings: engine, routes, ingestor, worker.

A factory, called by the CLI and tests, never at import time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from hub.config import Settings
from hub.errors import ConfigError
from hub.ingest import Ingestor
from hub.queue.worker import Worker, WorkerOptions
from hub.routing import RouteTable, load_routes
from hub.security.signatures import Verifier, verifier_for
from hub.store import migrate
from hub.store.db import is_sqlite, make_engine
from hub.targets.factory import build_targets, target_secrets

if TYPE_CHECKING:
    from hub.invoicing.service import InvoicingService
    from hub.polling import Poller


@dataclass
class Runtime:
    """The configured hub; build it with :func:`runtime_from`."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database.url, echo=self.settings.database.echo)

    @cached_property
    def routes(self) -> RouteTable:
        return load_routes(self.settings.routes.file, list(self.settings.mappings.paths))

    @cached_property
    def ingestor(self) -> Ingestor:
        controls = self.settings.mappings.control_totals
        return Ingestor(
            self.engine,
            self.routes,
            list(self.settings.mappings.paths),
            on_mismatch=controls.on_mismatch,
            tolerance=controls.tolerance,
        )

    @cached_property
    def invoicing(self) -> InvoicingService:
        """The invoicing job (``invoicing:`` in the configuration)."""
        if self.settings.invoicing is None:
            raise ConfigError(
                "invoicing is not configured: add an `invoicing:` section (seller, series) "
                "to the hub's configuration"
            )
        from hub.invoicing.service import InvoicingService

        return InvoicingService(self.engine, self.ingestor, self.settings.invoicing)

    @cached_property
    def _verifiers(self) -> dict[str, Verifier]:
        return {
            system: verifier_for(config)
            for system, config in self.settings.security.inbound_signatures.items()
        }

    def signature_verifier(self, system: str) -> Verifier | None:
        """The signature check for calls from ``system``, if it signs them."""
        return self._verifiers.get(system)

    def upgrade_if_embedded(self) -> None:
        """SQLite upgrades itself; a shared PostgreSQL is upgraded by `o2c db upgrade`."""
        if is_sqlite(self.engine):
            migrate.upgrade(self.engine)

    def require_current_schema(self) -> None:
        from hub.errors import StoreError

        if not migrate.is_current(self.engine):
            raise StoreError(
                f"database schema is at {migrate.current_revision(self.engine) or 'nothing'}, "
                f"the hub needs {migrate.head_revision()}: run `o2c db upgrade`"
            )

    def worker(self, *, concurrency: int | None = None) -> Worker:
        w = self.settings.workers
        options = WorkerOptions(
            concurrency=concurrency or w.concurrency,
            lease=timedelta(seconds=w.lease_seconds),
            poll_interval=w.poll_interval,
            poison_after=w.poison_after,
            shutdown_grace=timedelta(seconds=w.shutdown_grace_seconds),
        )
        targets = build_targets(self.routes.targets)
        return Worker(
            self.engine,
            self.routes,
            targets,
            options=options,
            breaker_policy=w.breaker.to_policy(),
            secrets=target_secrets(targets),
        )

    def pollers(self, names: Sequence[str] | None = None) -> list[Poller]:
        """Pollers for the named sources, else for every enabled source in routes.yaml.

        Each has its own adapter instance; close them with ``Poller.aclose``.
        """
        from hub.polling import build_pollers

        return build_pollers(self.routes, self.ingestor, names, engine=self.engine)


def runtime_from(settings: Settings) -> Runtime:
    return Runtime(settings)
