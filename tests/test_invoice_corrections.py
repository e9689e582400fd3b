"""Credit notes from issued invoices: returns, price corrections, cancellations.

A real invoice is issued first (a Magento order shipped and invoiced through the
InvoicingService on a SQLite file), then credited through hub/invoicing/corrections.py:
prorations add up exactly over several credit notes, nothing is credited beyond the
invoice or one of its lines, the caller's id makes it idempotent, and a hypothesis
population of invoices (tests/einvoice_strategies.py) credited at random always yields
credit notes that pass the UBL 2.1 XSD and the EN 16931 and Peppol BIS 3 rules.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from hub import money
from hub.canonical import CreditNote, Invoice
from hub.canonical.common import TaxCategory
from hub.cli import main as cli_main
from hub.cli import output
from hub.einvoice.ubl import render_ubl, validate_ubl
from hub.errors import NotFoundError
from hub.ingest import Ingestor
from hub.invoicing.corrections import (
    ALLOWANCE_SKU,
    CREDITED_EARLIER,
    ROUNDING,
    BeyondCreditable,
    CorrectionError,
    Corrections,
    CreditRequest,
    DocumentAllowance,
    NothingToCredit,
    PriceCorrection,
    draft_credit_note,
)
from hub.invoicing.service import InvoicingService, ubl_options
from hub.invoicing.settings import InvoicingSettings
from hub.invoicing.store import Creditable, IssuedInvoice, claims_for
from hub.routing import load_routes
from hub.store import migrate
from hub.store.db import make_engine
from hub.store.tables import message_table
from tests.conftest import SAMPLES
from tests.einvoice_strategies import delivery_date_for, invoices
from tests.test_invoicing_service import ISSUE, MAPPINGS, SETTINGS, shipment

D = Decimal
LATER = ISSUE + timedelta(days=3)
CREDIT_NOTE_ROOT = "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote"


def write_routes(path: Path) -> Path:
    path.write_text(
        "targets:\n  billing: {type: invoicing}\n"
        "routes:\n"
        "  - {name: shipments-to-billing, source: {system: magento, kind: shipment}, "
        "target: billing}\n",
        encoding="utf-8",
    )
    return path


@dataclass
class Billed:
    """A hub with one order shipped in full and invoiced."""

    engine: Engine
    ingestor: Ingestor
    service: InvoicingService
    corrections: Corrections
    invoice: IssuedInvoice

    @property
    def number(self) -> str:
        return self.invoice.number

    def line(self, line_id: str) -> Any:
        return next(ln for ln in self.invoice.document.lines if ln.line_id == line_id)


@pytest.fixture
def billed(tmp_path: Path) -> Iterator[Billed]:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate.upgrade(engine)
    routes = write_routes(tmp_path / "routes.yaml")
    ingestor = Ingestor(engine, load_routes(routes, MAPPINGS), MAPPINGS)
    ingestor.ingest("magento", "order", (SAMPLES / "order-eu-b2b-vat.json").read_bytes())
    service = InvoicingService(engine, ingestor, SETTINGS)
    order = service.order("200001187")
    item = shipment(order, "S-1", {line.line_id: line.quantity for line in order.lines})
    ingestor.ingest_canonical("magento", "shipment", item)
    invoice = service.invoice_shipment(item, ISSUE).issued
    yield Billed(engine, ingestor, service, Corrections(service), invoice)
    ingestor.writer.close()
    engine.dispose()


def credit_messages(engine: Engine) -> int:
    with engine.connect() as conn:
        query = select(func.count()).where(
            message_table.c.system == "hub", message_table.c.kind == "credit_note"
        )
        return int(conn.execute(query).scalar_one())


def assert_valid_ubl(document: Invoice) -> None:
    """Valid UBL, sent with the seller's payment instructions (the German CIUS wants them
    between German parties, DE-R-001)."""
    options = ubl_options(SETTINGS).model_copy(
        update={"delivery_date": delivery_date_for(document)}
    )
    xml = render_ubl(document, options=options)
    assert etree.fromstring(xml).tag == CREDIT_NOTE_ROOT
    report = validate_ubl(xml)
    assert report.valid, "\n".join(report.problems()) + "\n\n" + xml.decode()


def returning(reference: str, **quantities: str) -> CreditRequest:
    lines = {key.removeprefix("l"): D(q) for key, q in quantities.items()}
    return CreditRequest.returning(reference, lines, reason="returned damaged")


# --- returns ----------------------------------------------------------------------------


def test_a_return_credits_the_lines_at_invoice_terms_and_gives_quantities_back(
    billed: Billed,
) -> None:
    """Invoice lines: 1 = 3 × 22.90 − 6.87, 3 = 12 × 23.50 − 28.20; shipping 7.90."""
    done = billed.corrections.issue(billed.number, returning("RMA-1", l1="1", l3="4"), LATER)
    issued = done.issued
    assert (issued.kind, issued.number, issued.created) == ("credit_note", "CRN-2026-000001", True)
    assert issued.source_key == f"return:{billed.number}:RMA-1"
    note = issued.document
    assert isinstance(note, CreditNote)
    assert note.preceding_invoice == billed.number
    assert note.preceding_invoice_date == ISSUE
    assert note.issue_date == LATER
    assert note.notes == [f"Return RMA-1 for invoice {billed.number}: returned damaged"]
    original = billed.invoice.document
    for name in ("seller", "seller_address", "buyer", "buyer_address", "delivery_address"):
        assert getattr(note, name) == getattr(original, name), name
    assert (note.currency, note.order_reference) == (original.currency, original.order_reference)
    assert note.payment_terms is not None
    assert note.payment_terms.code == "2/10 net 30"
    assert note.payment_terms.description is None, "not the invoice's own due dates"

    assert [(ln.line_id, ln.sku, ln.quantity, ln.unit_price) for ln in note.lines] == [
        ("1", "WG-4410-9", D(1), D("22.9")),
        ("3", "ST-1207", D(4), D("23.5")),
    ]
    assert [a.amount for a in note.lines[0].allowances] == [D("2.29")]  # 6.87 × 1/3
    assert [a.amount for a in note.lines[1].allowances] == [D("9.40")]  # 28.20 × 4/12
    assert [ln.net_amount_in("EUR") for ln in note.lines] == [D("20.61"), D("84.60")]
    # Shipping, prorated to the share of the goods' value returned (105.21 of 429.39).
    (freight,) = note.charges
    assert (freight.amount, freight.reason_code) == (D("1.94"), "FC")
    assert note.totals.tax_exclusive_total == D("107.15")
    assert issued.gross_total == note.totals.tax_inclusive_total == D("127.51")

    invoiced = billed.service.store.invoiced_quantities("200001187")
    assert invoiced == {"4101": D(2), "4102": D(6), "4104": D(8), "4105": D(5)}
    assert billed.service.store.creditable(billed.number) == Creditable(
        net=D("330.14"), gross=D("392.87")
    )
    assert credit_messages(billed.engine) == 1, "emitted for the routes to post"
    assert done.message_id
    assert_valid_ubl(note)


def test_partial_returns_up_to_the_full_quantity_then_refusal(billed: Billed) -> None:
    line = billed.line("2")  # 6 × 9.55 − 5.73 = 51.57
    notes = [
        billed.corrections.issue(billed.number, returning(f"RMA-{q}", l2=q), LATER).issued
        for q in ("1", "2", "3")
    ]
    credited = [n.document.lines[0] for n in notes]
    assert [c.quantity for c in credited] == [D(1), D(2), D(3)]
    assert sum(c.net_amount_in("EUR") for c in credited) == line.net_amount_in("EUR")
    assert sum(c.allowances[0].amount for c in credited) == line.allowances[0].amount
    assert billed.service.store.invoiced_quantities("200001187")["4102"] == 0

    with pytest.raises(BeyondCreditable) as refused:
        billed.corrections.issue(billed.number, returning("RMA-4", l2="1"), LATER)
    assert str(refused.value) == (
        f"invoice {billed.number} line 2 (HVV-200-L-Yellow): 1 to return, 0 left to credit "
        "(invoiced 6, returned 6)"
    )
    with pytest.raises(BeyondCreditable, match=r"line 1 \(WG-4410-9\): 4 to return, 3 left"):
        billed.corrections.preview(billed.number, returning("RMA-5", l1="4"), LATER)
    assert len(billed.service.store.list(kind="credit_note")) == 3, "no number used"


def test_the_return_that_closes_a_line_credits_exactly_what_is_left(billed: Billed) -> None:
    """Three returns of 1 at 0.335: each rounds to 0.34, the line billed 1.01; the last
    credit note absorbs the difference and the invoice is credited to the cent."""
    store = billed.service.store
    store.define_series("INV-X", "X-{n:04d}")
    document = _small_invoice(
        [("1", "3", "0.335", "S", "19"), ("2", "2", "12.50", "S", "19")],
        allowances=[("0.10", "S", "19")],
    )
    invoice = store.issue(
        document, series="INV-X", source_key="x", claims=claims_for(document), shipped={}
    )
    nets = []
    for i in range(3):
        note = billed.corrections.issue(invoice.number, returning(f"R{i}", l1="1"), LATER)
        nets.append(note.issued.document.lines[0].net_amount_in("EUR"))
    assert nets == [D("0.34"), D("0.34"), D("0.33")]
    last = note.issued.document.lines[0]
    assert [(a.amount, a.reason) for a in last.allowances] == [(D("0.01"), ROUNDING)]
    # Each credits its share of the VAT left in the group, the last all of it (within
    # EN 16931's rounding tolerance): the invoice's VAT to the cent.
    rest = billed.corrections.issue(invoice.number, returning("R3", l2="2"), LATER).issued
    notes = store.list(preceding_invoice=invoice.number)
    assert sum(n.tax_total for n in notes) == invoice.tax_total
    assert store.creditable(invoice.number) == Creditable(net=D("0.00"), gross=D("0.00"))
    assert_valid_ubl(rest.document)


def test_vat_of_partial_credit_notes_adds_up_to_the_invoices(billed: Billed) -> None:
    """2 × 12.50 at 19 %: 4.75 VAT. Two credit notes of 12.50 would each round 2.375 up to
    2.38 and credit 29.76 of 29.75; the second credits the 2.37 left instead."""
    store = billed.service.store
    store.define_series("INV-X", "X-{n:04d}")
    document = _small_invoice([("1", "2", "12.50", "S", "19")])
    invoice = store.issue(document, series="INV-X", source_key="x", claims=[], shipped={})
    first = billed.corrections.issue(invoice.number, returning("R1", l1="1"), LATER).issued
    second = billed.corrections.issue(invoice.number, returning("R2", l1="1"), LATER).issued
    assert (first.tax_total, second.tax_total) == (D("2.38"), D("2.37"))
    assert (first.gross_total, second.gross_total) == (D("14.88"), D("14.87"))
    assert [(c.category, c.rate, c.amount) for c in second.document.charged_tax] == [
        (TaxCategory.STANDARD, D(19), D("2.37"))
    ]
    assert store.creditable(invoice.number) == Creditable(net=D("0.00"), gross=D("0.00"))
    for issued in (first, second):
        assert_valid_ubl(issued.document)


def _small_invoice(
    lines: list[tuple[str, str, str, str, str]],
    *,
    allowances: Sequence[tuple[str, str, str]] = (),
    charges: Sequence[tuple[str, str, str]] = (),
    line_allowances: dict[str, str] | None = None,
) -> Invoice:
    """An invoice to the sample order's buyer (no order reference: claims nothing)."""
    return Invoice.model_validate(
        {
            "invoice_number": "DRAFT",
            "issue_date": ISSUE,
            "currency": "EUR",
            "buyer_reference": "4500018842",
            "seller": {"company": "Nordwerk Industriebedarf GmbH", "tax_id": "DE811907980"},
            "seller_address": {"city": "Hamburg", "country": "DE", "lines": ["Hafenstrasse 1"]},
            "buyer": {"company": "Acme SARL", "tax_id": "FR40303265045"},
            "buyer_address": {"city": "Lyon", "country": "FR", "lines": ["Rue de la Paix 12"]},
            "payment_terms": {"net_days": 30},
            "lines": [
                {
                    "line_id": line_id,
                    "sku": f"SKU-{line_id}",
                    "name": f"Item {line_id}",
                    "quantity": quantity,
                    "unit_price": price,
                    "tax_category": category,
                    "tax_rate": rate,
                    "allowances": (
                        [{"amount": line_allowances[line_id], "reason": "Promo"}]
                        if line_allowances and line_id in line_allowances
                        else []
                    ),
                }
                for line_id, quantity, price, category, rate in lines
            ],
            "allowances": [
                {"amount": a, "reason": "Volume discount", "tax_category": c, "tax_rate": r}
                for a, c, r in allowances
            ],
            "charges": [
                {"amount": a, "reason": "Freight", "tax_category": c, "tax_rate": r}
                for a, c, r in charges
            ],
        }
    )


