"""The demo's warehouse: ships the shop's orders once the ERP has them.

It works the way a warehouse system does against Adobe Commerce: ``POST
/V1/order/{id}/ship`` with the rows of each parcel and a tracking number. Most orders leave
in one parcel; every ``split_every``-th order leaves in two: half of its first row (all of
it when that is a single unit) first, the rest on a later round, so the hub invoices
partial shipments, and partial rows, too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

__all__ = ["Warehouse"]


@dataclass
class _Order:
    entity_id: int
    number: str
    rows: list[int]
    """Top-level rows still to ship, in order."""
    split: bool
    parcels: int = 0
    refused: str | None = None
    """Why the shop refused to ship it (a cancelled order), if it did."""

    @property
    def done(self) -> bool:
        return not self.rows


@dataclass
class Warehouse:
    """Ships orders through the shop's REST API (``api``: ``…/rest/default/V1``)."""

    api: httpx.Client
    split_every: int = 4
    orders: dict[int, _Order] = field(default_factory=dict)
    shipments: int = 0

    def learn(self, entity_ids: list[int]) -> None:
        """Read new orders (their number and the rows to ship)."""
        for entity_id in entity_ids:
            if entity_id in self.orders:
                continue
            response = self.api.get(f"/orders/{entity_id}")
            response.raise_for_status()
            order: dict[str, Any] = response.json()
            rows = [
                int(item["item_id"])
                for item in order.get("items") or []
                if item.get("parent_item_id") is None and not item.get("is_virtual")
            ]
            split = len(self.orders) % self.split_every == 0
            self.orders[entity_id] = _Order(entity_id, str(order["increment_id"]), rows, split)

    def ship(self, ready: set[str]) -> int:
        """Send one parcel of every order the ERP has (``ready``: order numbers) that still
        has rows to ship; return the parcels sent."""
        sent = 0
        for order in self.orders.values():
            if order.done or order.number not in ready:
                continue
            if order.split and order.parcels == 0:
                first = order.rows[0]
                ordered = self._qty(order, first)
                half = ordered // 2 if ordered >= 2 else ordered
                self._ship(order, {"items": [{"order_item_id": first, "qty": str(half)}]})
                if order.refused is not None:
                    order.rows = []
                elif half == ordered:
                    order.rows = order.rows[1:]
            else:
                self._ship(order, {})  # no items: Magento ships what is left
                order.rows = []
            sent += order.refused is None
        return sent

    @property
    def shipped_orders(self) -> int:
        return sum(1 for order in self.orders.values() if order.done)

    def _qty(self, order: _Order, row: int) -> Decimal:
        response = self.api.get(f"/orders/{order.entity_id}")
        response.raise_for_status()
        for item in response.json()["items"]:
            if int(item["item_id"]) == row:
                return Decimal(str(item["qty_ordered"]))
        raise ValueError(f"order {order.number} has no row {row}")

    def _ship(self, order: _Order, body: dict[str, Any]) -> None:
        order.parcels += 1
        track = {
            "track_number": f"JJD{order.entity_id:09d}{order.parcels}",
            "title": "DHL Paket",
            "carrier_code": "dhl",
        }
        response = self.api.post(
            f"/order/{order.entity_id}/ship", json={**body, "tracks": [track], "notify": False}
        )
        if response.status_code == 400:  # e.g. cancelled: nothing to ship, nothing to invoice
            order.refused = str(response.json().get("message", response.text))
            order.rows = []
            return
        response.raise_for_status()
        self.shipments += 1
