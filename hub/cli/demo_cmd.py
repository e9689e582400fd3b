"""``o2c demo``: the hub's main job on the embedded default, end to end on loopback.

Magento simulator → signed webhooks → ``o2c serve`` on SQLite → SAP simulator (OData);
then shipped in the shop → invoiced by the hub → posted to the SAP ledger (SOAP journal
entries) and to the shop's orders, with faults injected, a progress display and a summary
(:mod:`hub.demo`). ``--samples`` instead
maps the bundled sample orders to canonical orders and SAP sales-order bodies, offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    track,
)
from rich.table import Table

from hub.canonical import Order
from hub.cli.mapping_cmd import ConfigOption, read_json
from hub.cli.output import err, out
from hub.config import load_settings
from hub.errors import MappingApplyError
from hub.mapping import registry


def demo(
    orders: Annotated[int, typer.Option(min=1, max=10_000, help="Orders to generate.")] = 200,
    fault_rate: Annotated[
        float,
        typer.Option(min=0.0, max=0.9, help="Share of SAP calls that fail or lose their answer."),
    ] = 0.1,
    duration: Annotated[
        float, typer.Option(min=0.0, max=3600.0, help="Seconds over which the orders arrive.")
    ] = 20.0,
    workdir: Annotated[
        Path, typer.Option(help="Where the database, configuration and logs are kept.")
    ] = Path("o2c-demo"),
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Deliveries at once.")] = 8,
    samples: Annotated[
        bool, typer.Option("--samples", help="Only map the bundled sample orders (offline).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Run order to cash on loopback: shop orders to SAP, shipped, invoiced, posted.

    Magento orders become SAP sales orders, get shipped in the shop, are invoiced by the
    hub, and the invoices are posted to the SAP ledger and to the shop's orders.

    The Magento and SAP simulators and `o2c serve` run on 127.0.0.1; SAP fails
    --fault-rate of its calls (errors, answers lost after the order was saved). At the end
    every invoice's amount is compared with its SAP journal entry and the shop's invoice.
    The database stays in --workdir: explore it with `o2c messages ...` and
    `o2c invoice list` (the commands are printed).
    """
    if samples:
        _samples(config)
        return
    from hub.demo import DemoOptions, DemoProgress, describe, run_demo

    options = DemoOptions(
        orders=orders,
        fault_rate=fault_rate,
        duration=duration,
        workdir=workdir,
        concurrency=concurrency,
    )
    columns = (
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        generated = bar.add_task("orders generated in Magento", total=orders)
        received = bar.add_task("received by the hub (webhooks)", total=orders)
        in_sap = bar.add_task("sales orders created in SAP", total=orders)
        shipped = bar.add_task("parcels shipped (shop)", total=None)
        invoiced = bar.add_task("invoices issued (hub)", total=None)
        ledger = bar.add_task("invoices in the SAP ledger", total=None)
        shop = bar.add_task("invoices on the shop's orders", total=None)
        faults = bar.add_task("retried / dead-lettered", total=None)

        def show(progress: DemoProgress) -> None:
            bar.update(generated, completed=progress.generated)
            bar.update(received, completed=progress.received)
            bar.update(in_sap, completed=progress.in_sap)
            bar.update(shipped, completed=progress.shipments)
            bar.update(invoiced, completed=progress.invoices, total=progress.shipments or None)
            bar.update(ledger, completed=progress.in_ledger, total=progress.invoices or None)
            bar.update(shop, completed=progress.shop_invoices, total=progress.invoices or None)
            bar.update(
                faults,
                description=f"retried {progress.retried} / dead-lettered {progress.dead}",
            )

        report = run_demo(options, show)
    table = Table(title="o2c demo: Magento → hub → SAP, shipped, invoiced, posted")
    table.add_column("")
    table.add_column("", justify="right")
    for label, value in describe(report):
        table.add_row(label, value)
    out.print(table)
    for fingerprint, count in report.dead_letters:
        out.print(f"dead letters ({count}): {fingerprint}", markup=False, style="yellow")
    for mismatch in report.invoices.mismatches[:10]:
        out.print(f"amounts differ: {mismatch}", markup=False, style="red")
    url = f"sqlite:///{report.database}"
    out.print(
        f"Explore: O2C_DATABASE_URL={url} o2c messages search --external-id 000000001\n"
        f"         O2C_DATABASE_URL={url} o2c dlq list\n"
        f"         O2C_CONFIG={report.database.parent / 'hub.yaml'} O2C_DATABASE_URL={url} "
        f"o2c invoice list",
        markup=False,
    )
    if not report.ok:
        err.print(
            "not every order reached SAP exactly once, or not every shipment was invoiced and "
            "posted with the same amounts" + ("" if report.finished else " before the time limit"),
            style="red",
        )
        raise typer.Exit(1)
    i = report.invoices
    out.print(
        f"every one of {orders} orders is in SAP once; {i.issued} invoices for "
        f"{report.progress.shipments} parcels, each in the SAP ledger and on the shop's order "
        "with the same amount to the cent; nothing pending.",
        style="green",
    )


def _samples(config: Path | None) -> None:
    """Map the sample Magento orders to canonical orders and on to SAP sales orders."""
    settings = load_settings(config)
    dirs = list(settings.mappings.paths)
    inbound = registry.find("magento", "order", "inbound", dirs)
    outbound = registry.find("sap", "order", "outbound", dirs)
    folder = registry.resolve("magento/order.inbound", dirs).parent / "samples"
    files = sorted(folder.glob("*.json"))
    if not files:
        err.print(f"no sample orders in {folder}", style="red")
        raise typer.Exit(1)
    defaults = settings.mappings.control_totals
    table = Table(title=f"Magento → canonical → SAP ({inbound.version} / {outbound.version})")
    for column in ("sample", "order", "cur", "lines", "net", "tax", "grand total", "result"):
        table.add_column(
            column, justify="right" if column in ("net", "tax", "grand total") else "left"
        )
    failures = 0
    rejected: list[tuple[str, list[str]]] = []
    for path in track(files, description="mapping samples", console=err, transient=True):
        try:
            result = inbound.apply(
                read_json(path), on_mismatch=defaults.on_mismatch, tolerance=defaults.tolerance
            )
            order = result.document
            assert isinstance(order, Order)
            sap = outbound.apply(order)
        except MappingApplyError as exc:
            failures += 1
            rejected.append((path.stem, [str(i) for i in exc.issues] or [str(exc)]))
            table.add_row(path.stem, "-", "-", "-", "-", "-", "-", "[red]rejected[/red]")
            continue
        status = "[yellow]flagged[/yellow]" if result.flagged else "[green]ok[/green]"
        sap_items = len(getattr(sap.document, "to_Item", []))
        t = order.totals
        table.add_row(
            path.stem,
            order.order_number,
            order.currency,
            str(len(order.lines)),
            str(t.net_total),
            str(t.tax_total),
            str(t.grand_total),
            f"{status}, SAP items {sap_items}",
        )
    out.print(table)
    for name, problems in rejected:
        out.print(f"{name} rejected:", style="red", markup=False)
        for problem in problems:
            out.print(f"  {problem}", markup=False)
    out.print(f"{len(files) - failures} of {len(files)} sample orders mapped; {failures} rejected.")