def test_document_allowances_and_charges_over_several_vat_categories(billed: Billed) -> None:
    """Each VAT group's document allowances and charges go back with the share of that
    group's goods returned; over every credit note they add up to the invoice's exactly."""
    store = billed.service.store
    store.define_series("INV-X", "X-{n:04d}")
    document = _small_invoice(
        [
            ("1", "7", "13.33", "S", "20"),
            ("2", "3", "4.99", "S", "5.5"),
            ("3", "11", "2.47", "S", "20"),
            ("4", "1", "100", "Z", "0"),
        ],
        allowances=[("3.33", "S", "20"), ("0.77", "S", "5.5")],
        charges=[("9.99", "S", "20"), ("5.00", "Z", "0")],
        line_allowances={"1": "1.11", "3": "0.50"},
    )
    document = document.model_copy(
        update={"seller_address": document.seller_address.model_copy(update={"country": "FR"})}
    )
    invoice = store.issue(
        document, series="INV-X", source_key="x", claims=claims_for(document), shipped={}
    )
    original = invoice.document
    first = billed.corrections.issue(invoice.number, returning("R1", l1="3", l2="1"), LATER)
    # S 5.5 % has line 2 only: a third of its value came back, a third of its allowance.
    s55 = [a for a in first.issued.document.allowances if a.tax_rate == D("5.5")]
    assert [a.amount for a in s55] == [D("0.26")]
    assert not [c for c in first.issued.document.charges if c.tax_category is TaxCategory.ZERO]
    second = billed.corrections.issue(invoice.number, returning("R2", l3="11", l4="1"), LATER)
    third = billed.corrections.issue(invoice.number, returning("R3", l1="4", l2="2"), LATER)
    notes = [n.issued.document for n in (first, second, third)]

    def added(items: str, rate: str) -> Decimal:
        return sum(
            (a.amount for n in notes for a in getattr(n, items) if a.tax_rate == D(rate)), D(0)
        )

    for items in ("allowances", "charges"):
        for rate in ("20", "5.5", "0"):
            want = sum((a.amount for a in getattr(original, items) if a.tax_rate == D(rate)), D(0))
            assert added(items, rate) == want, (items, rate)
    for group in original.vat_breakdown:
        credited = [
            v
            for n in notes
            for v in n.vat_breakdown
            if (v.category, v.rate) == (group.category, group.rate)
        ]
        assert sum(v.taxable_amount for v in credited) == group.taxable_amount
        assert sum(v.tax_amount for v in credited) == group.tax_amount
    assert store.creditable(invoice.number) == Creditable(net=D("0.00"), gross=D("0.00"))
    for n in notes:
        assert_valid_ubl(n)


