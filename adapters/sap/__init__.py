"""SAP S/4HANA adapter: sales orders (OData, RFC), journal entries (SOAP), IDocs; shapes."""

from __future__ import annotations

from hub.adapter import AdapterRegistry
from hub.hookspecs import hookimpl
from hub.mapping.shapes import ShapeRegistry


@hookimpl
def hub_register_adapters(registry: AdapterRegistry) -> None:
    from adapters.sap.adapter import SapAdapter

    registry.add(SapAdapter, source="adapters.sap")


@hookimpl
def hub_register_shapes(registry: ShapeRegistry) -> None:
    from adapters.sap.shapes import SHAPES

    for name, model in SHAPES.items():
        registry.add("sap", name, model)
