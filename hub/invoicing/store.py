"""Issued invoices and credit notes: numbered, stored once, never changed.

:meth:`InvoiceStore.issue` turns a draft (an :class:`~hub.canonical.Invoice` or
:class:`~hub.canonical.CreditNote` whose ``invoice_number`` is a placeholder) into an
issued document in one short local transaction:

1. take the transaction's locks (PostgreSQL: advisory locks on the source key, the
   orders claimed and the corrected invoice, always in the same order, so two issuers
   never deadlock; SQLite: ``BEGIN IMMEDIATE`` already serialises writers);
2. if ``source_key`` (a shipment id, a return id: whatever makes this document *this*
   document) was issued before, return that invoice: a retry or a replay never issues a
   second one;
3. check the order-line claims: an invoice may claim at most what shipped minus what
   earlier invoices claimed (credit notes that give quantity back count negative), so no
   order line is ever invoiced beyond what shipped, whatever the retries and replays;
   a credit note must correct an issued invoice of the same customer and currency and
   may not credit more than is left of it;
4. take the next number of the series (:func:`hub.invoicing.numbering.allocate`), set it
   as the document's BT-1, and insert the document and its claims.

Everything commits together or not at all, which keeps the series gapless (see
:mod:`hub.invoicing.numbering`). Nothing in the transaction talks to another system:
posting the invoice to the ERP or the shop happens after the commit, through the outbox
and the delivery queue; the ``in_transaction`` callback of :meth:`~InvoiceStore.issue`
is where that outbox row is written, so the invoice and its posting commit together.

Issued documents are immutable: the store has no update or delete, and database
triggers (migration 0004) refuse ``UPDATE`` and ``DELETE`` on ``issued_invoice`` and
``invoice_line_claim`` on both databases. A mistake is corrected with a credit note.

Amounts and quantities are stored as exact decimal text (``"119.00"``) and summed in
Python with :class:`~decimal.Decimal`, so both databases agree digit for digit.
"""

from __future__ import annotations

import builtins
import hashlib
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection, Engine, RowMapping, insert, select, text
from sqlalchemy.exc import IntegrityError

from hub.canonical.common import PartyRef
from hub.canonical.invoice import CreditNote, Invoice
from hub.clock import utcnow
from hub.errors import HubError
from hub.invoicing import numbering
from hub.store.db import is_sqlite
from hub.store.tables import invoice_line_claim_table, issued_invoice_table

IV = issued_invoice_table.c
C = invoice_line_claim_table.c
ZERO = Decimal(0)

LOCK_SPACE = 0x02C0_1A01
"""First key of the PostgreSQL advisory locks (two-int4 form) taken while issuing."""

SOURCE_KEY_MAX = 255
KINDS = ("invoice", "credit_note")


# --------------------------------------------------------------------------- errors


class InvoicingError(HubError):
    """The invoice could not be issued."""

    status = 422


@dataclass(frozen=True)
class ClaimProblem:
    """One order line a document may not claim (or give back) that much of."""

    order_number: str
    line_id: str
    requested: Decimal
    left: Decimal
    detail: str
    """e.g. ``shipped 5, already invoiced 3`` or ``invoiced 4 on INV-1, given back 3``."""

    def __str__(self) -> str:
        return (
            f"order {self.order_number} line {self.line_id}: {_text(self.requested)} "
            f"requested, {_text(self.left)} left ({self.detail})"
        )


class OverClaimed(InvoicingError):
    """An order line would be invoiced beyond what shipped (or given back beyond what
    was invoiced)."""

    status = 409

    def __init__(self, problems: Sequence[ClaimProblem], *, credit: bool = False) -> None:
        self.problems = list(problems)
        what = (
            "cannot give back more than the invoice claimed"
            if credit
            else "cannot invoice beyond what shipped"
        )
        super().__init__(f"{what}: " + "; ".join(str(p) for p in self.problems))


