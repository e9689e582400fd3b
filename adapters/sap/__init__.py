"""SAP S/4HANA adapter (registration only): the A_SalesOrder shapes for outbound mappings."""

from __future__ import annotations

from hub.hookspecs import hookimpl
from hub.mapping.shapes import ShapeRegistry


@hookimpl
def hub_register_shapes(registry: ShapeRegistry) -> None:
    from adapters.sap.shapes import SHAPES

    for name, model in SHAPES.items():
        registry.add("sap", name, model)
