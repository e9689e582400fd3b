"""Customers, B2B companies and company credit in the simulator, over loopback HTTP.

Round trips through the control endpoints (``POST /_sim/customers``, ``/_sim/companies``),
Magento's 404s, the search engine on customers and companies, and the generator's
customers as the orders refer to them. Shapes are checked against the 2.4.8 admin schema
when ../shared is there.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import yaml

from adapters.magento.simulator import SimulatorConfig, run_simulator
from adapters.magento.simulator.state import dumps
from tests.test_magento_simulator import SWAGGER, _check_keys, body, criteria

TOKEN = "customers-test-token"
UNAUTHORIZED = "The consumer isn't authorized to access %resources."
NO_SUCH_ENTITY = "No such entity with %fieldName = %fieldValue"

CUSTOMER: dict[str, Any] = {
    "id": 4711,
    "group_id": 2,
    "default_billing": "901",
    "default_shipping": "901",
    "created_at": "2025-04-01 10:00:00",
    "updated_at": "2025-04-02 11:30:00",
    "created_in": "Deutsch",
    "email": "erika.musterfrau@example.com",
    "firstname": "Erika",
    "lastname": "Musterfrau",
    "store_id": 2,
    "taxvat": "DE123456789",
    "website_id": 1,
    "addresses": [
        {
            "id": 901,
            "customer_id": 4711,
            "region": {"region_code": "BER", "region": "Berlin", "region_id": 82},
            "region_id": 82,
            "country_id": "DE",
            "street": ["Friedrichstraße 43"],
            "company": "Muster Bau GmbH",
            "telephone": "+49 30 1234567",
            "postcode": "10117",
            "city": "Berlin",
            "firstname": "Erika",
            "lastname": "Musterfrau",
            "vat_id": "DE123456789",
            "default_shipping": True,
            "default_billing": True,
        }
    ],
    "disable_auto_group_change": 0,
    "extension_attributes": {
        "company_attributes": {"customer_id": 4711, "company_id": 77, "status": 1},
        "is_subscribed": False,
    },
}
COMPANY: dict[str, Any] = {
    "id": 77,
    "status": 1,
    "company_name": "Muster Bau",
    "legal_name": "Muster Bau GmbH",
    "company_email": "einkauf@muster-bau.example",
    "vat_tax_id": "DE123456789",
    "street": ["Friedrichstraße 43"],
    "city": "Berlin",
    "country_id": "DE",
    "region": "Berlin",
    "region_id": "82",
    "postcode": "10117",
    "telephone": "+49 30 1234567",
    "customer_group_id": 2,
    "sales_representative_id": 1,
    "reject_reason": None,
    "rejected_at": None,
    "super_user_id": 4711,
}


@functools.cache
def swagger_definitions() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SWAGGER.open(encoding="utf-8") as stream:
        definitions: dict[str, Any] = yaml.load(stream, Loader=loader)["definitions"]
    return definitions


def schema_problems(value: Any, definition: str) -> list[str]:
    """Keys the schema does not define, and required keys that are missing."""
    definitions = swagger_definitions()
    problems = _check_keys(value, {"$ref": f"#/definitions/{definition}"}, definitions, "$")
    required = definitions[definition].get("required", [])
    return problems + [f"$.{key} (required)" for key in required if key not in value]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with run_simulator(config=SimulatorConfig(tokens=(TOKEN,), seed=8)) as url:
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


def get(api: httpx.Client, path: str, **params: str) -> Any:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return body(response)


def test_a_stored_customer_comes_back_as_it_was_stored(
    api: httpx.Client, control: httpx.Client
) -> None:
    assert control.post("/_sim/customers", json=CUSTOMER).json() == 4711
    assert get(api, "/V1/customers/4711") == CUSTOMER
    # Magento's own request shape ({"customer": {...}}) works too; ids continue after 4711
    wrapped = {"customer": {k: v for k, v in CUSTOMER.items() if k not in ("id", "addresses")}}
    wrapped["customer"]["email"] = "second@example.com"
    assert control.post("/_sim/customers", json=wrapped).json() == 4712
    assert get(api, "/V1/customers/4712")["email"] == "second@example.com"
    refused = control.post("/_sim/customers", json={"firstname": "No e-mail"})
    assert refused.status_code == 400


def test_missing_customers_and_companies_are_magento_404s(api: httpx.Client) -> None:
    missing = api.get("/V1/customers/5")
    assert missing.status_code == 404
    assert missing.json() == {
        "message": NO_SUCH_ENTITY,
        "parameters": {"fieldName": "customerId", "fieldValue": 5},
    }
    company = api.get("/V1/company/12")
    assert company.status_code == 404
    assert company.json() == {
        "message": NO_SUCH_ENTITY,
        "parameters": {"fieldName": "id", "fieldValue": 12},
    }
    credit = api.get("/V1/companyCredits/company/12")
    assert credit.status_code == 404
    assert credit.json() == {
        "message": "Requested company is not found. Row ID: %fieldName = %fieldValue.",
        "parameters": {"fieldName": "CompanyID", "fieldValue": 12},
    }
    not_a_number = api.get("/V1/customers/abc")
    assert not_a_number.status_code == 400
    assert not_a_number.json()["parameters"] == {"value": "abc", "type": "int"}


def test_acl_resources_of_the_new_routes(base_url: str) -> None:
    for path, resource in (
        ("/V1/customers/1", "Magento_Customer::customer"),
        ("/V1/customers/search?searchCriteria[pageSize]=1", "Magento_Customer::customer"),
        ("/V1/company/1", "Magento_Company::index"),
        ("/V1/company/?searchCriteria[pageSize]=1", "Magento_Company::index"),
        ("/V1/companyCredits/company/1", "Magento_CompanyCredit::credit"),
    ):
        response = httpx.get(f"{base_url}/rest/default{path}", trust_env=False)
        assert response.status_code == 401
        assert response.json() == {"message": UNAUTHORIZED, "parameters": {"resources": resource}}


def test_company_and_credit_round_trip(api: httpx.Client, control: httpx.Client) -> None:
    credit = {"credit_limit": 25000, "balance": Decimal("-1250.50"), "currency_code": "EUR"}
    stored = control.post("/_sim/companies", content=dumps({"company": COMPANY, "credit": credit}))
    assert stored.json() == 77
    assert get(api, "/V1/company/77") == COMPANY
    got = get(api, "/V1/companyCredits/company/77")
    assert got["company_id"] == 77
    assert got["credit_limit"] == 25000
    assert got["balance"] == Decimal("-1250.50")
    assert got["available_limit"] == Decimal("23749.50")
    assert got["currency_code"] == "EUR"
    assert got["exceed_limit"] is False
    # without a credit, the company gets an empty one (as Magento creates one per company)
    plain = dict(COMPANY, company_name="Second Bau")
    del plain["id"]
    second = control.post("/_sim/companies", json=plain).json()
    assert second == 78
    assert get(api, f"/V1/companyCredits/company/{second}")["credit_limit"] == 0


@pytest.mark.parametrize("spelling", ["camel", "snake"])
def test_customer_and_company_search(
    api: httpx.Client, control: httpx.Client, spelling: str
) -> None:
    control.post("/_sim/customers", json=CUSTOMER).raise_for_status()
    control.post("/_sim/companies", json=COMPANY).raise_for_status()
    control.post("/_sim/orders/generate", json={"count": 40, "seed": 3}).raise_for_status()
    params = criteria(("email", "erika.%", "like"), spelling=spelling)
    found = get(api, "/V1/customers/search", **params)
    assert found["total_count"] == 1
    assert found["items"] == [CUSTOMER]
    assert found["search_criteria"]["filter_groups"][0]["filters"][0]["field"] == "email"
    wholesale = get(api, "/V1/customers/search", **criteria(("group_id", "2", "eq")))
    assert wholesale["total_count"] >= 2
    assert all(c["group_id"] == 2 for c in wholesale["items"])
    for path in ("/V1/company/", "/V1/company"):
        companies = get(api, path, **criteria(("country_id", "DE", "eq"), spelling=spelling))
        assert COMPANY in companies["items"]
        assert all(c["country_id"] == "DE" for c in companies["items"])
    paged = get(
        api,
        "/V1/customers/search",
        **{
            "searchCriteria[sortOrders][0][field]": "id",
            "searchCriteria[sortOrders][0][direction]": "DESC",
            "searchCriteria[pageSize]": "2",
        },
    )
    everyone = get(api, "/V1/customers/search", **{"searchCriteria[pageSize]": "0"})
    newest = sorted((c["id"] for c in everyone["items"]), reverse=True)[:2]
    assert [c["id"] for c in paged["items"]] == newest
    assert paged["total_count"] == everyone["total_count"] > 2
    assert min(c["id"] for c in everyone["items"]) == 4711  # generated ids follow stored ones


def test_generated_orders_refer_to_their_customers_and_companies(
    api: httpx.Client, control: httpx.Client
) -> None:
    response = control.post("/_sim/orders/generate", json={"count": 60, "seed": 5})
    ids = response.json()["entity_ids"]
    guests = members = 0
    repeat: dict[int, int] = {}
    for order_id in ids:
        order = get(api, f"/V1/orders/{order_id}")
        billing = order["billing_address"]
        if order["customer_is_guest"]:
            guests += 1
            assert "customer_id" not in order
            assert order["customer_group_id"] == 0
            assert "customer_id" not in billing
            continue
        customer = get(api, f"/V1/customers/{order['customer_id']}")
        repeat[customer["id"]] = repeat.get(customer["id"], 0) + 1
        assert order["customer_email"] == customer["email"] == billing["email"]
        assert order["customer_firstname"] == customer["firstname"]
        assert order["customer_lastname"] == customer["lastname"]
        assert order["customer_group_id"] == customer["group_id"]
        assert order.get("customer_taxvat") == customer.get("taxvat")
        assert customer["store_id"] == order["store_id"]
        (address,) = customer["addresses"]
        assert customer["default_billing"] == str(address["id"])
        assert billing["customer_address_id"] == address["id"]
        assert billing["street"] == address["street"]
        assert billing["country_id"] == address["country_id"]
        assert billing.get("vat_id") == address.get("vat_id")
        assert billing.get("company") == address.get("company")
        company_attributes = customer["extension_attributes"].get("company_attributes")
        ordered_by = order["extension_attributes"].get("company_order_attributes")
        if company_attributes is None:
            assert ordered_by is None
            continue
        members += 1
        company = get(api, f"/V1/company/{company_attributes['company_id']}")
        assert ordered_by == {
            "order_id": order_id,
            "company_id": company["id"],
            "company_name": company["company_name"],
        }
        assert customer["group_id"] == company["customer_group_id"]
        assert address["company"] == company["company_name"]
        assert address["vat_id"] == company["vat_tax_id"] == customer["taxvat"]
        admin = get(api, f"/V1/customers/{company['super_user_id']}")
        assert admin["extension_attributes"]["company_attributes"]["company_id"] == company["id"]
        credit = get(api, f"/V1/companyCredits/company/{company['id']}")
        assert credit["available_limit"] == credit["credit_limit"] + credit["balance"]
    assert 0 < guests < len(ids) / 2
    assert members > 0
    assert max(repeat.values()) > 1  # repeat buyers


def test_generated_customers_are_deterministic(control: httpx.Client, api: httpx.Client) -> None:
    def snapshot() -> list[Any]:
        control.post("/_sim/orders/generate", json={"count": 25, "seed": 13}).raise_for_status()
        customers = get(api, "/V1/customers/search", **{"searchCriteria[pageSize]": "0"})
        companies = get(api, "/V1/company/", **{"searchCriteria[pageSize]": "0"})
        orders = get(
            api,
            "/V1/orders",
            **{"searchCriteria[pageSize]": "0", "fields": "items[customer_id,customer_email]"},
        )
        for customer in customers["items"]:
            customer.pop("created_at")  # the clock follows wall time
            customer.pop("updated_at")
        return [customers["items"], companies["items"], orders["items"]]

    first = snapshot()
    control.post("/_sim/reset").raise_for_status()
    assert snapshot() == first


@pytest.mark.shared
def test_customers_companies_and_credit_use_swagger_shapes(
    api: httpx.Client, control: httpx.Client
) -> None:
    if not SWAGGER.is_file():
        pytest.skip("../shared is not there")
    control.post("/_sim/orders/generate", json={"count": 40, "seed": 21}).raise_for_status()
    customers = get(api, "/V1/customers/search", **{"searchCriteria[pageSize]": "0"})
    companies = get(api, "/V1/company/", **{"searchCriteria[pageSize]": "0"})
    assert customers["items"]
    assert companies["items"]
    assert schema_problems(customers, "customer-data-customer-search-results-interface") == []
    assert schema_problems(companies, "company-data-company-search-results-interface") == []
    for customer in customers["items"]:
        assert schema_problems(customer, "customer-data-customer-interface") == []
    for company in companies["items"]:
        assert schema_problems(company, "company-data-company-interface") == []
        credit = get(api, f"/V1/companyCredits/company/{company['id']}")
        assert schema_problems(credit, "company-credit-data-credit-limit-interface") == []
    assert schema_problems(CUSTOMER, "customer-data-customer-interface") == []
    assert schema_problems(COMPANY, "company-data-company-interface") == []
