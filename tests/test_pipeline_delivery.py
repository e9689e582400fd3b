"""Delivery end to end: workers, a real loopback target with faults, both databases."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from hub import ops
from hub.queue.breaker import BreakerPolicy
from hub.queue.worker import Worker, WorkerOptions
from hub.routing import RouteTable
from hub.store.tables import delivery_table
from hub.targets.factory import build_targets
from hub.testing.fault_target import FaultTargetClient, run_fault_target
from tests.pipeline_support import (
    make_store,
    order,
    routes_and_ingestor,
    spawn_worker,
    stop_workers,
    store,
    write_routes,
)

__all__ = ["store"]
D = delivery_table.c


@pytest.fixture
def target() -> Iterator[FaultTargetClient]:
    with run_fault_target(seed=7) as base_url, FaultTargetClient(base_url) as client:
        yield client


def statuses(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(D.status, func.count()).group_by(D.status)).all()
    return {r[0]: int(r[1]) for r in rows}


def run_worker_until(
    engine: Engine,
    routes: RouteTable,
    done: Callable[[], bool],
    *,
    seconds: float = 60,
    concurrency: int = 16,
    breaker: BreakerPolicy | None = None,
) -> Worker:
    """Run one in-process worker until ``done()`` or the time limit (bounded)."""
    worker = Worker(
        engine,
        routes,
        build_targets(routes.targets),
        options=WorkerOptions(
            concurrency=concurrency,
            poll_interval=timedelta(milliseconds=50),
            lease=timedelta(seconds=30),
        ),
        # a flaky target (30 % errors) must not trip the breaker by chance in these tests
        breaker_policy=breaker or BreakerPolicy(failure_threshold=25),
    )

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not await asyncio.to_thread(done):
            await asyncio.sleep(0.1)
        stop.set()
        await task
        for t in worker.targets.values():
            await t.aclose()

    asyncio.run(main())
    return worker


def test_faulty_target_gets_every_delivery_exactly_once_in_order(
    store: tuple[Engine, str], tmp_path: Path, target: FaultTargetClient
) -> None:
    engine, _ = store
    target.set_faults(
        error_rate=0.3,
        error_status=[500, 502, 503],
        slow_rate=0.1,
        slow_seconds=0.2,
        land_then_timeout_rate=0.02,
        land_then_timeout_seconds=1.5,
    )
    routes, ingestor = routes_and_ingestor(
        engine, write_routes(tmp_path, target.base_url, targets=["erp", "crm"], timeout=1.0)
    )
    orders, versions = 60, 3
    for v in range(1, versions + 1):
        for n in range(orders):
            ingestor.ingest("magento", "order", order(n, v))
    total = orders * versions * 2
    run_worker_until(engine, routes, lambda: statuses(engine).get("delivered", 0) == total)
    assert statuses(engine) == {"delivered": total}
    for name in ("erp", "crm"):
        stats = target.target_stats(name)
        assert stats["effects"] == orders * versions
        assert set(stats["effects_by_key"].values()) == {1}
        assert stats["order_violations"] == []
        assert all(seq == list(range(1, versions + 1)) for seq in stats["sequences"].values())
        assert stats["faults_injected"]  # the faults really happened


def test_permanent_errors_dead_letter_at_once_and_replay_by_group(
    store: tuple[Engine, str], tmp_path: Path, target: FaultTargetClient
) -> None:
    engine, _ = store
    target.set_faults(permanent_for=["UNKNOWN-SKU-1"], permanent_path="skus")
    routes, ingestor = routes_and_ingestor(engine, write_routes(tmp_path, target.base_url))
    for n in range(6):
        ingestor.ingest("magento", "order", order(n, sku="UNKNOWN-SKU-1" if n < 4 else None))
    run_worker_until(engine, routes, lambda: statuses(engine) == {"dead": 4, "delivered": 2})
    assert statuses(engine) == {"dead": 4, "delivered": 2}
    with engine.connect() as conn:
        attempts = set(conn.execute(select(D.attempts).where(D.status == "dead")).scalars())
    assert attempts == {1}  # no retries for a permanent error
    (group,) = ops.dead_letters(engine)
    assert group.count == 4 and "UNKNOWN-SKU-1" in group.fingerprint
    target.set_faults()  # the master data exists now
    assert ops.replay_dead(engine, fingerprint=group.fingerprint, target="erp") == 4
    run_worker_until(engine, routes, lambda: statuses(engine) == {"delivered": 6})
    assert statuses(engine) == {"delivered": 6}
    assert target.target_stats("erp")["effects"] == 6


def test_target_outage_trips_the_breaker_without_burning_attempts(
    store: tuple[Engine, str], tmp_path: Path, target: FaultTargetClient
) -> None:
    engine, _ = store
    target.set_faults(down=True, retry_after=1)
    routes, ingestor = routes_and_ingestor(
        engine,
        write_routes(
            tmp_path,
            target.base_url,
            retry="{base_delay_seconds: 0.05, max_delay_seconds: 0.2, max_attempts: 6, jitter: 0}",
        ),
    )
    for n in range(40):
        ingestor.ingest("magento", "order", order(n))
    breaker = BreakerPolicy(
        failure_threshold=3, open_for=timedelta(seconds=1), max_open_for=timedelta(seconds=2)
    )
    start = time.monotonic()

    def bring_back_after_3s() -> bool:
        if time.monotonic() - start > 3:
            target.set_faults()
        return statuses(engine).get("delivered", 0) == 40

    run_worker_until(engine, routes, bring_back_after_3s, concurrency=4, breaker=breaker)
    assert statuses(engine) == {"delivered": 40}
    with engine.connect() as conn:
        attempts = list(conn.execute(select(D.attempts)).scalars())
    # during 3 s down only the first few calls and the probes failed: most messages were
    # never attempted while the breaker was open, and none came near max_attempts (6)
    assert sum(1 for a in attempts if a == 1) >= 30
    assert max(attempts) < 6
    stats = target.target_stats("erp")
    assert stats["effects"] == 40
    assert stats["calls"] < 40 + 15  # not 40 x 6: the outage did not burn attempts


def _worker_process(
    url: str, routes_file: Path, concurrency: int, *, lease_seconds: int = 30
) -> subprocess.Popen[bytes]:
    return spawn_worker(
        url,
        routes_file,
        concurrency,
        routes_file.parent / f"worker-{time.monotonic_ns()}.log",
        WORKERS_LEASE_SECONDS=str(lease_seconds),
        WORKERS_SHUTDOWN_GRACE_SECONDS="5",
        # a flaky target (30 % errors) must not trip the breaker by chance here
        WORKERS_BREAKER_FAILURE_THRESHOLD="25",
    )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    stop_workers(procs, timeout=30)


def _wait(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


@pytest.mark.postgres
def test_ten_thousand_messages_four_worker_processes_postgres(
    tmp_path: Path, target: FaultTargetClient
) -> None:
    engine, url = make_store("postgres", tmp_path)
    target.set_faults(error_rate=0.3, error_status=[500, 502, 503], slow_rate=0.1, slow_seconds=0.3)
    routes_file = write_routes(tmp_path, target.base_url)
    _, ingestor = routes_and_ingestor(engine, routes_file)
    workers = [_worker_process(url, routes_file, 16) for _ in range(4)]
    orders, versions = 2500, 4
    try:
        for v in range(1, versions + 1):  # workers deliver while we ingest
            for n in range(orders):
                ingestor.ingest("magento", "order", order(n, v))
        total = orders * versions
        assert _wait(lambda: statuses(engine).get("delivered", 0) == total, 600), statuses(engine)
    finally:
        _stop(workers)
    assert statuses(engine) == {"delivered": total}  # nothing pending, nothing dead
    stats = target.target_stats("erp")
    assert stats["effects"] == total
    assert set(stats["effects_by_key"].values()) == {1}
    assert stats["order_violations"] == []
    assert len(stats["sequences"]) == orders
    assert all(seq == [1, 2, 3, 4] for seq in stats["sequences"].values())
    assert stats["calls"] > total * 1.2  # the 30 % failures were really retried
    assert all(p.returncode == 0 for p in workers)


@pytest.mark.postgres
def test_kill_9_mid_delivery_is_reclaimed_without_a_second_effect(
    tmp_path: Path, target: FaultTargetClient
) -> None:
    engine, url = make_store("postgres", tmp_path)
    target.set_faults(slow_rate=1.0, slow_seconds=2.0)
    routes_file = write_routes(tmp_path, target.base_url, timeout=10)
    _, ingestor = routes_and_ingestor(engine, routes_file)
    for n in range(30):
        ingestor.ingest("magento", "order", order(n))
    doomed = _worker_process(url, routes_file, 8, lease_seconds=5)
    try:
        assert _wait(lambda: statuses(engine).get("in_flight", 0) >= 8, 60)
        doomed.send_signal(signal.SIGKILL)  # mid-delivery: calls are in the target's hands
        doomed.wait(timeout=10)
        target.set_faults()
        survivor = _worker_process(url, routes_file, 8, lease_seconds=5)
        try:
            assert _wait(lambda: statuses(engine) == {"delivered": 30}, 120), statuses(engine)
        finally:
            _stop([survivor])
    finally:
        if doomed.poll() is None:
            doomed.kill()
    with engine.connect() as conn:
        reclaimed = conn.execute(select(func.count()).where(D.reclaims > 0)).scalar_one()
    assert reclaimed >= 1
    stats = target.target_stats("erp")
    assert stats["effects"] == 30
    assert set(stats["effects_by_key"].values()) == {1}  # the retries of killed calls: no-ops
