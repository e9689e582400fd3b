"""The worker: claim due deliveries, map them for their target, deliver, record.

One asyncio loop per process runs up to ``concurrency`` deliveries at once. It sleeps
until PostgreSQL notifies it of new work (LISTEN/NOTIFY) or the poll interval passes,
reclaims the leases of workers that died, skips targets whose breaker is open (so an
outage does not burn every message's attempts), and on SIGTERM stops claiming, lets
in-flight deliveries finish within the grace period and releases the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from hub.canonical import model_for
from hub.clock import utcnow
from hub.errors import DeliveryError, MappingApplyError, MasterDataMissing, TransientError
from hub.logs import bind_correlation, scrub
from hub.outbox import NOTIFY_CHANNEL
from hub.queue.breaker import BreakerPolicy
from hub.queue.breakers import BreakerBoard
from hub.queue.disposition import fingerprint
from hub.queue.states import DeliveryStatus
from hub.queue.store import Claimed, Outcome, QueueStore
from hub.routing import RouteTable
from hub.targets import Delivery, DeliveryResult
from hub.targets.base import Deliverer

log = logging.getLogger("hub.worker")
S = DeliveryStatus


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 4
    lease: timedelta = timedelta(seconds=120)
    poll_interval: timedelta = timedelta(seconds=1)
    poison_after: int = 3
    shutdown_grace: timedelta = timedelta(seconds=30)
    reclaim_every: timedelta = timedelta(seconds=5)


def worker_name() -> str:
    """host:pid:random — unique across machines and restarts; fences every write."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Delivers queued deliveries until told to stop."""

    def __init__(
        self,
        engine: Engine,
        routes: RouteTable,
        targets: Mapping[str, Deliverer],
        *,
        options: WorkerOptions | None = None,
        breaker_policy: BreakerPolicy | None = None,
        secrets: tuple[str, ...] = (),
        name: str | None = None,
        database_url: str | None = None,
    ) -> None:
        self.engine = engine
        self.routes = routes
        self.targets = dict(targets)
        self.options = options or WorkerOptions()
        self.name = name or worker_name()
        self.queue = QueueStore(engine, poison_after=self.options.poison_after)
        self.breakers = BreakerBoard(engine, breaker_policy or BreakerPolicy())
        self.secrets = secrets
        self.database_url = database_url
        self.wake = asyncio.Event()
        self.delivered = 0
        self.failed = 0
        self._inflight: dict[asyncio.Task[None], Claimed] = {}
        self._outcomes: list[tuple[Claimed, Outcome, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ main loop

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; then drain within the grace period."""
        listener = asyncio.create_task(self._listen(stop)) if self._postgres_url() else None
        last_reclaim = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() - last_reclaim > self.options.reclaim_every.total_seconds():
                    reclaimed, poisoned = await asyncio.to_thread(self.queue.reclaim_expired)
                    if reclaimed or poisoned:
                        log.warning(
                            "reclaimed %d expired leases, parked %d as poison", reclaimed, poisoned
                        )
                    last_reclaim = time.monotonic()
                claimed = await self._claim()
                for item in claimed:
                    task = asyncio.create_task(self._process(item))
                    self._inflight[task] = item
                    task.add_done_callback(self._done)
                free = self.options.concurrency - len(self._inflight)
                if claimed and free > 0:
                    continue  # there may be more due right now
                await self._sleep(stop)
        finally:
            await self._drain()
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self.wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task crashed", exc_info=task.exception())

    async def _sleep(self, stop: asyncio.Event) -> None:
        self.wake.clear()
        waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(
                waiters,
                timeout=self.options.poll_interval.total_seconds(),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _claim(self) -> list[Claimed]:
        free = self.options.concurrency - len(self._inflight)
        if free <= 0:
            return []
        now = utcnow()
        paused, probes = self.breakers.paused(now)
        claimed: list[Claimed] = []
        for target in probes:
            if free - len(claimed) <= 0:
                break
            if await asyncio.to_thread(self.breakers.acquire_probe, target, now):
                claimed += await asyncio.to_thread(
                    self.queue.claim, self.name, 1, self.options.lease, only_target=target
                )
        remaining = free - len(claimed)
        if remaining > 0:
            claimed += await asyncio.to_thread(
                self.queue.claim,
                self.name,
                remaining,
                self.options.lease,
                exclude_targets=paused,
            )
        return claimed

    async def _drain(self) -> None:
        if not self._inflight:
            return
        grace = self.options.shutdown_grace.total_seconds()
        done, pending = await asyncio.wait(list(self._inflight), timeout=grace)
        del done
        if pending:
            left = [self._inflight[t] for t in pending if t in self._inflight]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            released = await asyncio.to_thread(self.queue.release, left, self.name)
            log.warning("shutdown: released %d deliveries still in flight", released)

    # ------------------------------------------------------------------ notifications

    def _postgres_url(self) -> str | None:
        if self.engine.dialect.name != "postgresql":
            return None
        url = self.database_url or self.engine.url.render_as_string(hide_password=False)
        return url.replace("postgresql+psycopg://", "postgresql://")

    async def _listen(self, stop: asyncio.Event) -> None:
        """Wake the loop on NOTIFY; on any trouble fall back to polling and try again."""
        import psycopg

        url = self._postgres_url()
        assert url is not None
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    async for _ in conn.notifies():
                        self.wake.set()
                        if stop.is_set():
                            break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - polling keeps working meanwhile
                log.warning("LISTEN failed (%s); polling until it is back", exc)
                await asyncio.sleep(5)

    # ------------------------------------------------------------------ one delivery

    async def _process(self, item: Claimed) -> None:
        with bind_correlation(item.correlation_id or None):
            await self._deliver(item)

    async def _deliver(self, item: Claimed) -> None:
        started = utcnow()
        clock = time.perf_counter()
        route = self.routes.route(item.route)
        target = self.targets[item.target]
        attempt = item.attempts + 1
        sent: str | None = None
        mapping_version: str | None = None
        error: DeliveryError | None = None
        result: DeliveryResult | None = None
        message = {
            "kind": item.kind,
            "canonical": item.canonical,
            "correlation_id": item.correlation_id,
        }
        try:
            payload, mapping_version = self._payload(route.mapping, message)
            sent = json.dumps(payload, separators=(",", ":"))
            result = await target.deliver(
                Delivery(
                    delivery_id=str(item.id),
                    message_id=item.message_id,
                    target=item.target,
                    route=item.route,
                    kind=str(message["kind"]),
                    payload=payload,
                    idempotency_key=item.idempotency_key,
                    ordering_key=item.ordering_key,
                    attempt=attempt,
                    correlation_id=str(message["correlation_id"]),
                )
            )
        except DeliveryError as exc:
            error = exc
        except MappingApplyError as exc:
            first = exc.issues[0] if exc.issues else None
            detail = "; ".join(i.message for i in exc.issues)
            error = MasterDataMissing(
                f"outbound mapping failed: {detail}",
                target=item.target,
                detail=first.message if first else detail,
            )
        except Exception as exc:
            log.exception("unexpected error delivering %s", item.id)
            error = TransientError(
                f"unexpected {type(exc).__name__}: {exc}", target=item.target, detail=str(exc)
            )
        now = utcnow()
        duration = int((time.perf_counter() - clock) * 1000)
        request = (
            f"{item.kind} to {item.target} via {item.route}"
            + (f" mapped by {mapping_version}" if mapping_version else " (canonical)")
            + (f", {len(sent)} bytes" if sent is not None else ", not sent")
            + f", key {item.idempotency_key}"
        )
        if error is None:
            assert result is not None
            outcome = Outcome(
                status=S.DELIVERED,
                outcome="delivered",
                started_at=started,
                duration_ms=duration,
                status_code=result.status_code,
                reference=result.reference,
                response_summary=_clip(scrub(result.summary or "", self.secrets)),
                sent_payload=sent,
                sent_mapping_version=mapping_version,
                request_summary=request,
            )
            self.delivered += 1
        else:
            decision = route.retry.to_policy().decide(
                error, attempt, item.first_attempt_at or started, now
            )
            text = scrub(f"{type(error).__name__}: {error.message}", self.secrets)
            detail = scrub(error.detail or "", self.secrets)
            outcome = Outcome(
                status=S.DEAD if decision.dead else S.RETRYING,
                outcome="dead" if decision.dead else "retry",
                started_at=started,
                duration_ms=duration,
                next_attempt_at=decision.retry_at,
                error=_clip(f"{text} — {decision.reason}" + (f" [{detail}]" if detail else "")),
                error_class=type(error).__name__,
                fingerprint=_clip(scrub(fingerprint(error), self.secrets), 255),
                status_code=error.status_code,
                sent_payload=sent,
                sent_mapping_version=mapping_version,
                request_summary=request,
            )
            self.failed += 1
        kept = await self._finish(item, outcome)
        if not kept:
            log.warning("lease on delivery %s was lost; another worker owns it now", item.id)
        if error is not None or self.breakers.needs_write(item.target):
            await asyncio.to_thread(self.breakers.record, item.target, now, error)

    async def _finish(self, item: Claimed, outcome: Outcome) -> bool:
        """Queue the outcome for the next group commit and wait until it is durable."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._outcomes.append((item, outcome, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._outcomes:
            batch, self._outcomes = self._outcomes[:500], self._outcomes[500:]
            try:
                kept = await asyncio.to_thread(
                    self.queue.finish_many, [(i, o) for i, o, _ in batch], self.name
                )
            except Exception as exc:  # noqa: BLE001 - every waiter learns of it
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), ok in zip(batch, kept, strict=True):
                if not future.done():
                    future.set_result(ok)

    @staticmethod
    def _payload(mapping: Any, message: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        canonical = json.loads(message["canonical"])
        if mapping is None:
            return canonical, None
        document = model_for(str(message["kind"])).model_validate(canonical)
        result = mapping.apply(document)
        payload: dict[str, Any] = json.loads(result.document.model_dump_json(exclude_none=True))
        return payload, str(mapping.version)


def _clip(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
