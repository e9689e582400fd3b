"""The generic HTTP adapter passes the conformance kit against the loopback fault target."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import adapters.http
from adapters.http.adapter import HttpAdapter
from hub.targets.base import Delivery
from hub.testing.conformance import (
    AdapterConformance,
    ConformanceHarness,
    DeliveryScenario,
    Fault,
)
from hub.testing.fault_target import run_fault_target

KEY = "conformance-http-key-7f3a91"
WRONG = "conformance-http-wrong-22b8c0"
TARGET = "conf"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class FaultTargetHarness(ConformanceHarness):
    """The fault target as the conformance kit's simulator."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.control = httpx.Client(base_url=base_url, trust_env=False, timeout=10)
        self.clear_faults()

    def _options(self, base_url: str, key: str) -> dict[str, Any]:
        return {
            "url": f"{base_url}/deliver/{TARGET}",
            "timeout": 1,
            "headers": {"X-Api-Key": key},
            "health_url": f"{base_url}/healthz/{TARGET}",
            "reference_field": "reference",
        }

    def config(self) -> dict[str, Any]:
        return self._options(self.base_url, KEY)

    def bad_credentials(self) -> dict[str, Any]:
        return self._options(self.base_url, WRONG)

    def unreachable(self) -> dict[str, Any]:
        return self._options(f"http://127.0.0.1:{_closed_port()}", KEY)

    def secrets(self) -> list[str]:
        return [KEY, WRONG]

    def _faults(self, **faults: Any) -> None:
        body = {"require_headers": {"X-Api-Key": KEY}, **faults}
        self.control.put("/_faults", params={"target": TARGET}, json=body).raise_for_status()

    def inject(self, fault: Fault) -> None:
        if fault.kind == "status":
            self._faults(error_rate=1, error_status=[fault.status], retry_after=fault.retry_after)
        elif fault.kind == "slow":
            self._faults(slow_rate=1, slow_seconds=2.5)
        else:
            self._faults(land_then_timeout_rate=1, land_then_timeout_seconds=2.5)

    def clear_faults(self) -> None:
        self._faults()

    def prepare(self, scenario: DeliveryScenario, key: str) -> Delivery:
        return Delivery(
            delivery_id=f"d-{key}",
            message_id=f"m-{key}",
            target=TARGET,
            route="conformance",
            kind=scenario.kind,
            payload={"seq": 1, "document": {"order_number": key}},
            idempotency_key=key,
            ordering_key=key,
            attempt=1,
            correlation_id=f"c-{key}",
        )

    def close(self) -> None:
        self.control.close()

    def records(self, scenario: DeliveryScenario, delivery: Delivery) -> int:
        del scenario
        found = self.control.get(
            "/_delivery", params={"key": delivery.idempotency_key, "target": TARGET}
        )
        if found.status_code == 404:
            return 0
        found.raise_for_status()
        effects: int = found.json()["effects"]
        return effects


class TestHttpConformance(AdapterConformance):
    adapter_class = HttpAdapter
    scenario_file = Path(adapters.http.__file__).parent / "conformance.yaml"

    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls) -> Iterator[ConformanceHarness]:
        with run_fault_target() as url:
            harness = FaultTargetHarness(url)
            yield harness
            harness.close()
