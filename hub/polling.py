"""Polling: ask a source system for changed documents and ingest them, one page at a time.

A *source* (``sources:`` in routes.yaml) names a target whose adapter can poll. A
:class:`Poller` runs one source: it takes the source's lease in the ``poll_cursor`` table
(so two hub processes never poll one source at once), then asks the adapter for a page of
documents changed since the stored cursor, ingests every document, and only then stores
the page's cursor. A crash between ingest and cursor save re-reads the page on the next
run, and ingest's de-duplication recognises what it already stored: nothing is lost and
nothing is stored twice. :class:`PollScheduler` runs every enabled source every
``every`` seconds (``o2c serve``, ``o2c poll run --forever``); see ``docs/polling.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from hub.adapter import Adapter
from hub.clock import utcnow
from hub.errors import DeliveryError, HubError, NotFoundError, RateLimited
from hub.ingest import Ingestor, IngestRejected
from hub.logs import scrub
from hub.routing import RouteTable, SourceConfig
from hub.store.tables import poll_cursor_table

log = logging.getLogger("hub.polling")
P = poll_cursor_table.c

DEFAULT_LEASE = timedelta(minutes=5)
"""How long a poller holds its source without saving a cursor; every save extends it."""

MAX_BACKOFF_SECONDS = 900.0
"""Longest wait after repeated failures (unless ``every`` itself is longer)."""

ERROR_LIMIT = 2000


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PollRun:
    """What one run of one source did."""

    source: str
    documents: int = 0
    """Documents the adapter returned and the hub ingested (or quarantined)."""
    created: int = 0
    """New messages stored (a new document, or a new version of one)."""
    duplicates: int = 0
    """Documents the hub already had: a re-read page after a crash, or an unchanged one."""
    quarantined: int = 0
    """Documents that could not be parsed or mapped; kept in quarantine, not fatal."""
    pages: int = 0
    cursor: dict[str, Any] | None = None
    """The stored cursor at the end of the run (None: start from the configured start)."""
    error: str | None = None
    """Why the run stopped early: the adapter's error (secrets removed) or a lost lease."""
    more: bool = False
    """The run stopped at ``max_per_run`` (or on stop) while the source had more."""
    held_by: str | None = None
    """Set when the run did nothing because another process holds the source's lease."""
    retry_after: float | None = None
    """Seconds the source asked us to wait (a rate-limit answer), if it did."""

    @property
    def skipped(self) -> bool:
        """True when another process is polling this source."""
        return self.held_by is not None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class CursorState:
    """One row of ``poll_cursor``, as ``o2c poll status`` shows it."""

    source: str
    cursor: dict[str, Any] | None
    leased_by: str | None
    leased_until: datetime | None
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    documents_total: int
    updated_at: datetime

    def lease_holder(self, now: datetime) -> str | None:
        """Who polls the source now (None when the lease is free or has expired)."""
        if self.leased_by and self.leased_until is not None and self.leased_until >= now:
            return self.leased_by
        return None


# --------------------------------------------------------------------------- the table


