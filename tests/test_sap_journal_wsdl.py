"""The project's WSDL of *Journal Entry - Post (Synchronous)* (adapters/sap/wsdl/).

``TestAgainstSapWsdl`` reads SAP's own WSDL of the service from ../shared (a test
reference the project does not ship: its host repository states no licence) and is
skipped without it. It checks that every type and element of the project's subset is
SAP's, in SAP's order, and that zeep writes the same request from both documents.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import zeep
from lxml import etree

from adapters.sap.journal import build_journal_entry
from adapters.sap.soap import (
    BINDING,
    NAMESPACE,
    OPERATION,
    WSDL_PATH,
    read_confirmation,
    request_body,
)
from tests.test_sap_journal import journal_config, make_credit_note, make_invoice

SAP_WSDL = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "fixtures"
    / "sap"
    / "soap"
    / "JOURNALENTRYCREATEREQUESTCONFI.wsdl"
)
XSD = "{http://www.w3.org/2001/XMLSchema}"
WSDL = "{http://schemas.xmlsoap.org/wsdl/}"
SOAP = "{http://schemas.xmlsoap.org/wsdl/soap/}"
CREATED = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)


def _local(name: str | None) -> str | None:
    return None if name is None else name.rsplit(":", 1)[-1]


def _schema(path: Path) -> Any:
    return etree.parse(str(path)).find(f"{WSDL}types/{XSD}schema")


def _named(schema: Any, kind: str) -> dict[str, Any]:
    return {node.get("name"): node for node in schema.findall(f"{XSD}{kind}")}


def _sequence(complex_type: Any) -> list[tuple[str, str | None, str, str]]:
    sequence = complex_type.find(f"{XSD}sequence")
    if sequence is None:
        return []
    return [
        (
            element.get("name"),
            _local(element.get("type")),
            element.get("minOccurs", "1"),
            element.get("maxOccurs", "1"),
        )
        for element in sequence.findall(f"{XSD}element")
    ]


def _attributes(node: Any) -> list[tuple[str, str | None, str | None, list[tuple[str, str]]]]:
    found = []
    for attribute in node.iter(f"{XSD}attribute"):
        facets = [
            (etree.QName(f).localname, f.get("value", ""))
            for f in attribute.iter()
            if f.tag not in (f"{XSD}attribute", f"{XSD}simpleType", f"{XSD}restriction")
            and isinstance(f.tag, str)
        ]
        found.append(
            (attribute.get("name"), _local(attribute.get("type")), attribute.get("use"), facets)
        )
    return found


def _restriction(simple_type: Any) -> tuple[str | None, list[tuple[str, str]]]:
    restriction = simple_type.find(f"{XSD}restriction")
    facets = [
        (etree.QName(f).localname, f.get("value", ""))
        for f in restriction
        if isinstance(f.tag, str)
    ]
    return _local(restriction.get("base")), sorted(facets)


def _extension_base(complex_type: Any) -> str | None:
    extension = complex_type.find(f"{XSD}simpleContent/{XSD}extension")
    return None if extension is None else _local(extension.get("base"))


def _project(value: Any, shape: Any) -> Any:
    """``value`` cut down to the keys ``shape`` has, recursively."""
    if isinstance(shape, dict) and isinstance(value, dict):
        return {key: _project(value.get(key), sub) for key, sub in shape.items()}
    if isinstance(shape, list) and isinstance(value, list):
        return [_project(v, s) for v, s in zip(value, shape, strict=False)]
    return value


def _request(wsdl: Path, body: dict[str, Any]) -> bytes:
    client = zeep.Client(str(wsdl))
    proxy = client.create_service(BINDING, "http://127.0.0.1/unused")
    envelope = client.create_message(proxy, OPERATION, **body)
    return bytes(etree.tostring(envelope, method="c14n"))


def _bodies() -> list[dict[str, Any]]:
    """Requests using every element of the subset: all options set, invoice and credit note."""
    full = journal_config(
        reconciliation_account="12100000",
        profit_center="YB101",
        logical_system="O2CHUB",
        tax_condition_type="MWAS",
    )
    invoice = make_invoice(
        due_date=None,
        rounding_amount="0.01",
        payment_terms={"net_days": 30, "discount_percent": "2", "discount_days": 10},
    )
    return [
        request_body(build_journal_entry(document, config), message_id="M-1", created_at=CREATED)
        for document, config in (
            (invoice, full),
            (make_credit_note(invoice_number="CN-1"), journal_config()),
        )
    ]


# --- the project's own document -----------------------------------------------------------


def test_the_wsdl_is_the_project_s_own() -> None:
    text = WSDL_PATH.read_text(encoding="utf-8")
    assert "written by the O2C Hub project" in text
    assert "Apache License, Version 2.0" in text
    # none of SAP's policy, documentation or annotation blocks
    for foreign in ("wsp:", "sidl", "sapdoc", "ccts:", "xsd:annotation", "xsd:documentation"):
        assert foreign not in text


def test_zeep_loads_it_with_one_soap_11_operation() -> None:
    client = zeep.Client(str(WSDL_PATH))
    binding = client.wsdl.bindings[BINDING]
    assert binding.port_name.localname == OPERATION
    operation = binding.get(OPERATION)
    assert operation.soapaction == f"{NAMESPACE}/{OPERATION}/{OPERATION}Request"
    assert list(client.wsdl.bindings) == [BINDING]  # SOAP 1.1 only


def test_requests_follow_the_schema_order() -> None:
    """zeep refuses a value for an element the schema does not know, so every key the hub
    writes is in the subset; and the order of the request is the schema's."""
    for body in _bodies():
        root = etree.fromstring(_request(WSDL_PATH, body))
        journal = root.find(f".//{{{NAMESPACE}}}JournalEntryBulkCreateRequest")
        assert journal is not None
        entry = journal.find("JournalEntryCreateRequest/JournalEntry")
        tags = [child.tag for child in entry]
        assert tags.index("CompanyCode") < tags.index("PostingDate") < tags.index("Item")
        assert tags.index("Item") < tags.index("DebtorItem") < tags.index("ProductTaxItem")


