"""Properties of the pricing engine over random rule sets and orders.

Money is drawn as whole minor units (or 1/10000 for unit prices), never as floats.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub import money
from hub.canonical.common import TaxCategory
from hub.canonical.invoice import InvoiceLine
from hub.invoicing.pricing import (
    LineResult,
    PricingLine,
    PricingRequest,
    PricingResult,
    PricingRules,
    explain,
)
from hub.invoicing.pricing_rules import SHOP

D = Decimal
PLACES = {"EUR": 2, "JPY": 0, "KWD": 3}
SKUS = ["A", "B", "GLV-M", "GLV-L"]
PATTERNS = [*SKUS, "GLV-*"]
CUSTOMERS = ["c1", "c2"]
GROUPS = ["g1", "g2"]
START = date(2026, 1, 1)
PRICE_KINDS = {"contract", "tier_price"}

prices = st.integers(0, 10**7).map(lambda n: D(n).scaleb(-4))
percents = st.integers(1, 10_000).map(lambda n: D(n).scaleb(-2))
days = st.integers(0, 90).map(lambda n: START + timedelta(days=n))
steps = st.lists(st.sampled_from([0, 1, 10, 50, 100]), min_size=1, max_size=3, unique=True).map(
    sorted
)


def amounts(currency: str, high: int = 10**6) -> st.SearchStrategy[Decimal]:
    return st.integers(0, high).map(lambda n: D(n).scaleb(-PLACES[currency]))


@st.composite
def quantities(draw: st.DrawFn) -> Decimal:
    places = draw(st.integers(0, 3))
    return D(draw(st.integers(1, 300 * 10**places))).scaleb(-places)


def kind_of(rule: dict[str, Any]) -> str:
    if rule["type"] in PRICE_KINDS:
        return "price"
    if rule["type"] == "surcharge":
        return f"{rule['scope']}_charge"
    return rule["type"]  # volume and group discounts share a kind: see below


def level_key(rule: dict[str, Any]) -> tuple[str, int]:
    kind = kind_of(rule)
    if kind in ("volume_discount", "group_discount"):
        kind = "line_discount"
    return kind, rule["priority"]


RULE_TYPES = [
    "contract",
    "tier_price",
    "volume_discount",
    "group_discount",
    "order_discount",
    "surcharge",
]


@st.composite
def rule_dicts(
    draw: st.DrawFn, currency: str, name: str, types: list[str] = RULE_TYPES
) -> dict[str, Any]:
    """One rule, as it would be written in YAML, without priority or stacking."""
    kind = draw(st.sampled_from(types))
    cur = currency if draw(st.integers(0, 4)) else draw(st.sampled_from(sorted(PLACES)))
    rule: dict[str, Any] = {"name": name, "type": kind}
    customers = draw(st.lists(st.sampled_from(CUSTOMERS), unique=True, max_size=2))
    groups = draw(st.lists(st.sampled_from(GROUPS), unique=True, max_size=2))
    if kind == "contract" and not customers and not groups:
        customers = ["c1"]
    if kind == "group_discount" and not groups:
        groups = ["g1"]
    rule |= {"customers": customers, "customer_groups": groups}
    if draw(st.booleans()):
        first = draw(days)
        rule["valid_from"] = first
        if draw(st.booleans()):
            rule["valid_to"] = first + timedelta(days=draw(st.integers(0, 60)))
    if kind == "contract":
        entries = draw(
            st.dictionaries(
                st.tuples(st.sampled_from(SKUS), st.sampled_from([0, 10, 100])),
                prices,
                min_size=1,
                max_size=4,
            )
        )
        rule["currency"] = cur
        rule["prices"] = [
            {"sku": sku, "price": price, "min_quantity": q} for (sku, q), price in entries.items()
        ]
        if draw(st.booleans()):
            rule["blocks"] = draw(
                st.lists(st.sampled_from(["line_discount", "line_charge"]), unique=True)
            )
    elif kind == "tier_price":
        rule["currency"] = cur
        rule["skus"] = draw(st.lists(st.sampled_from(PATTERNS), min_size=1, unique=True))
        rule["tiers"] = [{"min_quantity": q, "price": draw(prices)} for q in draw(steps)]
    elif kind in ("volume_discount", "group_discount"):
        rule["skus"] = draw(st.lists(st.sampled_from(PATTERNS), unique=True, max_size=2))
        rule["apply_as"] = draw(st.sampled_from(["price", "allowance"]))
        if kind == "volume_discount":
            rule["tiers"] = [{"min_quantity": q, "percent": draw(percents)} for q in draw(steps)]
        else:
            rule["percent"] = draw(percents)
    elif kind == "order_discount":
        rule["currency"] = cur
        values = sorted(draw(st.lists(amounts(cur, 10**5), min_size=1, max_size=3, unique=True)))
        rule["thresholds"] = [
            {"min_value": v, "percent": draw(percents)}
            if draw(st.booleans())
            else {"min_value": v, "amount": draw(amounts(cur, 10**5))}
            for v in values
        ]
        if draw(st.booleans()):
            rule["blocks"] = ["document_charge"]
    else:
        scope = draw(st.sampled_from(["line", "document"]))
        rule |= {"scope": scope, "currency": cur}
        if draw(st.booleans()):
            rule["percent"] = draw(percents)
        else:
            per_unit = scope == "line" and draw(st.booleans())
            rule["amount"] = draw(prices if per_unit else amounts(cur, 10**5))
            rule["per_unit"] = per_unit
        if draw(st.booleans()):
            rule["below"] = draw(amounts(cur, 10**5))
        if scope == "line":
            rule["skus"] = draw(st.lists(st.sampled_from(PATTERNS), unique=True, max_size=2))
    return rule


@st.composite
def rule_sets(draw: st.DrawFn, currency: str, min_priority: int = 1) -> list[dict[str, Any]]:
    """Rules with priorities and stackings; rules sharing a kind and priority share a mode."""
    count = draw(st.integers(0, 8))
    modes: dict[tuple[str, int], str] = {}
    out = []
    for i in range(count):
        rule = draw(rule_dicts(currency, f"r{i:02d}"))
        rule["priority"] = draw(st.integers(min_priority, min_priority + 3))
        key = level_key(rule)
        if key not in modes:
            choices = ["exclusive", "best"] if key[0] == "price" else ["stack", "exclusive", "best"]
            modes[key] = draw(st.sampled_from(choices))
        rule["stacking"] = modes[key]
        out.append(rule)
    return out


@st.composite
def requests(draw: st.DrawFn, currency: str) -> PricingRequest:
    count = draw(st.integers(1, 4))
    lines = tuple(
        PricingLine(
            line_id=str(i),
            sku=draw(st.sampled_from([*SKUS, "Z"])),
            quantity=draw(quantities()),
            unit_price=draw(prices),
        )
        for i in range(count)
    )
    return PricingRequest(
        customer=draw(st.sampled_from([*CUSTOMERS, "other", None])),
        customer_group=draw(st.sampled_from([*GROUPS, None])),
        order_date=draw(days),
        currency=currency,
        lines=lines,
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], PricingRequest]:
    currency = draw(st.sampled_from(sorted(PLACES)))
    return draw(rule_sets(currency)), draw(requests(currency))


def all_amounts(result: PricingResult) -> list[Decimal]:
    found = [result.line_net_total, result.allowance_total, result.charge_total, result.net_total]
    found += [a.amount for a in (*result.allowances, *result.charges)]
    for line in result.lines:
        found += [line.line_amount, line.net_amount]
        found += [a.amount for a in (*line.allowances, *line.charges)]
    return found


def places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


# --------------------------------------------------------------------------- properties


@settings(deadline=None)
@given(scenarios())
def test_never_negative_and_always_rounded(scenario: tuple[list[dict], PricingRequest]) -> None:
    items, req = scenario
    result = PricingRules.from_rules(items).price(req)
    cur = req.currency
    for amount in all_amounts(result):
        assert amount >= 0
        assert money.is_rounded(amount, cur), amount
    for line in result.lines:
        assert line.unit_price >= 0
        assert places(line.unit_price) <= 4
        assert line.applied  # at least the rule or the shop price that set the price
        assert line.applied[0].rule == line.price_rule
    text = explain(result)
    assert len(text) >= 2 + len(result.lines)


@settings(deadline=None)
@given(scenarios())
def test_the_arithmetic_adds_up(scenario: tuple[list[dict], PricingRequest]) -> None:
    items, req = scenario
    result = PricingRules.from_rules(items).price(req)
    cur = req.currency
    for line in result.lines:
        assert line.line_amount == money.round_money(line.quantity * line.unit_price, cur)
        allowances = sum((a.amount for a in line.allowances), D(0))
        charges = sum((c.amount for c in line.charges), D(0))
        assert line.net_amount == line.line_amount - allowances + charges
        assert allowances <= line.line_amount
        invoice_line = InvoiceLine(
            line_id=line.line_id,
            sku=line.sku,
            name=line.sku,
            quantity=line.quantity,
            unit_price=D(1),
            tax_category=TaxCategory.STANDARD,
            tax_rate=D(19),
        )
        assert line.apply_to(invoice_line).net_amount_in(cur) == line.net_amount
    assert result.line_net_total == sum((line.net_amount for line in result.lines), D(0))
    assert result.allowance_total == sum((a.amount for a in result.allowances), D(0))
    assert result.allowance_total <= result.line_net_total
    assert result.charge_total == sum((c.amount for c in result.charges), D(0))
    assert result.net_total == (
        result.line_net_total - result.allowance_total + result.charge_total
    )


@settings(deadline=None)
@given(scenarios(), st.data())
def test_rules_that_match_nothing_leave_shop_prices_unchanged(
    scenario: tuple[list[dict], PricingRequest], data: st.DataObject
) -> None:
    items, req = scenario
    for rule in items:
        how = data.draw(st.sampled_from(["party", "past", "future"]))
        if how == "party":
            rule |= {"customers": ["nobody"], "customer_groups": ["nobody-group"]}
        elif how == "past":
            rule |= {"valid_from": None, "valid_to": date(2025, 12, 31)}
        else:
            rule |= {"valid_from": date(2027, 1, 1), "valid_to": None}
    result = PricingRules.from_rules(items).price(req)
    for asked, line in zip(req.lines, result.lines, strict=True):
        assert line.unit_price == asked.unit_price
        assert line.price_rule == SHOP
        assert [a.rule for a in line.applied] == [SHOP]
        assert line.allowances == line.charges == line.skipped == ()
        assert line.net_amount == money.round_money(asked.quantity * asked.unit_price, req.currency)
    assert result.allowances == result.charges == ()
    assert result.net_total == result.line_net_total


@settings(deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_the_order_rules_are_written_in_does_not_matter(
    scenario: tuple[list[dict], PricingRequest], rnd: Any
) -> None:
    items, req = scenario
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert PricingRules.from_rules(items).price(req) == PricingRules.from_rules(shuffled).price(req)


@st.composite
def stacked(draw: st.DrawFn) -> tuple[list[dict[str, Any]], PricingRequest]:
    """Stacking rules only, small enough never to reach a cap (at most 4 × 20 %)."""
    currency = draw(st.sampled_from(sorted(PLACES)))
    req = draw(requests(currency))
    small = st.integers(1, 2000).map(lambda n: D(n).scaleb(-2))
    items: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 4))):
        items.append(
            {
                "name": f"d{i}",
                "type": "volume_discount",
                "tiers": [{"min_quantity": 0, "percent": draw(small)}],
                "apply_as": draw(st.sampled_from(["price", "allowance"])),
            }
        )
    for i in range(draw(st.integers(0, 3))):
        charge: dict[str, Any] = {"name": f"c{i}", "type": "surcharge", "currency": currency}
        charge["scope"] = draw(st.sampled_from(["line", "document"]))
        if draw(st.booleans()):
            charge["percent"] = draw(small)
        else:
            charge["amount"] = draw(amounts(currency, 10**4))
        items.append(charge)
    for i in range(draw(st.integers(0, 3))):
        items.append(
            {
                "name": f"o{i}",
                "type": "order_discount",
                "currency": currency,
                "thresholds": [{"min_value": 0, "percent": draw(small)}],
            }
        )
    return items, req


def by_rule(charges: Any) -> dict[str, Decimal]:
    return {c.rule: c.amount for c in charges}


def essentials(line: LineResult) -> tuple[Any, ...]:
    return (
        line.unit_price,
        line.line_amount,
        line.net_amount,
        by_rule(line.allowances),
        by_rule(line.charges),
    )


@settings(deadline=None)
@given(stacked(), st.data())
def test_stacked_rules_give_the_same_result_in_any_priority_order(
    scenario: tuple[list[dict], PricingRequest], data: st.DataObject
) -> None:
    items, req = scenario
    first = [rule | {"priority": i, "stacking": "stack"} for i, rule in enumerate(items)]
    order = data.draw(st.permutations(range(len(items))))
    second = [
        rule | {"priority": p, "stacking": "stack"} for rule, p in zip(items, order, strict=True)
    ]
    one = PricingRules.from_rules(first).price(req)
    two = PricingRules.from_rules(second).price(req)
    for a, b in zip(one.lines, two.lines, strict=True):
        assert essentials(a) == essentials(b)
    assert by_rule(one.allowances) == by_rule(two.allowances)
    assert by_rule(one.charges) == by_rule(two.charges)
    assert one.net_total == two.net_total


@settings(deadline=None)
@given(scenarios(), prices, st.data())
def test_an_exclusive_higher_priority_price_is_never_exceeded(
    scenario: tuple[list[dict], PricingRequest], price: Decimal, data: st.DataObject
) -> None:
    items, req = scenario
    sku = data.draw(st.sampled_from([line.sku for line in req.lines]))
    override: dict[str, Any] = {
        "name": "override",
        "type": "contract",
        "priority": 0,  # the generated rules have priorities from 1
        "stacking": "exclusive",
        "currency": req.currency,
        "prices": [{"sku": sku, "price": price}],
    }
    if req.customer is not None:
        override["customers"] = [req.customer]
    else:
        override["customer_groups"] = [req.customer_group or "g1"]
        req = req.model_copy(update={"customer_group": req.customer_group or "g1"})
    result = PricingRules.from_rules([*items, override]).price(req)
    for line in result.lines:
        if line.sku == sku:
            assert line.price_rule == "override"
            assert line.unit_price <= price


@st.composite
def competitors(draw: st.DrawFn) -> tuple[list[dict[str, Any]], PricingRequest]:
    currency = draw(st.sampled_from(sorted(PLACES)))
    req = draw(requests(currency))
    items: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 5))):
        rule = draw(rule_dicts(currency, f"p{i}", sorted(PRICE_KINDS)))
        rule |= {"priority": 1, "stacking": "best", "blocks": []}
        items.append(rule)
    return items, req


@settings(deadline=None)
@given(competitors())
def test_best_is_the_cheapest_competitor_ties_by_name(
    scenario: tuple[list[dict], PricingRequest],
) -> None:
    items, req = scenario
    together = PricingRules.from_rules(items).price(req)
    alone = [PricingRules.from_rules([rule]).price(req) for rule in items]
    for i, line in enumerate(together.lines):
        offers = sorted(
            (result.lines[i].unit_price, result.lines[i].price_rule)
            for result in alone
            if result.lines[i].price_rule != SHOP
        )
        if not offers:
            assert line.price_rule == SHOP
            continue
        assert (line.unit_price, line.price_rule) == offers[0]
        losers = {name for _, name in offers[1:]}
        assert {s.rule for s in line.skipped} == losers


@settings(deadline=None)
@given(scenarios())
def test_pricing_is_deterministic(scenario: tuple[list[dict], PricingRequest]) -> None:
    items, req = scenario
    rules = PricingRules.from_rules(items)
    assert rules.price(req) == rules.price(req)
    assert explain(rules.price(req)) == explain(rules.price(req))


def test_the_strategies_reach_every_rule_kind() -> None:
    """The random rule sets cover all six types (a guard against a silently narrow draw)."""
    seen: set[str] = set()

    @settings(max_examples=200, deadline=None)
    @given(scenarios())
    def collect(scenario: tuple[list[dict], PricingRequest]) -> None:
        seen.update(rule["type"] for rule in scenario[0])

    collect()
    assert seen == set(RULE_TYPES)


@st.composite
def heavy(draw: st.DrawFn) -> tuple[list[dict[str, Any]], PricingRequest]:
    """Discounts that add up to more than 100 %, and order discounts above the order value."""
    currency = draw(st.sampled_from(sorted(PLACES)))
    req = draw(requests(currency))
    big = st.integers(3000, 10_000).map(lambda n: D(n).scaleb(-2))
    items: list[dict[str, Any]] = [
        {
            "name": f"d{i}",
            "type": "volume_discount",
            "priority": draw(st.integers(0, 2)),
            "stacking": "stack",
            "tiers": [{"min_quantity": 0, "percent": draw(big)}],
            "apply_as": draw(st.sampled_from(["price", "allowance"])),
        }
        for i in range(draw(st.integers(2, 5)))
    ]
    items += [
        {
            "name": f"o{i}",
            "type": "order_discount",
            "priority": 0,
            "currency": currency,
            "thresholds": [
                {"min_value": 0, "percent": draw(big)}
                if draw(st.booleans())
                else {"min_value": 0, "amount": draw(amounts(currency, 10**8))}
            ],
        }
        for i in range(draw(st.integers(0, 4)))
    ]
    return items, req


@settings(deadline=None)
@given(heavy())
def test_caps_keep_everything_at_zero_or_above(
    scenario: tuple[list[dict], PricingRequest],
) -> None:
    items, req = scenario
    result = PricingRules.from_rules(items).price(req)
    for amount in all_amounts(result):
        assert amount >= 0
    for line in result.lines:
        assert line.unit_price >= 0
        assert sum((a.amount for a in line.allowances), D(0)) <= line.line_amount
    assert result.allowance_total <= result.line_net_total
