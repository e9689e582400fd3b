"""Polling sources: cursors, leases, crash safety, errors, routes.yaml `sources:`, `o2c poll`.

A fake adapter (``fakepoll``) serves real Magento orders from an in-memory list, keyed by
an integer cursor; the hub maps them with the real Magento order mapping.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import DBAPIError

from hub import plugins
from hub.adapter import Adapter, Capability, InboundDocument, PollPage
from hub.clock import utcnow
from hub.errors import DeliveryError, HubError, RateLimited, Rejected, RouteError, TargetUnavailable
from hub.ingest import Ingestor, IngestResult
from hub.polling import (
    CursorStore,
    Poller,
    PollRun,
    PollScheduler,
    build_pollers,
    next_delay,
)
from hub.routing import RouteTable, load_routes
from hub.store.db import make_engine
from hub.store.tables import delivery_table, message_table, poll_cursor_table, quarantined_table
from hub.targets.base import Delivery, DeliveryResult
from tests.conftest import ROOT
from tests.pipeline_support import MAPPING_DIRS, make_store, order

TOKEN = "fake-token-5f1e2d3c4b5a"


# --------------------------------------------------------------------------- the fake


class FakePollConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    orders: int = 0
    """Orders 1..N are in the source at the start."""
    token: str = TOKEN
    fail: bool = False
    """Every poll fails with TargetUnavailable (its message quotes the token)."""


class FakePollAdapter(Adapter):
    """Pages of real Magento orders from a list; the cursor is the position in it."""

    name: ClassVar[str] = "fakepoll"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.DELIVER, Capability.POLL})
    Config: ClassVar[type[BaseModel]] = FakePollConfig

    def __init__(self, target: str, config: BaseModel) -> None:
        super().__init__(target, config)
        assert isinstance(config, FakePollConfig)
        self.token = config.token
        self.documents: list[bytes] = [order(n) for n in range(1, config.orders + 1)]
        self.fail: DeliveryError | None = self.failure() if config.fail else None
        self.calls = 0
        self.started: asyncio.Event | None = None
        self.gate: asyncio.Event | None = None
        self.closed = False

    def failure(self) -> DeliveryError:
        return TargetUnavailable(
            f"GET https://shop.example/rest/V1/orders?access_token={self.token} refused",
            target=self.target,
            detail=f"Authorization: Bearer {self.token}",
        )

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        raise Rejected("the fake source takes no deliveries")

    def secrets(self) -> tuple[str, ...]:
        return (self.token,)

    async def aclose(self) -> None:
        self.closed = True

    async def poll(self, kind: str, cursor: dict[str, Any] | None, *, limit: int = 100) -> PollPage:
        self.calls += 1
        if self.started is not None:
            self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        after = int(cursor["after"]) if cursor else 0
        chunk = self.documents[after : after + limit]
        docs = [InboundDocument(kind, raw, ref=str(after + i + 1)) for i, raw in enumerate(chunk)]
        return PollPage(docs, {"after": after + len(chunk)}, more=len(chunk) == limit)


def install() -> None:
    """Register the fake in this process's plugins (for `o2c` run in a subprocess)."""
    plugins.plugins().adapters.add(FakePollAdapter, source="tests.test_polling")


@pytest.fixture(autouse=True)
def _fake_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    found = plugins.build_plugins({})
    found.adapters.add(FakePollAdapter, source="tests.test_polling")
    monkeypatch.setattr(plugins, "plugins", lambda: found)


# --------------------------------------------------------------------------- helpers

ROUTES = """\
targets:
  erp: {{type: http, url: 'http://127.0.0.1:9/deliver/erp', timeout: 5}}
  shop: {{type: fakepoll, orders: {orders}{extra}}}
routes:
  - name: order-to-erp
    source: {{system: magento, kind: order}}
    target: erp
sources:
  shop-orders: {{target: shop, system: magento, kind: order, batch: 3{source}}}
"""


