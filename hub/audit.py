"""The append-only audit trail: who did what to which thing, and when.

Every operator action (a replay, a discarded dead letter, an API key created or revoked,
a configuration reload, a breaker reset) appends one entry with :func:`record`. Entries
form a hash chain, so :func:`verify` detects an entry that was edited, deleted, inserted
or moved.

Hashing rule (one entry)::

    payload = canonical JSON of {"action", "actor", "at", "details", "target"}
    hash    = sha256(payload + prev_hash), lower-case hex

where canonical JSON has sorted keys, no spaces (``","`` and ``":"``), UTF-8 text
(``ensure_ascii=False``) and no NaN; ``at`` is ISO 8601 in UTC with microseconds
(``2026-11-23T13:30:04.098560+00:00``); ``details`` is the stored, secret-filtered JSON
object; ``prev_hash`` is the previous entry's hash, or 64 zeros for the first entry.
The id is not hashed; instead ids are dense (1, 2, 3, ...), assigned by :func:`record`,
so a missing id is a deleted entry.

Appends are serialised, so the chain never forks: on PostgreSQL with a transaction-level
advisory lock (``SELECT ... FOR UPDATE`` cannot lock a row that does not exist yet, e.g.
in an empty table), on SQLite by the ``BEGIN IMMEDIATE`` every transaction of our engine
opens with.

Limits, by design of a plain hash chain:

* Removing entries from the end leaves a shorter chain that is still intact. Store an
  :func:`anchor` (entry count and head hash) somewhere else, e.g. in a ticket or a
  monitoring system, and check it later with ``verify(engine, expect=anchor)``.
* Someone with write access who recomputes every hash after a change can forge a whole
  consistent chain; only an anchor taken before the change reveals that.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from enum import Enum, StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from hub.clock import utcnow
from hub.queue.disposition import REDACTED, filter_secrets
from hub.store.db import is_sqlite
from hub.store.tables import audit_table

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first entry."""

ADVISORY_LOCK_KEY = 0x02C0_A0D1_7000_0001
"""PostgreSQL advisory lock (single bigint key space) held while appending an entry."""

_A = audit_table.c
_ACTOR_MAX = 128
_TARGET_MAX = 255


class AuditAction(StrEnum):
    """Every action the trail records; ``record`` accepts nothing else, so typos fail."""

    MESSAGE_REPLAYED = "message.replayed"
    QUARANTINE_REPLAYED = "quarantine.replayed"
    DLQ_REPLAYED = "dlq.replayed"
    DLQ_DISCARDED = "dlq.discarded"
    APIKEY_CREATED = "apikey.created"
    APIKEY_REVOKED = "apikey.revoked"
    CONFIG_RELOADED = "config.reloaded"
    BREAKER_RESET = "breaker.reset"
    POLL_CURSOR_RESET = "poll.cursor_reset"
    CREDIT_RELEASED = "credit.released"


class BreakKind(StrEnum):
    """Why :func:`verify` stopped."""

    EDITED = "edited"
    """The entry's contents do not match its hash: changed or forged."""
    CHAIN = "chain"
    """The entry's ``prev_hash`` is not the previous entry's hash: an entry was deleted,
    inserted or reordered."""
    GAP = "gap"
    """Ids are not consecutive: entries were deleted."""
    TRUNCATED = "truncated"
    """Fewer entries than the anchor counted: entries were removed from the end."""
    ANCHOR = "anchor"
    """The anchored entry's hash differs from the anchor: the chain was rewritten."""


@dataclass(frozen=True)
class AuditRecord:
    """One stored entry."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Anchor:
    """How long the chain was and how it ended, to be kept outside the database."""

    count: int
    head: str


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify`.

    ``checked`` counts the entries found intact (all of them when ``ok``); ``head`` is
    the hash of the last intact entry (:data:`GENESIS_HASH` when there is none). When
    not ``ok``, ``broken_id`` names the first bad entry (``None`` for a truncated chain,
    which has no bad entry to name), ``kind`` says what is wrong and ``reason`` explains
    it in one line.
    """

    ok: bool
    checked: int
    head: str
    broken_id: int | None = None
    kind: BreakKind | None = None
    reason: str | None = None

    def summary(self) -> str:
        """One line for operators."""
        if self.ok:
            return f"OK: {self.checked} entries, chain intact, head {self.head}"
        where = f"entry {self.broken_id}: " if self.broken_id is not None else ""
        return f"BROKEN: {where}{self.reason}; {self.checked} entries intact before it"


