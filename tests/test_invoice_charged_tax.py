"""VAT as the shop charged it: invoices agree with the shop's per-row rounding, within
what EN 16931 allows (hub/canonical/invoice.py charged_tax, hub/invoicing/drafting.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hub import money
from hub.canonical.invoice import ChargedTax, charged_tax_tolerance
from hub.invoicing.drafting import draft_invoice
from tests.conftest import SAMPLES
from tests.test_invoice_drafting import SELLER, order, shipment

DAY = date(2026, 11, 23)


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.json")))
def test_a_full_shipment_invoices_what_the_shop_charged(sample: str) -> None:
    source = order(sample)
    everything = {line.line_id: line.quantity for line in source.lines}
    invoice = draft_invoice(source, shipment(source, everything), seller=SELLER, issue_date=DAY)
    assert invoice.totals.tax_total == source.totals.tax_total
    assert invoice.totals.tax_inclusive_total == source.totals.grand_total


def test_the_shops_row_rounding_is_kept_where_it_differs() -> None:
    source = order("order-gb-tax-inclusive.json")  # VAT rounded per unit price, incl. tax
    everything = {line.line_id: line.quantity for line in source.lines}
    invoice = draft_invoice(source, shipment(source, everything), seller=SELLER, issue_date=DAY)
    (charged,) = invoice.charged_tax
    (group,) = invoice.vat_breakdown
    assert charged.amount == group.tax_amount == Decimal("24.19")
    assert money.percent_of(group.taxable_amount, group.rate, "GBP") != charged.amount


def test_partial_invoices_add_up_to_the_orders_vat_and_discount() -> None:
    source = order()
    line = max(source.lines, key=lambda item: item.quantity)  # 12 units
    parts = [Decimal(5), Decimal(4), Decimal(3)]
    history: list[Decimal] = []
    tax = discount = Decimal(0)
    for number, quantity in enumerate(parts, start=1):
        invoice = draft_invoice(
            source,
            shipment(source, {line.line_id: quantity}, number=f"S-{number}"),
            seller=SELLER,
            issue_date=DAY,
            already_invoiced={line.line_id: sum(history, Decimal(0))} if history else {},
            invoiced_parts={line.line_id: list(history)},
        )
        billed = invoice.lines[0]
        discount += sum((a.amount for a in billed.allowances), Decimal(0))
        shipping_tax = Decimal("1.5") if number == 1 else Decimal(0)
        tax += invoice.totals.tax_total - shipping_tax
        history.append(quantity)
    assert tax == line.tax_amount
    assert discount == line.discount_amount


def test_pricing_or_tax_rules_of_the_hub_compute_the_vat() -> None:
    from hub.invoicing.tax import TaxConfig

    source = order("order-gb-tax-inclusive.json")
    everything = {line.line_id: line.quantity for line in source.lines}
    rules = TaxConfig.model_validate({"seller_country": "GB", "rates": {"GB": {"standard": 20}}})
    invoice = draft_invoice(
        source, shipment(source, everything), seller=SELLER, issue_date=DAY, tax=rules
    )
    assert invoice.charged_tax == []
    (group,) = invoice.vat_breakdown
    assert group.tax_amount == money.percent_of(group.taxable_amount, group.rate, "GBP")


def _with(charged: list[ChargedTax]) -> object:
    source = order()
    everything = {line.line_id: line.quantity for line in source.lines}
    invoice = draft_invoice(source, shipment(source, everything), seller=SELLER, issue_date=DAY)
    data = invoice.model_dump(exclude_computed_fields=True)
    data["charged_tax"] = [c.model_dump() for c in charged]
    return type(invoice).model_validate(data)


def test_charged_vat_beyond_rounding_is_refused_naming_the_rule() -> None:
    s19 = order().lines[0].tax_category
    with pytest.raises(ValidationError, match=r"more than rounding 5 item\(s\) can explain"):
        _with([ChargedTax(category=s19, rate=Decimal(19), amount=Decimal("83.20"))])
    with pytest.raises(ValidationError, match="which no line, charge or allowance has"):
        _with([ChargedTax(category=s19, rate=Decimal(7), amount=Decimal("1.00"))])
    same = ChargedTax(category=s19, rate=Decimal(19), amount=Decimal("83.09"))
    with pytest.raises(ValidationError, match="twice"):
        _with([same, same])


@settings(max_examples=200, deadline=None)
@given(
    items=st.integers(0, 500),
    currency=st.sampled_from(["EUR", "JPY", "KWD", "USD"]),
)
def test_the_tolerance_stays_below_one_unit_and_grows_with_the_items(
    items: int, currency: str
) -> None:
    minor = Decimal(1).scaleb(-money.minor_units(currency))
    limit = charged_tax_tolerance(currency, items)
    assert limit < 1  # EN 16931 BR-CO-17 / BR-S-09: less than one unit
    assert limit <= minor * (items + 1)
    assert limit >= 0
