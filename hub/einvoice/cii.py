"""UN/CEFACT Cross Industry Invoice (CII D16B) from the canonical invoice, per EN 16931.

:func:`render_cii` writes ``rsm:CrossIndustryInvoice`` with the elements in the order the
D16B schema prescribes; :func:`validate_cii` checks a document against that schema and
the CEN EN 16931 CII rules (both shipped in ``rules_cii/``, byte-for-byte copies; see
NOTICE). The same XML, with the Factur-X EN 16931 profile, is what
:mod:`hub.einvoice.facturx_pdf` embeds in a PDF: Factur-X's EN 16931 profile is
identified by the EN 16931 specification identifier itself (``urn:cen.eu:en16931:2017``,
as the ``factur-x`` package reads it in ``facturx.get_level``), so one document serves both.

Amounts come from the canonical model (line net amounts, VAT breakdown and totals are
computed there), never recomputed here. What EN 16931 needs that the invoice lacks is
refused before anything is written, with a :class:`CiiDataError` naming the business
terms (BT-n) and the rule; the remaining rules are the official validator's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import pycountry
from lxml import etree  # type: ignore[import-untyped]

from hub import money
from hub.canonical.common import Address, PartyRef, TaxCategory
from hub.canonical.invoice import AllowanceCharge, Invoice, InvoiceLine, VatBreakdown
from hub.einvoice.validation import ValidationReport, validate
from hub.errors import HubError

__all__ = [
    "CII_RULES_DIR",
    "CII_SHA256SUMS",
    "CII_XSD",
    "CII_XSLT",
    "EN16931_GUIDELINE",
    "FACTURX_EN16931_GUIDELINE",
    "CiiDataError",
    "CiiOptions",
    "due_date",
    "payment_terms_text",
    "render_cii",
    "validate_cii",
    "vat_prefixed",
]

CII_RULES_DIR: Final[Path] = Path(__file__).resolve().parent / "rules_cii"
"""The shipped CII artefacts (see NOTICE for source, commit and licence)."""
CII_XSD: Final[Path] = CII_RULES_DIR / "cii-d16b" / "CrossIndustryInvoice_100pD16B.xsd"
"""UN/CEFACT CII D16B, uncoupled code lists (the three imports sit beside it)."""
CII_XSLT: Final[Path] = CII_RULES_DIR / "en16931-1.3.16" / "EN16931-CII-validation.xslt"
"""CEN/TC 434 EN 16931 validation artefacts 1.3.16, CII binding (XSLT 2.0, SVRL)."""
CII_SHA256SUMS: Final[Path] = CII_RULES_DIR / "cii.sha256"
"""``sha256sum -c`` list of the CII artefacts above, relative to :data:`CII_RULES_DIR`."""

EN16931_GUIDELINE: Final[str] = "urn:cen.eu:en16931:2017"
"""BT-24 for a plain EN 16931 invoice."""
FACTURX_EN16931_GUIDELINE: Final[str] = EN16931_GUIDELINE
"""BT-24 of Factur-X / ZUGFeRD 2 profile EN 16931 ("COMFORT"): the same identifier."""

RSM: Final[str] = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM: Final[str] = (
    "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
)
QDT: Final[str] = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT: Final[str] = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
_NSMAP: Final[dict[str, str]] = {"rsm": RSM, "qdt": QDT, "ram": RAM, "udt": UDT}

ZERO = Decimal(0)
_MAX_AMOUNT_DECIMALS = 2  # BR-DEC-*: every EN 16931 amount has at most 2 decimals

# BR-CO-09 accepts ISO 3166-1 alpha-2 plus EL (Greece), XI (Northern Ireland), 1A (Kosovo)
# and AN; its list lacks SS.
_VAT_PREFIXES: Final[frozenset[str]] = frozenset(
    {c.alpha_2 for c in pycountry.countries} | {"EL", "XI", "1A", "AN"}
) - {"SS"}

_ZERO_RATED: Final[frozenset[TaxCategory]] = frozenset(
    {
        TaxCategory.ZERO,
        TaxCategory.EXEMPT,
        TaxCategory.REVERSE_CHARGE,
        TaxCategory.INTRA_COMMUNITY,
        TaxCategory.EXPORT,
    }
)
_NO_EXEMPTION_REASON: Final[frozenset[TaxCategory]] = frozenset(
    {TaxCategory.STANDARD, TaxCategory.ZERO, TaxCategory.CANARY_IGIC, TaxCategory.CEUTA_IPSI}
)
DEFAULT_EXEMPTION_CODES: Final[dict[TaxCategory, str]] = {
    TaxCategory.REVERSE_CHARGE: "VATEX-EU-AE",
    TaxCategory.INTRA_COMMUNITY: "VATEX-EU-IC",
    TaxCategory.EXPORT: "VATEX-EU-G",
    TaxCategory.OUTSIDE_SCOPE: "VATEX-EU-O",
}
"""BT-121 written when the invoice gives no exemption text: these VATEX codes say it all."""

_RULE_SUFFIX: Final[dict[TaxCategory, str]] = {
    TaxCategory.STANDARD: "S",
    TaxCategory.ZERO: "Z",
    TaxCategory.EXEMPT: "E",
    TaxCategory.REVERSE_CHARGE: "AE",
    TaxCategory.INTRA_COMMUNITY: "IC",
    TaxCategory.EXPORT: "G",
    TaxCategory.OUTSIDE_SCOPE: "O",
    TaxCategory.CANARY_IGIC: "AF",
    TaxCategory.CEUTA_IPSI: "AG",
}


class CiiDataError(HubError):
    """The invoice lacks data that EN 16931 requires; the message names the business terms."""

    status = 422

    def __init__(self, problems: Iterable[str], *, terms: Iterable[str] = ()) -> None:
        self.problems = list(problems)
        self.terms = sorted(set(terms))
        super().__init__("cannot render EN 16931 CII: " + "; ".join(self.problems))


@dataclass(frozen=True)
class CiiOptions:
    """What the canonical invoice does not carry but an EN 16931 invoice may need."""

    guideline: str = EN16931_GUIDELINE
    """BT-24 specification identifier."""
    seller_id: str | None = None
    """BT-29 seller identifier; needed when there is no seller VAT id (BR-CO-26)."""
    delivery_date: date | None = None
    """BT-72 actual delivery date; an intra-community supply needs it unless the invoice
    has an invoicing period, BG-14 (BR-IC-11)."""
    endpoint_key: str = "peppol"
    """Key of ``PartyRef.external_ids`` holding the electronic address (BT-34 / BT-49) as
    ``"<EAS scheme>:<id>"``, e.g. ``"0088:4000001123452"`` (as in :mod:`hub.einvoice.ubl`)."""
    legal_id_key: str = "legal"
    """Key of ``PartyRef.external_ids`` holding the legal registration id (BT-30 / BT-47),
    ``"<ICD scheme>:<id>"`` or a bare id."""


# --- values ---------------------------------------------------------------------------


def _plain(value: Decimal) -> str:
    """A decimal in plain notation without trailing zeros (rates, prices, quantities)."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def _date102(value: date) -> str:
    return value.strftime("%Y%m%d")


