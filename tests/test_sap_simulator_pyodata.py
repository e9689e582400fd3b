"""pyodata, a real OData V2 client, against the SAP simulator over loopback HTTP.

pyodata builds its model from the simulator's ``$metadata`` (the project's EDMX), creates
a sales order by deep insert, reads it back, queries and sends a ``$batch`` changeset.
pyodata talks through ``requests``; the CSRF token is fetched with a HEAD as pyodata's
documentation shows, and the session keeps SAP's cookies.

The test marked ``shared`` starts the simulator with SAP's own EDMX of the services from
../shared (``metadata_dir``; a test reference the project does not ship, skipped without
it): pyodata, given the simulator's ``$metadata`` URL, lists every entity set of the saved
EDMX and creates a sales order.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.sap.metadata import edmx_path
from adapters.sap.simulator import SimulatorConfig, User, run_simulator

pyodata = pytest.importorskip("pyodata")
requests = pytest.importorskip("requests")

SO = "/sap/opu/odata/sap/API_SALES_ORDER_SRV/"
USER, PASSWORD = "PYODATA", "Py-Secret-1"
EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"
SAP_ODATA = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "sap" / "odata"
SAP_SALES_ORDER_EDMX = SAP_ODATA / "API_SALES_ORDER_SRV.edmx"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    config = SimulatorConfig(users=(User(name=USER, password=PASSWORD),))
    with run_simulator(config=config) as url:
        yield url


@contextlib.contextmanager
def pyodata_client(base_url: str) -> Iterator[Any]:
    """A pyodata client of the simulator's API_SALES_ORDER_SRV, from a fresh state."""
    httpx.post(f"{base_url}/_sim/reset", trust_env=False).raise_for_status()
    # pyodata logs every SAP annotation it does not model ("Unsupported Annotation").
    logging.getLogger("pyodata").setLevel(logging.ERROR)
    session = requests.Session()
    session.trust_env = False
    session.auth = (USER, PASSWORD)
    head = session.head(base_url + SO, headers={"x-csrf-token": "Fetch"}, timeout=10)
    assert head.status_code == 200
    session.headers.update({"x-csrf-token": head.headers["x-csrf-token"]})
    try:
        yield pyodata.Client(base_url + SO, session)
    finally:
        session.close()


@pytest.fixture
def client(base_url: str) -> Iterator[Any]:
    with pyodata_client(base_url) as odata:
        yield odata


def deep_insert(po: str, material: str = "TG11") -> dict[str, Any]:
    return {
        "SalesOrderType": "OR",
        "SalesOrganization": "1010",
        "DistributionChannel": "10",
        "OrganizationDivision": "00",
        "SoldToParty": "10100001",
        "PurchaseOrderByCustomer": po,
        "CustomerPurchaseOrderDate": datetime.datetime(2025, 3, 11, tzinfo=datetime.UTC),
        "to_Item": [
            {
                "SalesOrderItem": "10",
                "Material": material,
                "RequestedQuantity": "2",
                "RequestedQuantityUnit": "PC",
                "to_PricingElement": [
                    {
                        "ConditionType": "PPR0",
                        "ConditionRateValue": "34.5",
                        "ConditionCurrency": "EUR",
                    }
                ],
            }
        ],
    }


def entity_set_names(edmx: Path) -> set[str]:
    root = ET.parse(edmx).getroot()
    return {element.get("Name", "") for element in root.iter(f"{EDM}EntitySet")}


def test_pyodata_reads_the_entity_sets_of_the_edmx(client: Any) -> None:
    expected = entity_set_names(edmx_path("API_SALES_ORDER_SRV"))
    assert {entity_set.name for entity_set in client.schema.entity_sets} == expected
    assert expected == {
        "A_SalesOrder",
        "A_SalesOrderItem",
        "A_SalesOrderItemPrElement",
        "A_SalesOrderHeaderPartner",
    }
    assert client.schema.entity_type("A_SalesOrderType").nav_proprty("to_Item")


