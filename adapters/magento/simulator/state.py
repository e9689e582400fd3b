"""Configuration, in-memory state and Magento-shaped errors of the simulator."""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any, Final, Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

from hub.exactjson import dumps_exact

__all__ = [
    "NOT_FOUND",
    "NO_SUCH_ENTITY",
    "TIME_FORMAT",
    "WEBHOOK_EVENTS",
    "Faults",
    "MagentoError",
    "MagentoState",
    "OAuthIntegration",
    "SimulatorConfig",
    "WebhookConfig",
    "dumps",
    "loads",
]

TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
# OrderRepository::get, InvoiceRepository::get, ShipmentRepository::get (NoSuchEntityException).
NOT_FOUND: Final = "The entity that was requested doesn't exist. Verify the entity and try again."
# NoSuchEntityException::singleField($fieldName, $fieldValue): CustomerRepository::getById
# (fieldName "customerId"), Company\Model\CompanyRepository::get (fieldName "id").
NO_SUCH_ENTITY: Final = "No such entity with %fieldName = %fieldValue"
# Adobe Commerce webhook names the simulator can send, each as {"eventName": <name without
# the "observer." prefix>, "data": {"order": <order>}}.
WEBHOOK_EVENTS: Final = (
    "observer.sales_order_save_after",
    "observer.sales_order_save_commit_after",
)


class Faults(BaseModel):
    """What the simulator does wrong, on ``/V1`` calls only. Every field defaults to "nothing".

    Per call the faults are met in this order: ``slow`` (delay) → ``error`` (an injected
    status instead of the real answer) → authentication → the real handler → for the kinds
    in ``land_then_timeout_for`` (invoice, ship, comment), ``land_then_timeout`` (the change
    is committed, then the answer is held back for ``land_then_timeout_seconds``, longer
    than a client's timeout).
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
    land_then_timeout_for: tuple[Literal["invoice", "ship", "comment"], ...] = ("invoice", "ship")

    @field_validator("error_statuses")
    @classmethod
    def _statuses_ok(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(not 400 <= status <= 599 for status in value):
            raise ValueError("error_statuses must be non-empty HTTP 4xx/5xx statuses")
        return value


class OAuthIntegration(BaseModel):
    """One Magento integration's four OAuth 1.0a credentials (System > Integrations)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    consumer_key: str = Field(min_length=1)
    consumer_secret: str = Field(min_length=1)
    access_token: str = Field(min_length=1)
    access_token_secret: str = Field(min_length=1)


