"""INVOIC02 (message type INVOIC) from a canonical :class:`~hub.canonical.Invoice`, and back.

The qualifiers are the ones SAP's own inbound invoice processing (Logistics Invoice
Verification, SAP Library "EDI inbound: invoice", release 4.6C) reads, completed from the
dictionary domains where that page says nothing:

``E1EDK01``
    BSART ``INVO`` invoice (BT-3 380) or ``CRME`` credit memo (BT-3 381); other type codes
    have no document type in INVOIC02 and are refused. CURCY (BT-5), HWAER (BT-6),
    WKURS_M (exchange rate, see :mod:`.orders`), KUNDEUINR buyer VAT id (BT-48),
    EIGENUINR seller VAT id (BT-31), BELNR the invoice number (BT-1).
``E1EDKA1``
    PARVW RS invoicing party (the seller and the seller's address; SAP reads RS or LF),
    AG sold-to party (the buyer's names, phone and address, IHREZ the buyer reference
    BT-10), RE invoice recipient (the buyer's address with its names), WE goods recipient
    (the delivery address, BG-15, when there is one).
``E1EDK02``
    QUALF 009 "Invoice Number" (SAP reads it as the reference document number RBKP-XBLNR)
    with DATUM the issue date; 001 "Customer Purchase Order" = BT-13; 016 "Number of
    Preceding Document" = the invoice a credit note corrects (BT-25) with DATUM (BT-26).
``E1EDK03``
    IDDAT 012 "Document Date" = issue date (SAP reads it into RBKP-BLDAT), 028 "Due Date"
    (BT-9), 015 "Invoice Posting Date (Invoice Tax Point Date)" (BT-7). Read back, 016
    "Invoice Date" and 026 "Billing Date" are accepted when 012 is missing.
``E1EDK05``
    Document allowances (ALCKZ "-") and charges ("+"): KSCHL the reason code (the data
    element is EDIFACT DE 5189, allowance or charge identification), KOTXT the reason,
    BETRG the amount, MWSKZ/MSATZ the VAT category and rate (BT-95/96, BT-102/103).
``E1EDK04``
    One per VAT category and rate (BG-23): MWSKZ from :attr:`IdocOptions.tax_codes`
    (SAP converts it to its tax code with table T076M), MSATZ the rate, MWSBT the tax.
``E1EDK14``
    Sales area from the caller: 008 sales organization, 007 distribution channel, 006
    division.
``E1EDP01``
    POSEX the line id (BT-126, at most 6 characters), MENGE quantity, MENEE/PMENE unit,
    VPREI net price (BT-146), PEINH price base quantity (BT-149, whole numbers only),
    NETWR the line net amount (BT-131). Children: E1EDP02 QUALF 001 with BELNR the order
    reference and ZEILE the order line (BT-132; SAP reads them as PO number and item);
    E1EDP19 QUALF 002 material (BT-155) with KTEXT the name (BT-153); E1EDP26 QUALF 002
    "Gross value" (quantity × price before allowances and charges) and 003 "Net value"
    (BT-131; SAP's inbound reads 003 first); E1EDP05 line allowances and charges as in
    E1EDK05; E1EDP04 the line's VAT with MWSBT the line's share of its category's tax.
``E1EDS01``
    SUMID 010 "Net invoice value" = BT-109, 005 "Sales tax total" = BT-110, 011 "Billed
    value" = BT-112, each with WAERQ (domain SUMID; the amount field is SUMME).

Every amount is the canonical invoice's own computed value, so the IDoc's totals equal
``invoice.totals`` and ``invoice.vat_breakdown`` to the cent. The line tax amounts are the
category's tax spread over its lines (and document allowances and charges) by
:func:`hub.money.allocate`, so that they add up exactly to E1EDK04.

Refused: a paid amount (BT-113) or rounding amount (BT-114) other than zero, for which
INVOIC02 has no total (a receiver would read the billed value as payable). Not carried:
notes, payment terms, exemption reasons, the accounting-currency tax total, external ids,
price rule traces, names of the seller's address (the seller's party names are carried),
e-mail addresses, the reason code's distinction between allowance and charge lists (the
sign carries it).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from adapters.sap.idoc.codec import (
    amount,
    date_field,
    number,
    plain,
    read_idoc,
    required,
    write_idoc,
)
from adapters.sap.idoc.common import (
    address_from,
    check_total,
    currency_of,
    make_control,
    one,
    partner_numbers,
    partner_segment,
    partners_by_function,
    party_from,
    read_sales_area,
    sales_area_segments,
    tax_category,
    tax_code,
    validated,
)
from adapters.sap.idoc.errors import fail
from adapters.sap.idoc.model import (
    IdocDocument,
    IdocEnvelope,
    IdocOptions,
    InvoicePartners,
    SalesArea,
    Segment,
)
from adapters.sap.idoc.structure import INVOIC02
from hub import money
from hub.canonical.common import TaxCategory
from hub.canonical.invoice import (
    AllowanceCharge,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceTypeCode,
)

ZERO = Decimal(0)

BSART_INVOICE = "INVO"
BSART_CREDIT_MEMO = "CRME"
# E1EDK02 QUALF: 009 invoice number, 001 customer purchase order, 016 preceding document.
REF_INVOICE = "009"
REF_CUSTOMER_PO = "001"
REF_PRECEDING = "016"
# E1EDK03 IDDAT: 012 document date, 028 due date, 015 invoice posting (tax point) date;
# accepted on reading: 016 invoice date, 026 billing date for billing index and printout.
DATE_DOCUMENT = "012"
DATE_DUE = "028"
DATE_TAX_POINT = "015"
DATE_INVOICE = "016"
DATE_BILLING = "026"
# E1EDP26 QUALF (domain QUALIBETRG): 002 gross value, 003 net value.
AMOUNT_GROSS = "002"
AMOUNT_NET = "003"
ID_MATERIAL = "002"
# E1EDS01 SUMID: 010 net invoice value, 005 sales tax total, 011 billed value.
SUM_NET = "010"
SUM_TAX = "005"
SUM_GROSS = "011"

_Key = tuple[TaxCategory, Decimal]


def build_invoic02(
    invoice: Invoice,
    *,
    envelope: IdocEnvelope,
    docnum: str,
    partners: InvoicePartners,
    created_at: datetime,
    sales_area: SalesArea | None = None,
    options: IdocOptions | None = None,
) -> bytes:
    """IDoc-XML of ``invoice`` (or credit note) as INVOIC02 / INVOIC.

    Raises :class:`IdocError` for every field that does not fit, for type codes other
    than 380/381, and for a non-zero paid or rounding amount.
    """
    options = options or IdocOptions()
    control = make_control(INVOIC02, envelope, docnum, created_at, options)
    currency = invoice.currency
    if invoice.type_code is InvoiceTypeCode.COMMERCIAL_INVOICE:
        bsart = BSART_INVOICE
    elif invoice.type_code is InvoiceTypeCode.CREDIT_NOTE:
        bsart = BSART_CREDIT_MEMO
    else:
        raise fail(
            "E1EDK01[1].BSART",
            f"type code {invoice.type_code.value} (BT-3) has no INVOIC02 document type "
            "(INVO is 380, CRME is 381)",
        )
    if invoice.paid_amount or invoice.rounding_amount:
        raise fail(
            "E1EDS01",
            "INVOIC02 has no total for a paid amount (BT-113) or a rounding amount "
            "(BT-114); the receiver would take the billed value as payable",
        )

    segments: list[Segment] = [
        Segment("E1EDK01")
        .set("CURCY", currency)
        .set("HWAER", invoice.accounting_currency)
        .set("KUNDEUINR", invoice.buyer.tax_id)
        .set("EIGENUINR", invoice.seller.tax_id)
        .set("BSART", bsart)
        .set("BELNR", invoice.invoice_number)
        .set("WKURS_M", invoice.exchange_rate),
        partner_segment(
            "RS",
            partners.invoicing_party,
            party=invoice.seller,
            address=invoice.seller_address,
            where="E1EDKA1[1]",
        ),
        partner_segment(
            "AG",
            partners.sold_to,
            party=invoice.buyer,
            address=invoice.buyer_address,
            where="E1EDKA1[2]",
            reference=invoice.buyer_reference,
        ),
        partner_segment(
            "RE",
            partners.bill_to or partners.sold_to,
            party=None,
            address=invoice.buyer_address,
            where="E1EDKA1[3]",
        ),
    ]
    if invoice.delivery_address is not None:
        segments.append(
            partner_segment(
                "WE",
                partners.ship_to or partners.sold_to,
                party=None,
                address=invoice.delivery_address,
                where="E1EDKA1[4]",
            )
        )
    segments.append(
        Segment("E1EDK02")
        .set("QUALF", REF_INVOICE)
        .set("BELNR", invoice.invoice_number)
        .set("DATUM", invoice.issue_date)
    )
    if invoice.order_reference:
        segments.append(
            Segment("E1EDK02").set("QUALF", REF_CUSTOMER_PO).set("BELNR", invoice.order_reference)
        )
    if invoice.preceding_invoice:
        segments.append(
            Segment("E1EDK02")
            .set("QUALF", REF_PRECEDING)
            .set("BELNR", invoice.preceding_invoice)
            .set("DATUM", invoice.preceding_invoice_date)
        )
    for iddat, day in (
        (DATE_DOCUMENT, invoice.issue_date),
        (DATE_DUE, invoice.due_date),
        (DATE_TAX_POINT, invoice.tax_point_date),
    ):
        if day is not None:
            segments.append(Segment("E1EDK03").set("IDDAT", iddat).set("DATUM", day))
    for sign, entries in (("-", invoice.allowances), ("+", invoice.charges)):
        for entry in entries:
            segments.append(
                _condition(sign, entry)
                .set("MWSKZ", tax_code(options, entry.tax_category))
                .set("MSATZ", entry.tax_rate)
            )
    for vat in invoice.vat_breakdown:
        segments.append(
            Segment("E1EDK04")
            .set("MWSKZ", tax_code(options, vat.category))
            .set("MSATZ", vat.rate)
            .set("MWSBT", vat.tax_amount)
        )
    segments.extend(sales_area_segments(sales_area, with_order_type=False))
    line_taxes = _line_taxes(invoice)
    for line, tax in zip(invoice.lines, line_taxes, strict=True):
        segments.append(_line(line, tax, invoice, options))
    totals = invoice.totals
    for sumid, value in (
        (SUM_NET, totals.tax_exclusive_total),
        (SUM_TAX, totals.tax_total),
        (SUM_GROSS, totals.tax_inclusive_total),
    ):
        segments.append(
            Segment("E1EDS01").set("SUMID", sumid).set("SUMME", value).set("WAERQ", currency)
        )
    return write_idoc(INVOIC02, control, segments, currency=currency)


def _condition(sign: str, entry: AllowanceCharge, segment: str = "E1EDK05") -> Segment:
    return (
        Segment(segment)
        .set("ALCKZ", sign)
        .set("KSCHL", entry.reason_code)
        .set("KOTXT", entry.reason)
        .set("BETRG", entry.amount)
    )


def _line_taxes(invoice: Invoice) -> list[Decimal]:
    """Each line's share of its VAT category's tax; the shares of a category's lines and
    of its document allowances and charges add up to the category's tax exactly."""
    currency = invoice.currency
    taxes = [ZERO] * len(invoice.lines)
    for vat in invoice.vat_breakdown:
        key: _Key = (vat.category, vat.rate)
        members = [
            i for i, line in enumerate(invoice.lines) if (line.tax_category, line.tax_rate) == key
        ]
        weights = [invoice.lines[i].net_amount_in(currency) for i in members]
        weights += [c.amount for c in invoice.charges if (c.tax_category, c.tax_rate) == key]
        weights += [-a.amount for a in invoice.allowances if (a.tax_category, a.tax_rate) == key]
        shares = money.allocate(vat.tax_amount, weights, currency)
        for i, share in zip(members, shares, strict=False):
            taxes[i] = share
    return taxes