class CursorStore:
    """The ``poll_cursor`` rows: leases, cursors and run records. Synchronous; the
    poller calls it in a thread. Every write after the claim is fenced by the lease."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(self, source: str, owner: str, lease: timedelta) -> tuple[bool, CursorState]:
        """Take the source's lease if it is free, expired or already ours.

        Returns (claimed, the row after the attempt). The row is created on first use.
        """
        self._ensure_row(source)
        now = utcnow()
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(poll_cursor_table)
                .where(
                    P.source == source,
                    or_(P.leased_until.is_(None), P.leased_until < now, P.leased_by == owner),
                )
                .values(
                    leased_by=owner,
                    leased_until=now + lease,
                    last_run_at=now,
                    updated_at=now,
                )
            ).rowcount
            row = conn.execute(select(poll_cursor_table).where(P.source == source)).one()
        return claimed == 1, _state(row._mapping)

    def _ensure_row(self, source: str) -> None:
        with self.engine.connect() as conn:
            if conn.execute(select(P.source).where(P.source == source)).first() is not None:
                return
        # Two processes may both get here; the primary key lets one insert win.
        with contextlib.suppress(IntegrityError), self.engine.begin() as conn:
            conn.execute(
                insert(poll_cursor_table).values(
                    source=source, cursor=None, documents_total=0, updated_at=utcnow()
                )
            )

    def save_cursor(
        self,
        source: str,
        owner: str,
        cursor: dict[str, Any],
        documents: int,
        lease: timedelta,
    ) -> bool:
        """Store a page's cursor and extend the lease; False when the lease was lost."""
        now = utcnow()
        with self.engine.begin() as conn:
            kept = conn.execute(
                update(poll_cursor_table)
                .where(P.source == source, P.leased_by == owner)
                .values(
                    cursor=_dump_cursor(cursor),
                    documents_total=P.documents_total + documents,
                    leased_until=now + lease,
                    updated_at=now,
                )
            ).rowcount
        return kept == 1

    def release(self, source: str, owner: str, *, error: str | None) -> bool:
        """Give the lease up and record the run's outcome; False when it was lost."""
        now = utcnow()
        values: dict[str, Any] = {
            "leased_by": None,
            "leased_until": None,
            "last_error": error,
            "updated_at": now,
        }
        if error is None:
            values["last_success_at"] = now
        with self.engine.begin() as conn:
            kept = conn.execute(
                update(poll_cursor_table)
                .where(P.source == source, P.leased_by == owner)
                .values(**values)
            ).rowcount
        return kept == 1

    def get(self, source: str) -> CursorState | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(poll_cursor_table).where(P.source == source)).first()
        return _state(row._mapping) if row is not None else None

    def all(self) -> list[CursorState]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(poll_cursor_table).order_by(P.source)).all()
        return [_state(r._mapping) for r in rows]

    def reset(self, source: str) -> CursorState:
        """Forget the cursor: the next run starts from the adapter's configured start.

        Refused while another process holds the lease (it would write its cursor back).
        """
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(select(poll_cursor_table).where(P.source == source)).first()
            if row is None:
                raise NotFoundError(f"source {source!r} has never been polled: nothing to reset")
            before = _state(row._mapping)
            holder = before.lease_holder(now)
            if holder is not None:
                raise HubError(
                    f"source {source!r} is being polled by {holder} (lease until "
                    f"{before.leased_until:%Y-%m-%d %H:%M:%S} UTC); stop it first"
                )
            conn.execute(
                update(poll_cursor_table)
                .where(P.source == source)
                .values(cursor=None, last_error=None, updated_at=now)
            )
        return before


