"""The store's tables. Times are UTC; JSON is stored as text so both databases agree."""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

_BIGINT_PK = BigInteger().with_variant(Integer, "sqlite")
"""BIGINT on PostgreSQL; SQLite autoincrements only an INTEGER PRIMARY KEY."""


class Message(SQLModel, table=True):
    """An inbound document, stored raw and canonical before the hub answers 2xx."""

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint(
            "system", "kind", "external_id", "content_hash", name="uq_message_content"
        ),
        UniqueConstraint("system", "kind", "external_id", "version", name="uq_message_version"),
    )

    id: str = Field(primary_key=True, max_length=36)
    system: str = Field(max_length=64)
    kind: str = Field(max_length=64)
    external_id: str = Field(max_length=255, index=True)
    version: int = Field(description="1 for the first document with this external id, then 2, ...")
    content_hash: str = Field(max_length=64)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    content_type: str = Field(max_length=100)
    canonical: str = Field(sa_column=Column(Text, nullable=False))
    mapping_name: str = Field(max_length=255)
    mapping_version: str = Field(max_length=100)
    flagged: bool = Field(default=False, description="Accepted with control-total discrepancies.")
    discrepancies: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    unmapped: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    correlation_id: str = Field(max_length=64, index=True)
    received_at: datetime = Field(index=True)


class ExternalRef(SQLModel, table=True):
    """Every id a message is known by, in any system: searchable with one query."""

    __tablename__ = "external_ref"
    __table_args__ = (UniqueConstraint("message_id", "system", "value", name="uq_external_ref"),)

    id: int | None = Field(
        default=None, sa_column=Column(_BIGINT_PK, primary_key=True, autoincrement=True)
    )
    message_id: str = Field(foreign_key="message.id", max_length=36, index=True)
    system: str = Field(max_length=64)
    value: str = Field(max_length=255, index=True)