# --- price corrections ------------------------------------------------------------------


def test_price_corrections_lower_the_price_of_what_was_not_returned(billed: Billed) -> None:
    store = billed.service.store
    billed.corrections.issue(billed.number, returning("RMA-1", l3="2"), LATER)
    before = store.invoiced_quantities("200001187")
    correction = CreditRequest.correcting(
        "PC-1",
        prices=[
            PriceCorrection("3", new_price=D("20.00")),
            PriceCorrection("4", reduction=D("1.82")),
        ],
        reason="contract price not applied",
    )
    done = billed.corrections.issue(billed.number, correction, LATER).issued
    assert done.source_key == f"correction:{billed.number}:PC-1"
    lines = done.document.lines
    assert [(ln.line_id, ln.quantity, ln.unit_price, ln.allowances) for ln in lines] == [
        ("3", D(10), D("3.50"), []),
        ("4", D(5), D("1.82"), []),
    ]
    assert done.document.totals.tax_exclusive_total == D("35.00") + D("9.10")
    assert store.invoiced_quantities("200001187") == before, "a price correction claims nothing"

    # A later return is credited at the corrected price; the line's allowance still prorated.
    back = billed.corrections.issue(billed.number, returning("RMA-2", l3="5"), LATER).issued
    (line,) = back.document.lines
    assert (line.unit_price, [a.amount for a in line.allowances]) == (D("20.00"), [D("11.75")])

    with pytest.raises(CorrectionError, match=r"new price 20\.00 is not below the current 20\.00"):
        billed.corrections.preview(
            billed.number,
            CreditRequest.correcting(
                "PC-2", prices=[PriceCorrection("3", new_price=D("20.00"))], reason="again"
            ),
            LATER,
        )
    with pytest.raises(CorrectionError, match="takes it below zero"):
        billed.corrections.preview(
            billed.number,
            CreditRequest.correcting(
                "PC-3", prices=[PriceCorrection("4", reduction=D("13"))], reason="too much"
            ),
            LATER,
        )
    assert_valid_ubl(done.document)