def _line(line: InvoiceLine, tax: Decimal, invoice: Invoice, options: IdocOptions) -> Segment:
    currency = invoice.currency
    gross = money.round_money(line.quantity * line.unit_price / line.base_quantity, currency)
    net = line.net_amount_in(currency)
    item = (
        Segment("E1EDP01")
        .set("POSEX", line.line_id)
        .set("MENGE", line.quantity)
        .set("MENEE", line.unit)
        .set("PMENE", line.unit)
        .set("VPREI", line.unit_price)
        .set("PEINH", line.base_quantity)
        .set("NETWR", net)
    )
    if line.order_line_id:
        item.add(
            Segment("E1EDP02")
            .set("QUALF", REF_CUSTOMER_PO)
            .set("BELNR", invoice.order_reference)
            .set("ZEILE", line.order_line_id)
        )
    item.add(
        Segment("E1EDP19").set("QUALF", ID_MATERIAL).set("IDTNR", line.sku).set("KTEXT", line.name)
    )
    item.add(Segment("E1EDP26").set("QUALF", AMOUNT_GROSS).set("BETRG", gross))
    item.add(Segment("E1EDP26").set("QUALF", AMOUNT_NET).set("BETRG", net))
    for sign, entries in (("-", line.allowances), ("+", line.charges)):
        for entry in entries:
            item.add(_condition(sign, entry, "E1EDP05"))
    item.add(
        Segment("E1EDP04")
        .set("MWSKZ", tax_code(options, line.tax_category))
        .set("MSATZ", line.tax_rate)
        .set("MWSBT", tax)
    )
    return item


