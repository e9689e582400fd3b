"""Ceilings measured in the same run as the hub: what the machine can do at best."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from sqlalchemy import Column, Integer, MetaData, String, Table, text

from hub.store.db import make_engine


def sqlite_commits_per_second(path: Path, n: int = 2000) -> float:
    """One row per commit, WAL, synchronous=FULL (the hub's setting)."""
    engine = make_engine(f"sqlite:///{path}")
    table = Table(
        "ceiling", MetaData(), Column("id", Integer, primary_key=True), Column("v", String(50))
    )
    table.metadata.create_all(engine)
    start = time.perf_counter()
    for i in range(n):
        with engine.begin() as conn:
            conn.execute(table.insert().values(v=f"row {i}"))
    rate = n / (time.perf_counter() - start)
    engine.dispose()
    return rate


def postgres_commits_per_second(url: str, n: int = 2000) -> float:
    """One row per commit, synchronous_commit on."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS ceiling (id serial primary key, v text)"))
    start = time.perf_counter()
    for i in range(n):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO ceiling (v) VALUES (:v)"), {"v": f"row {i}"})
    rate = n / (time.perf_counter() - start)
    engine.dispose()
    return rate


def sink_requests_per_second(url: str, seconds: float = 3.0, concurrency: int = 16) -> float:
    """httpx.AsyncClient POSTs to the loopback sink, bounded in time and count."""

    async def run() -> float:
        done = 0
        deadline = time.perf_counter() + seconds
        limit = 100_000
        async with httpx.AsyncClient(timeout=10) as client:

            async def one(worker: int) -> None:
                nonlocal done
                i = 0
                while time.perf_counter() < deadline and done < limit:
                    await client.post(
                        url, json={"n": i}, headers={"Idempotency-Key": f"ceil-{worker}-{i}"}
                    )
                    done += 1
                    i += 1

            start = time.perf_counter()
            await asyncio.gather(*(one(w) for w in range(concurrency)))
            return done / (time.perf_counter() - start)

    return asyncio.run(run())
