"""Typed pieces of an IDoc: the control record, the segment tree and the settings.

Class and field names of :class:`ControlRecord` are SAP's (EDI_DC40), verbatim, like the
OData shapes in :mod:`adapters.sap.shapes`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from typing import Generic, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.canonical.common import TaxCategory

Value = str | Decimal | date | time
"""A field value before it is written: text, a number, a date or a time of day."""

T = TypeVar("T")


class ControlRecord(BaseModel):
    """The control record EDI_DC40: who sends what to whom (one per IDoc).

    Only the fields the hub fills or reads. ``DIRECT`` is seen from SAP: ``1`` outbound
    (SAP sends), ``2`` inbound (SAP receives). ``CREDAT``/``CRETIM`` are the creation date
    and time in the sending system's local time (no time zone in an IDoc).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    TABNAM: Literal["EDI_DC40"] = "EDI_DC40"
    MANDT: str | None = Field(None, pattern=r"^\d{3}$", description="Client")
    DOCNUM: str = Field(pattern=r"^\d{16}$", description="IDoc number (16 digits)")
    DOCREL: str | None = Field(None, max_length=4, description="SAP release of the IDoc")
    STATUS: str | None = Field(None, max_length=2, description="Status of the IDoc")
    DIRECT: Literal["1", "2"] = Field(description="Direction: 1 outbound, 2 inbound")
    OUTMOD: str | None = Field(None, max_length=1, description="Output mode")
    TEST: Literal["X"] | None = Field(None, description="Test flag")
    IDOCTYP: str = Field(min_length=1, max_length=30, description="Basic type")
    CIMTYP: str | None = Field(None, max_length=30, description="Extension type")
    MESTYP: str = Field(min_length=1, max_length=30, description="Message type")
    SNDPOR: str | None = Field(None, max_length=10, description="Sender port")
    SNDPRT: str | None = Field(None, max_length=2, description="Partner type of sender")
    SNDPRN: str | None = Field(None, max_length=10, description="Partner number of sender")
    RCVPOR: str | None = Field(None, max_length=10, description="Receiver port")
    RCVPRT: str | None = Field(None, max_length=2, description="Partner type of receiver")
    RCVPRN: str | None = Field(None, max_length=10, description="Partner number of receiver")
    CREDAT: date | None = Field(None, description="Created on (local date)")
    CRETIM: time | None = Field(None, description="Created at (local time)")
    ARCKEY: str | None = Field(None, max_length=70, description="Document id outside SAP")


@dataclass
class Segment:
    """One data record of an IDoc: a segment type, its field values and child segments.

    Built segments hold typed values (formatted when written); read segments hold the
    text of each field and know their ``path`` (``E1EDP01[2]``) for error messages.
    """

    name: str
    values: dict[str, Value] = field(default_factory=dict)
    children: list[Segment] = field(default_factory=list)
    path: str = ""

    def set(self, name: str, value: Value | None) -> Segment:
        """Fill a field; None and "" leave it out (SAP omits initial fields)."""
        if value is not None and value != "":
            self.values[name] = value
        return self

    def add(self, child: Segment) -> Segment:
        self.children.append(child)
        return child

    def all(self, name: str) -> list[Segment]:
        """Child segments of one type, in document order."""
        return [c for c in self.children if c.name == name]

    def text(self, name: str) -> str | None:
        """The field's text, stripped; None when the field is absent or blank."""
        value = self.values.get(name)
        if value is None:
            return None
        text = str(value).strip()
        return text or None

    def where(self, field_name: str) -> str:
        return f"{self.path or self.name}.{field_name}"

    def with_qualifier(self, segment: str, field_name: str, qualifier: str) -> list[Segment]:
        """Child segments of one type whose qualifier field has the given value."""
        return [c for c in self.all(segment) if c.text(field_name) == qualifier]


