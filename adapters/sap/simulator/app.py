"""The FastAPI application: service roots, the gate (faults, Basic auth, CSRF), control API."""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import json
from typing import Any, Final

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ValidationError

from adapters.sap.idoc import parse_orders05
from adapters.sap.idoc_transport import IDOC_HTTP_PATH as IDOC_XML_PATH
from adapters.sap.simulator.batch import handle_batch
from adapters.sap.simulator.errors import TECH_EXCEPTION, SalesOrderError, SapError, error_body
from adapters.sap.simulator.odata import MODIFYING, ODataRequest, ODataResponse, ODataService
from adapters.sap.simulator.rfc import rfc_router
from adapters.sap.simulator.state import (
    SERVICE_NAMES,
    CustomerSeed,
    Faults,
    MaterialSeed,
    SapState,
    SimulatorConfig,
)

__all__ = ["ODATA_ROOT", "create_simulator"]

ODATA_ROOT: Final = "/sap/opu/odata/sap"
METHODS: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "MERGE", "DELETE"]
CSRF_FAILED: Final = "CSRF token validation failed"
LOGON_FAILED: Final = "Logon failed"
# Texts of SAP Gateway's own answers for the statuses a fault can inject.
_INJECTED: Final = {
    500: "In the context of Data Services an unknown internal server error occurred",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    429: "Too Many Requests",
}


