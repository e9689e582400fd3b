"""The only module that speaks Magento 2's REST API (``/rest/<store>/V1``).

Every call authenticates with ``Authorization: Bearer <token>`` or, for an integration,
an OAuth 1.0a HMAC-SHA256 signature (:mod:`adapters.magento.oauth`). Every failure leaves
as a :class:`hub.errors.DeliveryError`:

* 401 / 403 → :class:`~hub.errors.AuthFailed`
* 400 → :class:`~hub.errors.Rejected` with Magento's ``message`` rendered (its ``%1`` /
  ``%name`` placeholders filled from ``parameters``); 404 → ``Rejected``
* 429 / 5xx / other statuses → the class :func:`hub.queue.disposition.classify_status`
  names (``RateLimited`` with ``Retry-After``, ``TransientError``, ...)
* no answer in time → :class:`~hub.errors.TargetTimeout`; refused, reset or unresolvable
  → :class:`~hub.errors.TargetUnavailable`; a broken URL → ``PermanentError``

The token is removed from every message and detail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote

import httpx

from adapters.magento.config import MagentoConfig
from adapters.magento.oauth import authorization_header
from hub import __version__
from hub.errors import (
    AuthFailed,
    DeliveryError,
    PermanentError,
    RateLimited,
    Rejected,
    TransientError,
)
from hub.exactjson import dumps_exact
from hub.queue.disposition import classify_status
from hub.targets.transport import make_client, no_answer_error

__all__ = ["DETAIL_LIMIT", "MagentoClient", "render_message"]

DETAIL_LIMIT: Final = 500
PAGE_SIZE: Final = 100
_MASK: Final = "***"
_PLACEHOLDER = re.compile(r"%(\w+)")


def render_message(message: str, parameters: Any) -> str:
    """Magento's ``message`` with ``%1``… (list) or ``%name`` (object) placeholders filled."""
    if isinstance(parameters, list):
        values = {str(index): value for index, value in enumerate(parameters, start=1)}
    elif isinstance(parameters, dict):
        values = {str(key): value for key, value in parameters.items()}
    else:
        return message

    def fill(match: re.Match[str]) -> str:
        key = match[1]
        return str(values[key]) if key in values else match[0]

    return _PLACEHOLDER.sub(fill, message)


def _number(qty: Decimal) -> int | Decimal:
    """A quantity as a JSON number (integral quantities without a fraction), exact."""
    return int(qty) if qty == qty.to_integral_value() else qty