def test_an_allowance_on_the_whole_invoice_and_then_cancellation(billed: Billed) -> None:
    store = billed.service.store
    allowance = CreditRequest.correcting(
        "GW-1",
        allowance=DocumentAllowance(D("25.00"), reason="Goodwill: late delivery"),
        reason="late delivery",
    )
    done = billed.corrections.issue(billed.number, allowance, LATER).issued
    (line,) = done.document.lines
    assert (line.sku, line.name, line.quantity, line.unit_price) == (
        ALLOWANCE_SKU,
        "Goodwill: late delivery",
        D(1),
        D("25.00"),
    )
    assert (line.tax_category, line.tax_rate) == (TaxCategory.STANDARD, D(19))
    assert done.gross_total == D("29.75")
    assert_valid_ubl(done.document)

    # The goods are then worth 25.00 less: returning everything credits the rest exactly.
    cancel = CreditRequest.cancelling("CANCEL-1", reason="order cancelled")
    rest = billed.corrections.issue(billed.number, cancel, LATER).issued
    document = rest.document
    assert [(a.amount, a.reason) for a in document.allowances] == [(D("25.00"), CREDITED_EARLIER)]
    assert [ln.quantity for ln in document.lines] == [D(3), D(6), D(12), D(5)]
    assert rest.net_total == D("437.29") - D("25.00")
    assert store.creditable(billed.number) == Creditable(net=D("0.00"), gross=D("0.00"))
    assert store.invoiced_quantities("200001187") == {
        "4101": D(0),
        "4102": D(0),
        "4104": D(0),
        "4105": D(0),
    }
    assert_valid_ubl(document)

    with pytest.raises(NothingToCredit, match="has nothing left to credit"):
        billed.corrections.issue(billed.number, CreditRequest.cancelling("C2", reason="x"), LATER)
    with pytest.raises(NothingToCredit, match="all 12 were returned; nothing left to correct"):
        billed.corrections.preview(
            billed.number,
            CreditRequest.correcting(
                "PC-9", prices=[PriceCorrection("3", new_price=D(1))], reason="x"
            ),
            LATER,
        )


def test_an_allowance_needs_a_vat_group_of_the_invoice_and_room_in_it(billed: Billed) -> None:
    def allowance(amount: str, category: TaxCategory | None, rate: str | None) -> CreditRequest:
        item = DocumentAllowance(D(amount), category, D(rate) if rate is not None else None)
        return CreditRequest.correcting("GW", allowance=item, reason="goodwill")

    with pytest.raises(CorrectionError, match="nothing at VAT S 7 %; its groups: S 19 %"):
        billed.corrections.preview(
            billed.number, allowance("1.00", TaxCategory.STANDARD, "7"), LATER
        )
    with pytest.raises(BeyondCreditable, match=r"more than the 437\.29 left to credit"):
        billed.corrections.preview(billed.number, allowance("437.30", None, None), LATER)
    with pytest.raises(CorrectionError, match="more decimals than EUR allows"):
        billed.corrections.preview(billed.number, allowance("1.001", None, None), LATER)
    plan = billed.corrections.preview(billed.number, allowance("437.29", None, None), LATER)
    assert plan.creditable_after == Creditable(net=D("0.00"), gross=D("0.00"))


# --- cancellation, idempotency, refusals -------------------------------------------------


def test_cancellation_credits_the_invoice_exactly(billed: Billed) -> None:
    plan = billed.corrections.preview(
        billed.number, CreditRequest.cancelling("CANCEL", reason="wrong customer"), LATER
    )
    original = billed.invoice.document
    assert plan.issued is None
    assert plan.note.lines == [ln.model_copy(update={"price_rules": []}) for ln in original.lines]
    assert plan.note.charges == original.charges
    assert plan.note.totals.tax_inclusive_total == original.totals.tax_inclusive_total
    assert plan.creditable_after == Creditable(net=D("0.00"), gross=D("0.00"))
    assert billed.service.store.list(kind="credit_note") == [], "a preview issues nothing"


