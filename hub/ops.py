"""Operations: a message's whole timeline, search by any id, dead letters, replay, targets.

Read-mostly queries behind ``o2c messages``, ``o2c dlq`` and ``o2c targets`` (and, later,
the HTTP API). Replays go through the same queue and ingest code as first deliveries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select, update

from hub.canonical import model_for
from hub.clock import utcnow
from hub.errors import HubError, NotFoundError
from hub.ingest import Ingestor, IngestRejected
from hub.queue.breakers import BreakerBoard
from hub.queue.states import CLAIMABLE, DeliveryStatus
from hub.queue.store import QueueStore
from hub.routing import RouteTable
from hub.store.tables import (
    attempt_table,
    delivery_table,
    external_ref_table,
    message_table,
    quarantined_table,
)

M = message_table.c
D = delivery_table.c
A = attempt_table.c
R = external_ref_table.c
Q = quarantined_table.c
S = DeliveryStatus
DEAD_STATES = (S.DEAD.value, S.POISONED.value)


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def message_timeline(engine: Engine, message_id: str) -> dict[str, Any]:
    """The message, its references, deliveries and every attempt, oldest first."""
    with engine.connect() as conn:
        msg = conn.execute(
            select(
                M.id,
                M.system,
                M.kind,
                M.external_id,
                M.version,
                M.content_hash,
                M.mapping_name,
                M.mapping_version,
                M.flagged,
                M.discrepancies,
                M.unmapped,
                M.correlation_id,
                M.received_at,
                M.content_type,
                func.length(M.raw).label("bytes"),
            ).where(M.id == message_id)
        ).first()
        if msg is None:
            raise NotFoundError(f"no message {message_id!r}")
        refs = conn.execute(
            select(R.system, R.value).where(R.message_id == message_id).order_by(R.system)
        ).all()
        deliveries = conn.execute(
            select(delivery_table).where(D.message_id == message_id).order_by(D.id)
        ).all()
        attempts = conn.execute(
            select(attempt_table)
            .where(A.delivery_id.in_([d.id for d in deliveries] or [-1]))
            .order_by(A.delivery_id, A.number)
        ).all()
    by_delivery: dict[int, list[dict[str, Any]]] = {}
    for attempt in attempts:
        by_delivery.setdefault(attempt.delivery_id, []).append(_row(attempt))
    result = _row(msg)
    result["references"] = [_row(r) for r in refs]
    result["deliveries"] = []
    for d in deliveries:
        item = _row(d)
        item.pop("sent_payload", None)
        item["attempt_log"] = by_delivery.get(d.id, [])
        result["deliveries"].append(item)
    return result


def search(engine: Engine, external_id: str) -> list[dict[str, Any]]:
    """Messages known by ``external_id`` in any system (shop number, SAP number, ...)."""
    with engine.connect() as conn:
        ids = set(conn.execute(select(R.message_id).where(R.value == external_id)).scalars())
        ids |= set(conn.execute(select(M.id).where(M.external_id == external_id)).scalars())
        ids |= set(
            conn.execute(select(D.message_id).where(D.target_reference == external_id)).scalars()
        )
        rows = conn.execute(
            select(M.id, M.system, M.kind, M.external_id, M.version, M.received_at)
            .where(M.id.in_(ids or {""}))
            .order_by(M.received_at, M.version)
        ).all()
    return [_row(r) for r in rows]


@dataclass
class DeadLetterGroup:
    """Dead deliveries that failed the same way, e.g. one unknown SKU at one target."""

    fingerprint: str
    target: str
    count: int
    oldest: datetime
    newest: datetime
    example_error: str
    delivery_ids: list[int] = field(default_factory=list)


def dead_letters(engine: Engine, target: str | None = None) -> list[DeadLetterGroup]:
    """Dead and poisoned deliveries grouped by error fingerprint, largest group first."""
    condition: ColumnElement[bool] = D.status.in_(DEAD_STATES)
    if target:
        condition = and_(condition, D.target == target)
    with engine.connect() as conn:
        rows = conn.execute(
            select(D.id, D.target, D.error_fingerprint, D.last_error, D.updated_at)
            .where(condition)
            .order_by(D.id)
        ).all()
    groups: dict[tuple[str, str], DeadLetterGroup] = {}
    for r in rows:
        key = (r.error_fingerprint or "(no fingerprint)", r.target)
        group = groups.get(key)
        if group is None:
            group = groups[key] = DeadLetterGroup(
                key[0], r.target, 0, r.updated_at, r.updated_at, r.last_error or ""
            )
        group.count += 1
        group.oldest = min(group.oldest, r.updated_at)
        group.newest = max(group.newest, r.updated_at)
        group.delivery_ids.append(r.id)
    return sorted(groups.values(), key=lambda g: (-g.count, g.fingerprint))


def replay_dead(
    engine: Engine,
    *,
    delivery_ids: list[int] | None = None,
    fingerprint: str | None = None,
    target: str | None = None,
) -> int:
    """Put dead or poisoned deliveries back in the queue with fresh attempts."""
    conditions: list[ColumnElement[bool]] = [D.status.in_(DEAD_STATES)]
    if delivery_ids is not None:
        conditions.append(D.id.in_(delivery_ids))
    if fingerprint is not None:
        conditions.append(D.error_fingerprint == fingerprint)
    if target is not None:
        conditions.append(D.target == target)
    if len(conditions) == 1:
        raise HubError("say which dead letters to replay: ids, a group or a target")
    with engine.connect() as conn:
        ids = list(conn.execute(select(D.id).where(and_(*conditions))).scalars())
    return QueueStore(engine).replay(ids)


@dataclass
class FieldChange:
    path: str
    before: Any
    after: Any


def _diff(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[FieldChange] = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else str(key)
            changes += _diff(before.get(key), after.get(key), sub)
        return changes
    if isinstance(before, list) and isinstance(after, list):
        changes = []
        for i in range(max(len(before), len(after))):
            changes += _diff(
                before[i] if i < len(before) else None,
                after[i] if i < len(after) else None,
                f"{path}[{i}]",
            )
        return changes
    return [] if before == after else [FieldChange(path or "(document)", before, after)]


@dataclass
class ReplayPlan:
    """What replaying a message would send now, per delivery, against what it sent."""

    message_id: str
    deliveries: list[dict[str, Any]]


def replay_message(
    engine: Engine, routes: RouteTable, message_id: str, *, dry_run: bool
) -> ReplayPlan:
    """Re-map a message's deliveries with the current mappings and queue them again.

    With ``dry_run`` nothing changes; each delivery lists the fields that would differ
    from what was sent before. Delivered deliveries are re-sent with the same idempotency
    key, so a target that honours it applies nothing twice.
    """
    with engine.connect() as conn:
        msg = conn.execute(select(M.kind, M.canonical).where(M.id == message_id)).first()
        if msg is None:
            raise NotFoundError(f"no message {message_id!r}")
        deliveries = conn.execute(
            select(D.id, D.route, D.target, D.status, D.sent_payload, D.sent_mapping_version)
            .where(D.message_id == message_id)
            .order_by(D.id)
        ).all()
    canonical = json.loads(msg.canonical)
    document = model_for(msg.kind).model_validate(canonical)
    plans = []
    for d in deliveries:
        route = routes.route(d.route)
        error = None
        payload: Any = None
        version = None
        try:
            if route.mapping is None:
                payload = canonical
            else:
                mapped = route.mapping.apply(document)
                payload = json.loads(mapped.document.model_dump_json(exclude_none=True))
                version = route.mapping.version
        except HubError as exc:
            error = exc.message
        before = json.loads(d.sent_payload) if d.sent_payload else None
        plans.append(
            {
                "delivery_id": d.id,
                "route": d.route,
                "target": d.target,
                "status": d.status,
                "mapping_version_before": d.sent_mapping_version,
                "mapping_version_now": version,
                "changes": [] if before is None or error else _diff(before, payload),
                "never_sent": before is None,
                "error": error,
            }
        )
    if not dry_run:
        now = utcnow()
        with engine.begin() as conn:
            conn.execute(
                update(delivery_table)
                .where(
                    D.message_id == message_id,
                    or_(D.status.in_(DEAD_STATES), D.status == S.DELIVERED.value),
                )
                .values(
                    status=S.PENDING.value,
                    attempts=0,
                    reclaims=0,
                    next_attempt_at=now,
                    first_attempt_at=None,
                    updated_at=now,
                )
            )
    return ReplayPlan(message_id, plans)


def replay_quarantined(ingestor: Ingestor, quarantine_id: str, *, dry_run: bool) -> dict[str, Any]:
    """Map a quarantined document again with the current mapping; ingest it unless dry."""
    engine = ingestor.engine
    with engine.connect() as conn:
        row = conn.execute(select(quarantined_table).where(Q.id == quarantine_id)).first()
    if row is None:
        raise NotFoundError(f"no quarantined document {quarantine_id!r}")
    mapping = ingestor.mapping_for(row.system, row.kind)
    if dry_run:
        try:
            source = json.loads(row.raw, parse_float=Decimal)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return {
                "quarantine_id": quarantine_id,
                "would_ingest": False,
                "errors": f"still not valid JSON: {exc}",
            }
        try:
            result = mapping.apply(
                source,
                on_mismatch=ingestor.on_mismatch,
                tolerance=ingestor.tolerance,
            )
        except HubError as exc:
            return {"quarantine_id": quarantine_id, "would_ingest": False, "errors": exc.message}
        return {
            "quarantine_id": quarantine_id,
            "would_ingest": True,
            "mapping_version": mapping.version,
            "document": json.loads(result.document.model_dump_json()),
        }
    try:
        outcome = ingestor.ingest(
            row.system,
            row.kind,
            row.raw,
            content_type=row.content_type,
            correlation_id=row.correlation_id,
        )
    except IngestRejected as exc:
        with engine.begin() as conn:  # the new attempt has its own quarantine entry
            conn.execute(
                update(quarantined_table)
                .where(Q.id == exc.quarantine_id)
                .values(status="superseded")
            )
        raise
    with engine.begin() as conn:
        conn.execute(
            update(quarantined_table)
            .where(Q.id == quarantine_id)
            .values(status="replayed", message_id=outcome.message_id, resolved_at=utcnow())
        )
    return {
        "quarantine_id": quarantine_id,
        "message_id": outcome.message_id,
        "created": outcome.created,
    }


def quarantined(engine: Engine, *, status: str = "open") -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Q.id, Q.system, Q.kind, Q.errors, Q.received_at, Q.status)
            .where(Q.status == status)
            .order_by(Q.received_at)
        ).all()
    return [_row(r) for r in rows]


def targets_status(engine: Engine, board: BreakerBoard) -> list[dict[str, Any]]:
    """Each target's breaker, queue depth, in-flight and dead counts, oldest waiting age."""
    now = utcnow()
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                D.target,
                D.status,
                func.count().label("n"),
                func.min(D.created_at).label("oldest"),
            ).group_by(D.target, D.status)
        ).all()
    table: dict[str, dict[str, Any]] = {}
    claimable = {s.value for s in CLAIMABLE}
    for r in rows:
        t = table.setdefault(
            r.target,
            {
                "target": r.target,
                "queued": 0,
                "in_flight": 0,
                "delivered": 0,
                "dead": 0,
                "oldest_waiting_seconds": None,
            },
        )
        if r.status in claimable:
            t["queued"] += r.n
            age = (now - r.oldest).total_seconds()
            t["oldest_waiting_seconds"] = max(t["oldest_waiting_seconds"] or 0, age)
        elif r.status == S.IN_FLIGHT.value:
            t["in_flight"] += r.n
        elif r.status == S.DELIVERED.value:
            t["delivered"] += r.n
        else:
            t["dead"] += r.n
    states = board.states(fresh=True)
    for name in states:
        table.setdefault(
            name,
            {
                "target": name,
                "queued": 0,
                "in_flight": 0,
                "delivered": 0,
                "dead": 0,
                "oldest_waiting_seconds": None,
            },
        )
    for name, t in table.items():
        found = states.get(name)
        t["breaker"] = found.status.value if found else "closed"
        t["open_until"] = found.open_until if found else None
        t["last_failure"] = found.last_failure if found else None
    return sorted(table.values(), key=lambda t: t["target"])