class ClaimMismatch(InvoicingError):
    """The claims disagree with the quantities of the document's lines."""


class CreditNoteRefused(InvoicingError):
    """The credit note does not fit the invoice it corrects."""


class StaleDraft(InvoicingError):
    """Another document of the order was issued while this one was drafted: draft again
    (what is left to invoice, and whether shipping is still to bill, may have changed)."""

    status = 409


class SourceKeyConflict(InvoicingError):
    """The source key was already used for a document of another series or kind."""

    status = 409


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class LineClaim:
    """``quantity`` of line ``line_id`` of order ``order_number``, invoiced by a document.

    On a credit note a claim gives that quantity back to the order line (it may then be
    invoiced again: cancel and re-issue). Leave a credit note's claims empty when it
    corrects a price or credits returned goods that were shipped and will not ship again.
    """

    order_number: str
    line_id: str
    quantity: Decimal


@dataclass(frozen=True)
class Creditable:
    """What is left to credit on an invoice: its totals minus its credit notes' totals."""

    net: Decimal
    gross: Decimal


@dataclass(frozen=True)
class IssuedInvoice:
    """An issued invoice or credit note as stored."""

    id: str
    series: str
    seq: int
    number: str
    kind: str
    source_key: str
    order_number: str | None
    customer: str
    currency: str
    net_total: Decimal
    tax_total: Decimal
    gross_total: Decimal
    issue_date: date
    preceding_invoice: str | None
    canonical: str
    content_hash: str
    created_at: datetime
    created: bool = field(default=True, compare=False)
    """False when :meth:`InvoiceStore.issue` returned an earlier document for the same
    source key instead of issuing one."""

    @property
    def document(self) -> Invoice:
        """The issued document (a :class:`CreditNote` for a credit note)."""
        model = CreditNote if self.kind == "credit_note" else Invoice
        return model.model_validate_json(self.canonical)

    @property
    def intact(self) -> bool:
        """True when the stored document still matches its content hash."""
        return content_hash(self.canonical) == self.content_hash


# --------------------------------------------------------------------------- helpers


