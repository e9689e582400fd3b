"""Number patterns and series: formatting, validation, and a counter that rolls back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hub.invoicing import numbering
from hub.invoicing.numbering import (
    NumberingError,
    NumberPattern,
    PatternError,
    UnknownSeries,
    allocate,
    define_series,
    get_series,
    list_series,
    series_key,
)
from tests.pipeline_support import make_store

DAY = date(2026, 3, 5)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    engine, _ = make_store(request.param, tmp_path)
    yield engine
    engine.dispose()


# --- patterns ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "n", "expected"),
    [
        ("INV-{year}-{n:06d}", 1, "INV-2026-000001"),
        ("INV-{year}-{n:06d}", 1234567, "INV-2026-1234567"),  # grows, never cut
        ("{series}-{n}", 42, "CRN-42"),
        ("RE{date:%y%m}/{n:04}", 7, "RE2603/0007"),
        ("{{{n}}}", 3, "{3}"),
        ("X{n:d}", 9, "X9"),
    ],
)
def test_pattern_formats(pattern: str, n: int, expected: str) -> None:
    assert NumberPattern.parse(pattern).format(n, series="CRN", issue_date=DAY) == expected


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("INV-{year}", "has no {n}"),
        ("INV-{number}", "unknown field {number}"),
        ("INV-{n.real}", "unknown field {n.real}"),
        ("INV-{date.year}-{n}", "unknown field {date.year}"),
        ("INV-{series[0]}-{n}", "unknown field {series[0]}"),
        ("INV-{}", "unknown field {}"),
        ("INV-{n!r}", "no conversion"),
        ("INV-{n:.2f}", "may only pad"),
        ("INV-{n:x}", "may only pad"),
        ("INV-{n:e}", "may only pad"),
        ("INV-{n:>6}", "may only pad"),
        ("INV-{n:{year}}", "no nested fields"),
        ("INV-{n", "expected '}'"),
        ("INV-{year:%Y}-{n}", "Invalid format specifier"),
        ("", "1 to 255 characters"),
        ("N" * 253 + "{n}", "1 to 255 characters"),
        (" {n:0} ", None),  # valid: spaces around a number are allowed
    ],
)
def test_pattern_validation(pattern: str, why: str | None) -> None:
    if why is None:
        NumberPattern.parse(pattern)
        return
    with pytest.raises(PatternError) as info:
        NumberPattern.parse(pattern)
    assert why in str(info.value)


def test_series_keys() -> None:
    assert series_key("INV") == "INV"
    assert series_key("INV", year=2026) == "INV/2026"
    assert series_key("CRN", company="ACME", year=2027) == "ACME/CRN/2027"
    for bad in ("", "-INV", "INV 2026", "INV:1", "X" * 65):
        with pytest.raises(NumberingError, match="series key"):
            numbering.check_series_key(bad)


# --- series in the database -------------------------------------------------------------


def test_define_series_is_idempotent_and_keeps_its_pattern(engine: Engine) -> None:
    first = define_series(engine, "INV", "INV-{year}-{n:06d}")
    assert (first.series, first.pattern, first.last_number, first.next_number) == (
        "INV",
        "INV-{year}-{n:06d}",
        0,
        1,
    )
    again = define_series(engine, "INV", "INV-{year}-{n:06d}", first=500)
    assert again == first  # `first` only applies on creation
    with pytest.raises(PatternError, match="exists with pattern"):
        define_series(engine, "INV", "R-{n}")
    with pytest.raises(NumberingError, match="at least 1"):
        define_series(engine, "CRN", "CRN-{n}", first=0)
    with pytest.raises(PatternError):
        define_series(engine, "CRN", "CRN")
    define_series(engine, "ACME/CRN/2026", "ACME-CRN-{n}", first=1000)
    assert [s.series for s in list_series(engine)] == ["ACME/CRN/2026", "INV"]


def test_allocate_counts_from_first_and_formats(engine: Engine) -> None:
    define_series(engine, "OLD", "OLD-{year}-{n:05d}", first=4711)
    with engine.begin() as conn:
        assert allocate(conn, "OLD", issue_date=DAY) == (4711, "OLD-2026-04711")
        assert allocate(conn, "OLD", issue_date=date(2027, 1, 2)) == (4712, "OLD-2027-04712")
    series = get_series(engine, "OLD")
    assert series is not None
    assert series.last_number == 4712


def test_a_rolled_back_number_is_issued_again(engine: Engine) -> None:
    """The gapless property at its root: the increment is part of the transaction."""
    define_series(engine, "INV", "INV-{n}")
    with engine.begin() as conn:
        assert allocate(conn, "INV", issue_date=DAY) == (1, "INV-1")

    def fail_after_allocating() -> None:
        with engine.begin() as conn:
            assert allocate(conn, "INV", issue_date=DAY) == (2, "INV-2")
            raise RuntimeError("the invoice could not be stored")

    with pytest.raises(RuntimeError):
        fail_after_allocating()
    with engine.begin() as conn:
        assert allocate(conn, "INV", issue_date=DAY) == (2, "INV-2")


def test_allocate_refuses_an_unknown_series(engine: Engine) -> None:
    with pytest.raises(UnknownSeries, match="'NOPE'"), engine.begin() as conn:
        allocate(conn, "NOPE", issue_date=DAY)