def test_pyodata_creates_by_deep_insert_and_reads_back(client: Any) -> None:
    created = client.entity_sets.A_SalesOrder.create_entity().set(**deep_insert("PY-1")).execute()

    assert created.SalesOrder == "1"
    assert created.TotalNetAmount == "69.00"  # pyodata keeps Edm.Decimal as SAP's string
    assert created.CustomerPurchaseOrderDate == datetime.datetime(2025, 3, 11, tzinfo=datetime.UTC)
    assert created.CreationDate.tzinfo == datetime.UTC
    assert [item.Material for item in created.to_Item] == ["TG11"]

    read = (
        client.entity_sets.A_SalesOrder.get_entity(created.SalesOrder).expand("to_Item").execute()
    )
    assert read.PurchaseOrderByCustomer == "PY-1"
    assert read.OverallSDProcessStatus == "A"
    (item,) = read.to_Item
    assert (item.SalesOrderItem, Decimal(item.NetAmount), Decimal(item.RequestedQuantity)) == (
        "10",
        Decimal("69.00"),
        Decimal(2),
    )

    found = (
        client.entity_sets.A_SalesOrder.get_entities()
        .filter("PurchaseOrderByCustomer eq 'PY-1'")
        .count(inline=True)
        .execute()
    )
    assert found.total_count == 1
    assert [order.SalesOrder for order in found] == ["1"]


def test_pyodata_batch_changeset(client: Any, base_url: str) -> None:
    batch = client.create_batch()
    changeset = client.create_changeset()
    for po in ("PY-B1", "PY-B2"):
        changeset.add_request(
            client.entity_sets.A_SalesOrder.create_entity().set(**deep_insert(po))
        )
    batch.add_request(changeset)
    batch.add_request(client.entity_sets.A_SalesOrder.get_entities().top(5))

    created, listed = batch.execute()

    assert [order.PurchaseOrderByCustomer for order in created] == ["PY-B1", "PY-B2"]
    assert [order.SalesOrder for order in listed] == ["1", "2"]
    state = httpx.get(f"{base_url}/_sim/state", trust_env=False).json()
    assert [o["PurchaseOrderByCustomer"] for o in state["sales_orders"]] == ["PY-B1", "PY-B2"]


@pytest.fixture(scope="module")
def sap_metadata_url() -> Iterator[str]:
    """The simulator serving SAP's own metadata of the services (``metadata_dir``)."""
    if not SAP_SALES_ORDER_EDMX.is_file():
        pytest.skip(f"needs {SAP_SALES_ORDER_EDMX} (../shared)")
    config = SimulatorConfig(
        users=(User(name=USER, password=PASSWORD),), metadata_dir=str(SAP_ODATA)
    )
    with run_simulator(config=config) as url:
        yield url


@pytest.mark.shared
def test_pyodata_lists_the_entity_sets_of_the_saved_edmx_and_creates_an_order(
    sap_metadata_url: str,
) -> None:
    expected = entity_set_names(SAP_SALES_ORDER_EDMX)
    assert len(expected) > 4  # more than the project's subset
    with pyodata_client(sap_metadata_url) as odata:
        assert {entity_set.name for entity_set in odata.schema.entity_sets} == expected

        created = (
            odata.entity_sets.A_SalesOrder.create_entity().set(**deep_insert("PY-S1")).execute()
        )
        assert (created.SalesOrder, created.TotalNetAmount) == ("1", "69.00")
        assert [item.Material for item in created.to_Item] == ["TG11"]
        read = (
            odata.entity_sets.A_SalesOrder.get_entity("1")
            .expand("to_Item/to_PricingElement")
            .execute()
        )
        assert read.PurchaseOrderByCustomer == "PY-S1"
        (item,) = read.to_Item
        assert [p.ConditionType for p in item.to_PricingElement] == ["PPR0"]
