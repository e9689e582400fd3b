"""Month-end invoicing benchmark: shipped orders → priced, taxed, numbered invoices with
their UBL (Peppol BIS 3) rendered, per second, on SQLite and PostgreSQL.

    python -m bench.invoicing [--orders 2000] [--runs 3] [--store both]

Setup (not timed): ``--orders`` Magento orders (the EU B2B sample, numbered apart) and one
shipment each are stored in a fresh database. Timed: ``InvoicingService.invoice_shipment``
for every shipment (draft with the example pricing rules and EU VAT rules, credit check,
gapless issue, emit as a message) plus ``render_ubl`` of the issued invoice; one process,
as `o2c invoice run` does it. Every run checks the numbers are 1..N without a gap.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from bench.report import write_section
from hub.canonical.common import Address
from hub.canonical.shipment import Shipment, ShipmentLine
from hub.einvoice.ubl import render_ubl
from hub.ingest import Ingestor
from hub.invoicing.service import InvoicingService, ubl_options
from hub.invoicing.settings import InvoicingSettings, Seller
from hub.invoicing.tax import CountryRates, TaxConfig
from hub.routing import RouteTable
from hub.store import migrate
from hub.store.db import make_engine
from tests.pg import drop_schemas, pg_schema_url
from tests.pipeline_support import order

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = InvoicingSettings(
    seller=Seller(
        name="Nordwerk Industriebedarf GmbH",
        tax_id="DE811907980",
        contact="Accounts receivable",
        email="ar@nordwerk.example",
        phone="+49 40 555 0100",
        iban="DE02120300000000202051",
        address=Address(
            lines=["Hafenstrasse 1"], city="Hamburg", postal_code="20457", country="DE"
        ),
    ),
    pricing=ROOT / "config" / "pricing",
    tax=TaxConfig(
        seller_country="DE",
        rates={"DE": CountryRates(standard=Decimal(19)), "AT": CountryRates(standard=Decimal(20))},
    ),
)


def _run(url: str, orders: int) -> float:
    engine = make_engine(url)
    migrate.upgrade(engine)
    ingestor = Ingestor(engine, RouteTable(), [ROOT / "mappings"])
    shipments = []
    for n in range(1, orders + 1):
        shipments.append(ingestor.ingest("magento", "order", order(n)).external_id)
    service = InvoicingService(engine, ingestor, SETTINGS)
    prepared = []
    for number in shipments:
        source = service.order(number)
        item = Shipment(
            shipment_number=f"S-{number}",
            order_number=number,
            shipped_at=datetime(2026, 11, 30, 12, tzinfo=UTC),
            lines=[
                ShipmentLine(order_line_id=line.line_id, sku=line.sku, quantity=line.quantity)
                for line in source.lines
            ],
        )
        ingestor.ingest_canonical("magento", "shipment", item)
        prepared.append(item)
    options = ubl_options(SETTINGS)
    started = time.perf_counter()
    for item in prepared:
        done = service.invoice_shipment(item, date(2026, 11, 30))
        render_ubl(done.issued.document, options=options)
    elapsed = time.perf_counter() - started
    numbers = sorted(i.number for i in service.store.list(limit=orders + 1))
    expected = [f"INV-2026-{n:06d}" for n in range(1, orders + 1)]
    if numbers != expected:
        raise SystemExit("numbers are not 1..N without a gap")
    ingestor.writer.close()
    engine.dispose()
    return orders / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    rows = []
    for store in stores:
        rates = []
        for run in range(1, args.runs + 1):
            if store == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    rate = _run(f"sqlite:///{tmp}/hub.db", args.orders)
            else:
                url, _ = pg_schema_url()
                rate = _run(url, args.orders)
            rates.append(rate)
            print(f"{store} run {run}: {rate:,.0f} invoices/s")
        rows.append((store, statistics.median(rates)))
    drop_schemas()
    command = f"python -m bench.invoicing --orders {args.orders} --runs {args.runs}"
    lines = [
        (
            f"Command: `{command} --store {args.store}` — machine: {platform.machine()}, "
            f"Python {platform.python_version()}, {date.today()}. Median of {args.runs} runs; "
            "each invoice priced (config/pricing), taxed (EU rules), credit checked, numbered "
            "and stored, emitted as a message, and rendered as Peppol UBL; one process."
        ),
        "",
        "| store | invoices/s |",
        "|---|---|",
        *(f"| {store} | {rate:,.0f} |" for store, rate in rows),
    ]
    for line in lines:
        print(line)
    heading = "## Invoicing: month-end run"
    write_section(
        ROOT / "docs" / "benchmarks.md", heading, heading + "\n\n" + "\n".join(lines) + "\n"
    )


if __name__ == "__main__":
    main()
