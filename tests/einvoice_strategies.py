"""Hypothesis strategies for valid canonical invoices and credit notes (EN 16931 / Peppol).

Every document drawn here is valid for EN 16931 and Peppol BIS Billing 3.0 once rendered,
in any syntax: the population is what a B2B seller in the EU sends, and the few things the
rules demand that the canonical model cannot hold are documented below.

The population:

* 1–8 lines; integer, fractional and (on invoices, rarely) negative "return" quantities;
  unit prices with up to 4 decimals; price base quantities of 1, 10, 12 and 100; several
  units; line allowances and charges with a reason, a reason code or neither (the renderer
  supplies a default reason); order line references.
* Document allowances and charges on the (category, rate) pairs the lines use.
* Four VAT situations, chosen per document:
  - ``domestic``: seller and buyer in one member state; S at that country's rates, Z, E
    (with an exemption reason text) and AE (domestic reverse charge, both VAT ids);
  - ``intra_eu``: a business buyer in another member state; K (goods, with a deliver-to
    address) and AE (services), both VAT ids, sometimes E;
  - ``export``: a buyer outside the EU; G (export), sometimes E;
  - ``outside_scope``: O only, lines and document allowances/charges alike (BR-O-11..14);
    VAT ids may still be on the parties (the renderer must leave them out, BR-O-02).
* Currencies with 2 (EUR, USD, GBP, CHF, SEK), 0 (JPY) and 3 (KWD) decimals; sometimes a
  VAT accounting currency (BT-6) with an exchange rate, sometimes the same as BT-5.
* Prepaid amounts, cash rounding (BT-114), due dates, payment terms, tax point dates,
  notes, delivery addresses, contacts, legal registration ids.
* An invoicing period (BG-14) on about half of the documents: start and end (end ≥ start,
  BR-29), the start only or the end only (BR-CO-19 asks for one at least); some lines with
  a line period (BG-26, the same three shapes) inside the invoicing period where that
  gives a start or an end (PEPPOL-EN16931-R110/R111).
* Credit notes (381) reference the invoice they correct (BT-25, sometimes BT-26).
* VAT amounts as a source charged them (``charged_tax``, a shop rounding per row): some
  groups' BT-117 off taxable × rate by up to the tolerance the canonical model allows.

Limits the rules impose, kept here on purpose:

* EN 16931 allows at most two decimals in an amount (BR-DEC-*): KWD documents keep every
  amount whole (integer line amounts, integer VAT rates), so that no amount needs a third
  decimal. Accounting currencies have at most two decimals (BR-DEC-15).
* Peppol wants a line amount within 0.02 of quantity × price / base quantity
  (PEPPOL-EN16931-R120): in JPY (no decimals) the quantity and price are drawn so that
  the product is a whole number.
* Seller and buyer are never both German (the German CIUS rules DE-R-* then apply), and
  sellers are never in DK, GR, IS, IT, NL, NO or SE (their national rules need data the
  canonical model does not carry).
* Every party has an electronic address (Peppol R010/R020): a GLN with a valid check
  digit in ``external_ids["peppol"]`` as ``"0088:<GLN>"``, or a VAT id whose prefix has an
  EAS VAT scheme (``hub.einvoice.ubl.VAT_ENDPOINT_SCHEMES``).
* Intra-community supply (K) needs the actual delivery date (BT-72) or the invoicing
  period (BR-IC-11). The canonical invoice does not carry BT-72: for a document with a K
  line and no invoicing period, :func:`delivery_date_for` gives the one to pass to a
  renderer (the issue date); a K document with a period is rendered without one.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from hub import money
from hub.canonical import CreditNote, Invoice
from hub.canonical.common import TaxCategory
from hub.canonical.invoice import InvoiceLine, charged_tax_tolerance
from hub.einvoice.ubl import VAT_ENDPOINT_SCHEMES

__all__ = [
    "ENDPOINT_KEY",
    "credit_notes",
    "delivery_date_for",
    "documents",
    "gln",
    "invoices",
]

D = Decimal
ENDPOINT_KEY = "peppol"
"""Where a party's Peppol participant id is kept in ``PartyRef.external_ids``."""

