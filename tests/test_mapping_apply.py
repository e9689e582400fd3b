"""Applying mappings: every error located, unmapped-field policy, lists, SAP shape."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.sap.shapes import A_SalesOrder
from hub.canonical import Order
from hub.errors import MappingApplyError
from hub.mapping import CompiledMapping, load_mapping_text
from tests.conftest import SAMPLES, read_json

HEADER = "version: 1\nsystem: shop\nkind: order\ndirection: inbound\n"
FIELDS = """
fields:
  order_number: number
  order_date: {from: at, transforms: [datetime]}
  currency: {from: cur, transforms: [currency]}
  buyer: {fields: {name: who}}
  billing_address: {from: addr, fields: {city: city, country: {from: cc, transforms: [country]}}}
  lines:
    each: rows
    where: "kind != 'child'"
    fields:
      line_id: {sequence: {start: 1}, transforms: [string]}
      sku: sku
      quantity: {from: qty, transforms: [decimal]}
      unit_price: {from: price, transforms: [decimal]}
"""


def doc(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "number": "A-1",
        "at": "2026-01-02T03:04:05Z",
        "cur": "eur",
        "who": "ACME GmbH",
        "addr": {"city": "Berlin", "cc": "Germany"},
        "rows": [
            {"sku": "X", "qty": Decimal("2"), "price": Decimal("1.50"), "kind": "simple"},
            {"sku": "X", "qty": Decimal("2"), "price": Decimal("0"), "kind": "child"},
            {"sku": "Y", "qty": Decimal("1"), "price": Decimal("3.333"), "kind": "simple"},
        ],
    }
    base.update(overrides)
    return base


def mapping(policy: str = "ignore", ignore: str = "[]") -> CompiledMapping:
    unmapped = f"unmapped: {{policy: {policy}, ignore: {ignore}}}\n"
    return load_mapping_text(HEADER + unmapped + FIELDS, "t.yaml")


def test_maps_nested_lists_with_filter_and_sequence() -> None:
    result = mapping().apply(doc())
    order = result.document
    assert isinstance(order, Order)
    assert [(line.line_id, line.sku) for line in order.lines] == [("1", "X"), ("2", "Y")]
    assert order.currency == "EUR"
    assert order.billing_address.country == "DE"
    assert order.lines[1].line_amount == Decimal("3.33")  # EN 16931 rounding of qty x price
    assert order.totals.grand_total == Decimal("6.33")


def test_every_problem_in_a_document_is_reported() -> None:
    bad = doc(cur="XXX", at="yesterday", addr={"city": "Berlin", "cc": "Atlantis"})
    bad["rows"] = [{"sku": "X", "qty": "two", "price": "1"}]
    with pytest.raises(MappingApplyError) as info:
        mapping().apply(bad)
    by_field = {i.field: i for i in info.value.issues}
    assert set(by_field) == {
        "currency",
        "order_date",
        "billing_address.country",
        "lines[0].quantity",
    }
    assert by_field["lines[0].quantity"].source == "rows[0].qty"
    assert by_field["lines[0].quantity"].rule == "decimal"
    assert by_field["billing_address.country"].source == "addr.cc"
    assert by_field["currency"].where.startswith("t.yaml:")


def test_model_rule_errors_are_located_too() -> None:
    bad = doc()
    bad["rows"] = [{"sku": "X", "qty": Decimal("-1"), "price": Decimal("1"), "kind": "s"}]
    with pytest.raises(MappingApplyError) as info:
        mapping().apply(bad)
    (issue,) = info.value.issues
    assert issue.field == "lines[0].quantity"
    assert issue.source == "rows[0].qty"
    assert issue.rule == "greater_than"


def test_required_field_resolving_to_nothing_is_an_error_not_a_null() -> None:
    bad = doc()
    del bad["number"]
    with pytest.raises(MappingApplyError) as info:
        mapping().apply(bad)
    (issue,) = info.value.issues
    assert issue.field == "order_number"
    assert issue.source == "number"
    assert "required" in issue.message


def test_unmapped_report_lists_fields_not_read() -> None:
    result = mapping("report", '["rows[].kind"]').apply(
        doc(extra=1, addr={"city": "Berlin", "cc": "DE", "street": "x"})
    )
    assert sorted(result.unmapped) == ["addr.street", "extra"]


def test_unmapped_reject_is_an_error() -> None:
    with pytest.raises(MappingApplyError, match="source field extra is not mapped"):
        mapping("reject", '["rows[].kind"]').apply(doc(extra=1))


def test_unmapped_ignore_patterns() -> None:
    result = mapping("report", '["extra*", "rows[].kind"]').apply(doc(extra_a=1, extra_b=2))
    assert result.unmapped == []


def test_canonical_order_to_sap_sales_order(
    magento_order_mapping: CompiledMapping, sap_order_mapping: CompiledMapping
) -> None:
    order = magento_order_mapping.apply(read_json(SAMPLES / "order-eu-b2b-vat.json")).document
    assert isinstance(order, Order)
    result = sap_order_mapping.apply(order)
    sales_order = result.document
    assert isinstance(sales_order, A_SalesOrder)
    assert sales_order.PurchaseOrderByCustomer == order.order_number
    assert sales_order.TransactionCurrency == order.currency
    assert sales_order.SoldToParty == "1000011"  # from sold_to_party.csv
    items = sales_order.to_Item
    assert [i.SalesOrderItem for i in items] == [str(10 * (n + 1)) for n in range(len(items))]
    for item, line in zip(items, order.lines, strict=True):
        assert item.RequestedQuantity == line.quantity
        assert item.PurchaseOrderByCustomer == order.order_number
        elements = {e.ConditionType: e for e in item.to_PricingElement or []}
        assert elements["PR00"].ConditionRateValue == line.unit_price
        assert elements["PR00"].ConditionCurrency == order.currency
        if line.discount_amount:
            assert elements["RB00"].ConditionRateValue == -line.discount_amount
        else:
            assert "RB00" not in elements


def test_unknown_customer_is_a_master_data_error(
    magento_order_mapping: CompiledMapping, sap_order_mapping: CompiledMapping
) -> None:
    source = read_json(SAMPLES / "order-eu-b2b-vat.json")
    source["customer_id"] = 999999
    order = magento_order_mapping.apply(source).document
    with pytest.raises(MappingApplyError) as info:
        sap_order_mapping.apply(order)
    (issue,) = info.value.issues
    assert issue.field == "SoldToParty"
    assert "'999999' is not in lookup 'sold_to_party'" in issue.message


def test_not_an_object_is_refused() -> None:
    with pytest.raises(MappingApplyError, match="expected a JSON object"):
        mapping().apply([1, 2])  # type: ignore[arg-type]


def test_yaml_boolean_trap_is_explained() -> None:
    from hub.errors import MappingCompileError

    with pytest.raises(MappingCompileError, match="quote the expression"):
        load_mapping_text(HEADER + "fields:\n  order_number: no\n", "t.yaml")