def write_routes(tmp_path: Path, orders: int = 7, *, extra: str = "", source: str = "") -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(ROUTES.format(orders=orders, extra=extra, source=source), encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    engine, _ = make_store(request.param, tmp_path)
    yield engine
    engine.dispose()


class Hub:
    """Routes, an ingestor and pollers on one store, closed at the end of the test."""

    def __init__(self, engine: Engine, routes_file: Path, ingestor: Ingestor | None = None):
        self.engine = engine
        self.routes: RouteTable = load_routes(routes_file, MAPPING_DIRS)
        self.ingestor = ingestor or Ingestor(engine, self.routes, MAPPING_DIRS)
        self.ingestors = [self.ingestor]

    def poller(self, *, owner: str = "test:1:aaaaaa", ingestor: Ingestor | None = None) -> Poller:
        if ingestor is not None:
            self.ingestors.append(ingestor)
        (poller,) = build_pollers(
            self.routes, ingestor or self.ingestor, ["shop-orders"], owner=owner
        )
        return poller

    def close(self) -> None:
        for ingestor in self.ingestors:
            ingestor.writer.close()

    def count(self, table: Any) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def hub(engine: Engine, tmp_path: Path) -> Iterator[Hub]:
    h = Hub(engine, write_routes(tmp_path))
    yield h
    h.close()


def fake(poller: Poller) -> FakePollAdapter:
    assert isinstance(poller.adapter, FakePollAdapter)
    return poller.adapter


class Crash(Exception):
    """The process died (simulated): raised right after a document was stored."""


class CrashingIngestor(Ingestor):
    def __init__(self, engine: Engine, routes: RouteTable, crash_after: int) -> None:
        super().__init__(engine, routes, MAPPING_DIRS)
        self.crash_after = crash_after
        self.stored = 0

    def ingest(self, system: str, kind: str, raw: bytes, **kwargs: Any) -> IngestResult:
        result = super().ingest(system, kind, raw, **kwargs)
        self.stored += 1
        if self.stored == self.crash_after:
            raise Crash(f"crashed after storing {self.stored} documents")
        return result


# --------------------------------------------------------------------------- runs


def test_a_run_ingests_every_document_once_and_stores_the_cursor(hub: Hub) -> None:
    poller = hub.poller()
    first = asyncio.run(poller.run())
    assert first == PollRun("shop-orders", documents=7, created=7, pages=3, cursor={"after": 7})
    assert hub.count(message_table) == 7
    assert hub.count(delivery_table) == 7
    state = poller.state()
    assert state is not None
    assert state.cursor == {"after": 7}
    assert state.documents_total == 7
    assert state.leased_by is None and state.leased_until is None
    assert state.last_error is None and state.last_success_at is not None

    again = asyncio.run(poller.run())
    assert (again.documents, again.pages, again.cursor) == (0, 1, {"after": 7})
    assert fake(poller).calls == 4

    fake(poller).documents += [order(8), order(9)]
    more = asyncio.run(poller.run())
    assert (more.documents, more.created, more.cursor) == (2, 2, {"after": 9})
    assert hub.count(message_table) == 9
    state = poller.state()
    assert state is not None and state.documents_total == 9


def test_a_bad_document_is_quarantined_and_counted(hub: Hub) -> None:
    poller = hub.poller()
    fake(poller).documents.insert(1, b'{"increment_id": "broken", "items": "no"}')
    fake(poller).documents.insert(2, b"not json at all")
    run = asyncio.run(poller.run())
    assert (run.documents, run.created, run.quarantined, run.error) == (9, 7, 2, None)
    assert run.cursor == {"after": 9}
    assert hub.count(quarantined_table) == 2
    assert hub.count(message_table) == 7


def test_a_crash_between_ingest_and_cursor_save_loses_and_doubles_nothing(
    hub: Hub,
) -> None:
    crashing = hub.poller(ingestor=CrashingIngestor(hub.engine, hub.routes, crash_after=5))
    with pytest.raises(Crash):
        asyncio.run(crashing.run())
    state = crashing.state()
    assert state is not None
    assert state.cursor == {"after": 3}  # page 1 saved; page 2 ingested in part only
    assert state.documents_total == 3
    assert state.last_error is not None and "Crash" in state.last_error
    assert hub.count(message_table) == 5

    run = asyncio.run(hub.poller().run())
    assert (run.documents, run.created, run.duplicates) == (4, 2, 2)  # page 2 read again
    assert run.cursor == {"after": 7}
    assert hub.count(message_table) == 7
    assert hub.count(delivery_table) == 7
    with hub.engine.connect() as conn:
        versions = conn.execute(select(message_table.c.version)).scalars().all()
    assert set(versions) == {1}


def test_a_dead_processs_lease_blocks_until_it_expires(hub: Hub) -> None:
    poller = hub.poller(owner="alive:2:bbbbbb")
    store = CursorStore(hub.engine)
    assert store.claim("shop-orders", "dead:1:aaaaaa", timedelta(minutes=5))[0]
    blocked = asyncio.run(poller.run())
    assert blocked.skipped and blocked.held_by == "dead:1:aaaaaa"
    assert blocked.documents == 0 and fake(poller).calls == 0
    with hub.engine.begin() as conn:
        conn.execute(update(poll_cursor_table).values(leased_until=utcnow() - timedelta(seconds=1)))
    taken = asyncio.run(poller.run())
    assert not taken.skipped and taken.documents == 7


def test_the_page_in_progress_finishes_when_stopped(hub: Hub) -> None:
    poller = hub.poller()
    stop = asyncio.Event()
    poller.on_progress = lambda run: stop.set()  # SIGTERM during the first document
    run = asyncio.run(poller.run(stop))
    assert (run.documents, run.pages, run.cursor, run.more) == (3, 1, {"after": 3}, True)
    state = poller.state()
    assert state is not None and state.cursor == {"after": 3} and state.leased_by is None


def test_max_per_run_yields_and_the_scheduler_continues(engine: Engine, tmp_path: Path) -> None:
    h = Hub(engine, write_routes(tmp_path, source=", max_per_run: 3, every: 0.01"))
    try:
        poller = h.poller()
        first = asyncio.run(poller.run())
        assert (first.documents, first.more, first.cursor) == (3, True, {"after": 3})

        runs: list[PollRun] = []

        async def main() -> None:
            stop = asyncio.Event()

            def seen(run: PollRun) -> None:
                runs.append(run)
                if not run.more or len(runs) >= 10:
                    stop.set()

            await PollScheduler([poller], on_run=seen).run(stop)

        asyncio.run(main())
        assert [r.documents for r in runs] == [3, 1]
        assert runs[-1].cursor == {"after": 7}
        assert h.count(message_table) == 7
    finally:
        h.close()


# --------------------------------------------------------------------------- leases


@pytest.mark.postgres
def test_two_pollers_on_one_postgres_source_never_poll_at_once(tmp_path: Path) -> None:
    engine, _ = make_store("postgres", tmp_path)
    h = Hub(engine, write_routes(tmp_path))
    try:
        one = h.poller(owner="host-a:1:aaaaaa")
        two = h.poller(owner="host-b:2:bbbbbb")

        async def main() -> tuple[PollRun, PollRun]:
            fake(one).started, fake(one).gate = asyncio.Event(), asyncio.Event()
            first = asyncio.create_task(one.run())
            await fake(one).started.wait()  # one holds the lease and is polling
            second = await two.run()
            fake(one).gate.set()
            return await first, second

        first, second = asyncio.run(main())
        assert second.skipped and second.held_by == "host-a:1:aaaaaa"
        assert fake(two).calls == 0
        assert first.documents == 7 and first.created == 7
        assert h.count(message_table) == 7

        # many processes claiming at the same instant: exactly one wins
        store = CursorStore(engine)
        owners = [f"racer:{i}:cccccc" for i in range(8)]
        barrier = threading.Barrier(len(owners))
        results: dict[str, bool] = {}

        def claim(owner: str) -> None:
            barrier.wait()
            results[owner] = store.claim("race", owner, timedelta(minutes=1))[0]

        threads = [threading.Thread(target=claim, args=(o,)) for o in owners]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(results.values()) == [False] * 7 + [True]
        winner = next(o for o, won in results.items() if won)
        state = store.get("race")
        assert state is not None and state.leased_by == winner
        # the loser's writes are fenced off
        loser = next(o for o in owners if o != winner)
        assert not store.save_cursor("race", loser, {"after": 1}, 1, timedelta(minutes=1))
        assert not store.release("race", loser, error=None)
        assert store.save_cursor("race", winner, {"after": 1}, 1, timedelta(minutes=1))
    finally:
        h.close()
        engine.dispose()


# --------------------------------------------------------------------------- errors


def test_an_adapter_error_is_recorded_without_the_secret(hub: Hub) -> None:
    poller = hub.poller()
    fake(poller).fail = fake(poller).failure()
    run = asyncio.run(poller.run())
    assert run.error is not None and run.error.startswith("TargetUnavailable: ")
    assert TOKEN not in run.error and "***" in run.error
    assert (run.documents, run.cursor) == (0, None)
    state = poller.state()
    assert state is not None
    assert state.last_error == run.error
    assert state.last_success_at is None and state.leased_by is None

    fake(poller).fail = None
    ok = asyncio.run(poller.run())
    assert ok.error is None and ok.documents == 7
    state = poller.state()
    assert state is not None and state.last_error is None and state.last_success_at is not None


def test_failures_back_off_and_honour_retry_after() -> None:
    assert next_delay(60, 0) == 60
    assert [next_delay(60, n) for n in (1, 2, 3, 4, 5, 6)] == [60, 120, 240, 480, 900, 900]
    assert next_delay(3600, 5) == 3600  # never more often than `every`
    assert next_delay(60, 1, retry_after=300) == 300
    assert next_delay(60, 10**6) == 900


def test_the_scheduler_retries_a_failing_source_with_backoff(
    engine: Engine, tmp_path: Path
) -> None:
    hub = Hub(engine, write_routes(tmp_path, source=", every: 0.01"))
    poller = hub.poller()
    fake(poller).fail = RateLimited("slow down", retry_after=0.01, target="shop")
    runs: list[PollRun] = []

    async def main() -> PollScheduler:
        stop = asyncio.Event()

        def seen(run: PollRun) -> None:
            runs.append(run)
            if len(runs) == 2:
                fake(poller).fail = None
            if run.error is None or len(runs) >= 10:
                stop.set()

        scheduler = PollScheduler([poller], on_run=seen, max_backoff=0.05)
        await scheduler.run(stop)
        await scheduler.aclose()
        return scheduler

    scheduler = asyncio.run(main())
    hub.close()
    assert [r.error is None for r in runs] == [False, False, True]
    assert runs[0].retry_after == 0.01
    assert runs[-1].documents == 7
    assert scheduler.failures == {"shop-orders": 0}
    assert fake(poller).closed


def test_unexpected_errors_propagate_and_free_the_lease(hub: Hub) -> None:
    poller = hub.poller()

    async def broken(*args: Any, **kwargs: Any) -> PollPage:
        raise ValueError(f"bug near {TOKEN}")

    poller.adapter.poll = broken  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="bug near"):
        asyncio.run(poller.run())
    state = poller.state()
    assert state is not None and state.leased_by is None
    assert state.last_error is not None and TOKEN not in state.last_error


