"""Sales orders over RFC: BAPI_SALESORDER_CREATEFROMDAT2 in a transactional unit.

pyrfc needs SAP's proprietary NW RFC SDK, so it is an optional extra (``sap-rfc``) and is
imported only when an RFC target connects; without it the target fails with a
:class:`~hub.errors.PermanentError` saying what to install.

One delivery, at most one sales order:

1. ``BAPI_SALESORDER_GETLIST`` by sold-to party and sales organisation: an order carrying
   the shop's order number (``PURCH_NO_C``) already exists → that is this delivery's.
2. ``BAPI_SALESORDER_SIMULATE`` checks the order synchronously (customer, materials,
   pricing) without saving, so SAP's messages come back as typed errors; a transactional
   unit could not report them.
3. ``BAPI_SALESORDER_CREATEFROMDAT2`` + ``BAPI_TRANSACTION_COMMIT`` go to SAP as ONE tRFC
   unit whose transaction id (TID) is derived from the delivery's idempotency key: SAP runs
   a TID once, so a retry after a lost answer re-sends the same TID without a second
   effect. The TID is confirmed once SAP accepted it.
4. ``BAPI_SALESORDER_GETLIST`` again reads the new order's number.

The connection object is anything with pyrfc's interface (:class:`RfcConnection`):
``pyrfc.Connection`` in production, :class:`adapters.sap.simulator.rfc.SimulatorConnection`
in the tests. That stand-in is not SAP: it runs the same function modules against the SAP
simulator's state, with SAP's parameter names and RETURN messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from adapters.sap.config import SapConfig
from hub.errors import (
    AuthFailed,
    DeliveryError,
    MasterDataMissing,
    PermanentError,
    Rejected,
    TargetTimeout,
    TargetUnavailable,
    TransientError,
)

__all__ = ["RfcConnection", "RfcSalesOrders", "bapi_order", "tid_for"]

INSTALL_HINT = (
    "the rfc transport needs pyrfc, which needs SAP NW RFC SDK 7.50 (proprietary, from "
    "SAP's support portal): install the SDK, set SAPNWRFC_HOME, then "
    "`pip install 'o2c-hub[sap-rfc]'`; or use transport: odata"
)


class RfcConnection(Protocol):
    """The part of ``pyrfc.Connection`` the hub uses."""

    def call(self, func_name: str, **params: Any) -> dict[str, Any]: ...

    def create_and_submit_transaction(
        self, transaction_id: str, calls: Sequence[tuple[str, dict[str, Any]]]
    ) -> None: ...

    def confirm_transaction(self, transaction_id: str) -> None: ...

    def close(self) -> None: ...


Connector = Callable[[SapConfig], RfcConnection]


def tid_for(idempotency_key: str) -> str:
    """The 24-character tRFC transaction id of a delivery: the same key, the same TID."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:24].upper()


def pyrfc_connect(config: SapConfig) -> RfcConnection:
    """``pyrfc.Connection`` for the target (imported here, so the hub runs without it)."""
    try:
        pyrfc = importlib.import_module("pyrfc")
    except ImportError as exc:
        raise PermanentError(f"sap: {INSTALL_HINT} ({exc})") from None
    assert config.rfc is not None
    connection: RfcConnection = pyrfc.Connection(
        ashost=config.rfc.ashost,
        sysnr=config.rfc.sysnr,
        client=config.rfc.client,
        lang=config.rfc.lang,
        user=config.user,
        passwd=config.password.get_secret_value(),
    )
    return connection


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _amount(value: Any) -> str:
    return format(Decimal(str(value)), "f") if value is not None else ""


def bapi_order(document: dict[str, Any]) -> dict[str, Any]:
    """The A_SalesOrder deep insert as BAPI_SALESORDER_CREATEFROMDAT2 parameters."""
    purchase_date = document.get("CustomerPurchaseOrderDate")
    header = {
        "DOC_TYPE": _text(document.get("SalesOrderType")),
        "SALES_ORG": _text(document.get("SalesOrganization")),
        "DISTR_CHAN": _text(document.get("DistributionChannel")),
        "DIVISION": _text(document.get("OrganizationDivision")),
        "PURCH_NO_C": _text(document.get("PurchaseOrderByCustomer")),
        "CURRENCY": _text(document.get("TransactionCurrency")),
    }
    if isinstance(purchase_date, date):
        header["PURCH_DATE"] = purchase_date.strftime("%Y%m%d")
    items, schedules, conditions = [], [], []
    for item in document.get("to_Item") or []:
        number = _text(item.get("SalesOrderItem")).zfill(6)
        items.append(
            {
                "ITM_NUMBER": number,
                "MATERIAL": _text(item.get("Material")),
                "SHORT_TEXT": _text(item.get("SalesOrderItemText")),
                "TARGET_QU": _text(item.get("RequestedQuantityUnit")),
            }
        )
        schedules.append({"ITM_NUMBER": number, "REQ_QTY": _amount(item.get("RequestedQuantity"))})
        for condition in item.get("to_PricingElement") or []:
            conditions.append(
                {
                    "ITM_NUMBER": number,
                    "COND_TYPE": _text(condition.get("ConditionType")),
                    "COND_VALUE": _amount(condition.get("ConditionRateValue")),
                    "CURRENCY": _text(condition.get("ConditionCurrency")),
                }
            )
    return {
        "ORDER_HEADER_IN": header,
        "ORDER_PARTNERS": [{"PARTN_ROLE": "AG", "PARTN_NUMB": _text(document.get("SoldToParty"))}],
        "ORDER_ITEMS_IN": items,
        "ORDER_SCHEDULES_IN": schedules,
        "ORDER_CONDITIONS_IN": conditions,
    }


