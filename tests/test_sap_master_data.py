"""Master-data misses are first class: an order for a material or customer SAP does not
know dead-letters with a fingerprint naming it, and replays cleanly once it exists."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from adapters.sap.simulator.runner import run_simulator
from adapters.sap.simulator.state import CustomerSeed, MaterialSeed, SimulatorConfig, User
from hub.ingest import Ingestor
from hub.routing import load_routes
from hub.store import migrate
from hub.store.db import make_engine
from hub.store.tables import delivery_table
from tests.conftest import ROOT, SAMPLES

MAPPINGS = [ROOT / "mappings"]
PASSWORD = "master-data-Pw-771"
ENTRY = "from hub.cli.main import entry; entry()"


@pytest.fixture
def sap() -> Iterator[str]:
    config = SimulatorConfig(
        users=(User(name="HUB", password=PASSWORD),),
        # order-eu-b2b-vat: customer 512 -> 1000011; ST-1207 is left out on purpose
        customers=(CustomerSeed(customer="1000011"),),
        materials=tuple(
            MaterialSeed(material=m) for m in ("WG-4410-9", "HVV-200-L-YELLOW", "EP-33-200")
        ),
    )
    with run_simulator(config=config) as url:
        yield url


def o2c(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args],
        cwd=ROOT,
        env={**env, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_for(engine: Engine, status: str, limit: float = 60) -> list[dict[str, object]]:
    deadline = time.monotonic() + limit
    rows: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(delivery_table))]
        if rows and all(r["status"] == status for r in rows):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"deliveries did not all become {status}: {rows}")


def test_missing_material_and_customer_dead_letter_by_name_and_replay(
    tmp_path: Path, sap: str
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        "targets:\n"
        f"  erp: {{type: sap, base_url: '{sap}', user: HUB, password: {PASSWORD}, timeout: 5}}\n"
        "routes:\n"
        "  - name: orders-to-sap\n"
        "    source: {system: magento, kind: order}\n"
        "    target: erp\n"
        "    mapping: sap/order.outbound\n"
        "    retry: {base_delay_seconds: 0.05, max_delay_seconds: 0.2, max_attempts: 5}\n",
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    ingestor = Ingestor(engine, load_routes(routes, MAPPINGS), MAPPINGS)
    ingestor.ingest("magento", "order", (SAMPLES / "order-eu-b2b-vat.json").read_bytes())
    guest = json.loads((SAMPLES / "order-eu-b2b-vat.json").read_text(encoding="utf-8"))
    guest.update(increment_id="200009999", customer_is_guest=1, customer_id=None)
    for item in guest["items"]:
        item["sku"] = "WG-4410-9" if item["sku"] == "ST-1207" else item["sku"]
        if isinstance(item.get("parent_item"), dict) and item["parent_item"]["sku"] == "ST-1207":
            item["parent_item"]["sku"] = "WG-4410-9"
    ingestor.ingest("magento", "order", json.dumps(guest).encode())  # guest -> 1000099
    ingestor.writer.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2C_")}
    env.update(
        O2C_DATABASE_URL=url,
        O2C_ROUTES_FILE=str(routes),
        O2C_MAPPINGS_PATHS=str(MAPPINGS[0]),
        O2C_WORKERS_POLL_INTERVAL_MS="100",
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", ENTRY, "worker", "--concurrency", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        dead = wait_for(engine, "dead")
        fingerprints = sorted(str(r["error_fingerprint"]) for r in dead)
        assert fingerprints == [
            "MasterDataMissing erp 400: missing customer 1000099",
            "MasterDataMissing erp 400: missing material ST-1207",
        ]
        assert all(r["attempts"] == 1 for r in dead), "master data is not retried blindly"
        listed = o2c(env, "dlq", "list")
        assert "missing material ST-1207" in listed.stdout, listed.stdout + listed.stderr

        # the master data is created in SAP; each group replays cleanly
        httpx.post(f"{sap}/_sim/materials", json={"material": "ST-1207"}).raise_for_status()
        replay = o2c(env, "dlq", "replay", "--group", fingerprints[1], "--target", "erp")
        assert replay.returncode == 0, replay.stderr
        httpx.post(f"{sap}/_sim/customers", json={"customer": "1000099"}).raise_for_status()
        replay = o2c(env, "dlq", "replay", "--group", fingerprints[0], "--target", "erp")
        assert replay.returncode == 0, replay.stderr
        wait_for(engine, "delivered")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        engine.dispose()
    orders = httpx.get(f"{sap}/_sim/state").json()["sales_orders"]
    assert sorted(o["PurchaseOrderByCustomer"] for o in orders) == ["200001187", "200009999"]
