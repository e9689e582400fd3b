"""Periods and proration (hub/invoicing/billing.py).

Properties over generated contracts and amounts:

* a contract's periods tile its days: the first starts on its first billed day, each
  starts the day after the one before ends, the last ends on its end day; every period
  lies in one grid period of the schedule, and grid periods follow each other;
* a full period bills the full amount, to the minor unit;
* the parts of a split period add up to the unsplit amount **exactly**: the share of days
  ``[a, b)`` of a ``D``-day period is ``round(F·b/D) − round(F·a/D)`` (cumulative
  rounding, half away from zero), so the sum over any split telescopes to ``F``; each part
  is within one minor unit of its exact share ``F·(b−a)/D``.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub import money
from hub.invoicing.billing import (
    ContractPeriod,
    contract_periods,
    draft_period_invoice,
    due_periods,
    price_period,
    share,
    slot_containing,
)
from hub.invoicing.contracts import Contract
from tests.test_billing_contracts import contract, contract_data
from tests.test_billing_contracts import settings as invoicing_settings

D = Decimal
DAY = timedelta(days=1)
SLOT_DAYS = {"monthly": (28, 31), "quarterly": (89, 92), "yearly": (365, 366)}
STEP = {"monthly": 1, "quarterly": 3, "yearly": 12}


def line(sku: str = "SEAT", quantity: Any = 10, price: Any = "49.00") -> dict[str, Any]:
    return {
        "sku": sku,
        "name": f"Item {sku}",
        "quantity": D(str(quantity)),
        "unit_price": D(str(price)),
        "tax": {"category": "S", "rate": 19},
    }


def periods(c: Contract, through: date | None = None) -> list[ContractPeriod]:
    return list(contract_periods(c, through=through))


def amounts(c: Contract, period: ContractPeriod) -> list[tuple[Any, ...]]:
    return [(p.line.sku, p.line.quantity, p.amount, p.days) for p in price_period(c, period)]


# --------------------------------------------------------------------------- strategies

days = st.dates(min_value=date(2020, 1, 1), max_value=date(2032, 12, 31))
money_amounts = st.decimals(min_value=0, max_value=D("99999.99"), places=2)


@st.composite
def contracts(draw: st.DrawFn, *, closed: bool | None = None) -> Contract:
    schedule = draw(st.sampled_from(["monthly", "quarterly", "yearly"]))
    start = draw(days)
    has_end = draw(st.booleans()) if closed is None else closed
    end = start + timedelta(days=draw(st.integers(0, 1200))) if has_end else None
    data = contract_data(
        id="P-1",
        schedule=schedule,
        start=start,
        end=end,
        timing=draw(st.sampled_from(["advance", "arrears"])),
        billing_day=draw(st.integers(1, 31)),
        lines=[line(quantity=draw(st.integers(1, 50)), price=draw(money_amounts))],
    )
    if schedule != "monthly" and draw(st.booleans()):
        data["anchor_month"] = draw(st.integers(1, 12))
    last = end or start + timedelta(days=1200)
    if draw(st.booleans()) and last > start:
        data["bill_from"] = start + timedelta(days=draw(st.integers(0, (last - start).days)))
    changes = []
    effective = start
    for quantity in draw(st.lists(st.integers(1, 50), max_size=3)):
        effective += timedelta(days=draw(st.integers(1, 400)))
        if effective > last:
            break
        changes.append({"effective": effective, "lines": [line(quantity=quantity)]})
    data["changes"] = changes
    return Contract.model_validate(data)


# --------------------------------------------------------------------------- tiling


@given(contracts())
@settings(max_examples=300, deadline=None)
def test_periods_tile_the_contract_without_gap_or_overlap(c: Contract) -> None:
    horizon = c.end or c.billing_start + timedelta(days=800)
    found = periods(c, through=horizon)
    if c.end is not None and c.billing_start > c.end:
        assert found == []
        return
    assert found[0].start == c.billing_start
    for before, after in itertools.pairwise(found):
        assert after.start == before.end + DAY, "no gap, no overlap"
        assert after.slot.start == before.slot.stop, "grid periods follow each other"
    if c.end is not None:
        assert found[-1].end == c.end
    else:
        assert found[-1].slot.start <= horizon < found[-1].slot.stop
    low, high = SLOT_DAYS[c.schedule]
    anchor = (c.anchor_month or 1) - 1
    for period in found:
        assert period.slot.start <= period.start <= period.end <= period.slot.end
        assert low <= period.slot.days <= high
        start = period.slot.start
        assert start.day == min(c.billing_day, _month_days(start))
        assert (start.month - 1 - anchor) % STEP[c.schedule] == 0
        assert period.key == f"contract:P-1:{start.isoformat()}"
        expected = period.start if c.timing == "advance" else period.end + DAY
        assert period.bill_date == expected
    assert sum(p.days for p in found) == (found[-1].end - found[0].start).days + 1


def _month_days(day: date) -> int:
    following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return (following - date(day.year, day.month, 1)).days


@given(contracts(), days)
@settings(max_examples=200, deadline=None)
def test_the_slot_containing_a_day_contains_it(c: Contract, day: date) -> None:
    slot = slot_containing(c, day)
    assert slot.start <= day < slot.stop


@given(contracts(), days)
@settings(max_examples=200, deadline=None)
def test_due_periods_are_those_billed_by_the_day(c: Contract, day: date) -> None:
    due = due_periods(c, day)
    assert all(p.bill_date <= day for p in due)
    later = [p for p in periods(c, through=day + timedelta(days=800)) if p not in due]
    assert all(p.bill_date > day for p in later)


# --------------------------------------------------------------------------- proration


@given(contracts())
@settings(max_examples=200, deadline=None)
def test_every_line_is_billed_for_exactly_the_days_of_its_versions(c: Contract) -> None:
    for period in periods(c, through=c.end or c.billing_start + timedelta(days=400)):
        priced = price_period(c, period)
        # every day of the period is billed once per version's line (one line per version)
        assert sum(p.days for p in priced) == period.days
        for p in priced:
            assert D(0) <= p.amount <= p.full
            assert money.is_rounded(p.amount, c.currency)
            if p.days == period.slot.days:
                assert p.amount == p.full, "a full period bills the full amount"


@given(
    money_amounts,
    st.sampled_from(["EUR", "JPY", "KWD"]),
    st.integers(1, 366),
    st.data(),
)
@settings(max_examples=500, deadline=None)
def test_the_parts_of_a_split_period_add_up_to_the_full_amount(
    full: Decimal, currency: str, period_days: int, data: st.DataObject
) -> None:
    full = money.round_money(full, currency)
    cuts: list[int] = []
    if period_days > 1:
        cuts = sorted(data.draw(st.sets(st.integers(1, period_days - 1), max_size=6)))
    bounds = [0, *cuts, period_days]
    parts = [share(full, a, b, period_days, currency) for a, b in itertools.pairwise(bounds)]
    assert sum(parts, D(0)) == full
    unit = D(1).scaleb(-money.minor_units(currency))
    for (a, b), part in zip(itertools.pairwise(bounds), parts, strict=True):
        exact = full * (b - a) / period_days
        assert abs(part - exact) <= unit, "within one minor unit of the exact share"
        assert money.is_rounded(part, currency)
    assert share(full, 0, period_days, period_days, currency) == full


def test_a_share_outside_the_period_is_refused() -> None:
    with pytest.raises(ValueError, match="not inside a period"):
        share(D("10.00"), 3, 40, 31, "EUR")


@given(contracts(closed=False), st.integers(1, 700))
@settings(max_examples=200, deadline=None)
def test_ending_a_contract_and_continuing_it_bills_the_same_as_one_contract(
    c: Contract, cut_after: int
) -> None:
    """A contract split in two at any day (the first ends, the second starts the next day
    with the same schedule and lines) bills each period's full amount in all."""
    if c.changes or c.bill_from:
        c = c.model_copy(update={"changes": [], "bill_from": None})
    cut = c.start + timedelta(days=cut_after)
    first = c.model_copy(update={"end": cut - DAY})
    second = c.model_copy(update={"start": cut})
    slot = slot_containing(c, cut)
    whole = next(p for p in periods(c, through=cut) if p.slot == slot)
    parts = [p for x in (first, second) for p in periods(x, through=cut) if p.slot == slot]
    billed = sum(
        (
            q.amount
            for x, p in zip((first, second), parts, strict=False)
            for q in price_period(x, p)
        ),
        D(0),
    )
    if whole.partial:  # the contract itself started in this period: compare with it
        assert billed == sum((q.amount for q in price_period(c, whole)), D(0))
    else:
        assert billed == price_period(c, whole)[0].full


