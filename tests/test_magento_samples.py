"""The Magento 2 order samples obey Magento's own arithmetic, to the currency's minor unit.

Every file in ``mappings/magento/samples`` is a complete ``GET /V1/orders/{id}`` response.
The tests here check the identities Magento's totals collectors guarantee (row totals,
subtotal, tax, discount, grand total, total due, in order and in base currency), that the
broken fixtures in ``tests/fixtures/magento/broken`` break exactly what they are meant to
break, and that ``order-3-full.json`` agrees with the two official documentation samples
copied into ``tests/fixtures/magento/official``.

``TestAgainstSwagger`` reads the official Adobe Commerce 2.4.8 Swagger schema from ../shared
(a test reference the project does not ship) and is skipped without it. Everything else needs
only files in this repository.

JSON is parsed with ``parse_float=Decimal``: no money value is ever a float here.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from iso4217 import Currency

REPO = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO / "mappings" / "magento" / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "magento"
BROKEN_DIR = FIXTURES / "broken"
OFFICIAL_DIR = FIXTURES / "official"
SWAGGER = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "fixtures"
    / "magento"
    / "openapi"
    / "admin-schema-2.4.8.yaml"
)

EXPECTED_SAMPLES = {
    "order-3-full.json",
    "order-eu-b2b-vat.json",
    "order-multicurrency-bundle.json",
    "order-gb-tax-inclusive.json",
    "order-custom-fee.json",
    "order-jpy.json",
}
SAMPLES = sorted(SAMPLES_DIR.glob("*.json"))
BROKEN = sorted(BROKEN_DIR.glob("*.json"))
ZERO = Decimal(0)

# Magento truncates a few column names; the base twin of this order field is one of them.
BASE_KEY = {
    "shipping_discount_tax_compensation_amount": "base_shipping_discount_tax_compensation_amnt",
}

# Keys that hold money (checked against the currency's minor unit); quantities, rates,
# percentages, weights and counts are not money even when their names look like it.
MONEY_KEY = re.compile(
    r"(amount|amnt|price|price_incl_tax|row_total|row_total_incl_tax|subtotal|"
    r"subtotal_incl_tax|grand_total|total_due|shipping_incl_tax|invoiced|refunded|"
    r"canceled|paid|amount_ordered|cost)$"
)
NOT_MONEY = ("qty", "rate", "percent", "weight", "count")


def load(path: Path) -> dict[str, Any]:
    """A Magento JSON document with every non-integer number as a Decimal."""
    doc = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    assert isinstance(doc, dict), f"{path.name}: not a JSON object"
    return doc


def dec(value: Any) -> Decimal:
    """A JSON number (int or Decimal) as a Decimal; anything else is an error."""
    assert isinstance(value, int | Decimal), f"not a JSON number: {value!r}"
    assert not isinstance(value, bool), f"not a JSON number: {value!r}"
    return Decimal(value)


def quantum(currency: str) -> Decimal:
    """The currency's minor unit: 0.01 for EUR, 1 for JPY (ISO 4217 exponent)."""
    exponent = Currency(currency).exponent
    assert exponent is not None, f"{currency} has no minor unit"
    return Decimal(1).scaleb(-exponent)


def to_minor(value: Decimal, currency: str) -> Decimal:
    """Round like Magento (PHP ``round``: half away from zero) to the minor unit."""
    return value.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def children_of(items: list[dict[str, Any]], parent: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in items if item.get("parent_item_id") == parent["item_id"]]


def is_dynamic_bundle_parent(item: dict[str, Any], items: list[dict[str, Any]]) -> bool:
    """A bundle parent whose children carry prices (price type "dynamic")."""
    return item.get("product_type") == "bundle" and any(
        dec(child.get("price", 0)) != 0 for child in children_of(items, item)
    )


