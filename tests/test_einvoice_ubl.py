"""Peppol BIS Billing 3.0 UBL from canonical invoices (hub/einvoice/ubl.py).

Generated invoices and credit notes (tests/einvoice_strategies.py) render to UBL that the
official validators accept: the UBL 2.1 XSD of the document type, the CEN EN 16931 rules
and the Peppol BIS rules, with no fatal assert. The XML's totals, VAT breakdown and line
amounts, read back, are the canonical model's to the cent. A hand-made invoice and credit
note pin the structure; data Peppol needs and the model lacks raises UblDataError naming
the business term.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from lxml import etree
from pydantic import ValidationError

from hub.canonical import CreditNote, Invoice
from hub.einvoice.ubl import (
    CUSTOMIZATION_ID,
    PROFILE_ID,
    VAT_ENDPOINT_SCHEMES,
    PaymentInstructions,
    UblDataError,
    UblOptions,
    render_ubl,
    validate_ubl,
)
from hub.einvoice.validation import ValidationReport
from hub.errors import HubError
from tests.einvoice_strategies import credit_notes, delivery_date_for, documents, gln, invoices

D = Decimal
NS = {
    "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
SELLER_GLN = gln("540000000001")
BUYER_GLN = gln("761234567890")

PAYMENTS = [
    None,
    PaymentInstructions(account_id="BE71096123456769", provider_id="GKCCBEBB"),
    PaymentInstructions(
        means_code="58",
        means_text="SEPA credit transfer",
        account_id="DE89370400440532013000",
        account_name="Seller AG",
    ),
    PaymentInstructions(means_code="48", invoice_number_as_reference=False),
]


def options_for(document: Invoice, payment: PaymentInstructions | None = None) -> UblOptions:
    note(document.model_dump_json(indent=1))  # the generated document, shown on failure
    return UblOptions(delivery_date=delivery_date_for(document), payment=payment)


def assert_valid(report: ValidationReport, xml: bytes) -> None:
    if not report.valid:
        problems = "\n".join(report.problems())
        pytest.fail(f"invalid UBL:\n{problems}\n\n{xml.decode()}")


def parse(xml: bytes) -> Any:
    return etree.fromstring(xml)


def one(root: Any, path: str) -> Any:
    found = root.xpath(path, namespaces=NS)
    assert len(found) == 1, (path, found)
    return found[0]


def amount(root: Any, path: str) -> Decimal:
    return D(one(root, path).text)


def local_names(element: Any) -> list[str]:
    return [etree.QName(child).localname for child in element]


# --- generated documents pass XSD, EN 16931 and Peppol ---------------------------------


def slow(examples: int) -> settings:
    """Validation runs Saxon twice per example: no deadline, and ~150 examples in all."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@slow(70)
@given(invoices(), st.sampled_from(PAYMENTS))
def test_generated_invoices_pass_xsd_en16931_and_peppol(
    document: Invoice, payment: PaymentInstructions | None
) -> None:
    xml = render_ubl(document, options=options_for(document, payment))
    assert parse(xml).tag == f"{{{NS['inv']}}}Invoice"
    assert_valid(validate_ubl(xml), xml)


@slow(40)
@given(credit_notes(), st.sampled_from(PAYMENTS))
def test_generated_credit_notes_pass_xsd_en16931_and_peppol(
    document: Invoice, payment: PaymentInstructions | None
) -> None:
    xml = render_ubl(document, options=options_for(document, payment))
    assert parse(xml).tag == f"{{{NS['cn']}}}CreditNote"
    assert_valid(validate_ubl(xml), xml)