class RfcSalesOrders:
    """Creates and finds sales orders over one RFC connection (calls run in a thread)."""

    def __init__(
        self, config: SapConfig, *, target: str = "sap", connect: Connector | None = None
    ) -> None:
        self.config = config
        self.target = target
        self._connect = connect or pyrfc_connect
        self._connection: RfcConnection | None = None
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await asyncio.to_thread(connection.close)

    async def ping(self) -> None:
        await self._run(lambda c: c.call("RFC_PING"))

    async def find(self, purchase_order: str, sold_to: str | None, sales_org: str) -> str | None:
        """The number of the order with this customer reference, if SAP has one."""
        params: dict[str, Any] = {"CUSTOMER_NUMBER": sold_to or "", "SALES_ORGANIZATION": sales_org}
        params["PURCHASE_ORDER_NUMBER"] = purchase_order
        answer = await self._run(lambda c: c.call("BAPI_SALESORDER_GETLIST", **params))
        self._raise_for_return(answer.get("RETURN"), "BAPI_SALESORDER_GETLIST")
        for row in answer.get("SALES_ORDERS") or []:
            if _text(row.get("PURCH_NO_C") or row.get("PURCH_NO")) == purchase_order:
                return _text(row.get("SD_DOC")).lstrip("0") or _text(row.get("SD_DOC"))
        return None

    async def create(self, document: dict[str, Any], idempotency_key: str) -> str:
        params = bapi_order(document)
        simulated = await self._run(
            lambda c: c.call(
                "BAPI_SALESORDER_SIMULATE",
                ORDER_HEADER_IN=params["ORDER_HEADER_IN"],
                ORDER_PARTNERS=params["ORDER_PARTNERS"],
                ORDER_ITEMS_IN=params["ORDER_ITEMS_IN"],
                ORDER_SCHEDULE_IN=params["ORDER_SCHEDULES_IN"],
                ORDER_CONDITION_IN=params["ORDER_CONDITIONS_IN"],
            )
        )
        self._raise_for_return(simulated.get("RETURN"), "BAPI_SALESORDER_SIMULATE")
        tid = tid_for(idempotency_key)
        unit = [
            ("BAPI_SALESORDER_CREATEFROMDAT2", params),
            ("BAPI_TRANSACTION_COMMIT", {"WAIT": "X"}),
        ]
        await self._run(lambda c: c.create_and_submit_transaction(tid, unit))
        await self._run(lambda c: c.confirm_transaction(tid))
        header = params["ORDER_HEADER_IN"]
        number = await self.find(
            header["PURCH_NO_C"], params["ORDER_PARTNERS"][0]["PARTN_NUMB"], header["SALES_ORG"]
        )
        if number is None:
            raise TransientError(
                f"{self.target}: SAP accepted tRFC unit {tid} but shows no order for "
                f"{header['PURCH_NO_C']} yet (check SM58 for the unit's status)",
                target=self.target,
            )
        return number

    # ------------------------------------------------------------------ internals

    async def _run(self, action: Callable[[RfcConnection], Any]) -> Any:
        async with self._lock:  # one RFC session: calls are not concurrent
            try:
                if self._connection is None:
                    self._connection = await asyncio.to_thread(self._connect, self.config)
                connection = self._connection
                return await asyncio.wait_for(
                    asyncio.to_thread(action, connection), timeout=self.config.timeout
                )
            except DeliveryError:
                raise
            except TimeoutError as exc:
                self._drop()
                raise TargetTimeout(
                    f"{self.target}: no RFC answer within {self.config.timeout:g}s (a unit "
                    "sent again keeps its transaction id: no second order)",
                    target=self.target,
                ) from exc
            except Exception as exc:
                self._drop()
                raise self._translate(exc) from exc

    def _drop(self) -> None:
        """Forget a connection that failed (closing it quietly): the next call reconnects."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def _translate(self, exc: Exception) -> DeliveryError:
        """pyrfc's exception classes, by name (pyrfc itself is optional)."""
        name = type(exc).__name__
        text = str(exc)
        password = self.config.password.get_secret_value()
        if password:
            text = text.replace(password, "***")
        if name == "LogonError":
            return AuthFailed(f"{self.target}: RFC logon refused: {text}", target=self.target)
        if name == "CommunicationError":
            return TargetUnavailable(
                f"{self.target}: RFC connection failed: {text}", target=self.target
            )
        if name in ("ABAPApplicationError", "ABAPRuntimeError"):
            return Rejected(f"{self.target}: {name}: {text}", target=self.target, detail=text)
        return TransientError(f"{self.target}: RFC call failed: {name}: {text}", target=self.target)

    def _raise_for_return(self, messages: Any, function: str) -> None:
        rows = messages if isinstance(messages, list) else [messages] if messages else []
        errors = [m for m in rows if isinstance(m, dict) and m.get("TYPE") in ("E", "A", "X")]
        if not errors:
            return
        texts = [
            f"{_text(m.get('MESSAGE'))} ({_text(m.get('ID'))}/{_text(m.get('NUMBER'))})"
            for m in errors
        ]
        detail = "; ".join(texts)
        missing = _missing(errors)
        if missing is not None:
            raise MasterDataMissing(
                f"{self.target}: {function}: SAP has no {missing}: {detail}",
                missing=missing,
                target=self.target,
                detail=detail,
            )
        raise Rejected(f"{self.target}: {function}: {detail}", target=self.target, detail=detail)


def _missing(messages: list[dict[str, Any]]) -> str | None:
    from adapters.sap.odata import SapError

    rows = [{"message": _text(m.get("MESSAGE")), "severity": "error"} for m in messages]
    return SapError("", "", rows).missing()
