"""A readable PDF of the invoice with its CII XML embedded as Factur-X (profile EN 16931).

The visual part is drawn with ReportLab's platypus: seller, buyer and delivery blocks,
the document's dates and invoicing period, the lines (with their allowances, charges and
periods), document allowances and charges, the VAT breakdown and the totals, all taken
from the canonical invoice, so they agree to the cent with the embedded XML. Numbers,
amounts, percentages and dates are formatted for the locale with Babel (CLDR), with
exactly the currency's ISO 4217 minor unit; labels are in English, German or French after
the locale's language (English otherwise).

Then :func:`facturx.generate_from_binary` embeds the XML (``factur-x.xml``,
AFRelationship ``Data``), writes the PDF/A-3 XMP metadata and checks the XML against the
Factur-X EN 16931 XSD. Towards PDF/A-3 the visual PDF embeds its only font (Bitstream
Vera, which ReportLab ships; no standard-14 font is referenced) and carries an sRGB output
intent (ICC profile made by Pillow's LittleCMS). Conformance is not verified here.

The font covers Western European Latin: a letter it lacks is printed as its base letter
(ő → o, ș → s), any other character as "?", and a currency symbol it lacks is replaced by
the ISO code. The embedded XML keeps every character.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Final
from xml.sax.saxutils import escape

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent, parse_pattern

from hub import money
from hub.canonical.common import Address, PartyRef, TaxCategory
from hub.canonical.invoice import AllowanceCharge, Invoice, InvoiceTypeCode
from hub.einvoice.cii import (
    CiiOptions,
    due_date,
    party_name,
    payment_terms_text,
    render_cii,
    vat_prefixed,
)
from hub.errors import HubError

__all__ = ["FacturxError", "Formatter", "pdf_text", "render_pdf", "render_visual_pdf"]

FONT: Final[str] = "O2CHubSans"
FONT_BOLD: Final[str] = "O2CHubSans-Bold"


class FacturxError(HubError):
    """The Factur-X PDF could not be produced (the message says why)."""

    status = 422


# --- labels ---------------------------------------------------------------------------

_LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "380": "Invoice",
        "381": "Credit note",
        "384": "Corrected invoice",
        "386": "Prepayment invoice",
        "number": "Number",
        "issue_date": "Issue date",
        "due_date": "Due date",
        "tax_point_date": "VAT point date",
        "delivery_date": "Delivery date",
        "invoicing_period": "Invoicing period",
        "line_period": "Period",
        "period_range": "{start} – {end}",
        "period_from": "from {start}",
        "period_until": "until {end}",
        "order_reference": "Order",
        "buyer_reference": "Buyer reference",
        "preceding": "Corrects invoice",
        "currency": "Currency",
        "seller": "Seller",
        "buyer": "Buyer",
        "deliver_to": "Deliver to",
        "vat_id": "VAT ID",
        "tax_number": "Tax number",
        "pos": "#",
        "item": "Item",
        "quantity": "Quantity",
        "unit_price": "Unit price",
        "vat": "VAT",
        "net_amount": "Net amount",
        "per": "per",
        "allowance": "Allowance",
        "charge": "Charge",
        "document_allowances": "Allowances and charges on the invoice",
        "vat_breakdown": "VAT breakdown",
        "category": "Category",
        "rate": "Rate",
        "taxable": "Taxable amount",
        "tax_amount": "VAT amount",
        "reason": "Exemption reason",
        "line_net_total": "Sum of line net amounts",
        "allowance_total": "Allowances",
        "charge_total": "Charges",
        "tax_exclusive_total": "Total without VAT",
        "tax_total": "VAT",
        "tax_total_accounting": "VAT in {currency}",
        "tax_inclusive_total": "Total with VAT",
        "paid_amount": "Paid",
        "rounding_amount": "Rounding",
        "payable_amount": "Amount due",
        "payment_terms": "Payment terms",
        "terms_net": "Net {days} days, due {due}",
        "terms_discount": "{percent} discount ({amount}) if paid by {date}",
        "notes": "Notes",
        "page": "Page {page}",
        "S": "Standard rate",
        "Z": "Zero rated",
        "E": "Exempt",
        "AE": "Reverse charge",
        "K": "Intra-community supply",
        "G": "Export outside the EU",
        "O": "Not subject to VAT",
        "L": "IGIC (Canary Islands)",
        "M": "IPSI (Ceuta and Melilla)",
    },
    "de": {
        "380": "Rechnung",
        "381": "Gutschrift",
        "384": "Rechnungskorrektur",
        "386": "Vorauszahlungsrechnung",
        "number": "Nummer",
        "issue_date": "Rechnungsdatum",
        "due_date": "Fällig am",
        "tax_point_date": "Steuerzeitpunkt",
        "delivery_date": "Lieferdatum",
        "invoicing_period": "Abrechnungszeitraum",
        "line_period": "Zeitraum",
        "period_range": "{start} – {end}",
        "period_from": "ab {start}",
        "period_until": "bis {end}",
        "order_reference": "Bestellung",
        "buyer_reference": "Käuferreferenz",
        "preceding": "Korrektur zu Rechnung",
        "currency": "Währung",
        "seller": "Verkäufer",
        "buyer": "Käufer",
        "deliver_to": "Lieferanschrift",
        "vat_id": "USt-IdNr.",
        "tax_number": "Steuernummer",
        "pos": "Pos.",
        "item": "Artikel",
        "quantity": "Menge",
        "unit_price": "Einzelpreis",
        "vat": "USt.",
        "net_amount": "Nettobetrag",
        "per": "je",
        "allowance": "Abschlag",
        "charge": "Zuschlag",
        "document_allowances": "Abschläge und Zuschläge auf die Rechnung",
        "vat_breakdown": "Umsatzsteuer",
        "category": "Kategorie",
        "rate": "Satz",
        "taxable": "Bemessungsgrundlage",
        "tax_amount": "Steuerbetrag",
        "reason": "Befreiungsgrund",
        "line_net_total": "Summe der Positionen",
        "allowance_total": "Abschläge",
        "charge_total": "Zuschläge",
        "tax_exclusive_total": "Gesamtbetrag netto",
        "tax_total": "Umsatzsteuer",
        "tax_total_accounting": "Umsatzsteuer in {currency}",
        "tax_inclusive_total": "Gesamtbetrag brutto",
        "paid_amount": "Bereits bezahlt",
        "rounding_amount": "Rundung",
        "payable_amount": "Zahlbetrag",
        "payment_terms": "Zahlungsbedingungen",
        "terms_net": "Zahlbar innerhalb von {days} Tagen ohne Abzug bis {due}",
        "terms_discount": "{percent} Skonto ({amount}) bei Zahlung bis {date}",
        "notes": "Hinweise",
        "page": "Seite {page}",
        "S": "Normalsatz",
        "Z": "Nullsatz",
        "E": "Steuerbefreit",
        "AE": "Steuerschuldnerschaft des Leistungsempfängers",
        "K": "Innergemeinschaftliche Lieferung",
        "G": "Ausfuhr in Drittländer",
        "O": "Nicht steuerbar",
        "L": "IGIC (Kanarische Inseln)",
        "M": "IPSI (Ceuta und Melilla)",
    },
    "fr": {
        "380": "Facture",
        "381": "Avoir",
        "384": "Facture rectificative",
        "386": "Facture d'acompte",
        "number": "Numéro",
        "issue_date": "Date de facture",
        "due_date": "Date d'échéance",
        "tax_point_date": "Date d'exigibilité de la TVA",
        "delivery_date": "Date de livraison",
        "invoicing_period": "Période de facturation",
        "line_period": "Période",
        "period_range": "du {start} au {end}",
        "period_from": "à partir du {start}",
        "period_until": "jusqu'au {end}",
        "order_reference": "Commande",
        "buyer_reference": "Référence acheteur",
        "preceding": "Rectifie la facture",
        "currency": "Devise",
        "seller": "Vendeur",
        "buyer": "Acheteur",
        "deliver_to": "Livrer à",
        "vat_id": "N° TVA",
        "tax_number": "N° fiscal",
        "pos": "N°",
        "item": "Article",
        "quantity": "Quantité",
        "unit_price": "Prix unitaire",
        "vat": "TVA",
        "net_amount": "Montant HT",
        "per": "par",
        "allowance": "Remise",
        "charge": "Frais",
        "document_allowances": "Remises et frais sur la facture",
        "vat_breakdown": "Détail de la TVA",
        "category": "Catégorie",
        "rate": "Taux",
        "taxable": "Base HT",
        "tax_amount": "Montant TVA",
        "reason": "Motif d'exonération",
        "line_net_total": "Total des lignes HT",
        "allowance_total": "Remises",
        "charge_total": "Frais",
        "tax_exclusive_total": "Total HT",
        "tax_total": "TVA",
        "tax_total_accounting": "TVA en {currency}",
        "tax_inclusive_total": "Total TTC",
        "paid_amount": "Déjà payé",
        "rounding_amount": "Arrondi",
        "payable_amount": "Net à payer",
        "payment_terms": "Conditions de paiement",
        "terms_net": "Paiement à {days} jours, échéance le {due}",
        "terms_discount": "Escompte de {percent} ({amount}) en cas de paiement avant le {date}",
        "notes": "Remarques",
        "page": "Page {page}",
        "S": "Taux normal",
        "Z": "Taux zéro",
        "E": "Exonéré",
        "AE": "Autoliquidation",
        "K": "Livraison intracommunautaire",
        "G": "Exportation hors UE",
        "O": "Hors champ de la TVA",
        "L": "IGIC (Îles Canaries)",
        "M": "IPSI (Ceuta et Melilla)",
    },
}


# --- fonts ----------------------------------------------------------------------------


@cache
def _fonts() -> frozenset[int]:
    """Register the embedded font family once; the code points it can draw."""
    import reportlab
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = Path(reportlab.__file__).resolve().parent / "fonts"
    regular = TTFont(FONT, str(folder / "Vera.ttf"))
    pdfmetrics.registerFont(regular)
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(folder / "VeraBd.ttf")))
    for bold, italic in ((0, 0), (0, 1)):
        addMapping(FONT, bold, italic, FONT)
    for bold, italic in ((1, 0), (1, 1)):
        addMapping(FONT, bold, italic, FONT_BOLD)
    return frozenset(regular.face.charToGlyph)


_SPACES: Final[dict[int, str | None]] = {
    0x202F: "\u00a0",  # narrow no-break space (French, Swiss grouping)
    0x2009: " ",
    0x200E: None,  # bidi marks: the layout is left to right anyway
    0x200F: None,
    0x061C: None,
}


def _fallback(char: str, glyphs: frozenset[int]) -> str:
    """A character the font lacks: its base letter (ő → o, ș → s), else "?"."""
    base = "".join(
        c
        for c in unicodedata.normalize("NFKD", char)
        if ord(c) in glyphs and not unicodedata.combining(c)
    )
    return base or "?"


def _printable(text: str) -> str:
    glyphs = _fonts()
    text = text.translate(_SPACES)
    return "".join(c if ord(c) in glyphs or c in "\n\t" else _fallback(c, glyphs) for c in text)


def _can_print(text: str) -> bool:
    glyphs = _fonts()
    return all(ord(c) in glyphs for c in text.translate(_SPACES))


# --- formatting -----------------------------------------------------------------------


@dataclass(frozen=True)
class Formatter:
    """Locale-aware numbers, amounts and dates (Babel/CLDR), exact to the minor unit."""

    locale: Locale

    @classmethod
    def for_locale(cls, name: str) -> Formatter:
        try:
            return cls(Locale.parse(name.replace("-", "_")))
        except (ValueError, TypeError, UnknownLocaleError) as exc:
            raise FacturxError(f"unknown locale {name!r}") from exc

    @property
    def labels(self) -> dict[str, str]:
        return _LABELS.get(self.locale.language, _LABELS["en"])

    def money(self, amount: Decimal, currency: str) -> str:
        """``amount`` with the currency's ISO 4217 minor unit, or more decimals when it has
        them (a unit price, BT-146): never rounded."""
        places = money.minor_units(currency)
        if amount == 0:
            amount = abs(amount)  # never "-0.00"
        exponent = amount.normalize().as_tuple().exponent
        shown = max(places, -exponent if isinstance(exponent, int) else 0)
        standard = self.locale.currency_formats["standard"].pattern
        for pattern_text in (standard, standard.replace("¤", "¤¤")):
            pattern = parse_pattern(pattern_text)
            pattern.frac_prec = (places, shown)
            text: str = pattern.apply(amount, self.locale, currency=currency, currency_digits=False)
            if _can_print(text):
                return _printable(text)
        return _printable(text)

    def number(self, value: Decimal) -> str:
        return _printable(format_decimal(value, locale=self.locale, decimal_quantization=False))

    def percent(self, rate: Decimal) -> str:
        text = format_percent(rate / 100, locale=self.locale, decimal_quantization=False)
        return _printable(text)

    def date(self, value: date) -> str:
        return _printable(format_date(value, format="medium", locale=self.locale))

    def country(self, code: str) -> str:
        name = self.locale.territories.get(code, code)
        return _printable(name) if _can_print(name) else code


# --- the visual PDF -------------------------------------------------------------------


def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle

    _fonts()
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=11.5)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10),
        "right": ParagraphStyle("right", parent=base, alignment=2),
        "bold": ParagraphStyle("bold", parent=base, fontName=FONT_BOLD),
        "bold_right": ParagraphStyle("bold_right", parent=base, fontName=FONT_BOLD, alignment=2),
        "title": ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=18, leading=22),
        "heading": ParagraphStyle(
            "heading", parent=base, fontName=FONT_BOLD, fontSize=10.5, leading=13, spaceBefore=8
        ),
    }


def _text(value: str) -> str:
    """Escaped for a platypus Paragraph, with line breaks kept."""
    return escape(_printable(value)).replace("\n", "<br/>")


def _party_block(
    fmt: Formatter,
    heading: str,
    *,
    name: str | None,
    address: Address,
    party: PartyRef | None = None,
) -> str:
    labels = fmt.labels
    rows = [f"<b>{_text(heading)}</b>"]
    if name:
        rows.append(_text(name))
    if address.name and address.name != name:
        rows.append(_text(address.name))
    rows.extend(_text(line) for line in address.lines if line)
    rows.append(_text(" ".join(p for p in (address.postal_code, address.city) if p)))
    if address.region:
        rows.append(_text(address.region))
    rows.append(_text(fmt.country(address.country)))
    if party is not None:
        if party.tax_id:
            label = labels["vat_id" if vat_prefixed(party.tax_id) else "tax_number"]
            rows.append(_text(f"{label}: {party.tax_id}"))
        if party.email:
            rows.append(_text(party.email))
        if party.phone:
            rows.append(_text(party.phone))
    return "<br/>".join(rows)


def _allowance_text(fmt: Formatter, item: AllowanceCharge, *, charge: bool) -> str:
    kind = fmt.labels["charge" if charge else "allowance"]
    reason = item.reason or item.reason_code
    return f"{kind}: {reason}" if reason else kind


def _category(fmt: Formatter, category: TaxCategory, rate: Decimal) -> str:
    if category is TaxCategory.OUTSIDE_SCOPE:
        return category.value
    return f"{category.value} {fmt.percent(rate)}"


def _period_text(fmt: Formatter, start: date | None, end: date | None) -> str | None:
    """BG-14 / BG-26 for a reader: both dates, or the one given, localised."""
    labels = fmt.labels
    if start is not None and end is not None:
        return labels["period_range"].format(start=fmt.date(start), end=fmt.date(end))
    if start is not None:
        return labels["period_from"].format(start=fmt.date(start))
    if end is not None:
        return labels["period_until"].format(end=fmt.date(end))
    return None


def _terms_text(fmt: Formatter, invoice: Invoice) -> str | None:
    """BT-20 for a reader: the terms' own text, else net days and discount, localised."""
    terms = invoice.payment_terms
    if terms is None or terms.description or terms.net_days is None:
        return payment_terms_text(invoice)
    from hub.invoicing.terms import schedule

    cur = invoice.currency
    planned = schedule(terms, invoice.issue_date, invoice.totals.payable_amount, cur)
    due = due_date(invoice) or planned.due_date
    text = fmt.labels["terms_net"].format(days=terms.net_days, due=fmt.date(due))
    if planned.discount_date is not None and terms.discount_percent:
        discount = fmt.labels["terms_discount"].format(
            percent=fmt.percent(terms.discount_percent),
            amount=fmt.money(planned.discount_amount, cur),
            date=fmt.date(planned.discount_date),
        )
        text = f"{discount}; {text}"
    return text