@slow(40)
@given(documents())
def test_xml_totals_are_the_canonical_totals(document: Invoice) -> None:
    root = parse(render_ubl(document, options=options_for(document)))
    totals = document.totals
    money = "cac:LegalMonetaryTotal/cbc:"
    assert amount(root, money + "LineExtensionAmount") == totals.line_net_total
    assert amount(root, money + "TaxExclusiveAmount") == totals.tax_exclusive_total
    assert amount(root, money + "TaxInclusiveAmount") == totals.tax_inclusive_total
    assert amount(root, money + "PayableAmount") == totals.payable_amount
    for name, value, present in (
        ("AllowanceTotalAmount", totals.allowance_total, bool(document.allowances)),
        ("ChargeTotalAmount", totals.charge_total, bool(document.charges)),
        ("PrepaidAmount", totals.paid_amount, bool(totals.paid_amount)),
        ("PayableRoundingAmount", totals.rounding_amount, bool(totals.rounding_amount)),
    ):
        found = root.xpath(money + name, namespaces=NS)
        assert [D(e.text) for e in found] == ([value] if present else [])
    cur = document.currency
    assert amount(root, f"cac:TaxTotal/cbc:TaxAmount[@currencyID='{cur}']") == totals.tax_total
    subtotals = [
        (
            one(s, "cac:TaxCategory/cbc:ID").text,
            s.xpath("cac:TaxCategory/cbc:Percent/text()", namespaces=NS),
            D(one(s, "cbc:TaxableAmount").text),
            D(one(s, "cbc:TaxAmount").text),
        )
        for s in root.xpath("cac:TaxTotal/cac:TaxSubtotal", namespaces=NS)
    ]
    assert [(c, [D(p) for p in pct], t, v) for c, pct, t, v in subtotals] == [
        (
            v.category.value,
            [] if v.category.value == "O" else [v.rate],
            v.taxable_amount,
            v.tax_amount,
        )
        for v in document.vat_breakdown
    ]
    accounting = root.xpath("cac:TaxTotal[not(cac:TaxSubtotal)]/cbc:TaxAmount", namespaces=NS)
    if totals.tax_total_accounting is None:
        assert accounting == []
    else:
        assert [(e.get("currencyID"), D(e.text)) for e in accounting] == [
            (document.accounting_currency, totals.tax_total_accounting)
        ]
    line_amounts = [
        D(e.text)
        for e in root.xpath(
            "(cac:InvoiceLine | cac:CreditNoteLine)/cbc:LineExtensionAmount", namespaces=NS
        )
    ]
    assert line_amounts == [line.net_amount_in(cur) for line in document.lines]
    currencies = {e.get("currencyID") for e in root.iter() if e.get("currencyID")}
    assert currencies <= {cur, document.accounting_currency}


def test_strategies_use_the_renderers_vat_endpoint_table() -> None:
    # tests/einvoice_strategies.py decides which parties need a GLN from this table
    assert VAT_ENDPOINT_SCHEMES["DE"] == "9930"
    assert all(len(p) == 2 and len(s) == 4 for p, s in VAT_ENDPOINT_SCHEMES.items())


# --- a hand-made invoice and credit note ----------------------------------------------


def line(
    line_id: str, quantity: str, price: str, category: str, rate: str, **extra: Any
) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "sku": f"SKU-{line_id}",
        "name": f"Item {line_id}",
        "quantity": quantity,
        "unit_price": price,
        "tax_category": category,
        "tax_rate": rate,
        **extra,
    }


def invoice_data(**overrides: Any) -> dict[str, Any]:
    """Belgian seller, Dutch business buyer: intra-community goods, a service under
    reverse charge, exempt training; in USD with EUR as VAT accounting currency."""
    data: dict[str, Any] = {
        "invoice_number": "INV-2026-0042",
        "issue_date": "2026-05-04",
        "due_date": "2026-06-03",
        "tax_point_date": "2026-04-30",
        "currency": "USD",
        "accounting_currency": "EUR",
        "exchange_rate": "1.0852",
        "buyer_reference": "DEPT-7",
        "order_reference": "PO-889",
        "seller": {
            "company": "Seller NV",
            "name": "Jan Peeters",
            "tax_id": "BE0123456749",
            "email": "billing@seller.example",
            "phone": "+32 3 123 45 67",
            "external_ids": {"peppol": f"0088:{SELLER_GLN}", "legal": "0208:0123456749"},
        },
        "seller_address": {
            "lines": ["Meir 1", "Bus 3", "Gebouw B", "Verdieping 2"],
            "city": "Antwerpen",
            "postal_code": "2000",
            "country": "BE",
        },
        "buyer": {
            "company": "Buyer B.V.",
            "tax_id": "NL123456789B01",
            "external_ids": {"sap": "17100001"},
        },
        "buyer_address": {"lines": ["Damrak 5"], "city": "Amsterdam", "country": "NL"},
        "delivery_address": {
            "company": "Buyer Warehouse",
            "lines": ["Havenweg 9"],
            "city": "Rotterdam",
            "postal_code": "3011",
            "region": "Zuid-Holland",
            "country": "NL",
        },
        "payment_terms": {"net_days": 30, "discount_percent": "2", "discount_days": 10},
        "notes": ["Thank you for your order", "Goods remain ours until paid"],
        "lines": [
            line(
                "1",
                "3",
                "19.999",
                "K",
                "0",
                order_line_id="10",
                unit="H87",
                allowances=[{"amount": "5.00", "reason": "Volume discount"}],
            ),
            line("2", "2.5", "120", "K", "0", base_quantity="10", unit="KGM"),
            line(
                "3",
                "4",
                "95.5",
                "AE",
                "0",
                unit="HUR",
                charges=[{"amount": "12.50", "reason_code": "SAA"}],
            ),
            line("4", "1", "200", "E", "0"),
        ],
        "allowances": [
            {"amount": "10.00", "reason": "Loyalty", "reason_code": "95", "tax_category": "K"}
        ],
        "charges": [{"amount": "25.00", "reason": "Freight", "tax_category": "K"}],
        "exemption_reasons": {
            "E": "Exempt under Article 132(1)(i) of Directive 2006/112/EC",
            "AE": "Reverse charge",
        },
        "paid_amount": "100.00",
    }
    data.update(overrides)
    return data


