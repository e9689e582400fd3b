"""Recurring billing: contract periods, proration, and one invoice per period, once.

A contract (:mod:`hub.invoicing.contracts`) has a **schedule**: periods of 1, 3 or 12
months that start on ``billing_day`` (the month's last day when the month is shorter) in
the months of the grid ``anchor_month + k × step``. The periods of a contract are the grid
periods that meet its days ``[start, end]``; the first and the last may be billed in part.
Periods never overlap and leave no gap: each starts where the one before it stops.

**When** a period is billed: in ``advance`` on its first billed day, in ``arrears`` on the
day after its last billed day. ``o2c billing run --until D`` bills every period billed on
or before ``D`` that was not billed yet, oldest first.

**How much**: a line's full amount per period is ``quantity × unit_price`` rounded to the
currency's minor unit (EN 16931, half away from zero). A part of a period, days ``[a, b)``
counted from the period's first day out of its ``D`` days, is billed

    round(full × b / D) − round(full × a / D)

("cumulative rounding"): the parts of any split of a period add up to the full amount to
the minor unit, and each part is within one minor unit of its exact share
``full × (b − a) / D``. A line that continues unchanged across a contract change stays one
invoice line; a changed line is billed as the old line for the days before the change and
the new line from it. On the invoice a prorated line keeps its quantity and unit price
and gets a line allowance (BG-27) for the days not billed, whose reason names the days
billed, so the line net (BT-131) is the prorated amount and EN 16931 arithmetic holds.

**Once**: the invoice is issued by :meth:`hub.invoicing.store.InvoiceStore.issue` with
the source key ``contract:{id}:{period start}``; issuing a key again returns the first
invoice (PostgreSQL: under an advisory lock on the key), and the ``billing_period`` row
is written in the same transaction, so a period is billed once even by two processes.
The issued invoice is then emitted as a ``hub``/``invoice`` message for the routes, as
:meth:`hub.invoicing.service.InvoicingService.invoice_shipment` does; a crash between
issuing and emitting is emitted by the next run (``billing_period.emitted_at``).

The days billed are the invoice's invoicing period (BG-14, BT-73/74). A line billed for
one stretch of them only (a change mid-period) carries that stretch as its line period
(BG-26, BT-134/135); a line billed in several stretches has none, since BG-26 holds one
range, and its allowance reason names them.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub import money
from hub.canonical.common import PartyRef, TaxCategory
from hub.canonical.invoice import AllowanceCharge, Invoice, InvoiceLine
from hub.clock import utcnow
from hub.errors import ConfigError, HubError, Issue, NotFoundError
from hub.ingest import Ingestor
from hub.invoicing.contracts import (
    Contract,
    ContractLine,
    ContractsError,
    LoadedContract,
    load_contract_paths,
)
from hub.invoicing.currency import ExchangeRates
from hub.invoicing.settings import InvoicingSettings
from hub.invoicing.store import InvoiceStore, IssuedInvoice
from hub.invoicing.tax import TaxConfig, TaxError, determine
from hub.invoicing.terms import parse_terms, schedule
from hub.store.tables import billing_period_table

if TYPE_CHECKING:
    from hub.runtime import Runtime

__all__ = [
    "BilledPeriod",
    "BillingError",
    "BillingRun",
    "BillingService",
    "ContractPeriod",
    "ContractStatus",
    "Drift",
    "PeriodBilled",
    "PricedLine",
    "Slot",
    "billing_loop",
    "contract_periods",
    "draft_period_invoice",
    "due_periods",
    "price_period",
    "scheduled_billing",
    "share",
    "slot_containing",
    "source_key",
]

log = logging.getLogger("hub.billing")

B = billing_period_table.c
ZERO = Decimal(0)
ONE_DAY = timedelta(days=1)
STEP_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}
DEFAULT_EVERY_SECONDS = 3600


class BillingError(HubError):
    """A contract period could not be billed; the message names the contract and why."""

    status = 422


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True, order=True)
class Slot:
    """One period of a schedule's grid: ``[start, stop)``."""

    start: date
    stop: date

    @property
    def end(self) -> date:
        """The last day (inclusive)."""
        return self.stop - ONE_DAY

    @property
    def days(self) -> int:
        return (self.stop - self.start).days


