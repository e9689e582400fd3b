"""UBL 2.1 invoices and credit notes for Peppol BIS Billing 3.0, from the canonical model.

:func:`render_ubl` writes a canonical :class:`~hub.canonical.Invoice` (any type code but
381) as a UBL ``Invoice`` and a credit note (381) as a UBL ``CreditNote``, with every
business term the canonical model carries (BT-n in the comments below), amounts taken from
the model's own EN 16931 computation (lines, VAT breakdown, totals) and elements in the
order of the UBL 2.1 XSD sequences. :func:`validate_ubl` checks a document the way a
Peppol access point does: the UBL XSD of its type, the CEN EN 16931 rules and the Peppol
BIS rules (shipped in ``hub/einvoice/rules``).

What the canonical model does not say, and how it is filled:

* **Electronic addresses** (BT-34 seller, BT-49 buyer; PEPPOL-EN16931-R020/R010), first
  found wins: the party's ``external_ids[options.endpoint_key]`` (``"peppol"``) written as
  a Peppol participant id ``"<EAS scheme>:<id>"`` (``"0088:7300010000001"``; an
  ``iso6523-actorid-upis::`` prefix is accepted; a bare id takes
  ``options.default_endpoint_scheme``); for the seller, ``options.seller_endpoint``; then the
  party's VAT id under the EAS VAT scheme of its prefix (``DE…`` → 9930, ``FR…`` → 9957,
  see :data:`VAT_ENDPOINT_SCHEMES`; ``options.vat_endpoint_schemes={}`` turns it off).
* **Legal registration ids** (BT-30, BT-47): ``external_ids[options.legal_id_key]``
  (``"legal"``), ``"<ICD scheme>:<id>"`` or a bare id.
* **Payment instructions** (BG-16, BT-81..86): ``options.payment``; BT-83 is the invoice
  number. A credit note's due date (BT-9) lives in ``PaymentMeans`` in UBL: without payment
  instructions it is written under means code 1 (instrument not defined).
* **Exemption reason codes** (BT-121): ``options.exemption_reason_codes`` per category
  (VATEX-EU-AE, -IC, -G, -O by default); the text (BT-120) is ``Invoice.exemption_reasons``.
* **Actual delivery date** (BT-72): ``options.delivery_date``. An intra-community supply
  needs it or the invoicing period (BG-14, ``Invoice.invoicing_period_start`` / ``_end``)
  by BR-IC-11.
* **Allowance/charge reasons** (BT-97/98, 104/105, 139/140, 144/145; one is required):
  ``options.default_allowance_reason`` / ``default_charge_reason`` when the model has none.
* Names: the registration name (BT-27/BT-44) is the party's ``company``, else its
  ``name``; a ``name`` beside a different ``company`` is the contact point (BT-41/BT-56).
* Several notes (BT-22) are joined into one (PEPPOL-EN16931-R002 allows one).
* Address lines: the first is BT-35/50/75, the second BT-36/51/76, the rest joined in
  BT-162/163/165 (UBL-SR-51 allows one third line).

Rules the data decides are checked before anything is returned: a missing or forbidden
business term raises :class:`UblDataError` listing every problem (business term, the field
to fill, the rule), so no invalid XML leaves silently. Among them: BT-10 or BT-13
(PEPPOL-EN16931-R003); VAT ids by category (BR-S/Z/E/AE/IC/G-02; BR-CO-09 prefixes); VAT
rates by category (BR-S-05, BR-Z/E/AE/IC/G-05); category O alone (BR-O-11..14) and, as
BR-O-02..04 demand, without VAT ids, which are then left out; exemption reasons for
E/AE/K/G/O and none for S/Z/L/M (BR-x-10); at most two decimals in every amount
(BR-DEC-*: a KWD amount with a third decimal cannot be sent); a line net within 0.02 of
quantity × price / base quantity (PEPPOL-EN16931-R120: bites in currencies without
decimals); type code 384 only between German parties (PEPPOL-EN16931-P0112); a line period
(BG-26) inside the invoicing period (BG-14) where both give a start or an end
(PEPPOL-EN16931-R110/R111). Code lists
(units, reason codes, VATEX, EAS) and national identifier formats are left to
:func:`validate_ubl`, which the sending route runs.

Amounts are written at the currency's minor unit, capped at the two decimals EN 16931
allows; unit prices, quantities and rates as stored. Every amount carries ``currencyID``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

import pycountry
from lxml import etree  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub import money
from hub.canonical.common import Address, PartyRef, PaymentTerms, TaxCategory
from hub.canonical.invoice import AllowanceCharge, Invoice, InvoiceLine, InvoiceTypeCode
from hub.einvoice.artefacts import (
    EN16931_UBL_XSLT,
    PEPPOL_UBL_XSLT,
    UBL_CREDITNOTE_XSD,
    UBL_INVOICE_XSD,
)
from hub.einvoice.validation import ValidationReport, validate
from hub.errors import HubError, Issue

__all__ = [
    "CUSTOMIZATION_ID",
    "DEFAULT_EXEMPTION_REASON_CODES",
    "PROFILE_ID",
    "VAT_ENDPOINT_SCHEMES",
    "PaymentInstructions",
    "UblDataError",
    "UblOptions",
    "render_ubl",
    "validate_ubl",
]

CUSTOMIZATION_ID: Final = (
    "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
)
"""BT-24, Peppol BIS Billing 3.0."""
PROFILE_ID: Final = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
"""BT-23, the Peppol billing process."""

NS_INVOICE: Final = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE: Final = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CAC: Final = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC: Final = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

VAT_ENDPOINT_SCHEMES: Final[Mapping[str, str]] = {
    "AT": "9914",
    "BE": "9925",
    "BG": "9926",
    "CH": "9927",
    "CY": "9928",
    "CZ": "9929",
    "DE": "9930",
    "EE": "9931",
    "EL": "9933",
    "ES": "9920",
    "FR": "9957",
    "GB": "9932",
    "HR": "9934",
    "HU": "9910",
    "IE": "9935",
    "LI": "9936",
    "LT": "9937",
    "LU": "9938",
    "LV": "9939",
    "MC": "9940",
    "MT": "9943",
    "NL": "9944",
    "PL": "9945",
    "PT": "9946",
    "RO": "9947",
    "SI": "9949",
    "SK": "9950",
    "SM": "9951",
}
"""VAT id prefix → Peppol EAS scheme of that country's VAT number (the electronic address
used when a party has no explicit one). Countries whose Peppol address is usually another
register (DK, FI, IT, NO, SE) are left out on purpose."""

_EAS_CODES = (
    "0002 0007 0009 0060 0088 0096 0097 0106 0130 0135 0142 0151 0183 0184 0188 0190 0191 "
    "0192 0195 0196 0198 0199 0200 0201 0204 0208 0209 0210 0211 0216 0218 0221 0225 0230 "
    "0235 0240 0242 0244 0245 0246 0248 9910 9913 9914 9915 9918 9919 9920 9922 9923 9924 "
    "9925 9926 9927 9928 9929 9930 9931 9932 9933 9934 9935 9936 9937 9938 9939 9940 9941 "
    "9942 9943 9944 9945 9946 9947 9948 9949 9950 9951 9952 9953 9957 9959"
)
PEPPOL_EAS: Final = frozenset(_EAS_CODES.split())
"""Electronic address schemes the Peppol 2026.5 rules accept (PEPPOL-EN16931-CL008)."""

DEFAULT_EXEMPTION_REASON_CODES: Final[Mapping[TaxCategory, str]] = {
    TaxCategory.REVERSE_CHARGE: "VATEX-EU-AE",
    TaxCategory.INTRA_COMMUNITY: "VATEX-EU-IC",
    TaxCategory.EXPORT: "VATEX-EU-G",
    TaxCategory.OUTSIDE_SCOPE: "VATEX-EU-O",
}
"""BT-121 per category when the caller configures nothing else (E has no single code)."""

_ZERO_RATED = frozenset(
    {
        TaxCategory.ZERO,
        TaxCategory.EXEMPT,
        TaxCategory.REVERSE_CHARGE,
        TaxCategory.INTRA_COMMUNITY,
        TaxCategory.EXPORT,
        TaxCategory.OUTSIDE_SCOPE,
    }
)
_NEEDS_EXEMPTION = frozenset(
    {
        TaxCategory.EXEMPT,
        TaxCategory.REVERSE_CHARGE,
        TaxCategory.INTRA_COMMUNITY,
        TaxCategory.EXPORT,
        TaxCategory.OUTSIDE_SCOPE,
    }
)
_NEEDS_SELLER_VAT = frozenset(set(TaxCategory) - {TaxCategory.OUTSIDE_SCOPE})
_NEEDS_BUYER_VAT = frozenset({TaxCategory.REVERSE_CHARGE, TaxCategory.INTRA_COMMUNITY})
_RULE_PREFIX: Final[Mapping[TaxCategory, str]] = {
    TaxCategory.STANDARD: "BR-S",
    TaxCategory.ZERO: "BR-Z",
    TaxCategory.EXEMPT: "BR-E",
    TaxCategory.REVERSE_CHARGE: "BR-AE",
    TaxCategory.INTRA_COMMUNITY: "BR-IC",
    TaxCategory.EXPORT: "BR-G",
    TaxCategory.OUTSIDE_SCOPE: "BR-O",
    TaxCategory.CANARY_IGIC: "BR-AF",
    TaxCategory.CEUTA_IPSI: "BR-AG",
}
_EN16931_AMOUNT_PLACES = 2  # BR-DEC-*: at most two decimals in every amount
_LINE_NET_SLACK = Decimal("0.02")  # PEPPOL-EN16931-R120
_PARTICIPANT_PREFIX = "iso6523-actorid-upis::"
_SCHEMED = re.compile(r"^(\d{4}):(.+)$")
_CREDIT_TRANSFER = frozenset({"30", "58"})
_DIRECT_DEBIT = frozenset({"49", "59"})
_UNDEFINED_MEANS = "1"  # UNCL 4461: instrument not defined
_VAT_PREFIXES = frozenset({c.alpha_2 for c in pycountry.countries} | {"EL", "XI", "1A"})


class UblDataError(HubError):
    """The invoice cannot be rendered as a valid Peppol BIS Billing 3.0 document."""

    status = 422

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        detail = "; ".join(str(i) for i in self.issues)
        super().__init__(f"cannot render Peppol UBL: {detail}")

    @property
    def terms(self) -> list[str]:
        """The business terms at fault, e.g. ``["BT-49", "BT-10"]``."""
        return [i.where.split(" ", 1)[0] for i in self.issues]


class PaymentInstructions(BaseModel):
    """The seller's payment instructions (BG-16, BG-17)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    means_code: str = Field(
        "30",
        pattern=r"^[0-9A-Z]{1,3}$",
        description="BT-81, UNCL 4461: 30 credit transfer, 58 SEPA credit transfer, "
        "31 debit transfer, 42 bank account, 48 bank card, 1 not defined.",
    )
    means_text: str | None = Field(None, min_length=1, description="BT-82, e.g. 'Transfer'.")
    account_id: str | None = Field(None, min_length=1, description="BT-84, e.g. an IBAN.")
    account_name: str | None = Field(None, min_length=1, description="BT-85.")
    provider_id: str | None = Field(None, min_length=1, description="BT-86, e.g. a BIC.")
    invoice_number_as_reference: bool = Field(
        True, description="Write the invoice number as remittance information (BT-83)."
    )

    @model_validator(mode="after")
    def _complete(self) -> PaymentInstructions:
        if self.means_code in _CREDIT_TRANSFER and not self.account_id:
            raise ValueError(f"means code {self.means_code} needs account_id (BT-84, BR-61)")
        if self.means_code in _DIRECT_DEBIT:
            raise ValueError("direct debit (BG-19) is not supported by the UBL renderer")
        return self


