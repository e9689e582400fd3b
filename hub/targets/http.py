"""A delivery target that is a generic HTTP/JSON endpoint.

:class:`HttpTarget` sends ``delivery.payload`` as a JSON body (``POST`` or ``PUT``) with the
delivery's identity in headers::

    Idempotency-Key        delivery.idempotency_key  (stable across retries and replays)
    X-O2C-Ordering-Key     delivery.ordering_key
    X-O2C-Correlation-Id   delivery.correlation_id
    X-O2C-Message-Id       delivery.message_id
    X-O2C-Attempt          delivery.attempt

and turns the answer into a :class:`~hub.targets.base.DeliveryResult` or a typed
:class:`~hub.errors.DeliveryError`:

================================  ==============================================================
2xx                               ``DeliveryResult``; reference from ``body[reference_field]``,
                                  else the last path segment of ``Location``, else ``None``
429, or a retryable status with   ``RateLimited(retry_after=...)``
a usable Retry-After
504                               ``TargetTimeout``
408, 425, 500, 502, 503, 5xx      ``TransientError``
401, 403                          ``AuthFailed``
400, 404, 409, 422, other 4xx     ``Rejected`` with the target's own message
1xx, 3xx (redirects are not       ``PermanentError``: the URL is probably wrong
followed)
connection refused / reset        ``TargetUnavailable``
connect / read / write / pool     ``TargetTimeout`` (the call may have landed: the retry relies on
timeout                           the Idempotency-Key)
================================  ==============================================================

``Retry-After`` is read in both of its forms, delay-seconds and HTTP-date. Statuses are
classified by the queue's one disposition table
(:func:`hub.queue.disposition.classify_status`), so this target and every adapter agree.

Every error carries ``target`` (the target's name), ``status_code`` (``None`` when there
was no HTTP answer) and ``detail`` (the target's message or the transport failure, at most
500 characters). Header values are secrets (:class:`~pydantic.SecretStr`): they are
revealed only when the request is built, and every message and detail is scrubbed of them
before it leaves this module -- a target that echoes a bad token in its 401 body does not
put the token into the hub's logs or database. The URL is not a secret; credentials in it
are refused (put them in ``headers``).

Retries: this module retries *only* a connection that was refused or reset (including a
kept-alive connection the server closed just before our request), once, after 0.2 s, and
never starts a second attempt more than 1 s after the first began. That smooths over a
target restart or a stale pooled connection without the delivery going back to the queue.
Everything else -- timeouts, 5xx, rate limits -- is raised at once: the durable queue owns
the long retries (backoff, ``retry_after``, circuit breaking, dead-lettering) and must see
every failure to count it. Retrying a reset after the request was sent is safe because the
request carries the delivery's Idempotency-Key.

httpx exceptions never leave this module: each is translated with ``raise ... from exc``.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import quote, unquote, urlsplit
from uuid import UUID

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_fixed,
)

from hub import __version__
from hub.errors import (
    DeliveryError,
    PermanentError,
    RateLimited,
)
from hub.queue.disposition import classify_status
from hub.targets.base import Delivery, DeliveryResult
from hub.targets.transport import (
    cause_chain,
    make_client,
    refused_under_timeout,
    transport_error_class,
)

__all__ = [
    "DETAIL_LIMIT",
    "HttpTarget",
    "HttpTargetConfig",
]

DETAIL_LIMIT: Final = 500
"""The longest ``detail`` an error carries (the target's message, truncated)."""


QUICK_RETRY_ATTEMPTS: Final = 2
QUICK_RETRY_WAIT: Final = 0.2
QUICK_RETRY_BUDGET: Final = 1.0
"""No second attempt starts later than this many seconds after the first began."""

_SUMMARY_LIMIT: Final = 200
_MASK: Final = "***"
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_RESERVED_HEADERS: Final = frozenset(
    {"idempotency-key", "content-type", "content-length", "host", "transfer-encoding"}
)
_AUTH_SCHEMES: Final = frozenset({"basic", "bearer", "token", "digest", "apikey", "negotiate"})
_MESSAGE_KEYS: Final = ("message", "detail", "error", "error_description", "title", "value")


# --------------------------------------------------------------------------- config


def _check_url(value: str, field: str) -> str:
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"{field} is not a valid URL: {exc}") from None
    if url.scheme not in {"http", "https"}:
        raise ValueError(f"{field} must be an http:// or https:// URL")
    if not url.host:
        raise ValueError(f"{field} has no host")
    if url.userinfo:
        raise ValueError(
            f"{field} must not contain credentials; put them in `headers` (secret values)"
        )
    return value


