"""B2B pricing: each rule kind, validity, stacking, ties, explanations and rule-file errors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hub.canonical.common import TaxCategory
from hub.canonical.invoice import InvoiceLine
from hub.canonical.order import Order
from hub.errors import SourceFileError
from hub.invoicing.pricing import (
    PricingLine,
    PricingRequest,
    PricingResult,
    PricingRules,
    explain,
    format_price,
)
from hub.invoicing.pricing_rules import SHOP, Kind, PricingRulesError
from tests.conftest import ROOT

D = Decimal
DAY = date(2026, 3, 14)
EXAMPLE = ROOT / "config" / "pricing" / "example.yaml"


def request(
    *lines: tuple[str, str | int, str],
    customer: str | None = "100042",
    group: str | None = None,
    day: date = DAY,
    currency: str = "EUR",
) -> PricingRequest:
    """Lines as (sku, quantity, shop unit price); line ids are 1, 2, ..."""
    return PricingRequest(
        customer=customer,
        customer_group=group,
        order_date=day,
        currency=currency,
        lines=tuple(
            PricingLine(line_id=str(i), sku=sku, quantity=D(str(q)), unit_price=D(p))
            for i, (sku, q, p) in enumerate(lines, start=1)
        ),
    )


def rules(*items: dict[str, Any]) -> PricingRules:
    return PricingRules.from_rules(items)


def contract(name: str = "ACME-2026", **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "type": "contract",
        "customers": ["100042"],
        "currency": "EUR",
        "priority": 10,
        "prices": [{"sku": "GLV-M", "price": D("18.50")}],
    }
    return base | extra


def price_of(result: PricingResult, line: str = "1") -> Decimal:
    return result.line(line).unit_price


# --------------------------------------------------------------------------- shop price


def test_shop_price_applies_when_no_rule_matches() -> None:
    result = rules(contract()).price(request(("OTHER", 3, "4.1234")))
    line = result.line("1")
    assert line.unit_price == D("4.1234")
    assert line.price_rule == SHOP
    assert line.line_amount == D("12.37")
    assert [(a.rule, a.kind) for a in line.applied] == [(SHOP, Kind.PRICE)]
    assert line.applied[0].explanation == "shop price: 4.1234 EUR per PC (no price rule applies)"
    assert result.net_total == D("12.37")


def test_no_rules_at_all() -> None:
    result = PricingRules().price(request(("A", 2, "9.99")))
    assert result.line("1").unit_price == D("9.99")
    assert result.net_total == D("19.98")
    assert result.allowances == result.charges == ()


# --------------------------------------------------------------------------- contracts


def test_contract_price_with_the_reason_a_buyer_reads() -> None:
    rule = contract(valid_from=date(2026, 1, 1), valid_to=date(2026, 12, 31))
    result = rules(rule).price(request(("GLV-M", 10, "21.90")))
    line = result.line("1")
    assert line.unit_price == D("18.50")
    assert line.price_rule == "ACME-2026"
    assert line.line_amount == line.net_amount == D("185.00")
    assert line.applied[0].explanation == (
        "contract ACME-2026: 18.50 EUR per PC (valid 2026-01-01..2026-12-31)"
    )
    assert [(t.rule, t.effect) for t in line.price_rules] == [
        ("ACME-2026", "contract ACME-2026: 18.50 EUR per PC (valid 2026-01-01..2026-12-31)")
    ]


def test_contract_for_a_customer_group() -> None:
    rule = contract("WHOLESALE", customers=[], customer_groups=["wholesale"])
    priced = rules(rule)
    assert price_of(priced.price(request(("GLV-M", 1, "21.90"), group="wholesale"))) == D("18.5")
    assert price_of(priced.price(request(("GLV-M", 1, "21.90"), group="retail"))) == D("21.90")
    explanation = priced.price(request(("GLV-M", 1, "1"), group="wholesale")).line("1").applied
    assert explanation[0].explanation == (
        "contract WHOLESALE: 18.50 EUR per PC (customer group wholesale)"
    )


def test_contract_quantity_breaks_take_the_highest_reached() -> None:
    rule = contract(
        prices=[
            {"sku": "GLV-M", "price": "18.50"},
            {"sku": "GLV-M", "price": "17.90", "min_quantity": 100},
            {"sku": "GLV-M", "price": "17.10", "min_quantity": 500},
            {"sku": "BULK", "price": "3.00", "min_quantity": 10},
        ]
    )
    priced = rules(rule)
    assert price_of(priced.price(request(("GLV-M", 99, "20")))) == D("18.50")
    assert price_of(priced.price(request(("GLV-M", 100, "20")))) == D("17.90")
    assert price_of(priced.price(request(("GLV-M", 499, "20")))) == D("17.90")
    assert price_of(priced.price(request(("GLV-M", 500, "20")))) == D("17.10")
    # below the only entry's minimum: the contract does not apply, the shop price does
    assert price_of(priced.price(request(("BULK", 9, "3.50")))) == D("3.50")
    line = priced.price(request(("GLV-M", 100, "20"))).line("1")
    assert line.applied[0].explanation == "contract ACME-2026: 17.90 EUR per PC (from 100 PC)"


def test_contract_entry_for_the_line_unit_wins() -> None:
    rule = contract(
        prices=[
            {"sku": "GLV-M", "price": "18.50"},
            {"sku": "GLV-M", "price": "0.19", "unit": "H87"},
        ]
    )
    line = PricingLine(line_id="1", sku="GLV-M", quantity=D(1), unit_price=D(1), unit="H87")
    req = PricingRequest(customer="100042", order_date=DAY, currency="EUR", lines=(line,))
    assert price_of(rules(rule).price(req)) == D("0.19")
    assert price_of(rules(rule).price(request(("GLV-M", 1, "1")))) == D("18.50")


@pytest.mark.parametrize(
    ("day", "applies"),
    [
        (date(2025, 12, 31), False),
        (date(2026, 1, 1), True),
        (date(2026, 6, 30), True),
        (date(2026, 12, 31), True),
        (date(2027, 1, 1), False),
    ],
)
def test_validity_dates_are_inclusive(day: date, applies: bool) -> None:
    rule = contract(valid_from=date(2026, 1, 1), valid_to=date(2026, 12, 31))
    result = rules(rule).price(request(("GLV-M", 1, "21.90"), day=day))
    assert price_of(result) == (D("18.50") if applies else D("21.90"))


def test_open_ended_validity() -> None:
    since = rules(contract(valid_from=date(2026, 3, 14)))
    until = rules(contract(valid_to=date(2026, 3, 14)))
    assert price_of(since.price(request(("GLV-M", 1, "2"), day=date(2026, 3, 13)))) == D(2)
    assert price_of(since.price(request(("GLV-M", 1, "2"), day=date(2099, 1, 1)))) == D("18.5")
    assert price_of(until.price(request(("GLV-M", 1, "2"), day=date(2026, 3, 15)))) == D(2)
    text = since.price(request(("GLV-M", 1, "2"))).line("1").applied[0].explanation
    assert text.endswith("(valid from 2026-03-14)")
    text = until.price(request(("GLV-M", 1, "2"))).line("1").applied[0].explanation
    assert text.endswith("(valid until 2026-03-14)")


def test_a_rule_applies_only_in_its_currency() -> None:
    priced = rules(contract())
    assert price_of(priced.price(request(("GLV-M", 1, "2000"), currency="JPY"))) == D(2000)


def test_another_customer_does_not_get_the_contract() -> None:
    priced = rules(contract())
    assert price_of(priced.price(request(("GLV-M", 1, "21.90"), customer="100043"))) == D("21.90")
    assert price_of(priced.price(request(("GLV-M", 1, "21.90"), customer=None))) == D("21.90")


# --------------------------------------------------------------------------- tiers


GLOVE_TIERS: dict[str, Any] = {
    "name": "gloves-tiers",
    "type": "tier_price",
    "skus": ["GLV-*"],
    "currency": "EUR",
    "priority": 30,
    "tiers": [
        {"min_quantity": 10, "price": "21.90"},
        {"min_quantity": 50, "price": "20.40"},
        {"min_quantity": 200, "price": "19.20"},
    ],
}


@pytest.mark.parametrize(
    ("quantity", "price"),
    [(9, "25.00"), (10, "21.90"), (49, "21.90"), (50, "20.40"), (199, "20.40"), (200, "19.20")],
)
def test_tier_prices_by_line_quantity(quantity: int, price: str) -> None:
    result = rules(GLOVE_TIERS).price(request(("GLV-NITRILE-M", quantity, "25.00")))
    assert price_of(result) == D(price)


def test_tier_sku_patterns_and_explanation() -> None:
    result = rules(GLOVE_TIERS).price(request(("GLV-L", 60, "25"), ("SOAP", 60, "2")))
    assert result.line("1").applied[0].explanation == (
        "tier price gloves-tiers: 20.40 EUR per PC (from 50 PC)"
    )
    assert result.line("2").price_rule == SHOP


# --------------------------------------------------------------------------- line discounts


def volume(name: str = "vol", priority: int = 20, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "type": "volume_discount",
        "priority": priority,
        "tiers": [{"min_quantity": 10, "percent": 5}, {"min_quantity": 100, "percent": 10}],
    }
    return base | extra


def group(name: str = "grp", priority: int = 10, percent: str = "10", **extra: Any) -> dict:
    base: dict[str, Any] = {
        "name": name,
        "type": "group_discount",
        "customer_groups": ["reseller"],
        "priority": priority,
        "percent": percent,
    }
    return base | extra


def test_volume_discount_lowers_the_price_rounded_half_up_to_four_decimals() -> None:
    priced = rules(volume(tiers=[{"min_quantity": 1, "percent": 10}]))
    # 1.2345 × 0.9 = 1.11105 -> 1.1111 (half up; half even would give 1.1110)
    line = priced.price(request(("X", 3, "1.2345"))).line("1")
    assert line.unit_price == D("1.1111")
    assert line.line_amount == D("3.33")
    assert line.applied[1].explanation == "volume discount vol: 10 % off the price (from 1 PC)"


@pytest.mark.parametrize(("quantity", "price"), [(9, "20.00"), (10, "19.00"), (100, "18.00")])
def test_volume_discount_tiers(quantity: int, price: str) -> None:
    assert price_of(rules(volume()).price(request(("X", quantity, "20.00")))) == D(price)


def test_volume_discount_as_a_line_allowance() -> None:
    priced = rules(volume(apply_as="allowance", reason="Volume bonus", reason_code="95"))
    line = priced.price(request(("X", 100, "17.80"))).line("1")
    assert line.unit_price == D("17.80")
    assert line.line_amount == D("1780.00")
    [allowance] = line.allowances
    assert (allowance.amount, allowance.percent, allowance.base_amount) == (
        D("178.00"),
        D(10),
        D("1780.00"),
    )
    assert (allowance.reason, allowance.reason_code, allowance.rule) == (
        "Volume bonus",
        "95",
        "vol",
    )
    assert line.net_amount == D("1602.00")
    assert line.applied[1].explanation == (
        "volume discount vol: allowance 178.00 EUR = 10 % of 1780.00 EUR (from 100 PC)"
    )


def test_group_discount_needs_the_group() -> None:
    priced = rules(group())
    assert price_of(priced.price(request(("X", 1, "10.00"), group="reseller"))) == D("9.00")
    assert price_of(priced.price(request(("X", 1, "10.00"), group="retail"))) == D("10.00")
    text = priced.price(request(("X", 1, "10"), group="reseller")).line("1").applied[1]
    assert text.explanation == (
        "customer group discount grp: 10 % off the price (customer group reseller)"
    )


def test_stacked_price_discounts_add_up() -> None:
    priced = rules(group(), volume())
    line = priced.price(request(("X", 10, "20.00"), group="reseller")).line("1")
    assert line.unit_price == D("17.00")  # 10 % + 5 % = 15 % off, not 14.5 %
    assert [a.rule for a in line.applied] == [SHOP, "grp", "vol"]


def test_allowances_apply_to_the_line_amount_at_the_discounted_price() -> None:
    priced = rules(group(), volume(apply_as="allowance"))
    line = priced.price(request(("X", 10, "20.00"), group="reseller")).line("1")
    assert line.unit_price == D("18.00")
    assert line.line_amount == D("180.00")
    assert [a.amount for a in line.allowances] == [D("9.00")]
    assert line.net_amount == D("171.00")


def test_price_discounts_are_capped_at_one_hundred_percent() -> None:
    priced = rules(group(percent="60"), volume(tiers=[{"min_quantity": 1, "percent": 60}]))
    line = priced.price(request(("X", 1, "20.00"), group="reseller")).line("1")
    assert line.unit_price == D(0)
    assert line.net_amount == D(0)
    assert "capped" in line.applied[-1].explanation


def test_allowances_never_exceed_the_line_amount() -> None:
    priced = rules(
        group(percent="70", apply_as="allowance"),
        volume(tiers=[{"min_quantity": 1, "percent": 70}], apply_as="allowance"),
    )
    line = priced.price(request(("X", 1, "10.00"), group="reseller")).line("1")
    assert [a.amount for a in line.allowances] == [D("7.00"), D("3.00")]
    assert line.net_amount == D(0)


# --------------------------------------------------------------------------- surcharges


def surcharge(name: str, scope: str = "line", priority: int = 10, **extra: Any) -> dict:
    base: dict[str, Any] = {
        "name": name,
        "type": "surcharge",
        "scope": scope,
        "currency": "EUR",
        "priority": priority,
    }
    return base | extra


def test_line_surcharges_per_unit_fixed_and_percent() -> None:
    priced = rules(
        surcharge("hazmat", amount="0.80", per_unit=True, skus=["CHEM-*"], reason_code="SH"),
        surcharge("cut", amount="5.00", skus=["CABLE"]),
        surcharge("energy", percent="1.5", skus=["CHEM-*", "CABLE"]),
    )
    result = priced.price(request(("CHEM-5L", 10, "24.60"), ("CABLE", 3, "10.00"), ("X", 1, "1")))
    chem = result.line("1")
    assert [(c.rule, c.amount) for c in chem.charges] == [
        ("energy", D("3.69")),  # 1.5 % of 246.00, the line amount before charges
        ("hazmat", D("8.00")),  # same priority: in name order
    ]
    assert chem.net_amount == D("257.69")
    assert chem.charges[1].reason_code == "SH"
    assert "charge 8.00 EUR = 0.80 EUR per PC × 10 PC" in chem.applied[2].explanation
    cable = result.line("2")
    assert [(c.rule, c.amount) for c in cable.charges] == [
        ("cut", D("5.00")),
        ("energy", D("0.45")),
    ]
    assert result.line("3").charges == ()


def test_line_surcharge_below_a_line_value() -> None:
    priced = rules(surcharge("small-line", amount="5.00", below="50.00"))
    assert priced.price(request(("X", 1, "49.99"))).line("1").net_amount == D("54.99")
    assert priced.price(request(("X", 1, "50.00"))).line("1").net_amount == D("50.00")


def test_small_order_surcharge_below_the_order_value() -> None:
    priced = rules(surcharge("small-order", "document", amount="15.00", below="150.00"))
    result = priced.price(request(("X", 1, "149.99")))
    [charge] = result.charges
    assert (charge.amount, charge.rule) == (D("15.00"), "small-order")
    assert result.net_total == D("164.99")
    assert result.applied[0].explanation == (
        "surcharge small-order: charge 15.00 EUR (order value 149.99 EUR below 150.00 EUR)"
    )
    assert priced.price(request(("X", 1, "150.00"))).charges == ()


def test_document_percent_surcharge() -> None:
    priced = rules(surcharge("handling", "document", percent="2", currency=None))
    result = priced.price(request(("X", 3, "33.33")))
    assert [c.amount for c in result.charges] == [D("2.00")]  # 2 % of 99.99
    assert result.charges[0].base_amount == D("99.99")


# --------------------------------------------------------------------------- order discounts


ORDER_VALUE: dict[str, Any] = {
    "name": "order-value",
    "type": "order_discount",
    "currency": "EUR",
    "priority": 10,
    "thresholds": [
        {"min_value": "1000.00", "percent": "2"},
        {"min_value": "5000.00", "percent": "3.5"},
    ],
    "reason": "Order value discount",
    "reason_code": "95",
}


@pytest.mark.parametrize(
    ("value", "allowance"),
    [("999.99", None), ("1000.00", "20.00"), ("4999.99", "100.00"), ("5000.00", "175.00")],
)
def test_order_value_discount_thresholds(value: str, allowance: str | None) -> None:
    result = rules(ORDER_VALUE).price(request(("X", 1, value)))
    assert [a.amount for a in result.allowances] == ([D(allowance)] if allowance else [])
    if allowance:
        assert result.net_total == D(value) - D(allowance)
        assert result.allowances[0].reason == "Order value discount"


def test_order_value_discount_explanation() -> None:
    result = rules(ORDER_VALUE).price(request(("X", 2, "600.00")))
    assert result.applied[0].explanation == (
        "order discount order-value: allowance 24.00 EUR = 2 % of 1200.00 EUR "
        "(order value from 1000.00 EUR)"
    )


def test_fixed_order_discount_is_capped_at_the_order_value() -> None:
    priced = rules(
        ORDER_VALUE | {"thresholds": [{"min_value": 0, "amount": "50.00"}]},
        ORDER_VALUE | {"name": "more", "thresholds": [{"min_value": 0, "amount": "40.00"}]},
    )
    result = priced.price(request(("X", 1, "70.00")))
    # same priority, name order: "more" takes 40.00, "order-value" what is left of 70.00
    assert [a.amount for a in result.allowances] == [D("40.00"), D("30.00")]
    assert result.net_total == D(0)


# --------------------------------------------------------------------------- stacking


def test_exclusive_stops_lower_priorities_of_its_kind_only() -> None:
    priced = rules(
        group(priority=10, stacking="exclusive"),
        volume(priority=20),
        surcharge("fee", amount="1.00"),
    )
    line = priced.price(request(("X", 10, "20.00"), group="reseller")).line("1")
    assert line.unit_price == D("18.00")
    assert [(s.rule, s.reason) for s in line.skipped] == [
        ("vol", "customer group discount grp (priority 10) is exclusive")
    ]
    assert [c.rule for c in line.charges] == ["fee"]  # another kind: not stopped


def test_exclusive_at_one_priority_the_first_name_wins() -> None:
    priced = rules(
        group("b-grp", stacking="exclusive"),
        group("a-grp", percent="3", stacking="exclusive"),
    )
    line = priced.price(request(("X", 1, "100.00"), group="reseller")).line("1")
    assert line.unit_price == D("97.00")
    assert [s.rule for s in line.skipped] == ["b-grp"]


def test_higher_priority_price_rule_wins_even_if_dearer() -> None:
    tiers = GLOVE_TIERS | {"skus": ["GLV-M"], "priority": 30}
    dear = contract(priority=10, prices=[{"sku": "GLV-M", "price": "19.90"}])
    line = rules(dear, tiers).price(request(("GLV-M", 300, "25"))).line("1")
    assert line.unit_price == D("19.90")  # the contract, though the tier says 19.20
    assert [(s.rule, s.reason) for s in line.skipped] == [
        ("gloves-tiers", "the price is set by contract ACME-2026 (priority 10)")
    ]
    line = rules(contract(priority=40), tiers).price(request(("GLV-M", 300, "25"))).line("1")
    assert line.unit_price == D("19.20")  # the tier runs first now, though dearer than 18.50
    assert [(s.rule, s.reason) for s in line.skipped] == [
        ("ACME-2026", "the price is set by tier price gloves-tiers (priority 30)")
    ]


def test_best_picks_the_lowest_price_for_the_buyer() -> None:
    tiers = GLOVE_TIERS | {"skus": ["GLV-M"], "priority": 10, "stacking": "best"}
    priced = rules(contract(stacking="best"), tiers)
    small = priced.price(request(("GLV-M", 10, "25"))).line("1")
    assert (small.unit_price, small.price_rule) == (D("18.50"), "ACME-2026")
    assert small.applied[0].explanation.endswith("(best for the buyer of ACME-2026, gloves-tiers)")
    assert [(s.rule, s.reason) for s in small.skipped] == [
        (
            "gloves-tiers",
            "contract ACME-2026 is better for the buyer (18.50 EUR per PC, not 21.90 EUR per PC)",
        )
    ]
    cheap_contract = contract(stacking="best", prices=[{"sku": "GLV-M", "price": "19.90"}])
    large = rules(cheap_contract, tiers).price(request(("GLV-M", 200, "25"))).line("1")
    assert (large.unit_price, large.price_rule) == (D("19.20"), "gloves-tiers")


def test_best_ties_go_to_the_first_name() -> None:
    tiers = GLOVE_TIERS | {"name": "a-tiers", "skus": ["GLV-M"], "priority": 10}
    tiers |= {"stacking": "best", "tiers": [{"min_quantity": 1, "price": "18.50"}]}
    line = rules(contract(stacking="best"), tiers).price(request(("GLV-M", 1, "25"))).line("1")
    assert line.price_rule == "ACME-2026"  # "ACME-2026" < "a-tiers"
    assert "as good for the buyer and comes first by name" in line.skipped[0].reason


def test_best_discount_then_lower_priorities_follow() -> None:
    priced = rules(
        group(priority=10, stacking="best", percent="4"),
        volume(priority=10, stacking="best"),
        volume("promo", priority=20, tiers=[{"min_quantity": 1, "percent": 1}]),
    )
    line = priced.price(request(("X", 100, "10.00"), group="reseller")).line("1")
    assert line.unit_price == D("8.90")  # best of 4 % and 10 %, then 1 % more
    assert [a.rule for a in line.applied] == [SHOP, "vol", "promo"]
    assert [s.rule for s in line.skipped] == ["grp"]


def test_best_compares_price_and_allowance_discounts_by_line_net() -> None:
    priced = rules(
        group(priority=10, stacking="best", percent="9", apply_as="allowance"),
        volume(priority=10, stacking="best"),
    )
    line = priced.price(request(("X", 100, "10.00"), group="reseller")).line("1")
    assert line.net_amount == D("900.00")  # 10 % off the price beats a 9 % allowance
    assert line.allowances == ()


def test_best_order_discounts_and_charges() -> None:
    priced = rules(
        ORDER_VALUE | {"stacking": "best"},
        ORDER_VALUE
        | {"name": "flat", "stacking": "best", "thresholds": [{"min_value": 0, "amount": "30"}]},
        surcharge("a-fee", "document", amount="9.00", stacking="best"),
        surcharge("b-fee", "document", amount="7.50", stacking="best"),
    )
    result = priced.price(request(("X", 1, "1200.00")))
    assert [(a.rule, a.amount) for a in result.allowances] == [("flat", D("30.00"))]
    assert [(c.rule, c.amount) for c in result.charges] == [("b-fee", D("7.50"))]
    assert {s.rule for s in result.skipped} == {"order-value", "a-fee"}


def test_blocks_keep_later_kinds_off_a_line() -> None:
    priced = rules(contract(blocks=["line_discount"]), volume(), surcharge("fee", amount="1"))
    result = priced.price(request(("GLV-M", 50, "20"), ("X", 50, "20.00")))
    glove = result.line("1")
    assert glove.unit_price == D("18.50")
    assert glove.applied[0].explanation.endswith("(no line discounts)")
    assert [(s.rule, s.reason) for s in glove.skipped] == [
        ("vol", "contract ACME-2026 excludes line discounts")
    ]
    assert [c.rule for c in glove.charges] == ["fee"]
    assert result.line("2").unit_price == D("19.00")  # no contract price: the discount applies


def test_order_discount_can_block_order_surcharges() -> None:
    priced = rules(
        ORDER_VALUE | {"blocks": ["document_charge"]},
        surcharge("handling", "document", amount="4.00"),
    )
    assert priced.price(request(("X", 1, "1000"))).charges == ()
    assert [c.amount for c in priced.price(request(("X", 1, "999"))).charges] == [D("4.00")]


def test_rule_order_in_files_does_not_matter() -> None:
    items = [contract(), GLOVE_TIERS, volume(), group(), ORDER_VALUE, surcharge("f", amount="2")]
    req = request(("GLV-M", 60, "25"), ("GLV-L", 60, "25"), ("X", 500, "3"), group="reseller")
    assert rules(*items).price(req) == rules(*reversed(items)).price(req)


# --------------------------------------------------------------------------- explain


def test_explain_reads_like_a_statement() -> None:
    priced = PricingRules.load(EXAMPLE)
    req = request(
        ("GLV-NITRILE-M", 120, "22.90"),
        ("CHEM-DESINF-5L", 10, "27.00"),
        ("PAPER-TOWEL", 3, "4.1234"),
        group="wholesale",
    )
    text = explain(priced.price(req))
    assert text[0] == "Pricing for customer 100042 (group wholesale) on 2026-03-14 in EUR"
    assert "Line 1: GLV-NITRILE-M × 120 PC at 17.90 EUR = 2148.00 EUR" in text
    assert (
        "  contract ACME-2026: 17.90 EUR per PC "
        "(from 100 PC; valid 2026-01-01..2026-12-31; no line discounts)"
    ) in text
    assert (
        "  not applied: contract WHOLESALE-2026: "
        "the price is set by contract ACME-2026 (priority 10)"
    ) in text
    assert "  shop price: 4.1234 EUR per PC (no price rule applies)" in text
    assert text[-1].startswith("Total: lines 2414.37 EUR - allowances 48.29 EUR")
    assert text[-1].endswith("= 2366.08 EUR without VAT")


def test_rule_sources_are_recorded() -> None:
    result = PricingRules.load(EXAMPLE).price(request(("GLV-M", 1, "1"), customer="x"))
    assert all(a.source is None for a in result.line("1").applied)  # shop price
    result = PricingRules.load(EXAMPLE).price(request(("GLV-NITRILE-M", 1, "1")))
    source = result.line("1").applied[0].source
    assert source is not None
    assert source.startswith(f"{EXAMPLE}:")


def test_format_price_keeps_what_matters() -> None:
    assert format_price(D("18.5"), "EUR") == "18.50"
    assert format_price(D("8.9125"), "EUR") == "8.9125"
    assert format_price(D("1200"), "JPY") == "1200"
    assert format_price(D("1.5"), "KWD") == "1.500"


# --------------------------------------------------------------------------- the example


def test_example_rules_load_and_price_a_realistic_order() -> None:
    priced = PricingRules.load(ROOT / "config" / "pricing")
    assert len(priced) == len(PricingRules.load(EXAMPLE)) >= 8
    # a reseller without a contract: glove tiers, reseller allowance, small-order surcharge
    result = priced.price(
        request(("GLV-NITRILE-L", 3, "22.90"), customer="200311", group="reseller")
    )
    line = result.line("1")
    assert (line.unit_price, line.price_rule) == (D("21.90"), "gloves-tiers")
    assert [a.amount for a in line.allowances] == [D("2.63")]
    assert [c.rule for c in result.charges] == ["small-order"]
    assert result.net_total == D("65.70") - D("2.63") + D("15.00")


# --------------------------------------------------------------------------- integration


def test_from_order_and_apply_to_an_invoice_line() -> None:
    order = Order.model_validate(
        {
            "order_number": "100000123",
            "order_date": datetime(2026, 3, 14, 9, 30, tzinfo=UTC),
            "currency": "EUR",
            "buyer": {"name": "ACME", "customer_group": "reseller"},
            "billing_address": {"city": "Berlin", "country": "DE"},
            "lines": [{"line_id": "7", "sku": "X", "quantity": "100", "unit_price": "10.00"}],
        }
    )
    req = PricingRequest.from_order(order, customer="100042")
    assert (req.customer, req.customer_group, req.order_date) == ("100042", "reseller", DAY)
    result = rules(group(apply_as="allowance"), volume(), surcharge("f", amount="2")).price(req)
    priced = result.line("7")
    invoice_line = InvoiceLine(
        line_id="7",
        sku="X",
        name="Item",
        quantity=D(100),
        unit_price=D("10.00"),
        tax_category=TaxCategory.STANDARD,
        tax_rate=D(19),
    )
    updated = priced.apply_to(invoice_line)
    assert updated.unit_price == D("9.00")
    assert updated.net_amount_in("EUR") == priced.net_amount == D("812.00")
    assert [t.rule for t in updated.price_rules] == [SHOP, "grp", "vol", "f"]
    assert updated.allowances[0].reason == "Customer group discount grp"


def test_requests_refuse_duplicate_line_ids() -> None:
    line = PricingLine(line_id="1", sku="X", quantity=D(1), unit_price=D(1))
    with pytest.raises(ValueError, match="appears twice"):
        PricingRequest(order_date=DAY, currency="EUR", lines=(line, line))


# --------------------------------------------------------------------------- rule files


def write(tmp_path: Path, text: str, name: str = "pricing.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


HEAD = "rules:\n  - name: acme\n    type: contract\n    customers: ['100042']\n"


@pytest.mark.parametrize(
    ("body", "where", "words"),
    [
        (
            HEAD + "    currency: EUR\n    priority: 1\n    prices:\n"
            "      - {sku: A, price: 1.23456}\n",
            ":8:25:",
            "rule 'acme': prices[0].price: decimal input should have no more than 4 decimal",
        ),
        (
            HEAD + "    currency: EUR\n    priority: 1\n    prices:\n"
            "      - {sku: A, price: 1, min_quanity: 5}\n",
            ":8:28:",
            "prices[0].min_quanity: unknown field; did you mean 'min_quantity'?",
        ),
        (
            HEAD + "    currency: EUR\n    prices: [{sku: A, price: 1}]\n",
            ":2:5:",
            "rule 'acme': priority: is required",
        ),
        (
            HEAD + "    currency: EUR\n    priority: 1\n    stacking: stack\n"
            "    prices: [{sku: A, price: 1}]\n",
            ":7:15:",
            "price rules cannot stack",
        ),
        (
            HEAD + "    currency: EUR\n    priority: 1\n    valid_from: 2026-02-01\n"
            "    valid_to: 2026-01-31\n    prices: [{sku: A, price: 1}]\n",
            ":8:15:",
            "valid_to 2026-01-31 is before valid_from 2026-02-01",
        ),
        (
            HEAD + "    currency: EUR\n    priority: 1\n    prices: [{sku: A, price: -1}]\n",
            ":7:30:",
            "prices[0].price: input should be greater than or equal to 0",
        ),
        (
            HEAD + "    currency: EURO\n    priority: 1\n    prices: [{sku: A, price: 1}]\n",
            ":5:15:",
            "currency: 'EURO' is not an ISO 4217 currency code",
        ),
        (
            "rules:\n  - name: t\n    type: tier_prise\n    priority: 1\n",
            ":3:11:",
            "rule 't': type: unknown rule type 'tier_prise'; did you mean 'tier_price'?",
        ),
        (
            "rules:\n  - name: t\n    priority: 1\n",
            ":2:5:",
            "rule 't': a rule needs a `type`",
        ),
        (
            (
                "rules:\n  - name: od\n    type: order_discount\n    currency: JPY\n"
                "    priority: 1\n    thresholds:\n      - {min_value: 100.5, percent: 2}\n"
            ),
            ":7:21:",
            "thresholds[0].min_value: min_value has more than 0 decimals (JPY)",
        ),
        (
            (
                "rules:\n  - name: od\n    type: order_discount\n    currency: EUR\n"
                "    priority: 1\n    thresholds:\n"
                "      - {min_value: 100, percent: 2, amount: 3}\n"
            ),
            ":7:9:",
            "thresholds[0]: give either `percent` or `amount`",
        ),
        (
            "rules:\n  - name: g\n    type: group_discount\n    priority: 1\n    percent: 101\n",
            ":5:14:",
            "percent: input should be less than or equal to 100",
        ),
        (
            "rules:\n  - name: g\n    type: group_discount\n    priority: 1\n    percent: 5\n",
            ":2:5:",
            "customer_groups: a group discount needs `customer_groups`",
        ),
        (
            (
                "rules:\n  - name: s\n    type: surcharge\n    scope: document\n    priority: 1\n"
                "    amount: 5\n"
            ),
            ":2:5:",
            "currency: a currency is required with `amount` or `below`",
        ),
        (
            (
                "rules:\n  - name: s\n    type: surcharge\n    scope: document\n    priority: 1\n"
                "    percent: 5\n    blocks: [price]\n"
            ),
            ":7:14:",
            "blocks[0]: a document_charge rule can only block later kinds",
        ),
        (
            (
                "rules:\n  - name: shop\n    type: surcharge\n    scope: line\n    priority: 1\n"
                "    percent: 5\n"
            ),
            ":2:11:",
            "the name 'shop' is reserved",
        ),
        (
            (
                "rules:\n  - name: v\n    type: volume_discount\n    priority: 1\n    tiers:\n"
                "      - {min_quantity: 10, percent: 5}\n      - {min_quantity: 10, percent: 6}\n"
            ),
            ":7:24:",
            "tiers[1].min_quantity: min_quantity 10 must be greater than the previous one (10)",
        ),
        ("rules:\n  - just text\n", ":2:5:", "rules[0]: a rule should be a mapping"),
        ("rules: {}\n", ":1:8:", "rules: should be a list of rules"),
        ("rule: []\n", ":1:1:", "unknown key 'rule'; a rule file has `rules:`"),
        ("- 1\n", ":1:1:", "a rule file is a mapping with a `rules:` list"),
    ],
)
def test_rule_file_mistakes_are_located(tmp_path: Path, body: str, where: str, words: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(PricingRulesError) as info:
        PricingRules.load(path)
    message = str(info.value)
    assert f"{path}{where}" in message, message
    assert words in message, message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    body = (
        "rules:\n"
        "  - {name: a, type: group_discount, customer_groups: [x], priority: 1, percent: 0}\n"
        "  - {name: b, type: group_discount, customer_groups: [x], priority: 1, percnt: 5}\n"
    )
    with pytest.raises(PricingRulesError) as info:
        PricingRules.load(write(tmp_path, body))
    assert [i.rule for i in info.value.issues] == ["a", "b", "b"]
    assert len(str(info.value).splitlines()) == 3


def test_mixed_stacking_at_one_priority_is_refused(tmp_path: Path) -> None:
    first = "rules:\n  - {name: a, type: group_discount, customer_groups: [x], priority: 5,\n"
    first += "     percent: 1, stacking: best}\n"
    second = "rules:\n  - {name: b, type: volume_discount, priority: 5,\n"
    second += "     tiers: [{min_quantity: 1, percent: 2}]}\n"
    write(tmp_path, first, "10-groups.yaml")
    write(tmp_path, second, "20-volume.yml")
    with pytest.raises(PricingRulesError) as info:
        PricingRules.load(tmp_path)
    message = str(info.value)
    assert f"{tmp_path / '20-volume.yml'}:2:48: rule 'b': priority: stacking 'stack'" in message
    assert f"'best' of rule 'a' ({tmp_path / '10-groups.yaml'}:2:5)" in message


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    body = "rules:\n  - {name: a, type: group_discount, customer_groups: [x], priority: 5,\n"
    body += "     percent: 1}\n"
    write(tmp_path, body, "b.yaml")
    write(tmp_path, body.replace("priority: 5", "priority: 6"), "a.yaml")
    write(tmp_path, "not: [rules", "ignored.txt")
    with pytest.raises(PricingRulesError) as info:
        PricingRules.load(tmp_path)
    assert str(info.value) == (
        f"{tmp_path / 'b.yaml'}:2:12: rule 'a': name: duplicate rule name; "
        f"first defined at {tmp_path / 'a.yaml'}:2:5"
    )


def test_directory_and_files_load_together(tmp_path: Path) -> None:
    write(
        tmp_path,
        "rules:\n  - {name: one, type: group_discount, customer_groups: [x],\n"
        "     priority: 1, percent: 1}\n",
        "one.yaml",
    )
    other = tmp_path / "more"
    other.mkdir()
    write(other, "# nothing yet\n", "empty.yaml")
    write(
        other,
        "rules:\n  - {name: two, type: surcharge, scope: line, priority: 1,\n     percent: 1}\n",
        "two.yaml",
    )
    priced = PricingRules.load([tmp_path, str(other / "two.yaml")])
    assert [r.name for r in priced.rules] == ["one", "two"]


def test_yaml_syntax_errors_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match=r"pricing\.yaml:3:1: YAML syntax error"):
        PricingRules.load(write(tmp_path, "rules:\n  - {name: [\n"))
    with pytest.raises(SourceFileError, match="file not found"):
        PricingRules.load(tmp_path / "nope.yaml")


def test_rules_in_code_are_checked_too() -> None:
    with pytest.raises(PricingRulesError, match="a contract needs `customers`"):
        rules(contract(customers=[]))
    with pytest.raises(PricingRulesError, match="duplicate rule name"):
        rules(volume(), volume())


def test_numbers_in_yaml_are_exact(tmp_path: Path) -> None:
    body = (
        "rules:\n  - name: acme\n    type: contract\n    customers: [100042]\n"
        "    currency: EUR\n    priority: 1\n    prices:\n      - {sku: 4711, price: 0.1}\n"
    )
    priced = PricingRules.load(write(tmp_path, body))
    result = priced.price(request(("4711", 3, "9")))
    assert result.line("1").unit_price == D("0.1")
    assert result.line("1").line_amount == D("0.30")


def test_invalid_rules_in_code_raise_the_same_error() -> None:
    with pytest.raises(PricingRulesError, match=r"<rules>\[0\]: rule 'v': tiers: "):
        rules(volume("v", tiers=[]))


def test_the_explanation_in_the_docs_is_what_the_engine_says() -> None:
    docs = (ROOT / "docs" / "pricing.md").read_text(encoding="utf-8")
    start = docs.index("```\nPricing for customer 100042") + len("```\n")
    shown = docs[start : docs.index("```", start)].splitlines()
    req = request(
        ("GLV-NITRILE-M", 120, "22.90"),
        ("DISP-SOAP-1L", 30, "7.49"),
        ("CHEM-DESINF-5L", 10, "27.00"),
        ("PAPER-TOWEL", 3, "4.1234"),
        group="wholesale",
    )
    assert explain(PricingRules.load(EXAMPLE).price(req)) == shown
