"""Billing runs (hub/invoicing/billing.py, `o2c billing`): every due period is billed once,
on SQLite and PostgreSQL, by one process or two at once; the invoices are numbered without
gaps, emitted for the routes, and pass the UBL 2.1 XSD, EN 16931 and Peppol BIS rules."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from hub.cli.main import app, run
from hub.config import load_settings
from hub.einvoice.cii import render_cii, validate_cii
from hub.einvoice.ubl import render_ubl, validate_ubl
from hub.ingest import Ingestor
from hub.invoicing.billing import (
    BillingError,
    BillingService,
    ContractPeriod,
    billing_loop,
    contract_periods,
    draft_period_invoice,
    scheduled_billing,
)
from hub.invoicing.contracts import Contract
from hub.invoicing.service import ubl_options
from hub.invoicing.settings import InvoicingSettings
from hub.routing import load_routes
from hub.runtime import runtime_from
from hub.store.db import make_engine
from hub.store.tables import (
    billing_period_table,
    delivery_table,
    issued_invoice_table,
    message_table,
)
from tests.conftest import ROOT
from tests.einvoice_strategies import gln
from tests.pipeline_support import make_store
from tests.test_billing_contracts import EXAMPLE, contract_data, contracts_text
from tests.test_billing_contracts import settings as invoicing_settings

D = Decimal
UBL_NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
MAPPINGS = [ROOT / "mappings"]
YEAR_END = date(2026, 12, 31)
ROUTES = """\
targets:
  ledger: {type: http, url: "http://127.0.0.1:9/ledger"}
routes:
  - {name: invoices-to-ledger, source: {system: hub, kind: invoice}, target: ledger}
