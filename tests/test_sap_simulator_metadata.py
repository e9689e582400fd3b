"""The project's EDMX of API_SALES_ORDER_SRV and API_BUSINESS_PARTNER (adapters/sap/metadata/).

The unmarked tests need only the project: both documents build with pyodata, carry no SAP
text, cover every property of the hub's shapes (``adapters/sap/shapes.py``) and every
property the simulator writes.

The tests marked ``shared`` read SAP's own EDMX of the two services from ../shared (a test
reference the project does not ship) and are skipped without it: every entity type, key,
property, navigation, association and entity set of the project's documents is SAP's, with
the same facets and flags, and the simulator answers the same (on the project's subset of
properties) whichever metadata it serves.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from adapters.sap import shapes
from adapters.sap.metadata import EDMX_FILES, SERVICES, edmx_bytes, edmx_path
from adapters.sap.simulator import CustomerSeed, SalesArea, SapState, SimulatorConfig
from adapters.sap.simulator.edm import parse_service
from adapters.sap.simulator.odata import ODataRequest, ODataService

pyodata_model = pytest.importorskip("pyodata.v2.model")

EDMX_NS = "{http://schemas.microsoft.com/ado/2007/06/edmx}"
EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"
SAP = "{http://www.sap.com/Protocols/SAPData}"
META = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
SAP_ODATA = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "sap" / "odata"

SALES_ORDER, BUSINESS_PARTNER = "API_SALES_ORDER_SRV", "API_BUSINESS_PARTNER"
ENTITY_SETS = {
    SALES_ORDER: [
        "A_SalesOrder",
        "A_SalesOrderHeaderPartner",
        "A_SalesOrderItem",
        "A_SalesOrderItemPrElement",
    ],
    BUSINESS_PARTNER: ["A_BusinessPartner", "A_Customer", "A_CustomerSalesArea"],
}
# The attributes of a <Property> that are interface facts and must be SAP's.
FACETS = (
    "Type",
    "Nullable",
    "MaxLength",
    "Precision",
    "Scale",
    "ConcurrencyMode",
    f"{SAP}creatable",
    f"{SAP}updatable",
    f"{SAP}display-format",
    f"{SAP}unit",
    f"{SAP}semantics",
)
# SAP's texts (labels, tooltips, headings, documentation) that the project does not copy.
TEXT_ATTRIBUTES = (f"{SAP}label", f"{SAP}quickinfo", f"{SAP}heading", f"{SAP}text")
SET_FLAGS = (f"{SAP}creatable", f"{SAP}updatable", f"{SAP}deletable")


@dataclass
class EntityType:
    keys: list[str]
    properties: dict[str, dict[str, str]]
    """Name -> attributes, in document order."""
    navigations: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Edmx:
    root: ET.Element
    schema: ET.Element
    container: ET.Element
    entity_types: dict[str, EntityType]
    associations: dict[str, list[dict[str, str]]]
    """Name -> its ends' attributes (Type, Multiplicity, Role)."""
    entity_sets: dict[str, dict[str, str]]
    association_sets: dict[str, tuple[dict[str, str], list[dict[str, str]]]]


def read_edmx(path: Path) -> Edmx:
    root = ET.parse(path).getroot()
    schema = root.find(f"{EDMX_NS}DataServices/{EDM}Schema")
    assert schema is not None
    container = schema.find(f"{EDM}EntityContainer")
    assert container is not None
    entity_types = {
        element.get("Name", ""): EntityType(
            keys=[ref.get("Name", "") for ref in element.iter(f"{EDM}PropertyRef")],
            properties={
                prop.get("Name", ""): dict(prop.attrib) for prop in element.iter(f"{EDM}Property")
            },
            navigations={
                nav.get("Name", ""): dict(nav.attrib)
                for nav in element.iter(f"{EDM}NavigationProperty")
            },
        )
        for element in schema.iter(f"{EDM}EntityType")
    }
    associations = {
        element.get("Name", ""): [dict(end.attrib) for end in element.iter(f"{EDM}End")]
        for element in schema.iter(f"{EDM}Association")
    }
    entity_sets = {
        element.get("Name", ""): dict(element.attrib)
        for element in container.iter(f"{EDM}EntitySet")
    }
    association_sets = {
        element.get("Name", ""): (
            dict(element.attrib),
            [dict(end.attrib) for end in element.iter(f"{EDM}End")],
        )
        for element in container.iter(f"{EDM}AssociationSet")
    }
    return Edmx(root, schema, container, entity_types, associations, entity_sets, association_sets)


