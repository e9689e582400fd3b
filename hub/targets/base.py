"""The contract between the worker and anything that receives deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Delivery:
    """One document on its way to one target.

    ``idempotency_key`` is stable across retries and replays of the same delivery, so a
    target that honours it applies the effect once however often it is called.
    ``ordering_key`` groups deliveries that must arrive in order (one order, its
    shipment, its invoice).
    """

    delivery_id: str
    message_id: str
    target: str
    route: str
    kind: str
    payload: dict[str, Any]
    idempotency_key: str
    ordering_key: str
    attempt: int
    correlation_id: str
    external_ids: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryResult:
    """What the target said when it accepted the delivery."""

    reference: str | None = None
    """The target's own id for the document (SAP order number, invoice id, ...)."""
    status_code: int | None = None
    summary: str | None = None
    """A short, secret-free description of the response, kept with the attempt."""


@runtime_checkable
class Target(Protocol):
    """Anything that can receive deliveries; implementations raise DeliveryError subclasses."""

    name: str

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        """Apply the delivery's effect in the target, at most once per idempotency key."""
        ...

    async def health(self) -> None:
        """Raise a DeliveryError if the target cannot take deliveries right now."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class Deliverer(Protocol):
    """What the worker needs of a target: an adapter or a bare Target."""

    async def deliver(self, delivery: Delivery) -> DeliveryResult: ...

    async def aclose(self) -> None: ...
