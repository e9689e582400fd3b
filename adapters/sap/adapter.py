"""SAP S/4HANA as a target: sales orders once per shop order (OData or RFC), invoices and
credit notes posted to the general ledger once per invoice (SOAP).

``delivery.kind`` ``order``: the payload is the ``A_SalesOrder`` deep-insert body an
outbound mapping produced (``mappings/sap/order.outbound.yaml``, shape
``sap.A_SalesOrder``). Before creating, the order is looked up by the customer's
reference (``PurchaseOrderByCustomer``, the shop's order number) and sold-to party: an order
SAP already has is this delivery's (a retry after a lost answer, a replay), so SAP never
gets a second sales order for one shop order.

``delivery.kind`` ``invoice`` / ``credit_note`` (``transport: soap``): the payload is the
canonical Invoice; :mod:`adapters.sap.journal` builds a balanced journal entry (receivable,
revenue and tax per VAT group) with the invoice number as the reference, and
:mod:`adapters.sap.soap` posts it; SAP's duplicate-reference check (F5 117) makes a repeat
answer with the first posting's document.

Transports (``transport`` in the target's options): ``odata`` (:mod:`adapters.sap.odata`),
``rfc`` (:mod:`adapters.sap.rfc`, BAPI_SALESORDER_CREATEFROMDAT2 in a transactional unit
keyed by the delivery) or ``soap``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from pydantic import BaseModel, ValidationError

from adapters.sap.config import SapConfig
from adapters.sap.idoc_transport import IdocSender
from adapters.sap.odata import ODataClient, first_number
from adapters.sap.rfc import RfcSalesOrders
from adapters.sap.shapes import A_SalesOrder
from hub import __version__
from hub.adapter import Adapter, Capability
from hub.canonical.invoice import Invoice
from hub.errors import PermanentError
from hub.targets.base import Delivery, DeliveryResult

if TYPE_CHECKING:
    from adapters.sap.soap import JournalEntryClient

__all__ = ["SapAdapter"]

ORDER_KINDS = frozenset({"order", "sales_order"})
INVOICE_KINDS = frozenset({"invoice", "credit_note"})


class SapAdapter(Adapter):
    """Creates S/4HANA sales orders, at most one per shop order."""

    name: ClassVar[str] = "sap"
    version: ClassVar[str] = __version__
    description: ClassVar[str] = (
        "SAP S/4HANA: sales orders by OData deep insert (API_SALES_ORDER_SRV) or RFC BAPI, "
        "looked up by the customer reference first."
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.DELIVER, Capability.LOOKUP}
    )
    Config: ClassVar[type[BaseModel]] = SapConfig

    def __init__(
        self,
        target: str,
        config: BaseModel,
        *,
        odata: ODataClient | None = None,
        rfc: RfcSalesOrders | None = None,
    ) -> None:
        super().__init__(target, config)
        assert isinstance(config, SapConfig)
        self._config = config
        self.odata: ODataClient | None = None
        self.rfc: RfcSalesOrders | None = None
        self.journal: JournalEntryClient | None = None
        self.idoc: IdocSender | None = None
        if config.transport == "idoc":
            assert config.idoc is not None
            auth = httpx.BasicAuth(config.user, config.password.get_secret_value())
            self.idoc = IdocSender(
                config.idoc,
                target=target,
                base_url=config.base_url,
                auth=auth if config.user else None,
                timeout=config.timeout,
            )
        elif config.transport == "odata":
            self.odata = odata or ODataClient(config, target=target)
        elif config.transport == "rfc":
            self.rfc = rfc or RfcSalesOrders(config, target=target)
        else:
            from adapters.sap.soap import JournalEntryClient  # zeep only for soap targets

            self.journal = JournalEntryClient(config.journal_service_config(), target=target)

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        if self.idoc is not None:
            return await self.idoc.deliver(delivery)
        if self.journal is not None:
            return await self._post_invoice(delivery)
        order = self._order(delivery)
        found = await self._lookup(order)
        if found is not None:
            return found
        document = order.model_dump(mode="python", exclude_none=True)
        if self.odata is not None:
            created = await self.odata.create_sales_order(document)
            number = str(created["SalesOrder"])
        else:
            assert self.rfc is not None
            number = await self.rfc.create(document, delivery.idempotency_key)
        return DeliveryResult(
            reference=number,
            status_code=201,
            summary=f"sales order {number} created for {order.PurchaseOrderByCustomer}",
        )

    async def lookup(self, delivery: Delivery) -> DeliveryResult | None:
        if self.idoc is not None:
            return None  # the IDoc number is the delivery's: sending again is recognised
        if self.journal is not None:
            return None  # SAP itself recognises a repeated reference (see _post_invoice)
        return await self._lookup(self._order(delivery))

    async def health(self) -> None:
        if self.odata is not None:
            await self.odata.metadata()
        elif self.journal is not None:
            await self.journal.wsdl_ok()
        elif self.idoc is not None:
            await self.idoc.health()
        else:
            assert self.rfc is not None
            await self.rfc.ping()

    async def aclose(self) -> None:
        if self.odata is not None:
            await self.odata.aclose()
        if self.rfc is not None:
            await self.rfc.aclose()
        if self.journal is not None:
            await self.journal.aclose()
        if self.idoc is not None:
            await self.idoc.aclose()

    def secrets(self) -> tuple[str, ...]:
        return self._config.secret_values()

    # ------------------------------------------------------------------ internals

    async def _post_invoice(self, delivery: Delivery) -> DeliveryResult:
        assert self.journal is not None
        assert self._config.journal is not None
        if delivery.kind.strip().lower() not in INVOICE_KINDS:
            raise PermanentError(
                f"{self.target}: a soap target posts invoices and credit notes, not a "
                f"{delivery.kind!r}",
                target=self.target,
            )
        try:
            invoice = Invoice.model_validate(delivery.payload)
        except ValidationError as exc:
            raise PermanentError(
                f"{self.target}: the payload is not a canonical invoice: {exc.errors()[0]['msg']}",
                target=self.target,
            ) from exc
        posted = await self.journal.post_invoice(
            invoice, self._config.journal, message_id=delivery.idempotency_key.replace("-", "")[:32]
        )
        how = "was already posted as" if posted.already_posted else "posted as"
        return DeliveryResult(
            reference=f"{posted.company_code}/{posted.accounting_document}/{posted.fiscal_year}",
            status_code=200,
            summary=f"invoice {invoice.invoice_number} {how} accounting document "
            f"{posted.accounting_document} ({posted.company_code}, {posted.fiscal_year})",
        )

    async def _lookup(self, order: A_SalesOrder) -> DeliveryResult | None:
        reference = order.PurchaseOrderByCustomer
        if not reference:
            return None
        if self.odata is not None:
            existing = first_number(
                await self.odata.find_sales_orders(reference, order.SoldToParty)
            )
        else:
            assert self.rfc is not None
            existing = await self.rfc.find(reference, order.SoldToParty, order.SalesOrganization)
        if existing is None:
            return None
        return DeliveryResult(
            reference=existing,
            status_code=200,
            summary=f"sales order {existing} already exists for {reference}",
        )

    def _order(self, delivery: Delivery) -> A_SalesOrder:
        if delivery.kind.strip().lower() not in ORDER_KINDS:
            raise PermanentError(
                f"{self.target}: cannot deliver a {delivery.kind!r}; the sap adapter creates "
                "sales orders (kind order)",
                target=self.target,
            )
        payload: Any = delivery.payload
        if isinstance(payload, dict) and isinstance(payload.get("document"), dict):
            payload = payload["document"]
        try:
            return A_SalesOrder.model_validate(payload)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'payload'}: {error['msg']}"
                for error in exc.errors()
            )
            raise PermanentError(
                f"{self.target}: the order payload is not an A_SalesOrder deep insert "
                f"(route it through mapping sap/order.outbound): {problems}",
                target=self.target,
                detail=problems,
            ) from exc