STANDARD_RATES: dict[str, list[str]] = {
    "AT": ["20", "10", "13"],
    "BE": ["21", "6", "12"],
    "CZ": ["21", "12"],
    "DE": ["19", "7"],
    "EE": ["24", "13", "9"],
    "ES": ["21", "10", "4"],
    "FI": ["25.5", "14", "10"],
    "FR": ["20", "10", "5.5", "2.1"],
    "IE": ["23", "13.5", "9"],
    "LT": ["21", "9", "5"],
    "LU": ["17", "8", "14", "3"],
    "LV": ["21", "12", "5"],
    "PL": ["23", "8", "5"],
    "PT": ["23", "13", "6"],
    "SI": ["22", "9.5", "5"],
    "SK": ["23", "19", "5"],
}
SELLER_COUNTRIES = sorted(STANDARD_RATES)
EU_BUYER_COUNTRIES = [*SELLER_COUNTRIES, "DK", "IT", "NL", "SE", "GR", "HR", "HU", "RO"]
NON_EU_BUYER_COUNTRIES = ["US", "CH", "GB", "NO", "JP", "CA", "AU"]
VAT_PREFIX = {"GR": "EL"}
CITIES = {
    "AT": "Wien",
    "AU": "Sydney",
    "BE": "Bruxelles",
    "CA": "Toronto",
    "CH": "Zürich",
    "CZ": "Praha",
    "DE": "Köln",
    "DK": "København",
    "EE": "Tallinn",
    "ES": "Madrid",
    "FI": "Helsinki",
    "FR": "Lyon",
    "GB": "London",
    "GR": "Athína",
    "HR": "Zagreb",
    "HU": "Budapest",
    "IE": "Dublin",
    "IT": "Milano",
    "JP": "Tokyo",
    "LT": "Vilnius",
    "LU": "Luxembourg",
    "LV": "Rīga",
    "NL": "Utrecht",
    "NO": "Oslo",
    "PL": "Kraków",
    "PT": "Porto",
    "RO": "București",
    "SE": "Göteborg",
    "SI": "Ljubljana",
    "SK": "Bratislava",
    "US": "Springfield",
}
COMPANIES = [
    "Müller & Söhne GmbH",
    "Café <Noir> SARL",
    "Nordic Tools Oy",
    "Acme Industrial Supplies Ltd",
    "Łódź Components Sp. z o.o.",
    "Bäckerei Schmidt KG",
    "O'Brien Hardware",
    "Ferretería García S.L.",
]
PEOPLE = ["Anna Berg", "José Núñez", "Chloé Martin", "Ólafur Jónsson", "Li Wei", None]
UNITS = ["C62", "C62", "H87", "EA", "KGM", "MTR", "LTR", "HUR", "DAY", "XBX", "SET"]
ALLOWANCE_CODES = ["95", "100", "41", "64"]
CHARGE_CODES = ["FC", "ABK", "SAA"]
EXEMPT_TEXTS = [
    "Exempt under Article 132(1)(c) of Council Directive 2006/112/EC",
    "Steuerfrei nach § 4 Nr. 14 UStG",
    "Exonération de TVA, article 261 du CGI",
]
EXEMPTION_TEXTS = {
    "AE": "Reverse charge",
    "K": "Intra-Community supply",
    "G": "Export outside the EU",
    "O": "Not subject to VAT",
}
CURRENCIES = ["EUR", "EUR", "EUR", "USD", "GBP", "CHF", "SEK", "JPY", "JPY", "KWD", "KWD"]
ACCOUNTING_CURRENCIES = ["EUR", "SEK", "PLN", "CZK", "HUF", "JPY", "USD"]