def render_visual_pdf(
    invoice: Invoice, *, locale: str = "en_GB", options: CiiOptions | None = None
) -> bytes:
    """The human-readable PDF of the invoice, without the embedded XML."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        KeepTogether,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    options = options or CiiOptions()
    fmt = Formatter.for_locale(locale)
    labels = fmt.labels
    styles = _styles()
    cur = invoice.currency
    totals = invoice.totals
    title = labels.get(invoice.type_code.value, labels["380"])

    def para(text: str, style: str = "base") -> Any:
        return Paragraph(text, styles[style])

    def amount(value: Decimal) -> str:
        return _text(fmt.money(value, cur))

    width = A4[0] - 36 * mm
    grid = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), FONT),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
            ("LINEBELOW", (0, -1), (-1, -1), 0.3, colors.grey),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
    )
    story: list[Any] = []

    # seller / buyer / delivery
    story.append(para(_text(f"{title} {invoice.invoice_number}"), "title"))
    story.append(Spacer(1, 4 * mm))
    seller = _party_block(
        fmt,
        labels["seller"],
        name=party_name(invoice.seller, invoice.seller_address),
        address=invoice.seller_address,
        party=invoice.seller,
    )
    buyer = _party_block(
        fmt,
        labels["buyer"],
        name=party_name(invoice.buyer, invoice.buyer_address),
        address=invoice.buyer_address,
        party=invoice.buyer,
    )
    blocks = [para(seller), para(buyer)]
    if invoice.delivery_address is not None:
        delivery = invoice.delivery_address
        blocks.append(
            para(_party_block(fmt, labels["deliver_to"], name=delivery.company, address=delivery))
        )
    story.append(Table([blocks], colWidths=[width / len(blocks)] * len(blocks), style=grid))
    story.append(Spacer(1, 4 * mm))

    # document facts
    facts: list[tuple[str, str]] = [
        (labels["number"], invoice.invoice_number),
        (labels["issue_date"], fmt.date(invoice.issue_date)),
    ]
    due = due_date(invoice)
    if due is not None:
        facts.append((labels["due_date"], fmt.date(due)))
    if invoice.tax_point_date is not None:
        facts.append((labels["tax_point_date"], fmt.date(invoice.tax_point_date)))
    if options.delivery_date is not None:
        facts.append((labels["delivery_date"], fmt.date(options.delivery_date)))
    period = _period_text(fmt, invoice.invoicing_period_start, invoice.invoicing_period_end)
    if period:
        facts.append((labels["invoicing_period"], period))
    if invoice.order_reference:
        facts.append((labels["order_reference"], invoice.order_reference))
    if invoice.buyer_reference:
        facts.append((labels["buyer_reference"], invoice.buyer_reference))
    if invoice.preceding_invoice:
        preceding = invoice.preceding_invoice
        if invoice.preceding_invoice_date is not None:
            preceding += f" ({fmt.date(invoice.preceding_invoice_date)})"
        facts.append((labels["preceding"], preceding))
    facts.append((labels["currency"], cur))
    story.append(
        Table(
            [[para(_text(k), "bold"), para(_text(v))] for k, v in facts],
            colWidths=[45 * mm, width - 45 * mm],
            style=TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), FONT),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("TOPPADDING", (0, 0), (-1, -1), 0),
                ]
            ),
            hAlign="LEFT",
        )
    )
    story.append(Spacer(1, 5 * mm))

    # lines
    columns = [12 * mm, width - 112 * mm, 22 * mm, 26 * mm, 22 * mm, 30 * mm]
    rows: list[list[Any]] = [
        [
            para(_text(labels["pos"]), "bold"),
            para(_text(labels["item"]), "bold"),
            para(_text(labels["quantity"]), "bold_right"),
            para(_text(labels["unit_price"]), "bold_right"),
            para(_text(labels["vat"]), "bold_right"),
            para(_text(labels["net_amount"]), "bold_right"),
        ]
    ]
    for line in invoice.lines:
        quantity = fmt.number(line.quantity)
        if line.unit != "C62":
            quantity += f" {line.unit}"
        price = fmt.money(line.unit_price, cur)
        if line.base_quantity != 1:
            price += f" {labels['per']} {fmt.number(line.base_quantity)}"
        item = f"{_text(line.name)}<br/><font size=7>{_text(line.sku)}</font>"
        line_period = _period_text(fmt, line.period_start, line.period_end)
        if line_period:
            item += f"<br/>{_text(labels['line_period'])}: {_text(line_period)}"
        for allowance in line.allowances:
            label = _allowance_text(fmt, allowance, charge=False)
            item += f"<br/>{_text(label)}: −{amount(allowance.amount)}"
        for charge in line.charges:
            label = _allowance_text(fmt, charge, charge=True)
            item += f"<br/>{_text(label)}: +{amount(charge.amount)}"
        rows.append(
            [
                para(_text(line.line_id)),
                para(item),
                para(_text(quantity), "right"),
                para(_text(price), "right"),
                para(_text(_category(fmt, line.tax_category, line.tax_rate)), "right"),
                para(amount(line.net_amount_in(cur)), "right"),
            ]
        )
    story.append(Table(rows, colWidths=columns, repeatRows=1, style=grid))

    # document-level allowances and charges
    if invoice.allowances or invoice.charges:
        story.append(para(_text(labels["document_allowances"]), "heading"))
        rows = []
        for items, is_charge in ((invoice.allowances, False), (invoice.charges, True)):
            for entry in items:
                sign = "+" if is_charge else "−"
                rows.append(
                    [
                        para(_text(_allowance_text(fmt, entry, charge=is_charge))),
                        para(_text(_category(fmt, entry.tax_category, entry.tax_rate)), "right"),
                        para(sign + amount(entry.amount), "right"),
                    ]
                )
        story.append(
            Table(
                rows,
                colWidths=[width - 52 * mm, 22 * mm, 30 * mm],
                style=TableStyle(
                    [
                        ("FONTNAME", (0, 0), (-1, -1), FONT),
                        ("LINEBELOW", (0, -1), (-1, -1), 0.3, colors.grey),
                    ]
                ),
            )
        )

    # VAT breakdown
    vat_rows: list[list[Any]] = [
        [
            para(_text(labels["category"]), "bold"),
            para(_text(labels["rate"]), "bold_right"),
            para(_text(labels["taxable"]), "bold_right"),
            para(_text(labels["tax_amount"]), "bold_right"),
            para(_text(labels["reason"]), "bold"),
        ]
    ]
    for vat in invoice.vat_breakdown:
        category = f"{vat.category.value} – {labels.get(vat.category.value, '')}"
        rate = "" if vat.category is TaxCategory.OUTSIDE_SCOPE else fmt.percent(vat.rate)
        vat_rows.append(
            [
                para(_text(category)),
                para(_text(rate), "right"),
                para(amount(vat.taxable_amount), "right"),
                para(amount(vat.tax_amount), "right"),
                para(_text(vat.exemption_reason or ""), "small"),
            ]
        )
    story.append(
        KeepTogether(
            [
                para(_text(labels["vat_breakdown"]), "heading"),
                Table(
                    vat_rows,
                    colWidths=[44 * mm, 16 * mm, 38 * mm, 28 * mm, width - 126 * mm],
                    style=grid,
                ),
            ]
        )
    )
    story.append(Spacer(1, 4 * mm))

    # totals
    total_rows: list[tuple[str, str, bool]] = [
        (labels["line_net_total"], fmt.money(totals.line_net_total, cur), False)
    ]
    if invoice.allowances:
        total_rows.append(
            (labels["allowance_total"], "−" + fmt.money(totals.allowance_total, cur), False)
        )
    if invoice.charges:
        total_rows.append(
            (labels["charge_total"], "+" + fmt.money(totals.charge_total, cur), False)
        )
    total_rows.append(
        (labels["tax_exclusive_total"], fmt.money(totals.tax_exclusive_total, cur), False)
    )
    total_rows.append((labels["tax_total"], fmt.money(totals.tax_total, cur), False))
    if totals.tax_total_accounting is not None and invoice.accounting_currency:
        accounting = invoice.accounting_currency
        total_rows.append(
            (
                labels["tax_total_accounting"].format(currency=accounting),
                fmt.money(totals.tax_total_accounting, accounting),
                False,
            )
        )
    total_rows.append(
        (labels["tax_inclusive_total"], fmt.money(totals.tax_inclusive_total, cur), True)
    )
    if totals.paid_amount:
        total_rows.append((labels["paid_amount"], fmt.money(totals.paid_amount, cur), False))
    if totals.rounding_amount:
        total_rows.append(
            (labels["rounding_amount"], fmt.money(totals.rounding_amount, cur), False)
        )
    total_rows.append((labels["payable_amount"], fmt.money(totals.payable_amount, cur), True))
    story.append(
        KeepTogether(
            Table(
                [
                    [
                        para(_text(label), "bold" if strong else "base"),
                        para(_text(value), "bold_right" if strong else "right"),
                    ]
                    for label, value, strong in total_rows
                ],
                colWidths=[60 * mm, 40 * mm],
                hAlign="RIGHT",
                style=TableStyle(
                    [
                        ("FONTNAME", (0, 0), (-1, -1), FONT),
                        ("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.black),
                        ("TOPPADDING", (0, 0), (-1, -1), 1),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                    ]
                ),
            )
        )
    )

    # terms and notes
    terms = _terms_text(fmt, invoice)
    if terms:
        story.append(para(_text(labels["payment_terms"]), "heading"))
        story.append(para(_text(terms)))
    if invoice.notes:
        story.append(para(_text(labels["notes"]), "heading"))
        story.extend(para(_text(note)) for note in invoice.notes if note)

    footer = f"{title} {invoice.invoice_number}"

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(colors.grey)
        page = labels["page"].format(page=doc.page)
        canvas.drawString(18 * mm, 10 * mm, _printable(footer))
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, _printable(page))
        canvas.restoreState()

    buffer = io.BytesIO()
    seller_name = party_name(invoice.seller, invoice.seller_address) or ""
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"{title} {invoice.invoice_number}",
        author=seller_name,
        subject=f"{title} {invoice.invoice_number}",
        creator="O2C Hub",
        producer="O2C Hub",
        lang=str(fmt.locale).replace("_", "-"),
        invariant=1,
        initialFontName=FONT,
        initialFontSize=9,
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


# --- Factur-X -------------------------------------------------------------------------


@cache
def _srgb_profile() -> bytes:
    from PIL import ImageCms

    profile: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return profile


def _with_output_intent(pdf: bytes) -> bytes:
    """Add an sRGB PDF/A output intent, as PDF/A requires for device colours."""
    from pypdf import PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
        NumberObject,
        TextStringObject,
    )

    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    icc = DecodedStreamObject()
    icc.set_data(_srgb_profile())
    icc[NameObject("/N")] = NumberObject(3)
    intent = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/OutputIntent"),
            NameObject("/S"): NameObject("/GTS_PDFA1"),
            NameObject("/OutputConditionIdentifier"): TextStringObject("sRGB IEC61966-2.1"),
            NameObject("/Info"): TextStringObject("sRGB IEC61966-2.1"),
            NameObject("/DestOutputProfile"): writer._add_object(icc.flate_encode()),
        }
    )
    writer.root_object[NameObject("/OutputIntents")] = ArrayObject([writer._add_object(intent)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def render_pdf(
    invoice: Invoice, *, locale: str = "en_GB", options: CiiOptions | None = None
) -> bytes:
    """The invoice as a Factur-X PDF (profile EN 16931): readable PDF, CII XML inside.

    Raises :class:`~hub.einvoice.cii.CiiDataError` when the invoice lacks EN 16931 data
    and :class:`FacturxError` when ``factur-x`` refuses the XML or the PDF.
    """
    import facturx

    xml = render_cii(invoice, options=options)
    visual = _with_output_intent(render_visual_pdf(invoice, locale=locale, options=options))
    fmt = Formatter.for_locale(locale)
    title = fmt.labels.get(invoice.type_code.value, fmt.labels["380"])
    seller = party_name(invoice.seller, invoice.seller_address) or ""
    metadata = {
        "author": seller,
        "keywords": "Factur-X, EN 16931, " + ("Credit note" if _is_credit(invoice) else "Invoice"),
        "title": f"{seller}: {title} {invoice.invoice_number}",
        "subject": f"{title} {invoice.invoice_number} ({invoice.issue_date.isoformat()})",
    }
    try:
        result: bytes = facturx.generate_from_binary(
            visual,
            xml,
            flavor="factur-x",
            level="en16931",
            check_xsd=True,
            pdf_metadata=metadata,
            lang=str(fmt.locale).replace("_", "-"),
        )
    except Exception as exc:
        raise FacturxError(f"factur-x refused invoice {invoice.invoice_number}: {exc}") from exc
    return result


def _is_credit(invoice: Invoice) -> bool:
    return invoice.type_code is InvoiceTypeCode.CREDIT_NOTE


def pdf_text(pdf: bytes) -> str:
    """The PDF's text, page after page, with no-break spaces made plain (for tests)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    pages: Sequence[str] = [page.extract_text() or "" for page in reader.pages]
    return "\n".join(pages).replace("\u00a0", " ").replace("\u202f", " ")
