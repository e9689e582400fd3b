"""JMESPath source expressions over Decimal-exact JSON; compile-time checks."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.mapping.expressions import (
    Expression,
    ExpressionRuntimeError,
    ExpressionSyntaxError,
    compile_expression,
    is_truthy,
)

D = Decimal

ORDER_JSON = """
{
  "increment_id": "100000042",
  "items": [
    {"sku": "A", "price": 19.99, "qty": 2.0, "discount": 0.10},
    {"sku": "B", "price": 0.05, "qty": 1.0, "discount": 0.00},
    {"sku": "C", "price": -4.10, "qty": 3.0, "discount": 1.25}
  ],
  "totals": {"grand": 35.93, "tax": 5.74},
  "empty": []
}
"""


@pytest.fixture
def doc() -> Any:
    return json.loads(ORDER_JSON, parse_float=Decimal)


def run(text: str, data: Any) -> Any:
    return compile_expression(text).search(data)


def assert_decimal(value: Any, expected: str) -> None:
    assert isinstance(value, Decimal), repr(value)
    assert value == D(expected)
    assert str(value) == expected


# --- Decimal-aware functions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sum(items[].price)", "15.94"),
        ("sum(items[].discount)", "1.35"),
        ("abs(items[2].price)", "4.10"),
        ("max(items[].price)", "19.99"),
        ("min(items[].price)", "-4.10"),
        ("avg([totals.grand, totals.tax])", "20.835"),
        ("max(items[].qty)", "3.0"),
        ("sum(items[?price > `0`].price)", "20.04"),
    ],
)
def test_number_functions_keep_decimals(doc: Any, text: str, expected: str) -> None:
    assert_decimal(run(text, doc), expected)


def test_avg_is_exact_for_thirds(doc: Any) -> None:
    result = run("avg(items[].qty)", doc)  # (2.0 + 1.0 + 3.0) / 3
    assert isinstance(result, Decimal)
    assert result == 2


def test_sort_orders_decimals(doc: Any) -> None:
    result = run("sort(items[].price)", doc)
    assert result == [D("-4.10"), D("0.05"), D("19.99")]
    assert all(isinstance(v, Decimal) for v in result)


def test_sort_by_decimal_key(doc: Any) -> None:
    assert run("sort_by(items, &price)[].sku", doc) == ["C", "B", "A"]


def test_max_by_and_min_by_decimal_key(doc: Any) -> None:
    assert run("max_by(items, &price).sku", doc) == "A"
    assert run("min_by(items, &price).sku", doc) == "C"


def test_sort_by_string_key_still_works(doc: Any) -> None:
    assert run("reverse(sort_by(items, &sku))[].sku", doc) == ["C", "B", "A"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("type(totals.grand)", "number"),
        ("type(items)", "array"),
        ("type(totals)", "object"),
        ("type(increment_id)", "string"),
        ("type(nothing)", "null"),
        ("to_string(totals.grand)", "35.93"),
        ("to_string(items[0].discount)", "0.10"),  # trailing zero kept, not 0.1
        ("to_string(items[2].price)", "-4.10"),
        ("to_string(increment_id)", "100000042"),
        ('to_string(`[1, "a"]`)', '[1,"a"]'),
    ],
)
def test_type_and_to_string(doc: Any, text: str, expected: str) -> None:
    assert run(text, doc) == expected


def test_to_string_of_an_object_keeps_numbers_numeric(doc: Any) -> None:
    assert run("to_string(totals)", doc) == '{"grand":35.93,"tax":5.74}'


def test_to_number_keeps_decimals(doc: Any) -> None:
    assert_decimal(run("to_number(items[0].price)", doc), "19.99")
    assert_decimal(run("to_number('12.34')", doc), "12.34")


def test_decimal_plus_float_literal_is_not_a_raw_type_error(doc: Any) -> None:
    with contextlib.suppress(ExpressionRuntimeError):
        run("sum([items[0].price, `0.5`])", doc)


def test_comparisons_with_literals(doc: Any) -> None:
    assert run("items[?price >= `19.99`].sku", doc) == ["A"]
    assert run("items[?qty == `1`].sku", doc) == ["B"]
    assert run("length(items[?discount > `0`])", doc) == 2


def test_sum_of_an_empty_list_is_zero(doc: Any) -> None:
    assert run("sum(empty)", doc) == 0


@given(st.lists(st.tuples(st.integers(-(10**12), 10**12), st.integers(0, 6)), max_size=30))
def test_sum_is_exact(raw: list[tuple[int, int]]) -> None:
    values = [Decimal(n).scaleb(-places) for n, places in raw]
    result = run("sum(values)", {"values": values})
    assert result == sum(values, Decimal(0))
    if values:
        assert isinstance(result, Decimal)
        assert run("max(values)", {"values": values}) == max(values)
        assert run("min(values)", {"values": values}) == min(values)
        assert run("abs(values[0])", {"values": values}) == abs(values[0])


@pytest.mark.parametrize(
    "text",
    ["abs(increment_id)", "sum(items[].sku)", "max(totals)", "avg(increment_id)"],
)
def test_type_errors_are_runtime_errors(doc: Any, text: str) -> None:
    expression = compile_expression(text)
    with pytest.raises(ExpressionRuntimeError, match=r"increment_id|items|totals"):
        expression.search(doc)


# --- syntax errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("foo[", 4),
        ("foo[?", 5),
        ("foo.", 4),
        ("a ^ b", 2),
        ("items[?price >]", 14),
        ("", 0),
        ("   ", 0),
    ],
)
def test_syntax_errors_carry_a_position(text: str, position: int) -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        compile_expression(text)
    assert info.value.position == position
    assert 0 <= info.value.position <= len(text)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_non_text_expression_is_refused() -> None:
    with pytest.raises(ExpressionSyntaxError):
        compile_expression(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "name", "position"),
    [
        ("nofn(a)", "nofn", 0),
        ("a.b || nope(c)", "nope", 7),
        ("sum(items[].price) && eval(`1`)", "eval", 22),
        ("sort_by(items, &upper(sku))", "upper", 16),
    ],
)
def test_unknown_functions_are_refused_at_compile(text: str, name: str, position: int) -> None:
    with pytest.raises(ExpressionSyntaxError, match=rf"unknown JMESPath function {name}\(\)") as e:
        compile_expression(text)
    assert e.value.position == position
    assert "sum" in str(e.value)  # the known ones are listed


def test_unknown_function_position_skips_fields_of_the_same_name() -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        compile_expression("nope_field && nope(@)")
    assert info.value.position == 14


@pytest.mark.parametrize(
    "name",
    ["abs", "avg", "contains", "join", "length", "max", "max_by", "merge", "min", "not_null",
     "sort", "sort_by", "sum", "to_number", "to_string", "type", "values"],
)  # fmt: skip
def test_known_functions_compile(name: str) -> None:
    compile_expression(f"{name}(@)")


# --- field names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("increment_id", {"increment_id"}),
        ("billing_address.city", {"billing_address", "city"}),
        ("items[].sku", {"items", "sku"}),
        ("items[?qty > `1`].sku", {"items", "qty", "sku"}),
        ("sort_by(items, &price)[0].sku", {"items", "price", "sku"}),
        ("{first: a.b, second: c}", {"a", "b", "c"}),  # output keys are not read
        ('"quoted field".x', {"quoted field", "x"}),
        ("a || b && !c", {"a", "b", "c"}),
        ('`{"lit": 1}`', set()),
        ("@", set()),
        ("sum(items[*].price)", {"items", "price"}),
    ],
)
def test_names_lists_the_fields_read(text: str, names: set[str]) -> None:
    assert compile_expression(text).names == frozenset(names)


def test_expression_keeps_its_text_and_compares_by_it() -> None:
    first = compile_expression("a.b")
    assert first.text == "a.b"
    assert first == compile_expression("a.b")
    assert isinstance(first, Expression)
    assert first.is_simple_path
    assert not compile_expression("a[0]").is_simple_path


@pytest.mark.parametrize(
    ("value", "truthy"),
    [(None, False), (False, False), ("", False), ([], False), ({}, False),
     (1, True), (D("0.01"), True), ("0", True), ([0], True), ({"a": None}, True), (True, True)],
)  # fmt: skip
def test_is_truthy_follows_jmespath(value: Any, truthy: bool) -> None:
    assert is_truthy(value) is truthy


@pytest.mark.parametrize("zero", [0, D(0), D("0.00")])
def test_is_truthy_zero_is_true(zero: Any) -> None:
    assert is_truthy(zero) is True
