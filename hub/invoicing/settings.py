"""The ``invoicing:`` section of the hub's configuration (config/hub.yaml)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from hub.canonical.common import Address
from hub.invoicing.tax import TaxConfig

__all__ = ["InvoicingSettings", "Seller"]


class Seller(BaseModel):
    """The invoicing company (BG-4, BG-5) and its defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    tax_id: str | None = Field(None, description="VAT identifier (BT-31).")
    company_id: str | None = Field(None, description="Legal registration id (BT-30).")
    contact: str | None = Field(
        None, description="Seller contact point (BT-41), e.g. Accounts receivable."
    )
    email: str | None = Field(None, description="Seller contact e-mail (BT-43).")
    phone: str | None = Field(None, description="Seller contact telephone (BT-42).")
    address: Address
    iban: str | None = Field(None, description="Account for credit transfers (BT-84).")
    bic: str | None = Field(None, description="BT-86.")
    payment_terms: str = Field("net 30", description="Default terms, e.g. 'net 30', '2/10 net 30'.")
    accounting_currency: str | None = Field(None, description="BT-6, e.g. EUR.")


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
    contracts: Path | None = Field(
        None,
        description="Folder (or file) of recurring-billing contracts (docs/billing.md).",
    )
    billing_every_seconds: int | None = Field(
        3600,
        ge=0,
        description="How often `o2c serve` bills the contracts' due periods; 0 or null: never "
        "(bill with `o2c billing run`).",
    )
