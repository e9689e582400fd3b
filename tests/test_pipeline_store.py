"""Ingest and queue semantics on the real SQLite file and the real PostgreSQL server."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from hub.clock import utcnow
from hub.ingest import IngestRejected
from hub.queue.states import DeliveryStatus
from hub.queue.store import Outcome, QueueStore
from hub.store.tables import delivery_table, message_table, quarantined_table
from tests.pipeline_support import order, routes_and_ingestor, store, write_routes

__all__ = ["store"]  # the fixture, parametrized over both databases

D = delivery_table.c
S = DeliveryStatus


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_ingest_stores_message_and_one_delivery_per_route(
    store: tuple[Engine, str], tmp_path: Path
) -> None:
    engine, _ = store
    _, ingestor = routes_and_ingestor(
        engine, write_routes(tmp_path, "http://127.0.0.1:9", targets=["erp", "crm", "wms"])
    )
    result = ingestor.ingest("magento", "order", order(1))
    assert result.created and result.version == 1 and result.deliveries == 3
    with engine.connect() as conn:
        rows = conn.execute(
            select(D.target, D.status, D.ordering_key, D.idempotency_key).where(
                D.message_id == result.message_id
            )
        ).all()
        stored = conn.execute(
            select(message_table.c.raw, message_table.c.mapping_version).where(
                message_table.c.id == result.message_id
            )
        ).one()
    assert sorted(r.target for r in rows) == ["crm", "erp", "wms"]
    assert {r.status for r in rows} == {"pending"}
    assert {r.ordering_key for r in rows} == {"T00000001"}
    assert len({r.idempotency_key for r in rows}) == 3
    assert stored.raw == order(1)  # the raw bytes, exactly as received
    assert stored.mapping_version.startswith("1+sha256:")


def test_same_document_again_creates_nothing(store: tuple[Engine, str], tmp_path: Path) -> None:
    engine, _ = store
    _, ingestor = routes_and_ingestor(engine, write_routes(tmp_path, "http://127.0.0.1:9"))
    first = ingestor.ingest("magento", "order", order(7))
    # same content, different white space: still the same document
    again = ingestor.ingest("magento", "order", json.dumps(json.loads(order(7)), indent=2).encode())
    assert not again.created
    assert again.message_id == first.message_id
    assert count(engine, message_table) == 1
    assert count(engine, delivery_table) == 1


def test_changed_document_is_a_new_version_delivered_after_the_first(
    store: tuple[Engine, str], tmp_path: Path
) -> None:
    engine, _ = store
    _, ingestor = routes_and_ingestor(engine, write_routes(tmp_path, "http://127.0.0.1:9"))
    v1 = ingestor.ingest("magento", "order", order(3, 1))
    v2 = ingestor.ingest("magento", "order", order(3, 2))
    assert (v1.version, v2.version) == (1, 2) and v2.created
    queue = QueueStore(engine)
    claimed = queue.claim("w1", 10, timedelta(seconds=30))
    assert [c.message_id for c in claimed] == [v1.message_id]  # v2 waits for v1
    assert queue.claim("w2", 10, timedelta(seconds=30)) == []
    now = utcnow()
    assert queue.finish(claimed[0], "w1", Outcome(S.DELIVERED, "delivered", now, 5))
    (next_one,) = queue.claim("w2", 10, timedelta(seconds=30))
    assert next_one.message_id == v2.message_id


def test_other_entities_flow_in_parallel(store: tuple[Engine, str], tmp_path: Path) -> None:
    engine, _ = store
    _, ingestor = routes_and_ingestor(engine, write_routes(tmp_path, "http://127.0.0.1:9"))
    for n in range(5):
        ingestor.ingest("magento", "order", order(n, 1))
        ingestor.ingest("magento", "order", order(n, 2))
    claimed = QueueStore(engine).claim("w", 100, timedelta(seconds=30))
    assert len(claimed) == 5  # the head of each of the five orders
    assert len({c.ordering_key for c in claimed}) == 5


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (b"{not json", "application/json", "invalid JSON"),
        (b"\xff\xfe", "application/json", "not valid UTF-8"),
        (b"<order/>", "application/xml", "is not JSON"),
        (b"[1, 2]", "application/json", "expected a JSON object"),
        (json.dumps({"increment_id": "X1"}).encode(), "application/json", "required"),
    ],
)
def test_bad_input_is_quarantined_with_every_problem(
    store: tuple[Engine, str], tmp_path: Path, body: bytes, content_type: str, words: str
) -> None:
    engine, _ = store
    _, ingestor = routes_and_ingestor(engine, write_routes(tmp_path, "http://127.0.0.1:9"))
    with pytest.raises(IngestRejected) as info:
        ingestor.ingest("magento", "order", body, content_type=content_type)
    assert words in str(info.value)
    with engine.connect() as conn:
        row = conn.execute(
            select(quarantined_table).where(quarantined_table.c.id == info.value.quarantine_id)
        ).one()
    assert row.raw == body and row.status == "open"
    assert count(engine, message_table) == 0
    assert count(engine, delivery_table) == 0


def test_expired_leases_are_reclaimed_then_poisoned(
    store: tuple[Engine, str], tmp_path: Path
) -> None:
    engine, _ = store
    _, ingestor = routes_and_ingestor(engine, write_routes(tmp_path, "http://127.0.0.1:9"))
    ingestor.ingest("magento", "order", order(1))
    queue = QueueStore(engine, poison_after=2)

    def expire() -> None:
        with engine.begin() as conn:
            conn.execute(
                update(delivery_table).values(lease_expires_at=utcnow() - timedelta(seconds=1))
            )

    (first,) = queue.claim("dead-worker", 1, timedelta(seconds=30))
    expire()
    assert queue.reclaim_expired() == (1, 0)
    # the dead worker's late answer is refused: it no longer holds the lease
    assert not queue.finish(first, "dead-worker", Outcome(S.DELIVERED, "delivered", utcnow(), 1))
    (second,) = queue.claim("worker-2", 1, timedelta(seconds=30))
    assert second.id == first.id
    expire()
    assert queue.reclaim_expired() == (0, 1)
    with engine.connect() as conn:
        status, error = conn.execute(select(D.status, D.last_error)).one()
    assert status == "poisoned" and "poison" in error
    assert queue.replay([first.id]) == 1
    assert queue.claim("worker-3", 1, timedelta(seconds=30))


def test_release_gives_work_back_without_using_an_attempt(
    store: tuple[Engine, str], tmp_path: Path
) -> None:
    engine, _ = store
    _, ingestor = routes_and_ingestor(engine, write_routes(tmp_path, "http://127.0.0.1:9"))
    ingestor.ingest("magento", "order", order(1))
    queue = QueueStore(engine)
    claimed = queue.claim("w", 1, timedelta(seconds=30))
    assert queue.release(claimed, "w") == 1
    with engine.connect() as conn:
        assert conn.execute(select(D.status, D.attempts)).one() == ("pending", 0)
