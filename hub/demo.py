"""The end-to-end demo: order to cash, Magento → hub → SAP and back, all on loopback, on
the embedded SQLite store.

What runs (every process on 127.0.0.1, nothing leaves the machine):

* the Magento simulator, generating realistic orders and pushing each one as a signed
  Adobe Commerce webhook to the hub (and answering the hub's polls);
* the SAP S/4HANA simulators: sales orders over OData, with a business partner for every
  shop customer and a material for every catalog SKU, and the SOAP journal entry service
  that receives the invoices; both inject faults (errors, lost answers) at ``--fault-rate``;
* a warehouse (:mod:`hub.demo_shipping`) that ships each order in the shop once SAP has
  it, some in two parcels;
* ``o2c serve``: the API, delivery workers and pollers (orders as a fallback to webhooks,
  shipments), on ``<workdir>/hub.db``. Each shipment is invoiced (``invoicing:`` in the
  demo's hub.yaml) and the invoice posted to the SAP ledger and to the shop's order.

At the end every invoice is compared, to the cent, with its SAP journal entry and the
shop's invoice (:mod:`hub.demo_invoices`).

The demo's own mapping overlay (``<workdir>/mappings/sap``) extends the bundled SAP
mapping's lookup tables to the simulated shop's customers and bundle SKUs. The database
stays behind for ``o2c messages ...`` and the API.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.magento.simulator import SimulatorConfig as MagentoConfig
from adapters.magento.simulator import run_simulator as run_magento
from adapters.magento.simulator.generator import catalog_skus
from adapters.sap.simulator.runner import run_simulator as run_sap
from adapters.sap.simulator.state import CustomerSeed, MaterialSeed, User
from adapters.sap.simulator.state import SimulatorConfig as SapConfig
from adapters.sap.soap_simulator import JournalFaults, JournalSimulatorConfig
from adapters.sap.soap_simulator import run_journal_simulator as run_journal
from hub.config import load_settings
from hub.demo_invoices import InvoiceCheck, check_invoices
from hub.demo_shipping import Warehouse
from hub.errors import HubError
from hub.paths import bundled_mappings_dir
from hub.runtime import Runtime
from hub.security.apikeys import create_key

__all__ = ["DemoOptions", "DemoProgress", "DemoReport", "run_demo"]

MAGENTO_TOKEN = "demo-integration-token"  # noqa: S105 -- the loopback simulator's
SAP_USER = "O2C_DEMO"
SAP_PASSWORD = "demo-Sap-passw0rd"  # noqa: S105 -- the loopback simulator's
LEDGER_USER = "O2C_LEDGER"
LEDGER_PASSWORD = "demo-Ledger-passw0rd"  # noqa: S105 -- the loopback simulator's
COLLECTIVE_CUSTOMER = "17100001"
SHOP_INVOICE_ROUTE = "invoice-to-magento"
GUEST_PARTNER = "1000099"
ENTRY = "from hub.cli.main import entry; entry()"


@dataclass(frozen=True)
class DemoOptions:
    orders: int = 200
    fault_rate: float = 0.1
    duration: float = 20.0
    """Seconds over which the orders arrive in the shop."""
    workdir: Path = Path("o2c-demo")
    concurrency: int = 8
    timeout: float = 600.0
    """Seconds to wait for the hub to deliver everything."""
    seed: int = 7


@dataclass
class DemoProgress:
    generated: int = 0
    received: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    pending: int = 0
    in_sap: int = 0
    shipments: int = 0
    """Parcels the warehouse shipped in the shop."""
    shipments_received: int = 0
    invoices: int = 0
    """Invoices the hub issued."""
    in_ledger: int = 0
    """Journal entries posted in SAP."""
    shop_invoices: int = 0


@dataclass
class DemoReport:
    options: DemoOptions
    progress: DemoProgress
    webhooks_sent: int
    webhooks_failed: int
    sap_orders: int
    sap_duplicates: int
    """Shop orders with more than one SAP sales order (must be 0)."""
    sap_first: str | None
    sap_last: str | None
    faults: dict[str, int]
    dead_letters: list[tuple[str, int]]
    seconds: float
    database: Path
    finished: bool
    invoices: InvoiceCheck = field(default_factory=InvoiceCheck)
    unshippable: int = 0
    """Orders the shop refused to ship (cancelled)."""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        p = self.progress
        i = self.invoices
        return (
            self.finished
            and p.received == self.options.orders
            and self.sap_orders == self.options.orders
            and self.sap_duplicates == 0
            and p.pending == 0
            and p.dead == 0
            and i.issued == p.shipments
            and i.in_sap == i.issued
            and i.in_shop == i.issued
            and p.in_ledger == i.issued  # no invoice posted twice, retries and lost answers
            and p.shop_invoices == i.issued  # notwithstanding
            and not i.mismatches
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _key_pair() -> tuple[str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def _partner(customer_id: int) -> str:
    return str(1000100 + customer_id)


def _write_overlay(workdir: Path, orders: int) -> set[str]:
    """Copy the bundled SAP order mapping with lookup tables covering the simulated shop
    (its customers, its bundle SKUs); return the SAP materials its orders need."""
    source = bundled_mappings_dir() / "sap"
    target = workdir / "mappings" / "sap"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "order.outbound.yaml", target / "order.outbound.yaml")
    rows = (source / "materials.csv").read_text(encoding="utf-8").splitlines()[1:]
    materials = dict(row.split(",", 1) for row in rows if row)
    materials |= {sku: code for sku, code in catalog_skus().items() if sku != code}
    (target / "materials.csv").write_text(
        "sku,material\n" + "".join(f"{k},{v}\n" for k, v in materials.items()), encoding="utf-8"
    )
    customers = [f"guest,{GUEST_PARTNER}"] + [f"{i},{_partner(i)}" for i in range(1, orders + 1)]
    (target / "sold_to_party.csv").write_text(
        "shop_customer,sap_business_partner\n" + "\n".join(customers) + "\n", encoding="utf-8"
    )
    return {materials.get(sku, sku) for sku in catalog_skus()}


INVOICING = """invoicing:
  seller:
    name: O2C Demo Trading GmbH
    tax_id: DE811907980
    company_id: HRB 123456
    contact: Accounts receivable
    email: billing@o2c-demo.example
    address: {lines: [Hafenstrasse 1], city: Hamburg, postal_code: "20457", country: DE}
    iban: DE89370400440532013000
    bic: COBADEFFXXX
    payment_terms: 2/10 net 30
  series: INV
  pattern: "INV-{year}-{n:06d}"
