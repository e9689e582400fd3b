"""From a shipment to the invoice it produces: exactly the quantities shipped, priced, taxed.

The draft is what ``o2c invoice preview`` shows and what :class:`~hub.invoicing.store.
InvoiceStore` issues (it assigns the number; the draft carries ``DRAFT``):

* one invoice line per shipment line, for the shipped quantity of its order line;
* the price from the pricing rules when they are configured (every line records which rules
  made its price), else the shop's unit price, with the order line's discount prorated to
  the quantity shipped (the line's last invoice taking the remainder);
* VAT by :mod:`hub.invoicing.tax` when the seller's tax configuration is given, else the
  category and rate the shop charged, and the VAT amount the shop charged (its pro-rata
  share for a partial shipment, the shop's last invoice of a row taking the remainder, as
  Magento's does) when the shop's prices stand and it is within rounding of taxable × rate
  (:func:`~hub.canonical.invoice.charged_tax_tolerance`): the invoice then agrees to the
  cent with the shop's invoice and with the payment the shop took;
* the order's shipping and surcharges as document charges on the order's first invoice
  only, so a partial shipment never bills them twice;
* document allowances of the pricing rules spread over the VAT groups in proportion to
  their net amounts (EN 16931 needs a category on each);
* the accounting currency with the ECB rate of the issue date and that rate's date;
* due date and BT-20 text from the payment terms.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from hub import money
from hub.canonical.common import PartyRef, PaymentTerms, TaxCategory
from hub.canonical.invoice import (
    AllowanceCharge,
    ChargedTax,
    Invoice,
    InvoiceLine,
    charged_tax_tolerance,
)
from hub.canonical.order import Order, OrderLine
from hub.canonical.shipment import Shipment
from hub.errors import HubError
from hub.invoicing.currency import ExchangeRates
from hub.invoicing.settings import Seller
from hub.invoicing.tax import TaxConfig, determine
from hub.invoicing.terms import parse_terms, schedule

if TYPE_CHECKING:
    from hub.invoicing.pricing import PricingResult, PricingRules

__all__ = ["DRAFT_NUMBER", "DraftError", "Seller", "draft_invoice"]

DRAFT_NUMBER = "DRAFT"
ZERO = Decimal(0)


class DraftError(HubError):
    """A shipment that cannot become an invoice; the message says which line and why."""


def _prorate(amount: Decimal, part: Decimal, whole: Decimal, currency: str) -> Decimal:
    if not amount or whole <= 0:
        return ZERO
    return money.round_money(amount * part / whole, currency)


def _first_invoice(already: Mapping[str, Decimal]) -> bool:
    return not any(quantity > 0 for quantity in already.values())


def draft_invoice(
    order: Order,
    shipment: Shipment,
    *,
    seller: Seller,
    issue_date: date,
    already_invoiced: Mapping[str, Decimal] | None = None,
    pricing: PricingRules | None = None,
    tax: TaxConfig | None = None,
    rates: ExchangeRates | None = None,
    buyer_terms: PaymentTerms | None = None,
    invoiced_parts: Mapping[str, Sequence[Decimal]] | None = None,
) -> Invoice:
    """The invoice ``shipment`` produces (see the module docstring). ``invoiced_parts``:
    per order line, the quantity of each earlier invoice (for the shop's VAT shares)."""
    if shipment.order_number != order.order_number:
        raise DraftError(
            f"shipment {shipment.shipment_number} is for order {shipment.order_number}, "
            f"not {order.order_number}"
        )
    already = dict(already_invoiced or {})
    currency = order.currency
    by_id = {line.line_id: line for line in order.lines}
    shipped: list[tuple[OrderLine, Decimal]] = []
    for item in shipment.lines:
        line = by_id.get(item.order_line_id)
        if line is None:
            raise DraftError(
                f"shipment {shipment.shipment_number}: order {order.order_number} has no line "
                f"{item.order_line_id!r} ({item.sku})"
            )
        left = line.quantity - already.get(line.line_id, ZERO)
        if item.quantity > left:
            raise DraftError(
                f"shipment {shipment.shipment_number}: line {line.line_id} ({line.sku}) ships "
                f"{item.quantity} but only {left} of {line.quantity} is left to invoice"
            )
        shipped.append((line, item.quantity))

    priced = _price(order, shipped, pricing, issue_date)
    ship_to = shipment.ship_to or order.shipping_address or order.billing_address
    exemption: dict[TaxCategory, str] = {}
    lines: list[InvoiceLine] = []
    for number, (line, quantity) in enumerate(shipped, start=1):
        category, rate = line.tax_category, line.tax_rate
        if tax is not None:
            decision = determine(
                tax,
                ship_to_country=ship_to.country,
                buyer_vat_id=order.buyer.tax_id,
                tax_class=line.product_type or "standard",
            )
            category, rate = decision.category, decision.rate if decision.rate is not None else ZERO
            if decision.exemption_reason:
                exemption[category] = decision.exemption_reason
        allowances: list[AllowanceCharge] = []
        if priced is None:
            earlier = _earlier(line.line_id, already, invoiced_parts)
            discount = _share(line.discount_amount, quantity, line.quantity, earlier, currency)
            if discount:
                reason = line.discount_reason or "Discount"
                allowances.append(AllowanceCharge(amount=discount, reason=reason))
        invoice_line = InvoiceLine(
            line_id=str(number),
            order_line_id=line.line_id,
            sku=line.sku,
            name=line.name or line.sku,
            quantity=quantity,
            unit=line.unit,
            unit_price=line.unit_price,
            allowances=allowances,
            tax_category=category,
            tax_rate=rate,
        )
        if priced is not None:  # the rules' price, allowances, charges and their trace
            invoice_line = priced.lines[number - 1].apply_to(invoice_line)
        lines.append(invoice_line)

    document_charges = _order_charges(order) if _first_invoice(already) else []
    document_allowances: list[AllowanceCharge] = []
    if priced is not None:
        for priced_allowance in priced.allowances:
            document_allowances += _spread(
                priced_allowance.amount, priced_allowance.reason, lines, currency
            )
        for priced_charge in priced.charges:
            document_charges += _spread(priced_charge.amount, priced_charge.reason, lines, currency)

    terms = buyer_terms or parse_terms(seller.payment_terms)
    accounting = seller.accounting_currency
    rate_value = rate_day = None
    if accounting and accounting != currency:
        if rates is None:
            raise DraftError(
                f"order {order.order_number} is in {currency} and the books in {accounting}: "
                "configure an ECB rates file (invoicing.rates_file)"
            )
        found = rates.rate(accounting, currency, issue_date)
        rate_value, rate_day = found.value, found.day
    draft = Invoice(
        invoice_number=DRAFT_NUMBER,
        issue_date=issue_date,
        tax_point_date=shipment.shipped_at.date(),
        currency=currency,
        accounting_currency=accounting if rate_value is not None else None,
        exchange_rate=rate_value,
        exchange_rate_date=rate_day,
        buyer_reference=order.buyer_reference or order.order_number,
        order_reference=order.order_number,
        seller=PartyRef(
            name=seller.contact or seller.name,
            company=seller.name,
            tax_id=seller.tax_id,
            email=seller.email,
            phone=seller.phone,
        ),
        seller_address=seller.address,
        buyer=order.buyer,
        buyer_address=order.billing_address,
        delivery_address=ship_to,
        payment_terms=terms,
        lines=lines,
        allowances=document_allowances,
        charges=document_charges,
        exemption_reasons=exemption,
    )
    if tax is None and priced is None:
        charged = _charged_tax(draft, shipped, document_charges, order, already, invoiced_parts)
        if charged:
            draft = draft.model_copy(update={"charged_tax": charged})
    plan = schedule(terms, issue_date, draft.totals.payable_amount, currency)
    return draft.model_copy(
        update={
            "due_date": plan.due_date,
            "payment_terms": terms.model_copy(update={"description": plan.text}),
        }
    )


def _earlier(
    line_id: str,
    already: Mapping[str, Decimal],
    invoiced_parts: Mapping[str, Sequence[Decimal]] | None,
) -> list[Decimal]:
    """The quantities earlier invoices billed of a line (one lump when unknown)."""
    if invoiced_parts is not None:
        return list(invoiced_parts.get(line_id, ()))
    done = already.get(line_id, ZERO)
    return [done] if done > 0 else []


def _share(
    amount: Decimal,
    quantity: Decimal,
    ordered: Decimal,
    earlier: Sequence[Decimal],
    currency: str,
) -> Decimal:
    """This invoice's share of a row's amount (discount, VAT): pro rata, rounded, the row's
    last invoice taking what the earlier shares left, so a row's invoices add up to it
    exactly (as the shop's own invoices do)."""
    if sum(earlier, ZERO) + quantity >= ordered:
        return amount - sum((_prorate(amount, part, ordered, currency) for part in earlier), ZERO)
    return _prorate(amount, quantity, ordered, currency)


def _charged_tax(
    draft: Invoice,
    shipped: list[tuple[OrderLine, Decimal]],
    charges: list[AllowanceCharge],
    order: Order,
    already: Mapping[str, Decimal],
    invoiced_parts: Mapping[str, Sequence[Decimal]] | None,
) -> list[ChargedTax]:
    """The VAT the shop charged on what this invoice bills, per category and rate, where
    it is within rounding of taxable × rate (other groups are computed)."""
    currency = draft.currency
    charged: dict[tuple[TaxCategory, Decimal], Decimal] = defaultdict(lambda: ZERO)
    for line, quantity in shipped:
        earlier = _earlier(line.line_id, already, invoiced_parts)
        share = _share(line.tax_amount, quantity, line.quantity, earlier, currency)
        charged[(line.tax_category, line.tax_rate)] += share
    if charges:  # the order's first invoice carries its shipping and surcharges whole
        if (
            order.shipping is not None
            and order.shipping.amount - order.shipping.discount_amount > 0
        ):
            key = (order.shipping.tax_category, order.shipping.tax_rate)
            charged[key] += order.shipping.tax_amount
        for charge in order.charges:
            if charge.amount > 0:
                charged[(charge.tax_category, charge.tax_rate)] += charge.tax_amount
    found = []
    for (category, rate), (taxable, count) in sorted(draft.vat_groups().items()):
        amount = charged.get((category, rate))
        if amount is None or amount < 0:
            continue
        computed = money.percent_of(taxable, rate, currency)
        if amount != computed and abs(amount - computed) <= charged_tax_tolerance(currency, count):
            found.append(ChargedTax(category=category, rate=rate, amount=amount))
    return found


def _price(
    order: Order,
    shipped: list[tuple[OrderLine, Decimal]],
    pricing: PricingRules | None,
    issue_date: date,
) -> PricingResult | None:
    if pricing is None:
        return None
    from hub.invoicing.pricing import PricingLine, PricingRequest

    request = PricingRequest(
        customer=next(iter(order.buyer.external_ids.values()), None),
        customer_group=order.buyer.customer_group,
        order_date=order.order_date.date() if order.order_date else issue_date,
        currency=order.currency,
        lines=tuple(
            PricingLine(
                line_id=line.line_id,
                sku=line.sku,
                quantity=quantity,
                unit_price=line.unit_price,
                unit=line.unit,
                name=line.name,
            )
            for line, quantity in shipped
        ),
    )
    return pricing.price(request)


def _order_charges(order: Order) -> list[AllowanceCharge]:
    found: list[AllowanceCharge] = []
    if order.shipping is not None:
        net = order.shipping.amount - order.shipping.discount_amount
        if net > 0:
            found.append(
                AllowanceCharge(
                    amount=net,
                    reason=order.shipping.description or "Shipping",
                    reason_code="FC",  # UNTDID 7161: freight service
                    tax_category=order.shipping.tax_category,
                    tax_rate=order.shipping.tax_rate,
                )
            )
    for charge in order.charges:
        if charge.amount > 0:
            found.append(
                AllowanceCharge(
                    amount=charge.amount,
                    reason=charge.reason or charge.code or "Surcharge",
                    tax_category=charge.tax_category,
                    tax_rate=charge.tax_rate,
                )
            )
    return found


def _spread(
    amount: Decimal, reason: str, lines: list[InvoiceLine], currency: str
) -> list[AllowanceCharge]:
    """One document allowance/charge per VAT group, in proportion to the groups' net."""
    groups: dict[tuple[TaxCategory, Decimal], Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        groups[(line.tax_category, line.tax_rate)] += line.net_amount_in(currency)
    keys = sorted(groups)
    weights = [max(groups[k], ZERO) for k in keys]
    if not any(weights):
        weights = [Decimal(1)] * len(keys)
    shares = money.allocate(amount, weights, currency)
    return [
        AllowanceCharge(amount=share, reason=reason, tax_category=category, tax_rate=rate)
        for (category, rate), share in zip(keys, shares, strict=True)
        if share
    ]