def content_hash(canonical: str) -> str:
    """SHA-256 (hex) of the stored canonical JSON text, UTF-8."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def claims_for(document: Invoice) -> list[LineClaim]:
    """Claims for every line of ``document`` that names its order line (BT-132), against
    its order (BT-13); lines of the same order line are added up (a net quantity of zero
    or less claims nothing)."""
    if not document.order_reference:
        return []
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in document.lines:
        if line.order_line_id:
            totals[line.order_line_id] += line.quantity
    order = document.order_reference
    return [LineClaim(order, lid, qty) for lid, qty in totals.items() if qty > 0]


def customer_key(buyer: PartyRef) -> str:
    """How an issued document names its customer (the ``customer`` column): the buyer's
    ids in every system (``magento:42|sap:1000123``), else its VAT id, else its name."""
    if buyer.external_ids:
        key = "|".join(f"{s}:{v}" for s, v in sorted(buyer.external_ids.items()))
    elif buyer.tax_id:
        key = "vat:" + _vat(buyer.tax_id)
    elif buyer.company or buyer.name:
        key = "name:" + str(buyer.company or buyer.name)
    else:
        raise InvoicingError("the buyer (BG-7) has no id, VAT id or name")
    if len(key) > 255:
        key = "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()
    return key


def same_customer(a: PartyRef, b: PartyRef) -> bool:
    """True when two buyers are one customer: equal ids in every system both name (at
    least one); without a common system, equal VAT ids; without those, equal names."""
    common = set(a.external_ids) & set(b.external_ids)
    if common:
        return all(a.external_ids[s] == b.external_ids[s] for s in common)
    if a.tax_id and b.tax_id:
        return _vat(a.tax_id) == _vat(b.tax_id)
    if a.external_ids or b.external_ids or a.tax_id or b.tax_id:
        return False
    return bool(a.company or a.name) and (a.company or a.name) == (b.company or b.name)


def _vat(tax_id: str) -> str:
    return "".join(tax_id.split()).upper()


def _text(value: Decimal) -> str:
    return format(value, "f")


def _lock_key(kind: str, value: str) -> int:
    digest = hashlib.sha256(f"{kind}\0{value}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


def _requested(claims: Sequence[LineClaim]) -> dict[tuple[str, str], Decimal]:
    requested: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for claim in claims:
        if not claim.order_number or not claim.line_id:
            raise InvoicingError(f"a claim needs an order number and a line id: {claim}")
        if len(claim.order_number) > 255 or len(claim.line_id) > 255:
            raise InvoicingError(f"order number or line id longer than 255 characters: {claim}")
        quantity = _decimal(claim.quantity, f"claim {claim.order_number}/{claim.line_id}")
        if quantity <= 0:
            raise InvoicingError(
                f"order {claim.order_number} line {claim.line_id}: a claimed quantity must "
                f"be positive, not {_text(quantity)}"
            )
        requested[(claim.order_number, claim.line_id)] += quantity
    return dict(requested)


def _decimal(value: object, what: str) -> Decimal:
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise InvoicingError(f"{what}: {value!r} is not a number") from None
    if not number.is_finite():
        raise InvoicingError(f"{what}: {value!r} is not a finite number")
    return number


def _shipped(
    shipped: Mapping[str, Decimal] | Mapping[tuple[str, str], Decimal],
    requested: Mapping[tuple[str, str], Decimal],
) -> dict[tuple[str, str], Decimal]:
    """``shipped`` keyed by (order, line): keys may be line ids when one order is claimed."""
    orders = {order for order, _ in requested}
    result: dict[tuple[str, str], Decimal] = {}
    for key, quantity in shipped.items():
        if isinstance(key, tuple):
            full = key
        else:
            if len(orders) > 1:
                raise InvoicingError(
                    "claims name several orders: key `shipped` by (order number, line id)"
                )
            if not orders:
                continue
            full = (next(iter(orders)), key)
        result[full] = _decimal(quantity, f"shipped quantity of {full[0]}/{full[1]}")
    return result


# --------------------------------------------------------------------------- the store


class InvoiceStore:
    """Issue, read and list invoices and credit notes over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = not is_sqlite(engine)

    def define_series(self, series: str, pattern: str, *, first: int = 1) -> numbering.Series:
        """Create a number series (see :func:`hub.invoicing.numbering.define_series`)."""
        return numbering.define_series(self.engine, series, pattern, first=first)

    def issue(
        self,
        draft: Invoice,
        *,
        series: str,
        source_key: str,
        claims: Sequence[LineClaim],
        shipped: Mapping[str, Decimal] | Mapping[tuple[str, str], Decimal],
        in_transaction: Callable[[Connection, IssuedInvoice], None] | None = None,
        expect_invoiced: Mapping[str, Decimal] | None = None,
    ) -> IssuedInvoice:
        """Number and store ``draft`` (an Invoice or a CreditNote); return it as issued.

        ``source_key`` identifies what is invoiced (a shipment id, a return id); issuing
        the same key again returns the first document (``created`` False) and claims
        nothing. ``claims`` says how much of which order lines the document invoices
        (see :func:`claims_for`); on an invoice, the claims of lines that name an order
        line must equal those lines' quantities. ``shipped`` is how much of each line
        has shipped in all, keyed by line id (one order) or by (order number, line id);
        it is not used for credit notes. ``in_transaction(conn, issued)`` runs inside
        the issuing transaction after the rows are written, e.g. to enqueue the posting
        to the ERP; if it raises, nothing is issued. It runs while the series is locked:
        keep it local and short, never call another system from it. Numbers follow issue
        dates: a draft dated before the series' previous invoice is refused.
        ``expect_invoiced`` is what the draft assumed was already invoiced of the order's
        lines (:meth:`invoiced_quantities`); if another document changed it meanwhile,
        :class:`StaleDraft` is raised and nothing is issued.

        Raises :class:`OverClaimed`, :class:`ClaimMismatch`, :class:`CreditNoteRefused`,
        :class:`SourceKeyConflict`, :class:`StaleDraft`,
        :class:`~hub.invoicing.numbering.UnknownSeries` or
        another :class:`InvoicingError` / :class:`~hub.invoicing.numbering.NumberingError`;
        then no number is used.
        """
        kind = draft.kind
        numbering.check_series_key(series)
        if not source_key or len(source_key) > SOURCE_KEY_MAX:
            raise InvoicingError(f"source_key must have 1 to {SOURCE_KEY_MAX} characters")
        requested = _requested(claims)
        shipped_by_line = _shipped(shipped, requested) if kind == "invoice" else {}
        if kind == "invoice":
            _check_lines(draft, requested)
        elif not draft.preceding_invoice:
            raise CreditNoteRefused("a credit note must name the invoice it corrects (BT-25)")
        customer = customer_key(draft.buyer)
        totals = draft.totals
        net, tax, gross = totals.tax_exclusive_total, totals.tax_total, totals.tax_inclusive_total
        if kind == "credit_note" and gross <= 0:
            raise CreditNoteRefused(f"a credit note credits a positive amount, not {gross}")

        locks = {_lock_key("source", source_key)}
        locks |= {_lock_key("order", order) for order, _ in requested}
        if draft.preceding_invoice:
            locks.add(_lock_key("invoice", draft.preceding_invoice))
        try:
            with self.engine.begin() as conn:
                if self.postgres:
                    for key in sorted(locks):  # one global order: no deadlock
                        conn.execute(
                            text("SELECT pg_advisory_xact_lock(:space, :key)"),
                            {"space": LOCK_SPACE, "key": key},
                        )
                existing = self._by_source_key(conn, source_key)
                if existing is not None:
                    return _same_source(existing, series, kind)
                if expect_invoiced is not None and draft.order_reference:
                    now = self._claimed(conn, {draft.order_reference})
                    current = {line: q for (_, line), q in now.items() if q}
                    if current != {line: q for line, q in expect_invoiced.items() if q}:
                        raise StaleDraft(
                            f"order {draft.order_reference} was invoiced meanwhile; draft again"
                        )
                update: dict[str, object] = {}
                if draft.preceding_invoice:
                    update |= self._check_preceding(conn, draft, net, gross)
                if kind == "invoice":
                    self._check_claims(conn, requested, shipped_by_line)
                else:
                    self._check_returns(conn, str(draft.preceding_invoice), requested)

                seq, number = numbering.allocate(conn, series, issue_date=draft.issue_date)
                self._check_chronology(conn, series, seq, draft.issue_date)
                update["invoice_number"] = number
                document = draft.model_copy(update=update)
                canonical = document.model_dump_json(exclude_computed_fields=True)
                issued = IssuedInvoice(
                    id=str(uuid.uuid4()),
                    series=series,
                    seq=seq,
                    number=number,
                    kind=kind,
                    source_key=source_key,
                    order_number=draft.order_reference,
                    customer=customer,
                    currency=draft.currency,
                    net_total=net,
                    tax_total=tax,
                    gross_total=gross,
                    issue_date=draft.issue_date,
                    preceding_invoice=draft.preceding_invoice,
                    canonical=canonical,
                    content_hash=content_hash(canonical),
                    created_at=utcnow(),
                )
                conn.execute(insert(issued_invoice_table).values(_row(issued)))
                sign = 1 if kind == "invoice" else -1
                if requested:
                    conn.execute(
                        insert(invoice_line_claim_table),
                        [
                            {
                                "invoice_id": issued.id,
                                "order_number": order,
                                "line_id": line,
                                "quantity": _text(sign * quantity),
                            }
                            for (order, line), quantity in sorted(requested.items())
                        ],
                    )
                if in_transaction is not None:
                    in_transaction(conn, issued)
            return issued
        except IntegrityError:
            # The locks leave little to land here (e.g. another series' pattern gave the
            # same number); if the source key was issued meanwhile, that is the answer.
            existing = self.by_source_key(source_key)
            if existing is not None:
                return _same_source(existing, series, kind)
            raise

    # ----------------------------------------------------------------- checks

    def _check_claims(
        self,
        conn: Connection,
        requested: Mapping[tuple[str, str], Decimal],
        shipped: Mapping[tuple[str, str], Decimal],
    ) -> None:
        if not requested:
            return
        already = self._claimed(conn, {order for order, _ in requested})
        problems = []
        for (order, line), quantity in sorted(requested.items()):
            shipped_qty = shipped.get((order, line), ZERO)
            invoiced = already.get((order, line), ZERO)
            left = shipped_qty - invoiced
            if quantity > left:
                detail = f"shipped {_text(shipped_qty)}, already invoiced {_text(invoiced)}"
                problems.append(ClaimProblem(order, line, quantity, max(left, ZERO), detail))
        if problems:
            raise OverClaimed(problems)

    def _check_returns(
        self, conn: Connection, preceding: str, requested: Mapping[tuple[str, str], Decimal]
    ) -> None:
        if not requested:
            return
        invoiced: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        returned: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        rows = conn.execute(
            select(IV.number, C.order_number, C.line_id, C.quantity)
            .join(issued_invoice_table, IV.id == C.invoice_id)
            .where((IV.number == preceding) | (IV.preceding_invoice == preceding))
        )
        for row in rows:
            key = (row.order_number, row.line_id)
            if row.number == preceding:
                invoiced[key] += Decimal(row.quantity)
            else:
                returned[key] -= Decimal(row.quantity)  # stored negative
        problems = []
        for key, quantity in sorted(requested.items()):
            left = invoiced[key] - returned[key]
            if quantity > left:
                detail = (
                    f"invoiced {_text(invoiced[key])} on {preceding}, "
                    f"given back {_text(returned[key])}"
                )
                problems.append(ClaimProblem(key[0], key[1], quantity, max(left, ZERO), detail))
        if problems:
            raise OverClaimed(problems, credit=True)

    def _check_preceding(
        self, conn: Connection, draft: Invoice, net: Decimal, gross: Decimal
    ) -> dict[str, object]:
        """The corrected invoice exists and fits; returns fields to set on the draft."""
        number = str(draft.preceding_invoice)
        row = conn.execute(select(issued_invoice_table).where(IV.number == number)).first()
        what = "credit note" if draft.kind == "credit_note" else "invoice"
        if row is None:
            raise CreditNoteRefused(f"{what} corrects invoice {number}, which was never issued")
        preceding = _issued(row._mapping)
        update: dict[str, object] = {}
        if draft.preceding_invoice_date is None:
            update["preceding_invoice_date"] = preceding.issue_date
        elif draft.preceding_invoice_date != preceding.issue_date:
            raise CreditNoteRefused(
                f"invoice {number} was issued on {preceding.issue_date}, not on "
                f"{draft.preceding_invoice_date} (BT-26)"
            )
        if draft.kind != "credit_note":
            return update
        if preceding.kind != "invoice":
            raise CreditNoteRefused(f"{number} is a credit note; credit the invoice itself")
        if preceding.currency != draft.currency:
            raise CreditNoteRefused(
                f"invoice {number} is in {preceding.currency}; the credit note is in "
                f"{draft.currency}"
            )
        if not same_customer(preceding.document.buyer, draft.buyer):
            raise CreditNoteRefused(
                f"invoice {number} was issued to {preceding.customer}, not to "
                f"{customer_key(draft.buyer)}"
            )
        if draft.issue_date < preceding.issue_date:
            raise CreditNoteRefused(
                f"the credit note is dated {draft.issue_date}, before invoice {number} "
                f"({preceding.issue_date})"
            )
        left = _creditable(conn, preceding)
        if gross > left.gross or net > left.net:
            raise CreditNoteRefused(
                f"invoice {number}: the credit note's {_text(gross)} gross ({_text(net)} net) "
                f"{draft.currency} exceeds the {_text(left.gross)} gross "
                f"({_text(left.net)} net) left to credit"
            )
        return update

    @staticmethod
    def _check_chronology(conn: Connection, series: str, seq: int, issue_date: date) -> None:
        """Numbers follow issue dates: the previous number is not dated later."""
        previous = conn.execute(
            select(IV.number, IV.issue_date).where(IV.series == series, IV.seq == seq - 1)
        ).first()
        if previous is not None and previous.issue_date > issue_date:
            raise numbering.NumberingError(
                f"series {series!r}: {previous.number} is dated {previous.issue_date}; an "
                f"invoice dated {issue_date} cannot take the next number"
            )

    @staticmethod
    def _claimed(conn: Connection, orders: set[str]) -> dict[tuple[str, str], Decimal]:
        totals: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        rows = conn.execute(
            select(C.order_number, C.line_id, C.quantity).where(C.order_number.in_(orders))
        )
        for row in rows:
            totals[(row.order_number, row.line_id)] += Decimal(row.quantity)
        return totals

    @staticmethod
    def _by_source_key(conn: Connection, source_key: str) -> IssuedInvoice | None:
        row = conn.execute(select(issued_invoice_table).where(IV.source_key == source_key)).first()
        return _issued(row._mapping, created=False) if row is not None else None

    # ----------------------------------------------------------------- reading

    def get(self, number: str) -> IssuedInvoice | None:
        """The issued document with that number, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(issued_invoice_table).where(IV.number == number)).first()
        return _issued(row._mapping) if row is not None else None

    def by_source_key(self, source_key: str) -> IssuedInvoice | None:
        """The document issued for ``source_key``, or None."""
        with self.engine.connect() as conn:
            return self._by_source_key(conn, source_key)

    def invoiced_quantities(self, order_number: str) -> dict[str, Decimal]:
        """Per line of the order: invoiced so far, less what credit notes gave back."""
        return self.invoiced_history(order_number)[0]

    def invoiced_parts(self, order_number: str) -> dict[str, list[Decimal]]:
        """Per line of the order: the quantity each invoice billed, in the order issued
        (credit notes left out); what a shop's pro-rata shares are recomputed from."""
        return self.invoiced_history(order_number)[1]

    def invoiced_history(
        self, order_number: str
    ) -> tuple[dict[str, Decimal], dict[str, list[Decimal]]]:
        """:meth:`invoiced_quantities` and :meth:`invoiced_parts` from one read."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(C.line_id, C.quantity).where(C.order_number == order_number).order_by(C.id)
            ).all()
        totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        parts: dict[str, list[Decimal]] = defaultdict(list)
        for row in rows:
            quantity = Decimal(row.quantity)
            totals[row.line_id] += quantity
            if quantity > 0:
                parts[row.line_id].append(quantity)
        return dict(sorted(totals.items())), dict(parts)

    def creditable(self, number: str) -> Creditable:
        """What is left to credit on invoice ``number``."""
        with self.engine.connect() as conn:
            row = conn.execute(select(issued_invoice_table).where(IV.number == number)).first()
            if row is None or row.kind != "invoice":
                raise InvoicingError(f"no issued invoice {number}")
            return _creditable(conn, _issued(row._mapping))

    def list(
        self,
        *,
        series: str | None = None,
        kind: str | None = None,
        order_number: str | None = None,
        customer: str | None = None,
        preceding_invoice: str | None = None,
        issued_from: date | None = None,
        issued_to: date | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[IssuedInvoice]:
        """Issued documents by series and number, filtered; ``issued_to`` is inclusive."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if kind is not None and kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        query = select(issued_invoice_table).order_by(IV.series, IV.seq)
        filters = {
            IV.series: series,
            IV.kind: kind,
            IV.order_number: order_number,
            IV.customer: customer,
            IV.preceding_invoice: preceding_invoice,
        }
        for column, value in filters.items():
            if value is not None:
                query = query.where(column == value)
        if issued_from is not None:
            query = query.where(IV.issue_date >= issued_from)
        if issued_to is not None:
            query = query.where(IV.issue_date <= issued_to)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit).offset(offset)).all()
        return [_issued(r._mapping) for r in rows]


