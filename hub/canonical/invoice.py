"""Invoices and credit notes with EN 16931 semantics (business terms named as BT-n).

Line net amounts, the VAT breakdown and all document totals are computed here with the
EN 16931 calculation model, never taken from a source, so every invoice the hub holds
is arithmetically valid before any XML is rendered. One exception, bounded: the VAT amount
of a category (BT-117) may be the amount the source charged (``charged_tax``: a shop that
rounds VAT per row), when it differs from taxable × rate by no more than that rounding can
explain and by less than one unit of the currency (EN 16931 BR-CO-17's tolerance), so the
invoice agrees to the cent with what the customer was charged.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field, computed_field, model_validator

from hub import money
from hub.canonical.common import (
    Address,
    Amount,
    Canonical,
    CurrencyCode,
    PartyRef,
    PaymentTerms,
    Quantity,
    Rate,
    SystemIds,
    TaxCategory,
    require_rounded,
)

ZERO = Decimal(0)


class InvoiceTypeCode(StrEnum):
    """UNTDID 1001 document type (BT-3)."""

    COMMERCIAL_INVOICE = "380"
    CREDIT_NOTE = "381"
    CORRECTED_INVOICE = "384"
    PREPAYMENT_INVOICE = "386"


class AllowanceCharge(Canonical):
    """A document- or line-level allowance (discount) or charge (BG-20/21, BG-27/28)."""

    AMOUNT_FIELDS: ClassVar[tuple[str, ...]] = ("amount",)

    amount: Amount = Field(ge=0, description="BT-92 / BT-99 / BT-136 / BT-141.")
    reason: str | None = Field(None, description="BT-97 / BT-104 / BT-139 / BT-144.")
    reason_code: str | None = Field(None, description="BT-98 / BT-105 / BT-140 / BT-145.")
    tax_category: TaxCategory = Field(
        TaxCategory.STANDARD, description="Document level only: BT-95 / BT-102."
    )
    tax_rate: Rate = Field(ZERO, description="Document level only: BT-96 / BT-103.")


class PriceRuleTrace(Canonical):
    """Which pricing rule produced a line's price (B2B buyers ask why)."""

    rule: str
    effect: str = Field(description="e.g. 'contract price 12.40', 'tier 100+: -5 %'.")


def _check_period(start: date | None, end: date | None, what: str, rule: str) -> None:
    """BR-29 / BR-30: a period ends on or after its first day. The period is used exactly
    when a date is given, so BR-CO-19 / BR-CO-20 (start, end or both) hold by construction."""
    if start is not None and end is not None and end < start:
        raise ValueError(
            f"the {what} ends on {end.isoformat()}, before it starts on {start.isoformat()} "
            f"(EN 16931 {rule})"
        )


class InvoiceLine(Canonical):
    """An invoice line (BG-25)."""

    AMOUNT_FIELDS: ClassVar[tuple[str, ...]] = ()

    line_id: str = Field(description="BT-126.")
    order_line_id: str | None = Field(None, description="Order line reference (BT-132).")
    sku: str = Field(min_length=1, description="Seller's item identifier (BT-155).")
    name: str = Field(min_length=1, description="Item name (BT-153).")
    quantity: Quantity = Field(description="Invoiced quantity (BT-129).")
    unit: str = Field("C62", description="BT-130.")
    unit_price: Decimal = Field(ge=0, allow_inf_nan=False, description="Item net price (BT-146).")
    base_quantity: Quantity = Field(Decimal(1), gt=0, description="Price base quantity (BT-149).")
    allowances: list[AllowanceCharge] = Field(default_factory=list, description="BG-27.")
    charges: list[AllowanceCharge] = Field(default_factory=list, description="BG-28.")
    tax_category: TaxCategory = Field(description="BT-151.")
    tax_rate: Rate = Field(description="BT-152.")
    price_rules: list[PriceRuleTrace] = Field(default_factory=list)
    period_start: date | None = Field(
        None, description="Invoice line period start date (BT-134), e.g. a prorated service."
    )
    period_end: date | None = Field(None, description="Invoice line period end date (BT-135).")

    @model_validator(mode="after")
    def _period(self) -> InvoiceLine:
        _check_period(self.period_start, self.period_end, "line period", "BR-30")
        return self

    def net_amount_in(self, currency: str) -> Decimal:
        """BT-131 = quantity × (price / base quantity) + charges − allowances, rounded."""
        base = money.round_money(self.quantity * self.unit_price / self.base_quantity, currency)
        return (
            base
            + sum((c.amount for c in self.charges), ZERO)
            - sum((a.amount for a in self.allowances), ZERO)
        )


