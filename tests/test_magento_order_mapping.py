"""The bundled Magento order mapping against every Magento order sample, to the cent."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from hub.canonical import Order
from hub.errors import ControlTotalError, MappingApplyError
from hub.mapping import CompiledMapping
from tests.conftest import FIXTURES, SAMPLES, SHARED, read_json

SAMPLE_FILES = sorted(SAMPLES.glob("*.json"))


def magento_totals(doc: dict) -> dict[str, Decimal]:
    """Magento's own figures, as the shop states them (not recomputed)."""
    fees = sum(
        (
            Decimal(f["custom_fee_amount"])
            for f in (doc.get("extension_attributes") or {}).get("custom_fees", [])
        ),
        Decimal(0),
    )
    hidden = Decimal(doc.get("discount_tax_compensation_amount", 0)) + Decimal(
        doc.get("shipping_discount_tax_compensation_amount", 0)
    )
    return {
        "subtotal": Decimal(doc["subtotal"]),
        "discount": -(Decimal(doc.get("discount_amount", 0)) + hidden),
        "shipping": Decimal(doc.get("shipping_amount", 0)),
        "fees": fees,
        "tax": Decimal(doc["tax_amount"]),
        "grand_total": Decimal(doc["grand_total"]),
    }


def test_there_are_samples() -> None:
    assert len(SAMPLE_FILES) >= 6


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_sample_maps_to_the_cent(path: Path, magento_order_mapping: CompiledMapping) -> None:
    source = read_json(path)
    result = magento_order_mapping.apply(source, on_mismatch="reject")
    order = result.document
    assert isinstance(order, Order)
    assert not result.discrepancies
    expected = magento_totals(source)
    totals = order.totals
    assert totals.line_total == expected["subtotal"]
    assert totals.discount_total == expected["discount"]
    assert totals.shipping_total == expected["shipping"]
    assert totals.charge_total == expected["fees"]
    assert totals.tax_total == expected["tax"]
    assert totals.grand_total == expected["grand_total"]
    assert order.currency == source["order_currency_code"]
    assert order.order_number == source["increment_id"]
    # the sum over lines is the subtotal: no parent/child item is counted twice
    assert sum(line.line_amount or 0 for line in order.lines) == expected["subtotal"]
    assert result.mapping_version.startswith("1+sha256:")


def test_configurable_and_bundle_children_are_not_lines(
    magento_order_mapping: CompiledMapping,
) -> None:
    order = magento_order_mapping.apply(read_json(SAMPLES / "order-3-full.json")).document
    assert isinstance(order, Order)
    skus = [line.sku for line in order.lines]
    assert skus.count("MH01-S-Gray") == 1  # configurable parent only
    assert "24-WG082-blue" not in skus  # bundle child
    assert len(order.lines) == 4


def test_multicurrency_keeps_order_currency_and_rate(
    magento_order_mapping: CompiledMapping,
) -> None:
    source = read_json(SAMPLES / "order-multicurrency-bundle.json")
    order = magento_order_mapping.apply(source).document
    assert isinstance(order, Order)
    assert order.currency == source["order_currency_code"] != source["base_currency_code"]
    assert order.accounting_currency == source["base_currency_code"]
    assert order.exchange_rate == Decimal(str(source["base_to_order_rate"]))


def test_zero_decimal_currency(magento_order_mapping: CompiledMapping) -> None:
    order = magento_order_mapping.apply(read_json(SAMPLES / "order-jpy.json")).document
    assert isinstance(order, Order)
    assert order.currency == "JPY"
    assert order.totals.grand_total == order.totals.grand_total.to_integral_value()


def test_tax_inclusive_discount_is_net(magento_order_mapping: CompiledMapping) -> None:
    source = read_json(SAMPLES / "order-gb-tax-inclusive.json")
    order = magento_order_mapping.apply(source).document
    assert isinstance(order, Order)
    for line, item in zip(
        order.lines, [i for i in source["items"] if not i.get("parent_item_id")], strict=True
    ):
        gross = Decimal(item.get("discount_amount", 0))
        hidden = Decimal(item.get("discount_tax_compensation_amount", 0))
        assert line.discount_amount == gross - hidden


