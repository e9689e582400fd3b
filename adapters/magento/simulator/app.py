"""The FastAPI application: routes, authentication, fault injection."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.magento.simulator.documents import add_comment, create_invoice, create_shipment
from adapters.magento.simulator.generator import generate_orders, render_order, store_order
from adapters.magento.simulator.search import parse_criteria, parse_fields, project, search
from adapters.magento.simulator.state import (
    Faults,
    MagentoError,
    MagentoState,
    SimulatorConfig,
    dumps,
    loads,
)

__all__ = ["create_simulator"]

# Webapi\Controller\Rest\RequestValidator::checkPermissions (AuthorizationException).
UNAUTHORIZED = "The consumer isn't authorized to access %resources."
NO_ROUTE = "Request does not match any route."
# Webapi\ErrorProcessor for an unexpected exception in production mode.
INTERNAL = "Internal Error. Details are available in Magento log file. Report ID: %1"
_STATUS_TEXT = {
    429: "Too Many Requests",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

# ACL resources of Magento_Sales / Magento_CatalogInventory etc/webapi.xml.
ACL_ORDERS = "Magento_Sales::actions_view"
ACL_INVOICE = "Magento_Sales::sales_invoice"
ACL_SHIP = "Magento_Sales::ship"
ACL_SHIPMENTS = "Magento_Sales::shipment"
ACL_COMMENT = "Magento_Sales::comment"
ACL_STOCK = "Magento_CatalogInventory::cataloginventory"


class Generate(BaseModel):
    """Body of ``POST /_sim/orders/generate``."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=10_000)
    seed: int = 0
    same_updated_at_every: int = Field(default=1, ge=1, le=10_000)


def magento_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status, headers=headers, media_type="application/json")


