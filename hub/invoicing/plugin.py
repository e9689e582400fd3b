"""Registers the hub's built-in ``invoicing`` target (entry point ``invoicing``)."""

from __future__ import annotations

from hub.adapter import AdapterRegistry
from hub.hookspecs import hookimpl


@hookimpl
def hub_register_adapters(registry: AdapterRegistry) -> None:
    from hub.invoicing.adapter import InvoicingAdapter

    registry.add(InvoicingAdapter, source="hub.invoicing")