# --- hashing ----------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text: the same value always gives the same text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def format_at(at: datetime) -> str:
    """``at`` as hashed: ISO 8601, UTC, microseconds."""
    if at.utcoffset() is None:
        raise ValueError("audit times must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """The hash of one entry (see the module docstring for the rule)."""
    payload = canonical_json(
        {
            "at": format_at(at),
            "actor": actor,
            "action": action,
            "target": target,
            "details": details,
        }
    )
    return hashlib.sha256((payload + prev_hash).encode("utf-8")).hexdigest()


# --- secret filtering -------------------------------------------------------------------


def _sensitive_key(key: str) -> bool:
    # One source of truth for what names a secret: ask the filter itself.
    return filter_secrets(f"{key}=v").endswith(REDACTED)


def _clean_mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        name = filter_secrets(str(key.value if isinstance(key, Enum) else key))
        if _sensitive_key(name) and item is not None and not isinstance(item, bool):
            cleaned[name] = REDACTED
        else:
            cleaned[name] = _clean(item)
    return cleaned


def _clean(value: Any) -> Any:
    """``value`` as plain JSON with secrets removed from every string."""
    if isinstance(value, Mapping):
        return _clean_mapping(value)
    if isinstance(value, Enum):
        return _clean(value.value)
    if isinstance(value, str):
        return filter_secrets(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return filter_secrets(bytes(value).decode("utf-8", errors="replace"))
    if isinstance(value, set | frozenset):
        return sorted((_clean(v) for v in value), key=canonical_json)
    if isinstance(value, Iterable):
        return [_clean(v) for v in value]
    return filter_secrets(str(value))


def clean_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """``details`` as they are stored: JSON-native, secrets replaced by ``***``.

    Strings go through :func:`~hub.queue.disposition.filter_secrets`; the whole value of
    a key that names a secret (``password``, ``token``, ``api_key``, ...) is replaced,
    except ``None`` and booleans. Decimals, UUIDs and other objects become strings.
    """
    return _clean_mapping(details or {})


# --- appending --------------------------------------------------------------------------


def record(
    conn_or_engine: Connection | Engine,
    *,
    actor: str,
    action: AuditAction,
    target: str,
    details: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """Append one entry and return it as stored.

    Given a :class:`~sqlalchemy.Connection`, the entry joins the caller's transaction,
    so an action and its audit entry commit (or roll back) together; the caller commits.
    Given an :class:`~sqlalchemy.Engine`, the entry commits on its own.
    """
    if not isinstance(action, AuditAction):
        raise TypeError(f"action must be an AuditAction, not {action!r}")
    if not actor or len(actor) > _ACTOR_MAX:
        raise ValueError(f"actor must be 1 to {_ACTOR_MAX} characters, got {actor!r}")
    target = filter_secrets(target)
    if len(target) > _TARGET_MAX:
        raise ValueError(f"target must be at most {_TARGET_MAX} characters, got {target!r}")
    stored_details = clean_details(details)
    if isinstance(conn_or_engine, Engine):
        with conn_or_engine.begin() as conn:
            return _append(conn, actor, action, target, stored_details)
    return _append(conn_or_engine, actor, action, target, stored_details)


def _append(
    conn: Connection, actor: str, action: AuditAction, target: str, details: dict[str, Any]
) -> AuditRecord:
    if not is_sqlite(conn.engine):
        # Held until the transaction ends, so the next appender reads this entry's hash.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    last = conn.execute(select(_A.id, _A.hash).order_by(_A.id.desc()).limit(1)).first()
    entry_id = 1 if last is None else int(last.id) + 1
    prev_hash = GENESIS_HASH if last is None else str(last.hash)
    at = utcnow()  # taken under the lock: times never go backwards along the chain
    digest = entry_hash(
        at=at,
        actor=actor,
        action=action.value,
        target=target,
        details=details,
        prev_hash=prev_hash,
    )
    conn.execute(
        audit_table.insert().values(
            id=entry_id,
            at=at,
            actor=actor,
            action=action.value,
            target=target,
            details=canonical_json(details),
            prev_hash=prev_hash,
            hash=digest,
        )
    )
    return AuditRecord(
        id=entry_id,
        at=at,
        actor=actor,
        action=action.value,
        target=target,
        details=details,
        prev_hash=prev_hash,
        hash=digest,
    )


# --- checking ---------------------------------------------------------------------------


def anchor(engine: Engine) -> Anchor:
    """The chain's length and head hash now, for operators to keep elsewhere."""
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(audit_table)).scalar_one())
        head = conn.execute(select(_A.hash).order_by(_A.id.desc()).limit(1)).scalar()
    return Anchor(count=count, head=str(head) if head is not None else GENESIS_HASH)