# --------------------------------------------------------------------------- rows


def _check_lines(draft: Invoice, requested: Mapping[tuple[str, str], Decimal]) -> None:
    """On an invoice, lines naming an order line are claimed with their quantity."""
    mismatches = []
    for claim in claims_for(draft):
        key = (claim.order_number, claim.line_id)
        got = requested.get(key, ZERO)
        if got != claim.quantity:
            mismatches.append(
                f"order {key[0]} line {key[1]}: the document invoices "
                f"{_text(claim.quantity)}, the claims say {_text(got)}"
            )
    if mismatches:
        raise ClaimMismatch("claims disagree with the invoice lines: " + "; ".join(mismatches))


def _same_source(existing: IssuedInvoice, series: str, kind: str) -> IssuedInvoice:
    if existing.series != series or existing.kind != kind:
        raise SourceKeyConflict(
            f"source key {existing.source_key!r} was issued as {existing.kind} "
            f"{existing.number} in series {existing.series!r}; now asked for: {kind} in "
            f"series {series!r}"
        )
    return existing


def _creditable(conn: Connection, invoice: IssuedInvoice) -> Creditable:
    net, gross = invoice.net_total, invoice.gross_total
    rows = conn.execute(
        select(IV.net_total, IV.gross_total).where(
            IV.preceding_invoice == invoice.number, IV.kind == "credit_note"
        )
    )
    for row in rows:
        net -= Decimal(row.net_total)
        gross -= Decimal(row.gross_total)
    return Creditable(net=net, gross=gross)


