"""The Magento 2.4 REST simulator, over loopback HTTP, against Magento's documented shapes.

The simulator runs in a subprocess (``run_simulator``); every test starts from an empty
store (``POST /_sim/reset``). JSON is parsed with ``parse_float=Decimal``. The Swagger
check reads the official 2.4.8 admin schema from ../shared and is skipped without it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from adapters.magento.simulator import SimulatorConfig, run_simulator
from hub.mapping import CompiledMapping
from tests.test_magento_samples import identity_failures

ROOT = Path(__file__).resolve().parents[1]
SHARED_MAGENTO = ROOT.parent / "shared" / "fixtures" / "magento"
SWAGGER = SHARED_MAGENTO / "openapi" / "admin-schema-2.4.8.yaml"
TOKEN = "test-integration-token"
UNAUTHORIZED = "The consumer isn't authorized to access %resources."
NOT_FOUND = "The entity that was requested doesn't exist. Verify the entity and try again."


def body(response: httpx.Response) -> Any:
    return json.loads(response.content, parse_float=Decimal)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with run_simulator(config=SimulatorConfig(tokens=(TOKEN,), seed=3)) as url:
        yield url


@pytest.fixture
def control(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, trust_env=False, timeout=10) as client:
        client.post("/_sim/reset").raise_for_status()
        yield client


@pytest.fixture
def api(base_url: str, control: httpx.Client) -> Iterator[httpx.Client]:
    del control  # reset first
    with httpx.Client(
        base_url=f"{base_url}/rest/default",
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
        timeout=10,
    ) as client:
        yield client


def generate(control: httpx.Client, count: int, seed: int = 1, every: int = 1) -> list[int]:
    response = control.post(
        "/_sim/orders/generate", json={"count": count, "seed": seed, "same_updated_at_every": every}
    )
    response.raise_for_status()
    ids: list[int] = response.json()["entity_ids"]
    return ids


def shared_request(name: str, fallback: dict[str, Any]) -> dict[str, Any]:
    """A documented request body from ../shared, or the same body spelled out here."""
    path = SHARED_MAGENTO / "rest" / name
    if not path.is_file():
        return fallback
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def get_order(api: httpx.Client, order_id: int) -> dict[str, Any]:
    response = api.get(f"/V1/orders/{order_id}")
    assert response.status_code == 200, response.text
    order: dict[str, Any] = body(response)
    return order


def criteria(*filters: tuple[str, str, str], spelling: str = "camel") -> dict[str, str]:
    groups, conditions = ("filterGroups", "conditionType")
    if spelling == "snake":
        groups, conditions = ("filter_groups", "condition_type")
    params = {}
    for index, (field, value, condition) in enumerate(filters):
        prefix = f"searchCriteria[{groups}][{index}][filters][0]"
        params[f"{prefix}[field]"] = field
        params[f"{prefix}[value]"] = value
        params[f"{prefix}[{conditions}]"] = condition
    return params


def top_level(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in order["items"] if "parent_item_id" not in item]


# ------------------------------------------------------------------ authentication, routing


def test_requests_without_or_with_a_wrong_token_are_refused(
    api: httpx.Client, control: httpx.Client
) -> None:
    (order_id,) = generate(control, 1)
    rest = str(api.base_url).rstrip("/")
    url = f"{rest}/V1/orders/{order_id}"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = httpx.get(url, headers=headers, trust_env=False)
        assert response.status_code == 401
        assert response.json() == {
            "message": UNAUTHORIZED,
            "parameters": {"resources": "Magento_Sales::actions_view"},
        }
    refused = httpx.post(f"{rest}/V1/order/{order_id}/invoice", json={}, trust_env=False)
    assert refused.json()["parameters"] == {"resources": "Magento_Sales::sales_invoice"}
    assert api.get(f"/V1/orders/{order_id}").status_code == 200


def test_every_base_path_serves_the_same_order(api: httpx.Client, control: httpx.Client) -> None:
    (order_id,) = generate(control, 1)
    root = str(control.base_url).rstrip("/")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    bodies = [
        httpx.get(f"{root}{prefix}/V1/orders/{order_id}", headers=headers).json()
        for prefix in ("", "/rest", "/rest/default", "/rest/all")
    ]
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["entity_id"] == order_id


def test_unknown_order_and_unknown_route_are_magento_404s(api: httpx.Client) -> None:
    missing = api.get("/V1/orders/999999")
    assert missing.status_code == 404
    assert missing.json() == {"message": NOT_FOUND}
    assert api.post("/V1/order/424242/invoice", json={}).json() == {"message": NOT_FOUND}
    no_route = api.get("/V1/no-such-thing")
    assert no_route.status_code == 404
    assert no_route.json() == {"message": "Request does not match any route."}


# ------------------------------------------------------------------ generated orders


def _check_keys(
    value: Any, schema: dict[str, Any], definitions: dict[str, Any], where: str
) -> list[str]:
    """Paths of keys in ``value`` that the Swagger schema does not define."""
    if "$ref" in schema:
        schema = definitions[schema["$ref"].rsplit("/", 1)[-1]]
    problems = []
    if isinstance(value, list) and "items" in schema:
        for index, element in enumerate(value):
            problems += _check_keys(element, schema["items"], definitions, f"{where}[{index}]")
    elif isinstance(value, dict) and "properties" in schema:
        for key, element in value.items():
            if key not in schema["properties"]:
                problems.append(f"{where}.{key}")
            else:
                problems += _check_keys(
                    element, schema["properties"][key], definitions, f"{where}.{key}"
                )
    return problems


@pytest.mark.shared
def test_generated_orders_use_only_swagger_keys(api: httpx.Client, control: httpx.Client) -> None:
    if not SWAGGER.is_file():
        pytest.skip("../shared is not there")
    definitions = yaml.safe_load(SWAGGER.read_text(encoding="utf-8"))["definitions"]
    order_schema = {"$ref": "#/definitions/sales-data-order-interface"}
    kinds = set()
    for order_id in generate(control, 30, seed=11):
        order = get_order(api, order_id)
        kinds |= {item["product_type"] for item in order["items"]}
        assert _check_keys(order, order_schema, definitions, "$") == []
        required = definitions["sales-data-order-interface"]["required"]
        assert set(required) <= set(order)
    assert kinds >= {"simple", "configurable", "bundle"}


def test_generated_orders_map_without_control_total_discrepancies(
    api: httpx.Client, control: httpx.Client, magento_order_mapping: CompiledMapping
) -> None:
    currencies = set()
    taxes = set()
    discounted = 0
    for order_id in generate(control, 60, seed=5):
        order = get_order(api, order_id)
        assert identity_failures(order) == []
        result = magento_order_mapping.apply(order, on_mismatch="reject")
        assert result.discrepancies == []
        assert result.document.totals.grand_total == order["grand_total"]  # type: ignore[attr-defined]
        currencies.add(order["order_currency_code"])
        taxes |= {item["tax_percent"] for item in top_level(order)}
        discounted += order["discount_amount"] < 0
    assert currencies >= {"EUR", "USD", "GBP"}
    assert taxes >= {0, 19, 20}
    assert discounted > 0


def test_generation_is_deterministic_and_ids_increase(control: httpx.Client) -> None:
    first = generate(control, 5, seed=9)
    snapshot = [control.get("/_sim/state").json()["orders"]]
    control.post("/_sim/reset").raise_for_status()
    assert generate(control, 5, seed=9) == first
    assert first == sorted(first)
    assert snapshot == [5]


# ------------------------------------------------------------------ search


@pytest.mark.parametrize("spelling", ["camel", "snake"])
def test_search_filters_with_both_spellings(
    api: httpx.Client, control: httpx.Client, spelling: str
) -> None:
    ids = generate(control, 12, every=4)
    cutoff = get_order(api, ids[4])["updated_at"]
    params = criteria(("updated_at", cutoff, "gteq"), spelling=spelling)
    result = body(api.get("/V1/orders", params=params))
    assert result["total_count"] == 8
    assert [o["entity_id"] for o in result["items"]] == ids[4:]
    assert result["search_criteria"]["filter_groups"] == [
        {"filters": [{"field": "updated_at", "value": cutoff, "condition_type": "gteq"}]}
    ]
    same = {o["updated_at"] for o in result["items"][:4]}
    assert len(same) == 1  # four orders share one timestamp


def test_filter_groups_and_and_filters_or(api: httpx.Client, control: httpx.Client) -> None:
    ids = generate(control, 10)
    params = {
        "searchCriteria[filterGroups][0][filters][0][field]": "entity_id",
        "searchCriteria[filterGroups][0][filters][0][value]": str(ids[1]),
        "searchCriteria[filterGroups][0][filters][1][field]": "entity_id",
        "searchCriteria[filterGroups][0][filters][1][value]": str(ids[7]),
        "searchCriteria[filterGroups][1][filters][0][field]": "entity_id",
        "searchCriteria[filterGroups][1][filters][0][value]": str(ids[5]),
        "searchCriteria[filterGroups][1][filters][0][conditionType]": "gt",
    }
    result = body(api.get("/V1/orders", params=params))
    assert [o["entity_id"] for o in result["items"]] == [ids[7]]


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ("eq", "{3}", [3]),
        ("neq", "{3}", [0, 1, 2, 4, 5]),
        ("gt", "{3}", [4, 5]),
        ("lt", "{1}", [0]),
        ("lteq", "{1}", [0, 1]),
        ("in", "{0},{2},{5}", [0, 2, 5]),
    ],
)
def test_condition_types(
    api: httpx.Client, control: httpx.Client, condition: str, value: str, expected: list[int]
) -> None:
    ids = generate(control, 6)
    params = criteria(("entity_id", value.format(*ids), condition))
    result = body(api.get("/V1/orders", params=params))
    assert [o["entity_id"] for o in result["items"]] == [ids[i] for i in expected]


def test_like_matches_sql_wildcards(api: httpx.Client, control: httpx.Client) -> None:
    ids = generate(control, 3)
    email = get_order(api, ids[1])["customer_email"]
    pattern = "%" + email.split("@")[0][-4:].upper() + "@example.%"
    result = body(api.get("/V1/orders", params=criteria(("customer_email", pattern, "like"))))
    assert ids[1] in [o["entity_id"] for o in result["items"]]


def test_sort_paging_and_the_last_page_repeated(api: httpx.Client, control: httpx.Client) -> None:
    ids = generate(control, 7)

    def page(number: int) -> dict[str, Any]:
        params = {
            "searchCriteria[sortOrders][0][field]": "entity_id",
            "searchCriteria[sortOrders][0][direction]": "DESC",
            "searchCriteria[pageSize]": "3",
            "searchCriteria[currentPage]": str(number),
        }
        result: dict[str, Any] = body(api.get("/V1/orders", params=params))
        return result

    newest_first = list(reversed(ids))
    assert [o["entity_id"] for o in page(1)["items"]] == newest_first[:3]
    assert [o["entity_id"] for o in page(3)["items"]] == newest_first[6:]
    past_end = page(9)
    assert [o["entity_id"] for o in past_end["items"]] == newest_first[6:]  # Magento: last page
    assert past_end["total_count"] == 7
    assert past_end["search_criteria"]["current_page"] == 9
    assert past_end["search_criteria"]["sort_orders"] == [
        {"field": "entity_id", "direction": "DESC"}
    ]


def test_fields_projection_has_the_documented_shape(
    api: httpx.Client, control: httpx.Client
) -> None:
    generate(control, 3)
    params = {"searchCriteria[pageSize]": "2", "fields": "items[increment_id,entity_id]"}
    result = body(api.get("/V1/orders", params=params))
    sample = SHARED_MAGENTO / "rest" / "orders-search-fields-filter.response.json"
    if sample.is_file():
        documented = json.loads(sample.read_text(encoding="utf-8"))
        assert set(result) == set(documented)
        assert {tuple(sorted(o)) for o in result["items"]} == {
            tuple(sorted(o)) for o in documented["items"]
        }
    assert result == {
        "items": [
            {"increment_id": "000000001", "entity_id": 1},
            {"increment_id": "000000002", "entity_id": 2},
        ]
    }
    nested = body(api.get("/V1/orders/1", params={"fields": "entity_id,items[sku]"}))
    assert set(nested) == {"entity_id", "items"}
    assert all(set(item) == {"sku"} for item in nested["items"])


def test_search_without_search_criteria_is_refused(api: httpx.Client) -> None:
    response = api.get("/V1/orders")
    assert response.status_code == 400
    assert response.json() == {
        "message": '"%fieldName" is required. Enter and try again.',
        "parameters": {"fieldName": "searchCriteria"},
    }
    assert api.get("/V1/orders", params={"searchCriteria": ""}).json()["total_count"] == 0


# ------------------------------------------------------------------ invoices and shipments


def invoices_of(api: httpx.Client, order_id: int) -> dict[str, Any]:
    result: dict[str, Any] = body(
        api.get("/V1/invoices", params=criteria(("order_id", str(order_id), "eq")))
    )
    return result


def test_invoice_returns_an_id_and_updates_the_order(
    api: httpx.Client, control: httpx.Client
) -> None:
    (order_id,) = generate(control, 1, seed=2)
    order = get_order(api, order_id)
    line = top_level(order)[0]
    request = shared_request("order-invoice.request.json", {"capture": True, "notify": True})
    request["items"] = [{"order_item_id": line["item_id"], "qty": 1}]
    response = api.post(f"/V1/order/{order_id}/invoice", json=request)
    assert response.status_code == 200, response.text
    invoice_id = response.json()
    assert type(invoice_id) is int
    after = get_order(api, order_id)
    invoiced = {i["item_id"]: i["qty_invoiced"] for i in after["items"]}
    assert invoiced[line["item_id"]] == 1
    assert after["state"] == after["status"] == "processing"
    assert after["updated_at"] > order["updated_at"]
    found = invoices_of(api, order_id)
    assert found["total_count"] == 1
    assert found["items"][0]["entity_id"] == invoice_id
    assert api.get(f"/V1/invoices/{invoice_id}").json()["order_id"] == order_id


def test_over_invoicing_is_refused_as_magento_does(
    api: httpx.Client, control: httpx.Client
) -> None:
    (order_id,) = generate(control, 1, seed=2)
    line = top_level(get_order(api, order_id))[0]
    too_many = {"items": [{"order_item_id": line["item_id"], "qty": line["qty_ordered"] + 1}]}
    response = api.post(f"/V1/order/{order_id}/invoice", json=too_many)
    assert response.status_code == 400
    assert response.json() == {
        "message": "Invoice Document Validation Error(s):\n"
        "The quantity to invoice must not be greater than the uninvoiced quantity for "
        f'product SKU "{line["sku"]}".'
    }
    assert invoices_of(api, order_id)["total_count"] == 0
    whole = api.post(f"/V1/order/{order_id}/invoice", json={"capture": True, "notify": False})
    assert whole.status_code == 200
    paid = get_order(api, order_id)
    assert paid["total_invoiced"] == paid["grand_total"]
    assert paid["total_due"] == 0
    again = api.post(f"/V1/order/{order_id}/invoice", json={})
    assert again.status_code == 400
    assert again.json()["message"].startswith("Invoice Document Validation Error(s):\n")
    assert "does not allow an invoice" in again.json()["message"]


def test_invoice_totals_add_up_to_the_order(api: httpx.Client, control: httpx.Client) -> None:
    for order_id in generate(control, 8, seed=21):
        order = get_order(api, order_id)
        for line in top_level(order):
            done = api.post(
                f"/V1/order/{order_id}/invoice",
                json={"items": [{"order_item_id": line["item_id"], "qty": 1}]},
            )
            assert done.status_code == 200, done.text
        api.post(f"/V1/order/{order_id}/invoice", json={}).raise_for_status()
        invoices = invoices_of(api, order_id)["items"]
        assert sum(inv["grand_total"] for inv in invoices) == order["grand_total"]
        assert sum(inv["base_grand_total"] for inv in invoices) == order["base_grand_total"]


def test_shipment_with_tracks(api: httpx.Client, control: httpx.Client) -> None:
    (order_id,) = generate(control, 1, seed=4)
    order = get_order(api, order_id)
    track = {
        "track_number": "1Y-9876543210",
        "title": "United Parcel Service",
        "carrier_code": "ups",
    }
    request = shared_request("order-ship.request.json", {"notify": True, "tracks": [track]})
    request["items"] = [{"order_item_id": i["item_id"], "qty": i["qty_ordered"]}
                        for i in top_level(order)]  # fmt: skip
    response = api.post(f"/V1/order/{order_id}/ship", json=request)
    assert response.status_code == 200, response.text
    shipment_id = response.json()
    assert type(shipment_id) is int
    found = body(api.get("/V1/shipments", params=criteria(("order_id", str(order_id), "eq"))))
    assert found["total_count"] == 1
    shipment = found["items"][0]
    assert shipment["entity_id"] == shipment_id
    assert [t["track_number"] for t in shipment["tracks"]] == ["1Y-9876543210"]
    assert shipment["tracks"][0]["carrier_code"] == "ups"
    shipped = get_order(api, order_id)
    assert all(i["qty_shipped"] == i["qty_ordered"] for i in shipped["items"])
    assert shipped["state"] == "processing"  # shipped, not yet invoiced
    api.post(f"/V1/order/{order_id}/invoice", json={}).raise_for_status()
    assert get_order(api, order_id)["state"] == "complete"
    again = api.post(f"/V1/order/{order_id}/ship", json={})
    assert again.status_code == 400
    assert again.json()["message"].startswith(
        "Shipment Document Validation Error(s):\nThe order does not allow a shipment"
    )


def test_land_then_timeout_commits_before_the_client_gives_up(
    api: httpx.Client, control: httpx.Client
) -> None:
    (order_id,) = generate(control, 1)
    control.put(
        "/_sim/faults", json={"land_then_timeout_rate": 1, "land_then_timeout_seconds": 3}
    ).raise_for_status()
    with pytest.raises(httpx.ReadTimeout):
        api.post(f"/V1/order/{order_id}/invoice", json={"capture": True}, timeout=0.5)
    found = invoices_of(api, order_id)  # the client looks before it retries
    assert found["total_count"] == 1
    state = control.get("/_sim/state").json()
    assert state["invoices"] == 1
    assert state["faults_injected"] == {"land_then_timeout_invoice": 1}


def test_injected_errors_carry_retry_after(api: httpx.Client, control: httpx.Client) -> None:
    (order_id,) = generate(control, 1)
    control.put(
        "/_sim/faults", json={"error_rate": 1, "error_statuses": [503], "retry_after": 7}
    ).raise_for_status()
    response = api.get(f"/V1/orders/{order_id}")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert "message" in response.json()
    control.put("/_sim/faults", json={}).raise_for_status()
    assert api.get(f"/V1/orders/{order_id}").status_code == 200


# ------------------------------------------------------------------ comments, stock, samples


def test_order_comment(api: httpx.Client, control: httpx.Client) -> None:
    (order_id,) = generate(control, 1)
    history = {
        "comment": "Exported to ERP as 4711",
        "is_customer_notified": 0,
        "is_visible_on_front": 0,
        "parent_id": order_id,
    }
    response = api.post(f"/V1/orders/{order_id}/comments", json={"statusHistory": history})
    assert response.status_code == 200
    assert response.json() is True
    order = get_order(api, order_id)
    assert order["status_histories"][0]["comment"] == "Exported to ERP as 4711"
    assert order["status"] == "pending"


def test_stock_update_returns_the_item_id(api: httpx.Client, control: httpx.Client) -> None:
    (order_id,) = generate(control, 1)
    sku = top_level(get_order(api, order_id))[0]["sku"]
    response = api.put(
        f"/V1/products/{sku}/stockItems/17", json={"stockItem": {"qty": 42, "is_in_stock": True}}
    )
    assert response.status_code == 200
    assert response.json() == 17
    assert api.get(f"/V1/stockItems/{sku}").json()["qty"] == 42
    unknown = api.put("/V1/products/NOPE/stockItems/1", json={"stockItem": {"qty": 1}})
    assert unknown.status_code == 404


def test_a_repository_sample_can_be_loaded_and_invoiced(
    api: httpx.Client, control: httpx.Client
) -> None:
    sample = ROOT / "mappings" / "magento" / "samples" / "order-multicurrency-bundle.json"
    document = json.loads(sample.read_text(encoding="utf-8"), parse_float=Decimal)
    order_id = control.post("/_sim/orders", content=sample.read_bytes()).json()
    assert order_id == document["entity_id"]
    served = get_order(api, order_id)
    assert served == document
    api.post(f"/V1/order/{order_id}/invoice", json={}).raise_for_status()
    invoice = invoices_of(api, order_id)["items"][0]
    assert invoice["grand_total"] == document["grand_total"]


def test_concurrent_invoices_never_over_invoice(api: httpx.Client, control: httpx.Client) -> None:
    (order_id,) = generate(control, 1)
    rest = str(api.base_url).rstrip("/")

    async def race() -> list[int]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(headers=headers, trust_env=False, timeout=10) as client:
            calls = [client.post(f"{rest}/V1/order/{order_id}/invoice", json={}) for _ in range(6)]
            return [r.status_code for r in await asyncio.gather(*calls)]

    statuses = asyncio.run(race())
    assert sorted(statuses) == [200, 400, 400, 400, 400, 400]
    assert invoices_of(api, order_id)["total_count"] == 1
