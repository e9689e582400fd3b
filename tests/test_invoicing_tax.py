"""VAT category and rate per line (hub/invoicing/tax.py), currencies and payment terms."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.canonical.common import TaxCategory
from hub.invoicing.currency import ExchangeRates, RateError
from hub.invoicing.tax import EU_COUNTRIES, CountryRates, TaxConfig, TaxError, determine
from hub.invoicing.terms import TermsError, parse_terms, schedule

CONFIG = TaxConfig(
    seller_country="DE",
    rates={
        "DE": CountryRates(standard=Decimal(19), reduced={"books": Decimal(7)}),
        "FR": CountryRates(standard=Decimal(20), reduced={"books": Decimal("5.5")}),
        "GB": CountryRates(standard=Decimal(20), zero_rated=frozenset({"books"})),
    },
    exempt={"medical": "Exempt under Article 132(1)(b) of Directive 2006/112/EC"},
    exempt_codes={"medical": "VATEX-EU-132-1B"},
    domestic_reverse_charge=frozenset({"construction"}),
)


@pytest.mark.parametrize(
    ("ship_to", "vat_id", "tax_class", "supply", "category", "rate", "code"),
    [
        ("DE", None, "standard", "goods", "S", "19", None),
        ("DE", "DE811907980", "books", "goods", "S", "7", None),
        ("DE", "DE811907980", "construction", "services", "AE", "0", "VATEX-EU-AE"),
        ("FR", "FR40303265045", "standard", "goods", "K", "0", "VATEX-EU-IC"),
        ("FR", "FR40303265045", "standard", "services", "AE", "0", "VATEX-EU-AE"),
        ("FR", None, "standard", "goods", "S", "19", None),
        ("US", None, "standard", "goods", "G", "0", "VATEX-EU-G"),
        ("US", "98-7654321", "standard", "services", "O", None, "VATEX-EU-O"),
        ("AT", None, "medical", "goods", "E", "0", "VATEX-EU-132-1B"),
    ],
)
def test_eu_vat_rules(
    ship_to: str,
    vat_id: str | None,
    tax_class: str,
    supply: str,
    category: str,
    rate: str | None,
    code: str | None,
) -> None:
    decision = determine(
        CONFIG, ship_to_country=ship_to, buyer_vat_id=vat_id, tax_class=tax_class, supply=supply
    )
    assert decision.category == TaxCategory(category)
    assert decision.rate == (None if rate is None else Decimal(rate))
    assert decision.exemption_reason_code == code
    assert decision.why


def test_one_stop_shop_takes_the_destination_rate_for_consumers() -> None:
    oss = CONFIG.model_copy(update={"oss": True})
    decision = determine(oss, ship_to_country="FR", buyer_vat_id=None, tax_class="books")
    assert (decision.category, decision.rate) == (TaxCategory.STANDARD, Decimal("5.5"))


def test_missing_rates_name_the_setting() -> None:
    oss = CONFIG.model_copy(update={"oss": True})
    with pytest.raises(TaxError, match=r"tax.rates.IT"):
        determine(oss, ship_to_country="IT", buyer_vat_id=None)


@given(
    ship_to=st.sampled_from(sorted(EU_COUNTRIES | {"US", "CH", "GB", "JP"})),
    vat_id=st.sampled_from([None, "XX123456789"]),
    supply=st.sampled_from(["goods", "services"]),
)
def test_every_decision_is_a_valid_en16931_combination(
    ship_to: str, vat_id: str | None, supply: str
) -> None:
    decision = determine(CONFIG, ship_to_country=ship_to, buyer_vat_id=vat_id, supply=supply)
    if decision.category is TaxCategory.STANDARD:
        assert decision.rate is not None
        assert decision.rate > 0
    elif decision.category is TaxCategory.OUTSIDE_SCOPE:
        assert decision.rate is None  # BR-O-5: no rate
    else:
        assert decision.rate == 0
    if decision.category in (TaxCategory.INTRA_COMMUNITY, TaxCategory.REVERSE_CHARGE):
        assert vat_id, "K and AE need the buyer's VAT id (BR-IC-2, BR-AE-2)"
    if decision.category in (TaxCategory.EXEMPT, TaxCategory.INTRA_COMMUNITY, TaxCategory.EXPORT):
        assert decision.exemption_reason_code


ECB_CSV = """Date, USD, JPY, GBP, CHF,
2026-11-20, 1.0512, 162.31, 0.8321, 0.9402,
2026-11-19, 1.0498, 161.90, 0.8330, N/A,
"""

ECB_XML = """<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
    xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <Cube><Cube time="2026-11-20">
    <Cube currency="USD" rate="1.0512"/><Cube currency="JPY" rate="162.31"/>
  </Cube></Cube>
</gesmes:Envelope>
"""


def test_ecb_rates_from_csv_and_xml_with_the_rate_date(tmp_path: Path) -> None:
    (tmp_path / "rates.csv").write_text(ECB_CSV, encoding="utf-8")
    (tmp_path / "rates.xml").write_text(ECB_XML, encoding="utf-8")
    for name in ("rates.csv", "rates.xml"):
        rates = ExchangeRates.load(tmp_path / name)
        saturday = date(2026, 11, 21)
        usd = rates.rate("EUR", "USD", saturday)
        assert (usd.value, usd.day) == (Decimal("1.0512"), date(2026, 11, 20))
        cross = rates.rate("USD", "JPY", saturday)
        assert cross.value == Decimal("154.4044901")  # 162.31 / 1.0512, 10 digits
        assert rates.rate("USD", "EUR", saturday).value == Decimal("0.9512937595")
    rates = ExchangeRates.load(tmp_path / "rates.csv")
    with pytest.raises(RateError, match="no CHF rate on 2026-11-19"):
        rates.rate("EUR", "CHF", date(2026, 11, 19))
    with pytest.raises(RateError, match="load a newer rates file"):
        rates.rate("EUR", "USD", date(2026, 12, 31))
    with pytest.raises(RateError, match="no ECB rate on or before"):
        rates.rate("EUR", "USD", date(2026, 1, 1))


def test_payment_terms_and_due_dates() -> None:
    terms = parse_terms("2/10 net 30")
    plan = schedule(terms, date(2026, 11, 23), Decimal("1190.00"), "EUR")
    assert plan.due_date == date(2026, 12, 23)
    assert plan.discount_date == date(2026, 12, 3)
    assert plan.discount_amount == Decimal("23.80")
    assert "2 % discount (23.80 EUR) if paid by 2026-12-03" in plan.text
    net = schedule(parse_terms("Net 14"), date(2026, 11, 23), Decimal(5000), "JPY")
    assert (net.due_date, net.discount_amount) == (date(2026, 12, 7), Decimal(0))
    with pytest.raises(TermsError, match="'2/45 net 30'"):
        parse_terms("2/45 net 30")
    with pytest.raises(TermsError, match="write 'net 30'"):
        parse_terms("30 days end of month")