# --------------------------------------------------------------------------- routes.yaml


def test_sources_load_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(
        "targets:\n  shop: {type: fakepoll}\n"
        "sources:\n"
        "  a: {target: shop, system: magento, kind: order}\n"
        "  b: {target: shop, system: magento, kind: order, every: 5, batch: 1000,\n"
        "      max_per_run: 20, enabled: false}\n",
        encoding="utf-8",
    )
    table = load_routes(path, MAPPING_DIRS)
    a, b = table.sources["a"], table.sources["b"]
    assert (a.target, a.system, a.kind, a.every, a.batch, a.max_per_run, a.enabled) == (
        "shop",
        "magento",
        "order",
        60,
        100,
        10_000,
        True,
    )
    assert (b.every, b.batch, b.max_per_run, b.enabled) == (5, 1000, 20, False)
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    ingestor = Ingestor(engine, table, MAPPING_DIRS)
    assert [p.name for p in build_pollers(table, ingestor)] == ["a"]  # enabled only
    assert [p.name for p in build_pollers(table, ingestor, ["b"])] == ["b"]
    with pytest.raises(HubError, match="no source 'c'"):
        build_pollers(table, ingestor, ["c"])
    engine.dispose()


TARGETS = (
    "targets:\n"
    "  shop: {type: fakepoll}\n"
    "  erp: {type: http, url: 'http://127.0.0.1:9/x'}\n"
    "sources:\n"
)


