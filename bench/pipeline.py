"""Pipeline benchmark: durable ingest and end-to-end delivery, SQLite and PostgreSQL.

    python -m bench.pipeline [--orders 2000] [--workers 1,2,4] [--runs 3] [--store both]

Ingest: orders mapped and stored with 3 deliveries each (8 threads, group commit).
End to end: worker processes already running, orders ingested as fast as they go; the
throughput is deliveries/s until the last one is delivered, and the latency is each
delivery's ``delivered_at - received_at`` (it includes queueing behind the backlog).
Ceilings are measured in the same run. Results go to stdout and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select

from bench import ceilings
from bench.report import write_section
from hub.store.tables import delivery_table, message_table
from hub.testing.fault_target import FaultTargetClient, run_fault_target
from tests.pg import drop_schemas
from tests.pipeline_support import (
    make_store,
    order,
    routes_and_ingestor,
    spawn_worker,
    stop_workers,
    write_routes,
)

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["erp", "crm", "wms"]
D = delivery_table.c
M = message_table.c


@dataclass
class Run:
    ingest_per_s: float
    deliveries_per_s: float
    orders_per_s: float
    p50_ms: float
    p99_ms: float


def _worker(url: str, routes: Path, concurrency: int, log: Path) -> subprocess.Popen[bytes]:
    return spawn_worker(
        url, routes, concurrency, log, WORKERS_POLL_INTERVAL_MS="100", LOGGING_LEVEL="WARNING"
    )


def _wait_delivered(engine: Engine, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            left = conn.execute(select(func.count()).where(D.status != "delivered")).scalar_one()
        if left == 0:
            return
        time.sleep(0.2)


def _lags(engine: Engine) -> tuple[float, float]:
    """p50 and p99 of delivered_at - received_at, in ms."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(D.delivered_at, M.received_at)
            .join(message_table, M.id == D.message_id)
            .where(D.delivered_at.is_not(None))
        ).all()
    lags = sorted((r.delivered_at - r.received_at).total_seconds() * 1000 for r in rows)
    return lags[len(lags) // 2], lags[int(len(lags) * 0.99) - 1]


def one_run(store: str, workers: int, orders: int, sink: FaultTargetClient, tmp: Path) -> Run:
    sink.reset()
    engine, url = make_store(store, tmp)
    _routes, ingestor = routes_and_ingestor(
        engine, write_routes(tmp, sink.base_url, targets=TARGETS)
    )
    bodies = [order(n) for n in range(orders)]
    # ingest alone first (no workers competing for the cores)
    half = orders // 2
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda b: ingestor.ingest("magento", "order", b), bodies[:half]))
    ingest_rate = half / (time.perf_counter() - start)
    with engine.begin() as conn:  # keep only the end-to-end half in the timing below
        conn.execute(delivery_table.update().values(status="delivered"))
    procs = [_worker(url, tmp / "routes.yaml", 32, tmp / f"w{i}.log") for i in range(workers)]
    try:
        time.sleep(1.5)  # workers up
        start = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda b: ingestor.ingest("magento", "order", b), bodies[half:]))
        expected = (orders - half) * len(TARGETS)
        _wait_delivered(engine, 600)
        elapsed = time.perf_counter() - start
    finally:
        stop_workers(procs)
    p50, p99 = _lags(engine)  # the forced first half has no delivered_at
    ingestor.writer.close()
    engine.dispose()
    return Run(
        ingest_per_s=ingest_rate,
        deliveries_per_s=expected / elapsed,
        orders_per_s=(orders - half) / elapsed,
        p50_ms=p50,
        p99_ms=p99,
    )


