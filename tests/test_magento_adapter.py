"""The Magento adapter against the Magento simulator over loopback HTTP.

The simulator runs in a subprocess for the module; every test starts from an empty store
with the EU B2B sample order loaded. The must-show: an invoice that lands while its answer
is lost (land-then-timeout) is not created twice when the delivery is retried.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.magento.adapter import MagentoAdapter
from adapters.magento.client import MagentoClient, render_message
from adapters.magento.config import MagentoConfig
from adapters.magento.simulator import SimulatorConfig, run_simulator
from hub import plugins
from hub.errors import (
    AuthFailed,
    PermanentError,
    RateLimited,
    Rejected,
    TargetTimeout,
    TargetUnavailable,
)
from hub.targets.base import Delivery, DeliveryResult

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "mappings" / "magento" / "samples" / "order-eu-b2b-vat.json"
TOKEN = "adapter-test-token-5f2c9a"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with run_simulator(config=SimulatorConfig(tokens=(TOKEN,), seed=5)) as url:
        yield url


@pytest.fixture
def control(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, trust_env=False, timeout=10) as client:
        client.post("/_sim/reset").raise_for_status()
        yield client


@pytest.fixture
def order(control: httpx.Client) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    response = control.post("/_sim/orders", content=SAMPLE.read_bytes())
    response.raise_for_status()
    assert response.json() == document["entity_id"]
    return document


def config(base_url: str, **changes: Any) -> MagentoConfig:
    options: dict[str, Any] = {
        "base_url": f"{base_url}/rest/default",
        "token": TOKEN,
        "timeout": 5,
    }
    options.update(changes)
    return MagentoConfig.model_validate(options)


def top_level(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in order["items"] if i.get("parent_item_id") is None]


def delivery(kind: str, payload: dict[str, Any], key: str = "k-1", attempt: int = 1) -> Delivery:
    return Delivery(
        delivery_id=f"d-{key}",
        message_id=f"m-{key}",
        target="shop",
        route="erp-to-magento",
        kind=kind,
        payload=payload,
        idempotency_key=key,
        ordering_key="order-1187",
        attempt=attempt,
        correlation_id="c-1",
    )


def all_items(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"order_item_id": i["item_id"], "qty": str(i["qty_ordered"])} for i in top_level(order)]


def deliver(base_url: str, item: Delivery, **changes: Any) -> DeliveryResult:
    async def run() -> DeliveryResult:
        adapter = MagentoAdapter("shop", config(base_url, **changes))
        try:
            return await adapter.deliver(item)
        finally:
            await adapter.aclose()

    return asyncio.run(run())


def documents(control: httpx.Client, base_url: str, kind: str, order_id: int) -> list[Any]:
    params = {
        "searchCriteria[filterGroups][0][filters][0][field]": "order_id",
        "searchCriteria[filterGroups][0][filters][0][value]": str(order_id),
    }
    response = httpx.get(
        f"{base_url}/rest/default/V1/{kind}",
        params=params,
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
    )
    response.raise_for_status()
    items: list[Any] = response.json()["items"]
    assert control.get("/_sim/state").json()[kind] == len(items)
    return items


# ------------------------------------------------------------------ invoices


def test_invoice_for_all_items_is_created_once(
    base_url: str, control: httpx.Client, order: dict[str, Any]
) -> None:
    order_id = order["entity_id"]
    item = delivery("invoice", {"magento_order_id": order_id, "items": all_items(order)})
    first = deliver(base_url, item)
    invoices = documents(control, base_url, "invoices", order_id)
    assert len(invoices) == 1
    assert first.reference == str(invoices[0]["entity_id"])
    assert first.status_code == 200
    assert first.summary is not None
    assert "created" in first.summary
    again = deliver(base_url, delivery("invoice", item.payload, attempt=2))
    assert again.reference == first.reference
    assert again.summary is not None
    assert "already exists" in again.summary
    assert len(documents(control, base_url, "invoices", order_id)) == 1


def test_land_then_timeout_then_retry_leaves_exactly_one_invoice(
    base_url: str, control: httpx.Client, order: dict[str, Any]
) -> None:
    order_id = order["entity_id"]
    control.put(
        "/_sim/faults",
        json={
            "land_then_timeout_rate": 1,
            "land_then_timeout_seconds": 3,
            "land_then_timeout_for": ["invoice"],
        },
    ).raise_for_status()
    item = delivery("invoice", {"magento_order_id": order_id, "items": all_items(order)})
    with pytest.raises(TargetTimeout) as caught:
        deliver(base_url, item, timeout=0.5)
    assert TOKEN not in str(caught.value)
    state = control.get("/_sim/state").json()
    assert state["faults_injected"] == {"land_then_timeout_invoice": 1}
    assert state["invoices"] == 1  # it landed although the client gave up

    retry = deliver(base_url, delivery("invoice", item.payload, attempt=2), timeout=0.5)
    invoices = documents(control, base_url, "invoices", order_id)
    assert len(invoices) == 1  # exactly ONE invoice
    assert retry.reference == str(invoices[0]["entity_id"])
    assert control.get("/_sim/state").json()["faults_injected"] == {"land_then_timeout_invoice": 1}


def test_partial_then_rest_with_the_same_quantities_are_two_invoices(
    base_url: str, control: httpx.Client, order: dict[str, Any]
) -> None:
    order_id = order["entity_id"]
    first_row = top_level(order)[0]
    one = {"order_item_id": first_row["item_id"], "qty": "1"}
    a = deliver(base_url, delivery("invoice", {"magento_order_id": order_id, "items": [one]}))
    b = deliver(
        base_url, delivery("invoice", {"magento_order_id": order_id, "items": [one]}, key="k-2")
    )
    assert a.reference != b.reference  # a second delivery that still fits is a new invoice
    assert len(documents(control, base_url, "invoices", order_id)) == 2
    replay = deliver(
        base_url, delivery("invoice", {"magento_order_id": order_id, "items": [one]}, key="k-2")
    )
    assert replay.reference == b.reference


def test_an_invoice_without_the_marker_is_found_by_its_quantities(
    base_url: str, control: httpx.Client, order: dict[str, Any]
) -> None:
    order_id = order["entity_id"]
    items = all_items(order)
    body = {"items": [{"order_item_id": i["order_item_id"], "qty": int(i["qty"])} for i in items]}
    made = httpx.post(
        f"{base_url}/rest/default/V1/order/{order_id}/invoice",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
    )
    made.raise_for_status()
    result = deliver(base_url, delivery("invoice", {"magento_order_id": order_id, "items": items}))
    assert result.reference == str(made.json())
    assert len(documents(control, base_url, "invoices", order_id)) == 1


def test_over_invoicing_is_rejected_with_magentos_message(
    base_url: str, control: httpx.Client, order: dict[str, Any]
) -> None:
    order_id = order["entity_id"]
    row = top_level(order)[0]
    too_many = {"order_item_id": row["item_id"], "qty": str(Decimal(str(row["qty_ordered"])) + 1)}
    with pytest.raises(Rejected) as caught:
        deliver(base_url, delivery("invoice", {"magento_order_id": order_id, "items": [too_many]}))
    error = caught.value
    assert error.status_code == 400
    assert error.detail is not None
    assert "The quantity to invoice must not be greater than the uninvoiced quantity" in (
        error.detail
    )
    assert f'"{row["sku"]}"' in str(error)
    assert documents(control, base_url, "invoices", order_id) == []


# ------------------------------------------------------------------ shipments


def test_partial_shipment_then_the_rest(
    base_url: str, control: httpx.Client, order: dict[str, Any]
) -> None:
    order_id = order["entity_id"]
    rows = top_level(order)
    track = {"track_number": "00340434161234567890", "carrier_code": "dhl", "title": "DHL"}
    first_items = [{"order_item_id": rows[0]["item_id"], "qty": "1"}]
    first = deliver(
        base_url,
        delivery(
            "shipment",
            {"magento_order_id": order_id, "items": first_items, "tracks": [track]},
            key="s-1",
        ),
    )
    rest = [{"order_item_id": rows[0]["item_id"], "qty": str(rows[0]["qty_ordered"] - 1)}] + [
        {"order_item_id": r["item_id"], "qty": str(r["qty_ordered"])} for r in rows[1:]
    ]
    second = deliver(
        base_url, delivery("shipment", {"magento_order_id": order_id, "items": rest}, key="s-2")
    )
    shipments = documents(control, base_url, "shipments", order_id)
    assert [str(s["entity_id"]) for s in shipments] == [first.reference, second.reference]
    assert shipments[0]["tracks"][0]["track_number"] == "00340434161234567890"
    replay = deliver(
        base_url, delivery("shipment", {"magento_order_id": order_id, "items": rest}, key="s-2")
    )
    assert replay.reference == second.reference
    assert len(documents(control, base_url, "shipments", order_id)) == 2


# ------------------------------------------------------------------ errors


def test_wrong_token_is_auth_failed_without_the_token(base_url: str, order: dict[str, Any]) -> None:
    wrong = "wrong-token-9d81c4e7"
    item = delivery("invoice", {"magento_order_id": order["entity_id"], "items": all_items(order)})
    with pytest.raises(AuthFailed) as caught:
        deliver(base_url, item, token=wrong)
    error = caught.value
    assert error.status_code == 401
    assert wrong not in str(error)
    assert wrong not in (error.detail or "")
    assert "Magento_Sales::" in str(error)  # %resources rendered from parameters
    assert "%resources" not in str(error)


def test_unknown_order_and_bad_payload_are_permanent(base_url: str, control: httpx.Client) -> None:
    del control
    with pytest.raises(Rejected) as caught:
        deliver(
            base_url,
            delivery(
                "invoice", {"magento_order_id": 999999, "items": [{"order_item_id": 1, "qty": 1}]}
            ),
        )
    assert caught.value.status_code == 404
    with pytest.raises(PermanentError, match="items: List should have at least 1 item"):
        deliver(base_url, delivery("invoice", {"magento_order_id": 1, "items": []}))
    with pytest.raises(PermanentError, match="give magento_order_id or order_increment_id"):
        deliver(base_url, delivery("invoice", {"items": [{"order_item_id": 1, "qty": 1}]}))
    with pytest.raises(PermanentError, match="delivers comment, invoice, shipment, stock"):
        deliver(base_url, delivery("order", {}))


def test_injected_503_with_retry_after_is_rate_limited(
    base_url: str, control: httpx.Client, order: dict[str, Any]
) -> None:
    control.put(
        "/_sim/faults", json={"error_rate": 1, "error_statuses": [503], "retry_after": 7}
    ).raise_for_status()
    item = delivery("invoice", {"magento_order_id": order["entity_id"], "items": all_items(order)})
    with pytest.raises(RateLimited) as caught:
        deliver(base_url, item)
    assert caught.value.retry_after == 7


def test_refused_connection_is_target_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    item = delivery("invoice", {"magento_order_id": 1, "items": [{"order_item_id": 1, "qty": 1}]})
    with pytest.raises(TargetUnavailable) as caught:
        deliver(f"http://127.0.0.1:{port}", item)
    assert TOKEN not in str(caught.value)


def test_client_add_comment_and_get_order(
    base_url: str, control: httpx.Client, order: dict[str, Any]
) -> None:
    del control

    async def run() -> dict[str, Any]:
        async with MagentoClient(config(base_url)) as client:
            await client.add_comment(order["entity_id"], "Exported to ERP as 4711")
            return await client.get_order(order["entity_id"])

    served = asyncio.run(run())
    assert served["status_histories"][0]["comment"] == "Exported to ERP as 4711"


def test_render_message_fills_placeholders() -> None:
    assert render_message("%1 of %2", ["a", "b"]) == "a of b"
    assert render_message('"%fieldName" is required.', {"fieldName": "items"}) == (
        '"items" is required.'
    )
    assert render_message("100%", None) == "100%"


# ------------------------------------------------------------------ registration


def test_adapters_list_contains_magento() -> None:
    found = plugins.build_plugins({})
    assert "magento" in found.adapters
    assert found.adapters.get("magento") is MagentoAdapter
    assert found.adapters.get("magento").Config is MagentoConfig
