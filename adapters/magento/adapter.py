"""Magento 2 / Adobe Commerce as a target: invoices and shipments of existing orders.

Payload contract (``delivery.payload``, produced by an outbound mapping)::

    {
      "magento_order_id": 1187,                         # the order's entity_id (not increment_id)
      "items": [{"order_item_id": 4101, "qty": "2"}],   # top-level order rows, qty > 0
      "tracks": [{"track_number": "…", "carrier_code": "dhl", "title": "DHL"}]  # shipments only
    }

``delivery.kind`` says what to create: ``invoice`` (POST /V1/order/{id}/invoice, with the
target's ``capture`` and ``notify``) or ``shipment`` (POST /V1/order/{id}/ship). Quantities
are decimal strings or numbers; an item listed twice counts twice.

Idempotency (at most one document per delivery, even when an answer is lost):

1. Each document is created with an internal comment ``O2C Hub delivery <idempotency_key>``
   (not visible on the storefront). Before creating, the order's invoices (shipments) are
   read; one carrying the marker is the earlier attempt's, and its id is the reference.
2. Otherwise the order's uninvoiced (unshipped) quantities are read. When the delivery's
   quantities no longer fit and an existing document has exactly these quantities, that
   document is taken as this delivery's (it landed, e.g. without the comment).
3. Otherwise the document is created. Quantities beyond what is left are not trimmed:
   Magento refuses them and the refusal becomes :class:`~hub.errors.Rejected`.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.magento.client import MagentoClient
from adapters.magento.config import MagentoConfig
from hub import __version__
from hub.adapter import Adapter, Capability
from hub.errors import PermanentError
from hub.targets.base import Delivery, DeliveryResult

__all__ = ["MARKER_PREFIX", "DocumentPayload", "MagentoAdapter", "Track"]

MARKER_PREFIX = "O2C Hub delivery"
_KINDS: dict[str, Literal["invoice", "shipment"]] = {
    "invoice": "invoice",
    "shipment": "shipment",
    "ship": "shipment",
}


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
    """What a Magento delivery carries (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    magento_order_id: int = Field(gt=0, description="The Magento order's entity_id.")
    items: list[ItemQty] = Field(min_length=1)
    tracks: list[Track] = Field(default_factory=list)

    def quantities(self) -> dict[int, Decimal]:
        wanted: dict[int, Decimal] = {}
        for item in self.items:
            wanted[item.order_item_id] = wanted.get(item.order_item_id, Decimal(0)) + item.qty
        return wanted


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except ArithmeticError:
        return Decimal(0)


def _has_marker(document: dict[str, Any], marker: str) -> bool:
    comments = document.get("comments")
    if not isinstance(comments, list):
        return False
    return any(isinstance(c, dict) and str(c.get("comment") or "") == marker for c in comments)


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


def _first(documents: Iterable[dict[str, Any]], marker: str) -> dict[str, Any] | None:
    return next((d for d in documents if _has_marker(d, marker)), None)


class MagentoAdapter(Adapter):
    """Creates invoices and shipments of Magento orders, once per delivery."""

    name: ClassVar[str] = "magento"
    version: ClassVar[str] = __version__
    description: ClassVar[str] = (
        "Magento 2 / Adobe Commerce REST: invoices and shipments of orders, idempotent."
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.DELIVER, Capability.LOOKUP}
    )
    Config: ClassVar[type[BaseModel]] = MagentoConfig

    def __init__(self, target: str, config: BaseModel, client: MagentoClient | None = None) -> None:
        super().__init__(target, config)
        assert isinstance(config, MagentoConfig)
        self._config = config
        self.client = client or MagentoClient(config, target=target)

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        kind = _KINDS.get(delivery.kind.strip().lower())
        if kind is None:
            raise PermanentError(
                f"{self.target}: cannot deliver a {delivery.kind!r}; "
                "the magento adapter creates invoices and shipments",
                target=self.target,
            )
        payload = self._payload(delivery)
        if kind == "invoice" and payload.tracks:
            raise PermanentError(
                f"{self.target}: tracks belong to shipments, not invoices", target=self.target
            )
        order_id = payload.magento_order_id
        wanted = payload.quantities()
        marker = f"{MARKER_PREFIX} {delivery.idempotency_key}"
        noun = "invoice" if kind == "invoice" else "shipment"

        existing = await (
            self.client.search_invoices(order_id)
            if kind == "invoice"
            else self.client.search_shipments(order_id)
        )
        earlier = _first(existing, marker)
        if earlier is not None:
            return self._found(noun, earlier, order_id, "created by an earlier attempt")

        order = await self.client.get_order(order_id)
        left = _remaining(order, "qty_invoiced" if kind == "invoice" else "qty_shipped")
        fits = all(item_id in left and qty <= left[item_id] for item_id, qty in wanted.items())
        if not fits:
            top_level = set(left)
            for document in existing:
                if _document_quantities(document, top_level) == wanted:
                    return self._found(noun, document, order_id, "with the same quantities")

        items = sorted(wanted.items())
        if kind == "invoice":
            new_id = await self.client.create_invoice(
                order_id,
                items,
                capture=self._config.capture,
                notify=self._config.notify,
                comment=marker,
            )
        else:
            tracks = [t.model_dump() for t in payload.tracks]
            new_id = await self.client.create_shipment(
                order_id, items, tracks, notify=self._config.notify, comment=marker
            )
        total = sum(wanted.values(), Decimal(0))
        return DeliveryResult(
            reference=str(new_id),
            status_code=200,
            summary=f"{noun} {new_id} created for order {order_id} ({total:f} units)",
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def secrets(self) -> tuple[str, ...]:
        return self.client.secrets()

    # ------------------------------------------------------------------ internals

    def _payload(self, delivery: Delivery) -> DocumentPayload:
        try:
            return DocumentPayload.model_validate(delivery.payload)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'payload'}: {error['msg']}"
                for error in exc.errors()
            )
            raise PermanentError(
                f"{self.target}: the {delivery.kind} payload does not fit the magento "
                f"contract: {problems}",
                target=self.target,
                detail=problems,
            ) from exc

    def _found(
        self, noun: str, document: dict[str, Any], order_id: int, how: str
    ) -> DeliveryResult:
        reference = str(document.get("entity_id"))
        return DeliveryResult(
            reference=reference,
            status_code=200,
            summary=f"{noun} {reference} of order {order_id} already exists ({how})",
        )
