"""Polling benchmark: Magento orders read by keyset and ingested, per second.

    python -m bench.magento_poll [--orders 5000] [--tie 5000] [--batch 100] [--runs 3]

The Magento simulator (a subprocess on loopback) holds ``--orders`` generated orders,
``--tie`` of them sharing each ``updated_at``. Each run polls them all into a fresh SQLite
hub (`o2c poll run` as a subprocess: read, unwrap, map, store with their deliveries) and
reports orders per second; the reading alone (adapter.poll without ingest) is timed next
to it. Every run checks that each order arrived once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from adapters.magento.adapter import MagentoAdapter
from adapters.magento.config import MagentoConfig
from adapters.magento.simulator import SimulatorConfig, run_simulator

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"  # noqa: S105 -- the simulator's, loopback only
ENTRY = "from hub.cli.main import entry; entry()"


def _read_only(base_url: str, batch: int) -> tuple[int, float]:
    async def run() -> int:
        config = MagentoConfig(
            base_url=f"{base_url}/rest/default", token=TOKEN, poll_settle_seconds=0, timeout=60
        )
        adapter = MagentoAdapter("shop", config)
        cursor = None
        count = 0
        try:
            for _ in range(100_000):
                page = await adapter.poll("order", cursor, limit=batch)
                count += len(page.documents)
                cursor = page.cursor
                if not page.more:
                    break
        finally:
            await adapter.aclose()
        return count

    started = time.perf_counter()
    count = asyncio.run(run())
    return count, time.perf_counter() - started


def _poll_into_hub(base_url: str, batch: int, orders: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        routes = Path(tmp) / "routes.yaml"
        routes.write_text(
            "targets:\n"
            f"  shop: {{type: magento, base_url: '{base_url}/rest/default', token: {TOKEN},"
            " poll_settle_seconds: 0, timeout: 60}\n"
            "routes: []\n"
            f"sources:\n  shop-orders: {{target: shop, kind: order, batch: {batch},"
            f" max_per_run: {orders + 1}}}\n",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("O2C_")}
        env.update(
            O2C_DATABASE_URL=f"sqlite:///{tmp}/hub.db",
            O2C_ROUTES_FILE=str(routes),
            O2C_MAPPINGS_PATHS=str(ROOT / "mappings"),
        )
        command = [sys.executable, "-c", ENTRY, "db", "upgrade"]
        subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT)
        started = time.perf_counter()
        command = [sys.executable, "-c", ENTRY, "poll", "run", "shop-orders"]
        subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT)
        elapsed = time.perf_counter() - started
        with sqlite3.connect(f"{tmp}/hub.db") as db:
            stored = db.execute("SELECT count(DISTINCT external_id) FROM message").fetchone()[0]
        if stored != orders:
            raise SystemExit(f"expected {orders} orders stored, found {stored}")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--tie", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with run_simulator(config=SimulatorConfig(tokens=(TOKEN,))) as url:
        made = httpx.post(
            f"{url}/_sim/orders/generate",
            json={"count": args.orders, "seed": 1, "same_updated_at_every": args.tie},
            timeout=600,
        )
        made.raise_for_status()
        reads, ingests = [], []
        for run in range(1, args.runs + 1):
            count, seconds = _read_only(url, args.batch)
            if count != args.orders:
                raise SystemExit(f"read {count} orders, expected {args.orders}")
            reads.append(args.orders / seconds)
            ingests.append(args.orders / _poll_into_hub(url, args.batch, args.orders))
            print(f"run {run}: read {reads[-1]:,.0f}/s, read + ingest {ingests[-1]:,.0f}/s")
    print(
        f"median of {args.runs}: read {statistics.median(reads):,.0f} orders/s, "
        f"read + ingest into SQLite {statistics.median(ingests):,.0f} orders/s "
        f"({args.orders} orders, {args.tie} per updated_at, pages of {args.batch})"
    )


if __name__ == "__main__":
    main()
