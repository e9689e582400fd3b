"""Configuration, master data, CSRF sessions and the sales orders of the SAP simulator.

Everything here is independent of HTTP. :meth:`SapState.create_sales_order` is the
business logic of creating a sales order (master-data checks, numbering, pricing, partner
determination); the OData layer calls it for a deep insert into ``A_SalesOrder`` and an RFC
stand-in can call it for ``BAPI_SALESORDER_CREATEFROMDAT2``. Refusals are
:class:`~adapters.sap.simulator.errors.SalesOrderError` with SAP's message class, number
and text.

Entities are kept per service and entity set as Python values keyed by their key tuple
(``store[service][entity_set][key] = record``); the OData layer renders them with the
EDMX types (:mod:`adapters.sap.simulator.edm`).
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import random
import secrets
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.sap.metadata import edmx_path
from adapters.sap.simulator.edm import EntityType, Service, alpha, coerce_value, load_service
from adapters.sap.simulator.errors import Messages, SalesOrderError, SapMessage
from hub.errors import MoneyError
from hub.money import minor_units

__all__ = [
    "BUSINESS_PARTNER",
    "SALES_ORDER",
    "SERVICE_NAMES",
    "CustomerSeed",
    "Faults",
    "MaterialSeed",
    "SalesArea",
    "SapState",
    "Session",
    "SimulatorConfig",
    "User",
    "alpha",
]

SALES_ORDER: Final = "API_SALES_ORDER_SRV"
BUSINESS_PARTNER: Final = "API_BUSINESS_PARTNER"
SERVICE_NAMES: Final = (SALES_ORDER, BUSINESS_PARTNER)
HEADER_REQUIRED: Final = (
    "SalesOrderType",
    "SalesOrganization",
    "DistributionChannel",
    "OrganizationDivision",
    "SoldToParty",
)
# Partner functions SAP's partner determination copies from the sold-to party when the
# order names no other: sold-to, bill-to, payer, ship-to.
DEFAULT_PARTNER_FUNCTIONS: Final = ("AG", "RE", "RG", "WE")

CalculationType = Literal["A", "B", "C"]
"""SAP's condition calculation types: A percentage, B fixed amount, C quantity."""


class Faults(BaseModel):
    """What the simulator does wrong, on OData calls only. Every field defaults to "nothing".

    Per call the faults are met in this order: ``slow`` (delay) → ``error`` (an injected
    status instead of the real answer) → authentication → CSRF, where ``expire_csrf_rate``
    expires the caller's valid token first (the client sees SAP's 403 and must fetch a new
    one) → the real handler → for the kinds in ``land_then_timeout_for``,
    ``land_then_timeout`` (the change is committed, then the answer is held back for
    ``land_then_timeout_seconds``, longer than a client's timeout).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_statuses: tuple[int, ...] = Field(default=(500, 503))
    retry_after: int | None = Field(
        default=None, ge=0, le=86_400, description="Retry-After seconds on an injected 429/503."
    )
    slow_rate: float = Field(default=0.0, ge=0, le=1)
    slow_seconds: float = Field(default=0.0, ge=0, le=60)
    land_then_timeout_rate: float = Field(default=0.0, ge=0, le=1)
    land_then_timeout_seconds: float = Field(default=5.0, ge=0, le=120)
    land_then_timeout_for: tuple[Literal["create", "batch", "update", "delete"], ...] = (
        "create",
        "batch",
    )
    expire_csrf_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of modifying calls whose token expires."
    )

    @field_validator("error_statuses")
    @classmethod
    def _statuses_ok(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(not 400 <= status <= 599 for status in value):
            raise ValueError("error_statuses must be non-empty HTTP 4xx/5xx statuses")
        return value


class User(BaseModel):
    """A user the simulator accepts with HTTP Basic authentication."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=12, pattern=r"^[A-Za-z0-9_.\-]+$")
    password: str = Field(min_length=1, repr=False)


