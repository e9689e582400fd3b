"""Order webhooks from the simulator, received by a tiny loopback HTTP server.

The receiver checks each call's ``x-adobe-commerce-webhook-signature`` with the hub's own
verifier (``AdobeCommerceVerifier``) and keeps the raw bodies, which must carry the order
exactly as ``GET /V1/orders/{id}`` renders it at the moment of the change, in the order
the changes happened. ``POST /_sim/webhooks/flush`` makes the waiting deterministic.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.magento.simulator import SimulatorConfig, run_simulator
from adapters.magento.simulator.state import WebhookConfig
from hub.security.signatures import (
    ADOBE_SIGNATURE_HEADER,
    AdobeCommerceSignature,
    AdobeCommerceVerifier,
    SignatureError,
)

TOKEN = "webhooks-test-token"
API_KEY = "receiver-api-key"
PATH = "/v1/inbound/magento/order"


@dataclass(frozen=True)
class Call:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body, parse_float=Decimal)


class Receiver:
    """A loopback HTTP server that records every POST and answers with queued statuses."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.statuses: list[int] = []  # answered first, in order; then 200
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                call = Call(self.path, {k.lower(): v for k, v in self.headers.items()},
                            self.rfile.read(length))  # fmt: skip
                with receiver._lock:
                    receiver.calls.append(call)
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = b'{"op":"success"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{PATH}"

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.statuses.clear()


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        server.thread.join(timeout=5)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with run_simulator(config=SimulatorConfig(tokens=(TOKEN,), seed=6)) as url:
        yield url


@pytest.fixture
def control(base_url: str, receiver: Receiver) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, trust_env=False, timeout=10) as client:
        client.post("/_sim/reset").raise_for_status()
        receiver.clear()
        yield client


@pytest.fixture
def api(base_url: str, control: httpx.Client) -> Iterator[httpx.Client]:
    del control  # reset first
    with httpx.Client(
        base_url=f"{base_url}/rest/default",
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
        timeout=10,
    ) as client:
        yield client


def configure(control: httpx.Client, **settings: Any) -> dict[str, Any]:
    response = control.put("/_sim/webhooks", json=settings)
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()
    return shown


def flush(control: httpx.Client) -> dict[str, Any]:
    response = control.post("/_sim/webhooks/flush", params={"timeout": "5"})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert result["flushed"] is True
    assert result["webhooks_pending"] == 0
    return result


def test_order_changes_are_pushed_signed_in_order_as_get_renders_them(
    api: httpx.Client, control: httpx.Client, receiver: Receiver, keys: tuple[str, str]
) -> None:
    private, public = keys
    shown = configure(
        control,
        url=receiver.url,
        private_key_pem=private,
        headers={"X-API-Key": API_KEY},
        events=["observer.sales_order_save_after"],
        timeout=5,
    )
    assert shown["signed"] is True
    assert "private_key_pem" not in shown
    control.post("/_sim/orders/generate", json={"count": 2, "seed": 3}).raise_for_status()
    flush(control)
    rendered_new = {i: api.get(f"/V1/orders/{i}").content for i in (1, 2)}
    api.post("/V1/order/1/invoice", json={"capture": True}).raise_for_status()
    comment = {"statusHistory": {"comment": "Exported to ERP", "is_customer_notified": 0}}
    api.post("/V1/orders/2/comments", json=comment).raise_for_status()
    api.post("/V1/order/1/ship", json={}).raise_for_status()
    refused = api.post("/V1/order/1/ship", json={})  # nothing left: no change, no call
    assert refused.status_code == 400
    result = flush(control)
    assert result["webhooks_sent"] == 5
    assert result["webhooks_failed"] == 0

    verifier = AdobeCommerceVerifier(AdobeCommerceSignature(public_key_pem=public))
    now = datetime.now(UTC)
    calls = list(receiver.calls)
    for call in calls:
        assert call.path == PATH
        assert call.headers["x-api-key"] == API_KEY
        assert call.headers["content-type"] == "application/json"
        verifier.verify(call.body, call.headers, now)
        assert call.json()["eventName"] == "sales_order_save_after"
    orders = [call.json()["data"]["order"] for call in calls]
    assert [o["entity_id"] for o in orders] == [1, 2, 1, 2, 1]
    assert [o["state"] for o in orders] == ["new", "new", "processing", "new", "complete"]
    assert orders[3]["status_histories"][0]["comment"] == "Exported to ERP"

    def event(rendered: bytes) -> bytes:
        return b'{"eventName":"sales_order_save_after","data":{"order":' + rendered + b"}}"

    # byte for byte what GET /V1/orders/{id} answered at that moment
    assert calls[0].body == event(rendered_new[1])
    assert calls[1].body == event(rendered_new[2])
    assert calls[4].body == event(api.get("/V1/orders/1").content)
    assert calls[3].body == event(api.get("/V1/orders/2").content)

    state = control.get("/_sim/state").json()
    assert state["webhooks_sent"] == 5
    assert state["webhooks_failed"] == 0

    tampered = calls[0].body.replace(b'"state":"new"', b'"state":"canceled"', 1)
    with pytest.raises(SignatureError):
        verifier.verify(tampered, calls[0].headers, now)


