"""Posting journal entries to SAP S/4HANA over SOAP: *Journal Entry - Post (Synchronous)*.

Operation ``JournalEntryCreateRequestConfirmation_In`` (namespace
``http://sap.com/xi/SAPSCORE/SFIN``), SOAP 1.1 document/literal, HTTP Basic. The request
is one ``JournalEntryBulkCreateRequest`` holding one entry; the answer is a
``JournalEntryBulkCreateConfirmation``: the new ``AccountingDocument``, ``CompanyCode`` and
``FiscalYear``, and a ``Log`` of SAP's messages.

**zeep** serialises the request and reads the confirmation from the project's own WSDL
(``adapters/sap/wsdl/journal_entry_create.wsdl``, loaded from disk: no call to SAP for
metadata). It runs as :class:`zeep.AsyncClient` with the hub's own
:class:`httpx.AsyncClient` (:func:`hub.targets.transport.make_client`, aiohttp underneath)
plugged in through a small :class:`zeep.transports.AsyncTransport` subclass: no thread, the
same connection pool, timeouts and no-answer classification as every other target. The
subclass sends each envelope itself so that it can add Basic auth per request (zeep's own
transport would overwrite a shared client's headers) and turn HTTP failures into typed
errors before zeep sees them. zeep reads answers leniently (``strict=False``): SAP may send
elements the hub's subset of the WSDL does not describe; zeep skips those that follow the
last element it knows in a sequence, and the confirmation types in the WSDL list every
element SAP may send before that one.

What becomes what:

* the confirmation's ``AccountingDocument`` → :class:`PostingResult`;
* a ``Log`` with severity 3 (error) or more → :class:`~hub.errors.Rejected` with SAP's
  notes joined; except SAP's duplicate check (message F5 117, *Check whether document has
  already been entered under number <company code> <document> <fiscal year>*), which
  means the invoice was posted before: a :class:`PostingResult` for that document with
  ``already_posted`` set. The entry's reference (``DocumentReferenceID``) is the invoice
  number, so re-sending an invoice after a timeout does not post it twice, provided the SAP
  system runs that check as an error: the customer's "check double invoices" flag set
  (KNB1-REPRF) and message F5 117 raised to an error (by default it is a warning, which
  does not stop a posting);
* a SOAP fault → :class:`~hub.errors.Rejected` for a ``Client`` fault code,
  :class:`~hub.errors.TransientError` otherwise;
* HTTP 401 / 403 → :class:`~hub.errors.AuthFailed`; other statuses without a SOAP fault →
  what :func:`hub.queue.disposition.classify_status` says (429 / 503 → RateLimited, ...);
* no answer → :class:`~hub.errors.TargetTimeout` / :class:`~hub.errors.TargetUnavailable`
  (:func:`hub.targets.transport.transport_error_class`).

The password (and the Basic credentials built from it) never appear in a message or detail.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlencode

import httpx
import zeep
import zeep.exceptions
import zeep.helpers
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from requests import Response as RequestsResponse
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport
from zeep.wsdl.utils import etree_to_string

from adapters.sap.journal import (
    GLLine,
    JournalConfig,
    JournalEntry,
    TaxLine,
    build_journal_entry,
)
from hub import __version__
from hub.canonical.invoice import Invoice
from hub.errors import (
    AuthFailed,
    DeliveryError,
    PermanentError,
    RateLimited,
    Rejected,
    TransientError,
)
from hub.queue.disposition import classify_status, filter_secrets
from hub.targets.transport import make_client, no_answer_error

__all__ = [
    "BINDING",
    "DUPLICATE_TYPE_ID",
    "ENDPOINT_PATH",
    "NAMESPACE",
    "OPERATION",
    "WSDL_PATH",
    "JournalEntryClient",
    "JournalServiceConfig",
    "LogMessage",
    "PostingResult",
    "duplicate_of",
    "read_confirmation",
    "request_body",
]

NAMESPACE: Final = "http://sap.com/xi/SAPSCORE/SFIN"
OPERATION: Final = "JournalEntryCreateRequestConfirmation_In"
BINDING: Final = f"{{{NAMESPACE}}}binding"
WSDL_PATH: Final = Path(__file__).resolve().parent / "wsdl" / "journal_entry_create.wsdl"
ENDPOINT_PATH: Final = "/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi"
"""Where S/4HANA serves the service (its WSDL's ``soap:address``), after scheme and host."""

DUPLICATE_TYPE_ID: Final = "117(F5)"
"""SAP's log type of the duplicate-document check (message class F5, number 117)."""
# F5 117's placeholders &1 &2 &3 (company code, document, fiscal year) stand together in
# every logon language; the English text is recognised without the TypeID as well.
_DUPLICATE_PLACEHOLDERS = re.compile(
    r"(?:^|\s)(?P<company>\S{1,4})\s+(?P<document>\d{1,10})\s+(?P<year>\d{4})\b"
)
_DUPLICATE_TEXT = re.compile(
    r"already been entered under number\s+(?P<company>\S{1,4})\s+(?P<document>\d{1,10})"
    r"\s+(?P<year>\d{4})",
    re.IGNORECASE,
)
ERROR_SEVERITY: Final = 3
DETAIL_LIMIT: Final = 500
_EMPTY_DOCUMENT = re.compile(r"^0*$")


class JournalServiceConfig(BaseModel):
    """Where the journal entry service is and how the hub logs on to it."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    endpoint_url: str = Field(
        min_length=1,
        description="The service's endpoint, e.g. https://my-s4.example.com"
        f"{ENDPOINT_PATH} (S/4HANA Cloud: the communication arrangement's URL for "
        "SAP_COM_0002).",
    )
    user: str = Field(min_length=1, description="Communication user (HTTP Basic).")
    password: SecretStr = Field(description="The user's password; never logged.")
    sap_client: str | None = Field(
        default=None, pattern=r"^\d{3}$", description="`sap-client` query parameter."
    )
    timeout: float = Field(default=60.0, gt=0, le=600, description="Seconds per call.")

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("endpoint_url must be an http:// or https:// URL")
        return value

    def address(self) -> str:
        """The endpoint with ``sap-client`` added when configured."""
        if self.sap_client is None:
            return self.endpoint_url
        joiner = "&" if "?" in self.endpoint_url else "?"
        return self.endpoint_url + joiner + urlencode({"sap-client": self.sap_client})

    def secret_values(self) -> tuple[str, ...]:
        """The password and the Basic credentials built from it, to scrub from errors."""
        password = self.password.get_secret_value()
        basic = base64.b64encode(f"{self.user}:{password}".encode()).decode("ascii")
        return tuple(v for v in {password, password.strip(), basic} if v)


@dataclass(frozen=True)
class LogMessage:
    """One item of SAP's log: ``TypeID`` as ``number(class)``, severity 1-4, the text."""

    type_id: str
    severity: int
    note: str


@dataclass(frozen=True)
class PostingResult:
    """The accounting document SAP posted (or had posted before: ``already_posted``)."""

    accounting_document: str
    company_code: str
    fiscal_year: str
    already_posted: bool = False
    messages: tuple[LogMessage, ...] = ()


# --------------------------------------------------------------------- the request


def _amount(value: Decimal, currency: str) -> dict[str, Any]:
    return {"_value_1": value, "currencyCode": currency}


def _gl_item(line: GLLine, currency: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "ReferenceDocumentItem": line.item,
        "GLAccount": line.gl_account,
        "AmountInTransactionCurrency": _amount(line.amount, currency),
        "DebitCreditCode": line.debit_credit,
        "DocumentItemText": line.text,
    }
    if line.tax_code is not None:
        item["Tax"] = {"TaxCode": line.tax_code}
    if line.profit_center is not None:
        item["AccountAssignment"] = {"ProfitCenter": line.profit_center}
    return item


def _tax_item(line: TaxLine, currency: str) -> dict[str, Any]:
    item: dict[str, Any] = {"ReferenceDocumentItem": line.item, "TaxCode": line.tax_code}
    if line.classification is not None:
        item["TaxItemClassification"] = line.classification
    if line.condition_type is not None:
        item["ConditionType"] = line.condition_type
    item["AmountInTransactionCurrency"] = _amount(line.amount, currency)
    item["DebitCreditCode"] = line.debit_credit
    item["TaxBaseAmountInTransCrcy"] = _amount(line.base_amount, currency)
    return item


def _timestamp(moment: datetime) -> str:
    """``GLOBAL_DateTime``: UTC with a literal Z, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_body(entry: JournalEntry, *, message_id: str, created_at: datetime) -> dict[str, Any]:
    """The operation's arguments for zeep: the children of ``JournalEntryBulkCreateRequest``
    for one entry (``message_id`` at most 35 characters)."""
    currency = entry.currency
    debtor = entry.debtor
    debtor_item: dict[str, Any] = {
        "ReferenceDocumentItem": debtor.item,
        "Debtor": debtor.customer,
        "AmountInTransactionCurrency": _amount(debtor.amount, currency),
        "DebitCreditCode": debtor.debit_credit,
    }
    if debtor.reconciliation_account is not None:
        debtor_item["AltvRecnclnAccts"] = debtor.reconciliation_account
    debtor_item["DocumentItemText"] = debtor.text
    if debtor.assignment is not None:
        debtor_item["AssignmentReference"] = debtor.assignment
    if debtor.due_base_date is not None and debtor.net_days is not None:
        terms: dict[str, Any] = {"DueCalculationBaseDate": debtor.due_base_date}
        if debtor.discount_days is not None and debtor.discount_percent is not None:
            terms["CashDiscount1Days"] = f"P{debtor.discount_days}D"
            terms["CashDiscount1Percent"] = debtor.discount_percent
        terms["NetPaymentDays"] = f"P{debtor.net_days}D"
        debtor_item["CashDiscountTerms"] = terms

    journal: dict[str, Any] = {
        "OriginalReferenceDocumentType": entry.original_reference_document_type,
        "OriginalReferenceDocument": entry.original_reference_document,
    }
    if entry.logical_system is not None:
        journal["OriginalReferenceDocumentLogicalSystem"] = entry.logical_system
    journal |= {
        "BusinessTransactionType": entry.business_transaction_type,
        "AccountingDocumentType": entry.document_type,
        "DocumentReferenceID": entry.reference,
        "DocumentHeaderText": entry.header_text,
        "CreatedByUser": entry.created_by_user,
        "CompanyCode": entry.company_code,
        "DocumentDate": entry.document_date,
        "PostingDate": entry.posting_date,
        "Item": [_gl_item(line, currency) for line in entry.gl_lines],
        "DebtorItem": [debtor_item],
        "ProductTaxItem": [_tax_item(line, currency) for line in entry.tax_lines],
    }
    header = {"ID": message_id, "CreationDateTime": _timestamp(created_at)}
    return {
        "MessageHeader": dict(header),
        "JournalEntryCreateRequest": [{"MessageHeader": dict(header), "JournalEntry": journal}],
    }


# --------------------------------------------------------------------- the answer


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):  # a simpleContent value with attributes
        value = value.get("_value_1")
    return str(value).strip() if value is not None else ""


def _severity(value: Any) -> int:
    text = _text(value)
    return int(text) if text.isdigit() else 0


def _log(log: Any) -> tuple[int, list[LogMessage]]:
    if not isinstance(log, Mapping):
        return 0, []
    messages = [
        LogMessage(
            _text(item.get("TypeID")), _severity(item.get("SeverityCode")), _text(item.get("Note"))
        )
        for item in (log.get("Item") or [])
        if isinstance(item, Mapping)
    ]
    highest = max(
        [_severity(log.get("MaximumLogItemSeverityCode")), *(m.severity for m in messages)]
    )
    return highest, messages


def duplicate_of(messages: Sequence[LogMessage]) -> tuple[str, str, str] | None:
    """(company code, accounting document, fiscal year) of the document SAP's duplicate
    check names, or None."""
    for message in messages:
        if message.type_id == DUPLICATE_TYPE_ID:
            found = _DUPLICATE_PLACEHOLDERS.search(message.note)
        else:
            found = _DUPLICATE_TEXT.search(message.note)
        if found:
            return found["company"], found["document"].zfill(10), found["year"]
    return None


def _truncate(text: str, limit: int = DETAIL_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_confirmation(
    confirmation: Mapping[str, Any], *, reference: str, target: str = "sap"
) -> PostingResult:
    """The result of one posted entry from a ``JournalEntryBulkCreateConfirmation`` (as
    plain dicts and lists), or the typed error it means."""
    entries = [
        c
        for c in (confirmation.get("JournalEntryCreateConfirmation") or [])
        if isinstance(c, Mapping)
    ]
    severity = 0
    messages: list[LogMessage] = []
    for log in [*(entry.get("Log") for entry in entries), confirmation.get("Log")]:
        highest, found = _log(log)
        severity = max(severity, highest)
        messages += [m for m in found if m not in messages]

    duplicate = duplicate_of(messages)
    if duplicate is not None:
        company, document, year = duplicate
        return PostingResult(document, company, year, already_posted=True, messages=tuple(messages))

    posted = entries[0].get("JournalEntryCreateConfirmation") if entries else None
    if severity >= ERROR_SEVERITY:
        errors = [m for m in messages if m.severity >= ERROR_SEVERITY] or messages
        notes = "; ".join(m.note for m in errors if m.note) or "no message"
        detail = _truncate(notes)
        raise Rejected(
            f"{target}: SAP refused journal entry {reference}: {detail}",
            target=target,
            detail=detail,
        )
    if isinstance(posted, Mapping):
        number = _text(posted.get("AccountingDocument"))
        if number and not _EMPTY_DOCUMENT.match(number):
            return PostingResult(
                number,
                _text(posted.get("CompanyCode")),
                _text(posted.get("FiscalYear")),
                messages=tuple(messages),
            )
    notes = _truncate("; ".join(m.note for m in messages if m.note) or "no log")
    raise TransientError(
        f"{target}: SAP confirmed journal entry {reference} without a document number: {notes}",
        target=target,
        detail=notes,
    )


# --------------------------------------------------------------------- the client


class _HubTransport(AsyncTransport):
    """zeep's async transport with the hub's httpx client and error handling.

    It loads only local files (the project's WSDL) and posts through ``send``, which
    authenticates and raises typed errors; the base class's constructor is not called so
    that a shared client's headers are left alone.
    """

    def __init__(self, send: Any, load_timeout: float) -> None:
        self.cache = None
        self.load_timeout = load_timeout
        self.operation_timeout = None
        self.client = None
        self.wsdl_client = None
        self._close_session = False
        self._send = send

    def _load_remote_data(self, url: str) -> bytes:
        raise PermanentError(f"sap: the journal service's WSDL is local; not loading {url}")

    async def post_xml(self, address: str, envelope: Any, headers: dict[str, str]) -> Any:
        message = etree_to_string(envelope)  # type: ignore[no-untyped-call]
        response: httpx.Response = await self._send(address, message, headers)
        converted = RequestsResponse()
        converted._content = response.content
        converted.status_code = response.status_code
        converted.headers.update(response.headers)
        converted.encoding = response.encoding
        return converted

    async def aclose(self) -> None:
        return None


def _is_soap(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "").lower()
    return "xml" in kind and b"Envelope" in response.content[:2000]


class JournalEntryClient:
    """Posts journal entries to one S/4HANA system.

    Pass ``client`` to share an :class:`httpx.AsyncClient` (its owner closes it); otherwise
    the client owns one, closed by :meth:`aclose`.
    """

    def __init__(
        self,
        config: JournalServiceConfig,
        client: httpx.AsyncClient | None = None,
        *,
        target: str = "sap",
    ) -> None:
        self.config = config
        self.target = target
        self._owns_client = client is None
        self._client = (
            client if client is not None else make_client(config.timeout, max_connections=10)
        )
        self._timeout = httpx.Timeout(config.timeout)
        self._auth = httpx.BasicAuth(config.user, config.password.get_secret_value())
        self._secrets = config.secret_values()
        self._transport = _HubTransport(self._send, load_timeout=config.timeout)
        settings = zeep.Settings(
            strict=False, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
        self._zeep = zeep.AsyncClient(  # type: ignore[no-untyped-call]
            str(WSDL_PATH), transport=self._transport, settings=settings
        )
        binding = self._zeep.wsdl.bindings[BINDING]
        self._service = AsyncServiceProxy(  # type: ignore[no-untyped-call]
            self._zeep, binding, address=config.address()
        )

    def __repr__(self) -> str:
        return f"JournalEntryClient(target={self.target!r}, endpoint={self.config.endpoint_url!r})"

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

    async def wsdl_ok(self) -> None:
        """``GET <endpoint>?wsdl`` with the credentials: the health check."""
        address = self.config.address()
        joiner = "&" if "?" in address else "?"
        response = await self._send_get(address + joiner + "wsdl")
        if response.status_code in (401, 403):
            raise AuthFailed(
                self._scrub(
                    f"{self.target}: journal entry service: HTTP {response.status_code} "
                    f"(check user {self.config.user!r}, its password and its rights)"
                ),
                target=self.target,
                status_code=response.status_code,
            )
        if not response.is_success:
            raise self._status_error(response)

    async def post_invoice(
        self, invoice: Invoice, journal: JournalConfig, *, message_id: str | None = None
    ) -> PostingResult:
        """Build the invoice's journal entry (:func:`adapters.sap.journal.build_journal_entry`)
        and post it."""
        return await self.post(build_journal_entry(invoice, journal), message_id=message_id)

    async def post(self, entry: JournalEntry, *, message_id: str | None = None) -> PostingResult:
        """Post one entry; its accounting document, or the earlier one of the same reference."""
        body = request_body(
            entry, message_id=message_id or uuid.uuid4().hex, created_at=datetime.now(UTC)
        )
        operation = getattr(self._service, OPERATION)
        try:
            answer = await operation(**body)
        except DeliveryError:
            raise
        except zeep.exceptions.Fault as exc:
            raise self._fault(exc, entry.reference) from None
        except (zeep.exceptions.ValidationError, TypeError) as exc:
            raise PermanentError(
                self._scrub(f"{self.target}: cannot build the journal entry request: {exc}"),
                target=self.target,
            ) from None
        except (zeep.exceptions.Error, ValueError) as exc:
            detail = _truncate(self._scrub(f"{type(exc).__name__}: {exc}"), 200)
            raise TransientError(
                f"{self.target}: unexpected answer to journal entry {entry.reference}: {detail}",
                target=self.target,
                detail=detail,
            ) from None
        plain = zeep.helpers.serialize_object(answer, dict)  # type: ignore[no-untyped-call]
        if not isinstance(plain, Mapping):
            raise TransientError(
                f"{self.target}: no confirmation for journal entry {entry.reference}",
                target=self.target,
            )
        return read_confirmation(plain, reference=entry.reference, target=self.target)

    # ------------------------------------------------------------------ internals

    def _scrub(self, text: str) -> str:
        return filter_secrets(text, self._secrets)

    async def _send_get(self, address: str) -> httpx.Response:
        try:
            return await self._client.get(address, auth=self._auth, timeout=self._timeout)
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise self._transport_error(exc) from None

    async def _send(self, address: str, message: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST the envelope; an HTTP answer zeep can read, or a typed error."""
        headers = {**headers, "User-Agent": f"o2c-hub/{__version__}", "Accept": "text/xml"}
        try:
            response = await self._client.post(
                address, content=message, headers=headers, auth=self._auth, timeout=self._timeout
            )
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise self._transport_error(exc) from None
        if response.status_code == 200:
            return response
        if response.status_code in (401, 403):
            detail = _truncate(
                self._scrub(response.reason_phrase or f"HTTP {response.status_code}")
            )
            raise AuthFailed(
                self._scrub(
                    f"{self.target}: journal entry service: HTTP {response.status_code}: {detail} "
                    f"(check user {self.config.user!r}, its password and its rights)"
                ),
                target=self.target,
                status_code=response.status_code,
                detail=detail,
            )
        if _is_soap(response):
            return response  # zeep raises its Fault
        raise self._status_error(response)

    def _transport_error(self, exc: Exception) -> DeliveryError:
        return no_answer_error(
            exc,
            target=self.target,
            where=f"POST {self._scrub(self.config.endpoint_url)}",
            timeout=self.config.timeout,
            scrub=self._scrub,
            timeout_hint=" (the entry may have been posted; sending it again is safe)",
            config_hint="check endpoint_url",
        )

    def _status_error(self, response: httpx.Response) -> DeliveryError:
        status = response.status_code
        found = response.text.strip() if response.content else ""
        if "<" in found:  # an HTML error page: its text only
            found = re.sub(r"<[^>]+>", " ", found)
        detail = _truncate(self._scrub(found or response.reason_phrase or f"HTTP {status}"))
        message = self._scrub(f"{self.target}: journal entry service: HTTP {status}: {detail}")
        verdict = classify_status(
            status, response.headers.get("Retry-After"), now=datetime.now(UTC)
        )
        if verdict.error is RateLimited and verdict.retry_after is not None:
            message += f" (retry after {verdict.retry_after:g}s)"
        return verdict.to_error(target=self.target, detail=detail, message=message)

    def _fault(self, exc: zeep.exceptions.Fault, reference: str) -> DeliveryError:
        code = str(exc.code or "")
        detail = _truncate(self._scrub(f"{code}: {exc.message}" if code else str(exc.message)))
        local = code.rsplit(":", 1)[-1]
        if local.startswith(("Client", "Sender")):
            return Rejected(
                f"{self.target}: SOAP fault for journal entry {reference}: {detail}",
                target=self.target,
                detail=detail,
            )
        return TransientError(
            f"{self.target}: SOAP fault for journal entry {reference}: {detail}",
            target=self.target,
            detail=detail,
        )
