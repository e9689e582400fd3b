"""Canonical documents: computed totals, EN 16931 invoices, strictness, JSON Schema.

Expected totals are computed here with :class:`fractions.Fraction` and an independent
half-up rounding, not with :mod:`hub.money`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from hub.canonical import KINDS, CreditNote, Invoice, Order, Party, Payment, model_for
from hub.errors import UnknownNameError

PLACES = {"JPY": 0, "EUR": 2, "KWD": 3}
D = Decimal


def half_up(value: Fraction, places: int) -> Decimal:
    scaled = abs(value) * 10**places
    units = (scaled + Fraction(1, 2)).__floor__()
    return Decimal(-units if value < 0 else units).scaleb(-places)


def on_minor_unit(amount: Decimal, places: int) -> bool:
    shifted = amount.scaleb(places)
    return shifted == shifted.to_integral_value()


ADDRESS = {"city": "Berlin", "country": "DE", "lines": ["Unter den Linden 1"]}


def order_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "order_number": "100000042",
        "order_date": "2024-03-01T10:15:00+01:00",
        "currency": "EUR",
        "buyer": {"name": "ACME GmbH", "email": "buyer@example.com"},
        "billing_address": dict(ADDRESS),
        "lines": [
            {"line_id": "1", "sku": "A-1", "quantity": "2", "unit_price": "10.00"},
        ],
    }
    data.update(overrides)
    return data


def errors_of(model: type[BaseModel], data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return [dict(e) for e in info.value.errors()]


def error_text(model: type[BaseModel], data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return str(info.value)


# --- Order totals -----------------------------------------------------------------------


def test_order_totals_from_lines_shipping_and_charges() -> None:
    order = Order.model_validate(
        order_data(
            lines=[
                {
                    "line_id": "1",
                    "sku": "A-1",
                    "quantity": "3",
                    "unit_price": "19.999",  # 59.997 → 60.00
                    "discount_amount": "5.00",
                    "tax_rate": "19",
                    "tax_amount": "10.45",
                },
                {
                    "line_id": "2",
                    "sku": "B-2",
                    "quantity": "1",
                    "unit_price": "10",
                    "line_amount": "10.00",
                    "tax_rate": "7",
                    "tax_amount": "0.70",
                },
            ],
            shipping={
                "method": "dhl",
                "amount": "5.95",
                "discount_amount": "1.00",
                "tax_rate": "19",
                "tax_amount": "0.94",
            },
            charges=[
                {"code": "small-order", "amount": "2.50", "tax_rate": "19", "tax_amount": "0.48"},
                {"code": "cod", "amount": "1.00"},
            ],
        )
    )
    totals = order.totals
    assert totals.line_total == D("70.00")
    assert totals.discount_total == D("6.00")
    assert totals.shipping_total == D("5.95")
    assert totals.charge_total == D("3.50")
    assert totals.net_total == D("73.45")  # 70.00 - 6.00 + 5.95 + 3.50
    assert totals.tax_total == D("12.57")  # 10.45 + 0.70 + 0.94 + 0.48
    assert totals.grand_total == D("86.02")
    assert [line.net_amount for line in order.lines] == [D("55.00"), D("10.00")]

    dumped = order.model_dump(mode="json")
    assert dumped["totals"]["grand_total"] == "86.02"
    assert dumped["lines"][0]["net_amount"] == "55.00"


def test_order_without_shipping_or_charges() -> None:
    totals = Order.model_validate(order_data()).totals
    assert totals.line_total == D("20.00")
    assert totals.shipping_total == 0
    assert totals.charge_total == 0
    assert totals.discount_total == 0
    assert totals.net_total == totals.grand_total == D("20.00")


@pytest.mark.parametrize(
    ("currency", "quantity", "unit_price", "expected"),
    [
        ("EUR", "3", "0.3333", "1.00"),
        ("EUR", "1", "0.005", "0.01"),  # half up
        ("EUR", "2.5", "1.99", "4.98"),  # 4.975
        ("JPY", "3", "333.5", "1001"),  # 1000.5
        ("KWD", "3", "1.2345", "3.704"),  # 3.7035
    ],
)
def test_line_amount_is_filled_when_absent(
    currency: str, quantity: str, unit_price: str, expected: str
) -> None:
    order = Order.model_validate(
        order_data(
            currency=currency,
            lines=[{"line_id": "1", "sku": "X", "quantity": quantity, "unit_price": unit_price}],
        )
    )
    assert order.lines[0].line_amount == D(expected)
    assert str(order.lines[0].line_amount) == expected
    assert order.totals.line_total == D(expected)


def test_line_amount_given_by_the_source_is_kept() -> None:
    order = Order.model_validate(
        order_data(
            lines=[
                {
                    "line_id": "1",
                    "sku": "X",
                    "quantity": "3",
                    "unit_price": "0.3333",
                    "line_amount": "0.99",
                }
            ]
        )
    )
    assert order.lines[0].line_amount == D("0.99")
    assert order.totals.line_total == D("0.99")


@dataclass
class LineCase:
    quantity: Decimal
    unit_price: Decimal
    gross: Decimal  # expected line amount (half-up of quantity × unit price)
    discount: Decimal
    tax: Decimal


@dataclass
class OrderCase:
    currency: str
    lines: list[LineCase]
    shipping: tuple[Decimal, Decimal, Decimal] | None  # amount, discount, tax
    charges: list[tuple[Decimal, Decimal]]  # amount, tax


def _units(places: int, low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-places))


@st.composite
def order_cases(draw: st.DrawFn) -> OrderCase:
    currency = draw(st.sampled_from(sorted(PLACES)))
    places = PLACES[currency]
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        quantity = draw(_units(draw(st.integers(0, 3)), 1, 100_000))
        unit_price = draw(_units(4, 0, 10**9))  # up to 4 decimals (BT-146)
        gross = half_up(Fraction(quantity) * Fraction(unit_price), places)
        gross_units = int(gross.scaleb(places))
        discount = draw(_units(places, 0, gross_units))
        tax = draw(_units(places, 0, 10**8))
        lines.append(LineCase(quantity, unit_price, gross, discount, tax))
    shipping = None
    if draw(st.booleans()):
        amount_units = draw(st.integers(0, 10**6))
        shipping = (
            Decimal(amount_units).scaleb(-places),
            draw(_units(places, 0, amount_units)),
            draw(_units(places, 0, 10**6)),
        )
    charges = draw(
        st.lists(st.tuples(_units(places, 0, 10**6), _units(places, 0, 10**5)), max_size=3)
    )
    return OrderCase(currency, lines, shipping, charges)


def _order_from(case: OrderCase) -> Order:
    data = order_data(
        currency=case.currency,
        lines=[
            {
                "line_id": str(i),
                "sku": f"SKU-{i}",
                "quantity": str(line.quantity),
                "unit_price": str(line.unit_price),
                "discount_amount": str(line.discount),
                "tax_rate": "19",
                "tax_amount": str(line.tax),
            }
            for i, line in enumerate(case.lines, start=1)
        ],
        charges=[{"amount": str(a), "tax_amount": str(t)} for a, t in case.charges],
    )
    if case.shipping is not None:
        amount, discount, tax = case.shipping
        data["shipping"] = {
            "amount": str(amount),
            "discount_amount": str(discount),
            "tax_amount": str(tax),
        }
    return Order.model_validate(data)


@settings(deadline=None)
@given(order_cases())
def test_order_totals_property(case: OrderCase) -> None:
    order = _order_from(case)
    places = PLACES[case.currency]
    totals = order.totals

    for line, expected in zip(order.lines, case.lines, strict=True):
        assert line.line_amount == expected.gross
        assert line.net_amount == expected.gross - expected.discount

    ship_amount, ship_discount, ship_tax = case.shipping or (D(0), D(0), D(0))
    line_net = sum((Fraction(x.gross - x.discount) for x in case.lines), Fraction(0))
    charges = sum((Fraction(a) for a, _ in case.charges), Fraction(0))
    expected_net = line_net + Fraction(ship_amount) - Fraction(ship_discount) + charges
    expected_tax = (
        sum((Fraction(x.tax) for x in case.lines), Fraction(0))
        + Fraction(ship_tax)
        + sum((Fraction(t) for _, t in case.charges), Fraction(0))
    )

    assert totals.line_total == sum((Fraction(x.gross) for x in case.lines), Fraction(0))
    assert totals.discount_total == sum(
        (Fraction(x.discount) for x in case.lines), Fraction(ship_discount)
    )
    assert totals.shipping_total == ship_amount
    assert totals.charge_total == charges
    assert totals.net_total == expected_net
    assert totals.net_total == sum((line.net_amount for line in order.lines), D(0)) + (
        totals.shipping_total - ship_discount + totals.charge_total
    )
    assert totals.tax_total == expected_tax
    assert totals.grand_total == totals.net_total + totals.tax_total
    for name in type(totals).model_fields:
        value = getattr(totals, name)
        assert on_minor_unit(value, places), (name, value)


# --- Order validation -------------------------------------------------------------------


def _line(**extra: str) -> dict[str, str]:
    return {"line_id": "1", "sku": "A-1", "quantity": "1", "unit_price": "10", **extra}


@pytest.mark.parametrize(
    ("currency", "changes", "path"),
    [
        ("EUR", {"lines": [_line(tax_amount="1.234")]}, "lines[0].tax_amount"),
        ("EUR", {"lines": [_line(), _line(discount_amount="0.001")]}, "lines[1].discount_amount"),
        ("EUR", {"lines": [_line(line_amount="10.005")]}, "lines[0].line_amount"),
        ("EUR", {"shipping": {"amount": "4.999"}}, "shipping.amount"),
        ("EUR", {"shipping": {"amount": "5", "tax_amount": "0.951"}}, "shipping.tax_amount"),
        (
            "EUR",
            {"charges": [{"amount": "1"}, {"amount": "1.5", "tax_amount": "0.285"}]},
            "charges[1].tax_amount",
        ),
        ("JPY", {"lines": [_line(tax_amount="1.5")]}, "lines[0].tax_amount"),
        ("KWD", {"lines": [_line(discount_amount="0.0005")]}, "lines[0].discount_amount"),
    ],
)
def test_unrounded_order_amounts_are_refused_with_their_path(
    currency: str, changes: dict[str, Any], path: str
) -> None:
    text = error_text(Order, order_data(currency=currency, **changes))
    assert path in text
    assert currency in text


def test_unit_prices_may_carry_more_decimals_than_amounts() -> None:
    order = Order.model_validate(order_data(lines=[_line(unit_price="0.12345")]))
    assert order.lines[0].unit_price == D("0.12345")
    assert order.lines[0].line_amount == D("0.12")


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"colour": "red"}, ("colour",)),
        ({"lines": [_line(quantity_ordered="1")]}, ("lines", 0, "quantity_ordered")),
        ({"billing_address": {**ADDRESS, "street": "x"}}, ("billing_address", "street")),
        ({"buyer": {"name": "x", "vat": "DE1"}}, ("buyer", "vat")),
        ({"shipping": {"amount": "1", "cost": "1"}}, ("shipping", "cost")),
        ({"totals": {"grand_total": "1"}}, ("totals",)),  # computed, never mapped
    ],
)
def test_unknown_fields_are_refused(changes: dict[str, Any], loc: tuple[Any, ...]) -> None:
    errors = errors_of(Order, order_data(**changes))
    assert any(e["type"] == "extra_forbidden" and tuple(e["loc"]) == loc for e in errors)


@pytest.mark.parametrize("code", ["EURO", "XAU", "ABC", "", "E", "€"])
def test_invalid_currency_codes_are_refused(code: str) -> None:
    errors = errors_of(Order, order_data(currency=code))
    assert [tuple(e["loc"]) for e in errors] == [("currency",)]
    errors = errors_of(Order, order_data(accounting_currency=code))
    assert [tuple(e["loc"]) for e in errors] == [("accounting_currency",)]


@pytest.mark.parametrize(("code", "normal"), [("eur", "EUR"), (" jpy ", "JPY"), ("KWD", "KWD")])
def test_currency_codes_are_normalised(code: str, normal: str) -> None:
    assert Order.model_validate(order_data(currency=code)).currency == normal


@pytest.mark.parametrize("country", ["DEU", "Germany", "XX", "", "D", "276"])
def test_invalid_country_codes_are_refused(country: str) -> None:
    errors = errors_of(Order, order_data(billing_address={**ADDRESS, "country": country}))
    assert [tuple(e["loc"]) for e in errors] == [("billing_address", "country")]


@pytest.mark.parametrize(("country", "normal"), [("de", "DE"), (" at ", "AT"), ("CH", "CH")])
def test_country_codes_are_normalised(country: str, normal: str) -> None:
    order = Order.model_validate(order_data(billing_address={**ADDRESS, "country": country}))
    assert order.billing_address.country == normal


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"lines": []}, ("lines",)),
        ({"lines": [_line(quantity="0")]}, ("lines", 0, "quantity")),
        ({"lines": [_line(unit_price="-1")]}, ("lines", 0, "unit_price")),
        ({"lines": [_line(tax_rate="101")]}, ("lines", 0, "tax_rate")),
        ({"lines": [_line(discount_amount="-1.00")]}, ("lines", 0, "discount_amount")),
        ({"lines": [_line(unit_price="NaN")]}, ("lines", 0, "unit_price")),
        ({"lines": [_line(sku="")]}, ("lines", 0, "sku")),
        ({"order_number": ""}, ("order_number",)),
        ({"exchange_rate": "0"}, ("exchange_rate",)),
    ],
)
def test_order_field_constraints(changes: dict[str, Any], loc: tuple[Any, ...]) -> None:
    errors = errors_of(Order, order_data(**changes))
    assert tuple(errors[0]["loc"]) == loc


def test_naive_order_date_is_refused() -> None:
    errors_of(Order, order_data(order_date="2024-03-01T10:15:00"))


def test_order_assignment_is_validated() -> None:
    order = Order.model_validate(order_data())
    with pytest.raises(ValidationError):
        order.lines[0].quantity = D(0)
    with pytest.raises(ValidationError):
        order.currency = "nope"


# --- Invoice ----------------------------------------------------------------------------


def _inv_line(
    line_id: str, quantity: str, price: str, category: str, rate: str, **extra: Any
) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "sku": f"SKU-{line_id}",
        "name": f"Item {line_id}",
        "quantity": quantity,
        "unit_price": price,
        "tax_category": category,
        "tax_rate": rate,
        **extra,
    }


def invoice_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "invoice_number": "INV-1",
        "issue_date": "2024-03-05",
        "currency": "EUR",
        "seller": {"name": "Seller AG", "tax_id": "DE123456789"},
        "seller_address": dict(ADDRESS),
        "buyer": {"name": "Buyer GmbH"},
        "buyer_address": {"city": "Wien", "country": "AT"},
        "lines": [
            # 3 × 19.999 = 59.997 → 60.00, less a 5.00 line allowance = 55.00
            _inv_line("1", "3", "19.999", "S", "19", allowances=[{"amount": "5.00"}]),
            # 1 × 10 per 2 units (BT-149) = 5.00, plus a 0.50 line charge = 5.50
            _inv_line("2", "1", "10", "S", "7", base_quantity="2", charges=[{"amount": "0.50"}]),
            _inv_line("3", "2", "10", "E", "0"),
            _inv_line("4", "1", "12.34", "S", "19.0"),
        ],
        "allowances": [{"amount": "1.00", "tax_category": "S", "tax_rate": "19"}],
        "charges": [{"amount": "4.95", "tax_category": "S", "tax_rate": "7"}],
        "exemption_reasons": {"E": "Exempt under §4 UStG"},
        "paid_amount": "10.00",
        "rounding_amount": "0.01",
    }
    data.update(overrides)
    return data


def test_invoice_vat_breakdown_per_category_and_rate() -> None:
    invoice = Invoice.model_validate(invoice_data())
    rows = [
        (v.category.value, v.rate, v.taxable_amount, v.tax_amount, v.exemption_reason)
        for v in invoice.vat_breakdown
    ]
    assert rows == [
        ("E", D(0), D("20.00"), D("0.00"), "Exempt under §4 UStG"),
        # 5.50 + 4.95 = 10.45; 7 % = 0.7315 → 0.73
        ("S", D(7), D("10.45"), D("0.73"), None),
        # 55.00 + 12.34 − 1.00 = 66.34 (19 and 19.0 are one rate); 19 % = 12.6046 → 12.60
        ("S", D(19), D("66.34"), D("12.60"), None),
    ]


def test_invoice_totals_follow_en16931() -> None:
    totals = Invoice.model_validate(invoice_data()).totals
    assert totals.line_net_total == D("92.84")  # BT-106 = 55.00 + 5.50 + 20.00 + 12.34
    assert totals.allowance_total == D("1.00")  # BT-107
    assert totals.charge_total == D("4.95")  # BT-108
    assert totals.tax_exclusive_total == D("96.79")  # BT-109 = BT-106 − BT-107 + BT-108
    assert totals.tax_total == D("13.33")  # BT-110 = Σ BT-117
    assert totals.tax_total_accounting is None  # BT-111 only when the currency differs
    assert totals.tax_inclusive_total == D("110.12")  # BT-112 = BT-109 + BT-110
    assert totals.paid_amount == D("10.00")  # BT-113
    assert totals.rounding_amount == D("0.01")  # BT-114
    assert totals.payable_amount == D("100.13")  # BT-115 = BT-112 − BT-113 + BT-114


def test_invoice_json_carries_computed_breakdown_and_totals() -> None:
    dumped = Invoice.model_validate(invoice_data()).model_dump(mode="json")
    assert dumped["totals"]["payable_amount"] == "100.13"
    assert [v["tax_amount"] for v in dumped["vat_breakdown"]] == ["0.00", "0.73", "12.60"]


def test_bt111_tax_total_in_accounting_currency() -> None:
    # invoice in USD, books in EUR, 1 EUR = 1.0852 USD
    invoice = Invoice.model_validate(
        invoice_data(
            currency="USD",
            accounting_currency="EUR",
            exchange_rate="1.0852",
            lines=[_inv_line("1", "1", "571.16", "S", "19")],  # VAT 108.5204 → 108.52 USD
            allowances=[],
            charges=[],
        )
    )
    assert invoice.totals.tax_total == D("108.52")
    assert invoice.totals.tax_total_accounting == D("100.00")


def test_bt111_rounds_to_the_accounting_currency() -> None:
    invoice = Invoice.model_validate(
        invoice_data(
            currency="EUR",
            accounting_currency="JPY",
            exchange_rate="0.0061",  # EUR per JPY
            lines=[_inv_line("1", "1", "100", "S", "19")],  # VAT 19.00 EUR
            allowances=[],
            charges=[],
        )
    )
    assert invoice.totals.tax_total_accounting == D("3115")  # 3114.75... → 3115


def test_bt111_absent_when_accounting_currency_is_the_document_currency() -> None:
    invoice = Invoice.model_validate(invoice_data(accounting_currency="EUR"))
    assert invoice.totals.tax_total_accounting is None


def test_exchange_rate_required_when_accounting_currency_differs() -> None:
    text = error_text(Invoice, invoice_data(currency="USD", accounting_currency="EUR"))
    assert "exchange_rate" in text


def test_credit_note_without_preceding_invoice_is_refused() -> None:
    text = error_text(CreditNote, invoice_data())
    assert "BT-25" in text
    text = error_text(Invoice, invoice_data(type_code="381"))
    assert "BT-25" in text


def test_credit_note_with_preceding_invoice() -> None:
    note = CreditNote.model_validate(
        invoice_data(preceding_invoice="INV-0", preceding_invoice_date="2024-02-01")
    )
    assert note.kind == "credit_note"
    assert note.type_code.value == "381"
    assert note.totals.payable_amount == D("100.13")
    assert model_for("credit_note") is CreditNote


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"paid_amount": "1.001"}, "paid_amount"),
        ({"rounding_amount": "0.005"}, "rounding_amount"),
        ({"allowances": [{"amount": "0.999"}]}, "allowances[0].amount"),
        ({"charges": [{"amount": "1"}, {"amount": "0.001"}]}, "charges[1].amount"),
        (
            {"lines": [_inv_line("1", "1", "1", "S", "19", allowances=[{"amount": "0.333"}])]},
            "lines[0].allowances[0].amount",
        ),
    ],
)
def test_unrounded_invoice_amounts_are_refused_with_their_path(
    changes: dict[str, Any], path: str
) -> None:
    assert path in error_text(Invoice, invoice_data(**changes))


@st.composite
def invoices(draw: st.DrawFn) -> dict[str, Any]:
    currency = draw(st.sampled_from(sorted(PLACES)))
    places = PLACES[currency]
    amount = st.integers(0, 10**6).map(lambda n: str(Decimal(n).scaleb(-places)))
    category_rate = st.sampled_from(
        [("S", "19"), ("S", "7"), ("S", "20.5"), ("Z", "0"), ("E", "0")]
    )
    lines = []
    for i in range(draw(st.integers(1, 6))):
        category, rate = draw(category_rate)
        lines.append(
            _inv_line(
                str(i),
                str(Decimal(draw(st.integers(-1000, 100_000))).scaleb(-draw(st.integers(0, 3)))),
                str(Decimal(draw(st.integers(0, 10**8))).scaleb(-4)),
                category,
                rate,
                allowances=[{"amount": a} for a in draw(st.lists(amount, max_size=2))],
                charges=[{"amount": c} for c in draw(st.lists(amount, max_size=2))],
            )
        )

    def doc_level(pairs: list[tuple[str, tuple[str, str]]]) -> list[dict[str, str]]:
        return [{"amount": a, "tax_category": c, "tax_rate": r} for a, (c, r) in pairs]

    return invoice_data(
        currency=currency,
        lines=lines,
        allowances=doc_level(draw(st.lists(st.tuples(amount, category_rate), max_size=2))),
        charges=doc_level(draw(st.lists(st.tuples(amount, category_rate), max_size=2))),
        paid_amount=draw(amount),
        rounding_amount=str(Decimal(draw(st.integers(-5, 5))).scaleb(-places)),
    )


@settings(deadline=None)
@given(invoices())
def test_invoice_totals_property(data: dict[str, Any]) -> None:
    invoice = Invoice.model_validate(data)
    places = PLACES[invoice.currency]
    totals = invoice.totals
    breakdown = invoice.vat_breakdown

    expected_lines = Fraction(0)
    for raw in data["lines"]:
        base = half_up(Fraction(D(raw["quantity"])) * Fraction(D(raw["unit_price"])), places)
        expected_lines += Fraction(base)
        expected_lines += sum((Fraction(D(c["amount"])) for c in raw["charges"]), Fraction(0))
        expected_lines -= sum((Fraction(D(a["amount"])) for a in raw["allowances"]), Fraction(0))
    allowances = sum((Fraction(D(a["amount"])) for a in data["allowances"]), Fraction(0))
    charges = sum((Fraction(D(c["amount"])) for c in data["charges"]), Fraction(0))

    assert totals.line_net_total == expected_lines
    assert totals.allowance_total == allowances
    assert totals.charge_total == charges
    assert totals.tax_exclusive_total == expected_lines - allowances + charges
    assert sum((v.taxable_amount for v in breakdown), D(0)) == totals.tax_exclusive_total
    for row in breakdown:
        assert row.tax_amount == half_up(
            Fraction(row.taxable_amount) * Fraction(row.rate) / 100, places
        )
    assert len({(v.category, v.rate) for v in breakdown}) == len(breakdown)
    assert totals.tax_total == sum((v.tax_amount for v in breakdown), D(0))
    assert totals.tax_inclusive_total == totals.tax_exclusive_total + totals.tax_total
    assert totals.payable_amount == (
        totals.tax_inclusive_total - totals.paid_amount + totals.rounding_amount
    )
    for name in type(totals).model_fields:
        value = getattr(totals, name)
        assert value is None or on_minor_unit(value, places), (name, value)


# --- Other kinds ------------------------------------------------------------------------


def test_payment_amount_must_fit_its_currency() -> None:
    data = {"payment_id": "T1", "amount": "-12.50", "currency": "EUR", "value_date": "2024-03-01"}
    assert Payment.model_validate(data).amount == D("-12.50")
    assert "amount" in error_text(Payment, {**data, "currency": "JPY"})
    text = error_text(
        Payment, {**data, "allocations": [{"invoice_number": "I", "amount": "1.001"}]}
    )
    assert "allocations[0].amount" in text


def test_party_credit_limit_must_fit_its_currency() -> None:
    errors_of(Party, {"legal_name": "ACME", "currency": "EUR", "credit_limit": "1000.005"})


# --- Kinds and schemas ------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("mode", ["validation", "serialization"])
def test_json_schema_of_every_kind_generates(kind: str, mode: str) -> None:
    model = model_for(kind)
    assert model is KINDS[kind]
    schema = model.model_json_schema(mode=mode)  # type: ignore[arg-type]
    text = json.dumps(schema)
    assert json.loads(text) == schema
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert "kind" in schema["properties"]


def test_serialization_schema_shows_computed_totals() -> None:
    order = Order.model_json_schema(mode="serialization")
    assert "totals" in order["properties"]
    invoice = Invoice.model_json_schema(mode="serialization")
    assert {"totals", "vat_breakdown"} <= set(invoice["properties"])
    assert "totals" not in Order.model_json_schema(mode="validation")["properties"]


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        model_for("nope")
    message = info.value.message
    assert "'nope'" in message
    for kind in KINDS:
        assert kind in message
    assert info.value.status == 404


def test_order_round_trips_through_json() -> None:
    order = Order.model_validate(order_data(shipping={"amount": "4.95"}))
    dumped = order.model_dump(
        mode="json", exclude={"totals": True, "lines": {"__all__": {"net_amount"}}}
    )
    again = Order.model_validate(copy.deepcopy(dumped))
    assert again.totals == order.totals