@given(contracts(), st.data())
@settings(max_examples=150, deadline=None)
def test_a_change_that_changes_nothing_bills_as_if_there_were_none(
    c: Contract, data: st.DataObject
) -> None:
    plain = c.model_copy(update={"changes": []})
    last = c.end or c.start + timedelta(days=400)
    if last <= c.start:
        return
    effective = c.start + timedelta(days=data.draw(st.integers(1, (last - c.start).days)))
    data_same = plain.model_dump()
    data_same["changes"] = [{"effective": effective, "lines": data_same["lines"]}]
    same = Contract.model_validate(data_same)
    for period in periods(plain, through=last):
        assert amounts(same, period) == amounts(plain, period)


# --------------------------------------------------------------------------- examples


def test_the_worked_example_of_the_docs() -> None:
    """docs/billing.md: 10 seats at 49.00 from 15 January, 12 seats from 15 March."""
    c = contract(
        start=date(2026, 1, 15),
        changes=[{"effective": date(2026, 3, 15), "lines": [line(quantity=12)]}],
    )
    jan, feb, mar, apr = periods(c, through=date(2026, 4, 1))
    assert (jan.start, jan.end, jan.slot.days, jan.bill_date) == (
        date(2026, 1, 15),
        date(2026, 1, 31),
        31,
        date(2026, 1, 15),
    )
    # 490.00 − round(490.00 × 14 / 31) = 490.00 − 221.29
    assert amounts(c, jan) == [("SEAT", 10, D("268.71"), 17)]
    assert amounts(c, feb) == [("SEAT", 10, D("490.00"), 28)]
    # round(490.00 × 14 / 31) = 221.29; 588.00 − round(588.00 × 14 / 31) = 588.00 − 265.55
    assert amounts(c, mar) == [("SEAT", 10, D("221.29"), 14), ("SEAT", 12, D("322.45"), 17)]
    assert amounts(c, apr) == [("SEAT", 12, D("588.00"), 30)]

    invoice = draft_period_invoice(
        c, mar, settings=invoicing_settings(), issue_date=date(2026, 3, 1)
    )
    assert [ln.net_amount_in("EUR") for ln in invoice.lines] == [D("221.29"), D("322.45")]
    assert [a.amount for ln in invoice.lines for a in ln.allowances] == [D("268.71"), D("265.55")]
    assert invoice.lines[0].allowances[0].reason == (
        "Pro rata: 14 of 31 days billed (2026-03-01 to 2026-03-14)"
    )
    assert invoice.lines[1].allowances[0].reason == (
        "Pro rata: 17 of 31 days billed (2026-03-15 to 2026-03-31)"
    )
    assert invoice.totals.tax_exclusive_total == D("543.74")
    assert invoice.totals.tax_total == D("103.31")
    assert invoice.notes == []
    assert (invoice.invoicing_period_start, invoice.invoicing_period_end) == (
        date(2026, 3, 1),
        date(2026, 3, 31),
    )
    assert invoice.buyer_reference == "C-1"
    assert invoice.external_ids == {"contract": "C-1"}
    assert invoice.due_date == date(2026, 3, 31)  # the seller's 2/10 net 30
    assert invoice.payment_terms is not None
    assert invoice.payment_terms.description is not None
    assert "discount" in invoice.payment_terms.description