_PARTICIPANT_PREFIX = "iso6523-actorid-upis::"
_SCHEMED = re.compile(r"^(\d{4}):(.+)$")


@dataclass(frozen=True)
class _Identifier:
    value: str
    scheme: str | None = None


def _identifier(party: PartyRef, key: str, *, needs_scheme: bool) -> _Identifier | None:
    raw = (party.external_ids.get(key) or "").strip().removeprefix(_PARTICIPANT_PREFIX)
    if not raw:
        return None
    match = _SCHEMED.match(raw)
    if match:
        return _Identifier(match.group(2).strip(), match.group(1))
    return None if needs_scheme else _Identifier(raw)


def vat_prefixed(tax_id: str) -> bool:
    """True when ``tax_id`` starts with a country prefix BR-CO-09 accepts (a VAT id)."""
    return tax_id[:2].upper() in _VAT_PREFIXES


def party_name(party: PartyRef, address: Address) -> str | None:
    """BT-27 / BT-44: the registered company name, else the person's, else the address's."""
    return party.company or party.name or address.company or address.name


def due_date(invoice: Invoice) -> date | None:
    """BT-9: the invoice's own due date, else issue date plus the terms' net days."""
    if invoice.due_date is not None:
        return invoice.due_date
    terms = invoice.payment_terms
    if terms is not None and terms.net_days is not None:
        from hub.invoicing.terms import schedule

        gross = invoice.totals.payable_amount
        return schedule(terms, invoice.issue_date, gross, invoice.currency).due_date
    return None


