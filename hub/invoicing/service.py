"""Shipments in, issued invoices out: the invoicing job of the hub.

A shipment (any adapter's canonical Shipment, stored as a message) is invoiced once, keyed
by the shipment: :meth:`InvoicingService.invoice_shipment` finds the order (the newest
version of its message), adds up what has shipped and what is already invoiced, drafts the
invoice (:mod:`hub.invoicing.drafting`), issues it (:class:`~hub.invoicing.store.
InvoiceStore`: gapless number, claims checked, immutable), and emits the issued invoice as
a message of system ``hub``, kind ``invoice``, which the routes send on (SAP journal entry,
the shop's invoice) through the outbox and queue like any document.

Crash safety: issuing is idempotent on the shipment (source key), and the invoice's message
(with its postings) is written in the issuing transaction, so an invoice exists exactly
when its postings are queued; a retry or a replay finds the issued invoice and emits it
again, which the store recognises as a duplicate. Two processes invoicing shipments of one
order at once: the loser of the order's lock drafts again (:class:`~hub.invoicing.store.
StaleDraft`), so shipping is billed once and no line beyond what shipped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, Engine, select

from hub.canonical.invoice import Invoice
from hub.canonical.order import Order
from hub.canonical.shipment import Shipment
from hub.einvoice.ubl import PaymentInstructions, UblOptions
from hub.errors import NotFoundError
from hub.ingest import Ingestor
from hub.invoicing.credit import CreditControl
from hub.invoicing.currency import ExchangeRates
from hub.invoicing.drafting import DraftError, draft_invoice
from hub.invoicing.settings import InvoicingSettings
from hub.invoicing.store import (
    InvoiceStore,
    InvoicingError,
    IssuedInvoice,
    StaleDraft,
    claims_for,
    customer_key,
)
from hub.store.tables import external_ref_table, issued_invoice_table, message_table

__all__ = ["InvoicingService", "InvoicingSettings", "ShipmentInvoiced"]

M = message_table.c
R = external_ref_table.c
ZERO = Decimal(0)
MAX_DRAFTS = 5
"""Drafts of one shipment before giving up when the order's invoices keep changing."""


@dataclass(frozen=True)
class ShipmentInvoiced:
    issued: IssuedInvoice
    message_id: str
    """The message the issued invoice travels on (its postings are its deliveries)."""