class SalesArea(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sales_organization: str = Field(min_length=1, max_length=4)
    distribution_channel: str = Field(min_length=1, max_length=2)
    division: str = Field(min_length=1, max_length=2)


class CustomerSeed(BaseModel):
    """A customer (and its business partner) in the simulated system.

    ``sales_areas`` empty: the customer is extended to every sales area. Otherwise an
    order in another sales area is refused (VS 406) as SAP does.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer: str = Field(min_length=1, max_length=10, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str = Field(default="", max_length=80)
    country: str = Field(default="DE", min_length=2, max_length=3)
    currency: str = Field(default="EUR", min_length=3, max_length=5)
    payment_terms: str = Field(default="0001", max_length=4)
    sales_areas: tuple[SalesArea, ...] = ()


class MaterialSeed(BaseModel):
    """A material (product) in the simulated system.

    ``price``: a condition record for the price (per ``base_unit``, in the order's
    currency) that pricing uses when an order item brings no price condition of its own.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    material: str = Field(min_length=1, max_length=40)
    description: str = Field(default="", max_length=40)
    base_unit: str = Field(default="PC", min_length=1, max_length=3)
    price: Decimal | None = Field(default=None, allow_inf_nan=False)


def _demo_customers() -> tuple[CustomerSeed, ...]:
    # The domestic customers of SAP's S/4HANA best-practice content for sales org 1010.
    return (
        CustomerSeed(customer="10100001", name="Inlandskunde DE 1"),
        CustomerSeed(customer="10100002", name="Inlandskunde DE 2"),
    )


def _demo_materials() -> tuple[MaterialSeed, ...]:
    return (
        MaterialSeed(material="TG11", description="Trad. Good 11, PD, Reorder Point"),
        MaterialSeed(material="TG12", description="Trad. Good 12, PD, Reorder Point"),
    )


# SAP condition types the simulator's pricing procedure holds, with their calculation type.
_CONDITION_TYPES: Final[dict[str, CalculationType]] = {
    "PR00": "C",  # price
    "PPR0": "C",  # price (S/4HANA)
    "PMP0": "C",  # price (material)
    "K004": "C",  # material discount per unit
    "K005": "C",  # customer/material discount per unit
    "RB00": "B",  # discount, absolute amount
    "HB00": "B",  # discount, absolute amount
    "RA00": "A",  # discount, % of gross
    "RA01": "A",  # discount, % of the previous value
    "K007": "A",  # customer discount, %
    "HA00": "A",  # discount, %
}


class SimulatorConfig(BaseModel):
    """How a simulator starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: tuple[User, ...] = Field(
        default=(User(name="SIM_USER", password="Sim-Passw0rd"),),  # noqa: S106 -- simulator
        min_length=1,
        description="Users accepted with HTTP Basic authentication.",
    )
    system_id: str = Field(
        default="S4H", pattern=r"^[A-Z][A-Z0-9]{2}$", description="SID in the session cookie."
    )
    client: str = Field(default="100", pattern=r"^\d{3}$", description="SAP client (sap-client).")
    csrf_token_seconds: float = Field(
        default=1800, gt=0, le=86_400, description="Lifetime of a CSRF token (and its session)."
    )
    first_sales_order: int = Field(
        default=1, ge=1, le=9_999_999_999, description="The first number the simulator assigns."
    )
    customers: tuple[CustomerSeed, ...] = Field(default_factory=_demo_customers)
    materials: tuple[MaterialSeed, ...] = Field(default_factory=_demo_materials)
    condition_types: dict[str, CalculationType] = Field(
        default_factory=lambda: dict(_CONDITION_TYPES),
        description="Condition types pricing accepts, with their calculation type.",
    )
    seed: int = Field(default=0, description="Seed of the fault RNG.")
    faults: Faults = Field(default_factory=Faults)
    metadata_dir: str | None = Field(
        default=None,
        description="A folder holding SAP's own API_SALES_ORDER_SRV.edmx and "
        "API_BUSINESS_PARTNER.edmx to serve instead of the project's EDMX subset "
        "(adapters/sap/metadata); the simulator behaves the same with either.",
    )

    @field_validator("metadata_dir")
    @classmethod
    def _metadata_files_exist(cls, value: str | None) -> str | None:
        if value is not None:
            missing = [
                str(edmx_path(name, value))
                for name in SERVICE_NAMES
                if not edmx_path(name, value).is_file()
            ]
            if missing:
                raise ValueError(f"metadata_dir lacks {', '.join(missing)}")
        return value


@dataclass
class Session:
    """An HTTP security session and its CSRF token (SAP_SESSIONID_<SID>_<client>)."""

    session_id: str
    user: str
    token: str
    expires: float
    """``time.monotonic()`` after which session and token are gone."""


def _today() -> datetime.datetime:
    now = datetime.datetime.now(datetime.UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _round(amount: Decimal, currency: str) -> Decimal:
    try:
        places = minor_units(currency)
    except MoneyError:
        places = 2
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


class SapState:
    """Everything the simulated system holds. Mutate only while holding :attr:`lock`."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.lock = asyncio.Lock()
        self.services: dict[str, Service] = {
            name: load_service(name, config.metadata_dir) for name in SERVICE_NAMES
        }
        self.reset(keep_faults=False)

    # ------------------------------------------------------------------ lifecycle

    def reset(self, *, keep_faults: bool) -> None:
        if not keep_faults or not hasattr(self, "faults"):
            self.faults: Faults = self.config.faults
        self.rng = random.Random(self.config.seed)  # noqa: S311 -- test faults, not crypto
        self.store: dict[str, dict[str, dict[tuple[Any, ...], dict[str, Any]]]] = {
            name: {set_name: {} for set_name in service.entity_sets}
            for name, service in self.services.items()
        }
        self.customers: dict[str, CustomerSeed] = {}
        self.materials: dict[str, MaterialSeed] = {}
        self.next_sales_order = self.config.first_sales_order
        self.sessions: dict[str, Session] = {}
        self.requests = 0
        self.faults_injected: dict[str, int] = {}
        for customer in self.config.customers:
            self.add_customer(customer)
        for material in self.config.materials:
            self.add_material(material)

    def count_fault(self, kind: str) -> None:
        self.faults_injected[kind] = self.faults_injected.get(kind, 0) + 1

    def entities(self, service: str, entity_set: str) -> dict[tuple[Any, ...], dict[str, Any]]:
        return self.store[service][entity_set]

    def key_of(self, entity_type: EntityType, record: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(record.get(key) for key in entity_type.keys)

    def put(self, service: str, entity_set: str, record: dict[str, Any]) -> tuple[Any, ...]:
        entity_type = self.services[service].type_of(entity_set)
        key = self.key_of(entity_type, record)
        self.store[service][entity_set][key] = record
        return key

    def snapshot(self) -> tuple[Any, ...]:
        """Everything a changeset can change, to put back with :meth:`restore`."""
        return (copy.deepcopy(self.store), self.next_sales_order)

    def restore(self, snapshot: tuple[Any, ...]) -> None:
        self.store, self.next_sales_order = snapshot

    # ------------------------------------------------------------------ master data

    def add_customer(self, seed: CustomerSeed) -> str:
        """Create or replace a customer with its business partner and sales areas."""
        number = alpha(seed.customer)
        self.customers[number] = seed
        now = datetime.datetime.now(datetime.UTC)
        name = seed.name or f"Customer {number}"
        self.put(
            BUSINESS_PARTNER,
            "A_BusinessPartner",
            {
                "BusinessPartner": number,
                "Customer": number,
                "BusinessPartnerCategory": "2",
                "BusinessPartnerGrouping": "BP02",
                "BusinessPartnerFullName": name[:81],
                "BusinessPartnerName": name[:81],
                "OrganizationBPName1": name[:40],
                "CreationDate": _today(),
                "CreationTime": datetime.timedelta(
                    hours=now.hour, minutes=now.minute, seconds=now.second
                ),
                "CreatedByUser": "SIMULATOR",
                "Language": "EN",
                "CorrespondenceLanguage": "EN",
            },
        )
        self.put(
            BUSINESS_PARTNER,
            "A_Customer",
            {
                "Customer": number,
                "CustomerName": name,
                "CustomerFullName": name.upper()[:220],
                "CustomerAccountGroup": "CUST",
                "CreationDate": _today(),
                "CreatedByUser": "SIMULATOR",
            },
        )
        sales_areas = self.entities(BUSINESS_PARTNER, "A_CustomerSalesArea")
        for key in [key for key in sales_areas if key[0] == number]:
            del sales_areas[key]
        for area in seed.sales_areas:
            self.put(
                BUSINESS_PARTNER,
                "A_CustomerSalesArea",
                {
                    "Customer": number,
                    "SalesOrganization": area.sales_organization,
                    "DistributionChannel": area.distribution_channel,
                    "Division": area.division,
                    "Currency": seed.currency,
                    "CustomerPaymentTerms": seed.payment_terms,
                },
            )
        return number

    def add_material(self, seed: MaterialSeed) -> str:
        number = seed.material.upper()
        self.materials[number] = seed
        return number

    def customer_check(
        self, customer: str, org: str, channel: str, division: str, target: str
    ) -> SapMessage | None:
        seed = self.customers.get(alpha(customer))
        if seed is not None and (
            not seed.sales_areas
            or any(
                (a.sales_organization, a.distribution_channel, a.division)
                == (org, channel, division)
                for a in seed.sales_areas
            )
        ):
            return None
        return Messages.customer_not_in_sales_area(
            alpha(customer), org, channel, division, target=target
        )

    # ------------------------------------------------------------------ CSRF sessions

    def _live(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self.sessions.get(session_id)
        if session is not None and session.expires <= time.monotonic():
            del self.sessions[session_id]
            return None
        return session

    def fetch_token(self, user: str, session_id: str | None) -> Session:
        """The caller's session and token (a new session when it has none that lives)."""
        session = self._live(session_id)
        if session is None or session.user != user:
            session = Session(
                session_id=secrets.token_urlsafe(32),
                user=user,
                token=secrets.token_urlsafe(18),
                expires=time.monotonic() + self.config.csrf_token_seconds,
            )
            self.sessions[session.session_id] = session
        return session

    def check_token(self, user: str, session_id: str | None, token: str | None) -> Session | None:
        """The session when ``token`` is its live CSRF token and it is ``user``'s."""
        session = self._live(session_id)
        if session is None or session.user != user or not token:
            return None
        return session if secrets.compare_digest(session.token, token) else None

    def expire_tokens(self) -> int:
        """End every session (and with it every CSRF token); return how many."""
        count = len(self.sessions)
        self.sessions.clear()
        return count

    # ------------------------------------------------------------------ sales orders

    def _coerce(self, entity_type: EntityType, values: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for name, value in values.items():
            prop = entity_type.properties.get(name)
            if prop is None:
                raise ValueError(f"{name} is not a property of {entity_type.name}")
            if prop.creatable:
                record[name] = coerce_value(prop, value)
        return record

    def create_sales_order(
        self,
        header: dict[str, Any],
        items: list[dict[str, Any]],
        *,
        user: str = "SIMULATOR",
        simulate: bool = False,
    ) -> dict[str, Any]:
        """Create a sales order as SAP does; return it with ``to_Item`` (each with its
        ``to_PricingElement``) and ``to_Partner``.

        ``simulate``: check and price only, as ``BAPI_SALESORDER_SIMULATE``; nothing is
        stored, no number is used (``SalesOrder`` is "").

        ``header`` holds A_SalesOrder properties (and optionally ``to_Partner``: a list of
        A_SalesOrderHeaderPartner properties); each item A_SalesOrderItem properties (and
        optionally ``to_PricingElement``: a list of A_SalesOrderItemPrElement properties).
        Values are OData JSON values or Python values (Decimal, date, datetime); properties
        SAP computes (``sap:creatable="false"``) are ignored. A property the EDMX does not
        know, or a value it cannot hold, is a ``ValueError``
        (:class:`~adapters.sap.simulator.edm.EdmValueError`).

        Raises :class:`~adapters.sap.simulator.errors.SalesOrderError` with every message
        SAP would give when the order cannot be created: a sold-to party or partner that is
        not a customer in the order's sales area (VS 406), a material that does not exist
        (M3 305), a condition type pricing does not know (PRC_MESSAGES 206), a missing
        organisational field (ZSIM 001), an item number used twice (ZSIM 002) or an
        external number already taken (ZSIM 003). Nothing is stored then.
        """
        service = self.services[SALES_ORDER]
        header_type = service.type_of("A_SalesOrder")
        item_type = service.type_of("A_SalesOrderItem")
        element_type = service.type_of("A_SalesOrderItemPrElement")
        partner_type = service.type_of("A_SalesOrderHeaderPartner")

        header_in = dict(header)
        partners_in = header_in.pop("to_Partner", None) or []
        order = self._coerce(header_type, header_in)
        partners = [self._coerce(partner_type, dict(partner)) for partner in partners_in]
        lines: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        for item in items:
            item_in = dict(item)
            elements_in = item_in.pop("to_PricingElement", None) or []
            lines.append(
                (
                    self._coerce(item_type, item_in),
                    [self._coerce(element_type, dict(element)) for element in elements_in],
                )
            )

        problems = self._check_order(order, partners, lines)
        if problems:
            raise SalesOrderError(problems)

        # ---- number and header defaults
        now = datetime.datetime.now(datetime.UTC)
        today = _today()
        external = order.get("SalesOrder")
        number = str(external) if external else str(self.next_sales_order)
        if simulate:
            number = ""
        elif not external:
            self.next_sales_order += 1
        sold_to = alpha(str(order["SoldToParty"]))
        customer = self.customers[sold_to]
        currency = order.get("TransactionCurrency") or customer.currency
        order.update(
            SalesOrder=number,
            SoldToParty=sold_to,
            TransactionCurrency=currency,
            CreationDate=today,
            CreatedByUser=user.upper()[:12],
            LastChangeDateTime=now,
            OverallSDProcessStatus="A",
            OverallTotalDeliveryStatus="A",
            OverallSDDocumentRejectionSts="A",
        )
        for name, default in (
            ("SalesOrderDate", today),
            ("PricingDate", today),
            ("RequestedDeliveryDate", today),
            ("CustomerPaymentTerms", customer.payment_terms),
        ):
            if not order.get(name):
                order[name] = default

        # ---- items and pricing
        stored_items: list[dict[str, Any]] = []
        stored_elements: list[dict[str, Any]] = []
        used = {int(item["SalesOrderItem"]) for item, _ in lines if item.get("SalesOrderItem")}
        next_item = (max(used) if used else 0) // 10 * 10 + 10
        for item, elements in lines:
            if not item.get("SalesOrderItem"):
                item["SalesOrderItem"] = str(next_item)
                next_item += 10
            item["SalesOrderItem"] = alpha(str(item["SalesOrderItem"]))
            material = self.materials[str(item["Material"]).upper()]
            item["Material"] = str(item["Material"]).upper()
            item.update(SalesOrder=number, TransactionCurrency=currency)
            item.setdefault("RequestedQuantity", Decimal(0))
            for name, default in (
                ("SalesOrderItemCategory", "TAN"),
                ("SalesOrderItemText", material.description),
                ("RequestedQuantityUnit", material.base_unit),
                ("PurchaseOrderByCustomer", order.get("PurchaseOrderByCustomer") or ""),
                ("PricingDate", order["PricingDate"]),
            ):
                if not item.get(name):
                    item[name] = default
            item.update(SDProcessStatus="A", DeliveryStatus="A")
            priced = self._price_item(item, elements, material, manual=True)
            stored_items.append(item)
            stored_elements.extend(priced)
        order["TotalNetAmount"] = _round(
            sum((Decimal(item["NetAmount"]) for item in stored_items), Decimal(0)), currency
        )

        # ---- partners: the sold-to party in every default function unless given
        by_function = {str(p["PartnerFunction"]): p for p in partners}
        for function in DEFAULT_PARTNER_FUNCTIONS:
            by_function.setdefault(function, {"PartnerFunction": function, "Customer": sold_to})
        stored_partners = []
        for function, partner in sorted(by_function.items()):
            partner["SalesOrder"] = number
            partner["PartnerFunction"] = function
            if partner.get("Customer"):
                partner["Customer"] = alpha(str(partner["Customer"]))
            stored_partners.append(partner)

        if simulate:
            return {
                **order,
                "to_Item": [
                    {
                        **item,
                        "to_PricingElement": [
                            e
                            for e in stored_elements
                            if e["SalesOrderItem"] == item["SalesOrderItem"]
                        ],
                    }
                    for item in stored_items
                ],
                "to_Partner": stored_partners,
            }

        # ---- commit
        self.put(SALES_ORDER, "A_SalesOrder", order)
        for item in stored_items:
            self.put(SALES_ORDER, "A_SalesOrderItem", item)
        for element in stored_elements:
            self.put(SALES_ORDER, "A_SalesOrderItemPrElement", element)
        for partner in stored_partners:
            self.put(SALES_ORDER, "A_SalesOrderHeaderPartner", partner)
        return self.sales_order(number) or {}

    def _check_order(
        self,
        order: dict[str, Any],
        partners: list[dict[str, Any]],
        lines: list[tuple[dict[str, Any], list[dict[str, Any]]]],
    ) -> list[SapMessage]:
        problems: list[SapMessage] = [
            Messages.required(name) for name in HEADER_REQUIRED if not order.get(name)
        ]
        external = order.get("SalesOrder")
        if external and (str(external),) in self.entities(SALES_ORDER, "A_SalesOrder"):
            problems.append(Messages.document_exists(str(external)))
        area = (
            str(order.get("SalesOrganization") or ""),
            str(order.get("DistributionChannel") or ""),
            str(order.get("OrganizationDivision") or ""),
        )
        if order.get("SoldToParty"):
            problem = self.customer_check(str(order["SoldToParty"]), *area, "SoldToParty")
            if problem:
                problems.append(problem)
        for partner in partners:
            function = str(partner.get("PartnerFunction") or "")
            target = f"to_Partner('{function}')"
            if not function:
                problems.append(Messages.required("PartnerFunction", target=target))
            if partner.get("Customer"):
                problem = self.customer_check(str(partner["Customer"]), *area, f"{target}/Customer")
                if problem:
                    problems.append(problem)
        seen: set[str] = set()
        for index, (item, elements) in enumerate(lines):
            number = alpha(str(item.get("SalesOrderItem") or ""))
            target = f"to_Item('{number or index + 1}')"
            if number:
                if number in seen:
                    problems.append(Messages.item_twice(number))
                seen.add(number)
            material = str(item.get("Material") or "")
            if not material:
                problems.append(Messages.required("Material", target=f"{target}/Material"))
            elif material.upper() not in self.materials:
                problems.append(Messages.material_unknown(material, target=f"{target}/Material"))
            for element in elements:
                condition = str(element.get("ConditionType") or "")
                where = f"{target}/to_PricingElement"
                if not condition:
                    problems.append(Messages.required("ConditionType", target=where))
                elif condition.upper() not in self.config.condition_types:
                    problems.append(Messages.condition_not_in_procedure(condition, target=where))
        return problems

    def _price_item(
        self,
        item: dict[str, Any],
        elements: list[dict[str, Any]],
        material: MaterialSeed,
        *,
        manual: bool,
    ) -> list[dict[str, Any]]:
        """Price one item: its pricing elements with amounts, and its NetAmount."""
        currency = str(item["TransactionCurrency"])
        quantity = Decimal(item.get("RequestedQuantity") or 0)
        unit = str(item.get("RequestedQuantityUnit") or material.base_unit)
        types = self.config.condition_types
        conditions = [dict(element) for element in elements]
        has_price = any(
            types.get(str(c.get("ConditionType", "")).upper()) == "C" for c in conditions
        )
        if not has_price and material.price is not None:
            conditions.insert(
                0,
                {
                    "ConditionType": "PPR0",
                    "ConditionRateValue": material.price,
                    "ConditionQuantity": Decimal(1),
                    "ConditionQuantityUnit": material.base_unit,
                    "_automatic": True,
                },
            )
        gross = Decimal(0)
        running = Decimal(0)
        priced: list[dict[str, Any]] = []
        for step, condition in enumerate(conditions, start=1):
            condition_type = str(condition["ConditionType"]).upper()
            calculation = types.get(condition_type, "C")
            rate = Decimal(condition.get("ConditionRateValue") or 0)
            automatic = bool(condition.pop("_automatic", False))
            if calculation == "C":
                per = Decimal(condition.get("ConditionQuantity") or 1) or Decimal(1)
                amount = rate * quantity / per
                base = quantity
                gross += amount
                condition.setdefault("ConditionQuantity", per)
                condition.setdefault("ConditionQuantityUnit", unit)
                condition.setdefault("ConditionCurrency", currency)
            elif calculation == "B":
                amount = rate
                base = quantity
                condition.setdefault("ConditionCurrency", currency)
            else:
                base = gross if condition_type != "RA01" else running
                amount = base * rate / Decimal(100)
                condition["ConditionCurrency"] = ""
            amount = _round(amount, currency)
            running += amount
            condition.update(
                SalesOrder=item["SalesOrder"],
                SalesOrderItem=item["SalesOrderItem"],
                PricingProcedureStep=str(step * 10),
                PricingProcedureCounter="1",
                ConditionType=condition_type,
                ConditionCalculationType=calculation,
                ConditionBaseValue=base,
                ConditionRateValue=rate,
                ConditionAmount=amount,
                TransactionCurrency=currency,
                ConditionOrigin="A" if automatic else "C",
                ConditionIsManuallyChanged=manual and not automatic,
                ConditionCategory="B" if calculation == "C" else "",
            )
            priced.append(condition)
        item["NetAmount"] = _round(running, currency)
        return priced

    def sales_order(self, number: str) -> dict[str, Any] | None:
        """A stored sales order with ``to_Item`` (with ``to_PricingElement``) and
        ``to_Partner``, as copies; None when there is none."""
        header = self.entities(SALES_ORDER, "A_SalesOrder").get((number,))
        if header is None:
            return None
        items = [
            dict(item)
            for key, item in sorted(
                self.entities(SALES_ORDER, "A_SalesOrderItem").items(),
                key=lambda pair: int(pair[0][1]) if str(pair[0][1]).isdigit() else 0,
            )
            if key[0] == number
        ]
        elements = self.entities(SALES_ORDER, "A_SalesOrderItemPrElement")
        for item in items:
            item["to_PricingElement"] = [
                dict(element)
                for key, element in elements.items()
                if key[0] == number and key[1] == item["SalesOrderItem"]
            ]
        partners = [
            dict(partner)
            for key, partner in self.entities(SALES_ORDER, "A_SalesOrderHeaderPartner").items()
            if key[0] == number
        ]
        return {**header, "to_Item": items, "to_Partner": partners}

    def find_sales_orders(
        self,
        *,
        sold_to: str | None = None,
        sales_organization: str | None = None,
        purchase_order: str | None = None,
    ) -> list[dict[str, Any]]:
        """Stored sales order headers (copies) matching every criterion given, by number
        (what ``BAPI_SALESORDER_GETLIST`` needs)."""
        found = [
            dict(order)
            for order in self.entities(SALES_ORDER, "A_SalesOrder").values()
            if (sold_to is None or order.get("SoldToParty") == alpha(sold_to))
            and (sales_organization is None or order.get("SalesOrganization") == sales_organization)
            and (purchase_order is None or order.get("PurchaseOrderByCustomer") == purchase_order)
        ]
        return sorted(found, key=lambda order: (len(order["SalesOrder"]), order["SalesOrder"]))

    def reprice(self, number: str) -> None:
        """Price a stored order again after its items changed (quantities, prices)."""
        header = self.entities(SALES_ORDER, "A_SalesOrder")[(number,)]
        items = self.entities(SALES_ORDER, "A_SalesOrderItem")
        elements = self.entities(SALES_ORDER, "A_SalesOrderItemPrElement")
        total = Decimal(0)
        for key, item in items.items():
            if key[0] != number:
                continue
            own = sorted(
                (k for k in elements if k[0] == number and k[1] == item["SalesOrderItem"]),
                key=lambda k: int(k[2]),
            )
            manual = [elements.pop(k) for k in own]
            manual = [e for e in manual if e.get("ConditionOrigin") != "A"]
            material = self.materials.get(str(item.get("Material", "")).upper()) or MaterialSeed(
                material=str(item.get("Material") or "?")
            )
            for element in self._price_item(item, manual, material, manual=True):
                self.put(SALES_ORDER, "A_SalesOrderItemPrElement", element)
            total += Decimal(item["NetAmount"])
        header["TotalNetAmount"] = _round(total, str(header.get("TransactionCurrency") or ""))

    def delete_sales_order(self, number: str) -> None:
        for set_name, entities in self.store[SALES_ORDER].items():
            if "SalesOrder" in self.services[SALES_ORDER].type_of(set_name).keys:
                for key in [
                    k for k, record in entities.items() if record.get("SalesOrder") == number
                ]:
                    del entities[key]

    def summary(self) -> dict[str, Any]:
        orders = sorted(
            self.entities(SALES_ORDER, "A_SalesOrder").values(),
            key=lambda o: (len(str(o["SalesOrder"])), str(o["SalesOrder"])),
        )
        items = self.entities(SALES_ORDER, "A_SalesOrderItem")
        return {
            "requests": self.requests,
            "faults_injected": dict(self.faults_injected),
            "faults": self.faults.model_dump(mode="json"),
            "csrf_sessions": len(self.sessions),
            "customers": len(self.customers),
            "materials": len(self.materials),
            "entities": {
                service: {name: len(records) for name, records in sets.items() if records}
                for service, sets in self.store.items()
            },
            "sales_orders": [
                {
                    "SalesOrder": order["SalesOrder"],
                    "PurchaseOrderByCustomer": order.get("PurchaseOrderByCustomer") or "",
                    "SoldToParty": order.get("SoldToParty") or "",
                    "TotalNetAmount": f"{order.get('TotalNetAmount', Decimal(0)):f}",
                    "TransactionCurrency": order.get("TransactionCurrency") or "",
                    "items": sum(1 for key in items if key[0] == order["SalesOrder"]),
                }
                for order in orders
            ],
        }