def verify(engine: Engine, *, expect: Anchor | None = None) -> VerifyResult:
    """Walk every entry in id order, recompute its hash and check the chain.

    Stops at the first broken entry. With ``expect`` (an earlier :func:`anchor`), the
    chain must also have at least ``expect.count`` entries and its entry number
    ``expect.count`` must have hash ``expect.head``: this catches a truncated tail, and
    a chain rewritten with recomputed hashes, which the walk alone cannot.
    """
    checked = 0
    head = GENESIS_HASH
    prev_id = 0
    query = select(
        _A.id, _A.at, _A.actor, _A.action, _A.target, _A.details, _A.prev_hash, _A.hash
    ).order_by(_A.id)
    with (
        engine.connect() as conn,
        conn.execution_options(stream_results=True, yield_per=1000).execute(query) as rows,
    ):
        for row in rows:
            problem = _check(row, prev_id, head)
            if (
                problem is None
                and expect is not None
                and checked + 1 == expect.count
                and row.hash != expect.head
            ):
                anchored = f"hash {row.hash} is not the anchored {expect.head}"
                problem = (BreakKind.ANCHOR, f"{anchored} (the chain was rewritten)")
            if problem is not None:
                kind, reason = problem
                return VerifyResult(
                    ok=False,
                    checked=checked,
                    head=head,
                    broken_id=int(row.id),
                    kind=kind,
                    reason=f"{kind.value}: {reason}",
                )
            checked += 1
            head = str(row.hash)
            prev_id = int(row.id)
    if expect is not None and checked < expect.count:
        return VerifyResult(
            ok=False,
            checked=checked,
            head=head,
            kind=BreakKind.TRUNCATED,
            reason=(
                f"{BreakKind.TRUNCATED.value}: {checked} entries where the anchor counted "
                f"{expect.count} (entries were removed from the end)"
            ),
        )
    return VerifyResult(ok=True, checked=checked, head=head)


def _check(row: Any, prev_id: int, prev_hash: str) -> tuple[BreakKind, str] | None:
    entry_id = int(row.id)
    expected = prev_id + 1
    if entry_id < expected:
        return (
            BreakKind.CHAIN,
            f"id {entry_id} where {expected} was expected (an entry was inserted)",
        )
    if entry_id > expected:
        missing = (
            f"entry {expected}"
            if entry_id == expected + 1
            else f"entries {expected} to {entry_id - 1}"
        )
        return BreakKind.GAP, f"id {entry_id} where {expected} was expected ({missing} deleted)"
    try:
        details = json.loads(row.details)
    except (TypeError, ValueError):
        return BreakKind.EDITED, "details are not valid JSON (edited)"
    if not isinstance(details, dict):
        return BreakKind.EDITED, "details are not a JSON object (edited)"
    try:
        digest = entry_hash(
            at=row.at,
            actor=row.actor,
            action=row.action,
            target=row.target,
            details=details,
            prev_hash=row.prev_hash,
        )
    except (TypeError, ValueError, AttributeError) as exc:
        return BreakKind.EDITED, f"cannot recompute its hash: {exc} (edited)"
    if digest != row.hash:
        return BreakKind.EDITED, "contents do not match its hash (edited or forged)"
    if row.prev_hash != prev_hash:
        previous = f"entry {prev_id}'s hash" if prev_id else "the genesis hash (64 zeros)"
        why = "an entry was deleted, inserted or reordered"
        return BreakKind.CHAIN, f"prev_hash is not {previous} ({why})"
    return None


# --- listing ----------------------------------------------------------------------------


def entries(
    engine: Engine,
    *,
    limit: int,
    action: AuditAction | None = None,
    actor: str | None = None,
) -> list[dict[str, Any]]:
    """The newest ``limit`` entries, newest first, optionally of one action or actor.

    Each is a dict of the stored columns, with ``details`` parsed back to an object.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    query = select(audit_table).order_by(_A.id.desc()).limit(limit)
    if action is not None:
        query = query.where(_A.action == AuditAction(action).value)
    if actor is not None:
        query = query.where(_A.actor == actor)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    listed: list[dict[str, Any]] = []
    for row in rows:
        item = dict(row)
        with contextlib.suppress(TypeError, ValueError):  # else shown as stored
            item["details"] = json.loads(item["details"])
        listed.append(item)
    return listed