def _row(issued: IssuedInvoice) -> dict[str, object]:
    return {
        "id": issued.id,
        "series": issued.series,
        "seq": issued.seq,
        "number": issued.number,
        "kind": issued.kind,
        "source_key": issued.source_key,
        "order_number": issued.order_number,
        "customer": issued.customer,
        "currency": issued.currency,
        "net_total": _text(issued.net_total),
        "tax_total": _text(issued.tax_total),
        "gross_total": _text(issued.gross_total),
        "issue_date": issued.issue_date,
        "preceding_invoice": issued.preceding_invoice,
        "canonical": issued.canonical,
        "content_hash": issued.content_hash,
        "created_at": issued.created_at,
    }


def _issued(row: RowMapping, *, created: bool = True) -> IssuedInvoice:
    return IssuedInvoice(
        id=str(row["id"]),
        series=str(row["series"]),
        seq=int(row["seq"]),
        number=str(row["number"]),
        kind=str(row["kind"]),
        source_key=str(row["source_key"]),
        order_number=row["order_number"],
        customer=str(row["customer"]),
        currency=str(row["currency"]),
        net_total=Decimal(row["net_total"]),
        tax_total=Decimal(row["tax_total"]),
        gross_total=Decimal(row["gross_total"]),
        issue_date=row["issue_date"],
        preceding_invoice=row["preceding_invoice"],
        canonical=str(row["canonical"]),
        content_hash=str(row["content_hash"]),
        created_at=row["created_at"],
        created=created,
    )
