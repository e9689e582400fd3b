"""The Magento simulator as the conformance kit's harness (hub.testing.conformance).

Configurations sign with OAuth 1.0a (an integration, the default since Magento 2.4.4);
reads for counting use the simulator's integration token. Faults go through
``PUT /_sim/faults``. Each delivery scenario gets a fresh generated order, so scenarios
never see each other's records.
"""

from __future__ import annotations

import socket
from typing import Any

import httpx

from adapters.magento.deliveries import marker
from adapters.magento.simulator.state import OAuthIntegration
from hub.targets.base import Delivery
from hub.testing.conformance import ConformanceHarness, DeliveryScenario, Fault

__all__ = ["MagentoHarness"]

SLOW_SECONDS = 2.5
"""Longer than the configured one-second timeout."""
STOCK_QTY = "17"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class MagentoHarness(ConformanceHarness):
    """Drives a running simulator (``run_simulator``) for the conformance kit."""

    def __init__(self, base_url: str, integration: OAuthIntegration, token: str) -> None:
        self.base_url = base_url
        self.integration = integration
        self.token = token
        self.http = httpx.Client(base_url=base_url, trust_env=False, timeout=30)
        self._seed = 0

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ configurations

    def _options(self, base_url: str, secret: str) -> dict[str, Any]:
        return {
            "base_url": f"{base_url}/rest/default",
            "oauth": {
                "consumer_key": self.integration.consumer_key,
                "consumer_secret": secret,
                "access_token": self.integration.access_token,
                "access_token_secret": self.integration.access_token_secret,
            },
            "timeout": 1,
        }

    def config(self) -> dict[str, Any]:
        return self._options(self.base_url, self.integration.consumer_secret)

    def bad_credentials(self) -> dict[str, Any]:
        return self._options(self.base_url, "not-the-consumer-secret-5e1d")

    def unreachable(self) -> dict[str, Any]:
        return self._options(f"http://127.0.0.1:{_closed_port()}", self.integration.consumer_secret)

    def secrets(self) -> list[str]:
        return [
            self.integration.consumer_secret,
            self.integration.access_token,
            self.integration.access_token_secret,
            "not-the-consumer-secret-5e1d",
            self.token,
        ]

    # ------------------------------------------------------------------ faults

    def _faults(self, **faults: Any) -> None:
        self.http.put("/_sim/faults", json=faults).raise_for_status()

    def inject(self, fault: Fault) -> None:
        if fault.kind == "status":
            self._faults(error_rate=1, error_statuses=[fault.status], retry_after=fault.retry_after)
        elif fault.kind == "slow":
            self._faults(slow_rate=1, slow_seconds=SLOW_SECONDS)
        else:
            self._faults(
                land_then_timeout_rate=1,
                land_then_timeout_seconds=SLOW_SECONDS,
                land_then_timeout_for=["invoice", "ship", "comment"],
            )

    def clear_faults(self) -> None:
        self._faults()

    # ------------------------------------------------------------------ deliveries

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        response = self.http.get(
            f"/rest/default/V1{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        response.raise_for_status()
        return response.json()

    def _new_order(self) -> dict[str, Any]:
        self._seed += 1
        made = self.http.post("/_sim/orders/generate", json={"count": 1, "seed": self._seed})
        made.raise_for_status()
        order_id = made.json()["entity_ids"][0]
        order: dict[str, Any] = self._get(f"/orders/{order_id}")
        return order

    def prepare(self, scenario: DeliveryScenario, key: str) -> Delivery:
        order = self._new_order()
        top = [i for i in order["items"] if i.get("parent_item_id") is None]
        lines = [{"order_item_id": i["item_id"], "qty": str(i["qty_ordered"])} for i in top]
        order_id = order["entity_id"]
        payload: dict[str, Any]
        if scenario.kind == "invoice":
            payload = {"magento_order_id": order_id, "items": lines}
        elif scenario.kind == "shipment":
            track = {"track_number": f"1Z{order_id:010d}", "carrier_code": "ups", "title": "UPS"}
            payload = {"magento_order_id": order_id, "items": lines, "tracks": [track]}
        elif scenario.kind == "comment":
            payload = {"magento_order_id": order_id, "comment": f"Sent to the ERP ({key})"}
        elif scenario.kind == "stock":
            payload = {"sku": top[0]["sku"], "qty": STOCK_QTY}
        else:
            raise AssertionError(f"no preparation for a {scenario.kind} delivery")
        return Delivery(
            delivery_id=f"d-{key}",
            message_id=f"m-{key}",
            target="conformance",
            route="conformance",
            kind=scenario.kind,
            payload=payload,
            idempotency_key=key,
            ordering_key=str(order_id),
            attempt=1,
            correlation_id=f"c-{key}",
        )

    def _count(self, path: str, order_id: int) -> int:
        found = self._get(
            path,
            {
                "searchCriteria[filterGroups][0][filters][0][field]": "order_id",
                "searchCriteria[filterGroups][0][filters][0][value]": str(order_id),
                "searchCriteria[pageSize]": "100",
            },
        )
        return int(found["total_count"])

    def records(self, scenario: DeliveryScenario, delivery: Delivery) -> int:
        payload = delivery.payload
        if scenario.kind in ("invoice", "shipment"):
            path = "/invoices" if scenario.kind == "invoice" else "/shipments"
            return self._count(path, int(payload["magento_order_id"]))
        if scenario.kind == "comment":
            history = self._get(f"/orders/{payload['magento_order_id']}/comments")
            wanted = marker(delivery.idempotency_key)
            return sum(1 for c in history["items"] if wanted in str(c.get("comment")))
        item = self._get(f"/stockItems/{payload['sku']}")
        return 1 if str(item.get("qty")) in (STOCK_QTY, f"{STOCK_QTY}.0") else 0
