"""Invoices, shipments and order comments: Magento's ``InvoiceOrder`` / ``ShipOrder`` rules.

Validation follows Magento 2.4's ``InvoiceOrderValidator`` (``CanInvoice`` +
``InvoiceQuantityValidator``) and ``ShipOrderValidator`` (``CanShip`` +
``QuantityValidator`` + ``TrackValidator``); a refusal is a ``DocumentValidationException``,
answered 400 with ``"Invoice Document Validation Error(s):\\n" + messages`` (or
``Shipment …``). Without ``items`` the whole remaining quantity is invoiced (shipped).

A parent row (configurable, bundle) takes its child rows along, in proportion. Amounts are
invoiced per price-bearing row in proportion to the quantity (the last invoice of a row
takes the remainder, so the invoiced totals add up to the order's exactly); the first
invoice carries the whole shipping. Every invoice is recorded as paid (``state`` 2, as the
offline methods the generator uses do); ``capture`` is stored but changes nothing.
Order state afterwards: ``processing``, or ``complete`` once everything is invoiced and
shipped. Each change advances the simulated clock and sets ``updated_at``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.magento.simulator.generator import ZERO, rnd
from adapters.magento.simulator.state import MagentoError, MagentoState

__all__ = ["add_comment", "create_invoice", "create_shipment"]

_NOT_INVOICEABLE = ("canceled", "closed", "complete", "holded", "payment_review")
_NOT_SHIPPABLE = ("canceled", "closed", "complete", "holded", "payment_review")


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ZERO


def _children(order: dict[str, Any], item_id: int) -> list[dict[str, Any]]:
    return [i for i in order["items"] if i.get("parent_item_id") == item_id]


def _is_configurable_child(order: dict[str, Any], item: dict[str, Any]) -> bool:
    parent_id = item.get("parent_item_id")
    return any(
        i["item_id"] == parent_id and i.get("product_type") == "configurable"
        for i in order["items"]
    )


def _remaining(item: dict[str, Any], done_key: str) -> Decimal:
    return _dec(item["qty_ordered"]) - _dec(item.get(done_key, 0)) - _dec(item.get("qty_canceled"))


def _requested(
    order: dict[str, Any], body: dict[str, Any], done_key: str, mode: str
) -> tuple[dict[int, Decimal], list[str]]:
    """Quantities per order item (children included) and the validation messages."""
    items = {int(i["item_id"]): i for i in order["items"]}
    errors: list[str] = []
    asked: dict[int, Decimal] = {}
    raw = body.get("items")
    if not raw:
        for item in order["items"]:
            if "parent_item_id" not in item:
                left = _remaining(item, done_key)
                if left > 0:
                    asked[int(item["item_id"])] = left
    else:
        for entry in raw if isinstance(raw, list) else []:
            item_id = int(_dec(entry.get("order_item_id") if isinstance(entry, dict) else 0))
            qty = _dec(entry.get("qty") if isinstance(entry, dict) else 0)
            if item_id not in items:
                errors.append(
                    "The invoice contains one or more items that are not part of the "
                    "original order."
                    if mode == "invoice"
                    else 'The shipment contains product SKU "" that is not part of the '
                    "original order."
                )
                continue
            asked[item_id] = asked.get(item_id, ZERO) + qty
    total = ZERO
    for item_id, qty in asked.items():
        item = items[item_id]
        if qty > _remaining(item, done_key) and not _is_configurable_child(order, item):
            errors.append(
                "The quantity to invoice must not be greater than the uninvoiced quantity for "
                f'product SKU "{item["sku"]}".'
                if mode == "invoice"
                else "The quantity to ship must not be greater than the unshipped quantity for "
                f'product SKU "{item["sku"]}".'
            )
        total += qty
    if total <= 0 and (not raw or not errors):
        errors.append(
            "The invoice can't be created without products. Add products and try again."
            if mode == "invoice"
            else "You can't create a shipment without products."
        )
    quantities = dict(asked)
    for item_id, qty in asked.items():
        parent = items[item_id]
        for child in _children(order, item_id):
            share = qty * _dec(child["qty_ordered"]) / _dec(parent["qty_ordered"])
            quantities[int(child["item_id"])] = quantities.get(int(child["item_id"]), ZERO) + share
    return {k: v for k, v in quantities.items() if v > 0}, errors


def _refuse(kind: str, errors: list[str]) -> MagentoError:
    return MagentoError(400, f"{kind} Document Validation Error(s):\n" + "\n".join(errors))


def _settle_state(state: MagentoState, order: dict[str, Any]) -> None:
    done = all(
        _remaining(i, "qty_invoiced") <= 0 and _remaining(i, "qty_shipped") <= 0
        for i in order["items"]
    )
    order["state"] = order["status"] = "complete" if done else "processing"
    order["updated_at"] = state.tick()


def _share(item: dict[str, Any], key: str, invoiced_key: str, qty: Decimal) -> Decimal:
    """This invoice's part of a row amount; the last invoice takes the remainder."""
    total = _dec(item.get(key, 0))
    already = _dec(item.get(invoiced_key, 0))
    if _dec(item["qty_invoiced"]) + qty >= _dec(item["qty_ordered"]):
        return total - already
    return rnd(total * qty / _dec(item["qty_ordered"]))