def charged_tax_tolerance(currency: str, items: int) -> Decimal:
    """How far a charged VAT amount may be from taxable × rate: half a minor unit for each of
    ``items`` rounded by the source and for the rounding of the product (a minor unit per
    item, for pro-rata shares of rounded amounts), and less than one unit (BR-CO-17)."""
    minor = Decimal(1).scaleb(-money.minor_units(currency))
    return min(minor * (items + 1), Decimal(1) - minor)


class ChargedTax(Canonical):
    """The VAT a source charged on one category and rate (e.g. rounded per row by the shop)."""

    AMOUNT_FIELDS: ClassVar[tuple[str, ...]] = ("amount",)

    category: TaxCategory
    rate: Rate
    amount: Amount = Field(ge=0, description="Used as BT-117 of this category and rate.")


class VatBreakdown(Canonical):
    """One VAT category and rate (BG-23)."""

    AMOUNT_FIELDS: ClassVar[tuple[str, ...]] = ("taxable_amount", "tax_amount")

    category: TaxCategory = Field(description="BT-118.")
    rate: Rate = Field(description="BT-119.")
    taxable_amount: Amount = Field(description="BT-116.")
    tax_amount: Amount = Field(description="BT-117.")
    exemption_reason: str | None = Field(None, description="BT-120.")
    exemption_reason_code: str | None = Field(None, description="BT-121 (VATEX code).")


class InvoiceTotals(Canonical):
    """Document totals (BG-22)."""

    AMOUNT_FIELDS: ClassVar[tuple[str, ...]] = (
        "line_net_total",
        "allowance_total",
        "charge_total",
        "tax_exclusive_total",
        "tax_total",
        "tax_total_accounting",
        "tax_inclusive_total",
        "paid_amount",
        "rounding_amount",
        "payable_amount",
    )

    line_net_total: Amount = Field(description="BT-106.")
    allowance_total: Amount = Field(description="BT-107.")
    charge_total: Amount = Field(description="BT-108.")
    tax_exclusive_total: Amount = Field(description="BT-109.")
    tax_total: Amount = Field(description="BT-110.")
    tax_total_accounting: Amount | None = Field(None, description="BT-111, accounting currency.")
    tax_inclusive_total: Amount = Field(description="BT-112.")
    paid_amount: Amount = Field(description="BT-113.")
    rounding_amount: Amount = Field(description="BT-114.")
    payable_amount: Amount = Field(description="BT-115.")