class InvoicingService:
    """Invoices shipments stored in the hub (see the module docstring)."""

    def __init__(self, engine: Engine, ingestor: Ingestor, settings: InvoicingSettings) -> None:
        self.engine = engine
        self.ingestor = ingestor
        self.settings = settings
        self.store = InvoiceStore(engine)
        self.credit = CreditControl(engine)
        self.store.define_series(settings.series, settings.pattern)
        self.store.define_series(settings.credit_series, settings.credit_pattern)
        self._pricing = None
        if settings.pricing is not None:
            from hub.invoicing.pricing import PricingRules

            self._pricing = PricingRules.load([settings.pricing])
        self._rates = ExchangeRates.load(settings.rates_file) if settings.rates_file else None

    # ------------------------------------------------------------------ look-ups

    def order(self, order_number: str) -> Order:
        """The newest version of the order's message."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(M.canonical)
                .where(M.kind == "order", M.external_id == order_number)
                .order_by(M.version.desc())
                .limit(1)
            ).first()
        if row is None:
            raise NotFoundError(f"no order {order_number} in the hub")
        return Order.model_validate_json(row.canonical)

    def shipments(self, order_number: str) -> list[Shipment]:
        """Every shipment of the order (newest version of each)."""
        with self.engine.connect() as conn:
            ids = select(R.message_id).where(R.system == "order", R.value == order_number)
            rows = conn.execute(
                select(M.external_id, M.version, M.canonical)
                .where(M.kind == "shipment", M.id.in_(ids))
                .order_by(M.external_id, M.version)
            ).all()
        newest = {row.external_id: row.canonical for row in rows}
        return [Shipment.model_validate_json(text) for text in newest.values()]

    def shipped(
        self, order_number: str, *, including: Shipment | None = None
    ) -> dict[str, Decimal]:
        """Per order line, what the order's shipments shipped in all (``including`` one
        being invoiced as it arrives, before it is stored)."""
        shipments = self.shipments(order_number)
        if including is not None and including.shipment_number not in {
            s.shipment_number for s in shipments
        }:
            shipments.append(including)
        totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for shipment in shipments:
            for line in shipment.lines:
                totals[line.order_line_id] += line.quantity
        return dict(totals)

    # ------------------------------------------------------------------ invoicing

    def draft(self, shipment: Shipment, issue_date: date) -> Invoice:
        """The invoice ``shipment`` would produce now (nothing is issued)."""
        return self._draft(shipment, issue_date)[0]

    def _draft(self, shipment: Shipment, issue_date: date) -> tuple[Invoice, dict[str, Decimal]]:
        """The draft and what it assumed was already invoiced of the order's lines."""
        order = self.order(shipment.order_number)
        already, parts = self.store.invoiced_history(order.order_number)
        draft = draft_invoice(
            order,
            shipment,
            seller=self.settings.seller,
            issue_date=issue_date,
            already_invoiced=already,
            invoiced_parts=parts,
            pricing=self._pricing,
            tax=self.settings.tax,
            rates=self._rates,
        )
        return draft, already

    def invoice_shipment(self, shipment: Shipment, issue_date: date) -> ShipmentInvoiced:
        """Issue (once) and emit the invoice of ``shipment``.

        Drafting reads the order's invoices outside any lock; issuing checks, under the
        order's lock, that nothing was invoiced meanwhile (another process invoicing
        another shipment of the order, or this one), and the draft is made again if so.
        The invoice's message and its postings are written in the issuing transaction:
        an invoice is never issued without being sent on.
        """
        key = _source_key(shipment)
        emitted: list[str] = []

        def emit(conn: Connection, issued: IssuedInvoice) -> None:
            result = self.ingestor.ingest_canonical("hub", issued.kind, issued.document, conn=conn)
            emitted.append(result.message_id)

        for _ in range(MAX_DRAFTS):
            earlier = self.store.by_source_key(key)
            if earlier is not None:
                return self._emitted(earlier)
            try:
                draft, already = self._draft(shipment, issue_date)
            except DraftError:
                earlier = self.store.by_source_key(key)  # another process was quicker
                if earlier is not None:
                    return self._emitted(earlier)
                raise
            self.credit.check(
                order_number=shipment.order_number,
                customer=customer_key(draft.buyer),
                buyer=draft.buyer,
                amount=draft.totals.payable_amount,
                currency=draft.currency,
            )
            shipped = self.shipped(shipment.order_number, including=shipment)
            try:
                issued = self.store.issue(
                    draft,
                    series=self.settings.series,
                    source_key=key,
                    claims=claims_for(draft),
                    shipped=shipped,
                    in_transaction=emit,
                    expect_invoiced=already,
                )
            except StaleDraft:
                emitted.clear()
                continue
            if not issued.created:  # issued by another process meanwhile
                return self._emitted(issued)
            return ShipmentInvoiced(issued, emitted[-1])
        raise InvoicingError(
            f"shipment {shipment.shipment_number} of order {shipment.order_number}: the "
            f"order's invoices changed {MAX_DRAFTS} times while it was drafted; try again"
        )

    def _emitted(self, issued: IssuedInvoice) -> ShipmentInvoiced:
        """An invoice issued earlier, emitted again: the store recognises the duplicate
        (and an invoice issued before emitting moved into its transaction gets sent)."""
        result = self.ingestor.ingest_canonical("hub", issued.kind, issued.document)
        return ShipmentInvoiced(issued, result.message_id)

    def uninvoiced_shipments(self, until: date | None = None) -> list[Shipment]:
        """Stored shipments with no invoice yet (shipped on or before ``until``)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(M.external_id, M.version, M.canonical)
                .where(M.kind == "shipment")
                .order_by(M.received_at, M.external_id, M.version)
            ).all()
        newest: dict[str, str] = {}
        for row in rows:
            newest[row.external_id] = row.canonical
        with self.engine.connect() as conn:
            issued = set(
                conn.scalars(
                    select(issued_invoice_table.c.source_key).where(
                        issued_invoice_table.c.source_key.like("shipment:%")
                    )
                )
            )
        found = []
        for text in newest.values():
            shipment = Shipment.model_validate_json(text)
            if until is not None and shipment.shipped_at.date() > until:
                continue
            if _source_key(shipment) not in issued:
                found.append(shipment)
        return found


def ubl_options(settings: InvoicingSettings) -> UblOptions:
    """How the seller's invoices become UBL: payment instructions (BG-16) from its account."""
    seller = settings.seller
    payment = None
    if seller.iban:
        payment = PaymentInstructions(
            means_code="58",  # SEPA credit transfer (UNTDID 4461)
            account_id=seller.iban,
            account_name=seller.name,
            provider_id=seller.bic,
        )
    return UblOptions(payment=payment)


def _source_key(shipment: Shipment) -> str:
    return f"shipment:{shipment.order_number}:{shipment.shipment_number}"