@dataclass(frozen=True)
class IdocDocument(Generic[T]):
    """What a parser returns: the control record, the canonical document and the SAP keys
    the canonical model has no field for (partner numbers by PARVW, sales area)."""

    control: ControlRecord
    document: T
    partners: dict[str, str]
    """PARTN of each E1EDKA1 by partner function (AG, WE, RE, RS, ...)."""
    sales_area: SalesArea | None = None


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IdocEnvelope(_Settings):
    """The control record settings of one partner profile (WE20) and port (WE21)."""

    sender_port: str = Field(min_length=1, max_length=10, description="SNDPOR")
    sender_partner_type: Literal["LS", "KU", "LI"] = Field(
        "LS", description="SNDPRT: LS logical system, KU customer, LI vendor"
    )
    sender_partner: str = Field(min_length=1, max_length=10, description="SNDPRN")
    receiver_port: str = Field(min_length=1, max_length=10, description="RCVPOR")
    receiver_partner_type: Literal["LS", "KU", "LI"] = Field("LS", description="RCVPRT")
    receiver_partner: str = Field(min_length=1, max_length=10, description="RCVPRN")
    client: str | None = Field(None, pattern=r"^\d{3}$", description="MANDT of the receiver")
    release: str | None = Field(None, max_length=4, description="DOCREL, e.g. 750")
    direction: Literal["1", "2"] = Field(
        "2", description="DIRECT seen from SAP: 2 = inbound to SAP (the hub sends to SAP)"
    )
    output_mode: str | None = Field(None, max_length=1, description="OUTMOD")
    test: bool = Field(False, description="TEST = X: the receiver treats it as a test")


class SalesArea(_Settings):
    """Organisational data (E1EDK14) with SAP's own key lengths."""

    sales_org: str | None = Field(None, min_length=1, max_length=4, description="VKORG, 008")
    distribution_channel: str | None = Field(
        None, min_length=1, max_length=2, description="VTWEG, 007"
    )
    division: str | None = Field(None, min_length=1, max_length=2, description="SPART, 006")
    order_type: str | None = Field(
        None, min_length=1, max_length=4, description="AUART, 012 (ORDERS05 only)"
    )


def _default_tax_codes() -> dict[TaxCategory, str]:
    return {category: category.value for category in TaxCategory}


class IdocOptions(_Settings):
    """How canonical values are expressed in SAP's codes (both directions)."""

    timezone: str = Field(
        "UTC",
        description="The SAP system's time zone: IDoc dates and times carry none "
        "(CREDAT/CRETIM, E1EDK03 DATUM/UZEIT are written and read in this zone).",
    )
    system: str = Field(
        "sap", min_length=1, description="Key of the partner number in a read party's external_ids"
    )
    tax_codes: dict[TaxCategory, str] = Field(
        default_factory=_default_tax_codes,
        description="MWSKZ per VAT category (E1EDK04/E1EDP04/E1EDK05). MWSKZ is a code the "
        "partners agree on (SAP's inbound converts it with table T076M); the default is "
        "the category code itself (S, Z, E, AE, ...).",
    )
    price_condition: str = Field(
        "PR00", min_length=1, max_length=4, description="ORDERS05 item price (KSCHL)"
    )
    discount_condition: str = Field(
        "RB00", min_length=1, max_length=4, description="ORDERS05 item discount (value)"
    )
    freight_condition: str = Field(
        "HD00", min_length=1, max_length=4, description="ORDERS05 header freight (shipping)"
    )
    charge_condition: str | None = Field(
        None,
        min_length=1,
        max_length=4,
        description="ORDERS05 header surcharge for the order's charges; SAP's standard "
        "pricing has none, so an order with charges needs one configured.",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone") from exc
        return value

    @field_validator("tax_codes")
    @classmethod
    def _codes(cls, value: dict[TaxCategory, str]) -> dict[TaxCategory, str]:
        for category, code in value.items():
            if not 1 <= len(code) <= 7:
                raise ValueError(f"MWSKZ for {category.value} must have 1 to 7 characters")
        codes = list(value.values())
        if len(set(codes)) != len(codes):
            raise ValueError("two VAT categories share one MWSKZ; it could not be read back")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def category_for(self, code: str) -> TaxCategory | None:
        for category, mwskz in self.tax_codes.items():
            if mwskz == code:
                return category
        return None


class OrderPartners(_Settings):
    """SAP partner numbers for an ORDERS05 (the caller looks them up)."""

    sold_to: str = Field(min_length=1, max_length=17, description="AG")
    ship_to: str | None = Field(None, min_length=1, max_length=17, description="WE")
    bill_to: str | None = Field(None, min_length=1, max_length=17, description="RE")


class InvoicePartners(_Settings):
    """SAP partner numbers for an INVOIC02 (the caller looks them up)."""

    invoicing_party: str = Field(min_length=1, max_length=17, description="RS (the seller)")
    sold_to: str = Field(min_length=1, max_length=17, description="AG")
    bill_to: str | None = Field(None, min_length=1, max_length=17, description="RE")
    ship_to: str | None = Field(None, min_length=1, max_length=17, description="WE")


def docnum_for(key: str) -> str:
    """A stable 16-digit DOCNUM for ``key`` (e.g. a delivery id): the same key gives the
    same number, so a repeated delivery is recognisable at the receiver."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**16).zfill(16)