"""


def _write_config(workdir: Path, public_pem: str, magento: str, sap: str, ledger: str) -> None:
    indented = "".join(f"        {line}\n" for line in public_pem.strip().splitlines())
    (workdir / "hub.yaml").write_text(
        "# o2c demo: the hub's configuration (see config/hub.yaml for every setting)\n"
        "security:\n  inbound_signatures:\n    magento:\n      scheme: adobe_commerce\n"
        "      public_key_pem: |\n" + indented + INVOICING,
        encoding="utf-8",
    )
    (workdir / "routes.yaml").write_text(
        f"""# o2c demo: Magento orders to SAP sales orders; shipments invoiced, invoices to the
# SAP ledger (journal entries) and to the shop (an invoice on the order)
targets:
  shop:
    type: magento
    base_url: {magento}/rest/default
    token: {MAGENTO_TOKEN}
    timeout: 10
  erp:
    type: sap
    transport: odata
    base_url: {sap}
    user: {SAP_USER}
    password: {SAP_PASSWORD}
    timeout: 2
  ledger:
    type: sap
    transport: soap
    base_url: {ledger}
    user: {LEDGER_USER}
    password: {LEDGER_PASSWORD}
    timeout: 2
    journal:
      company_code: "1010"
      customer: "{COLLECTIVE_CUSTOMER}"
      revenue_account: "40000000"
      rounding_account: "69000000"
      tax_codes: {{S: A1, Z: A0, E: A0, AE: AE, K: AF, G: AG, O: A0}}
  billing:
    type: invoicing