def _grid_day(month_index: int, billing_day: int) -> date:
    """``billing_day`` of month ``month_index`` (year × 12 + month − 1), clamped."""
    year, month0 = divmod(month_index, 12)
    month = month0 + 1
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    last = (following - ONE_DAY).day
    return date(year, month, min(billing_day, last))


def _step_anchor(contract: Contract) -> tuple[int, int]:
    step = STEP_MONTHS[contract.schedule]
    anchor = (contract.anchor_month or 1) - 1 if step > 1 else 0
    return step, anchor


def slot_containing(contract: Contract, day: date) -> Slot:
    """The grid period of ``contract``'s schedule that contains ``day``."""
    step, anchor = _step_anchor(contract)
    index = day.year * 12 + day.month - 1
    index -= (index - anchor) % step
    start = _grid_day(index, contract.billing_day)
    if start > day:
        index -= step
        start = _grid_day(index, contract.billing_day)
    return Slot(start, _grid_day(index + step, contract.billing_day))


def _next_slot(contract: Contract, slot: Slot) -> Slot:
    step, _ = _step_anchor(contract)
    index = slot.stop.year * 12 + slot.stop.month - 1
    return Slot(slot.stop, _grid_day(index + step, contract.billing_day))


def source_key(contract_id: str, period_start: date) -> str:
    """The idempotency key the period's invoice is issued under."""
    return f"contract:{contract_id}:{period_start.isoformat()}"


