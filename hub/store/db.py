"""Engines for the store: SQLite in WAL mode by default, PostgreSQL by URL.

SQLite runs with ``synchronous=FULL``: an acknowledged message survives a power cut,
which is the promise the hub makes before it answers 2xx.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from hub.errors import StoreError


def normalise_url(url: str) -> str:
    """Pick our drivers: psycopg 3 for PostgreSQL, the stdlib for SQLite."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername not in ("sqlite", "postgresql+psycopg"):
        raise StoreError(
            f"database.url: unsupported database {parsed.drivername!r}; "
            "use sqlite:///PATH or postgresql://HOST/DB"
        )
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> Engine:
    """An engine for ``url`` with the pragmas and pool the hub relies on."""
    full = normalise_url(url)
    if full.startswith("sqlite"):
        engine = create_engine(
            full,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # Let SQLite open its transactions as we say (BEGIN IMMEDIATE for writers).
        event.listen(engine, "connect", _no_pysqlite_autobegin)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(
        full, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def _no_pysqlite_autobegin(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None


def _begin_immediate(conn: Any) -> None:
    # Writers take the lock at BEGIN, so two workers never both read-then-write a claim.
    conn.exec_driver_sql("BEGIN IMMEDIATE")
