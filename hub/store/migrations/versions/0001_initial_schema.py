"""Initial schema: messages, references, deliveries, attempts, quarantine, target state.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 12:42:14.519269
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message",
        sa.Column("id", AutoString(length=36), nullable=False),
        sa.Column("system", AutoString(length=64), nullable=False),
        sa.Column("kind", AutoString(length=64), nullable=False),
        sa.Column("external_id", AutoString(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", AutoString(length=64), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", AutoString(length=100), nullable=False),
        sa.Column("canonical", sa.Text(), nullable=False),
        sa.Column("mapping_name", AutoString(length=255), nullable=False),
        sa.Column("mapping_version", AutoString(length=100), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("discrepancies", sa.Text(), nullable=True),
        sa.Column("unmapped", sa.Text(), nullable=True),
        sa.Column("correlation_id", AutoString(length=64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "system", "kind", "external_id", "content_hash", name="uq_message_content"
        ),
        sa.UniqueConstraint("system", "kind", "external_id", "version", name="uq_message_version"),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_correlation_id"), ["correlation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_message_external_id"), ["external_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_received_at"), ["received_at"], unique=False)

    op.create_table(
        "quarantined",
        sa.Column("id", AutoString(length=36), nullable=False),
        sa.Column("system", AutoString(length=64), nullable=False),
        sa.Column("kind", AutoString(length=64), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", AutoString(length=100), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("mapping_version", AutoString(length=100), nullable=True),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("message_id", AutoString(length=36), nullable=True),
        sa.Column("correlation_id", AutoString(length=64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quarantined", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quarantined_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "target_state",
        sa.Column("target", AutoString(length=128), nullable=False),
        sa.Column("breaker", sa.Text(), nullable=False),
        sa.Column("probe_owner", AutoString(length=64), nullable=True),
        sa.Column("probe_expires_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("target"),
    )
    op.create_table(
        "delivery",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("message_id", AutoString(length=36), nullable=False),
        sa.Column("route", AutoString(length=128), nullable=False),
        sa.Column("target", AutoString(length=128), nullable=False),
        sa.Column("mapping_name", AutoString(length=255), nullable=True),
        sa.Column("ordering_key", AutoString(length=255), nullable=False),
        sa.Column("idempotency_key", AutoString(length=255), nullable=False),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reclaims", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("first_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("lease_owner", AutoString(length=64), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("error_class", AutoString(length=64), nullable=True),
        sa.Column("error_fingerprint", AutoString(length=255), nullable=True),
        sa.Column("target_reference", AutoString(length=255), nullable=True),
        sa.Column("sent_payload", sa.Text(), nullable=True),
        sa.Column("sent_mapping_version", AutoString(length=100), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "route", name="uq_delivery_route"),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_claim", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_delivery_error_fingerprint"), ["error_fingerprint"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_delivery_message_id"), ["message_id"], unique=False)
        batch_op.create_index("ix_delivery_order", ["target", "ordering_key", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_delivery_target_reference"), ["target_reference"], unique=False
        )

    op.create_table(
        "external_ref",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("message_id", AutoString(length=36), nullable=False),
        sa.Column("system", AutoString(length=64), nullable=False),
        sa.Column("value", AutoString(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "system", "value", name="uq_external_ref"),
    )
    with op.batch_alter_table("external_ref", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_external_ref_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_external_ref_value"), ["value"], unique=False)

    op.create_table(
        "attempt",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("worker", AutoString(length=64), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", AutoString(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("request_summary", sa.Text(), nullable=True),
        sa.Column("response_summary", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["delivery.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attempt_delivery_id"), ["delivery_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempt_delivery_id"))

    op.drop_table("attempt")
    with op.batch_alter_table("external_ref", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_external_ref_value"))
        batch_op.drop_index(batch_op.f("ix_external_ref_message_id"))

    op.drop_table("external_ref")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_target_reference"))
        batch_op.drop_index("ix_delivery_order")
        batch_op.drop_index(batch_op.f("ix_delivery_message_id"))
        batch_op.drop_index(batch_op.f("ix_delivery_error_fingerprint"))
        batch_op.drop_index("ix_delivery_claim")

    op.drop_table("delivery")
    op.drop_table("target_state")
    with op.batch_alter_table("quarantined", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantined_received_at"))

    op.drop_table("quarantined")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_received_at"))
        batch_op.drop_index(batch_op.f("ix_message_external_id"))
        batch_op.drop_index(batch_op.f("ix_message_correlation_id"))

    op.drop_table("message")