def _truncate(text: str, limit: int = DETAIL_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class MagentoClient:
    """Typed calls to one Magento store.

    Pass ``client`` to share an :class:`httpx.AsyncClient` (its owner closes it); otherwise
    the client owns one (aiohttp transport, no proxy from the environment), closed by
    :meth:`aclose`.
    """

    def __init__(
        self,
        config: MagentoConfig,
        client: httpx.AsyncClient | None = None,
        *,
        target: str = "magento",
    ) -> None:
        self.config = config
        self.target = target
        self._timeout = httpx.Timeout(config.timeout)
        self._owns_client = client is None
        if client is None:
            client = make_client(config.timeout, max_connections=10)
        self._client = client
        self._root = config.base_url.rstrip("/") + "/V1"
        self._secrets = config.secret_values()
        self._oauth = config.oauth.credentials() if config.oauth else None
        self._headers = {"Accept": "application/json", "User-Agent": f"o2c-hub/{__version__}"}
        if config.token is not None:
            self._headers["Authorization"] = f"Bearer {config.token.get_secret_value()}"
        self.server_time: datetime | None = None
        """The store's clock (its last ``Date`` header), for polling horizons."""

    def __repr__(self) -> str:
        return f"MagentoClient(target={self.target!r}, base_url={self.config.base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the owned HTTP client (an injected one is left to its owner)."""
        if self._owns_client:
            await self._client.aclose()

    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    # ------------------------------------------------------------------ the API

    async def get_order(self, entity_id: int) -> dict[str, Any]:
        """``GET /V1/orders/{id}``."""
        body = await self._call("GET", f"/orders/{int(entity_id)}")
        if not isinstance(body, dict):
            raise self._unexpected("an order", body)
        return body

    async def find_order_id(self, increment_id: str) -> int | None:
        """The entity_id of the order numbered ``increment_id`` (``GET /V1/orders`` filtered
        on ``increment_id``), or None when the store has no such order."""
        items, _ = await self.search(
            "/orders", [[("increment_id", increment_id, "eq")]], [], page_size=2
        )
        matches = {int(i["entity_id"]) for i in items if i.get("increment_id") == increment_id}
        if len(matches) > 1:  # increment ids are unique per store view, not per install
            raise PermanentError(
                f"{self.target}: orders {sorted(matches)} are all numbered {increment_id}; "
                "send magento_order_id (the entity_id) instead of order_increment_id",
                target=self.target,
            )
        return matches.pop() if matches else None

    async def search_invoices(self, order_id: int) -> list[dict[str, Any]]:
        """Every invoice of the order (``GET /V1/invoices`` filtered on ``order_id``)."""
        return await self._search("/invoices", order_id)

    async def search_shipments(self, order_id: int) -> list[dict[str, Any]]:
        """Every shipment of the order (``GET /V1/shipments`` filtered on ``order_id``)."""
        return await self._search("/shipments", order_id)

    async def create_invoice(
        self,
        order_id: int,
        items: Sequence[tuple[int, Decimal]],
        *,
        capture: bool,
        notify: bool,
        comment: str | None = None,
    ) -> int:
        """``POST /V1/order/{orderId}/invoice``; the new invoice's id."""
        body: dict[str, Any] = {
            "capture": capture,
            "notify": notify,
            "items": [{"order_item_id": int(i), "qty": _number(q)} for i, q in items],
        }
        if comment:
            body["comment"] = {"comment": comment, "is_visible_on_front": 0}
        return self._id(await self._call("POST", f"/order/{int(order_id)}/invoice", body))

    async def create_shipment(
        self,
        order_id: int,
        items: Sequence[tuple[int, Decimal]],
        tracks: Sequence[dict[str, str]],
        *,
        notify: bool = False,
        comment: str | None = None,
    ) -> int:
        """``POST /V1/order/{orderId}/ship``; the new shipment's id."""
        body: dict[str, Any] = {
            "notify": notify,
            "items": [{"order_item_id": int(i), "qty": _number(q)} for i, q in items],
            "tracks": [dict(t) for t in tracks],
        }
        if comment:
            body["comment"] = {"comment": comment, "is_visible_on_front": 0}
        return self._id(await self._call("POST", f"/order/{int(order_id)}/ship", body))

    async def add_comment(
        self, order_id: int, text: str, *, notify: bool = False, visible_on_front: bool = False
    ) -> None:
        """``POST /V1/orders/{id}/comments``: a note in the order's history."""
        history = {
            "comment": text,
            "is_customer_notified": int(notify),
            "is_visible_on_front": int(visible_on_front),
            "parent_id": int(order_id),
        }
        await self._call("POST", f"/orders/{int(order_id)}/comments", {"statusHistory": history})

    async def get_comments(self, order_id: int) -> list[dict[str, Any]]:
        """``GET /V1/orders/{id}/comments``: the order's status history."""
        body = await self._call("GET", f"/orders/{int(order_id)}/comments")
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise self._unexpected("a comment list", body)
        return [c for c in body["items"] if isinstance(c, dict)]

    async def get_stock_item(self, sku: str) -> dict[str, Any]:
        """``GET /V1/stockItems/{sku}``: the default source's stock item."""
        body = await self._call("GET", f"/stockItems/{quote(sku, safe='')}")
        if not isinstance(body, dict) or "item_id" not in body:
            raise self._unexpected("a stock item", body)
        return body

    async def update_stock(self, sku: str, item_id: int, qty: Decimal, in_stock: bool) -> int:
        """``PUT /V1/products/{sku}/stockItems/{itemId}``: set the quantity on hand."""
        body = {"stockItem": {"qty": _number(qty), "is_in_stock": in_stock}}
        path = f"/products/{quote(sku, safe='')}/stockItems/{int(item_id)}"
        return self._id(await self._call("PUT", path, body))

    async def get_customer(self, customer_id: int) -> dict[str, Any]:
        """``GET /V1/customers/{id}``."""
        return await self._object("GET", f"/customers/{int(customer_id)}", "a customer")

    async def get_company(self, company_id: int) -> dict[str, Any]:
        """``GET /V1/company/{id}`` (Adobe Commerce B2B)."""
        return await self._object("GET", f"/company/{int(company_id)}", "a company")

    async def get_company_credit(self, company_id: int) -> dict[str, Any]:
        """``GET /V1/companyCredits/company/{id}`` (Adobe Commerce B2B credit limit)."""
        path = f"/companyCredits/company/{int(company_id)}"
        return await self._object("GET", path, "a company credit")

    async def store_configs(self) -> list[dict[str, Any]]:
        """``GET /V1/store/storeConfigs``: cheap, authenticated; the health check."""
        body = await self._call("GET", "/store/storeConfigs")
        if not isinstance(body, list):
            raise self._unexpected("a list of store configurations", body)
        return [c for c in body if isinstance(c, dict)]

    async def search(
        self,
        path: str,
        filter_groups: Sequence[Sequence[tuple[str, str, str]]],
        sort: Sequence[tuple[str, str]],
        *,
        page_size: int,
        page: int = 1,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of ``GET <path>?searchCriteria…``: its items and the total count.

        Groups are ANDed, the ``(field, value, conditionType)`` filters of one group ORed.
        """
        params: dict[str, str] = {}
        for g, group in enumerate(filter_groups):
            for f, (field, value, condition) in enumerate(group):
                stem = f"searchCriteria[filterGroups][{g}][filters][{f}]"
                params[f"{stem}[field]"] = field
                params[f"{stem}[value]"] = value
                params[f"{stem}[conditionType]"] = condition
        for i, (field, direction) in enumerate(sort):
            params[f"searchCriteria[sortOrders][{i}][field]"] = field
            params[f"searchCriteria[sortOrders][{i}][direction]"] = direction
        params["searchCriteria[pageSize]"] = str(page_size)
        params["searchCriteria[currentPage]"] = str(page)
        body = await self._call("GET", path, params=params)
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise self._unexpected("a search result", body)
        return [i for i in body["items"] if isinstance(i, dict)], int(body.get("total_count") or 0)

    # ------------------------------------------------------------------ internals

    async def _search(self, path: str, order_id: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        by_order = [[("order_id", str(int(order_id)), "eq")]]
        for page in range(1, 10_000):
            items, total = await self.search(
                path, by_order, [("entity_id", "ASC")], page_size=PAGE_SIZE, page=page
            )
            found.extend(items)
            # Magento repeats the last page past the end, so stop on the count
            if not items or len(found) >= total or len(items) < PAGE_SIZE:
                break
        return found

    async def _object(self, method: str, path: str, wanted: str) -> dict[str, Any]:
        body = await self._call(method, path)
        if not isinstance(body, dict):
            raise self._unexpected(wanted, body)
        return body

    def _id(self, body: Any) -> int:
        if isinstance(body, bool) or not isinstance(body, int | str):
            raise self._unexpected("a document id", body)
        try:
            return int(body)
        except ValueError:
            raise self._unexpected("a document id", body) from None

    async def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, str] | None = None,
    ) -> Any:
        url = self._root + path
        headers = dict(self._headers)
        if self._oauth is not None:
            signed_url = str(httpx.URL(url, params=params)) if params else url
            headers["Authorization"] = authorization_header(self._oauth, method, signed_url)
        content: bytes | None = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = dumps_exact(body).encode()
        try:
            response = await self._client.request(
                method, url, params=params, headers=headers, content=content, timeout=self._timeout
            )
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise self._transport_error(exc, method, path) from exc
        self._note_server_time(response)
        if not response.is_success:
            raise self._status_error(response, method, path)
        if not response.content:
            return None
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError as exc:
            raise self._unexpected("JSON", response.text[:200]) from exc

    def _note_server_time(self, response: httpx.Response) -> None:
        stamp = response.headers.get("Date")
        if not stamp:
            return
        try:
            when = parsedate_to_datetime(stamp)
        except (TypeError, ValueError):
            return
        if when.tzinfo is not None:
            self.server_time = when.astimezone(UTC).replace(tzinfo=None)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        return text

    def _unexpected(self, wanted: str, got: Any) -> DeliveryError:
        detail = _truncate(self._scrub(f"expected {wanted}, got {got!r}"), 200)
        return TransientError(f"{self.target}: unexpected answer: {detail}", target=self.target)

    def _transport_error(self, exc: Exception, method: str, path: str) -> DeliveryError:
        return no_answer_error(
            exc,
            target=self.target,
            where=f"{method} {self._scrub(self._root + path)}",
            timeout=self.config.timeout,
            scrub=self._scrub,
        )

    def _status_error(self, response: httpx.Response, method: str, path: str) -> DeliveryError:
        status = response.status_code
        found = ""
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            found = render_message(body["message"], body.get("parameters"))
        elif response.content:
            found = response.text.strip()
        found = found or response.reason_phrase or f"HTTP {status}"
        detail = _truncate(self._scrub(found))
        head = f"{self.target}: {method} {path}: HTTP {status}"
        if status in (401, 403):
            message = self._scrub(f"{head}: {detail} (check the target's token and its rights)")
            return AuthFailed(message, target=self.target, status_code=status, detail=detail)
        if status in (400, 404):
            message = self._scrub(f"{head}: {detail}")
            return Rejected(message, target=self.target, status_code=status, detail=detail)
        verdict = classify_status(
            status, response.headers.get("Retry-After"), now=datetime.now(UTC)
        )
        message = self._scrub(f"{head}: {detail}")
        if verdict.error is RateLimited and verdict.retry_after is not None:
            message += f" (retry after {verdict.retry_after:g}s)"
        return verdict.to_error(target=self.target, detail=detail, message=message)