# --- reading --------------------------------------------------------------------------


def parse_invoic02(xml: bytes, *, options: IdocOptions | None = None) -> IdocDocument[Invoice]:
    """The canonical invoice (BSART INVO) or credit note (CRME) in an INVOIC02 IDoc.

    Every amount the IDoc states is checked against what the canonical model computes:
    E1EDP26 net value and NETWR per line, E1EDK04 per VAT category and rate, E1EDS01
    totals; a difference is an error naming the segment and field.
    """
    options = options or IdocOptions()
    control, body = read_idoc(xml, INVOIC02)
    header = one(body, "E1EDK01")
    currency = currency_of(header)
    bsart = required(header, "BSART")
    if bsart not in {BSART_INVOICE, BSART_CREDIT_MEMO}:
        raise fail(header.where("BSART"), f"{bsart!r} is neither INVO nor CRME")

    by_function = partners_by_function(body)
    seller_segment = by_function.get("RS") or by_function.get("LF")
    if seller_segment is None:
        raise fail("E1EDKA1", "no invoicing party (PARVW RS or LF)")
    buyer_segment = by_function.get("AG") or by_function.get("RE")
    if buyer_segment is None:
        raise fail("E1EDKA1", "no sold-to party or invoice recipient (PARVW AG or RE)")
    recipient = by_function.get("RE", buyer_segment)
    delivery = by_function.get("WE")

    references = {
        qualf: body.with_qualifier("E1EDK02", "QUALF", qualf)
        for qualf in (REF_INVOICE, REF_CUSTOMER_PO, REF_PRECEDING)
    }
    invoice_ref = references[REF_INVOICE][0] if references[REF_INVOICE] else None
    invoice_number = (invoice_ref.text("BELNR") if invoice_ref else None) or header.text("BELNR")
    if invoice_number is None:
        raise fail("E1EDK02", "no invoice number (QUALF 009, or E1EDK01-BELNR)")
    preceding = references[REF_PRECEDING][0] if references[REF_PRECEDING] else None
    order_ref = references[REF_CUSTOMER_PO][0] if references[REF_CUSTOMER_PO] else None

    issue_date = _date(body, DATE_DOCUMENT, DATE_INVOICE, DATE_BILLING)
    if issue_date is None and invoice_ref is not None:
        issue_date = date_field(invoice_ref, "DATUM")
    if issue_date is None:
        raise fail("E1EDK03", "no document date (IDDAT 012) or invoice date (016, 026)")

    allowances, charges = _conditions(body.all("E1EDK05"), currency, options, with_tax=True)
    data: dict[str, object] = {
        "invoice_number": invoice_number,
        "issue_date": issue_date,
        "due_date": _date(body, DATE_DUE),
        "tax_point_date": _date(body, DATE_TAX_POINT),
        "currency": currency,
        "accounting_currency": header.text("HWAER"),
        "exchange_rate": plain(number(header, "WKURS_M")),
        "buyer_reference": buyer_segment.text("IHREZ"),
        "order_reference": order_ref.text("BELNR") if order_ref else None,
        "seller": party_from(seller_segment, options, tax_id=header.text("EIGENUINR")),
        "seller_address": address_from(seller_segment, with_names=False),
        "buyer": party_from(buyer_segment, options, tax_id=header.text("KUNDEUINR")),
        "buyer_address": address_from(recipient),
        "delivery_address": address_from(delivery) if delivery is not None else None,
        "lines": [_read_line(item, currency, options) for item in body.all("E1EDP01")],
        "allowances": allowances,
        "charges": charges,
        "preceding_invoice": preceding.text("BELNR") if preceding else None,
        "preceding_invoice_date": date_field(preceding, "DATUM") if preceding else None,
    }
    model = CreditNote if bsart == BSART_CREDIT_MEMO else Invoice
    invoice = validated(model, data, "INVOIC02→invoice")
    _check_amounts(body, invoice, options)
    return IdocDocument(
        control=control,
        document=invoice,
        partners=partner_numbers(by_function),
        sales_area=read_sales_area(body),
    )