@pytest.mark.parametrize(
    ("body", "where", "words"),
    [
        ("  s: {target: shpo, system: magento, kind: order}\n", ":5:", "did you mean 'shop'?"),
        (
            "  s: {target: erp, system: magento, kind: order}\n",
            ":5:",
            "target 'erp' cannot be polled: its adapter 'http' has no 'poll' capability",
        ),
        ("  s: {target: shop, kind: order}\n", ":5:", "no inbound mapping fakepoll/order.inbound"),
        (
            "  s:\n    target: shop\n    system: magento\n    kind: invoice\n",
            ":8:",
            "no inbound mapping magento/invoice.inbound",
        ),
        (
            "  s:\n    target: shop\n    system: shopify\n    kind: order\n",
            ":7:",
            "no inbound mapping shopify/order.inbound",
        ),
        (
            "  s:\n    target: shop\n    system: magento\n    kind: order\n    every: 0\n",
            ":9:",
            "sources.s.every: Input should be greater than 0",
        ),
        (
            "  s: {target: shop, system: magento, kind: order,\n      batch: 5000}\n",
            ":6:",
            "sources.s.batch: Input should be less than or equal to 1000",
        ),
        (
            "  s: {target: shop, system: magento, kind: order,\n      evry: 5}\n",
            ":6:",
            "sources.s.evry: Extra inputs are not permitted",
        ),
        ("  s: {system: magento, kind: order}\n", ":5:", "sources.s.target: Field required"),
        ("  'a b': {target: shop, system: magento, kind: order}\n", ":5:3", "source name 'a b'"),
    ],
)
def test_source_mistakes_are_located(tmp_path: Path, body: str, where: str, words: str) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(TARGETS + body, encoding="utf-8")
    with pytest.raises(RouteError) as info:
        load_routes(path, MAPPING_DIRS)
    message = info.value.message
    assert f"routes.yaml{where}" in message, message
    assert words in message, message


