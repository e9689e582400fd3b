"""Month-end invoicing benchmark: shipped orders → priced, taxed, numbered invoices with
their UBL (Peppol BIS 3) rendered, per second, on SQLite and PostgreSQL.

    python -m bench.invoicing [--orders 2000] [--runs 3] [--store both]
                              [--processes 1,2,4] [--split-every 0] [--profile DIR]
                              [--doc docs/benchmarks.md | --no-doc]

Setup (not timed): ``--orders`` Magento orders (the EU B2B sample, numbered apart) and
their shipments (one each; with ``--split-every K`` every K-th order ships in two parts)
are stored once per store through the hub's ingest, committed in bulk
(``bench/invoicing_seed.py``), checked against the normal ingest path, and copied into
a fresh database for every timed run.

Timed: a month-end run by ``--processes`` processes started together. Each lists the
uninvoiced shipments as ``o2c invoice run`` does (``InvoicingService.
uninvoiced_shipments``), keeps its share (by order number, so an order's shipments stay
in one process), and for each calls ``InvoicingService.invoice_shipment`` (draft with
the example pricing rules and EU VAT rules, credit check, gapless issue, emit as a
``hub``/``invoice`` message whose posting to a ledger target is queued) and
``render_ubl`` of the issued invoice. The figure is all invoices over the wall time from
the start to the last process done. SQLite runs one process (see the section this writes
to docs/benchmarks.md). Every run checks one invoice per shipment, numbers 1..N without a
gap, and one message and one posting per invoice.

``--profile DIR`` runs each invoicing process under cProfile, keeps the stats in DIR and
prints where the time of the first process went, per invoice (profiled figures are
slower than plain ones, so such a run writes no doc). ``--doc PATH`` writes the section
elsewhere, ``--no-doc`` nowhere.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import multiprocessing as mp
import os
import platform
import pstats
import queue
import statistics
import tempfile
import threading
import time
import traceback
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bench.invoicing_seed import (
    clone_postgres,
    clone_sqlite,
    count_shipments,
    seed,
    verify_seeded,
)
from bench.report import write_section
from hub.canonical.common import Address
from hub.einvoice.ubl import render_ubl
from hub.ingest import Ingestor
from hub.invoicing.service import InvoicingService, ubl_options
from hub.invoicing.settings import InvoicingSettings, Seller
from hub.invoicing.tax import CountryRates, TaxConfig
from hub.routing import load_routes
from hub.store.db import make_engine
from hub.store.tables import delivery_table, issued_invoice_table, message_table
from tests.pg import PG_URL, pg_schema_url

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = [ROOT / "mappings"]
ISSUE_DATE = date(2026, 11, 30)
PROGRESS_SECONDS = 15.0
SETUP_TIMEOUT = 600.0
"""Seconds a process may take to start (imports, pricing rules) before the run fails."""
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
ROUTES = """\
targets:
  ledger: {type: http, url: "http://127.0.0.1:9/ledger"}
routes:
  - {name: invoices-to-ledger, source: {system: hub, kind: invoice}, target: ledger}
"""
"""Issued invoices are posted on (a delivery each, queued, never sent: no worker runs)."""

SQLITE_NOTE = (
    "SQLite runs one invoicing process. Every transaction the hub opens on SQLite, reads "
    "included, starts with `BEGIN IMMEDIATE` (hub/store/db.py), which takes the file's "
    "one write lock: an invoice's look-ups (its invoice, the order, what is invoiced and "
    "shipped so far, the customer's party), its issue and the outbox commit that emits "
    "it each hold that lock in turn, and the commits fsync (`synchronous=FULL`). A second "
    "process can only price, tax and render while the first holds the lock; the rest of "
    "the time it sleeps in SQLite's busy handler (a sleep-and-retry, not a queue), so it "
    "adds contention rather than invoices. Several processes are for PostgreSQL, where "
    "readers never wait and issuers take turns only at the series' counter row, for the "
    "few milliseconds of the issuing transaction."
)


# --------------------------------------------------------------------------- a run


@dataclass(frozen=True)
class RunResult:
    store: str
    processes: int
    invoices: int
    seconds: float
    listing: float
    """Longest time a process took to list the uninvoiced shipments."""
    load: float
    """The machine's 1-minute load average when the run started."""

    @property
    def rate(self) -> float:
        return self.invoices / self.seconds