def _date(body: Segment, *qualifiers: str) -> date | None:
    for iddat in qualifiers:
        for segment in body.with_qualifier("E1EDK03", "IDDAT", iddat):
            day = date_field(segment, "DATUM")
            if day is not None:
                return day
    return None


def _conditions(
    segments: list[Segment], currency: str, options: IdocOptions, *, with_tax: bool
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    allowances: list[dict[str, object]] = []
    charges: list[dict[str, object]] = []
    for condition in segments:
        alckz = required(condition, "ALCKZ")
        if alckz not in {"+", "-"}:
            raise fail(condition.where("ALCKZ"), f"{alckz!r} is neither + nor -")
        value = amount(condition, "BETRG", currency)
        if value is None:
            raise fail(condition.where("BETRG"), "missing")
        if alckz == "+" and value < 0:
            raise fail(condition.where("BETRG"), f"a charge of {value}")
        entry: dict[str, object] = {
            "amount": abs(value),
            "reason": condition.text("KOTXT"),
            "reason_code": condition.text("KSCHL"),
        }
        if with_tax:
            category = tax_category(condition, options)
            if category is not None:
                entry["tax_category"] = category
            entry["tax_rate"] = plain(number(condition, "MSATZ")) or ZERO
        (allowances if alckz == "-" else charges).append(entry)
    return allowances, charges


def _read_line(item: Segment, currency: str, options: IdocOptions) -> dict[str, object]:
    quantity = number(item, "MENGE")
    if quantity is None:
        raise fail(item.where("MENGE"), "missing")
    price = number(item, "VPREI")
    if price is None:
        raise fail(item.where("VPREI"), "missing")
    materials = item.with_qualifier("E1EDP19", "QUALF", ID_MATERIAL)
    if not materials:
        raise fail(item.path, "no E1EDP19 with QUALF 002 (the seller's material number)")
    taxes = item.all("E1EDP04")
    if len(taxes) != 1:
        raise fail(item.path, f"expected one E1EDP04 (the line's VAT), found {len(taxes)}")
    category = tax_category(taxes[0], options)
    if category is None:
        raise fail(taxes[0].where("MWSKZ"), "missing")
    orders = item.with_qualifier("E1EDP02", "QUALF", REF_CUSTOMER_PO)
    allowances, charges = _conditions(item.all("E1EDP05"), currency, options, with_tax=False)
    per = number(item, "PEINH")
    return {
        "line_id": required(item, "POSEX"),
        "order_line_id": orders[0].text("ZEILE") if orders else None,
        "sku": required(materials[0], "IDTNR"),
        "name": required(materials[0], "KTEXT"),
        "quantity": plain(quantity),
        "unit": item.text("MENEE") or "C62",
        "unit_price": price,
        "base_quantity": plain(per) if per else Decimal(1),
        "allowances": allowances,
        "charges": charges,
        "tax_category": category,
        "tax_rate": plain(number(taxes[0], "MSATZ")) or ZERO,
    }


def _check_amounts(body: Segment, invoice: Invoice, options: IdocOptions) -> None:
    currency = invoice.currency
    for item, line in zip(body.all("E1EDP01"), invoice.lines, strict=True):
        net = line.net_amount_in(currency)
        written = amount(item, "NETWR", currency)
        if written is not None:
            check_total(item, "NETWR", written, net)
        for stated_in in item.with_qualifier("E1EDP26", "QUALF", AMOUNT_NET):
            stated = amount(stated_in, "BETRG", currency)
            if stated is not None:
                check_total(stated_in, "BETRG", stated, net)

    summary = body.all("E1EDK04")
    if summary:
        computed: dict[_Key, Decimal] = {
            (vat.category, vat.rate): vat.tax_amount for vat in invoice.vat_breakdown
        }
        seen: set[_Key] = set()
        for tax in summary:
            category = tax_category(tax, options) or TaxCategory.STANDARD
            key = (category, number(tax, "MSATZ") or ZERO)
            if key not in computed:
                raise fail(
                    tax.where("MSATZ"),
                    f"no line, allowance or charge has VAT {category.value} {key[1]} %",
                )
            check_total(tax, "MWSBT", amount(tax, "MWSBT", currency) or ZERO, computed[key])
            seen.add(key)
        for key, value in computed.items():
            if key not in seen:
                raise fail("E1EDK04", f"no E1EDK04 for VAT {key[0].value} {key[1]} % (tax {value})")

    totals = invoice.totals
    expected = {
        SUM_NET: totals.tax_exclusive_total,
        SUM_TAX: totals.tax_total,
        SUM_GROSS: totals.tax_inclusive_total,
    }
    for total in body.all("E1EDS01"):
        waerq = total.text("WAERQ")
        if waerq is not None and waerq.upper() != currency:
            raise fail(total.where("WAERQ"), f"{waerq} is not the document currency {currency}")
        sumid = total.text("SUMID")
        if sumid in expected:
            written = amount(total, "SUMME", currency)
            if written is not None:
                check_total(total, "SUMME", written, expected[sumid])
