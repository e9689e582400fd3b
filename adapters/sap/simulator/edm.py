"""The service model read from an EDMX ``$metadata``, and OData V2 JSON values.

:class:`Service` holds what the simulator needs from the metadata: entity sets, entity
types with their keys, properties (type, ``MaxLength``, ``Precision``/``Scale``,
``Nullable``, ``sap:creatable``/``sap:updatable``, ``sap:unit``, ``sap:semantics``,
``sap:display-format``, ``ConcurrencyMode``) and navigations (target type and entity set
from the association sets, and multiplicity).

Values inside the simulator are Python values: ``str``, :class:`~decimal.Decimal`,
``bool``, aware UTC :class:`~datetime.datetime` (Edm.DateTime / Edm.DateTimeOffset),
:class:`~datetime.timedelta` (Edm.Time), ``int``, ``float`` or None. :func:`parse_value`
turns a request's JSON value into one (refusing what SAP's deserializer refuses: a wrong
JSON type, a string longer than ``MaxLength``, more digits than ``Precision``/``Scale``);
:func:`render_value` writes one as OData V2 JSON: Edm.Decimal as a string (amounts with the
decimals of their currency, quantities with those of their unit, else ``Scale``),
Edm.DateTime as ``/Date(<ms>)/``, Edm.DateTimeOffset as ``/Date(<ms>+0000)/``, Edm.Time as
``PT12H00M00S``.

The EDMX is parsed with the standard library's ElementTree: by default the project's own
files in ``adapters/sap/metadata`` (the subset of SAP's interface the simulator uses), or
SAP's complete metadata from a local folder (``SimulatorConfig.metadata_dir``); trusted
local input either way (no DTDs, no entities).
"""

from __future__ import annotations

import datetime
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any, Final

from adapters.sap.metadata import edmx_bytes
from hub.errors import MoneyError
from hub.money import minor_units

__all__ = [
    "ALPHA_PROPERTIES",
    "EPOCH",
    "EdmValueError",
    "EntitySet",
    "EntityType",
    "Navigation",
    "Property",
    "Service",
    "alpha",
    "coerce_value",
    "format_datetime_literal",
    "load_service",
    "parse_value",
    "render_value",
]

EDM: Final = "{http://schemas.microsoft.com/ado/2008/09/edm}"
SAP: Final = "{http://www.sap.com/Protocols/SAPData}"
META: Final = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)

# Decimals of the units of measure the simulator knows (T006-DECAN); others use Scale.
UNIT_DECIMALS: Final = {
    "PC": 0, "EA": 0, "ST": 0, "PAA": 0, "CS": 0, "BOX": 0, "PAK": 0, "CAR": 0,
    "KG": 3, "G": 3, "TO": 3, "L": 3, "ML": 3, "M": 3, "CM": 3, "MM": 3, "M2": 3, "M3": 3,
    "H": 3, "MIN": 3,
}  # fmt: skip

# Properties whose domain has SAP's ALPHA conversion: an all-digit value is the same number
# with or without leading zeros, and SAP shows it without them ("0000000001" is "1").
ALPHA_PROPERTIES: Final = frozenset(
    {
        "SalesOrder",
        "SalesOrderItem",
        "HigherLevelItem",
        "SoldToParty",
        "Customer",
        "BusinessPartner",
        "Supplier",
        "PricingProcedureStep",
        "PricingProcedureCounter",
        "ScheduleLine",
        "ReferenceSDDocument",
        "ReferenceSDDocumentItem",
    }
)

_JSON_DATE = re.compile(r"^/Date\((?P<ms>-?\d+)(?P<offset>[+-]\d{4})?\)/$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?)"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?$"
)
_DURATION = re.compile(r"^PT(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?$")


def alpha(value: str) -> str:
    """SAP's ALPHA conversion for display: an all-digit number without its leading zeros."""
    if value.isdigit():
        return value.lstrip("0") or "0"
    return value


class EdmValueError(ValueError):
    """A value that does not fit its property: ``kind`` is ``type``, ``length``,
    ``digits`` or ``null``."""

    def __init__(self, prop: Property, kind: str, value: Any, detail: str) -> None:
        super().__init__(detail)
        self.prop = prop
        self.kind = kind
        self.value = value
        self.detail = detail


@dataclass(frozen=True)
class Property:
    """One ``<Property>`` of an entity type."""

    name: str
    edm_type: str
    nullable: bool = True
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    creatable: bool = True
    updatable: bool = True
    filterable: bool = True
    display_format: str = ""
    unit: str = ""
    """``sap:unit``: the property that holds this value's currency or unit of measure."""
    semantics: str = ""
    """``sap:semantics``, e.g. ``currency-code`` or ``unit-of-measure``."""
    concurrency: bool = False
    """``ConcurrencyMode="Fixed"``: the property is the entity's ETag."""
    label: str = ""


