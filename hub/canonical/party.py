"""A B2B customer account, as the hub knows it across shop, ERP and CRM."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from hub.canonical.common import (
    Address,
    Amount,
    Canonical,
    Contact,
    CurrencyCode,
    PaymentTerms,
    SystemIds,
    require_rounded,
)


class Party(Canonical):
    """A customer company (or a person buying on account)."""

    AMOUNT_FIELDS: ClassVar[tuple[str, ...]] = ("credit_limit",)

    kind: Literal["party"] = "party"
    external_ids: SystemIds = Field(
        default_factory=dict, description="The account's id in each system (magento, sap, crm)."
    )
    legal_name: str = Field(min_length=1, description="Registered name (BT-44 / BT-27).")
    trading_name: str | None = Field(None, description="Trading name (BT-45 / BT-28).")
    tax_id: str | None = Field(None, description="VAT identifier (BT-48 / BT-31).")
    company_id: str | None = Field(None, description="Legal registration id (BT-47 / BT-30).")
    billing_address: Address | None = None
    shipping_addresses: list[Address] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)
    currency: CurrencyCode | None = Field(None, description="Currency the account is billed in.")
    payment_terms: PaymentTerms | None = None
    credit_limit: Amount | None = Field(
        None, ge=Decimal(0), description="Open receivables allowed, in ``currency``."
    )
    customer_group: str | None = Field(None, description="Pricing group, e.g. Wholesale.")
    active: bool = True

    @model_validator(mode="after")
    def _credit_limit_fits_currency(self) -> Party:
        if self.credit_limit is not None:
            if self.currency is None:
                raise ValueError("credit_limit needs the account's currency")
            require_rounded(self, self.currency)
        return self
