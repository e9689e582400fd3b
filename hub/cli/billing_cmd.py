"""``o2c billing``: recurring invoices from contracts: run, list, preview."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.canonical.invoice import Invoice
from hub.cli.mapping_cmd import ConfigOption
from hub.cli.ops_cmd import _runtime
from hub.cli.output import err, out
from hub.invoicing.billing import BillingRun, BillingService, ContractPeriod, contract_periods

app = typer.Typer(
    help="Recurring billing: contracts become periodic invoices (docs/billing.md).",
    no_args_is_help=True,
)

UntilOption = Annotated[
    str | None,
    typer.Option(help="Bill periods due on or before YYYY-MM-DD (default: the issue date)."),
]
IssueDateOption = Annotated[
    str | None, typer.Option(help="Invoice date, YYYY-MM-DD (default: today).")
]


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


def _service(config: Path | None) -> BillingService:
    return BillingService.from_runtime(_runtime(config))


def _money(amount: Any, currency: str) -> str:
    return f"{amount:f} {currency}"


@app.command()
def run(
    until: UntilOption = None,
    contract: Annotated[str | None, typer.Option(help="Only this contract (its id).")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be billed; issue nothing.")
    ] = False,
    issue_date: IssueDateOption = None,
    config: ConfigOption = None,
) -> None:
    """Bill every contract period that is due and not billed yet, oldest first; a period
    already billed is never billed again."""
    service = _service(config)
    day = _day(issue_date, "--issue-date") or date.today()
    limit = _day(until, "--until") or day
    periods = service.due(limit, contract)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=not periods) as progress:
        task = progress.add_task("dry run" if dry_run else "billing", total=len(periods))
        result = service.run(
            until=limit,
            issue_date=day,
            contract_id=contract,
            dry_run=dry_run,
            periods=periods,
            on_period=lambda _period: progress.advance(task),
        )
    _summary(result)
    if result.failed:
        raise typer.Exit(1)


def _summary(result: BillingRun) -> None:
    title = "Dry run: would bill" if result.dry_run else f"Billed until {result.until}"
    table = Table(title=title)
    for column in ("contract", "period", "due", "invoice", "net", "gross", "result"):
        table.add_column(column, justify="right" if column in ("net", "gross") else "left")
    for period, draft in result.drafts:
        totals = draft.totals
        table.add_row(
            period.contract_id,
            period.label(),
            period.bill_date.isoformat(),
            "-",
            _money(totals.tax_exclusive_total, draft.currency),
            _money(totals.tax_inclusive_total, draft.currency),
            "would bill",
        )
    for billed in result.billed:
        issued, period = billed.issued, billed.period
        table.add_row(
            period.contract_id,
            period.label(),
            period.bill_date.isoformat(),
            issued.number,
            _money(issued.net_total, issued.currency),
            _money(issued.gross_total, issued.currency),
            "issued" if billed.created else "already billed",
        )
    for period, message in result.failed:
        table.add_row(
            period.contract_id, period.label(), period.bill_date.isoformat(), "-", "", "", "failed"
        )
        err.print(f"{period.contract_id} {period.label()}: {message}", style="red", markup=False)
    for period in result.skipped:
        table.add_row(
            period.contract_id,
            period.label(),
            period.bill_date.isoformat(),
            "-",
            "",
            "",
            "waits (an earlier period failed)",
        )
    if table.row_count:
        out.print(table)
    for drift in result.drift:
        err.print(f"warning: {drift}", style="yellow", markup=False)
    if result.dry_run:
        out.print(f"{len(result.drafts)} periods would be billed, {len(result.failed)} failed")
        return
    created = sum(1 for b in result.billed if b.created)
    again = len(result.billed) - created
    parts = [
        f"{created} invoices issued",
        f"{again} already billed",
        f"{len(result.failed)} failed",
    ]
    if result.skipped:
        parts.append(f"{len(result.skipped)} waiting")
    if result.reemitted:
        parts.append(f"{result.reemitted} re-emitted")
    if result.stopped:
        parts.append("stopped early")
    out.print(", ".join(parts))


@app.command("list")
def list_(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Count periods due on YYYY-MM-DD (default: today)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config: ConfigOption = None,
) -> None:
    """The contracts: schedule, what was billed last and the next period to bill."""
    service = _service(config)
    day = _day(as_of, "--as-of") or date.today()
    statuses = service.status(day)
    drift = service.drift()
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {
                        "contract": s.contract.id,
                        "customer": s.contract.customer.name,
                        "schedule": s.contract.schedule,
                        "timing": s.contract.timing,
                        "currency": s.contract.currency,
                        "start": s.contract.start.isoformat(),
                        "end": s.contract.end.isoformat() if s.contract.end else None,
                        "billed_periods": s.billed,
                        "last_billed": _last(s.last),
                        "next_period": _period(s.next),
                        "due": s.due,
                        "drift": [
                            {
                                "period_start": d.period_start.isoformat(),
                                "invoice": d.invoice_number,
                                "billed_net": str(d.billed),
                                "contract_net": str(d.now),
                            }
                            for d in drift
                            if d.contract_id == s.contract.id
                        ],
                    }
                    for s in statuses
                ]
            )
        )
        return
    table = Table(title=f"Contracts (due as of {day})")
    for column in (
        "contract",
        "customer",
        "schedule",
        "billed",
        "last billed",
        "next period",
        "due",
    ):
        table.add_column(column)
    for s in statuses:
        c = s.contract
        last = (
            f"{s.last.billed_from}..{s.last.billed_to} {s.last.invoice_number}" if s.last else "-"
        )
        following = f"{s.next.label()} on {s.next.bill_date}" if s.next else "- (ended)"
        table.add_row(
            c.id,
            c.customer.name,
            f"{c.schedule}, {c.timing}, {c.currency}",
            str(s.billed),
            last,
            following,
            str(s.due) if s.due else "-",
        )
    out.print(table)
    for item in drift:
        err.print(f"warning: {item}", style="yellow", markup=False)


def _last(record: Any) -> dict[str, str] | None:
    if record is None:
        return None
    return {
        "period_start": record.period_start.isoformat(),
        "billed_from": record.billed_from.isoformat(),
        "billed_to": record.billed_to.isoformat(),
        "invoice": record.invoice_number,
        "net": str(record.net_total),
        "currency": record.currency,
    }


def _period(period: ContractPeriod | None) -> dict[str, str] | None:
    if period is None:
        return None
    return {
        "period_start": period.slot.start.isoformat(),
        "billed_from": period.start.isoformat(),
        "billed_to": period.end.isoformat(),
        "bill_date": period.bill_date.isoformat(),
    }


@app.command()
def preview(
    contract: Annotated[str, typer.Argument(help="The contract's id.")],
    until: Annotated[
        str | None,
        typer.Option(help="Every unbilled period due by YYYY-MM-DD (default: the next one)."),
    ] = None,
    issue_date: IssueDateOption = None,
    config: ConfigOption = None,
) -> None:
    """Show the invoices the contract's next periods would get, line by line, with the
    proration; nothing is issued."""
    service = _service(config)
    chosen = service.contract(contract)
    day = _day(issue_date, "--issue-date") or date.today()
    limit = _day(until, "--until")
    billed = {record.period_start for record in service.billed(chosen.id)}
    if limit is None:
        upcoming = (p for p in contract_periods(chosen) if p.slot.start not in billed)
        first = next(upcoming, None)
        periods = [first] if first is not None else []
    else:
        periods = service.due(limit, chosen.id)
    if not periods:
        out.print(f"contract {chosen.id}: nothing left to bill" + (f" by {limit}" if limit else ""))
        return
    for period in periods:
        _show(period, service.draft(period, day))


def _show(period: ContractPeriod, draft: Invoice) -> None:
    table = Table(
        title=f"Contract {period.contract_id}: period {period.label()}, billed {period.bill_date}"
    )
    for column in ("line", "sku", "qty", "unit price", "pro rata", "net", "VAT"):
        right = column in ("qty", "unit price", "pro rata", "net")
        table.add_column(column, justify="right" if right else "left")
    for line in draft.lines:
        unbilled = sum((a.amount for a in line.allowances), Decimal(0))
        table.add_row(
            line.line_id,
            f"{line.sku} ({line.name})",
            f"{line.quantity:f}",
            f"{line.unit_price:f}",
            f"-{unbilled:f}" if unbilled else "",
            f"{line.net_amount_in(draft.currency):f}",
            f"{line.tax_category.value} {line.tax_rate:f} %",
        )
    out.print(table)
    for line in draft.lines:
        for allowance in line.allowances:
            out.print(f"  line {line.line_id}: {allowance.reason}", markup=False)
    totals = draft.totals
    for label, value in (
        ("net", totals.tax_exclusive_total),
        ("VAT", totals.tax_total),
        ("total", totals.tax_inclusive_total),
    ):
        out.print(f"{label:>12}: {value:f} {draft.currency}")
    if draft.payment_terms and draft.payment_terms.description:
        out.print(f"{'terms':>12}: {draft.payment_terms.description}")
    for note in draft.notes:
        out.print(f"{'note':>12}: {note}", markup=False)
