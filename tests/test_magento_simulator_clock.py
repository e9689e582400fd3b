"""The simulator's clock: it follows wall time, jumps on request, and every response carries
it as the HTTP ``Date`` header (exactly one, the simulator's, not uvicorn's)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest

from adapters.magento.simulator import MagentoState, SimulatorConfig, run_simulator
from adapters.magento.simulator.state import TIME_FORMAT

TOKEN = "clock-test-token"
START = datetime(2024, 2, 28, 23, 59, 0)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with run_simulator(config=SimulatorConfig(tokens=(TOKEN,), start_time=START)) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, trust_env=False, timeout=10) as http:
        http.post("/_sim/reset").raise_for_status()
        yield http


def date_of(response: httpx.Response) -> datetime:
    dates = response.headers.get_list("date")
    assert len(dates) == 1, dates
    assert dates[0].endswith(" GMT")
    return parsedate_to_datetime(dates[0])


def magento_time(value: str) -> datetime:
    return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)


def test_every_response_carries_one_date_from_the_simulated_clock(client: httpx.Client) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    client.post("/_sim/orders/generate", json={"count": 1}).raise_for_status()
    responses = [
        client.get("/rest/default/V1/orders/1", headers=auth),  # success
        client.get("/rest/default/V1/orders/1"),  # 401
        client.get("/rest/default/V1/orders/99", headers=auth),  # 404 entity
        client.get("/rest/default/V1/nothing-here", headers=auth),  # 404 route
        client.post("/rest/default/V1/order/1/invoice", headers=auth, content=b"{"),  # 400
        client.get("/_sim/health"),
    ]
    assert [r.status_code for r in responses] == [200, 401, 404, 404, 400, 200]
    clock = magento_time(client.get("/_sim/clock").json()["clock"])
    for response in responses:
        date = date_of(response)
        assert START.replace(tzinfo=UTC) <= date <= clock  # the simulated time, not today's
        assert clock - date < timedelta(seconds=5)


def test_the_clock_jumps_on_request_and_documents_use_it(client: httpx.Client) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    client.post("/_sim/orders/generate", json={"count": 1}).raise_for_status()
    before = date_of(client.get("/rest/default/V1/orders/1", headers=auth))
    moved = client.post("/_sim/clock", json={"advance_seconds": 86_400})
    assert moved.status_code == 200
    assert magento_time(moved.json()["clock"]) >= before + timedelta(days=1)
    lag = date_of(moved) - magento_time(moved.json()["clock"])
    assert timedelta(0) <= lag <= timedelta(seconds=1)  # the header is written just after
    invoiced = client.post("/rest/default/V1/order/1/invoice", headers=auth, json={})
    assert invoiced.status_code == 200, invoiced.text
    after = date_of(invoiced)
    assert after >= before + timedelta(days=1)  # 2024 is a leap year: now 1 March
    order = client.get("/rest/default/V1/orders/1", headers=auth).json()
    updated = magento_time(order["updated_at"])
    assert before + timedelta(days=1) < updated <= after + timedelta(seconds=1)
    assert magento_time(order["created_at"]) < before + timedelta(seconds=60)
    refused = client.post("/_sim/clock", json={"advance_seconds": -1})
    assert refused.status_code == 400


def test_now_follows_wall_time_and_tick_jumps(monkeypatch: pytest.MonkeyPatch) -> None:
    wall = [1000.0]
    monkeypatch.setattr("adapters.magento.simulator.state.time.monotonic", lambda: wall[0])
    state = MagentoState(SimulatorConfig(start_time=START))
    assert state.now() == "2024-02-28 23:59:00"
    wall[0] += 59.9  # whole seconds only
    assert state.now() == "2024-02-28 23:59:59"
    wall[0] += 0.2
    assert state.now() == "2024-02-29 00:00:00"
    assert state.tick(3600) == "2024-02-29 01:00:00"
    assert state.http_date() == "Thu, 29 Feb 2024 01:00:00 GMT"
    wall[0] += 5
    assert state.now() == "2024-02-29 01:00:05"
    state.reset(keep_faults=False)
    assert state.now() == "2024-02-28 23:59:00"

    still = MagentoState(SimulatorConfig(start_time=START, clock_follows_wall_time=False))
    wall[0] += 500
    assert still.now() == "2024-02-28 23:59:00"
    assert still.tick(2) == "2024-02-28 23:59:02"