routes:
  - name: magento-order-to-sap
    source: {{system: magento, kind: order}}
    target: erp
    mapping: sap/order.outbound
    ordering_key: order_number
    retry: {{base_delay_seconds: 0.2, max_delay_seconds: 2, max_attempts: 40, jitter: 0.5}}
  - name: shipment-to-invoicing
    source: {{system: magento, kind: shipment}}
    target: billing
    ordering_key: order_number
  - name: invoice-to-sap-ledger
    source: {{system: hub, kind: invoice}}
    target: ledger
    retry: {{base_delay_seconds: 0.2, max_delay_seconds: 2, max_attempts: 40, jitter: 0.5}}
  - name: {SHOP_INVOICE_ROUTE}
    source: {{system: hub, kind: invoice}}
    target: shop
    mapping: magento/invoice.outbound
    ordering_key: order_reference
    retry: {{base_delay_seconds: 0.2, max_delay_seconds: 2, max_attempts: 40, jitter: 0.5}}
sources:
  shop-orders: {{target: shop, kind: order, every: 15, batch: 100}}
  shop-shipments: {{target: shop, kind: shipment, every: 1, batch: 100}}
""",
        encoding="utf-8",
    )


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2C_")}
    env.update(
        O2C_CONFIG=str(workdir / "hub.yaml"),
        O2C_DATABASE_URL=f"sqlite:///{workdir / 'hub.db'}",
        O2C_ROUTES_FILE=str(workdir / "routes.yaml"),
        O2C_MAPPINGS_PATHS=f"{workdir / 'mappings'},{bundled_mappings_dir()}",
        O2C_WORKERS_POLL_INTERVAL_MS="100",
    )
    return env


@contextlib.contextmanager
def _serve(workdir: Path, env: dict[str, str], port: int, concurrency: int) -> Iterator[str]:
    log = (workdir / "serve.log").open("wb")
    command = [sys.executable, "-c", ENTRY, "serve", "--port", str(port)]
    command += ["--concurrency", str(concurrency)]
    proc = subprocess.Popen(  # noqa: S603 -- our own interpreter and command
        command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise HubError(f"o2c serve exited ({proc.returncode}); see {workdir / 'serve.log'}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/readyz", timeout=2, trust_env=False).is_success:
                    break
            if time.monotonic() > deadline:
                raise HubError(f"o2c serve did not get ready; see {workdir / 'serve.log'}")
            time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _read_hub(database: Path, progress: DemoProgress) -> None:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        db.execute("PRAGMA busy_timeout = 2000")
        progress.received = db.execute(
            "SELECT count(DISTINCT external_id) FROM message "
            "WHERE system = 'magento' AND kind = 'order'"
        ).fetchone()[0]
        counts = dict(db.execute("SELECT status, count(*) FROM delivery GROUP BY status"))
        progress.delivered = counts.get("delivered", 0)
        progress.dead = counts.get("dead", 0) + counts.get("poisoned", 0)
        progress.pending = sum(counts.get(s, 0) for s in ("pending", "in_flight", "retrying"))
        progress.retried = db.execute(
            "SELECT count(*) FROM delivery WHERE attempts > 1"
        ).fetchone()[0]
        progress.shipments_received = db.execute(
            "SELECT count(DISTINCT external_id) FROM message "
            "WHERE system = 'magento' AND kind = 'shipment'"
        ).fetchone()[0]
        with contextlib.suppress(sqlite3.OperationalError):  # before the first migration
            progress.invoices = db.execute(
                "SELECT count(*) FROM issued_invoice WHERE kind = 'invoice'"
            ).fetchone()[0]


def _dead_letters(database: Path) -> list[tuple[str, int]]:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT error_fingerprint, count(*) FROM delivery WHERE status IN ('dead', 'poisoned') "
            "GROUP BY error_fingerprint ORDER BY count(*) DESC"
        ).fetchall()
    return [(str(fingerprint), int(count)) for fingerprint, count in rows]


def run_demo(
    options: DemoOptions, on_progress: Callable[[DemoProgress], None] | None = None
) -> DemoReport:
    """Run the demo to the end (see the module docstring)."""
    started = time.monotonic()
    workdir = options.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in ("hub.db", "hub.db-wal", "hub.db-shm", "serve.log"):
        (workdir / stale).unlink(missing_ok=True)
    materials = _write_overlay(workdir, options.orders)
    private_pem, public_pem = _key_pair()
    progress = DemoProgress()
    sap_config = SapConfig(
        users=(User(name=SAP_USER, password=SAP_PASSWORD),),
        customers=(
            CustomerSeed(customer=GUEST_PARTNER, name="One-time customer"),
            *(
                CustomerSeed(customer=_partner(i), name=f"Shop customer {i}")
                for i in range(1, options.orders + 1)
            ),
        ),
        materials=tuple(MaterialSeed(material=m.upper()) for m in sorted(materials)),
        seed=options.seed,
    )
    magento_config = MagentoConfig(tokens=(MAGENTO_TOKEN,), seed=options.seed)
    journal_config = JournalSimulatorConfig(
        users={LEDGER_USER: LEDGER_PASSWORD},
        seed=options.seed,
        faults=JournalFaults(
            error_rate=options.fault_rate,
            land_then_timeout_rate=options.fault_rate / 2,
            land_then_timeout_seconds=3,
        ),
    )
    with (
        run_magento(config=magento_config) as magento,
        run_sap(config=sap_config) as sap,
        run_journal(config=journal_config) as ledger,
        httpx.Client(trust_env=False, timeout=60) as http,
        httpx.Client(
            base_url=f"{magento}/rest/default/V1",
            headers={"Authorization": f"Bearer {MAGENTO_TOKEN}"},
            trust_env=False,
            timeout=60,
        ) as shop,
    ):
        _write_config(workdir, public_pem, magento, sap, ledger)
        env = _env(workdir)
        runtime = Runtime(load_settings(None, env))
        runtime.upgrade_if_embedded()
        api_key = create_key(runtime.engine, "magento-demo", ["inbound:magento"], actor="demo")
        runtime.engine.dispose()
        if options.fault_rate > 0:
            http.put(
                f"{sap}/_sim/faults",
                json={
                    "error_rate": options.fault_rate,
                    "error_statuses": [500, 503],
                    "land_then_timeout_rate": options.fault_rate / 2,
                    "land_then_timeout_seconds": 3,
                },
            ).raise_for_status()
        warehouse = Warehouse(shop)
        with _serve(workdir, env, _free_port(), options.concurrency) as hub:
            http.put(
                f"{magento}/_sim/webhooks",
                json={
                    "url": f"{hub}/v1/inbound/magento/order",
                    "private_key_pem": private_pem,
                    "headers": {"Authorization": f"Bearer {api_key}"},
                },
            ).raise_for_status()
            ticks = max(1, math.ceil(options.duration / 0.5))
            per_tick = max(1, math.ceil(options.orders / ticks))
            batch = 0
            deadline = time.monotonic() + options.duration + options.timeout
            finished = False
            quiet = 0
            next_tick = time.monotonic()
            while time.monotonic() < deadline:
                now = time.monotonic()
                if progress.generated < options.orders and now >= next_tick:
                    count = min(per_tick, options.orders - progress.generated)
                    batch += 1
                    generated = http.post(
                        f"{magento}/_sim/orders/generate",
                        json={"count": count, "seed": options.seed * 1000 + batch},
                    )
                    generated.raise_for_status()
                    warehouse.learn([int(i) for i in generated.json()["entity_ids"]])
                    progress.generated += count
                    next_tick = now + 0.5
                _read_hub(workdir / "hub.db", progress)
                sap_state = http.get(f"{sap}/_sim/state").json()
                progress.in_sap = len(sap_state["sales_orders"])
                warehouse.ship(
                    {str(o["PurchaseOrderByCustomer"]) for o in sap_state["sales_orders"]}
                )
                progress.shipments = warehouse.shipments
                progress.in_ledger = len(http.get(f"{ledger}/_sim/state").json()["entries"])
                progress.shop_invoices = int(http.get(f"{magento}/_sim/state").json()["invoices"])
                if on_progress is not None:
                    on_progress(progress)
                pushing = http.get(f"{magento}/_sim/webhooks").json()["webhooks_pending"]
                settled = (
                    progress.generated == options.orders
                    and progress.received == options.orders
                    and len(warehouse.orders) == options.orders
                    and warehouse.shipped_orders == options.orders
                    and progress.shipments_received == progress.shipments
                    and progress.invoices >= progress.shipments - progress.dead
                    and progress.in_ledger >= progress.invoices - progress.dead
                    and progress.shop_invoices >= progress.invoices - progress.dead
                    and progress.pending == 0
                    and pushing == 0
                )
                # the shop pushes the orders it invoiced once more (their state changed):
                # done when that has been taken in too, i.e. settled twice in a row
                quiet = quiet + 1 if settled else 0
                if quiet >= 2:
                    finished = True
                    break
                time.sleep(0.5 if quiet else 0.25)
            webhooks = http.get(f"{magento}/_sim/webhooks").json()
        sap_state = http.get(f"{sap}/_sim/state").json()
        journal = http.get(f"{ledger}/_sim/state").json()
        _read_hub(workdir / "hub.db", progress)
        invoices = check_invoices(workdir / "hub.db", journal, shop, shop_route=SHOP_INVOICE_ROUTE)
    references = [o["PurchaseOrderByCustomer"] for o in sap_state["sales_orders"]]
    numbers = [str(o["SalesOrder"]) for o in sap_state["sales_orders"]]
    duplicates = len(references) - len(set(references))
    faults = {f"sales order {k}": int(v) for k, v in sap_state.get("faults_injected", {}).items()}
    faults |= {f"journal {k}": int(v) for k, v in journal.get("fault_counts", {}).items()}
    return DemoReport(
        options=options,
        progress=progress,
        webhooks_sent=int(webhooks.get("webhooks_sent", 0)),
        webhooks_failed=int(webhooks.get("webhooks_failed", 0)),
        sap_orders=len(set(references)),
        sap_duplicates=duplicates,
        sap_first=numbers[0] if numbers else None,
        sap_last=numbers[-1] if numbers else None,
        faults=faults,
        dead_letters=_dead_letters(workdir / "hub.db"),
        seconds=time.monotonic() - started,
        database=workdir / "hub.db",
        finished=finished,
        invoices=invoices,
        unshippable=sum(1 for o in warehouse.orders.values() if o.refused),
    )


def describe(report: DemoReport) -> list[tuple[str, str]]:
    """The summary rows the CLI prints."""
    p = report.progress
    i = report.invoices
    faults = ", ".join(f"{k} {v}" for k, v in sorted(report.faults.items())) or "none"
    numbers = f"{report.sap_first} … {report.sap_last}" if report.sap_first else "-"
    return [
        ("orders generated in Magento", str(p.generated)),
        ("webhooks pushed (failed)", f"{report.webhooks_sent} ({report.webhooks_failed})"),
        ("orders received by the hub", str(p.received)),
        ("delivered to SAP", str(p.delivered)),
        ("retried (after a fault)", str(p.retried)),
        ("dead-lettered", str(p.dead)),
        ("still pending", str(p.pending)),
        ("SAP sales orders", str(report.sap_orders)),
        ("SAP numbers assigned", numbers),
        ("shop orders with 2+ SAP orders", str(report.sap_duplicates)),
        ("parcels shipped in the shop", str(p.shipments)),
        ("shipments received by the hub", str(p.shipments_received)),
        ("invoices issued", f"{i.issued} ({i.first or '-'} … {i.last or '-'})"),
        ("invoiced (gross, all currencies)", f"{i.gross_total:f}"),
        ("invoices posted to the SAP ledger", f"{i.in_sap} ({p.in_ledger} journal entries)"),
        ("invoices posted to the shop", f"{i.in_shop} ({p.shop_invoices} shop invoices)"),
        ("amounts differing hub/SAP/shop", str(len(i.mismatches))),
        ("faults injected by SAP", faults),
        ("seconds", f"{report.seconds:.1f}"),
    ]
