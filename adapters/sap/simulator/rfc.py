"""An RFC stand-in: SAP's sales order BAPIs run against the simulator's state.

**This is not SAP and not the RFC protocol.** pyrfc needs SAP's proprietary NW RFC SDK,
which cannot be installed here, so the RFC transport (:mod:`adapters.sap.rfc`) is tested
through :class:`SimulatorConnection`, an object with pyrfc's ``Connection`` interface
(``call``, ``create_and_submit_transaction``, ``confirm_transaction``, ``close``) that
sends each call as JSON to ``POST /_sim/rfc`` of the SAP simulator. There the function
modules run on the same state as the OData service, with SAP's parameter names and RETURN
messages:

* ``RFC_PING``;
* ``BAPI_SALESORDER_GETLIST`` (``CUSTOMER_NUMBER``, ``SALES_ORGANIZATION``,
  ``PURCHASE_ORDER_NUMBER`` → ``SALES_ORDERS`` with ``SD_DOC``, ``PURCH_NO_C``);
* ``BAPI_SALESORDER_SIMULATE`` (checks and prices, stores nothing; RETURN messages);
* a transactional unit (tRFC) of ``BAPI_SALESORDER_CREATEFROMDAT2`` +
  ``BAPI_TRANSACTION_COMMIT``: a transaction id runs once, a repeat of it is accepted and
  does nothing (SAP's ARFCRSTATE); ``confirm`` forgets it.

Transport failures look like pyrfc's: a refused logon raises an exception class named
``LogonError``, an unreachable or broken connection ``CommunicationError``, an answer that
does not come in time :class:`TimeoutError`.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from decimal import Decimal
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response

from adapters.sap.simulator.errors import SalesOrderError
from adapters.sap.simulator.state import SapState

__all__ = [
    "CommunicationError",
    "LogonError",
    "SimulatorConnection",
    "rfc_router",
]


class LogonError(Exception):
    """As pyrfc's: the user or password was refused."""


class CommunicationError(Exception):
    """As pyrfc's: no connection, or it broke."""


class ABAPApplicationError(Exception):
    """As pyrfc's: the function module raised an exception."""


def _return(kind: str, message_class: str, number: str, text: str) -> dict[str, str]:
    return {"TYPE": kind, "ID": message_class, "NUMBER": number, "MESSAGE": text}