GOLDEN_OPTIONS = UblOptions(
    delivery_date=date(2026, 4, 28),
    payment=PaymentInstructions(
        means_code="30",
        means_text="Credit transfer",
        account_id="BE71096123456769",
        account_name="Seller NV",
        provider_id="GKCCBEBB",
    ),
)


def test_hand_made_invoice_structure() -> None:
    invoice = Invoice.model_validate(invoice_data())
    xml = render_ubl(invoice, options=GOLDEN_OPTIONS)
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = parse(xml)
    assert local_names(root) == [
        "CustomizationID",
        "ProfileID",
        "ID",
        "IssueDate",
        "DueDate",
        "InvoiceTypeCode",
        "Note",
        "TaxPointDate",
        "DocumentCurrencyCode",
        "TaxCurrencyCode",
        "BuyerReference",
        "OrderReference",
        "AccountingSupplierParty",
        "AccountingCustomerParty",
        "Delivery",
        "PaymentMeans",
        "PaymentTerms",
        "AllowanceCharge",
        "AllowanceCharge",
        "TaxTotal",
        "TaxTotal",
        "LegalMonetaryTotal",
        "InvoiceLine",
        "InvoiceLine",
        "InvoiceLine",
        "InvoiceLine",
    ]

    def text(path: str) -> str:
        return str(one(root, path).text)

    assert text("cbc:CustomizationID") == CUSTOMIZATION_ID
    assert text("cbc:ProfileID") == PROFILE_ID
    assert text("cbc:Note") == "Thank you for your order\nGoods remain ours until paid"
    assert text("cbc:TaxCurrencyCode") == "EUR"

    seller = one(root, "cac:AccountingSupplierParty/cac:Party")
    assert local_names(seller) == [
        "EndpointID",
        "PostalAddress",
        "PartyTaxScheme",
        "PartyLegalEntity",
        "Contact",
    ]
    assert (one(seller, "cbc:EndpointID").get("schemeID"), one(seller, "cbc:EndpointID").text) == (
        "0088",
        SELLER_GLN,
    )
    address = one(seller, "cac:PostalAddress")
    assert local_names(address) == [
        "StreetName",
        "AdditionalStreetName",
        "CityName",
        "PostalZone",
        "AddressLine",
        "Country",
    ]
    assert one(address, "cac:AddressLine/cbc:Line").text == "Gebouw B, Verdieping 2"
    assert one(seller, "cac:PartyLegalEntity/cbc:RegistrationName").text == "Seller NV"
    legal = one(seller, "cac:PartyLegalEntity/cbc:CompanyID")
    assert (legal.get("schemeID"), legal.text) == ("0208", "0123456749")
    assert local_names(one(seller, "cac:Contact")) == ["Name", "Telephone", "ElectronicMail"]
    assert one(seller, "cac:Contact/cbc:Name").text == "Jan Peeters"

    buyer = one(root, "cac:AccountingCustomerParty/cac:Party")
    endpoint = one(buyer, "cbc:EndpointID")  # no participant id: the VAT id under 9944
    assert (endpoint.get("schemeID"), endpoint.text) == ("9944", "NL123456789B01")
    assert one(buyer, "cac:PartyTaxScheme/cbc:CompanyID").text == "NL123456789B01"
    assert buyer.xpath("cac:Contact", namespaces=NS) == []

    delivery = one(root, "cac:Delivery")
    assert local_names(delivery) == ["ActualDeliveryDate", "DeliveryLocation", "DeliveryParty"]
    assert text("cac:Delivery/cbc:ActualDeliveryDate") == "2026-04-28"
    assert text("cac:Delivery/cac:DeliveryLocation/cac:Address/cbc:CountrySubentity") == (
        "Zuid-Holland"
    )
    assert text("cac:Delivery/cac:DeliveryParty/cac:PartyName/cbc:Name") == "Buyer Warehouse"

    means = one(root, "cac:PaymentMeans")
    assert local_names(means) == ["PaymentMeansCode", "PaymentID", "PayeeFinancialAccount"]
    assert one(means, "cbc:PaymentMeansCode").get("name") == "Credit transfer"
    assert one(means, "cbc:PaymentID").text == "INV-2026-0042"
    assert one(means, "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID").text == (
        "GKCCBEBB"
    )
    assert text("cac:PaymentTerms/cbc:Note") == "2 % discount if paid within 10 days, net 30 days"

    allowance, charge = root.xpath("cac:AllowanceCharge", namespaces=NS)
    assert local_names(allowance) == [
        "ChargeIndicator",
        "AllowanceChargeReasonCode",
        "AllowanceChargeReason",
        "Amount",
        "TaxCategory",
    ]
    assert one(allowance, "cbc:ChargeIndicator").text == "false"
    assert one(charge, "cbc:ChargeIndicator").text == "true"
    assert one(charge, "cbc:Amount").get("currencyID") == "USD"

    # 3 × 19.999 = 59.997 → 60.00 − 5.00 = 55.00; 2.5 × 120 / 10 = 30.00;
    # 4 × 95.5 + 12.50 = 394.50; 200.00. K = 55 + 30 − 10 + 25 = 100.00.
    vat = [
        (
            one(s, "cac:TaxCategory/cbc:ID").text,
            one(s, "cbc:TaxableAmount").text,
            s.xpath("cac:TaxCategory/cbc:TaxExemptionReasonCode/text()", namespaces=NS),
            s.xpath("cac:TaxCategory/cbc:TaxExemptionReason/text()", namespaces=NS),
        )
        for s in root.xpath("cac:TaxTotal/cac:TaxSubtotal", namespaces=NS)
    ]
    assert vat == [
        ("AE", "394.50", ["VATEX-EU-AE"], ["Reverse charge"]),
        ("E", "200.00", [], ["Exempt under Article 132(1)(i) of Directive 2006/112/EC"]),
        ("K", "100.00", ["VATEX-EU-IC"], []),
    ]
    tax_totals = root.xpath("cac:TaxTotal/cbc:TaxAmount", namespaces=NS)
    assert [(e.get("currencyID"), e.text) for e in tax_totals] == [("USD", "0.00"), ("EUR", "0.00")]
    summary = one(root, "cac:LegalMonetaryTotal")
    assert [(etree.QName(e).localname, e.text) for e in summary] == [
        ("LineExtensionAmount", "679.50"),
        ("TaxExclusiveAmount", "694.50"),
        ("TaxInclusiveAmount", "694.50"),
        ("AllowanceTotalAmount", "10.00"),
        ("ChargeTotalAmount", "25.00"),
        ("PrepaidAmount", "100.00"),
        ("PayableAmount", "594.50"),
    ]

    first, second, third, _ = root.xpath("cac:InvoiceLine", namespaces=NS)
    assert local_names(first) == [
        "ID",
        "InvoicedQuantity",
        "LineExtensionAmount",
        "OrderLineReference",
        "AllowanceCharge",
        "Item",
        "Price",
    ]
    assert one(first, "cbc:InvoicedQuantity").get("unitCode") == "H87"
    assert one(first, "cbc:LineExtensionAmount").text == "55.00"
    assert one(first, "cac:Price/cbc:PriceAmount").text == "19.999"  # as stored
    assert local_names(one(first, "cac:Item")) == [
        "Name",
        "SellersItemIdentification",
        "ClassifiedTaxCategory",
    ]
    price = one(second, "cac:Price/cbc:BaseQuantity")
    assert (price.text, price.get("unitCode")) == ("10", "KGM")
    assert one(third, "cac:AllowanceCharge/cbc:AllowanceChargeReasonCode").text == "SAA"
    assert third.xpath("cac:AllowanceCharge/cbc:AllowanceChargeReason", namespaces=NS) == []

    assert_valid(validate_ubl(xml), xml)


