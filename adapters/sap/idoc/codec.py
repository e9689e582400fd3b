"""IDoc XML: writing a segment tree with lxml and reading one back with a hardened parser.

The XML form is SAP's IDoc-XML as an XML port writes it::

    <ORDERS05>
      <IDOC BEGIN="1">
        <EDI_DC40 SEGMENT="1"><TABNAM>EDI_DC40</TABNAM>...</EDI_DC40>
        <E1EDK01 SEGMENT="1"><CURCY>EUR</CURCY>...</E1EDK01>
        ...
      </IDOC>
    </ORDERS05>

Numbers are written as SAP writes them into CHAR fields: '.' as the decimal point, no
thousands separators, no padding, a trailing minus for negative values ("12.50-").
Reading accepts a leading or a trailing minus and surrounding blanks, nothing else: no
decimal comma, no exponent, no grouping.

Reading never resolves entities, never loads a DTD and never touches the network; a
document with a DOCTYPE is refused (IDoc-XML has none).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree  # type: ignore[import-untyped]
from pydantic import ValidationError

from adapters.sap.idoc.errors import IdocError, fail
from adapters.sap.idoc.model import ControlRecord, Segment, Value
from adapters.sap.idoc.structure import CONTROL, SEGMENTS, FieldDef, IdocType, SegmentDef
from hub import money
from hub.errors import Issue

_NUMBER = re.compile(r"^(-?)(\d+(?:\.\d*)?|\.\d+)(-?)$")
_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MIN_PLACES = {"quantity": 3, "rate": 3, "integer": 0, "ratio": 5}


# --- writing --------------------------------------------------------------------------


def _places_needed(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _sap_number(value: Decimal, places: int) -> str:
    text = f"{abs(value):.{places}f}"
    return f"{text}-" if value < 0 and Decimal(text) != 0 else text


def format_value(definition: FieldDef, value: Value, currency: str | None) -> str:
    """The CHAR text of ``value`` for a field; ValueError says why it cannot be written."""
    kind = definition.kind
    if kind == "char":
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {type(value).__name__}")
        return value
    if kind == "date":
        if not isinstance(value, date) or isinstance(value, datetime):
            raise ValueError(f"expected a date, got {type(value).__name__}")
        return value.strftime("%Y%m%d")
    if kind == "time":
        if not isinstance(value, time):
            raise ValueError(f"expected a time of day, got {type(value).__name__}")
        return value.strftime("%H%M%S")
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"expected a finite decimal number, got {value!r}")
    needed = _places_needed(value)
    if kind == "amount":
        if currency is None:
            raise ValueError("an amount needs the document currency")
        places = money.minor_units(currency)
        if needed > places:
            raise ValueError(f"{value} has more than {places} decimals for {currency}")
        return _sap_number(value, places)
    if kind == "price":
        floor = money.minor_units(currency) if currency else 0
        return _sap_number(value, max(floor, needed))
    if kind == "quantity" and needed > 3:
        raise ValueError(f"{value} has more than 3 decimals (SAP quantities have 3)")
    if kind == "integer" and needed > 0:
        raise ValueError(f"{value} is not a whole number")
    return _sap_number(value, max(_MIN_PLACES[kind], needed))


def _check(
    definition: SegmentDef, values: dict[str, Value], where: str, currency: str | None
) -> tuple[list[tuple[str, str]], list[Issue]]:
    issues: list[Issue] = []
    out: list[tuple[str, str]] = []
    for name in values:
        if definition.field(name) is None:
            issues.append(Issue(f"{where}.{name}", f"{definition.name} has no field {name}"))
    for spec in definition.fields:
        if spec.name not in values:
            continue
        place = f"{where}.{spec.name}"
        try:
            text = format_value(spec, values[spec.name], currency)
        except ValueError as exc:
            issues.append(Issue(place, str(exc)))
            continue
        if _XML_CHARS.search(text):
            issues.append(Issue(place, f"{text!r} holds characters XML cannot carry"))
            continue
        if len(text) > spec.length:
            if spec.cut:
                # SAP's own outbound cuts these address texts to the segment length.
                text = text[: spec.length].rstrip()
            else:
                issues.append(
                    Issue(
                        place,
                        f"{text!r} has {len(text)} characters; "
                        f"{definition.name}-{spec.name} holds at most {spec.length}",
                    )
                )
                continue
        if text:
            out.append((spec.name, text))
    return out, issues


def _emit(
    parent: Any,
    idoc_type: IdocType,
    parent_name: str,
    parent_path: str,
    segments: Sequence[Segment],
    currency: str | None,
    issues: list[Issue],
) -> None:
    allowed = idoc_type.children_of(parent_name)
    counts: dict[str, int] = {}
    ordered = sorted(
        segments,
        key=lambda s: allowed.index(s.name) if s.name in allowed else len(allowed),
    )
    for segment in ordered:
        counts[segment.name] = counts.get(segment.name, 0) + 1
        where = f"{segment.name}[{counts[segment.name]}]"
        if parent_path:
            where = f"{parent_path}/{where}"
        definition = SEGMENTS.get(segment.name)
        if segment.name not in allowed or definition is None:
            under = parent_name or idoc_type.idoctyp
            issues.append(Issue(where, f"{segment.name} is not a segment under {under}"))
            continue
        fields, problems = _check(definition, segment.values, where, currency)
        issues.extend(problems)
        element = etree.SubElement(parent, segment.name, SEGMENT="1")
        for name, text in fields:
            etree.SubElement(element, name).text = text
        _emit(element, idoc_type, segment.name, where, segment.children, currency, issues)


def control_values(control: ControlRecord) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for name, value in control.model_dump().items():
        if value is not None and value != "":
            values[name] = value
    return values


def write_idoc(
    idoc_type: IdocType,
    control: ControlRecord,
    segments: Sequence[Segment],
    *,
    currency: str | None,
) -> bytes:
    """IDoc-XML (UTF-8) of one IDoc; every field too long or unwritable is reported at once.

    Segments are written in the order the IDoc type defines, whatever order they were
    built in (segments of one type keep their relative order). ``currency`` is the
    document currency that the amount fields are rounded to.
    """
    if idoc_type.idoctyp != control.IDOCTYP:
        raise fail("EDI_DC40.IDOCTYP", f"{control.IDOCTYP} is not {idoc_type.idoctyp}")
    root = etree.Element(control.CIMTYP or idoc_type.idoctyp)
    idoc = etree.SubElement(root, "IDOC", BEGIN="1")
    fields, issues = _check(CONTROL, control_values(control), "EDI_DC40", currency)
    dc40 = etree.SubElement(idoc, "EDI_DC40", SEGMENT="1")
    for name, text in fields:
        etree.SubElement(dc40, name).text = text
    _emit(idoc, idoc_type, "", "", segments, currency, issues)
    if issues:
        raise IdocError(issues)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


# --- reading --------------------------------------------------------------------------


def _local(element: Any) -> str | None:
    tag = element.tag
    if not isinstance(tag, str):
        return None  # comment, processing instruction
    return str(etree.QName(tag).localname)


def _elements(parent: Any) -> list[Any]:
    return [child for child in parent if isinstance(child.tag, str)]


def _is_segment(element: Any) -> bool:
    return element.get("SEGMENT") is not None or len(_elements(element)) > 0


def _read_segment(element: Any, idoc_type: IdocType, path: str) -> Segment:
    name = _local(element) or ""
    segment = Segment(name=name, path=path)
    counts: dict[str, int] = {}
    known = idoc_type.children_of(name)
    for child in _elements(element):
        child_name = _local(child) or ""
        if _is_segment(child):
            if child_name in known:
                counts[child_name] = counts.get(child_name, 0) + 1
                child_path = f"{path}/{child_name}[{counts[child_name]}]"
                segment.children.append(_read_segment(child, idoc_type, child_path))
            continue  # a segment the hub does not read
        segment.values[child_name] = child.text or ""
    return segment


def parse_date(text: str, where: str) -> date | None:
    if set(text) <= {"0"}:
        return None  # SAP writes an initial date as 00000000
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise fail(where, f"{text!r} is not a date (YYYYMMDD)") from None


def parse_time(text: str, where: str) -> time:
    try:
        return datetime.strptime(text, "%H%M%S").time()
    except ValueError:
        raise fail(where, f"{text!r} is not a time (HHMMSS)") from None


def _control(element: Any) -> ControlRecord:
    texts = {
        _local(child) or "": (child.text or "").strip()
        for child in _elements(element)
        if not _is_segment(child)
    }
    data: dict[str, object] = {
        name: value
        for name, value in texts.items()
        if name in ControlRecord.model_fields and value != ""
    }
    if isinstance(data.get("CREDAT"), str):
        data["CREDAT"] = parse_date(str(data["CREDAT"]), "EDI_DC40.CREDAT")
    if isinstance(data.get("CRETIM"), str):
        data["CRETIM"] = parse_time(str(data["CRETIM"]), "EDI_DC40.CRETIM")
    try:
        return ControlRecord.model_validate(data)
    except ValidationError as exc:
        issues = [
            Issue(
                "EDI_DC40." + ".".join(str(p) for p in error["loc"]),
                error["msg"],
            )
            for error in exc.errors()
        ]
        raise IdocError(issues) from None


def read_idoc(xml: bytes, idoc_type: IdocType) -> tuple[ControlRecord, Segment]:
    """The control record and the data segments (children of a root :class:`Segment`).

    Refuses what is not one well-formed IDoc of ``idoc_type`` with its message type:
    another basic type, a DOCTYPE, several IDOC elements, a missing control record.
    Segment types the hub does not read are skipped; so are unknown fields.
    """
    if not isinstance(xml, bytes | bytearray):
        raise fail("XML", f"expected bytes, got {type(xml).__name__}")
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise fail("XML", "a DOCTYPE or ENTITY declaration is not allowed in IDoc-XML")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(bytes(xml), parser)
    except etree.XMLSyntaxError as exc:
        raise fail("XML", f"not well-formed: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise fail("XML", "a DOCTYPE is not allowed in IDoc-XML")
    idocs = [e for e in _elements(root) if _local(e) == "IDOC"]
    if len(idocs) != 1:
        found = f"{len(idocs)} IDOC elements" if idocs else "no IDOC element"
        raise fail(_local(root) or "XML", f"expected exactly one IDOC, found {found}")
    idoc = idocs[0]
    records = [e for e in _elements(idoc) if _local(e) == "EDI_DC40"]
    if len(records) != 1:
        raise fail("EDI_DC40", "expected exactly one control record EDI_DC40")
    control = _control(records[0])
    if idoc_type.idoctyp != control.IDOCTYP:
        raise fail(
            "EDI_DC40.IDOCTYP",
            f"the document is a {control.IDOCTYP} IDoc, not {idoc_type.idoctyp}",
        )
    if idoc_type.mestyp != control.MESTYP:
        raise fail(
            "EDI_DC40.MESTYP",
            f"message type {control.MESTYP} is not {idoc_type.mestyp}",
        )
    root_name = _local(root)
    if root_name not in {control.IDOCTYP, control.CIMTYP}:
        raise fail(root_name or "XML", f"root element {root_name} is not {control.IDOCTYP}")
    body = Segment(name="", path="")
    counts: dict[str, int] = {}
    known = idoc_type.children_of("")
    for element in _elements(idoc):
        name = _local(element) or ""
        if name in known:
            counts[name] = counts.get(name, 0) + 1
            body.children.append(_read_segment(element, idoc_type, f"{name}[{counts[name]}]"))
    return control, body


# --- typed field access for readers ----------------------------------------------------


def required(segment: Segment, name: str) -> str:
    text = segment.text(name)
    if text is None:
        raise fail(segment.where(name), "missing")
    return text


def number(segment: Segment, name: str) -> Decimal | None:
    """A number written the SAP way; None when the field is absent or blank."""
    text = segment.text(name)
    if text is None:
        return None
    match = _NUMBER.match(text)
    if match is None or (match.group(1) and match.group(3)):
        raise fail(segment.where(name), f"not a number: {text!r}")
    try:
        value = Decimal(match.group(2))
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise fail(segment.where(name), f"not a number: {text!r}") from None
    return -value if match.group(1) or match.group(3) else value


def plain(value: Decimal | None) -> Decimal | None:
    """``value`` without the zeros SAP pads quantities and rates with ("2.000" → 2)."""
    if value is None:
        return None
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def amount(segment: Segment, name: str, currency: str) -> Decimal | None:
    """A money amount that must fit the currency's minor unit."""
    value = number(segment, name)
    if value is not None and not money.is_rounded(value, currency):
        places = money.minor_units(currency)
        raise fail(segment.where(name), f"{value} has more than {places} decimals for {currency}")
    return value


def date_field(segment: Segment, name: str) -> date | None:
    text = segment.text(name)
    return None if text is None else parse_date(text, segment.where(name))


def time_field(segment: Segment, name: str) -> time | None:
    text = segment.text(name)
    return None if text is None else parse_time(text, segment.where(name))