def share_of(order_number: str, processes: int) -> int:
    """Which process invoices the order's shipments."""
    return zlib.crc32(order_number.encode("utf-8")) % processes


def invoicing_process(
    url: str,
    routes_file: Path,
    share: int,
    processes: int,
    barrier: Barrier,
    results: Any,
    profile: str | None,
    label: str,
) -> None:
    """One invoicing process: set up, wait for the others, list, invoice its share."""
    engine = ingestor = None
    try:
        engine = make_engine(url, pool_size=2)
        ingestor = Ingestor(engine, load_routes(routes_file, MAPPINGS), MAPPINGS)
        service = InvoicingService(engine, ingestor, SETTINGS)
        options = ubl_options(SETTINGS)
        profiler = cProfile.Profile() if profile else None
        barrier.wait(timeout=SETUP_TIMEOUT)
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        listed = service.uninvoiced_shipments()
        mine = [s for s in listed if share_of(s.order_number, processes) == share]
        listing = time.perf_counter() - started
        created = 0
        next_report = time.perf_counter() + PROGRESS_SECONDS
        for done, item in enumerate(mine, start=1):
            result = service.invoice_shipment(item, ISSUE_DATE)
            render_ubl(result.issued.document, options=options)
            created += result.issued.created
            now = time.perf_counter()
            if now >= next_report:
                rate = done / (now - started - listing)
                eta = (len(mine) - done) / rate
                print(
                    f"  {label} process {share + 1}/{processes}: {done:,}/{len(mine):,} "
                    f"invoiced, {rate:,.0f}/s, about {eta / 60:.1f} min left",
                    flush=True,
                )
                next_report = now + PROGRESS_SECONDS
        elapsed = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))
        results.put(
            {
                "share": share,
                "listed": len(listed),
                "invoiced": len(mine),
                "created": created,
                "listing": listing,
                "elapsed": elapsed,
            }
        )
    except BaseException:
        barrier.abort()
        results.put({"share": share, "error": traceback.format_exc()})
        raise
    finally:
        if ingestor is not None:
            ingestor.writer.close()
        if engine is not None:
            engine.dispose()