def _local(qualified: str) -> str:
    return qualified.rpartition(".")[2]


def target_of(edmx: Edmx, navigation: dict[str, str]) -> tuple[str, str]:
    """(target entity type, multiplicity) of a navigation property."""
    ends = edmx.associations[_local(navigation["Relationship"])]
    (end,) = [end for end in ends if end["Role"] == navigation["ToRole"]]
    return _local(end["Type"]), end["Multiplicity"]


@pytest.fixture(scope="module", params=SERVICES)
def service(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


# ------------------------------------------------------------------ the project's documents


def test_the_project_ships_its_own_edmx_only() -> None:
    folder = edmx_path(SALES_ORDER).parent
    assert sorted(path.name for path in folder.glob("*.edmx")) == sorted(EDMX_FILES.values())
    assert edmx_path(SALES_ORDER, "/elsewhere") == Path("/elsewhere/API_SALES_ORDER_SRV.edmx")


def test_pyodata_builds_the_project_edmx(service: str) -> None:
    logging.getLogger("pyodata").setLevel(logging.ERROR)
    schema = pyodata_model.MetadataBuilder(edmx_bytes(service)).build()
    assert [entity_set.name for entity_set in schema.entity_sets] == ENTITY_SETS[service]
    assert schema.namespaces == [service]


def test_the_project_edmx_has_sap_versions_names_and_no_sap_text(service: str) -> None:
    edmx = read_edmx(edmx_path(service))
    assert edmx.root.tag == f"{EDMX_NS}Edmx"
    assert edmx.root.get("Version") == "1.0"
    data_services = edmx.root.find(f"{EDMX_NS}DataServices")
    assert data_services is not None
    assert data_services.get(f"{META}DataServiceVersion") == "2.0"
    assert edmx.schema.get("Namespace") == service
    assert edmx.container.get("Name") == f"{service}_Entities"
    assert edmx.container.get(f"{META}IsDefaultEntityContainer") == "true"
    assert list(edmx.entity_sets) == ENTITY_SETS[service]

    text = edmx_path(service).read_text(encoding="utf-8")
    assert "Licensed under the Apache License, Version 2.0" in text
    assert "written by the O2C Hub project" in text
    for element in edmx.root.iter():
        assert not any(name in element.attrib for name in TEXT_ATTRIBUTES), element.attrib
        assert element.tag not in (f"{EDM}Documentation", f"{EDM}Annotations")


def test_the_project_edmx_is_consistent(service: str) -> None:
    edmx = read_edmx(edmx_path(service))
    for name, entity_type in edmx.entity_types.items():
        assert entity_type.keys, name
        assert set(entity_type.keys) <= set(entity_type.properties), name
        for key in entity_type.keys:
            assert entity_type.properties[key].get("Nullable") == "false", (name, key)
        for nav in entity_type.navigations.values():
            target, _ = target_of(edmx, nav)
            assert target in edmx.entity_types
            assert _local(nav["Relationship"]) in edmx.association_sets
    for attributes, ends in edmx.association_sets.values():
        assert _local(attributes["Association"]) in edmx.associations
        assert all(end["EntitySet"] in edmx.entity_sets for end in ends)
    simulator = parse_service(service, edmx_bytes(service))
    assert list(simulator.entity_sets) == ENTITY_SETS[service]


SHAPE_MODELS: list[type[BaseModel]] = [
    shapes.A_SalesOrder,
    shapes.A_SalesOrderItem,
    shapes.A_SalesOrderItemPrElement,
    shapes.A_SalesOrderHeaderPartner,
]


def _facet(model: type[BaseModel], name: str, facet: str) -> Any:
    for item in model.model_fields[name].metadata:
        value = getattr(item, facet, None)
        if value is not None:
            return value
    return None


@pytest.mark.parametrize("model", SHAPE_MODELS, ids=lambda model: model.__name__)
def test_every_property_of_the_hub_shapes_is_in_the_project_edmx(model: type[BaseModel]) -> None:
    edmx = read_edmx(edmx_path(SALES_ORDER))
    entity_type = edmx.entity_types[_local(edmx.entity_sets[model.__name__]["EntityType"])]
    for name in model.model_fields:
        if name.startswith("to_"):
            assert name in entity_type.navigations, f"{model.__name__}.{name}"
            continue
        assert name in entity_type.properties, f"{model.__name__}.{name}"
        prop = entity_type.properties[name]
        assert prop.get(f"{SAP}creatable") != "false", name
        if prop["Type"] == "Edm.String":
            assert _facet(model, name, "max_length") == int(prop["MaxLength"]), name
        elif prop["Type"] == "Edm.Decimal":
            assert _facet(model, name, "max_digits") == int(prop["Precision"]), name
            assert _facet(model, name, "decimal_places") == int(prop["Scale"]), name


def test_every_property_the_simulator_writes_is_in_the_project_edmx() -> None:
    state = SapState(
        SimulatorConfig(
            customers=(
                CustomerSeed(
                    customer="1000011",
                    sales_areas=(
                        SalesArea(
                            sales_organization="1010", distribution_channel="10", division="00"
                        ),
                    ),
                ),
            )
        )
    )
    header = {
        "SalesOrderType": "OR",
        "SalesOrganization": "1010",
        "DistributionChannel": "10",
        "OrganizationDivision": "00",
        "SoldToParty": "1000011",
        "PurchaseOrderByCustomer": "PO-1",
        "to_Partner": [{"PartnerFunction": "WE", "Customer": "1000011"}],
    }
    items = [
        {
            "Material": "TG11",
            "RequestedQuantity": Decimal(2),
            "to_PricingElement": [
                {"ConditionType": "PR00", "ConditionRateValue": Decimal(10)},
                {"ConditionType": "K007", "ConditionRateValue": Decimal(5)},
            ],
        },
        {"Material": "TG12", "RequestedQuantity": Decimal(1)},  # automatic price: none set
    ]
    state.create_sales_order(header, items)
    changed = ODataService(state, SALES_ORDER).handle(
        ODataRequest(
            "PATCH",
            "A_SalesOrder('1')",
            headers={"if-match": "*"},
            body=b'{"PurchaseOrderByCustomer": "PO-2"}',
            user="HUB",
        )
    )
    assert changed.status == 204, changed.body
    for service_name, sets in state.store.items():
        edmx = read_edmx(edmx_path(service_name))
        for set_name, records in sets.items():
            entity_type = edmx.entity_types[_local(edmx.entity_sets[set_name]["EntityType"])]
            for record in records.values():
                unknown = set(record) - set(entity_type.properties)
                assert not unknown, f"{set_name}: {sorted(unknown)}"
    counts = {name: len(records) for name, records in state.store[SALES_ORDER].items()}
    assert all(counts.values()), counts


def test_metadata_dir_must_hold_both_services(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"API_SALES_ORDER_SRV\.edmx"):
        SimulatorConfig(metadata_dir=str(tmp_path))
    assert SimulatorConfig().metadata_dir is None


# ------------------------------------------------------------------ against SAP's metadata

requires_sap_metadata = pytest.mark.skipif(
    not all(edmx_path(name, SAP_ODATA).is_file() for name in SERVICES),
    reason=f"needs SAP's EDMX in {SAP_ODATA} (../shared)",
)


@pytest.mark.parametrize("name", SERVICES)
class TestAgainstSapEdmx:
    """Every element of the project's EDMX is SAP's, with SAP's facets and flags."""

    pytestmark = [pytest.mark.shared, requires_sap_metadata]  # noqa: RUF012 - read by pytest

    @pytest.fixture
    def ours(self, name: str) -> Edmx:
        return read_edmx(edmx_path(name))

    @pytest.fixture
    def sap(self, name: str) -> Edmx:
        return read_edmx(edmx_path(name, SAP_ODATA))

    def test_document_header_is_sap(self, ours: Edmx, sap: Edmx) -> None:
        assert ours.root.get("Version") == sap.root.get("Version")
        for element in (ours.root, sap.root):
            assert element.tag == f"{EDMX_NS}Edmx"
        ours_ds = ours.root.find(f"{EDMX_NS}DataServices")
        sap_ds = sap.root.find(f"{EDMX_NS}DataServices")
        assert ours_ds is not None
        assert sap_ds is not None
        assert dict(ours_ds.attrib) == dict(sap_ds.attrib)
        assert dict(ours.schema.attrib) == dict(sap.schema.attrib)
        assert dict(ours.container.attrib) == dict(sap.container.attrib)

    def test_entity_types_keys_and_properties_are_sap(self, ours: Edmx, sap: Edmx) -> None:
        for type_name, entity_type in ours.entity_types.items():
            assert type_name in sap.entity_types
            theirs = sap.entity_types[type_name]
            assert entity_type.keys == theirs.keys, type_name
            for prop_name, prop in entity_type.properties.items():
                assert prop_name in theirs.properties, f"{type_name}.{prop_name}"
                their_prop = theirs.properties[prop_name]
                assert {f: prop.get(f) for f in FACETS} == {f: their_prop.get(f) for f in FACETS}, (
                    f"{type_name}.{prop_name}"
                )
                assert set(prop) <= {"Name", *FACETS}, f"{type_name}.{prop_name}"
            order = [name for name in theirs.properties if name in entity_type.properties]
            assert list(entity_type.properties) == order, f"{type_name}: SAP's order"

    def test_navigations_and_associations_are_sap(self, ours: Edmx, sap: Edmx) -> None:
        for type_name, entity_type in ours.entity_types.items():
            theirs = sap.entity_types[type_name]
            for nav_name, nav in entity_type.navigations.items():
                assert nav_name in theirs.navigations, f"{type_name}.{nav_name}"
                assert nav == theirs.navigations[nav_name]
                assert target_of(ours, nav) == target_of(sap, theirs.navigations[nav_name])
        for association, ends in ours.associations.items():
            assert ends == sap.associations[association], association

    def test_entity_sets_and_association_sets_are_sap(self, ours: Edmx, sap: Edmx) -> None:
        for set_name, attributes in ours.entity_sets.items():
            assert set_name in sap.entity_sets
            assert attributes == sap.entity_sets[set_name], set_name
        for set_name, (attributes, ends) in ours.association_sets.items():
            assert set_name in sap.association_sets
            their_attributes, their_ends = sap.association_sets[set_name]
            assert attributes == their_attributes, set_name
            assert ends == their_ends, set_name


def _subset(rendered: Any, types: dict[str, set[str]]) -> Any:
    """An OData V2 JSON answer cut to the project's properties and navigations, without
    the values that depend on the clock."""
    if isinstance(rendered, list):
        return [_subset(item, types) for item in rendered]
    if not isinstance(rendered, dict):
        return rendered
    metadata = rendered.get("__metadata")
    if not isinstance(metadata, dict):
        return {name: _subset(value, types) for name, value in rendered.items()}
    allowed = types[_local(metadata["type"])]
    out: dict[str, Any] = {"__metadata": {k: v for k, v in metadata.items() if k != "etag"}}
    for name, value in rendered.items():
        if name in allowed and name not in ("LastChangeDateTime", "CreationTime"):
            out[name] = _subset(value, types)
    return out


def _answers(metadata_dir: str | None) -> list[tuple[int, Any]]:
    config = SimulatorConfig(
        metadata_dir=metadata_dir,
        customers=(
            CustomerSeed(
                customer="1000011",
                name="Hub Test GmbH",
                sales_areas=(
                    SalesArea(sales_organization="1010", distribution_channel="10", division="00"),
                ),
            ),
        ),
    )
    state = SapState(config)
    base = "http://sim.invalid/sap/opu/odata/sap/"
    order = {
        "SalesOrderType": "OR",
        "SalesOrganization": "1010",
        "DistributionChannel": "10",
        "OrganizationDivision": "00",
        "SoldToParty": "1000011",
        "PurchaseOrderByCustomer": "PO-SAME",
        "CustomerPurchaseOrderDate": "/Date(1741651200000)/",
        "to_Partner": [{"PartnerFunction": "WE", "Customer": "1000011"}],
        "to_Item": [
            {
                "SalesOrderItem": "10",
                "Material": "TG11",
                "RequestedQuantity": "3",
                "RequestedQuantityUnit": "PC",
                "to_PricingElement": [
                    {"ConditionType": "PR00", "ConditionRateValue": "22.9"},
                    {"ConditionType": "RB00", "ConditionRateValue": "-6.87"},
                ],
            },
            {"SalesOrderItem": "20", "Material": "TG12", "RequestedQuantity": "1"},
        ],
    }
    calls: list[tuple[str, str, str, list[tuple[str, str]], bytes]] = [
        (SALES_ORDER, "POST", "A_SalesOrder", [], json.dumps(order).encode()),
        (
            SALES_ORDER,
            "GET",
            "A_SalesOrder('1')",
            [("$expand", "to_Item/to_PricingElement,to_Partner")],
            b"",
        ),
        (SALES_ORDER, "GET", "A_SalesOrderItem", [("$filter", "NetAmount gt 10")], b""),
        (
            SALES_ORDER,
            "POST",
            "A_SalesOrder",
            [],
            json.dumps({**order, "SoldToParty": "9"}).encode(),
        ),
        (
            BUSINESS_PARTNER,
            "GET",
            "A_Customer('1000011')",
            [("$expand", "to_CustomerSalesArea")],
            b"",
        ),
        (BUSINESS_PARTNER, "GET", "A_BusinessPartner('1000011')/to_Customer", [], b""),
    ]
    answers = []
    for service_name, method, path, query, body in calls:
        service = ODataService(state, service_name)
        types = {
            name: set(entity_type.properties) | set(entity_type.navigations)
            for name, entity_type in parse_service(
                service_name, edmx_bytes(service_name)
            ).entity_types.items()
        }
        response = service.handle(
            ODataRequest(method, path, query, {}, body, "HUB", f"{base}{service_name}/")
        )
        payload = json.loads(response.body, parse_float=Decimal)
        if "error" in payload:
            payload["error"]["innererror"].pop("transactionid")
            payload["error"]["innererror"].pop("timestamp")
        answers.append((response.status, _subset(payload, types)))
    return answers


@pytest.mark.shared
@requires_sap_metadata
def test_the_simulator_answers_the_same_with_sap_metadata() -> None:
    ours = _answers(None)
    theirs = _answers(str(SAP_ODATA))
    assert [status for status, _ in ours] == [201, 200, 200, 400, 200, 200]
    assert ours == theirs
    read = ours[1][1]["d"]
    assert (read["TotalNetAmount"], read["CustomerPurchaseOrderDate"]) == (
        "61.83",
        "/Date(1741651200000)/",
    )
    assert [i["NetAmount"] for i in read["to_Item"]["results"]] == ["61.83", "0.00"]
    assert {p["PartnerFunction"] for p in read["to_Partner"]["results"]} == {"AG", "RE", "RG", "WE"}
    assert ours[3][1]["error"]["code"] == "VS/406"
    assert ours[4][1]["d"]["to_CustomerSalesArea"]["results"][0]["SalesOrganization"] == "1010"
