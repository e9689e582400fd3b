"""Issuing invoices and credit notes: numbers, claims, idempotency, credit rules, immutability.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from hub.canonical import CreditNote, Invoice
from hub.invoicing.numbering import NumberingError, UnknownSeries
from hub.invoicing.store import (
    ClaimMismatch,
    Creditable,
    CreditNoteRefused,
    InvoiceStore,
    InvoicingError,
    IssuedInvoice,
    LineClaim,
    OverClaimed,
    SourceKeyConflict,
    claims_for,
    customer_key,
)
from hub.store.tables import invoice_line_claim_table, issued_invoice_table
from tests.pipeline_support import make_store

D = Decimal
DAY = date(2026, 3, 5)
SELLER = {"name": "Seller AG", "tax_id": "DE123456789"}
ADDRESS = {"lines": ["Hauptstr. 1"], "city": "Berlin", "postal_code": "10115", "country": "DE"}


def draft(
    order: str | None = "SO-1",
    lines: Sequence[tuple[str, str]] = (("10", "2"),),
    *,
    price: str = "10.00",
    buyer: dict[str, Any] | None = None,
    currency: str = "EUR",
    issue_date: date = DAY,
    credit_of: str | None = None,
    **extra: Any,
) -> Invoice:
    """A draft (number ``DRAFT``): one line per (order line id, quantity), 19 % VAT."""
    data: dict[str, Any] = {
        "invoice_number": "DRAFT",
        "issue_date": issue_date.isoformat(),
        "currency": currency,
        "order_reference": order,
        "seller": SELLER,
        "seller_address": ADDRESS,
        "buyer": buyer or {"name": "Buyer GmbH", "external_ids": {"sap": "1000123"}},
        "buyer_address": {"city": "Wien", "country": "AT"},
        "lines": [
            {
                "line_id": str(i + 1),
                "order_line_id": line_id,
                "sku": f"SKU-{line_id}",
                "name": f"Item {line_id}",
                "quantity": quantity,
                "unit_price": price,
                "tax_category": "S",
                "tax_rate": "19",
            }
            for i, (line_id, quantity) in enumerate(lines)
        ],
        **extra,
    }
    if credit_of is not None:
        return CreditNote.model_validate({**data, "preceding_invoice": credit_of})
    return Invoice.model_validate(data)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    engine, _ = make_store(request.param, tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> InvoiceStore:
    store = InvoiceStore(engine)
    store.define_series("INV", "INV-{year}-{n:06d}")
    store.define_series("CRN", "CRN-{year}-{n:06d}")
    return store


def invoice(
    store: InvoiceStore,
    key: str,
    doc: Invoice | None = None,
    *,
    shipped: dict[str, Decimal] | None = None,
    series: str = "INV",
) -> IssuedInvoice:
    doc = doc or draft()
    return store.issue(
        doc,
        series=series,
        source_key=key,
        claims=claims_for(doc),
        shipped=shipped if shipped is not None else {"10": D(2)},
    )


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(issued_invoice_table)).scalar())


# --- issuing ----------------------------------------------------------------------------


def test_issue_numbers_stores_and_reads_back(store: InvoiceStore) -> None:
    first = invoice(store, "ship-1")
    assert (first.series, first.seq, first.number, first.kind, first.created) == (
        "INV",
        1,
        "INV-2026-000001",
        "invoice",
        True,
    )
    assert (first.net_total, first.tax_total, first.gross_total) == (
        D("20.00"),
        D("3.80"),
        D("23.80"),
    )
    assert first.customer == "sap:1000123"
    assert first.order_number == "SO-1"
    document = first.document
    assert document.invoice_number == "INV-2026-000001"
    assert document.totals.tax_inclusive_total == D("23.80")
    assert first.intact

    stored = store.get("INV-2026-000001")
    assert stored == first
    assert store.get("INV-2026-000002") is None
    assert store.by_source_key("ship-1") == first

    second = invoice(store, "ship-2", draft("SO-2"))
    assert second.number == "INV-2026-000002"
    assert [i.number for i in store.list()] == ["INV-2026-000001", "INV-2026-000002"]
    assert [i.number for i in store.list(order_number="SO-2")] == ["INV-2026-000002"]
    assert store.list(kind="credit_note") == []
    assert [i.number for i in store.list(limit=1, offset=1)] == ["INV-2026-000002"]
    assert len(store.list(customer="sap:1000123", issued_from=DAY, issued_to=DAY)) == 2


def test_issue_refuses_an_undefined_series(store: InvoiceStore, engine: Engine) -> None:
    with pytest.raises(UnknownSeries, match="'INV/2027'"):
        invoice(store, "ship-1", series="INV/2027")
    assert count(engine) == 0


def test_numbers_follow_issue_dates(store: InvoiceStore) -> None:
    invoice(store, "ship-1")
    earlier = draft("SO-2", issue_date=date(2026, 3, 4))
    with pytest.raises(NumberingError, match="INV-2026-000001 is dated 2026-03-05"):
        invoice(store, "ship-2", earlier)
    # The refused attempt used no number.
    assert invoice(store, "ship-3", draft("SO-3")).number == "INV-2026-000002"


# --- immutability -----------------------------------------------------------------------


def test_issued_invoices_cannot_be_updated_or_deleted(store: InvoiceStore, engine: Engine) -> None:
    issued = invoice(store, "ship-1")
    statements = [
        "UPDATE issued_invoice SET gross_total = '1.00'",
        "UPDATE issued_invoice SET number = 'INV-X' WHERE number = 'INV-2026-000001'",
        "DELETE FROM issued_invoice",
        "UPDATE invoice_line_claim SET quantity = '0'",
        "DELETE FROM invoice_line_claim",
    ]
    if engine.dialect.name == "postgresql":
        statements += ["TRUNCATE issued_invoice CASCADE", "TRUNCATE invoice_line_claim"]

    def run(statement: str) -> None:
        with engine.begin() as conn:
            conn.execute(text(statement))

    for statement in statements:
        with pytest.raises(IntegrityError, match="issued invoices are immutable"):
            run(statement)
    assert store.get(issued.number) == issued
    assert store.invoiced_quantities("SO-1") == {"10": D(2)}
    assert not hasattr(store, "update")
    assert not hasattr(store, "delete")


# --- claims -----------------------------------------------------------------------------


def test_no_line_is_invoiced_beyond_what_shipped(store: InvoiceStore, engine: Engine) -> None:
    three = draft(lines=[("10", "3"), ("20", "1")])
    shipped = {"10": D(3), "20": D(1)}
    invoice(store, "ship-1", three, shipped=shipped)

    # Two more of line 10 ship; the next invoice claims three of them.
    with pytest.raises(OverClaimed) as info:
        invoice(store, "ship-2", draft(lines=[("10", "3")]), shipped={"10": D(5), "20": D(1)})
    (problem,) = info.value.problems
    assert (problem.order_number, problem.line_id, problem.requested, problem.left) == (
        "SO-1",
        "10",
        D(3),
        D(2),
    )
    assert str(info.value) == (
        "cannot invoice beyond what shipped: order SO-1 line 10: 3 requested, 2 left "
        "(shipped 5, already invoiced 3)"
    )
    assert info.value.status == 409
    assert count(engine) == 1

    # A line that never shipped, and one missing from `shipped`, are refused as well.
    with pytest.raises(OverClaimed, match="line 30: 1 requested, 0 left"):
        invoice(store, "ship-2", draft(lines=[("30", "1")]), shipped={"30": D(0)})
    with pytest.raises(OverClaimed, match="line 40: 1 requested, 0 left"):
        invoice(store, "ship-2", draft(lines=[("40", "1")]), shipped={})

    # Exactly what is left passes, and the refusals used no number.
    ok = invoice(store, "ship-2", draft(lines=[("10", "2")]), shipped={"10": D(5)})
    assert ok.number == "INV-2026-000002"
    assert store.invoiced_quantities("SO-1") == {"10": D(5), "20": D(1)}
    with pytest.raises(OverClaimed, match=r"line 10: 0\.5 requested, 0 left"):
        invoice(store, "ship-3", draft(lines=[("10", "0.5")]), shipped={"10": D(5)})


def test_claims_must_match_the_invoice_lines(store: InvoiceStore) -> None:
    doc = draft(lines=[("10", "2"), ("10", "1")])
    assert claims_for(doc) == [LineClaim("SO-1", "10", D(3))]
    with pytest.raises(ClaimMismatch, match="document invoices 3, the claims say 2"):
        store.issue(
            doc,
            series="INV",
            source_key="ship-1",
            claims=[LineClaim("SO-1", "10", D(2))],
            shipped={"10": D(9)},
        )
    with pytest.raises(InvoicingError, match="must be positive"):
        store.issue(
            doc,
            series="INV",
            source_key="ship-1",
            claims=[LineClaim("SO-1", "10", D(3)), LineClaim("SO-1", "20", D(0))],
            shipped={"10": D(9)},
        )


def test_claims_on_several_orders_key_shipped_by_order(store: InvoiceStore) -> None:
    doc = draft(None, lines=[("10", "1")])  # a collective invoice names no single order
    claims = [LineClaim("SO-1", "10", D(1)), LineClaim("SO-2", "10", D(1))]
    with pytest.raises(InvoicingError, match="by \\(order number, line id\\)"):
        store.issue(doc, series="INV", source_key="k", claims=claims, shipped={"10": D(1)})
    issued = store.issue(
        doc,
        series="INV",
        source_key="k",
        claims=claims,
        shipped={("SO-1", "10"): D(1), ("SO-2", "10"): D(1)},
    )
    assert issued.order_number is None
    assert store.invoiced_quantities("SO-2") == {"10": D(1)}


# --- idempotency ------------------------------------------------------------------------


def test_reissuing_a_source_key_returns_the_first_invoice(
    store: InvoiceStore, engine: Engine
) -> None:
    first = invoice(store, "shipment-77")
    # A retry after a timeout, or a replayed shipment event: even with a changed draft
    # and a larger shipped quantity, the first invoice is the answer and nothing is claimed.
    again = invoice(store, "shipment-77", draft(price="11.00"), shipped={"10": D(4)})
    assert again.created is False
    assert again.number == first.number
    assert again.gross_total == first.gross_total
    assert count(engine) == 1
    assert store.invoiced_quantities("SO-1") == {"10": D(2)}
    with pytest.raises(SourceKeyConflict, match="issued as invoice INV-2026-000001"):
        invoice(store, "shipment-77", series="CRN")
    assert invoice(store, "shipment-78", draft("SO-2")).number == "INV-2026-000002"


# --- credit notes -----------------------------------------------------------------------


def test_credit_notes_correct_an_issued_invoice(store: InvoiceStore, engine: Engine) -> None:
    inv = invoice(store, "ship-1", draft(lines=[("10", "2")], price="50.00"))  # 119.00 gross
    assert store.creditable(inv.number).gross == D("119.00")

    first = store.issue(
        draft(lines=[("10", "1")], price="50.00", credit_of=inv.number),
        series="CRN",
        source_key="rma-1",
        claims=[],
        shipped={},
    )
    assert (first.kind, first.number, first.preceding_invoice) == (
        "credit_note",
        "CRN-2026-000001",
        inv.number,
    )
    note = first.document
    assert isinstance(note, CreditNote)
    assert note.preceding_invoice_date == DAY  # BT-26 filled in from the invoice
    assert store.creditable(inv.number).gross == D("59.50")
    assert store.list(preceding_invoice=inv.number) == [first]

    # More than is left: refused, naming the amounts; no number used.
    with pytest.raises(CreditNoteRefused, match=r"119\.00 gross .* exceeds the 59\.50 gross"):
        store.issue(
            draft(lines=[("10", "2")], price="50.00", credit_of=inv.number),
            series="CRN",
            source_key="rma-2",
            claims=[],
            shipped={},
        )
    rest = store.issue(
        draft(lines=[("10", "1")], price="50.00", credit_of=inv.number),
        series="CRN",
        source_key="rma-2",
        claims=[],
        shipped={},
    )
    assert rest.number == "CRN-2026-000002"
    assert store.creditable(inv.number) == Creditable(net=D("0.00"), gross=D("0.00"))
    with pytest.raises(CreditNoteRefused, match=r"exceeds the 0\.00 gross"):
        store.issue(
            draft(lines=[("10", "1")], price="0.01", credit_of=inv.number),
            series="CRN",
            source_key="rma-3",
            claims=[],
            shipped={},
        )
    assert count(engine) == 3


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"credit_of": "INV-2026-000099"}, "INV-2026-000099, which was never issued"),
        ({"currency": "USD"}, "is in EUR; the credit note is in USD"),
        (
            {"buyer": {"name": "Buyer GmbH", "external_ids": {"sap": "1000999"}}},
            "issued to sap:1000123, not to sap:1000999",
        ),
        ({"buyer": {"name": "Buyer GmbH", "tax_id": "ATU1"}}, "issued to sap:1000123"),
        ({"issue_date": date(2026, 3, 4)}, "dated 2026-03-04, before invoice"),
        ({"preceding_invoice_date": "2026-03-01"}, "was issued on 2026-03-05, not on 2026-03-01"),
        ({"lines": [("10", "-1")]}, "a positive amount"),
    ],
)
def test_credit_note_rules(store: InvoiceStore, changes: dict[str, Any], why: str) -> None:
    inv = invoice(store, "ship-1")
    kwargs: dict[str, Any] = {"credit_of": inv.number, **changes}
    with pytest.raises(CreditNoteRefused) as info:
        store.issue(draft(**kwargs), series="CRN", source_key="rma", claims=[], shipped={})
    assert why in str(info.value)
    assert store.list(kind="credit_note") == []


def test_same_customer_by_common_ids_vat_or_name(store: InvoiceStore) -> None:
    both = {"name": "Buyer GmbH", "external_ids": {"sap": "1000123", "magento": "42"}}
    inv = invoice(store, "ship-1", draft(buyer=both))
    assert inv.customer == "magento:42|sap:1000123"
    # The credit note's buyer names only one of the systems: still the same customer.
    note = draft(credit_of=inv.number, price="1.00", buyer={"external_ids": {"magento": "42"}})
    store.issue(note, series="CRN", source_key="rma-1", claims=[], shipped={})

    by_vat = invoice(store, "ship-2", draft("SO-2", buyer={"tax_id": "ATU 1234"}))
    assert by_vat.customer == "vat:ATU1234"
    note = draft("SO-2", credit_of=by_vat.number, price="1.00", buyer={"tax_id": "atu1234"})
    store.issue(note, series="CRN", source_key="rma-2", claims=[], shipped={})
    with pytest.raises(InvoicingError, match="no id, VAT id or name"):
        customer_key(draft(buyer={"email": "x@example.com"}).buyer)


def test_a_credit_note_cannot_be_credited(store: InvoiceStore) -> None:
    inv = invoice(store, "ship-1")
    note = store.issue(
        draft(credit_of=inv.number, price="1.00"),
        series="CRN",
        source_key="rma-1",
        claims=[],
        shipped={},
    )
    with pytest.raises(CreditNoteRefused, match="is a credit note; credit the invoice itself"):
        store.issue(
            draft(credit_of=note.number, price="1.00"),
            series="CRN",
            source_key="rma-2",
            claims=[],
            shipped={},
        )
    with pytest.raises(InvoicingError, match="no issued invoice"):
        store.creditable(note.number)


def test_a_credit_note_gives_quantity_back_for_reinvoicing(store: InvoiceStore) -> None:
    """Cancel and re-issue: a full credit note returns the claims; the corrected
    invoice may then claim them again, and no more."""
    wrong = invoice(store, "ship-1", draft(price="12.00"))
    assert store.invoiced_quantities("SO-1") == {"10": D(2)}
    with pytest.raises(OverClaimed, match="already invoiced 2"):
        invoice(store, "ship-1-corrected", draft(price="10.00"))

    # Giving back more than the invoice claimed is refused.
    with pytest.raises(OverClaimed, match=r"give back more .* 3 requested, 2 left"):
        store.issue(
            draft(credit_of=wrong.number, price="1.00", lines=[("10", "3")]),
            series="CRN",
            source_key="cancel-1",
            claims=[LineClaim("SO-1", "10", D(3))],
            shipped={},
        )
    store.issue(
        draft(credit_of=wrong.number, price="12.00"),
        series="CRN",
        source_key="cancel-1",
        claims=[LineClaim("SO-1", "10", D(2))],
        shipped={},
    )
    assert store.invoiced_quantities("SO-1") == {"10": D(0)}
    right = invoice(store, "ship-1-corrected", draft(price="10.00"))
    assert right.number == "INV-2026-000002"
    assert store.invoiced_quantities("SO-1") == {"10": D(2)}


# --- the issuing transaction ------------------------------------------------------------


def test_in_transaction_runs_inside_and_a_failure_uses_no_number(
    store: InvoiceStore, engine: Engine
) -> None:
    seen: list[tuple[str, int]] = []

    def enqueue(conn: Connection, issued: IssuedInvoice) -> None:
        rows = conn.execute(select(func.count()).select_from(invoice_line_claim_table)).scalar_one()
        seen.append((issued.number, int(rows)))

    doc = draft()
    issued = store.issue(
        doc,
        series="INV",
        source_key="ship-1",
        claims=claims_for(doc),
        shipped={"10": D(2)},
        in_transaction=enqueue,
    )
    assert seen == [(issued.number, 1)]

    def crash(conn: Connection, issued: IssuedInvoice) -> None:
        raise RuntimeError(f"outbox unavailable for {issued.number}")

    second = draft("SO-2")
    with pytest.raises(RuntimeError, match="outbox unavailable for INV-2026-000002"):
        store.issue(
            second,
            series="INV",
            source_key="ship-2",
            claims=claims_for(second),
            shipped={"10": D(2)},
            in_transaction=crash,
        )
    assert store.by_source_key("ship-2") is None
    assert store.invoiced_quantities("SO-2") == {}
    assert invoice(store, "ship-2", second).number == "INV-2026-000002"
