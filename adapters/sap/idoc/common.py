"""What ORDERS05 and INVOIC02 share: the control record, partners (E1EDKA1), tax codes,
and turning a canonical validation error into an IDoc error.

Partner segment E1EDKA1 (PARVW: AG sold-to party, WE goods recipient / ship-to, RE
invoice recipient / bill-to, RS invoicing party, LF vendor; domain values of data
element EDI3035_A):

* names: a party's company goes into NAME1 and its person's name into NAME2; without a
  company NAME1 holds the person's name. Read back, NAME1 + NAME2 give company + name.
  A lone NAME1 is read as a party's ``name`` but as an address's ``company`` (SAP's NAME1
  is the name of the organisation at the address).
* address: street lines in STRAS and STRS2 (at most two: a third line is an error), city
  ORT01, post code PSTLZ, region code REGIO, country LAND1 (ISO alpha-2, which is SAP's
  country key for almost every country).
* phone TELF1, the party's own reference (BT-10 buyer reference) IHREZ.
* e-mail, customer group and guest flag have no field in E1EDKA1 and are not carried.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from adapters.sap.idoc.codec import required
from adapters.sap.idoc.errors import IdocError, fail
from adapters.sap.idoc.model import (
    ControlRecord,
    IdocEnvelope,
    IdocOptions,
    SalesArea,
    Segment,
)
from adapters.sap.idoc.structure import IdocType
from hub import money
from hub.canonical.common import Address, PartyRef, TaxCategory
from hub.errors import Issue

M = TypeVar("M", bound=BaseModel)

# E1EDK14 QUALF (SAP Library, "Document Header: Organizational Data (Segment E1EDK14)"):
# 008 sales organization, 007 distribution channel, 006 division, 012 order type.
ORG_SALES_ORG = "008"
ORG_CHANNEL = "007"
ORG_DIVISION = "006"
ORG_ORDER_TYPE = "012"


def make_control(
    idoc_type: IdocType,
    envelope: IdocEnvelope,
    docnum: str,
    created_at: datetime,
    options: IdocOptions,
) -> ControlRecord:
    if created_at.tzinfo is None or created_at.utcoffset() is None:
        raise fail("EDI_DC40.CREDAT", "created_at must be timezone-aware")
    local = created_at.astimezone(options.zone)
    data = {
        "MANDT": envelope.client,
        "DOCNUM": docnum,
        "DOCREL": envelope.release,
        "DIRECT": envelope.direction,
        "OUTMOD": envelope.output_mode,
        "TEST": "X" if envelope.test else None,
        "IDOCTYP": idoc_type.idoctyp,
        "MESTYP": idoc_type.mestyp,
        "SNDPOR": envelope.sender_port,
        "SNDPRT": envelope.sender_partner_type,
        "SNDPRN": envelope.sender_partner,
        "RCVPOR": envelope.receiver_port,
        "RCVPRT": envelope.receiver_partner_type,
        "RCVPRN": envelope.receiver_partner,
        "CREDAT": local.date(),
        "CRETIM": local.time().replace(microsecond=0),
    }
    return validated(ControlRecord, data, "EDI_DC40")


def validated(model: type[M], data: Mapping[str, object], where: str) -> M:
    """``model`` from ``data``; a validation error becomes an :class:`IdocError`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        issues = [
            Issue(
                ".".join([where, *(str(p) for p in error["loc"])]),
                error["msg"],
            )
            for error in exc.errors()
        ]
        raise IdocError(issues) from None


def sales_area_segments(area: SalesArea | None, *, with_order_type: bool) -> list[Segment]:
    if area is None:
        return []
    pairs = [
        (ORG_SALES_ORG, area.sales_org),
        (ORG_CHANNEL, area.distribution_channel),
        (ORG_DIVISION, area.division),
    ]
    if with_order_type:
        pairs.append((ORG_ORDER_TYPE, area.order_type))
    return [
        Segment("E1EDK14").set("QUALF", qualf).set("ORGID", orgid)
        for qualf, orgid in pairs
        if orgid is not None
    ]


def read_sales_area(body: Segment) -> SalesArea | None:
    found: dict[str, str] = {}
    for segment in body.all("E1EDK14"):
        qualf, orgid = segment.text("QUALF"), segment.text("ORGID")
        if qualf and orgid:
            found.setdefault(qualf, orgid)
    if not found:
        return None
    return validated(
        SalesArea,
        {
            "sales_org": found.get(ORG_SALES_ORG),
            "distribution_channel": found.get(ORG_CHANNEL),
            "division": found.get(ORG_DIVISION),
            "order_type": found.get(ORG_ORDER_TYPE),
        },
        "E1EDK14",
    )