# --- against SAP's WSDL -------------------------------------------------------------------


@pytest.fixture(scope="module")
def sap_schema() -> Any:
    return _schema(SAP_WSDL)


@pytest.fixture(scope="module")
def our_schema() -> Any:
    return _schema(WSDL_PATH)


class TestAgainstSapWsdl:
    pytestmark = [  # noqa: RUF012 - pytest reads this class attribute
        pytest.mark.shared,
        pytest.mark.skipif(not SAP_WSDL.is_file(), reason=f"needs {SAP_WSDL} (../shared)"),
    ]

    def test_same_namespace_and_message_elements(self, sap_schema: Any, our_schema: Any) -> None:
        assert our_schema.get("targetNamespace") == sap_schema.get("targetNamespace") == NAMESPACE
        assert our_schema.get("elementFormDefault") == sap_schema.get("elementFormDefault")
        ours = {name: _local(e.get("type")) for name, e in _named(our_schema, "element").items()}
        theirs = {name: _local(e.get("type")) for name, e in _named(sap_schema, "element").items()}
        assert ours == theirs

    def test_complex_types_are_ordered_subsets(self, sap_schema: Any, our_schema: Any) -> None:
        theirs = _named(sap_schema, "complexType")
        for name, ours in _named(our_schema, "complexType").items():
            assert name in theirs, f"{name} is not a type of SAP's service"
            sap_sequence = _sequence(theirs[name])
            our_sequence = _sequence(ours)
            assert set(our_sequence) <= set(sap_sequence), (
                name,
                set(our_sequence) - set(sap_sequence),
            )
            positions = [sap_sequence.index(element) for element in our_sequence]
            assert positions == sorted(positions), f"{name}: elements out of SAP's order"
            assert _extension_base(ours) == _extension_base(theirs[name]), name
            assert _attributes(ours) == _attributes(theirs[name]), name

    def test_required_elements_are_all_there(self, sap_schema: Any, our_schema: Any) -> None:
        theirs = _named(sap_schema, "complexType")
        for name, ours in _named(our_schema, "complexType").items():
            required = [e for e in _sequence(theirs[name]) if e[2] != "0"]
            assert [e for e in required if e not in _sequence(ours)] == [], name

    def test_simple_types_have_sap_s_facets(self, sap_schema: Any, our_schema: Any) -> None:
        theirs = _named(sap_schema, "simpleType")
        for name, ours in _named(our_schema, "simpleType").items():
            assert name in theirs, f"{name} is not a type of SAP's service"
            assert _restriction(ours) == _restriction(theirs[name]), name

    def test_every_referenced_type_is_defined(self, our_schema: Any) -> None:
        defined = set(_named(our_schema, "complexType")) | set(_named(our_schema, "simpleType"))
        used = {
            _local(node.get(attribute))
            for node in our_schema.iter()
            for attribute in ("type", "base")
            if node.get(attribute) and not node.get(attribute).startswith("xsd:")
        }
        assert used <= defined

    def test_operation_and_binding_match(self) -> None:
        def facts(path: Path) -> tuple[Any, ...]:
            tree = etree.parse(str(path))
            port_type = tree.find(f"{WSDL}portType")
            operation = port_type.find(f"{WSDL}operation")
            soap_operation = tree.find(f"{WSDL}binding/{WSDL}operation/{SOAP}operation")
            messages = {
                m.get("name"): _local(m.find(f"{WSDL}part").get("element"))
                for m in tree.findall(f"{WSDL}message")
            }
            return (
                port_type.get("name"),
                operation.get("name"),
                _local(operation.find(f"{WSDL}input").get("message")),
                _local(operation.find(f"{WSDL}output").get("message")),
                soap_operation.get("soapAction"),
                soap_operation.get("style"),
                messages,
            )

        assert facts(WSDL_PATH) == facts(SAP_WSDL)

    def test_zeep_writes_the_same_request_from_both(self) -> None:
        for body in _bodies():
            ours = _request(WSDL_PATH, body)
            theirs = _request(SAP_WSDL, body)
            assert ours == theirs
            assert b"<DebtorItem>" in ours and b"<ProductTaxItem>" in ours

    def test_zeep_reads_a_confirmation_alike_from_both(self) -> None:
        answer = (
            b'<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">'
            b"<soap-env:Body>"
            b'<n0:JournalEntryBulkCreateConfirmation xmlns:n0="http://sap.com/xi/SAPSCORE/SFIN">'
            b"<MessageHeader><ID>A1</ID><CreationDateTime>2024-03-05T09:30:01Z</CreationDateTime>"
            b"</MessageHeader><JournalEntryCreateConfirmation><MessageHeader>"
            b"<ReferenceID>M-1</ReferenceID><CreationDateTime>2024-03-05T09:30:01Z"
            b"</CreationDateTime></MessageHeader><JournalEntryCreateConfirmation>"
            b"<AccountingDocument>0100000000</AccountingDocument><CompanyCode>1010</CompanyCode>"
            b"<FiscalYear>2024</FiscalYear></JournalEntryCreateConfirmation><Log>"
            b"<MaximumLogItemSeverityCode>1</MaximumLogItemSeverityCode><Item>"
            b"<TypeID>614(RW)</TypeID><CategoryCode>PRE</CategoryCode><SeverityCode>1"
            b"</SeverityCode><Note>Document posted successfully</Note></Item></Log>"
            b"</JournalEntryCreateConfirmation><Log><MaximumLogItemSeverityCode>1"
            b"</MaximumLogItemSeverityCode></Log></n0:JournalEntryBulkCreateConfirmation>"
            b"</soap-env:Body></soap-env:Envelope>"
        )

        def read(path: Path) -> Any:
            client = zeep.Client(str(path))
            operation = client.wsdl.bindings[BINDING].get(OPERATION)
            return zeep.helpers.serialize_object(
                operation.process_reply(etree.fromstring(answer)), dict
            )

        ours, theirs = read(WSDL_PATH), read(SAP_WSDL)
        assert ours == _project(theirs, ours)  # SAP's has more (empty) header fields
        assert read_confirmation(ours, reference="INV-1") == read_confirmation(
            theirs, reference="INV-1"
        )
