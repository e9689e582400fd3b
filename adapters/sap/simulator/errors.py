"""SAP messages and SAP Gateway's OData V2 error body.

Every error answer of the simulator has the body SAP Gateway writes::

    {"error": {"code": "VS/406", "message": {"lang": "en", "value": "..."},
               "innererror": {"application": {...}, "transactionid": "<32 hex>",
                              "timestamp": "20250505080000.1234567",
                              "Error_Resolution": {"SAP_Transaction": ..., "SAP_Note": ...},
                              "errordetails": [{"code", "message", "propertyref",
                                                "severity", "target"}, ...]}}}

``code`` is a T100 message class and number (``<class>/<number>``) or, for errors of the
Gateway framework itself, the name of its exception class.

Message texts. Where the simulator reproduces a check SAP makes, it uses SAP's message
where a public message listing confirms class, number and text; those are marked
"(SAP)" below. A check SAP makes with a message the simulator could not confirm is
reported under the customer message class ``ZSIM`` (SAP's namespace for customer
messages), so no one mistakes an invented number for SAP's.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "BUSI_EXCEPTION",
    "NOT_IMPLEMENTED",
    "TECH_EXCEPTION",
    "Messages",
    "SalesOrderError",
    "SapError",
    "SapMessage",
    "error_body",
]

Severity = Literal["error", "warning", "info", "success"]

BUSI_EXCEPTION: Final = "/IWBEP/CX_MGW_BUSI_EXCEPTION"
TECH_EXCEPTION: Final = "/IWBEP/CX_MGW_TECH_EXCEPTION"
NOT_IMPLEMENTED: Final = "/IWBEP/CX_MGW_NOT_IMPL_EXC"

SAP_TRANSACTION: Final = (
    'For backend administrators: use ADT feed reader "SAP Gateway Error Log" or run '
    "transaction /IWFND/ERROR_LOG on SAP Gateway hub system and search for entries with the "
    "timestamp above for more details"
)
SAP_NOTE: Final = (
    "See SAP Note 1797736 for error analysis (https://service.sap.com/sap/support/notes/1797736)"
)
BATCH_SAP_NOTE: Final = (
    "See SAP Note 1869434 for details about working with $batch "
    "(https://service.sap.com/sap/support/notes/1869434)"
)


@dataclass(frozen=True)
class SapMessage:
    """One T100 message: class, number, text with its ``&1``… already filled in."""

    message_class: str
    number: str
    text: str
    severity: Severity = "error"
    target: str = ""
    """What the message is about, e.g. ``to_Item('10')/Material`` (errordetails target)."""
    propertyref: str = ""

    @property
    def code(self) -> str:
        return f"{self.message_class}/{self.number}"

    def detail(self) -> dict[str, str]:
        return {
            "code": self.code,
            "message": self.text,
            "propertyref": self.propertyref,
            "severity": self.severity,
            "target": self.target,
        }


def _fill(template: str, *args: str) -> str:
    text = template
    for index, arg in enumerate(args, start=1):
        text = text.replace(f"&{index}", arg)
    return text


class Messages:
    """The messages of the simulator's business checks (factories with ``&1``… filled)."""

    @staticmethod
    def customer_not_in_sales_area(
        customer: str, org: str, channel: str, division: str, *, target: str = ""
    ) -> SapMessage:
        # (SAP) VS 406 "Customer &1 is not created in sales area &2 &3 &4".
        text = _fill(
            "Customer &1 is not created in sales area &2 &3 &4", customer, org, channel, division
        )
        return SapMessage("VS", "406", text, target=target)

    @staticmethod
    def material_unknown(material: str, *, target: str = "") -> SapMessage:
        # (SAP) M3 305 "The material &1 does not exist or is not activated".
        text = _fill("The material &1 does not exist or is not activated", material)
        return SapMessage("M3", "305", text, target=target)

    @staticmethod
    def condition_not_in_procedure(condition: str, *, target: str = "") -> SapMessage:
        # (SAP) PRC_MESSAGES 206 "Condition &1 missing from pricing procedure &3 in
        # application &2" (the simulator's pricing procedure is RVAA01, application V).
        text = _fill(
            "Condition &1 missing from pricing procedure &3 in application &2",
            condition,
            "V",
            "RVAA01",
        )
        return SapMessage("PRC_MESSAGES", "206", text, target=target)

    @staticmethod
    def required(field_name: str, *, target: str = "") -> SapMessage:
        return SapMessage(
            "ZSIM", "001", f"Enter a value for {field_name}", target=target or field_name
        )

    @staticmethod
    def item_twice(item: str) -> SapMessage:
        return SapMessage(
            "ZSIM", "002", f"Item {item} occurs more than once", target=f"to_Item('{item}')"
        )

    @staticmethod
    def document_exists(number: str) -> SapMessage:
        return SapMessage("ZSIM", "003", f"Sales document {number} already exists")


class SalesOrderError(Exception):
    """A sales order SAP refuses to create: the messages, the first one is the reason.

    Raised by :meth:`adapters.sap.simulator.state.SapState.create_sales_order`,
    independent of HTTP, so an RFC stand-in (``BAPI_SALESORDER_CREATEFROMDAT2``) can put
    the same messages into its ``RETURN`` table.
    """

    def __init__(self, messages: list[SapMessage]) -> None:
        if not messages:
            raise ValueError("a SalesOrderError needs at least one message")
        super().__init__(messages[0].text)
        self.messages = list(messages)

    @property
    def message_class(self) -> str:
        return self.messages[0].message_class

    @property
    def number(self) -> str:
        return self.messages[0].number

    @property
    def text(self) -> str:
        return self.messages[0].text

    def to_http(self) -> SapError:
        first = self.messages[0]
        return SapError(400, first.code, first.text, details=list(self.messages))


@dataclass
class SapError(Exception):
    """An OData error answer: status, SAP code and text, details, extra headers."""

    status: int
    code: str
    text: str
    details: list[SapMessage] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.text)


def _timestamp(now: datetime.datetime) -> str:
    utc = now.astimezone(datetime.UTC)
    return utc.strftime("%Y%m%d%H%M%S.") + f"{utc.microsecond:06d}0"


def error_body(
    error: SapError,
    *,
    service: str,
    now: datetime.datetime,
    component: str = "",
    in_batch: bool = False,
) -> dict[str, Any]:
    """SAP Gateway's JSON error body for ``error``."""
    details = error.details or [SapMessage("", "", error.text)]
    resolution = {"SAP_Transaction": SAP_TRANSACTION, "SAP_Note": SAP_NOTE}
    if in_batch:
        resolution["Batch_SAP_Note"] = BATCH_SAP_NOTE
    return {
        "error": {
            "code": error.code,
            "message": {"lang": "en", "value": error.text},
            "innererror": {
                "application": {
                    "component_id": component,
                    "service_namespace": "/SAP/",
                    "service_id": service,
                    "service_version": "0001",
                },
                "transactionid": secrets.token_hex(16).upper(),
                "timestamp": _timestamp(now),
                "Error_Resolution": resolution,
                "errordetails": [
                    detail.detail() if detail.message_class else _plain(error.code, detail.text)
                    for detail in details
                ],
            },
        }
    }


def _plain(code: str, text: str) -> dict[str, str]:
    return {"code": code, "message": text, "propertyref": "", "severity": "error", "target": ""}