def invoice_all(
    url: str, routes_file: Path, processes: int, label: str, profile: Path | None, limit: float
) -> tuple[float, list[dict[str, Any]]]:
    """Run ``processes`` invoicing processes together: (wall seconds, their reports)."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=invoicing_process,
            args=(
                url,
                routes_file,
                share,
                processes,
                barrier,
                results,
                str(profile / f"{label}-{processes}p-{share + 1}.pstats") if profile else None,
                label,
            ),
            daemon=True,
        )
        for share in range(processes)
    ]
    for p in procs:
        p.start()
    reports: list[dict[str, Any]] = []
    finished = False
    try:
        try:
            barrier.wait(timeout=SETUP_TIMEOUT)
        except threading.BrokenBarrierError:
            error = results.get(timeout=10.0)["error"]
            raise RuntimeError(f"an invoicing process failed to start:\n{error}") from None
        started = time.perf_counter()
        while len(reports) < processes:
            try:
                report = results.get(timeout=2.0)
            except queue.Empty:
                if time.perf_counter() - started > limit:
                    raise RuntimeError(f"the run took longer than {limit:,.0f} s") from None
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if dead and results.empty():
                    raise RuntimeError(f"an invoicing process died (exit {dead})") from None
                continue
            if "error" in report:
                raise RuntimeError(f"invoicing process {report['share'] + 1}:\n{report['error']}")
            reports.append(report)
        seconds = time.perf_counter() - started
        finished = True
    finally:
        for p in procs:
            if not finished:
                p.terminate()
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
                p.join()
    return seconds, reports


def check(url: str, shipments: int) -> None:
    """One invoice per shipment, numbers 1..N without a gap, one message and posting each."""
    engine = make_engine(url, pool_size=1)
    iv, m = issued_invoice_table.c, message_table.c
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(iv.seq, iv.number).order_by(iv.seq)).all()
            keys = conn.execute(select(func.count(iv.source_key.distinct()))).scalar_one()
            messages = conn.execute(
                select(func.count(), func.count(m.external_id.distinct())).where(
                    m.system == "hub", m.kind == "invoice"
                )
            ).one()
            postings = conn.execute(
                select(func.count())
                .select_from(delivery_table)
                .join(message_table, delivery_table.c.message_id == m.id)
                .where(m.system == "hub", m.kind == "invoice")
            ).scalar_one()
    finally:
        engine.dispose()
    expected = [(n, f"INV-2026-{n:06d}") for n in range(1, shipments + 1)]
    if [tuple(r) for r in rows] != expected:
        raise SystemExit(f"the numbers are not INV-2026-000001..{shipments:06d} without a gap")
    if keys != shipments:
        raise SystemExit(f"{keys} shipments invoiced, not {shipments}")
    if tuple(messages) != (shipments, shipments) or postings != shipments:
        raise SystemExit(
            f"{shipments} invoices, but {messages[0]} messages ({messages[1]} distinct) and "
            f"{postings} postings"
        )


# --------------------------------------------------------------------------- stores


@dataclass
class Store:
    """A seeded store of one kind, copied for each run."""

    kind: str
    seeded_url: str
    shipments: int
    workdir: Path
    schemas: list[str]

    @contextlib.contextmanager
    def copy(self) -> Iterator[str]:
        """A fresh copy of the seeded store: its URL, dropped afterwards."""
        if self.kind == "sqlite":
            path = self.workdir / "run.db"
            for leftover in self.workdir.glob("run.db*"):
                leftover.unlink()
            clone_sqlite(self.workdir / "seed.db", path)
            try:
                yield f"sqlite:///{path}"
            finally:
                for leftover in self.workdir.glob("run.db*"):
                    leftover.unlink()
            return
        url, schema = new_schema()
        self.schemas.append(schema)
        try:
            clone_postgres(PG_URL, self.schemas[0], url, schema)
            yield url
        finally:
            drop_schema(schema)
            self.schemas.remove(schema)


def new_schema() -> tuple[str, str]:
    """A fresh PostgreSQL schema (tests/pg.py): its URL and name."""
    try:
        return pg_schema_url()
    except pytest.skip.Exception as exc:
        raise SystemExit(f"{exc}; run with --store sqlite") from None


def drop_schema(schema: str) -> None:
    admin = make_engine(PG_URL, pool_size=1)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def seeded(
    kind: str, orders: int, split_every: int, seed_processes: int, routes_file: Path
) -> Iterator[Store]:
    """Seed a store of ``kind`` once (timed apart, not part of any figure)."""
    with tempfile.TemporaryDirectory(prefix="o2c-bench-") as tmp:
        workdir = Path(tmp)
        schemas: list[str] = []
        if kind == "sqlite":
            url = f"sqlite:///{workdir / 'seed.db'}"
        else:
            url, schema = new_schema()
            schemas.append(schema)
        try:
            started = time.perf_counter()
            print(f"{kind}: seeding {orders:,} orders ...", flush=True)
            shipments = seed(url, routes_file, orders, split_every, seed_processes)
            verify_seeded(url, routes_file, orders, split_every)
            if count_shipments(url) != shipments:
                raise SystemExit("seeding: the shipments stored are not the ones made")
            took = time.perf_counter() - started
            print(
                f"{kind}: seeded {orders:,} orders, {shipments:,} shipments in {took:,.0f} s "
                f"({orders / took:,.0f} orders/s)",
                flush=True,
            )
            yield Store(kind, url, shipments, workdir, schemas)
        finally:
            for schema in schemas:
                drop_schema(schema)


# --------------------------------------------------------------------------- profile

HOT_SPOTS: tuple[tuple[str, str, str], ...] = (
    ("hub/invoicing/service.py", "uninvoiced_shipments", "list uninvoiced shipments (once)"),
    ("hub/invoicing/service.py", "invoice_shipment", "invoice_shipment"),
    ("hub/invoicing/store.py", "by_source_key", "  look up the shipment's invoice"),
    ("hub/invoicing/service.py", "draft", "  draft (order, invoiced so far, pricing, tax)"),
    ("hub/invoicing/drafting.py", "draft_invoice", "    draft_invoice itself"),
    ("hub/invoicing/credit.py", "check", "  credit check"),
    ("hub/invoicing/service.py", "shipped", "  shipped so far (the order's shipments)"),
    ("hub/invoicing/store.py", "issue", "  issue (locks, claims, number, insert, commit)"),
    ("hub/ingest.py", "ingest_canonical", "  emit (hub/invoice message + posting)"),
    ("hub/outbox.py", "write", "    waiting for the outbox commit"),
    ("hub/einvoice/ubl.py", "render_ubl", "render UBL"),
    ("pydantic/main.py", "model_validate_json", "parse canonical JSON (pydantic)"),
    ("hub/canonical/common.py", "require_rounded", "amount checks in validators"),
    ("sqlalchemy/engine/base.py", "_execute_context", "SQL statements (SQLAlchemy + driver)"),
    ("sqlalchemy/pool/base.py", "_checkout", "connection checkouts (+ pre-ping)"),
)


def profile_summary(path: Path, invoices: int) -> list[str]:
    """Where one process's time went, per invoice, from its cProfile stats."""
    stats = pstats.Stats(str(path))
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    lines = [
        (
            f"profile of {path.name}: {total:,.1f} s for {invoices:,} invoices "
            f"({1000 * total / invoices:.2f} ms each)"
        ),
        f"  {'':52} {'ms/invoice':>10} {'calls/invoice':>13} {'share':>6}",
    ]
    for suffix, name, label in HOT_SPOTS:
        calls = 0
        cumulative = 0.0
        for (filename, _line, function), (_cc, nc, _tt, ct, _callers) in table.items():
            if function == name and filename.endswith(suffix):
                calls += nc
                cumulative += ct
        if calls:
            lines.append(
                f"  {label:52} {1000 * cumulative / invoices:>10.2f} "
                f"{calls / invoices:>13.1f} {cumulative / total:>6.0%}"
            )
    return lines


