"""The queue's database operations: claim with a lease, finish, reclaim, release.

PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` so any number of worker processes on
any number of machines share one queue; SQLite claims in one ``BEGIN IMMEDIATE``
statement. Either way only the head of each (target, ordering key) is claimable: a
delivery waits while an earlier one for the same entity and target is unfinished.
Every write after the claim is fenced by the lease owner, so a worker whose lease was
reclaimed cannot overwrite the new owner's result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, bindparam, exists, func, or_, select, update

from hub.clock import utcnow
from hub.queue.states import CLAIMABLE, UNFINISHED, DeliveryStatus
from hub.store.tables import attempt_table, delivery_table, message_table

D = delivery_table.c
M = message_table.c

S = DeliveryStatus


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker now holds until ``lease_expires_at``."""

    id: int
    message_id: str
    route: str
    target: str
    ordering_key: str
    idempotency_key: str
    attempts: int
    first_attempt_at: datetime | None
    lease_expires_at: datetime
    kind: str = ""
    canonical: str = ""
    correlation_id: str = ""


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended, as the worker decided it."""

    status: DeliveryStatus
    outcome: str
    started_at: datetime
    duration_ms: int
    next_attempt_at: datetime | None = None
    error: str | None = None
    error_class: str | None = None
    fingerprint: str | None = None
    status_code: int | None = None
    reference: str | None = None
    request_summary: str | None = None
    response_summary: str | None = None
    sent_payload: str | None = None
    sent_mapping_version: str | None = None
    counts_attempt: bool = True


class QueueStore:
    """Queue operations over one engine."""

    def __init__(self, engine: Engine, *, poison_after: int = 3) -> None:
        self.engine = engine
        self.poison_after = poison_after
        self.postgres = engine.dialect.name == "postgresql"

    def claim(
        self,
        worker: str,
        limit: int,
        lease: timedelta,
        *,
        exclude_targets: Iterable[str] = (),
        only_target: str | None = None,
    ) -> list[Claimed]:
        """Take up to ``limit`` due deliveries that head their entity's queue."""
        if limit <= 0:
            return []
        now = utcnow()
        earlier = delivery_table.alias("earlier").c
        blocked = exists().where(
            earlier.target == D.target,
            earlier.ordering_key == D.ordering_key,
            earlier.id < D.id,
            earlier.status.in_([s.value for s in UNFINISHED]),
        )
        conditions = [
            D.status.in_([s.value for s in CLAIMABLE]),
            D.next_attempt_at <= now,
            ~blocked,
        ]
        excluded = list(exclude_targets)
        if excluded:
            conditions.append(D.target.not_in(excluded))
        if only_target is not None:
            conditions.append(D.target == only_target)
        candidates = (
            select(D.id).where(and_(*conditions)).order_by(D.next_attempt_at, D.id).limit(limit)
        )
        if self.postgres:
            candidates = candidates.with_for_update(skip_locked=True)
        expires = now + lease
        statement = (
            update(delivery_table)
            .where(D.id.in_(candidates.scalar_subquery()))
            .values(
                status=S.IN_FLIGHT.value,
                lease_owner=worker,
                lease_expires_at=expires,
                first_attempt_at=func.coalesce(D.first_attempt_at, now),
                updated_at=now,
            )
            .returning(
                D.id,
                D.message_id,
                D.route,
                D.target,
                D.ordering_key,
                D.idempotency_key,
                D.attempts,
                D.first_attempt_at,
                D.lease_expires_at,
            )
        )
        with self.engine.begin() as conn:
            rows = conn.execute(statement).all()
            messages = (
                {
                    m.id: m
                    for m in conn.execute(
                        select(M.id, M.kind, M.canonical, M.correlation_id).where(
                            M.id.in_({row.message_id for row in rows})
                        )
                    )
                }
                if rows
                else {}
            )
        claimed = []
        for row in rows:
            m = messages[row.message_id]
            claimed.append(
                Claimed(
                    id=row.id,
                    message_id=row.message_id,
                    route=row.route,
                    target=row.target,
                    ordering_key=row.ordering_key,
                    idempotency_key=row.idempotency_key,
                    attempts=row.attempts,
                    first_attempt_at=row.first_attempt_at,
                    lease_expires_at=row.lease_expires_at,
                    kind=m.kind,
                    canonical=m.canonical,
                    correlation_id=m.correlation_id,
                )
            )
        return sorted(claimed, key=lambda c: c.id)

    def finish(self, claimed: Claimed, worker: str, outcome: Outcome) -> bool:
        """Record an attempt's outcome; False when the lease was lost meanwhile."""
        return self.finish_many([(claimed, outcome)], worker)[0]

    def finish_many(self, items: Sequence[tuple[Claimed, Outcome]], worker: str) -> list[bool]:
        """Record several outcomes in one transaction (one durable commit for all).

        The rows still held by ``worker`` are locked first (fencing: a reclaimed delivery
        is not ours any more); the updates then go out as one executemany per shape.
        """
        if not items:
            return []
        now = utcnow()
        ids = [claimed.id for claimed, _ in items]
        with self.engine.begin() as conn:
            held_query = select(D.id).where(
                D.id.in_(ids), D.lease_owner == worker, D.status == S.IN_FLIGHT.value
            )
            if self.postgres:
                held_query = held_query.with_for_update()
            held = set(conn.execute(held_query).scalars())
            groups: dict[tuple[str, ...], list[dict[str, object]]] = {}
            attempts: list[dict[str, object]] = []
            for claimed, outcome in items:
                if claimed.id not in held:
                    continue
                values = self._finish_values(outcome, now)
                params = {f"v_{k}": v for k, v in values.items() if k != "attempts"}
                params["b_id"] = claimed.id
                groups.setdefault(tuple(sorted(values)), []).append(params)
                attempts.append(
                    {
                        "delivery_id": claimed.id,
                        "number": claimed.attempts + 1,
                        "worker": worker,
                        "started_at": outcome.started_at,
                        "duration_ms": outcome.duration_ms,
                        "outcome": outcome.outcome,
                        "status_code": outcome.status_code,
                        "error": outcome.error,
                        "request_summary": outcome.request_summary,
                        "response_summary": outcome.response_summary,
                    }
                )
            for keys, rows in groups.items():
                sets: dict[str, object] = {
                    k: (D.attempts + 1 if k == "attempts" else bindparam(f"v_{k}")) for k in keys
                }
                conn.execute(
                    update(delivery_table).where(D.id == bindparam("b_id")).values(**sets), rows
                )
            if attempts:
                conn.execute(attempt_table.insert(), attempts)
        return [claimed.id in held for claimed, _ in items]

    @staticmethod
    def _finish_values(outcome: Outcome, now: datetime) -> dict[str, object]:
        values: dict[str, object] = {
            "status": outcome.status.value,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
            "last_error": outcome.error,
            "error_class": outcome.error_class,
            "error_fingerprint": outcome.fingerprint,
        }
        if outcome.counts_attempt:
            values["attempts"] = True  # attempts = attempts + 1
        if outcome.next_attempt_at is not None:
            values["next_attempt_at"] = outcome.next_attempt_at
        if outcome.reference is not None:
            values["target_reference"] = outcome.reference
        if outcome.status is S.DELIVERED:
            values["delivered_at"] = now
        if outcome.sent_payload is not None:
            values["sent_payload"] = outcome.sent_payload
            values["sent_mapping_version"] = outcome.sent_mapping_version
        return values

    def release(self, claimed: Sequence[Claimed], worker: str) -> int:
        """Give back deliveries not started (graceful shutdown): no attempt is used."""
        if not claimed:
            return 0
        now = utcnow()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(delivery_table)
                .where(
                    D.id.in_([c.id for c in claimed]),
                    D.lease_owner == worker,
                    D.status == S.IN_FLIGHT.value,
                )
                .values(
                    status=S.PENDING.value, lease_owner=None, lease_expires_at=None, updated_at=now
                )
            )
        return int(result.rowcount)

    def extend(self, claimed: Claimed, worker: str, lease: timedelta) -> bool:
        """Push a long delivery's lease further out (heartbeat)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(delivery_table)
                .where(
                    D.id == claimed.id,
                    D.lease_owner == worker,
                    D.status == S.IN_FLIGHT.value,
                )
                .values(lease_expires_at=utcnow() + lease)
            )
        return bool(result.rowcount)

    def reclaim_expired(self) -> tuple[int, int]:
        """Deliveries whose worker died: back to pending, or poisoned after N reclaims.

        Returns (reclaimed, poisoned).
        """
        now = utcnow()
        expired = and_(
            D.status == S.IN_FLIGHT.value,
            D.lease_expires_at < now,
        )
        with self.engine.begin() as conn:
            poisoned = conn.execute(
                update(delivery_table)
                .where(expired, D.reclaims + 1 >= self.poison_after)
                .values(
                    status=S.POISONED.value,
                    reclaims=D.reclaims + 1,
                    lease_owner=None,
                    lease_expires_at=None,
                    last_error=f"worker lost its lease {self.poison_after} times: parked "
                    "as poison (replay it once the cause is fixed)",
                    error_class="Poisoned",
                    error_fingerprint="poisoned: worker died during delivery",
                    updated_at=now,
                )
            ).rowcount
            reclaimed = conn.execute(
                update(delivery_table)
                .where(expired)
                .values(
                    status=S.PENDING.value,
                    reclaims=D.reclaims + 1,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            ).rowcount
        return int(reclaimed), int(poisoned)

    def replay(self, ids: Sequence[int]) -> int:
        """Dead or poisoned deliveries back to pending, attempts reset."""
        if not ids:
            return 0
        now = utcnow()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(delivery_table)
                .where(
                    D.id.in_(list(ids)),
                    or_(D.status == S.DEAD.value, D.status == S.POISONED.value),
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
        return int(result.rowcount)

    def next_due(self) -> datetime | None:
        """When the earliest waiting delivery becomes due (for sleeping until then)."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.min(D.next_attempt_at)).where(
                    D.status.in_([s.value for s in CLAIMABLE])
                )
            ).scalar()
