"""The hub's own invoicing as a delivery target: route shipments to it, invoices come out.

```yaml
targets:
  billing: {type: invoicing}
routes:
  - {name: shipments-to-billing, source: {system: magento, kind: shipment}, target: billing}
```

Each shipment delivered here is invoiced once (:class:`hub.invoicing.service.
InvoicingService`); the issued invoice is emitted as a ``hub``/``invoice`` message that
other routes post to the ERP and the shop. The target runs inside the worker with the
worker's own configuration (database, ``invoicing:``).
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub import __version__
from hub.adapter import Adapter, Capability
from hub.canonical.shipment import Shipment
from hub.errors import HubError, PermanentError, TransientError
from hub.invoicing.credit import CreditHeld
from hub.invoicing.drafting import DraftError
from hub.targets.base import Delivery, DeliveryResult

if TYPE_CHECKING:
    from hub.invoicing.service import InvoicingService

__all__ = ["InvoicingAdapter", "InvoicingTargetConfig"]


class InvoicingTargetConfig(BaseModel):
    """Options of an ``invoicing`` target (the rest is ``invoicing:`` in hub.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issue_date: date | None = Field(
        None,
        description="Issue every invoice on this date (tests, back-dated runs); default today.",
    )


class InvoicingAdapter(Adapter):
    """Turns delivered shipments into issued invoices."""

    name: ClassVar[str] = "invoicing"
    version: ClassVar[str] = __version__
    description: ClassVar[str] = "The hub's invoicing: shipments in, numbered invoices out."
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.DELIVER})
    Config: ClassVar[type[BaseModel]] = InvoicingTargetConfig

    def __init__(
        self, target: str, config: BaseModel, service: InvoicingService | None = None
    ) -> None:
        super().__init__(target, config)
        assert isinstance(config, InvoicingTargetConfig)
        self._config = config
        self._service = service

    def _invoicing(self) -> InvoicingService:
        if self._service is None:
            from hub.config import load_settings
            from hub.runtime import runtime_from

            self._service = runtime_from(load_settings()).invoicing
        return self._service

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        if delivery.kind != "shipment":
            raise PermanentError(
                f"{self.target}: the invoicing target takes shipments, not {delivery.kind!r}",
                target=self.target,
            )
        try:
            shipment = Shipment.model_validate(delivery.payload)
        except ValidationError as exc:
            raise PermanentError(
                f"{self.target}: not a canonical shipment: {exc.errors()[0]['msg']}",
                target=self.target,
            ) from exc
        issue_date = self._config.issue_date or date.today()
        try:
            done = await asyncio.to_thread(self._invoicing().invoice_shipment, shipment, issue_date)
        except (DraftError, CreditHeld) as exc:  # dead letter until fixed or released
            raise PermanentError(f"{self.target}: {exc}", target=self.target) from exc
        except HubError as exc:
            raise TransientError(f"{self.target}: {exc}", target=self.target) from exc
        issued = done.issued
        how = "issued" if issued.created else "already issued"
        return DeliveryResult(
            reference=issued.number,
            status_code=201 if issued.created else 200,
            summary=f"invoice {issued.number} {how} for shipment {shipment.shipment_number}: "
            f"{issued.gross_total} {issued.currency}",
        )
