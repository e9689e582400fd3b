"""Polling Magento for changed orders and customers without gaps or repeats.

Magento stamps ``updated_at`` to the second, so many documents share one value (a bulk
import, a mass action). Offset paging over ``updated_at`` skips a document whenever one
on an earlier page changes meanwhile, so this is keyset paging instead, on the pair
``(updated_at, entity_id)``, with two queries, each always asking for page 1:

1. the rest of the current second: ``updated_at = T`` and ``entity_id > I``, by id;
2. then later seconds: ``updated_at > T``, by ``updated_at`` then id.

The cursor is the last pair returned. A document saved in second T but committed after
the poll read T would fall behind the cursor, so nothing newer than the store's clock (its
``Date`` header) minus ``poll_settle_seconds`` is taken; the next poll takes it.
A document that changes again comes back with its new ``updated_at``: that is a new
version for the hub, not a repeat (the hub keeps one message per distinct content).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from adapters.magento.client import MagentoClient
from hub.errors import PermanentError

__all__ = ["FEEDS", "TIME_FORMAT", "Cursor", "Feed", "poll_feed"]

TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Feed:
    """A searchable Magento collection that has ``updated_at``."""

    path: str
    id_key: str
    """The id's key in the returned documents."""
    id_filter: str
    """The id's name in searchCriteria (the table column)."""


FEEDS: dict[str, Feed] = {
    "order": Feed("/orders", "entity_id", "entity_id"),
    "party": Feed("/customers/search", "id", "entity_id"),
    "shipment": Feed("/shipments", "entity_id", "entity_id"),
}
"""Canonical kind → where its changes are read."""


@dataclass(frozen=True)
class Cursor:
    """The last ``(updated_at, id)`` handed to the hub."""

    updated_at: str
    last_id: int

    def to_json(self) -> dict[str, Any]:
        return {"updated_at": self.updated_at, "last_id": self.last_id}

    @classmethod
    def from_json(cls, value: dict[str, Any] | None, since: datetime) -> Cursor:
        if not value:
            return cls(since.strftime(TIME_FORMAT), 0)
        try:
            stamp = datetime.strptime(str(value["updated_at"]), TIME_FORMAT)
            return cls(stamp.strftime(TIME_FORMAT), int(value["last_id"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"the stored magento cursor {value!r} is not "
                '{"updated_at": "YYYY-MM-DD HH:MM:SS", "last_id": N}; reset it with '
                "`o2c poll reset SOURCE`"
            ) from exc


def _stamp(document: dict[str, Any]) -> str:
    return str(document.get("updated_at") or document.get("created_at") or "")


def _horizon(client: MagentoClient, settle_seconds: int) -> str:
    now = client.server_time or datetime.now(UTC).replace(tzinfo=None)
    return (now - timedelta(seconds=settle_seconds)).strftime(TIME_FORMAT)


async def poll_feed(
    client: MagentoClient, feed: Feed, cursor: Cursor, *, limit: int, settle_seconds: int
) -> tuple[list[dict[str, Any]], Cursor, bool]:
    """Up to ``limit`` documents after ``cursor``, the new cursor, and whether more wait."""

    def ident(document: dict[str, Any]) -> int:
        return int(document.get(feed.id_key) or 0)

    same_second, _ = await client.search(
        feed.path,
        [[("updated_at", cursor.updated_at, "eq")], [(feed.id_filter, str(cursor.last_id), "gt")]],
        [(feed.id_filter, "ASC")],
        page_size=limit,
    )
    horizon = _horizon(client, settle_seconds)
    if cursor.updated_at > horizon:
        return [], cursor, False
    found = [d for d in same_second if _stamp(d) == cursor.updated_at and ident(d) > cursor.last_id]
    if len(same_second) >= limit:
        if not found:
            raise PermanentError(
                f"{feed.path} answered a full page that does not continue after the cursor "
                f"{cursor.to_json()}: the store ignores the searchCriteria filters"
            )
        return found, _after(found, cursor, ident), True
    wanted = limit - len(found)
    later, _ = await client.search(
        feed.path,
        [[("updated_at", cursor.updated_at, "gt")]],
        [("updated_at", "ASC"), (feed.id_filter, "ASC")],
        page_size=wanted,
    )
    more = len(later) >= wanted
    for document in later:
        if _stamp(document) > horizon:
            more = False
            break
        if _stamp(document) > cursor.updated_at:
            found.append(document)
    return found, _after(found, cursor, ident), more


def _after(found: list[dict[str, Any]], cursor: Cursor, ident: Any) -> Cursor:
    if not found:
        return cursor
    last = found[-1]
    return Cursor(_stamp(last), ident(last))
