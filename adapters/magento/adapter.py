"""Magento 2 / Adobe Commerce: orders and customers in, invoices, shipments, stock and
comments out.

* **deliver** ``invoice`` / ``shipment`` / ``stock`` / ``comment`` (payloads and their
  idempotency: :mod:`adapters.magento.deliveries`);
* **lookup**: the document an earlier attempt of a delivery created;
* **poll** ``order`` / ``party`` / ``shipment``: changed orders, customers and shipments by
  ``updated_at`` keyset (:mod:`adapters.magento.polling`); a party is the customer with
  its B2B company and credit, ``{"customer": ..., "company": ..., "company_credit": ...}``;
  a shipment comes with its order (:mod:`adapters.magento.shipments`);
* **unwrap_inbound**: the document inside a webhook or Adobe I/O event
  (:mod:`adapters.magento.events`);
* **health**: ``GET /V1/store/storeConfigs`` with the configured credentials.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from adapters.magento import events
from adapters.magento.client import MagentoClient
from adapters.magento.config import MagentoConfig
from adapters.magento.deliveries import (
    KINDS,
    MARKER_PREFIX,
    CommentPayload,
    DocumentPayload,
    StockPayload,
    Track,
    deliver_comment,
    deliver_document,
    deliver_stock,
    find_comment,
    find_document,
    resolve_order,
)
from adapters.magento.polling import FEEDS, Cursor, poll_feed
from adapters.magento.shipments import shipment_source
from hub import __version__
from hub.adapter import Adapter, Capability, InboundDocument, PollPage
from hub.errors import PermanentError
from hub.exactjson import dumps_exact
from hub.targets.base import Delivery, DeliveryResult

__all__ = ["MARKER_PREFIX", "DocumentPayload", "MagentoAdapter", "Track"]

P = TypeVar("P", bound=BaseModel)


class MagentoAdapter(Adapter):
    """One Magento store: documents created once per delivery, changes polled by keyset."""

    name: ClassVar[str] = "magento"
    version: ClassVar[str] = __version__
    description: ClassVar[str] = (
        "Magento 2 / Adobe Commerce REST: invoices, shipments, stock and order comments "
        "(idempotent); orders and customers by webhook or polling."
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.DELIVER, Capability.LOOKUP, Capability.POLL, Capability.PARSE}
    )
    Config: ClassVar[type[BaseModel]] = MagentoConfig

    def __init__(self, target: str, config: BaseModel, client: MagentoClient | None = None) -> None:
        super().__init__(target, config)
        assert isinstance(config, MagentoConfig)
        self._config = config
        self.client = client or MagentoClient(config, target=target)

    # ------------------------------------------------------------------ outbound

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        kind = self._kind(delivery)
        key = delivery.idempotency_key
        if kind == "stock":
            return await deliver_stock(self.client, self._payload(delivery, StockPayload))
        if kind == "comment":
            payload = self._payload(delivery, CommentPayload)
            return await deliver_comment(self.client, payload, key)
        document = await resolve_order(self.client, self._document(delivery, kind))
        return await deliver_document(
            self.client,
            kind,
            document,
            key,
            capture=self._config.capture,
            notify=self._config.notify,
        )

    async def lookup(self, delivery: Delivery) -> DeliveryResult | None:
        kind = self._kind(delivery)
        key = delivery.idempotency_key
        if kind == "stock":
            return None  # an absolute quantity: applying it again has no second effect
        if kind == "comment":
            return await find_comment(self.client, self._payload(delivery, CommentPayload), key)
        document = self._document(delivery, kind)
        if (
            document.magento_order_id is None
            and await self.client.find_order_id(str(document.order_increment_id)) is None
        ):
            return None  # no such order: nothing was created; deliver() says why
        document = await resolve_order(self.client, document)
        found, _ = await find_document(self.client, kind, document, key)
        return found

    async def health(self) -> None:
        await self.client.store_configs()

    async def aclose(self) -> None:
        await self.client.aclose()

    def secrets(self) -> tuple[str, ...]:
        return self.client.secrets()

    # ------------------------------------------------------------------ inbound

    @classmethod
    def unwrap_inbound(cls, kind: str, document: dict[str, Any]) -> dict[str, Any]:
        return events.unwrap(kind, document)

    async def poll(self, kind: str, cursor: dict[str, Any] | None, *, limit: int = 100) -> PollPage:
        feed = FEEDS.get(kind)
        if feed is None:
            raise PermanentError(
                f"{self.target}: cannot poll {kind!r}; the magento adapter polls "
                f"{', '.join(sorted(FEEDS))}",
                target=self.target,
            )
        try:
            position = Cursor.from_json(cursor, self._config.poll_since)
        except ValueError as exc:
            raise PermanentError(f"{self.target}: {exc}", target=self.target) from exc
        found, position, more = await poll_feed(
            self.client,
            feed,
            position,
            limit=limit,
            settle_seconds=self._config.poll_settle_seconds,
        )
        documents = []
        orders: dict[int, dict[str, Any]] = {}
        for item in found:
            ref = str(item.get(feed.id_key))
            if kind == "party":
                source = await self._party(item)
            elif kind == "shipment":
                source = shipment_source(item, await self._order_of(item, orders))
            else:
                source = item
            raw = dumps_exact(source).encode("utf-8")
            documents.append(InboundDocument(kind=kind, raw=raw, ref=ref))
        return PollPage(documents, position.to_json(), more)

    async def _party(self, customer: dict[str, Any]) -> dict[str, Any]:
        """The customer with its company and company credit (B2B), when it has one."""
        extension = customer.get("extension_attributes") or {}
        company_attributes = extension.get("company_attributes") if extension else None
        company_id = 0
        if isinstance(company_attributes, dict):
            try:
                company_id = int(company_attributes.get("company_id") or 0)
            except (TypeError, ValueError):
                company_id = 0
        party: dict[str, Any] = {"customer": customer, "company": None, "company_credit": None}
        if company_id > 0:
            party["company"] = await self.client.get_company(company_id)
            party["company_credit"] = await self.client.get_company_credit(company_id)
        return party

    async def _order_of(
        self, shipment: dict[str, Any], cache: dict[int, dict[str, Any]]
    ) -> dict[str, Any]:
        """The shipment's order (read once per poll page)."""
        try:
            order_id = int(shipment.get("order_id") or 0)
        except (TypeError, ValueError):
            order_id = 0
        if order_id <= 0:
            raise PermanentError(
                f"{self.target}: shipment {shipment.get('entity_id')} names no order_id",
                target=self.target,
            )
        if order_id not in cache:
            cache[order_id] = await self.client.get_order(order_id)
        return cache[order_id]

    # ------------------------------------------------------------------ internals

    def _kind(self, delivery: Delivery) -> Any:
        kind = KINDS.get(delivery.kind.strip().lower())
        if kind is None:
            raise PermanentError(
                f"{self.target}: cannot deliver a {delivery.kind!r}; the magento adapter "
                f"delivers {', '.join(sorted(set(KINDS.values())))}",
                target=self.target,
            )
        return kind

    def _document(self, delivery: Delivery, kind: str) -> DocumentPayload:
        payload = self._payload(delivery, DocumentPayload)
        if kind == "invoice" and payload.tracks:
            raise PermanentError(
                f"{self.target}: tracks belong to shipments, not invoices", target=self.target
            )
        return payload

    def _payload(self, delivery: Delivery, model: type[P]) -> P:
        try:
            return model.model_validate(delivery.payload)
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
