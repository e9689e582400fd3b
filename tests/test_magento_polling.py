"""Polling Magento by updated_at keyset: no order missed, none repeated, whatever the ties."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adapters.magento.adapter import MagentoAdapter
from adapters.magento.config import MagentoConfig
from adapters.magento.simulator import SimulatorConfig, run_simulator
from hub.errors import PermanentError
from hub.mapping import registry
from hub.paths import bundled_mappings_dir

TOKEN = "polling-test-token-9c41e2"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with run_simulator(config=SimulatorConfig(tokens=(TOKEN,), seed=11)) as url:
        yield url


@pytest.fixture
def control(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, trust_env=False, timeout=60) as client:
        client.post("/_sim/reset").raise_for_status()
        yield client


def adapter(base_url: str, **changes: Any) -> MagentoAdapter:
    options: dict[str, Any] = {
        "base_url": f"{base_url}/rest/default",
        "token": TOKEN,
        "timeout": 30,
        "poll_settle_seconds": 0,
    }
    options.update(changes)
    return MagentoAdapter("shop", MagentoConfig.model_validate(options))


def generate(control: httpx.Client, count: int, *, tie: int, seed: int = 1) -> list[int]:
    body = {"count": count, "seed": seed, "same_updated_at_every": tie}
    response = control.post("/_sim/orders/generate", json=body)
    response.raise_for_status()
    ids: list[int] = response.json()["entity_ids"]
    return ids


def poll_all(
    base_url: str, cursor: dict[str, Any] | None, *, limit: int, max_pages: int = 1000
) -> tuple[list[int], dict[str, Any] | None, int]:
    """Every entity id polling returns until caught up, the last cursor, and pages used."""

    async def run() -> tuple[list[int], dict[str, Any] | None, int]:
        shop = adapter(base_url)
        seen: list[int] = []
        position = cursor
        try:
            for page_number in range(1, max_pages + 1):
                page = await shop.poll("order", position, limit=limit)
                seen.extend(int(d.ref) for d in page.documents)
                position = page.cursor
                if not page.more:
                    return seen, position, page_number
        finally:
            await shop.aclose()
        raise AssertionError(f"polling did not catch up within {max_pages} pages")

    return asyncio.run(run())


def test_5000_orders_sharing_updated_at_are_polled_once_each(
    base_url: str, control: httpx.Client
) -> None:
    # 5,000 orders in one second (a mass import), then 1,000 more in groups of 250
    ids = generate(control, 5000, tie=5000) + generate(control, 1000, tie=250, seed=2)
    seen, cursor, pages = poll_all(base_url, None, limit=100)
    assert len(seen) == len(set(seen)), "an order was handed over twice"
    assert set(seen) == set(ids), f"missed {len(set(ids) - set(seen))} orders"
    assert pages >= 60
    # caught up: the next poll finds nothing, and new orders only
    again, cursor, _ = poll_all(base_url, cursor, limit=100)
    assert again == []
    newer = generate(control, 30, tie=30, seed=3)
    found, _, _ = poll_all(base_url, cursor, limit=7)
    assert found == newer


def test_an_order_updated_during_polling_hides_no_other_order(
    base_url: str, control: httpx.Client
) -> None:
    ids = generate(control, 300, tie=300)

    async def run() -> list[int]:
        shop = adapter(base_url)
        seen: list[int] = []
        position = None
        try:
            for round_number in range(100):
                page = await shop.poll("order", position, limit=50)
                seen.extend(int(d.ref) for d in page.documents)
                position = page.cursor
                if round_number == 1:
                    # an order already handed over and one not yet reached both change
                    for order_id in (ids[10], ids[200]):
                        control.post(
                            f"/rest/V1/orders/{order_id}/comments",
                            headers={"Authorization": f"Bearer {TOKEN}"},
                            json={"statusHistory": {"comment": "changed", "parent_id": order_id}},
                        ).raise_for_status()
                if not page.more:
                    return seen
        finally:
            await shop.aclose()
        raise AssertionError("polling did not catch up")

    seen = asyncio.run(run())
    assert set(seen) == set(ids), "no order is missed"
    # the order changed after it was handed over comes again, with its new updated_at
    assert seen.count(ids[10]) == 2
    assert seen.count(ids[200]) == 1
    assert len(seen) == len(ids) + 1


def test_settle_window_leaves_the_newest_second_for_the_next_poll(
    base_url: str, control: httpx.Client
) -> None:
    ids = generate(control, 5, tie=5)

    async def run() -> list[int]:
        shop = adapter(base_url, poll_settle_seconds=60)
        try:
            page = await shop.poll("order", None, limit=50)
        finally:
            await shop.aclose()
        return [int(d.ref) for d in page.documents]

    # the store's clock (its Date header) is within a minute of those orders' updated_at
    assert asyncio.run(run()) == []
    control.post("/_sim/clock", json={"advance_seconds": 120}).raise_for_status()
    assert asyncio.run(run()) == ids


def test_a_broken_cursor_is_a_permanent_error_saying_how_to_reset(base_url: str) -> None:
    async def run() -> None:
        shop = adapter(base_url)
        try:
            await shop.poll("order", {"updated_at": "yesterday"}, limit=10)
        finally:
            await shop.aclose()

    with pytest.raises(PermanentError, match="o2c poll reset"):
        asyncio.run(run())


def test_customers_are_polled_as_parties_with_their_company_and_credit(
    base_url: str, control: httpx.Client
) -> None:
    generate(control, 60, tie=6, seed=4)

    async def run() -> list[dict[str, Any]]:
        shop = adapter(base_url)
        found: list[dict[str, Any]] = []
        position = None
        try:
            for _ in range(500):
                page = await shop.poll("party", position, limit=2)  # ties span pages
                found.extend(json.loads(d.raw, parse_float=Decimal) for d in page.documents)
                position = page.cursor
                if not page.more:
                    return found
        finally:
            await shop.aclose()
        raise AssertionError("polling did not catch up")

    parties = asyncio.run(run())
    ids = [p["customer"]["id"] for p in parties]
    listed = control.get(
        "/rest/V1/customers/search",
        params={"searchCriteria[pageSize]": "1000"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).json()
    assert sorted(ids) == sorted(c["id"] for c in listed["items"]), "every customer, once"
    stamps = [c["updated_at"] for c in listed["items"]]
    assert len(set(stamps)) < len(stamps), "some customers share updated_at"
    mapping = registry.find("magento", "party", "inbound", [bundled_mappings_dir()])
    members = [p for p in parties if p["company"] is not None]
    assert members, "the generated store has B2B company members"
    for party in parties:
        document = mapping.apply(party).document
        assert document.model_dump()["external_ids"]["magento"] == str(party["customer"]["id"])
    for party in members:
        document = mapping.apply(party).document.model_dump()
        assert document["legal_name"] == party["company"]["legal_name"]
        assert document["currency"] == party["company_credit"]["currency_code"]
        assert document["credit_limit"] == Decimal(str(party["company_credit"]["credit_limit"]))
