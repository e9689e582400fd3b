"""Money arithmetic: minor units, EN 16931 half-up rounding, exact allocation.

The oracles here use :class:`fractions.Fraction`, so they are exact and share no code
with :mod:`hub.money`. Amounts are drawn as integers of minor units, never as floats.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hub import money
from hub.errors import MoneyError

PLACES = {"JPY": 0, "EUR": 2, "KWD": 3}
CURRENCIES = st.sampled_from(sorted(PLACES))


def unit(currency: str) -> Fraction:
    """One minor unit of ``currency`` as an exact fraction."""
    return Fraction(1, 10 ** PLACES[currency])


def half_up(value: Fraction, places: int) -> Decimal:
    """Round ``value`` to ``places`` decimals, half away from zero (independent oracle)."""
    scaled = abs(value) * 10**places
    units = (scaled + Fraction(1, 2)).__floor__()
    sign = -1 if value < 0 else 1
    return Decimal(sign * units).scaleb(-places)


def scaled(units: st.SearchStrategy[int], places: int) -> st.SearchStrategy[Decimal]:
    return units.map(lambda n: Decimal(n).scaleb(-places))


def amounts(currency: str, bound: int = 10**12) -> st.SearchStrategy[Decimal]:
    """Rounded amounts of ``currency``: whole minor units, scaled."""
    return scaled(st.integers(-bound, bound), PLACES[currency])


@st.composite
def decimals(draw: st.DrawFn, bound: int = 10**10, max_places: int = 6) -> Decimal:
    """Any decimal with up to ``max_places`` digits after the point."""
    places = draw(st.integers(0, max_places))
    return Decimal(draw(st.integers(-bound, bound))).scaleb(-places)


@st.composite
def weight(draw: st.DrawFn, low: int = 0, high: int = 10**6) -> Decimal:
    places = draw(st.integers(0, 4))
    return Decimal(draw(st.integers(low, high))).scaleb(-places)


@st.composite
def currency_and_total(draw: st.DrawFn) -> tuple[str, Decimal]:
    currency = draw(CURRENCIES)
    return currency, draw(amounts(currency))


def is_on_minor_unit(amount: Decimal, currency: str) -> bool:
    return amount.as_tuple().exponent == -PLACES[currency]


# --- allocate ---------------------------------------------------------------------------


@given(currency_and_total(), st.lists(weight(), min_size=1, max_size=12))
def test_allocate_parts_sum_exactly_round_and_stay_within_a_unit(
    ct: tuple[str, Decimal], weights: list[Decimal]
) -> None:
    currency, total = ct
    assume(sum(weights) != 0)
    parts = money.allocate(total, weights, currency)

    assert len(parts) == len(weights)
    assert sum(parts, Decimal(0)) == total
    weight_sum = sum((Fraction(w) for w in weights), Fraction(0))
    for part, w in zip(parts, weights, strict=True):
        assert isinstance(part, Decimal)
        assert is_on_minor_unit(part, currency)
        exact = Fraction(total) * Fraction(w) / weight_sum
        assert abs(Fraction(part) - exact) < unit(currency)


@given(
    currency_and_total(),
    st.lists(weight(low=-(10**6)), min_size=1, max_size=12),
)
def test_allocate_with_negative_weights_still_adds_up(
    ct: tuple[str, Decimal], weights: list[Decimal]
) -> None:
    currency, total = ct
    assume(sum(weights) != 0)
    parts = money.allocate(total, weights, currency)

    assert sum(parts, Decimal(0)) == total
    weight_sum = sum((Fraction(w) for w in weights), Fraction(0))
    for part, w in zip(parts, weights, strict=True):
        assert is_on_minor_unit(part, currency)
        exact = Fraction(total) * Fraction(w) / weight_sum
        assert abs(Fraction(part) - exact) < unit(currency)


@given(currency_and_total(), st.lists(weight(), min_size=1, max_size=12))
def test_allocate_of_a_negative_total_mirrors_the_positive_one(
    ct: tuple[str, Decimal], weights: list[Decimal]
) -> None:
    currency, total = ct
    assume(sum(weights) != 0)
    positive = money.allocate(abs(total), weights, currency)
    negative = money.allocate(-abs(total), weights, currency)
    assert negative == [-p for p in positive]
    if total != 0:
        assert all(p <= 0 for p in negative)


@given(
    currency_and_total(),
    st.lists(st.one_of(st.just(Decimal(0)), weight(low=1)), min_size=1, max_size=12),
)
def test_allocate_gives_zero_weights_nothing(
    ct: tuple[str, Decimal], weights: list[Decimal]
) -> None:
    currency, total = ct
    assume(any(w != 0 for w in weights))
    parts = money.allocate(total, weights, currency)
    assert sum(parts, Decimal(0)) == total
    for part, w in zip(parts, weights, strict=True):
        if w == 0:
            assert part == 0


@pytest.mark.parametrize(
    ("total", "weights", "currency", "expected"),
    [
        ("100", ["1", "1", "1"], "JPY", ["34", "33", "33"]),
        ("-100", ["1", "1", "1"], "JPY", ["-34", "-33", "-33"]),
        ("10.00", ["1", "1", "1"], "EUR", ["3.34", "3.33", "3.33"]),
        ("0.01", ["1", "1", "1"], "EUR", ["0.01", "0.00", "0.00"]),  # earliest first on a tie
        ("0.05", ["1", "2"], "EUR", ["0.02", "0.03"]),
        ("1.000", ["1", "1", "1"], "KWD", ["0.334", "0.333", "0.333"]),
        ("0.010", ["1", "2", "3", "4"], "KWD", ["0.001", "0.002", "0.003", "0.004"]),
        ("0.01", ["3", "-1"], "EUR", ["0.02", "-0.01"]),
        ("10.00", ["0", "1"], "EUR", ["0.00", "10.00"]),
    ],
)
def test_allocate_examples(
    total: str, weights: list[str], currency: str, expected: list[str]
) -> None:
    parts = money.allocate(Decimal(total), [Decimal(w) for w in weights], currency)
    assert parts == [Decimal(e) for e in expected]
    assert all(is_on_minor_unit(p, currency) for p in parts)


@pytest.mark.parametrize("currency", sorted(PLACES))
def test_allocate_zero_total_over_zero_weights_gives_zeros(currency: str) -> None:
    parts = money.allocate(Decimal(0), [Decimal(0), Decimal(0)], currency)
    assert parts == [0, 0]
    assert all(is_on_minor_unit(p, currency) for p in parts)


def test_allocate_zero_total_over_no_weights_is_empty() -> None:
    assert money.allocate(Decimal(0), [], "EUR") == []


@pytest.mark.parametrize(
    "weights",
    [[], [Decimal(0)], [Decimal(0), Decimal(0)], [Decimal(1), Decimal(-1)]],
)
def test_allocate_refuses_a_non_zero_total_without_weight(weights: list[Decimal]) -> None:
    with pytest.raises(MoneyError):
        money.allocate(Decimal("1.00"), weights, "EUR")


@pytest.mark.parametrize(
    ("total", "currency"),
    [(Decimal("1.001"), "EUR"), (Decimal("0.5"), "JPY"), (Decimal("1.0001"), "KWD")],
)
def test_allocate_refuses_an_unrounded_total(total: Decimal, currency: str) -> None:
    with pytest.raises(MoneyError, match="more decimals"):
        money.allocate(total, [Decimal(1)], currency)


@pytest.mark.parametrize("total", [1.0, True])
def test_allocate_refuses_float_and_bool_totals(total: object) -> None:
    with pytest.raises(MoneyError):
        money.allocate(total, [Decimal(1)], "EUR")  # type: ignore[arg-type]


# --- round_money ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("2.345", "EUR", "2.35"),
        ("-2.345", "EUR", "-2.35"),
        ("0.005", "EUR", "0.01"),
        ("-0.005", "EUR", "-0.01"),
        ("2.344", "EUR", "2.34"),
        ("2.3449999", "EUR", "2.34"),
        ("2.5", "JPY", "3"),  # not banker's rounding
        ("0.5", "JPY", "1"),
        ("-0.5", "JPY", "-1"),
        ("1.4999", "JPY", "1"),
        ("1.0005", "KWD", "1.001"),
        ("-1.0005", "KWD", "-1.001"),
        ("7", "EUR", "7.00"),
    ],
)
def test_round_money_is_half_up_away_from_zero(amount: str, currency: str, expected: str) -> None:
    result = money.round_money(Decimal(amount), currency)
    assert result == Decimal(expected)
    assert str(result) == expected


@given(CURRENCIES, decimals())
def test_round_money_matches_the_half_up_oracle_and_is_idempotent(
    currency: str, amount: Decimal
) -> None:
    once = money.round_money(amount, currency)
    assert once == half_up(Fraction(amount), PLACES[currency])
    assert is_on_minor_unit(once, currency)
    assert abs(Fraction(once) - Fraction(amount)) <= unit(currency) / 2
    assert money.round_money(once, currency) == once
    assert money.is_rounded(once, currency)


@given(CURRENCIES, decimals())
def test_round_money_is_symmetric_around_zero(currency: str, amount: Decimal) -> None:
    assert money.round_money(-amount, currency) == -money.round_money(amount, currency)


# --- sum_money --------------------------------------------------------------------------


@given(CURRENCIES.flatmap(lambda c: st.tuples(st.just(c), st.lists(amounts(c), max_size=20))))
def test_sum_money_adds_rounded_amounts_exactly(case: tuple[str, list[Decimal]]) -> None:
    currency, values = case
    total = money.sum_money(values, currency)
    assert total == sum((Fraction(v) for v in values), Fraction(0))
    assert is_on_minor_unit(total, currency)


@pytest.mark.parametrize(
    ("values", "currency"),
    [
        (["1.00", "0.001"], "EUR"),
        (["1.5"], "JPY"),
        (["0.0001"], "KWD"),
    ],
)
def test_sum_money_refuses_unrounded_input(values: list[str], currency: str) -> None:
    with pytest.raises(MoneyError, match="more decimals"):
        money.sum_money([Decimal(v) for v in values], currency)


def test_sum_money_accepts_trailing_zeros_and_empty_input() -> None:
    assert money.sum_money([Decimal("2.0"), Decimal("3")], "JPY") == 5
    assert money.sum_money([Decimal("1.10"), Decimal("2.2")], "EUR") == Decimal("3.30")
    assert money.sum_money([], "EUR") == 0


# --- minor_units ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "places"),
    [("EUR", 2), ("JPY", 0), ("KWD", 3), ("CLF", 4), ("eur", 2), (" jpy ", 0), ("USD", 2)],
)
def test_minor_units(code: str, places: int) -> None:
    assert money.minor_units(code) == places
    assert money.is_currency(code)


@pytest.mark.parametrize("code", ["XAU", "XDR", "XXX"])
def test_minor_units_refuses_currencies_without_minor_unit(code: str) -> None:
    with pytest.raises(MoneyError, match="no minor unit"):
        money.minor_units(code)
    assert not money.is_currency(code)


@pytest.mark.parametrize("code", ["ABC", "EURO", "", "E", "€"])
def test_minor_units_refuses_unknown_codes(code: str) -> None:
    with pytest.raises(MoneyError):
        money.minor_units(code)
    assert not money.is_currency(code)


def test_minor_units_refuses_non_text() -> None:
    with pytest.raises(MoneyError):
        money.minor_units(978)


# --- to_decimal -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.1, 1.0, float("nan"), True, False])
def test_to_decimal_refuses_float_and_bool(value: object) -> None:
    with pytest.raises(MoneyError, match="must not be a"):
        money.to_decimal(value, what="unit price")


@pytest.mark.parametrize("value", ["abc", "", "NaN", "Infinity", "-inf", None, [1], b"1"])
def test_to_decimal_refuses_non_numbers_and_non_finite(value: object) -> None:
    with pytest.raises(MoneyError):
        money.to_decimal(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, "5"), ("1.10", "1.10"), (" 2.5 ", "2.5"), (Decimal("-0.001"), "-0.001"), ("1e2", "1E+2")],
)
def test_to_decimal_is_exact(value: object, expected: str) -> None:
    result = money.to_decimal(value)
    assert isinstance(result, Decimal)
    assert str(result) == expected


def test_to_decimal_names_what_was_refused() -> None:
    with pytest.raises(MoneyError, match=r"^discount must not be a float"):
        money.to_decimal(0.5, what="discount")


# --- percent_of -------------------------------------------------------------------------


@st.composite
def rates(draw: st.DrawFn) -> Decimal:
    places = draw(st.integers(0, 4))
    return Decimal(draw(st.integers(0, 100 * 10**places))).scaleb(-places)


@given(
    CURRENCIES.flatmap(lambda c: st.tuples(st.just(c), amounts(c, bound=10**13))),
    rates(),
)
def test_percent_of_never_creates_or_loses_a_unit(case: tuple[str, Decimal], rate: Decimal) -> None:
    currency, base = case
    result = money.percent_of(base, rate, currency)
    exact = Fraction(base) * Fraction(rate) / 100
    assert result == half_up(exact, PLACES[currency])
    assert is_on_minor_unit(result, currency)


@pytest.mark.parametrize(
    ("base", "rate", "currency", "expected"),
    [
        ("10.00", "19", "EUR", "1.90"),
        ("0.50", "19", "EUR", "0.10"),  # 0.095 rounds up
        ("-0.50", "19", "EUR", "-0.10"),
        ("0.05", "7", "EUR", "0.00"),  # 0.0035
        ("1000", "10", "JPY", "100"),
        ("1005", "1", "JPY", "10"),  # 10.05
        ("1.000", "5", "KWD", "0.050"),
        ("100.00", "0", "EUR", "0.00"),
    ],
)
def test_percent_of_examples(base: str, rate: str, currency: str, expected: str) -> None:
    result = money.percent_of(Decimal(base), Decimal(rate), currency)
    assert result == Decimal(expected)
    assert str(result) == expected


# --- convert ----------------------------------------------------------------------------


def test_convert_divides_by_an_ecb_style_rate() -> None:
    # 1 EUR = 1.0852 USD: 108.52 USD is 100 EUR.
    assert money.convert(Decimal("108.52"), Decimal("1.0852"), "EUR") == Decimal("100.00")
    # 1 EUR = 162.5 JPY: 1000 JPY is 6.1538... EUR.
    assert money.convert(Decimal("1000"), Decimal("162.5"), "EUR") == Decimal("6.15")
    # 1 JPY = 0.0061 EUR: 100 EUR is 16393.44... JPY.
    assert money.convert(Decimal("100.00"), Decimal("0.0061"), "JPY") == Decimal("16393")
    assert money.convert(Decimal("3.00"), Decimal("3.0000"), "KWD") == Decimal("1.000")


@pytest.mark.parametrize("rate", [Decimal(0), Decimal("-1.0852")])
def test_convert_refuses_a_non_positive_rate(rate: Decimal) -> None:
    with pytest.raises(MoneyError, match="positive"):
        money.convert(Decimal("1.00"), rate, "EUR")


@given(
    amounts("EUR", bound=10**11),
    scaled(st.integers(1, 10**8), 4),
    CURRENCIES,
)
def test_convert_is_amount_over_rate_rounded_half_up(
    amount: Decimal, rate: Decimal, to_currency: str
) -> None:
    result = money.convert(amount, rate, to_currency)
    assert result == half_up(Fraction(amount) / Fraction(rate), PLACES[to_currency])
    assert is_on_minor_unit(result, to_currency)
