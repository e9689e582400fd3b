"""The SAP adapter passes the conformance kit on each transport: OData against the OData
simulator, RFC through the RFC stand-in on the same simulator, SOAP against the journal
entry simulator."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import adapters.sap
from adapters.sap.adapter import SapAdapter
from adapters.sap.config import SapConfig
from adapters.sap.rfc import RfcSalesOrders
from adapters.sap.simulator.rfc import SimulatorConnection
from adapters.sap.simulator.runner import run_simulator
from adapters.sap.simulator.state import SimulatorConfig, User
from adapters.sap.soap_simulator import JournalSimulatorConfig, run_journal_simulator
from hub.adapter import Adapter
from hub.mapping import registry
from hub.paths import bundled_mappings_dir
from hub.targets.base import Delivery
from hub.testing.conformance import (
    AdapterConformance,
    ConformanceHarness,
    DeliveryScenario,
    Fault,
)
from tests.conftest import SAMPLES
from tests.test_sap_journal import TAX_CODES, invoice_data

SCENARIOS = Path(adapters.sap.__file__).parent / "conformance"
USER = "HUB_COMM"
PASSWORD = "conformance-Sap-pw-4411"
WRONG = "conformance-wrong-pw-0935"
SLOW = 2.5


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def order_body(purchase_order: str) -> dict[str, Any]:
    """An A_SalesOrder deep insert for the simulator's seeded customer and materials."""
    return {
        "SalesOrderType": "OR",
        "SalesOrganization": "1010",
        "DistributionChannel": "10",
        "OrganizationDivision": "00",
        "SoldToParty": "10100001",
        "PurchaseOrderByCustomer": purchase_order,
        "CustomerPurchaseOrderDate": "2025-03-11",
        "TransactionCurrency": "EUR",
        "to_Item": [
            {
                "SalesOrderItem": "10",
                "Material": "TG11",
                "RequestedQuantity": "2",
                "RequestedQuantityUnit": "PC",
                "to_PricingElement": [
                    {
                        "ConditionType": "PR00",
                        "ConditionRateValue": "12.5",
                        "ConditionCurrency": "EUR",
                    }
                ],
            }
        ],
    }


def delivery(kind: str, payload: dict[str, Any], key: str) -> Delivery:
    return Delivery(
        delivery_id=f"d-{key}",
        message_id=f"m-{key}",
        target="conformance",
        route="conformance",
        kind=kind,
        payload=payload,
        idempotency_key=key,
        ordering_key=key,
        attempt=1,
        correlation_id=f"c-{key}",
    )


class SimulatorHarness(ConformanceHarness):
    """What the SAP simulators share: credentials, closed ports, faults (PUT /_sim/faults).
    Subclasses give the target options, prepare deliveries and count records."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, trust_env=False, timeout=30)

    def close(self) -> None:
        self.http.close()

    def _options(self, base_url: str, password: str) -> dict[str, Any]:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return self._options(self.base_url, PASSWORD)

    def bad_credentials(self) -> dict[str, Any]:
        return self._options(self.base_url, WRONG)

    def unreachable(self) -> dict[str, Any]:
        return self._options(f"http://127.0.0.1:{closed_port()}", PASSWORD)

    def secrets(self) -> list[str]:
        return [PASSWORD, WRONG]

    def _faults(self, **faults: Any) -> None:
        self.http.put("/_sim/faults", json=faults).raise_for_status()

    def inject(self, fault: Fault) -> None:
        if fault.kind == "status":
            self._faults(error_rate=1, error_statuses=[fault.status], retry_after=fault.retry_after)
        elif fault.kind == "slow":
            self._faults(slow_rate=1, slow_seconds=SLOW)
        else:
            self._faults(land_then_timeout_rate=1, land_then_timeout_seconds=SLOW)

    def clear_faults(self) -> None:
        self._faults()


class SapSimulatorHarness(SimulatorHarness):
    """The OData simulator; the sales orders carrying a delivery's reference are counted."""

    def _options(self, base_url: str, password: str) -> dict[str, Any]:
        return {
            "transport": "odata",
            "base_url": base_url,
            "user": USER,
            "password": password,
            "timeout": 1,
        }

    def prepare(self, scenario: DeliveryScenario, key: str) -> Delivery:
        return delivery(scenario.kind, order_body(f"PO-{key}"[:35]), key)

    def records(self, scenario: DeliveryScenario, delivery: Delivery) -> int:
        del scenario
        state = self.http.get("/_sim/state").json()
        reference = delivery.payload["PurchaseOrderByCustomer"]
        return sum(1 for o in state["sales_orders"] if o["PurchaseOrderByCustomer"] == reference)


class RfcHarness(SapSimulatorHarness):
    """The same simulator through the RFC stand-in (``POST /_sim/rfc``)."""

    def _options(self, base_url: str, password: str) -> dict[str, Any]:
        return {
            "transport": "rfc",
            "user": USER,
            "password": password,
            "timeout": 1,
            "rfc": {"ashost": base_url, "sysnr": "00", "client": "100"},
        }

    def inject(self, fault: Fault) -> None:
        if fault.kind == "slow":
            self._faults(land_then_timeout_rate=1, land_then_timeout_seconds=SLOW)
        else:
            super().inject(fault)


