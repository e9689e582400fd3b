"""The transactional outbox writer: messages and their deliveries, committed in groups.

Every accepted document is written with its references and deliveries in one
transaction. Concurrent callers (API requests, several ingest threads) hand their rows
to one writer thread that commits whatever has queued up in a single transaction —
group commit — so the cost of a durable commit (an fsync on SQLite ``synchronous=FULL``,
a WAL flush on PostgreSQL) is shared by the group. Each caller returns only once its
own document is committed: nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import queue
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select
from sqlalchemy.exc import IntegrityError

from hub.store.tables import delivery_table, external_ref_table, message_table

M = message_table.c
NOTIFY_CHANNEL = "o2c_delivery"


@dataclass
class OutboxWrite:
    """One document's rows, ready to insert."""

    system: str
    kind: str
    external_id: str
    content_hash: str
    message_row: dict[str, Any]
    refs: list[tuple[str, str]]
    deliveries: list[dict[str, Any]]
    future: Future[tuple[str, bool, int]] = field(default_factory=Future)


class OutboxWriter:
    """One writer thread per engine; ``write`` blocks until the document is committed."""

    def __init__(self, engine: Engine, *, max_batch: int = 200) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.notify = engine.dialect.name == "postgresql"
        self._queue: queue.SimpleQueue[OutboxWrite | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def write(self, item: OutboxWrite) -> tuple[str, bool, int]:
        """(message id, created, version): created is False for a duplicate."""
        self._ensure_thread()
        self._queue.put(item)
        return item.future.result()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="o2c-outbox-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[OutboxWrite]) -> None:
        try:
            with self.engine.begin() as conn:
                results = self.insert(conn, batch)
        except IntegrityError:
            # another process wrote one of these documents meanwhile: go one by one,
            # so each sees the committed row and answers as a duplicate
            if len(batch) > 1:
                for item in batch:
                    self._commit([item])
                return
            self._retry_single(batch[0])
            return
        except Exception as exc:  # noqa: BLE001 - hand the failure to every waiting caller
            for item in batch:
                item.future.set_exception(exc)
            return
        for item, result in zip(batch, results, strict=True):
            item.future.set_result(result)

    def _retry_single(self, item: OutboxWrite) -> None:
        for _ in range(3):
            try:
                with self.engine.begin() as conn:
                    (result,) = self.insert(conn, [item])
            except IntegrityError:
                continue
            except Exception as exc:  # noqa: BLE001
                item.future.set_exception(exc)
                return
            item.future.set_result(result)
            return
        item.future.set_exception(RuntimeError("could not store the document: concurrent writers"))

    def insert(self, conn: Connection, batch: list[OutboxWrite]) -> list[tuple[str, bool, int]]:
        """Write ``batch`` on ``conn`` (the caller's transaction): (message id, created,
        version) each. The writer thread batches through here; a caller that must store a
        document atomically with its own rows (an issued invoice) calls it directly."""
        results: list[tuple[str, bool, int]] = []
        seen: dict[tuple[str, str, str, str], tuple[str, int]] = {}
        latest_in_batch: dict[tuple[str, str, str], int] = {}
        messages: list[dict[str, Any]] = []
        refs: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        for item in batch:
            doc_key = (item.system, item.kind, item.external_id)
            content_key = (*doc_key, item.content_hash)
            if content_key in seen:
                message_id, version = seen[content_key]
                results.append((message_id, False, version))
                continue
            same = and_(
                M.system == item.system, M.kind == item.kind, M.external_id == item.external_id
            )
            existing = conn.execute(
                select(M.id, M.version).where(same, M.content_hash == item.content_hash)
            ).first()
            if existing is not None:
                results.append((existing.id, False, existing.version))
                continue
            if doc_key in latest_in_batch:
                version = latest_in_batch[doc_key] + 1
            else:
                latest = conn.execute(select(func.max(M.version)).where(same)).scalar()
                version = int(latest or 0) + 1
            latest_in_batch[doc_key] = version
            message_id = str(uuid.uuid4())
            seen[content_key] = (message_id, version)
            messages.append({**item.message_row, "id": message_id, "version": version})
            refs += [{"message_id": message_id, "system": s, "value": v} for s, v in item.refs]
            deliveries += [
                {**d, "message_id": message_id, "idempotency_key": f"o2c-{message_id}-{d['route']}"}
                for d in item.deliveries
            ]
            results.append((message_id, True, version))
        if messages:
            conn.execute(message_table.insert(), messages)
        if refs:
            conn.execute(external_ref_table.insert(), refs)
        if deliveries:
            conn.execute(delivery_table.insert(), deliveries)
            if self.notify:
                conn.exec_driver_sql(f"NOTIFY {NOTIFY_CHANNEL}")
        return results
