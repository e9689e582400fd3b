"""The document inside what Adobe Commerce pushes: webhooks and Adobe I/O events.

Three bodies arrive at ``/v1/inbound/magento/<kind>``:

* an **Adobe Commerce webhook** (observer type): ``{"eventName": "sales_order_save_after",
  "data": {"order": {...}}}`` (plugin-type webhooks add ``subject``); the entity is under
  ``data.<entity>`` (``order``, ``customer``, ``company``) or ``data.data_object``;
* an **Adobe I/O event** (CloudEvents 1.0): ``{"specversion": "1.0", "type":
  "com.adobe.commerce.observer.sales_order_save_commit_after", "data": {"value": {...}}}``;
* the REST document itself (``GET /V1/orders/{id}``), e.g. from a middleware.

The order must be in the REST shape (``items``, ``billing_address``,
``extension_attributes.shipping_assignments``): configure the webhook's fields so, or let
polling fetch it. A party is the composite the poller builds, ``{"customer": ...,
"company": ..., "company_credit": ...}``; a customer or company event becomes its part. A
shipment travels with its order (``data.shipment`` and ``data.order``), see
:mod:`adapters.magento.shipments`.
"""

from __future__ import annotations

from typing import Any

from adapters.magento.shipments import shipment_source

__all__ = ["ENTITY_KEYS", "unwrap"]

ENTITY_KEYS: dict[str, tuple[str, ...]] = {
    "order": ("order",),
    "party": ("customer", "company"),
    "shipment": ("shipment",),
    "invoice": ("invoice",),
    "product": ("product",),
    "stock_level": ("stock_item", "product"),
}
"""Which ``data.<key>`` of a webhook carries the document of each canonical kind."""


def _event_name(body: dict[str, Any]) -> str:
    return str(body.get("eventName") or body.get("type") or "the event")


def _as_party(kind: str, key: str, entity: dict[str, Any]) -> dict[str, Any]:
    if kind != "party":
        return entity
    return {key: entity} if key in ("customer", "company") else entity


def _looks_like(kind: str, entity: dict[str, Any]) -> str | None:
    """Which entity a bare document is (for CloudEvents, which do not name it)."""
    if kind == "order" and ("increment_id" in entity or "items" in entity):
        return "order"
    if kind == "party":
        if "customer" in entity or "company" in entity:
            return "composite"
        if "company_name" in entity:
            return "company"
        if "email" in entity and ("firstname" in entity or "lastname" in entity):
            return "customer"
    return None


def _shipment(body: dict[str, Any]) -> dict[str, Any]:
    """A shipment composite (:mod:`adapters.magento.shipments`) from any of the bodies."""
    if "top_level_items" in body and "shipment" in body:
        return body  # already the composite (a replay, a middleware)
    data = body.get("data")
    holder: dict[str, Any] = body
    if isinstance(data, dict):
        value = data.get("value")
        holder = value if isinstance(value, dict) else data
    shipment, order = holder.get("shipment"), holder.get("order")
    if not isinstance(shipment, dict) or not isinstance(order, dict):
        raise ValueError(
            f"{_event_name(body)!r} must carry the shipment and its order "
            "(data.shipment, and data.order with entity_id, increment_id and items): "
            "configure the webhook's fields so, or poll shipments"
        )
    return shipment_source(shipment, order)


def unwrap(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """The source document for ``kind`` inside ``body``; ValueError names what is wrong."""
    if kind == "shipment":
        return _shipment(body)
    data = body.get("data")
    if "specversion" in body:
        value = data.get("value") if isinstance(data, dict) else None
        if not isinstance(value, dict):
            raise ValueError(f"the CloudEvent {_event_name(body)!r} has no data.value object")
        found = _looks_like(kind, value)
        if found is None:
            raise ValueError(f"the CloudEvent {_event_name(body)!r} does not carry a {kind}")
        return value if found in ("order", "composite") else _as_party(kind, found, value)
    if "eventName" in body or ("subject" in body and isinstance(data, dict)):
        if not isinstance(data, dict):
            raise ValueError(f"the webhook {_event_name(body)!r} has no data object")
        for key in ENTITY_KEYS.get(kind, (kind,)):
            entity = data.get(key)
            if isinstance(entity, dict):
                return _as_party(kind, key, entity)
        entity = data.get("data_object")
        if isinstance(entity, dict):
            found = _looks_like(kind, entity)
            if found is not None:
                return entity if found in ("order", "composite") else _as_party(kind, found, entity)
        keys = ", ".join(sorted(data)) or "nothing"
        raise ValueError(
            f"the webhook {_event_name(body)!r} carries {keys}, not a {kind} "
            f"(expected data.{' or data.'.join(ENTITY_KEYS.get(kind, (kind,)))})"
        )
    if kind == "party" and _looks_like(kind, body) in ("customer", "company"):
        found = _looks_like(kind, body)
        assert found is not None
        return {found: body}
    return body
