"""The generic HTTP/JSON adapter (registration only; the adapter is in adapter.py)."""

from __future__ import annotations

from hub.adapter import AdapterRegistry
from hub.hookspecs import hookimpl


@hookimpl
def hub_register_adapters(registry: AdapterRegistry) -> None:
    from adapters.http.adapter import HttpAdapter

    registry.add(HttpAdapter, source="adapters.http")