def price_bearing(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The order items whose amounts make up the order totals.

    Magento stores a composite product as one parent row plus child rows (linked by
    ``parent_item_id``; each child also embeds a copy of its ``parent_item``), and only one
    side of the pair carries the money:

    * configurable product: the parent row carries price, row total, tax and discount; the
      child row (the simple product actually chosen) has price 0 and row total 0. Children
      of a configurable are therefore not price-bearing.
    * dynamic-price bundle: every child row carries its own price, row total, tax and
      discount; the parent row repeats their sums (Magento's
      ``TaxCalculation::calculateParent``), and Magento leaves it out of the subtotal to
      avoid double counting. The parent of a dynamic bundle is therefore not price-bearing.
      A bundle is dynamic when at least one child has a non-zero price. A fixed-price bundle
      keeps the price on the parent and its children are priced 0, so they add nothing.
    * everything else (simple, virtual, downloadable, gift card, a fixed bundle's parent)
      carries its own price.

    This is the one place the rule lives; every identity below sums over these items only.
    """
    by_id = {item["item_id"]: item for item in items}
    bearing = []
    for item in items:
        parent = by_id.get(item.get("parent_item_id"))
        if parent is not None and parent.get("product_type") == "configurable":
            continue
        if is_dynamic_bundle_parent(item, items):
            continue
        bearing.append(item)
    return bearing


class _Side:
    """Reads the order-currency (prefix "") or base-currency (prefix "base_") amounts."""

    def __init__(self, prefix: str, currency: str) -> None:
        self.prefix = prefix
        self.currency = currency

    def get(self, obj: dict[str, Any], name: str, *, default: Decimal | None = None) -> Decimal:
        key = BASE_KEY.get(name, self.prefix + name) if self.prefix else name
        if key not in obj:
            assert default is not None, f"missing {key}"
            return default
        return dec(obj[key])

    def total(self, rows: list[dict[str, Any]], name: str) -> Decimal:
        return sum((self.get(row, name, default=ZERO) for row in rows), ZERO)

    def money(self, value: Decimal) -> Decimal:
        return to_minor(value, self.currency)


def custom_fees(order: dict[str, Any]) -> list[dict[str, Any]]:
    fees = order.get("extension_attributes", {}).get("custom_fees", [])
    assert isinstance(fees, list)
    return fees


def identity_failures(order: dict[str, Any]) -> list[tuple[str, str]]:
    """Every Magento identity the order breaks, as (identity name, explanation) pairs.

    Identity names carry the "base_" prefix when the base-currency twin is the one broken.
    """
    failures: list[tuple[str, str]] = []
    items = order["items"]
    bearing = price_bearing(items)
    fees = custom_fees(order)
    rate = dec(order["base_to_order_rate"])
    order_side = _Side("", order["order_currency_code"])
    base_side = _Side("base_", order["base_currency_code"])

    def expect(side: _Side, name: str, actual: Decimal, expected: Decimal, where: str = "") -> None:
        if actual != expected:
            failures.append(
                (side.prefix + name, f"{side.prefix}{name}{where}: {actual} != {expected}")
            )

    for side in (order_side, base_side):
        get = side.get
        for item in bearing:
            where = f" (item {item['item_id']} {item['sku']})"
            row = side.money(get(item, "price") * dec(item["qty_ordered"]))
            expect(side, "row_total", get(item, "row_total"), row, where)

        expect(side, "subtotal", get(order, "subtotal"), side.total(bearing, "row_total"))
        if side.prefix + "subtotal_incl_tax" in order:
            expect(
                side,
                "subtotal_incl_tax",
                get(order, "subtotal_incl_tax"),
                side.total(bearing, "row_total_incl_tax"),
            )

        shipping = get(order, "shipping_amount", default=ZERO)
        shipping_tax = get(order, "shipping_tax_amount", default=ZERO)
        shipping_discount = get(order, "shipping_discount_amount", default=ZERO)
        tax = get(order, "tax_amount")
        discount = get(order, "discount_amount")
        compensation = get(order, "discount_tax_compensation_amount", default=ZERO)
        shipping_compensation = get(
            order, "shipping_discount_tax_compensation_amount", default=ZERO
        )
        fee_total = side.total(fees, "custom_fee_amount")

        expect(side, "tax_amount", tax, side.total(bearing, "tax_amount") + shipping_tax)
        expect(
            side,
            "discount_amount",
            discount,
            -(side.total(bearing, "discount_amount") + shipping_discount),
        )
        expect(
            side,
            "discount_tax_compensation_amount",
            compensation,
            side.total(bearing, "discount_tax_compensation_amount"),
        )
        grand_total = get(order, "grand_total")
        expect(
            side,
            "grand_total",
            grand_total,
            get(order, "subtotal")
            + shipping
            + tax
            + discount
            + compensation
            + shipping_compensation
            + fee_total,
        )
        if side.prefix + "total_due" in order:
            paid = get(order, "total_paid", default=ZERO)
            expect(side, "total_due", get(order, "total_due"), grand_total - paid)

        for item in items:
            where = f" (item {item['item_id']} {item['sku']})"
            if is_dynamic_bundle_parent(item, items):
                kids = children_of(items, item)
                for name in ("row_total", "tax_amount"):
                    expect(
                        side,
                        f"bundle_parent_{name}",
                        get(item, name, default=ZERO),
                        side.total(kids, name),
                        where,
                    )
            elif item not in bearing:
                for name in ("price", "row_total"):
                    expect(side, f"configurable_child_{name}", get(item, name), ZERO, where)

    # Magento converts base unit prices (not rows) into the order currency and rounds them.
    def converted(base: Decimal) -> Decimal:
        return order_side.money(base * rate)

    for item in bearing:
        where = f" (item {item['item_id']} {item['sku']})"
        expect(
            order_side, "conversion", dec(item["price"]), converted(dec(item["base_price"])), where
        )
    expect(
        order_side,
        "conversion",
        order_side.get(order, "shipping_amount", default=ZERO),
        converted(base_side.get(order, "shipping_amount", default=ZERO)),
        " (shipping)",
    )
    for fee in fees:
        expect(
            order_side,
            "conversion",
            dec(fee["custom_fee_amount"]),
            converted(dec(fee["base_custom_fee_amount"])),
            f" (fee {fee['custom_fee_code']})",
        )

    for key, value, where in money_values(order):
        side = base_side if key.startswith("base_") else order_side
        if value != side.money(value):
            failures.append(
                (side.prefix + "minor_unit", f"{where}: {value} is not whole {side.currency}")
            )
    return failures


def money_values(node: Any, where: str = "$") -> Iterator[tuple[str, Decimal, str]]:
    """Every (key, amount, JSON path) of a money field anywhere in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}"
            if isinstance(value, dict | list):
                yield from money_values(value, path)
            elif (
                isinstance(value, int | Decimal)
                and not isinstance(value, bool)
                and MONEY_KEY.search(key)
                and not any(word in key for word in NOT_MONEY)
            ):
                yield key, Decimal(value), path
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from money_values(value, f"{where}[{index}]")


def decimals_in(node: Any) -> Iterator[Any]:
    """Every scalar in the document (to look for floats and over-long decimals)."""
    if isinstance(node, dict):
        for value in node.values():
            yield from decimals_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from decimals_in(value)
    else:
        yield node


# --------------------------------------------------------------------------- the samples


def test_every_expected_sample_is_there() -> None:
    assert {path.name for path in SAMPLES} == EXPECTED_SAMPLES


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.stem)
def test_sample_obeys_magento_identities(path: Path) -> None:
    order = load(path)
    assert identity_failures(order) == []


