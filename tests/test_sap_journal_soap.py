"""The zeep client (adapters/sap/soap.py) against the journal simulator over loopback.

The simulator runs in a subprocess (``run_journal_simulator``); every test starts from an
empty system (``POST /_sim/reset``). Timeouts are made to happen by faults that hold the
answer far longer than the client waits; nothing here measures time.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import socket
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from lxml import etree
from pydantic import SecretStr

from adapters.sap.journal import JournalEntry, build_journal_entry
from adapters.sap.soap import (
    ENDPOINT_PATH,
    JournalEntryClient,
    JournalServiceConfig,
    LogMessage,
    PostingResult,
    duplicate_of,
    read_confirmation,
)
from adapters.sap.soap_simulator import JournalSimulatorConfig, run_journal_simulator
from hub.errors import (
    AuthFailed,
    DeliveryError,
    RateLimited,
    Rejected,
    TargetTimeout,
    TargetUnavailable,
    TransientError,
)
from tests.test_sap_journal import journal_config, make_credit_note, make_invoice

USER = "O2C_COMM_USER"
PASSWORD = "s3cret-Journal-pw!"
HELD = 30.0  # seconds a fault holds the answer: far beyond SHORT
SHORT = 0.5  # the client's timeout in the timeout tests


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    config = JournalSimulatorConfig(
        users={USER: PASSWORD}, tax_codes=("A0", "A1", "A2", "A5", "AE", "AF", "AG"), seed=5
    )
    with run_journal_simulator(config) as url:
        yield url


@pytest.fixture
def control(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, trust_env=False, timeout=10) as client:
        client.post("/_sim/reset").raise_for_status()
        yield client


def service(
    base_url: str, *, password: str = PASSWORD, timeout: float = 30.0
) -> JournalServiceConfig:
    return JournalServiceConfig(
        endpoint_url=base_url + ENDPOINT_PATH,
        user=USER,
        password=SecretStr(password),
        timeout=timeout,
    )


def post(config: JournalServiceConfig, entry: JournalEntry) -> PostingResult:
    async def run() -> PostingResult:
        async with JournalEntryClient(config) as client:
            return await client.post(entry)

    return asyncio.run(run())


def failure(config: JournalServiceConfig, entry: JournalEntry) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        post(config, entry)
    return info.value


def set_faults(control: httpx.Client, **faults: Any) -> None:
    control.put("/_sim/faults", json=faults).raise_for_status()


def entries(control: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = control.get("/_sim/state").json()["entries"]
    return found


def invoice_entry() -> JournalEntry:
    return build_journal_entry(make_invoice(), journal_config())


# --- posting ------------------------------------------------------------------------------


def test_post_an_invoice_and_read_the_confirmation(base_url: str, control: httpx.Client) -> None:
    entry = invoice_entry()
    result = post(service(base_url), entry)

    assert result.company_code == "1010"
    assert result.fiscal_year == "2024"
    assert len(result.accounting_document) == 10 and result.accounting_document.isdigit()
    assert not result.already_posted
    assert [m.type_id for m in result.messages] == ["614(RW)"]

    (posted,) = entries(control)
    assert posted["accounting_document"] == result.accounting_document
    assert posted["reference"] == "INV-1001"
    assert posted["document_type"] == "DR"
    assert posted["customer"] == "0017100001"
    sent = {
        line["item"]: (Decimal(line["amount"]), line["debit_credit"]) for line in posted["lines"]
    }
    expected = {entry.debtor.item: (entry.debtor.amount, entry.debtor.debit_credit)}
    expected |= {g.item: (g.amount, g.debit_credit) for g in entry.gl_lines}
    expected |= {t.item: (t.amount, t.debit_credit) for t in entry.tax_lines}
    assert sent == expected
    taxes = [
        (line["tax_code"], line["tax_base"]) for line in posted["lines"] if line["kind"] == "tax"
    ]
    assert taxes == [("A0", "-20.00"), ("A2", "-10.45"), ("A1", "-54.00")]


def test_document_numbers_count_up_per_company_code(base_url: str, control: httpx.Client) -> None:
    config = service(base_url)
    first = post(config, invoice_entry())
    second_invoice = make_invoice(invoice_number="INV-1002")
    second = post(config, build_journal_entry(second_invoice, journal_config()))
    assert int(second.accounting_document) == int(first.accounting_document) + 1
    assert len(entries(control)) == 2


def test_the_same_invoice_twice_is_one_document(base_url: str, control: httpx.Client) -> None:
    config = service(base_url)
    first = post(config, invoice_entry())
    again = post(config, invoice_entry())
    assert again.already_posted
    assert (again.accounting_document, again.company_code, again.fiscal_year) == (
        first.accounting_document,
        first.company_code,
        first.fiscal_year,
    )
    assert any(m.type_id == "117(F5)" for m in again.messages)
    assert len(entries(control)) == 1


def test_posted_then_timed_out_then_sent_again_is_one_document(
    base_url: str, control: httpx.Client
) -> None:
    set_faults(control, land_then_timeout_rate=1, land_then_timeout_seconds=HELD)
    error = failure(service(base_url, timeout=SHORT), invoice_entry())
    assert isinstance(error, TargetTimeout)
    assert "sending it again is safe" in error.message
    (landed,) = entries(control)  # SAP committed the entry before the answer was lost

    set_faults(control)
    again = post(service(base_url), invoice_entry())
    assert again.already_posted
    assert again.accounting_document == landed["accounting_document"]
    assert len(entries(control)) == 1


def test_a_credit_note_posts_reversed(base_url: str, control: httpx.Client) -> None:
    note = build_journal_entry(make_credit_note(invoice_number="CN-7"), journal_config())
    result = post(service(base_url), note)
    assert not result.already_posted
    (posted,) = entries(control)
    assert posted["document_type"] == "DG"
    by_kind = {(line["kind"], line["debit_credit"]) for line in posted["lines"]}
    assert ("customer", "H") in by_kind
    assert ("gl", "S") in by_kind
    customer = next(line for line in posted["lines"] if line["kind"] == "customer")
    assert Decimal(customer["amount"]) == -make_invoice().totals.tax_inclusive_total


# --- refusals -----------------------------------------------------------------------------


def test_an_unbalanced_entry_is_rejected_with_sap_s_message(
    base_url: str, control: httpx.Client
) -> None:
    entry = invoice_entry()
    debtor = dataclasses.replace(entry.debtor, amount=entry.debtor.amount + Decimal("0.01"))
    error = failure(service(base_url), dataclasses.replace(entry, debtor=debtor))
    assert type(error) is Rejected
    assert "Balance in transaction currency" in error.message
    assert error.detail is not None and "Balance in transaction currency" in error.detail
    assert entries(control) == []


def test_a_tax_code_sap_does_not_know_is_rejected(base_url: str, control: httpx.Client) -> None:
    config = journal_config(tax_codes={"S 19": "ZZ", "S 7": "A2", "E": "A0"})
    error = failure(service(base_url), build_journal_entry(make_invoice(), config))
    assert type(error) is Rejected
    assert "Tax code ZZ" in error.message
    assert entries(control) == []


def test_wrong_password_is_auth_failed_without_the_password(
    base_url: str, control: httpx.Client
) -> None:
    wrong = "Wr0ng-Passw0rd-xyz"
    error = failure(service(base_url, password=wrong), invoice_entry())
    assert isinstance(error, AuthFailed)
    assert error.status_code == 401
    basic = base64.b64encode(f"{USER}:{wrong}".encode()).decode()
    for text in (str(error), error.message, error.detail or "", repr(error.args)):
        assert wrong not in text
        assert basic not in text
    assert USER in error.message
    assert entries(control) == []


# --- faults -------------------------------------------------------------------------------


def test_a_slow_answer_is_a_timeout(base_url: str, control: httpx.Client) -> None:
    set_faults(control, slow_rate=1, slow_seconds=HELD)
    error = failure(service(base_url, timeout=SHORT), invoice_entry())
    assert isinstance(error, TargetTimeout)
    assert PASSWORD not in str(error)


def test_a_server_fault_is_transient(base_url: str, control: httpx.Client) -> None:
    set_faults(control, error_rate=1, error_statuses=[500], fault_code="Server")
    error = failure(service(base_url), invoice_entry())
    assert type(error) is TransientError
    assert "Web service processing error" in error.message


def test_a_client_fault_is_rejected(base_url: str, control: httpx.Client) -> None:
    set_faults(control, error_rate=1, error_statuses=[500], fault_code="Client")
    error = failure(service(base_url), invoice_entry())
    assert type(error) is Rejected
    assert "soap-env:Client" in error.message


def test_unavailable_with_retry_after_is_rate_limited(base_url: str, control: httpx.Client) -> None:
    set_faults(control, error_rate=1, error_statuses=[503], retry_after=7)
    error = failure(service(base_url), invoice_entry())
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7
    assert error.status_code == 503


def test_nobody_listening_is_target_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = failure(service(f"http://127.0.0.1:{port}"), invoice_entry())
    assert isinstance(error, TargetUnavailable)


# --- the WSDL and the reading of answers ----------------------------------------------------


def test_the_simulator_serves_the_wsdl_with_its_own_address(
    base_url: str, control: httpx.Client
) -> None:
    del control
    url = base_url + ENDPOINT_PATH
    with httpx.Client(trust_env=False, timeout=10) as client:
        assert client.get(url, params={"wsdl": ""}).status_code == 401
        answer = client.get(url + "?wsdl", auth=(USER, PASSWORD))
    assert answer.status_code == 200
    tree = etree.fromstring(answer.content)
    (address,) = tree.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == url
    operations = {op.get("name") for op in tree.iter("{http://schemas.xmlsoap.org/wsdl/}operation")}
    assert operations == {"JournalEntryCreateRequestConfirmation_In"}


def test_read_confirmation_names_the_earlier_document_of_a_duplicate() -> None:
    note = "Check whether document has already been entered under number 1010 100000007 2024"
    assert duplicate_of([LogMessage("117(F5)", 3, note)]) == ("1010", "0100000007", "2024")
    german = "Prüfen, ob Beleg bereits unter der Nummer 1010 1800000012 2024 erfasst wurde"
    assert duplicate_of([LogMessage("117(F5)", 3, german)]) == ("1010", "1800000012", "2024")
    assert duplicate_of([LogMessage("702(F5)", 3, "Balance in transaction currency")]) is None
    answer = {
        "JournalEntryCreateConfirmation": [
            {
                "JournalEntryCreateConfirmation": {
                    "AccountingDocument": "0000000000",
                    "CompanyCode": "1010",
                    "FiscalYear": "0000",
                },
                "Log": {
                    "MaximumLogItemSeverityCode": "3",
                    "Item": [{"TypeID": "117(F5)", "SeverityCode": "3", "Note": note}],
                },
            }
        ],
        "Log": {"MaximumLogItemSeverityCode": "3"},
    }
    result = read_confirmation(answer, reference="INV-1")
    assert result.already_posted
    assert result.accounting_document == "0100000007"


def test_a_confirmation_without_a_number_or_an_error_is_transient() -> None:
    answer = {"JournalEntryCreateConfirmation": [], "Log": {"MaximumLogItemSeverityCode": "1"}}
    with pytest.raises(TransientError, match="without a document number"):
        read_confirmation(answer, reference="INV-1")