def test_a_billing_day_past_the_months_end_takes_its_last_day() -> None:
    c = contract(start=date(2026, 1, 31), billing_day=31)
    starts = [p.slot.start for p in periods(c, through=date(2026, 5, 1))]
    assert starts == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    leap = contract(start=date(2028, 2, 1), billing_day=30)
    assert periods(leap, through=date(2028, 2, 29))[-1].slot.start == date(2028, 2, 29)


def test_quarters_and_years_follow_the_anchor_month() -> None:
    q = contract(schedule="quarterly", anchor_month=2, start=date(2026, 1, 10))
    assert [(p.slot.start, p.start) for p in periods(q, through=date(2026, 9, 1))] == [
        (date(2025, 11, 1), date(2026, 1, 10)),
        (date(2026, 2, 1), date(2026, 2, 1)),
        (date(2026, 5, 1), date(2026, 5, 1)),
        (date(2026, 8, 1), date(2026, 8, 1)),
    ]
    fiscal = contract(schedule="yearly", anchor_month=4, start=date(2026, 4, 1))
    (year,) = periods(fiscal, through=date(2026, 12, 31))
    assert (year.slot.start, year.slot.stop, year.slot.days) == (
        date(2026, 4, 1),
        date(2027, 4, 1),
        365,
    )
    assert amounts(fiscal, year) == [("SEAT", 10, D("490.00"), 365)]