class HttpTargetConfig(BaseModel):
    """How to reach one HTTP/JSON target."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str = Field(
        min_length=1,
        description=(
            "Endpoint that receives each delivery's payload as a JSON body (http:// or "
            "https://). Not treated as a secret: credentials belong in `headers`."
        ),
    )
    method: Literal["POST", "PUT"] = Field(
        default="POST", description="HTTP method used to deliver."
    )
    timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description=(
            "Seconds allowed for each phase of a call (connect, send, wait for the answer, "
            "get a pooled connection). Exceeding it raises TargetTimeout."
        ),
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "Extra request headers, e.g. `Authorization` or `X-Api-Key`. Values are secrets: "
            "masked in every display and scrubbed from every error. The delivery headers "
            "(`Idempotency-Key`, `X-O2C-*`) and `Content-Type` cannot be overridden."
        ),
    )
    reference_field: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Key of the response body's JSON object that holds the target's id for the "
            "document (dots reach into nested objects, e.g. `d.SalesOrder`, unless the "
            "literal key exists). Without it, or when the body lacks it, the last path "
            "segment of the `Location` header is the reference."
        ),
    )
    verify_tls: bool = Field(
        default=True,
        description=(
            "Verify the target's TLS certificate. Applies to the client this target creates; "
            "an injected client keeps its own setting."
        ),
    )
    health_url: str | None = Field(
        default=None,
        description=(
            "URL probed by `health()`; any 2xx answer means healthy. Without it the target "
            "is assumed healthy and deliveries find out."
        ),
    )
    health_method: Literal["GET", "HEAD"] = Field(
        default="GET", description="HTTP method of the health probe."
    )
    max_connections: int = Field(
        default=32,
        ge=1,
        le=1000,
        description="Most simultaneous connections to the target (the owned client's pool).",
    )
    transport: Literal["aiohttp", "httpx"] = Field(
        default="aiohttp",
        description=(
            "HTTP engine under the httpx API: `aiohttp` (faster under concurrency) or httpx's "
            "own `httpx` transport."
        ),
    )

    @field_validator("url")
    @classmethod
    def _url_ok(cls, value: str) -> str:
        return _check_url(value, "url")

    @field_validator("health_url")
    @classmethod
    def _health_url_ok(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, "health_url")

    @field_validator("headers")
    @classmethod
    def _headers_ok(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        seen: set[str] = set()
        for name, secret in value.items():
            lowered = name.lower()
            if not _TOKEN.match(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP token")
            if lowered in _RESERVED_HEADERS or lowered.startswith("x-o2c-"):
                raise ValueError(f"header {name!r} is set by the hub and cannot be configured")
            if lowered in seen:
                raise ValueError(f"header {name!r} is given twice (names are case-insensitive)")
            seen.add(lowered)
            revealed = secret.get_secret_value()
            if not (revealed.isascii() and revealed.isprintable()):
                # never echo the value: it is a secret
                raise ValueError(f"header {name!r} must have a printable ASCII value")
        return value


# --------------------------------------------------------------------------- helpers


def _json_default(value: object) -> Any:
    """JSON for the non-JSON types a mapped document may hold.

    Decimals travel as strings (exact, as SAP OData and Magento do for amounts).
    """
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"a {type(value).__name__} cannot be sent as JSON")


_HEADER_SAFE: Final = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def _header_value(value: str) -> str:
    """A delivery field as a header value. HTTP headers are ASCII: printable ASCII is sent
    as is, anything else percent-encoded as UTF-8 -- the same way on every attempt, so the
    target still sees one stable Idempotency-Key."""
    if value.isascii() and value.isprintable():
        return value
    return quote(value, safe=_HEADER_SAFE)


def _safe_url(url: str) -> str:
    """The URL without query and fragment, for messages (the query may carry a key)."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(query=None, fragment=None))