@pytest.mark.parametrize("path", SAMPLES + BROKEN, ids=lambda path: path.stem)
def test_numbers_are_json_numbers_with_at_most_four_decimals(path: Path) -> None:
    for value in decimals_in(load(path)):
        assert not isinstance(value, float)
        if isinstance(value, Decimal):
            exponent = value.as_tuple().exponent
            assert isinstance(exponent, int)
            assert -exponent <= 4, value


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.stem)
def test_children_embed_their_parent(path: Path) -> None:
    items = load(path)["items"]
    by_id = {item["item_id"]: item for item in items}
    for item in items:
        if "parent_item_id" in item:
            parent = by_id[item["parent_item_id"]]
            assert item["parent_item"] == parent
            assert parent["product_type"] in {"bundle", "configurable"}


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.stem)
def test_shipping_assignment_repeats_the_items_and_shipping_totals(path: Path) -> None:
    order = load(path)
    (assignment,) = order["extension_attributes"]["shipping_assignments"]
    assert assignment["items"] == order["items"]
    for key, value in assignment["shipping"]["total"].items():
        assert order.get(key, value) == value, key


def test_the_rule_keeps_exactly_the_priced_rows_of_order_3() -> None:
    items = load(SAMPLES_DIR / "order-3-full.json")["items"]
    assert [item["sku"] for item in price_bearing(items)] == [
        "WS12-M-Orange",
        "240-LV08",
        "24-WG082-blue",
        "24-WG084",
        "24-WG086",
        "24-WG088",
        "MH01-S-Gray",
    ]
    kit = next(item for item in items if item["product_type"] == "bundle")
    hoodie = next(item for item in items if item["product_type"] == "configurable")
    assert kit not in price_bearing(items)
    assert hoodie in price_bearing(items)


def test_magento_truncated_base_column_name_is_used() -> None:
    """Magento's base twin of shipping_discount_tax_compensation_amount ends in "_amnt"."""
    order = load(SAMPLES_DIR / "order-eu-b2b-vat.json")
    assert "base_shipping_discount_tax_compensation_amnt" in order
    assert "base_shipping_discount_tax_compensation_amount" not in order