def test_surcharge_in_extension_attributes_becomes_a_charge(
    magento_order_mapping: CompiledMapping,
) -> None:
    order = magento_order_mapping.apply(read_json(SAMPLES / "order-custom-fee.json")).document
    assert isinstance(order, Order)
    assert [c.code for c in order.charges] == ["small_order_fee"]
    assert order.totals.charge_total == Decimal("4.95")


def test_grand_total_leaving_out_surcharge_is_a_discrepancy(
    magento_order_mapping: CompiledMapping,
) -> None:
    source = read_json(FIXTURES / "magento" / "broken" / "grand-total-omits-surcharge.json")
    with pytest.raises(ControlTotalError) as info:
        magento_order_mapping.apply(source, on_mismatch="reject")
    messages = [i.message for i in info.value.issues]
    assert any("totals.grand_total" in m for m in messages)
    grand = next(m for m in messages if "totals.grand_total" in m)
    mapped = Decimal(source["grand_total"]) + Decimal("4.95")
    assert str(mapped) in grand and str(source["grand_total"]) in grand
    assert "+4.95" in grand

    flagged = magento_order_mapping.apply(source, on_mismatch="flag")
    assert flagged.flagged
    (disc,) = [d for d in flagged.discrepancies if d.field == "totals.grand_total"]
    assert disc.mapped == mapped
    assert disc.expected == Decimal(source["grand_total"])
    assert disc.difference == Decimal("4.95")


def test_official_docs_order_with_cut_item_list_is_a_discrepancy(
    magento_order_mapping: CompiledMapping,
) -> None:
    """Adobe's docs sample keeps one of nine items but the full totals: it must not pass."""
    source = read_json(FIXTURES / "magento" / "official" / "orders-get-by-id.response.json")
    with pytest.raises(ControlTotalError) as info:
        magento_order_mapping.apply(source)
    fields = {i.field for i in info.value.issues}
    assert {"totals.line_total", "totals.grand_total"} <= fields
    text = str(info.value)
    assert "22.00" in text and "160" in text


@pytest.mark.shared
def test_shared_official_order_matches_the_copy() -> None:
    shared = SHARED / "fixtures" / "magento" / "rest" / "orders-get-by-id.response.json"
    if not shared.exists():
        pytest.skip("../shared is not beside this checkout")
    copy = FIXTURES / "magento" / "official" / "orders-get-by-id.response.json"
    assert copy.read_bytes() == shared.read_bytes()


@pytest.mark.parametrize(
    ("fixture", "field", "source"),
    [
        ("no-items.json", "lines", "items"),
        ("no-currency.json", "currency", "order_currency_code"),
    ],
)
def test_missing_required_field_names_field_and_source(
    fixture: str, field: str, source: str, magento_order_mapping: CompiledMapping
) -> None:
    doc = read_json(FIXTURES / "magento" / "broken" / fixture)
    with pytest.raises(MappingApplyError) as info:
        magento_order_mapping.apply(doc)
    issue = next(i for i in info.value.issues if i.field == field)
    assert issue.source == source
    assert "order.inbound.yaml:" in issue.where


def test_explain_says_where_each_value_came_from(magento_order_mapping: CompiledMapping) -> None:
    result = magento_order_mapping.apply(read_json(SAMPLES / "order-eu-b2b-vat.json"), explain=True)
    by_field = {e.field: e for e in result.explain}
    assert by_field["currency"].source == "order_currency_code"
    assert by_field["currency"].transforms == ["required", "currency"]
    qty = by_field["lines[0].quantity"]
    assert qty.source.startswith("items[") and qty.source.endswith("].qty_ordered")
    assert qty.location.startswith(str(magento_order_mapping.file))
