"""The FastAPI application that ``o2c serve`` runs next to the workers.

Only the health endpoints exist so far, and they are the only ones that will ever be
reachable without authentication: ``/healthz`` says the process answers, ``/readyz``
says it can do its job (database reachable, schema current, workers running).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from hub import __version__
from hub.runtime import Runtime
from hub.store import migrate


def create_app(runtime: Runtime, workers_alive: Callable[[], bool]) -> FastAPI:
    """The app for one hub process; ``workers_alive`` reports the in-process workers."""
    app = FastAPI(
        title="O2C Hub",
        version=__version__,
        description="Order-to-cash integration hub: inbound documents, deliveries, operations.",
    )

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

    return app
