"""The Magento adapter passes the conformance kit against the Magento simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import adapters.magento
from adapters.magento.adapter import MagentoAdapter
from adapters.magento.simulator import SimulatorConfig, run_simulator
from adapters.magento.simulator.harness import MagentoHarness
from adapters.magento.simulator.state import OAuthIntegration
from hub.testing.conformance import AdapterConformance, ConformanceHarness

TOKEN = "conformance-magento-token-0d7e55"
INTEGRATION = OAuthIntegration(
    consumer_key="conformance-consumer-key",
    consumer_secret="conformance-consumer-secret-8a1f",
    access_token="conformance-access-token-61bc",
    access_token_secret="conformance-token-secret-2d94",
)


class TestMagentoConformance(AdapterConformance):
    adapter_class = MagentoAdapter
    scenario_file = Path(adapters.magento.__file__).parent / "conformance.yaml"

    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls) -> Iterator[ConformanceHarness]:
        config = SimulatorConfig(tokens=(TOKEN,), oauth_integrations=(INTEGRATION,), seed=3)
        with run_simulator(config=config) as url:
            harness = MagentoHarness(url, INTEGRATION, TOKEN)
            yield harness
            harness.close()
