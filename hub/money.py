"""Money arithmetic: ISO 4217 minor units, EN 16931 rounding, exact allocation.

Every amount the hub stores or sends is a :class:`~decimal.Decimal` rounded to its
currency's minor unit with ROUND_HALF_UP (EN 16931 rounds half away from zero, which for
Decimal is ROUND_HALF_UP). Unit prices may carry more decimals (BT-146); amounts may not.
Floats are refused at the door: ``0.1 + 0.2`` is how invoices go wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

import iso4217

from hub.errors import MoneyError

ZERO = Decimal(0)


@lru_cache(maxsize=512)
def minor_units(currency: str) -> int:
    """Decimals of ``currency`` per ISO 4217 (EUR 2, JPY 0, KWD 3).

    Funds and metals without minor units (XAU, XDR) are not invoicing currencies and
    are refused.
    """
    code = currency.strip().upper() if isinstance(currency, str) else ""
    try:
        exponent = iso4217.Currency(code).exponent
    except ValueError as exc:
        raise MoneyError(f"unknown ISO 4217 currency code {currency!r}") from exc
    if exponent is None:
        raise MoneyError(f"currency {code} has no minor unit and cannot be invoiced")
    return int(exponent)


def is_currency(code: str) -> bool:
    """True for an ISO 4217 code usable for invoicing."""
    try:
        minor_units(code)
    except MoneyError:
        return False
    return True


@lru_cache(maxsize=512)
def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def to_decimal(value: object, *, what: str = "amount") -> Decimal:
    """Exact Decimal from int, str or Decimal; float and bool are refused."""
    if isinstance(value, bool | float):
        raise MoneyError(f"{what} must not be a {type(value).__name__}: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation as exc:
            raise MoneyError(f"{what} is not a number: {value!r}") from exc
    else:
        raise MoneyError(f"{what} must be a number, got {type(value).__name__}")
    if not result.is_finite():
        raise MoneyError(f"{what} must be finite, got {value!r}")
    return result


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half away from zero (EN 16931)."""
    return amount.quantize(_quantum(minor_units(currency)), rounding=ROUND_HALF_UP)


def is_rounded(amount: Decimal, currency: str) -> bool:
    """True when ``amount`` has no digits below the currency's minor unit."""
    return round_money(amount, currency) == amount


def percent_of(base: Decimal, rate_percent: Decimal, currency: str) -> Decimal:
    """``base × rate / 100`` rounded to the minor unit: a VAT amount or a discount."""
    return round_money(base * rate_percent / Decimal(100), currency)


def sum_money(amounts: Iterable[Decimal], currency: str) -> Decimal:
    """Sum already-rounded amounts; a sub-unit digit is a bug upstream and is refused."""
    total = ZERO
    for amount in amounts:
        if not is_rounded(amount, currency):
            raise MoneyError(f"{amount} has more decimals than {currency} allows")
        total += amount
    return round_money(total, currency)


def allocate(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split ``total`` in proportion to ``weights`` so that the parts add up exactly.

    Largest-remainder method: each part is first floored to the minor unit, then the
    units left over go one by one to the parts that lost the most, earliest first on a
    tie. Used to spread a document discount or charge across lines. Weights may be
    negative (a credit line) but must not all be zero unless the total is zero.
    """
    total = to_decimal(total, what="total")
    if not is_rounded(total, currency):
        raise MoneyError(f"total {total} has more decimals than {currency} allows")
    if not weights:
        if total != ZERO:
            raise MoneyError("cannot allocate a non-zero total over no weights")
        return []
    weight_sum = sum(weights, ZERO)
    quantum = _quantum(minor_units(currency))
    if weight_sum == ZERO:
        if total != ZERO:
            raise MoneyError("cannot allocate a non-zero total over weights summing to zero")
        return [ZERO.quantize(quantum) for _ in weights]
    sign = Decimal(1) if total >= ZERO else Decimal(-1)
    magnitude = abs(total)
    exact = [magnitude * w / weight_sum for w in weights]
    parts = [e.quantize(quantum, rounding=ROUND_FLOOR) for e in exact]
    leftover_units = int(((magnitude - sum(parts, ZERO)) / quantum).to_integral_value())
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:leftover_units]:
        parts[i] += quantum
    return [sign * p for p in parts]


def convert(amount: Decimal, rate: Decimal, to_currency: str) -> Decimal:
    """``amount / rate`` in the accounting currency, where ``rate`` is quoted as document
    units per accounting unit (ECB style: 1 EUR = 1.0852 USD); e.g. BT-111."""
    if rate <= ZERO:
        raise MoneyError(f"exchange rate must be positive, got {rate}")
    return round_money(amount / rate, to_currency)
