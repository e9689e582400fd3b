"""Credit holds: orders whose invoice would exceed the customer's credit limit.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 16:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_hold",
        sa.Column("order_number", AutoString(length=255), nullable=False),
        sa.Column("customer", AutoString(length=255), nullable=False),
        sa.Column("currency", AutoString(length=3), nullable=False),
        sa.Column("credit_limit", AutoString(length=40), nullable=False),
        sa.Column("exposure", AutoString(length=40), nullable=False),
        sa.Column("amount", AutoString(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("held_at", UTCDateTime(), nullable=False),
        sa.Column("released_at", UTCDateTime(), nullable=True),
        sa.Column("released_by", AutoString(length=255), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("order_number"),
    )
    op.create_index("ix_credit_hold_customer", "credit_hold", ["customer"])


def downgrade() -> None:
    op.drop_index("ix_credit_hold_customer", table_name="credit_hold")
    op.drop_table("credit_hold")
