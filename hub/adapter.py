"""The adapter contract: one class per external system, with a small typed surface.

An adapter is a delivery target (``deliver``/``health``/``aclose``, see
:class:`hub.targets.Target`) with a typed configuration model, declared capabilities,
and optional inbound parsing, look-up of existing documents (idempotency) and polling.
Its client module is the only code that speaks the remote API; everything it raises is a
:class:`hub.errors.DeliveryError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel

from hub.errors import HubError, UnknownNameError
from hub.targets.base import Delivery, DeliveryResult


class Capability(StrEnum):
    """What an adapter can do; `o2c adapters list` shows them."""

    DELIVER = "deliver"
    PARSE = "parse"
    LOOKUP = "lookup"
    POLL = "poll"


@dataclass(frozen=True)
class InboundDocument:
    """One source document an adapter fetched, ready for ``Ingestor.ingest``."""

    kind: str
    """Canonical kind its inbound mapping produces, e.g. ``order``."""
    raw: bytes
    """The document as the source system wrote it (stored as the message's raw body)."""
    content_type: str = "application/json"
    ref: str = ""
    """The source's own id, for logs and progress (e.g. Magento's entity_id)."""


@dataclass(frozen=True)
class PollPage:
    """What one ``poll`` call found, and where the next call starts.

    The hub ingests every document, then stores ``cursor``; a crash in between re-reads
    the page and the hub's de-duplication recognises what it already stored.
    """

    documents: list[InboundDocument]
    cursor: dict[str, Any]
    """JSON-serialisable and opaque to the hub; passed back unchanged on the next call."""
    more: bool = False
    """True when calling again at once would find more (a full page was returned)."""
    notes: list[str] = field(default_factory=list)


class Adapter(ABC):
    """Base of every adapter. Subclasses set the class attributes and implement deliver."""

    name: ClassVar[str]
    """The ``type`` used in routes.yaml, e.g. ``http``, ``magento``, ``sap``."""
    version: ClassVar[str] = "0"
    description: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.DELIVER})
    Config: ClassVar[type[BaseModel]]
    """Typed options, validated when routes.yaml loads."""

    def __init__(self, target: str, config: BaseModel) -> None:
        self.target = target
        self.config = config

    @abstractmethod
    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        """Apply the delivery's effect in the remote system, at most once per key."""

    async def health(self) -> None:  # noqa: B027 - a default: nothing to check
        """Raise a DeliveryError when the remote system cannot take deliveries."""

    async def aclose(self) -> None:  # noqa: B027 - a default: nothing to release
        """Release connections."""

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in stored errors or logs."""
        return ()

    async def lookup(self, delivery: Delivery) -> DeliveryResult | None:
        """The document an earlier attempt of this delivery created, if the target has it.

        ``deliver`` calls it before creating anything, so a retry after a lost answer
        finds the first attempt's document instead of creating a second one.
        """
        return None

    async def poll(self, kind: str, cursor: dict[str, Any] | None, *, limit: int = 100) -> PollPage:
        """Fetch documents changed since ``cursor`` (None: from the configured start)."""
        raise HubError(f"adapter {self.name!r} cannot poll (it has no 'poll' capability)")

    @classmethod
    def unwrap_inbound(cls, kind: str, document: dict[str, Any]) -> dict[str, Any]:
        """Inbound: the source document inside a webhook or event body.

        Called on every document pushed to ``/v1/inbound/<name>/<kind>`` for a system named
        like the adapter. The default takes the body as it is.
        """
        return document


class AdapterRegistry:
    """Adapter classes by name, filled by ``hub_register_adapters`` hooks."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Adapter]] = {}
        self.sources: dict[str, str] = {}

    def add(self, cls: type[Adapter], *, source: str = "") -> None:
        if cls.name in self._classes and self._classes[cls.name] is not cls:
            raise HubError(f"two adapters are called {cls.name!r}")
        self._classes[cls.name] = cls
        self.sources.setdefault(cls.name, source)

    def get(self, name: str) -> type[Adapter]:
        try:
            return self._classes[name]
        except KeyError:
            known = ", ".join(sorted(self._classes)) or "none"
            raise UnknownNameError(f"no adapter {name!r}; installed: {known}") from None

    def __iter__(self) -> Iterator[type[Adapter]]:
        return iter(sorted(self._classes.values(), key=lambda c: c.name))

    def __contains__(self, name: object) -> bool:
        return name in self._classes