def print_profile(path: Path, invoices: int) -> None:
    for line in profile_summary(path, invoices):
        print(line)
    top = path.with_suffix(".txt")
    with top.open("w", encoding="utf-8") as sink:
        stats = pstats.Stats(str(path), stream=sink)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)
    print(f"  top functions: {top}")


# --------------------------------------------------------------------------- main


def run_once(store: Store, processes: int, routes_file: Path, profile: Path | None) -> RunResult:
    limit = max(1800.0, store.shipments * 0.5)
    load = os.getloadavg()[0]
    with store.copy() as url:
        label = f"{store.kind}"
        seconds, reports = invoice_all(url, routes_file, processes, label, profile, limit)
        check(url, store.shipments)
    invoiced = sum(r["invoiced"] for r in reports)
    if invoiced != store.shipments or sum(r["created"] for r in reports) != store.shipments:
        raise SystemExit(f"{invoiced} shipments invoiced, {store.shipments} stored")
    listing = max(r["listing"] for r in reports)
    if profile is not None:
        first = min(reports, key=lambda r: r["share"])
        print_profile(profile / f"{label}-{processes}p-1.pstats", first["invoiced"])
    return RunResult(store.kind, processes, invoiced, seconds, listing, load)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", maxsplit=1)[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--processes",
        default="1",
        help="invoicing processes on PostgreSQL, comma-separated (e.g. 1,2,4); SQLite: 1",
    )
    parser.add_argument(
        "--split-every",
        type=int,
        default=0,
        help="every K-th order ships in two partial shipments (0: one shipment each)",
    )
    parser.add_argument(
        "--seed-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="processes that seed the store (not timed)",
    )
    parser.add_argument("--profile", type=Path, help="folder for cProfile stats of each run")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-doc", action="store_true", help="print only; write no doc")
    args = parser.parse_args()
    counts = sorted({int(p) for p in args.processes.split(",")})
    if args.orders < 1 or args.runs < 1 or min(counts) < 1:
        parser.error("--orders, --runs and --processes must be at least 1")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]

    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="o2c-bench-routes-") as tmp:
        routes_file = Path(tmp) / "routes.yaml"
        routes_file.write_text(ROUTES, encoding="utf-8")
        for kind in stores:
            plan = [1] if kind == "sqlite" else counts
            with seeded(
                kind, args.orders, args.split_every, args.seed_processes, routes_file
            ) as store:
                for processes in plan:
                    runs = []
                    for run in range(1, args.runs + 1):
                        result = run_once(store, processes, routes_file, args.profile)
                        runs.append(result)
                        print(
                            f"{kind}, {processes} process(es), run {run}: "
                            f"{result.invoices:,} invoices in {result.seconds:,.1f} s = "
                            f"{result.rate:,.0f} invoices/s (listing {result.listing:,.1f} s, "
                            f"load average {result.load:.1f} at the start)",
                            flush=True,
                        )
                    results.append(median(runs))

    lines = report_lines(args, results)
    for line in lines:
        print(line)
    if args.profile is not None:
        print("profiled runs are slower than plain ones: no doc written")
    elif not args.no_doc:
        heading = "## Invoicing: month-end run"
        write_section(args.doc, heading, heading + "\n\n" + "\n".join(lines) + "\n")


