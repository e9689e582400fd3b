"""SAP IDoc-XML (adapters/sap/idoc): golden structure, control record, field lengths,
totals, malformed input.

The structure checks read the written XML with lxml directly, not with the package's own
reader, so a mistake in the codec cannot hide itself.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from adapters.sap.idoc import (
    INVOIC02,
    ORDERS05,
    ControlRecord,
    IdocEnvelope,
    IdocError,
    IdocOptions,
    InvoicePartners,
    OrderPartners,
    SalesArea,
    Segment,
    build_invoic02,
    build_orders05,
    docnum_for,
    parse_invoic02,
    parse_orders05,
    read_idoc,
    write_idoc,
)
from adapters.sap.idoc.structure import SEGMENTS
from hub.canonical import CreditNote, Invoice, Order

D = Decimal
ENVELOPE = IdocEnvelope(
    sender_port="HUBPORT",
    sender_partner="O2CHUB",
    receiver_port="SAPS4H",
    receiver_partner="S4HCLNT100",
    client="100",
    release="750",
)
CREATED = datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC)
DOCNUM = "0000000000004711"
ORDER_PARTNERS = OrderPartners(sold_to="1000042", ship_to="1000043")
INVOICE_PARTNERS = InvoicePartners(invoicing_party="V100", sold_to="1000042")
AREA = SalesArea(sales_org="1010", distribution_channel="10", division="00", order_type="OR")


def order_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "order_number": "100000042",
        "order_date": "2024-03-01T10:15:30+01:00",
        "currency": "EUR",
        "buyer": {
            "name": "Jane Buyer",
            "company": "ACME GmbH",
            "tax_id": "DE123456789",
            "phone": "+49 30 1234",
        },
        "buyer_reference": "PO-4711",
        "billing_address": {
            "company": "ACME GmbH",
            "name": "Accounts Payable",
            "lines": ["Unter den Linden 1", "Hof 2"],
            "city": "Berlin",
            "postal_code": "10117",
            "country": "DE",
        },
        "shipping_address": {
            "company": "ACME GmbH Werk 2",
            "name": "Goods In",
            "lines": ["Am Kanal 5"],
            "city": "Potsdam",
            "postal_code": "14467",
            "region_code": "BB",
            "country": "DE",
        },
        "lines": [
            {
                "line_id": "1",
                "sku": "A-1",
                "name": "Widget",
                "quantity": "2",
                "unit_price": "10.00",
                "tax_rate": "19",
                "tax_amount": "3.80",
            },
            {
                "line_id": "2",
                "sku": "B-2",
                "name": "Gadget",
                "quantity": "3",
                "unit": "KGM",
                "unit_price": "19.999",
                "discount_amount": "5.00",
                "discount_reason": "promo",
                "tax_rate": "7",
                "tax_amount": "3.85",
            },
        ],
        "shipping": {"method": "dhl", "amount": "5.95", "tax_rate": "19", "tax_amount": "1.13"},
    }
    data.update(overrides)
    return data


def invoice_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "invoice_number": "INV-2024-0001",
        "issue_date": "2024-03-05",
        "due_date": "2024-04-04",
        "tax_point_date": "2024-03-04",
        "currency": "EUR",
        "order_reference": "PO-4711",
        "buyer_reference": "Dept 7",
        "seller": {"name": "Seller AG", "tax_id": "DE999999999"},
        "seller_address": {"lines": ["Hafen 1"], "city": "Hamburg", "country": "DE"},
        "buyer": {"name": "ACME GmbH", "tax_id": "DE123456789"},
        "buyer_address": {"company": "ACME GmbH", "city": "Berlin", "country": "DE"},
        "delivery_address": {"company": "ACME Werk 2", "city": "Potsdam", "country": "DE"},
        "lines": [
            {
                "line_id": "10",
                "order_line_id": "1",
                "sku": "A-1",
                "name": "Widget",
                "quantity": "3",
                "unit_price": "10.005",
                "tax_category": "S",
                "tax_rate": "19",
                "allowances": [{"amount": "1.00", "reason": "promo", "reason_code": "95"}],
            },
            {
                "line_id": "20",
                "sku": "B-2",
                "name": "Gadget",
                "quantity": "2",
                "unit_price": "12.50",
                "base_quantity": "10",
                "tax_category": "S",
                "tax_rate": "7",
            },
            {
                "line_id": "30",
                "sku": "C-3",
                "name": "Export part",
                "quantity": "1",
                "unit_price": "100",
                "tax_category": "G",
                "tax_rate": "0",
            },
        ],
    }
    data.update(overrides)
    return data


def build_order(order: Order, **kwargs: Any) -> bytes:
    args: dict[str, Any] = {
        "envelope": ENVELOPE,
        "docnum": DOCNUM,
        "partners": ORDER_PARTNERS,
        "created_at": CREATED,
        "sales_area": AREA,
    }
    args.update(kwargs)
    return build_orders05(order, **args)


def build_invoice(invoice: Invoice, **kwargs: Any) -> bytes:
    args: dict[str, Any] = {
        "envelope": ENVELOPE,
        "docnum": DOCNUM,
        "partners": INVOICE_PARTNERS,
        "created_at": CREATED,
    }
    args.update(kwargs)
    return build_invoic02(invoice, **args)


def tree(xml: bytes) -> Any:
    return etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))


def names(element: Any) -> list[str]:
    return [child.tag for child in element]


def fields(element: Any) -> dict[str, str]:
    return {child.tag: child.text for child in element if len(child) == 0}


def segments(idoc: Any, name: str) -> list[Any]:
    return idoc.findall(name)


def issues_of(excinfo: pytest.ExceptionInfo[IdocError]) -> dict[str, str]:
    return {issue.where: issue.message for issue in excinfo.value.issues}


# --- golden structure -------------------------------------------------------------------


def test_orders05_golden_structure() -> None:
    root = tree(build_order(Order.model_validate(order_data())))
    assert root.tag == "ORDERS05"
    assert names(root) == ["IDOC"]
    idoc = root[0]
    assert idoc.get("BEGIN") == "1"
    assert names(idoc) == [
        "EDI_DC40",
        "E1EDK01",
        *["E1EDK14"] * 4,
        "E1EDK03",
        "E1EDK05",
        *["E1EDKA1"] * 3,
        "E1EDK02",
        "E1EDP01",
        "E1EDP01",
        "E1EDS01",
        "E1EDS01",
    ]
    assert all(segment.get("SEGMENT") == "1" for segment in idoc)
    assert fields(idoc.find("E1EDK01")) == {
        "CURCY": "EUR",
        "KUNDEUINR": "DE123456789",
        "BELNR": "100000042",
    }
    assert [(s.findtext("QUALF"), s.findtext("ORGID")) for s in segments(idoc, "E1EDK14")] == [
        ("008", "1010"),
        ("007", "10"),
        ("006", "00"),
        ("012", "OR"),
    ]
    assert fields(idoc.find("E1EDK03")) == {"IDDAT": "022", "DATUM": "20240301", "UZEIT": "091530"}
    assert fields(idoc.find("E1EDK05")) == {
        "ALCKZ": "+",
        "KSCHL": "HD00",
        "KOTXT": "dhl",
        "BETRG": "5.95",
        "MWSKZ": "S",
        "MSATZ": "19.000",
    }
    partners = segments(idoc, "E1EDKA1")
    assert [(p.findtext("PARVW"), p.findtext("PARTN")) for p in partners] == [
        ("AG", "1000042"),
        ("RE", "1000042"),
        ("WE", "1000043"),
    ]
    assert names(partners[0]) == [
        "PARVW",
        "PARTN",
        "NAME1",
        "NAME2",
        "STRAS",
        "STRS2",
        "ORT01",
        "PSTLZ",
        "LAND1",
        "TELF1",
    ]
    assert fields(partners[0])["NAME1"] == "ACME GmbH"
    assert fields(partners[0])["NAME2"] == "Jane Buyer"
    assert fields(partners[2])["REGIO"] == "BB"
    assert fields(idoc.find("E1EDK02")) == {"QUALF": "001", "BELNR": "PO-4711"}

    first, second = segments(idoc, "E1EDP01")
    assert names(first) == [
        "POSEX",
        "MENGE",
        "MENEE",
        "PMENE",
        "VPREI",
        "PEINH",
        "NETWR",
        "E1EDP04",
        "E1EDP05",
        "E1EDP19",
    ]
    assert fields(second) == {
        "POSEX": "2",
        "MENGE": "3.000",
        "MENEE": "KGM",
        "PMENE": "KGM",
        "VPREI": "19.999",
        "PEINH": "1",
        "NETWR": "55.00",
    }
    assert fields(second.find("E1EDP04")) == {"MWSKZ": "S", "MSATZ": "7.000", "MWSBT": "3.85"}
    price, discount = second.findall("E1EDP05")
    assert fields(price) == {
        "ALCKZ": "+",
        "KSCHL": "PR00",
        "BETRG": "60.00",
        "KRATE": "19.999",
        "UPRBS": "1",
        "MEAUN": "KGM",
    }
    assert fields(discount) == {"ALCKZ": "-", "KSCHL": "RB00", "KOTXT": "promo", "BETRG": "5.00"}
    assert fields(second.find("E1EDP19")) == {"QUALF": "002", "IDTNR": "B-2", "KTEXT": "Gadget"}
    assert [fields(s) for s in segments(idoc, "E1EDS01")] == [
        {"SUMID": "002", "SUMME": "80.95", "WAERQ": "EUR"},
        {"SUMID": "005", "SUMME": "8.78", "WAERQ": "EUR"},
    ]


def test_control_record_fields_in_sap_order() -> None:
    root = tree(build_order(Order.model_validate(order_data())))
    control = root.find("IDOC/EDI_DC40")
    assert control.get("SEGMENT") == "1"
    assert list(fields(control).items()) == [
        ("TABNAM", "EDI_DC40"),
        ("MANDT", "100"),
        ("DOCNUM", "0000000000004711"),
        ("DOCREL", "750"),
        ("DIRECT", "2"),
        ("IDOCTYP", "ORDERS05"),
        ("MESTYP", "ORDERS"),
        ("SNDPOR", "HUBPORT"),
        ("SNDPRT", "LS"),
        ("SNDPRN", "O2CHUB"),
        ("RCVPOR", "SAPS4H"),
        ("RCVPRT", "LS"),
        ("RCVPRN", "S4HCLNT100"),
        ("CREDAT", "20240301"),
        ("CRETIM", "120005"),
    ]


def test_control_record_partner_types_test_flag_and_local_time() -> None:
    envelope = ENVELOPE.model_copy(
        update={"sender_partner_type": "KU", "receiver_partner_type": "LS", "test": True}
    )
    options = IdocOptions(timezone="Europe/Berlin")
    xml = build_order(Order.model_validate(order_data()), envelope=envelope, options=options)
    control = fields(tree(xml).find("IDOC/EDI_DC40"))
    assert control["SNDPRT"] == "KU"
    assert control["TEST"] == "X"
    assert (control["CREDAT"], control["CRETIM"]) == ("20240301", "130005")  # CET = UTC+1
    assert fields(tree(xml).find("IDOC/E1EDK03"))["UZEIT"] == "101530"

    document = parse_orders05(xml, options=options)
    control = document.control
    assert (datetime(2024, 3, 1).date(), time(13, 0, 5)) == (control.CREDAT, control.CRETIM)
    assert document.control.TEST == "X"
    assert document.document.order_date == datetime(2024, 3, 1, 9, 15, 30, tzinfo=UTC)


def test_invoic02_golden_structure() -> None:
    freight = {"amount": "4.90", "reason": "Freight", "reason_code": "FC", "tax_rate": "19"}
    invoice = Invoice.model_validate(invoice_data(charges=[freight]))
    area = SalesArea(sales_org="1010", distribution_channel="10", division="00")
    root = tree(build_invoice(invoice, sales_area=area))
    assert root.tag == "INVOIC02"
    idoc = root[0]
    assert names(idoc) == [
        "EDI_DC40",
        "E1EDK01",
        *["E1EDKA1"] * 4,
        *["E1EDK02"] * 2,
        *["E1EDK03"] * 3,
        "E1EDK05",
        *["E1EDK04"] * 3,
        *["E1EDK14"] * 3,
        *["E1EDP01"] * 3,
        *["E1EDS01"] * 3,
    ]
    control = fields(idoc.find("EDI_DC40"))
    assert (control["IDOCTYP"], control["MESTYP"]) == ("INVOIC02", "INVOIC")
    assert fields(idoc.find("E1EDK01")) == {
        "CURCY": "EUR",
        "KUNDEUINR": "DE123456789",
        "EIGENUINR": "DE999999999",
        "BSART": "INVO",
        "BELNR": "INV-2024-0001",
    }
    assert [s.findtext("PARVW") for s in segments(idoc, "E1EDKA1")] == ["RS", "AG", "RE", "WE"]
    assert segments(idoc, "E1EDKA1")[1].findtext("IHREZ") == "Dept 7"
    assert [fields(s) for s in segments(idoc, "E1EDK02")] == [
        {"QUALF": "009", "BELNR": "INV-2024-0001", "DATUM": "20240305"},
        {"QUALF": "001", "BELNR": "PO-4711"},
    ]
    assert [(s.findtext("IDDAT"), s.findtext("DATUM")) for s in segments(idoc, "E1EDK03")] == [
        ("012", "20240305"),
        ("028", "20240404"),
        ("015", "20240304"),
    ]
    assert fields(idoc.find("E1EDK05")) == {
        "ALCKZ": "+",
        "KSCHL": "FC",
        "KOTXT": "Freight",
        "BETRG": "4.90",
        "MWSKZ": "S",
        "MSATZ": "19.000",
    }
    first = segments(idoc, "E1EDP01")[0]
    assert [child.tag for child in first if child.get("SEGMENT")] == [
        "E1EDP02",
        "E1EDP19",
        "E1EDP26",
        "E1EDP26",
        "E1EDP05",
        "E1EDP04",
    ]
    assert fields(first.find("E1EDP02")) == {"QUALF": "001", "BELNR": "PO-4711", "ZEILE": "1"}
    assert [fields(s) for s in first.findall("E1EDP26")] == [
        {"QUALF": "002", "BETRG": "30.02"},
        {"QUALF": "003", "BETRG": "29.02"},
    ]
    assert fields(first.find("E1EDP05")) == {
        "ALCKZ": "-",
        "KSCHL": "95",
        "KOTXT": "promo",
        "BETRG": "1.00",
    }
    second = segments(idoc, "E1EDP01")[1]
    assert (second.findtext("VPREI"), second.findtext("PEINH")) == ("12.50", "10")
    assert [s.findtext("SUMID") for s in segments(idoc, "E1EDS01")] == ["010", "005", "011"]


def test_credit_note_is_crme_with_the_preceding_invoice() -> None:
    note = CreditNote.model_validate(
        invoice_data(
            invoice_number="CN-7",
            preceding_invoice="INV-2024-0001",
            preceding_invoice_date="2024-03-05",
        )
    )
    xml = build_invoice(note)
    idoc = tree(xml)[0]
    assert idoc.find("E1EDK01").findtext("BSART") == "CRME"
    assert fields(segments(idoc, "E1EDK02")[-1]) == {
        "QUALF": "016",
        "BELNR": "INV-2024-0001",
        "DATUM": "20240305",
    }
    parsed = parse_invoic02(xml).document
    assert isinstance(parsed, CreditNote)
    assert parsed.preceding_invoice == "INV-2024-0001"
    assert parsed.totals == note.totals


def test_writer_puts_segments_in_definition_order_whatever_the_build_order() -> None:
    control = ControlRecord(DOCNUM=DOCNUM, DIRECT="2", IDOCTYP="ORDERS05", MESTYP="ORDERS")
    built = [
        Segment("E1EDS01").set("SUMID", "002").set("SUMME", D("1.00")),
        Segment("E1EDK02").set("QUALF", "001").set("BELNR", "X"),
        Segment("E1EDK01").set("CURCY", "EUR").set("BELNR", "1"),
    ]
    idoc = tree(write_idoc(ORDERS05, control, built, currency="EUR"))[0]
    assert names(idoc) == ["EDI_DC40", "E1EDK01", "E1EDK02", "E1EDS01"]


def test_segment_field_tables_are_consistent() -> None:
    for idoc_type in (ORDERS05, INVOIC02):
        for parent, children in idoc_type.layout.items():
            assert parent == "" or parent in SEGMENTS
            assert len(set(children)) == len(children)
            assert all(child in SEGMENTS for child in children)
    for segment in SEGMENTS.values():
        assert len({f.name for f in segment.fields}) == len(segment.fields)
        assert all(f.length > 0 for f in segment.fields)


# --- DOCNUM ------------------------------------------------------------------------------


def test_docnum_for_is_stable_and_sixteen_digits() -> None:
    first = docnum_for("delivery:42")
    assert first == docnum_for("delivery:42")
    assert len(first) == 16
    assert first.isdigit()
    assert first != docnum_for("delivery:43")


@pytest.mark.parametrize("docnum", ["4711", "00000000000047110", "000000000000471A", ""])
def test_docnum_must_be_sixteen_digits(docnum: str) -> None:
    with pytest.raises(IdocError) as info:
        build_order(Order.model_validate(order_data()), docnum=docnum)
    assert "EDI_DC40.DOCNUM" in issues_of(info)


def test_created_at_must_be_aware() -> None:
    with pytest.raises(IdocError, match="timezone-aware"):
        build_order(Order.model_validate(order_data()), created_at=datetime(2024, 3, 1))


# --- field lengths -----------------------------------------------------------------------


def test_too_long_values_name_segment_field_and_length_all_at_once() -> None:
    data = order_data(order_number="N" * 36)
    data["lines"][1]["sku"] = "S" * 36
    data["buyer"]["tax_id"] = "DE" + "1" * 19
    with pytest.raises(IdocError) as info:
        build_order(Order.model_validate(data))
    found = issues_of(info)
    assert set(found) == {
        "E1EDK01[1].BELNR",
        "E1EDK01[1].KUNDEUINR",
        "E1EDP01[2]/E1EDP19[1].IDTNR",
    }
    assert "E1EDK01-BELNR holds at most 35" in found["E1EDK01[1].BELNR"]
    assert "has 36 characters" in found["E1EDK01[1].BELNR"]
    assert "at most 20" in found["E1EDK01[1].KUNDEUINR"]
    assert "E1EDP19-IDTNR holds at most 35" in str(info.value)


@pytest.mark.parametrize(
    ("path", "value", "where", "limit"),
    [
        (("lines", 0, "line_id"), "1234567", "E1EDP01[1].POSEX", "at most 6"),
        (("lines", 0, "name"), "n" * 71, "E1EDP01[1]/E1EDP19[1].KTEXT", "at most 70"),
        (("lines", 0, "unit"), "ABCD", "E1EDP01[1].MENEE", "at most 3"),
        (("lines", 0, "unit_price"), "1234567890123.45", "E1EDP01[1].VPREI", "at most 15"),
        (("lines", 1, "discount_reason"), "r" * 81, "E1EDP01[2]/E1EDP05[2].KOTXT", "at most 80"),
        (("buyer", "phone"), "0" * 26, "E1EDKA1[1].TELF1", "at most 25"),
        (("billing_address", "postal_code"), "1234567890", "E1EDKA1[1].PSTLZ", "at most 9"),
        (("shipping_address", "region_code"), "BBBB", "E1EDKA1[3].REGIO", "at most 3"),
        (("buyer_reference",), "P" * 36, "E1EDK02[1].BELNR", "at most 35"),
    ],
)
def test_field_length_errors(
    path: tuple[str | int, ...], value: str, where: str, limit: str
) -> None:
    data = order_data()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(IdocError) as info:
        build_order(Order.model_validate(data))
    found = issues_of(info)
    assert where in found, found
    assert limit in found[where]


def test_sap_cuts_partner_names_streets_and_cities_and_so_does_the_hub() -> None:
    data = order_data()
    data["billing_address"]["company"] = "Very Long Company Name GmbH & Co. KG Berlin"  # 43
    data["billing_address"]["lines"] = ["Straße des 17. Juni 135, Gebäude 4, Aufgang C"]
    data["billing_address"]["city"] = "Frankfurt am Main-Höchst (Industriepark)"
    xml = build_order(Order.model_validate(data))
    recipient = segments(tree(xml)[0], "E1EDKA1")[1]
    assert recipient.findtext("NAME1") == "Very Long Company Name GmbH & Co. K"
    assert recipient.findtext("STRAS") == "Straße des 17. Juni 135, Gebäude 4,"
    assert recipient.findtext("ORT01") == "Frankfurt am Main-Höchst (Industrie"
    assert all(len(recipient.findtext(f)) <= 35 for f in ("NAME1", "STRAS", "ORT01"))
    billing = parse_orders05(xml).document.billing_address
    assert billing.company == "Very Long Company Name GmbH & Co. K"


def test_three_street_lines_do_not_fit() -> None:
    data = order_data()
    data["shipping_address"]["lines"] = ["Line 1", "Line 2", "Line 3"]
    with pytest.raises(IdocError) as info:
        build_order(Order.model_validate(data))
    assert "two (STRAS, STRS2)" in issues_of(info)["E1EDKA1[3].STRS2"]


def test_quantities_keep_three_decimals_and_amounts_the_currency_minor_unit() -> None:
    data = order_data(currency="KWD")
    data["lines"] = [
        {"line_id": "1", "sku": "A", "quantity": "1.5", "unit_price": "0.125", "tax_rate": "0"}
    ]
    data["shipping"] = None
    item = tree(build_order(Order.model_validate(data)))[0].find("E1EDP01")
    assert (item.findtext("MENGE"), item.findtext("VPREI"), item.findtext("NETWR")) == (
        "1.500",
        "0.125",
        "0.188",
    )
    data["lines"][0]["quantity"] = "1.2345"
    with pytest.raises(IdocError) as info:
        build_order(Order.model_validate(data))
    assert "more than 3 decimals" in issues_of(info)["E1EDP01[1].MENGE"]


def test_yen_amounts_have_no_decimals() -> None:
    data = order_data(currency="JPY")
    data["lines"] = [
        {"line_id": "1", "sku": "A", "quantity": "3", "unit_price": "333", "tax_rate": "10"}
    ]
    data["lines"][0]["tax_amount"] = "100"
    data["shipping"] = {"amount": "500", "tax_rate": "10", "tax_amount": "50"}
    idoc = tree(build_order(Order.model_validate(data)))[0]
    assert idoc.find("E1EDP01").findtext("NETWR") == "999"
    assert idoc.find("E1EDP01").findtext("VPREI") == "333"
    assert [s.findtext("SUMME") for s in segments(idoc, "E1EDS01")] == ["1499", "150"]


def test_unsupported_invoice_type_code_and_paid_amount_are_refused() -> None:
    corrected = Invoice.model_validate(invoice_data(type_code="384"))
    with pytest.raises(IdocError) as info:
        build_invoice(corrected)
    assert "E1EDK01[1].BSART" in issues_of(info)
    prepaid = Invoice.model_validate(invoice_data(paid_amount="10.00"))
    with pytest.raises(IdocError, match="BT-113"):
        build_invoice(prepaid)


def test_order_charges_need_a_condition_type() -> None:
    order = Order.model_validate(
        order_data(charges=[{"code": "cod", "reason": "Cash on delivery", "amount": "2.50"}])
    )
    with pytest.raises(IdocError, match="charge_condition"):
        build_order(order)
    options = IdocOptions(charge_condition="ZCOD")
    xml = build_order(order, options=options)
    parsed = parse_orders05(xml, options=options).document
    assert [(c.reason, c.amount) for c in parsed.charges] == [("Cash on delivery", D("2.50"))]
    assert parsed.totals.net_total == order.totals.net_total


def test_tax_codes_are_configurable_and_read_back() -> None:
    options = IdocOptions(tax_codes={"S": "A1", "G": "A0", "Z": "A2", "E": "A3"})
    invoice = Invoice.model_validate(invoice_data())
    xml = build_invoice(invoice, options=options)
    taxes = [s.findtext("MWSKZ") for s in segments(tree(xml)[0], "E1EDK04")]
    assert sorted(taxes) == ["A0", "A1", "A1"]
    assert parse_invoic02(xml, options=options).document.vat_breakdown == invoice.vat_breakdown
    with pytest.raises(IdocError, match="unknown tax code 'A1'"):
        parse_invoic02(xml)


# --- INVOIC02 totals ---------------------------------------------------------------------


def test_invoic02_totals_equal_the_canonical_totals() -> None:
    invoice = Invoice.model_validate(
        invoice_data(
            charges=[{"amount": "4.90", "reason": "Freight", "tax_category": "S", "tax_rate": "19"}]
        )
    )
    idoc = tree(build_invoice(invoice))[0]
    totals = {s.findtext("SUMID"): D(s.findtext("SUMME")) for s in segments(idoc, "E1EDS01")}
    assert totals == {
        "010": invoice.totals.tax_exclusive_total,
        "005": invoice.totals.tax_total,
        "011": invoice.totals.tax_inclusive_total,
    }
    summary = {
        (s.findtext("MWSKZ"), D(s.findtext("MSATZ"))): D(s.findtext("MWSBT"))
        for s in segments(idoc, "E1EDK04")
    }
    assert summary == {(v.category.value, v.rate): v.tax_amount for v in invoice.vat_breakdown}
    nets = [D(item.findtext("NETWR")) for item in segments(idoc, "E1EDP01")]
    assert nets == [line.net_amount_in("EUR") for line in invoice.lines]


def sap_number(text: str) -> Decimal:
    return -D(text[:-1]) if text.endswith("-") else D(text)


def test_line_taxes_add_up_to_the_summary_per_rate() -> None:
    data = invoice_data()
    data["lines"] += [
        {
            "line_id": str(40 + i),
            "sku": f"X-{i}",
            "name": "Small part",
            "quantity": "1",
            "unit_price": "0.33",
            "tax_category": "S",
            "tax_rate": "19",
        }
        for i in range(7)
    ]
    data["lines"].append(
        {
            "line_id": "90",
            "sku": "R-1",
            "name": "Return",
            "quantity": "-1",
            "unit_price": "3.10",
            "tax_category": "S",
            "tax_rate": "19",
        }
    )
    invoice = Invoice.model_validate(data)
    idoc = tree(build_invoice(invoice))[0]
    per_rate: dict[tuple[str, Decimal], Decimal] = {}
    for item in segments(idoc, "E1EDP01"):
        tax = item.find("E1EDP04")
        key = (tax.findtext("MWSKZ"), D(tax.findtext("MSATZ")))
        per_rate[key] = per_rate.get(key, D(0)) + sap_number(tax.findtext("MWSBT"))
    summary = {
        (s.findtext("MWSKZ"), D(s.findtext("MSATZ"))): D(s.findtext("MWSBT"))
        for s in segments(idoc, "E1EDK04")
    }
    assert per_rate == summary
    assert sum(summary.values()) == invoice.totals.tax_total


def test_a_tampered_total_is_refused_on_reading() -> None:
    invoice = Invoice.model_validate(invoice_data())
    good = build_invoice(invoice)
    assert parse_invoic02(good).document.totals == invoice.totals

    root = tree(good)
    root.find("IDOC/E1EDS01[3]/SUMME").text = "999.99"
    with pytest.raises(IdocError) as info:
        parse_invoic02(etree.tostring(root))
    assert "differs from the computed" in issues_of(info)["E1EDS01[3].SUMME"]

    root = tree(good)
    root.find("IDOC/E1EDK04/MWSBT").text = "0.01"
    with pytest.raises(IdocError) as info:
        parse_invoic02(etree.tostring(root))
    assert "E1EDK04[1].MWSBT" in issues_of(info)

    root = tree(good)
    root.find("IDOC/E1EDP01/E1EDP26[2]/BETRG").text = "29.03"
    with pytest.raises(IdocError) as info:
        parse_invoic02(etree.tostring(root))
    assert "E1EDP01[1]/E1EDP26[2].BETRG" in issues_of(info)


# --- reading: malformed and foreign input ---------------------------------------------------


@pytest.fixture(scope="module")
def order_xml() -> bytes:
    return build_order(Order.model_validate(order_data()))


def edited(xml: bytes, path: str, text: str | None) -> bytes:
    root = tree(xml)
    element = root.find(path)
    if text is None:
        element.getparent().remove(element)
    else:
        element.text = text
    return bytes(etree.tostring(root))


@pytest.mark.parametrize(
    ("path", "text", "where", "message"),
    [
        ("IDOC/E1EDP01[2]/MENGE", "abc", "E1EDP01[2].MENGE", "not a number: 'abc'"),
        ("IDOC/E1EDP01[1]/MENGE", "1,5", "E1EDP01[1].MENGE", "not a number: '1,5'"),
        ("IDOC/E1EDP01[1]/MENGE", "1e3", "E1EDP01[1].MENGE", "not a number"),
        ("IDOC/E1EDP01[1]/MENGE", "1,000.000", "E1EDP01[1].MENGE", "not a number"),
        ("IDOC/E1EDP01[1]/MENGE", "-2.000-", "E1EDP01[1].MENGE", "not a number"),
        ("IDOC/E1EDP01[1]/MENGE", None, "E1EDP01[1].MENGE", "missing"),
        ("IDOC/E1EDP01[1]/NETWR", "20.001", "E1EDP01[1].NETWR", "more than 2 decimals"),
        ("IDOC/E1EDP01[1]/NETWR", "21.00", "E1EDP01[1].NETWR", "less discounts"),
        ("IDOC/E1EDP01[1]/POSEX", None, "E1EDP01[1].POSEX", "missing"),
        ("IDOC/E1EDP01[1]/E1EDP04/MWSKZ", "ZZ", "E1EDP01[1]/E1EDP04[1].MWSKZ", "unknown"),
        ("IDOC/E1EDP01[1]/E1EDP19/QUALF", "001", "E1EDP01[1]", "QUALF 002"),
        ("IDOC/E1EDK01/CURCY", "XXX", "E1EDK01[1].CURCY", "ISO 4217"),
        ("IDOC/E1EDK01/CURCY", None, "E1EDK01[1].CURCY", "missing"),
        ("IDOC/E1EDK03/DATUM", "20241301", "E1EDK03[1].DATUM", "not a date"),
        ("IDOC/E1EDK03/UZEIT", "256000", "E1EDK03[1].UZEIT", "not a time"),
        ("IDOC/E1EDK03/IDDAT", "002", "E1EDK03", "IDDAT 022"),
        ("IDOC/E1EDKA1[1]/PARVW", "ZZ", "E1EDKA1", "PARVW AG"),
        ("IDOC/E1EDKA1[2]/ORT01", None, "E1EDKA1[2].ORT01", "missing"),
        ("IDOC/E1EDK05/KSCHL", "ZZZZ", "E1EDK05[1].KSCHL", "not one the hub reads"),
        ("IDOC/E1EDS01[1]/SUMME", "80.96", "E1EDS01[1].SUMME", "differs from the computed"),
        ("IDOC/E1EDS01[2]/WAERQ", "USD", "E1EDS01[2].WAERQ", "document currency"),
        ("IDOC/EDI_DC40/DOCNUM", "12", "EDI_DC40.DOCNUM", "pattern"),
        ("IDOC/EDI_DC40/CREDAT", "2024-03-01", "EDI_DC40.CREDAT", "not a date"),
        ("IDOC/EDI_DC40/MESTYP", "ORDCHG", "EDI_DC40.MESTYP", "is not ORDERS"),
    ],
)
def test_malformed_fields_name_segment_and_field(
    order_xml: bytes, path: str, text: str | None, where: str, message: str
) -> None:
    with pytest.raises(IdocError) as info:
        parse_orders05(edited(order_xml, path, text))
    found = issues_of(info)
    assert where in found, found
    assert message in found[where]
    assert str(info.value).startswith(f"{where}: ")


def test_a_quantity_the_canonical_model_refuses_is_reported_with_its_path(
    order_xml: bytes,
) -> None:
    with pytest.raises(IdocError) as info:
        parse_orders05(edited(order_xml, "IDOC/E1EDP01[1]/MENGE", "2.000-"))
    assert "ORDERS05→order.lines.0.quantity" in issues_of(info)


def test_the_idoc_type_must_match(order_xml: bytes) -> None:
    invoice_xml = build_invoice(Invoice.model_validate(invoice_data()))
    with pytest.raises(IdocError) as info:
        parse_orders05(invoice_xml)
    assert issues_of(info) == {"EDI_DC40.IDOCTYP": "the document is a INVOIC02 IDoc, not ORDERS05"}
    with pytest.raises(IdocError, match=r"EDI_DC40\.IDOCTYP"):
        parse_invoic02(order_xml)
    renamed = order_xml.replace(b"<ORDERS05>", b"<ORDERS01>").replace(
        b"</ORDERS05>", b"</ORDERS01>"
    )
    with pytest.raises(IdocError, match="root element ORDERS01 is not ORDERS05"):
        parse_orders05(renamed)


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (b"", "not well-formed"),
        (b"not xml at all", "not well-formed"),
        (b"<ORDERS05><IDOC BEGIN='1'>", "not well-formed"),
        (b"<ORDERS05/>", "found no IDOC element"),
        (b"<ORDERS05><IDOC BEGIN='1'/></ORDERS05>", "EDI_DC40"),
    ],
)
def test_malformed_xml_is_refused(xml: bytes, message: str) -> None:
    with pytest.raises(IdocError, match=message):
        parse_orders05(xml)


def test_two_idocs_in_one_file_are_refused(order_xml: bytes) -> None:
    root = tree(order_xml)
    root.append(copy.deepcopy(root[0]))
    with pytest.raises(IdocError, match="found 2 IDOC elements"):
        parse_orders05(etree.tostring(root))


def test_text_instead_of_bytes_is_refused(order_xml: bytes) -> None:
    with pytest.raises(IdocError, match="expected bytes"):
        parse_orders05(order_xml.decode())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "prolog",
    [
        b'<!DOCTYPE ORDERS05 [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE ORDERS05 [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>',
        b'<!DOCTYPE ORDERS05 SYSTEM "http://example.invalid/orders05.dtd">',
    ],
)
def test_doctype_and_entities_are_refused(order_xml: bytes, prolog: bytes) -> None:
    body = order_xml.split(b"?>", 1)[1]
    hostile = prolog + body.replace(b"<BELNR>100000042</BELNR>", b"<BELNR>&x;</BELNR>")
    with pytest.raises(IdocError, match="DOCTYPE"):
        parse_orders05(hostile)


def test_reading_skips_segments_and_fields_it_does_not_read(order_xml: bytes) -> None:
    root = tree(order_xml)
    item = root.find("IDOC/E1EDP01")
    schedule = etree.SubElement(item, "E1EDP20", SEGMENT="1")
    etree.SubElement(schedule, "WMENG").text = "2.000"
    etree.SubElement(root.find("IDOC/E1EDK01"), "ACTION").text = "000"
    etree.SubElement(root.find("IDOC"), "E1EDKT1", SEGMENT="1").append(etree.Element("TDID"))
    root.find("IDOC").insert(1, etree.Comment("a comment"))
    parsed = parse_orders05(etree.tostring(root)).document
    assert parsed == parse_orders05(order_xml).document


def test_sap_number_forms_are_read(order_xml: bytes) -> None:
    """Blanks around, a leading or a trailing minus, no decimals: all SAP writes."""
    xml = edited(order_xml, "IDOC/E1EDP01[1]/MENGE", "   2 ")
    assert parse_orders05(xml).document.lines[0].quantity == D(2)
    xml = edited(order_xml, "IDOC/E1EDP01[1]/E1EDP05[1]/BETRG", "20")
    assert parse_orders05(xml).document.lines[0].line_amount == D("20.00")


def test_an_initial_date_counts_as_missing(order_xml: bytes) -> None:
    root = tree(order_xml)
    extra = etree.SubElement(root.find("IDOC"), "E1EDK03", SEGMENT="1")
    etree.SubElement(extra, "IDDAT").text = "012"
    etree.SubElement(extra, "DATUM").text = "00000000"
    root.find("IDOC").insert(8, extra)
    assert parse_orders05(etree.tostring(root)).document.order_date.year == 2024


def test_parse_returns_partners_sales_area_and_control(order_xml: bytes) -> None:
    document = parse_orders05(order_xml)
    assert document.partners == {"AG": "1000042", "RE": "1000042", "WE": "1000043"}
    assert document.sales_area == AREA
    assert document.control.DOCNUM == DOCNUM
    assert document.control.SNDPRN == "O2CHUB"
    assert document.document.buyer.external_ids == {"sap": "1000042"}


def test_read_idoc_exposes_the_segment_tree(order_xml: bytes) -> None:
    control, body = read_idoc(order_xml, ORDERS05)
    assert control.IDOCTYP == "ORDERS05"
    items = body.all("E1EDP01")
    assert [item.path for item in items] == ["E1EDP01[1]", "E1EDP01[2]"]
    assert items[1].all("E1EDP05")[1].path == "E1EDP01[2]/E1EDP05[2]"
    assert items[1].text("VPREI") == "19.999"
