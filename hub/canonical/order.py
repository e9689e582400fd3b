"""The canonical sales order: what the buyer ordered, at which prices, with which tax.

Totals are never mapped: they are computed from lines, shipping and charges, so a
canonical order is consistent by construction. Whether it agrees with the source
system's own totals is checked separately (mapping control totals), and a disagreement
is reported, not papered over.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, computed_field, model_validator

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


class OrderStatus(StrEnum):
    """Where the order is in its life, in the hub's words (not any shop's)."""

    PENDING = "pending"
    OPEN = "open"
    ON_HOLD = "on_hold"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class OrderLine(Canonical):
    """One priced line. For configurable or bundle products, the line that carries the price."""

    AMOUNT_FIELDS: ClassVar[tuple[str, ...]] = ("line_amount", "discount_amount", "tax_amount")

    line_id: str = Field(description="The line's id in the source system (BT-126 on invoices).")
    sku: str = Field(min_length=1, description="Seller's item identifier (BT-155).")
    name: str | None = Field(None, description="Item name (BT-153).")
    quantity: Quantity = Field(gt=0, description="Ordered quantity (BT-129).")
    unit: str = Field("C62", description="UN/ECE Rec 20 unit code (BT-130); C62 = one.")
    unit_price: Decimal = Field(
        ge=0, allow_inf_nan=False, description="Net price per unit before discounts (BT-146)."
    )
    line_amount: Amount | None = Field(
        None,
        description="quantity × unit_price as the source rounded it; computed when absent.",
    )
    discount_amount: Amount = Field(
        ZERO, ge=0, description="Net discount on this line (BG-27 allowance amount)."
    )
    discount_reason: str | None = Field(None, description="Why (BT-139), e.g. the rule name.")
    tax_category: TaxCategory = Field(TaxCategory.STANDARD, description="VAT category (BT-151).")
    tax_rate: Rate = Field(ZERO, description="VAT rate in percent (BT-152).")
    tax_amount: Amount = Field(ZERO, ge=0, description="VAT charged on this line by the source.")
    product_type: str | None = Field(None, description="simple, configurable, bundle, ...")
    parent_sku: str | None = Field(None, description="The bundle or configurable it belongs to.")
    external_ids: SystemIds = Field(default_factory=dict)

    @property
    def gross_amount(self) -> Decimal:
        """Line amount before discount; the order fills ``line_amount`` when it is absent."""
        if self.line_amount is not None:
            return self.line_amount
        return self.quantity * self.unit_price

    @computed_field(description="Line net amount after discount (BT-131).")  # type: ignore[prop-decorator]
    @property
    def net_amount(self) -> Decimal:
        return self.gross_amount - self.discount_amount


class Shipping(Canonical):
    """Delivery charge and method."""

    AMOUNT_FIELDS: ClassVar[tuple[str, ...]] = ("amount", "discount_amount", "tax_amount")

    method: str | None = Field(None, description="Carrier/method code in the source.")
    description: str | None = None
    amount: Amount = Field(ZERO, ge=0, description="Net shipping charge before discount.")
    discount_amount: Amount = Field(ZERO, ge=0, description="Net discount on shipping.")
    tax_category: TaxCategory = TaxCategory.STANDARD
    tax_rate: Rate = ZERO
    tax_amount: Amount = Field(ZERO, ge=0)


class Charge(Canonical):
    """A document-level surcharge (BG-21), e.g. a small-order or payment fee."""

    AMOUNT_FIELDS: ClassVar[tuple[str, ...]] = ("amount", "tax_amount")

    code: str | None = Field(None, description="Reason code (BT-105) or the source's fee code.")
    reason: str | None = Field(None, description="Reason text (BT-104).")
    amount: Amount = Field(ge=0, description="Net amount (BT-99).")
    tax_category: TaxCategory = TaxCategory.STANDARD
    tax_rate: Rate = ZERO
    tax_amount: Amount = Field(ZERO, ge=0)


class OrderPayment(Canonical):
    """How the buyer pays."""

    method: str | None = Field(None, description="Payment method code in the source.")
    terms: PaymentTerms | None = None
    reference: str | None = Field(None, description="Remittance reference for the payment.")


class OrderTotals(Canonical):
    """Totals computed from the document (read-only)."""

    AMOUNT_FIELDS: ClassVar[tuple[str, ...]] = (
        "line_total",
        "discount_total",
        "shipping_total",
        "charge_total",
        "net_total",
        "tax_total",
        "grand_total",
    )

    line_total: Amount = Field(description="Σ line amounts before discounts.")
    discount_total: Amount = Field(description="Σ line and shipping discounts (net).")
    shipping_total: Amount = Field(description="Shipping before its discount (net).")
    charge_total: Amount = Field(description="Σ document charges (net).")
    net_total: Amount = Field(description="Total without VAT (BT-109).")
    tax_total: Amount = Field(description="Total VAT (BT-110).")
    grand_total: Amount = Field(description="Total with VAT (BT-112).")


class Order(Canonical):
    """A buyer's order as the hub knows it, independent of shop and ERP."""

    AMOUNT_FIELDS: ClassVar[tuple[str, ...]] = ()
    VOLATILE_FIELDS: ClassVar[frozenset[str]] = frozenset({"updated_at"})

    kind: Literal["order"] = "order"
    order_number: str = Field(min_length=1, description="The shop's order number (BT-13).")
    external_ids: SystemIds = Field(
        default_factory=dict, description="The order's id in each system, e.g. magento entity id."
    )
    order_date: AwareDatetime = Field(description="When the order was placed (timezone-aware).")
    updated_at: AwareDatetime | None = None
    status: OrderStatus = OrderStatus.OPEN
    currency: CurrencyCode = Field(description="Document currency (BT-5).")
    accounting_currency: CurrencyCode | None = Field(
        None, description="The seller's accounting currency (BT-6), e.g. the shop's base currency."
    )
    exchange_rate: Decimal | None = Field(
        None,
        gt=0,
        description="Document-currency units per accounting-currency unit (Magento's "
        "base_to_order_rate; 1 EUR = 1.0852 USD).",
    )
    buyer: PartyRef = Field(description="The buying company or person (BG-7).")
    buyer_reference: str | None = Field(None, description="Buyer's reference / PO (BT-10).")
    billing_address: Address = Field(description="Invoice address (BG-8).")
    shipping_address: Address | None = Field(None, description="Deliver-to address (BG-15).")
    lines: list[OrderLine] = Field(min_length=1, description="Priced order lines.")
    shipping: Shipping | None = None
    charges: list[Charge] = Field(default_factory=list, description="Document surcharges.")
    payment: OrderPayment | None = None
    coupon_code: str | None = None
    notes: list[str] = Field(default_factory=list, description="Free text (BT-22).")
    store: str | None = Field(None, description="Store or sales channel in the source.")

    @model_validator(mode="after")
    def _amounts_fit_currency(self) -> Order:
        for line in self.lines:
            if line.line_amount is None:
                line.line_amount = money.round_money(line.quantity * line.unit_price, self.currency)
        require_rounded(self, self.currency)
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def totals(self) -> OrderTotals:
        cur = self.currency
        rnd = money.round_money
        line_total = sum((line.gross_amount for line in self.lines), ZERO)
        discount = sum((line.discount_amount for line in self.lines), ZERO)
        tax = sum((line.tax_amount for line in self.lines), ZERO)
        shipping = ZERO
        if self.shipping is not None:
            shipping = self.shipping.amount
            discount += self.shipping.discount_amount
            tax += self.shipping.tax_amount
        charges = sum((c.amount for c in self.charges), ZERO)
        tax += sum((c.tax_amount for c in self.charges), ZERO)
        net = line_total - discount + shipping + charges
        return OrderTotals(
            line_total=rnd(line_total, cur),
            discount_total=rnd(discount, cur),
            shipping_total=rnd(shipping, cur),
            charge_total=rnd(charges, cur),
            net_total=rnd(net, cur),
            tax_total=rnd(tax, cur),
            grand_total=rnd(net + tax, cur),
        )
