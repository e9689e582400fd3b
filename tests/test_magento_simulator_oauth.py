"""The simulator's OAuth 1.0a authentication and ``GET /V1/store/storeConfigs``, over loopback.

Requests are signed with ``adapters.magento.oauth`` exactly as a client would: the full URL
it sends (query included) is what the signature covers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.magento.oauth import OAuthCredentials, authorization_header
from adapters.magento.simulator import SimulatorConfig, run_simulator
from adapters.magento.simulator.state import OAuthIntegration
from tests.test_magento_simulator import SWAGGER, body
from tests.test_magento_simulator_customers import schema_problems

TOKEN = "oauth-test-bearer-token"
CREDENTIALS = OAuthCredentials(
    consumer_key="ck-oauth-test",
    consumer_secret="cs-oauth-test",
    access_token="at-oauth-test",
    access_token_secret="ats-oauth-test",
)
INVALID_SIGNATURE = "The signature is invalid. Verify and try again."
UNAUTHORIZED = "The consumer isn't authorized to access %resources."


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    integration = OAuthIntegration(
        consumer_key=CREDENTIALS.consumer_key,
        consumer_secret=CREDENTIALS.consumer_secret,
        access_token=CREDENTIALS.access_token,
        access_token_secret=CREDENTIALS.access_token_secret,
    )
    config = SimulatorConfig(tokens=(TOKEN,), oauth_integrations=(integration,), seed=4)
    with run_simulator(config=config) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, trust_env=False, timeout=10) as http:
        http.post("/_sim/reset").raise_for_status()
        http.post("/_sim/orders/generate", json={"count": 6, "seed": 2}).raise_for_status()
        yield http


def signed(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    params: dict[str, str] | None = None,
    json: Any = None,
    credentials: OAuthCredentials = CREDENTIALS,
    timestamp: int | None = None,
    send_to: str | None = None,
) -> httpx.Response:
    """Sign ``method path?params`` and send it (to ``send_to`` instead, when given)."""
    request = client.build_request(method, path, params=params, json=json)
    header = authorization_header(credentials, method, str(request.url), timestamp=timestamp)
    if send_to is not None:
        request = client.build_request(method, send_to, params=params, json=json)
    request.headers["Authorization"] = header
    return client.send(request)


def test_signed_search_with_search_criteria_is_accepted(client: httpx.Client) -> None:
    params = {
        "searchCriteria[filterGroups][0][filters][0][field]": "customer_email",
        "searchCriteria[filterGroups][0][filters][0][value]": "%@example.%",
        "searchCriteria[filterGroups][0][filters][0][conditionType]": "like",
        "searchCriteria[sortOrders][0][field]": "entity_id",
        "searchCriteria[sortOrders][0][direction]": "DESC",
        "searchCriteria[pageSize]": "4",
        "fields": "items[entity_id,increment_id],total_count",
    }
    for prefix in ("/rest/default", "/rest", ""):
        response = signed(client, "GET", f"{prefix}/V1/orders", params=params)
        assert response.status_code == 200, response.text
        result = body(response)
        assert result["total_count"] == 6
        assert [o["entity_id"] for o in result["items"]] == [6, 5, 4, 3]


def test_signed_post_with_a_json_body_is_accepted(client: httpx.Client) -> None:
    response = signed(client, "POST", "/rest/default/V1/order/1/invoice", json={"capture": True})
    assert response.status_code == 200, response.text
    assert type(response.json()) is int


def test_a_tampered_request_is_refused_with_magentos_message(client: httpx.Client) -> None:
    params = {"searchCriteria[pageSize]": "2"}
    good = client.build_request("GET", "/rest/default/V1/orders", params=params)
    header = authorization_header(CREDENTIALS, "GET", str(good.url))
    tampered = [
        # another query than the one signed
        client.build_request(
            "GET", "/rest/default/V1/orders", params={"searchCriteria[pageSize]": "3"}
        ),
        # the same query on another path (the signature covers /rest/default/V1/...)
        client.build_request("GET", "/rest/V1/orders", params=params),
        # another method
        client.build_request("DELETE", "/rest/default/V1/orders", params=params),
    ]
    for request in tampered:
        request.headers["Authorization"] = header
        response = client.send(request)
        assert response.status_code in (401, 404), response.text
        if request.method == "GET":
            assert response.status_code == 401
            assert response.json() == {"message": INVALID_SIGNATURE}
    forged = header.replace('oauth_signature="', 'oauth_signature="AAAA', 1)
    good.headers["Authorization"] = forged
    response = client.send(good)
    assert response.status_code == 401
    assert response.json() == {"message": INVALID_SIGNATURE}
    wrong_secret = OAuthCredentials(
        CREDENTIALS.consumer_key, "not-the-secret", CREDENTIALS.access_token, "nor-this"
    )
    response = signed(client, "GET", "/rest/default/V1/orders/1", credentials=wrong_secret)
    assert response.status_code == 401
    assert response.json() == {"message": INVALID_SIGNATURE}


def test_unknown_consumers_and_stale_timestamps_are_not_authorized(
    client: httpx.Client,
) -> None:
    stranger = OAuthCredentials("someone-else", "x", CREDENTIALS.access_token, "y")
    stale = int(time.time()) - 3600
    for response in (
        signed(client, "GET", "/rest/default/V1/orders/1", credentials=stranger),
        signed(client, "GET", "/rest/default/V1/orders/1", timestamp=stale),
        client.get("/rest/default/V1/orders/1", headers={"Authorization": "OAuth garbage"}),
    ):
        assert response.status_code == 401
        assert response.json() == {
            "message": UNAUTHORIZED,
            "parameters": {"resources": "Magento_Sales::actions_view"},
        }


def test_bearer_tokens_keep_working(client: httpx.Client) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/rest/default/V1/orders/1", headers=headers).status_code == 200
    assert signed(client, "GET", "/rest/default/V1/orders/1").status_code == 200
    wrong = client.get("/rest/default/V1/orders/1", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_store_configs(client: httpx.Client, base_url: str) -> None:
    refused = client.get("/rest/default/V1/store/storeConfigs")
    assert refused.status_code == 401
    assert refused.json()["parameters"] == {"resources": "Magento_Backend::stores"}
    response = signed(client, "GET", "/rest/default/V1/store/storeConfigs")
    assert response.status_code == 200, response.text
    configs = response.json()
    assert isinstance(configs, list)
    first = configs[0]
    assert first["id"] == 1
    assert first["code"] == "default"
    assert first["website_id"] == 1
    assert first["locale"] == "en_US"
    assert first["base_currency_code"] == "USD"
    assert first["base_url"] == f"{base_url}/"
    assert first["secure_base_url"] == f"{base_url}/"
    assert {c["base_currency_code"] for c in configs} >= {"USD", "EUR", "GBP"}
    only = signed(
        client, "GET", "/rest/default/V1/store/storeConfigs", params={"storeCodes[]": "de"}
    )
    assert [c["code"] for c in only.json()] == ["de"]
    if SWAGGER.is_file():
        for config in configs:
            assert schema_problems(config, "store-data-store-config-interface") == []
