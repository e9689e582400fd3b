"""The FastAPI application: routes, authentication, fault injection, clock, webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.magento.oauth import SIGNATURE_METHOD, OAuthError, parse_authorization, verify
from adapters.magento.simulator.documents import add_comment, create_invoice, create_shipment
from adapters.magento.simulator.generator import (
    STORES,
    generate_orders,
    render_order,
    store_order,
)
from adapters.magento.simulator.search import parse_criteria, parse_fields, project, search
from adapters.magento.simulator.state import (
    NO_SUCH_ENTITY,
    Faults,
    MagentoError,
    MagentoState,
    SimulatorConfig,
    WebhookConfig,
    dumps,
    loads,
)
from adapters.magento.simulator.webhooks import WebhookPusher

__all__ = ["ORIGINAL_PATH", "create_simulator"]

# Webapi\Controller\Rest\RequestValidator::checkPermissions (AuthorizationException).
UNAUTHORIZED = "The consumer isn't authorized to access %resources."
# Framework\Oauth\Oauth::_validateSignature (an OauthException, answered 401).
INVALID_SIGNATURE = "The signature is invalid. Verify and try again."
# Webapi\ServiceInputProcessor for a path parameter that is not of its declared type.
INVALID_TYPE = (
    'The "%value" value\'s type is invalid. The "%type" type was expected. Verify and try again.'
)
# CompanyCredit\Model\CreditLimitManagement::getCreditByCompanyId (NoSuchEntityException).
NO_CREDIT = "Requested company is not found. Row ID: %fieldName = %fieldValue."
OAUTH_WINDOW_SECONDS = 600
# Where _RestPrefix keeps the path the client addressed (raw, before /rest/<store> is cut
# off): what an OAuth signature covers.
ORIGINAL_PATH = "magento_simulator.original_path"
NO_ROUTE = "Request does not match any route."
# Webapi\ErrorProcessor for an unexpected exception in production mode.
INTERNAL = "Internal Error. Details are available in Magento log file. Report ID: %1"
_STATUS_TEXT = {
    429: "Too Many Requests",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

# ACL resources of the modules' etc/webapi.xml (Magento_Sales, Magento_CatalogInventory,
# Magento_Customer, Magento_Store; B2B: Magento_Company, Magento_CompanyCredit).
ACL_ORDERS = "Magento_Sales::actions_view"
ACL_INVOICE = "Magento_Sales::sales_invoice"
ACL_SHIP = "Magento_Sales::ship"
ACL_SHIPMENTS = "Magento_Sales::shipment"
ACL_COMMENT = "Magento_Sales::comment"
ACL_STOCK = "Magento_CatalogInventory::cataloginventory"
ACL_CUSTOMERS = "Magento_Customer::customer"
ACL_COMPANIES = "Magento_Company::index"
ACL_CREDIT = "Magento_CompanyCredit::credit"
ACL_STORES = "Magento_Backend::stores"


class Generate(BaseModel):
    """Body of ``POST /_sim/orders/generate``."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=10_000)
    seed: int = 0
    same_updated_at_every: int = Field(default=1, ge=1, le=10_000)


class ClockStep(BaseModel):
    """Body of ``POST /_sim/clock``."""

    model_config = ConfigDict(extra="forbid")

    advance_seconds: int = Field(ge=0, le=10 * 366 * 86_400)


def magento_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status, headers=headers, media_type="application/json")