def test_eu_sample_tax_is_rounded_per_row() -> None:
    """Per-row rounding ("Row Total" method) gives a cent more than rounding the total."""
    order = load(SAMPLES_DIR / "order-eu-b2b-vat.json")
    bearing = price_bearing(order["items"])
    rate = Decimal("0.19")
    exact = sum(
        ((dec(item["row_total"]) - dec(item["discount_amount"])) * rate for item in bearing),
        ZERO,
    )
    per_row = sum((dec(item["tax_amount"]) for item in bearing), ZERO)
    assert per_row != to_minor(exact, "EUR")
    assert all(dec(item["qty_ordered"]) > 1 for item in bearing)


def test_gb_sample_compensates_discount_tax() -> None:
    order = load(SAMPLES_DIR / "order-gb-tax-inclusive.json")
    assert dec(order["discount_tax_compensation_amount"]) > 0
    assert all(dec(item["discount_tax_compensation_amount"]) > 0 for item in order["items"])
    assert all("price_incl_tax" in item and "row_total_incl_tax" in item for item in order["items"])


def test_multicurrency_sample_converts_at_the_order_rate() -> None:
    order = load(SAMPLES_DIR / "order-multicurrency-bundle.json")
    assert (order["base_currency_code"], order["order_currency_code"]) == ("USD", "EUR")
    assert dec(order["base_to_order_rate"]) != 1
    assert any(is_dynamic_bundle_parent(item, order["items"]) for item in order["items"])
    assert dec(order["tax_amount"]) == 0


def test_custom_fee_is_only_in_extension_attributes_and_in_the_grand_total() -> None:
    order = load(SAMPLES_DIR / "order-custom-fee.json")
    (fee,) = custom_fees(order)
    assert fee["custom_fee_code"] == "small_order_fee"
    assert fee["custom_fee_label"] == "Small order surcharge"
    assert dec(fee["custom_fee_amount"]) == dec(fee["base_custom_fee_amount"]) == Decimal("4.95")
    without_fee = copy.deepcopy(order)
    without_fee["extension_attributes"]["custom_fees"] = []
    assert {name for name, _ in identity_failures(without_fee)} == {
        "grand_total",
        "base_grand_total",
    }


def test_jpy_sample_is_in_whole_yen() -> None:
    order = load(SAMPLES_DIR / "order-jpy.json")
    assert order["order_currency_code"] == order["base_currency_code"] == "JPY"
    assert quantum("JPY") == 1
    for _, value, where in money_values(order):
        assert value == value.to_integral_value(), where


# --------------------------------------------------------------------------- order 3


def test_order_3_full_keeps_the_docs_header_and_restores_the_invoice_items() -> None:
    docs = load(OFFICIAL_DIR / "orders-get-by-id.response.json")
    invoice = load(OFFICIAL_DIR / "invoices-get-by-id.response.json")
    order = load(SAMPLES_DIR / "order-3-full.json")

    for key, value in docs.items():
        if key not in {"items", "extension_attributes"}:
            assert order[key] == value, key
    assert order.keys() == docs.keys()
    assert order["items"][0] == docs["items"][0]
    docs_assignment = docs["extension_attributes"]["shipping_assignments"][0]
    assignment = order["extension_attributes"]["shipping_assignments"][0]
    assert assignment["shipping"] == docs_assignment["shipping"]

    by_id = {item["item_id"]: item for item in order["items"]}
    assert len(by_id) == len(invoice["items"]) == 9
    for invoiced in invoice["items"]:
        item = by_id[invoiced["order_item_id"]]
        assert dec(item["qty_ordered"]) == dec(invoiced["qty"])
        for key in ("sku", "name", "product_id", "price", "base_price", "row_total", "tax_amount"):
            if key in invoiced:
                assert item[key] == invoiced[key], (invoiced["order_item_id"], key)
    assert dec(order["subtotal"]) == dec(invoice["subtotal"]) == 160
    assert dec(order["grand_total"]) == dec(invoice["grand_total"]) == 165


# --------------------------------------------------------------------------- broken inputs


def test_grand_total_omitting_the_surcharge_breaks_only_the_grand_total() -> None:
    broken = load(BROKEN_DIR / "grand-total-omits-surcharge.json")
    assert {name for name, _ in identity_failures(broken)} == {"grand_total", "base_grand_total"}
    (fee,) = custom_fees(broken)
    source = load(SAMPLES_DIR / "order-custom-fee.json")
    for key in ("grand_total", "base_grand_total"):
        fee_amount = dec(
            fee["base_custom_fee_amount" if key.startswith("base_") else "custom_fee_amount"]
        )
        assert dec(broken[key]) + fee_amount == dec(source[key])


