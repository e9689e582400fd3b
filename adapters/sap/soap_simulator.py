"""A simulator of S/4HANA's SOAP service *Journal Entry - Post (Synchronous)*, for tests.

:func:`create_journal_simulator` builds a FastAPI app that serves, at SAP's path
(:data:`adapters.sap.soap.ENDPOINT_PATH`):

* ``GET ?wsdl``: the project's WSDL (adapters/sap/wsdl/), its address set to this server;
* ``POST``: operation ``JournalEntryCreateRequestConfirmation_In``. The request is read
  with lxml (no SOAP library on this side); each entry is checked as SAP checks it and
  either posted, with a new 10-digit ``AccountingDocument`` from a number range per
  company code and fiscal year (the posting date's year), or refused with a ``Log`` of
  severity 3. The answer is a SAP-shaped ``JournalEntryBulkCreateConfirmation``.

Checks, in SAP's order, with SAP's message where the simulator knows it:

* the company code is one the simulator knows;
* every tax code is known (``tax_codes``);
* ``DebitCreditCode`` agrees with the amount's sign (debit positive, credit negative);
* the amounts add up to zero: F5 702 *Balance in transaction currency*;
* no earlier entry has the same ``DocumentReferenceID`` for the same company code and
  customer: F5 117 *Check whether document has already been entered under number
  <company code> <document> <fiscal year>* (SAP's duplicate check, set to an error).

A refused entry ends with RW 609 *Error in document*, a posted one with RW 614 *Document
posted successfully*. Messages the simulator makes up for checks whose SAP number it does
not know carry the class ``O2C_SIM``.

HTTP Basic against ``users``; a wrong or missing password is a 401 with SAP's realm and an
HTML page. Faults (:class:`JournalFaults`), met in this order on the POST: ``slow`` (a delay)
→ ``error`` (an injected status: 500 is a SOAP fault with ``fault_code``, others a plain
page) → authentication → the posting → ``land_then_timeout`` (the entry is committed,
then the answer is held back longer than a client waits).

Control endpoints: ``GET /_sim/health``, ``GET /_sim/state`` (posted entries with their
lines, request and fault counters), ``POST /_sim/reset`` (entries, numbers and counters;
``?keep_faults=true`` keeps the faults), ``GET``/``PUT /_sim/faults``.

:func:`run_journal_simulator` runs it in a subprocess over loopback
(``python -m adapters.sap.soap_simulator``), as the Magento simulator runs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import hmac
import random
import socket
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from fastapi import FastAPI, Request, Response
from lxml import etree  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adapters.sap.soap import ENDPOINT_PATH, NAMESPACE, WSDL_PATH
from hub.testing.loopback import base_url, listen, run_module, serve_app

__all__ = [
    "JournalFaults",
    "JournalSimulatorConfig",
    "JournalSimulatorState",
    "create_journal_simulator",
    "main",
    "run_journal_simulator",
]

SOAP_ENV: Final = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_NS: Final = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS: Final = "http://schemas.xmlsoap.org/wsdl/soap/"
REALM: Final = 'Basic realm="SAP NetWeaver Application Server [S4H/100]"'
SIM_CLASS: Final = "O2C_SIM"
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True
)
_STATUS_TEXT: Final = {
    429: "Too Many Requests",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class JournalFaults(BaseModel):
    """What the simulator does wrong, on the SOAP POST only; every field defaults to nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_statuses: tuple[int, ...] = Field(default=(500, 503))
    fault_code: Literal["Server", "Client"] = Field(
        default="Server", description="faultcode of an injected 500 (soap-env:Server/Client)."
    )
    retry_after: int | None = Field(default=None, ge=0, le=86_400)
    slow_rate: float = Field(default=0.0, ge=0, le=1)
    slow_seconds: float = Field(default=0.0, ge=0, le=60)
    land_then_timeout_rate: float = Field(default=0.0, ge=0, le=1)
    land_then_timeout_seconds: float = Field(default=5.0, ge=0, le=120)

    @field_validator("error_statuses")
    @classmethod
    def _statuses_ok(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(not 400 <= status <= 599 for status in value):
            raise ValueError("error_statuses must be non-empty HTTP 4xx/5xx statuses")
        return value


class JournalSimulatorConfig(BaseModel):
    """The simulated system: its users, company codes, tax codes and number ranges."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    users: dict[str, str] = Field(
        default_factory=lambda: {"O2C_COMM_USER": "sim-journal-password"},
        description="Communication users and their passwords (HTTP Basic).",
    )
    company_codes: tuple[str, ...] = Field(
        default=("1010",), description="Company codes that exist; empty accepts any."
    )
    tax_codes: tuple[str, ...] = Field(
        default=("A0", "A1", "A2", "AE", "AF", "AG"),
        description="Output tax codes of the tax procedure.",
    )
    first_document_number: int = Field(
        default=100_000_000,
        ge=1,
        le=9_999_999_000,
        description="First number of each company code's and fiscal year's range.",
    )
    logical_system: str = Field(default="S4HCLNT100", min_length=1, max_length=10)
    seed: int = Field(default=0, description="Seed of the fault RNG.")
    faults: JournalFaults = Field(default_factory=JournalFaults)


@dataclass
class _Line:
    kind: Literal["customer", "gl", "tax"]
    item: str
    account: str
    amount: Decimal
    debit_credit: str | None
    tax_code: str | None = None
    tax_base: Decimal | None = None
    text: str | None = None

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "item": self.item,
            "account": self.account,
            "amount": str(self.amount),
            "debit_credit": self.debit_credit,
        }
        if self.tax_code is not None:
            out["tax_code"] = self.tax_code
        if self.tax_base is not None:
            out["tax_base"] = str(self.tax_base)
        if self.text is not None:
            out["text"] = self.text
        return out


@dataclass
class _Entry:
    """One journal entry of a request, as read."""

    message_id: str
    company_code: str
    document_type: str
    reference: str | None
    original_reference: str | None
    header_text: str | None
    document_date: str
    posting_date: date
    currency: str | None
    customer: str | None
    lines: list[_Line] = field(default_factory=list)


@dataclass
class _Message:
    type_id: str
    severity: int
    note: str


class _BadRequest(Exception):
    """The request cannot be read: a SOAP Client fault."""


class JournalSimulatorState:
    """Posted entries, number ranges, faults and counters (one event loop, no threads)."""

    def __init__(self, config: JournalSimulatorConfig) -> None:
        self.config = config
        self.faults = config.faults
        self.rng = random.Random(config.seed)  # noqa: S311 -- test faults, not crypto
        self.entries: list[dict[str, Any]] = []
        self.numbers: dict[tuple[str, str], int] = {}
        self.references: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.requests = 0
        self.fault_counts: dict[str, int] = {}

    def reset(self, *, keep_faults: bool = False) -> None:
        """Forget every entry, number and counter; faults back to the configured ones."""
        if not keep_faults:
            self.faults = self.config.faults
        self.rng = random.Random(self.config.seed)  # noqa: S311 -- test faults, not crypto
        self.entries = []
        self.numbers = {}
        self.references = {}
        self.requests = 0
        self.fault_counts = {}

    def count_fault(self, kind: str) -> None:
        self.fault_counts[kind] = self.fault_counts.get(kind, 0) + 1

    def next_number(self, company_code: str, fiscal_year: str) -> str:
        key = (company_code, fiscal_year)
        number = self.numbers.get(key, self.config.first_document_number)
        self.numbers[key] = number + 1
        return f"{number:010d}"

    def summary(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "requests": self.requests,
            "faults": self.faults.model_dump(mode="json"),
            "fault_counts": dict(self.fault_counts),
        }

    # ------------------------------------------------------------------ posting

    def post(self, entry: _Entry) -> tuple[dict[str, str], list[_Message]]:
        """Check and post one entry: (AccountingDocument, CompanyCode, FiscalYear), log."""
        config = self.config
        year = f"{entry.posting_date.year:04d}"
        refused = {"AccountingDocument": "0000000000", "CompanyCode": entry.company_code}
        refused["FiscalYear"] = "0000"
        errors: list[_Message] = []
        if config.company_codes and entry.company_code not in config.company_codes:
            errors.append(_sim(f"Company code {entry.company_code} is not defined"))
        currencies = {entry.currency} if entry.currency else set()
        if len(currencies) != 1:
            errors.append(_sim("All amounts of a journal entry must be in one currency"))
        for line in entry.lines:
            if line.tax_code is not None and line.tax_code not in config.tax_codes:
                errors.append(
                    _sim(
                        f"Tax code {line.tax_code} is not defined in the tax procedure "
                        f"(item {line.item})"
                    )
                )
            sign = "S" if line.amount > 0 else "H" if line.amount < 0 else None
            if line.debit_credit not in (None, "S", "H"):
                errors.append(_sim(f"Debit/credit code {line.debit_credit} is not S or H"))
            elif sign is not None and line.debit_credit is not None and sign != line.debit_credit:
                errors.append(
                    _sim(
                        f"Item {line.item}: debit/credit code {line.debit_credit} does not "
                        f"match the sign of amount {line.amount}"
                    )
                )
        if not entry.lines:
            errors.append(_sim("The journal entry has no items"))
        if sum((line.amount for line in entry.lines), Decimal(0)) != 0:
            errors.append(_Message("702(F5)", 3, "Balance in transaction currency"))
        if entry.reference and entry.customer:
            earlier = self.references.get((entry.company_code, entry.customer, entry.reference))
            if earlier is not None:
                errors.append(
                    _Message(
                        "117(F5)",
                        3,
                        "Check whether document has already been entered under number "
                        f"{earlier['company_code']} {earlier['accounting_document']} "
                        f"{earlier['fiscal_year']}",
                    )
                )
        if errors:
            errors.append(
                _Message(
                    "609(RW)",
                    3,
                    f"Error in document: BKPFF $ {config.logical_system}",
                )
            )
            return refused, errors

        number = self.next_number(entry.company_code, year)
        posted = {
            "accounting_document": number,
            "company_code": entry.company_code,
            "fiscal_year": year,
            "document_type": entry.document_type,
            "reference": entry.reference,
            "original_reference_document": entry.original_reference,
            "header_text": entry.header_text,
            "customer": entry.customer,
            "currency": entry.currency,
            "document_date": entry.document_date,
            "posting_date": entry.posting_date.isoformat(),
            "message_id": entry.message_id,
            "lines": [line.public() for line in entry.lines],
        }
        self.entries.append(posted)
        if entry.reference and entry.customer:
            self.references[(entry.company_code, entry.customer, entry.reference)] = posted
        key = f"{number}{entry.company_code}{year}"
        note = f"Document posted successfully: BKPFF {key} {config.logical_system}"
        confirmed = {"AccountingDocument": number, "CompanyCode": entry.company_code}
        confirmed["FiscalYear"] = year
        return confirmed, [_Message("614(RW)", 1, note)]


def _sim(note: str) -> _Message:
    return _Message(f"001({SIM_CLASS})", 3, note)


# --------------------------------------------------------------------- reading requests


def _child_text(element: Any, name: str) -> str | None:
    found = element.find(name)
    if found is None or found.text is None:
        return None
    return str(found.text).strip()


def _required(element: Any, name: str, where: str) -> str:
    value = _child_text(element, name)
    if not value:
        raise _BadRequest(f"{where}: element {name} is missing")
    return value


def _amount(element: Any, name: str, where: str) -> tuple[Decimal, str | None]:
    found = element.find(name)
    if found is None or found.text is None:
        raise _BadRequest(f"{where}: element {name} is missing")
    try:
        value = Decimal(found.text.strip())
    except InvalidOperation:
        raise _BadRequest(f"{where}: {name} {found.text.strip()!r} is not a decimal") from None
    if not value.is_finite():
        raise _BadRequest(f"{where}: {name} is not a finite decimal")
    return value, found.get("currencyCode")


def _entries(body: bytes) -> tuple[str | None, list[_Entry]]:
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise _BadRequest(f"the request is not XML: {exc}") from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise _BadRequest("the request is not a SOAP 1.1 envelope")
    soap_body = root.find(f"{{{SOAP_ENV}}}Body")
    bulk = (
        None
        if soap_body is None
        else soap_body.find(f"{{{NAMESPACE}}}JournalEntryBulkCreateRequest")
    )
    if bulk is None:
        raise _BadRequest("no JournalEntryBulkCreateRequest in the SOAP body")
    header = bulk.find("MessageHeader")
    bulk_id = None if header is None else _child_text(header, "ID")
    entries: list[_Entry] = []
    for index, request in enumerate(bulk.findall("JournalEntryCreateRequest"), start=1):
        where = f"JournalEntryCreateRequest[{index}]"
        entry_header = request.find("MessageHeader")
        journal = request.find("JournalEntry")
        if journal is None:
            raise _BadRequest(f"{where}: element JournalEntry is missing")
        posting_text = _required(journal, "PostingDate", where)
        try:
            posting_date = date.fromisoformat(posting_text)
        except ValueError:
            raise _BadRequest(f"{where}: PostingDate {posting_text!r} is not a date") from None
        entry = _Entry(
            message_id=(None if entry_header is None else _child_text(entry_header, "ID")) or "",
            company_code=_required(journal, "CompanyCode", where),
            document_type=_required(journal, "AccountingDocumentType", where),
            reference=_child_text(journal, "DocumentReferenceID"),
            original_reference=_child_text(journal, "OriginalReferenceDocument"),
            header_text=_child_text(journal, "DocumentHeaderText"),
            document_date=_required(journal, "DocumentDate", where),
            posting_date=posting_date,
            currency=None,
            customer=None,
        )
        currencies: set[str | None] = set()
        for position, item in enumerate(journal.findall("Item"), start=1):
            here = f"{where}/Item[{position}]"
            amount, currency = _amount(item, "AmountInTransactionCurrency", here)
            currencies.add(currency)
            tax = item.find("Tax")
            entry.lines.append(
                _Line(
                    "gl",
                    _child_text(item, "ReferenceDocumentItem") or str(position),
                    _required(item, "GLAccount", here),
                    amount,
                    _child_text(item, "DebitCreditCode"),
                    tax_code=None if tax is None else _child_text(tax, "TaxCode"),
                    text=_child_text(item, "DocumentItemText"),
                )
            )
        for position, item in enumerate(journal.findall("DebtorItem"), start=1):
            here = f"{where}/DebtorItem[{position}]"
            amount, currency = _amount(item, "AmountInTransactionCurrency", here)
            currencies.add(currency)
            customer = _required(item, "Debtor", here)
            customer = customer.zfill(10) if customer.isdigit() else customer  # ALPHA
            entry.customer = entry.customer or customer
            entry.lines.append(
                _Line(
                    "customer",
                    _required(item, "ReferenceDocumentItem", here),
                    customer,
                    amount,
                    _child_text(item, "DebitCreditCode"),
                    text=_child_text(item, "DocumentItemText"),
                )
            )
        for position, item in enumerate(journal.findall("ProductTaxItem"), start=1):
            here = f"{where}/ProductTaxItem[{position}]"
            amount, currency = _amount(item, "AmountInTransactionCurrency", here)
            base, base_currency = _amount(item, "TaxBaseAmountInTransCrcy", here)
            currencies |= {currency, base_currency}
            code = _required(item, "TaxCode", here)
            entry.lines.append(
                _Line(
                    "tax",
                    _child_text(item, "ReferenceDocumentItem") or str(position),
                    code,
                    amount,
                    _child_text(item, "DebitCreditCode"),
                    tax_code=code,
                    tax_base=base,
                )
            )
        if None in currencies:
            raise _BadRequest(f"{where}: an amount has no currencyCode")
        entry.currency = currencies.pop() if len(currencies) == 1 else None
        entries.append(entry)
    if not entries:
        raise _BadRequest("JournalEntryBulkCreateRequest holds no JournalEntryCreateRequest")
    return bulk_id, entries


# --------------------------------------------------------------------- writing answers


def _envelope() -> tuple[Any, Any]:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap-env": SOAP_ENV})
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Header")
    return envelope, etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")


def _xml_response(envelope: Any, status: int = 200) -> Response:
    body = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
    return Response(body, status, media_type="text/xml; charset=utf-8")


def _add(parent: Any, name: str, text: str | None = None) -> Any:
    child = etree.SubElement(parent, name)
    if text is not None:
        child.text = text
    return child


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _header(parent: Any, reference_id: str | None) -> None:
    header = _add(parent, "MessageHeader")
    _add(header, "ID", uuid.uuid4().hex)
    if reference_id:
        _add(header, "ReferenceID", reference_id)
    _add(header, "CreationDateTime", _now())


def _log(parent: Any, messages: list[_Message]) -> None:
    log = _add(parent, "Log")
    highest = max((m.severity for m in messages), default=1)
    _add(log, "MaximumLogItemSeverityCode", str(highest))
    for message in messages:
        item = _add(log, "Item")
        _add(item, "TypeID", message.type_id)
        _add(item, "SeverityCode", str(message.severity))
        _add(item, "Note", message.note[:200])


def _confirmation(
    bulk_id: str | None, results: list[tuple[_Entry, dict[str, str], list[_Message]]]
) -> Response:
    envelope, body = _envelope()
    root = etree.SubElement(
        body, f"{{{NAMESPACE}}}JournalEntryBulkCreateConfirmation", nsmap={"n0": NAMESPACE}
    )
    _header(root, bulk_id)
    highest = 1
    for entry, document, messages in results:
        confirmation = _add(root, "JournalEntryCreateConfirmation")
        _header(confirmation, entry.message_id or None)
        posted = _add(confirmation, "JournalEntryCreateConfirmation")
        for name in ("AccountingDocument", "CompanyCode", "FiscalYear"):
            _add(posted, name, document[name])
        _log(confirmation, messages)
        highest = max([highest, *(m.severity for m in messages)])
    bulk_log = _add(root, "Log")
    _add(bulk_log, "MaximumLogItemSeverityCode", str(highest))
    return _xml_response(envelope)


def _fault(code: Literal["Server", "Client"], text: str) -> Response:
    envelope, body = _envelope()
    fault = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    _add(fault, "faultcode", f"soap-env:{code}")
    _add(fault, "faultstring", text)
    _add(fault, "detail")
    return _xml_response(envelope, 500)


def _processing_error() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return (
        "Web service processing error; more details in the web service error log on "
        f"provider side (UTC timestamp {stamp}; Transaction ID {uuid.uuid4().hex.upper()})"
    )


def _page(status: int, title: str, headers: dict[str, str] | None = None) -> Response:
    html = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
    return Response(html, status, media_type="text/html; charset=utf-8", headers=headers)


def _authenticated(request: Request, users: dict[str, str]) -> bool:
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    user, sep, password = decoded.partition(":")
    expected = users.get(user)
    if not sep or expected is None:
        return False
    return hmac.compare_digest(password.encode(), expected.encode())


def _wsdl(address: str) -> bytes:
    tree = etree.parse(str(WSDL_PATH), _PARSER)
    for node in tree.iter(f"{{{WSDL_SOAP_NS}}}address"):
        node.set("location", address)
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="utf-8"))


# --------------------------------------------------------------------- the app


def create_journal_simulator(config: JournalSimulatorConfig | None = None) -> FastAPI:
    """The simulator app; its state is ``app.state.journal``."""
    config = config or JournalSimulatorConfig()
    state = JournalSimulatorState(config)
    app = FastAPI(
        title="SAP Journal Entry - Post (Synchronous) simulator",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.journal = state

    @app.get(ENDPOINT_PATH)
    async def wsdl(request: Request) -> Response:
        if "wsdl" not in {key.lower() for key in request.query_params}:
            return _page(405, "Method Not Allowed")
        if not _authenticated(request, config.users):
            return _page(401, "Logon failed", {"WWW-Authenticate": REALM})
        address = str(request.url.replace(query=""))
        return Response(_wsdl(address), 200, media_type="text/xml; charset=utf-8")

    @app.post(ENDPOINT_PATH)
    async def journal_entry(request: Request) -> Response:
        faults = state.faults
        rng = state.rng
        state.requests += 1
        slow, error, pick, landing = rng.random(), rng.random(), rng.random(), rng.random()
        if faults.slow_seconds and slow < faults.slow_rate:
            state.count_fault("slow")
            await asyncio.sleep(faults.slow_seconds)
        if error < faults.error_rate:
            status = faults.error_statuses[int(pick * len(faults.error_statuses))]
            state.count_fault(f"error_{status}")
            if status == 500:
                return _fault(faults.fault_code, _processing_error())
            headers = {}
            if status in (429, 503) and faults.retry_after is not None:
                headers["Retry-After"] = str(faults.retry_after)
            return _page(status, _STATUS_TEXT.get(status, "Error"), headers)
        if not _authenticated(request, config.users):
            return _page(401, "Logon failed", {"WWW-Authenticate": REALM})
        try:
            bulk_id, entries = _entries(await request.body())
        except _BadRequest as exc:
            return _fault("Client", f"Deserialization failed: {exc}")
        # No await between the checks and the commit: each entry posts atomically.
        results = [(entry, *state.post(entry)) for entry in entries]
        if faults.land_then_timeout_rate and landing < faults.land_then_timeout_rate:
            state.count_fault("land_then_timeout")
            await asyncio.sleep(faults.land_then_timeout_seconds)
        return _confirmation(bulk_id, results)

    @app.get("/_sim/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/_sim/state")
    async def summary() -> dict[str, Any]:
        return state.summary()

    @app.get("/_sim/faults")
    async def get_faults() -> dict[str, Any]:
        return state.faults.model_dump(mode="json")

    @app.put("/_sim/faults")
    async def put_faults(request: Request) -> Response:
        try:
            faults = JournalFaults.model_validate_json(await request.body())
        except ValidationError as exc:
            return Response(str(exc), 400, media_type="text/plain")
        state.faults = faults
        return Response(faults.model_dump_json(), 200, media_type="application/json")

    @app.post("/_sim/reset")
    async def reset(request: Request) -> dict[str, bool]:
        state.reset(keep_faults=request.query_params.get("keep_faults", "false") == "true")
        return {"ok": True}

    return app


# --------------------------------------------------------------------- running it


def serve(
    config: JournalSimulatorConfig, sock: socket.socket, *, parent_pid: int | None = None
) -> None:
    """Serve on a listening socket until SIGINT/SIGTERM (or the parent process changes)."""
    serve_app(create_journal_simulator(config), sock, parent_pid=parent_pid)


@contextlib.contextmanager
def run_journal_simulator(
    config: JournalSimulatorConfig | None = None,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    startup_timeout: float = 30.0,
    stop_timeout: float = 10.0,
) -> Iterator[str]:
    """Run the simulator in a subprocess; yield its root URL (``http://127.0.0.1:PORT``).
    The service is at ``url + ENDPOINT_PATH``."""
    config = config or JournalSimulatorConfig()
    with run_module(
        "adapters.sap.soap_simulator",
        ["--config", config.model_dump_json()],
        host=host,
        port=port,
        ready_path="/_sim/health",
        what="the journal simulator",
        startup_timeout=startup_timeout,
        stop_timeout=stop_timeout,
    ) as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m adapters.sap.soap_simulator",
        description="Run the SAP Journal Entry - Post (Synchronous) simulator (loopback only).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    parser.add_argument("--config", default=None, help="JournalSimulatorConfig as JSON")
    parser.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        config = (
            JournalSimulatorConfig.model_validate_json(args.config)
            if args.config
            else JournalSimulatorConfig()
        )
    except ValidationError as exc:
        parser.error(f"invalid --config: {exc}")
    if args.fd is not None:
        sock = socket.socket(fileno=args.fd)
    else:
        try:
            sock = listen(args.host, args.port)
        except (ValueError, OSError) as exc:
            parser.error(str(exc))
        user = next(iter(config.users), "(none)")
        sys.stderr.write(
            f"Journal entry simulator on {base_url(sock)}{ENDPOINT_PATH} (user {user})\n"
        )
        sys.stderr.flush()
    serve(config, sock, parent_pid=args.parent_pid)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