def payment_terms_text(invoice: Invoice) -> str | None:
    """BT-20: the terms' description, else the text of their schedule, else their code."""
    terms = invoice.payment_terms
    if terms is None:
        return None
    if terms.description:
        return terms.description
    if terms.net_days is not None:
        from hub.invoicing.terms import schedule

        gross = invoice.totals.payable_amount
        planned = schedule(terms, invoice.issue_date, gross, invoice.currency)
        if invoice.due_date is None or invoice.due_date == planned.due_date:
            return planned.text
        return f"Net {terms.net_days} days"  # the invoice's own due date (BT-9) prevails
    return f"Payment terms {terms.code}" if terms.code else None


# --- checks before writing ------------------------------------------------------------


@dataclass
class _Plan:
    """What the renderer decided from the invoice and the options, checked."""

    seller_name: str
    buyer_name: str
    seller_vat: str | None
    seller_tax_registration: str | None
    buyer_vat: str | None
    seller_id: _Identifier | None
    seller_global_id: _Identifier | None
    seller_legal: _Identifier | None
    buyer_legal: _Identifier | None
    seller_endpoint: _Identifier | None
    buyer_endpoint: _Identifier | None
    due: date | None
    terms_text: str | None
    breakdown: list[VatBreakdown]


class _Problems:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.terms: list[str] = []

    def add(self, message: str, *terms: str) -> None:
        self.messages.append(message)
        self.terms.extend(terms)

    def raise_any(self) -> None:
        if self.messages:
            raise CiiDataError(self.messages, terms=self.terms)


def _categories(invoice: Invoice) -> set[TaxCategory]:
    found = {line.tax_category for line in invoice.lines}
    found |= {a.tax_category for a in (*invoice.allowances, *invoice.charges)}
    return found


def _check_rate(
    problems: _Problems, category: TaxCategory, rate: Decimal, where: str, term: str
) -> None:
    rule = _RULE_SUFFIX[category]
    if category in (TaxCategory.STANDARD, TaxCategory.CANARY_IGIC) and rate <= 0:
        problems.add(
            f"{where}: {term} VAT rate must be above 0 for category {category.value} "
            f"(BR-{rule}-05)",
            term,
        )
    elif category is TaxCategory.OUTSIDE_SCOPE and rate != 0:
        problems.add(f"{where}: category O has no VAT rate, so {term} must be 0 (BR-O-05)", term)
    elif category in _ZERO_RATED and rate != 0:
        problems.add(
            f"{where}: {term} VAT rate must be 0 for category {category.value} (BR-{rule}-05)",
            term,
        )


def _check_amount(problems: _Problems, amount: Decimal, currency: str, term: str) -> None:
    if amount != amount.quantize(Decimal(1).scaleb(-_MAX_AMOUNT_DECIMALS)):
        problems.add(
            f"{term} {amount} {currency} has more than 2 decimals, which EN 16931 does not "
            "allow (BR-DEC)",
            term,
        )


