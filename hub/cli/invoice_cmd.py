"""``o2c invoice``: preview, run, list, show and export invoices; credit them."""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import track
from rich.table import Table
from rich.text import Text

from hub.canonical.common import TaxCategory
from hub.canonical.invoice import Invoice
from hub.cli.mapping_cmd import ConfigOption
from hub.cli.ops_cmd import _runtime
from hub.cli.output import err, out
from hub.errors import NotFoundError
from hub.invoicing.store import InvoiceStore, IssuedInvoice

if TYPE_CHECKING:
    from hub.invoicing.corrections import CreditRequest

app = typer.Typer(
    help="Invoices from shipments: preview, run (month-end), list, show, export; credit notes.",
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
                        "preceding_invoice": i.preceding_invoice,
                    }
                    for i in found
                ]
            )
        )
        return
    table = Table(title="Issued invoices and credit notes")
    for column in ("number", "kind", "corrects", "order", "customer", "date", "gross"):
        table.add_column(column, justify="right" if column == "gross" else "left")
    for i in found:
        table.add_row(
            *(
                Text(cell)
                for cell in (
                    i.number,
                    i.kind,
                    i.preceding_invoice or "-",
                    i.order_number or "-",
                    i.customer,
                    i.issue_date.isoformat(),
                    f"{i.gross_total:f} {i.currency}",
                )
            )
        )
    out.print(table)


def _issued(store: InvoiceStore, number: str) -> IssuedInvoice:
    issued = store.get(number)
    if issued is None:
        raise NotFoundError(f"no issued invoice or credit note {number}")
    return issued


@app.command()
def show(
    number: Annotated[str, typer.Argument(help="The invoice or credit note number.")],
    config: ConfigOption = None,
) -> None:
    """The issued invoice or credit note as the canonical JSON document (with its computed
    totals)."""
    issued = _issued(_runtime(config).invoicing.store, number)
    out.print_json(issued.document.model_dump_json())


@app.command()
def export(
    number: Annotated[str, typer.Argument(help="The invoice or credit note number.")],
    format_: Annotated[
        str, typer.Option("--format", help="ubl (Peppol BIS 3), cii, facturx or pdf, json.")
    ] = "ubl",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
    locale: Annotated[str, typer.Option(help="PDF: number and date format.")] = "en_GB",
    config: ConfigOption = None,
) -> None:
    """Write the invoice or credit note as UBL 2.1 / Peppol BIS Billing 3.0, CII, Factur-X
    PDF or JSON."""
    runtime = _runtime(config)
    store = runtime.invoicing.store
    document = _issued(store, number).document
    delivered = _delivery_date(store, document)
    if format_ == "ubl":
        from hub.einvoice.ubl import render_ubl
        from hub.invoicing.service import ubl_options

        assert runtime.settings.invoicing is not None
        options = ubl_options(runtime.settings.invoicing)
        if delivered is not None:
            options = options.model_copy(update={"delivery_date": delivered})
        data = render_ubl(document, options=options)
    elif format_ == "cii":
        from hub.einvoice.cii import CiiOptions, render_cii

        data = render_cii(document, options=CiiOptions(delivery_date=delivered))
    elif format_ in ("facturx", "pdf"):
        from hub.einvoice.cii import CiiOptions
        from hub.einvoice.facturx_pdf import render_pdf

        data = render_pdf(document, locale=locale, options=CiiOptions(delivery_date=delivered))
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


def _delivery_date(store: InvoiceStore, document: Invoice) -> date | None:
    """BT-72 of an intra-community supply (K), which EN 16931 requires (BR-IC-11) and the
    canonical invoice does not carry: its tax point date (on a drafted invoice, the day
    the goods shipped), for a credit note that of the invoice it corrects."""
    categories = {line.tax_category for line in document.lines}
    categories |= {item.tax_category for item in (*document.allowances, *document.charges)}
    if TaxCategory.INTRA_COMMUNITY not in categories:
        return None
    if document.tax_point_date is not None or not document.preceding_invoice:
        return document.tax_point_date
    preceding = store.get(document.preceding_invoice)
    return preceding.document.tax_point_date if preceding is not None else None


