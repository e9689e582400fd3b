"""The OData V2 client for S/4HANA (API_SALES_ORDER_SRV, API_BUSINESS_PARTNER).

httpx directly rather than pyodata: the hub needs async calls on its shared transport, the
CSRF token refreshed on 403 inside one call, exact decimals, and SAP's error body turned
into typed errors; pyodata is synchronous (requests), builds its own entity proxies and
raises its own exceptions. pyodata is used in the tests, against the simulator's
``$metadata``, to show the simulator is a faithful OData service.

Wire rules:

* every call authenticates with HTTP Basic and carries ``sap-client`` when configured;
* a modifying call needs an ``x-csrf-token`` fetched by a GET with ``x-csrf-token: Fetch``
  *and* the session cookies that came with it (the httpx client keeps them); a 403 with
  ``x-csrf-token: Required`` means the token expired: fetch again, send once more;
* decimals travel as strings, ``Edm.DateTime`` as ``/Date(<ms since epoch>)/``;
* errors: ``{"error": {"code", "message": {"value"}, "innererror": {"errordetails": [...]}}}``
  → :class:`~hub.errors.Rejected` (400/404/409/422) with SAP's text, or
  :class:`~hub.errors.MasterDataMissing` naming the customer or material SAP does not
  know, :class:`~hub.errors.AuthFailed` (401/403), or the retryable classes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

import httpx

from adapters.sap.config import SapConfig
from hub import __version__
from hub.errors import (
    AuthFailed,
    DeliveryError,
    MasterDataMissing,
    RateLimited,
    Rejected,
    TransientError,
)
from hub.queue.disposition import classify_status
from hub.targets.transport import make_client, no_answer_error

__all__ = ["ODataClient", "SapError", "odata_value", "parse_sap_error"]

DETAIL_LIMIT: Final = 500
_MASK: Final = "***"

# What SAP says when master data is missing. Message class/number first (stable across
# languages), then the English texts as a fallback.
_MISSING_MATERIAL = (
    re.compile(
        r"\bmaterial\s+(?P<key>\S+?)\s+(?:does not exist|is not defined|not maintained)", re.I
    ),
    re.compile(
        r"\bproduct\s+(?P<key>\S+?)\s+(?:does not exist|is not defined|not maintained)", re.I
    ),
)
_MISSING_CUSTOMER = (
    re.compile(
        r"\b(?:sold-to party|ship-to party|customer|business partner)\s+(?P<key>\S+?)\s+"
        r"(?:does not exist|has not been created|is not created|is not defined|not maintained)",
        re.I,
    ),
)


class SapError:
    """SAP's error body, read."""

    def __init__(self, code: str, message: str, details: list[dict[str, Any]]) -> None:
        self.code = code
        self.message = message
        self.details = details

    def texts(self) -> list[str]:
        found = [self.message] if self.message else []
        for detail in self.details:
            text = str(detail.get("message") or "")
            if text and text not in found and str(detail.get("severity", "error")) == "error":
                found.append(text)
        return found

    def missing(self) -> str | None:
        """``material X`` / ``customer Y`` when SAP reports missing master data."""
        for text in self.texts():
            for pattern in _MISSING_MATERIAL:
                if match := pattern.search(text):
                    return f"material {match['key'].strip('.,;')}"
            for pattern in _MISSING_CUSTOMER:
                if match := pattern.search(text):
                    return f"customer {match['key'].strip('.,;')}"
        return None