# --------------------------------------------------------------------------- the CLI


def o2c(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN_O2C, *args],
        cwd=ROOT,
        env=cli_env(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


RUN_O2C = "import tests.test_polling as t; t.install(); from hub.cli.main import entry; entry()"


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2C_")}
    env.update(
        O2C_DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}",
        O2C_ROUTES_FILE=str(tmp_path / "routes.yaml"),
        O2C_MAPPINGS_PATHS=",".join(str(p) for p in MAPPING_DIRS),
        COLUMNS="250",
    )
    return env


def cursor_row(tmp_path: Path) -> dict[str, Any] | None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        state = CursorStore(engine).get("shop-orders")
    finally:
        engine.dispose()
    return None if state is None else {"cursor": state.cursor, "total": state.documents_total}


def polled(tmp_path: Path) -> int:
    """Documents stored so far by a hub process that may still be creating its database."""
    if not (tmp_path / "hub.db").exists():
        return 0
    try:
        row = cursor_row(tmp_path)
    except DBAPIError:  # not migrated yet
        return 0
    return int(row["total"]) if row else 0


def cells(table: str, source: str = "shop-orders") -> list[str]:
    """The cells of a source's row in a rich table."""
    line = next(x for x in table.splitlines() if f" {source} " in x)
    return [c.strip() for c in line.split("│")[1:-1]]