def _truncate(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _find_message(value: Any, depth: int = 0) -> str | None:
    """The human part of an error body: ``message``/``detail``/``error``/... at any depth
    up to 3 (OData nests ``{"error": {"message": {"value": ...}}}``)."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict) and depth < 3:
        for key in _MESSAGE_KEYS:
            if key in value and value[key] not in (None, "", [], {}):
                found = _find_message(value[key], depth + 1)
                if found is not None:
                    return found
        return None
    if value is None or value in ([], {}):
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _response_json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:  # not JSON (json.JSONDecodeError and UnicodeDecodeError)
        return None


def _lookup(body: Any, field: str) -> Any:
    if not isinstance(body, dict):
        return None
    if field in body:
        return body[field]
    current: Any = body
    for part in field.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def _is_refused_or_reset(exc: BaseException) -> bool:
    """True for the failures the quick retry covers: refused or reset connections.

    DNS failures and TLS failures are also ``httpx.ConnectError`` but a second try a
    fraction of a second later will not help, so they are left to the queue.
    """
    if refused_under_timeout(exc):
        return True
    if not isinstance(
        exc, httpx.ConnectError | httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError
    ):
        return False
    return not any(isinstance(e, socket.gaierror | ssl.SSLError) for e in cause_chain(exc))


# --------------------------------------------------------------------------- the target


class HttpTarget:
    """A :class:`~hub.targets.base.Target` that delivers to an HTTP/JSON endpoint.

    Pass ``client`` to share an :class:`httpx.AsyncClient` (the caller then closes it;
    this target still applies its own timeout per request). Otherwise the target owns a
    client with a pool of ``config.max_connections`` connections, closed by
    :meth:`aclose`; like any httpx client it honours ``HTTPS_PROXY``/``NO_PROXY``.
    """

    def __init__(
        self,
        name: str,
        config: HttpTargetConfig,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self._timeout = httpx.Timeout(config.timeout)
        self._owns_client = client is None
        if client is None and config.transport == "aiohttp":
            client = make_client(
                config.timeout, max_connections=config.max_connections, verify=config.verify_tls
            )
        elif client is None:
            limits = httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
                keepalive_expiry=5.0,
            )
            client = httpx.AsyncClient(
                timeout=self._timeout,
                verify=config.verify_tls,
                follow_redirects=False,
                limits=limits,
                trust_env=False,
            )
        self._client = client
        self._headers = {
            "Accept": "application/json",
            "User-Agent": f"o2c-hub/{__version__}",
            **{key: value.get_secret_value() for key, value in config.headers.items()},
        }
        secrets: set[str] = set()
        for value in config.headers.values():
            revealed = value.get_secret_value()
            if revealed:
                secrets.add(revealed)
            # a token without its scheme ("Bearer abc" echoed as "abc") is still the secret
            secrets.update(
                part
                for part in revealed.split()
                if len(part) >= 4 and part.lower() not in _AUTH_SCHEMES
            )
        self._secrets = sorted(secrets, key=len, reverse=True)
        self._display_url = _safe_url(config.url)

    def __repr__(self) -> str:
        return f"HttpTarget(name={self.name!r}, url={self._display_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ protocol

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        """Send the delivery once (plus the quick reconnect); raise a DeliveryError if the
        target did not accept it."""
        try:
            body = json.dumps(
                delivery.payload,
                default=_json_default,
                ensure_ascii=False,
                allow_nan=False,
                separators=(",", ":"),
            ).encode("utf-8")
        except (TypeError, ValueError) as exc:
            detail = self._scrub(f"payload is not JSON-serialisable: {exc}")
            raise PermanentError(f"{self.name}: {detail}", target=self.name, detail=detail) from exc
        headers = {
            **self._headers,
            "Content-Type": "application/json",
            "Idempotency-Key": _header_value(delivery.idempotency_key),
            "X-O2C-Ordering-Key": _header_value(delivery.ordering_key),
            "X-O2C-Correlation-Id": _header_value(delivery.correlation_id),
            "X-O2C-Message-Id": _header_value(delivery.message_id),
            "X-O2C-Attempt": str(delivery.attempt),
        }
        response, tries = await self._send(self.config.method, self.config.url, headers, body)
        if not response.is_success:
            raise self._status_error(response)
        reference = self._reference(response)
        summary = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
        if reference is not None:
            summary += f"; reference {reference}"
        if tries > 1:
            summary += f"; after {tries} connection attempts"
        return DeliveryResult(
            reference=reference,
            status_code=response.status_code,
            summary=_truncate(self._scrub(summary), _SUMMARY_LIMIT),
        )

    async def health(self) -> None:
        """Probe ``health_url``; raise the same errors as a delivery would."""
        if self.config.health_url is None:
            return
        response, _ = await self._send(
            self.config.health_method, self.config.health_url, dict(self._headers), None
        )
        if not response.is_success:
            raise self._status_error(response)

    async def aclose(self) -> None:
        """Close the owned client (an injected one is left to its owner)."""
        if self._owns_client:
            await self._client.aclose()

    # ------------------------------------------------------------------ internals

    async def _send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[httpx.Response, int]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(QUICK_RETRY_ATTEMPTS) | stop_before_delay(QUICK_RETRY_BUDGET),
            wait=wait_fixed(QUICK_RETRY_WAIT),
            retry=retry_if_exception(_is_refused_or_reset),
            reraise=True,
        )
        try:
            response: httpx.Response = await retrying(
                self._client.request,
                method,
                url,
                headers=headers,
                content=body,
                timeout=self._timeout,
            )
        except (
            httpx.HTTPError,
            httpx.InvalidURL,
            httpx.StreamError,
            httpx.CookieConflict,
        ) as exc:
            tries = int(retrying.statistics.get("attempt_number", 1))
            raise self._transport_error(exc, url, tries) from exc
        return response, int(retrying.statistics.get("attempt_number", 1))

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        return text

    def _transport_error(self, exc: Exception, url: str, tries: int) -> DeliveryError:
        what = str(exc).strip() or type(exc).__name__
        kind = "ConnectError" if refused_under_timeout(exc) else type(exc).__name__
        detail = _truncate(self._scrub(f"{kind}: {what}"), DETAIL_LIMIT)
        where = _safe_url(url)
        after = f" after {tries} attempts" if tries > 1 else ""
        cls: type[DeliveryError]
        cls, what_happened = transport_error_class(exc)
        text = {
            "unreachable": f"cannot reach {where}{after}",
            "timeout": f"no answer from {where} within {self.config.timeout:g}s",
            "misconfigured": f"cannot send to {where} (check the target's config)",
        }.get(what_happened, f"call to {where} failed")
        message = self._scrub(f"{self.name}: {text}: {detail}")
        return cls(message, target=self.name, detail=detail)

    def _status_error(self, response: httpx.Response) -> DeliveryError:
        status = response.status_code
        verdict = classify_status(
            status, response.headers.get("Retry-After"), now=datetime.now(UTC)
        )
        cls, retry_after = verdict.error, verdict.retry_after
        body = _response_json(response)
        found = _find_message(body) if body is not None else None
        if found is None:
            found = response.text.strip() if response.content else ""
        if not found:
            found = response.reason_phrase or f"HTTP {status}"
        if 300 <= status <= 399 and "location" in response.headers:
            found = f"{found} (redirects to {_safe_url_or_raw(response.headers['location'])})"
        detail = _truncate(self._scrub(found), DETAIL_LIMIT)
        status_line = f"HTTP {status} {response.reason_phrase}".rstrip()
        message = self._scrub(f"{self.name}: {status_line}: {detail}")
        if cls is RateLimited:
            if retry_after is not None:
                message += f" (retry after {retry_after:g}s)"
            return RateLimited(
                message,
                retry_after=retry_after,
                target=self.name,
                status_code=status,
                detail=detail,
            )
        return cls(message, target=self.name, status_code=status, detail=detail)

    def _reference(self, response: httpx.Response) -> str | None:
        field = self.config.reference_field
        if field is not None:
            value = _lookup(_response_json(response), field)
            if value is not None and not isinstance(value, dict | list):
                text = str(value).strip()
                if text:
                    return self._scrub(text)
        location = response.headers.get("Location")
        if location:
            try:
                path = urlsplit(location.strip()).path
            except ValueError:  # e.g. a broken IPv6 literal
                return None
            segments = [s for s in path.split("/") if s]
            if segments:
                return self._scrub(unquote(segments[-1]))
        return None


def _safe_url_or_raw(location: str) -> str:
    try:
        return _safe_url(location)
    except httpx.InvalidURL:
        return location.split("?", maxsplit=1)[0]
