"""The SAP sales-order shapes agree with SAP's own metadata for API_SALES_ORDER_SRV.

``TestAgainstEdmx`` reads the service's EDMX from ../shared (a test reference the project
does not ship) and is skipped without it. The other tests need only the models.
"""

from __future__ import annotations

import datetime
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from adapters.sap import shapes

EDMX = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "fixtures"
    / "sap"
    / "odata"
    / "API_SALES_ORDER_SRV.edmx"
)
EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"
SAP = "{http://www.sap.com/Protocols/SAPData}"

MODELS: list[type[BaseModel]] = sorted(
    (
        obj
        for name, obj in vars(shapes).items()
        if isinstance(obj, type)
        and issubclass(obj, BaseModel)
        and obj.__module__ == shapes.__name__
        and not name.startswith("_")
    ),
    key=lambda model: model.__name__,
)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); ``X`` -> (X, False)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        rest = [arg for arg in args if arg is not type(None)]
        assert len(rest) == 1, f"unexpected union {annotation}"
        return rest[0], len(rest) != len(args)
    return annotation, False


def _target_model(annotation: Any) -> type[BaseModel] | None:
    """The model a navigation field holds (``list[M]`` or ``M``), or None for a property."""
    base, _ = _unwrap(annotation)
    if typing.get_origin(base) is list:
        (base,) = typing.get_args(base)
    if isinstance(base, type) and issubclass(base, BaseModel):
        return base
    return None


def _facet(info: FieldInfo, name: str) -> Any:
    """A constraint (max_length, max_digits, decimal_places) set on a pydantic field."""
    for item in info.metadata:
        value = getattr(item, name, None)
        if value is not None:
            return value
    return None


FIELDS = [
    pytest.param(model, name, id=f"{model.__name__}.{name}")
    for model in MODELS
    for name, info in model.model_fields.items()
    if _target_model(info.annotation) is None
]
NAVIGATIONS = [
    pytest.param(model, name, id=f"{model.__name__}.{name}")
    for model in MODELS
    for name, info in model.model_fields.items()
    if _target_model(info.annotation) is not None
]


