"""A shipment: which order lines left the warehouse, in which packages."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from hub.canonical.common import Address, Canonical, Quantity, SystemIds


class ShipmentLine(Canonical):
    """Quantity of one order line in this shipment; the invoice bills exactly this."""

    order_line_id: str = Field(description="The order line's id in the source system.")
    sku: str = Field(min_length=1)
    quantity: Quantity = Field(gt=0)


class Package(Canonical):
    """A parcel with its tracking."""

    carrier: str | None = Field(None, description="Carrier code or name.")
    service: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    weight_kg: Quantity | None = Field(None, ge=0)


class Shipment(Canonical):
    """A confirmed shipment (the invoicing trigger)."""

    kind: Literal["shipment"] = "shipment"
    shipment_number: str = Field(min_length=1)
    order_number: str = Field(min_length=1, description="The order it fulfils (BT-13).")
    external_ids: SystemIds = Field(default_factory=dict)
    shipped_at: AwareDatetime = Field(description="Actual delivery/dispatch date (BT-72).")
    lines: list[ShipmentLine] = Field(min_length=1)
    packages: list[Package] = Field(default_factory=list)
    ship_from: str | None = Field(None, description="Warehouse or source location.")
    ship_to: Address | None = None