def test_hand_made_credit_note_structure() -> None:
    data = invoice_data(
        invoice_number="CN-7",
        preceding_invoice="INV-2026-0042",
        preceding_invoice_date="2026-05-04",
        paid_amount="0",
    )
    credit_note = CreditNote.model_validate(data)
    xml = render_ubl(credit_note, options=UblOptions(delivery_date=date(2026, 4, 28)))
    root = parse(xml)
    assert root.tag == f"{{{NS['cn']}}}CreditNote"
    names = local_names(root)
    assert names[:12] == [
        "CustomizationID",
        "ProfileID",
        "ID",
        "IssueDate",
        "TaxPointDate",
        "CreditNoteTypeCode",
        "Note",
        "DocumentCurrencyCode",
        "TaxCurrencyCode",
        "BuyerReference",
        "OrderReference",
        "BillingReference",
    ]
    assert "DueDate" not in names
    assert one(root, "cbc:CreditNoteTypeCode").text == "381"
    reference = one(root, "cac:BillingReference/cac:InvoiceDocumentReference")
    assert local_names(reference) == ["ID", "IssueDate"]
    assert one(reference, "cbc:ID").text == "INV-2026-0042"
    # the due date of a credit note lives in PaymentMeans; no instructions → code 1
    means = one(root, "cac:PaymentMeans")
    assert local_names(means) == ["PaymentMeansCode", "PaymentDueDate"]
    assert one(means, "cbc:PaymentMeansCode").text == "1"
    assert one(means, "cbc:PaymentDueDate").text == "2026-06-03"
    lines = root.xpath("cac:CreditNoteLine", namespaces=NS)
    assert len(lines) == 4
    assert local_names(lines[0])[:3] == ["ID", "CreditedQuantity", "LineExtensionAmount"]
    assert_valid(validate_ubl(xml), xml)


