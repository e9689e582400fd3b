"""The FastAPI application that ``o2c serve`` runs next to the workers.

Every endpoint requires an API key (``Authorization: Bearer``) with the right scope,
except ``/healthz`` (the process answers) and ``/readyz`` (database reachable, schema
current, workers running).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from hub import __version__
from hub.api import inbound, ops_routes, problems
from hub.api.deps import scope
from hub.api.metrics import Metrics
from hub.runtime import Runtime
from hub.store import migrate

CORRELATION = re.compile(r"[A-Za-z0-9._-]{1,64}")


def create_app(runtime: Runtime, workers_alive: Callable[[], bool]) -> FastAPI:
    """The app for one hub process; ``workers_alive`` reports the in-process workers."""
    app = FastAPI(
        title="O2C Hub",
        version=__version__,
        description=(
            "Order-to-cash integration hub: inbound documents from shops and ERPs, their "
            "deliveries to targets, and operations (timelines, dead letters, replay). "
            "Authenticate with an API key: `Authorization: Bearer o2c_…` (create one with "
            "`o2c apikey create`). Errors are RFC 9457 `application/problem+json`."
        ),
    )
    app.state.runtime = runtime
    metrics = Metrics(runtime)
    problems.install(app)
    app.include_router(inbound.router)
    app.include_router(ops_routes.router)

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        if getattr(route, "path", "") == "/v1/inbound/{system}/{kind}":
            params = request.path_params
            system, kind = params.get("system", "?"), params.get("kind", "?")
            outcome = {202: "accepted", 200: "duplicate", 422: "rejected"}.get(
                response.status_code, "refused"
            )
            metrics.ingested.labels(system, kind, outcome).inc()
            if response.status_code in (200, 202):
                metrics.ingest_seconds.labels(system, kind).observe(time.perf_counter() - start)
        return response

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers.")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: database reachable, schema current, workers running.",
        responses={503: {"description": "Not ready; `checks` says why."}},
    )
    def readyz() -> JSONResponse:
        checks: dict[str, Any] = {}
        try:
            with runtime.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            checks["schema"] = "ok" if migrate.is_current(runtime.engine) else "outdated"
        except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
            checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["workers"] = "ok" if workers_alive() else "stopped"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get(
        "/metrics",
        tags=["health"],
        dependencies=[scope("ops:read")],
        summary="Prometheus metrics (needs an ops:read key).",
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE_LATEST: {}}},
            **problems.problem_responses(401, 403),
        },
    )
    async def metrics_endpoint() -> Response:
        body = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app
