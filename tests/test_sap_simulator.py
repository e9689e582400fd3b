"""The SAP S/4HANA OData V2 simulator, over loopback HTTP, with the project's EDMX.

The simulator runs in a subprocess (``run_simulator``); every test starts from the seeded
master data (``POST /_sim/reset``). The deep-insert body is the SAP mapping's snapshot for
an EU B2B order, exactly as the hub produces it. JSON is parsed with
``parse_float=Decimal``. The EDMX files themselves, and the simulator with SAP's own
metadata, are tested in ``test_sap_simulator_metadata.py``.
"""

from __future__ import annotations

import email
import json
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.sap.metadata import edmx_bytes, edmx_path
from adapters.sap.simulator import (
    MaterialSeed,
    SalesOrderError,
    SapState,
    SimulatorConfig,
    User,
    run_simulator,
)

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "tests" / "snapshots" / "sap.order.outbound" / "order-eu-b2b-vat.json"
SO = "/sap/opu/odata/sap/API_SALES_ORDER_SRV"
BP = "/sap/opu/odata/sap/API_BUSINESS_PARTNER"
USER, PASSWORD = "HUB_USER", "Hub-Secret-1"
EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"
CSRF_FAILED = "CSRF token validation failed"
DATE = re.compile(r"^/Date\(\d+\)/$")
DATE_OFFSET = re.compile(r"^/Date\(\d+\+0000\)/$")


def body(response: httpx.Response) -> Any:
    return json.loads(response.content, parse_float=Decimal)


def snapshot_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SNAPSHOT.read_text(encoding="utf-8"))["document"]
    return document


def order(po: str, sold_to: str = "10100001", *materials: str) -> dict[str, Any]:
    """A minimal deep insert; items priced with PR00 at 10.00 each."""
    return {
        "SalesOrderType": "OR",
        "SalesOrganization": "1010",
        "DistributionChannel": "10",
        "OrganizationDivision": "00",
        "SoldToParty": sold_to,
        "PurchaseOrderByCustomer": po,
        "TransactionCurrency": "EUR",
        "to_Item": [
            {
                "SalesOrderItem": str(10 * (index + 1)),
                "Material": material,
                "RequestedQuantity": "1",
                "to_PricingElement": [{"ConditionType": "PR00", "ConditionRateValue": "10"}],
            }
            for index, material in enumerate(materials or ("TG11",))
        ],
    }


def entity_sets(service: str) -> list[str]:
    root = ET.parse(edmx_path(service)).getroot()
    return [element.get("Name", "") for element in root.iter(f"{EDM}EntitySet")]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    config = SimulatorConfig(users=(User(name=USER, password=PASSWORD),), seed=7)
    with run_simulator(config=config) as url:
        yield url


@pytest.fixture
def control(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, trust_env=False, timeout=10) as client:
        client.post("/_sim/reset").raise_for_status()
        yield client


@pytest.fixture
def sap(base_url: str, control: httpx.Client) -> Iterator[httpx.Client]:
    """A client of API_SALES_ORDER_SRV with credentials (no CSRF token yet)."""
    del control  # reset first
    with httpx.Client(
        base_url=f"{base_url}{SO}",
        auth=(USER, PASSWORD),
        headers={"Accept": "application/json"},
        trust_env=False,
        timeout=10,
    ) as client:
        yield client


def fetch_token(client: httpx.Client) -> str:
    response = client.get("/", headers={"x-csrf-token": "Fetch"})
    assert response.status_code == 200, response.text
    token = response.headers["x-csrf-token"]
    client.headers["x-csrf-token"] = token
    return token


