"""The database schema built by the migrations equals the one the models describe."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

from hub.store import migrate
from hub.store.db import make_engine
from tests.pg import pg_engine_or_skip


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def test_sqlite_migrations_equal_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate.upgrade(engine)
    assert migrate.is_current(engine)
    assert _diff(engine) == []
    assert {
        "message",
        "delivery",
        "attempt",
        "quarantined",
        "external_ref",
        "target_state",
        "poll_cursor",
        "invoice_series",
        "issued_invoice",
        "invoice_line_claim",
        "credit_hold",
    } <= set(inspect(engine).get_table_names())


def test_sqlite_upgrade_is_idempotent(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


@pytest.mark.postgres
def test_postgres_migrations_equal_models() -> None:
    engine = pg_engine_or_skip()
    migrate.upgrade(engine)
    assert _diff(engine) == []
