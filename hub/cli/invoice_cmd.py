"""``o2c invoice``: preview, run, list, show and export invoices."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import track
from rich.table import Table

from hub.cli.mapping_cmd import ConfigOption
from hub.cli.ops_cmd import _runtime
from hub.cli.output import err, out
from hub.errors import NotFoundError
from hub.invoicing.store import IssuedInvoice

app = typer.Typer(
    help="Invoices from shipments: preview, run (month-end), list, show, export.",
    no_args_is_help=True,
)


@app.command()
def preview(
    order: Annotated[str, typer.Argument(help="The order number (e.g. 000000123).")],
    shipment: Annotated[
        str | None, typer.Option(help="One shipment of the order (default: every uninvoiced).")
    ] = None,
    issue_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today).")] = None,
    config: ConfigOption = None,
) -> None:
    """Show, line by line, the invoice a shipment would produce and which rules priced it;
    nothing is issued."""
    service = _runtime(config).invoicing
    day = date.fromisoformat(issue_date) if issue_date else date.today()
    pending = [
        s
        for s in service.shipments(order)
        if (shipment is None or s.shipment_number == shipment)
        and service.store.by_source_key(f"shipment:{s.order_number}:{s.shipment_number}") is None
    ]
    if not pending:
        which = f" {shipment}" if shipment else ""
        raise NotFoundError(f"order {order} has no uninvoiced shipment{which}")
    for item in pending:
        draft = service.draft(item, day)
        table = Table(title=f"Invoice preview: order {order}, shipment {item.shipment_number}")
        for column in ("line", "sku", "qty", "unit price", "net", "VAT", "priced by"):
            right = column in ("qty", "unit price", "net")
            table.add_column(column, justify="right" if right else "left")
        for line in draft.lines:
            rules = "; ".join(f"{r.rule}: {r.effect}" for r in line.price_rules) or "shop price"
            table.add_row(
                line.line_id,
                line.sku,
                f"{line.quantity:f}",
                f"{line.unit_price:f}",
                f"{line.net_amount_in(draft.currency):f}",
                f"{line.tax_category.value} {line.tax_rate:f} %",
                rules,
            )
        out.print(table)
        totals = draft.totals
        for label, value in (
            ("allowances", totals.allowance_total),
            ("charges", totals.charge_total),
            ("net", totals.tax_exclusive_total),
            ("VAT", totals.tax_total),
            ("total", totals.tax_inclusive_total),
        ):
            out.print(f"{label:>12}: {value:f} {draft.currency}")
        if draft.payment_terms and draft.payment_terms.description:
            out.print(f"{'terms':>12}: {draft.payment_terms.description}")


@app.command()
def run(
    until: Annotated[
        str | None, typer.Option(help="Only shipments shipped on or before YYYY-MM-DD.")
    ] = None,
    issue_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today).")] = None,
    config: ConfigOption = None,
) -> None:
    """Invoice every stored shipment that has no invoice yet (month-end)."""
    service = _runtime(config).invoicing
    limit = date.fromisoformat(until) if until else None
    day = date.fromisoformat(issue_date) if issue_date else date.today()
    shipments = service.uninvoiced_shipments(limit)
    issued = failed = 0
    for shipment in track(shipments, description="invoicing", console=err, transient=True):
        try:
            service.invoice_shipment(shipment, day)
            issued += 1
        except Exception as exc:  # noqa: BLE001 - reported per shipment, the run goes on
            failed += 1
            err.print(f"shipment {shipment.shipment_number}: {exc}", style="red", markup=False)
    out.print(f"{issued} invoices issued, {failed} shipments failed")
    if failed:
        raise typer.Exit(1)


@app.command("list")
def list_(
    order: Annotated[str | None, typer.Option(help="Only this order's invoices.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config: ConfigOption = None,
) -> None:
    """Issued invoices and credit notes, newest last."""
    store = _runtime(config).invoicing.store
    found = store.list(order_number=order, limit=limit)
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {
                        "number": i.number,
                        "kind": i.kind,
                        "order": i.order_number,
                        "customer": i.customer,
                        "issue_date": i.issue_date.isoformat(),
                        "currency": i.currency,
                        "net": str(i.net_total),
                        "tax": str(i.tax_total),
                        "gross": str(i.gross_total),
                    }
                    for i in found
                ]
            )
        )
        return
    table = Table(title="Issued invoices")
    for column in ("number", "kind", "order", "customer", "date", "gross"):
        table.add_column(column, justify="right" if column == "gross" else "left")
    for i in found:
        table.add_row(
            i.number,
            i.kind,
            i.order_number or "-",
            i.customer,
            i.issue_date.isoformat(),
            f"{i.gross_total:f} {i.currency}",
        )
    out.print(table)


def _issued(config: Path | None, number: str) -> IssuedInvoice:
    issued = _runtime(config).invoicing.store.get(number)
    if issued is None:
        raise NotFoundError(f"no issued invoice {number}")
    return issued


@app.command()
def show(
    number: Annotated[str, typer.Argument(help="The invoice number.")],
    config: ConfigOption = None,
) -> None:
    """The issued invoice as the canonical JSON document (with its computed totals)."""
    issued = _issued(config, number)
    out.print_json(issued.document.model_dump_json())


@app.command()
def export(
    number: Annotated[str, typer.Argument(help="The invoice number.")],
    format_: Annotated[
        str, typer.Option("--format", help="ubl (Peppol BIS 3), cii, facturx or pdf, json.")
    ] = "ubl",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
    locale: Annotated[str, typer.Option(help="PDF: number and date format.")] = "en_GB",
    config: ConfigOption = None,
) -> None:
    """Write the invoice as UBL 2.1 / Peppol BIS Billing 3.0, CII, Factur-X PDF or JSON."""
    runtime = _runtime(config)
    document = _issued(config, number).document
    if format_ == "ubl":
        from hub.einvoice.ubl import render_ubl
        from hub.invoicing.service import ubl_options

        assert runtime.settings.invoicing is not None
        data = render_ubl(document, options=ubl_options(runtime.settings.invoicing))
    elif format_ == "cii":
        from hub.einvoice.cii import render_cii

        data = render_cii(document)
    elif format_ in ("facturx", "pdf"):
        from hub.einvoice.facturx_pdf import render_pdf

        data = render_pdf(document, locale=locale)
    elif format_ == "json":
        data = document.model_dump_json(indent=2).encode()
    else:
        raise typer.BadParameter("choose ubl, cii, facturx, pdf or json", param_hint="--format")
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)
        err.print(f"wrote {output} ({len(data)} bytes)")


credit_app = typer.Typer(
    help="Credit holds: orders whose invoice would exceed the customer's credit limit.",
    no_args_is_help=True,
)


@credit_app.command("list")
def credit_list(
    all_: Annotated[bool, typer.Option("--all", help="Released holds too.")] = False,
    config: ConfigOption = None,
) -> None:
    """Orders on credit hold, with the figures."""
    holds = _runtime(config).invoicing.credit.holds(open_only=not all_)
    table = Table(title="Credit holds")
    for column in ("order", "customer", "limit", "open", "invoice", "held", "released"):
        table.add_column(column)
    for hold in holds:
        released = f"{hold.released_by} {hold.released_at:%Y-%m-%d}" if hold.released_at else "-"
        table.add_row(
            hold.order_number,
            hold.customer,
            f"{hold.credit_limit:f} {hold.currency}",
            f"{hold.exposure:f}",
            f"{hold.amount:f}",
            f"{hold.held_at:%Y-%m-%d %H:%M}",
            released,
        )
    out.print(table)


@credit_app.command("release")
def credit_release(
    order: Annotated[str, typer.Argument(help="The held order's number.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")] = "approved",
    config: ConfigOption = None,
) -> None:
    """Release an order from credit hold (audited); its invoices are issued on the next
    delivery or `o2c invoice run` (replay its dead letters: `o2c dlq list`)."""
    from hub.audit import AuditAction, record
    from hub.cli.ops_cmd import _actor

    runtime = _runtime(config)
    hold = runtime.invoicing.credit.release(order, by=_actor(), reason=reason)
    record(
        runtime.engine,
        actor=_actor(),
        action=AuditAction.CREDIT_RELEASED,
        target=order,
        details={"reason": reason, "amount": str(hold.amount), "limit": str(hold.credit_limit)},
    )
    out.print(f"order {order} released from credit hold by {hold.released_by}")