def _plan(invoice: Invoice, options: CiiOptions) -> _Plan:
    problems = _Problems()
    seller_name = party_name(invoice.seller, invoice.seller_address)
    buyer_name = party_name(invoice.buyer, invoice.buyer_address)
    if not seller_name:
        problems.add("the seller has no name (BT-27, BR-06)", "BT-27")
    if not buyer_name:
        problems.add("the buyer has no name (BT-44, BR-07)", "BT-44")

    categories = _categories(invoice)
    outside_scope = TaxCategory.OUTSIDE_SCOPE in categories
    if outside_scope and len(categories) > 1:
        others = ", ".join(sorted(c.value for c in categories - {TaxCategory.OUTSIDE_SCOPE}))
        problems.add(
            f"an invoice with category O (not subject to VAT) cannot also have {others} "
            "(BT-151 / BT-95 / BT-102, BR-O-11)",
            "BT-151",
        )

    seller_legal = _identifier(invoice.seller, options.legal_id_key, needs_scheme=False)
    buyer_legal = _identifier(invoice.buyer, options.legal_id_key, needs_scheme=False)
    seller_endpoint = _identifier(invoice.seller, options.endpoint_key, needs_scheme=True)
    buyer_endpoint = _identifier(invoice.buyer, options.endpoint_key, needs_scheme=True)
    seller_tax = invoice.seller.tax_id or None
    buyer_tax = invoice.buyer.tax_id or None
    seller_vat = seller_tax if seller_tax and vat_prefixed(seller_tax) else None
    seller_registration = seller_tax if seller_tax and not seller_vat else None
    buyer_vat = None
    if buyer_tax:
        if vat_prefixed(buyer_tax):
            buyer_vat = buyer_tax
        elif not outside_scope:
            problems.add(
                f"the buyer VAT identifier {buyer_tax!r} has no ISO 3166 country prefix "
                "(BT-48, BR-CO-09)",
                "BT-48",
            )
    if outside_scope:  # BR-O-02: no seller or buyer VAT identifier at all
        seller_vat = buyer_vat = None

    for category in sorted(categories - {TaxCategory.OUTSIDE_SCOPE}):
        rule = _RULE_SUFFIX[category]
        if category in (TaxCategory.INTRA_COMMUNITY, TaxCategory.EXPORT):
            if not seller_vat:
                problems.add(
                    f"category {category.value} needs the seller VAT identifier with a "
                    f"country prefix (BT-31, BR-{rule}-02)",
                    "BT-31",
                )
        elif not (seller_vat or seller_registration):
            problems.add(
                f"category {category.value} needs the seller VAT identifier or tax "
                f"registration (BT-31 / BT-32, BR-{rule}-02)",
                "BT-31",
                "BT-32",
            )
        if category is TaxCategory.REVERSE_CHARGE and not (buyer_vat or buyer_legal):
            problems.add(
                "category AE needs the buyer VAT identifier or legal registration identifier "
                "(BT-48 / BT-47, BR-AE-02)",
                "BT-48",
                "BT-47",
            )
        if category is TaxCategory.INTRA_COMMUNITY and not buyer_vat:
            problems.add("category K needs the buyer VAT identifier (BT-48, BR-IC-02)", "BT-48")
    if TaxCategory.INTRA_COMMUNITY in categories:
        no_period = invoice.invoicing_period_start is None and invoice.invoicing_period_end is None
        if options.delivery_date is None and no_period:
            problems.add(
                "an intra-community supply needs the actual delivery date (BT-72) or the "
                "invoicing period (BG-14, BR-IC-11): pass CiiOptions(delivery_date=...) or "
                "set invoicing_period_start / invoicing_period_end",
                "BT-72",
            )
        if invoice.delivery_address is None:
            problems.add(
                "an intra-community supply needs the deliver-to address and its country "
                "(BG-15 / BT-80, BR-IC-12)",
                "BT-80",
            )
    seller_id = _Identifier(options.seller_id) if options.seller_id else None
    seller_global_id = None
    if not (seller_id or seller_vat or seller_legal):
        # BR-CO-26: a seller without VAT or registration id is identified (BT-29) by its
        # electronic address, as hub.einvoice.ubl does (an ICD scheme makes it a global
        # id), else by the tax number it has but may not show as a VAT id (category O).
        if seller_endpoint and seller_endpoint.scheme and seller_endpoint.scheme[0] == "0":
            seller_global_id = seller_endpoint
        elif seller_endpoint:
            seller_id = _Identifier(seller_endpoint.value)
        elif seller_tax:
            seller_id = _Identifier(seller_tax)
    if not (seller_id or seller_global_id or seller_vat or seller_legal):
        problems.add(
            "the seller needs an identifier, a legal registration identifier or a VAT "
            "identifier (BT-29 / BT-30 / BT-31, BR-CO-26): pass CiiOptions(seller_id=...) "
            f"or set seller.external_ids[{options.legal_id_key!r}]",
            "BT-29",
            "BT-30",
            "BT-31",
        )

    for line in invoice.lines:
        _check_rate(problems, line.tax_category, line.tax_rate, f"line {line.line_id}", "BT-152")
    for term, items in (("BT-96", invoice.allowances), ("BT-103", invoice.charges)):
        for item in items:
            _check_rate(problems, item.tax_category, item.tax_rate, "document level", term)

    breakdown = invoice.vat_breakdown
    for vat in breakdown:
        if vat.category is TaxCategory.EXEMPT and not (
            vat.exemption_reason or vat.exemption_reason_code
        ):
            problems.add(
                "category E (exempt) needs a VAT exemption reason (BT-120 / BT-121, BR-E-10): "
                "set exemption_reasons['E']",
                "BT-120",
                "BT-121",
            )

    totals = invoice.totals
    due = due_date(invoice)
    terms_text = payment_terms_text(invoice)
    if totals.payable_amount > 0 and due is None and not terms_text:
        problems.add(
            "an amount is due, so the payment due date or payment terms are required "
            "(BT-9 / BT-20, BR-CO-25)",
            "BT-9",
            "BT-20",
        )

    cur = invoice.currency
    for line in invoice.lines:
        _check_amount(problems, line.net_amount_in(cur), cur, "BT-131")
        for allowance in line.allowances:
            _check_amount(problems, allowance.amount, cur, "BT-136")
        for charge in line.charges:
            _check_amount(problems, charge.amount, cur, "BT-141")
    for allowance in invoice.allowances:
        _check_amount(problems, allowance.amount, cur, "BT-92")
    for charge in invoice.charges:
        _check_amount(problems, charge.amount, cur, "BT-99")
    for vat in breakdown:
        _check_amount(problems, vat.taxable_amount, cur, "BT-116")
        _check_amount(problems, vat.tax_amount, cur, "BT-117")
    for term, amount in (
        ("BT-106", totals.line_net_total),
        ("BT-107", totals.allowance_total),
        ("BT-108", totals.charge_total),
        ("BT-109", totals.tax_exclusive_total),
        ("BT-110", totals.tax_total),
        ("BT-112", totals.tax_inclusive_total),
        ("BT-113", totals.paid_amount),
        ("BT-114", totals.rounding_amount),
        ("BT-115", totals.payable_amount),
    ):
        _check_amount(problems, amount, cur, term)
    if totals.tax_total_accounting is not None:
        assert invoice.accounting_currency is not None  # totals set it only then
        _check_amount(problems, totals.tax_total_accounting, invoice.accounting_currency, "BT-111")

    problems.raise_any()
    assert seller_name is not None
    assert buyer_name is not None
    return _Plan(
        seller_name=seller_name,
        buyer_name=buyer_name,
        seller_vat=seller_vat,
        seller_tax_registration=seller_registration,
        buyer_vat=buyer_vat,
        seller_id=seller_id,
        seller_global_id=seller_global_id,
        seller_legal=seller_legal,
        buyer_legal=buyer_legal,
        seller_endpoint=seller_endpoint,
        buyer_endpoint=buyer_endpoint,
        due=due,
        terms_text=terms_text,
        breakdown=breakdown,
    )