def _order_from_bapi(params: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    header_in = params.get("ORDER_HEADER_IN") or {}
    header: dict[str, Any] = {
        "SalesOrderType": header_in.get("DOC_TYPE"),
        "SalesOrganization": header_in.get("SALES_ORG"),
        "DistributionChannel": header_in.get("DISTR_CHAN"),
        "OrganizationDivision": header_in.get("DIVISION"),
        "PurchaseOrderByCustomer": header_in.get("PURCH_NO_C"),
        "TransactionCurrency": header_in.get("CURRENCY"),
    }
    if header_in.get("PURCH_DATE"):
        header["CustomerPurchaseOrderDate"] = datetime.datetime.strptime(
            str(header_in["PURCH_DATE"]), "%Y%m%d"
        ).date()
    for partner in params.get("ORDER_PARTNERS") or []:
        if partner.get("PARTN_ROLE") == "AG":
            header["SoldToParty"] = partner.get("PARTN_NUMB")
    quantities = {
        s["ITM_NUMBER"]: s.get("REQ_QTY")
        for s in params.get("ORDER_SCHEDULES_IN") or params.get("ORDER_SCHEDULE_IN") or []
    }
    conditions = params.get("ORDER_CONDITIONS_IN") or params.get("ORDER_CONDITION_IN") or []
    items = []
    for item in params.get("ORDER_ITEMS_IN") or []:
        number = str(item["ITM_NUMBER"])
        line: dict[str, Any] = {
            "SalesOrderItem": number.lstrip("0") or "0",
            "Material": item.get("MATERIAL"),
            "SalesOrderItemText": item.get("SHORT_TEXT") or None,
            "RequestedQuantityUnit": item.get("TARGET_QU") or None,
        }
        if quantities.get(number):
            line["RequestedQuantity"] = Decimal(str(quantities[number]))
        line["to_PricingElement"] = [
            {
                "ConditionType": c.get("COND_TYPE"),
                "ConditionRateValue": Decimal(str(c.get("COND_VALUE"))),
                "ConditionCurrency": c.get("CURRENCY"),
            }
            for c in conditions
            if c.get("ITM_NUMBER") == number
        ]
        items.append({k: v for k, v in line.items() if v is not None})
    return {k: v for k, v in header.items() if v is not None}, items


def _run(state: SapState, function: str, params: dict[str, Any]) -> dict[str, Any]:
    if function == "RFC_PING":
        return {}
    if function == "BAPI_SALESORDER_GETLIST":
        orders = state.find_sales_orders(
            sold_to=params.get("CUSTOMER_NUMBER") or None,
            sales_organization=params.get("SALES_ORGANIZATION") or None,
            purchase_order=params.get("PURCHASE_ORDER_NUMBER") or None,
        )
        rows = [
            {
                "SD_DOC": str(o["SalesOrder"]).zfill(10),
                "PURCH_NO_C": o.get("PurchaseOrderByCustomer") or "",
                "SOLD_TO": o.get("SoldToParty") or "",
                "NET_VAL_HD": str(o.get("TotalNetAmount") or "0"),
                "CURRENCY": o.get("TransactionCurrency") or "",
            }
            for o in orders
        ]
        return {"SALES_ORDERS": rows, "RETURN": _return("S", "V4", "233", "OK")}
    if function in ("BAPI_SALESORDER_SIMULATE", "BAPI_SALESORDER_CREATEFROMDAT2"):
        header, items = _order_from_bapi(params)
        try:
            order = state.create_sales_order(
                header, items, user="RFC", simulate=function == "BAPI_SALESORDER_SIMULATE"
            )
        except SalesOrderError as exc:
            return {
                "RETURN": [_return("E", m.message_class, m.number, m.text) for m in exc.messages],
                "SALESDOCUMENT": "",
            }
        except ValueError as exc:
            return {"RETURN": [_return("E", "ZSIM", "010", str(exc))], "SALESDOCUMENT": ""}
        number = str(order.get("SalesOrder") or "")
        text = f"Standard Order {number} has been saved" if number else "Order simulated"
        return {"SALESDOCUMENT": number, "RETURN": [_return("S", "V1", "311", text)]}
    if function == "BAPI_TRANSACTION_COMMIT":
        return {"RETURN": _return("S", "", "000", "")}
    raise KeyError(function)


def rfc_router(state: SapState, users: dict[str, str]) -> APIRouter:
    """``POST /_sim/rfc``: one call or one transactional unit (see the module docstring)."""
    router = APIRouter()
    executed: dict[str, list[dict[str, Any]]] = {}
    state.rfc_units = executed  # type: ignore[attr-defined]  # for /_sim/state readers

    @router.post("/_sim/rfc")
    async def rfc(request: Request) -> Response:
        body = await request.json()
        user = str(body.get("user", "")).upper()
        if users.get(user) != body.get("password"):
            return _answer({"error": "LogonError", "message": "Name or password is incorrect"})
        faults = state.faults
        if faults.error_rate and state.rng.random() < faults.error_rate:
            state.count_fault("rfc_communication")
            return _answer({"error": "CommunicationError", "message": "connection reset"})
        async with state.lock:
            try:
                if "transaction_id" in body:
                    tid = str(body["transaction_id"])
                    if body.get("confirm"):
                        executed.pop(tid, None)
                        return _answer({})
                    if tid not in executed:  # a TID runs once
                        executed[tid] = [
                            _run(state, name, params) for name, params in body["calls"]
                        ]
                    answer: dict[str, Any] = {}
                else:
                    answer = _run(state, str(body["function"]), body.get("params") or {})
            except KeyError as exc:
                return _answer({"error": "ABAPApplicationError", "message": f"FU_NOT_FOUND {exc}"})
        lost = "calls" in body and state.rng.random() < faults.land_then_timeout_rate
        if lost:  # the unit ran; its answer is held back past the client's timeout
            state.count_fault("land_then_timeout_rfc")
            await asyncio.sleep(faults.land_then_timeout_seconds)
        return _answer(answer)

    return router


def _answer(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, default=str), 200, media_type="application/json")


class SimulatorConnection:
    """pyrfc's ``Connection`` interface over the simulator's ``/_sim/rfc`` (see module)."""

    def __init__(self, base_url: str, *, user: str, passwd: str, timeout: float = 30) -> None:
        self._http = httpx.Client(base_url=base_url, trust_env=False, timeout=timeout)
        self._credentials = {"user": user, "password": passwd}

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.post("/_sim/rfc", json={**self._credentials, **body})
        except httpx.TimeoutException as exc:
            raise TimeoutError("no RFC answer in time") from exc
        except httpx.HTTPError as exc:
            raise CommunicationError(f"partner not reached: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise CommunicationError(f"RFC gateway answered HTTP {response.status_code}")
        answer: dict[str, Any] = response.json()
        error = answer.get("error")
        if error == "LogonError":
            raise LogonError(answer.get("message"))
        if error == "CommunicationError":
            raise CommunicationError(answer.get("message"))
        if error:
            raise ABAPApplicationError(answer.get("message"))
        return answer

    def call(self, func_name: str, **params: Any) -> dict[str, Any]:
        return self._post({"function": func_name, "params": params})

    def create_and_submit_transaction(self, transaction_id: str, calls: Any) -> None:
        self._post({"transaction_id": transaction_id, "calls": [list(c) for c in calls]})

    def confirm_transaction(self, transaction_id: str) -> None:
        self._post({"transaction_id": transaction_id, "confirm": True})

    def close(self) -> None:
        self._http.close()
