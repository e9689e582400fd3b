"""IDocs to SAP: ORDERS05 for orders, INVOIC02 for invoices, as files or over HTTP.

The DOCNUM is derived from the delivery's idempotency key (:func:`docnum_for`), so every
attempt of one delivery sends the same IDoc number:

* **file**: the IDoc is written to ``<directory>/<MESTYP>_<DOCNUM>.xml`` through a temporary
  file and an atomic rename; a file already there is this delivery's (a repeat writes
  nothing), so SAP's file port (or a middleware) picks up each IDoc once;
* **http**: the XML is POSTed to SAP's IDoc-XML inbound (``/sap/bc/idoc_xml``, transaction
  SICF) with Basic auth. Every attempt carries the same DOCNUM, but SAP's IDoc inbound
  stores a new IDoc for each call: exactly-once needs a duplicate check on the sender's
  DOCNUM in the receiving middleware or an inbound user exit. A 2xx answer saying the
  IDoc is already there is taken as delivered. Prefer ``file`` (or OData/RFC for
  orders) where nothing checks duplicates.

SAP partner numbers come from the document's ``external_ids.sap`` (the buyer of an order,
the buyer of an invoice) or, when absent, the target's ``idoc.default_sold_to``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.sap.idoc import (
    IdocEnvelope,
    IdocOptions,
    InvoicePartners,
    OrderPartners,
    SalesArea,
    build_invoic02,
    build_orders05,
    docnum_for,
)
from hub.canonical.invoice import Invoice
from hub.canonical.order import Order
from hub.errors import AuthFailed, DeliveryError, MasterDataMissing, PermanentError, Rejected
from hub.queue.disposition import classify_status
from hub.targets.base import Delivery, DeliveryResult
from hub.targets.transport import make_client, no_answer_error

__all__ = ["IDOC_HTTP_PATH", "IdocSender", "IdocTransportOptions"]

IDOC_HTTP_PATH = "/sap/bc/idoc_xml"


class IdocTransportOptions(BaseModel):
    """How IDocs leave the hub, and their envelope."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["file", "http"] = Field(description="Drop files, or POST to SAP.")
    directory: Path | None = Field(None, description="file: the drop directory.")
    path: str = Field(IDOC_HTTP_PATH, description="http: the IDoc-XML service path.")
    envelope: IdocEnvelope
    sales_area: SalesArea | None = None
    invoicing_party: str | None = Field(
        None, max_length=17, description="INVOIC02: the seller's partner number (RS)."
    )
    default_sold_to: str | None = Field(
        None, max_length=17, description="Sold-to partner when the buyer has no SAP number."
    )
    format: IdocOptions | None = Field(
        None, description="Time zone, tax codes and condition types of the IDoc contents."
    )


def _partner(external_ids: dict[str, str], default: str | None) -> str | None:
    return external_ids.get("sap") or default