def test_poll_run_status_and_reset(tmp_path: Path) -> None:
    write_routes(tmp_path)
    first = o2c(tmp_path, "poll", "run")
    assert first.returncode == 0, first.stderr
    assert cells(first.stdout) == ["shop-orders", "7", "7", "0", "0", '{"after":7}', "caught up"]

    again = o2c(tmp_path, "poll", "run", "shop-orders")
    assert again.returncode == 0, again.stderr
    assert cells(again.stdout)[1:4] == ["0", "0", "0"]

    status = o2c(tmp_path, "poll", "status", "--json")
    assert status.returncode == 0, status.stderr
    (row,) = json.loads(status.stdout)
    assert row["source"] == "shop-orders" and row["enabled"] == "yes"
    assert row["documents_total"] == 7 and row["cursor"] == {"after": 7}
    assert row["last_error"] is None and row["leased_by"] is None
    table = o2c(tmp_path, "poll", "status")
    assert table.returncode == 0, table.stderr
    assert "shop-orders" in table.stdout and '{"after":7}' in table.stdout

    unsure = o2c(tmp_path, "poll", "reset", "shop-orders")  # no terminal: not confirmed
    assert unsure.returncode == 1
    assert cursor_row(tmp_path) == {"cursor": {"after": 7}, "total": 7}
    reset = o2c(tmp_path, "poll", "reset", "shop-orders", "--yes")
    assert reset.returncode == 0, reset.stderr
    assert "forgotten" in reset.stdout
    assert cursor_row(tmp_path) == {"cursor": None, "total": 7}
    trail = o2c(tmp_path, "audit", "list", "--json")
    assert trail.returncode == 0, trail.stderr
    assert '"poll.cursor_reset"' in trail.stdout

    reread = o2c(tmp_path, "poll", "run")
    assert reread.returncode == 0, reread.stderr
    assert cells(reread.stdout)[1:4] == ["7", "0", "7"]  # read again: all duplicates

    unknown = o2c(tmp_path, "poll", "run", "nope")
    assert unknown.returncode == 1
    assert (
        unknown.stderr.strip()
        == "error: no source 'nope' in " + str(tmp_path / "routes.yaml") + " (sources: shop-orders)"
    )
    unknown_reset = o2c(tmp_path, "poll", "reset", "nope", "--yes")
    assert unknown_reset.returncode == 1 and "no source 'nope'" in unknown_reset.stderr


def test_poll_run_exits_1_when_a_source_fails(tmp_path: Path) -> None:
    write_routes(tmp_path, extra=", fail: true")
    result = o2c(tmp_path, "poll", "run")
    assert result.returncode == 1
    assert "failed: TargetUnavailable" in result.stdout
    assert TOKEN not in result.stdout + result.stderr
    status = o2c(tmp_path, "poll", "status", "--json")
    (row,) = json.loads(status.stdout)
    assert row["last_error"].startswith("TargetUnavailable") and TOKEN not in row["last_error"]


def wait_for(predicate: Any, what: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def test_poll_run_forever_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    write_routes(tmp_path, source=", every: 0.1")
    log = tmp_path / "poll.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN_O2C, "poll", "run", "--forever"],
            cwd=ROOT,
            env=cli_env(tmp_path),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: polled(tmp_path) == 7, "the first poll")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    text = log.read_text(encoding="utf-8")
    assert code == 0, text
    assert cursor_row(tmp_path) == {"cursor": {"after": 7}, "total": 7}
    assert "shop-orders" in text


def test_serve_runs_the_pollers(tmp_path: Path) -> None:
    import socket

    write_routes(tmp_path, source=", every: 0.1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN_O2C, "serve", "--port", str(port), "--no-workers"],
            cwd=ROOT,
            env=cli_env(tmp_path),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: polled(tmp_path) == 7, "serve to poll the source")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    text = log.read_text(encoding="utf-8")
    assert code == 0, text
    assert "polling shop-orders" in text
    state = cursor_row(tmp_path)
    assert state == {"cursor": {"after": 7}, "total": 7}
