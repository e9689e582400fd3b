"""An incoming payment, as a bank statement or a payment provider reports it."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from hub.canonical.common import Amount, Canonical, CurrencyCode, SystemIds, require_rounded


class PaymentAllocation(Canonical):
    """Part of a payment applied to one invoice."""

    AMOUNT_FIELDS: ClassVar[tuple[str, ...]] = ("amount",)

    invoice_number: str
    amount: Amount


class Payment(Canonical):
    """Money received (or returned: a negative amount)."""

    AMOUNT_FIELDS: ClassVar[tuple[str, ...]] = ("amount",)

    kind: Literal["payment"] = "payment"
    payment_id: str = Field(min_length=1, description="Bank or provider transaction id.")
    external_ids: SystemIds = Field(default_factory=dict)
    amount: Amount = Field(description="Credited amount; negative for a return.")
    currency: CurrencyCode
    booking_date: date | None = None
    value_date: date = Field(description="When the money is available.")
    received_at: AwareDatetime | None = None
    payer_name: str | None = None
    payer_account: str | None = Field(None, description="IBAN or account number.")
    remittance_information: str | None = Field(None, description="Reference text sent by payer.")
    end_to_end_id: str | None = None
    allocations: list[PaymentAllocation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _amounts_fit_currency(self) -> Payment:
        require_rounded(self, self.currency)
        return self