def _plain(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(text, status, headers=headers, media_type="text/plain; charset=utf-8")


def _control(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, media_type="application/json")


def _basic_user(header: str, users: dict[str, str]) -> str | None:
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, colon, password = decoded.partition(":")
    name = name.upper()  # SAP user names are case-insensitive
    if not colon or users.get(name) != password:
        return None
    return name


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        return None


def create_simulator(config: SimulatorConfig | None = None) -> FastAPI:
    """A stateful SAP S/4HANA OData V2 simulator; its state is ``app.state.sap``."""
    config = config or SimulatorConfig()
    state = SapState(config)
    services = {name: ODataService(state, name) for name in SERVICE_NAMES}
    app = FastAPI(
        title="SAP S/4HANA OData V2 simulator", openapi_url=None, docs_url=None, redoc_url=None
    )
    app.state.sap = state
    users = {user.name.upper(): user.password for user in config.users}
    session_cookie = f"SAP_SESSIONID_{config.system_id}_{config.client}"
    realm = f'Basic realm="SAP NetWeaver Application Server [{config.system_id}/{config.client}]"'

    def sap_error(service: str, error: SapError) -> Response:
        body = error_body(error, service=service, now=datetime.datetime.now(datetime.UTC))
        headers = {"dataserviceversion": "2.0", **error.headers}
        return Response(json.dumps(body), error.status, headers, media_type="application/json")

    async def faults_first(service: str) -> Response | None:
        """Slow, then an injected error: what a proxy or a sick work process does before
        SAP looks at the credentials."""
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
            text = _INJECTED.get(status, "Error")
            return sap_error(service, SapError(status, TECH_EXCEPTION, text, headers=headers))
        return None

    async def land_then_timeout(change: str) -> None:
        faults = state.faults
        if (
            change
            and change in faults.land_then_timeout_for
            and (state.rng.random() < faults.land_then_timeout_rate)
        ):
            state.count_fault(f"land_then_timeout_{change}")
            await asyncio.sleep(faults.land_then_timeout_seconds)

    async def odata(request: Request) -> Response:
        service_name = str(request.path_params["service"])
        rest = str(request.path_params.get("rest", ""))
        refused = await faults_first(service_name)
        if refused is not None:
            return refused
        user = _basic_user(request.headers.get("authorization", ""), users)
        if user is None:
            return _plain(401, LOGON_FAILED, {"www-authenticate": realm})
        service = services.get(service_name)
        if service is None:
            return sap_error(
                service_name,
                SapError(
                    403,
                    "/IWFND/MED/170",
                    f"No service found for namespace '/SAP/', name '{service_name}', "
                    "version '0001'",
                ),
            )
        method = request.method.upper()
        if method == "POST" and request.headers.get("x-http-method"):
            method = request.headers["x-http-method"].upper()
        session_id = request.cookies.get(session_cookie)
        if method in MODIFYING:
            async with state.lock:
                session = state.check_token(user, session_id, request.headers.get("x-csrf-token"))
                if session is not None and state.rng.random() < state.faults.expire_csrf_rate:
                    state.count_fault("expire_csrf")
                    state.sessions.pop(session.session_id, None)
                    session = None
            if session is None:
                return _plain(403, CSRF_FAILED, {"x-csrf-token": "Required"})
        root = f"{ODATA_ROOT}/{service_name}"
        odata_request = ODataRequest(
            method=method,
            path=rest,
            query=list(request.query_params.multi_items()),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=await request.body(),
            user=user,
            base_url=f"{request.url.scheme}://{request.url.netloc}{root}/",
        )
        fetch = request.headers.get("x-csrf-token", "").strip().lower() == "fetch"
        new_session = None
        async with state.lock:
            answer: ODataResponse
            if rest.strip("/") == "$batch":
                if method != "POST":
                    answer = service.error(SapError(405, TECH_EXCEPTION, "$batch needs POST"))
                else:
                    answer = handle_batch(
                        service, odata_request, request.headers.get("content-type", ""), root
                    )
            else:
                answer = service.handle(odata_request)
            if fetch and method in ("GET", "HEAD"):
                new_session = state.fetch_token(user, session_id)
        await land_then_timeout(answer.change)
        body = b"" if method == "HEAD" or answer.status == 204 else answer.body
        response = Response(body, answer.status, headers=answer.headers)
        if method == "HEAD":
            response.headers["content-length"] = str(len(answer.body))
        if new_session is not None:
            response.headers["x-csrf-token"] = new_session.token
            if new_session.session_id != session_id:
                response.headers.append(
                    "set-cookie",
                    f"{session_cookie}={new_session.session_id}; path=/; HttpOnly",
                )
                response.headers.append(
                    "set-cookie", f"sap-usercontext=sap-client={config.client}; path=/"
                )
        return response

    app.add_route(f"{ODATA_ROOT}/{{service}}", odata, methods=METHODS, include_in_schema=False)
    app.add_route(
        f"{ODATA_ROOT}/{{service}}/{{rest:path}}", odata, methods=METHODS, include_in_schema=False
    )

    # ------------------------------------------------------------------ control (not SAP)

    def invalid(exc: ValidationError | str) -> Response:
        return _control({"message": str(exc)}, 400)

    @app.get("/_sim/health")
    async def health() -> Response:
        return _control({"ok": True})

    @app.get("/_sim/state")
    async def summary() -> Response:
        async with state.lock:
            return _control(state.summary())

    @app.get("/_sim/faults")
    async def get_faults() -> Response:
        return _control(state.faults.model_dump(mode="json"))

    @app.put("/_sim/faults")
    async def put_faults(request: Request) -> Response:
        try:
            faults = Faults.model_validate(await _json_body(request))
        except ValidationError as exc:
            return invalid(exc)
        async with state.lock:
            state.faults = faults
        return _control(faults.model_dump(mode="json"))

    @app.post("/_sim/reset")
    async def reset(request: Request) -> Response:
        keep = request.query_params.get("keep_faults", "false") == "true"
        async with state.lock:
            state.reset(keep_faults=keep)
        return _control(True)

    async def seed(request: Request, model: type[BaseModel]) -> BaseModel | Response:
        try:
            return model.model_validate(await _json_body(request))
        except ValidationError as exc:
            return invalid(exc)

    @app.post("/_sim/customers")
    async def add_customer(request: Request) -> Response:
        customer = await seed(request, CustomerSeed)
        if not isinstance(customer, CustomerSeed):
            return customer if isinstance(customer, Response) else invalid("not a customer")
        async with state.lock:
            number = state.add_customer(customer)
        return _control({"customer": number}, 201)

    @app.post("/_sim/materials")
    async def add_material(request: Request) -> Response:
        material = await seed(request, MaterialSeed)
        if not isinstance(material, MaterialSeed):
            return material if isinstance(material, Response) else invalid("not a material")
        async with state.lock:
            number = state.add_material(material)
        return _control({"material": number}, 201)

    @app.post("/_sim/csrf/expire")
    async def expire_csrf() -> Response:
        async with state.lock:
            return _control({"expired": state.expire_tokens()})

    # IDoc-XML inbound (SICF /sap/bc/idoc_xml): ORDERS05 becomes a sales order. Unlike
    # SAP's own handler, which stores a new IDoc per call, this one checks the sender's
    # DOCNUM, as the duplicate check a middleware or user exit adds in front of SAP.
    received: dict[tuple[str, str], str] = {}

    @app.get(IDOC_XML_PATH)
    async def idoc_ready(request: Request) -> Response:
        if _basic_user(request.headers.get("authorization", ""), users) is None:
            return _plain(401, LOGON_FAILED, {"www-authenticate": realm})
        return _plain(200, "IDoc-XML inbound ready")

    @app.post(IDOC_XML_PATH)
    async def idoc_inbound(request: Request) -> Response:
        refused = await faults_first("IDOC")
        if refused is not None:
            return refused
        if _basic_user(request.headers.get("authorization", ""), users) is None:
            return _plain(401, LOGON_FAILED, {"www-authenticate": realm})
        try:
            parsed = parse_orders05(await request.body())
        except Exception as exc:  # noqa: BLE001 - any unreadable IDoc is the caller's error
            return sap_error("IDOC", SapError(400, "EA/000", f"IDoc not accepted: {exc}"))
        key = (parsed.control.SNDPRN or "", parsed.control.DOCNUM)
        async with state.lock:
            if key in received:
                return _plain(200, f"IDoc {key[1]} already received (sales order {received[key]})")
            order = parsed.document
            area = parsed.sales_area
            header = {
                "SalesOrderType": (area.order_type if area else None) or "OR",
                "SalesOrganization": (area.sales_org if area else None) or "1010",
                "DistributionChannel": (area.distribution_channel if area else None) or "10",
                "OrganizationDivision": (area.division if area else None) or "00",
                "SoldToParty": parsed.partners.get("AG"),
                "PurchaseOrderByCustomer": order.order_number,
                "TransactionCurrency": order.currency,
            }
            items = [
                {
                    "SalesOrderItem": str(10 * number),
                    "Material": line.sku,
                    "RequestedQuantity": line.quantity,
                    "to_PricingElement": [
                        {
                            "ConditionType": "PR00",
                            "ConditionRateValue": line.unit_price,
                            "ConditionCurrency": order.currency,
                        }
                    ],
                }
                for number, line in enumerate(order.lines, start=1)
            ]
            try:
                created = state.create_sales_order(header, items, user="IDOC")
            except SalesOrderError as exc:
                return sap_error("IDOC", exc.to_http())
            received[key] = str(created["SalesOrder"])
        await land_then_timeout("create")
        return _plain(200, f"IDoc {key[1]} received: sales order {received[key]}")

    # the RFC stand-in (adapters/sap/simulator/rfc.py): BAPIs on this state, not SAP
    app.include_router(rfc_router(state, users))

    return app
