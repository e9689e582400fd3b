"""Exchange rates from the ECB's reference-rate files, with the rate date kept.

The ECB publishes euro reference rates daily (around 16:00 CET) as CSV
(``eurofxref.csv`` / ``eurofxref-hist.csv``: ``Date, USD, JPY, ...`` with one row per day)
and XML (``eurofxref-daily.xml``: ``gesmes:Envelope`` → ``Cube time=...`` →
``Cube currency rate``). Every rate is "units of currency per 1 EUR". A rate between two
other currencies goes through the euro, as the ECB advises, and is kept with 10
significant digits; the invoice records the rate and its date (BT-6 conversions, BT-111).

An invoice dated on a day without rates (weekend, TARGET holiday) uses the latest rate
published on or before that day; older than ``max_age_days`` is refused.
"""

from __future__ import annotations

import bisect
import csv
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path

from hub.errors import HubError

__all__ = ["ExchangeRates", "Rate", "RateError"]

_PRECISION = Context(prec=10)
_ECB = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"


class RateError(HubError):
    """No usable rate; the message names the currencies and the date."""


@dataclass(frozen=True)
class Rate:
    value: Decimal
    """Units of the target currency per unit of the source currency."""
    day: date
    """The ECB date of the rate used."""


class ExchangeRates:
    """Reference rates by day (EUR base)."""

    def __init__(self, by_day: dict[date, dict[str, Decimal]], *, max_age_days: int = 7) -> None:
        self._days = sorted(by_day)
        self._by_day = by_day
        self.max_age_days = max_age_days

    @classmethod
    def load(cls, path: Path, *, max_age_days: int = 7) -> ExchangeRates:
        """An ECB CSV or XML file (by content)."""
        raw = path.read_bytes()
        head = raw.lstrip()[:100]
        if head.startswith(b"<"):
            return cls(_parse_xml(raw, path), max_age_days=max_age_days)
        return cls(_parse_csv(raw.decode("utf-8-sig"), path), max_age_days=max_age_days)

    def rate(self, source: str, target: str, on: date) -> Rate:
        """How many ``target`` units one ``source`` unit buys on ``on``."""
        if source == target:
            return Rate(Decimal(1), on)
        index = bisect.bisect_right(self._days, on) - 1
        if index < 0:
            raise RateError(f"no ECB rate on or before {on.isoformat()} for {source}/{target}")
        day = self._days[index]
        if on - day > timedelta(days=self.max_age_days):
            raise RateError(
                f"the newest ECB rate for {source}/{target} before {on.isoformat()} is from "
                f"{day.isoformat()}: load a newer rates file"
            )
        rates = {**self._by_day[day], "EUR": Decimal(1)}
        for code in (source, target):
            if code not in rates:
                raise RateError(f"the ECB file has no {code} rate on {day.isoformat()}")
        value = _PRECISION.divide(rates[target], rates[source])
        return Rate(value, day)


def _number(text: str, where: str) -> Decimal | None:
    text = text.strip()
    if not text or text.upper() == "N/A":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RateError(f"{where}: {text!r} is not a rate") from None
    if value <= 0:
        raise RateError(f"{where}: rate {text} is not positive")
    return value


def _parse_csv(text: str, path: Path) -> dict[date, dict[str, Decimal]]:
    rows = list(csv.reader(text.splitlines()))
    if not rows or rows[0][0].strip() != "Date":
        raise RateError(f"{path}: not an ECB CSV file (first column must be Date)")
    codes = [c.strip() for c in rows[0][1:]]
    found: dict[date, dict[str, Decimal]] = {}
    for line_number, row in enumerate(rows[1:], start=2):
        if not row or not row[0].strip():
            continue
        try:
            day = _parse_day(row[0].strip())
        except ValueError:
            raise RateError(f"{path}:{line_number}: {row[0]!r} is not a date") from None
        rates: dict[str, Decimal] = {}
        for code, cell in zip(codes, row[1:], strict=False):
            if code:
                value = _number(cell, f"{path}:{line_number} {code}")
                if value is not None:
                    rates[code] = value
        found[day] = rates
    return found


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return datetime.strptime(text, "%d %B %Y").date()  # the daily CSV: "21 November 2026"


def _parse_xml(raw: bytes, path: Path) -> dict[date, dict[str, Decimal]]:
    from lxml import etree  # type: ignore[import-untyped]  # only for XML rate files

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(raw, parser)
    found: dict[date, dict[str, Decimal]] = {}
    for cube in root.iter(f"{_ECB}Cube"):
        if cube.get("time") is None:
            continue
        day = date.fromisoformat(cube.get("time"))
        rates: dict[str, Decimal] = {}
        for entry in cube.iter(f"{_ECB}Cube"):
            code, text = entry.get("currency"), entry.get("rate")
            if code and text:
                value = _number(text, f"{path} {day} {code}")
                if value is not None:
                    rates[code] = value
        found[day] = rates
    if not found:
        raise RateError(f"{path}: no Cube time=... elements: not an ECB reference-rate file")
    return found