def paced_lag(
    store: str, workers: int, rate: float, seconds: float, sink: FaultTargetClient, tmp: Path
) -> tuple[float, float]:
    """Delivery lag (p50, p99 ms) when orders arrive at a steady ``rate`` per second."""
    sink.reset()
    engine, url = make_store(store, tmp)
    _routes, ingestor = routes_and_ingestor(
        engine, write_routes(tmp, sink.base_url, targets=TARGETS)
    )
    count = int(rate * seconds)
    bodies = [order(n) for n in range(count)]
    procs = [_worker(url, tmp / "routes.yaml", 32, tmp / f"w{i}.log") for i in range(workers)]
    try:
        time.sleep(1.5)
        start = time.perf_counter()
        for i, body in enumerate(bodies):  # bounded: count orders, one every 1/rate s
            due = start + i / rate
            if (wait := due - time.perf_counter()) > 0:
                time.sleep(wait)
            ingestor.ingest("magento", "order", body)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                left = conn.execute(
                    select(func.count()).where(D.status != "delivered")
                ).scalar_one()
            if left == 0:
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    with engine.connect() as conn:
        rows = conn.execute(
            select(D.delivered_at, M.received_at).join(message_table, M.id == D.message_id)
        ).all()
    lags = sorted(
        (r.delivered_at - r.received_at).total_seconds() * 1000
        for r in rows
        if r.delivered_at is not None
    )
    ingestor.writer.close()
    engine.dispose()
    return lags[len(lags) // 2], lags[int(len(lags) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--paced-rate",
        type=float,
        default=50.0,
        help="orders/s for the steady-rate lag measurement (0: skip)",
    )
    args = parser.parse_args()
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    worker_counts = [int(w) for w in args.workers.split(",")]
    lines: list[str] = []
    lag_rows: list[str] = []
    with (
        run_fault_target(seed=1) as base,
        FaultTargetClient(base) as sink,
        tempfile.TemporaryDirectory() as tmpdir,
    ):
        tmp = Path(tmpdir)
        ceil = {
            "sqlite_commits": ceilings.sqlite_commits_per_second(tmp / "ceiling.db"),
            "sink_rps": ceilings.sink_requests_per_second(sink.url("ceiling")),
        }
        if "postgres" in stores:
            from tests.pg import pg_engine_or_skip

            pg = pg_engine_or_skip()
            ceil["pg_commits"] = ceilings.postgres_commits_per_second(
                pg.url.render_as_string(hide_password=False)
            )
        print("ceilings:", {k: round(v) for k, v in ceil.items()})
        for store in stores:
            for workers in worker_counts:
                runs = []
                for i in range(args.runs):
                    run_dir = tmp / f"{store}-{workers}-{i}"
                    run_dir.mkdir()
                    runs.append(one_run(store, workers, args.orders, sink, run_dir))
                med = {
                    f: statistics.median(getattr(r, f) for r in runs)
                    for f in Run.__dataclass_fields__
                }
                row = (
                    f"| {store} | {workers} | {med['ingest_per_s']:.0f} | "
                    f"{med['orders_per_s']:.0f} | {med['deliveries_per_s']:.0f} | "
                    f"{med['p50_ms']:.0f} | {med['p99_ms']:.0f} |"
                )
                print(row, flush=True)
                lines.append(row)
            if args.paced_rate > 0:
                lag_dir = tmp / f"{store}-paced"
                lag_dir.mkdir()
                p50, p99 = paced_lag(store, 2, args.paced_rate, 10.0, sink, lag_dir)
                lag_rows.append(f"| {store} | 2 | {args.paced_rate:.0f} | {p50:.0f} | {p99:.0f} |")
                print(lag_rows[-1], flush=True)
    drop_schemas()
    _write(args, ceil, lines, lag_rows)


def _write(
    args: argparse.Namespace, ceil: dict[str, float], rows: list[str], lag_rows: list[str]
) -> None:
    cmd = (
        f"python -m bench.pipeline --paced-rate {args.paced_rate:g} --orders {args.orders} "
        f"--workers {args.workers} --runs {args.runs} --store {args.store}"
    )
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    ceiling_line = (
        f"Ceilings in the same run: SQLite one row per commit (WAL, FULL) "
        f"{ceil['sqlite_commits']:.0f}/s; "
        + (
            f"PostgreSQL one row per commit {ceil['pg_commits']:.0f}/s; "
            if "pg_commits" in ceil
            else ""
        )
        + f"httpx to the loopback sink (16 concurrent) {ceil['sink_rps']:.0f} req/s."
    )
    section = "\n".join(
        [
            "## Pipeline: ingest and end to end",
            "",
            (
                f"Command: `{cmd}` — machine: {machine}, {time.strftime('%Y-%m-%d')}. "
                f"Medians of {args.runs} runs; 3 deliveries per order; latency = "
                "delivered_at − received_at."
            ),
            "",
            ceiling_line,
            "",
            (
                "| store | worker processes | ingest orders/s | end-to-end orders/s "
                "| deliveries/s | latency p50 ms | latency p99 ms |"
            ),
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            (
                "Delivery lag at a steady arrival rate (orders ingested one by one at the "
                "rate, 3 deliveries each, 10 s):"
            ),
            "",
            "| store | worker processes | orders/s offered | lag p50 ms | lag p99 ms |",
            "|---|---|---|---|---|",
            *lag_rows,
            "",
        ]
    )
    write_section(args.write, "## Pipeline: ingest and end to end", section)


if __name__ == "__main__":
    main()
