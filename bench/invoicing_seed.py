"""Seeding for the month-end invoicing benchmark: many shipped orders, stored fast.

The rows are the ones the hub's ingest stores: every order goes through
:meth:`hub.ingest.Ingestor.ingest` (parse, the Magento order mapping, validation, content
hash, references, routes) and every shipment through
:meth:`~hub.ingest.Ingestor.ingest_canonical`, exactly as one at a time. Only the commit
differs: instead of one outbox transaction per document (group commit with a single
caller), :class:`StagingWriter` keeps the rows the ingestor hands to its outbox writer and
inserts a few hundred documents per transaction with the writer's own insert
(:meth:`hub.outbox.OutboxWriter.insert`: same ids, versions, references, deliveries and
duplicate detection). :func:`verify_seeded` then re-ingests a sample through the normal
path and expects the hub to recognise every one as already stored.

Seeding runs in several processes (mapping is CPU in Python), each over its own range of
order numbers. A seeded store is copied for each timed run instead of being seeded
again: SQLite with the backup API (:func:`clone_sqlite`), PostgreSQL schema to schema
with ``INSERT ... SELECT`` (:func:`clone_postgres`).
"""

from __future__ import annotations

import copy
import json
import multiprocessing as mp
import re
import sqlite3
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Table, func, select, text

from hub.canonical.order import Order
from hub.canonical.shipment import Shipment, ShipmentLine
from hub.ingest import Ingestor
from hub.outbox import OutboxWrite, OutboxWriter
from hub.routing import load_routes
from hub.store import migrate
from hub.store.db import make_engine
from hub.store.tables import delivery_table, external_ref_table, message_table
from tests.pipeline_support import BASE_ORDER, order

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = [ROOT / "mappings"]
SHIPPED_AT = datetime(2026, 11, 27, 12, tzinfo=UTC)
BATCH = 250
"""Orders (with their shipments) per seeding transaction."""
PROGRESS_SECONDS = 10.0
IDENTIFIER = re.compile(r"[a-z0-9_]{1,63}")
SEEDED_TABLES: tuple[Table, ...] = (message_table, external_ref_table, delivery_table)
"""What ingest writes, in foreign-key order."""


class StagingWriter(OutboxWriter):
    """Keeps the rows an :class:`Ingestor` hands to its outbox and inserts them as one
    large group on :meth:`flush` (seeding only: no caller waits for its document)."""

    def __init__(self, ingestor: Ingestor) -> None:
        super().__init__(ingestor.engine)
        self.pending: list[OutboxWrite] = []

    def write(self, item: OutboxWrite) -> tuple[str, bool, int]:
        self.pending.append(item)
        return f"staged-{len(self.pending)}", True, 1

    def flush(self) -> None:
        if self.pending:
            with self.engine.begin() as conn:
                self.insert(conn, self.pending)
            self.pending.clear()


class Orders:
    """The bench's Magento orders, byte for byte ``tests.pipeline_support.order(n)``,
    made without deep-copying the 19 KB sample for each one (a quarter of the seeding
    time): one copy is changed in place and serialised."""

    def __init__(self) -> None:
        self._doc = copy.deepcopy(BASE_ORDER)

    def __call__(self, n: int) -> bytes:
        doc = self._doc
        doc["increment_id"] = f"T{n:08d}"
        doc["entity_id"] = 900000 + n
        doc["payment"]["po_number"] = "PO-1"
        doc["updated_at"] = "2026-01-01 00:00:01"
        return json.dumps(doc).encode()


