"""Operations over HTTP: timelines, search, dead letters, replay, targets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator
from starlette.concurrency import run_in_threadpool

from hub import ops
from hub.api.deps import Caller, RuntimeDep, scope
from hub.api.problems import problem_responses
from hub.audit import AuditAction, record
from hub.errors import NotFoundError
from hub.queue.breakers import BreakerBoard

router = APIRouter(prefix="/v1", tags=["operations"])
READ = scope("ops:read")
REPLAY = scope("ops:replay")


class Attempt(BaseModel):
    number: int
    worker: str
    started_at: datetime
    duration_ms: int
    outcome: str
    status_code: int | None = None
    error: str | None = None
    request_summary: str | None = None
    response_summary: str | None = None


class DeliveryView(BaseModel):
    id: int
    route: str
    target: str
    status: str
    attempts: int
    ordering_key: str
    next_attempt_at: datetime | None = None
    target_reference: str | None = None
    last_error: str | None = None
    error_fingerprint: str | None = None
    delivered_at: datetime | None = None
    attempt_log: list[Attempt] = Field(default_factory=list)


class Reference(BaseModel):
    system: str
    value: str


class Timeline(BaseModel):
    """A message and everything that happened to it."""

    id: str
    system: str
    kind: str
    external_id: str
    version: int
    mapping_name: str
    mapping_version: str
    flagged: bool
    correlation_id: str
    received_at: datetime
    references: list[Reference]
    deliveries: list[DeliveryView]


class MessageSummary(BaseModel):
    id: str
    system: str
    kind: str
    external_id: str
    version: int
    received_at: datetime


class DeadLetterGroupView(BaseModel):
    fingerprint: str
    target: str
    count: int
    oldest: datetime
    newest: datetime
    example_error: str
    delivery_ids: list[int]


class ReplayRequest(BaseModel):
    """Which dead letters to replay: ids, a fingerprint group, or all of one target."""

    delivery_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(
        None, max_length=10_000
    )
    fingerprint: str | None = Field(None, max_length=255)
    target: str | None = Field(None, max_length=128)

    @model_validator(mode="after")
    def _something(self) -> ReplayRequest:
        if not (self.delivery_ids or self.fingerprint or self.target):
            raise ValueError("give delivery_ids, a fingerprint or a target")
        return self


class Replayed(BaseModel):
    replayed: int


class TargetView(BaseModel):
    target: str
    breaker: str
    queued: int
    in_flight: int
    delivered: int
    dead: int
    oldest_waiting_seconds: float | None = None
    open_until: datetime | None = None
    last_failure: str | None = None


ERRORS = problem_responses(400, 401, 403, 404, 422)


@router.get(
    "/messages/{message_id}",
    response_model=Timeline,
    dependencies=[READ],
    responses=ERRORS,
    summary="A message's whole timeline.",
)
async def get_message(message_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(ops.message_timeline, runtime.engine, message_id)


@router.get(
    "/messages",
    response_model=list[MessageSummary],
    dependencies=[READ],
    responses=ERRORS,
    summary="Messages known by an id in any system.",
)
async def search_messages(
    runtime: RuntimeDep,
    external_id: Annotated[str, Query(min_length=1, max_length=255)],
) -> list[dict[str, Any]]:
    return await run_in_threadpool(ops.search, runtime.engine, external_id)


@router.post(
    "/messages/{message_id}/replay",
    dependencies=[REPLAY],
    responses=ERRORS,
    summary="Re-map with the current mappings and send again (or just diff).",
)
async def replay_message(
    message_id: str, runtime: RuntimeDep, caller: Caller, dry_run: bool = False
) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        try:
            plan = ops.replay_message(runtime.engine, runtime.routes, message_id, dry_run=dry_run)
        except NotFoundError:  # perhaps a quarantined document: map it again
            result = ops.replay_quarantined(runtime.ingestor, message_id, dry_run=dry_run)
            if not dry_run:
                record(
                    runtime.engine,
                    actor=caller.name,
                    action=AuditAction.QUARANTINE_REPLAYED,
                    target=message_id,
                )
            return {"quarantine": result, "dry_run": dry_run}
        if not dry_run:
            record(
                runtime.engine,
                actor=caller.name,
                action=AuditAction.MESSAGE_REPLAYED,
                target=message_id,
            )
        return {
            "message_id": plan.message_id,
            "dry_run": dry_run,
            "deliveries": [
                {**d, "changes": [c.__dict__ for c in d["changes"]]} for d in plan.deliveries
            ],
        }

    return await run_in_threadpool(run)


@router.get(
    "/dead-letters",
    response_model=list[DeadLetterGroupView],
    dependencies=[READ],
    responses=ERRORS,
    summary="Dead letters grouped by cause.",
)
async def dead_letters(
    runtime: RuntimeDep, target: Annotated[str | None, Query(max_length=128)] = None
) -> list[dict[str, Any]]:
    groups = await run_in_threadpool(ops.dead_letters, runtime.engine, target)
    return [g.__dict__ for g in groups]


@router.post(
    "/dead-letters/replay",
    response_model=Replayed,
    dependencies=[REPLAY],
    responses=ERRORS,
    summary="Queue dead letters again with fresh attempts.",
)
async def replay_dead_letters(body: ReplayRequest, runtime: RuntimeDep, caller: Caller) -> Replayed:
    def run() -> int:
        count = ops.replay_dead(
            runtime.engine,
            delivery_ids=body.delivery_ids,
            fingerprint=body.fingerprint,
            target=body.target,
        )
        record(
            runtime.engine,
            actor=caller.name,
            action=AuditAction.DLQ_REPLAYED,
            target=body.target or body.fingerprint or "ids",
            details={"count": count, "ids": (body.delivery_ids or [])[:50]},
        )
        return count

    return Replayed(replayed=await run_in_threadpool(run))


@router.get(
    "/targets",
    response_model=list[TargetView],
    dependencies=[READ],
    responses=ERRORS,
    summary="Each target's breaker, queue depth and backlog age.",
)
async def targets(runtime: RuntimeDep) -> list[dict[str, Any]]:
    board = BreakerBoard(runtime.engine, runtime.settings.workers.breaker.to_policy())
    return await run_in_threadpool(ops.targets_status, runtime.engine, board)