class WebhookConfig(BaseModel):
    """Where and how the simulator pushes order events, as Adobe Commerce's webhooks module.

    ``url`` None (the default) pushes nothing. ``private_key_pem`` (an unencrypted PEM RSA
    private key) signs each body in ``x-adobe-commerce-webhook-signature``; None sends it
    unsigned. ``headers`` are added to every call (e.g. an API key).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: AnyHttpUrl | None = None
    private_key_pem: str | None = Field(default=None, repr=False)
    headers: dict[str, str] = Field(default_factory=dict)
    events: tuple[str, ...] = ("observer.sales_order_save_after",)
    timeout: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=3, ge=0, le=10, description="Further attempts after a failure.")
    backoff_seconds: float = Field(
        default=0.1, ge=0, le=10, description="Wait before the first retry; doubles each time."
    )

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(WEBHOOK_EVENTS))
        if unknown:
            raise ValueError(f"unknown events {unknown}; supported: {list(WEBHOOK_EVENTS)}")
        return value

    @field_validator("private_key_pem")
    @classmethod
    def _rsa_private_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            key = serialization.load_pem_private_key(value.encode("ascii"), password=None)
        except (ValueError, TypeError, UnicodeEncodeError, UnsupportedAlgorithm):
            raise ValueError("private_key_pem is not an unencrypted PEM private key") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("private_key_pem must be an RSA private key")
        return value

    def public(self) -> dict[str, Any]:
        """The configuration as the control API shows it: the private key only as a flag."""
        out = self.model_dump(mode="json", exclude={"private_key_pem"})
        out["signed"] = self.private_key_pem is not None
        return out


class SimulatorConfig(BaseModel):
    """How a simulator starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: tuple[str, ...] = Field(
        default=("sim-integration-token",),
        min_length=1,
        description="Integration access tokens accepted as `Authorization: Bearer <token>`.",
    )
    oauth_integrations: tuple[OAuthIntegration, ...] = Field(
        default=(
            OAuthIntegration(
                consumer_key="sim-consumer-key",
                consumer_secret="sim-consumer-secret",  # noqa: S106 -- simulator default
                access_token="sim-access-token",  # noqa: S106
                access_token_secret="sim-access-token-secret",  # noqa: S106
            ),
        ),
        description="Integrations whose OAuth 1.0a signed calls (`Authorization: OAuth ...`, "
        "HMAC-SHA256) are accepted.",
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
    clock_follows_wall_time: bool = Field(
        default=True,
        description="The simulated clock also moves with the wall clock (whole seconds since "
        "start or reset); False keeps it still between explicit steps.",
    )
    initial_orders: int = Field(default=0, ge=0, le=10_000)
    faults: Faults = Field(default_factory=Faults)
    webhooks: WebhookConfig = Field(default_factory=WebhookConfig)


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
        self.clock: datetime = self.config.start_time  # the virtual part of the clock
        self.clock_started = time.monotonic()
        self.orders: dict[int, dict[str, Any]] = {}
        self.invoices: dict[int, dict[str, Any]] = {}
        self.shipments: dict[int, dict[str, Any]] = {}
        self.stock_items: dict[str, dict[str, Any]] = {}
        self.products: dict[str, int] = {}  # sku -> product_id, of every sku ordered
        self.customers: dict[int, dict[str, Any]] = {}
        self.companies: dict[int, dict[str, Any]] = {}
        self.credits: dict[int, dict[str, Any]] = {}  # by company id
        # The generator's own customers and companies, for reuse: (store id, address slot)
        # -> customer ids, store id -> company ids.
        self.customer_pool: dict[tuple[int, int], list[int]] = {}
        self.company_pool: dict[int, list[int]] = {}
        self.sequences: dict[str, int] = {}
        self.requests = 0
        self.faults_injected: dict[str, int] = {}

    def next_id(self, name: str) -> int:
        value = self.sequences.get(name, 0) + 1
        self.sequences[name] = value
        return value

    def seen_id(self, name: str, value: int) -> None:
        """Keep the sequence ``name`` past an id that came from outside."""
        self.sequences[name] = max(self.sequences.get(name, 0), value)

    def tick(self, seconds: int = 1) -> str:
        """Advance the simulated clock; return the new time in Magento's format."""
        self.clock += timedelta(seconds=seconds)
        return self.now()

    def current(self) -> datetime:
        """The simulated time (naive UTC, whole seconds): the virtual clock plus, unless
        ``clock_follows_wall_time`` is off, the whole wall-clock seconds since (re)set."""
        if not self.config.clock_follows_wall_time:
            return self.clock
        elapsed = int(time.monotonic() - self.clock_started)
        return self.clock + timedelta(seconds=max(elapsed, 0))

    def now(self) -> str:
        return self.current().strftime(TIME_FORMAT)

    def http_date(self) -> str:
        """The simulated time as an HTTP ``Date`` (RFC 7231 IMF-fixdate)."""
        return format_datetime(self.current().replace(tzinfo=UTC), usegmt=True)

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
            "customers": len(self.customers),
            "companies": len(self.companies),
            "requests": self.requests,
            "faults_injected": dict(self.faults_injected),
            "clock": self.now(),
            "faults": self.faults.model_dump(mode="json"),
        }