def test_outside_scope_invoice_leaves_vat_ids_out() -> None:
    """BR-O-02: no VAT ids with category O; the seller is identified by its address."""
    data = invoice_data(
        accounting_currency=None,
        exchange_rate=None,
        delivery_address=None,
        lines=[line("1", "2", "50", "O", "0")],
        allowances=[{"amount": "5", "reason": "Promo", "tax_category": "O"}],
        charges=[],
        exemption_reasons={},
        paid_amount="0",
    )
    data["seller"]["external_ids"] = {"peppol": f"0088:{SELLER_GLN}"}
    data["buyer"]["external_ids"] = {"peppol": f"0088:{BUYER_GLN}"}
    xml = render_ubl(Invoice.model_validate(data))
    root = parse(xml)
    assert root.xpath("//cac:PartyTaxScheme", namespaces=NS) == []
    ident = one(root, "cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID")
    assert (ident.get("schemeID"), ident.text) == ("0088", SELLER_GLN)
    assert root.xpath("//cbc:Percent", namespaces=NS) == []
    assert one(root, "//cac:TaxSubtotal//cbc:TaxExemptionReasonCode").text == "VATEX-EU-O"
    assert_valid(validate_ubl(xml), xml)


def test_currencies_without_and_with_three_decimals() -> None:
    jpy = Invoice.model_validate(
        invoice_data(
            currency="JPY",
            accounting_currency=None,
            exchange_rate=None,
            paid_amount="0",
            lines=[line("1", "3", "1999", "K", "0"), line("2", "2.5", "120", "K", "0")],
            allowances=[],
            charges=[{"amount": "250", "reason": "Freight", "tax_category": "K"}],
        )
    )
    root = parse(xml := render_ubl(jpy, options=GOLDEN_OPTIONS))
    assert one(root, "cac:LegalMonetaryTotal/cbc:PayableAmount").text == "6547"
    assert_valid(validate_ubl(xml), xml)
    kwd = Invoice.model_validate(
        invoice_data(
            currency="KWD",
            paid_amount="0",
            lines=[line("1", "3", "20", "K", "0")],
            allowances=[],
            charges=[],
        )
    )
    root = parse(xml := render_ubl(kwd, options=GOLDEN_OPTIONS))
    # KWD has three decimals; EN 16931 allows two, and 60.000 is 60.00
    assert one(root, "cac:LegalMonetaryTotal/cbc:PayableAmount").text == "60.00"
    assert_valid(validate_ubl(xml), xml)


# --- what Peppol needs and the model lacks ----------------------------------------------


def errors_of(data: dict[str, Any], options: UblOptions = GOLDEN_OPTIONS) -> UblDataError:
    with pytest.raises(UblDataError) as caught:
        render_ubl(Invoice.model_validate(data), options=options)
    return caught.value


def test_missing_references_are_named() -> None:
    error = errors_of(invoice_data(buyer_reference=None, order_reference=" "))
    assert error.terms == ["BT-10"]
    assert error.issues[0].rule == "PEPPOL-EN16931-R003"
    assert error.issues[0].field == "buyer_reference or order_reference"
    assert isinstance(error, HubError)
    assert error.status == 422
    assert "BT-10 Buyer reference" in str(error)