def _names(company: str | None, name: str | None) -> tuple[str | None, str | None]:
    if company and name and name != company:
        return company, name
    return company or name, None


def partner_segment(
    parvw: str,
    partn: str,
    *,
    party: PartyRef | None,
    address: Address | None,
    where: str,
    reference: str | None = None,
) -> Segment:
    """E1EDKA1 for one partner function; names from ``party`` when given, else from the
    address."""
    segment = Segment("E1EDKA1").set("PARVW", parvw).set("PARTN", partn)
    if party is not None:
        name1, name2 = _names(party.company, party.name)
        phone = party.phone
    elif address is not None:
        name1, name2 = _names(address.company, address.name)
        phone = None
    else:
        name1 = name2 = phone = None
    segment.set("NAME1", name1).set("NAME2", name2)
    if address is not None:
        if len(address.lines) > 2:
            raise fail(
                f"{where}.STRS2",
                f"the address has {len(address.lines)} street lines; E1EDKA1 holds two "
                "(STRAS, STRS2)",
            )
        lines = [*address.lines, None, None]
        segment.set("STRAS", lines[0]).set("STRS2", lines[1])
        segment.set("ORT01", address.city).set("PSTLZ", address.postal_code)
        segment.set("LAND1", address.country).set("REGIO", address.region_code)
    segment.set("TELF1", phone).set("IHREZ", reference)
    return segment


def partners_by_function(body: Segment) -> dict[str, Segment]:
    """The first E1EDKA1 of each partner function."""
    found: dict[str, Segment] = {}
    for segment in body.all("E1EDKA1"):
        parvw = segment.text("PARVW")
        if parvw:
            found.setdefault(parvw, segment)
    return found


def partner_numbers(partners: dict[str, Segment]) -> dict[str, str]:
    return {
        parvw: partn
        for parvw, segment in partners.items()
        if (partn := segment.text("PARTN")) is not None
    }


def party_from(segment: Segment, options: IdocOptions, *, tax_id: str | None) -> PartyRef:
    name1, name2 = segment.text("NAME1"), segment.text("NAME2")
    partn = segment.text("PARTN")
    data: dict[str, object] = {
        "external_ids": {options.system: partn} if partn else {},
        "name": name2 if name2 else name1,
        "company": name1 if name2 else None,
        "tax_id": tax_id,
        "phone": segment.text("TELF1"),
    }
    return validated(PartyRef, data, segment.path)


def address_from(segment: Segment, *, with_names: bool = True) -> Address:
    lines = [line for line in (segment.text("STRAS"), segment.text("STRS2")) if line]
    data: dict[str, object] = {
        "lines": lines,
        "city": required(segment, "ORT01"),
        "postal_code": segment.text("PSTLZ"),
        "region_code": segment.text("REGIO"),
        "country": required(segment, "LAND1"),
    }
    if with_names:
        data["company"] = segment.text("NAME1")
        data["name"] = segment.text("NAME2")
    return validated(Address, data, segment.path)


def tax_code(options: IdocOptions, category: TaxCategory) -> str:
    code = options.tax_codes.get(category)
    if code is None:
        raise fail("MWSKZ", f"IdocOptions.tax_codes has no MWSKZ for VAT category {category}")
    return code


def tax_category(segment: Segment, options: IdocOptions) -> TaxCategory | None:
    code = segment.text("MWSKZ")
    if code is None:
        return None
    category = options.category_for(code)
    if category is None:
        known = ", ".join(f"{c}={k.value}" for k, c in options.tax_codes.items())
        raise fail(segment.where("MWSKZ"), f"unknown tax code {code!r} (known: {known})")
    return category


def currency_of(segment: Segment) -> str:
    code = required(segment, "CURCY").upper()
    if not money.is_currency(code):
        raise fail(segment.where("CURCY"), f"{code!r} is not an ISO 4217 invoicing currency")
    return code


def one(body: Segment, name: str) -> Segment:
    found = body.all(name)
    if len(found) != 1:
        raise fail(name, f"expected one {name} segment, found {len(found)}")
    return found[0]


def check_total(segment: Segment, field_name: str, written: Decimal, computed: Decimal) -> None:
    """A total the sender wrote must equal the one the canonical model computes."""
    if written != computed:
        raise fail(
            segment.where(field_name),
            f"{written} differs from the computed {computed}",
        )