class _RestPrefix:
    """Serve ``/rest/V1/…`` and ``/rest/<store_code>/V1/…`` as ``/V1/…``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("/rest/"):
                rest = path[len("/rest") :]
                if not rest.startswith("/V1/"):
                    _, _, tail = rest[1:].partition("/")
                    rest = "/" + tail
                scope = {**scope, "path": rest, "raw_path": rest.encode()}
        await self.app(scope, receive, send)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = loads(raw) if raw.strip() else {}
    except ValueError:
        raise MagentoError(400, "Decoding error: \nSyntax error") from None
    if not isinstance(body, dict):
        raise MagentoError(400, "Decoding error: \nSyntax error")
    return body


def create_simulator(config: SimulatorConfig | None = None) -> FastAPI:
    """A stateful Magento 2.4 REST simulator; its state is ``app.state.magento``."""
    config = config or SimulatorConfig()
    state = MagentoState(config)
    if config.initial_orders:
        generate_orders(state, config.initial_orders, config.seed)
    app = FastAPI(
        title="Magento 2.4 REST simulator", openapi_url=None, docs_url=None, redoc_url=None
    )
    app.state.magento = state
    app.add_middleware(_RestPrefix)
    tokens = frozenset(config.tokens)

    @app.exception_handler(MagentoError)
    async def _magento_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, MagentoError)
        return magento_json(exc.body(), exc.status, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code in (404, 405):
            return magento_json({"message": NO_ROUTE}, 404)
        return magento_json({"message": str(exc.detail)}, exc.status_code)

    async def gate(request: Request, resource: str) -> None:
        """Faults first (a proxy or a sick PHP worker answers before Magento's auth), then
        authentication and the route's ACL resource."""
        faults = state.faults
        rng = state.rng
        state.requests += 1
        slow, error, pick = rng.random(), rng.random(), rng.random()
        if faults.slow_seconds and slow < faults.slow_rate:
            state.count_fault("slow")
            await asyncio.sleep(faults.slow_seconds)
        if error < faults.error_rate:
            status = faults.error_statuses[int(pick * len(faults.error_statuses))]
            state.count_fault(f"error_{status}")
            headers = {}
            if status in (429, 503) and faults.retry_after is not None:
                headers["Retry-After"] = str(faults.retry_after)
            if status == 500:
                report = f"webapi-{state.requests:013x}"
                raise MagentoError(500, INTERNAL, [report], headers)
            raise MagentoError(status, _STATUS_TEXT.get(status, "Error"), None, headers)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in tokens:
            raise MagentoError(401, UNAUTHORIZED, {"resources": resource})

    async def land_then_timeout(kind: str) -> None:
        faults = state.faults
        if kind in faults.land_then_timeout_for and state.rng.random() < (
            faults.land_then_timeout_rate
        ):
            state.count_fault(f"land_then_timeout_{kind}")
            await asyncio.sleep(faults.land_then_timeout_seconds)

    def searcher(
        records: Callable[[], list[dict[str, Any]]],
        resource: str,
        render: Callable[[dict[str, Any]], dict[str, Any]] = dict,
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            await gate(request, resource)
            criteria = parse_criteria(request.query_params.multi_items())
            async with state.lock:
                page, total = search(records(), criteria)
                items = [render(record) for record in page]
            body: dict[str, Any] = {
                "items": items,
                "search_criteria": criteria.echo(),
                "total_count": total,
            }
            fields = request.query_params.get("fields")
            return magento_json(project(body, parse_fields(fields)) if fields else body)

        return handler

    app.add_api_route(
        "/V1/orders", searcher(lambda: list(state.orders.values()), ACL_ORDERS, render_order)
    )
    app.add_api_route("/V1/invoices", searcher(lambda: list(state.invoices.values()), ACL_INVOICE))
    app.add_api_route(
        "/V1/shipments", searcher(lambda: list(state.shipments.values()), ACL_SHIPMENTS)
    )

    @app.get("/V1/orders/{order_id}")
    async def get_order(order_id: str, request: Request) -> Response:
        await gate(request, ACL_ORDERS)
        async with state.lock:
            body = render_order(state.order(order_id))
        fields = request.query_params.get("fields")
        return magento_json(project(body, parse_fields(fields)) if fields else body)

    def getter(
        documents: Callable[[], dict[int, dict[str, Any]]], resource: str
    ) -> Callable[[str, Request], Awaitable[Response]]:
        async def handler(entity_id: str, request: Request) -> Response:
            await gate(request, resource)
            async with state.lock:
                try:
                    body = dict(documents()[int(entity_id)])
                except (KeyError, ValueError):
                    raise MagentoError(
                        404,
                        "The entity that was requested doesn't exist. "
                        "Verify the entity and try again.",
                    ) from None
            return magento_json(body)

        return handler

    app.add_api_route("/V1/invoices/{entity_id}", getter(lambda: state.invoices, ACL_INVOICE))
    app.add_api_route("/V1/shipment/{entity_id}", getter(lambda: state.shipments, ACL_SHIPMENTS))

    @app.post("/V1/order/{order_id}/invoice")
    async def invoice(order_id: str, request: Request) -> Response:
        await gate(request, ACL_INVOICE)
        body = await _body(request)
        async with state.lock:
            invoice_id = create_invoice(state, order_id, body)
        await land_then_timeout("invoice")
        return magento_json(invoice_id)

    @app.post("/V1/order/{order_id}/ship")
    async def ship(order_id: str, request: Request) -> Response:
        await gate(request, ACL_SHIP)
        body = await _body(request)
        async with state.lock:
            shipment_id = create_shipment(state, order_id, body)
        await land_then_timeout("ship")
        return magento_json(shipment_id)

    @app.post("/V1/orders/{order_id}/comments")
    async def post_comment(order_id: str, request: Request) -> Response:
        await gate(request, ACL_COMMENT)
        body = await _body(request)
        async with state.lock:
            return magento_json(add_comment(state, order_id, body))

    @app.get("/V1/orders/{order_id}/comments")
    async def get_comments(order_id: str, request: Request) -> Response:
        await gate(request, ACL_COMMENT)
        async with state.lock:
            history = list(state.order(order_id).get("status_histories", []))
        return magento_json({"items": history, "total_count": len(history)})

    @app.put("/V1/products/{sku}/stockItems/{item_id}")
    async def put_stock(sku: str, item_id: str, request: Request) -> Response:
        await gate(request, ACL_STOCK)
        body = await _body(request)
        stock = body.get("stockItem", body.get("stock_item"))
        if not isinstance(stock, dict):
            raise MagentoError(
                400, '"%fieldName" is required. Enter and try again.', {"fieldName": "stockItem"}
            )
        async with state.lock:
            if sku not in state.products:
                raise MagentoError(
                    404,
                    "The product that was requested doesn't exist. "
                    "Verify the product and try again.",
                )
            current = state.stock_items.get(sku) or {
                "item_id": int(item_id) if item_id.isdigit() else len(state.stock_items) + 1,
                "product_id": state.products[sku],
                "stock_id": 1,
                "qty": 0,
                "is_in_stock": False,
            }
            for key in ("qty", "is_in_stock", "manage_stock", "backorders", "min_qty"):
                if key in stock:
                    current[key] = stock[key]
            state.stock_items[sku] = current
            state.tick()
            return magento_json(current["item_id"])

    @app.get("/V1/stockItems/{sku}")
    async def get_stock(sku: str, request: Request) -> Response:
        await gate(request, ACL_STOCK)
        async with state.lock:
            if sku not in state.products:
                raise MagentoError(
                    404,
                    "The product that was requested doesn't exist. "
                    "Verify the product and try again.",
                )
            item = state.stock_items.get(sku) or {"product_id": state.products[sku], "qty": 0}
            return magento_json(item)

    # ------------------------------------------------------------ control (not Magento)

    @app.get("/_sim/health")
    async def health() -> Response:
        return magento_json({"ok": True})

    @app.get("/_sim/state")
    async def summary() -> Response:
        async with state.lock:
            return magento_json(state.summary())

    @app.get("/_sim/faults")
    async def get_faults() -> Response:
        return magento_json(state.faults.model_dump(mode="json"))

    @app.put("/_sim/faults")
    async def put_faults(request: Request) -> Response:
        try:
            faults = Faults.model_validate(await _body(request))
        except ValidationError as exc:
            return magento_json({"message": str(exc)}, 400)
        async with state.lock:
            state.faults = faults
        return magento_json(faults.model_dump(mode="json"))

    @app.post("/_sim/reset")
    async def reset(request: Request) -> Response:
        keep = request.query_params.get("keep_faults", "false") == "true"
        async with state.lock:
            state.reset(keep_faults=keep)
        return magento_json(True)

    @app.post("/_sim/orders/generate")
    async def generate(request: Request) -> Response:
        try:
            spec = Generate.model_validate(await _body(request))
        except ValidationError as exc:
            return magento_json({"message": str(exc)}, 400)
        async with state.lock:
            ids = generate_orders(state, spec.count, spec.seed, spec.same_updated_at_every)
            first, last = state.orders[ids[0]], state.orders[ids[-1]]
            return magento_json(
                {
                    "count": len(ids),
                    "entity_ids": ids,
                    "first_increment_id": first["increment_id"],
                    "last_increment_id": last["increment_id"],
                }
            )

    @app.post("/_sim/orders")
    async def put_order(request: Request) -> Response:
        document = await _body(request)
        if not isinstance(document.get("items"), list):
            return magento_json({"message": "an order document with items is required"}, 400)
        async with state.lock:
            return magento_json(store_order(state, document))

    return app