def gln(body: str) -> str:
    """A 13-digit GLN: ``body`` (12 digits) and its GS1 check digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def delivery_date_for(document: Invoice) -> date | None:
    """BT-72 for a generated document: the issue date when it has an intra-community
    supply and no invoicing period (BR-IC-11 wants BT-72 or BG-14; the canonical invoice
    cannot carry BT-72). None with a period, so that the period alone meets BR-IC-11."""
    if document.invoicing_period_start or document.invoicing_period_end:
        return None
    categories = {line.tax_category for line in document.lines}
    categories |= {ac.tax_category for ac in (*document.allowances, *document.charges)}
    return document.issue_date if TaxCategory.INTRA_COMMUNITY in categories else None


def _period(
    draw: st.DrawFn, low: date, high: date, *, shapes: list[str]
) -> tuple[date | None, date | None]:
    """A period inside [low, high]: both dates (start ≤ end), the start only, the end only
    or none, as ``shapes`` weighs them."""
    shape = draw(st.sampled_from(shapes))
    start = draw(st.dates(low, high))
    end = draw(st.dates(start, high))
    if shape == "both":
        return start, end
    if shape == "start":
        return start, None
    if shape == "end":
        return None, end
    return None, None


def _with_periods(draw: st.DrawFn, data: dict[str, Any], issue: date) -> None:
    """BG-14 on about half the documents, BG-26 on some lines, inside BG-14 (see above)."""
    start, end = _period(
        draw,
        issue - timedelta(days=120),
        issue + timedelta(days=92),
        shapes=["none", "none", "none", "both", "both", "start", "end"],
    )
    if start is not None:
        data["invoicing_period_start"] = start
    if end is not None:
        data["invoicing_period_end"] = end
    # R110/R111 bind a line's start to BT-73 and its end to BT-74, each where given
    low = start or (end or issue) - timedelta(days=120)
    high = end or low + timedelta(days=120)
    for line in data["lines"]:
        line_start, line_end = _period(
            draw, low, high, shapes=["none", "none", "none", "both", "start", "end"]
        )
        if line_start is not None:
            line["period_start"] = line_start
        if line_end is not None:
            line["period_end"] = line_end


def _exact_quantum(currency: str) -> Decimal | None:
    """The unit every line and allowance amount must be a multiple of, when rounding to
    the currency's minor unit is not enough (see the module docstring)."""
    places = money.minor_units(currency)
    if places == 2:
        return None
    return D(1)  # JPY: R120; KWD: whole amounts keep VAT and totals at ≤ 2 decimals


def _money(draw: st.DrawFn, currency: str, low: Decimal, high: Decimal) -> Decimal:
    """An amount in [low, high] on the currency's grid (whole units when exact)."""
    places = 0 if _exact_quantum(currency) else money.minor_units(currency)
    scale = 10**places
    lo = int((low * scale).to_integral_value(rounding=ROUND_CEILING))
    hi = int((high * scale).to_integral_value(rounding=ROUND_FLOOR))
    if hi < lo:
        return D(0).scaleb(-places)
    return D(draw(st.integers(lo, hi))).scaleb(-places)


def _vat_id(draw: st.DrawFn, country: str) -> str:
    prefix = VAT_PREFIX.get(country, country)
    digits = draw(st.text("0123456789", min_size=8, max_size=10))
    if country == "AT":
        return f"ATU{digits[:8]}"
    if country == "NL":
        return f"NL{digits[:9].ljust(9, '0')}B01"
    return f"{prefix}{digits}"


def _address(draw: st.DrawFn, country: str, *, who: str) -> dict[str, Any]:
    lines = draw(
        st.lists(
            st.sampled_from(
                ["Hauptstraße 5", "Rue de la Paix 12", "Unit 4, Dock Road", "Postfach 101"]
            ),
            max_size=3,
        )
    )
    address: dict[str, Any] = {"city": CITIES[country], "country": country, "lines": lines}
    if draw(st.booleans()):
        address["postal_code"] = draw(st.text("0123456789", min_size=4, max_size=5))
    if draw(st.integers(0, 4)) == 0:
        address["region"] = "Region Nord"
    if who == "delivery":
        address["company"] = draw(st.sampled_from([None, "Warehouse 3", "Lager Süd"]))
        address["name"] = draw(st.sampled_from(PEOPLE))
    return address


def _party(draw: st.DrawFn, country: str, *, vat: bool, needs_endpoint_id: bool) -> dict[str, Any]:
    party: dict[str, Any] = {"company": draw(st.sampled_from(COMPANIES))}
    person = draw(st.sampled_from(PEOPLE))
    if person:
        party["name"] = person
    if vat:
        party["tax_id"] = _vat_id(draw, country)
    prefix = VAT_PREFIX.get(country, country)
    vat_endpoint = vat and prefix in VAT_ENDPOINT_SCHEMES
    ids: dict[str, str] = {}
    if needs_endpoint_id or not vat_endpoint or draw(st.booleans()):
        ids[ENDPOINT_KEY] = "0088:" + gln(draw(st.text("0123456789", min_size=12, max_size=12)))
    if draw(st.integers(0, 3)) == 0:
        ids["legal"] = draw(st.sampled_from(["HRB 12345", "RCS Lyon B 123 456 789"]))
    if draw(st.booleans()):
        ids["sap"] = str(draw(st.integers(17100000, 17199999)))
    party["external_ids"] = ids
    if draw(st.booleans()):
        party["email"] = "ap@example.com"
    if draw(st.booleans()):
        party["phone"] = "+49 221 123456"
    return party