def _bearing(order: dict[str, Any], item: dict[str, Any]) -> bool:
    return not _is_configurable_child(order, item) and item.get("product_type") != "bundle"


def create_invoice(state: MagentoState, order_id: str, body: dict[str, Any]) -> int:
    """``POST /V1/order/{orderId}/invoice``; returns the new invoice id."""
    order = state.order(order_id)
    quantities, errors = _requested(order, body, "qty_invoiced", "invoice")
    can_invoice = order.get("state") not in _NOT_INVOICEABLE and any(
        _remaining(i, "qty_invoiced") > 0 for i in order["items"]
    )
    if not can_invoice:
        errors.insert(0, "The order does not allow an invoice to be created.")
    if errors:
        raise _refuse("Invoice", errors)
    invoice_id = state.next_id("invoice")
    now = state.tick()
    sums = dict.fromkeys(
        (
            "subtotal",
            "tax_amount",
            "discount_amount",
            "base_subtotal",
            "base_tax_amount",
            "base_discount_amount",
        ),
        ZERO,
    )
    lines = []
    for item in order["items"]:
        qty = quantities.get(int(item["item_id"]))
        if qty is None:
            continue
        line: dict[str, Any] = {
            "entity_id": state.next_id("invoice_item"),
            "parent_id": invoice_id,
            "order_item_id": item["item_id"],
            "product_id": item.get("product_id"),
            "sku": item["sku"],
            "name": item.get("name"),
            "qty": qty,
        }
        for prefix in ("", "base_"):
            row = _share(item, prefix + "row_total", prefix + "row_invoiced", qty)
            tax = _share(item, prefix + "tax_amount", prefix + "tax_invoiced", qty)
            disc = _share(item, prefix + "discount_amount", prefix + "discount_invoiced", qty)
            line.update(
                {
                    prefix + "price": _dec(item.get(prefix + "price", 0)),
                    prefix + "row_total": row,
                    prefix + "tax_amount": tax,
                    prefix + "discount_amount": disc,
                }
            )
            if _bearing(order, item):
                sums[prefix + "subtotal"] += row
                sums[prefix + "tax_amount"] += tax
                sums[prefix + "discount_amount"] -= disc
            item[prefix + "row_invoiced"] = _dec(item.get(prefix + "row_invoiced", 0)) + row
            item[prefix + "tax_invoiced"] = _dec(item.get(prefix + "tax_invoiced", 0)) + tax
            item[prefix + "discount_invoiced"] = (
                _dec(item.get(prefix + "discount_invoiced", 0)) + disc
            )
        item["qty_invoiced"] = _dec(item["qty_invoiced"]) + qty
        item["updated_at"] = now
        lines.append(line)
    first = not any(inv["order_id"] == order["entity_id"] for inv in state.invoices.values())
    invoice: dict[str, Any] = {
        "entity_id": invoice_id,
        "increment_id": f"{invoice_id:09d}",
        "order_id": order["entity_id"],
        "state": 2,
        "store_id": order.get("store_id"),
        "billing_address_id": order.get("billing_address_id"),
        "order_currency_code": order.get("order_currency_code"),
        "base_currency_code": order.get("base_currency_code"),
        "global_currency_code": order.get("global_currency_code"),
        "store_currency_code": order.get("store_currency_code"),
        "base_to_order_rate": order.get("base_to_order_rate"),
        "base_to_global_rate": order.get("base_to_global_rate"),
        "email_sent": 1 if body.get("notify") else 0,
        "can_void_flag": 0,
        "created_at": now,
        "updated_at": now,
        "total_qty": sum((q for k, q in quantities.items() if _top(order, k)), ZERO),
        "items": lines,
        "comments": _comments(body, invoice_id, now),
        "extension_attributes": {},
    }
    for prefix in ("", "base_"):
        shipping = _dec(order.get(prefix + "shipping_amount", 0)) if first else ZERO
        shipping_tax = _dec(order.get(prefix + "shipping_tax_amount", 0)) if first else ZERO
        tax = sums[prefix + "tax_amount"] + shipping_tax
        grand = sums[prefix + "subtotal"] + shipping + tax + sums[prefix + "discount_amount"]
        invoice.update(
            {
                prefix + "subtotal": sums[prefix + "subtotal"],
                prefix + "discount_amount": sums[prefix + "discount_amount"],
                prefix + "tax_amount": tax,
                prefix + "shipping_amount": shipping,
                prefix + "shipping_tax_amount": shipping_tax,
                prefix + "shipping_incl_tax": shipping + shipping_tax,
                prefix + "grand_total": grand,
            }
        )
        for key, add in (
            ("subtotal_invoiced", sums[prefix + "subtotal"]),
            ("tax_invoiced", tax),
            ("shipping_invoiced", shipping),
            ("discount_invoiced", sums[prefix + "discount_amount"]),
            ("total_invoiced", grand),
            ("total_paid", grand),
        ):
            order[prefix + key] = _dec(order.get(prefix + key, 0)) + add
        order[prefix + "total_due"] = (
            _dec(order[prefix + "grand_total"]) - order[prefix + "total_paid"]
        )
    state.invoices[invoice_id] = invoice
    _settle_state(state, order)
    return invoice_id


