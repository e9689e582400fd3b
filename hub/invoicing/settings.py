"""The ``invoicing:`` section of the hub's configuration (config/hub.yaml)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from hub.invoicing.drafting import Seller
from hub.invoicing.tax import TaxConfig

__all__ = ["InvoicingSettings", "Seller"]


class InvoicingSettings(BaseModel):
    """The ``invoicing:`` section of the hub's configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seller: Seller
    series: str = Field("INV", description="Series of invoices.")
    pattern: str = Field("INV-{year}-{n:06d}", description="Number pattern of the series.")
    credit_series: str = Field("CRN", description="Series of credit notes.")
    credit_pattern: str = Field("CRN-{year}-{n:06d}")
    pricing: Path | None = Field(None, description="Folder (or file) of pricing rules.")
    rates_file: Path | None = Field(None, description="ECB reference rates (CSV or XML).")
    tax: TaxConfig | None = Field(
        None, description="VAT rules; without them the categories and rates the shop charged."
    )
