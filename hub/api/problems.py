"""RFC 9457 problem details: every error the API answers has the same shape.

Domain code raises typed :class:`~hub.errors.HubError`s; this is the one place that
turns them into HTTP answers, reading their ``status``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.errors import HubError, Issue

PROBLEM_JSON = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Document rejected",
    500: "Internal error",
    503: "Not ready",
}


class ProblemError(BaseModel):
    """One problem with the input: which canonical field, which rule, which source path."""

    field: str | None = None
    rule: str | None = None
    source: str | None = None
    where: str | None = Field(None, description="Mapping file:line:column, when known.")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemError] = Field(default_factory=list)
    quarantine_id: str | None = Field(
        None, description="The document was kept; replay it with this id once fixed."
    )


def problem(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    issues: list[Issue] | None = None,
    quarantine_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=instance,
        errors=[
            ProblemError(
                field=i.field, rule=i.rule, source=i.source, where=i.where, message=i.message
            )
            for i in issues or []
        ],
        quarantine_id=quarantine_id,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these statuses, all problem+json."""
    return {
        status: {
            "model": Problem,
            "description": TITLES.get(status, "Error"),
            "content": {PROBLEM_JSON: {}},
        }
        for status in statuses
    }


def install(app: FastAPI) -> None:
    """Exception handlers: HubError by its status, validation and routing errors alike."""

    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> JSONResponse:
        issues = getattr(exc, "issues", None)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(
            exc.status,
            exc.message,
            instance=request.url.path,
            issues=issues if isinstance(issues, list) else None,
            quarantine_id=getattr(exc, "quarantine_id", None),
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [
            Issue(
                where=".".join(str(p) for p in err.get("loc", ())),
                message=str(err.get("msg", "invalid")),
                rule=str(err.get("type", "")),
            )
            for err in exc.errors()
        ]
        return problem(422, "the request is invalid", instance=request.url.path, issues=issues)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )
