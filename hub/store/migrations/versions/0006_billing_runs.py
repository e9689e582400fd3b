"""Recurring billing: the contract periods that were billed, one row per period.

A row is written in the transaction that issues the period's invoice; the primary key
(contract, period start) and the invoice's source key keep a period from being billed
twice, also by two processes at once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_period",
        sa.Column("contract_id", AutoString(length=128), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("billed_from", sa.Date(), nullable=False),
        sa.Column("billed_to", sa.Date(), nullable=False),
        sa.Column("invoice_number", AutoString(length=64), nullable=False),
        sa.Column("currency", AutoString(length=3), nullable=False),
        sa.Column("net_total", AutoString(length=40), nullable=False),
        sa.Column("billed_at", UTCDateTime(), nullable=False),
        sa.Column("emitted_at", UTCDateTime(), nullable=True),
        sa.Column("message_id", AutoString(length=36), nullable=True),
        sa.ForeignKeyConstraint(["invoice_number"], ["issued_invoice.number"]),
        sa.PrimaryKeyConstraint("contract_id", "period_start"),
        sa.UniqueConstraint("invoice_number"),
    )


def downgrade() -> None:
    op.drop_table("billing_period")
