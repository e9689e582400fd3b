"""Invoices: gapless number series, issued invoices and credit notes, order-line claims.

``issued_invoice`` and ``invoice_line_claim`` are append-only: triggers refuse UPDATE and
DELETE on both databases (and TRUNCATE on PostgreSQL), so an issued document cannot be
changed or removed through SQL either; a correction is a credit note. Triggers are not
part of the models, so the schema-equality test does not see them; a later migration
that rebuilds either table (SQLite batch mode copies tables) must create them again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

IMMUTABLE = ("issued_invoice", "invoice_line_claim")
MESSAGE = "issued invoices are immutable: issue a credit note instead"

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION o2c_refuse_invoice_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE} (% on % refused)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$
"""


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table in IMMUTABLE:
            op.execute(
                f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION o2c_refuse_invoice_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION o2c_refuse_invoice_change()"
            )
        return
    for table in IMMUTABLE:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE} ({operation} on {table} refused)'); END"
            )


def upgrade() -> None:
    op.create_table(
        "invoice_series",
        sa.Column("series", AutoString(length=64), nullable=False),
        sa.Column("pattern", AutoString(length=255), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("series"),
    )
    op.create_table(
        "issued_invoice",
        sa.Column("id", AutoString(length=36), nullable=False),
        sa.Column("series", AutoString(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("number", AutoString(length=64), nullable=False),
        sa.Column("kind", AutoString(length=16), nullable=False),
        sa.Column("source_key", AutoString(length=255), nullable=False),
        sa.Column("order_number", AutoString(length=255), nullable=True),
        sa.Column("customer", AutoString(length=255), nullable=False),
        sa.Column("currency", AutoString(length=3), nullable=False),
        sa.Column("net_total", AutoString(length=40), nullable=False),
        sa.Column("tax_total", AutoString(length=40), nullable=False),
        sa.Column("gross_total", AutoString(length=40), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("preceding_invoice", AutoString(length=64), nullable=True),
        sa.Column("canonical", sa.Text(), nullable=False),
        sa.Column("content_hash", AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["preceding_invoice"], ["issued_invoice.number"]),
        sa.ForeignKeyConstraint(["series"], ["invoice_series.series"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number", name="uq_issued_invoice_number"),
        sa.UniqueConstraint("series", "seq", name="uq_issued_invoice_seq"),
        sa.UniqueConstraint("source_key", name="uq_issued_invoice_source_key"),
    )
    with op.batch_alter_table("issued_invoice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issued_invoice_customer"), ["customer"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_issued_invoice_issue_date"), ["issue_date"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_issued_invoice_order_number"), ["order_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_issued_invoice_preceding_invoice"), ["preceding_invoice"], unique=False
        )

    op.create_table(
        "invoice_line_claim",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("invoice_id", AutoString(length=36), nullable=False),
        sa.Column("order_number", AutoString(length=255), nullable=False),
        sa.Column("line_id", AutoString(length=255), nullable=False),
        sa.Column("quantity", AutoString(length=40), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["issued_invoice.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("invoice_id", "order_number", "line_id", name="uq_invoice_line_claim"),
    )
    with op.batch_alter_table("invoice_line_claim", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invoice_line_claim_line", ["order_number", "line_id"], unique=False
        )

    _create_triggers()


def downgrade() -> None:
    # Dropping a table drops its triggers on both databases.
    with op.batch_alter_table("invoice_line_claim", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_line_claim_line")

    op.drop_table("invoice_line_claim")
    with op.batch_alter_table("issued_invoice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issued_invoice_preceding_invoice"))
        batch_op.drop_index(batch_op.f("ix_issued_invoice_order_number"))
        batch_op.drop_index(batch_op.f("ix_issued_invoice_issue_date"))
        batch_op.drop_index(batch_op.f("ix_issued_invoice_customer"))

    op.drop_table("issued_invoice")
    op.drop_table("invoice_series")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS o2c_refuse_invoice_change()")
