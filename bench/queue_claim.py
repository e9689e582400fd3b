"""Queue benchmark: deliveries claimed and finished per second, without any HTTP.

    python -m bench.queue_claim [--deliveries 20000] [--processes 1,2,4] [--runs 3]

Measures the queue itself on PostgreSQL (`FOR UPDATE SKIP LOCKED`, leases, per-entity
order check, group-committed outcomes) and SQLite, next to the bare dequeue ceiling in
the same run. Each process claims batches of 64 and records each as delivered at once.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from hub.clock import utcnow
from hub.queue.states import DeliveryStatus
from hub.queue.store import Outcome, QueueStore
from hub.store import migrate
from hub.store.db import make_engine
from hub.store.tables import delivery_table, message_table
from tests.pg import drop_schemas, pg_schema_url

ROOT = Path(__file__).resolve().parents[1]


def _fill(url: str, deliveries: int) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    now = utcnow()
    messages, rows = [], []
    for i in range(deliveries):
        mid = str(uuid.uuid4())
        messages.append(
            {
                "id": mid,
                "system": "bench",
                "kind": "order",
                "external_id": f"B{i}",
                "version": 1,
                "content_hash": mid,
                "raw": b"{}",
                "content_type": "application/json",
                "canonical": "{}",
                "mapping_name": "bench",
                "mapping_version": "1",
                "flagged": False,
                "correlation_id": mid[:8],
                "received_at": now,
            }
        )
        rows.append(
            {
                "message_id": mid,
                "route": "r",
                "target": "t",
                "ordering_key": f"B{i}",
                "idempotency_key": mid,
                "status": "pending",
                "attempts": 0,
                "reclaims": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
        )
    with engine.begin() as conn:
        for start in range(0, deliveries, 5000):
            conn.execute(message_table.insert(), messages[start : start + 5000])
            conn.execute(delivery_table.insert(), rows[start : start + 5000])
    engine.dispose()


def _consume(url: str, name: str, started: float) -> int:
    engine = make_engine(url, pool_size=2)
    queue = QueueStore(engine)
    done = 0
    while time.monotonic() - started < 300:  # bounded in time
        claimed = queue.claim(name, 64, timedelta(seconds=60))
        if not claimed:
            break
        now = utcnow()
        queue.finish_many(
            [(c, Outcome(DeliveryStatus.DELIVERED, "delivered", now, 0)) for c in claimed], name
        )
        done += len(claimed)
    engine.dispose()
    return done


def _run(url: str, processes: int, deliveries: int) -> float:
    _fill(url, deliveries)
    started = time.monotonic()
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(processes) as pool:
        counts = pool.starmap(_consume, [(url, f"p{i}", started) for i in range(processes)])
    elapsed = time.perf_counter() - t0
    engine = make_engine(url)
    with engine.connect() as conn:
        left = conn.execute(select(func.count()).where(delivery_table.c.status != "delivered"))
        remaining = left.scalar_one()
    if remaining or sum(counts) != deliveries:
        raise RuntimeError(f"{remaining} deliveries left, {sum(counts)} of {deliveries} done")
    engine.dispose()
    return deliveries / elapsed


def _skip_locked_ceiling(url: str, processes: int, rows: int) -> float:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE jobs (id bigserial primary key, done bool default false)"))
        conn.execute(
            text("INSERT INTO jobs (done) SELECT false FROM generate_series(1, :n)"), {"n": rows}
        )
    engine.dispose()
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(processes) as pool:
        pool.starmap(_bare_consume, [(url,)] * processes)
    return rows / (time.perf_counter() - t0)


def _bare_consume(url: str) -> None:
    engine = make_engine(url, pool_size=2)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with engine.begin() as conn:
            n = conn.execute(
                text(
                    "UPDATE jobs SET done = true WHERE id IN (SELECT id FROM jobs WHERE NOT done "
                    "ORDER BY id LIMIT 64 FOR UPDATE SKIP LOCKED)"
                )
            ).rowcount
        if not n:
            break
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=20000)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    counts = [int(p) for p in args.processes.split(",")]
    print("| store | processes | bare SKIP LOCKED dequeue rows/s | hub claim+finish deliveries/s |")
    print("|---|---|---|---|")
    for processes in counts:
        hub_rates, bare_rates = [], []
        for _ in range(args.runs):
            url, _ = pg_schema_url()
            hub_rates.append(_run(url, processes, args.deliveries))
            url, _ = pg_schema_url()
            bare_rates.append(_skip_locked_ceiling(url, processes, args.deliveries))
        print(
            f"| postgres | {processes} | {statistics.median(bare_rates):.0f} | "
            f"{statistics.median(hub_rates):.0f} |",
            flush=True,
        )
    sqlite_rates = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            sqlite_rates.append(_run(f"sqlite:///{Path(tmp) / 'q.db'}", 1, args.deliveries))
    print(f"| sqlite | 1 | - | {statistics.median(sqlite_rates):.0f} |")
    drop_schemas()


if __name__ == "__main__":
    main()
