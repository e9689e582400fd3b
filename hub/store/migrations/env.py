"""Alembic environment: the hub passes its engine in; no alembic.ini is needed."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import hub.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connectable = context.config.attributes.get("connection")
    if connectable is None:
        raise RuntimeError("run migrations through hub.store.migrate")
    context.configure(
        connection=connectable,
        target_metadata=target_metadata,
        render_as_batch=connectable.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
