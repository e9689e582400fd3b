"""The HTTP API: statuses, problem+json, authentication, scopes and a bad-input matrix.

Every case checks what was stored: the intended quarantine entry and nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.security.apikeys import revoke_key
from hub.store.tables import audit_table, delivery_table, message_table, quarantined_table
from tests.api_support import Api, make_api
from tests.conftest import FIXTURES
from tests.pipeline_support import order

URL = "/v1/inbound/magento/order"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def api(tmp_path: Path) -> Api:
    return make_api(tmp_path, extra_env={"O2C_SERVER_MAX_BODY_BYTES": "65536"})


def stored(api: Api) -> tuple[int, int, int]:
    """(messages, deliveries, quarantined)"""
    with api.runtime.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (message_table, delivery_table, quarantined_table)
        )


def test_document_is_accepted_then_recognised(api: Api) -> None:
    first = api.client.post(URL, content=order(1), headers={**JSON, **api.auth("magento")})
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["duplicate"] is False and body["version"] == 1
    assert body["status_url"] == f"/v1/messages/{body['message_id']}"
    again = api.client.post(URL, content=order(1), headers={**JSON, **api.auth("magento")})
    assert again.status_code == 200
    assert again.json()["message_id"] == body["message_id"]
    assert again.json()["duplicate"] is True
    assert stored(api) == (1, 1, 0)
    timeline = api.client.get(body["status_url"], headers=api.auth("reader"))
    assert timeline.status_code == 200
    assert timeline.json()["deliveries"][0]["target"] == "erp"


def test_unmappable_document_lists_every_problem_and_is_quarantined(api: Api) -> None:
    doc = json.loads((FIXTURES / "magento" / "broken" / "no-currency.json").read_text())
    response = api.client.post(URL, json=doc, headers=api.auth("magento"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422 and problem["quarantine_id"]
    fields = {e["field"]: e for e in problem["errors"]}
    assert fields["currency"]["source"] == "order_currency_code"
    assert "order.inbound.yaml:" in fields["currency"]["where"]
    assert stored(api) == (0, 0, 1)


BAD_INPUTS = [
    # (name, body, headers, who, status, quarantined)
    ("malformed JSON", b'{"increment_id": ', JSON, "magento", 422, 1),
    ("invalid UTF-8", b'{"increment_id": "\xff\xfe"}', JSON, "magento", 422, 1),
    ("wrong content type", order(1), {"Content-Type": "text/plain"}, "magento", 415, 0),
    ("no content type", order(1), {}, "magento", 415, 0),
    ("oversized body", b"{" + b" " * 70_000 + b"}", JSON, "magento", 413, 0),
    ("no key", order(1), JSON, None, 401, 0),
    ("garbage key", order(1), {**JSON, "Authorization": "Bearer nope"}, None, 401, 0),
    ("key without the scope", order(1), JSON, "other", 403, 0),
    ("read-only key", order(1), JSON, "reader", 403, 0),
]


@pytest.mark.parametrize(
    ("name", "body", "headers", "who", "status", "quarantined"),
    BAD_INPUTS,
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_matrix(
    api: Api,
    name: str,
    body: bytes,
    headers: dict[str, str],
    who: str | None,
    status: int,
    quarantined: int,
) -> None:
    all_headers = {**headers, **(api.auth(who) if who else {})}
    response = api.client.post(URL, content=body, headers=all_headers)
    assert response.status_code == status, (name, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == status
    assert stored(api) == (0, 0, quarantined)


def test_revoked_key_is_refused(api: Api) -> None:
    revoke_key(api.runtime.engine, "magento-prod", actor="test")
    response = api.client.post(URL, content=order(1), headers={**JSON, **api.auth("magento")})
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert stored(api) == (0, 0, 0)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/inbound/..%2F..%2Fetc/order",
        "/v1/inbound/magento/..%2Fpasswd",
        "/v1/inbound/magento%27%3B%20DROP%20TABLE%20message%3B--/order",
        "/v1/inbound/magento/order%20OR%201%3D1",
        "/v1/inbound/nosuchsystem/order",
        "/v1/inbound/magento/nosuchkind",
    ],
)
def test_hostile_path_parameters_store_nothing(api: Api, path: str) -> None:
    response = api.client.post(path, content=order(1), headers={**JSON, **api.auth("admin")})
    assert response.status_code in (404, 422), response.text
    assert stored(api) == (0, 0, 0)


@pytest.mark.parametrize(
    "value",
    [
        "1'; DROP TABLE message;--",
        '" OR 1=1 --',
        "items[?sku=='x'] | [0] && `true`",
        "../../../../etc/passwd",
        "${jndi:ldap://127.0.0.1/x}",
    ],
)
def test_injection_strings_in_fields_are_just_data(api: Api, value: str) -> None:
    doc = json.loads(order(5))
    doc["increment_id"] = value
    doc["customer_firstname"] = value
    response = api.client.post(URL, json=doc, headers=api.auth("magento"))
    assert response.status_code == 202, response.text
    found = api.client.get(
        "/v1/messages", params={"external_id": value}, headers=api.auth("reader")
    )
    assert found.status_code == 200
    assert [m["external_id"] for m in found.json()] == [value]
    assert stored(api) == (1, 1, 0)  # every table still there, one row each


def test_every_endpoint_but_health_needs_a_key(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    checked = 0
    for path, methods in spec["paths"].items():
        if path in ("/healthz", "/readyz"):
            continue
        concrete = (
            path.replace("{message_id}", "x")
            .replace("{system}", "magento")
            .replace("{kind}", "order")
        )
        for method in methods:
            response = api.client.request(method.upper(), concrete)
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.headers["www-authenticate"] == "Bearer"
            checked += 1
    assert checked >= 7
    assert api.client.get("/healthz").status_code == 200


def test_scopes_for_operations(api: Api) -> None:
    assert api.client.get("/v1/targets", headers=api.auth("reader")).status_code == 200
    assert api.client.get("/v1/targets", headers=api.auth("magento")).status_code == 403
    replay = {"target": "erp"}
    assert (
        api.client.post(
            "/v1/dead-letters/replay", json=replay, headers=api.auth("reader")
        ).status_code
        == 403
    )
    ok = api.client.post("/v1/dead-letters/replay", json=replay, headers=api.auth("replayer"))
    assert ok.status_code == 200 and ok.json() == {"replayed": 0}
    with api.runtime.engine.connect() as conn:
        actions = list(conn.execute(select(audit_table.c.action)).scalars())
    assert "dlq.replayed" in actions  # operator actions are audited


def test_metrics_need_ops_read_and_count_ingest(api: Api) -> None:
    api.client.post(URL, content=order(1), headers={**JSON, **api.auth("magento")})
    assert api.client.get("/metrics").status_code == 401
    text = api.client.get("/metrics", headers=api.auth("reader")).text
    assert 'o2c_ingest_total{kind="order",outcome="accepted",system="magento"} 1.0' in text
    assert 'o2c_queue_depth{target="erp"} 1.0' in text
    assert "o2c_ingest_seconds_bucket" in text


def test_api_key_never_stored_or_shown(api: Api) -> None:
    key = api.keys["magento"]
    with api.runtime.engine.connect() as conn:
        dump = json.dumps([list(map(str, r)) for r in conn.execute(select(audit_table)).all()])
    assert key not in dump
    listed = api.client.get("/v1/targets", headers=api.auth("reader")).text
    assert key not in listed


def test_quarantined_document_replays_once_the_input_is_fixed(api: Api) -> None:
    bad = api.client.post(
        URL, content=b'{"increment_id": ', headers={**JSON, **api.auth("magento")}
    )
    quarantine_id = bad.json()["quarantine_id"]
    dry = api.client.post(
        f"/v1/messages/{quarantine_id}/replay",
        params={"dry_run": "true"},
        headers=api.auth("replayer"),
    )
    assert dry.status_code == 200
    assert dry.json()["quarantine"]["would_ingest"] is False  # still not JSON: says so
    assert stored(api) == (0, 0, 1)
