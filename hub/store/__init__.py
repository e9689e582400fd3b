"""The durable store: messages, deliveries, attempts, quarantine, target state.

SQLite (WAL) is the embedded default; PostgreSQL is the multi-node store. Tables are
SQLModel models (``tables.py``); the schema is owned by alembic migrations
(``migrations/``), and a test keeps the two equal.
"""
