"""Named transforms: values, nulls, refusals with the rule's name, argument errors.

``EXAMPLES`` holds one worked example per transform and ``NULLS`` what each does with
null; both are checked against ``TRANSFORMS`` so a new transform cannot go untested.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from hub.mapping.transforms import (
    TRANSFORMS,
    ArgumentError,
    Fn,
    TransformContext,
    TransformError,
    arg_mode,
    build_transform,
)

D = Decimal
LOOKUPS = {
    "status": {"pending": "open", "complete": "completed", "true": "yes", "false": "no"},
    "carriers": {"1": "DHL", "10": "UPS", "2.5": "half"},
}
CTX = TransformContext(lookups=LOOKUPS)
NO_ARGS = object()


def build(name: str, args: Any = NO_ARGS) -> Fn:
    """Build transform ``name`` as a mapping would: bare (no args) or with ``args``."""
    if args is NO_ARGS:
        return build_transform(name, None, False, CTX)
    return build_transform(name, args, True, CTX)


# --- one example per transform ----------------------------------------------------------

EXAMPLES: dict[str, tuple[Any, Any, Any]] = {
    # name: (args or NO_ARGS, input, expected)
    "decimal": ({"places": 2}, "12.345", D("12.35")),
    "int": (NO_ARGS, "42", 42),
    "bool": (NO_ARGS, "Yes", True),
    "string": (NO_ARGS, D("1.50"), "1.50"),
    "upper": (NO_ARGS, "de", "DE"),
    "lower": (NO_ARGS, "EUR", "eur"),
    "strip": (NO_ARGS, "  x \n", "x"),
    "date": (NO_ARGS, "2024-03-01 10:00:00", date(2024, 3, 1)),
    "datetime": (
        {"timezone": "Europe/Berlin"},
        "2024-03-01 10:00:00",
        datetime(2024, 3, 1, 9, 0, tzinfo=UTC),
    ),
    "map": ({"lookup": "status"}, "pending", "open"),
    "format": ("{0}-{1}", ["A", 7], "A-7"),
    "join": (", ", ["Main St 1", None, "", " Floor 2 "], "Main St 1, Floor 2"),
    "split": ({"separator": ";", "index": -1}, "a; b ; c", "c"),
    "default": ("n/a", None, "n/a"),
    "required": ("order number missing", "100042", "100042"),
    "null_if": (["", "0000-00-00"], "0000-00-00", None),
    "country": (NO_ARGS, "Germany", "DE"),
    "currency": (NO_ARGS, "Euro", "EUR"),
    "sum": (NO_ARGS, [D("1.10"), None, "2.20", 3], D("6.30")),
    "subtract": (NO_ARGS, [D("10.00"), D("2.50"), None], D("7.50")),
    "negate": (NO_ARGS, "1.50", D("-1.50")),
    "abs": (NO_ARGS, D("-3.25"), D("3.25")),
    "truncate": (3, "abcdef", "abc"),
}


def test_every_transform_has_an_example() -> None:
    assert set(EXAMPLES) == set(TRANSFORMS)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_example(name: str) -> None:
    args, value, expected = EXAMPLES[name]
    result = build(name, args)(value)
    assert result == expected
    assert type(result) is type(expected)


# --- null handling ----------------------------------------------------------------------

PASS_NONE = {
    "decimal", "int", "bool", "string", "upper", "lower", "strip", "date", "datetime",
    "map", "format", "join", "split", "country", "currency", "negate", "abs", "truncate",
    "subtract", "null_if",
}  # fmt: skip
NULLS: dict[str, tuple[Any, Any]] = {
    **{name: (EXAMPLES[name][0], None) for name in PASS_NONE},
    "sum": (NO_ARGS, D(0)),  # a missing list counts as 0
    "default": ("n/a", "n/a"),
}


def test_every_transform_has_a_null_case() -> None:
    assert set(NULLS) | {"required"} == set(TRANSFORMS)


@pytest.mark.parametrize("name", sorted(NULLS))
def test_null(name: str) -> None:
    args, expected = NULLS[name]
    assert build(name, args)(None) == expected


@pytest.mark.parametrize("empty", [None, "", []])
def test_required_refuses_null_and_empty(empty: Any) -> None:
    with pytest.raises(TransformError, match="order number missing") as info:
        build("required", "order number missing")(empty)
    assert info.value.rule == "required"
    with pytest.raises(TransformError, match="required") as info:
        build("required")(empty)
    assert info.value.rule == "required"


@pytest.mark.parametrize("value", [0, False, D(0), "0", {"a": 1}])
def test_required_keeps_falsy_values(value: Any) -> None:
    assert build("required")(value) == value


# --- refusals carry the rule name -------------------------------------------------------

REFUSALS: list[tuple[str, Any, Any]] = [
    ("decimal", NO_ARGS, "abc"),
    ("decimal", NO_ARGS, "NaN"),
    ("decimal", NO_ARGS, "Infinity"),
    ("decimal", NO_ARGS, True),
    ("decimal", NO_ARGS, [1]),
    ("int", NO_ARGS, "2.5"),
    ("int", NO_ARGS, "x"),
    ("int", NO_ARGS, False),
    ("bool", NO_ARGS, "maybe"),
    ("bool", NO_ARGS, 2),
    ("bool", NO_ARGS, D("0.5")),
    ("string", NO_ARGS, {"a": 1}),
    ("string", NO_ARGS, [1]),
    ("upper", NO_ARGS, 5),
    ("lower", NO_ARGS, D(1)),
    ("strip", NO_ARGS, ["x"]),
    ("date", NO_ARGS, "01.03.2024"),
    ("date", NO_ARGS, 20240301),
    ("date", {"format": "%d.%m.%Y"}, "2024-03-01"),
    ("datetime", NO_ARGS, "yesterday"),
    ("datetime", NO_ARGS, 1709287200),
    ("datetime", NO_ARGS, date(2024, 3, 1)),
    ("datetime", {"format": "%d.%m.%Y %H:%M"}, "2024-03-01T10:00"),
    ("map", {"lookup": "status"}, "shipped"),
    ("map", {"values": {"a": 1}}, "b"),
    ("format", "{0}-{1}", ["only one"]),
    ("format", "{name}", {"other": 1}),
    ("format", "{:d}", "text"),
    ("format", "{:{0.__class__}}", D(1)),  # nested placeholders are checked at run time
    ("join", ", ", "not a list"),
    ("split", {"separator": ","}, 5),
    ("country", NO_ARGS, "Narnia"),
    ("country", NO_ARGS, ""),
    ("country", NO_ARGS, 276),
    ("currency", NO_ARGS, "Bitcoin"),
    ("currency", NO_ARGS, "  "),
    ("currency", NO_ARGS, 978),
    ("sum", NO_ARGS, "1.00"),
    ("sum", NO_ARGS, [D(1), "x"]),
    ("sum", NO_ARGS, [True]),
    ("subtract", NO_ARGS, []),
    ("subtract", NO_ARGS, "10"),
    ("subtract", NO_ARGS, [D(10), "y"]),
    ("negate", NO_ARGS, "minus one"),
    ("abs", NO_ARGS, True),
]


@pytest.mark.parametrize(("name", "args", "value"), REFUSALS)
def test_refusal_names_the_rule(name: str, args: Any, value: Any) -> None:
    fn = build(name, args)
    with pytest.raises(TransformError) as info:
        fn(value)
    assert info.value.rule == name
    assert isinstance(info.value, ValueError)
    assert str(info.value)


def test_transforms_that_never_refuse() -> None:
    # default, null_if and truncate accept anything; everything else has a refusal above
    assert {name for name, _, _ in REFUSALS} | {"default", "null_if", "truncate", "required"} == (
        set(TRANSFORMS)
    )


# --- argument errors --------------------------------------------------------------------

ARGUMENT_ERRORS: list[tuple[str, Any, str]] = [
    ("datetime", {"timezone": "Mars/Base"}, "unknown time zone"),
    ("datetime", {"timezone": ""}, "unknown time zone"),
    ("datetime", {"timezone": "../../etc/passwd"}, "unknown time zone"),
    ("datetime", {"zone": "UTC"}, "zone"),
    ("map", {"values": {"a": 1}, "lookup": "status"}, "exactly one"),
    ("map", {}, "exactly one"),
    ("map", {"lookup": "nope"}, "unknown lookup table 'nope'"),
    ("map", {"values": {"a": 1}, "strict": "sometimes"}, "strict"),
    ("truncate", 0, "positive length"),
    ("truncate", -3, "positive length"),
    ("truncate", "many", "truncate"),
    ("format", "{0.__class__}", "may not use"),
    ("format", "{0.__class__.__init__.__globals__}", "may not use"),
    ("format", "{0[0]}", "may not use"),
    ("format", "{name.attr}", "may not use"),
    ("format", "{", "bad format template"),
    ("format", "}", "bad format template"),
    ("decimal", {"places": 13}, "places"),
    ("decimal", {"places": -1}, "places"),
    ("decimal", {"digits": 2}, "digits"),
    ("split", {}, "separator"),
    ("upper", {"x": 1}, "takes no arguments"),
    ("sum", "everything", "takes no arguments"),
    ("null_if", "", "null_if"),
    ("join", NO_ARGS, "join"),
    ("format", NO_ARGS, "format"),
]


@pytest.mark.parametrize(("name", "args", "words"), ARGUMENT_ERRORS)
def test_argument_errors(name: str, args: Any, words: str) -> None:
    with pytest.raises(ArgumentError, match="(?i)" + words.replace(".", r"\.")):
        build(name, args)


def test_a_zone_directory_is_an_unknown_time_zone() -> None:
    with pytest.raises(ArgumentError, match="unknown time zone"):
        build("datetime", {"timezone": "America"})


def test_truncate_refuses_a_boolean_length() -> None:
    with pytest.raises(ArgumentError):
        build("truncate", True)


def test_unknown_transform_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        build("uppercase")


@pytest.mark.parametrize("args", [None, {}, True])
def test_transform_without_arguments_accepts_empty_arguments(args: Any) -> None:
    assert build("upper", args)("x") == "X"


def test_arg_modes() -> None:
    modes = {name: arg_mode(kind) for name, kind in TRANSFORMS.items()}
    assert modes["upper"] == "none"
    assert modes["decimal"] == "optional"
    assert modes["datetime"] == "optional"
    assert modes["required"] == "optional"
    assert modes["truncate"] == "required"
    assert modes["format"] == "required"
    assert modes["split"] == "required"
    assert modes["map"] == "required"
    assert modes["default"] == "required"


# --- format -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "value", "expected"),
    [
        ("{}", D("1.50"), "1.50"),
        ("{:.2f}", D("1.005"), "1.00"),  # Decimal formatting, not float: ROUND_HALF_EVEN
        ("{0} {0}", "x", "x x"),
        ("{0}/{1}/{2}", ["a", None, "c"], "a//c"),
        ("{city}, {country}", {"city": "Berlin", "country": "DE"}, "Berlin, DE"),
        ("{!r}", "a", "'a'"),
        ("{:>5}", "ab", "   ab"),
        ("{{literal}} {}", 1, "{literal} 1"),
    ],
)
def test_format(template: str, value: Any, expected: str) -> None:
    assert build("format", template)(value) == expected


class Secretive:
    secret = "leaked"

    def __str__(self) -> str:
        return "plain"


@pytest.mark.parametrize(
    "template", ["{0.secret}", "{.secret}", "{0.__class__}", "{x.secret}", "{0[secret]}"]
)
def test_format_cannot_reach_attributes(template: str) -> None:
    with pytest.raises(ArgumentError, match="may not use"):
        build("format", template)


def test_format_cannot_reach_attributes_through_nested_specs() -> None:
    fn = build("format", "{:{0.secret}}")
    with pytest.raises(TransformError) as info:
        fn(Secretive())
    assert info.value.rule == "format"
    assert "leaked" not in str(info.value)
    assert build("format", "{}")(Secretive()) == "plain"


# --- date and datetime ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "value", "expected"),
    [
        (NO_ARGS, "2024-03-01", date(2024, 3, 1)),
        (NO_ARGS, " 2024-03-01T23:30:00+05:00 ", date(2024, 3, 1)),  # the text's own date
        ({"format": "%d.%m.%Y"}, "01.03.2024", date(2024, 3, 1)),
        (NO_ARGS, datetime(2024, 3, 1, 23, 0, tzinfo=UTC), date(2024, 3, 1)),
        (NO_ARGS, date(2024, 3, 1), date(2024, 3, 1)),
    ],
)
def test_date(args: Any, value: Any, expected: date) -> None:
    result = build("date", args)(value)
    assert result == expected
    assert type(result) is date


@pytest.mark.parametrize(
    ("args", "value", "expected"),
    [
        # naive values are wall-clock time in the zone: CET in winter, CEST in summer
        ({"timezone": "Europe/Berlin"}, "2024-01-15 12:00:00", datetime(2024, 1, 15, 11, 0)),
        ({"timezone": "Europe/Berlin"}, "2024-07-15T12:00:00", datetime(2024, 7, 15, 10, 0)),
        ({"timezone": "America/New_York"}, "2024-07-15 12:00", datetime(2024, 7, 15, 16, 0)),
        (NO_ARGS, "2024-07-15 12:00:00", datetime(2024, 7, 15, 12, 0)),  # UTC by default
        # aware values keep their instant whatever the zone argument says
        ({"timezone": "Europe/Berlin"}, "2024-07-15T12:00:00+02:00", datetime(2024, 7, 15, 10)),
        ({"timezone": "Asia/Tokyo"}, "2024-07-15T12:00:00Z", datetime(2024, 7, 15, 12, 0)),
        ({"timezone": "Asia/Tokyo"}, "2024-07-15T12:00:00-05:30", datetime(2024, 7, 15, 17, 30)),
        (
            {"format": "%d.%m.%Y %H:%M", "timezone": "Europe/Berlin"},
            "15.01.2024 12:00",
            datetime(2024, 1, 15, 11, 0),
        ),
        (
            {"format": "%d.%m.%Y %H:%M %z", "timezone": "Europe/Berlin"},
            "15.01.2024 12:00 +0000",
            datetime(2024, 1, 15, 12, 0),
        ),
        ({"timezone": "Europe/Berlin"}, datetime(2024, 1, 15, 12, 0), datetime(2024, 1, 15, 11)),
        (
            {"timezone": "Europe/Berlin"},
            datetime(2024, 1, 15, 12, 0, tzinfo=timezone(timedelta(hours=-3))),
            datetime(2024, 1, 15, 15, 0),
        ),
    ],
)
def test_datetime_is_utc(args: Any, value: Any, expected: datetime) -> None:
    result = build("datetime", args)(value)
    assert result.tzinfo is UTC
    assert result == expected.replace(tzinfo=UTC)


# --- map --------------------------------------------------------------------------------


def test_map_inline_and_lookup() -> None:
    assert build("map", {"values": {"a": 1, "b": [2]}})("b") == [2]
    assert build("map", {"lookup": "status"})("complete") == "completed"


def test_map_is_strict_by_default_and_lists_some_keys() -> None:
    with pytest.raises(TransformError, match="'pending'") as info:
        build("map", {"lookup": "status"})("shipped")
    assert info.value.rule == "map"
    assert "lookup 'status'" in str(info.value)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"default": "other"}, "other"),
        ({"default": None}, None),  # an explicit null default is a default
        ({"default": "other", "strict": True}, "other"),  # a default beats strict
        ({"strict": False}, None),
        ({"strict": False, "default": 0}, 0),
        ({"passthrough": True}, "shipped"),
        ({"passthrough": True, "default": "other"}, "shipped"),  # passthrough wins
    ],
)
def test_map_unknown_keys(args: dict[str, Any], expected: Any) -> None:
    fn = build("map", {"lookup": "status", **args})
    assert fn("shipped") == expected
    assert fn("pending") == "open"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, "yes"), (False, "no"), ("true", "yes")],
)
def test_map_reads_booleans_as_true_and_false(value: Any, expected: str) -> None:
    assert build("map", {"lookup": "status"})(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, "DHL"), ("1", "DHL"), (10, "UPS"), (D("1"), "DHL"), (D("1.0"), "DHL"), (D("2.5"), "half")],
)
def test_map_reads_numbers_as_their_text(value: Any, expected: str) -> None:
    assert build("map", {"lookup": "carriers"})(value) == expected


@pytest.mark.parametrize("value", [D("10"), D("10.0"), D("10.00")])
def test_map_reads_whole_decimals_without_exponent(value: Decimal) -> None:
    assert build("map", {"lookup": "carriers"})(value) == "UPS"


# --- country and currency ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["Germany", "DEU", "de", "DE", " de ", "germany", "276"]
)  # fmt: skip
def test_country(value: str) -> None:
    assert build("country")(value) == "DE"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("eur", "EUR"), ("Euro", "EUR"), (" EUR ", "EUR"), ("euro", "EUR"), ("US Dollar", "USD"),
     ("jpy", "JPY"), ("Kuwaiti Dinar", "KWD")],
)  # fmt: skip
def test_currency(value: str, expected: str) -> None:
    assert build("currency")(value) == expected


# --- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "value", "expected"),
    [
        ({"places": 2}, "-12.345", D("-12.35")),  # half away from zero
        ({"places": 0}, "2.5", D("3")),
        ({"places": 2}, 7, D("7.00")),
        (NO_ARGS, " 1.2300 ", D("1.2300")),  # exact, no rounding without places
        (NO_ARGS, 0.1, D("0.1")),  # a JMESPath float literal reads as typed
        (NO_ARGS, D("1E+2"), D("100")),
    ],
)
def test_decimal(args: Any, value: Any, expected: Decimal) -> None:
    result = build("decimal", args)(value)
    assert result == expected
    assert isinstance(result, Decimal)
    if args is not NO_ARGS:
        assert result.as_tuple().exponent == -args["places"]


@pytest.mark.parametrize(
    ("value", "expected"), [(D("2.0"), 2), (" 7 ", 7), (-3, -3), (D("1E+3"), 1000)]
)
def test_int(value: Any, expected: int) -> None:
    result = build("int")(value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True), (False, False), (1, True), (0, False), ("1", True), ("0", False),
        ("YES", True), (" off ", False), ("n", False), ("True", True),
        (D("1"), True), (D("0.0"), False),
    ],
)  # fmt: skip
def test_bool(value: Any, expected: bool) -> None:
    assert build("bool")(value) is expected


def test_bool_with_own_words() -> None:
    fn = build("bool", {"true": ["Ja", "J"], "false": ["Nein", "N"]})
    assert fn("ja") is True
    assert fn(" n ") is False
    with pytest.raises(TransformError):
        fn("yes")  # the defaults are replaced, not extended


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, "true"), (False, "false"), (D("1.50"), "1.50"), (12, "12"), ("x", "x")],
)
def test_string(value: Any, expected: str) -> None:
    assert build("string")(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([D("1.10"), D("2.20")], D("3.30")),
        ([None, None], D(0)),
        ([], D(0)),
        ([1, "2", D("0.5"), None], D("3.5")),
        ([D("-1.00"), D("1.00")], D("0.00")),
    ],
)
def test_sum(value: list[Any], expected: Decimal) -> None:
    result = build("sum")(value)
    assert result == expected
    assert isinstance(result, Decimal)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([D("10.00"), D("2.50")], D("7.50")),
        ([D("10.00")], D("10.00")),
        ([D("10.00"), None, None], D("10.00")),  # null subtrahends count as 0
        ([5, "1.5", 1], D("2.5")),
        ([D("1.00"), D("2.00")], D("-1.00")),
    ],
)
def test_subtract(value: list[Any], expected: Decimal) -> None:
    result = build("subtract")(value)
    assert result == expected
    assert isinstance(result, Decimal)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("negate", D("-2"), D("2")),
        ("negate", 3, D("-3")),
        ("negate", D("0.00"), D("0.00")),
        ("abs", "-0.01", D("0.01")),
        ("abs", D("5"), D("5")),
    ],
)
def test_negate_and_abs(name: str, value: Any, expected: Decimal) -> None:
    result = build(name)(value)
    assert result == expected
    assert isinstance(result, Decimal)


# --- text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "value", "expected"),
    [
        ({"separator": ","}, "a, b,,c ", ["a", "b", "", "c"]),
        ({"separator": ",", "index": 0}, "a,b", "a"),
        ({"separator": ",", "index": 5}, "a,b", None),  # missing part is null, not an error
        ({"separator": " "}, "single", ["single"]),
    ],
)
def test_split(args: dict[str, Any], value: str, expected: Any) -> None:
    assert build("split", args)(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(["a", "b"], "a-b"), ([], ""), ([None, " ", "x"], "x"), ([1, D("2.50")], "1-2.50")],
)
def test_join(value: list[Any], expected: str) -> None:
    assert build("join", "-")(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "-"), ("", "-"), (0, 0), (False, False), ("x", "x"), ([], [])]
)
def test_default(value: Any, expected: Any) -> None:
    assert build("default", "-")(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", None), (0, None), ("0", "0"), (False, False), (D("0.0"), None), ("x", "x")],
)
def test_null_if_compares_as_json_values(value: Any, expected: Any) -> None:
    result = build("null_if", ["", 0])(value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("length", "value", "expected"),
    [(3, "abcdef", "abc"), (10, "abc", "abc"), (2, 12345, "12"), (1, "äö", "ä")],
)
def test_truncate(length: int, value: Any, expected: str) -> None:
    assert build("truncate", length)(value) == expected


def test_subtract_reads_a_missing_minuend_as_zero() -> None:
    assert build("subtract")([None, D(1)]) == D(-1)


def test_currency_refuses_non_invoicing_codes() -> None:
    with pytest.raises(TransformError, match="not an invoicing currency"):
        build("currency")("XAU")
