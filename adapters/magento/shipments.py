"""A Magento shipment with what it takes to invoice it: its order's number and top rows.

A shipment (``GET /V1/shipment/{id}``) names its order only by ``order_id`` (the entity
id), while the hub keys orders by their number (``increment_id``). And a shipment can hold
rows of child items (a bundle shipped separately keeps its children's rows next to its
own), while the hub's order has one line per top-level row (the bundle is one line, as a
sales BOM in the ERP): counting the children too would ship, and invoice, them twice. So
the inbound mapping reads this composite::

    {"shipment": <the shipment as Magento returns it>,
     "order": {"entity_id": 1187, "increment_id": "000000123"},
     "top_level_items": [<the shipment items whose order row has no parent>]}

The poller builds it with the order it reads; a webhook or Adobe I/O event for
``sales_order_shipment_save_after`` must carry the order next to the shipment
(``data.order`` with ``entity_id``, ``increment_id`` and ``items``): configure the
webhook's fields so, or poll shipments (``sources:`` in routes.yaml).
"""

from __future__ import annotations

from typing import Any

__all__ = ["shipment_source"]


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def shipment_source(shipment: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    """The composite above; ValueError names what ``order`` lacks."""
    number = order.get("increment_id")
    if not number:
        raise ValueError("the shipment's order carries no increment_id")
    rows = order.get("items")
    if not isinstance(rows, list):
        raise ValueError(
            f"order {number} carries no items: the shipment's rows cannot be told from "
            "their parents'"
        )
    children = {
        _int(row.get("item_id"))
        for row in rows
        if isinstance(row, dict) and (row.get("parent_item_id") or row.get("parent_item"))
    }
    items = shipment.get("items") or []
    top = [
        item
        for item in items
        if isinstance(item, dict) and _int(item.get("order_item_id")) not in children
    ]
    return {
        "shipment": shipment,
        "order": {"entity_id": order.get("entity_id"), "increment_id": number},
        "top_level_items": top,
    }