class _RestPrefix:
    """Serve ``/rest/V1/…`` and ``/rest/<store_code>/V1/…`` as ``/V1/…``; keep the path
    the client used in ``scope[ORIGINAL_PATH]``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            raw: bytes | None = scope.get("raw_path")
            original = raw.decode("latin-1") if raw else path
            scope = {**scope, ORIGINAL_PATH: original}
            if path.startswith("/rest/"):
                rest = path[len("/rest") :]
                if not rest.startswith("/V1/"):
                    _, _, tail = rest[1:].partition("/")
                    rest = "/" + tail
                scope = {**scope, "path": rest, "raw_path": rest.encode()}
        await self.app(scope, receive, send)


class _SimulatorEdge:
    """Outermost: every response gets the simulated clock's ``Date`` (replacing any other),
    an unexpected exception still gets Magento's 500 body, and each request makes sure the
    webhook sender runs on this event loop."""

    def __init__(self, app: ASGIApp, state: MagentoState, pusher: WebhookPusher) -> None:
        self.app = app
        self.state = state
        self.pusher = pusher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.pusher.start()
        started = False

        async def send_dated(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"date"
                ]
                headers.append((b"date", self.state.http_date().encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_dated)
        except Exception:
            if not started:
                report = f"webapi-{time.monotonic_ns():013x}"
                response = magento_json({"message": INTERNAL, "parameters": [report]}, 500)
                await response(scope, receive, send_dated)
            raise


def _path_int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise MagentoError(400, INVALID_TYPE, {"value": value, "type": "int"}) from None


def _signed_url(request: Request) -> str:
    """The URL as the client addressed it (the one its OAuth signature covers)."""
    path = request.scope.get(ORIGINAL_PATH) or request.url.path
    url = f"{request.url.scheme}://{request.url.netloc}{path}"
    query = request.url.query
    return f"{url}?{query}" if query else url


def _only_the_signature_is_wrong(
    header: str, known: dict[tuple[str, str], tuple[str, str]], now: float
) -> bool:
    """Whether a refused OAuth header passed every check but the signature itself."""
    try:
        fields = parse_authorization(header)
        stamp = int(fields.get("oauth_timestamp", ""))
    except (OAuthError, ValueError):
        return False
    return (
        bool(fields.get("oauth_signature"))
        and fields.get("oauth_signature_method") == SIGNATURE_METHOD
        and (fields.get("oauth_consumer_key", ""), fields.get("oauth_token", "")) in known
        and abs(now - stamp) <= OAUTH_WINDOW_SECONDS
    )


def _stock_item(item_id: int, product_id: int) -> dict[str, Any]:
    """A ``catalog-inventory-data-stock-item-interface`` with Magento's defaults: every
    product has one, with nothing on hand until its quantity is set."""
    return {
        "item_id": item_id,
        "product_id": product_id,
        "stock_id": 1,
        "qty": 0,
        "is_in_stock": False,
        "is_qty_decimal": False,
        "show_default_notification_message": False,
        "use_config_min_qty": True,
        "min_qty": 0,
        "use_config_min_sale_qty": 1,
        "min_sale_qty": 1,
        "use_config_max_sale_qty": True,
        "max_sale_qty": 10000,
        "use_config_backorders": True,
        "backorders": 0,
        "use_config_notify_stock_qty": True,
        "notify_stock_qty": 1,
        "use_config_qty_increments": True,
        "qty_increments": 0,
        "use_config_enable_qty_inc": True,
        "enable_qty_increments": False,
        "use_config_manage_stock": True,
        "manage_stock": True,
        "low_stock_date": None,
        "is_decimal_divided": False,
        "stock_status_changed_auto": 0,
    }


def _unwrap(body: dict[str, Any], key: str) -> dict[str, Any]:
    """``{"customer": {...}}`` (Magento's request shape) or the document itself."""
    inner = body.get(key)
    return inner if isinstance(inner, dict) else body


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
    pusher = WebhookPusher(config.webhooks)
    if config.initial_orders:
        for order_id in generate_orders(state, config.initial_orders, config.seed):
            pusher.order_changed(render_order(state.orders[order_id]))
    app = FastAPI(
        title="Magento 2.4 REST simulator", openapi_url=None, docs_url=None, redoc_url=None
    )
    app.state.magento = state
    app.state.webhooks = pusher
    app.add_middleware(_RestPrefix)
    app.add_middleware(_SimulatorEdge, state=state, pusher=pusher)
    tokens = frozenset(config.tokens)
    oauth_secrets = {
        (i.consumer_key, i.access_token): (i.consumer_secret, i.access_token_secret)
        for i in config.oauth_integrations
    }

    def order_changed(order_id: int | str) -> None:
        """Queue the webhook calls for an order that was just created or changed."""
        if pusher.enabled:
            pusher.order_changed(render_order(state.order(order_id)))

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
        authorization = request.headers.get("authorization", "").strip()
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "oauth":
            now = time.time()
            try:
                verify(
                    authorization,
                    request.method,
                    _signed_url(request),
                    oauth_secrets,
                    now=now,
                    window_seconds=OAUTH_WINDOW_SECONDS,
                )
            except OAuthError:
                if _only_the_signature_is_wrong(authorization, oauth_secrets, now):
                    raise MagentoError(401, INVALID_SIGNATURE) from None
                raise MagentoError(401, UNAUTHORIZED, {"resources": resource}) from None
            return
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
        id_field: str = "entity_id",
    ) -> Callable[[Request], Awaitable[Response]]:
        aliases = {"entity_id": id_field} if id_field != "entity_id" else None

        async def handler(request: Request) -> Response:
            await gate(request, resource)
            criteria = parse_criteria(request.query_params.multi_items())
            async with state.lock:
                page, total = search(records(), criteria, id_field, aliases)
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

    # ------------------------------------------------------------ customers and companies

    app.add_api_route(
        "/V1/customers/search",
        searcher(
            lambda: list(state.customers.values()), ACL_CUSTOMERS, copy.deepcopy, id_field="id"
        ),
    )

    @app.get("/V1/customers/{customer_id}")
    async def get_customer(customer_id: str, request: Request) -> Response:
        await gate(request, ACL_CUSTOMERS)
        wanted = _path_int(customer_id)
        async with state.lock:
            customer = state.customers.get(wanted)
            if customer is None:
                raise MagentoError(
                    404, NO_SUCH_ENTITY, {"fieldName": "customerId", "fieldValue": wanted}
                )
            body = copy.deepcopy(customer)
        fields = request.query_params.get("fields")
        return magento_json(project(body, parse_fields(fields)) if fields else body)

    companies = searcher(
        lambda: list(state.companies.values()), ACL_COMPANIES, copy.deepcopy, id_field="id"
    )
    app.add_api_route("/V1/company/", companies)  # the path as the schema spells it
    app.add_api_route("/V1/company", companies)

    @app.get("/V1/company/{company_id}")
    async def get_company(company_id: str, request: Request) -> Response:
        await gate(request, ACL_COMPANIES)
        wanted = _path_int(company_id)
        async with state.lock:
            company = state.companies.get(wanted)
            if company is None:
                raise MagentoError(404, NO_SUCH_ENTITY, {"fieldName": "id", "fieldValue": wanted})
            body = copy.deepcopy(company)
        fields = request.query_params.get("fields")
        return magento_json(project(body, parse_fields(fields)) if fields else body)

    @app.get("/V1/companyCredits/company/{company_id}")
    async def get_company_credit(company_id: str, request: Request) -> Response:
        await gate(request, ACL_CREDIT)
        wanted = _path_int(company_id)
        async with state.lock:
            credit = state.credits.get(wanted)
            if credit is None or wanted not in state.companies:
                raise MagentoError(404, NO_CREDIT, {"fieldName": "CompanyID", "fieldValue": wanted})
            return magento_json(copy.deepcopy(credit))

    # ------------------------------------------------------------ store

    @app.get("/V1/store/storeConfigs")
    async def store_configs(request: Request) -> Response:
        await gate(request, ACL_STORES)
        wanted = {
            value
            for key, value in request.query_params.multi_items()
            if key == "storeCodes" or key.startswith("storeCodes[")
        }
        base = f"{request.url.scheme}://{request.url.netloc}/"
        configs = []
        for store in STORES:
            code = config.store_code if store.store_id == 1 else store.code
            if wanted and code not in wanted:
                continue
            configs.append(
                {
                    "id": store.store_id,
                    "code": code,
                    "website_id": 1,
                    "locale": store.locale,
                    "base_currency_code": store.base,
                    "default_display_currency_code": store.currency,
                    "timezone": store.timezone,
                    "weight_unit": store.weight_unit,
                    "base_url": base,
                    "base_link_url": base,
                    "base_static_url": f"{base}static/",
                    "base_media_url": f"{base}media/",
                    "secure_base_url": base,
                    "secure_base_link_url": base,
                    "secure_base_static_url": f"{base}static/",
                    "secure_base_media_url": f"{base}media/",
                }
            )
        return magento_json(configs)

    def order_change(
        resource: str,
        apply: Callable[[MagentoState, str, dict[str, Any]], Any],
        kind: str,
    ) -> Callable[[str, Request], Awaitable[Response]]:
        """A POST that changes an order: gate, apply under the lock, push the changed order,
        then the ``land_then_timeout`` fault of ``kind``."""

        async def handler(order_id: str, request: Request) -> Response:
            await gate(request, resource)
            body = await _body(request)
            async with state.lock:
                result = apply(state, order_id, body)
                order_changed(order_id)
            await land_then_timeout(kind)
            return magento_json(result)

        return handler

    for path, resource, apply, kind in (
        ("/V1/order/{order_id}/invoice", ACL_INVOICE, create_invoice, "invoice"),
        ("/V1/order/{order_id}/ship", ACL_SHIP, create_shipment, "ship"),
        ("/V1/orders/{order_id}/comments", ACL_COMMENT, add_comment, "comment"),
    ):
        app.add_api_route(path, order_change(resource, apply, kind), methods=["POST"])

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
            current = state.stock_items.get(sku) or _stock_item(
                int(item_id) if item_id.isdigit() else state.products[sku], state.products[sku]
            )
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
            product_id = state.products[sku]
            item = state.stock_items.get(sku) or _stock_item(product_id, product_id)
            return magento_json(item)

    # ------------------------------------------------------------ control (not Magento)

    @app.get("/_sim/health")
    async def health() -> Response:
        return magento_json({"ok": True})

    @app.get("/_sim/state")
    async def summary() -> Response:
        async with state.lock:
            return magento_json({**state.summary(), **pusher.counters()})

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
            pusher.reset(config.webhooks)
        return magento_json(True)

    @app.post("/_sim/orders/generate")
    async def generate(request: Request) -> Response:
        try:
            spec = Generate.model_validate(await _body(request))
        except ValidationError as exc:
            return magento_json({"message": str(exc)}, 400)
        async with state.lock:
            ids = generate_orders(state, spec.count, spec.seed, spec.same_updated_at_every)
            for order_id in ids:
                order_changed(order_id)
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
            order_id = store_order(state, document)
            order_changed(order_id)
            return magento_json(order_id)

    @app.post("/_sim/customers")
    async def put_customer(request: Request) -> Response:
        document = copy.deepcopy(_unwrap(await _body(request), "customer"))
        if not all(isinstance(document.get(k), str) for k in ("email", "firstname", "lastname")):
            return magento_json(
                {"message": "a customer document with email, firstname, lastname is required"},
                400,
            )
        async with state.lock:
            if isinstance(document.get("id"), int):
                state.seen_id("customer", document["id"])
            else:
                document["id"] = state.next_id("customer")
            state.customers[document["id"]] = document
            return magento_json(document["id"])

    @app.post("/_sim/companies")
    async def put_company(request: Request) -> Response:
        body = await _body(request)
        document = copy.deepcopy(_unwrap(body, "company"))
        credit_in = body.get("credit") if isinstance(body.get("company"), dict) else None
        if not isinstance(document.get("company_name"), str):
            return magento_json(
                {"message": "a company document with company_name is required"}, 400
            )
        async with state.lock:
            if isinstance(document.get("id"), int):
                state.seen_id("company", document["id"])
            else:
                document["id"] = state.next_id("company")
            company_id: int = document["id"]
            state.companies[company_id] = document
            credit: dict[str, Any] = {
                "id": state.credits.get(company_id, {}).get("id") or state.next_id("credit"),
                "company_id": company_id,
                "credit_limit": Decimal(0),
                "balance": Decimal(0),
                "currency_code": "USD",
                "exceed_limit": False,
            }
            if isinstance(credit_in, dict):
                credit.update(copy.deepcopy(credit_in))
                credit["company_id"] = company_id
            if "available_limit" not in credit:
                with contextlib.suppress(ArithmeticError):  # a limit that is not a number
                    credit["available_limit"] = Decimal(str(credit["credit_limit"])) + Decimal(
                        str(credit["balance"])
                    )
            state.credits[company_id] = credit
            return magento_json(company_id)

    @app.get("/_sim/clock")
    async def get_clock() -> Response:
        return magento_json({"clock": state.now(), "http_date": state.http_date()})

    @app.post("/_sim/clock")
    async def advance_clock(request: Request) -> Response:
        try:
            step = ClockStep.model_validate(await _body(request))
        except ValidationError as exc:
            return magento_json({"message": str(exc)}, 400)
        async with state.lock:
            state.tick(step.advance_seconds)
            return magento_json({"clock": state.now(), "http_date": state.http_date()})

    @app.get("/_sim/webhooks")
    async def get_webhooks() -> Response:
        return magento_json({**pusher.config.public(), **pusher.counters()})

    @app.put("/_sim/webhooks")
    async def put_webhooks(request: Request) -> Response:
        try:
            webhooks = WebhookConfig.model_validate(await _body(request))
        except ValidationError as exc:
            return magento_json({"message": str(exc)}, 400)
        async with state.lock:
            pusher.configure(webhooks)
        return magento_json(webhooks.public())

    @app.post("/_sim/webhooks/flush")
    async def flush_webhooks(request: Request) -> Response:
        try:
            timeout = min(max(float(request.query_params.get("timeout", "10")), 0.0), 120.0)
        except ValueError:
            return magento_json({"message": "timeout must be a number of seconds"}, 400)
        flushed = await pusher.flush(timeout)
        return magento_json({"flushed": flushed, **pusher.counters()}, 200 if flushed else 504)

    return app