def test_missing_electronic_addresses_are_named() -> None:
    data = invoice_data()
    data["seller"]["external_ids"] = {}
    data["seller"]["tax_id"] = "SE556677889901"  # no EAS VAT scheme for SE
    data["buyer"]["tax_id"] = "DK12345678"
    data["lines"] = [line("1", "1", "10", "AE", "0")]
    data["allowances"] = data["charges"] = []
    error = errors_of(data)
    assert error.terms == ["BT-34", "BT-49"]
    assert [i.rule for i in error.issues] == ["PEPPOL-EN16931-R020", "PEPPOL-EN16931-R010"]
    assert error.issues[1].field == "buyer.external_ids['peppol']"
    # the seller's participant id from the options, the buyer's from the party
    data["buyer"]["external_ids"] = {"peppol": f"iso6523-actorid-upis::0088:{BUYER_GLN}"}
    options = GOLDEN_OPTIONS.model_copy(update={"seller_endpoint": "0007:5567788990"})
    root = parse(render_ubl(Invoice.model_validate(data), options=options))
    endpoints = root.xpath("//cbc:EndpointID", namespaces=NS)
    assert [(e.get("schemeID"), e.text) for e in endpoints] == [
        ("0007", "5567788990"),
        ("0088", BUYER_GLN),
    ]


def test_endpoint_schemes() -> None:
    data = invoice_data()
    data["buyer"]["external_ids"] = {"peppol": BUYER_GLN}
    assert errors_of(data).issues[0].rule == "BR-63"  # a bare id needs a scheme
    options = GOLDEN_OPTIONS.model_copy(update={"default_endpoint_scheme": "0088"})
    root = parse(render_ubl(Invoice.model_validate(data), options=options))
    endpoint = one(root, "cac:AccountingCustomerParty/cac:Party/cbc:EndpointID")
    assert (endpoint.get("schemeID"), endpoint.text) == ("0088", BUYER_GLN)
    data["buyer"]["external_ids"] = {"peppol": "1234:567"}
    assert errors_of(data).issues[0].rule == "PEPPOL-EN16931-CL008"
    data["buyer"]["external_ids"] = {}
    no_vat_table = GOLDEN_OPTIONS.model_copy(update={"vat_endpoint_schemes": {}})
    assert errors_of(data, no_vat_table).terms == ["BT-49"]
    with pytest.raises(ValidationError):
        UblOptions(seller_endpoint="no-scheme")


def test_intra_community_supply_needs_delivery_data() -> None:
    error = errors_of(invoice_data(delivery_address=None), UblOptions())
    assert error.terms == ["BT-80", "BT-72"]
    assert [i.rule for i in error.issues] == ["BR-IC-12", "BR-IC-11"]
    assert error.issues[1].field == (
        "UblOptions.delivery_date or invoicing_period_start / invoicing_period_end"
    )


# --- the invoicing period (BG-14) and line periods (BG-26) ------------------------------


def test_invoicing_and_line_periods_take_their_places_in_the_sequence() -> None:
    """cac:InvoicePeriod follows cbc:BuyerReference (UBL 2.1 Invoice and CreditNote) and,
    on a line, cbc:LineExtensionAmount; a date not given is left out."""
    lines = invoice_data()["lines"]
    lines[0] |= {"period_start": "2026-04-01", "period_end": "2026-04-15"}
    lines[1] |= {"period_end": "2026-04-30"}
    data = invoice_data(
        invoicing_period_start="2026-04-01", invoicing_period_end="2026-04-30", lines=lines
    )
    invoice = Invoice.model_validate(data)
    xml = render_ubl(invoice, options=GOLDEN_OPTIONS)
    root = parse(xml)
    names = local_names(root)
    assert names[names.index("BuyerReference") : names.index("BuyerReference") + 3] == [
        "BuyerReference",
        "InvoicePeriod",
        "OrderReference",
    ]
    period = one(root, "cac:InvoicePeriod")
    assert [(etree.QName(e).localname, e.text) for e in period] == [
        ("StartDate", "2026-04-01"),
        ("EndDate", "2026-04-30"),
    ]
    first, second, third, _ = root.xpath("cac:InvoiceLine", namespaces=NS)
    assert local_names(first)[:5] == [
        "ID",
        "InvoicedQuantity",
        "LineExtensionAmount",
        "InvoicePeriod",
        "OrderLineReference",
    ]
    assert [e.text for e in one(first, "cac:InvoicePeriod")] == ["2026-04-01", "2026-04-15"]
    assert local_names(one(second, "cac:InvoicePeriod")) == ["EndDate"]
    assert third.xpath("cac:InvoicePeriod", namespaces=NS) == []
    assert_valid(validate_ubl(xml), xml)

    note = CreditNote.model_validate(
        data | {"preceding_invoice": "INV-2026-0042", "paid_amount": "0"}
    )
    xml = render_ubl(note, options=GOLDEN_OPTIONS)
    root = parse(xml)
    names = local_names(root)
    assert names[names.index("BuyerReference") : names.index("BuyerReference") + 3] == [
        "BuyerReference",
        "InvoicePeriod",
        "OrderReference",
    ]
    line_names = local_names(root.xpath("cac:CreditNoteLine", namespaces=NS)[0])
    assert line_names[2:5] == ["LineExtensionAmount", "InvoicePeriod", "OrderLineReference"]
    assert_valid(validate_ubl(xml), xml)


