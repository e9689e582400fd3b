"""Magento 2 / Adobe Commerce adapter: invoices and shipments out, a simulator for tests."""

from __future__ import annotations

from hub.adapter import AdapterRegistry
from hub.hookspecs import hookimpl
from hub.mapping.shapes import ShapeRegistry


@hookimpl
def hub_register_adapters(registry: AdapterRegistry) -> None:
    from adapters.magento.adapter import MagentoAdapter

    registry.add(MagentoAdapter, source="adapters.magento")


@hookimpl
def hub_register_shapes(registry: ShapeRegistry) -> None:
    """The adapter's delivery payloads, for outbound mappings (``shape: magento.Invoice``)."""
    from adapters.magento.deliveries import CommentPayload, DocumentPayload, StockPayload

    registry.add("magento", "Invoice", DocumentPayload)
    registry.add("magento", "Shipment", DocumentPayload)
    registry.add("magento", "Stock", StockPayload)
    registry.add("magento", "Comment", CommentPayload)