@app.command("credit")
def credit_note(
    invoice: Annotated[str, typer.Argument(help="The invoice to credit (e.g. INV-2026-000042).")],
    reference: Annotated[
        str,
        typer.Option(
            "--id",
            help="Your id for this credit (RMA or ticket number): the same id never "
            "credits the invoice twice.",
        ),
    ],
    reason: Annotated[str, typer.Option(help="Why; the credit note's note (BT-22).")],
    lines: Annotated[
        list[str] | None,
        typer.Option(
            "--line",
            help="A return: LINE_ID=QTY came back (the invoice line id, BT-126); repeat.",
        ),
    ] = None,
    prices: Annotated[
        list[str] | None,
        typer.Option(
            "--price",
            help="A price correction: LINE_ID=NEWPRICE, or LINE_ID=-AMOUNT to lower the "
            "unit price by AMOUNT, for the quantity not returned; repeat.",
        ),
    ] = None,
    allowance: Annotated[
        str | None,
        typer.Option(help="A price correction: a net allowance on the whole invoice."),
    ] = None,
    category: Annotated[
        str | None,
        typer.Option(help="The allowance's VAT category (S, Z, E, AE, K, G, O, L, M)."),
    ] = None,
    rate: Annotated[str | None, typer.Option(help="The allowance's VAT rate in percent.")] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Credit everything still creditable (cancel).")
    ] = False,
    issue_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today).")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the credit note; issue nothing.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Credit an issued invoice: returned goods (--line), lower prices or an allowance
    (--price, --allowance), or everything left (--all). Prints the credit note line by
    line and its number; it is posted on like an invoice."""
    from hub.invoicing.corrections import Corrections

    request = _credit_request(
        reference, reason, lines or [], prices or [], allowance, category, rate, everything
    )
    day = date.fromisoformat(issue_date) if issue_date else date.today()
    service = _runtime(config).invoicing
    corrections = Corrections(service)
    what = f"{request.kind.value} {request.reference}"
    if dry_run:
        plan = corrections.preview(invoice, request, day)
        if plan.issued is not None:
            _print_credit(plan.note, f"Credit note {plan.issued.number} for invoice {invoice}")
            out.print(
                Text(
                    f"dry run: credit note {plan.issued.number} was already issued for {what} "
                    f"of invoice {invoice}; running it would issue nothing new"
                )
            )
            return
        _print_credit(plan.note, f"Credit note preview for invoice {invoice}: {what}")
        left = plan.creditable_after
        out.print(
            Text(
                f"dry run: nothing issued; {left.gross:f} {plan.note.currency} gross would "
                "be left to credit"
            )
        )
        return
    done = corrections.issue(invoice, request, day)
    _print_credit(done.issued.document, f"Credit note {done.issued.number} for invoice {invoice}")
    left = service.store.creditable(invoice)
    state = "issued" if done.issued.created else "was already issued (nothing new)"
    out.print(
        Text(
            f"credit note {done.issued.number} {state} for {what} of invoice {invoice}; "
            f"{left.gross:f} {done.issued.currency} gross left to credit"
        )
    )


def _credit_request(
    reference: str,
    reason: str,
    lines: list[str],
    prices: list[str],
    allowance: str | None,
    category: str | None,
    rate: str | None,
    everything: bool,
) -> CreditRequest:
    """The request the options describe; exactly one kind of credit per command."""
    from hub.invoicing.corrections import (
        CreditRequest,
        DocumentAllowance,
        PriceCorrection,
    )

    correcting = bool(prices) or allowance is not None
    if sum((bool(lines), correcting, everything)) != 1:
        raise typer.BadParameter(
            "give one of: --line (a return), --price/--allowance (a price correction), "
            "--all (everything)",
            param_hint="--line / --price / --allowance / --all",
        )
    if (category is not None or rate is not None) and allowance is None:
        raise typer.BadParameter("--category and --rate go with --allowance", param_hint="--rate")
    if lines:
        quantities: dict[str, Decimal] = {}
        for item in lines:
            line_id, quantity = _pair(item, "--line", "LINE_ID=QTY")
            if line_id in quantities:
                raise typer.BadParameter(f"line {line_id} given twice", param_hint="--line")
            quantities[line_id] = quantity
        return CreditRequest.returning(reference, quantities, reason=reason)
    if everything:
        return CreditRequest.cancelling(reference, reason=reason)
    corrections = []
    for item in prices:
        line_id, value = _pair(item, "--price", "LINE_ID=NEWPRICE or LINE_ID=-AMOUNT")
        if value < 0:
            corrections.append(PriceCorrection(line_id, reduction=-value))
        else:
            corrections.append(PriceCorrection(line_id, new_price=value))
    document_allowance = None
    if allowance is not None:
        tax_category = None
        if category is not None:
            try:
                tax_category = TaxCategory(category.strip().upper())
            except ValueError:
                known = ", ".join(c.value for c in TaxCategory)
                raise typer.BadParameter(f"one of {known}", param_hint="--category") from None
        tax_rate = _decimal(rate, "--rate") if rate is not None else None
        if (tax_category is None) != (tax_rate is None):
            raise typer.BadParameter(
                "give the allowance's --category and --rate together", param_hint="--rate"
            )
        document_allowance = DocumentAllowance(
            _decimal(allowance, "--allowance"), tax_category, tax_rate
        )
    return CreditRequest.correcting(
        reference, reason=reason, prices=corrections, allowance=document_allowance
    )


def _pair(item: str, option: str, shape: str) -> tuple[str, Decimal]:
    line_id, sep, value = item.partition("=")
    if not sep or not line_id.strip():
        raise typer.BadParameter(f"{item!r}: write {shape}", param_hint=option)
    return line_id.strip(), _decimal(value, option)


def _decimal(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise typer.BadParameter(f"{text!r} is not a number", param_hint=option) from None
    if not value.is_finite():
        raise typer.BadParameter(f"{text!r} is not a number", param_hint=option)
    return value


def _print_credit(note: Invoice, title: str) -> None:
    """The credit note line by line, its document allowances and charges, its totals."""
    cur = note.currency
    table = Table(title=title)
    for column in ("line", "sku", "qty", "unit price", "allowances / charges", "net", "VAT"):
        right = column in ("qty", "unit price", "net")
        table.add_column(column, justify="right" if right else "left")
    for line in note.lines:
        adjustments = [f"-{a.amount:f} {_label(a.reason, a.reason_code)}" for a in line.allowances]
        adjustments += [f"+{c.amount:f} {_label(c.reason, c.reason_code)}" for c in line.charges]
        table.add_row(
            *(
                Text(cell)
                for cell in (
                    line.line_id,
                    line.sku,
                    f"{line.quantity:f}",
                    f"{line.unit_price:f}",
                    "; ".join(adjustments) or "-",
                    f"{line.net_amount_in(cur):f}",
                    f"{line.tax_category.value} {line.tax_rate:f} %",
                )
            )
        )
    out.print(table)
    for label, items, sign in (("allowance", note.allowances, "-"), ("charge", note.charges, "+")):
        for item in items:
            why = _label(item.reason, item.reason_code)
            vat = f"{item.tax_category.value} {item.tax_rate:f} %"
            out.print(Text(f"{label:>12}: {sign}{item.amount:f} {cur} {why} (VAT {vat})"))
    totals = note.totals
    for label, value in (
        ("net", totals.tax_exclusive_total),
        ("VAT", totals.tax_total),
        ("total", totals.tax_inclusive_total),
    ):
        out.print(Text(f"{label:>12}: {value:f} {cur}"))
    for text in note.notes:
        out.print(Text(f"{'note':>12}: {text}"))


def _label(reason: str | None, code: str | None) -> str:
    return reason or (f"code {code}" if code else "unspecified")


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