def test_the_callers_id_makes_it_idempotent(billed: Billed) -> None:
    request = returning("RMA-77", l1="1")
    first = billed.corrections.issue(billed.number, request, LATER)
    again = billed.corrections.issue(billed.number, request, LATER)
    assert first.issued.created and not again.issued.created
    assert again.issued.number == first.issued.number
    assert again.message_id == first.message_id
    assert credit_messages(billed.engine) == 1, "re-emitting is recognised as a duplicate"
    # The same id with other quantities is still that one credit note.
    other = billed.corrections.issue(billed.number, returning("RMA-77", l1="2"), LATER)
    assert other.issued.number == first.issued.number
    plan = billed.corrections.preview(billed.number, request, LATER)
    assert plan.issued is not None
    assert plan.issued.number == first.issued.number
    assert billed.service.store.invoiced_quantities("200001187")["4101"] == D(2)
    # A correction under the same id is another credit note (another key).
    correction = CreditRequest.correcting(
        "RMA-77", prices=[PriceCorrection("1", reduction=D("1"))], reason="price"
    )
    assert billed.corrections.issue(billed.number, correction, LATER).issued.created


def test_refusals_name_what_is_wrong(billed: Billed) -> None:
    corrections = billed.corrections
    with pytest.raises(NotFoundError, match="no issued invoice INV-2026-000099"):
        corrections.preview("INV-2026-000099", returning("R", l1="1"), LATER)
    note = corrections.issue(billed.number, returning("R", l1="1"), LATER).issued
    with pytest.raises(CorrectionError, match=f"{note.number} is a credit note .*{billed.number}"):
        corrections.issue(note.number, returning("R2", l1="1"), LATER)
    with pytest.raises(CorrectionError, match="has no line '9'; its lines: 1 \\(WG-4410-9\\)"):
        corrections.preview(billed.number, returning("R3", l9="1"), LATER)
    with pytest.raises(CorrectionError, match="cannot be dated 2026-11-22, before invoice"):
        corrections.preview(billed.number, returning("R4", l1="1"), ISSUE - timedelta(days=1))
    with pytest.raises(CorrectionError, match="a returned quantity must be positive"):
        returning("R5", l1="0")
    with pytest.raises(CorrectionError, match="a return names returned quantities only"):
        CreditRequest.returning("R6", {}, reason="x")
    with pytest.raises(CorrectionError, match="printable characters"):
        CreditRequest.cancelling("  ", reason="x")
    with pytest.raises(CorrectionError, match="give the reason"):
        CreditRequest.cancelling("R7", reason=" ")
    with pytest.raises(CorrectionError, match="either the new price or the reduction"):
        PriceCorrection("1")


def test_drafting_is_a_pure_function_of_the_invoice_and_its_credit_notes(billed: Billed) -> None:
    """The store-free core: the same invoice and history give the same draft."""
    request = returning("RMA-1", l3="5")
    drafted = draft_credit_note(billed.invoice, request, issue_date=LATER)
    again = draft_credit_note(billed.invoice, request, issue_date=LATER)
    assert drafted == again
    assert [(c.line_id, c.quantity) for c in drafted.claims] == [("4104", D(5))]
    issued = billed.corrections.issue(billed.number, request, LATER).issued
    assert issued.document.lines == drafted.note.lines
    after = draft_credit_note(
        billed.invoice, returning("RMA-2", l3="7"), issue_date=LATER, earlier=[issued]
    )
    assert after.note.lines[0].quantity == D(7)
    with pytest.raises(BeyondCreditable, match="8 to return, 7 left"):
        draft_credit_note(
            billed.invoice, returning("RMA-3", l3="8"), issue_date=LATER, earlier=[issued]
        )


