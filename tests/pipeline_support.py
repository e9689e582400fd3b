"""Helpers for pipeline tests: stores on both databases, Magento-like orders, routes."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from hub.ingest import Ingestor
from hub.routing import RouteTable, load_routes
from hub.store import migrate
from hub.store.db import make_engine
from tests.conftest import FIXTURES, SAMPLES
from tests.pg import pg_engine_or_skip, pg_schema_url

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = FIXTURES / "pipeline"
MAPPING_DIRS = [PIPELINE / "mappings", Path(__file__).resolve().parents[1] / "mappings"]
BASE_ORDER = json.loads((SAMPLES / "order-eu-b2b-vat.json").read_text(encoding="utf-8"))


def make_store(kind: str, tmp_path: Path) -> tuple[Engine, str]:
    """A migrated, empty store and its URL: SQLite file or a fresh PostgreSQL schema."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
        engine = make_engine(url)
    else:
        engine = pg_engine_or_skip()
        url = engine.url.render_as_string(hide_password=False)
    migrate.upgrade(engine)
    return engine, url


def pg_url() -> str:
    url, _ = pg_schema_url()
    return url


def order(number: int, version: int = 1, *, sku: str | None = None) -> bytes:
    """A valid Magento order: a copy of a sample with its own number and version."""
    doc: dict[str, Any] = copy.deepcopy(BASE_ORDER)
    doc["increment_id"] = f"T{number:08d}"
    doc["entity_id"] = 900000 + number
    doc["payment"]["po_number"] = f"PO-{version}"
    doc["updated_at"] = f"2026-01-01 00:00:{version:02d}"
    if sku is not None:
        doc["items"][0]["sku"] = sku
    return json.dumps(doc).encode()


def write_routes(
    tmp_path: Path,
    base_url: str,
    *,
    targets: list[str] | None = None,
    retry: str = "{base_delay_seconds: 0.05, max_delay_seconds: 0.5, "
    "max_attempts: 20, jitter: 0.5}",
    timeout: float = 5.0,
) -> Path:
    names = targets or ["erp"]
    lines = ["targets:"]
    for name in names:
        lines += [
            f"  {name}:",
            "    type: http",
            f"    url: {base_url}/deliver/{name}",
            f"    timeout: {timeout}",
            "    reference_field: reference",
        ]
    lines.append("routes:")
    for name in names:
        lines += [
            f"  - name: order-to-{name}",
            "    source: {system: magento, kind: order}",
            f"    target: {name}",
            "    mapping: webhook/order.outbound",
            "    ordering_key: order_number",
            f"    retry: {retry}",
        ]
    path = tmp_path / "routes.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def routes_and_ingestor(engine: Engine, routes_file: Path) -> tuple[RouteTable, Ingestor]:
    routes = load_routes(routes_file, MAPPING_DIRS)
    return routes, Ingestor(engine, routes, MAPPING_DIRS)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    engine, url = make_store(request.param, tmp_path)
    yield engine, url
    engine.dispose()


def spawn_worker(
    url: str,
    routes_file: Path,
    concurrency: int,
    log: Path,
    **settings: str,
) -> subprocess.Popen[bytes]:
    """An `o2c worker` process on ``url`` with the test mappings; extra O2C_ settings as
    keyword arguments (``WORKERS_LEASE_SECONDS="5"``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2C_")}
    env.update(
        O2C_DATABASE_URL=url,
        O2C_ROUTES_FILE=str(routes_file),
        O2C_MAPPINGS_PATHS=",".join(str(p) for p in MAPPING_DIRS),
        O2C_WORKERS_POLL_INTERVAL_MS="200",
    )
    env.update({f"O2C_{key}": value for key, value in settings.items()})
    with log.open("wb") as sink:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from hub.cli.main import entry; entry()",
                "worker",
                "--concurrency",
                str(concurrency),
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def stop_workers(procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    """SIGTERM, then wait (kill after ``timeout``)."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