# --- writing --------------------------------------------------------------------------


class _Writer:
    def __init__(self, invoice: Invoice) -> None:
        self.invoice = invoice
        self.currency = invoice.currency

    @staticmethod
    def sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
        prefix, local = tag.split(":")
        element = etree.SubElement(parent, f"{{{_NSMAP[prefix]}}}{local}", attrs)
        if text is not None:
            try:
                element.text = text
            except ValueError:
                problem = f"{local}: {text!r} holds characters XML cannot carry"
                raise CiiDataError([problem]) from None
        return element

    def amount(self, value: Decimal, currency: str | None = None) -> str:
        """An amount with the currency's minor unit, at most 2 decimals (checked in _plan)."""
        cur = currency or self.currency
        places = min(money.minor_units(cur), _MAX_AMOUNT_DECIMALS)
        shown = value.quantize(Decimal(1).scaleb(-places))
        return format(abs(shown) if shown == 0 else shown, "f")  # never "-0.00"

    def date_time(self, parent: Any, tag: str, value: date) -> None:
        holder = self.sub(parent, tag)
        self.sub(holder, "udt:DateTimeString", _date102(value), format="102")

    def period(self, parent: Any, start: date | None, end: date | None) -> None:
        """BG-14 (BT-73, BT-74) or, on a line, BG-26 (BT-134, BT-135); nothing without a
        date (BR-CO-19 / BR-CO-20 forbid an empty period)."""
        if start is None and end is None:
            return
        element = self.sub(parent, "ram:BillingSpecifiedPeriod")
        if start is not None:
            self.date_time(element, "ram:StartDateTime", start)
        if end is not None:
            self.date_time(element, "ram:EndDateTime", end)

    def address(self, parent: Any, address: Address) -> None:
        element = self.sub(parent, "ram:PostalTradeAddress")
        if address.postal_code:
            self.sub(element, "ram:PostcodeCode", address.postal_code)
        lines = [line for line in address.lines if line]
        if len(lines) > 3:
            lines = [*lines[:2], ", ".join(lines[2:])]
        for tag, line in zip(("ram:LineOne", "ram:LineTwo", "ram:LineThree"), lines, strict=False):
            self.sub(element, tag, line)
        self.sub(element, "ram:CityName", address.city)
        self.sub(element, "ram:CountryID", address.country)
        if address.region:
            self.sub(element, "ram:CountrySubDivisionName", address.region)

    def contact(self, parent: Any, party: PartyRef, address: Address, name: str) -> None:
        """BG-6 / BG-9: the person (when not the party's own name), phone and e-mail."""
        person = next((n for n in (party.name, address.name) if n and n != name), None)
        if not (person or party.phone or party.email):
            return
        element = self.sub(parent, "ram:DefinedTradeContact")
        if person:
            self.sub(element, "ram:PersonName", person)
        if party.phone:
            phone = self.sub(element, "ram:TelephoneUniversalCommunication")
            self.sub(phone, "ram:CompleteNumber", party.phone)
        if party.email:
            email = self.sub(element, "ram:EmailURIUniversalCommunication")
            self.sub(email, "ram:URIID", party.email)

    def party(
        self,
        parent: Any,
        tag: str,
        *,
        party: PartyRef,
        address: Address,
        name: str,
        party_id: _Identifier | None = None,
        global_id: _Identifier | None = None,
        legal: _Identifier | None = None,
        endpoint: _Identifier | None = None,
        vat: str | None = None,
        tax_registration: str | None = None,
    ) -> None:
        element = self.sub(parent, tag)
        if party_id:
            self.sub(element, "ram:ID", party_id.value)  # BT-29
        if global_id and global_id.scheme:
            self.sub(element, "ram:GlobalID", global_id.value, schemeID=global_id.scheme)
        self.sub(element, "ram:Name", name)  # BT-27 / BT-44
        if legal:  # BT-30 / BT-47
            organization = self.sub(element, "ram:SpecifiedLegalOrganization")
            if legal.scheme:
                self.sub(organization, "ram:ID", legal.value, schemeID=legal.scheme)
            else:
                self.sub(organization, "ram:ID", legal.value)
        self.contact(element, party, address, name)
        self.address(element, address)
        if endpoint and endpoint.scheme:  # BT-34 / BT-49
            communication = self.sub(element, "ram:URIUniversalCommunication")
            self.sub(communication, "ram:URIID", endpoint.value, schemeID=endpoint.scheme)
        if tax_registration:
            registration = self.sub(element, "ram:SpecifiedTaxRegistration")
            self.sub(registration, "ram:ID", tax_registration, schemeID="FC")
        if vat:
            registration = self.sub(element, "ram:SpecifiedTaxRegistration")
            self.sub(registration, "ram:ID", vat, schemeID="VA")

    def category_tax(self, parent: Any, tag: str, category: TaxCategory, rate: Decimal) -> None:
        tax = self.sub(parent, tag)
        self.sub(tax, "ram:TypeCode", "VAT")
        self.sub(tax, "ram:CategoryCode", category.value)
        if category is not TaxCategory.OUTSIDE_SCOPE:  # BR-O-05/06/07: O has no rate
            self.sub(tax, "ram:RateApplicablePercent", _plain(rate))

    def allowance_charge(
        self, parent: Any, item: AllowanceCharge, *, charge: bool, document_level: bool
    ) -> None:
        element = self.sub(parent, "ram:SpecifiedTradeAllowanceCharge")
        indicator = self.sub(element, "ram:ChargeIndicator")
        self.sub(indicator, "udt:Indicator", "true" if charge else "false")
        self.sub(element, "ram:ActualAmount", self.amount(item.amount))
        if item.reason_code:
            self.sub(element, "ram:ReasonCode", item.reason_code)
        reason = item.reason
        if not reason and not item.reason_code:  # BR-33/38/42/44 need a reason or a code
            reason = "Charge" if charge else "Discount"
        if reason:
            self.sub(element, "ram:Reason", reason)
        if document_level:
            self.category_tax(element, "ram:CategoryTradeTax", item.tax_category, item.tax_rate)

    def line(self, parent: Any, line: InvoiceLine) -> None:
        item = self.sub(parent, "ram:IncludedSupplyChainTradeLineItem")
        document = self.sub(item, "ram:AssociatedDocumentLineDocument")
        self.sub(document, "ram:LineID", line.line_id)
        product = self.sub(item, "ram:SpecifiedTradeProduct")
        self.sub(product, "ram:SellerAssignedID", line.sku)
        self.sub(product, "ram:Name", line.name)
        agreement = self.sub(item, "ram:SpecifiedLineTradeAgreement")
        if line.order_line_id:
            order = self.sub(agreement, "ram:BuyerOrderReferencedDocument")
            self.sub(order, "ram:LineID", line.order_line_id)
        price = self.sub(agreement, "ram:NetPriceProductTradePrice")
        self.sub(price, "ram:ChargeAmount", _plain(line.unit_price))
        if line.base_quantity != 1:
            self.sub(price, "ram:BasisQuantity", _plain(line.base_quantity), unitCode=line.unit)
        delivery = self.sub(item, "ram:SpecifiedLineTradeDelivery")
        self.sub(delivery, "ram:BilledQuantity", _plain(line.quantity), unitCode=line.unit)
        settlement = self.sub(item, "ram:SpecifiedLineTradeSettlement")
        self.category_tax(settlement, "ram:ApplicableTradeTax", line.tax_category, line.tax_rate)
        self.period(settlement, line.period_start, line.period_end)
        for allowance in line.allowances:
            self.allowance_charge(settlement, allowance, charge=False, document_level=False)
        for charge in line.charges:
            self.allowance_charge(settlement, charge, charge=True, document_level=False)
        summation = self.sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        self.sub(summation, "ram:LineTotalAmount", self.amount(line.net_amount_in(self.currency)))

    def breakdown(self, parent: Any, vat: VatBreakdown, *, first: bool) -> None:
        invoice = self.invoice
        tax = self.sub(parent, "ram:ApplicableTradeTax")
        self.sub(tax, "ram:CalculatedAmount", self.amount(vat.tax_amount))
        self.sub(tax, "ram:TypeCode", "VAT")
        allows_reason = vat.category not in _NO_EXEMPTION_REASON
        if allows_reason and vat.exemption_reason:
            self.sub(tax, "ram:ExemptionReason", vat.exemption_reason)
        self.sub(tax, "ram:BasisAmount", self.amount(vat.taxable_amount))
        self.sub(tax, "ram:CategoryCode", vat.category.value)
        code = vat.exemption_reason_code
        if code is None and not vat.exemption_reason:
            code = DEFAULT_EXEMPTION_CODES.get(vat.category)
        if allows_reason and code:
            self.sub(tax, "ram:ExemptionReasonCode", code)
        if first and invoice.tax_point_date is not None:  # CII-SR-461: at most once
            date_element = self.sub(tax, "ram:TaxPointDate")
            self.sub(date_element, "udt:DateString", _date102(invoice.tax_point_date), format="102")
        if vat.category is not TaxCategory.OUTSIDE_SCOPE:
            self.sub(tax, "ram:RateApplicablePercent", _plain(vat.rate))

    def document(self, plan: _Plan, options: CiiOptions) -> Any:
        invoice = self.invoice
        totals = invoice.totals
        root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=_NSMAP)

        context = self.sub(root, "rsm:ExchangedDocumentContext")
        guideline = self.sub(context, "ram:GuidelineSpecifiedDocumentContextParameter")
        self.sub(guideline, "ram:ID", options.guideline)

        header = self.sub(root, "rsm:ExchangedDocument")
        self.sub(header, "ram:ID", invoice.invoice_number)
        self.sub(header, "ram:TypeCode", invoice.type_code.value)
        self.date_time(header, "ram:IssueDateTime", invoice.issue_date)
        for note in invoice.notes:
            if note:
                self.sub(self.sub(header, "ram:IncludedNote"), "ram:Content", note)

        transaction = self.sub(root, "rsm:SupplyChainTradeTransaction")
        for line in invoice.lines:
            self.line(transaction, line)

        agreement = self.sub(transaction, "ram:ApplicableHeaderTradeAgreement")
        if invoice.buyer_reference:
            self.sub(agreement, "ram:BuyerReference", invoice.buyer_reference)
        self.party(
            agreement,
            "ram:SellerTradeParty",
            party=invoice.seller,
            address=invoice.seller_address,
            name=plan.seller_name,
            party_id=plan.seller_id,
            global_id=plan.seller_global_id,
            legal=plan.seller_legal,
            endpoint=plan.seller_endpoint,
            vat=plan.seller_vat,
            tax_registration=plan.seller_tax_registration,
        )
        self.party(
            agreement,
            "ram:BuyerTradeParty",
            party=invoice.buyer,
            address=invoice.buyer_address,
            name=plan.buyer_name,
            legal=plan.buyer_legal,
            endpoint=plan.buyer_endpoint,
            vat=plan.buyer_vat,
        )
        if invoice.order_reference:
            order = self.sub(agreement, "ram:BuyerOrderReferencedDocument")
            self.sub(order, "ram:IssuerAssignedID", invoice.order_reference)

        delivery = self.sub(transaction, "ram:ApplicableHeaderTradeDelivery")
        if invoice.delivery_address is not None:
            ship_to = self.sub(delivery, "ram:ShipToTradeParty")
            name = invoice.delivery_address.company or invoice.delivery_address.name
            if name:
                self.sub(ship_to, "ram:Name", name)
            self.address(ship_to, invoice.delivery_address)
        if options.delivery_date is not None:
            event = self.sub(delivery, "ram:ActualDeliverySupplyChainEvent")
            self.date_time(event, "ram:OccurrenceDateTime", options.delivery_date)

        settlement = self.sub(transaction, "ram:ApplicableHeaderTradeSettlement")
        accounting = totals.tax_total_accounting is not None
        if accounting:
            assert invoice.accounting_currency is not None
            self.sub(settlement, "ram:TaxCurrencyCode", invoice.accounting_currency)
        self.sub(settlement, "ram:InvoiceCurrencyCode", invoice.currency)
        for index, vat in enumerate(plan.breakdown):
            self.breakdown(settlement, vat, first=index == 0)
        self.period(settlement, invoice.invoicing_period_start, invoice.invoicing_period_end)
        for allowance in invoice.allowances:
            self.allowance_charge(settlement, allowance, charge=False, document_level=True)
        for charge in invoice.charges:
            self.allowance_charge(settlement, charge, charge=True, document_level=True)
        if plan.terms_text or plan.due:
            terms = self.sub(settlement, "ram:SpecifiedTradePaymentTerms")
            if plan.terms_text:
                self.sub(terms, "ram:Description", plan.terms_text)
            if plan.due:
                self.date_time(terms, "ram:DueDateDateTime", plan.due)

        summation = self.sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
        self.sub(summation, "ram:LineTotalAmount", self.amount(totals.line_net_total))
        self.sub(summation, "ram:ChargeTotalAmount", self.amount(totals.charge_total))
        self.sub(summation, "ram:AllowanceTotalAmount", self.amount(totals.allowance_total))
        self.sub(summation, "ram:TaxBasisTotalAmount", self.amount(totals.tax_exclusive_total))
        self.sub(
            summation,
            "ram:TaxTotalAmount",
            self.amount(totals.tax_total),
            currencyID=invoice.currency,
        )
        if totals.tax_total_accounting is not None:  # BT-111
            assert invoice.accounting_currency is not None
            self.sub(
                summation,
                "ram:TaxTotalAmount",
                self.amount(totals.tax_total_accounting, invoice.accounting_currency),
                currencyID=invoice.accounting_currency,
            )
        if totals.rounding_amount:
            self.sub(summation, "ram:RoundingAmount", self.amount(totals.rounding_amount))
        self.sub(summation, "ram:GrandTotalAmount", self.amount(totals.tax_inclusive_total))
        self.sub(summation, "ram:TotalPrepaidAmount", self.amount(totals.paid_amount))
        self.sub(summation, "ram:DuePayableAmount", self.amount(totals.payable_amount))

        if invoice.preceding_invoice:
            preceding = self.sub(settlement, "ram:InvoiceReferencedDocument")
            self.sub(preceding, "ram:IssuerAssignedID", invoice.preceding_invoice)
            if invoice.preceding_invoice_date is not None:
                issued = self.sub(preceding, "ram:FormattedIssueDateTime")
                self.sub(
                    issued,
                    "qdt:DateTimeString",
                    _date102(invoice.preceding_invoice_date),
                    format="102",
                )
        return root


def render_cii(invoice: Invoice, *, options: CiiOptions | None = None) -> bytes:
    """The invoice or credit note as EN 16931 CII D16B XML (UTF-8, with declaration).

    Raises :class:`CiiDataError` naming the business terms when the invoice lacks data
    that EN 16931 requires.
    """
    options = options or CiiOptions()
    plan = _plan(invoice, options)
    root = _Writer(invoice).document(plan, options)
    result: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return result


def validate_cii(xml: bytes) -> ValidationReport:
    """Check CII XML against the D16B schema and the EN 16931 CII business rules."""
    return validate(xml, xsd=CII_XSD, schematrons=[CII_XSLT])