def _quantity(draw: st.DrawFn, *, exact: bool) -> Decimal:
    if exact:
        kind = draw(st.sampled_from(["int", "int", "half", "quarter"]))
    else:
        kind = draw(st.sampled_from(["int", "int", "int", "frac1", "frac2", "frac3"]))
    if kind == "int":
        return D(draw(st.integers(1, draw(st.sampled_from([5, 50, 1000])))))
    if kind == "half":
        return D(draw(st.integers(1, 200))) / 2
    if kind == "quarter":
        return D(draw(st.integers(1, 400))) / 4
    decimals = {"frac1": 1, "frac2": 2, "frac3": 3}[kind]
    return D(draw(st.integers(1, 500 * 10**decimals))).scaleb(-decimals)


def _price(draw: st.DrawFn, quantity: Decimal, base: Decimal, quantum: Decimal | None) -> Decimal:
    """A unit price with up to 4 decimals; with ``quantum``, one that makes
    quantity × price / base a multiple of it."""
    decimals = draw(st.integers(0, 4))
    if quantum is None:
        high = draw(st.sampled_from([10, 200, 5000]))
        return D(draw(st.integers(0, high * 10**decimals))).scaleb(-decimals)
    # price = m × 10**-decimals; quantity × price / base ∈ quantum·ℤ exactly when m is a
    # multiple of the numerator of (quantum × base / quantity) / 10**-decimals in lowest terms
    step = Fraction(quantum) * Fraction(base) / Fraction(quantity) * 10**decimals
    multiple = step.numerator
    most = max(1, int(5000 * 10**decimals / multiple))
    m = multiple * draw(st.integers(0, min(most, 10_000)))
    return D(m).scaleb(-decimals)


def _allowance_charge(
    draw: st.DrawFn, currency: str, high: Decimal, *, charge: bool
) -> dict[str, Any]:
    item: dict[str, Any] = {"amount": _money(draw, currency, D(0), high)}
    how = draw(st.sampled_from(["reason", "code", "both", "none"]))
    if how in ("reason", "both"):
        item["reason"] = draw(
            st.sampled_from(
                ["Freight", "Packaging", "Insurance"] if charge else ["Volume discount", "Promo"]
            )
        )
    if how in ("code", "both"):
        item["reason_code"] = draw(st.sampled_from(CHARGE_CODES if charge else ALLOWANCE_CODES))
    return item


def _line(
    draw: st.DrawFn,
    index: int,
    currency: str,
    category: str,
    rate: str,
    *,
    negative: bool,
) -> dict[str, Any]:
    quantum = _exact_quantum(currency)
    base = D(draw(st.sampled_from(["1", "1", "1", "1", "10", "12", "100"])))
    quantity = _quantity(draw, exact=quantum is not None)
    price = _price(draw, quantity, base, quantum)
    if negative:
        quantity = -quantity
    line: dict[str, Any] = {
        "line_id": str(index + 1),
        "sku": f"SKU-{draw(st.integers(100, 99999))}",
        "name": draw(
            st.sampled_from(["Hex bolt M8", "Consulting hour", "Pallet wrap", "Ölfilter"])
        ),
        "quantity": quantity,
        "unit": draw(st.sampled_from(UNITS)),
        "unit_price": price,
        "base_quantity": base,
        "tax_category": category,
        "tax_rate": rate,
    }
    if draw(st.booleans()):
        line["order_line_id"] = str(draw(st.integers(1, 99)))
    gross = money.round_money(quantity * price / base, currency)
    if not negative and gross > 0:
        line["allowances"] = [
            _allowance_charge(draw, currency, gross / 4, charge=False)
            for _ in range(draw(st.integers(0, 2)))
        ]
        line["charges"] = [
            _allowance_charge(draw, currency, D(50), charge=True)
            for _ in range(draw(st.integers(0, 1)))
        ]
    return line


def _categories(
    draw: st.DrawFn, scenario: str, seller_country: str, currency: str
) -> list[tuple[str, str]]:
    """The (category, rate) pairs a document may use, S first when there is one."""
    rates = STANDARD_RATES[seller_country]
    if money.minor_units(currency) > 2:
        rates = [r for r in rates if D(r) == D(r).to_integral_value()]
    if scenario == "domestic":
        pool = [("S", r) for r in rates] + [("Z", "0"), ("E", "0"), ("AE", "0")]
    elif scenario == "intra_eu":
        pool = [("K", "0"), ("K", "0"), ("AE", "0"), ("E", "0")]
    elif scenario == "export":
        pool = [("G", "0"), ("G", "0"), ("E", "0")]
    else:
        pool = [("O", "0")]
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True))
    if scenario == "domestic" and not any(c == "S" for c, _ in chosen):
        chosen.insert(0, ("S", rates[0]))
    return chosen