def test_no_items_is_a_valid_order_without_items() -> None:
    broken = load(BROKEN_DIR / "no-items.json")
    assert "items" not in broken
    source = load(SAMPLES_DIR / "order-eu-b2b-vat.json")
    del source["items"]
    assert broken == source


def test_no_currency_lacks_every_currency_code() -> None:
    broken = load(BROKEN_DIR / "no-currency.json")
    codes = {
        "order_currency_code",
        "base_currency_code",
        "global_currency_code",
        "store_currency_code",
    }
    assert not codes & broken.keys()
    source = load(SAMPLES_DIR / "order-multicurrency-bundle.json")
    for key in codes:
        del source[key]
    assert broken == source


def test_every_broken_fixture_is_checked() -> None:
    assert {path.name for path in BROKEN} == {
        "grand-total-omits-surcharge.json",
        "no-items.json",
        "no-currency.json",
    }


# --------------------------------------------------------------------------- Swagger


def _walk(
    value: Any, schema: dict[str, Any], definitions: dict[str, Any], where: str, *, required: bool
) -> Iterator[str]:
    """Every key or type in ``value`` that the Swagger ``schema`` does not allow."""
    while "$ref" in schema:
        schema = definitions[schema["$ref"].rsplit("/", 1)[-1]]
    if value is None:  # Magento writes null for a required field it has no value for
        return
    kind = schema.get("type", "object")
    if kind == "object":
        if not isinstance(value, dict):
            yield f"{where}: expected an object, got {value!r}"
            return
        properties = schema.get("properties")
        if properties is None:
            return
        for key, child in value.items():
            if key not in properties:
                yield f"{where}.{key}: not in the schema"
            else:
                yield from _walk(
                    child, properties[key], definitions, f"{where}.{key}", required=required
                )
        if required:
            for key in schema.get("required", []):
                if key not in value:
                    yield f"{where}.{key}: required but missing"
    elif kind == "array":
        if not isinstance(value, list):
            yield f"{where}: expected an array, got {value!r}"
            return
        for index, child in enumerate(value):
            yield from _walk(
                child, schema.get("items", {}), definitions, f"{where}[{index}]", required=required
            )
    else:
        python = {
            "integer": int,
            "number": int | Decimal,
            "string": str,
            "boolean": bool,
        }[kind]
        if not isinstance(value, python) or (
            kind in {"integer", "number"} and isinstance(value, bool)
        ):
            yield f"{where}: expected {kind}, got {value!r}"


@pytest.fixture(scope="module")
def swagger_definitions() -> dict[str, Any]:
    if not SWAGGER.is_file():
        pytest.skip(f"needs {SWAGGER} (../shared is not part of the project)")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SWAGGER.open(encoding="utf-8") as handle:
        schema = yaml.load(handle, Loader=loader)
    definitions = schema["definitions"]
    assert isinstance(definitions, dict)
    return definitions


@pytest.mark.shared
class TestAgainstSwagger:
    """Every key of every sample exists, with its type, in the 2.4.8 Swagger definitions."""

    @pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.stem)
    def test_sample_uses_only_schema_keys_and_has_the_required_ones(
        self, path: Path, swagger_definitions: dict[str, Any]
    ) -> None:
        root = swagger_definitions["sales-data-order-interface"]
        assert list(_walk(load(path), root, swagger_definitions, "$", required=True)) == []

    @pytest.mark.parametrize(
        "path",
        [*BROKEN, OFFICIAL_DIR / "orders-get-by-id.response.json"],
        ids=lambda path: path.stem,
    )
    def test_fixture_uses_only_schema_keys(
        self, path: Path, swagger_definitions: dict[str, Any]
    ) -> None:
        root = swagger_definitions["sales-data-order-interface"]
        assert list(_walk(load(path), root, swagger_definitions, "$", required=False)) == []

    def test_no_items_misses_only_the_required_items(
        self, swagger_definitions: dict[str, Any]
    ) -> None:
        root = swagger_definitions["sales-data-order-interface"]
        problems = list(
            _walk(load(BROKEN_DIR / "no-items.json"), root, swagger_definitions, "$", required=True)
        )
        assert problems == ["$.items: required but missing"]
