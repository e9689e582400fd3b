"""Magento shipments in (polled or pushed, children left out), hub invoices out by number."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.magento.adapter import MagentoAdapter
from adapters.magento.config import MagentoConfig
from adapters.magento.deliveries import DocumentPayload
from adapters.magento.simulator import SimulatorConfig, run_simulator
from hub.canonical.shipment import Shipment
from hub.errors import Rejected
from hub.mapping import CompiledMapping, registry
from hub.paths import bundled_mappings_dir
from hub.targets.base import Delivery, DeliveryResult

SAMPLES = bundled_mappings_dir() / "magento" / "samples"
TOKEN = "shipments-test-token-0b7d31"


@pytest.fixture(scope="module")
def shipment_mapping() -> CompiledMapping:
    return registry.find("magento", "shipment", "inbound", [bundled_mappings_dir()])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with run_simulator(config=SimulatorConfig(tokens=(TOKEN,), seed=17)) as url:
        yield url


@pytest.fixture
def control(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, trust_env=False, timeout=60) as client:
        client.post("/_sim/reset").raise_for_status()
        yield client


def _adapter(base_url: str) -> MagentoAdapter:
    options = {
        "base_url": f"{base_url}/rest/default",
        "token": TOKEN,
        "timeout": 30,
        "poll_settle_seconds": 0,
    }
    return MagentoAdapter("shop", MagentoConfig.model_validate(options))


def _read(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return value


def _api(base_url: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{base_url}/rest/default/V1",
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
        timeout=30,
    )


# ------------------------------------------------------------------ mapping


@pytest.mark.parametrize("sample", sorted((SAMPLES / "shipments").glob("*.json")), ids=str)
def test_shipment_samples_map_one_line_per_top_level_row(
    sample: Path, shipment_mapping: CompiledMapping
) -> None:
    source = _read(sample)
    shipment = shipment_mapping.apply(source).document
    assert isinstance(shipment, Shipment)
    assert shipment.order_number == source["order"]["increment_id"]
    assert shipment.shipment_number == source["shipment"]["increment_id"]
    top = {str(i["order_item_id"]): Decimal(str(i["qty"])) for i in source["top_level_items"]}
    assert {line.order_line_id: line.quantity for line in shipment.lines} == top
    every_row = {str(i["order_item_id"]) for i in source["shipment"]["items"]}
    assert every_row > set(top), "the sample should hold child rows that are left out"
    tracks = [t["track_number"] for t in source["shipment"]["tracks"]]
    assert [p.tracking_number for p in shipment.packages] == tracks


def test_a_webhook_with_the_order_unwraps_to_the_composite(
    shipment_mapping: CompiledMapping,
) -> None:
    body = _read(SAMPLES / "shipments" / "events" / "webhook-shipment-save-after.json")
    source = MagentoAdapter.unwrap_inbound("shipment", body)
    shipment = shipment_mapping.apply(source).document
    assert isinstance(shipment, Shipment)
    assert shipment.order_number == body["data"]["order"]["increment_id"]
    assert [(line.order_line_id, line.quantity) for line in shipment.lines] == [("7", Decimal(1))]
    assert MagentoAdapter.unwrap_inbound("shipment", source) == source  # replays as is


def test_a_webhook_without_the_order_says_what_to_configure() -> None:
    body = _read(SAMPLES / "shipments" / "events" / "webhook-shipment-save-after.json")
    del body["data"]["order"]
    with pytest.raises(ValueError, match=r"data\.order with entity_id, increment_id and items"):
        MagentoAdapter.unwrap_inbound("shipment", body)
    body = _read(SAMPLES / "shipments" / "events" / "webhook-shipment-save-after.json")
    del body["data"]["order"]["items"]
    with pytest.raises(ValueError, match="carries no items"):
        MagentoAdapter.unwrap_inbound("shipment", body)


# ------------------------------------------------------------------ polling


def test_shipments_are_polled_once_each_with_their_order(
    base_url: str, control: httpx.Client, shipment_mapping: CompiledMapping
) -> None:
    ids = control.post("/_sim/orders/generate", json={"count": 12, "seed": 4}).json()
    with _api(base_url) as api:
        for order_id in ids["entity_ids"]:
            api.post(f"/order/{order_id}/ship", json={}).raise_for_status()

    async def run() -> list[dict[str, Any]]:
        shop = _adapter(base_url)
        seen: list[dict[str, Any]] = []
        cursor = None
        try:
            for _ in range(20):
                page = await shop.poll("shipment", cursor, limit=5)
                seen.extend(json.loads(d.raw) for d in page.documents)
                cursor = page.cursor
                if not page.more:
                    break
            again = await shop.poll("shipment", cursor, limit=5)
            assert again.documents == []
        finally:
            await shop.aclose()
        return seen

    polled = asyncio.run(run())
    assert len(polled) == 12
    with _api(base_url) as api:
        for source in polled:
            shipment = shipment_mapping.apply(source).document
            assert isinstance(shipment, Shipment)
            order = api.get(f"/orders/{source['shipment']['order_id']}").json()
            assert shipment.order_number == order["increment_id"]
            wanted = {
                str(i["item_id"]): Decimal(str(i["qty_ordered"]))
                for i in order["items"]
                if i.get("parent_item_id") is None and not i.get("is_virtual")
            }
            assert {line.order_line_id: line.quantity for line in shipment.lines} == wanted


# ------------------------------------------------------------------ invoices by number


def _delivery(payload: dict[str, Any], key: str, attempt: int = 1) -> Delivery:
    return Delivery(
        delivery_id=f"d-{key}",
        message_id=f"m-{key}",
        target="shop",
        route="invoices-to-shop",
        kind="invoice",
        payload=payload,
        idempotency_key=key,
        ordering_key=None,
        attempt=attempt,
        correlation_id="c-1",
    )


def _deliver(base_url: str, item: Delivery, *, lookup: bool = False) -> DeliveryResult | None:
    async def run() -> DeliveryResult | None:
        shop = _adapter(base_url)
        try:
            return await (shop.lookup(item) if lookup else shop.deliver(item))
        finally:
            await shop.aclose()

    return asyncio.run(run())


def test_an_invoice_named_by_order_number_is_created_once(
    base_url: str, control: httpx.Client
) -> None:
    generated = control.post("/_sim/orders/generate", json={"count": 1, "seed": 9}).json()
    order_id = generated["entity_ids"][0]
    with _api(base_url) as api:
        order = api.get(f"/orders/{order_id}").json()
    items = [
        {"order_item_id": i["item_id"], "qty": str(i["qty_ordered"])}
        for i in order["items"]
        if i.get("parent_item_id") is None
    ]
    payload = {"order_increment_id": order["increment_id"], "items": items}
    assert _deliver(base_url, _delivery(payload, "inv-1"), lookup=True) is None
    first = _deliver(base_url, _delivery(payload, "inv-1"))
    assert first is not None
    found = _deliver(base_url, _delivery(payload, "inv-1", attempt=2), lookup=True)
    again = _deliver(base_url, _delivery(payload, "inv-1", attempt=2))
    assert found is not None and again is not None
    assert first.reference == found.reference == again.reference
    assert control.get("/_sim/state").json()["invoices"] == 1


def test_an_unknown_order_number_is_rejected_and_looked_up_as_nothing(
    base_url: str, control: httpx.Client
) -> None:
    payload = {"order_increment_id": "999999999", "items": [{"order_item_id": 1, "qty": "1"}]}
    assert _deliver(base_url, _delivery(payload, "inv-x"), lookup=True) is None
    with pytest.raises(Rejected, match="no order numbered 999999999"):
        _deliver(base_url, _delivery(payload, "inv-x"))


def test_a_payload_must_name_the_order() -> None:
    with pytest.raises(ValueError, match="magento_order_id or order_increment_id"):
        DocumentPayload.model_validate({"items": [{"order_item_id": 1, "qty": "1"}]})