@dataclass(frozen=True)
class Navigation:
    """One ``<NavigationProperty>``: where it leads and whether to many."""

    name: str
    target_type: str
    target_set: str
    many: bool


@dataclass
class EntityType:
    name: str
    namespace: str
    keys: tuple[str, ...]
    properties: dict[str, Property]
    navigations: dict[str, Navigation] = field(default_factory=dict)
    label: str = ""

    @property
    def qualified_name(self) -> str:
        return f"{self.namespace}.{self.name}"

    @property
    def etag_property(self) -> Property | None:
        return next((p for p in self.properties.values() if p.concurrency), None)


@dataclass(frozen=True)
class EntitySet:
    name: str
    entity_type: EntityType
    creatable: bool = True
    updatable: bool = True
    deletable: bool = True


@dataclass
class Service:
    """One OData V2 service as its EDMX describes it."""

    name: str
    namespace: str
    edmx: bytes
    entity_sets: dict[str, EntitySet]
    entity_types: dict[str, EntityType]
    function_imports: frozenset[str] = frozenset()

    def entity_set(self, name: str) -> EntitySet:
        return self.entity_sets[name]

    def type_of(self, set_name: str) -> EntityType:
        return self.entity_sets[set_name].entity_type


def _flag(element: ET.Element, name: str) -> bool:
    return element.get(f"{SAP}{name}", "true") != "false"


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _local(qualified: str) -> str:
    return qualified.rpartition(".")[2]


def parse_service(name: str, edmx: bytes) -> Service:
    """The :class:`Service` described by an EDMX document."""
    root = ET.fromstring(edmx)  # noqa: S314 -- local EDMX files only (see the module doc)
    schema = root.find(f".//{EDM}Schema")
    if schema is None:
        raise ValueError(f"{name}: no <Schema> in the EDMX")
    namespace = schema.get("Namespace", name)
    ends: dict[tuple[str, str], tuple[str, str]] = {}
    for association in schema.iter(f"{EDM}Association"):
        for end in association.iter(f"{EDM}End"):
            ends[(association.get("Name", ""), end.get("Role", ""))] = (
                _local(end.get("Type", "")),
                end.get("Multiplicity", ""),
            )
    association_sets: dict[tuple[str, str], str] = {}
    for association_set in schema.iter(f"{EDM}AssociationSet"):
        association_name = _local(association_set.get("Association", ""))
        for end in association_set.iter(f"{EDM}End"):
            association_sets[(association_name, end.get("Role", ""))] = end.get("EntitySet", "")

    sets_by_type: dict[str, str] = {}
    raw_sets = list(schema.iter(f"{EDM}EntitySet"))
    for entity_set in raw_sets:
        sets_by_type.setdefault(
            _local(entity_set.get("EntityType", "")), entity_set.get("Name", "")
        )

    entity_types: dict[str, EntityType] = {}
    for element in schema.iter(f"{EDM}EntityType"):
        properties: dict[str, Property] = {}
        for prop in element.iter(f"{EDM}Property"):
            prop_name = prop.get("Name", "")
            properties[prop_name] = Property(
                name=prop_name,
                edm_type=prop.get("Type", "Edm.String"),
                nullable=prop.get("Nullable", "true") != "false",
                max_length=_int(prop.get("MaxLength")),
                precision=_int(prop.get("Precision")),
                scale=_int(prop.get("Scale")),
                creatable=_flag(prop, "creatable"),
                updatable=_flag(prop, "updatable"),
                filterable=_flag(prop, "filterable"),
                display_format=prop.get(f"{SAP}display-format", ""),
                unit=prop.get(f"{SAP}unit", ""),
                semantics=prop.get(f"{SAP}semantics", ""),
                concurrency=prop.get("ConcurrencyMode") == "Fixed",
                label=prop.get(f"{SAP}label", ""),
            )
        navigations: dict[str, Navigation] = {}
        for nav in element.iter(f"{EDM}NavigationProperty"):
            relationship = _local(nav.get("Relationship", ""))
            to_role = nav.get("ToRole", "")
            target_type, multiplicity = ends[(relationship, to_role)]
            target_set = association_sets.get((relationship, to_role)) or sets_by_type.get(
                target_type, ""
            )
            nav_name = nav.get("Name", "")
            navigations[nav_name] = Navigation(
                nav_name, target_type, target_set, multiplicity == "*"
            )
        type_name = element.get("Name", "")
        entity_types[type_name] = EntityType(
            name=type_name,
            namespace=namespace,
            keys=tuple(ref.get("Name", "") for ref in element.iter(f"{EDM}PropertyRef")),
            properties=properties,
            navigations=navigations,
            label=element.get(f"{SAP}label", ""),
        )
    entity_sets = {
        entity_set.get("Name", ""): EntitySet(
            name=entity_set.get("Name", ""),
            entity_type=entity_types[_local(entity_set.get("EntityType", ""))],
            creatable=_flag(entity_set, "creatable"),
            updatable=_flag(entity_set, "updatable"),
            deletable=_flag(entity_set, "deletable"),
        )
        for entity_set in raw_sets
    }
    function_imports = frozenset(
        element.get("Name", "") for element in schema.iter(f"{EDM}FunctionImport")
    )
    return Service(name, namespace, edmx, entity_sets, entity_types, function_imports)