class UblOptions(BaseModel):
    """How a canonical invoice becomes Peppol UBL where the model leaves it open."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    endpoint_key: str = Field(
        "peppol",
        min_length=1,
        description="Key of PartyRef.external_ids holding the Peppol participant id "
        "'<EAS scheme>:<id>' (BT-34 / BT-49).",
    )
    default_endpoint_scheme: str | None = Field(
        None,
        pattern=r"^\d{4}$",
        description="EAS scheme for a participant id written without one, e.g. 0088.",
    )
    seller_endpoint: str | None = Field(
        None,
        min_length=3,
        description="Seller participant id '<scheme>:<id>' when the seller party has none.",
    )
    vat_endpoint_schemes: dict[str, str] = Field(
        default_factory=lambda: dict(VAT_ENDPOINT_SCHEMES),
        description="VAT id prefix → EAS scheme, for parties without an explicit "
        "participant id; {} disables the fallback.",
    )
    legal_id_key: str = Field(
        "legal",
        min_length=1,
        description="Key of PartyRef.external_ids holding the legal registration id "
        "'<ICD scheme>:<id>' or '<id>' (BT-30 / BT-47).",
    )
    payment: PaymentInstructions | None = Field(None, description="BG-16; none by default.")
    exemption_reason_codes: dict[TaxCategory, str] = Field(
        default_factory=lambda: dict(DEFAULT_EXEMPTION_REASON_CODES),
        description="BT-121 VATEX code per VAT category.",
    )
    delivery_date: date | None = Field(
        None,
        description="BT-72 actual delivery date (the canonical invoice has none); category K "
        "needs it unless the invoice has an invoicing period, BG-14 (BR-IC-11).",
    )
    default_allowance_reason: str = Field(
        "Discount", min_length=1, description="BT-97 / BT-139 when neither reason is set."
    )
    default_charge_reason: str = Field(
        "Charge", min_length=1, description="BT-104 / BT-144 when neither reason is set."
    )

    @field_validator("seller_endpoint")
    @classmethod
    def _participant(cls, value: str | None) -> str | None:
        if value is not None and not _SCHEMED.match(value.removeprefix(_PARTICIPANT_PREFIX)):
            raise ValueError("seller_endpoint must be '<EAS scheme>:<id>', e.g. 0088:123")
        return value


def render_ubl(invoice: Invoice, *, options: UblOptions | None = None) -> bytes:
    """The invoice as Peppol BIS Billing 3.0 UBL 2.1 XML (UTF-8, with declaration).

    Raises :class:`UblDataError` naming every business term that is missing or not
    allowed; nothing is rendered then.
    """
    return _Renderer(invoice, options or UblOptions()).render()


def validate_ubl(xml: bytes) -> ValidationReport:
    """Check UBL against the XSD of its document type, EN 16931 and Peppol BIS rules."""
    try:
        root = etree.fromstring(
            xml, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        )
    except etree.XMLSyntaxError as exc:
        return ValidationReport(xsd_errors=[f"not well-formed XML: {exc}"])
    schemas = {
        f"{{{NS_INVOICE}}}Invoice": UBL_INVOICE_XSD,
        f"{{{NS_CREDIT_NOTE}}}CreditNote": UBL_CREDITNOTE_XSD,
    }
    xsd = schemas.get(root.tag)
    if xsd is None:
        return ValidationReport(
            xsd_errors=[f"root element {root.tag} is not a UBL 2.1 Invoice or CreditNote"]
        )
    return validate(xml, xsd=xsd, schematrons=[EN16931_UBL_XSLT, PEPPOL_UBL_XSLT])


def _text(value: str | None) -> str | None:
    """None for a missing or blank value (PEPPOL-EN16931-R008 forbids empty elements)."""
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


def _plain(value: Decimal) -> str:
    """A quantity, price or rate as stored, without exponent notation."""
    return format(value, "f")


class _Renderer:
    """One rendering: builds the tree and collects every rule the data breaks."""

    def __init__(self, invoice: Invoice, options: UblOptions) -> None:
        self.invoice = invoice
        self.options = options
        self.currency = invoice.currency
        self.issues: list[Issue] = []
        self.credit_note = invoice.type_code is InvoiceTypeCode.CREDIT_NOTE
        self.categories = self._categories()
        self.outside_scope = TaxCategory.OUTSIDE_SCOPE in self.categories

    # -- checks --------------------------------------------------------------------------

    def problem(self, term: str, field: str, message: str, rule: str | None = None) -> None:
        text = f"{message} (fill {field})" if field else message
        if rule:
            text = f"{text} [{rule}]"
        self.issues.append(Issue(where=term, message=text, field=field or None, rule=rule))

    def _categories(self) -> set[TaxCategory]:
        inv = self.invoice
        found = {line.tax_category for line in inv.lines}
        found |= {ac.tax_category for ac in (*inv.allowances, *inv.charges)}
        return found

    def check(self) -> None:
        inv = self.invoice
        if not _text(inv.buyer_reference) and not _text(inv.order_reference):
            self.problem(
                "BT-10 Buyer reference",
                "buyer_reference or order_reference",
                "Peppol requires a buyer reference (BT-10) or a purchase order reference (BT-13)",
                "PEPPOL-EN16931-R003",
            )
        if inv.type_code is InvoiceTypeCode.CORRECTED_INVOICE and not (
            inv.seller_address.country == "DE" and inv.buyer_address.country == "DE"
        ):
            self.problem(
                "BT-3 Invoice type code",
                "type_code",
                "Peppol allows 384 (corrected invoice) only between German parties; "
                "send a credit note (381) and a new invoice",
                "PEPPOL-EN16931-P0112",
            )
        for party, who in ((inv.seller, "seller"), (inv.buyer, "buyer")):
            if not (_text(party.company) or _text(party.name)):
                term = "BT-27 Seller name" if who == "seller" else "BT-44 Buyer name"
                rule = "BR-06" if who == "seller" else "BR-07"
                self.problem(term, f"{who}.company or {who}.name", "the name is missing", rule)
        self._check_vat_ids()
        self._check_rates()
        self._check_exemptions()
        if TaxCategory.INTRA_COMMUNITY in self.categories:
            if inv.delivery_address is None:
                self.problem(
                    "BT-80 Deliver to country code",
                    "delivery_address",
                    "an intra-community supply (K) needs the deliver-to address",
                    "BR-IC-12",
                )
            no_period = inv.invoicing_period_start is None and inv.invoicing_period_end is None
            if self.options.delivery_date is None and no_period:
                self.problem(
                    "BT-72 Actual delivery date",
                    "UblOptions.delivery_date or invoicing_period_start / invoicing_period_end",
                    "an intra-community supply (K) needs the actual delivery date (BT-72) or "
                    "the invoicing period (BG-14)",
                    "BR-IC-11",
                )
        self._check_line_periods()

    def _check_line_periods(self) -> None:
        """PEPPOL-EN16931-R110/R111: a line period starts and ends inside the invoicing
        period, where the invoicing period gives that date."""
        inv = self.invoice
        first, last = inv.invoicing_period_start, inv.invoicing_period_end
        for i, line in enumerate(inv.lines):
            if first and line.period_start and line.period_start < first:
                self.problem(
                    f"BT-134 Invoice line period start date (lines[{i}])",
                    f"lines[{i}].period_start",
                    f"{line.period_start.isoformat()} is before the invoicing period starts "
                    f"({first.isoformat()}, BT-73)",
                    "PEPPOL-EN16931-R110",
                )
            if last and line.period_end and line.period_end > last:
                self.problem(
                    f"BT-135 Invoice line period end date (lines[{i}])",
                    f"lines[{i}].period_end",
                    f"{line.period_end.isoformat()} is after the invoicing period ends "
                    f"({last.isoformat()}, BT-74)",
                    "PEPPOL-EN16931-R111",
                )

    def _check_vat_ids(self) -> None:
        inv = self.invoice
        if self.outside_scope:
            others = sorted(c.value for c in self.categories - {TaxCategory.OUTSIDE_SCOPE})
            if others:
                self.problem(
                    "BT-151 Invoiced item VAT category code",
                    "lines[].tax_category, allowances[].tax_category, charges[].tax_category",
                    f"category O (not subject to VAT) cannot be mixed with {', '.join(others)}",
                    "BR-O-11",
                )
            return  # BR-O-02..04: no VAT ids are written at all
        seller_vat = _text(inv.seller.tax_id)
        buyer_vat = _text(inv.buyer.tax_id)
        needs_seller = sorted(c.value for c in self.categories & _NEEDS_SELLER_VAT)
        if needs_seller and not seller_vat:
            first = TaxCategory(needs_seller[0])
            self.problem(
                "BT-31 Seller VAT identifier",
                "seller.tax_id",
                f"VAT category {', '.join(needs_seller)} requires the seller's VAT id",
                f"{_RULE_PREFIX[first]}-02",
            )
        for category in sorted(self.categories & _NEEDS_BUYER_VAT):
            legal = self._legal_id(inv.buyer)
            if buyer_vat or (category is TaxCategory.REVERSE_CHARGE and legal):
                continue
            self.problem(
                "BT-48 Buyer VAT identifier",
                "buyer.tax_id",
                f"VAT category {category.value} requires the buyer's VAT id",
                f"{_RULE_PREFIX[category]}-02",
            )
        for vat, term, field in (
            (seller_vat, "BT-31 Seller VAT identifier", "seller.tax_id"),
            (buyer_vat, "BT-48 Buyer VAT identifier", "buyer.tax_id"),
        ):
            if vat and vat[:2].upper() not in _VAT_PREFIXES:
                self.problem(term, field, f"{vat!r} does not start with a country code", "BR-CO-09")

    def _check_rates(self) -> None:
        inv = self.invoice
        items: list[tuple[str, str, TaxCategory, Decimal]] = [
            (f"lines[{i}].tax_rate", "BT-152", ln.tax_category, ln.tax_rate)
            for i, ln in enumerate(inv.lines)
        ]
        items += [
            (f"allowances[{i}].tax_rate", "BT-96", ac.tax_category, ac.tax_rate)
            for i, ac in enumerate(inv.allowances)
        ]
        items += [
            (f"charges[{i}].tax_rate", "BT-103", ac.tax_category, ac.tax_rate)
            for i, ac in enumerate(inv.charges)
        ]
        for field, term, category, rate in items:
            prefix = _RULE_PREFIX[category]
            if category is TaxCategory.STANDARD and rate <= 0:
                self.problem(
                    f"{term} VAT rate", field, "standard rated (S) needs a rate above 0", "BR-S-05"
                )
            elif category in _ZERO_RATED and rate != 0:
                self.problem(
                    f"{term} VAT rate",
                    field,
                    f"category {category.value} takes rate 0, not {_plain(rate)}",
                    f"{prefix}-05",
                )

    def _check_exemptions(self) -> None:
        inv = self.invoice
        for category, text in inv.exemption_reasons.items():
            if category not in _NEEDS_EXEMPTION and category in self.categories and _text(text):
                self.problem(
                    "BT-120 VAT exemption reason text",
                    f"exemption_reasons[{category.value!r}]",
                    f"category {category.value} must not state an exemption reason; remove it",
                    f"{_RULE_PREFIX[category]}-10",
                )
        for category in sorted(self.categories & _NEEDS_EXEMPTION):
            if _text(inv.exemption_reasons.get(category)):
                continue
            if self.options.exemption_reason_codes.get(category):
                continue
            self.problem(
                "BT-120 VAT exemption reason text",
                f"exemption_reasons[{category.value!r}] or "
                f"UblOptions.exemption_reason_codes[{category.value!r}]",
                f"category {category.value} needs an exemption reason text or code",
                f"{_RULE_PREFIX[category]}-10",
            )

    # -- values --------------------------------------------------------------------------

    def amount(self, value: Decimal, term: str, currency: str | None = None) -> str:
        """An amount at the currency's minor unit, at most two decimals (BR-DEC-*)."""
        cur = currency or self.currency
        places = min(money.minor_units(cur), _EN16931_AMOUNT_PLACES)
        quantum = Decimal(1).scaleb(-places)
        shown = value.quantize(quantum, rounding=ROUND_HALF_UP)
        if shown != value:
            self.problem(
                term,
                "",
                f"{value} {cur} has more decimals than the {places} EN 16931 allows; amounts "
                f"in {cur} can only be sent when they are whole multiples of {quantum}",
                "BR-DEC",
            )
        return _plain(shown)

    def endpoint(self, party: PartyRef, who: str) -> tuple[str, str] | None:
        """(scheme, id) of the party's electronic address, or None after a problem."""
        opts = self.options
        if who == "seller":
            term, rule = "BT-34 Seller electronic address", "PEPPOL-EN16931-R020"
        else:
            term, rule = "BT-49 Buyer electronic address", "PEPPOL-EN16931-R010"
        field = f"{who}.external_ids[{opts.endpoint_key!r}]"
        explicit = _text(party.external_ids.get(opts.endpoint_key))
        if explicit is None and who == "seller":
            explicit = _text(opts.seller_endpoint)
            field = "UblOptions.seller_endpoint" if explicit else field
        if explicit is not None:
            value = explicit.removeprefix(_PARTICIPANT_PREFIX)
            match = _SCHEMED.match(value)
            if match:
                scheme, ident = match.group(1), match.group(2).strip()
            elif opts.default_endpoint_scheme:
                scheme, ident = opts.default_endpoint_scheme, value
            else:
                self.problem(
                    term,
                    field,
                    f"{explicit!r} has no EAS scheme: write '<scheme>:<id>' or set "
                    "UblOptions.default_endpoint_scheme",
                    "BR-62" if who == "seller" else "BR-63",
                )
                return None
            if scheme not in PEPPOL_EAS:
                self.problem(
                    term, field, f"{scheme} is not a Peppol EAS scheme", "PEPPOL-EN16931-CL008"
                )
                return None
            return scheme, ident
        vat = _text(party.tax_id)
        if vat:
            scheme_for_vat = opts.vat_endpoint_schemes.get(vat[:2].upper())
            if scheme_for_vat:
                return scheme_for_vat, vat
        self.problem(
            term,
            field,
            "Peppol requires the party's electronic address, e.g. '0088:<GLN>' "
            "(or a VAT id whose prefix has an EAS scheme in UblOptions.vat_endpoint_schemes)",
            rule,
        )
        return None

    def _legal_id(self, party: PartyRef) -> tuple[str | None, str] | None:
        raw = _text(party.external_ids.get(self.options.legal_id_key))
        if raw is None:
            return None
        match = _SCHEMED.match(raw)
        if match:
            return match.group(1), match.group(2).strip()
        return None, raw

    # -- tree ----------------------------------------------------------------------------

    def cbc(self, parent: Any, tag: str, text: str | None, /, **attrs: str) -> Any:
        element = etree.SubElement(parent, f"{{{NS_CBC}}}{tag}", attrs)
        try:
            element.text = text
        except ValueError:
            self.problem(tag, "", f"{text!r} holds characters XML cannot carry")
        return element

    @staticmethod
    def cac(parent: Any, name: str) -> Any:
        return etree.SubElement(parent, f"{{{NS_CAC}}}{name}")

    def money_el(self, parent: Any, name: str, value: Decimal, term: str) -> Any:
        return self.cbc(parent, name, self.amount(value, term), currencyID=self.currency)

    def render(self) -> bytes:
        self.check()
        inv = self.invoice
        root_name = "CreditNote" if self.credit_note else "Invoice"
        ns = NS_CREDIT_NOTE if self.credit_note else NS_INVOICE
        root = etree.Element(f"{{{ns}}}{root_name}", nsmap={None: ns, "cac": NS_CAC, "cbc": NS_CBC})
        self.cbc(root, "CustomizationID", CUSTOMIZATION_ID)  # BT-24
        self.cbc(root, "ProfileID", PROFILE_ID)  # BT-23
        self.cbc(root, "ID", inv.invoice_number)  # BT-1
        self.cbc(root, "IssueDate", inv.issue_date.isoformat())  # BT-2
        if self.credit_note:
            if inv.tax_point_date:
                self.cbc(root, "TaxPointDate", inv.tax_point_date.isoformat())  # BT-7
            self.cbc(root, "CreditNoteTypeCode", inv.type_code.value)  # BT-3
        else:
            if inv.due_date:
                self.cbc(root, "DueDate", inv.due_date.isoformat())  # BT-9
            self.cbc(root, "InvoiceTypeCode", inv.type_code.value)  # BT-3
        notes = [n for n in (_text(x) for x in inv.notes) if n]
        if notes:
            self.cbc(root, "Note", "\n".join(notes))  # BT-22
        if not self.credit_note and inv.tax_point_date:
            self.cbc(root, "TaxPointDate", inv.tax_point_date.isoformat())  # BT-7
        self.cbc(root, "DocumentCurrencyCode", self.currency)  # BT-5
        accounting = self._accounting_currency()
        if accounting:
            self.cbc(root, "TaxCurrencyCode", accounting)  # BT-6
        if _text(inv.buyer_reference):
            self.cbc(root, "BuyerReference", _text(inv.buyer_reference))  # BT-10
        self._period(root, inv.invoicing_period_start, inv.invoicing_period_end)  # BG-14
        if _text(inv.order_reference):
            self.cbc(self.cac(root, "OrderReference"), "ID", _text(inv.order_reference))  # BT-13
        if _text(inv.preceding_invoice):
            ref = self.cac(self.cac(root, "BillingReference"), "InvoiceDocumentReference")
            self.cbc(ref, "ID", _text(inv.preceding_invoice))  # BT-25
            if inv.preceding_invoice_date:
                self.cbc(ref, "IssueDate", inv.preceding_invoice_date.isoformat())  # BT-26
        self._party(
            self.cac(root, "AccountingSupplierParty"), inv.seller, inv.seller_address, "seller"
        )
        self._party(
            self.cac(root, "AccountingCustomerParty"), inv.buyer, inv.buyer_address, "buyer"
        )
        self._delivery(root)
        self._payment_means(root)
        if inv.payment_terms is not None:
            note = _terms_text(inv.payment_terms)
            if note:
                self.cbc(self.cac(root, "PaymentTerms"), "Note", note)  # BT-20
        for i, allowance in enumerate(inv.allowances):
            self._document_allowance_charge(root, allowance, charge=False, index=i)
        for i, charge in enumerate(inv.charges):
            self._document_allowance_charge(root, charge, charge=True, index=i)
        self._tax_totals(root, accounting)
        self._monetary_total(root)
        for i, line in enumerate(inv.lines):
            self._line(root, line, i)
        if self.issues:
            raise UblDataError(self.issues)
        return bytes(
            etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        )

    def _period(self, parent: Any, start: date | None, end: date | None) -> None:
        """BG-14 (BT-73, BT-74) or, on a line, BG-26 (BT-134, BT-135); nothing without a
        date (BR-CO-19 / BR-CO-20 forbid an empty period)."""
        if start is None and end is None:
            return
        node = self.cac(parent, "InvoicePeriod")
        if start is not None:
            self.cbc(node, "StartDate", start.isoformat())
        if end is not None:
            self.cbc(node, "EndDate", end.isoformat())

    def _accounting_currency(self) -> str | None:
        inv = self.invoice
        if inv.accounting_currency and inv.accounting_currency != inv.currency:
            return inv.accounting_currency
        return None

    def _party(self, holder: Any, party: PartyRef, address: Address, who: str) -> None:
        node = self.cac(holder, "Party")
        endpoint = self.endpoint(party, who)
        if endpoint:
            self.cbc(node, "EndpointID", endpoint[1], schemeID=endpoint[0])  # BT-34 / BT-49
        vat = None if self.outside_scope else _text(party.tax_id)
        legal = self._legal_id(party)
        if who == "seller" and not vat and not legal and endpoint:
            # BR-CO-26: a seller without VAT id or registration id is identified by its
            # electronic address (BT-29), as in the Peppol example for category O.
            ident = self.cac(node, "PartyIdentification")
            if endpoint[0].startswith("0"):  # an ISO 6523 ICD scheme (BR-CL-10)
                self.cbc(ident, "ID", endpoint[1], schemeID=endpoint[0])
            else:
                self.cbc(ident, "ID", endpoint[1])
        self._address(self.cac(node, "PostalAddress"), address)  # BG-5 / BG-8
        if vat:
            scheme = self.cac(node, "PartyTaxScheme")
            self.cbc(scheme, "CompanyID", vat)  # BT-31 / BT-48
            self.cbc(self.cac(scheme, "TaxScheme"), "ID", "VAT")
        entity = self.cac(node, "PartyLegalEntity")
        registration = _text(party.company) or _text(party.name)
        self.cbc(entity, "RegistrationName", registration)  # BT-27 / BT-44
        if legal:
            if legal[0]:
                self.cbc(entity, "CompanyID", legal[1], schemeID=legal[0])  # BT-30 / BT-47
            else:
                self.cbc(entity, "CompanyID", legal[1])
        contact_name = _text(party.name) if _text(party.company) else None
        if contact_name == registration:
            contact_name = None
        contact = [
            ("Name", contact_name),  # BT-41 / BT-56
            ("Telephone", _text(party.phone)),  # BT-42 / BT-57
            ("ElectronicMail", _text(party.email)),  # BT-43 / BT-58
        ]
        if any(value for _, value in contact):
            element = self.cac(node, "Contact")
            for name, value in contact:
                if value:
                    self.cbc(element, name, value)

    def _address(self, node: Any, address: Address) -> None:
        lines = [line for line in (_text(x) for x in address.lines) if line]
        if lines:
            self.cbc(node, "StreetName", lines[0])  # BT-35 / BT-50 / BT-75
        if len(lines) > 1:
            self.cbc(node, "AdditionalStreetName", lines[1])  # BT-36 / BT-51 / BT-76
        self.cbc(node, "CityName", address.city)  # BT-37 / BT-52 / BT-77
        if _text(address.postal_code):
            self.cbc(node, "PostalZone", _text(address.postal_code))  # BT-38 / BT-53 / BT-78
        region = _text(address.region) or _text(address.region_code)
        if region:
            self.cbc(node, "CountrySubentity", region)  # BT-39 / BT-54 / BT-79
        if len(lines) > 2:
            self.cbc(self.cac(node, "AddressLine"), "Line", ", ".join(lines[2:]))  # BT-162..
        self.cbc(self.cac(node, "Country"), "IdentificationCode", address.country)  # BT-40..

    def _delivery(self, root: Any) -> None:
        address = self.invoice.delivery_address
        when = self.options.delivery_date
        if address is None and when is None:
            return
        node = self.cac(root, "Delivery")  # BG-13
        if when:
            self.cbc(node, "ActualDeliveryDate", when.isoformat())  # BT-72
        if address is not None:
            self._address(self.cac(self.cac(node, "DeliveryLocation"), "Address"), address)
            name = _text(address.company) or _text(address.name)
            if name:
                party = self.cac(self.cac(node, "DeliveryParty"), "PartyName")
                self.cbc(party, "Name", name)  # BT-70

    def _payment_means(self, root: Any) -> None:
        pay = self.options.payment
        due = self.invoice.due_date if self.credit_note else None
        if pay is None and due is None:
            return
        node = self.cac(root, "PaymentMeans")  # BG-16
        code = pay.means_code if pay else _UNDEFINED_MEANS
        if pay and pay.means_text:
            self.cbc(node, "PaymentMeansCode", code, name=pay.means_text)  # BT-81, BT-82
        else:
            self.cbc(node, "PaymentMeansCode", code)  # BT-81
        if due:
            self.cbc(node, "PaymentDueDate", due.isoformat())  # BT-9 of a credit note
        if pay and pay.invoice_number_as_reference:
            self.cbc(node, "PaymentID", self.invoice.invoice_number)  # BT-83
        if pay and pay.account_id:
            account = self.cac(node, "PayeeFinancialAccount")  # BG-17
            self.cbc(account, "ID", pay.account_id)  # BT-84
            if pay.account_name:
                self.cbc(account, "Name", pay.account_name)  # BT-85
            if pay.provider_id:
                branch = self.cac(account, "FinancialInstitutionBranch")
                self.cbc(branch, "ID", pay.provider_id)  # BT-86

    def _reasons(self, node: Any, item: AllowanceCharge, *, charge: bool) -> None:
        code = _text(item.reason_code)
        reason = _text(item.reason)
        if code:
            self.cbc(node, "AllowanceChargeReasonCode", code)  # BT-98/105/140/145
        if reason or not code:
            opts = self.options
            default = opts.default_charge_reason if charge else opts.default_allowance_reason
            self.cbc(node, "AllowanceChargeReason", reason or default)  # BT-97/104/139/144

    def _tax_category(self, parent: Any, name: str, category: TaxCategory, rate: Decimal) -> Any:
        node = self.cac(parent, name)
        self.cbc(node, "ID", category.value)
        if category is not TaxCategory.OUTSIDE_SCOPE:  # BR-O-05..07: O has no rate
            self.cbc(node, "Percent", _plain(rate))
        return node

    def _document_allowance_charge(
        self, root: Any, item: AllowanceCharge, *, charge: bool, index: int
    ) -> None:
        node = self.cac(root, "AllowanceCharge")  # BG-20 / BG-21
        self.cbc(node, "ChargeIndicator", "true" if charge else "false")
        self._reasons(node, item, charge=charge)
        term = f"BT-99 charges[{index}].amount" if charge else f"BT-92 allowances[{index}].amount"
        self.money_el(node, "Amount", item.amount, term)
        category = self._tax_category(node, "TaxCategory", item.tax_category, item.tax_rate)
        self.cbc(self.cac(category, "TaxScheme"), "ID", "VAT")  # BT-95..96 / BT-102..103

    def _tax_totals(self, root: Any, accounting: str | None) -> None:
        inv = self.invoice
        totals = inv.totals
        node = self.cac(root, "TaxTotal")
        self.money_el(node, "TaxAmount", totals.tax_total, "BT-110 Invoice total VAT amount")
        codes = self.options.exemption_reason_codes
        for vat in inv.vat_breakdown:  # BG-23
            sub = self.cac(node, "TaxSubtotal")
            label = f"{vat.category.value} {_plain(vat.rate)}"
            self.money_el(sub, "TaxableAmount", vat.taxable_amount, f"BT-116 ({label})")
            self.money_el(sub, "TaxAmount", vat.tax_amount, f"BT-117 ({label})")
            category = self._tax_category(sub, "TaxCategory", vat.category, vat.rate)
            if vat.category in _NEEDS_EXEMPTION:
                code = _text(vat.exemption_reason_code) or _text(codes.get(vat.category))
                if code:
                    self.cbc(category, "TaxExemptionReasonCode", code)  # BT-121
                if _text(vat.exemption_reason):
                    self.cbc(category, "TaxExemptionReason", _text(vat.exemption_reason))
            self.cbc(self.cac(category, "TaxScheme"), "ID", "VAT")
        if accounting is not None:  # BT-111: a second TaxTotal, no breakdown
            assert totals.tax_total_accounting is not None  # set when currencies differ
            second = self.cac(root, "TaxTotal")
            shown = self.amount(
                totals.tax_total_accounting,
                "BT-111 Invoice total VAT amount in accounting currency",
                accounting,
            )
            self.cbc(second, "TaxAmount", shown, currencyID=accounting)

    def _monetary_total(self, root: Any) -> None:
        inv = self.invoice
        t = inv.totals
        node = self.cac(root, "LegalMonetaryTotal")  # BG-22
        self.money_el(node, "LineExtensionAmount", t.line_net_total, "BT-106")
        self.money_el(node, "TaxExclusiveAmount", t.tax_exclusive_total, "BT-109")
        self.money_el(node, "TaxInclusiveAmount", t.tax_inclusive_total, "BT-112")
        if inv.allowances:
            self.money_el(node, "AllowanceTotalAmount", t.allowance_total, "BT-107")
        if inv.charges:
            self.money_el(node, "ChargeTotalAmount", t.charge_total, "BT-108")
        if t.paid_amount:
            self.money_el(node, "PrepaidAmount", t.paid_amount, "BT-113")
        if t.rounding_amount:
            self.money_el(node, "PayableRoundingAmount", t.rounding_amount, "BT-114")
        self.money_el(node, "PayableAmount", t.payable_amount, "BT-115")

    def _line(self, root: Any, line: InvoiceLine, index: int) -> None:
        cur = self.currency
        where = f"lines[{index}]"
        node = self.cac(root, "CreditNoteLine" if self.credit_note else "InvoiceLine")
        line_id = _text(line.line_id)
        if line_id is None:
            self.problem("BT-126 Invoice line identifier", f"{where}.line_id", "it is empty")
        self.cbc(node, "ID", line_id or "")  # BT-126
        quantity = "CreditedQuantity" if self.credit_note else "InvoicedQuantity"
        self.cbc(node, quantity, _plain(line.quantity), unitCode=line.unit)  # BT-129, BT-130
        net = line.net_amount_in(cur)
        self.money_el(node, "LineExtensionAmount", net, f"BT-131 {where}")
        exact = line.quantity * line.unit_price / line.base_quantity
        if abs(money.round_money(exact, cur) - exact) > _LINE_NET_SLACK:
            self.problem(
                f"BT-146 Item net price ({where})",
                f"{where}.unit_price or {where}.quantity",
                f"quantity × price / base quantity = {_plain(exact.normalize())} is more "
                f"than {_LINE_NET_SLACK} from the {cur} line amount "
                f"{money.round_money(exact, cur)}",
                "PEPPOL-EN16931-R120",
            )
        self._period(node, line.period_start, line.period_end)  # BG-26
        if _text(line.order_line_id):
            reference = self.cac(node, "OrderLineReference")
            self.cbc(reference, "LineID", _text(line.order_line_id))  # BT-132
        for kind, items in ((False, line.allowances), (True, line.charges)):
            for j, item in enumerate(items):
                ac = self.cac(node, "AllowanceCharge")  # BG-27 / BG-28
                self.cbc(ac, "ChargeIndicator", "true" if kind else "false")
                self._reasons(ac, item, charge=kind)
                term = f"BT-141 {where}.charges[{j}]" if kind else f"BT-136 {where}.allowances[{j}]"
                self.money_el(ac, "Amount", item.amount, term)
        item_node = self.cac(node, "Item")
        self.cbc(item_node, "Name", line.name)  # BT-153
        self.cbc(self.cac(item_node, "SellersItemIdentification"), "ID", line.sku)  # BT-155
        category = self._tax_category(
            item_node, "ClassifiedTaxCategory", line.tax_category, line.tax_rate
        )  # BT-151, BT-152
        self.cbc(self.cac(category, "TaxScheme"), "ID", "VAT")
        price = self.cac(node, "Price")
        self.cbc(price, "PriceAmount", _plain(line.unit_price), currencyID=cur)  # BT-146
        self.cbc(
            price, "BaseQuantity", _plain(line.base_quantity), unitCode=line.unit
        )  # BT-149, BT-150


def _terms_text(terms: PaymentTerms) -> str | None:
    """BT-20 from the terms' text, else from their figures, else from their code."""
    text = _text(terms.description)
    if text:
        return text
    parts: list[str] = []
    if terms.discount_percent is not None and terms.discount_days is not None:
        parts.append(
            f"{_plain(terms.discount_percent)} % discount if paid within {terms.discount_days} days"
        )
    if terms.net_days is not None:
        parts.append(f"net {terms.net_days} days")
    if parts:
        return ", ".join(parts)
    code = _text(terms.code)
    return f"Payment terms {code}" if code else None
