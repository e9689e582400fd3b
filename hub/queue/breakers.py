"""Breaker states shared by every worker process through the ``target_state`` table.

Each worker keeps a copy refreshed about once a second; every event that can change a
state is applied in a transaction on the row (``FOR UPDATE`` on PostgreSQL, ``BEGIN
IMMEDIATE`` on SQLite), so two processes never lose each other's failures, and only one
of them sends the half-open probe.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.errors import DeliveryError
from hub.queue.breaker import BreakerPolicy, BreakerState, BreakerStatus
from hub.store.tables import target_state_table

T = target_state_table.c


class BreakerBoard:
    """Read, probe and update the breakers of all targets."""

    def __init__(self, engine: Engine, policy: BreakerPolicy, *, refresh_seconds: float = 1.0):
        self.engine = engine
        self.policy = policy
        self.refresh_seconds = refresh_seconds
        self._cache: dict[str, BreakerState] = {}
        self._read_at = 0.0

    def states(self, *, fresh: bool = False) -> dict[str, BreakerState]:
        """Every target's breaker (targets never seen are closed and absent)."""
        if fresh or time.monotonic() - self._read_at > self.refresh_seconds:
            with self.engine.connect() as conn:
                rows = conn.execute(select(T.target, T.breaker)).all()
            self._cache = {
                row.target: BreakerState.from_dict(json.loads(row.breaker), self.policy)
                for row in rows
            }
            self._read_at = time.monotonic()
        return self._cache

    def paused(self, now: datetime) -> tuple[set[str], list[str]]:
        """(targets not to claim normally, targets that may get a half-open probe now)."""
        paused: set[str] = set()
        probes: list[str] = []
        for target, state in self.states().items():
            if state.status is BreakerStatus.CLOSED:
                continue
            paused.add(target)
            if state.next_allowed_at(now) is None:
                probes.append(target)
        return paused, probes

    def acquire_probe(self, target: str, now: datetime) -> bool:
        """Atomically make this caller the target's half-open probe, if none is running."""
        return self._update(target, now, lambda s: s.allow(now))

    def needs_write(self, target: str) -> bool:
        """False when a success would change nothing (closed, no failures counted)."""
        cached = self._cache.get(target)
        return cached is not None and not (
            cached.status is BreakerStatus.CLOSED and cached.consecutive_failures == 0
        )

    def record(self, target: str, now: datetime, error: DeliveryError | None) -> None:
        """Apply one call's outcome. A success on a closed, healthy breaker writes nothing."""
        cached = self._cache.get(target)
        if error is None and (
            cached is None
            or (cached.status is BreakerStatus.CLOSED and cached.consecutive_failures == 0)
        ):
            return

        def event(state: BreakerState) -> bool:
            if error is None:
                state.record_success(now)
            else:
                state.record_failure(now, error)
            return True

        self._update(target, now, event)

    def _update(self, target: str, now: datetime, event: Callable[[BreakerState], bool]) -> bool:
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        initial = json.dumps(BreakerState(policy=self.policy).to_dict())
        with self.engine.begin() as conn:
            conn.execute(
                insert(target_state_table)
                .values(target=target, breaker=initial, updated_at=now)
                .on_conflict_do_nothing(index_elements=["target"])
            )
            query = select(T.breaker).where(T.target == target)
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update()
            raw = conn.execute(query).scalar_one()
            state = BreakerState.from_dict(json.loads(raw), self.policy)
            before = state.to_dict()
            result = event(state)
            after = state.to_dict()
            if after != before:
                conn.execute(
                    target_state_table.update()
                    .where(T.target == target)
                    .values(breaker=json.dumps(after), updated_at=now)
                )
        self._cache[target] = state
        return result

    def reset(self, target: str, now: datetime) -> None:
        """Close a breaker by hand (an operator fixed the target)."""
        fresh = json.dumps(BreakerState(policy=self.policy).to_dict())
        with self.engine.begin() as conn:
            conn.execute(
                target_state_table.update()
                .where(T.target == target)
                .values(breaker=fresh, updated_at=now)
            )
        self._cache.pop(target, None)