@dataclass(frozen=True)
class ContractPeriod:
    """A period of a contract as billed: its grid ``slot`` and the days billed in it."""

    contract_id: str
    slot: Slot
    start: date
    """First day billed (the slot's, or the contract's first billed day)."""
    end: date
    """Last day billed, inclusive (the slot's, or the contract's end)."""
    bill_date: date
    """When it is due to be billed: ``start`` in advance, ``end`` + 1 in arrears."""

    @property
    def key(self) -> str:
        return source_key(self.contract_id, self.slot.start)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def partial(self) -> bool:
        return self.days < self.slot.days

    def label(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def contract_periods(
    contract: Contract, *, through: date | None = None
) -> Iterator[ContractPeriod]:
    """The contract's periods in order, from its first billed day to its end, or (open
    contracts, or with ``through``) up to the period containing ``through``."""
    first = contract.billing_start
    last = contract.end
    if last is not None and first > last:
        return
    slot = slot_containing(contract, first)
    while True:
        if last is not None and slot.start > last:
            return
        if through is not None and slot.start > through:
            return
        start = max(slot.start, first)
        end = slot.end if last is None else min(slot.end, last)
        bill = start if contract.timing == "advance" else end + ONE_DAY
        yield ContractPeriod(contract.id, slot, start, end, bill)
        slot = _next_slot(contract, slot)


def due_periods(contract: Contract, as_of: date) -> list[ContractPeriod]:
    """Periods billed on or before ``as_of`` (whether or not they were billed)."""
    return [p for p in contract_periods(contract, through=as_of) if p.bill_date <= as_of]


# --------------------------------------------------------------------------- amounts


def share(full: Decimal, a: int, b: int, days: int, currency: str) -> Decimal:
    """Days ``[a, b)`` of a ``days``-day period of ``full``, by cumulative rounding (see
    the module docstring): the shares of any split of ``[0, days)`` add up to ``full``."""
    if not 0 <= a <= b <= days or days <= 0:
        raise ValueError(f"days [{a}, {b}) are not inside a period of {days} days")
    if a == 0 and b == days:
        return full
    upper = money.round_money(full * b / days, currency)
    lower = money.round_money(full * a / days, currency)
    return upper - lower


@dataclass(frozen=True)
class PricedLine:
    """A contract line as billed in one period: the days it ran and what they cost."""

    line: ContractLine
    runs: tuple[tuple[date, date], ...]
    """Inclusive day ranges billed, in order."""
    days: int
    full: Decimal
    """The line's amount for the whole period."""
    amount: Decimal
    """What is billed (BT-131)."""


def _segments(
    contract: Contract, period: ContractPeriod
) -> list[tuple[date, date, list[ContractLine]]]:
    """``[from, stop)`` and lines of each contract version within the billed days."""
    versions = contract.versions()
    stop_all = period.end + ONE_DAY
    found = []
    for i, (effective, lines) in enumerate(versions):
        until = versions[i + 1][0] if i + 1 < len(versions) else date.max
        begin, stop = max(effective, period.start), min(until, stop_all)
        if begin < stop:
            found.append((begin, stop, lines))
    return found


def price_period(contract: Contract, period: ContractPeriod) -> list[PricedLine]:
    """Every line billed in ``period``, prorated by days (cumulative rounding)."""
    slot = period.slot
    runs: dict[ContractLine, list[tuple[date, date]]] = {}
    for begin, stop, lines in _segments(contract, period):
        for line in lines:
            spans = runs.setdefault(line, [])
            if spans and spans[-1][1] == begin:  # the same line goes on: one run
                spans[-1] = (spans[-1][0], stop)
            else:
                spans.append((begin, stop))
    priced = []
    for line, spans in runs.items():
        full = line.full_amount(contract.currency)
        amount = sum(
            (
                share(
                    full, (b - slot.start).days, (s - slot.start).days, slot.days, contract.currency
                )
                for b, s in spans
            ),
            ZERO,
        )
        priced.append(
            PricedLine(
                line=line,
                runs=tuple((b, s - ONE_DAY) for b, s in spans),
                days=sum((s - b).days for b, s in spans),
                full=full,
                amount=amount,
            )
        )
    return priced


def _tax(
    contract: Contract, line: ContractLine, tax: TaxConfig | None
) -> tuple[TaxCategory, Decimal, str | None]:
    """Category, rate and exemption reason (BT-120) of a line."""
    if line.tax is not None:
        return line.tax.category, line.tax.rate, line.tax.reason
    if tax is None:
        raise BillingError(
            f"contract {contract.id}: line {line.sku} has no `tax` and no VAT rules are "
            "configured (invoicing.tax): give the line `tax: {category: S, rate: 19}`"
        )
    customer = contract.customer
    ship_to = customer.delivery_address or customer.address
    try:
        decision = determine(
            tax,
            ship_to_country=ship_to.country,
            buyer_vat_id=customer.vat_id,
            tax_class=line.tax_class,
            supply=line.supply,
        )
    except TaxError as exc:
        raise BillingError(f"contract {contract.id}: line {line.sku}: {exc.message}") from exc
    rate = decision.rate if decision.rate is not None else ZERO
    return decision.category, rate, decision.exemption_reason


def _days_text(priced: PricedLine, slot: Slot) -> str:
    spans = ", ".join(
        a.isoformat() if a == b else f"{a.isoformat()} to {b.isoformat()}" for a, b in priced.runs
    )
    return f"Pro rata: {priced.days} of {slot.days} days billed ({spans})"


def _line_period(priced: PricedLine, period: ContractPeriod) -> tuple[date, date] | None:
    """BG-26 of a line billed for one stretch of the period's days, not all of them."""
    if len(priced.runs) != 1 or priced.runs[0] == (period.start, period.end):
        return None
    return priced.runs[0]


def draft_period_invoice(
    contract: Contract,
    period: ContractPeriod,
    *,
    settings: InvoicingSettings,
    issue_date: date,
    rates: ExchangeRates | None = None,
) -> Invoice:
    """The invoice of one contract period (number ``DRAFT``; the store numbers it)."""
    if period.contract_id != contract.id:
        raise BillingError(f"period {period.key} is not a period of contract {contract.id}")
    seller = settings.seller
    currency = contract.currency
    lines: list[InvoiceLine] = []
    exemption: dict[TaxCategory, str] = {}
    for number, priced in enumerate(price_period(contract, period), start=1):
        line = priced.line
        line_period = _line_period(priced, period)
        category, rate, reason = _tax(contract, line, settings.tax)
        if reason:
            exemption[category] = reason
        unbilled = priced.full - priced.amount
        allowances = (
            [AllowanceCharge(amount=unbilled, reason=_days_text(priced, period.slot))]
            if unbilled > 0
            else []
        )
        lines.append(
            InvoiceLine(
                line_id=str(number),
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit=line.unit,
                unit_price=line.unit_price,
                allowances=allowances,
                tax_category=category,
                tax_rate=rate,
                period_start=line_period[0] if line_period else None,
                period_end=line_period[1] if line_period else None,
            )
        )
    if not lines:
        raise BillingError(f"contract {contract.id}: period {period.label()} bills no line")
    accounting = seller.accounting_currency
    rate_value = rate_day = None
    if accounting and accounting != currency:
        if rates is None:
            raise BillingError(
                f"contract {contract.id} is in {currency} and the books in {accounting}: "
                "configure an ECB rates file (invoicing.rates_file)"
            )
        found = rates.rate(accounting, currency, issue_date)
        rate_value, rate_day = found.value, found.day
    customer = contract.customer
    terms = parse_terms(contract.payment_terms or seller.payment_terms)
    notes = [contract.note] if contract.note else []
    draft = Invoice(
        invoice_number="DRAFT",
        issue_date=issue_date,
        currency=currency,
        accounting_currency=accounting if rate_value is not None else None,
        exchange_rate=rate_value,
        exchange_rate_date=rate_day,
        buyer_reference=customer.reference or contract.id,
        order_reference=customer.purchase_order,
        external_ids={"contract": contract.id},
        seller=PartyRef(
            name=seller.contact or seller.name,
            company=seller.name,
            tax_id=seller.tax_id,
            email=seller.email,
            phone=seller.phone,
        ),
        seller_address=seller.address,
        buyer=contract.buyer(),
        buyer_address=customer.address,
        delivery_address=customer.delivery_address,
        payment_terms=terms,
        invoicing_period_start=period.start,
        invoicing_period_end=period.end,
        notes=notes,
        lines=lines,
        exemption_reasons=exemption,
    )
    plan = schedule(terms, issue_date, draft.totals.payable_amount, currency)
    return draft.model_copy(
        update={
            "due_date": plan.due_date,
            "payment_terms": terms.model_copy(update={"description": plan.text}),
        }
    )


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class BilledPeriod:
    """A ``billing_period`` row: a period that was billed, and by which invoice."""

    contract_id: str
    period_start: date
    period_end: date
    billed_from: date
    billed_to: date
    invoice_number: str
    currency: str
    net_total: Decimal
    billed_at: datetime
    emitted_at: datetime | None
    message_id: str | None


def _billed(row: Row[Any]) -> BilledPeriod:
    m = row._mapping
    return BilledPeriod(
        contract_id=str(m["contract_id"]),
        period_start=m["period_start"],
        period_end=m["period_end"],
        billed_from=m["billed_from"],
        billed_to=m["billed_to"],
        invoice_number=str(m["invoice_number"]),
        currency=str(m["currency"]),
        net_total=Decimal(m["net_total"]),
        billed_at=m["billed_at"],
        emitted_at=m["emitted_at"],
        message_id=m["message_id"],
    )


def _record(period: ContractPeriod, issued: IssuedInvoice) -> dict[str, object]:
    return {
        "contract_id": period.contract_id,
        "period_start": period.slot.start,
        "period_end": period.slot.end,
        "billed_from": period.start,
        "billed_to": period.end,
        "invoice_number": issued.number,
        "currency": issued.currency,
        "net_total": format(issued.net_total, "f"),
        "billed_at": utcnow(),
    }


@dataclass(frozen=True)
class PeriodBilled:
    """The outcome of billing one period."""

    period: ContractPeriod
    issued: IssuedInvoice
    message_id: str
    created: bool
    """False when the period had been billed already (the first invoice came back)."""


@dataclass(frozen=True)
class Drift:
    """A billed period the contract now prices differently (changed after billing)."""

    contract_id: str
    period_start: date
    invoice_number: str
    billed: Decimal
    now: Decimal
    currency: str

    def __str__(self) -> str:
        what = "an additional invoice" if self.now > self.billed else "a credit note"
        return (
            f"contract {self.contract_id}, period from {self.period_start}: {self.invoice_number} "
            f"billed {self.billed:f} {self.currency} net, the contract now says {self.now:f}; "
            f"correct it with {what}"
        )


@dataclass
class BillingRun:
    """What one run did."""

    until: date
    issue_date: date
    dry_run: bool
    billed: list[PeriodBilled] = field(default_factory=list)
    drafts: list[tuple[ContractPeriod, Invoice]] = field(default_factory=list)
    failed: list[tuple[ContractPeriod, str]] = field(default_factory=list)
    skipped: list[ContractPeriod] = field(default_factory=list)
    """Later periods of a contract whose earlier period failed (billed in order)."""
    reemitted: int = 0
    stopped: bool = False
    drift: list[Drift] = field(default_factory=list)


@dataclass(frozen=True)
class ContractStatus:
    """A contract's billing state for ``o2c billing list``."""

    contract: Contract
    billed: int
    last: BilledPeriod | None
    next: ContractPeriod | None
    due: int
    """Periods due on the day asked about and not billed yet."""


# --------------------------------------------------------------------------- service


class BillingService:
    """Bills the configured contracts through the invoice store (see module docstring)."""

    def __init__(
        self,
        engine: Engine,
        ingestor: Ingestor,
        settings: InvoicingSettings,
        contracts: Sequence[Contract | LoadedContract] | None = None,
    ) -> None:
        self.engine = engine
        self.ingestor = ingestor
        self.settings = settings
        self.store = InvoiceStore(engine)
        self._series_defined = False
        self._rates = ExchangeRates.load(settings.rates_file) if settings.rates_file else None
        self._contracts: dict[str, Contract] = {}
        if contracts is None:
            self.reload()
        else:
            self._use(
                [c if isinstance(c, LoadedContract) else LoadedContract(c) for c in contracts]
            )

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> BillingService:
        """The billing of the configured hub (``invoicing.contracts``)."""
        settings = runtime.settings.invoicing
        if settings is None:
            raise ConfigError(
                "invoicing is not configured: add an `invoicing:` section (seller, series, "
                "contracts) to the hub's configuration"
            )
        return cls(runtime.engine, runtime.ingestor, settings)

    # ----------------------------------------------------------------- contracts

    def reload(self) -> None:
        """Read the contract files (``invoicing.contracts``) and the rates file again, as
        ``o2c serve`` does every round; on any problem the contracts in use stay as they
        were and :class:`ContractsError` lists every problem."""
        path = self.settings.contracts
        if path is None:
            raise ConfigError(
                "no contracts configured: set invoicing.contracts to a folder or file of "
                "contract YAML (docs/billing.md)"
            )
        loaded = load_contract_paths([Path(path)])
        if self.settings.rates_file and self._contracts:  # the first load read them
            self._rates = ExchangeRates.load(self.settings.rates_file)
        self._use(loaded)

    def _use(self, loaded: Sequence[LoadedContract]) -> None:
        issues: list[Issue] = []
        seen: set[str] = set()
        for entry in loaded:
            contract = entry.contract
            if contract.id in seen:
                issues.append(entry.issue(("id",), "duplicate contract id"))
            seen.add(contract.id)
            issues += self._check(entry)
        if issues:
            raise ContractsError(issues)
        self._contracts = {e.contract.id: e.contract for e in loaded}

    def _check(self, entry: LoadedContract) -> list[Issue]:
        """What the contract needs from the settings: VAT rules or explicit tax, rates."""
        contract = entry.contract
        issues = []
        versions: list[tuple[tuple[str | int, ...], list[ContractLine]]] = [
            (("lines",), contract.lines)
        ]
        versions += [(("changes", i, "lines"), c.lines) for i, c in enumerate(contract.changes)]
        for base, lines in versions:
            for j, line in enumerate(lines):
                try:
                    _tax(contract, line, self.settings.tax)
                except BillingError as exc:
                    message = exc.message.removeprefix(f"contract {contract.id}: ")
                    issues.append(entry.issue((*base, j), message))
        accounting = self.settings.seller.accounting_currency
        if accounting and accounting != contract.currency and self._rates is None:
            issues.append(
                entry.issue(
                    ("currency",),
                    f"{contract.currency} differs from the books' {accounting}: configure an "
                    "ECB rates file (invoicing.rates_file)",
                )
            )
        return issues

    @property
    def contracts(self) -> list[Contract]:
        return sorted(self._contracts.values(), key=lambda c: c.id)

    def contract(self, contract_id: str) -> Contract:
        found = self._contracts.get(contract_id)
        if found is None:
            close = difflib.get_close_matches(contract_id, list(self._contracts), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise NotFoundError(f"no contract {contract_id!r}{hint}")
        return found

    # ----------------------------------------------------------------- state

    def billed(self, contract_id: str | None = None) -> list[BilledPeriod]:
        """Billed periods, by contract and period."""
        query = select(billing_period_table).order_by(B.contract_id, B.period_start)
        if contract_id is not None:
            query = query.where(B.contract_id == contract_id)
        with self.engine.connect() as conn:
            return [_billed(row) for row in conn.execute(query)]

    def _billed_by_contract(self) -> dict[str, dict[date, BilledPeriod]]:
        found: dict[str, dict[date, BilledPeriod]] = {}
        for record in self.billed():
            found.setdefault(record.contract_id, {})[record.period_start] = record
        return found

    def due(self, as_of: date, contract_id: str | None = None) -> list[ContractPeriod]:
        """Periods billed on or before ``as_of`` and not billed yet, oldest first."""
        contracts = [self.contract(contract_id)] if contract_id else self.contracts
        billed = self._billed_by_contract()
        found = [
            period
            for contract in contracts
            for period in due_periods(contract, as_of)
            if period.slot.start not in billed.get(contract.id, {})
        ]
        return sorted(found, key=lambda p: (p.bill_date, p.contract_id, p.slot.start))

    def status(self, as_of: date) -> list[ContractStatus]:
        """Per contract: periods billed, the last one, the next one to bill, due count."""
        billed = self._billed_by_contract()
        found = []
        for contract in self.contracts:
            mine = billed.get(contract.id, {})
            last = mine[max(mine)] if mine else None
            upcoming = (p for p in contract_periods(contract) if p.slot.start not in mine)
            due = sum(1 for p in due_periods(contract, as_of) if p.slot.start not in mine)
            found.append(ContractStatus(contract, len(mine), last, next(upcoming, None), due=due))
        return found

    def drift(self, contract_id: str | None = None) -> list[Drift]:
        """Billed periods whose amount the contract, as it reads now, no longer gives."""
        found = []
        for contract_key, mine in self._billed_by_contract().items():
            if contract_id is not None and contract_key != contract_id:
                continue
            contract = self._contracts.get(contract_key)
            if contract is None or not mine:
                continue
            periods = {p.slot.start: p for p in contract_periods(contract, through=max(mine))}
            for start, record in sorted(mine.items()):
                period = periods.get(start)
                if period is not None:
                    now = sum((p.amount for p in price_period(contract, period)), ZERO)
                elif contract.end is not None and record.billed_from > contract.end:
                    now = ZERO  # the contract now ends before this period
                else:
                    continue  # before `bill_from`, or another schedule: not comparable
                if now != record.net_total:
                    found.append(
                        Drift(
                            contract.id,
                            start,
                            record.invoice_number,
                            record.net_total,
                            now,
                            record.currency,
                        )
                    )
        return found

    # ----------------------------------------------------------------- billing

    def draft(self, period: ContractPeriod, issue_date: date) -> Invoice:
        """The invoice ``period`` would get (nothing is issued)."""
        return draft_period_invoice(
            self.contract(period.contract_id),
            period,
            settings=self.settings,
            issue_date=issue_date,
            rates=self._rates,
        )

    def _define_series(self) -> None:
        if not self._series_defined:
            self.store.define_series(self.settings.series, self.settings.pattern)
            self._series_defined = True

    def _check_overlap(self, period: ContractPeriod) -> None:
        """A changed schedule must not bill days that an earlier period billed."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(billing_period_table).where(
                    B.contract_id == period.contract_id,
                    B.period_start != period.slot.start,
                    B.billed_from <= period.end,
                    B.billed_to >= period.start,
                )
            ).all()
        if rows:
            other = _billed(rows[0])
            raise BillingError(
                f"contract {period.contract_id}: period {period.label()} overlaps "
                f"{other.billed_from}..{other.billed_to}, billed on {other.invoice_number}; "
                "the schedule changed after billing: set `bill_from` to "
                f"{other.billed_to + ONE_DAY} to go on from there"
            )

    def bill(self, period: ContractPeriod, issue_date: date) -> PeriodBilled:
        """Issue (once) and emit the invoice of ``period``."""
        self._define_series()
        existing = self.store.by_source_key(period.key)
        if existing is None:
            self._check_overlap(period)
            draft = self.draft(period, issue_date)

            def record(conn: Connection, issued: IssuedInvoice) -> None:
                conn.execute(insert(billing_period_table).values(_record(period, issued)))

            issued = self.store.issue(
                draft,
                series=self.settings.series,
                source_key=period.key,
                claims=[],
                shipped={},
                in_transaction=record,
            )
        else:
            issued = existing
        if not issued.created:
            self._ensure_record(period, issued)
        result = self.ingestor.ingest_canonical("hub", issued.kind, issued.document)
        self._emitted(period.contract_id, period.slot.start, result.message_id)
        if issued.created:
            log.info(
                "billed contract %s period %s: %s, %s %s",
                period.contract_id,
                period.label(),
                issued.number,
                issued.gross_total,
                issued.currency,
            )
        return PeriodBilled(period, issued, result.message_id, issued.created)

    def _ensure_record(self, period: ContractPeriod, issued: IssuedInvoice) -> None:
        """The row of an invoice issued before (it is written with the invoice; this
        only repairs a store whose row went missing)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(B.invoice_number).where(
                    B.contract_id == period.contract_id, B.period_start == period.slot.start
                )
            ).first()
        if found is None:
            with contextlib.suppress(IntegrityError), self.engine.begin() as conn:
                conn.execute(insert(billing_period_table).values(_record(period, issued)))

    def _emitted(self, contract_id: str, period_start: date, message_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(billing_period_table)
                .where(B.contract_id == contract_id, B.period_start == period_start)
                .values(emitted_at=utcnow(), message_id=message_id)
            )

    def emit_pending(self) -> int:
        """Emit invoices issued by an earlier run that crashed before emitting them."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(billing_period_table)
                .where(B.emitted_at.is_(None))
                .order_by(B.contract_id, B.period_start)
            ).all()
        count = 0
        for row in rows:
            record = _billed(row)
            issued = self.store.get(record.invoice_number)
            if issued is None:  # pragma: no cover - the foreign key prevents it
                continue
            result = self.ingestor.ingest_canonical("hub", issued.kind, issued.document)
            self._emitted(record.contract_id, record.period_start, result.message_id)
            count += 1
        return count

    def run(
        self,
        *,
        until: date,
        issue_date: date,
        contract_id: str | None = None,
        dry_run: bool = False,
        periods: Sequence[ContractPeriod] | None = None,
        on_period: Callable[[ContractPeriod], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> BillingRun:
        """Bill every due period (or ``periods``), oldest first; a failed period is
        reported and the contract's later periods wait for the next run."""
        result = BillingRun(until=until, issue_date=issue_date, dry_run=dry_run)
        if not dry_run:
            result.reemitted = self.emit_pending()
        todo = list(periods) if periods is not None else self.due(until, contract_id)
        broken: set[str] = set()
        for period in todo:
            if should_stop is not None and should_stop():
                result.stopped = True
                break
            if period.contract_id in broken:
                result.skipped.append(period)
            else:
                try:
                    if dry_run:
                        result.drafts.append((period, self.draft(period, issue_date)))
                    else:
                        result.billed.append(self.bill(period, issue_date))
                except Exception as exc:  # noqa: BLE001 - reported per period, the run goes on
                    broken.add(period.contract_id)
                    message = exc.message if isinstance(exc, HubError) else repr(exc)
                    result.failed.append((period, message))
                    log.error(
                        "billing contract %s period %s failed: %s",
                        period.contract_id,
                        period.label(),
                        message,
                    )
            if on_period is not None:
                on_period(period)
        result.drift = self.drift(contract_id)
        return result


# --------------------------------------------------------------------------- serve


def scheduled_billing(runtime: Runtime) -> tuple[BillingService, int] | None:
    """The billing ``o2c serve`` runs and how often, or None when it runs none (no
    ``invoicing.contracts``, or ``billing_every_seconds`` 0 or null). Reads the contracts
    now, so a broken file stops the server at start rather than an hour later."""
    settings = runtime.settings.invoicing
    if settings is None or settings.contracts is None or not settings.billing_every_seconds:
        return None
    return BillingService.from_runtime(runtime), settings.billing_every_seconds


async def billing_loop(
    service: BillingService,
    stop: asyncio.Event,
    *,
    every: float = DEFAULT_EVERY_SECONDS,
    today: Callable[[], date] = date.today,
) -> None:
    """Inside ``o2c serve``: bill what is due every ``every`` seconds until ``stop``.

    Each round reads the contract files again (a broken file is logged and the round
    skipped: nothing is billed from a half-edited contract) and runs in a thread; on
    ``stop`` the period being billed finishes and the round ends there.
    """
    warned: set[Drift] = set()
    while not stop.is_set():
        try:
            result = await asyncio.to_thread(_scheduled_round, service, today(), stop.is_set)
        except Exception:
            log.exception("billing round failed")
        else:
            for drift in result.drift if result is not None else []:
                if drift not in warned:  # once per process, not every round
                    warned.add(drift)
                    log.warning("billing: %s", drift)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


def _scheduled_round(
    service: BillingService, day: date, should_stop: Callable[[], bool]
) -> BillingRun | None:
    try:
        service.reload()
    except HubError as exc:
        log.error("billing skipped: the contracts cannot be read: %s", exc.message)
        return None
    result = service.run(until=day, issue_date=day, should_stop=should_stop)
    created = sum(1 for b in result.billed if b.created)
    if created or result.failed or result.reemitted:
        log.info(
            "billing round: %d invoices issued, %d periods failed, %d re-emitted",
            created,
            len(result.failed),
            result.reemitted,
        )
    return result
