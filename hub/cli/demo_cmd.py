"""``o2c demo``: the hub's main job on the embedded default, with the bundled samples.

Until the pipeline and simulators exist it maps every bundled sample order through its
inbound mapping to a canonical Order, checks the control totals, maps the canonical
order on to the SAP sales-order shape, and shows the outcome of each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import track
from rich.table import Table

from hub.canonical import Order
from hub.cli.mapping_cmd import ConfigOption, read_json
from hub.cli.output import err, out
from hub.config import load_settings
from hub.errors import MappingApplyError
from hub.mapping import registry


def demo(
    samples: Annotated[
        Path | None,
        typer.Option(help="Folder of Magento order JSON (default: the bundled samples)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Map the sample Magento orders to canonical orders and on to SAP sales orders."""
    settings = load_settings(config)
    dirs = list(settings.mappings.paths)
    inbound = registry.find("magento", "order", "inbound", dirs)
    outbound = registry.find("sap", "order", "outbound", dirs)
    folder = samples or registry.resolve("magento/order.inbound", dirs).parent / "samples"
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