"""


@dataclass
class Hub:
    engine: Engine
    url: str
    ingestor: Ingestor
    settings: InvoicingSettings

    def service(self, contracts: list[Contract] | None = None) -> BillingService:
        return BillingService(self.engine, self.ingestor, self.settings, contracts)


def _routes(tmp_path: Path) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(ROUTES, encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    engine, url = make_store(request.param, tmp_path)
    ingestor = Ingestor(engine, load_routes(_routes(tmp_path), MAPPINGS), MAPPINGS)
    yield Hub(engine, url, ingestor, invoicing_settings(EXAMPLE))
    engine.dispose()


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def invoice_messages(engine: Engine) -> int:
    return count(
        engine, message_table, message_table.c.system == "hub", message_table.c.kind == "invoice"
    )


def numbers(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(select(issued_invoice_table.c.seq).order_by(issued_invoice_table.c.seq))
        return [int(r.seq) for r in rows]


def assert_valid_ubl(service: BillingService, number: str) -> None:
    issued = service.store.get(number)
    assert issued is not None
    xml = render_ubl(issued.document, options=ubl_options(service.settings))
    report = validate_ubl(xml)
    assert report.valid, "\n".join(report.problems()) + "\n" + xml.decode()


# --------------------------------------------------------------------------- runs


def test_a_run_bills_every_due_period_once_and_a_second_run_nothing(hub: Hub) -> None:
    service = hub.service()
    first = service.run(until=YEAR_END, issue_date=YEAR_END)
    assert first.failed == []
    # ACME: Jan 15 .. Dec 31, monthly in advance: 12; BRIX: 4 quarters (Feb 10 .. Nov 30).
    assert len(first.billed) == 16
    assert all(b.created for b in first.billed)
    assert numbers(hub.engine) == list(range(1, 17))
    assert [b.issued.number for b in first.billed][:2] == ["INV-2026-000001", "INV-2026-000002"]
    assert count(hub.engine, billing_period_table) == 16
    assert invoice_messages(hub.engine) == 16
    assert count(hub.engine, delivery_table) == 16, "each invoice is routed to the ledger"
    assert all(r.emitted_at is not None and r.message_id for r in service.billed())

    second = service.run(until=YEAR_END, issue_date=YEAR_END)
    assert (second.billed, second.failed, second.reemitted) == ([], [], 0)
    assert service.due(YEAR_END) == []

    # Billing a billed period again (a retry, a second process) returns its invoice.
    period = first.billed[3].period
    again = service.bill(period, YEAR_END)
    assert not again.created
    assert again.issued.number == first.billed[3].issued.number
    assert numbers(hub.engine) == list(range(1, 17))
    assert invoice_messages(hub.engine) == 16, "re-emitting the same invoice is a duplicate"

    by_key = {b.period.key: b for b in first.billed}
    acme_march = by_key["contract:ACME-SUPPORT-2026:2026-03-01"].issued
    assert acme_march.net_total == D("543.74")  # 221.29 + 322.45 (docs/billing.md)
    assert acme_march.source_key == "contract:ACME-SUPPORT-2026:2026-03-01"
    assert acme_march.order_number is None
    brix_q1 = by_key["contract:BRIX-LEASE-2026:2026-01-01"]
    assert (brix_q1.period.start, brix_q1.period.end) == (date(2026, 2, 10), date(2026, 3, 31))
    document = brix_q1.issued.document
    assert {ln.tax_category.value for ln in document.lines} == {"AE"}  # the VAT rules decided
    assert document.exemption_reasons
    # the days billed are the invoicing period (BG-14); no note repeats them
    assert (document.invoicing_period_start, document.invoicing_period_end) == (
        date(2026, 2, 10),
        date(2026, 3, 31),
    )
    assert document.notes == []

    for billed in (first.billed[0], by_key["contract:ACME-SUPPORT-2026:2026-03-01"], brix_q1):
        assert_valid_ubl(service, billed.issued.number)


def test_the_billed_invoice_carries_the_invoicing_period_into_the_ubl(hub: Hub) -> None:
    """BG-14 is the days billed; a line billed for one stretch of them carries it (BG-26)."""
    service = hub.service()
    billed = service.run(until=date(2026, 3, 1), issue_date=date(2026, 3, 1)).billed
    january, _, march = (b.issued for b in billed)
    assert (january.document.invoicing_period_start, january.document.invoicing_period_end) == (
        date(2026, 1, 15),
        date(2026, 1, 31),
    )
    assert [(ln.period_start, ln.period_end) for ln in january.document.lines] == [(None, None)]
    document = march.document
    assert (document.invoicing_period_start, document.invoicing_period_end) == (
        date(2026, 3, 1),
        date(2026, 3, 31),
    )
    # 10 seats until the 14th, 12 from the 15th (docs/billing.md)
    assert [(ln.period_start, ln.period_end) for ln in document.lines] == [
        (date(2026, 3, 1), date(2026, 3, 14)),
        (date(2026, 3, 15), date(2026, 3, 31)),
    ]
    xml = render_ubl(document, options=ubl_options(service.settings))
    root = etree.fromstring(xml)
    names = [etree.QName(e).localname for e in root]
    assert names[names.index("BuyerReference") + 1] == "InvoicePeriod"
    assert root.xpath("cac:InvoicePeriod/cbc:*/text()", namespaces=UBL_NS) == [
        "2026-03-01",
        "2026-03-31",
    ]
    assert root.xpath("cac:InvoiceLine/cac:InvoicePeriod/cbc:*/text()", namespaces=UBL_NS) == [
        "2026-03-01",
        "2026-03-14",
        "2026-03-15",
        "2026-03-31",
    ]
    assert validate_ubl(xml).valid


def test_intra_community_goods_are_billed_with_the_period_as_br_ic_11_asks() -> None:
    """Category K needs the delivery date or the invoicing period: the period is enough."""
    data = contract_data(
        customer={
            "name": "Brix Bouw B.V.",
            "vat_id": "NL859722541B01",
            "address": {"lines": ["Keizersgracht 100"], "city": "Amsterdam", "country": "NL"},
            "delivery_address": {"lines": ["Haven 4"], "city": "Rotterdam", "country": "NL"},
        },
        lines=[
            {
                "sku": "PAD",
                "name": "Scrubber pads",
                "quantity": 4,
                "unit_price": "12.50",
                "supply": "goods",
            }
        ],
    )
    c = Contract.model_validate(json.loads(json.dumps(data, default=str)))
    billing = invoicing_settings(None)
    period = next(contract_periods(c))
    invoice = draft_period_invoice(c, period, settings=billing, issue_date=date(2026, 1, 15))
    assert {ln.tax_category.value for ln in invoice.lines} == {"K"}
    issued = invoice.model_copy(update={"invoice_number": "INV-1"})
    xml = render_ubl(issued, options=ubl_options(billing))  # no delivery date given
    report = validate_ubl(xml)
    assert report.valid, "\n".join(report.problems())
    cii = render_cii(issued)
    assert validate_cii(cii).valid


def test_periods_are_billed_as_they_fall_due(hub: Hub) -> None:
    service = hub.service()
    jan = service.run(until=date(2026, 1, 31), issue_date=date(2026, 1, 15))
    assert [b.period.key for b in jan.billed] == ["contract:ACME-SUPPORT-2026:2026-01-01"]
    assert jan.billed[0].issued.net_total == D("268.71")
    april = service.run(until=date(2026, 4, 1), issue_date=date(2026, 4, 1))
    assert [b.period.key for b in april.billed] == [
        "contract:ACME-SUPPORT-2026:2026-02-01",
        "contract:ACME-SUPPORT-2026:2026-03-01",
        "contract:ACME-SUPPORT-2026:2026-04-01",
        "contract:BRIX-LEASE-2026:2026-01-01",  # arrears: the day after the quarter
    ]
    assert numbers(hub.engine) == [1, 2, 3, 4, 5]
    (status_acme, status_brix) = service.status(date(2026, 4, 1))
    assert status_acme.billed == 4
    assert status_acme.last is not None
    assert status_acme.last.invoice_number == "INV-2026-000004"
    assert status_acme.next is not None
    assert status_acme.next.slot.start == date(2026, 5, 1)
    assert status_acme.due == 0
    assert status_brix.next is not None
    assert status_brix.next.bill_date == date(2026, 7, 1)


def test_a_dry_run_issues_nothing(hub: Hub) -> None:
    service = hub.service()
    result = service.run(until=date(2026, 3, 1), issue_date=date(2026, 3, 1), dry_run=True)
    assert [p.key for p, _ in result.drafts] == [
        "contract:ACME-SUPPORT-2026:2026-01-01",
        "contract:ACME-SUPPORT-2026:2026-02-01",
        "contract:ACME-SUPPORT-2026:2026-03-01",
    ]
    assert all(d.invoice_number == "DRAFT" for _, d in result.drafts)
    assert numbers(hub.engine) == []
    assert count(hub.engine, billing_period_table) == 0


def test_a_crash_between_issuing_and_emitting_is_emitted_by_the_next_run(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = hub.service()
    real = hub.ingestor.ingest_canonical
    calls = {"n": 0}

    def crash_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("the process died here")
        return real(*args, **kwargs)

    monkeypatch.setattr(hub.ingestor, "ingest_canonical", crash_once)
    first = service.run(until=date(2026, 2, 1), issue_date=date(2026, 2, 1))
    assert [p.key for p, _ in first.failed] == ["contract:ACME-SUPPORT-2026:2026-01-01"]
    assert "the process died here" in first.failed[0][1]
    assert [p.key for p in first.skipped] == ["contract:ACME-SUPPORT-2026:2026-02-01"]
    assert numbers(hub.engine) == [1], "issued and recorded, not emitted"
    assert invoice_messages(hub.engine) == 0
    assert service.billed()[0].emitted_at is None

    second = service.run(until=date(2026, 2, 1), issue_date=date(2026, 2, 1))
    assert second.reemitted == 1
    assert [b.period.key for b in second.billed] == ["contract:ACME-SUPPORT-2026:2026-02-01"]
    assert numbers(hub.engine) == [1, 2]
    assert invoice_messages(hub.engine) == 2
    assert all(r.emitted_at is not None for r in service.billed())


def test_a_failed_period_holds_back_the_later_periods_of_its_contract_only(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = hub.service()
    draft = service.draft

    def failing(period: ContractPeriod, issue_date: date) -> Any:
        if period.key == "contract:ACME-SUPPORT-2026:2026-02-01":
            raise BillingError("contract ACME-SUPPORT-2026: the price list is being renegotiated")
        return draft(period, issue_date)

    monkeypatch.setattr(service, "draft", failing)
    result = service.run(until=date(2026, 4, 1), issue_date=date(2026, 4, 1))
    assert [b.period.key for b in result.billed] == [
        "contract:ACME-SUPPORT-2026:2026-01-01",
        "contract:BRIX-LEASE-2026:2026-01-01",
    ]
    assert [p.key for p, _ in result.failed] == ["contract:ACME-SUPPORT-2026:2026-02-01"]
    assert [p.key for p in result.skipped] == [
        "contract:ACME-SUPPORT-2026:2026-03-01",
        "contract:ACME-SUPPORT-2026:2026-04-01",
    ]


def test_numbers_follow_issue_dates(hub: Hub) -> None:
    service = hub.service()
    service.run(until=date(2026, 2, 1), issue_date=date(2026, 2, 1))
    late = service.run(until=date(2026, 3, 1), issue_date=date(2026, 1, 20))
    assert len(late.failed) == 1
    assert "cannot take the next number" in late.failed[0][1]


def _one(tmp_path: Path, **changes: Any) -> Path:
    file = tmp_path / "contracts.yaml"
    file.write_text(contracts_text(contract_data(**changes)), encoding="utf-8")
    return file


def test_a_schedule_changed_after_billing_never_bills_a_day_twice(hub: Hub, tmp_path: Path) -> None:
    file = _one(tmp_path, start="2026-01-01")
    hub.settings = invoicing_settings(file)
    service = hub.service()
    assert len(service.run(until=date(2026, 2, 1), issue_date=date(2026, 2, 1)).billed) == 2

    _one(tmp_path, start="2026-01-01", billing_day=15)
    service.reload()
    result = service.run(until=date(2026, 3, 1), issue_date=date(2026, 3, 1))
    assert result.billed == []
    assert "overlaps 2026-01-01..2026-01-31, billed on INV-2026-000001" in result.failed[0][1]
    assert "set `bill_from` to 2026-02-01" in result.failed[0][1]

    _one(tmp_path, start="2026-01-01", billing_day=15, bill_from="2026-03-01")
    service.reload()
    result = service.run(until=date(2026, 3, 15), issue_date=date(2026, 3, 15))
    assert result.failed == []
    assert [(b.period.start, b.period.end) for b in result.billed] == [
        (date(2026, 3, 1), date(2026, 3, 14)),
        (date(2026, 3, 15), date(2026, 4, 14)),
    ]


def test_a_contract_changed_after_billing_is_reported(hub: Hub, tmp_path: Path) -> None:
    file = _one(tmp_path, start="2026-01-01")
    hub.settings = invoicing_settings(file)
    service = hub.service()
    service.run(until=date(2026, 3, 1), issue_date=date(2026, 3, 1))
    seats = contract_data()["lines"][0] | {"quantity": 12}
    _one(
        tmp_path,
        start="2026-01-01",
        end="2026-02-20",
        changes=[{"effective": "2026-02-15", "lines": [seats]}],
    )
    service.reload()
    drift = service.drift()
    assert [(d.period_start, d.billed, d.now) for d in drift] == [
        # 14 days of 10 seats and 6 of 12 (of 28): 245.00 + 126.00
        (date(2026, 2, 1), D("490.00"), D("371.00")),
        (date(2026, 3, 1), D("490.00"), D("0")),
    ]
    assert "correct it with a credit note" in str(drift[0])
    assert service.run(until=date(2026, 4, 1), issue_date=date(2026, 4, 1)).drift == drift


# --------------------------------------------------------------------------- e-invoices


@st.composite
def billed_contracts(draw: st.DrawFn) -> Contract:
    """Contracts of every schedule, timing and VAT case the EU rules give a DE seller
    (intra-community goods, K, among them: BR-IC-11 is met by the invoicing period)."""
    buyer = draw(
        st.sampled_from(
            [
                ("DE123456788", "DE", "Bremen"),  # domestic: S 19 %, or explicit tax
                ("NL859722541B01", "NL", "Amsterdam"),  # services to an EU business: AE
                ("CHE-123.456.788", "CH", "Zürich"),  # services outside the EU: O
            ]
        )
    )
    vat_id, country, city = buyer
    goods = country == "NL" and draw(st.booleans())  # K, delivered to an NL address
    lines = []
    for i in range(draw(st.integers(1, 3))):
        item: dict[str, Any] = {
            "sku": f"SKU-{i}",
            "name": f"Service {i}",
            "quantity": draw(st.integers(1, 40)),
            "unit_price": str(draw(st.decimals(min_value=0, max_value=5000, places=2))),
        }
        if goods:
            item["supply"] = "goods"
        if country == "DE" and draw(st.booleans()):
            item["tax"] = draw(
                st.sampled_from(
                    [
                        {"category": "S", "rate": 7},
                        {"category": "Z"},
                        {"category": "E", "exemption_reason": "Art. 132(1)(c) 2006/112/EC"},
                    ]
                )
            )
        lines.append(item)
    schedule = draw(st.sampled_from(["monthly", "quarterly", "yearly"]))
    data = contract_data(
        id="E-1",
        customer={
            "name": "Kunde AG",
            "vat_id": None if country == "CH" else vat_id,
            "electronic_address": "0088:" + gln("761234567890") if country == "CH" else None,
            "address": {
                "lines": ["Strasse 1"],
                "city": city,
                "postal_code": "8001",
                "country": country,
            },
            "reference": draw(st.sampled_from([None, "PO-77"])),
            "delivery_address": {"city": "Rotterdam", "country": "NL"} if goods else None,
        },
        start=draw(st.dates(date(2026, 1, 1), date(2026, 12, 31))).isoformat(),
        schedule=schedule,
        timing=draw(st.sampled_from(["advance", "arrears"])),
        billing_day=draw(st.integers(1, 31)),
        lines=lines,
        payment_terms=draw(st.sampled_from([None, "net 14", "3/10 net 45"])),
    )
    if draw(st.booleans()):
        changed = [line | {"quantity": line["quantity"] + 1} for line in lines]
        data["changes"] = [{"effective": "2027-01-20", "lines": changed}]
    return Contract.model_validate(json.loads(json.dumps(data, default=str)))


@given(billed_contracts())
@settings(max_examples=25, deadline=None)
def test_period_invoices_pass_the_xsd_en16931_and_peppol_rules(c: Contract) -> None:
    """The first, a full and a split period of generated contracts; all three are valid."""
    found = list(contract_periods(c, through=date(2027, 3, 1)))
    chosen = {found[0].key: found[0]}
    chosen |= {p.key: p for p in found if not p.partial and p.slot.start.year == 2027}
    for period in list(chosen.values())[:3]:
        billing = invoicing_settings(None)
        invoice = draft_period_invoice(c, period, settings=billing, issue_date=date(2027, 3, 1))
        assert (invoice.invoicing_period_start, invoice.invoicing_period_end) == (
            period.start,
            period.end,
        )
        issued = invoice.model_copy(update={"invoice_number": "INV-1"})
        xml = render_ubl(issued, options=ubl_options(billing))
        report = validate_ubl(xml)
        assert report.valid, "\n".join(report.problems()) + "\n" + xml.decode()


# --------------------------------------------------------------------------- two at once


def _bill_concurrently(url: str, routes: Path, contracts: list[Contract]) -> list[list[Any]]:
    """Two services (own engine and pool each, as two processes have) bill the same
    contracts at once, one oldest first and one newest first."""
    barrier = threading.Barrier(2)
    results: list[list[Any]] = [[], []]
    errors: list[BaseException] = []

    def work(which: int) -> None:
        engine = make_engine(url, pool_size=2)
        try:
            ingestor = Ingestor(engine, load_routes(routes, MAPPINGS), MAPPINGS)
            service = BillingService(engine, ingestor, invoicing_settings(None), contracts)
            service.store.define_series("INV", "INV-{year}-{n:06d}")
            due = service.due(YEAR_END)
            barrier.wait(timeout=60)
            ordered = due if which == 0 else list(reversed(due))
            result = service.run(until=YEAR_END, issue_date=YEAR_END, periods=ordered)
            assert result.failed == [], result.failed
            results[which] = result.billed
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_processes_bill_each_period_once_with_gapless_numbers(
    kind: str, tmp_path: Path
) -> None:
    engine, url = make_store(kind, tmp_path)
    contracts = [
        Contract.model_validate(contract_data(id=f"C-{i:02d}", start=date(2026, 1, 1 + i)))
        for i in range(10)
    ]
    a, b = _bill_concurrently(url, _routes(tmp_path), contracts)
    periods = 10 * 12
    created = [x for x in a + b if x.created]
    assert len(created) == periods
    assert len({x.period.key for x in created}) == periods, "each period once"
    assert len(a) == len(b) == periods, "each saw every period billed, by itself or the other"
    assert numbers(engine) == list(range(1, periods + 1)), "no gap, no duplicate"
    assert count(engine, billing_period_table) == periods
    mine = {x.period.key: x.issued.number for x in a}
    assert all(mine[x.period.key] == x.issued.number for x in b), "both got the same invoice"
    assert invoice_messages(engine) == periods
    engine.dispose()


# --------------------------------------------------------------------------- serve


def _config(tmp_path: Path, contracts: Path | None = EXAMPLE, every: int = 3600) -> Path:
    config = tmp_path / "hub.yaml"
    lines = [
        f"database: {{url: 'sqlite:///{tmp_path / 'hub.db'}'}}",
        f"routes: {{file: '{_routes(tmp_path)}'}}",
        f"mappings: {{paths: ['{ROOT / 'mappings'}']}}",
        "invoicing:",
        "  seller:",
        "    name: Nordwerk Industriebedarf GmbH",
        "    tax_id: DE811907980",
        "    contact: Accounts receivable",
        "    phone: +49 40 555 0100",
        "    email: ar@nordwerk.example",
        "    iban: DE02120300000000202051",
        "    address: {lines: [Hafenstrasse 1], city: Hamburg, postal_code: '20457', country: DE}",
        "  tax: {seller_country: DE, rates: {DE: {standard: 19}}}",
        f"  billing_every_seconds: {every}",
    ]
    if contracts is not None:
        lines.append(f"  contracts: '{contracts}'")
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def test_serve_bills_on_its_schedule_and_stops_cleanly(tmp_path: Path) -> None:
    runtime = runtime_from(load_settings(_config(tmp_path, every=1)))
    runtime.upgrade_if_embedded()
    scheduled = scheduled_billing(runtime)
    assert scheduled is not None
    service, every = scheduled
    assert every == 1

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            billing_loop(service, stop, every=0.05, today=lambda: date(2026, 3, 1))
        )
        for _ in range(200):  # until the first rounds are done
            await asyncio.sleep(0.05)
            if count(runtime.engine, billing_period_table) == 3:
                break
        await asyncio.sleep(0.2)  # a few more rounds: nothing new
        stop.set()
        await asyncio.wait_for(task, timeout=30)

    asyncio.run(main())
    assert numbers(runtime.engine) == [1, 2, 3]


def test_serve_skips_a_round_while_a_contract_file_is_broken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = _one(tmp_path, start="2026-01-01")
    runtime = runtime_from(load_settings(_config(tmp_path, contracts=file)))
    runtime.upgrade_if_embedded()
    scheduled = scheduled_billing(runtime)
    assert scheduled is not None
    file.write_text("contracts: [{id: C-1, start: 2026-01-01}]\n", encoding="utf-8")

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            billing_loop(scheduled[0], stop, every=60, today=lambda: date(2026, 3, 1))
        )
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(task, timeout=30)

    with caplog.at_level(logging.ERROR, logger="hub.billing"):
        asyncio.run(main())
    assert "billing skipped: the contracts cannot be read" in caplog.text
    assert "contract 'C-1': customer: is required" in caplog.text
    assert numbers(runtime.engine) == []


def test_serve_runs_no_billing_unless_configured(tmp_path: Path) -> None:
    off = runtime_from(load_settings(_config(tmp_path, every=0)))
    assert scheduled_billing(off) is None
    none = runtime_from(load_settings(_config(tmp_path, contracts=None)))
    assert scheduled_billing(none) is None


# --------------------------------------------------------------------------- the CLI


def o2c(config: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--config", str(config)], env={"COLUMNS": "220"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_the_cli_runs_lists_and_previews(tmp_path: Path) -> None:
    config = _config(tmp_path)
    listed = o2c(config, "billing", "list", "--json", "--as-of", "2026-03-01")
    assert listed.exit_code == 0, listed.output
    before = json.loads(listed.stdout)
    assert [c["contract"] for c in before] == ["ACME-SUPPORT-2026", "BRIX-LEASE-2026"]
    assert before[0]["last_billed"] is None
    assert before[0]["next_period"]["billed_from"] == "2026-01-15"
    assert before[0]["due"] == 3

    preview = o2c(config, "billing", "preview", "ACME-SUPPORT-2026", "--issue-date", "2026-01-15")
    assert preview.exit_code == 0, preview.output
    assert "Pro rata: 17 of 31 days billed (2026-01-15 to 2026-01-31)" in preview.stdout
    assert "268.71" in preview.stdout
    assert "period 2026-01-15..2026-01-31" in preview.stdout
    until = ("--until", "2026-03-01", "--issue-date", "2026-03-01")
    later = o2c(config, "billing", "preview", "ACME-SUPPORT-2026", *until)
    assert later.stdout.count("Contract ACME-SUPPORT-2026: period") == 3
    assert "543.74" in later.stdout

    dry = o2c(config, "billing", "run", "--until", "2026-03-01", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "3 periods would be billed, 0 failed" in dry.stdout
    ran = o2c(config, "billing", "run", "--until", "2026-03-01", "--issue-date", "2026-03-01")
    assert ran.exit_code == 0, ran.output
    assert "3 invoices issued, 0 already billed, 0 failed" in ran.stdout
    assert "INV-2026-000003" in ran.stdout
    again = o2c(config, "billing", "run", "--until", "2026-03-01", "--issue-date", "2026-03-01")
    assert "0 invoices issued, 0 already billed, 0 failed" in again.stdout
    july = ("--until", "2026-07-01", "--issue-date", "2026-07-01")
    one = o2c(config, "billing", "run", "--contract", "BRIX-LEASE-2026", *july)
    assert "2 invoices issued" in one.stdout

    after = json.loads(o2c(config, "billing", "list", "--json", "--as-of", "2026-07-01").stdout)
    assert after[0]["last_billed"]["invoice"] == "INV-2026-000003"
    assert after[0]["next_period"]["period_start"] == "2026-04-01"
    assert after[0]["due"] == 4
    assert after[1]["billed_periods"] == 2
    table = o2c(config, "billing", "list", "--as-of", "2026-07-01")
    assert "ACME-SUPPORT-2026" in table.stdout
    assert "2026-04-01..2026-04-30 on 2026-04-01" in table.stdout

    exported = o2c(config, "invoice", "export", "INV-2026-000003", "--format", "ubl")
    assert exported.exit_code == 0, exported.output
    assert validate_ubl(exported.stdout_bytes).valid


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path)
    assert run(["billing", "preview", "ACME-SUPORT-2026", "--config", str(config)]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: no contract 'ACME-SUPORT-2026'; did you mean ACME-SUPPORT-2026?"
    )
    assert run(["billing", "run", "--until", "31.12.2026", "--config", str(config)]) == 2
    assert "'31.12.2026' is not a date (YYYY-MM-DD)" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    assert run(["billing", "list", "--config", str(_config(other, contracts=None))]) == 1
    assert "set invoicing.contracts" in capsys.readouterr().err