def create(client: httpx.Client, document: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/A_SalesOrder", json=document)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = body(response)["d"]
    return created


def add_master_data(control: httpx.Client, document: dict[str, Any]) -> None:
    control.post(
        "/_sim/customers", json={"customer": document["SoldToParty"], "name": "Hub Test GmbH"}
    ).raise_for_status()
    for item in document["to_Item"]:
        control.post("/_sim/materials", json={"material": item["Material"]}).raise_for_status()


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = body(response)["error"]
    assert set(error) == {"code", "message", "innererror"}
    assert error["message"]["lang"] == "en"
    inner = error["innererror"]
    assert re.fullmatch(r"[0-9A-F]{32}", inner["transactionid"])
    assert re.fullmatch(r"\d{14}\.\d{7}", inner["timestamp"])
    assert set(inner["Error_Resolution"]) >= {"SAP_Transaction", "SAP_Note"}
    for detail in inner["errordetails"]:
        assert set(detail) == {"code", "message", "propertyref", "severity", "target"}
    return error


# ------------------------------------------------------------------ metadata, service document


@pytest.mark.parametrize("service", ["API_SALES_ORDER_SRV", "API_BUSINESS_PARTNER"])
def test_metadata_and_service_document_come_from_the_project_edmx(
    base_url: str, service: str
) -> None:
    root = f"{base_url}/sap/opu/odata/sap/{service}"
    with httpx.Client(auth=(USER, PASSWORD), trust_env=False, timeout=10) as client:
        metadata = client.get(f"{root}/$metadata")
        assert metadata.status_code == 200
        assert metadata.headers["content-type"] == "application/xml"
        assert metadata.content == edmx_bytes(service)
        document = client.get(f"{root}/")
        assert document.status_code == 200
        assert document.headers["dataserviceversion"] == "2.0"
        assert document.json() == {"d": {"EntitySets": entity_sets(service)}}
        assert client.get(root).json() == document.json()


def test_an_unknown_service_is_refused_as_the_gateway_does(base_url: str) -> None:
    response = httpx.get(
        f"{base_url}/sap/opu/odata/sap/API_NO_SUCH_SRV/", auth=(USER, PASSWORD), trust_env=False
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "/IWFND/MED/170"


# ------------------------------------------------------------------ authentication, CSRF


def test_every_call_needs_basic_authentication(base_url: str, control: httpx.Client) -> None:
    url = f"{base_url}{SO}/A_SalesOrder"
    for auth in (None, (USER, "wrong"), ("SOMEONE", PASSWORD)):
        response = httpx.get(url, auth=auth, trust_env=False)
        assert response.status_code == 401
        assert response.text == "Logon failed"
        assert response.headers["www-authenticate"].startswith("Basic realm=")
    assert httpx.get(url, auth=(USER.lower(), PASSWORD), trust_env=False).status_code == 200
    assert control.get("/_sim/health").json() == {"ok": True}


def test_a_change_without_token_or_session_is_refused(sap: httpx.Client, base_url: str) -> None:
    refused = sap.post("/A_SalesOrder", json=order("NO-TOKEN"))
    assert refused.status_code == 403
    assert refused.headers["x-csrf-token"] == "Required"
    assert refused.text == CSRF_FAILED

    fetched = sap.get("/$metadata", headers={"x-csrf-token": "Fetch"})
    token = fetched.headers["x-csrf-token"]
    cookies = fetched.headers.get_list("set-cookie")
    assert any(c.startswith("SAP_SESSIONID_S4H_100=") for c in cookies)
    assert any(c.startswith("sap-usercontext=sap-client=100") for c in cookies)
    assert sap.get("/", headers={"x-csrf-token": "fetch"}).headers["x-csrf-token"] == token

    # The token alone, without the session's cookie, is not enough.
    with httpx.Client(base_url=f"{base_url}{SO}", auth=(USER, PASSWORD), trust_env=False) as other:
        alone = other.post(
            "/A_SalesOrder", json=order("NO-COOKIE"), headers={"x-csrf-token": token}
        )
        assert (alone.status_code, alone.text) == (403, CSRF_FAILED)
    wrong = sap.post("/A_SalesOrder", json=order("WRONG"), headers={"x-csrf-token": token + "x"})
    assert wrong.status_code == 403

    created = sap.post("/A_SalesOrder", json=order("WITH-TOKEN"), headers={"x-csrf-token": token})
    assert created.status_code == 201, created.text
    # Reads never need the token.
    assert sap.get("/A_SalesOrder").status_code == 200


def test_expired_tokens_are_refused_until_the_client_fetches_a_new_one(
    sap: httpx.Client, control: httpx.Client
) -> None:
    old = fetch_token(sap)
    assert control.post("/_sim/csrf/expire").json() == {"expired": 1}
    refused = sap.post("/A_SalesOrder", json=order("AFTER-EXPIRY"))
    assert (refused.status_code, refused.headers["x-csrf-token"]) == (403, "Required")
    new = fetch_token(sap)
    assert new != old
    assert sap.post("/A_SalesOrder", json=order("AFTER-EXPIRY")).status_code == 201


def test_tokens_expire_after_their_configured_lifetime() -> None:
    config = SimulatorConfig(users=(User(name=USER, password=PASSWORD),), csrf_token_seconds=0.3)
    invalid = order("NEVER", "10100001", "NO-SUCH-MATERIAL")  # 400 while the token lives
    with (
        run_simulator(config=config) as url,
        httpx.Client(base_url=f"{url}{SO}", auth=(USER, PASSWORD), trust_env=False) as client,
    ):
        fetch_token(client)
        statuses = []
        for _ in range(200):
            statuses.append(client.post("/A_SalesOrder", json=invalid).status_code)
            if statuses[-1] != 400:
                break
            time.sleep(0.05)
        assert statuses[-1] == 403
        assert set(statuses[:-1]) <= {400}
        fetch_token(client)
        assert client.post("/A_SalesOrder", json=invalid).status_code == 400


# ------------------------------------------------------------------ deep insert


def test_the_hub_deep_insert_creates_a_priced_sales_order(
    sap: httpx.Client, control: httpx.Client
) -> None:
    document = snapshot_document()
    add_master_data(control, document)
    fetch_token(sap)

    response = sap.post("/A_SalesOrder", json=document)

    assert response.status_code == 201, response.text
    created = body(response)["d"]
    number = created["SalesOrder"]
    assert number == "1"
    assert response.headers["location"].endswith(f"{SO}/A_SalesOrder('1')")
    assert created["__metadata"]["uri"] == response.headers["location"]
    assert created["__metadata"]["type"] == "API_SALES_ORDER_SRV.A_SalesOrderType"
    assert created["__metadata"]["etag"] == response.headers["etag"]
    assert created["SoldToParty"] == "1000011"
    assert created["PurchaseOrderByCustomer"] == "200001187"
    assert created["TransactionCurrency"] == "EUR"
    assert created["TotalNetAmount"] == "429.39"  # Σ qty × PR00 + RB00 per item
    assert created["OverallSDProcessStatus"] == "A"
    assert created["CreatedByUser"] == USER
    assert DATE.match(created["CreationDate"])
    assert created["CustomerPurchaseOrderDate"] == "/Date(1741651200000)/"  # 2025-03-11
    assert DATE_OFFSET.match(created["LastChangeDateTime"])
    assert created["to_Partner"] == {
        "__deferred": {"uri": f"{created['__metadata']['uri']}/to_Partner"}
    }

    items = created["to_Item"]["results"]
    assert [i["SalesOrderItem"] for i in items] == ["10", "20", "30", "40"]
    assert [i["NetAmount"] for i in items] == ["61.83", "51.57", "253.80", "62.19"]
    assert [i["RequestedQuantity"] for i in items] == ["3", "6", "12", "5"]
    assert items[1]["Material"] == "HVV-200-L-YELLOW"  # SAP keeps material numbers upper case
    assert all(i["SalesOrder"] == number for i in items)
    pricing = items[0]["to_PricingElement"]["results"]
    assert [
        (p["ConditionType"], p["ConditionRateValue"], p["ConditionAmount"]) for p in pricing
    ] == [
        ("PR00", "22.900000000", "68.70"),
        ("RB00", "-6.870000000", "-6.87"),
    ]

    read = sap.get(f"/A_SalesOrder('{number}')", params={"$expand": "to_Item/to_PricingElement"})
    assert read.status_code == 200
    assert read.headers["etag"] == response.headers["etag"]
    assert body(read)["d"] == created
    partners = body(sap.get(f"/A_SalesOrder('{number}')/to_Partner"))["d"]["results"]
    assert {(p["PartnerFunction"], p["Customer"]) for p in partners} == {
        ("AG", "1000011"),
        ("RE", "1000011"),
        ("RG", "1000011"),
        ("WE", "1000011"),
    }
    assert create(sap, document)["SalesOrder"] == "2"
    state = control.get("/_sim/state").json()
    assert [(o["SalesOrder"], o["PurchaseOrderByCustomer"]) for o in state["sales_orders"]] == [
        ("1", "200001187"),
        ("2", "200001187"),
    ]
    assert state["entities"]["API_SALES_ORDER_SRV"]["A_SalesOrderItemPrElement"] == 16


def test_an_unknown_material_is_refused_naming_it(sap: httpx.Client, control: httpx.Client) -> None:
    fetch_token(sap)
    response = sap.post("/A_SalesOrder", json=order("PO-M", "10100001", "TG11", "WG-4410-9"))
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "M3/305"
    assert error["message"]["value"] == "The material WG-4410-9 does not exist or is not activated"
    assert error["innererror"]["errordetails"][0]["target"] == "to_Item('20')/Material"
    assert control.get("/_sim/state").json()["sales_orders"] == []


def test_an_unknown_sold_to_party_is_refused_naming_it(
    sap: httpx.Client, control: httpx.Client
) -> None:
    fetch_token(sap)
    response = sap.post("/A_SalesOrder", json=order("PO-C", "1000099", "NOPE-1"))
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "VS/406"
    assert error["message"]["value"] == "Customer 1000099 is not created in sales area 1010 10 00"
    assert [d["code"] for d in error["innererror"]["errordetails"]] == ["VS/406", "M3/305"]

    # A customer extended to another sales area only is refused the same way.
    control.post(
        "/_sim/customers",
        json={
            "customer": "1000099",
            "sales_areas": [
                {"sales_organization": "1710", "distribution_channel": "10", "division": "00"}
            ],
        },
    ).raise_for_status()
    again = sap.post("/A_SalesOrder", json=order("PO-C", "1000099"))
    assert error_of(again)["code"] == "VS/406"
    assert control.get("/_sim/state").json()["sales_orders"] == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.update(SalesOrderTypo="OR"), ["SalesOrderTypo"]),
        (lambda d: d["to_Item"][0].update(Plant="1010"), ["Plant"]),
        (lambda d: d["to_Item"][0]["to_PricingElement"][0].update(Amount="1"), ["Amount"]),
        (lambda d: d.update(SoldToParty="10100001234"), ["SoldToParty", "10"]),
        (lambda d: d["to_Item"][0].update(RequestedQuantity=True), ["RequestedQuantity"]),
        (lambda d: d["to_Item"][0].update(RequestedQuantity="1.0005"), ["RequestedQuantity"]),
        (lambda d: d.update(CustomerPurchaseOrderDate="11.03.2025"), ["CustomerPurchaseOrderDate"]),
        (lambda d: d.update(PurchaseOrderByCustomer=42), ["PurchaseOrderByCustomer"]),
    ],
    ids=["unknown", "unknown-item", "unknown-pricing", "too-long", "bool", "scale", "date", "type"],
)
def test_bodies_are_validated_against_the_edmx(
    sap: httpx.Client, control: httpx.Client, change: Any, words: list[str]
) -> None:
    fetch_token(sap)
    document = order("PO-V")
    change(document)
    response = sap.post("/A_SalesOrder", json=document)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "/IWBEP/CX_MGW_BUSI_EXCEPTION"
    assert all(word in error["message"]["value"] for word in words)
    assert control.get("/_sim/state").json()["sales_orders"] == []


