"""``POST /v1/inbound/{system}/{kind}``: documents in, durably stored before any 2xx."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hub.api.deps import Caller, RuntimeDep
from hub.api.problems import problem_responses
from hub.errors import HubError, NotFoundError, UnknownNameError
from hub.ingest import JSON_TYPES

router = APIRouter(prefix="/v1/inbound", tags=["inbound"])
NAME = r"^[a-z][a-z0-9_]{0,63}$"


class Accepted(BaseModel):
    """The document is stored; its deliveries are queued."""

    message_id: str
    status_url: str = Field(description="GET it for the message's timeline.")
    version: int = Field(description="1 for a new document, then 2, 3 for changed ones.")
    duplicate: bool = Field(description="True: the same document was stored before.")


class BodyTooLarge(HubError):
    """The request body is larger than server.max_body_bytes."""

    status = 413


class UnsupportedMediaType(HubError):
    """Send the document as application/json."""

    status = 415


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body has {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/{system}/{kind}",
    status_code=202,
    response_model=Accepted,
    summary="Post a document from a source system.",
    description=(
        "Maps the document to its canonical form, stores it with one delivery per matching "
        "route, and answers 202 only once it is durable. The same document again answers "
        "200 with the original id. A document that cannot be mapped answers 422 listing "
        "every problem, and is kept in quarantine for replay. Needs the scope "
        "`inbound:<system>`; sources that sign their calls must send a valid signature."
    ),
    responses={
        200: {"model": Accepted, "description": "Duplicate: stored before, nothing new."},
        **problem_responses(400, 401, 403, 404, 413, 415, 422),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def post_document(
    request: Request,
    response: Response,
    caller: Caller,
    runtime: RuntimeDep,
    system: Annotated[str, Path(pattern=NAME, description="e.g. magento")],
    kind: Annotated[str, Path(pattern=NAME, description="e.g. order")],
    x_correlation_id: Annotated[
        str | None, Header(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    ] = None,
) -> Accepted:
    caller.require(f"inbound:{system}")
    content_type = request.headers.get("content-type")
    base = (content_type or "").split(";")[0].strip().lower()
    if base not in JSON_TYPES and not base.endswith("+json"):
        raise UnsupportedMediaType(
            f"content type {content_type or '(none)'!r} is not JSON; send application/json"
        )
    body = await _read_body(request, runtime.settings.server.max_body_bytes)
    verifier = runtime.signature_verifier(system)
    if verifier is not None:
        verifier.verify(body, request.headers, datetime.now(UTC))
    try:
        ingestor = runtime.ingestor
        ingestor.mapping_for(system, kind)
    except UnknownNameError as exc:
        raise NotFoundError(f"no inbound mapping for {system}/{kind}") from exc
    result = await run_in_threadpool(
        ingestor.ingest,
        system,
        kind,
        body,
        content_type=content_type or "application/json",
        correlation_id=x_correlation_id,
    )
    if not result.created:
        response.status_code = 200
    response.headers["X-Correlation-Id"] = result.correlation_id
    return Accepted(
        message_id=result.message_id,
        status_url=f"/v1/messages/{result.message_id}",
        version=result.version,
        duplicate=not result.created,
    )
