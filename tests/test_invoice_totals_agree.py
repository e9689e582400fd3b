"""One invoice, every output: the totals agree to the cent between the canonical invoice,
its UBL, its CII, the text of its PDF and its SAP journal entry (hypothesis population)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from lxml import etree

from adapters.sap.journal import JournalConfig, build_journal_entry
from hub.canonical.invoice import Invoice
from hub.einvoice.cii import CiiDataError, CiiOptions, render_cii
from hub.einvoice.facturx_pdf import Formatter, pdf_text, render_pdf
from hub.einvoice.ubl import UblOptions, render_ubl
from tests.einvoice_strategies import delivery_date_for, documents

CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
RAM = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"
JOURNAL = JournalConfig(
    company_code="1010",
    customer="17100001",
    revenue_account="40000000",
    rounding_account="69000000",
    tax_codes={
        "S": "A1",
        "Z": "A0",
        "E": "A0",
        "AE": "E1",
        "K": "AF",
        "G": "AG",
        "O": "A0",
        "L": "AL",
        "M": "AM",
    },
)


def _amount(root: etree._Element, tag: str) -> Decimal:
    found = root.find(f".//{tag}")
    assert found is not None, tag
    return Decimal(found.text)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_totals_agree_to_the_cent_across_every_output(document: Invoice) -> None:
    totals = document.totals
    delivered = delivery_date_for(document)

    ubl = etree.fromstring(render_ubl(document, options=UblOptions(delivery_date=delivered)))
    assert _amount(ubl, f"{CBC}TaxExclusiveAmount") == totals.tax_exclusive_total
    assert _amount(ubl, f"{CBC}TaxInclusiveAmount") == totals.tax_inclusive_total
    assert _amount(ubl, f"{CBC}PayableAmount") == totals.payable_amount

    try:
        cii_xml = render_cii(document, options=CiiOptions(delivery_date=delivered))
    except CiiDataError:
        return  # a document EN 16931 CII refuses (e.g. BR-CO-25 without terms): UBL only
    cii = etree.fromstring(cii_xml)
    assert _amount(cii, f"{RAM}TaxBasisTotalAmount") == totals.tax_exclusive_total
    assert _amount(cii, f"{RAM}GrandTotalAmount") == totals.tax_inclusive_total
    assert _amount(cii, f"{RAM}DuePayableAmount") == totals.payable_amount

    text = pdf_text(render_pdf(document, options=CiiOptions(delivery_date=delivered)))
    shown = Formatter.for_locale("en_GB").money(totals.payable_amount, document.currency)
    assert shown in " ".join(text.split())

    entry = build_journal_entry(document, JOURNAL)
    assert entry.balance() == 0
    sign = -1 if document.kind == "credit_note" else 1
    # the receivable is what the buyer owes before prepayments, cash rounding included
    assert entry.debtor.amount == sign * (totals.tax_inclusive_total + totals.rounding_amount)
    tax_lines = sum((line.amount for line in entry.tax_lines), Decimal(0))
    assert -sign * tax_lines == totals.tax_total