def test_a_body_that_is_not_json_is_a_deserialization_error(sap: httpx.Client) -> None:
    fetch_token(sap)
    response = sap.post(
        "/A_SalesOrder", content=b"<entry/>", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "/IWFND/CM_MGW_RT/028"


def test_create_sales_order_is_a_plain_function_with_sap_messages() -> None:
    state = SapState(
        SimulatorConfig(materials=(MaterialSeed(material="TG11", price=Decimal("12.50")),))
    )
    header = {
        "SalesOrderType": "OR",
        "SalesOrganization": "1010",
        "DistributionChannel": "10",
        "OrganizationDivision": "00",
        "SoldToParty": "0010100001",
    }
    with pytest.raises(SalesOrderError) as caught:
        state.create_sales_order(header, [{"Material": "TG99", "RequestedQuantity": Decimal(1)}])
    assert (caught.value.message_class, caught.value.number) == ("M3", "305")
    assert caught.value.text == "The material TG99 does not exist or is not activated"
    assert state.summary()["sales_orders"] == []

    simulated = state.create_sales_order(
        header, [{"Material": "TG11", "RequestedQuantity": 2}], simulate=True
    )
    assert (simulated["SalesOrder"], simulated["TotalNetAmount"]) == ("", Decimal("25.00"))
    assert state.find_sales_orders() == []

    created = state.create_sales_order(
        header | {"PurchaseOrderByCustomer": "PO-RFC"},
        [{"Material": "tg11", "RequestedQuantity": 2}],
    )
    assert created["SalesOrder"] == "1"
    assert created["SoldToParty"] == "10100001"
    assert created["TotalNetAmount"] == Decimal("25.00")
    (item,) = created["to_Item"]
    assert item["Material"] == "TG11"
    assert [(e["ConditionType"], e["ConditionOrigin"]) for e in item["to_PricingElement"]] == [
        ("PPR0", "A")  # the material's price, determined automatically
    ]
    found = state.find_sales_orders(sold_to="0010100001", purchase_order="PO-RFC")
    assert [o["SalesOrder"] for o in found] == ["1"]
    assert state.find_sales_orders(sales_organization="1710") == []


# ------------------------------------------------------------------ queries


def test_queries_filter_page_sort_select_and_count(sap: httpx.Client) -> None:
    fetch_token(sap)
    for po, sold_to in (("PO-A", "10100001"), ("PO-B", "10100002"), ("PO-C", "10100001")):
        create(sap, order(po, sold_to, "TG11", "TG12"))

    def numbers(**params: str) -> list[str]:
        response = sap.get("/A_SalesOrder", params=params)
        assert response.status_code == 200, response.text
        return [o["SalesOrder"] for o in body(response)["d"]["results"]]

    assert numbers(**{"$filter": "PurchaseOrderByCustomer eq 'PO-B'"}) == ["2"]
    assert numbers(**{"$filter": "SoldToParty eq '10100001'"}) == ["1", "3"]
    assert numbers(
        **{"$filter": "SoldToParty eq '0010100001' and PurchaseOrderByCustomer eq 'PO-C'"}
    ) == ["3"]
    assert numbers(
        **{"$filter": "PurchaseOrderByCustomer eq 'PO-A' or PurchaseOrderByCustomer eq 'PO-B'"}
    ) == ["1", "2"]
    assert numbers(
        **{"$filter": "TotalNetAmount gt 10 and startswith(PurchaseOrderByCustomer,'PO-')"}
    ) == ["1", "2", "3"]
    assert numbers(**{"$orderby": "PurchaseOrderByCustomer desc", "$top": "2"}) == ["3", "2"]
    assert numbers(**{"$skip": "1", "$top": "1"}) == ["2"]

    page = body(
        sap.get(
            "/A_SalesOrder",
            params={
                "$filter": "SoldToParty eq '10100001'",
                "$inlinecount": "allpages",
                "$top": "1",
                "$select": "SalesOrder,PurchaseOrderByCustomer,to_Item/Material",
                "$expand": "to_Item",
            },
        )
    )["d"]
    assert page["__count"] == "2"
    (first,) = page["results"]
    assert set(first) == {"__metadata", "SalesOrder", "PurchaseOrderByCustomer", "to_Item"}
    assert [set(i) for i in first["to_Item"]["results"]] == [{"__metadata", "Material"}] * 2
    assert sap.get("/A_SalesOrder/$count").text == "3"

    by_key = sap.get("/A_SalesOrder('0000000002')")
    assert body(by_key)["d"]["PurchaseOrderByCustomer"] == "PO-B"
    item = sap.get("/A_SalesOrderItem(SalesOrder='2',SalesOrderItem='20')")
    assert body(item)["d"]["Material"] == "TG12"
    missing = sap.get("/A_SalesOrder('424242')")
    assert missing.status_code == 404
    assert "A_SalesOrder('424242')" in error_of(missing)["message"]["value"]
    bad = sap.get("/A_SalesOrder", params={"$filter": "NoSuchField eq 'x'"})
    assert bad.status_code == 400
    assert "NoSuchField" in error_of(bad)["message"]["value"]


def test_changes_need_the_etag_and_reprice_the_order(sap: httpx.Client) -> None:
    fetch_token(sap)
    created = create(sap, order("PO-U", "10100001", "TG11", "TG12"))
    assert created["TotalNetAmount"] == "20.00"
    header = "/A_SalesOrder('1')"
    assert sap.patch(header, json={"PurchaseOrderByCustomer": "PO-U2"}).status_code == 428
    stale = sap.patch(header, json={"PurchaseOrderByCustomer": "X"}, headers={"if-match": 'W/"x"'})
    assert stale.status_code == 412
    etag = sap.get(header).headers["etag"]
    patched = sap.patch(
        header, json={"PurchaseOrderByCustomer": "PO-U2"}, headers={"if-match": etag}
    )
    assert patched.status_code == 204
    assert sap.get(header).headers["etag"] != etag
    item = "/A_SalesOrderItem(SalesOrder='1',SalesOrderItem='20')"
    merged = sap.post(item, json={"RequestedQuantity": "4"}, headers={"x-http-method": "MERGE"})
    assert merged.status_code == 204, merged.text
    read = body(sap.get(header))["d"]
    assert (read["PurchaseOrderByCustomer"], read["TotalNetAmount"]) == ("PO-U2", "50.00")
    etag = sap.get(header).headers["etag"]
    assert sap.delete(header, headers={"if-match": etag}).status_code == 204
    assert sap.get(header).status_code == 404


# ------------------------------------------------------------------ $batch


def batch_request(changesets: list[list[dict[str, Any]]], reads: list[str]) -> str:
    lines: list[str] = []
    for index, changes in enumerate(changesets):
        changeset = f"changeset_{index}"
        lines += ["--batch_0", f"Content-Type: multipart/mixed; boundary={changeset}", ""]
        for number, document in enumerate(changes, start=1):
            lines += [
                f"--{changeset}",
                "Content-Type: application/http",
                "Content-Transfer-Encoding: binary",
                f"Content-ID: {number}",
                "",
                "POST A_SalesOrder HTTP/1.1",
                "Content-Type: application/json",
                "Accept: application/json",
                "",
                json.dumps(document),
            ]
        lines += [f"--{changeset}--", ""]
    for read in reads:
        lines += [
            "--batch_0",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            "",
            f"GET {read} HTTP/1.1",
            "Accept: application/json",
            "",
            "",
        ]
    lines.append("--batch_0--")
    return "\r\n".join(lines)


def http_part(text: str) -> tuple[int, Any]:
    head, _, payload = text.replace("\r\n", "\n").partition("\n\n")
    status = int(head.split()[1])
    return status, json.loads(payload, parse_float=Decimal) if payload.strip() else None


def batch_answers(response: httpx.Response) -> list[Any]:
    assert response.status_code == 202, response.text
    raw = f"Content-Type: {response.headers['content-type']}\r\n\r\n".encode() + response.content
    message = email.message_from_bytes(raw)
    answers: list[Any] = []
    for part in message.get_payload():
        assert isinstance(part, email.message.Message)
        if part.get_content_type() == "multipart/mixed":
            answers.append([http_part(str(sub.get_payload())) for sub in part.get_payload()])
        else:
            assert part.get_content_type() == "application/http"
            answers.append(http_part(str(part.get_payload())))
    return answers


def post_batch(client: httpx.Client, text: str) -> httpx.Response:
    return client.post(
        "/$batch",
        content=text.encode(),
        headers={"content-type": "multipart/mixed; boundary=batch_0"},
    )


def test_a_batch_changeset_creates_both_orders(sap: httpx.Client, control: httpx.Client) -> None:
    fetch_token(sap)
    text = batch_request(
        [[order("PO-B1"), order("PO-B2", "10100002", "TG12")]],
        ["A_SalesOrder?$select=SalesOrder,PurchaseOrderByCustomer&$inlinecount=allpages"],
    )
    (changeset, (read_status, read)) = batch_answers(post_batch(sap, text))
    assert [status for status, _ in changeset] == [201, 201]
    assert [d["d"]["PurchaseOrderByCustomer"] for _, d in changeset] == ["PO-B1", "PO-B2"]
    assert read_status == 200
    assert read["d"]["__count"] == "2"
    assert len(control.get("/_sim/state").json()["sales_orders"]) == 2


def test_a_failing_changeset_creates_nothing(sap: httpx.Client, control: httpx.Client) -> None:
    fetch_token(sap)
    text = batch_request(
        [[order("PO-OK"), order("PO-BAD", "10100001", "NO-SUCH-MATERIAL")]],
        ["A_SalesOrder/$count"],
    )
    response = post_batch(sap, text)
    answers = batch_answers(response)
    (status, error), count = answers
    assert status == 400  # one answer for the whole changeset
    assert error["error"]["code"] == "M3/305"
    assert "NO-SUCH-MATERIAL" in error["error"]["message"]["value"]
    assert "Batch_SAP_Note" in error["error"]["innererror"]["Error_Resolution"]
    assert count[0] == 200
    assert control.get("/_sim/state").json()["sales_orders"] == []


def test_batch_needs_the_csrf_token(sap: httpx.Client) -> None:
    response = post_batch(sap, batch_request([], ["A_SalesOrder"]))
    assert (response.status_code, response.text) == (403, CSRF_FAILED)


# ------------------------------------------------------------------ business partner


def test_business_partner_reads_master_data(base_url: str, control: httpx.Client) -> None:
    control.post(
        "/_sim/customers",
        json={
            "customer": "1000011",
            "name": "Hub Test GmbH",
            "sales_areas": [
                {"sales_organization": "1010", "distribution_channel": "10", "division": "00"}
            ],
        },
    ).raise_for_status()
    with httpx.Client(base_url=f"{base_url}{BP}", auth=(USER, PASSWORD), trust_env=False) as bp:
        customer = body(
            bp.get("/A_Customer('1000011')", params={"$expand": "to_CustomerSalesArea"})
        )
        assert customer["d"]["CustomerName"] == "Hub Test GmbH"
        (area,) = customer["d"]["to_CustomerSalesArea"]["results"]
        assert (area["SalesOrganization"], area["DistributionChannel"], area["Division"]) == (
            "1010",
            "10",
            "00",
        )
        partners = body(bp.get("/A_BusinessPartner", params={"$filter": "Customer eq '1000011'"}))
        (partner,) = partners["d"]["results"]
        assert partner["BusinessPartnerFullName"] == "Hub Test GmbH"
        assert re.fullmatch(r"PT\d{2}H\d{2}M\d{2}S", partner["CreationTime"])
        assert partner["to_Customer"]["__deferred"]["uri"].endswith(
            "A_BusinessPartner('1000011')/to_Customer"
        )
        assert (
            body(bp.get("/A_BusinessPartner('1000011')/to_Customer"))["d"]["Customer"] == "1000011"
        )
        assert bp.get("/A_Customer('1000012')").status_code == 404


# ------------------------------------------------------------------ faults


def test_injected_errors_carry_retry_after(sap: httpx.Client, control: httpx.Client) -> None:
    control.put(
        "/_sim/faults", json={"error_rate": 1, "error_statuses": [503], "retry_after": 7}
    ).raise_for_status()
    response = sap.get("/A_SalesOrder")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert error_of(response)["message"]["value"] == "Service Unavailable"
    control.put("/_sim/faults", json={}).raise_for_status()
    assert sap.get("/A_SalesOrder").status_code == 200
    assert control.get("/_sim/state").json()["faults_injected"] == {"error_503": 1}


def test_land_then_timeout_commits_before_the_client_gives_up(
    sap: httpx.Client, control: httpx.Client
) -> None:
    fetch_token(sap)
    control.put(
        "/_sim/faults", json={"land_then_timeout_rate": 1, "land_then_timeout_seconds": 3}
    ).raise_for_status()
    with pytest.raises(httpx.ReadTimeout):
        sap.post("/A_SalesOrder", json=order("PO-LATE"), timeout=0.5)
    found = sap.get("/A_SalesOrder", params={"$filter": "PurchaseOrderByCustomer eq 'PO-LATE'"})
    assert [o["SalesOrder"] for o in body(found)["d"]["results"]] == ["1"]
    assert control.get("/_sim/state").json()["faults_injected"] == {"land_then_timeout_create": 1}


def test_expire_csrf_fault_forces_a_new_token(sap: httpx.Client, control: httpx.Client) -> None:
    fetch_token(sap)
    control.put("/_sim/faults", json={"expire_csrf_rate": 1}).raise_for_status()
    refused = sap.post("/A_SalesOrder", json=order("PO-X"))
    assert (refused.status_code, refused.headers["x-csrf-token"]) == (403, "Required")
    control.put("/_sim/faults", json={}).raise_for_status()
    assert sap.post("/A_SalesOrder", json=order("PO-X")).status_code == 403  # token is gone
    fetch_token(sap)
    assert sap.post("/A_SalesOrder", json=order("PO-X")).status_code == 201
    assert control.get("/_sim/state").json()["faults_injected"] == {"expire_csrf": 1}


def test_faults_are_validated(control: httpx.Client) -> None:
    assert control.put("/_sim/faults", json={"error_statuses": [200]}).status_code == 400
    assert control.put("/_sim/faults", json={"no_such_fault": 1}).status_code == 400
    assert control.post("/_sim/materials", json={"material": ""}).status_code == 400


# ------------------------------------------------------------------ command line


def test_the_command_line_documents_its_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "adapters.sap.simulator", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "--port" in result.stdout
    assert "--config" in result.stdout
