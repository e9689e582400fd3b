"""Prometheus metrics: ingest counts and latency here, queue state read at scrape time.

Queue depth, backlog age, delivery states, attempts and breaker states come from the
database when Prometheus scrapes, so they are right whichever process did the work.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from hub import ops
from hub.queue.breakers import BreakerBoard
from hub.runtime import Runtime
from hub.store.tables import attempt_table, delivery_table

BREAKER_VALUE = {"closed": 0.0, "half_open": 0.5, "open": 1.0}


class QueueCollector(Collector):
    """Reads the queue's state from the store on every scrape."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        engine = self.runtime.engine
        board = BreakerBoard(engine, self.runtime.settings.workers.breaker.to_policy())
        rows = ops.targets_status(engine, board)
        depth = GaugeMetricFamily(
            "o2c_queue_depth", "Deliveries waiting (pending or retrying).", labels=["target"]
        )
        age = GaugeMetricFamily(
            "o2c_queue_oldest_seconds", "Age of the oldest waiting delivery.", labels=["target"]
        )
        dead = GaugeMetricFamily(
            "o2c_dead_letters", "Dead or poisoned deliveries.", labels=["target"]
        )
        breaker = GaugeMetricFamily(
            "o2c_breaker_state", "0 closed, 0.5 half open, 1 open.", labels=["target"]
        )
        for r in rows:
            depth.add_metric([r["target"]], r["queued"])
            age.add_metric([r["target"]], r["oldest_waiting_seconds"] or 0.0)
            dead.add_metric([r["target"]], r["dead"])
            breaker.add_metric([r["target"]], BREAKER_VALUE.get(r["breaker"], 0.0))
        yield from (depth, age, dead, breaker)
        with engine.connect() as conn:
            by_status = conn.execute(
                select(delivery_table.c.target, delivery_table.c.status, func.count()).group_by(
                    delivery_table.c.target, delivery_table.c.status
                )
            ).all()
            attempts = conn.execute(
                select(attempt_table.c.outcome, func.count()).group_by(attempt_table.c.outcome)
            ).all()
        states = GaugeMetricFamily(
            "o2c_deliveries", "Deliveries by target and state.", labels=["target", "status"]
        )
        for target, status, count in by_status:
            states.add_metric([target, status], count)
        yield states
        tries = CounterMetricFamily(
            "o2c_attempts",
            "Delivery attempts by outcome (retry = a retried failure).",
            labels=["outcome"],
        )
        for outcome, count in attempts:
            tries.add_metric([outcome], count)
        yield tries


class Metrics:
    """One registry per app (tests build many apps in one process)."""

    def __init__(self, runtime: Runtime) -> None:
        self.registry = CollectorRegistry()
        self.ingested = Counter(
            "o2c_ingest",
            "Inbound documents by outcome.",
            ["system", "kind", "outcome"],
            registry=self.registry,
        )
        self.ingest_seconds = Histogram(
            "o2c_ingest_seconds",
            "Time to map and durably store one inbound document.",
            ["system", "kind"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.registry.register(QueueCollector(runtime))