@st.composite
def _document_data(draw: st.DrawFn, *, credit_note: bool) -> dict[str, Any]:
    scenario = draw(
        st.sampled_from(["domestic", "domestic", "intra_eu", "export", "outside_scope"])
    )
    seller_country = draw(st.sampled_from(SELLER_COUNTRIES))
    if scenario == "domestic":
        seller_country = draw(st.sampled_from([c for c in SELLER_COUNTRIES if c != "DE"]))
        buyer_country = seller_country
    elif scenario == "intra_eu":
        buyer_country = draw(
            st.sampled_from([c for c in EU_BUYER_COUNTRIES if c != seller_country])
        )
    else:
        buyer_country = draw(st.sampled_from(NON_EU_BUYER_COUNTRIES))
    currency = draw(st.sampled_from(CURRENCIES))
    pairs = _categories(draw, scenario, seller_country, currency)
    categories = {c for c, _ in pairs}

    outside = scenario == "outside_scope"
    seller_vat = (not outside) or draw(st.booleans())
    buyer_vat = (
        scenario == "intra_eu"
        or "AE" in categories
        or (scenario == "domestic" and draw(st.booleans()))
        or (scenario in ("export", "outside_scope") and draw(st.booleans()))
    )
    seller = _party(draw, seller_country, vat=seller_vat, needs_endpoint_id=False)
    buyer = _party(
        draw, buyer_country, vat=buyer_vat, needs_endpoint_id=buyer_country not in STANDARD_RATES
    )

    n_lines = draw(st.integers(1, 8))
    lines: list[dict[str, Any]] = []
    for i in range(n_lines):
        category, rate = pairs[i % len(pairs)] if i < len(pairs) else draw(st.sampled_from(pairs))
        negative = (
            not credit_note and n_lines > 1 and i == n_lines - 1 and draw(st.integers(0, 9)) == 0
        )
        lines.append(_line(draw, i, currency, category, rate, negative=negative))

    # document allowances and charges, on pairs the lines use, never below zero per pair
    pairs = [p for p in pairs if any((ln["tax_category"], ln["tax_rate"]) == p for ln in lines)]
    categories = {c for c, _ in pairs}
    taxable: dict[tuple[str, str], Decimal] = {}
    for line in lines:
        key = (line["tax_category"], line["tax_rate"])
        net = InvoiceLine.model_validate(line).net_amount_in(currency)
        taxable[key] = taxable.get(key, D(0)) + net
    allowances: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 2))):
        category, rate = draw(st.sampled_from(pairs))
        room = taxable[(category, rate)]
        if room <= 0:
            continue
        item = _allowance_charge(draw, currency, room / 3, charge=False)
        taxable[(category, rate)] = room - item["amount"]
        allowances.append({**item, "tax_category": category, "tax_rate": rate})
    charges = []
    for _ in range(draw(st.integers(0, 2))):
        category, rate = draw(st.sampled_from(pairs))
        item = _allowance_charge(draw, currency, D(80), charge=True)
        charges.append({**item, "tax_category": category, "tax_rate": rate})

    issue = draw(st.dates(date(2024, 1, 1), date(2026, 12, 31)))
    data: dict[str, Any] = {
        "invoice_number": f"{'CN' if credit_note else 'INV'}-{draw(st.integers(1, 999999))}",
        "issue_date": issue,
        "currency": currency,
        "seller": seller,
        "seller_address": _address(draw, seller_country, who="seller"),
        "buyer": buyer,
        "buyer_address": _address(draw, buyer_country, who="buyer"),
        "lines": lines,
        "allowances": allowances,
        "charges": charges,
    }
    refs = draw(st.sampled_from(["buyer", "order", "both"]))
    if refs in ("buyer", "both"):
        data["buyer_reference"] = f"BR-{draw(st.integers(1, 9999))}"
    if refs in ("order", "both"):
        data["order_reference"] = f"PO-{draw(st.integers(1, 99999))}"
    if "K" in categories or draw(st.integers(0, 3)) == 0:
        data["delivery_address"] = _address(draw, buyer_country, who="delivery")
    if draw(st.booleans()):
        data["due_date"] = issue + timedelta(days=draw(st.integers(0, 90)))
    if draw(st.integers(0, 3)) == 0:
        data["tax_point_date"] = issue - timedelta(days=draw(st.integers(0, 20)))
    terms = draw(st.sampled_from(["none", "text", "net", "discount"]))
    if terms == "text":
        data["payment_terms"] = {"description": "Payable within 30 days"}
    elif terms == "net":
        data["payment_terms"] = {"net_days": draw(st.sampled_from([10, 30, 60]))}
    elif terms == "discount":
        data["payment_terms"] = {"net_days": 30, "discount_percent": "2", "discount_days": 10}
    data["notes"] = draw(st.lists(st.sampled_from(["Thank you!", "Lot 42 & 43"]), max_size=2))
    _with_periods(draw, data, issue)

    reasons: dict[str, str] = {}
    if "E" in categories:
        reasons["E"] = draw(st.sampled_from(EXEMPT_TEXTS))
    for code, text in EXEMPTION_TEXTS.items():
        if code in categories and draw(st.booleans()):
            reasons[code] = text
    data["exemption_reasons"] = reasons

    if draw(st.integers(0, 4)) == 0:
        accounting = draw(st.sampled_from(ACCOUNTING_CURRENCIES))
        data["accounting_currency"] = accounting
        if accounting != currency:
            data["exchange_rate"] = D(draw(st.integers(1, 2_000_000))).scaleb(-4)
            if draw(st.booleans()):
                data["exchange_rate_date"] = issue - timedelta(days=1)

    if credit_note:
        data["preceding_invoice"] = f"INV-{draw(st.integers(1, 999999))}"
        if draw(st.booleans()):
            data["preceding_invoice_date"] = issue - timedelta(days=draw(st.integers(1, 200)))
    else:
        data["type_code"] = draw(st.sampled_from(["380", "380", "380", "386"]))
    return data