class Delivery(SQLModel, table=True):
    """One message routed to one target: the unit the queue claims, retries and orders."""

    __tablename__ = "delivery"
    __table_args__ = (
        Index("ix_delivery_claim", "status", "next_attempt_at"),
        Index("ix_delivery_order", "target", "ordering_key", "id"),
        UniqueConstraint("message_id", "route", name="uq_delivery_route"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(_BIGINT_PK, primary_key=True, autoincrement=True)
    )
    message_id: str = Field(foreign_key="message.id", max_length=36, index=True)
    route: str = Field(max_length=128)
    target: str = Field(max_length=128)
    mapping_name: str | None = Field(default=None, max_length=255)
    ordering_key: str = Field(max_length=255)
    idempotency_key: str = Field(max_length=255)
    status: str = Field(max_length=16)
    attempts: int = 0
    reclaims: int = 0
    next_attempt_at: datetime
    first_attempt_at: datetime | None = None
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error_class: str | None = Field(default=None, max_length=64)
    error_fingerprint: str | None = Field(default=None, max_length=255, index=True)
    target_reference: str | None = Field(default=None, max_length=255, index=True)
    sent_payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    sent_mapping_version: str | None = Field(default=None, max_length=100)
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None


class Attempt(SQLModel, table=True):
    """One call to a target, kept for the message timeline (secrets filtered)."""

    __tablename__ = "attempt"

    id: int | None = Field(
        default=None, sa_column=Column(_BIGINT_PK, primary_key=True, autoincrement=True)
    )
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    number: int
    worker: str = Field(max_length=64)
    started_at: datetime
    duration_ms: int
    outcome: str = Field(max_length=16)
    status_code: int | None = None
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    request_summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    response_summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Quarantined(SQLModel, table=True):
    """An inbound document that could not be parsed or mapped: kept whole, replayable."""

    __tablename__ = "quarantined"

    id: str = Field(primary_key=True, max_length=36)
    system: str = Field(max_length=64)
    kind: str = Field(max_length=64)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    content_type: str = Field(max_length=100)
    errors: str = Field(sa_column=Column(Text, nullable=False))
    mapping_version: str | None = Field(default=None, max_length=100)
    status: str = Field(max_length=16, description="open, replayed or discarded")
    message_id: str | None = Field(default=None, max_length=36)
    correlation_id: str = Field(max_length=64)
    received_at: datetime = Field(index=True)
    resolved_at: datetime | None = None


class TargetState(SQLModel, table=True):
    """Per-target breaker state, shared by every worker process through the database."""

    __tablename__ = "target_state"

    target: str = Field(primary_key=True, max_length=128)
    breaker: str = Field(sa_column=Column(Text, nullable=False))
    probe_owner: str | None = Field(default=None, max_length=64)
    probe_expires_at: datetime | None = None
    updated_at: datetime


class PollCursor(SQLModel, table=True):
    """Where a polled source left off, and which hub process polls it now (its lease)."""

    __tablename__ = "poll_cursor"

    source: str = Field(primary_key=True, max_length=64)
    cursor: str | None = Field(
        default=None,
        sa_column=Column(Text, nullable=True),
        description="JSON object from the adapter; NULL: start from the configured start.",
    )
    leased_by: str | None = Field(default=None, max_length=64)
    leased_until: datetime | None = None
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    documents_total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    updated_at: datetime


def _table(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


# Core tables for the hot paths (claim, finish, ingest): typed columns, no ORM overhead.
message_table = _table(Message)
external_ref_table = _table(ExternalRef)
delivery_table = _table(Delivery)
attempt_table = _table(Attempt)
quarantined_table = _table(Quarantined)
target_state_table = _table(TargetState)
poll_cursor_table = _table(PollCursor)


class ApiKey(SQLModel, table=True):
    """A client's API key: only its hash is kept; the key is shown once, at creation."""

    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=128, unique=True)
    prefix: str = Field(max_length=16, index=True, description="First characters, for lookup.")
    key_hash: str = Field(max_length=64, description="SHA-256 of the whole key (hex).")
    scopes: str = Field(sa_column=Column(Text, nullable=False), description="JSON list.")
    created_at: datetime
    created_by: str = Field(max_length=128)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class AuditEntry(SQLModel, table=True):
    """One operator action, append-only, chained to the previous entry by its hash."""

    __tablename__ = "audit_entry"

    id: int | None = Field(
        default=None, sa_column=Column(_BIGINT_PK, primary_key=True, autoincrement=True)
    )
    at: datetime = Field(index=True)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64, index=True)
    target: str = Field(max_length=255)
    details: str = Field(sa_column=Column(Text, nullable=False), description="JSON object.")
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


api_key_table = _table(ApiKey)
audit_table = _table(AuditEntry)


class InvoiceSeries(SQLModel, table=True):
    """A gapless number series (``INV``, ``CRN``, ``ACME/INV/2026``): its counter and pattern.

    ``last_number`` is incremented in the transaction that stores the issued document
    (see ``hub/invoicing/numbering.py``), so a number exists only if its invoice does.
    """

    __tablename__ = "invoice_series"

    series: str = Field(primary_key=True, max_length=64)
    pattern: str = Field(max_length=255, description="e.g. INV-{year}-{n:06d}")
    last_number: int = Field(
        default=0,
        sa_column=Column(BigInteger, nullable=False, default=0),
        description="The last number issued; 0 (or first - 1) before the first invoice.",
    )
    created_at: datetime
    updated_at: datetime