class Invoice(Canonical):
    """A commercial invoice (BT-3 = 380) or, as :class:`CreditNote`, a credit note."""

    AMOUNT_FIELDS: ClassVar[tuple[str, ...]] = ("paid_amount", "rounding_amount")

    kind: Literal["invoice", "credit_note"] = "invoice"
    invoice_number: str = Field(min_length=1, description="BT-1.")
    type_code: InvoiceTypeCode = Field(InvoiceTypeCode.COMMERCIAL_INVOICE, description="BT-3.")
    issue_date: date = Field(description="BT-2.")
    due_date: date | None = Field(None, description="BT-9.")
    tax_point_date: date | None = Field(None, description="BT-7.")
    currency: CurrencyCode = Field(description="BT-5.")
    accounting_currency: CurrencyCode | None = Field(None, description="BT-6.")
    exchange_rate: Decimal | None = Field(
        None,
        gt=0,
        description="Invoice-currency units per accounting-currency unit (1 EUR = 1.0852 USD).",
    )
    exchange_rate_date: date | None = Field(None, description="Date of the rate used.")
    buyer_reference: str | None = Field(None, description="BT-10.")
    order_reference: str | None = Field(None, description="BT-13.")
    external_ids: SystemIds = Field(default_factory=dict)
    seller: PartyRef = Field(description="BG-4.")
    seller_address: Address = Field(description="BG-5.")
    buyer: PartyRef = Field(description="BG-7.")
    buyer_address: Address = Field(description="BG-8.")
    delivery_address: Address | None = Field(None, description="BG-15.")
    payment_terms: PaymentTerms | None = Field(None, description="BT-20.")
    invoicing_period_start: date | None = Field(
        None, description="Invoicing period start date (BT-73, BG-14)."
    )
    invoicing_period_end: date | None = Field(
        None, description="Invoicing period end date (BT-74, BG-14)."
    )
    notes: list[str] = Field(default_factory=list, description="BT-22.")
    lines: list[InvoiceLine] = Field(min_length=1, description="BG-25.")
    allowances: list[AllowanceCharge] = Field(default_factory=list, description="BG-20.")
    charges: list[AllowanceCharge] = Field(default_factory=list, description="BG-21.")
    exemption_reasons: dict[TaxCategory, str] = Field(
        default_factory=dict, description="BT-120 text per exempt category."
    )
    paid_amount: Amount = Field(ZERO, description="BT-113.")
    rounding_amount: Amount = Field(ZERO, description="BT-114.")
    preceding_invoice: str | None = Field(None, description="BT-25, required on credit notes.")
    preceding_invoice_date: date | None = Field(None, description="BT-26.")
    charged_tax: list[ChargedTax] = Field(
        default_factory=list,
        description="VAT amounts as the source charged them, per category and rate (see the "
        "module docstring); groups not listed are computed.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Invoice:
        require_rounded(self, self.currency)
        if self.type_code is InvoiceTypeCode.CREDIT_NOTE and not self.preceding_invoice:
            raise ValueError("a credit note must reference the invoice it corrects (BT-25)")
        differs = self.accounting_currency and self.accounting_currency != self.currency
        if differs and self.exchange_rate is None:
            raise ValueError("exchange_rate is required when accounting currency differs")
        _check_period(
            self.invoicing_period_start, self.invoicing_period_end, "invoicing period", "BR-29"
        )
        self._check_charged_tax()
        return self

    def vat_groups(self) -> dict[tuple[TaxCategory, Decimal], tuple[Decimal, int]]:
        """Taxable amount and number of contributing items per VAT category and rate."""
        cur = self.currency
        groups: dict[tuple[TaxCategory, Decimal], tuple[Decimal, int]] = {}

        def add(key: tuple[TaxCategory, Decimal], amount: Decimal) -> None:
            total, count = groups.get(key, (ZERO, 0))
            groups[key] = (total + amount, count + 1)

        for line in self.lines:
            add((line.tax_category, line.tax_rate), line.net_amount_in(cur))
        for charge in self.charges:
            add((charge.tax_category, charge.tax_rate), charge.amount)
        for allowance in self.allowances:
            add((allowance.tax_category, allowance.tax_rate), -allowance.amount)
        return groups

    def _check_charged_tax(self) -> None:
        if not self.charged_tax:
            return
        groups = self.vat_groups()
        seen: set[tuple[TaxCategory, Decimal]] = set()
        for charged in self.charged_tax:
            key = (charged.category, charged.rate)
            label = f"{charged.category.value} {charged.rate:f} %"
            if key in seen:
                raise ValueError(f"charged_tax names {label} twice")
            seen.add(key)
            if key not in groups:
                raise ValueError(
                    f"charged_tax names {label}, which no line, charge or allowance has"
                )
            taxable, count = groups[key]
            computed = money.percent_of(taxable, charged.rate, self.currency)
            difference = abs(charged.amount - computed)
            limit = charged_tax_tolerance(self.currency, count)
            if difference > limit:
                raise ValueError(
                    f"charged_tax of {label} is {charged.amount}, {difference} from "
                    f"taxable × rate = {computed}: more than rounding {count} item(s) can "
                    f"explain (at most {limit}, EN 16931 BR-CO-17)"
                )

    @computed_field(description="BG-23, computed per category and rate.")  # type: ignore[prop-decorator]
    @property
    def vat_breakdown(self) -> list[VatBreakdown]:
        cur = self.currency
        charged = {(c.category, c.rate): c.amount for c in self.charged_tax}
        return [
            VatBreakdown(
                category=category,
                rate=rate,
                taxable_amount=amount,
                tax_amount=charged.get((category, rate), money.percent_of(amount, rate, cur)),
                exemption_reason=self.exemption_reasons.get(category),
            )
            for (category, rate), (amount, _) in sorted(self.vat_groups().items())
        ]

    @computed_field(description="BG-22, computed.")  # type: ignore[prop-decorator]
    @property
    def totals(self) -> InvoiceTotals:
        cur = self.currency
        line_net = sum((line.net_amount_in(cur) for line in self.lines), ZERO)
        allowances = sum((a.amount for a in self.allowances), ZERO)
        charges = sum((c.amount for c in self.charges), ZERO)
        exclusive = line_net - allowances + charges
        tax = sum((v.tax_amount for v in self.vat_breakdown), ZERO)
        tax_accounting = None
        if self.accounting_currency and self.accounting_currency != self.currency:
            assert self.exchange_rate is not None  # enforced by _consistent
            tax_accounting = money.convert(tax, self.exchange_rate, self.accounting_currency)
        inclusive = exclusive + tax
        return InvoiceTotals(
            line_net_total=line_net,
            allowance_total=allowances,
            charge_total=charges,
            tax_exclusive_total=exclusive,
            tax_total=tax,
            tax_total_accounting=tax_accounting,
            tax_inclusive_total=inclusive,
            paid_amount=self.paid_amount,
            rounding_amount=self.rounding_amount,
            payable_amount=inclusive - self.paid_amount + self.rounding_amount,
        )


class CreditNote(Invoice):
    """A credit note (BT-3 = 381) correcting a preceding invoice (BG-3)."""

    kind: Literal["invoice", "credit_note"] = "credit_note"
    type_code: InvoiceTypeCode = Field(InvoiceTypeCode.CREDIT_NOTE, description="BT-3.")
