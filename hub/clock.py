"""The hub's notion of now: timezone-aware UTC, as the store keeps it.

One function so every module agrees and tests can reason about time.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Current time, aware, in UTC."""
    return datetime.now(UTC)
