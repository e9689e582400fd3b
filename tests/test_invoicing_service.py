"""Shipments stored in the hub become issued invoices, once, and travel on as messages."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine, func, select

from hub.canonical.common import Address
from hub.canonical.order import Order
from hub.canonical.party import Party
from hub.canonical.shipment import Shipment, ShipmentLine
from hub.einvoice.ubl import render_ubl, validate_ubl
from hub.ingest import Ingestor
from hub.invoicing.adapter import InvoicingAdapter, InvoicingTargetConfig
from hub.invoicing.credit import CreditHeld
from hub.invoicing.service import InvoicingService, ubl_options
from hub.invoicing.settings import InvoicingSettings, Seller
from hub.routing import load_routes
from hub.store import migrate
from hub.store.db import make_engine
from hub.store.tables import message_table
from hub.targets.base import Delivery
from tests.conftest import ROOT, SAMPLES

MAPPINGS = [ROOT / "mappings"]
SETTINGS = InvoicingSettings(
    seller=Seller(
        name="Nordwerk Industriebedarf GmbH",
        tax_id="DE811907980",
        contact="Accounts receivable",
        email="ar@nordwerk.example",
        phone="+49 40 555 0100",
        iban="DE02120300000000202051",
        bic="BYLADEM1001",
        address=Address(
            lines=["Hafenstrasse 1"], city="Hamburg", postal_code="20457", country="DE"
        ),
        payment_terms="2/10 net 30",
    )
)
ISSUE = date(2026, 11, 23)


@pytest.fixture
def hub(tmp_path: Path) -> tuple[Engine, Ingestor, Order]:
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        "targets:\n  billing: {type: invoicing}\n"
        "routes:\n"
        "  - {name: shipments-to-billing, source: {system: magento, kind: shipment}, "
        "target: billing}\n",
        encoding="utf-8",
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate.upgrade(engine)
    ingestor = Ingestor(engine, load_routes(routes, MAPPINGS), MAPPINGS)
    ingestor.ingest("magento", "order", (SAMPLES / "order-eu-b2b-vat.json").read_bytes())
    service = InvoicingService(engine, ingestor, SETTINGS)
    return engine, ingestor, service.order("200001187")


def shipment(order: Order, number: str, quantities: dict[str, Decimal]) -> Shipment:
    skus = {line.line_id: line.sku for line in order.lines}
    return Shipment(
        shipment_number=number,
        order_number=order.order_number,
        shipped_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
        lines=[
            ShipmentLine(order_line_id=k, sku=skus[k], quantity=v) for k, v in quantities.items()
        ],
    )


def invoice_messages(engine: Engine) -> int:
    with engine.connect() as conn:
        query = select(func.count()).where(
            message_table.c.system == "hub", message_table.c.kind == "invoice"
        )
        return int(conn.execute(query).scalar_one())


def test_two_shipments_two_invoices_each_once_and_valid_peppol(
    hub: tuple[Engine, Ingestor, Order],
) -> None:
    engine, ingestor, order = hub
    service = InvoicingService(engine, ingestor, SETTINGS)
    first_line = order.lines[0]
    s1 = shipment(order, "S-1", {first_line.line_id: Decimal(1)})
    rest = {line.line_id: line.quantity for line in order.lines}
    rest[first_line.line_id] -= 1
    s2 = shipment(order, "S-2", rest)
    for item in (s1, s2):
        ingestor.ingest_canonical("magento", "shipment", item)

    one = service.invoice_shipment(s1, ISSUE)
    again = service.invoice_shipment(s1, ISSUE)  # a replay of the shipment's delivery
    two = service.invoice_shipment(s2, ISSUE)
    assert one.issued.created
    assert not again.issued.created
    assert again.issued.number == one.issued.number
    assert [one.issued.number, two.issued.number] == ["INV-2026-000001", "INV-2026-000002"]
    assert invoice_messages(engine) == 2, "re-emitting the same invoice is a duplicate"
    invoiced = service.store.invoiced_quantities(order.order_number)
    assert invoiced == {line.line_id: line.quantity for line in order.lines}
    assert service.uninvoiced_shipments() == []

    total = Decimal(0)
    for done in (one, two):
        document = done.issued.document
        xml = render_ubl(document, options=ubl_options(SETTINGS))
        report = validate_ubl(xml)
        assert report.valid, report.problems()
        payable = etree.fromstring(xml).find(
            ".//{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}PayableAmount"
        )
        assert Decimal(payable.text) == document.totals.payable_amount == done.issued.gross_total
        total += document.totals.tax_exclusive_total
    assert total == order.totals.net_total


def test_the_invoicing_target_issues_from_a_delivered_shipment(
    hub: tuple[Engine, Ingestor, Order],
) -> None:
    engine, ingestor, order = hub
    service = InvoicingService(engine, ingestor, SETTINGS)
    everything = {line.line_id: line.quantity for line in order.lines}
    item = shipment(order, "S-9", everything)
    ingestor.ingest_canonical("magento", "shipment", item)
    adapter = InvoicingAdapter("billing", InvoicingTargetConfig(issue_date=ISSUE), service=service)
    delivery = Delivery(
        delivery_id="d-1",
        message_id="m-1",
        target="billing",
        route="shipments-to-billing",
        kind="shipment",
        payload=json.loads(item.model_dump_json()),
        idempotency_key="k-1",
        ordering_key=order.order_number,
        attempt=1,
        correlation_id="c-1",
    )
    first = asyncio.run(adapter.deliver(delivery))
    second = asyncio.run(adapter.deliver(delivery))
    assert first.reference == second.reference == "INV-2026-000001"
    assert first.status_code == 201
    assert second.status_code == 200


def test_cli_run_list_and_export(tmp_path: Path, hub: tuple[Engine, Ingestor, Order]) -> None:
    engine, ingestor, order = hub
    ingestor.ingest_canonical(
        "magento",
        "shipment",
        shipment(order, "S-7", {line.line_id: line.quantity for line in order.lines}),
    )
    ingestor.writer.close()
    engine.dispose()
    (tmp_path / "hub.yaml").write_text(
        "invoicing:\n"
        "  seller:\n"
        "    name: Nordwerk Industriebedarf GmbH\n"
        "    tax_id: DE811907980\n"
        "    contact: Accounts receivable\n"
        "    email: ar@nordwerk.example\n"
        "    phone: +49 40 555 0100\n"
        "    iban: DE02120300000000202051\n"
        "    address:\n"
        "      {lines: [Hafenstrasse 1], city: Hamburg, postal_code: '20457', country: DE}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2C_")}
    env.update(
        O2C_CONFIG=str(tmp_path / "hub.yaml"),
        O2C_DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}",
        O2C_ROUTES_FILE=str(tmp_path / "routes.yaml"),
        O2C_MAPPINGS_PATHS=str(MAPPINGS[0]),
        COLUMNS="200",
    )

    def o2c(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-c", "from hub.cli.main import entry; entry()", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )

    preview = o2c("invoice", "preview", order.order_number)
    assert preview.returncode == 0, preview.stderr
    assert b"shop price" in preview.stdout
    ran = o2c("invoice", "run", "--issue-date", "2026-11-23")
    assert ran.returncode == 0, ran.stderr
    assert b"1 invoices issued, 0 shipments failed" in ran.stdout
    listed = o2c("invoice", "list", "--json")
    assert json.loads(listed.stdout)[0]["number"] == "INV-2026-000001"
    exported = o2c("invoice", "export", "INV-2026-000001", "--format", "ubl")
    assert exported.returncode == 0, exported.stderr
    assert validate_ubl(exported.stdout).valid
    again = o2c("invoice", "run")
    assert b"0 invoices issued" in again.stdout


def test_an_invoice_over_the_credit_limit_is_held_until_released(
    hub: tuple[Engine, Ingestor, Order],
) -> None:
    engine, ingestor, order = hub
    service = InvoicingService(engine, ingestor, SETTINGS)
    ingestor.ingest_canonical(
        "magento",
        "party",
        Party(
            external_ids=dict(order.buyer.external_ids),
            legal_name="Kaltenbach Werkzeugbau GmbH",
            currency=order.currency,
            credit_limit=Decimal("100.00"),
        ),
    )
    item = shipment(order, "S-5", {line.line_id: line.quantity for line in order.lines})
    ingestor.ingest_canonical("magento", "shipment", item)
    with pytest.raises(CreditHeld, match=r"over its credit limit of 100\.00 EUR"):
        service.invoice_shipment(item, ISSUE)
    (hold,) = service.credit.holds()
    assert hold.order_number == order.order_number
    assert hold.amount == service.draft(item, ISSUE).totals.payable_amount
    assert service.store.list(order_number=order.order_number) == [], "nothing issued"
    with pytest.raises(CreditHeld):  # a retry stays held
        service.invoice_shipment(item, ISSUE)
    service.credit.release(order.order_number, by="cli:controller", reason="prepaid")
    done = service.invoice_shipment(item, ISSUE)
    assert done.issued.number == "INV-2026-000001"
    assert service.credit.holds() == []
