"""What every HTTP client of the hub shares: the httpx client it owns, and how a failed
call (no HTTP answer at all) becomes a typed delivery error.

Adapters' client modules call these instead of each re-deciding what a refused
connection or a timeout means, so the queue sees the same error for the same failure.
"""

from __future__ import annotations

from collections.abc import Callable

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


def no_answer_error(
    exc: Exception,
    *,
    target: str,
    where: str,
    timeout: float,
    scrub: Callable[[str], str],
    timeout_hint: str = "",
    config_hint: str = "check the target's base_url",
    detail_limit: int = 500,
) -> DeliveryError:
    """The typed error of a call that got no HTTP answer, with a message an integrator can
    act on: what was attempted (``where``, e.g. ``POST https://...``), what happened, and
    the exception's own text; ``scrub`` removes secrets from every part."""
    what = str(exc).strip() or type(exc).__name__
    detail = " ".join(scrub(f"{type(exc).__name__}: {what}").split())
    if len(detail) > detail_limit:
        detail = detail[: detail_limit - 1] + "…"
    cls, happened = transport_error_class(exc)
    text = {
        "unreachable": f"cannot reach {where}",
        "timeout": f"no answer to {where} within {timeout:g}s{timeout_hint}",
        "misconfigured": f"cannot send {where} ({config_hint})",
    }.get(happened, f"{where} failed")
    return cls(scrub(f"{target}: {text}: {detail}"), target=target, detail=detail)
