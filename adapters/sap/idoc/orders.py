"""ORDERS05 (message type ORDERS) from a canonical :class:`~hub.canonical.Order`, and back.

What the IDoc carries, segment by segment (qualifiers and their sources):

``E1EDK01``
    CURCY currency (BT-5), HWAER the accounting currency (BT-6), WKURS_M the exchange
    rate (the "indirectly quoted exchange rate": document-currency units per unit of the
    local currency, which is how the canonical rate is quoted), KUNDEUINR the buyer's VAT
    id, BELNR the shop's order number.
``E1EDK14``
    Sales area from the caller: QUALF 008 sales organization, 007 distribution channel,
    006 division, 012 order type (SAP Library, segment E1EDK14: the indicators the SD
    inbound processes; without 012 SAP creates a standard order OR).
``E1EDK03``
    IDDAT 022 "Purchase Order Date" (domain IDDAT) with DATUM and UZEIT: the order date
    in :attr:`IdocOptions.timezone`. Read back, 012 "Document Date" is accepted when 022
    is missing (SAP MM writes it on outbound purchase orders).
``E1EDK05``
    Shipping as header condition ``freight_condition`` (default HD00, freight) with
    ALCKZ "+", BETRG the shipping amount net of its discount, KOTXT the shipping method,
    MWSKZ/MSATZ its VAT; each charge as ``charge_condition`` with KOTXT its reason (its
    code when it has no reason). The shipping discount is netted into BETRG and the
    tax amounts of shipping and charges are not carried: read back they are base × rate.
``E1EDKA1``
    PARVW AG sold-to party (the buyer's names and phone, the billing address), RE bill-to
    party (the billing address), WE ship-to party (the shipping address, when there is
    one); PARTN from :class:`OrderPartners` (ship-to and bill-to default to the sold-to
    party).
``E1EDK02``
    QUALF 001 "Customer Purchase Order" with BELNR = the buyer's reference (BT-10) or,
    without one, the shop's order number: SAP's SD inbound takes the customer's PO number
    (VBKD-BSTKD) from it. Read back, a BELNR equal to E1EDK01-BELNR is not a buyer
    reference.
``E1EDP01``
    POSEX the line id (6 characters: a longer id is an error), MENGE quantity, MENEE and
    PMENE the UN/ECE Rec 20 unit (the ISO code SAP keeps in T006-ISOCODE), VPREI unit
    price, PEINH 1, NETWR net amount (after the line discount). Children: E1EDP04 VAT
    (MWSKZ from :attr:`IdocOptions.tax_codes`, MSATZ rate, MWSBT the line's tax amount),
    E1EDP05 conditions (``price_condition`` PR00 with KRATE unit price and BETRG the line
    amount; ``discount_condition`` RB00 with ALCKZ "-", BETRG the discount, KOTXT its
    reason), E1EDP19 QUALF 002 the material number (the seller's SKU) with KTEXT the name
    (SAP Library, segment E1EDP19: 002 internal material number, 001 customer material,
    003 EAN/UPC).
``E1EDS01``
    SUMID 002 "Net document value" = net total (BT-109) and 005 "Sales tax total" = tax
    total (BT-110), domain SUMID; read back, both must equal the computed totals.

Not carried: status, store, payment, coupon code, notes, the buyer's e-mail, customer
group and guest flag, ``updated_at``, external ids (the read order's parties carry the SAP
partner number under :attr:`IdocOptions.system`), product type and parent SKU of a line.
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from adapters.sap.idoc.codec import (
    amount,
    date_field,
    number,
    plain,
    read_idoc,
    required,
    time_field,
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
    OrderPartners,
    SalesArea,
    Segment,
)
from adapters.sap.idoc.structure import ORDERS05
from hub import money
from hub.canonical.order import Order, OrderLine

ZERO = Decimal(0)

# E1EDK03 IDDAT (domain IDDAT): 022 purchase order date, 012 document date.
DATE_PO = "022"
DATE_DOCUMENT = "012"
# E1EDK02 QUALF (IDoc qualifier reference document): 001 customer purchase order.
REF_CUSTOMER_PO = "001"
# E1EDP19 QUALF: 002 material number of the seller (SAP's internal material number).
ID_MATERIAL = "002"
# E1EDS01 SUMID (domain SUMID): 002 net document value, 005 sales tax total.
SUM_NET = "002"
SUM_TAX = "005"


def build_orders05(
    order: Order,
    *,
    envelope: IdocEnvelope,
    docnum: str,
    partners: OrderPartners,
    created_at: datetime,
    sales_area: SalesArea | None = None,
    options: IdocOptions | None = None,
) -> bytes:
    """IDoc-XML of ``order`` as ORDERS05 / ORDERS.

    ``docnum`` is the 16-digit IDoc number (stable per delivery, see
    :func:`~adapters.sap.idoc.model.docnum_for`); ``created_at`` becomes CREDAT/CRETIM.
    A value too long for its field, an amount that does not fit the currency or a
    quantity with more than 3 decimals raises :class:`IdocError` naming every such field.
    """
    options = options or IdocOptions()
    control = make_control(ORDERS05, envelope, docnum, created_at, options)
    currency = order.currency
    segments: list[Segment] = []

    segments.append(
        Segment("E1EDK01")
        .set("CURCY", currency)
        .set("HWAER", order.accounting_currency)
        .set("KUNDEUINR", order.buyer.tax_id)
        .set("BELNR", order.order_number)
        .set("WKURS_M", order.exchange_rate)
    )
    segments.extend(sales_area_segments(sales_area, with_order_type=True))
    local = order.order_date.astimezone(options.zone)
    segments.append(
        Segment("E1EDK03")
        .set("IDDAT", DATE_PO)
        .set("DATUM", local.date())
        .set("UZEIT", local.time().replace(microsecond=0))
    )
    segments.extend(_header_conditions(order, options))

    billing, shipping = order.billing_address, order.shipping_address
    segments.append(
        partner_segment(
            "AG", partners.sold_to, party=order.buyer, address=billing, where="E1EDKA1[1]"
        )
    )
    segments.append(
        partner_segment(
            "RE",
            partners.bill_to or partners.sold_to,
            party=None,
            address=billing,
            where="E1EDKA1[2]",
        )
    )
    if shipping is not None:
        segments.append(
            partner_segment(
                "WE",
                partners.ship_to or partners.sold_to,
                party=None,
                address=shipping,
                where="E1EDKA1[3]",
            )
        )
    segments.append(
        Segment("E1EDK02")
        .set("QUALF", REF_CUSTOMER_PO)
        .set("BELNR", order.buyer_reference or order.order_number)
    )
    segments.extend(_line(line, options) for line in order.lines)
    totals = order.totals
    for sumid, value in ((SUM_NET, totals.net_total), (SUM_TAX, totals.tax_total)):
        segments.append(
            Segment("E1EDS01").set("SUMID", sumid).set("SUMME", value).set("WAERQ", currency)
        )
    return write_idoc(ORDERS05, control, segments, currency=currency)


def _header_conditions(order: Order, options: IdocOptions) -> list[Segment]:
    conditions: list[Segment] = []
    if order.shipping is not None:
        shipping = order.shipping
        conditions.append(
            Segment("E1EDK05")
            .set("ALCKZ", "+")
            .set("KSCHL", options.freight_condition)
            .set("KOTXT", shipping.method)
            .set("BETRG", shipping.amount - shipping.discount_amount)
            .set("MWSKZ", tax_code(options, shipping.tax_category))
            .set("MSATZ", shipping.tax_rate)
        )
    if order.charges and options.charge_condition is None:
        raise fail(
            "E1EDK05.KSCHL",
            "the order has charges; set IdocOptions.charge_condition to the SAP "
            "condition type that carries them",
        )
    for charge in order.charges:
        conditions.append(
            Segment("E1EDK05")
            .set("ALCKZ", "+")
            .set("KSCHL", options.charge_condition)
            .set("KOTXT", charge.reason or charge.code)
            .set("BETRG", charge.amount)
            .set("MWSKZ", tax_code(options, charge.tax_category))
            .set("MSATZ", charge.tax_rate)
        )
    return conditions


def _line(line: OrderLine, options: IdocOptions) -> Segment:
    item = (
        Segment("E1EDP01")
        .set("POSEX", line.line_id)
        .set("MENGE", line.quantity)
        .set("MENEE", line.unit)
        .set("PMENE", line.unit)
        .set("VPREI", line.unit_price)
        .set("PEINH", Decimal(1))
        .set("NETWR", line.net_amount)
    )
    item.add(
        Segment("E1EDP04")
        .set("MWSKZ", tax_code(options, line.tax_category))
        .set("MSATZ", line.tax_rate)
        .set("MWSBT", line.tax_amount)
    )
    item.add(
        Segment("E1EDP05")
        .set("ALCKZ", "+")
        .set("KSCHL", options.price_condition)
        .set("BETRG", line.gross_amount)
        .set("KRATE", line.unit_price)
        .set("UPRBS", Decimal(1))
        .set("MEAUN", line.unit)
    )
    if line.discount_amount:
        item.add(
            Segment("E1EDP05")
            .set("ALCKZ", "-")
            .set("KSCHL", options.discount_condition)
            .set("KOTXT", line.discount_reason)
            .set("BETRG", line.discount_amount)
        )
    item.add(
        Segment("E1EDP19").set("QUALF", ID_MATERIAL).set("IDTNR", line.sku).set("KTEXT", line.name)
    )
    return item


# --- reading --------------------------------------------------------------------------


def parse_orders05(xml: bytes, *, options: IdocOptions | None = None) -> IdocDocument[Order]:
    """The canonical order in an ORDERS05 IDoc of message type ORDERS.

    Refuses another basic or message type, malformed XML and any field it cannot read,
    naming the segment and field (``E1EDP01[3].MENGE: not a number: '1,5'``). The totals
    in E1EDS01, when present, must equal the ones the canonical order computes.
    """
    options = options or IdocOptions()
    control, body = read_idoc(xml, ORDERS05)
    header = one(body, "E1EDK01")
    currency = currency_of(header)
    by_function = partners_by_function(body)
    sold_to = by_function.get("AG")
    if sold_to is None:
        raise fail("E1EDKA1", "no sold-to party (PARVW AG)")
    bill_to = by_function.get("RE", sold_to)
    ship_to = by_function.get("WE")

    references = body.with_qualifier("E1EDK02", "QUALF", REF_CUSTOMER_PO)
    po_number = references[0].text("BELNR") if references else None
    order_number = header.text("BELNR") or po_number
    if order_number is None:
        raise fail(header.where("BELNR"), "missing (and no customer PO number in E1EDK02)")

    data: dict[str, object] = {
        "order_number": order_number,
        "order_date": _order_date(body, options),
        "currency": currency,
        "accounting_currency": header.text("HWAER"),
        "exchange_rate": plain(number(header, "WKURS_M")),
        "buyer": party_from(sold_to, options, tax_id=header.text("KUNDEUINR")),
        "buyer_reference": po_number if po_number != order_number else None,
        "billing_address": address_from(bill_to),
        "shipping_address": address_from(ship_to) if ship_to is not None else None,
        "lines": [_read_line(item, currency, options) for item in body.all("E1EDP01")],
    }
    data.update(_read_header_conditions(body, currency, options))
    order = validated(Order, data, "ORDERS05→order")
    totals = order.totals
    for total in body.all("E1EDS01"):
        _check_sum(total, currency, {SUM_NET: totals.net_total, SUM_TAX: totals.tax_total})
    return IdocDocument(
        control=control,
        document=order,
        partners=partner_numbers(by_function),
        sales_area=read_sales_area(body),
    )


def _order_date(body: Segment, options: IdocOptions) -> datetime:
    for iddat in (DATE_PO, DATE_DOCUMENT):
        for segment in body.with_qualifier("E1EDK03", "IDDAT", iddat):
            day = date_field(segment, "DATUM")
            if day is not None:
                clock = time_field(segment, "UZEIT") or time(0)
                return datetime.combine(day, clock, tzinfo=options.zone)
    raise fail("E1EDK03", "no purchase order date (IDDAT 022) or document date (IDDAT 012)")


def _read_header_conditions(
    body: Segment, currency: str, options: IdocOptions
) -> dict[str, object]:
    shipping: dict[str, object] | None = None
    charges: list[dict[str, object]] = []
    for condition in body.all("E1EDK05"):
        kschl = required(condition, "KSCHL")
        alckz = condition.text("ALCKZ") or "+"
        if alckz != "+":
            raise fail(
                condition.where("ALCKZ"),
                f"header discount {kschl} (ALCKZ {alckz!r}) has no place in a canonical order",
            )
        value = amount(condition, "BETRG", currency)
        if value is None:
            raise fail(condition.where("BETRG"), "missing")
        category = tax_category(condition, options)
        rate = plain(number(condition, "MSATZ")) or ZERO
        taxed: dict[str, object] = {
            "amount": value,
            "tax_rate": rate,
            "tax_amount": money.percent_of(value, rate, currency),
        }
        if category is not None:
            taxed["tax_category"] = category
        if kschl == options.freight_condition:
            if shipping is not None:
                raise fail(condition.where("KSCHL"), f"a second freight condition {kschl}")
            shipping = {"method": condition.text("KOTXT"), **taxed}
        elif kschl == options.charge_condition:
            charges.append({"reason": condition.text("KOTXT"), **taxed})
        else:
            known = options.freight_condition
            if options.charge_condition:
                known += f", charge {options.charge_condition}"
            raise fail(
                condition.where("KSCHL"),
                f"header condition {kschl} is not one the hub reads (freight {known})",
            )
    return {"shipping": shipping, "charges": charges}


def _read_line(item: Segment, currency: str, options: IdocOptions) -> dict[str, object]:
    quantity = number(item, "MENGE")
    if quantity is None:
        raise fail(item.where("MENGE"), "missing")
    materials = item.with_qualifier("E1EDP19", "QUALF", ID_MATERIAL)
    if not materials:
        raise fail(item.path, "no E1EDP19 with QUALF 002 (the seller's material number)")
    material = materials[0]
    line: dict[str, object] = {
        "line_id": required(item, "POSEX"),
        "sku": required(material, "IDTNR"),
        "name": material.text("KTEXT"),
        "quantity": plain(quantity),
        "unit": item.text("MENEE") or "C62",
    }

    price = number(item, "VPREI")
    line_amount: Decimal | None = None
    discount = ZERO
    reasons: list[str] = []
    for condition in item.all("E1EDP05"):
        alckz = condition.text("ALCKZ") or "+"
        kschl = condition.text("KSCHL")
        if alckz == "-":
            value = amount(condition, "BETRG", currency)
            discount += abs(value or ZERO)
            if (reason := condition.text("KOTXT")) is not None:
                reasons.append(reason)
        elif kschl == options.price_condition:
            line_amount = amount(condition, "BETRG", currency)
            if price is None:
                price = number(condition, "KRATE")
        else:
            raise fail(
                condition.where("KSCHL"),
                f"item surcharge {kschl} has no place in a canonical order line",
            )
    if price is None:
        raise fail(item.where("VPREI"), "missing (and no price condition in E1EDP05)")
    per = number(item, "PEINH")
    if per is not None and per not in {ZERO, Decimal(1)}:
        unit_price = price / per
        if unit_price * per != price:
            raise fail(item.where("PEINH"), f"{price} per {per} is not an exact unit price")
        price = unit_price
    line["unit_price"] = price
    line["discount_amount"] = discount
    line["discount_reason"] = "; ".join(reasons) or None

    net = amount(item, "NETWR", currency)
    if line_amount is None and net is not None:
        line_amount = net + discount
    if net is not None and line_amount is not None and net != line_amount - discount:
        raise fail(
            item.where("NETWR"),
            f"{net} is not the price condition's {line_amount} less discounts of {discount}",
        )
    line["line_amount"] = line_amount

    taxes = item.all("E1EDP04")
    if len(taxes) > 1:
        raise fail(taxes[1].path, "a canonical order line has one VAT category and rate")
    if taxes:
        tax = taxes[0]
        category = tax_category(tax, options)
        if category is not None:
            line["tax_category"] = category
        line["tax_rate"] = plain(number(tax, "MSATZ")) or ZERO
        line["tax_amount"] = amount(tax, "MWSBT", currency) or ZERO
    return line


def _check_sum(total: Segment, currency: str, computed: dict[str, Decimal]) -> None:
    sumid = total.text("SUMID")
    waerq = total.text("WAERQ")
    if waerq is not None and waerq.upper() != currency:
        raise fail(total.where("WAERQ"), f"{waerq} is not the document currency {currency}")
    if sumid in computed:
        written = amount(total, "SUMME", currency)
        if written is not None:
            check_total(total, "SUMME", written, computed[sumid])
