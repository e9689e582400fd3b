"""Magento 2 / Adobe Commerce adapter: invoices and shipments out, a simulator for tests."""

from __future__ import annotations

from hub.adapter import AdapterRegistry
from hub.hookspecs import hookimpl


@hookimpl
def hub_register_adapters(registry: AdapterRegistry) -> None:
    from adapters.magento.adapter import MagentoAdapter

    registry.add(MagentoAdapter, source="adapters.magento")