def median(runs: list[RunResult]) -> RunResult:
    """The run with the median rate."""
    ordered = sorted(runs, key=lambda r: r.rate)
    return ordered[(len(ordered) - 1) // 2] if len(ordered) % 2 else _middle(ordered)


def _middle(ordered: list[RunResult]) -> RunResult:
    low, high = ordered[len(ordered) // 2 - 1], ordered[len(ordered) // 2]
    return RunResult(
        low.store,
        low.processes,
        low.invoices,
        statistics.mean([low.seconds, high.seconds]),
        statistics.mean([low.listing, high.listing]),
        max(low.load, high.load),
    )


def report_lines(args: argparse.Namespace, results: list[RunResult]) -> list[str]:
    command = (
        f"python -m bench.invoicing --orders {args.orders} --runs {args.runs} "
        f"--store {args.store} --processes {args.processes}"
    )
    if args.split_every:
        command += f" --split-every {args.split_every}"
    shipments = results[0].invoices if results else 0
    when = datetime.now(UTC).date()
    lines = [
        (
            f"Command: `{command}` — machine: {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, {when}. "
            + (f"Median of {args.runs} runs. " if args.runs > 1 else "One run. ")
            + f"Seeded once per store (not timed): {args.orders:,} Magento orders stored "
            f"through the hub's ingest and {shipments:,} shipments, copied into a fresh "
            "database for each run. Timed: the whole month-end run, from the processes' "
            "common start to the last one done: each lists the uninvoiced shipments as "
            "`o2c invoice run` does, keeps its share (by order), and invoices each one: "
            "priced (config/pricing), taxed (EU rules), credit checked, numbered and "
            "stored, emitted as a message with its posting queued, and rendered as "
            "Peppol UBL. Checked after every run: one invoice per shipment, numbers 1..N "
            "without a gap, one message and one posting per invoice."
        ),
        "",
        "| store | processes | invoices/s | invoices | run s | of which listing s | load |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {r.store} | {r.processes} | {r.rate:,.0f} | {r.invoices:,} | "
            f"{r.seconds:,.0f} | {r.listing:,.1f} | {r.load:.1f} |"
            for r in results
        ),
        "",
        (
            "Load: the machine's 1-minute load average as the run started (other work on the "
            "same cores)."
        ),
    ]
    if any(r.store == "sqlite" for r in results):
        lines += ["", SQLITE_NOTE]
    return lines


if __name__ == "__main__":
    main()
