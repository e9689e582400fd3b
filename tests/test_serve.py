"""`o2c serve`: API and workers in one process, SQLite upgraded by itself."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from hub.ingest import Ingestor
from hub.routing import load_routes
from hub.store.db import make_engine
from hub.testing.fault_target import FaultTargetClient, run_fault_target
from tests.conftest import ROOT
from tests.pipeline_support import MAPPING_DIRS, order, write_routes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_health_and_delivers(tmp_path: Path) -> None:
    with run_fault_target() as base, FaultTargetClient(base) as target:
        routes_file = write_routes(tmp_path, base)
        url = f"sqlite:///{tmp_path / 'hub.db'}"
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("O2C_")}
        env.update(
            O2C_DATABASE_URL=url,
            O2C_ROUTES_FILE=str(routes_file),
            O2C_MAPPINGS_PATHS=",".join(str(p) for p in MAPPING_DIRS),
            O2C_WORKERS_POLL_INTERVAL_MS="100",
        )
        with (tmp_path / "serve.log").open("wb") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from hub.cli.main import entry; entry()",
                    "serve",
                    "--port",
                    str(port),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 30
            ready = None
            while time.monotonic() < deadline:
                try:
                    ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            assert ready is not None and ready.status_code == 200, ready and ready.text
            assert ready.json()["checks"] == {"database": "ok", "schema": "ok", "workers": "ok"}
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
            # the database was created and migrated by serve itself; ingest into it
            engine = make_engine(url)
            ingestor = Ingestor(engine, load_routes(routes_file, MAPPING_DIRS), MAPPING_DIRS)
            for n in range(5):
                ingestor.ingest("magento", "order", order(n))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and target.target_stats("erp")["effects"] < 5:
                time.sleep(0.2)
            assert target.target_stats("erp")["effects"] == 5
            ingestor.writer.close()
            engine.dispose()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        assert proc.returncode == 0, (tmp_path / "serve.log").read_text()