def _top(order: dict[str, Any], item_id: int) -> bool:
    return any(i["item_id"] == item_id and "parent_item_id" not in i for i in order["items"])


def _comments(body: dict[str, Any], parent_id: int, now: str) -> list[dict[str, Any]]:
    comment = body.get("comment")
    if not isinstance(comment, dict) or not comment.get("comment"):
        return []
    return [
        {
            "parent_id": parent_id,
            "comment": comment["comment"],
            "created_at": now,
            "is_visible_on_front": int(bool(comment.get("is_visible_on_front"))),
            "is_customer_notified": int(bool(body.get("notify"))),
        }
    ]


def create_shipment(state: MagentoState, order_id: str, body: dict[str, Any]) -> int:
    """``POST /V1/order/{orderId}/ship``; returns the new shipment id."""
    order = state.order(order_id)
    quantities, errors = _requested(order, body, "qty_shipped", "ship")
    can_ship = (
        order.get("state") not in _NOT_SHIPPABLE
        and not order.get("is_virtual")
        and any(_remaining(i, "qty_shipped") > 0 for i in order["items"])
    )
    if not can_ship:
        errors.insert(0, "The order does not allow a shipment to be created.")
    tracks_in = body.get("tracks") or []
    if not isinstance(tracks_in, list):
        tracks_in = []
    for track in tracks_in:
        if not isinstance(track, dict) or not track.get("track_number"):
            errors.append("Please enter a tracking number.")
    if errors:
        raise _refuse("Shipment", errors)
    shipment_id = state.next_id("shipment")
    now = state.tick()
    lines = []
    for item in order["items"]:
        qty = quantities.get(int(item["item_id"]))
        if qty is None:
            continue
        item["qty_shipped"] = _dec(item["qty_shipped"]) + qty
        item["updated_at"] = now
        lines.append(
            {
                "entity_id": state.next_id("shipment_item"),
                "parent_id": shipment_id,
                "order_item_id": item["item_id"],
                "product_id": item.get("product_id"),
                "sku": item["sku"],
                "name": item.get("name"),
                "qty": qty,
                "price": _dec(item.get("price", 0)),
                "weight": item.get("weight"),
                "row_total": _dec(item.get("row_total", 0)),
            }
        )
    tracks = [
        {
            "entity_id": state.next_id("shipment_track"),
            "parent_id": shipment_id,
            "order_id": order["entity_id"],
            "track_number": str(t["track_number"]),
            "title": str(t.get("title") or ""),
            "carrier_code": str(t["carrier_code"]),
            "description": None,
            "qty": None,
            "weight": None,
            "created_at": now,
            "updated_at": now,
        }
        for t in tracks_in
    ]
    address = (
        order.get("extension_attributes", {})
        .get("shipping_assignments", [{}])[0]
        .get("shipping", {})
        .get("address", {})
    )
    state.shipments[shipment_id] = {
        "entity_id": shipment_id,
        "increment_id": f"{shipment_id:09d}",
        "order_id": order["entity_id"],
        "store_id": order.get("store_id"),
        "customer_id": order.get("customer_id"),
        "billing_address_id": order.get("billing_address_id"),
        "shipping_address_id": address.get("entity_id"),
        "email_sent": 1 if body.get("notify") else 0,
        "total_qty": sum((q for k, q in quantities.items() if _top(order, k)), ZERO),
        "created_at": now,
        "updated_at": now,
        "items": lines,
        "tracks": tracks,
        "comments": _comments(body, shipment_id, now),
        "packages": [],
    }
    _settle_state(state, order)
    return shipment_id


def add_comment(state: MagentoState, order_id: str, body: dict[str, Any]) -> bool:
    """``POST /V1/orders/{id}/comments`` (``statusHistory``); the order's status is kept."""
    order = state.order(order_id)
    history = body.get("statusHistory", body.get("status_history"))
    if not isinstance(history, dict):
        raise MagentoError(
            400, '"%fieldName" is required. Enter and try again.', {"fieldName": "statusHistory"}
        )
    now = state.tick()
    entry = {
        "entity_id": state.next_id("status_history"),
        "parent_id": order["entity_id"],
        "entity_name": "order",
        "comment": str(history.get("comment") or ""),
        "status": history.get("status") or order.get("status"),
        "is_customer_notified": int(bool(history.get("is_customer_notified"))),
        "is_visible_on_front": int(bool(history.get("is_visible_on_front"))),
        "created_at": now,
    }
    order.setdefault("status_histories", []).insert(0, entry)
    order["updated_at"] = now
    return True