def test_arrears_are_billed_the_day_after_the_period() -> None:
    c = contract(timing="arrears", start=date(2026, 1, 1), end=date(2026, 2, 10))
    jan, feb = periods(c)
    assert (jan.bill_date, feb.bill_date) == (date(2026, 2, 1), date(2026, 2, 11))
    assert due_periods(c, date(2026, 1, 31)) == []
    assert due_periods(c, date(2026, 2, 1)) == [jan]
    # 10 of 28 days: round(490 × 10 / 28) = 175.00
    assert amounts(c, feb) == [("SEAT", 10, D("175.00"), 10)]


def test_a_one_day_contract_and_bill_from() -> None:
    one = contract(start=date(2026, 2, 14), end=date(2026, 2, 14))
    (only,) = periods(one)
    assert (only.start, only.end, only.days) == (date(2026, 2, 14), date(2026, 2, 14), 1)
    assert amounts(one, only) == [("SEAT", 10, D("17.50"), 1)]  # 490 / 28

    migrated = contract(start=date(2025, 6, 1), bill_from=date(2026, 3, 1))
    assert periods(migrated, through=date(2026, 4, 1))[0].start == date(2026, 3, 1)


def test_a_line_that_leaves_and_returns_is_one_invoice_line() -> None:
    extra = line("EXTRA", 1, "31.00")
    c = contract(
        start=date(2026, 1, 1),
        lines=[line(), extra],
        changes=[
            {"effective": date(2026, 1, 11), "lines": [line()]},
            {"effective": date(2026, 1, 21), "lines": [line(), extra]},
        ],
    )
    (jan,) = periods(c, through=date(2026, 1, 1))
    priced = price_period(c, jan)
    assert [(p.line.sku, p.days, p.amount, p.runs) for p in priced] == [
        ("SEAT", 31, D("490.00"), ((date(2026, 1, 1), date(2026, 1, 31)),)),
        (
            "EXTRA",
            21,
            D("21.00"),
            ((date(2026, 1, 1), date(2026, 1, 10)), (date(2026, 1, 21), date(2026, 1, 31))),
        ),
    ]
    invoice = draft_period_invoice(c, jan, settings=invoicing_settings(), issue_date=jan.start)
    assert invoice.lines[1].allowances[0].reason == (
        "Pro rata: 21 of 31 days billed (2026-01-01 to 2026-01-10, 2026-01-21 to 2026-01-31)"
    )
