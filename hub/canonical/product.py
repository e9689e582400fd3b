"""Products and stock levels, keyed by SKU."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, Field

from hub.canonical.common import Canonical, CurrencyCode, Quantity, SystemIds, TaxCategory


class Product(Canonical):
    """A sellable item."""

    kind: Literal["product"] = "product"
    sku: str = Field(min_length=1, description="Seller's item identifier (BT-155).")
    name: str = Field(min_length=1, description="Item name (BT-153).")
    description: str | None = None
    external_ids: SystemIds = Field(default_factory=dict, description="e.g. SAP material number.")
    unit: str = Field("C62", description="UN/ECE Rec 20 unit code.")
    list_price: Decimal | None = Field(None, ge=0, allow_inf_nan=False, description="Net price.")
    currency: CurrencyCode | None = None
    tax_category: TaxCategory = TaxCategory.STANDARD
    weight_kg: Decimal | None = Field(None, ge=0, allow_inf_nan=False)
    active: bool = True


class StockLevel(Canonical):
    """Stock of one SKU at one location at one moment."""

    kind: Literal["stock_level"] = "stock_level"
    sku: str = Field(min_length=1)
    location: str = Field("default", description="Warehouse or source code.")
    on_hand: Quantity = Field(description="Physically present.")
    reserved: Quantity = Field(Decimal(0), ge=0, description="Promised to open orders.")
    as_of: AwareDatetime = Field(description="When the count was taken (timezone-aware).")

    @property
    def available(self) -> Decimal:
        """What can still be promised."""
        return self.on_hand - self.reserved