def shipments_of(source: Order, split: bool) -> list[Shipment]:
    """One shipment of the whole order, or (``split``) two partial ones."""
    whole = {line.line_id: line.quantity for line in source.lines}
    parts = [whole]
    if split:
        first = {k: q // 2 for k, q in whole.items() if q // 2 > 0}
        parts = [first, {k: q - first.get(k, Decimal(0)) for k, q in whole.items()}]
    skus = {line.line_id: line.sku for line in source.lines}
    return [
        Shipment(
            shipment_number=f"S-{source.order_number}-{n}",
            order_number=source.order_number,
            shipped_at=SHIPPED_AT,
            lines=[
                ShipmentLine(order_line_id=k, sku=skus[k], quantity=q)
                for k, q in part.items()
                if q > 0
            ],
        )
        for n, part in enumerate(parts, start=1)
    ]


def seed_range(url: str, routes_file: Path, first: int, last: int, split_every: int) -> int:
    """Store orders ``first``..``last`` and their shipments; returns the shipments stored."""
    engine = make_engine(url, pool_size=1)
    ingestor = Ingestor(engine, load_routes(routes_file, MAPPINGS), MAPPINGS)
    staging = StagingWriter(ingestor)
    ingestor.writer = staging
    orders = Orders()
    if orders(first) != order(first):
        raise SystemExit("bench.invoicing_seed.Orders no longer matches pipeline_support.order")
    shipments = 0
    started = last_report = time.monotonic()
    try:
        for n in range(first, last + 1):
            ingestor.ingest("magento", "order", orders(n))
            source = Order.model_validate_json(staging.pending[-1].message_row["canonical"])
            split = split_every > 0 and n % split_every == 0
            for item in shipments_of(source, split):
                ingestor.ingest_canonical("magento", "shipment", item)
                shipments += 1
            if (n - first + 1) % BATCH == 0:
                staging.flush()
            now = time.monotonic()
            if now - last_report >= PROGRESS_SECONDS:
                done = n - first + 1
                rate = done / (now - started)
                print(
                    f"  seeding orders {first}..{last}: {done:,} stored ({rate:,.0f}/s)",
                    flush=True,
                )
                last_report = now
        staging.flush()
    finally:
        engine.dispose()
    return shipments


def seed(url: str, routes_file: Path, orders: int, split_every: int, processes: int) -> int:
    """Migrate the store at ``url`` and seed it; returns the number of shipments."""
    engine = make_engine(url, pool_size=1)
    migrate.upgrade(engine)
    engine.dispose()
    processes = max(1, min(processes, orders // BATCH or 1))
    step = -(-orders // processes)
    ranges = [
        (url, routes_file, start, min(start + step - 1, orders), split_every)
        for start in range(1, orders + 1, step)
    ]
    if len(ranges) == 1:
        return seed_range(*ranges[0])
    with mp.get_context("spawn").Pool(len(ranges)) as pool:
        return sum(pool.starmap(seed_range, ranges))


def verify_seeded(url: str, routes_file: Path, orders: int, split_every: int) -> None:
    """Re-ingest a sample through the normal path: each must be found already stored."""
    engine = make_engine(url, pool_size=2)
    ingestor = Ingestor(engine, load_routes(routes_file, MAPPINGS), MAPPINGS)
    try:
        sample = sorted({1, 2, split_every or 1, orders // 2 or 1, orders})
        for n in sample:
            stored = ingestor.ingest("magento", "order", order(n))
            if stored.created:
                raise SystemExit(f"seeding: order {n} differs from what ingest stores")
            with engine.connect() as conn:
                canonical = conn.execute(
                    select(message_table.c.canonical).where(message_table.c.id == stored.message_id)
                ).scalar_one()
            split = split_every > 0 and n % split_every == 0
            for item in shipments_of(Order.model_validate_json(canonical), split):
                if ingestor.ingest_canonical("magento", "shipment", item).created:
                    raise SystemExit(f"seeding: shipment {item.shipment_number} differs")
    finally:
        ingestor.writer.close()
        engine.dispose()


def clone_sqlite(source: Path, target: Path) -> None:
    """Copy a seeded SQLite database (the backup API: consistent, WAL included)."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def clone_postgres(admin_url: str, source_schema: str, target_url: str, target: str) -> None:
    """Copy the seeded tables from ``source_schema`` into the fresh schema ``target``
    (migrated here), then advance its id sequences past the copied rows."""
    for name in (source_schema, target):
        if not IDENTIFIER.fullmatch(name):
            raise ValueError(f"not a schema name of the benchmark's: {name!r}")
    engine = make_engine(target_url, pool_size=1)
    migrate.upgrade(engine)
    engine.dispose()
    admin = make_engine(admin_url, pool_size=1)
    try:
        with admin.begin() as conn:
            for table in SEEDED_TABLES:
                columns = ", ".join(f'"{c.name}"' for c in table.columns)
                # identifiers checked above or the hub's own table and column names
                copy = (
                    f'INSERT INTO "{target}"."{table.name}" ({columns}) '  # noqa: S608
                    f'SELECT {columns} FROM "{source_schema}"."{table.name}"'
                )
                conn.execute(text(copy))
                if "id" in table.columns and table.c.id.autoincrement is True:
                    advance = (
                        "SELECT setval(pg_get_serial_sequence(:t, 'id'), "  # noqa: S608
                        f'COALESCE((SELECT max(id) FROM "{target}"."{table.name}"), 0) + 1, '
                        "false)"
                    )
                    conn.execute(text(advance), {"t": f'"{target}"."{table.name}"'})
        with admin.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in SEEDED_TABLES:
                conn.execute(text(f'ANALYZE "{target}"."{table.name}"'))
    finally:
        admin.dispose()


def count_shipments(url: str) -> int:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            query = select(func.count()).where(message_table.c.kind == "shipment")
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()