@cache
def load_service(name: str, metadata_dir: str | None = None) -> Service:
    """The service ``name`` (``API_SALES_ORDER_SRV`` or ``API_BUSINESS_PARTNER``) from the
    project's EDMX, or from ``<metadata_dir>/<name>.edmx`` (SAP's own metadata)."""
    return parse_service(name, edmx_bytes(name, metadata_dir))


# ------------------------------------------------------------------ JSON -> Python


def _decimal(prop: Property, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise EdmValueError(prop, "type", value, f"expected {prop.edm_type} as a string")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise EdmValueError(prop, "type", value, f"{value!r} is not a number") from None
    if not number.is_finite():
        raise EdmValueError(prop, "type", value, f"{value!r} is not a finite number")
    if prop.precision is not None:
        scale = prop.scale or 0
        exponent = number.normalize().as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        whole = len(str(abs(int(number)))) if abs(number) >= 1 else 0
        if places > scale or whole > prop.precision - scale:
            raise EdmValueError(
                prop,
                "digits",
                value,
                f"{value} does not fit Precision {prop.precision}, Scale {scale}",
            )
    return number


def _datetime(prop: Property, value: Any) -> datetime.datetime:
    if not isinstance(value, str):
        raise EdmValueError(prop, "type", value, f"expected {prop.edm_type} as a string")
    text = value.strip()
    moment: datetime.datetime
    if match := _JSON_DATE.match(text):
        moment = EPOCH + datetime.timedelta(milliseconds=int(match["ms"]))
        offset = match["offset"]
        if offset and prop.edm_type == "Edm.DateTime":
            # /Date(ms+mmmm)/ on an Edm.DateTime: the minutes are added, as SAP does.
            moment += datetime.timedelta(minutes=int(offset))
    elif match := _ISO_DATETIME.match(text):
        zone = match["zone"]
        iso = f"{match['date']}T{match['time']}"
        if "." in iso:
            head, _, fraction = iso.partition(".")
            iso = f"{head}.{fraction[:6].ljust(6, '0')}"
        try:
            parsed = datetime.datetime.fromisoformat(iso)
        except ValueError:
            raise EdmValueError(prop, "type", value, f"{value!r} is not a date") from None
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            hours, minutes = int(zone[1:3]), int(zone[4:6])
            delta = datetime.timedelta(hours=hours, minutes=minutes) * sign
            moment = parsed.replace(tzinfo=datetime.timezone(delta)).astimezone(datetime.UTC)
        else:
            moment = parsed.replace(tzinfo=datetime.UTC)
    elif _ISO_DATE.match(text):
        # Lenient: a bare ISO date for a date property (midnight UTC of that day).
        try:
            day = datetime.date.fromisoformat(text)
        except ValueError:
            raise EdmValueError(prop, "type", value, f"{value!r} is not a date") from None
        moment = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)
    else:
        raise EdmValueError(
            prop, "type", value, f"{value!r} is not an {prop.edm_type} (/Date(<ms>)/)"
        )
    if prop.display_format == "Date":
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment


def _time(prop: Property, value: Any) -> datetime.timedelta:
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if match is None or value.strip() == "PT":
        raise EdmValueError(prop, "type", value, f"{value!r} is not an Edm.Time (PT12H00M00S)")
    return datetime.timedelta(
        hours=int(match["h"] or 0), minutes=int(match["m"] or 0), seconds=float(match["s"] or 0)
    )