@dataclass
class EntityType:
    label: str
    keys: set[str]
    properties: dict[str, dict[str, str]]
    navigations: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Navigation name -> (target entity type name, target multiplicity)."""


@dataclass
class Metadata:
    entity_sets: dict[str, str]
    """Entity set name -> entity type name."""
    entity_types: dict[str, EntityType]

    def of(self, model: type[BaseModel]) -> EntityType:
        return self.entity_types[self.entity_sets[model.__name__]]


def _local(qualified: str) -> str:
    return qualified.rpartition(".")[2]


def _read_edmx(path: Path) -> Metadata:
    etree = pytest.importorskip("lxml.etree")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.parse(str(path), parser).getroot()
    ends: dict[tuple[str, str], tuple[str, str]] = {}
    for association in root.iter(f"{EDM}Association"):
        for end in association.iter(f"{EDM}End"):
            ends[(association.get("Name"), end.get("Role"))] = (
                _local(end.get("Type")),
                end.get("Multiplicity"),
            )
    entity_types: dict[str, EntityType] = {}
    for element in root.iter(f"{EDM}EntityType"):
        entity_type = EntityType(
            label=element.get(f"{SAP}label", ""),
            keys={ref.get("Name") for ref in element.iter(f"{EDM}PropertyRef")},
            properties={
                prop.get("Name"): dict(prop.attrib) for prop in element.iter(f"{EDM}Property")
            },
        )
        for nav in element.iter(f"{EDM}NavigationProperty"):
            relationship = _local(nav.get("Relationship"))
            entity_type.navigations[nav.get("Name")] = ends[(relationship, nav.get("ToRole"))]
        entity_types[element.get("Name")] = entity_type
    entity_sets = {
        entity_set.get("Name"): _local(entity_set.get("EntityType"))
        for entity_set in root.iter(f"{EDM}EntitySet")
    }
    return Metadata(entity_sets=entity_sets, entity_types=entity_types)


@pytest.fixture(scope="module")
def edmx() -> Metadata:
    return _read_edmx(EDMX)


class TestAgainstEdmx:
    """Every field of every model is checked against the EDMX of API_SALES_ORDER_SRV."""

    pytestmark = [  # noqa: RUF012 - pytest reads this class attribute
        pytest.mark.shared,
        pytest.mark.skipif(not EDMX.is_file(), reason=f"needs {EDMX} (../shared)"),
    ]

    def test_the_edmx_is_the_sales_order_service(self, edmx: Metadata) -> None:
        assert edmx.entity_sets["A_SalesOrder"] == "A_SalesOrderType"
        assert len(edmx.of(shapes.A_SalesOrder).properties) > 50

    @pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
    def test_each_model_is_an_entity_set(self, edmx: Metadata, model: type[BaseModel]) -> None:
        assert model.__name__ in edmx.entity_sets
        assert model.model_config.get("extra") == "forbid"
        assert model.model_config.get("populate_by_name") is False

    @pytest.mark.parametrize(("model", "name"), FIELDS)
    def test_property(self, edmx: Metadata, model: type[BaseModel], name: str) -> None:
        entity_type = edmx.of(model)
        assert name in entity_type.properties, (
            f"{name} is not a property of {edmx.entity_sets[model.__name__]}"
        )
        prop = entity_type.properties[name]
        info = model.model_fields[name]
        base, optional = _unwrap(info.annotation)
        edm_type = prop["Type"]

        if edm_type == "Edm.String":
            assert base is str
            assert _facet(info, "max_length") == int(prop["MaxLength"])
        elif edm_type == "Edm.Decimal":
            assert base is Decimal
            assert _facet(info, "max_digits") == int(prop["Precision"])
            assert _facet(info, "decimal_places") == int(prop["Scale"])
            assert _facet(info, "allow_inf_nan") is False
        elif edm_type == "Edm.DateTime" and prop.get(f"{SAP}display-format") == "Date":
            assert base is datetime.date
        elif edm_type in ("Edm.DateTime", "Edm.DateTimeOffset"):
            assert base is datetime.datetime
        elif edm_type == "Edm.Boolean":
            assert base is bool
        else:
            pytest.fail(f"no rule for {edm_type} ({name})")
        if edm_type != "Edm.String":
            assert _facet(info, "max_length") is None
        if edm_type != "Edm.Decimal":
            assert _facet(info, "max_digits") is None
            assert _facet(info, "decimal_places") is None

        if prop.get("Nullable") == "false" or name in entity_type.keys:
            assert info.is_required()
            assert not optional
        if optional:
            assert info.default is None
        assert prop.get(f"{SAP}creatable") != "false", f"SAP does not accept {name} on create"
        assert info.description == prop.get(f"{SAP}quickinfo", prop.get(f"{SAP}label"))

    @pytest.mark.parametrize(("model", "name"), NAVIGATIONS)
    def test_navigation(self, edmx: Metadata, model: type[BaseModel], name: str) -> None:
        entity_type = edmx.of(model)
        assert name in entity_type.navigations, (
            f"{name} is not a navigation of {edmx.entity_sets[model.__name__]}"
        )
        target_type, multiplicity = entity_type.navigations[name]
        info = model.model_fields[name]
        target = _target_model(info.annotation)
        assert target is not None
        assert edmx.entity_sets[target.__name__] == target_type
        base, _ = _unwrap(info.annotation)
        assert (typing.get_origin(base) is list) == (multiplicity == "*")
        assert info.description == edmx.entity_types[target_type].label

    @pytest.mark.parametrize(
        ("model", "name", "target_type"),
        [
            (shapes.A_SalesOrder, "to_Item", "A_SalesOrderItemType"),
            (shapes.A_SalesOrder, "to_Partner", "A_SalesOrderHeaderPartnerType"),
            (shapes.A_SalesOrderItem, "to_PricingElement", "A_SalesOrderItemPrElementType"),
        ],
    )
    def test_deep_insert_navigations(
        self, edmx: Metadata, model: type[BaseModel], name: str, target_type: str
    ) -> None:
        assert edmx.of(model).navigations[name] == (target_type, "*")


def _order() -> dict[str, Any]:
    return {
        "SalesOrderType": "OR",
        "SalesOrganization": "1010",
        "DistributionChannel": "10",
        "OrganizationDivision": "00",
        "SoldToParty": "10100001",
        "PurchaseOrderByCustomer": "000000042",
        "CustomerPurchaseOrderDate": "2024-05-17",
        "RequestedDeliveryDate": datetime.date(2024, 5, 24),
        "TransactionCurrency": "EUR",
        "CustomerPaymentTerms": "0001",
        "IncotermsClassification": "EXW",
        "to_Item": [
            {
                "SalesOrderItem": "10",
                "Material": "TG11",
                "SalesOrderItemText": "Trad. Good 11, PD, Reorder Point",
                "RequestedQuantity": "2",
                "RequestedQuantityUnit": "PC",
                "MaterialByCustomer": "MH01-XS-Black",
                "ProductionPlant": "1010",
                "to_PricingElement": [
                    {
                        "ConditionType": "PPR0",
                        "ConditionRateValue": Decimal("34.500000000"),
                        "ConditionCurrency": "EUR",
                        "ConditionQuantity": 1,
                        "ConditionQuantityUnit": "PC",
                    }
                ],
            },
            {"SalesOrderItem": "20", "Material": "TG12", "RequestedQuantity": "1.5"},
        ],
        "to_Partner": [{"PartnerFunction": "WE", "Customer": "10100002"}],
    }


def _errors(payload: dict[str, Any]) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        shapes.A_SalesOrder.model_validate(payload)
    return [(error["loc"], error["type"]) for error in caught.value.errors()]


def test_shapes_names_the_sales_order() -> None:
    assert list(shapes.SHAPES) == ["A_SalesOrder"]
    assert shapes.SHAPES["A_SalesOrder"] is shapes.A_SalesOrder


def test_a_deep_insert_validates() -> None:
    order = shapes.A_SalesOrder.model_validate(_order())

    assert order.CustomerPurchaseOrderDate == datetime.date(2024, 5, 17)
    assert order.to_Item[0].RequestedQuantity == Decimal(2)
    assert order.to_Item[1].RequestedQuantity == Decimal("1.5")
    assert order.to_Item[1].to_PricingElement is None
    pricing = order.to_Item[0].to_PricingElement
    assert pricing is not None
    assert pricing[0].ConditionRateValue == Decimal("34.5")
    assert pricing[0].ConditionQuantity == Decimal(1)
    assert order.to_Partner is not None
    assert order.to_Partner[0].Customer == "10100002"
    assert order.DeliveryBlockReason is None
    dumped = order.model_dump(exclude_none=True)
    assert set(dumped) == set(_order())
    assert set(dumped["to_Item"][1]) == {"SalesOrderItem", "Material", "RequestedQuantity"}


def test_a_minimal_order_validates() -> None:
    order = shapes.A_SalesOrder.model_validate(
        {
            "SalesOrderType": "OR",
            "SalesOrganization": "1010",
            "DistributionChannel": "10",
            "OrganizationDivision": "00",
            "SoldToParty": "10100001",
            "to_Item": [{"SalesOrderItem": "10", "Material": "TG11", "RequestedQuantity": 1}],
        }
    )
    assert order.to_Partner is None


def test_a_too_long_sold_to_party_is_rejected() -> None:
    payload = _order()
    payload["SoldToParty"] = "10100001234"  # 11 characters; SAP's field holds 10

    assert _errors(payload) == [(("SoldToParty",), "string_too_long")]


@pytest.mark.parametrize(
    ("where", "loc"),
    [
        ("header", ("SalesOrderTypo",)),
        ("item", ("to_Item", 0, "Plant")),
        ("pricing", ("to_Item", 0, "to_PricingElement", 0, "ConditionAmount")),
        ("partner", ("to_Partner", 0, "customer")),
    ],
)
def test_an_unknown_property_is_rejected(where: str, loc: tuple[int | str, ...]) -> None:
    payload = _order()
    target: Any = payload
    for step in loc[:-1]:
        target = target[step]
    target[loc[-1]] = "X"

    assert _errors(payload) == [(loc, "extra_forbidden")], where


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("1.0005", "decimal_max_places"),
        ("1234567890123", "decimal_whole_digits"),
        ("NaN", "finite_number"),
    ],
)
def test_a_quantity_sap_cannot_hold_is_rejected(value: str, error: str) -> None:
    payload = _order()
    payload["to_Item"][0]["RequestedQuantity"] = value

    assert _errors(payload) == [(("to_Item", 0, "RequestedQuantity"), error)]


def test_an_order_without_items_is_rejected() -> None:
    payload = _order()
    payload["to_Item"] = []

    assert _errors(payload) == [(("to_Item",), "too_short")]


def test_required_properties_are_required() -> None:
    payload = _order()
    del payload["SoldToParty"]
    del payload["to_Item"][0]["Material"]

    assert sorted(_errors(payload), key=str) == [
        (("SoldToParty",), "missing"),
        (("to_Item", 0, "Material"), "missing"),
    ]