class IdocSender:
    """Builds and sends the IDoc of a delivery."""

    def __init__(
        self,
        options: IdocTransportOptions,
        *,
        target: str,
        base_url: str | None = None,
        auth: httpx.BasicAuth | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.options = options
        self.target = target
        self._base_url = base_url
        self._auth = auth
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def health(self) -> None:
        if self.options.mode == "file":
            directory = self._directory()
            if not os.access(directory, os.W_OK):
                raise PermanentError(
                    f"{self.target}: cannot write IDocs to {directory}", target=self.target
                )
            return
        response, url = await self._send("GET")
        if not response.is_success:
            raise self._status_error(response, url)

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        docnum = docnum_for(delivery.idempotency_key)
        kind = delivery.kind.strip().lower()
        created = datetime.now(UTC)
        try:
            if kind == "order":
                order = Order.model_validate(delivery.payload)
                sold_to = _partner(order.buyer.external_ids, self.options.default_sold_to)
                if sold_to is None:
                    raise MasterDataMissing(
                        f"{self.target}: buyer of order {order.order_number} has no SAP number",
                        missing=f"customer of buyer {order.buyer.name or order.order_number}",
                        target=self.target,
                    )
                xml = build_orders05(
                    order,
                    envelope=self.options.envelope,
                    docnum=docnum,
                    partners=OrderPartners(sold_to=sold_to),
                    created_at=created,
                    sales_area=self.options.sales_area,
                    options=self.options.format,
                )
                message_type = "ORDERS"
            elif kind in ("invoice", "credit_note"):
                invoice = Invoice.model_validate(delivery.payload)
                sold_to = _partner(invoice.buyer.external_ids, self.options.default_sold_to)
                if sold_to is None or self.options.invoicing_party is None:
                    raise MasterDataMissing(
                        f"{self.target}: invoice {invoice.invoice_number} has no SAP partner "
                        "numbers (buyer external_ids.sap and idoc.invoicing_party)",
                        missing=f"customer of buyer {invoice.buyer.name}",
                        target=self.target,
                    )
                xml = build_invoic02(
                    invoice,
                    envelope=self.options.envelope,
                    docnum=docnum,
                    partners=InvoicePartners(
                        invoicing_party=self.options.invoicing_party, sold_to=sold_to
                    ),
                    created_at=created,
                    sales_area=self.options.sales_area,
                    options=self.options.format,
                )
                message_type = "INVOIC"
            else:
                raise PermanentError(
                    f"{self.target}: an idoc target sends orders and invoices, not {kind!r}",
                    target=self.target,
                )
        except ValidationError as exc:
            raise PermanentError(
                f"{self.target}: the payload is not a canonical {kind}: {exc.errors()[0]['msg']}",
                target=self.target,
            ) from exc
        except DeliveryError:
            raise
        except Exception as exc:  # IdocError: a field too long, an unsupported value
            raise Rejected(
                f"{self.target}: cannot build the IDoc: {exc}", target=self.target
            ) from exc
        if self.options.mode == "file":
            return self._write(message_type, docnum, xml)
        return await self._post(message_type, docnum, xml)

    # ------------------------------------------------------------------ internals

    def _status_error(self, response: httpx.Response, url: str) -> DeliveryError:
        """SAP's error body (master data named) for 4xx; the hub's table for the rest."""
        from adapters.sap.odata import parse_sap_error

        status = response.status_code
        sap = parse_sap_error(response.content) if response.content else None
        detail = "; ".join(sap.texts()) if sap is not None else response.text[:300].strip()
        head = f"{self.target}: POST {url}: HTTP {status}: {detail}"
        if 400 <= status < 500 and status not in (408, 425, 429):
            missing = sap.missing() if sap is not None else None
            if missing:
                return MasterDataMissing(
                    head, missing=missing, target=self.target, status_code=status, detail=detail
                )
            return Rejected(head, target=self.target, status_code=status, detail=detail)
        verdict = classify_status(
            status, response.headers.get("Retry-After"), now=datetime.now(UTC)
        )
        return verdict.to_error(target=self.target, detail=detail, message=head)

    def _directory(self) -> Path:
        if self.options.directory is None:
            raise PermanentError(
                f"{self.target}: idoc mode file needs directory", target=self.target
            )
        return self.options.directory

    def _write(self, message_type: str, docnum: str, xml: bytes) -> DeliveryResult:
        directory = self._directory()
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / f"{message_type}_{docnum}.xml"
        if final.exists():
            return DeliveryResult(reference=docnum, summary=f"IDoc {final.name} already written")
        handle, temporary = tempfile.mkstemp(prefix=".partial-", dir=directory)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(xml)
                stream.flush()
                os.fsync(stream.fileno())
            Path(temporary).replace(final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                Path(temporary).unlink()
            raise PermanentError(
                f"{self.target}: cannot write {final}: {exc}", target=self.target
            ) from exc
        return DeliveryResult(reference=docnum, summary=f"IDoc written to {final}")

    async def _send(self, method: str, content: bytes | None = None) -> tuple[httpx.Response, str]:
        """One call to the IDoc-XML service: its answer, or a typed error (no answer, or
        refused credentials)."""
        if self._base_url is None:
            raise PermanentError(
                f"{self.target}: idoc mode http needs base_url", target=self.target
            )
        if self._client is None:
            self._client = make_client(self._timeout, max_connections=4)
        url = self._base_url + self.options.path
        headers = {"Content-Type": "application/xml"} if content is not None else {}
        try:
            response = await self._client.request(
                method,
                url,
                content=content,
                headers=headers,
                auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
                timeout=self._timeout,
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            where = f"{method} {url}"
            raise no_answer_error(
                exc, target=self.target, where=where, timeout=self._timeout, scrub=str
            ) from exc
        if response.status_code in (401, 403):
            raise AuthFailed(
                f"{self.target}: {method} {url}: HTTP {response.status_code} "
                "(check user and password)",
                target=self.target,
                status_code=response.status_code,
            )
        return response, url

    async def _post(self, message_type: str, docnum: str, xml: bytes) -> DeliveryResult:
        response, url = await self._send("POST", xml)
        text = " ".join(response.text[:300].split())
        if response.is_success and "already" in text.lower():
            return DeliveryResult(reference=docnum, summary=f"IDoc {docnum} was already received")
        if not response.is_success:
            raise self._status_error(response, url)
        return DeliveryResult(
            reference=docnum,
            status_code=response.status_code,
            summary=f"{message_type} IDoc {docnum} sent",
        )
