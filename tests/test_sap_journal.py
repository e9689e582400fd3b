"""Journal entries from invoices (adapters/sap/journal.py): balance, VAT agreement, signs.

Invoices are built through the canonical model (``Invoice.model_validate``), so lines,
the VAT breakdown and totals are the hub's own EN 16931 computation; the properties below
say that the journal entry agrees with them to the minor unit, for generated invoices in
currencies with 0, 2 and 3 decimals.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from adapters.sap.journal import (
    CREDIT,
    DEBIT,
    JournalConfig,
    JournalEntry,
    build_journal_entry,
    rate_key,
)
from hub import money
from hub.canonical import CreditNote, Invoice
from hub.canonical.common import TaxCategory
from hub.errors import MasterDataMissing, Rejected

D = Decimal
PLACES = {"JPY": 0, "EUR": 2, "KWD": 3}
CATEGORY_RATES = [
    ("S", "19"),
    ("S", "7"),
    ("S", "20.5"),
    ("Z", "0"),
    ("E", "0"),
    ("AE", "0"),
    ("K", "0"),
    ("G", "0"),
    ("O", "0"),
]
TAX_CODES = {
    "S 19": "A1",
    "S 7": "A2",
    "S 20.5": "A5",
    "Z": "A0",
    "E": "A0",
    "AE": "AE",
    "K": "AF",
    "G": "AG",
    "O": "A0",
}


def journal_config(**overrides: Any) -> JournalConfig:
    data: dict[str, Any] = {
        "company_code": "1010",
        "tax_codes": TAX_CODES,
        "revenue_account": "40000000",
        "revenue_accounts": {"S 7": "41000000", "E": "42000000"},
        "rounding_account": "69000000",
    }
    data.update(overrides)
    return JournalConfig.model_validate(data)


def line(
    line_id: str, quantity: str, price: str, category: str = "S", rate: str = "19", **extra: Any
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
        "invoice_number": "INV-1001",
        "issue_date": "2024-03-05",
        "due_date": "2024-04-04",
        "currency": "EUR",
        "seller": {"name": "Seller AG", "tax_id": "DE123456789"},
        "seller_address": {"city": "Berlin", "country": "DE"},
        "buyer": {"name": "Buyer GmbH", "external_ids": {"sap": "17100001"}},
        "buyer_address": {"city": "Wien", "country": "AT"},
        "lines": [
            # 3 × 19.999 = 59.997 → 60.00, less a 5.00 line allowance = 55.00
            line("1", "3", "19.999", allowances=[{"amount": "5.00"}]),
            # 1 × 10 per 2 units = 5.00, plus a 0.50 line charge = 5.50
            line("2", "1", "10", "S", "7", base_quantity="2", charges=[{"amount": "0.50"}]),
            line("3", "2", "10", "E", "0"),
        ],
        "allowances": [{"amount": "1.00", "tax_category": "S", "tax_rate": "19"}],
        "charges": [{"amount": "4.95", "tax_category": "S", "tax_rate": "7"}],
    }
    data.update(overrides)
    return data


def make_invoice(**overrides: Any) -> Invoice:
    return Invoice.model_validate(invoice_data(**overrides))


def make_credit_note(**overrides: Any) -> CreditNote:
    data = invoice_data(**overrides)
    data.setdefault("preceding_invoice", "INV-0999")
    return CreditNote.model_validate(data)


def signed_lines(entry: JournalEntry) -> list[tuple[Decimal, str]]:
    return [
        (entry.debtor.amount, entry.debtor.debit_credit),
        *((g.amount, g.debit_credit) for g in entry.gl_lines),
        *((t.amount, t.debit_credit) for t in entry.tax_lines),
    ]


# --- a worked example ---------------------------------------------------------------------


def test_invoice_entry_worked_example() -> None:
    invoice = make_invoice()
    entry = build_journal_entry(invoice, journal_config())

    assert entry.company_code == "1010"
    assert entry.document_type == "DR"
    assert entry.business_transaction_type == "RFBU"
    assert entry.reference == entry.original_reference_document == "INV-1001"
    assert entry.document_date == entry.posting_date == date(2024, 3, 5)
    assert entry.currency == "EUR"

    # E 0: 20.00; S 7: 5.50 + 4.95 = 10.45 → 0.73; S 19: 55.00 − 1.00 = 54.00 → 10.26
    assert [
        (g.category, g.rate, g.gl_account, g.amount, g.debit_credit) for g in entry.gl_lines
    ] == [
        (TaxCategory.EXEMPT, D(0), "42000000", D("-20.00"), CREDIT),
        (TaxCategory.STANDARD, D(7), "41000000", D("-10.45"), CREDIT),
        (TaxCategory.STANDARD, D(19), "40000000", D("-54.00"), CREDIT),
    ]
    assert [g.tax_code for g in entry.gl_lines] == ["A0", "A2", "A1"]
    assert [(t.tax_code, t.amount, t.base_amount, t.debit_credit) for t in entry.tax_lines] == [
        ("A0", D("0.00"), D("-20.00"), CREDIT),
        ("A2", D("-0.73"), D("-10.45"), CREDIT),
        ("A1", D("-10.26"), D("-54.00"), CREDIT),
    ]
    assert entry.debtor.customer == "0017100001"  # SAP's ALPHA conversion
    assert entry.debtor.amount == invoice.totals.tax_inclusive_total == D("95.44")
    assert entry.debtor.debit_credit == DEBIT
    assert entry.debtor.due_base_date == date(2024, 3, 5)
    assert entry.debtor.net_days == 30
    assert entry.balance() == 0
    # item numbers are unique across the entry, the customer first
    items = [
        entry.debtor.item,
        *(g.item for g in entry.gl_lines),
        *(t.item for t in entry.tax_lines),
    ]
    assert items == [str(n) for n in range(1, 8)]


def test_credit_note_reverses_every_line() -> None:
    invoice = make_invoice()
    note = make_credit_note()
    config = journal_config()
    forward = build_journal_entry(invoice, config)
    back = build_journal_entry(note, config)

    assert back.credit_note and not forward.credit_note
    assert back.document_type == "DG"
    assert back.header_text.startswith("Credit note")
    assert back.debtor.debit_credit == CREDIT
    assert back.debtor.due_base_date is None  # a credit memo has no payment terms here
    assert [a for a, _ in signed_lines(back)] == [-a for a, _ in signed_lines(forward)]
    for (amount, side), (_, forward_side) in zip(
        signed_lines(back), signed_lines(forward), strict=True
    ):
        if amount != 0:
            assert side != forward_side
    assert back.balance() == 0


def test_rounding_amount_gets_its_own_line() -> None:
    invoice = make_invoice(rounding_amount="0.01")
    entry = build_journal_entry(invoice, journal_config())
    rounding = [g for g in entry.gl_lines if g.gl_account == "69000000"]
    assert [(g.amount, g.debit_credit) for g in rounding] == [(D("-0.01"), CREDIT)]
    assert entry.debtor.amount == D("95.45")
    assert entry.balance() == 0


def test_posting_date_may_differ_from_the_document_date() -> None:
    entry = build_journal_entry(make_invoice(), journal_config(), posting_date=date(2024, 4, 1))
    assert entry.document_date == date(2024, 3, 5)
    assert entry.posting_date == date(2024, 4, 1)


def test_customer_from_the_config_wins_and_one_time_accounts_are_kept() -> None:
    entry = build_journal_entry(make_invoice(), journal_config(customer="CPD-EU"))
    assert entry.debtor.customer == "CPD-EU"


def test_payment_terms_with_cash_discount() -> None:
    invoice = make_invoice(
        due_date=None,
        payment_terms={"net_days": 30, "discount_percent": "2", "discount_days": 10},
    )
    debtor = build_journal_entry(invoice, journal_config()).debtor
    assert (debtor.net_days, debtor.discount_days, debtor.discount_percent) == (30, 10, D(2))


# --- validation ---------------------------------------------------------------------------


def test_a_rate_without_a_tax_code_is_refused_naming_the_key() -> None:
    invoice = make_invoice(lines=[line("1", "1", "100", "S", "16")])
    with pytest.raises(Rejected) as info:
        build_journal_entry(invoice, journal_config())
    message = info.value.message
    assert "VAT category S at 16 %" in message
    assert "tax_codes['S 16']" in message
    assert info.value.target == "sap"


def test_a_category_key_covers_every_rate_and_a_rate_key_wins() -> None:
    config = journal_config(tax_codes={"S": "A9", "S 19": "A1", "E": "A0"})
    invoice = make_invoice(
        lines=[line("1", "1", "100", "S", "16"), line("2", "1", "100", "S", "19.00")],
        allowances=[],
        charges=[],
    )
    entry = build_journal_entry(invoice, config)
    assert [(t.rate, t.tax_code) for t in entry.tax_lines] == [(D(16), "A9"), (D(19), "A1")]


def test_config_keys_are_normalised_and_checked() -> None:
    config = journal_config(tax_codes={"s 19.0": "A1", " Z ": "A0"})
    assert config.tax_codes == {"S 19": "A1", "Z": "A0"}
    assert rate_key(TaxCategory.STANDARD, D("10.00")) == "S 10"
    assert rate_key("S", D("7.50")) == "S 7.5"
    with pytest.raises(ValidationError, match="not a VAT category"):
        journal_config(tax_codes={"X 5": "A1"})
    with pytest.raises(ValidationError, match="both mean"):
        journal_config(tax_codes={"S 19": "A1", "S 19.0": "A2"})
    with pytest.raises(ValidationError, match="1 to 4 characters"):
        journal_config(tax_codes={"S 19": "TOOLONG"})


def test_no_revenue_account_is_refused_naming_the_key() -> None:
    config = journal_config(
        revenue_account=None, revenue_accounts={"S 19": "40000000", "E": "42000000"}
    )
    with pytest.raises(Rejected, match=r"revenue_accounts\['S 7'\] or revenue_account"):
        build_journal_entry(make_invoice(), config)


def test_a_buyer_without_a_customer_number_is_master_data_missing() -> None:
    invoice = make_invoice(buyer={"name": "Buyer GmbH"})
    with pytest.raises(MasterDataMissing) as info:
        build_journal_entry(invoice, journal_config())
    assert info.value.missing == "customer of buyer Buyer GmbH"
    assert "buyer.external_ids['sap']" in info.value.message


def test_an_invoice_number_longer_than_the_reference_is_refused() -> None:
    invoice = make_invoice(invoice_number="INV-2024-000000001")
    with pytest.raises(Rejected, match="holds 16"):
        build_journal_entry(invoice, journal_config())


def test_a_rounding_amount_without_an_account_is_refused() -> None:
    invoice = make_invoice(rounding_amount="-0.02")
    with pytest.raises(Rejected, match="set rounding_account"):
        build_journal_entry(invoice, journal_config(rounding_account=None))


# --- properties ---------------------------------------------------------------------------


@st.composite
def generated(draw: st.DrawFn) -> dict[str, Any]:
    currency = draw(st.sampled_from(sorted(PLACES)))
    places = PLACES[currency]
    amount = st.integers(0, 10**6).map(lambda n: str(D(n).scaleb(-places)))
    category_rate = st.sampled_from(CATEGORY_RATES)
    lines = []
    for i in range(draw(st.integers(1, 6))):
        category, rate = draw(category_rate)
        lines.append(
            line(
                str(i),
                str(D(draw(st.integers(-1000, 100_000))).scaleb(-draw(st.integers(0, 3)))),
                str(D(draw(st.integers(0, 10**8))).scaleb(-4)),
                category,
                rate,
                allowances=[{"amount": a} for a in draw(st.lists(amount, max_size=2))],
                charges=[{"amount": c} for c in draw(st.lists(amount, max_size=2))],
            )
        )

    def doc_level(pairs: list[tuple[str, tuple[str, str]]]) -> list[dict[str, str]]:
        return [{"amount": a, "tax_category": c, "tax_rate": r} for a, (c, r) in pairs]

    rounding = draw(st.sampled_from([0, 0, 0, -2, -1, 1, 2]))
    return invoice_data(
        currency=currency,
        lines=lines,
        allowances=doc_level(draw(st.lists(st.tuples(amount, category_rate), max_size=2))),
        charges=doc_level(draw(st.lists(st.tuples(amount, category_rate), max_size=2))),
        rounding_amount=str(D(rounding).scaleb(-places)),
        preceding_invoice="INV-0999" if draw(st.booleans()) else None,
    )


def build(data: dict[str, Any]) -> tuple[Invoice, JournalEntry]:
    """A credit note when the generated data references a preceding invoice."""
    model = CreditNote if data["preceding_invoice"] else Invoice
    invoice = model.model_validate(data)
    return invoice, build_journal_entry(invoice, journal_config())


@settings(deadline=None, max_examples=300)
@given(generated())
def test_every_entry_balances_to_the_minor_unit(data: dict[str, Any]) -> None:
    invoice, entry = build(data)
    currency = invoice.currency
    assert entry.balance() == 0
    for amount in entry.amounts():
        assert money.is_rounded(amount, currency), amount
        assert not (amount == 0 and amount.is_signed()), "negative zero"
    for amount, side in signed_lines(entry):
        if amount > 0:
            assert side == DEBIT
        elif amount < 0:
            assert side == CREDIT
    sign = -1 if invoice.kind == "credit_note" else 1
    totals = invoice.totals
    assert entry.debtor.amount == sign * (totals.tax_inclusive_total + invoice.rounding_amount)


@settings(deadline=None, max_examples=300)
@given(generated())
def test_tax_and_revenue_lines_are_the_vat_breakdown(data: dict[str, Any]) -> None:
    invoice, entry = build(data)
    sign = -1 if invoice.kind == "credit_note" else 1
    breakdown = invoice.vat_breakdown
    config = journal_config()

    assert len(entry.tax_lines) == len(breakdown)
    revenue = [g for g in entry.gl_lines if g.category is not None]
    assert len(revenue) == len(breakdown)
    for group, tax, gl in zip(breakdown, entry.tax_lines, revenue, strict=True):
        expected_code = (
            config.tax_codes.get(rate_key(group.category, group.rate))
            or (config.tax_codes[rate_key(group.category)])
        )
        assert (tax.category, tax.rate, tax.tax_code) == (group.category, group.rate, expected_code)
        assert tax.amount == -sign * group.tax_amount
        assert tax.base_amount == -sign * group.taxable_amount
        assert (gl.category, gl.rate, gl.tax_code) == (group.category, group.rate, expected_code)
        assert gl.amount == -sign * group.taxable_amount
    totals = invoice.totals
    assert sum((t.amount for t in entry.tax_lines), D(0)) == -sign * totals.tax_total
    assert sum((g.amount for g in revenue), D(0)) == -sign * totals.tax_exclusive_total
    rounding = [g for g in entry.gl_lines if g.category is None]
    assert sum((g.amount for g in rounding), D(0)) == -sign * invoice.rounding_amount


@settings(deadline=None, max_examples=100)
@given(generated())
def test_a_credit_note_is_the_invoice_mirrored(data: dict[str, Any]) -> None:
    data = {**data, "preceding_invoice": "INV-0999"}
    config = journal_config()
    forward = build_journal_entry(Invoice.model_validate(data), config)
    back = build_journal_entry(CreditNote.model_validate(data), config)
    assert back.amounts() == [-a for a in forward.amounts()]
    assert back.balance() == forward.balance() == 0