def _with_charged_tax(draw: st.DrawFn, data: dict[str, Any], cls: type[Invoice]) -> None:
    """Sometimes, VAT amounts a source rounded per row, within the allowed tolerance."""
    if draw(st.integers(0, 2)) != 0:
        return
    document = cls.model_validate(data)
    if money.minor_units(document.currency) != 2:  # KWD stays whole (BR-DEC), JPY exact
        return
    minor = D(1).scaleb(-money.minor_units(document.currency))
    charged = []
    for (category, rate), (taxable, count) in sorted(document.vat_groups().items()):
        if rate <= 0 or taxable <= 0 or not draw(st.booleans()):
            continue
        computed = money.percent_of(taxable, rate, document.currency)
        steps = int(charged_tax_tolerance(document.currency, count) / minor)
        amount = computed + D(draw(st.integers(-steps, steps))) * minor
        if amount >= 0:
            charged.append({"category": category.value, "rate": str(rate), "amount": str(amount)})
    if charged:
        data["charged_tax"] = charged


def _with_payments(draw: st.DrawFn, data: dict[str, Any], cls: type[Invoice]) -> Invoice:
    """Prepaid amount and cash rounding need the computed total: add them after."""
    _with_charged_tax(draw, data, cls)
    document = cls.model_validate(data)
    inclusive = document.totals.tax_inclusive_total
    currency = document.currency
    changed = False
    if inclusive > 0 and draw(st.integers(0, 4)) == 0:
        data["paid_amount"] = _money(draw, currency, D(0), inclusive)
        changed = True
    if currency == "CHF" and draw(st.booleans()):
        due = inclusive - D(data.get("paid_amount", 0))
        rounded = (due / D("0.05")).quantize(D(1), rounding=ROUND_HALF_UP) * D("0.05")
        data["rounding_amount"] = money.round_money(rounded - due, currency)
        changed = True
    return cls.model_validate(data) if changed else document


@st.composite
def invoices(draw: st.DrawFn) -> Invoice:
    """A valid commercial (380) or prepayment (386) invoice."""
    return _with_payments(draw, draw(_document_data(credit_note=False)), Invoice)


@st.composite
def credit_notes(draw: st.DrawFn) -> Invoice:
    """A valid credit note (381) referencing the invoice it corrects."""
    return _with_payments(draw, draw(_document_data(credit_note=True)), CreditNote)


def documents() -> st.SearchStrategy[Invoice]:
    """Invoices and credit notes, about three to one."""
    return st.one_of(invoices(), invoices(), invoices(), credit_notes())
