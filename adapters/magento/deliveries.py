"""What each Magento delivery kind creates, and how an earlier attempt's result is found.

Payload contracts (``delivery.payload``, produced by an outbound mapping)::

    invoice / shipment:
      {"magento_order_id": 1187,                        # the order's entity_id, or
       "order_increment_id": "000000123",               #   its number (looked up)
       "items": [{"order_item_id": 4101, "qty": "2"}],  # top-level order rows, qty > 0
       "tracks": [{"track_number": "…", "carrier_code": "dhl", "title": "DHL"}]}  # shipments
    stock:
      {"sku": "24-MB01", "qty": "120", "is_in_stock": true}   # absolute quantity on hand
    comment:
      {"magento_order_id": 1187, "comment": "Delivered to SAP as 4711",
       "notify": false, "visible_on_front": false}

Idempotency (at most one effect per delivery, even when an answer is lost):

* invoice / shipment: each document is created with an internal comment ``O2C Hub delivery
  <idempotency_key>``. Before creating, the order's invoices (shipments) are read; one
  carrying the marker is the earlier attempt's. Otherwise, when the delivery's quantities
  no longer fit what is left on the order and an existing document has exactly these
  quantities, that document is taken as this delivery's (it landed without the comment).
  Quantities beyond what is left are not trimmed: Magento refuses them (``Rejected``).
* stock: setting an absolute quantity twice has one effect; a stock item that already
  holds the quantity is left alone.
* comment: the text ends with the marker line; a history entry carrying it is the earlier
  attempt's.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters.magento.client import MagentoClient
from hub.errors import Rejected
from hub.targets.base import DeliveryResult

__all__ = [
    "KINDS",
    "MARKER_PREFIX",
    "CommentPayload",
    "DocumentPayload",
    "StockPayload",
    "Track",
    "deliver_comment",
    "deliver_document",
    "deliver_stock",
    "find_comment",
    "find_document",
    "marker",
    "resolve_order",
]

MARKER_PREFIX = "O2C Hub delivery"
Kind = Literal["invoice", "shipment", "stock", "comment"]
KINDS: dict[str, Kind] = {
    "invoice": "invoice",
    "shipment": "shipment",
    "ship": "shipment",
    "stock": "stock",
    "stock_level": "stock",
    "comment": "comment",
    "order_comment": "comment",
}
"""Delivery kinds (as routes name them) → what the adapter creates."""


def marker(idempotency_key: str) -> str:
    return f"{MARKER_PREFIX} {idempotency_key}"


class ItemQty(BaseModel):
    """One order row and the quantity to invoice or ship."""

    model_config = ConfigDict(extra="forbid")

    order_item_id: int = Field(gt=0, description="The order row's item_id.")
    qty: Decimal = Field(gt=0, allow_inf_nan=False, description='Quantity, e.g. "2".')


class Track(BaseModel):
    """One tracking number of a shipment."""

    model_config = ConfigDict(extra="forbid")

    track_number: str = Field(min_length=1)
    carrier_code: str = Field(min_length=1, description="e.g. dhl, ups, custom.")
    title: str = ""


class DocumentPayload(BaseModel):
    """An invoice or shipment of an order's rows.

    The order is named by its ``entity_id`` or by its number (``increment_id``, what the
    hub's canonical documents carry as the order reference), which the adapter looks up.
    """

    model_config = ConfigDict(extra="forbid")

    magento_order_id: int | None = Field(None, gt=0, description="The order's entity_id.")
    order_increment_id: str | None = Field(
        None, min_length=1, max_length=50, description="The order's number, e.g. 000000123."
    )
    items: list[ItemQty] = Field(min_length=1)
    tracks: list[Track] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names_the_order(self) -> DocumentPayload:
        if self.magento_order_id is None and self.order_increment_id is None:
            raise ValueError("give magento_order_id or order_increment_id")
        return self

    @property
    def order_id(self) -> int:
        """The order's entity_id (after :func:`resolve_order`)."""
        if self.magento_order_id is None:
            raise ValueError(f"order {self.order_increment_id} is not resolved yet")
        return self.magento_order_id

    def quantities(self) -> dict[int, Decimal]:
        wanted: dict[int, Decimal] = {}
        for item in self.items:
            wanted[item.order_item_id] = wanted.get(item.order_item_id, Decimal(0)) + item.qty
        return wanted


class StockPayload(BaseModel):
    """The quantity on hand of one SKU (default source)."""

    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    qty: Decimal = Field(ge=0, allow_inf_nan=False)
    is_in_stock: bool | None = Field(None, description="Default: in stock when qty > 0.")

    def in_stock(self) -> bool:
        return self.qty > 0 if self.is_in_stock is None else self.is_in_stock


class CommentPayload(BaseModel):
    """A note in an order's history."""

    model_config = ConfigDict(extra="forbid")

    magento_order_id: int = Field(gt=0)
    comment: str = Field(min_length=1, max_length=4000)
    notify: bool = False
    visible_on_front: bool = False


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except ArithmeticError:
        return Decimal(0)


def _has_marker(document: dict[str, Any], text: str) -> bool:
    comments = document.get("comments")
    if not isinstance(comments, list):
        return False
    return any(isinstance(c, dict) and str(c.get("comment") or "") == text for c in comments)


def _document_quantities(document: dict[str, Any], top_level: set[int]) -> dict[int, Decimal]:
    found: dict[int, Decimal] = {}
    for line in document.get("items") or []:
        if not isinstance(line, dict):
            continue
        item_id = int(_dec(line.get("order_item_id")))
        if item_id in top_level:
            found[item_id] = found.get(item_id, Decimal(0)) + _dec(line.get("qty"))
    return {k: v for k, v in found.items() if v > 0}


def _remaining(order: dict[str, Any], done_key: str) -> dict[int, Decimal]:
    """Quantity left to invoice (ship) per top-level order row."""
    left: dict[int, Decimal] = {}
    for item in order.get("items") or []:
        if not isinstance(item, dict) or item.get("parent_item_id") is not None:
            continue
        left[int(item["item_id"])] = (
            _dec(item.get("qty_ordered"))
            - _dec(item.get(done_key))
            - _dec(item.get("qty_canceled"))
        )
    return left


def _first(documents: Iterable[dict[str, Any]], text: str) -> dict[str, Any] | None:
    return next((d for d in documents if _has_marker(d, text)), None)


def _found(noun: str, document: dict[str, Any], order_id: int, how: str) -> DeliveryResult:
    reference = str(document.get("entity_id"))
    return DeliveryResult(
        reference=reference,
        status_code=200,
        summary=f"{noun} {reference} of order {order_id} already exists ({how})",
    )


async def resolve_order(client: MagentoClient, payload: DocumentPayload) -> DocumentPayload:
    """``payload`` with ``magento_order_id`` set, looked up from its order number if need be;
    an unknown number is :class:`~hub.errors.Rejected` (the order is not in this store)."""
    if payload.magento_order_id is not None:
        return payload
    number = str(payload.order_increment_id)
    found = await client.find_order_id(number)
    if found is None:
        raise Rejected(
            f"{client.target}: the store has no order numbered {number}",
            target=client.target,
            status_code=404,
        )
    return payload.model_copy(update={"magento_order_id": found})


async def find_document(
    client: MagentoClient,
    kind: Literal["invoice", "shipment"],
    payload: DocumentPayload,
    key: str,
) -> tuple[DeliveryResult | None, bool]:
    """The invoice (shipment) an earlier attempt created, and whether the quantities still
    fit the order (when nothing was found)."""
    order_id = payload.order_id
    wanted = payload.quantities()
    existing = await (
        client.search_invoices(order_id) if kind == "invoice" else client.search_shipments(order_id)
    )
    earlier = _first(existing, marker(key))
    if earlier is not None:
        return _found(kind, earlier, order_id, "created by an earlier attempt"), True
    order = await client.get_order(order_id)
    left = _remaining(order, "qty_invoiced" if kind == "invoice" else "qty_shipped")
    fits = all(item_id in left and qty <= left[item_id] for item_id, qty in wanted.items())
    if not fits:
        for document in existing:
            if _document_quantities(document, set(left)) == wanted:
                return _found(kind, document, order_id, "with the same quantities"), False
    return None, fits


async def deliver_document(
    client: MagentoClient,
    kind: Literal["invoice", "shipment"],
    payload: DocumentPayload,
    key: str,
    *,
    capture: bool,
    notify: bool,
) -> DeliveryResult:
    found, _ = await find_document(client, kind, payload, key)
    if found is not None:
        return found
    order_id = payload.order_id
    wanted = payload.quantities()
    items = sorted(wanted.items())
    if kind == "invoice":
        new_id = await client.create_invoice(
            order_id, items, capture=capture, notify=notify, comment=marker(key)
        )
    else:
        tracks = [t.model_dump() for t in payload.tracks]
        new_id = await client.create_shipment(
            order_id, items, tracks, notify=notify, comment=marker(key)
        )
    total = sum(wanted.values(), Decimal(0))
    return DeliveryResult(
        reference=str(new_id),
        status_code=200,
        summary=f"{kind} {new_id} created for order {order_id} ({total:f} units)",
    )


async def deliver_stock(client: MagentoClient, payload: StockPayload) -> DeliveryResult:
    item = await client.get_stock_item(payload.sku)
    item_id = int(_dec(item.get("item_id")))
    current = _dec(item.get("qty"))
    in_stock = payload.in_stock()
    if current == payload.qty and bool(item.get("is_in_stock")) == in_stock:
        return DeliveryResult(
            reference=str(item_id),
            status_code=200,
            summary=f"stock of {payload.sku} already {payload.qty:f}",
        )
    await client.update_stock(payload.sku, item_id, payload.qty, in_stock)
    return DeliveryResult(
        reference=str(item_id),
        status_code=200,
        summary=f"stock of {payload.sku} set to {payload.qty:f} (was {current:f})",
    )


def _comment_text(payload: CommentPayload, key: str) -> str:
    return f"{payload.comment}\n[{marker(key)}]"


async def find_comment(
    client: MagentoClient, payload: CommentPayload, key: str
) -> DeliveryResult | None:
    text = _comment_text(payload, key)
    for entry in await client.get_comments(payload.magento_order_id):
        if str(entry.get("comment") or "") == text:
            reference = str(entry.get("entity_id") or payload.magento_order_id)
            return DeliveryResult(
                reference=reference,
                status_code=200,
                summary=f"comment on order {payload.magento_order_id} already added",
            )
    return None


async def deliver_comment(
    client: MagentoClient, payload: CommentPayload, key: str
) -> DeliveryResult:
    found = await find_comment(client, payload, key)
    if found is not None:
        return found
    await client.add_comment(
        payload.magento_order_id,
        _comment_text(payload, key),
        notify=payload.notify,
        visible_on_front=payload.visible_on_front,
    )
    # Magento answers `true`; the history entry's id is read back as the reference
    added = await find_comment(client, payload, key)
    return DeliveryResult(
        reference=added.reference if added else str(payload.magento_order_id),
        status_code=200,
        summary=f"comment added to order {payload.magento_order_id}",
    )
