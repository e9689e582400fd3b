"""A shipment becomes an invoice for exactly what shipped (hub/invoicing/drafting.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from hub.canonical.common import Address
from hub.canonical.order import Order
from hub.canonical.shipment import Shipment, ShipmentLine
from hub.invoicing.drafting import DRAFT_NUMBER, DraftError, draft_invoice
from hub.invoicing.settings import Seller
from hub.mapping import registry
from hub.paths import bundled_mappings_dir
from tests.conftest import SAMPLES

SELLER = Seller(
    name="Nordwerk Industriebedarf GmbH",
    tax_id="DE811907980",
    address=Address(city="Hamburg", country="DE", lines=["Hafenstrasse 1"], postal_code="20457"),
    payment_terms="2/10 net 30",
)


def order(sample: str = "order-eu-b2b-vat.json") -> Order:
    mapping = registry.find("magento", "order", "inbound", [bundled_mappings_dir()])
    document = mapping.apply(json.loads((SAMPLES / sample).read_bytes())).document
    assert isinstance(document, Order)
    return document


def shipment(source: Order, quantities: dict[str, Decimal], number: str = "S-1") -> Shipment:
    by_id = {line.line_id: line for line in source.lines}
    return Shipment(
        shipment_number=number,
        order_number=source.order_number,
        shipped_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        lines=[
            ShipmentLine(order_line_id=line_id, sku=by_id[line_id].sku, quantity=quantity)
            for line_id, quantity in quantities.items()
        ],
    )


def test_a_full_shipment_invoices_the_order_to_the_cent() -> None:
    source = order()
    everything = {line.line_id: line.quantity for line in source.lines}
    invoice = draft_invoice(
        source, shipment(source, everything), seller=SELLER, issue_date=date(2026, 11, 23)
    )
    assert invoice.invoice_number == DRAFT_NUMBER
    assert [line.quantity for line in invoice.lines] == [line.quantity for line in source.lines]
    assert invoice.totals.tax_exclusive_total == source.totals.net_total
    assert invoice.due_date == date(2026, 12, 23)
    assert invoice.payment_terms is not None
    assert "discount" in (invoice.payment_terms.description or "")
    assert invoice.order_reference == source.order_number
    assert invoice.tax_point_date == date(2026, 11, 20)


def test_partial_shipments_bill_what_shipped_and_shipping_once() -> None:
    source = order()
    first_line = source.lines[0]
    half = (first_line.quantity / 2).quantize(Decimal(1))
    first = draft_invoice(
        source,
        shipment(source, {first_line.line_id: half}),
        seller=SELLER,
        issue_date=date(2026, 11, 23),
    )
    assert [(line.order_line_id, line.quantity) for line in first.lines] == [
        (first_line.line_id, half)
    ]
    rest = {line.line_id: line.quantity for line in source.lines}
    rest[first_line.line_id] -= half
    second = draft_invoice(
        source,
        shipment(source, rest, "S-2"),
        seller=SELLER,
        issue_date=date(2026, 11, 24),
        already_invoiced={first_line.line_id: half},
    )
    charged = len(first.charges) + len(second.charges)
    assert charged == len(
        [c for c in ([source.shipping] if source.shipping else []) if c.amount > 0]
    ) + len(source.charges)
    assert second.charges == [], "shipping and surcharges go on the order's first invoice"
    total = first.totals.tax_exclusive_total + second.totals.tax_exclusive_total
    assert total == source.totals.net_total


def test_more_than_is_left_to_invoice_is_refused() -> None:
    source = order()
    line = source.lines[0]
    with pytest.raises(DraftError, match=f"line {line.line_id} .* only 1 of"):
        draft_invoice(
            source,
            shipment(source, {line.line_id: Decimal(2)}),
            seller=SELLER,
            issue_date=date(2026, 11, 23),
            already_invoiced={line.line_id: line.quantity - 1},
        )