class IssuedInvoiceRecord(SQLModel, table=True):
    """An issued invoice or credit note: immutable (triggers refuse UPDATE and DELETE)."""

    __tablename__ = "issued_invoice"
    __table_args__ = (
        UniqueConstraint("series", "seq", name="uq_issued_invoice_seq"),
        UniqueConstraint("number", name="uq_issued_invoice_number"),
        UniqueConstraint("source_key", name="uq_issued_invoice_source_key"),
    )

    id: str = Field(primary_key=True, max_length=36)
    series: str = Field(foreign_key="invoice_series.series", max_length=64)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False), description="1, 2, 3, ...")
    number: str = Field(max_length=64, description="The formatted number (BT-1).")
    kind: str = Field(max_length=16, description="invoice or credit_note")
    source_key: str = Field(
        max_length=255, description="Idempotency key: a shipment id, a return id, ..."
    )
    order_number: str | None = Field(default=None, max_length=255, index=True)
    customer: str = Field(max_length=255, index=True)
    currency: str = Field(max_length=3)
    net_total: str = Field(max_length=40, description="BT-109 as exact decimal text.")
    tax_total: str = Field(max_length=40, description="BT-110 as exact decimal text.")
    gross_total: str = Field(max_length=40, description="BT-112 as exact decimal text.")
    issue_date: date = Field(index=True)
    preceding_invoice: str | None = Field(
        default=None, foreign_key="issued_invoice.number", max_length=64, index=True
    )
    canonical: str = Field(sa_column=Column(Text, nullable=False))
    content_hash: str = Field(max_length=64, description="SHA-256 of ``canonical`` (hex).")
    created_at: datetime


class InvoiceLineClaim(SQLModel, table=True):
    """How much of an order line an issued document invoiced (or, negative, gave back)."""

    __tablename__ = "invoice_line_claim"
    __table_args__ = (
        Index("ix_invoice_line_claim_line", "order_number", "line_id"),
        UniqueConstraint("invoice_id", "order_number", "line_id", name="uq_invoice_line_claim"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(_BIGINT_PK, primary_key=True, autoincrement=True)
    )
    invoice_id: str = Field(foreign_key="issued_invoice.id", max_length=36)
    order_number: str = Field(max_length=255)
    line_id: str = Field(max_length=255)
    quantity: str = Field(max_length=40, description="Exact decimal text; negative on credits.")


class CreditHold(SQLModel, table=True):
    """An order whose invoice would take its customer over the credit limit: held, with the
    figures, until an authorised user releases it (``o2c credit release``)."""

    __tablename__ = "credit_hold"

    order_number: str = Field(primary_key=True, max_length=255)
    customer: str = Field(max_length=255, index=True)
    currency: str = Field(max_length=3)
    credit_limit: str = Field(max_length=40, description="Exact decimal text.")
    exposure: str = Field(max_length=40, description="Open invoiced amount when held.")
    amount: str = Field(max_length=40, description="The held invoice's gross amount.")
    reason: str = Field(sa_column=Column(Text, nullable=False))
    held_at: datetime
    released_at: datetime | None = None
    released_by: str | None = Field(default=None, max_length=255)
    release_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


invoice_series_table = _table(InvoiceSeries)
issued_invoice_table = _table(IssuedInvoiceRecord)
invoice_line_claim_table = _table(InvoiceLineClaim)
credit_hold_table = _table(CreditHold)


class BillingPeriodRecord(SQLModel, table=True):
    """A contract period that was billed: written in the transaction that issues its invoice
    (see ``hub/invoicing/billing.py``), so a row exists exactly when the invoice does.

    ``period_start``/``period_end`` are the schedule's period (the key); ``billed_from``/
    ``billed_to`` the days billed in it (fewer at a contract's start or end). ``emitted_at``
    stays empty until the invoice was handed to the routes, so a crash in between is
    emitted again by the next run.
    """

    __tablename__ = "billing_period"

    contract_id: str = Field(primary_key=True, max_length=128)
    period_start: date = Field(primary_key=True)
    period_end: date = Field(description="Last day of the period (inclusive).")
    billed_from: date
    billed_to: date = Field(description="Last day billed (inclusive).")
    invoice_number: str = Field(
        foreign_key="issued_invoice.number", max_length=64, unique=True, description="BT-1."
    )
    currency: str = Field(max_length=3)
    net_total: str = Field(max_length=40, description="BT-109 as exact decimal text.")
    billed_at: datetime
    emitted_at: datetime | None = None
    message_id: str | None = Field(default=None, max_length=36)


billing_period_table = _table(BillingPeriodRecord)
