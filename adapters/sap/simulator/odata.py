"""One OData V2 service over the simulator's state: URLs, reads, deep insert, updates.

:class:`ODataService` answers an :class:`ODataRequest` (method, path below the service
root, query, headers, body, authenticated user) with an :class:`ODataResponse`. It knows
nothing of HTTP servers, authentication or CSRF: the FastAPI app calls it for a single
request and the ``$batch`` handler for each part.

Supported:

* ``GET <root>/`` (service document), ``GET <root>/$metadata`` (the EDMX).
* ``GET <Set>`` with ``$filter``, ``$orderby``, ``$top``, ``$skip``, ``$select``,
  ``$expand``, ``$inlinecount=allpages``; ``GET <Set>/$count``.
* ``GET <Set>(<key>)``, navigation ``<Set>(<key>)/<nav>[(<key>)]…``, a single property
  ``<Set>(<key>)/<Property>``.
* ``POST A_SalesOrder`` deep insert with ``to_Item`` (each with ``to_PricingElement``) and
  ``to_Partner``, through :meth:`SapState.create_sales_order`.
* ``PATCH``/``MERGE``/``PUT`` of ``A_SalesOrder`` and ``A_SalesOrderItem`` (the order is
  priced again), ``DELETE`` of both; ``A_SalesOrder`` carries an ETag
  (``LastChangeDateTime``) that changes need in ``If-Match``.

Everything else answers SAP's "not implemented in data provider class" (501).
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

from adapters.sap.simulator.edm import (
    EdmValueError,
    EntityType,
    Property,
    format_datetime_literal,
    parse_value,
    render_value,
)
from adapters.sap.simulator.errors import (
    BUSI_EXCEPTION,
    NOT_IMPLEMENTED,
    Messages,
    SalesOrderError,
    SapError,
    SapMessage,
    error_body,
)
from adapters.sap.simulator.query import (
    ExpandTree,
    format_key,
    parse_expand,
    parse_filter,
    parse_key,
    parse_orderby,
    parse_select,
    sort_records,
    split_path,
)
from adapters.sap.simulator.state import SALES_ORDER, SapState

__all__ = ["JSON_TYPE", "MODIFYING", "ODataRequest", "ODataResponse", "ODataService"]

JSON_TYPE: Final = "application/json; charset=utf-8"
MODIFYING: Final = frozenset({"POST", "PUT", "PATCH", "MERGE", "DELETE"})
SYSTEM_OPTIONS: Final = frozenset(
    {
        "$filter",
        "$orderby",
        "$top",
        "$skip",
        "$select",
        "$expand",
        "$inlinecount",
        "$format",
        "$skiptoken",
        "$count",
    }
)
DEEP_INSERT: Final[ExpandTree] = {"to_Item": {"to_PricingElement": {}}, "to_Partner": {}}
UPDATABLE: Final = frozenset({"A_SalesOrder", "A_SalesOrderItem"})
COMPONENT: Final = {"API_SALES_ORDER_SRV": "SD-SLS-API", "API_BUSINESS_PARTNER": "LO-MD-BP-WS"}
# /IWFND/CM_MGW_RT 028 (SAP): the request body cannot be read.
DESERIALIZATION: Final = ("/IWFND/CM_MGW_RT/028", "Transformation error on deserialization")
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<key>.*)\))?$", re.DOTALL)


@dataclass
class ODataRequest:
    method: str
    path: str
    """Below the service root, percent-decoded, without a leading slash."""
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    """Lower-case header names."""
    body: bytes = b""
    user: str = ""
    base_url: str = ""
    """The service root URL, with a trailing slash."""


@dataclass
class ODataResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    change: str = ""
    """``create``, ``update`` or ``delete`` when the request changed something."""
    location: str = ""
    """Of a created entity: its path below the service root (``A_SalesOrder('1')``)."""


@dataclass
class _Target:
    entity_set: str
    entity_type: EntityType
    records: list[dict[str, Any]]
    single: bool
    segment: str
    parent: tuple[str, dict[str, Any], str] | None = None
    """(parent entity set, parent record, navigation) of a navigation target."""
    count: bool = False
    prop: Property | None = None


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> ODataResponse:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return ODataResponse(
        status,
        {"content-type": JSON_TYPE, "dataserviceversion": "2.0", **(headers or {})},
        body,
    )


def _natural(value: Any) -> tuple[int, str]:
    text = "" if value is None else str(value)
    return (len(text), text) if text.isdigit() else (0, text)


def _not_found(segment: str) -> SapError:
    return SapError(404, BUSI_EXCEPTION, f"Resource not found for the segment '{segment}'")


def _not_implemented(entity_set: str, operation: str) -> SapError:
    return SapError(
        501,
        NOT_IMPLEMENTED,
        f"Method '{entity_set.upper()}_{operation}' not implemented in data provider class",
    )


class ODataService:
    """The OData V2 service ``name`` over ``state``."""

    def __init__(self, state: SapState, name: str) -> None:
        self.state = state
        self.name = name
        self.service = state.services[name]

    # ------------------------------------------------------------------ entry

    def handle(self, request: ODataRequest, *, in_batch: bool = False) -> ODataResponse:
        """The answer to ``request``; SAP errors become SAP error bodies."""
        try:
            return self._dispatch(request)
        except SalesOrderError as exc:
            return self.error(exc.to_http(), in_batch=in_batch)
        except SapError as exc:
            return self.error(exc, in_batch=in_batch)

    def error(self, error: SapError, *, in_batch: bool = False) -> ODataResponse:
        body = error_body(
            error,
            service=self.name,
            now=datetime.datetime.now(datetime.UTC),
            component=COMPONENT.get(self.name, ""),
            in_batch=in_batch,
        )
        return _json(body, error.status, error.headers)

    def _dispatch(self, request: ODataRequest) -> ODataResponse:
        method = request.method.upper()
        path = request.path.strip("/")
        if path == "":
            if method not in ("GET", "HEAD"):
                raise SapError(405, BUSI_EXCEPTION, f"Method {method} not allowed on the service")
            return _json({"d": {"EntitySets": list(self.service.entity_sets)}})
        if path == "$metadata":
            if method not in ("GET", "HEAD"):
                raise SapError(405, BUSI_EXCEPTION, f"Method {method} not allowed on $metadata")
            return ODataResponse(
                200,
                {"content-type": "application/xml", "dataserviceversion": "2.0"},
                self.service.edmx,
            )
        options = self._options(request.query)
        target = self._resolve(path)
        if method in ("GET", "HEAD"):
            return self._read(request, target, options)
        if method == "POST":
            return self._create(request, target)
        if method in ("PUT", "PATCH", "MERGE"):
            return self._update(request, target)
        if method == "DELETE":
            return self._delete(request, target)
        raise SapError(405, BUSI_EXCEPTION, f"Method {method} is not supported")

    @staticmethod
    def _options(query: list[tuple[str, str]]) -> dict[str, str]:
        options: dict[str, str] = {}
        for name, value in query:
            if name.startswith("$"):
                if name not in SYSTEM_OPTIONS:
                    raise SapError(400, BUSI_EXCEPTION, f"System query option '{name}' is invalid")
                options[name] = value
        fmt = options.get("$format", "json")
        if fmt not in ("json", "application/json"):
            raise SapError(
                415, BUSI_EXCEPTION, f"The simulator answers JSON only, not $format={fmt}"
            )
        return options

    # ------------------------------------------------------------------ URLs

    def _records(self, entity_set: str) -> list[dict[str, Any]]:
        entity_type = self.service.type_of(entity_set)
        entities = self.state.entities(self.name, entity_set)
        return (
            [
                entities[key]
                for key in sorted(entities, key=lambda key: tuple(_natural(part) for part in key))
            ]
            if entity_type.keys
            else list(entities.values())
        )

    def related(
        self, entity_set: str, record: dict[str, Any], navigation: str
    ) -> tuple[str, list[dict[str, Any]]]:
        """The target entity set and the records ``navigation`` leads to from ``record``.

        The services' associations have no referential constraints; the simulator joins on
        the key properties the two types share (an item's ``SalesOrder``, a pricing
        element's ``SalesOrder`` and ``SalesOrderItem``), and a to-one navigation whose
        target's keys are all properties of the source reads the target by key."""
        source_type = self.service.type_of(entity_set)
        nav = source_type.navigations[navigation]
        target_set = nav.target_set
        target_type = self.service.type_of(target_set)
        entities = self.state.entities(self.name, target_set)
        if not nav.many and all(key in source_type.properties for key in target_type.keys):
            found = entities.get(tuple(record.get(key) for key in target_type.keys))
            return target_set, [found] if found is not None else []
        shared = [key for key in source_type.keys if key in target_type.properties]
        if not shared:
            return target_set, []
        matches = [
            (key, candidate)
            for key, candidate in entities.items()
            if all(candidate.get(name) == record.get(name) for name in shared)
        ]
        matches.sort(key=lambda pair: tuple(_natural(part) for part in pair[0]))
        return target_set, [candidate for _, candidate in matches]

    def _resolve(self, path: str) -> _Target:
        segments = split_path(path)
        match = _SEGMENT.match(segments[0])
        if match is None or match["name"] not in self.service.entity_sets:
            if match is not None and match["name"] in self.service.function_imports:
                raise _not_implemented(match["name"], "EXECUTE_ACTION")
            raise _not_found(segments[0])
        entity_set = match["name"]
        entity_type = self.service.type_of(entity_set)
        target = _Target(entity_set, entity_type, self._records(entity_set), False, segments[0])
        if match["key"] is not None:
            key = parse_key(match["key"], entity_type)
            record = self.state.entities(self.name, entity_set).get(key)
            if record is None:
                raise _not_found(segments[0])
            target = _Target(entity_set, entity_type, [record], True, segments[0])
        for position, segment in enumerate(segments[1:], start=1):
            last = position == len(segments) - 1
            if segment == "$count":
                if not last or target.single:
                    raise SapError(400, BUSI_EXCEPTION, "$count must follow a collection")
                target.count = True
                continue
            if target.prop is not None or not target.single:
                raise SapError(400, BUSI_EXCEPTION, f"Invalid URI segment '{segment}'")
            match = _SEGMENT.match(segment)
            record = target.records[0]
            if (
                match is not None
                and match["key"] is None
                and match["name"] in target.entity_type.properties
            ):
                if not last:
                    raise SapError(400, BUSI_EXCEPTION, f"Invalid URI segment after '{segment}'")
                target.prop = target.entity_type.properties[match["name"]]
                continue
            if match is None or match["name"] not in target.entity_type.navigations:
                raise _not_found(segment)
            navigation = match["name"]
            nav = target.entity_type.navigations[navigation]
            target_set, records = self.related(target.entity_set, record, navigation)
            target_type = self.service.type_of(target_set)
            parent = (target.entity_set, record, navigation)
            if match["key"] is not None:
                if not nav.many:
                    raise SapError(400, BUSI_EXCEPTION, f"'{navigation}' leads to one entity")
                key = parse_key(match["key"], target_type)
                records = [r for r in records if self.state.key_of(target_type, r) == key]
                if not records:
                    raise _not_found(segment)
                target = _Target(target_set, target_type, records, True, segment, parent)
            elif nav.many:
                target = _Target(target_set, target_type, records, False, segment, parent)
            else:
                if not records:
                    raise _not_found(segment)
                target = _Target(target_set, target_type, records, True, segment, parent)
        return target

    def uri(self, base_url: str, entity_set: str, record: dict[str, Any]) -> str:
        entity_type = self.service.type_of(entity_set)
        key = format_key(entity_type, self.state.key_of(entity_type, record))
        return f"{base_url}{entity_set}{quote(key, safe=chr(39) + '(),=')}"

    def etag(self, entity_type: EntityType, record: dict[str, Any]) -> str | None:
        prop = entity_type.etag_property
        if prop is None:
            return None
        value = record.get(prop.name)
        if not isinstance(value, datetime.datetime):
            return None
        return f"W/\"datetimeoffset'{quote(format_datetime_literal(value), safe='')}'\""

    # ------------------------------------------------------------------ rendering

    def render(
        self,
        base_url: str,
        entity_set: str,
        record: dict[str, Any],
        expand: ExpandTree,
        select: list[str] | None = None,
    ) -> dict[str, Any]:
        entity_type = self.service.type_of(entity_set)
        uri = self.uri(base_url, entity_set, record)
        metadata: dict[str, Any] = {"id": uri, "uri": uri, "type": entity_type.qualified_name}
        etag = self.etag(entity_type, record)
        if etag is not None:
            metadata["etag"] = etag
        out: dict[str, Any] = {"__metadata": metadata}
        top = None
        if select and "*" not in select:
            top = {name.split("/", 1)[0] for name in select}
        for prop in entity_type.properties.values():
            if top is None or prop.name in top:
                out[prop.name] = render_value(entity_type, prop, record)
        for nav in entity_type.navigations.values():
            if nav.name in expand:
                target_set, children = self.related(entity_set, record, nav.name)
                inner = [
                    name.split("/", 1)[1]
                    for name in (select or [])
                    if name.startswith(nav.name + "/")
                ] or None
                rendered = [
                    self.render(base_url, target_set, child, expand[nav.name], inner)
                    for child in children
                ]
                if nav.many:
                    out[nav.name] = {"results": rendered}
                else:
                    out[nav.name] = rendered[0] if rendered else None
            elif top is None or nav.name in top:
                out[nav.name] = {"__deferred": {"uri": f"{uri}/{nav.name}"}}
        return out

    def _navigation_type(self, entity_type: EntityType, navigation: str) -> EntityType:
        return self.service.type_of(entity_type.navigations[navigation].target_set)

    # ------------------------------------------------------------------ read

    def _read(
        self, request: ODataRequest, target: _Target, options: dict[str, str]
    ) -> ODataResponse:
        entity_type = target.entity_type
        expand: ExpandTree = {}
        if options.get("$expand"):
            expand = parse_expand(options["$expand"], entity_type, self._navigation_type)
        select = parse_select(options["$select"]) if options.get("$select") else None
        if select:
            for name in select:
                head = name.split("/", 1)[0]
                if head != "*" and head not in entity_type.properties and head not in expand:
                    raise SapError(
                        400, BUSI_EXCEPTION, f"Property {head} not found in type {entity_type.name}"
                    )
        if target.prop is not None:
            value = render_value(entity_type, target.prop, target.records[0])
            return _json({"d": {target.prop.name: value}})
        if target.single:
            record = target.records[0]
            body = self.render(request.base_url, target.entity_set, record, expand, select)
            etag = self.etag(entity_type, record)
            return _json({"d": body}, headers={"etag": etag} if etag else None)

        records = target.records
        if options.get("$filter"):
            predicate = parse_filter(options["$filter"], entity_type)
            records = [record for record in records if predicate(record)]
        if target.count:
            return ODataResponse(
                200,
                {"content-type": "text/plain;charset=utf-8", "dataserviceversion": "2.0"},
                str(len(records)).encode(),
            )
        total = len(records)
        if options.get("$orderby"):
            records = sort_records(records, parse_orderby(options["$orderby"], entity_type))
        skip = self._count_option(options, "$skip")
        top = self._count_option(options, "$top")
        records = records[skip or 0 :]
        if top is not None:
            records = records[:top]
        results = [
            self.render(request.base_url, target.entity_set, record, expand, select)
            for record in records
        ]
        payload: dict[str, Any] = {}
        inline = options.get("$inlinecount")
        if inline not in (None, "none", "allpages"):
            raise SapError(400, BUSI_EXCEPTION, f"Invalid value '{inline}' for $inlinecount")
        if inline == "allpages":
            payload["__count"] = str(total)
        payload["results"] = results
        return _json({"d": payload})

    @staticmethod
    def _count_option(options: dict[str, str], name: str) -> int | None:
        text = options.get(name)
        if text is None:
            return None
        if not text.isdigit():
            raise SapError(400, BUSI_EXCEPTION, f"Invalid value '{text}' for {name}")
        return int(text)

    # ------------------------------------------------------------------ request bodies

    @staticmethod
    def _body(request: ODataRequest) -> dict[str, Any]:
        try:
            body = json.loads(request.body or b"null", parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            code, text = DESERIALIZATION
            message_class, _, number = code.rpartition("/")
            raise SapError(400, code, text, [SapMessage(message_class, number, text)])
        return body

    def parse_entity(
        self,
        entity_type: EntityType,
        body: dict[str, Any],
        *,
        mode: str,
        allowed: ExpandTree,
        where: str = "",
    ) -> dict[str, Any]:
        """The Python values of a request body for ``entity_type``; navigations allowed
        by ``allowed`` become lists of nested bodies. Properties SAP would not take
        (``sap:creatable``/``sap:updatable`` false, keys on update) are left out."""
        values: dict[str, Any] = {}
        for name, raw in body.items():
            if name == "__metadata":
                continue
            prop = entity_type.properties.get(name)
            if prop is None:
                nav = entity_type.navigations.get(name)
                if nav is None:
                    raise self._bad_property(entity_type, name, f"Property '{name}' is invalid")
                if name not in allowed:
                    raise SapError(
                        501,
                        NOT_IMPLEMENTED,
                        f"Deep {'insert' if mode == 'create' else 'update'} of navigation "
                        f"'{name}' of {entity_type.name} is not supported",
                    )
                children = raw.get("results") if isinstance(raw, dict) and "results" in raw else raw
                if isinstance(children, dict):
                    children = [children]
                if not isinstance(children, list) or not all(isinstance(c, dict) for c in children):
                    raise self._bad_property(
                        entity_type, name, f"Navigation property '{name}' must hold entities"
                    )
                child_type = self._navigation_type(entity_type, name)
                values[name] = [
                    self.parse_entity(
                        child_type, child, mode=mode, allowed=allowed[name], where=f"{where}{name}/"
                    )
                    for child in children
                ]
                continue
            if mode == "create" and not prop.creatable:
                continue
            if mode == "update" and (not prop.updatable or name in entity_type.keys):
                continue
            try:
                values[name] = parse_value(prop, raw)
            except EdmValueError as exc:
                raise self._bad_property(
                    entity_type, name, f"Invalid value for property '{name}': {exc.detail}"
                ) from None
        return values

    @staticmethod
    def _bad_property(entity_type: EntityType, name: str, text: str) -> SapError:
        ref = f"{entity_type.name}/{name}"
        detail = SapMessage("/IWBEP/CX_MGW_BUSI_EXCEPTION", "", text, propertyref=ref)
        return SapError(400, BUSI_EXCEPTION, text, [detail])

    # ------------------------------------------------------------------ create

    def _create(self, request: ODataRequest, target: _Target) -> ODataResponse:
        if target.single or target.count or target.prop is not None:
            raise SapError(405, BUSI_EXCEPTION, "POST needs an entity set")
        if self.name != SALES_ORDER or target.entity_set != "A_SalesOrder" or target.parent:
            raise _not_implemented(target.entity_set, "CREATE_ENTITY")
        body = self._body(request)
        values = self.parse_entity(target.entity_type, body, mode="create", allowed=DEEP_INSERT)
        items = values.pop("to_Item", [])
        try:
            order = self.state.create_sales_order(values, items, user=request.user)
        except EdmValueError as exc:  # the OData layer parsed already; kept as a safeguard
            raise self._bad_property(target.entity_type, exc.prop.name, exc.detail) from None
        expand: ExpandTree = {}
        if "to_Item" in body:
            with_pricing = any(
                "to_PricingElement" in item for item in self._raw_children(body, "to_Item")
            )
            expand["to_Item"] = {"to_PricingElement": {}} if with_pricing else {}
        if "to_Partner" in body:
            expand["to_Partner"] = {}
        header = self.state.entities(self.name, "A_SalesOrder")[(order["SalesOrder"],)]
        rendered = self.render(request.base_url, "A_SalesOrder", header, expand)
        location = self.uri(request.base_url, "A_SalesOrder", header)
        headers = {"location": location}
        etag = self.etag(target.entity_type, header)
        if etag:
            headers["etag"] = etag
        response = _json({"d": rendered}, 201, headers)
        response.change = "create"
        response.location = location[len(request.base_url) :]
        return response

    @staticmethod
    def _raw_children(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
        raw = body.get(name)
        if isinstance(raw, dict):
            raw = raw.get("results", [raw])
        return [child for child in raw or [] if isinstance(child, dict)]

    # ------------------------------------------------------------------ update, delete

    def _check_etag(self, request: ODataRequest, target: _Target) -> None:
        record = target.records[0]
        etag = self.etag(target.entity_type, record)
        if etag is None:
            return
        wanted = request.headers.get("if-match")
        if not wanted:
            raise SapError(428, "/IWBEP/CM_MGW_RT/194", "Precondition required")
        if wanted.strip() != "*" and wanted.strip() not in (etag, etag[2:]):
            raise SapError(
                412,
                "/IWBEP/CM_MGW_RT/190",
                "State of the resource (entity) was already changed (If-Match)",
            )

    def _order_of(self, target: _Target) -> str:
        return str(target.records[0]["SalesOrder"])

    def _touch(self, number: str) -> None:
        header = self.state.entities(SALES_ORDER, "A_SalesOrder").get((number,))
        if header is not None:
            now = datetime.datetime.now(datetime.UTC)
            header["LastChangeDateTime"] = now
            header["LastChangeDate"] = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def _update(self, request: ODataRequest, target: _Target) -> ODataResponse:
        if not target.single or target.prop is not None:
            raise SapError(405, BUSI_EXCEPTION, f"{request.method} needs a single entity")
        if self.name != SALES_ORDER or target.entity_set not in UPDATABLE:
            raise _not_implemented(target.entity_set, "UPDATE_ENTITY")
        number = self._order_of(target)
        self._check_etag(request, target)
        values = self.parse_entity(
            target.entity_type, self._body(request), mode="update", allowed={}
        )
        record = target.records[0]
        problems: list[SapMessage] = []
        if target.entity_set == "A_SalesOrderItem" and "Material" in values:
            material = str(values["Material"] or "").upper()
            values["Material"] = material
            if material not in self.state.materials:
                problems.append(Messages.material_unknown(material, target="Material"))
        if target.entity_set == "A_SalesOrder" and values.get("SoldToParty"):
            problem = self.state.customer_check(
                str(values["SoldToParty"]),
                str(values.get("SalesOrganization") or record.get("SalesOrganization") or ""),
                str(values.get("DistributionChannel") or record.get("DistributionChannel") or ""),
                str(values.get("OrganizationDivision") or record.get("OrganizationDivision") or ""),
                "SoldToParty",
            )
            if problem:
                problems.append(problem)
        if problems:
            raise SalesOrderError(problems)
        record.update(values)
        self.state.reprice(number)
        self._touch(number)
        response = ODataResponse(204, {"dataserviceversion": "2.0"})
        response.change = "update"
        return response

    def _delete(self, request: ODataRequest, target: _Target) -> ODataResponse:
        if not target.single or target.prop is not None:
            raise SapError(405, BUSI_EXCEPTION, "DELETE needs a single entity")
        if self.name != SALES_ORDER or target.entity_set not in UPDATABLE:
            raise _not_implemented(target.entity_set, "DELETE_ENTITY")
        number = self._order_of(target)
        self._check_etag(request, target)
        if target.entity_set == "A_SalesOrder":
            self.state.delete_sales_order(number)
        else:
            item = str(target.records[0]["SalesOrderItem"])
            for set_name in ("A_SalesOrderItem", "A_SalesOrderItemPrElement"):
                entities = self.state.entities(SALES_ORDER, set_name)
                for key in [k for k in entities if k[0] == number and k[1] == item]:
                    del entities[key]
            self.state.reprice(number)
            self._touch(number)
        response = ODataResponse(204, {"dataserviceversion": "2.0"})
        response.change = "delete"
        return response