@pytest.mark.parametrize(
    "period",
    [
        {"invoicing_period_start": "2026-04-01", "invoicing_period_end": "2026-04-30"},
        {"invoicing_period_start": "2026-04-01"},
        {"invoicing_period_end": "2026-04-30"},
    ],
)
def test_intra_community_supply_with_an_invoicing_period_needs_no_delivery_date(
    period: dict[str, str],
) -> None:
    """BR-IC-11 takes the invoicing period (any of its dates) instead of BT-72."""
    invoice = Invoice.model_validate(invoice_data(**period))
    options = GOLDEN_OPTIONS.model_copy(update={"delivery_date": None})
    xml = render_ubl(invoice, options=options)
    root = parse(xml)
    assert root.xpath("cac:Delivery/cbc:ActualDeliveryDate", namespaces=NS) == []
    assert one(root, "cac:InvoicePeriod") is not None
    assert_valid(validate_ubl(xml), xml)


def test_a_line_period_outside_the_invoicing_period_is_refused() -> None:
    """PEPPOL-EN16931-R110/R111, checked before rendering."""
    lines = invoice_data()["lines"]
    lines[0] |= {"period_start": "2026-03-31"}
    lines[2] |= {"period_start": "2026-04-10", "period_end": "2026-05-01"}
    data = invoice_data(
        invoicing_period_start="2026-04-01", invoicing_period_end="2026-04-30", lines=lines
    )
    error = errors_of(data)
    assert [(i.rule, i.field) for i in error.issues] == [
        ("PEPPOL-EN16931-R110", "lines[0].period_start"),
        ("PEPPOL-EN16931-R111", "lines[2].period_end"),
    ]
    assert error.terms == ["BT-134", "BT-135"]
    # without an invoicing period nothing binds the line periods
    unbound = data | {"invoicing_period_start": None, "invoicing_period_end": None}
    xml = render_ubl(Invoice.model_validate(unbound), options=GOLDEN_OPTIONS)
    assert_valid(validate_ubl(xml), xml)


@pytest.mark.parametrize(("where", "rule"), [("invoice", "BR-29"), ("line", "BR-30")])
def test_a_period_ending_before_it_starts_is_invalid(where: str, rule: str) -> None:
    if where == "invoice":
        data = invoice_data(invoicing_period_start="2026-04-30", invoicing_period_end="2026-04-01")
    else:
        lines = invoice_data()["lines"]
        lines[0] |= {"period_start": "2026-04-30", "period_end": "2026-04-01"}
        data = invoice_data(lines=lines)
    with pytest.raises(ValidationError, match=rule):
        Invoice.model_validate(data)
    one_day = {"invoicing_period_start": "2026-04-30", "invoicing_period_end": "2026-04-30"}
    assert Invoice.model_validate(invoice_data(**one_day)).invoicing_period_end == date(2026, 4, 30)


def test_vat_ids_by_category() -> None:
    data = invoice_data()
    data["buyer"]["tax_id"] = None
    data["buyer"]["external_ids"] = {"peppol": f"0088:{BUYER_GLN}"}
    error = errors_of(data)
    assert error.terms == ["BT-48", "BT-48"]  # AE and K each need it
    assert {i.rule for i in error.issues} == {"BR-AE-02", "BR-IC-02"}
    data = invoice_data(lines=[line("1", "1", "10", "S", "21")], allowances=[], charges=[])
    data["seller"]["tax_id"] = None
    error = errors_of(data)
    assert error.terms == ["BT-31"]
    assert error.issues[0].field == "seller.tax_id"
    data["seller"]["tax_id"] = "0123456749"
    assert [i.rule for i in errors_of(data).issues] == ["BR-CO-09"]