def parse_sap_error(body: bytes) -> SapError | None:
    """SAP Gateway's JSON error body, or None when the body is something else."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return None
    message = error.get("message")
    text = message.get("value") if isinstance(message, dict) else message
    inner = error.get("innererror")
    details = inner.get("errordetails") if isinstance(inner, dict) else None
    return SapError(
        str(error.get("code") or ""),
        str(text or ""),
        [d for d in details or [] if isinstance(d, dict)],
    )


def odata_value(value: Any) -> Any:
    """A Python value as OData V2 JSON writes it: decimals as strings, dates as /Date()/."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return f"/Date({int(moment.timestamp() * 1000)})/"
    if isinstance(value, date):
        midnight = datetime(value.year, value.month, value.day, tzinfo=UTC)
        return f"/Date({int(midnight.timestamp() * 1000)})/"
    if isinstance(value, dict):
        return {k: odata_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [odata_value(v) for v in value]
    return value


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _truncate(text: str, limit: int = DETAIL_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ODataClient:
    """Calls to one S/4HANA system's OData services, with one CSRF session."""

    def __init__(
        self, config: SapConfig, client: httpx.AsyncClient | None = None, *, target: str = "sap"
    ) -> None:
        assert config.base_url is not None
        self.config = config
        self.target = target
        self._owns_client = client is None
        self._client = client or make_client(config.timeout, max_connections=10)
        self._timeout = httpx.Timeout(config.timeout)
        self._auth = httpx.BasicAuth(config.user, config.password.get_secret_value())
        self._secrets = config.secret_values()
        self._token: str | None = None
        self._base = config.base_url

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    # ------------------------------------------------------------------ sales orders

    async def find_sales_orders(
        self, purchase_order: str, sold_to: str | None = None
    ) -> list[dict[str, Any]]:
        """Sales orders with this customer reference (``PurchaseOrderByCustomer``)."""
        condition = f"PurchaseOrderByCustomer eq {_quote_literal(purchase_order)}"
        if sold_to:
            condition += f" and SoldToParty eq {_quote_literal(sold_to)}"
        params = {
            "$filter": condition,
            "$select": "SalesOrder,PurchaseOrderByCustomer,SoldToParty,TotalNetAmount,"
            "TransactionCurrency",
            "$top": "5",
        }
        body = await self._json("GET", self.config.sales_order_service, "/A_SalesOrder", params)
        return _results(body)

    async def create_sales_order(self, document: dict[str, Any]) -> dict[str, Any]:
        """Deep insert into ``A_SalesOrder``; SAP's answer (the created order)."""
        body = await self._json(
            "POST", self.config.sales_order_service, "/A_SalesOrder", None, odata_value(document)
        )
        created = body.get("d") if isinstance(body, dict) else None
        if not isinstance(created, dict) or not created.get("SalesOrder"):
            raise self._unexpected("the created sales order", body)
        return created

    async def get_sales_order(self, number: str) -> dict[str, Any]:
        path = f"/A_SalesOrder({quote(_quote_literal(number), safe='()')})"
        body = await self._json(
            "GET", self.config.sales_order_service, path, {"$expand": "to_Item"}
        )
        found = body.get("d") if isinstance(body, dict) else None
        if not isinstance(found, dict):
            raise self._unexpected("a sales order", body)
        return found

    # ------------------------------------------------------------------ business partners

    async def find_customer(self, customer: str) -> dict[str, Any] | None:
        """``A_Customer('<number>')`` of API_BUSINESS_PARTNER, or None."""
        path = f"/A_Customer({_quote_literal(customer)})"
        try:
            body = await self._json("GET", self.config.business_partner_service, path, None)
        except Rejected as exc:
            if exc.status_code == 404:
                return None
            raise
        found = body.get("d") if isinstance(body, dict) else None
        return found if isinstance(found, dict) else None

    # ------------------------------------------------------------------ health

    async def metadata(self) -> bytes:
        """``$metadata`` of the sales order service (authenticated: the health check)."""
        response = await self._send("GET", self.config.sales_order_service, "/$metadata", None)
        return response.content

    # ------------------------------------------------------------------ internals

    def _url(self, service: str, path: str) -> str:
        return f"{self._base}{service}{path}"

    def _params(self, params: dict[str, str] | None) -> dict[str, str]:
        merged = dict(params or {})
        if self.config.sap_client:
            merged["sap-client"] = self.config.sap_client
        return merged

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "User-Agent": f"o2c-hub/{__version__}"}

    async def _fetch_token(self, service: str) -> str:
        headers = {**self._headers(), "x-csrf-token": "Fetch"}
        response = await self._raw("GET", self._url(service, "/"), self._params(None), headers)
        if not response.is_success:
            raise self._status_error(response, "GET", f"{service}/ (CSRF token fetch)")
        token = response.headers.get("x-csrf-token")
        if not token or token.lower() == "required":
            raise TransientError(
                f"{self.target}: SAP sent no CSRF token on {service}/", target=self.target
            )
        self._token = token
        return str(token)

    async def _send(
        self,
        method: str,
        service: str,
        path: str,
        params: dict[str, str] | None,
        body: Any = None,
    ) -> httpx.Response:
        modifying = method not in ("GET", "HEAD")
        url = self._url(service, path)
        headers = self._headers()
        content: bytes | None = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        for attempt in (1, 2):
            if modifying:
                headers["x-csrf-token"] = self._token or await self._fetch_token(service)
            response = await self._raw(method, url, self._params(params), headers, content)
            expired = (
                response.status_code == 403
                and response.headers.get("x-csrf-token", "").lower() == "required"
            )
            if modifying and expired and attempt == 1:
                self._token = None  # fetch a fresh token and session, then send once more
                continue
            if not response.is_success:
                raise self._status_error(response, method, path)
            return response
        raise AssertionError("unreachable")

    async def _json(
        self,
        method: str,
        service: str,
        path: str,
        params: dict[str, str] | None,
        body: Any = None,
    ) -> Any:
        response = await self._send(method, service, path, params, body)
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError as exc:
            raise self._unexpected("JSON", response.text[:200]) from exc

    async def _raw(
        self,
        method: str,
        url: str,
        params: dict[str, str],
        headers: dict[str, str],
        content: bytes | None = None,
    ) -> httpx.Response:
        try:
            return await self._client.request(
                method,
                url,
                params=params,
                headers=headers,
                content=content,
                auth=self._auth,
                timeout=self._timeout,
            )
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise self._transport_error(exc, method, url) from exc

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        return text

    def _unexpected(self, wanted: str, got: Any) -> DeliveryError:
        detail = _truncate(self._scrub(f"expected {wanted}, got {got!r}"), 200)
        return TransientError(f"{self.target}: unexpected answer: {detail}", target=self.target)

    def _transport_error(self, exc: Exception, method: str, url: str) -> DeliveryError:
        return no_answer_error(
            exc,
            target=self.target,
            where=f"{method} {url.split('?', maxsplit=1)[0]}",
            timeout=self.config.timeout,
            scrub=self._scrub,
        )

    def _status_error(self, response: httpx.Response, method: str, path: str) -> DeliveryError:
        status = response.status_code
        sap = parse_sap_error(response.content) if response.content else None
        if sap is not None:
            texts = sap.texts()
            found = "; ".join(texts) or sap.code
            if sap.code and sap.code not in found:
                found = f"{found} ({sap.code})"
        else:
            found = response.text.strip() or response.reason_phrase or f"HTTP {status}"
        detail = _truncate(self._scrub(found))
        head = f"{self.target}: {method} {path}: HTTP {status}"
        if status in (401, 403):
            return AuthFailed(
                self._scrub(f"{head}: {detail} (check the target's user, password and roles)"),
                target=self.target,
                status_code=status,
                detail=detail,
            )
        if 400 <= status < 500 and status not in (408, 425, 429):
            missing = sap.missing() if sap is not None else None
            if missing:
                return MasterDataMissing(
                    self._scrub(f"{head}: SAP has no {missing}: {detail}"),
                    missing=missing,
                    target=self.target,
                    status_code=status,
                    detail=detail,
                )
            return Rejected(
                self._scrub(f"{head}: {detail}"),
                target=self.target,
                status_code=status,
                detail=detail,
            )
        verdict = classify_status(
            status, response.headers.get("Retry-After"), now=datetime.now(UTC)
        )
        message = self._scrub(f"{head}: {detail}")
        if verdict.error is RateLimited and verdict.retry_after is not None:
            message += f" (retry after {verdict.retry_after:g}s)"
        return verdict.to_error(target=self.target, detail=detail, message=message)


def _results(body: Any) -> list[dict[str, Any]]:
    payload = body.get("d") if isinstance(body, dict) else None
    if isinstance(payload, dict) and isinstance(payload.get("results"), list):
        return [r for r in payload["results"] if isinstance(r, dict)]
    if isinstance(payload, list):
        return [r for r in payload if isinstance(r, dict)]
    return []


def first_number(orders: Iterable[dict[str, Any]]) -> str | None:
    for order in orders:
        number = order.get("SalesOrder")
        if number:
            return str(number)
    return None
