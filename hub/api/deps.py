"""Request dependencies: the runtime and the authenticated caller."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from hub.runtime import Runtime
from hub.security.apikeys import Principal, authenticate

bearer = HTTPBearer(auto_error=False, description="An API key: Authorization: Bearer o2c_…")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller; every endpoint but health depends on this."""
    runtime = get_runtime(request)
    header = request.headers.get("authorization")
    del credentials  # declared for the OpenAPI security scheme; the raw header is checked
    return await run_in_threadpool(authenticate, runtime.engine, header)


Caller = Annotated[Principal, Depends(principal)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def scope(name: str) -> Any:
    """A dependency requiring ``name`` (``admin`` passes everything)."""

    async def check(caller: Caller) -> Principal:
        caller.require(name)
        return caller

    return Depends(check)
