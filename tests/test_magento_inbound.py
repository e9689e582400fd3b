"""Orders from Magento by webhook and by polling arrive as ONE canonical order each.

End to end over loopback: the simulator pushes signed Adobe Commerce webhooks to a running
`o2c serve`, and `o2c poll run` reads the same orders through `GET /V1/orders`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.magento.simulator import SimulatorConfig, run_simulator
from hub.config import load_settings
from hub.runtime import Runtime
from hub.security.apikeys import create_key
from tests.conftest import ROOT
from tests.pipeline_support import MAPPING_DIRS

TOKEN = "inbound-test-token-3b9d07"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


class Hub:
    def __init__(self, tmp_path: Path, env: dict[str, str], port: int) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def o2c(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from hub.cli.main import entry; entry()", *args],
            cwd=ROOT,
            env={**self.env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def messages(self) -> list[tuple[str, int]]:
        with sqlite3.connect(self.tmp_path / "hub.db") as db:
            rows = db.execute(
                "SELECT external_id, version FROM message WHERE system = 'magento' "
                "AND kind = 'order' ORDER BY external_id, version"
            ).fetchall()
        return [(str(a), int(b)) for a, b in rows]


@pytest.fixture
def hub(tmp_path: Path, keys: tuple[str, str]) -> Iterator[tuple[Hub, str, str]]:
    """A running `o2c serve` (API and pollers off: polled by hand) and the simulator."""
    _, public_pem = keys
    with run_simulator(config=SimulatorConfig(tokens=(TOKEN,), seed=8)) as sim:
        (tmp_path / "routes.yaml").write_text(
            "targets:\n"
            "  shop:\n"
            "    type: magento\n"
            f"    base_url: {sim}/rest/default\n"
            f"    token: {TOKEN}\n"
            "    poll_settle_seconds: 0\n"
            "routes: []\n"
            "sources:\n"
            "  shop-orders: {target: shop, kind: order, every: 60, batch: 10}\n",
            encoding="utf-8",
        )
        (tmp_path / "hub.yaml").write_text(
            "security:\n  inbound_signatures:\n    magento:\n      scheme: adobe_commerce\n"
            "      public_key_pem: |\n"
            + "".join(f"        {line}\n" for line in public_pem.strip().splitlines()),
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("O2C_")}
        env.update(
            O2C_CONFIG=str(tmp_path / "hub.yaml"),
            O2C_DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}",
            O2C_ROUTES_FILE=str(tmp_path / "routes.yaml"),
            O2C_MAPPINGS_PATHS=",".join(str(p) for p in MAPPING_DIRS),
        )
        runtime = Runtime(load_settings(None, env))
        runtime.upgrade_if_embedded()
        api_key = create_key(runtime.engine, "magento-webhooks", ["inbound:magento"], actor="t")
        runtime.engine.dispose()
        port = free_port()
        log = (tmp_path / "serve.log").open("wb")
        proc = subprocess.Popen(
            [
                *(sys.executable, "-c", "from hub.cli.main import entry; entry()"),
                *("serve", "--port", str(port), "--no-pollers"),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).is_success:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            yield Hub(tmp_path, env, port), sim, api_key
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def poll(hub: Hub) -> list[str]:
    result = hub.o2c("poll", "run", "shop-orders")
    assert result.returncode == 0, result.stderr + result.stdout
    row = next(line for line in result.stdout.splitlines() if "shop-orders" in line)
    return [cell.strip() for cell in row.strip("│┃| ").split("│")]


def test_webhook_then_poll_and_poll_then_webhook_give_one_order_each(
    hub: tuple[Hub, str, str], keys: tuple[str, str]
) -> None:
    node, sim, api_key = hub
    private_pem, _ = keys
    with httpx.Client(base_url=sim, trust_env=False, timeout=60) as control:
        # 1. webhooks first: 12 orders pushed, signed, to the running hub
        control.put(
            "/_sim/webhooks",
            json={
                "url": f"{node.url}/v1/inbound/magento/order",
                "private_key_pem": private_pem,
                "headers": {"Authorization": f"Bearer {api_key}"},
            },
        ).raise_for_status()
        made = control.post("/_sim/orders/generate", json={"count": 12, "seed": 21})
        made.raise_for_status()
        control.post("/_sim/webhooks/flush").raise_for_status()
        pushed = control.get("/_sim/webhooks").json()
        assert pushed["webhooks_sent"] == 12, pushed
        assert pushed["webhooks_failed"] == 0, pushed
        assert len(node.messages()) == 12
        # ...then the poll finds the same 12: all duplicates, nothing new
        cells = poll(node)
        assert cells[1:5] == ["12", "0", "12", "0"], cells
        assert len(node.messages()) == 12

        # 2. polling first: 5 orders made while webhooks are off
        control.put("/_sim/webhooks", json={"url": None}).raise_for_status()
        later = control.post("/_sim/orders/generate", json={"count": 5, "seed": 22}).json()
        cells = poll(node)
        assert cells[1:5] == ["5", "5", "0", "0"], cells
        assert len(node.messages()) == 17
        # ...then a webhook for each of them (an internal note changes updated_at only)
        control.put(
            "/_sim/webhooks",
            json={
                "url": f"{node.url}/v1/inbound/magento/order",
                "private_key_pem": private_pem,
                "headers": {"Authorization": f"Bearer {api_key}"},
            },
        ).raise_for_status()
        for order_id in later["entity_ids"]:
            control.post(
                f"/rest/V1/orders/{order_id}/comments",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={"statusHistory": {"comment": "note", "parent_id": order_id}},
            ).raise_for_status()
        control.post("/_sim/webhooks/flush").raise_for_status()
        assert control.get("/_sim/webhooks").json()["webhooks_sent"] == 17
    stored = node.messages()
    assert len(stored) == 17, "\n".join(map(str, stored))
    assert all(version == 1 for _, version in stored), "one canonical order per Magento order"
    assert len({external_id for external_id, _ in stored}) == 17


def test_an_unsigned_or_forged_webhook_is_refused(hub: tuple[Hub, str, str]) -> None:
    node, sim, api_key = hub
    del sim
    body = json.dumps({"eventName": "sales_order_save_after", "data": {"order": {}}})
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    unsigned = httpx.post(f"{node.url}/v1/inbound/magento/order", content=body, headers=headers)
    assert unsigned.status_code == 401
    forged = httpx.post(
        f"{node.url}/v1/inbound/magento/order",
        content=body,
        headers={**headers, "x-adobe-commerce-webhook-signature": "Zm9yZ2Vk"},
    )
    assert forged.status_code == 401
    assert node.messages() == []