def test_rates_and_exemption_reasons_by_category() -> None:
    error = errors_of(invoice_data(lines=[line("1", "1", "10", "Z", "5")], exemption_reasons={}))
    assert error.terms == ["BT-152"]
    assert error.issues[0].rule == "BR-Z-05"
    assert error.issues[0].field == "lines[0].tax_rate"
    error = errors_of(invoice_data(exemption_reasons={}))
    assert error.terms == ["BT-120"]  # E has no default code; AE and K have theirs
    assert error.issues[0].rule == "BR-E-10"
    data = invoice_data(
        lines=[line("1", "1", "10", "S", "21")],
        allowances=[],
        charges=[],
        exemption_reasons={"S": "not exempt at all"},
    )
    assert [i.rule for i in errors_of(data).issues] == ["BR-S-10"]
    data = invoice_data(
        lines=[line("1", "1", "10", "O", "0"), line("2", "1", "10", "S", "21")],
        allowances=[],
        charges=[],
    )
    assert [i.rule for i in errors_of(data).issues] == ["BR-O-11"]


def test_amounts_past_two_decimals_and_inexact_line_amounts() -> None:
    kwd = invoice_data(
        currency="KWD",
        paid_amount="0",
        lines=[line("1", "1", "1.234", "K", "0")],
        allowances=[],
        charges=[],
    )
    error = errors_of(kwd)
    assert {i.rule for i in error.issues} == {"BR-DEC"}
    assert "BT-131" in error.terms  # and BT-106, BT-109, BT-112, BT-115, BT-116
    assert "1.234 KWD" in str(error)
    jpy = invoice_data(
        currency="JPY",
        accounting_currency=None,
        exchange_rate=None,
        paid_amount="0",
        lines=[line("1", "1.5", "333", "K", "0")],  # 499.5 → 500
        allowances=[],
        charges=[],
    )
    error = errors_of(jpy)
    assert error.terms == ["BT-146"]
    assert error.issues[0].rule == "PEPPOL-EN16931-R120"


def test_other_refusals() -> None:
    assert [i.rule for i in errors_of(invoice_data(type_code="384")).issues] == [
        "PEPPOL-EN16931-P0112"
    ]
    data = invoice_data()
    data["seller"] = {"external_ids": {"peppol": f"0088:{SELLER_GLN}"}, "tax_id": "BE0123456749"}
    assert errors_of(data).terms == ["BT-27"]
    data = invoice_data(lines=[line(" ", "1", "10", "K", "0")])
    assert errors_of(data).terms == ["BT-126"]
    with pytest.raises(ValidationError, match="BR-61"):
        PaymentInstructions(means_code="58")
    with pytest.raises(ValidationError, match="direct debit"):
        PaymentInstructions(means_code="59", account_id="DE89370400440532013000")


def test_every_problem_is_reported_at_once() -> None:
    data = invoice_data(buyer_reference=None, order_reference=None, delivery_address=None)
    data["buyer"]["tax_id"] = None
    error = errors_of(data, UblOptions())
    assert error.terms == ["BT-10", "BT-48", "BT-48", "BT-80", "BT-72", "BT-49"]


# --- the validator ---------------------------------------------------------------------


def test_validator_reports_broken_documents() -> None:
    xml = render_ubl(Invoice.model_validate(invoice_data()), options=GOLDEN_OPTIONS)
    broken = xml.replace(b">594.50</cbc:PayableAmount>", b">594.51</cbc:PayableAmount>")
    report = validate_ubl(broken)
    assert not report.valid
    assert "BR-CO-16" in {a.rule for a in report.fatal}
    no_endpoint = etree.fromstring(xml)
    for element in no_endpoint.xpath("//cbc:EndpointID", namespaces=NS):
        element.getparent().remove(element)
    report = validate_ubl(etree.tostring(no_endpoint))
    assert {"PEPPOL-EN16931-R010", "PEPPOL-EN16931-R020"} <= {a.rule for a in report.fatal}
    misordered = xml.replace(
        b"<cbc:CustomizationID>", b"<cbc:Note>x</cbc:Note><cbc:CustomizationID>"
    )
    assert validate_ubl(misordered).xsd_errors
    assert validate_ubl(b"<Invoice").xsd_errors[0].startswith("not well-formed XML")
    assert "is not a UBL 2.1 Invoice" in validate_ubl(b"<Order/>").xsd_errors[0]
