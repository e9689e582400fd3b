"""What every HTTP client of the hub shares: the httpx client it owns, and how a failed
call (no HTTP answer at all) becomes a typed delivery error.

Adapters' client modules call these instead of each re-deciding what a refused
connection or a timeout means, so the queue sees the same error for the same failure.
"""

from __future__ import annotations

import httpx
from httpx_aiohttp import AiohttpTransport

from hub.errors import (
    DeliveryError,
    PermanentError,
    TargetTimeout,
    TargetUnavailable,
    TransientError,
)


def make_client(
    timeout: float, *, max_connections: int = 32, verify: bool = True
) -> httpx.AsyncClient:
    """An AsyncClient with httpx's API over aiohttp: httpx's own pool costs O(connections)
    per request under load (encode/httpx#3215); no proxies from the environment."""
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=5.0,
    )
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        verify=verify,
        follow_redirects=False,
        limits=limits,
        transport=AiohttpTransport(verify=verify, limits=limits, trust_env=False),
        trust_env=False,
    )


def cause_chain(exc: BaseException) -> list[BaseException]:
    """The exception and what caused it, innermost last (at most 10)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def refused_under_timeout(exc: BaseException) -> bool:
    """The aiohttp transport reports a refused connection as ``httpx.ConnectTimeout``;
    the OS error underneath tells what really happened."""
    return isinstance(exc, httpx.TimeoutException) and any(
        isinstance(e, ConnectionRefusedError | ConnectionResetError) for e in cause_chain(exc)
    )


def transport_error_class(exc: Exception) -> tuple[type[DeliveryError], str]:
    """(error class, what happened) for a call that got no HTTP answer."""
    if refused_under_timeout(exc):
        return TargetUnavailable, "unreachable"
    if isinstance(exc, httpx.TimeoutException):
        return TargetTimeout, "timeout"
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | httpx.ProxyError):
        return TargetUnavailable, "unreachable"
    if isinstance(
        exc,
        httpx.UnsupportedProtocol
        | httpx.LocalProtocolError
        | httpx.InvalidURL
        | httpx.TooManyRedirects,
    ):
        return PermanentError, "misconfigured"
    return TransientError, "failed"
