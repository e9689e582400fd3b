"""Any HTTP/JSON endpoint as a target: POST the (mapped) document with an Idempotency-Key."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from hub import __version__
from hub.adapter import Adapter, Capability
from hub.targets.base import Delivery, DeliveryResult
from hub.targets.http import HttpTarget, HttpTargetConfig


class HttpAdapter(Adapter):
    """Generic webhook-style target (the client is hub.targets.http.HttpTarget)."""

    name: ClassVar[str] = "http"
    version: ClassVar[str] = __version__
    description: ClassVar[str] = "POST or PUT JSON to a URL with an Idempotency-Key header."
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.DELIVER})
    Config: ClassVar[type[BaseModel]] = HttpTargetConfig

    def __init__(self, target: str, config: BaseModel) -> None:
        super().__init__(target, config)
        assert isinstance(config, HttpTargetConfig)
        self._client = HttpTarget(target, config)
        self.name_for_logs = target

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        return await self._client.deliver(delivery)

    async def health(self) -> None:
        await self._client.health()

    async def aclose(self) -> None:
        await self._client.aclose()

    def secrets(self) -> tuple[str, ...]:
        assert isinstance(self.config, HttpTargetConfig)
        return tuple(v.get_secret_value() for v in self.config.headers.values() if v)