def _dump_cursor(cursor: dict[str, Any]) -> str:
    try:
        return json.dumps(cursor, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise HubError(f"the adapter's cursor is not JSON: {exc}") from exc


def _state(row: Any) -> CursorState:
    text = row["cursor"]
    return CursorState(
        source=row["source"],
        cursor=json.loads(text) if text else None,
        leased_by=row["leased_by"],
        leased_until=row["leased_until"],
        last_run_at=row["last_run_at"],
        last_success_at=row["last_success_at"],
        last_error=row["last_error"],
        documents_total=int(row["documents_total"] or 0),
        updated_at=row["updated_at"],
    )


# --------------------------------------------------------------------------- one source


def poller_name() -> str:
    """host:pid:random, like a worker's: names the lease holder."""
    from hub.queue.worker import worker_name

    return worker_name()


def _clip(text: str, limit: int = ERROR_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Poller:
    """Polls one source: lease, page, ingest every document, save the cursor, repeat."""

    def __init__(
        self,
        name: str,
        source: SourceConfig,
        adapter: Adapter,
        ingestor: Ingestor,
        *,
        engine: Engine | None = None,
        owner: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        on_progress: Callable[[PollRun], None] | None = None,
    ) -> None:
        if source.system is None:
            raise HubError(f"source {name!r} has no system (load it with load_routes)")
        self.name = name
        self.source = source
        self.system: str = source.system
        self.adapter = adapter
        self.ingestor = ingestor
        self.store = CursorStore(engine if engine is not None else ingestor.engine)
        self.owner = owner or poller_name()
        self.lease = lease
        self.on_progress = on_progress

    async def run(self, stop: asyncio.Event | None = None) -> PollRun:
        """One run: poll until caught up, ``max_per_run`` documents, an error or ``stop``.

        ``stop`` is looked at between pages: the page in progress is ingested and its
        cursor saved first. A :class:`~hub.errors.DeliveryError` from the adapter ends the
        run with ``error`` set (and recorded); any other exception is recorded and raised.
        """
        claimed, state = await asyncio.to_thread(
            self.store.claim, self.name, self.owner, self.lease
        )
        if not claimed:
            return PollRun(self.name, cursor=state.cursor, held_by=state.leased_by or "?")
        run = PollRun(self.name, cursor=state.cursor)
        error: str | None = None
        lost = False
        try:
            while True:
                if stop is not None and stop.is_set():
                    run = replace(run, more=True)
                    break
                try:
                    page = await self.adapter.poll(
                        self.source.kind, run.cursor, limit=self.source.batch
                    )
                except DeliveryError as exc:
                    error = self._describe(exc)
                    retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                    run = replace(run, error=error, retry_after=retry_after)
                    log.warning("polling %s failed: %s", self.name, error)
                    break
                run = replace(run, pages=run.pages + 1)
                for doc in page.documents:
                    run = await self._ingest(run, doc.raw, doc.content_type)
                kept = await asyncio.to_thread(
                    self.store.save_cursor,
                    self.name,
                    self.owner,
                    page.cursor,
                    len(page.documents),
                    self.lease,
                )
                if not kept:
                    lost = True
                    error = (
                        f"lease on source {self.name!r} was lost to another process; "
                        "stopped (the last page is re-read by whoever holds it now)"
                    )
                    run = replace(run, error=error)
                    log.warning("%s", error)
                    break
                run = replace(run, cursor=page.cursor)
                if not page.more:
                    break
                if run.documents >= self.source.max_per_run:
                    run = replace(run, more=True)
                    break
        except BaseException as exc:
            if not lost:
                text = (
                    self._describe(exc)
                    if isinstance(exc, Exception)
                    else f"interrupted ({type(exc).__name__})"
                )
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.store.release, self.name, self.owner, error=text)
            raise
        if not lost:
            await asyncio.to_thread(self.store.release, self.name, self.owner, error=error)
        return run

    async def _ingest(self, run: PollRun, raw: bytes, content_type: str) -> PollRun:
        try:
            result = await asyncio.to_thread(
                self.ingestor.ingest,
                self.system,
                self.source.kind,
                raw,
                content_type=content_type,
            )
        except IngestRejected as exc:
            log.warning("polling %s: a document was quarantined: %s", self.name, exc.message)
            run = replace(run, documents=run.documents + 1, quarantined=run.quarantined + 1)
        else:
            if result.created:
                run = replace(run, documents=run.documents + 1, created=run.created + 1)
            else:
                run = replace(run, documents=run.documents + 1, duplicates=run.duplicates + 1)
        if self.on_progress is not None:
            self.on_progress(run)
        return run

    def _describe(self, exc: BaseException) -> str:
        message = exc.message if isinstance(exc, HubError) else str(exc)
        text = f"{type(exc).__name__}: {message}"
        detail = getattr(exc, "detail", None)
        if detail and detail not in text:
            text += f" [{detail}]"
        return _clip(scrub(text, self.adapter.secrets()))

    def state(self) -> CursorState | None:
        return self.store.get(self.name)

    async def aclose(self) -> None:
        """Close the adapter's connections."""
        await self.adapter.aclose()


def build_pollers(
    routes: RouteTable,
    ingestor: Ingestor,
    names: Sequence[str] | None = None,
    *,
    engine: Engine | None = None,
    owner: str | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> list[Poller]:
    """Pollers for the named sources (any, enabled or not), else every enabled source.

    Each poller gets its own adapter instance built from its target's configuration.
    """
    if names:
        unknown = [n for n in names if n not in routes.sources]
        if unknown:
            known = ", ".join(sorted(routes.sources)) or "none"
            raise NotFoundError(
                f"no source {', '.join(map(repr, unknown))} in {routes.file or 'routes.yaml'}"
                f" (sources: {known})"
            )
        chosen = list(dict.fromkeys(names))
    else:
        chosen = [n for n, s in routes.sources.items() if s.enabled]
    owner = owner or poller_name()
    pollers = []
    for name in chosen:
        source = routes.sources[name]
        spec = routes.targets[source.target]
        adapter = spec.adapter(source.target, spec.config)
        pollers.append(
            Poller(name, source, adapter, ingestor, engine=engine, owner=owner, lease=lease)
        )
    return pollers


# --------------------------------------------------------------------------- schedule


def next_delay(
    every: float,
    failures: int,
    *,
    retry_after: float | None = None,
    max_backoff: float = MAX_BACKOFF_SECONDS,
) -> float:
    """Seconds until a source's next run: ``every``, doubled for each failure in a row
    (capped at ``max_backoff`` or ``every``, whichever is longer), never before a
    rate-limit's ``retry_after``."""
    delay = every
    if failures > 0:
        delay = min(every * 2 ** min(failures - 1, 30), max(max_backoff, every))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


class PollScheduler:
    """Runs each poller every ``every`` seconds until ``stop`` is set.

    A run that stopped at ``max_per_run`` continues at once (after the other sources
    had their turn on the loop); a failed run is retried with backoff. On ``stop`` a run
    in progress finishes its page and saves its cursor before ``run`` returns.
    """

    def __init__(
        self,
        pollers: Sequence[Poller],
        *,
        on_run: Callable[[PollRun], None] | None = None,
        max_backoff: float = MAX_BACKOFF_SECONDS,
    ) -> None:
        self.pollers = list(pollers)
        self.on_run = on_run
        self.max_backoff = max_backoff
        self.runs = 0
        self.failures: dict[str, int] = {p.name: 0 for p in self.pollers}

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every source until ``stop`` is set."""
        if not self.pollers:
            return
        await asyncio.gather(*(self._loop(p, stop) for p in self.pollers))

    async def _loop(self, poller: Poller, stop: asyncio.Event) -> None:
        while not stop.is_set():
            retry_after: float | None = None
            more = False
            try:
                result = await poller.run(stop)
            except Exception:
                log.exception("polling %s failed unexpectedly", poller.name)
                self.failures[poller.name] += 1
            else:
                self.runs += 1
                retry_after = result.retry_after
                more = result.more
                if result.error is not None:
                    self.failures[poller.name] += 1
                elif not result.skipped:
                    self.failures[poller.name] = 0
                if result.documents or result.error:
                    log.info(
                        "polled %s: %d documents (%d new, %d duplicates, %d quarantined)%s",
                        poller.name,
                        result.documents,
                        result.created,
                        result.duplicates,
                        result.quarantined,
                        f"; {result.error}" if result.error else "",
                    )
                if self.on_run is not None:
                    self.on_run(result)
            if stop.is_set():
                break
            if more and not self.failures[poller.name]:
                await asyncio.sleep(0)  # let the other sources have their turn
                continue
            delay = next_delay(
                poller.source.every,
                self.failures[poller.name],
                retry_after=retry_after,
                max_backoff=self.max_backoff,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    async def aclose(self) -> None:
        """Close every poller's adapter."""
        for poller in self.pollers:
            with contextlib.suppress(Exception):
                await poller.aclose()
