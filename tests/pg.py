"""A fresh PostgreSQL schema per test on the local server (127.0.0.1:5432, database test).

Each call creates its own schema and points the engine's search_path at it, so tests run
in parallel with other sessions and leave nothing behind. Without a reachable server the
test is skipped locally; in CI (``CI=true``) it fails instead, because CI must test both
stores.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError

from hub.store.db import make_engine

PG_URL = os.environ.get("O2C_TEST_PG_URL_BASE", "postgresql://postgres@127.0.0.1:5432/test")
_created: list[tuple[Engine, str]] = []


def pg_schema_url() -> tuple[str, str]:
    """(url with a fresh schema as search path, schema name)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL, pool_size=1)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc.orig}")
    admin.dispose()
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}", schema


def pg_engine_or_skip(pool_size: int = 10) -> Engine:
    url, schema = pg_schema_url()
    engine = make_engine(url, pool_size=pool_size)

    @event.listens_for(engine, "connect")
    def _path(dbapi_conn: object, _rec: object) -> None:  # pragma: no cover - trivial
        cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
        cur.execute(f'SET search_path TO "{schema}"')
        cur.close()
        dbapi_conn.commit()  # type: ignore[attr-defined]

    _created.append((engine, schema))
    return engine


def drop_schemas() -> None:
    """Drop every schema created by this process (called at session end)."""
    if not _created:
        return
    admin = make_engine(PG_URL, pool_size=1)
    for engine, schema in _created:
        engine.dispose()
        # one transaction per schema: dropping them all at once takes a lock per object
        # and runs out of max_locks_per_transaction on a default server
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()
    _created.clear()