def test_stored_orders_and_both_event_names_are_pushed_unsigned_without_a_key(
    control: httpx.Client, receiver: Receiver
) -> None:
    configure(
        control,
        url=receiver.url,
        events=["observer.sales_order_save_after", "observer.sales_order_save_commit_after"],
    )
    document = {
        "entity_id": 900,
        "increment_id": "000000900",
        "state": "new",
        "status": "pending",
        "items": [{"item_id": 1, "sku": "X-1", "qty_ordered": 1, "product_type": "simple"}],
    }
    assert control.post("/_sim/orders", json=document).json() == 900
    flush(control)
    names = [call.json()["eventName"] for call in receiver.calls]
    assert names == ["sales_order_save_after", "sales_order_save_commit_after"]
    assert all(ADOBE_SIGNATURE_HEADER not in call.headers for call in receiver.calls)
    assert receiver.calls[0].json()["data"]["order"]["increment_id"] == "000000900"


def test_failed_calls_are_retried_then_counted(control: httpx.Client, receiver: Receiver) -> None:
    configure(control, url=receiver.url, retries=3, backoff_seconds=0.01)
    receiver.statuses.extend([500, 503])
    control.post("/_sim/orders/generate", json={"count": 1}).raise_for_status()
    result = flush(control)
    assert (result["webhooks_sent"], result["webhooks_retried"], result["webhooks_failed"]) == (
        1,
        2,
        0,
    )
    assert len(receiver.calls) == 3
    assert receiver.calls[0].body == receiver.calls[2].body  # the same call, again

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    configure(control, url=f"http://127.0.0.1:{dead_port}{PATH}", retries=1, backoff_seconds=0)
    control.post("/_sim/orders/generate", json={"count": 2}).raise_for_status()
    result = flush(control)
    assert result["webhooks_failed"] == 2
    assert result["webhooks_sent"] == 1
    assert result["webhooks_last_error"]


def test_disabling_and_resetting_stop_the_pushes(control: httpx.Client, receiver: Receiver) -> None:
    configure(control, url=receiver.url)
    configure(control, url=None)
    control.post("/_sim/orders/generate", json={"count": 2}).raise_for_status()
    flush(control)
    assert receiver.calls == []
    configure(control, url=receiver.url)
    control.post("/_sim/reset").raise_for_status()
    assert control.get("/_sim/webhooks").json()["url"] is None  # back to the start config
    control.post("/_sim/orders/generate", json={"count": 1}).raise_for_status()
    flush(control)
    assert receiver.calls == []


def test_bad_webhook_settings_are_refused(control: httpx.Client) -> None:
    for settings in (
        {"url": "http://127.0.0.1:9/x", "events": ["observer.catalog_product_save_after"]},
        {"url": "http://127.0.0.1:9/x", "private_key_pem": "not a key"},
        {"url": "ftp://127.0.0.1/x"},
        {"url": "http://127.0.0.1:9/x", "timeout": 0},
    ):
        response = control.put("/_sim/webhooks", json=settings)
        assert response.status_code == 400, settings
        assert "not a key" not in response.json()["message"]
    assert control.get("/_sim/webhooks").json()["url"] is None


def test_orders_generated_at_start_are_pushed_once_the_server_runs(
    receiver: Receiver, keys: tuple[str, str]
) -> None:
    receiver.clear()
    config = SimulatorConfig(
        tokens=(TOKEN,),
        initial_orders=3,
        webhooks=WebhookConfig.model_validate({"url": receiver.url, "private_key_pem": keys[0]}),
    )
    with run_simulator(config=config) as url, httpx.Client(base_url=url, trust_env=False) as client:
        result = flush(client)
    assert result["webhooks_sent"] == 3
    verifier = AdobeCommerceVerifier(AdobeCommerceSignature(public_key_pem=keys[1]))
    for call in receiver.calls:
        verifier.verify(call.body, call.headers, datetime.now(UTC))
    assert [c.json()["data"]["order"]["entity_id"] for c in receiver.calls] == [1, 2, 3]