def parse_value(prop: Property, value: Any) -> Any:
    """A request's JSON value for ``prop`` as a Python value, or :class:`EdmValueError`."""
    if value is None:
        if not prop.nullable:
            raise EdmValueError(prop, "null", value, f"{prop.name} must not be null")
        return None
    edm_type = prop.edm_type
    if edm_type == "Edm.String":
        if not isinstance(value, str):
            raise EdmValueError(prop, "type", value, f"expected a string for {prop.name}")
        if prop.max_length is not None and len(value) > prop.max_length:
            raise EdmValueError(
                prop,
                "length",
                value,
                f"{value!r} is longer than {prop.max_length} characters",
            )
        if prop.display_format == "NonNegative" and value and not value.isdigit():
            raise EdmValueError(prop, "type", value, f"{value!r} is not a number of digits")
        return alpha(value) if prop.name in ALPHA_PROPERTIES else value
    if edm_type == "Edm.Decimal":
        return _decimal(prop, value)
    if edm_type == "Edm.Boolean":
        if not isinstance(value, bool):
            raise EdmValueError(prop, "type", value, f"expected true or false for {prop.name}")
        return value
    if edm_type in ("Edm.DateTime", "Edm.DateTimeOffset"):
        return _datetime(prop, value)
    if edm_type == "Edm.Time":
        return _time(prop, value)
    if edm_type == "Edm.Guid":
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise EdmValueError(prop, "type", value, f"{value!r} is not a GUID") from None
    if edm_type in ("Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise EdmValueError(prop, "type", value, f"expected an integer for {prop.name}")
        try:
            return int(value)
        except ValueError:
            raise EdmValueError(prop, "type", value, f"{value!r} is not an integer") from None
    if edm_type in ("Edm.Double", "Edm.Single"):
        if isinstance(value, bool) or not isinstance(value, int | str | Decimal | float):
            raise EdmValueError(prop, "type", value, f"expected a number for {prop.name}")
        try:
            return float(value)
        except ValueError:
            raise EdmValueError(prop, "type", value, f"{value!r} is not a number") from None
    return value


def coerce_value(prop: Property, value: Any) -> Any:
    """Like :func:`parse_value`, also accepting Python values (Decimal, date, datetime,
    timedelta): for callers that are not HTTP, such as an RFC stand-in."""
    if value is None:
        return parse_value(prop, value)
    if prop.edm_type in ("Edm.DateTime", "Edm.DateTimeOffset"):
        if isinstance(value, datetime.datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
            moment = moment.astimezone(datetime.UTC)
            if prop.display_format == "Date":
                moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
            return moment
        if isinstance(value, datetime.date):
            return datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.UTC)
    if prop.edm_type == "Edm.Time" and isinstance(value, datetime.timedelta):
        return value
    if prop.edm_type == "Edm.Decimal" and isinstance(value, float):
        raise EdmValueError(prop, "type", value, f"{prop.name}: a float is not exact")
    return parse_value(prop, value)


# ------------------------------------------------------------------ Python -> JSON


def _places(entity_type: EntityType, prop: Property, record: dict[str, Any]) -> int | None:
    if prop.unit:
        unit_prop = entity_type.properties.get(prop.unit)
        unit = record.get(prop.unit)
        if unit_prop is not None and isinstance(unit, str) and unit:
            if unit_prop.semantics == "currency-code":
                try:
                    return minor_units(unit)
                except MoneyError:
                    return 2
            if unit.upper() in UNIT_DECIMALS:
                return UNIT_DECIMALS[unit.upper()]
    return prop.scale


def format_datetime_literal(moment: datetime.datetime) -> str:
    """``2025-05-05T08:00:00.1234567Z`` (seven fraction digits, as SAP's ETags)."""
    utc = moment.astimezone(datetime.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}0Z"


def _ms(moment: datetime.datetime) -> int:
    return (moment - EPOCH) // datetime.timedelta(milliseconds=1)


def render_value(entity_type: EntityType, prop: Property, record: dict[str, Any]) -> Any:
    """The OData V2 JSON value of ``prop`` in ``record`` (missing values render as SAP's
    initial values: "" for strings, "0" for decimals, false, null for dates)."""
    value = record.get(prop.name)
    edm_type = prop.edm_type
    if edm_type == "Edm.String":
        return "" if value is None else str(value)
    if edm_type == "Edm.Decimal":
        number = Decimal(0) if value is None else Decimal(value)
        places = _places(entity_type, prop, record)
        if places is not None:
            number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        return f"{number:f}"
    if edm_type == "Edm.Boolean":
        return bool(value)
    if edm_type == "Edm.DateTime":
        return None if value is None else f"/Date({_ms(value)})/"
    if edm_type == "Edm.DateTimeOffset":
        return None if value is None else f"/Date({_ms(value)}+0000)/"
    if edm_type == "Edm.Time":
        span = value if isinstance(value, datetime.timedelta) else datetime.timedelta()
        seconds = int(span.total_seconds())
        return f"PT{seconds // 3600:02d}H{seconds % 3600 // 60:02d}M{seconds % 60:02d}S"
    if edm_type in ("Edm.Int64",):
        return str(value or 0)
    if edm_type in ("Edm.Double", "Edm.Single"):
        return str(float(value or 0))
    if edm_type == "Edm.Guid":
        return value or "00000000-0000-0000-0000-000000000000"
    return value