def test_a_credit_note_issued_meanwhile_makes_the_draft_again(
    billed: Billed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drafting reads the invoice's credit notes outside the issuing transaction; if one
    was issued in between, the transaction sees it, rolls back, and the draft is redone."""
    first = billed.corrections.issue(billed.number, returning("RMA-1", l1="1"), LATER).issued
    real = billed.corrections.earlier
    calls: list[str] = []

    def stale_once(number: str) -> list[IssuedInvoice]:
        calls.append(number)
        return [] if len(calls) == 1 else real(number)

    monkeypatch.setattr(billed.corrections, "earlier", stale_once)
    second = billed.corrections.issue(billed.number, returning("RMA-2", l1="2"), LATER).issued
    assert len(calls) == 2
    assert second.number == "CRN-2026-000002", "the rolled-back attempt used no number"
    expected = draft_credit_note(
        billed.invoice, returning("RMA-2", l1="2"), issue_date=LATER, earlier=[first]
    )
    assert second.document.lines == expected.note.lines
    allowances = [first.document.lines[0].allowances[0], second.document.lines[0].allowances[0]]
    assert sum(a.amount for a in allowances) == billed.line("1").allowances[0].amount


def test_a_credit_note_never_exceeds_what_is_left_on_the_invoice(billed: Billed) -> None:
    """Checked against the store's creditable totals before issuing: a gross over only by
    VAT rounding lowers the net by that difference; anything more is refused."""
    cancel = CreditRequest.cancelling("C", reason="x")
    full = billed.invoice
    left = Creditable(net=full.net_total, gross=full.gross_total - D("0.01"))
    drafted = draft_credit_note(full, cancel, issue_date=LATER, creditable=left)
    rounding = [a for a in drafted.note.allowances if a.reason == ROUNDING]
    assert [(a.amount, a.tax_category, a.tax_rate) for a in rounding] == [
        (D("0.01"), TaxCategory.STANDARD, D(19))
    ]
    assert drafted.note.totals.tax_inclusive_total <= left.gross
    with pytest.raises(BeyondCreditable, match=r"520\.38 gross EUR exceeds the 519\.38 gross"):
        draft_credit_note(
            full,
            cancel,
            issue_date=LATER,
            creditable=Creditable(net=full.net_total, gross=full.gross_total - D(1)),
        )
    with pytest.raises(BeyondCreditable, match=r"437\.29 net EUR exceeds the 437\.28 net"):
        draft_credit_note(
            full,
            cancel,
            issue_date=LATER,
            creditable=Creditable(net=full.net_total - D("0.01"), gross=full.gross_total),
        )


# --- generated invoices -----------------------------------------------------------------


@dataclass
class World:
    engine: Engine
    ingestor: Ingestor
    counter: Iterator[int]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path = tmp_path_factory.mktemp("corrections")
    engine = make_engine(f"sqlite:///{path / 'hub.db'}")
    migrate.upgrade(engine)
    (path / "routes.yaml").write_text("targets: {}\nroutes: []\n", encoding="utf-8")
    ingestor = Ingestor(engine, load_routes(path / "routes.yaml", MAPPINGS), MAPPINGS)
    yield World(engine, ingestor, itertools.count())
    ingestor.writer.close()
    engine.dispose()


def _open_quantity(line: Any, notes: list[IssuedInvoice]) -> Decimal:
    returned = sum(
        (
            credited.quantity
            for n in notes
            if n.source_key.startswith("return:")
            for credited in n.document.lines
            if credited.line_id == line.line_id and credited.sku == line.sku
        ),
        D(0),
    )
    return line.quantity - returned


def _quantity(draw: Any, open_quantity: Decimal, step: Decimal) -> Decimal:
    how = draw(st.sampled_from(["all", "half", "one"]))
    if how == "all":
        return open_quantity
    if how == "half":
        half = (open_quantity / 2).quantize(step, rounding=ROUND_DOWN)
        return half if half > 0 else open_quantity
    return min(open_quantity, step)


def _step(quantity: Decimal) -> Decimal:
    exponent = quantity.as_tuple().exponent
    assert isinstance(exponent, int)
    return D(1).scaleb(min(exponent, 0))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=invoices(), data=st.data())
def test_generated_invoices_credited_at_random_stay_valid_and_within_the_invoice(
    world: World, document: Invoice, data: st.DataObject
) -> None:
    k = next(world.counter)
    service = InvoicingService(
        world.engine,
        world.ingestor,
        InvoicingSettings(
            seller=SETTINGS.seller,
            series=f"I{k}",
            pattern="{series}-{n:06d}",
            credit_series=f"C{k}",
            credit_pattern="{series}-{n:06d}",
        ),
    )
    store = service.store
    if document.order_reference:
        document = document.model_copy(
            update={"order_reference": f"{document.order_reference}-{k}"}
        )
    claims = claims_for(document)
    invoice = store.issue(
        document,
        series=f"I{k}",
        source_key=f"generated:{k}",
        claims=claims,
        shipped={(c.order_number, c.line_id): c.quantity for c in claims},
    )
    corrections = Corrections(service)
    day = document.issue_date + timedelta(days=data.draw(st.integers(0, 40), label="days"))
    positive = [ln for ln in document.lines if ln.quantity > 0]
    odd_lines = len(positive) < len(document.lines)
    # EN 16931 carries at most two decimals, and Peppol wants quantity × price within 0.02
    # of the line amount (R120): in KWD (three decimals) prorated amounts cannot be sent,
    # in JPY (none) a part of a line may not be a whole amount. There, whole lines only.
    places = money.minor_units(document.currency)
    issued: list[IssuedInvoice] = []

    def attempt(request: CreditRequest, *, may_refuse: tuple[type[Exception], ...]) -> None:
        before = store.creditable(invoice.number)
        try:
            done = corrections.issue(invoice.number, request, day)
        except may_refuse as exc:
            note(f"refused: {exc}")
            event(f"{request.kind} refused: {type(exc).__name__}")
            assert store.creditable(invoice.number) == before
            return
        credit = done.issued
        totals = credit.document.totals
        note(f"{request.kind} {request.reference}: {credit.net_total} / {credit.gross_total}")
        event(f"{request.kind} issued")
        if credit.document.charged_tax:
            event("VAT taken from the invoice")
        if any(a.reason == ROUNDING for a in credit.document.allowances):
            event("net lowered by a VAT rounding difference")
        assert 0 < totals.tax_inclusive_total <= before.gross
        assert totals.tax_exclusive_total <= before.net
        after = store.creditable(invoice.number)
        assert after.gross >= 0
        assert after.net >= 0 or odd_lines
        if document.order_reference:
            assert all(q >= 0 for q in store.invoiced_quantities(document.order_reference).values())
        assert_valid_ubl(credit.document)
        issued.append(credit)

    steps = data.draw(st.integers(0, 4), label="steps") if places < 3 else 0
    for step in range(steps):
        kinds = ["return", "return", "return", "price", "allowance"] if places == 2 else ["return"]
        what = data.draw(st.sampled_from(kinds))
        if what == "return":
            open_lines = [ln for ln in positive if _open_quantity(ln, issued) > 0]
            if not open_lines:
                continue
            chosen = data.draw(st.lists(st.sampled_from(open_lines), min_size=1, unique_by=id))
            quantities = {
                ln.line_id: (
                    _quantity(data.draw, _open_quantity(ln, issued), _step(ln.quantity))
                    if places == 2
                    else _open_quantity(ln, issued)
                )
                for ln in chosen
            }
            refusals: tuple[type[Exception], ...] = (NothingToCredit,)
            if odd_lines:  # a negative line billed less than the goods are worth
                refusals = (NothingToCredit, BeyondCreditable)
            attempt(
                CreditRequest.returning(f"R{step}", quantities, reason="returned"),
                may_refuse=refusals,
            )
        elif what == "price":
            priced = [ln for ln in positive if ln.unit_price > 0]
            if not priced:
                continue
            line = data.draw(st.sampled_from(priced))
            share = data.draw(st.sampled_from([D(0), D("0.5"), D("0.9")]))
            price = (line.unit_price * share).quantize(D("0.01"), rounding=ROUND_DOWN)
            request = CreditRequest.correcting(
                f"P{step}", prices=[PriceCorrection(line.line_id, new_price=price)], reason="price"
            )
            attempt(request, may_refuse=(CorrectionError,))  # e.g. rounds to 0, or already lower
        else:
            group = data.draw(st.sampled_from(document.vat_breakdown))
            amount = (group.taxable_amount / 10).quantize(D("0.01"), rounding=ROUND_DOWN)
            if amount <= 0:
                continue
            item = DocumentAllowance(amount, group.category, group.rate, reason="Goodwill")
            request = CreditRequest.correcting(f"A{step}", allowance=item, reason="goodwill")
            attempt(request, may_refuse=(BeyondCreditable,))

    attempt(CreditRequest.cancelling("CANCEL", reason="cancelled"), may_refuse=(NothingToCredit,))
    left = store.creditable(invoice.number)
    rounded = any(a.reason == ROUNDING for n in issued for a in n.document.allowances)
    if not odd_lines and invoice.gross_total > 0:
        if places == 2 and not rounded:  # everything was credited, to the cent
            assert left == Creditable(net=D(0), gross=D(0)), left
        else:  # no decimals: each credit note's VAT rounds on its own (BR-CO-17 allows < 1)
            unit = D(1).scaleb(-places)
            most = unit * len(issued) * len(document.vat_breakdown)
            assert D(0) <= left.gross <= most, left
            assert D(0) <= left.net <= most, left
    if issued and issued[-1].source_key.endswith(":CANCEL") and document.order_reference:
        claimed = {c.line_id for c in claims}
        invoiced = store.invoiced_quantities(document.order_reference)
        assert all(invoiced[line] == 0 for line in claimed), invoiced


# --- the command ------------------------------------------------------------------------


@pytest.fixture
def cli(billed: Billed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Billed:
    """``o2c`` configured for the billed hub (run in-process with typer's CliRunner)."""
    billed.ingestor.writer.close()
    billed.engine.dispose()
    (tmp_path / "hub.yaml").write_text(
        "invoicing:\n"
        "  seller:\n"
        "    name: Nordwerk Industriebedarf GmbH\n"
        "    tax_id: DE811907980\n"
        "    contact: Accounts receivable\n"
        "    email: ar@nordwerk.example\n"
        "    phone: +49 40 555 0100\n"
        "    iban: DE02120300000000202051\n"
        "    bic: BYLADEM1001\n"
        "    payment_terms: 2/10 net 30\n"
        "    address:\n"
        "      {lines: [Hafenstrasse 1], city: Hamburg, postal_code: '20457', country: DE}\n",
        encoding="utf-8",
    )
    for name in [n for n in os.environ if n.startswith("O2C_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("O2C_CONFIG", str(tmp_path / "hub.yaml"))
    monkeypatch.setenv("O2C_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    monkeypatch.setenv("O2C_ROUTES_FILE", str(tmp_path / "routes.yaml"))
    monkeypatch.setenv("O2C_MAPPINGS_PATHS", str(MAPPINGS[0]))
    monkeypatch.setattr(output.out, "_width", 200)
    return billed


def o2c(*args: str) -> Any:
    return CliRunner().invoke(cli_main.app, list(args))


def test_cli_credit_returns_corrections_and_cancellation(cli: Billed) -> None:
    number = cli.number
    base = ["invoice", "credit", number, "--issue-date", "2026-11-24"]

    preview = o2c(
        *base,
        "--id",
        "RMA-123",
        "--line",
        "1=1",
        "--line",
        "3=2",
        "--reason",
        "broken",
        "--dry-run",
    )
    assert preview.exit_code == 0, preview.output
    assert "Credit note preview for invoice INV-2026-000001: return RMA-123" in preview.stdout
    assert "WG-4410-9" in preview.stdout and "-2.29 B2B10" in preview.stdout
    assert "dry run: nothing issued; 444.14 EUR gross would be left to credit" in preview.stdout
    assert o2c("invoice", "list", "--json").stdout.count("credit_note") == 0

    issued = o2c(*base, "--id", "RMA-123", "--line", "1=1", "--line", "3=2", "--reason", "broken")
    assert issued.exit_code == 0, issued.output
    assert (
        "credit note CRN-2026-000001 issued for return RMA-123 of invoice INV-2026-000001; "
        "444.14 EUR gross left to credit"
    ) in issued.stdout
    assert "note: Return RMA-123 for invoice INV-2026-000001: broken" in " ".join(
        issued.stdout.split()
    )
    again = o2c(*base, "--id", "RMA-123", "--line", "1=1", "--reason", "broken")
    assert again.exit_code == 0, again.output
    assert (
        "credit note CRN-2026-000001 was already issued (nothing new) for return RMA-123"
    ) in again.stdout
    dry = o2c(*base, "--id", "RMA-123", "--line", "1=1", "--reason", "broken", "--dry-run")
    assert "dry run: credit note CRN-2026-000001 was already issued" in dry.stdout

    beyond = o2c(*base, "--id", "RMA-124", "--line", "1=3", "--reason", "broken")
    assert isinstance(beyond.exception, BeyondCreditable)
    assert "line 1 (WG-4410-9): 3 to return, 2 left to credit" in str(beyond.exception)

    price = o2c(
        *base, "--id", "PC-1", "--price", "3=20", "--price", "4=-0.82", "--reason", "contract"
    )
    assert price.exit_code == 0, price.output
    assert "credit note CRN-2026-000002 issued for correction PC-1" in price.stdout
    allowance = o2c(
        *base, "--id", "GW-1", "--allowance", "10.00", "--category", "s", "--rate", "19",
        "--reason", "late",
    )  # fmt: skip
    assert allowance.exit_code == 0, allowance.output
    assert "ALLOWANCE" in allowance.stdout

    credit_note = o2c("invoice", "credit", "CRN-2026-000001", "--id", "X", "--all", "--reason", "r")
    assert isinstance(credit_note.exception, CorrectionError)
    assert str(credit_note.exception) == (
        "CRN-2026-000001 is a credit note (it corrects INV-2026-000001); credit the invoice itself"
    )
    unknown = o2c("invoice", "credit", "INV-2026-000099", "--id", "X", "--all", "--reason", "r")
    assert isinstance(unknown.exception, NotFoundError)

    cancel = o2c(*base, "--id", "CANCEL", "--all", "--reason", "order cancelled")
    assert cancel.exit_code == 0, cancel.output
    assert "0.00 EUR gross left to credit" in cancel.stdout
    nothing = o2c(*base, "--id", "CANCEL-2", "--all", "--reason", "again")
    assert isinstance(nothing.exception, NothingToCredit)
    assert str(nothing.exception).startswith("invoice INV-2026-000001 has nothing left to credit")

    listed = json.loads(o2c("invoice", "list", "--json").stdout)
    assert [(i["number"], i["kind"], i["preceding_invoice"]) for i in listed] == [
        ("CRN-2026-000001", "credit_note", "INV-2026-000001"),
        ("CRN-2026-000002", "credit_note", "INV-2026-000001"),
        ("CRN-2026-000003", "credit_note", "INV-2026-000001"),
        ("CRN-2026-000004", "credit_note", "INV-2026-000001"),
        ("INV-2026-000001", "invoice", None),
    ]  # by series, then number
    table = o2c("invoice", "list")
    assert "CRN-2026-000004" in table.stdout and "corrects" in table.stdout
    shown = json.loads(o2c("invoice", "show", "CRN-2026-000001").stdout)
    assert (shown["kind"], shown["type_code"], shown["preceding_invoice"]) == (
        "credit_note",
        "381",
        "INV-2026-000001",
    )
    exported = o2c("invoice", "export", "CRN-2026-000004", "--format", "ubl")
    assert exported.exit_code == 0, exported.output
    xml = exported.stdout_bytes
    assert etree.fromstring(xml).tag == CREDIT_NOTE_ROOT
    assert validate_ubl(xml).valid, validate_ubl(xml).problems()
    for format_ in ("cii", "json"):
        assert o2c("invoice", "export", "CRN-2026-000002", "--format", format_).exit_code == 0


def test_cli_errors_are_one_line_and_usage_is_checked(
    cli: Billed, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli_main.run(
        ["invoice", "credit", cli.number, "--id", "R", "--line", "2=7", "--reason", "x"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: invoice INV-2026-000001 line 2 (HVV-200-L-Yellow): 7 to return")
    for args in (
        ["--line", "1=1", "--all"],
        ["--line", "1"],
        ["--line", "1=x"],
        ["--rate", "19", "--all"],
        ["--allowance", "5", "--category", "Q", "--rate", "19"],
        [],
    ):
        result = o2c("invoice", "credit", cli.number, "--id", "R", "--reason", "x", *args)
        assert result.exit_code == 2, (args, result.output)


def test_export_of_an_intra_community_credit_note_carries_the_delivery_date(
    cli: Billed,
) -> None:
    """BR-IC-11 wants the delivery date of a K supply; the credit note takes its invoice's."""
    engine = make_engine(os.environ["O2C_DATABASE_URL"])
    service = InvoicingService(engine, cli.ingestor, SETTINGS)
    document = _small_invoice([("1", "2", "10.00", "K", "0")]).model_copy(
        update={
            "tax_point_date": ISSUE,
            "delivery_address": _small_invoice([("1", "1", "1", "S", "19")]).buyer_address,
            "exemption_reasons": {TaxCategory.INTRA_COMMUNITY: "Intra-Community supply"},
        }
    )
    invoice = service.store.issue(document, series="INV", source_key="k", claims=[], shipped={})
    note = (
        Corrections(service)
        .preview(invoice.number, CreditRequest.cancelling("K-1", reason="x"), LATER)
        .note
    )
    engine.dispose()
    assert note.tax_point_date is None
    issued = o2c("invoice", "credit", invoice.number, "--id", "K-1", "--all", "--reason", "x",
                 "--issue-date", LATER.isoformat())  # fmt: skip
    assert issued.exit_code == 0, issued.output
    exported = o2c("invoice", "export", "CRN-2026-000001", "--format", "ubl")
    assert exported.exit_code == 0, exported.output
    assert b"<cbc:ActualDeliveryDate>2026-11-23</cbc:ActualDeliveryDate>" in exported.stdout_bytes
    assert validate_ubl(exported.stdout_bytes).valid
    assert ubl_options(SETTINGS).delivery_date is None
