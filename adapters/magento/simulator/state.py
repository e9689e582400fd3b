"""Configuration, in-memory state and Magento-shaped errors of the simulator."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.exactjson import dumps_exact

__all__ = [
    "NOT_FOUND",
    "TIME_FORMAT",
    "Faults",
    "MagentoError",
    "MagentoState",
    "SimulatorConfig",
    "dumps",
    "loads",
]

TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
# OrderRepository::get, InvoiceRepository::get, ShipmentRepository::get (NoSuchEntityException).
NOT_FOUND: Final = "The entity that was requested doesn't exist. Verify the entity and try again."


class Faults(BaseModel):
    """What the simulator does wrong, on ``/V1`` calls only. Every field defaults to "nothing".

    Per call the faults are met in this order: ``slow`` (delay) → ``error`` (an injected
    status instead of the real answer) → authentication → the real handler → for invoice
    and ship only, ``land_then_timeout`` (the document is committed, then the answer is held
    back for ``land_then_timeout_seconds``, longer than a client's timeout).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_statuses: tuple[int, ...] = Field(default=(500, 503))
    retry_after: int | None = Field(
        default=None, ge=0, le=86_400, description="Retry-After seconds on an injected 429/503."
    )
    slow_rate: float = Field(default=0.0, ge=0, le=1)
    slow_seconds: float = Field(default=0.0, ge=0, le=60)
    land_then_timeout_rate: float = Field(default=0.0, ge=0, le=1)
    land_then_timeout_seconds: float = Field(default=5.0, ge=0, le=120)
    land_then_timeout_for: tuple[Literal["invoice", "ship"], ...] = ("invoice", "ship")

    @field_validator("error_statuses")
    @classmethod
    def _statuses_ok(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(not 400 <= status <= 599 for status in value):
            raise ValueError("error_statuses must be non-empty HTTP 4xx/5xx statuses")
        return value


class SimulatorConfig(BaseModel):
    """How a simulator starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: tuple[str, ...] = Field(
        default=("sim-integration-token",),
        min_length=1,
        description="Integration access tokens accepted as `Authorization: Bearer <token>`.",
    )
    seed: int = Field(default=0, description="Seed of the fault RNG.")
    store_code: str = Field(
        default="default",
        pattern=r"^[a-z0-9_]{1,32}$",
        description="Store code of the documented base path /rest/<store_code>/V1/...; "
        "/rest/V1/..., /rest/<any store code>/V1/... and /V1/... are all served.",
    )
    start_time: datetime = Field(
        default=datetime(2025, 5, 5, 8, 0, 0),  # Magento stores naive UTC
        description="Simulated clock at start (UTC): created_at/updated_at of the first order.",
    )
    seconds_per_tick: int = Field(
        default=7, ge=1, le=86_400, description="Clock step between updated_at groups."
    )
    initial_orders: int = Field(default=0, ge=0, le=10_000)
    faults: Faults = Field(default_factory=Faults)


class MagentoError(Exception):
    """An answer in Magento's error-response shape: ``{"message", "parameters"?}``."""

    def __init__(
        self,
        status: int,
        message: str,
        parameters: list[Any] | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameters = parameters
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.parameters is not None:
            body["parameters"] = self.parameters
        return body


def dumps(value: Any) -> bytes:
    """JSON with Decimals as exact JSON numbers (integral values without a fraction, as
    Magento writes them); money never passes through float."""
    return dumps_exact(_normalise(value)).encode()


def _normalise(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.to_integral_value() if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


def loads(raw: bytes) -> Any:
    """JSON with every non-integer number as a Decimal."""
    return json.loads(raw, parse_float=Decimal)


class MagentoState:
    """Everything the simulated store holds. Mutate only while holding :attr:`lock`."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.lock = asyncio.Lock()
        self.reset(keep_faults=False)

    def reset(self, *, keep_faults: bool) -> None:
        if not keep_faults or not hasattr(self, "faults"):
            self.faults: Faults = self.config.faults
        self.rng = random.Random(self.config.seed)  # noqa: S311 -- test faults, not crypto
        self.clock: datetime = self.config.start_time
        self.orders: dict[int, dict[str, Any]] = {}
        self.invoices: dict[int, dict[str, Any]] = {}
        self.shipments: dict[int, dict[str, Any]] = {}
        self.stock_items: dict[str, dict[str, Any]] = {}
        self.products: dict[str, int] = {}  # sku -> product_id, of every sku ordered
        self.sequences: dict[str, int] = {}
        self.requests = 0
        self.faults_injected: dict[str, int] = {}

    def next_id(self, name: str) -> int:
        value = self.sequences.get(name, 0) + 1
        self.sequences[name] = value
        return value

    def tick(self, seconds: int = 1) -> str:
        """Advance the simulated clock; return the new time in Magento's format."""
        self.clock += timedelta(seconds=seconds)
        return self.now()

    def now(self) -> str:
        return self.clock.strftime(TIME_FORMAT)

    def count_fault(self, kind: str) -> None:
        self.faults_injected[kind] = self.faults_injected.get(kind, 0) + 1

    def order(self, order_id: str | int) -> dict[str, Any]:
        try:
            return self.orders[int(order_id)]
        except (KeyError, ValueError):
            raise MagentoError(404, NOT_FOUND) from None

    def summary(self) -> dict[str, Any]:
        return {
            "orders": len(self.orders),
            "invoices": len(self.invoices),
            "shipments": len(self.shipments),
            "comments": sum(len(o.get("status_histories", [])) for o in self.orders.values()),
            "stock_items": len(self.stock_items),
            "requests": self.requests,
            "faults_injected": dict(self.faults_injected),
            "clock": self.now(),
            "faults": self.faults.model_dump(mode="json"),
        }