class IdocHarness(SapSimulatorHarness):
    """ORDERS05 IDocs posted to the simulator's IDoc-XML inbound."""

    def _options(self, base_url: str, password: str) -> dict[str, Any]:
        return {
            "transport": "idoc",
            "base_url": base_url,
            "user": USER,
            "password": password,
            "timeout": 1,
            "idoc": {
                "mode": "http",
                "default_sold_to": "10100001",
                "envelope": {
                    "sender_port": "O2CHUB",
                    "sender_partner": "O2CHUB",
                    "receiver_port": "SAPS4H",
                    "receiver_partner": "S4HCLNT100",
                },
                "sales_area": {
                    "sales_org": "1010",
                    "distribution_channel": "10",
                    "division": "00",
                    "order_type": "OR",
                },
            },
        }

    def prepare(self, scenario: DeliveryScenario, key: str) -> Delivery:
        order = canonical_order()
        order["order_number"] = f"PO-{key}"[:35]
        for line in order["lines"]:
            line["sku"] = "TG11"
        return delivery(scenario.kind, order, key)

    def records(self, scenario: DeliveryScenario, delivery: Delivery) -> int:
        del scenario
        state = self.http.get("/_sim/state").json()
        reference = delivery.payload["order_number"]
        return sum(1 for o in state["sales_orders"] if o["PurchaseOrderByCustomer"] == reference)


def canonical_order() -> dict[str, Any]:
    """A canonical order (the bundled EU B2B sample, mapped) as a delivery payload."""
    mapping = registry.find("magento", "order", "inbound", [bundled_mappings_dir()])
    source = json.loads((SAMPLES / "order-eu-b2b-vat.json").read_bytes())
    dumped: dict[str, Any] = json.loads(
        mapping.apply(source).document.model_dump_json(exclude_computed_fields=True)
    )
    return dumped


class TestSapIdocConformance(AdapterConformance):
    adapter_class = SapAdapter
    scenario_file = SCENARIOS / "idoc.yaml"

    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls) -> Iterator[ConformanceHarness]:
        config = SimulatorConfig(users=(User(name=USER, password=PASSWORD),))
        with run_simulator(config=config) as url:
            harness = IdocHarness(url)
            yield harness
            harness.close()


class TestSapODataConformance(AdapterConformance):
    adapter_class = SapAdapter
    scenario_file = SCENARIOS / "odata.yaml"

    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls) -> Iterator[ConformanceHarness]:
        config = SimulatorConfig(users=(User(name=USER, password=PASSWORD),))
        with run_simulator(config=config) as url:
            harness = SapSimulatorHarness(url)
            yield harness
            harness.close()


def _stand_in(config: SapConfig) -> SimulatorConnection:
    assert config.rfc is not None
    return SimulatorConnection(
        config.rfc.ashost,
        user=config.user,
        passwd=config.password.get_secret_value(),
        timeout=config.timeout,
    )


class TestSapRfcConformance(AdapterConformance):
    adapter_class = SapAdapter
    scenario_file = SCENARIOS / "rfc.yaml"

    def make(self, config: dict[str, Any]) -> Adapter:
        options = SapConfig.model_validate(config)
        rfc = RfcSalesOrders(options, target=self.target_name, connect=_stand_in)
        return SapAdapter(self.target_name, options, rfc=rfc)

    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls) -> Iterator[ConformanceHarness]:
        config = SimulatorConfig(users=(User(name=USER, password=PASSWORD),))
        with run_simulator(config=config) as url:
            harness = RfcHarness(url)
            yield harness
            harness.close()


class JournalHarness(SimulatorHarness):
    """The journal entry simulator; entries carrying the invoice number are counted."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self._number = 0

    def _options(self, base_url: str, password: str) -> dict[str, Any]:
        return {
            "transport": "soap",
            "base_url": base_url,
            "user": USER,
            "password": password,
            "timeout": 1,
            "journal": {
                "company_code": "1010",
                "tax_codes": TAX_CODES,
                "revenue_account": "40000000",
                "revenue_accounts": {"S 7": "41000000", "E": "42000000"},
                "rounding_account": "69000000",
            },
        }

    def prepare(self, scenario: DeliveryScenario, key: str) -> Delivery:
        self._number += 1
        payload = invoice_data(invoice_number=f"INV-C{self._number:05d}")
        return delivery(scenario.kind, payload, key)

    def records(self, scenario: DeliveryScenario, delivery: Delivery) -> int:
        del scenario
        entries = self.http.get("/_sim/state").json()["entries"]
        number = delivery.payload["invoice_number"]
        return sum(1 for e in entries if e.get("reference") == number)


class TestSapSoapConformance(AdapterConformance):
    adapter_class = SapAdapter
    scenario_file = SCENARIOS / "soap.yaml"

    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls) -> Iterator[ConformanceHarness]:
        config = JournalSimulatorConfig(
            users={USER: PASSWORD}, tax_codes=("A0", "A1", "A2", "A5", "AE", "AF", "AG")
        )
        with run_journal_simulator(config) as url:
            harness = JournalHarness(url)
            yield harness
            harness.close()
