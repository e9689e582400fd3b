"""The SAP adapter's idoc transport: ORDERS05 files dropped once per delivery."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from lxml import etree

from adapters.sap.adapter import SapAdapter
from adapters.sap.config import SapConfig
from adapters.sap.idoc import parse_orders05
from hub.mapping import registry
from hub.paths import bundled_mappings_dir
from hub.targets.base import Delivery, DeliveryResult
from tests.conftest import SAMPLES


def canonical_order() -> dict[str, Any]:
    mapping = registry.find("magento", "order", "inbound", [bundled_mappings_dir()])
    source = json.loads((SAMPLES / "order-eu-b2b-vat.json").read_bytes())
    document = mapping.apply(source).document
    dumped: dict[str, Any] = json.loads(document.model_dump_json(exclude_computed_fields=True))
    return dumped


def config(directory: Path) -> SapConfig:
    return SapConfig.model_validate(
        {
            "transport": "idoc",
            "idoc": {
                "mode": "file",
                "directory": str(directory),
                "default_sold_to": "10100001",
                "envelope": {
                    "sender_port": "O2CHUB",
                    "sender_partner": "O2CHUB",
                    "receiver_port": "SAPS4H",
                    "receiver_partner": "S4HCLNT100",
                },
                "sales_area": {
                    "sales_org": "1010",
                    "distribution_channel": "10",
                    "division": "00",
                    "order_type": "OR",
                },
            },
        }
    )


def deliver(directory: Path, key: str) -> DeliveryResult:
    async def run() -> DeliveryResult:
        adapter = SapAdapter("erp", config(directory))
        try:
            await adapter.health()
            return await adapter.deliver(
                Delivery(
                    delivery_id="d-1",
                    message_id="m-1",
                    target="erp",
                    route="orders-to-sap",
                    kind="order",
                    payload=canonical_order(),
                    idempotency_key=key,
                    ordering_key="200001187",
                    attempt=1,
                    correlation_id="c-1",
                )
            )
        finally:
            await adapter.aclose()

    return asyncio.run(run())


def test_an_order_is_written_once_as_an_orders05_idoc(tmp_path: Path) -> None:
    first = deliver(tmp_path, "key-1")
    files = sorted(tmp_path.glob("*.xml"))
    assert [f.name for f in files] == [f"ORDERS_{first.reference}.xml"]
    again = deliver(tmp_path, "key-1")
    assert again.reference == first.reference
    assert "already" in (again.summary or "")
    assert len(list(tmp_path.iterdir())) == 1, "no second file, no temporary left behind"
    parsed = parse_orders05(files[0].read_bytes())
    assert parsed.document.order_number == "200001187"
    assert first.reference == parsed.control.DOCNUM
    root = etree.fromstring(files[0].read_bytes())
    assert root.tag == "ORDERS05"
    other = deliver(tmp_path, "key-2")
    assert other.reference != first.reference
    assert len(list(tmp_path.glob("*.xml"))) == 2
