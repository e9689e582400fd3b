"""Contract YAML (hub/invoicing/contracts.py): the bundled example loads; every mistake is
reported at once, as file:line:column, the contract, the field and the rule broken."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hub.canonical.common import Address, TaxCategory
from hub.config import load_settings
from hub.errors import ConfigError, SourceFileError
from hub.invoicing.billing import BillingService
from hub.invoicing.contracts import (
    Contract,
    ContractsError,
    load_contract_paths,
    parse_contracts_text,
)
from hub.invoicing.settings import InvoicingSettings, Seller
from hub.invoicing.tax import CountryRates, TaxConfig
from tests.conftest import ROOT

EXAMPLE = ROOT / "config" / "billing" / "example.yaml"

SELLER = Seller(
    name="Nordwerk Industriebedarf GmbH",
    tax_id="DE811907980",
    contact="Accounts receivable",
    email="ar@nordwerk.example",
    phone="+49 40 555 0100",
    iban="DE02120300000000202051",
    bic="BYLADEM1001",
    address=Address(lines=["Hafenstrasse 1"], city="Hamburg", postal_code="20457", country="DE"),
    payment_terms="2/10 net 30",
)
TAX = TaxConfig(
    seller_country="DE",
    rates={"DE": CountryRates(standard=Decimal(19), reduced={"books": Decimal(7)})},
)


def settings(contracts: Path | None = EXAMPLE, **more: Any) -> InvoicingSettings:
    """Invoicing settings of the tests: the seller of the invoicing tests, DE VAT rules."""
    return InvoicingSettings(**({"seller": SELLER, "contracts": contracts, "tax": TAX} | more))


def contract_data(**changes: Any) -> dict[str, Any]:
    """One valid contract as plain data (monthly, in advance, explicit VAT)."""
    data: dict[str, Any] = {
        "id": "C-1",
        "customer": {
            "name": "ACME Facility Services GmbH",
            "vat_id": "DE123456788",
            "address": {"lines": ["Industriestrasse 12"], "city": "Bremen", "country": "DE"},
        },
        "currency": "EUR",
        "start": date(2026, 1, 15),
        "schedule": "monthly",
        "lines": [
            {
                "sku": "SEAT",
                "name": "Support seat",
                "quantity": 10,
                "unit_price": Decimal("49.00"),
                "tax": {"category": "S", "rate": 19},
            }
        ],
    }
    data.update(changes)
    return data


def contracts_text(*contracts: dict[str, Any]) -> str:
    """A contract file (JSON is YAML; decimals and dates as strings, as people write them)."""
    return json.dumps({"contracts": list(contracts)}, default=str, indent=1)


def contract(**changes: Any) -> Contract:
    return Contract.model_validate(contract_data(**changes))


def problems(text: str, file: str = "contracts.yaml") -> list[str]:
    _, issues = parse_contracts_text(text, file)
    return [str(issue) for issue in issues]


# --------------------------------------------------------------------------- the example


def test_the_bundled_example_loads() -> None:
    loaded = load_contract_paths([EXAMPLE])
    ids = [entry.contract.id for entry in loaded]
    assert ids == ["ACME-SUPPORT-2026", "BRIX-LEASE-2026"]
    acme = loaded[0].contract
    assert acme.schedule == "monthly"
    assert acme.timing == "advance"
    assert acme.lines[0].unit_price == Decimal("49.00")
    assert isinstance(acme.lines[0].unit_price, Decimal)
    assert acme.changes[0].effective == date(2026, 3, 15)
    assert acme.changes[0].lines[0].quantity == 12
    brix = loaded[1].contract
    assert (brix.schedule, brix.timing, brix.anchor_month) == ("quarterly", "arrears", 1)
    assert brix.end == date(2026, 11, 30)


def test_the_example_passes_the_settings_checks(tmp_path: Path) -> None:
    """The service checks what a contract needs from the settings when it loads."""
    from hub.store.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    service = BillingService(engine, None, settings())  # type: ignore[arg-type]
    assert [c.id for c in service.contracts] == ["ACME-SUPPORT-2026", "BRIX-LEASE-2026"]


def test_a_folder_is_read_in_name_order_and_ids_are_unique(tmp_path: Path) -> None:
    folder = tmp_path / "billing"
    folder.mkdir()
    one = contracts_text(contract_data(id="A"))
    (folder / "b.yaml").write_text(one, encoding="utf-8")
    (folder / "a.yml").write_text(contracts_text(contract_data(id="Z")), encoding="utf-8")
    (folder / "notes.txt").write_text("not a contract", encoding="utf-8")
    loaded = load_contract_paths([folder])
    assert [e.contract.id for e in loaded] == ["Z", "A"]

    (folder / "c.yaml").write_text(one, encoding="utf-8")
    with pytest.raises(ContractsError) as caught:
        load_contract_paths([folder])
    message = caught.value.message
    assert "c.yaml:4:10: contract 'A': id: duplicate contract id; first defined at " in message
    assert message.endswith("b.yaml:3:3")


def test_a_missing_path_is_one_line() -> None:
    with pytest.raises(SourceFileError, match=r"nope\.yaml: contracts file or folder not found"):
        load_contract_paths([Path("nope.yaml")])


def test_a_yaml_syntax_error_names_the_place() -> None:
    with pytest.raises(SourceFileError, match=r"contracts.yaml:3:1: YAML syntax error"):
        parse_contracts_text("contracts:\n  - id: [unclosed\n", "contracts.yaml")


# --------------------------------------------------------------------------- field errors


TEXT = """\
contracts:
  - id: ACME
    custmer: {}
    currency: EUR
    start: 2026-01-15
    schedule: weekly
    lines: []
  - id: BRIX
    customer: {name: Brix, address: {city: Amsterdam, country: XX}}
    currency: EURO
    start: 2026-1-1x
    schedule: monthly
    payment_terms: whenever
    lines:
      - {sku: A, name: A, quantity: 0, unit_price: -1, tax: {category: S, rate: 19}}
"""


def test_every_field_error_is_reported_with_file_line_column_field_and_rule() -> None:
    found = problems(TEXT)
    assert found == [
        "contracts.yaml:2:5: contract 'ACME': customer: is required",
        "contracts.yaml:3:5: contract 'ACME': custmer: unknown field; did you mean 'customer'?",
        (
            "contracts.yaml:6:15: contract 'ACME': schedule: input should be 'monthly', "
            "'quarterly' or 'yearly'"
        ),
        "contracts.yaml:7:12: contract 'ACME': lines: needs at least one entry",
        (
            "contracts.yaml:9:64: contract 'BRIX': customer.address.country: 'XX' is not an ISO "
            "3166-1 alpha-2 country code"
        ),
        "contracts.yaml:10:15: contract 'BRIX': currency: 'EURO' is not an ISO 4217 currency code",
        "contracts.yaml:11:12: contract 'BRIX': start: should be a date (YYYY-MM-DD)",
        (
            "contracts.yaml:13:20: contract 'BRIX': payment_terms: payment terms 'whenever': write "
            "'net 30' or '2/10 net 30'"
        ),
        "contracts.yaml:15:37: contract 'BRIX': lines[0].quantity: input should be greater than 0",
        (
            "contracts.yaml:15:52: contract 'BRIX': lines[0].unit_price: input should be greater "
            "than or equal to 0"
        ),
    ]


CROSS = """\
contracts:
  - id: C
    customer:
      name: C
      ids: {peppol: "0088:123"}
      address: {city: Bremen, country: DE}
    currency: EUR
    start: 2026-01-15
    end: 2026-01-01
    schedule: monthly
    anchor_month: 4
    bill_from: 2025-12-01
    lines:
      - {sku: A, name: A, quantity: 1, unit_price: 1, tax: {category: E}}
      - {sku: A, name: B, quantity: 1, unit_price: 1, tax: {category: S}, tax_class: books}
    changes:
      - effective: 2026-01-10
        lines:
          - {sku: A, name: A, quantity: 1, unit_price: 1,
             tax: {category: Z, rate: 7, exemption_reason: Zero}}
      - {effective: 2026-01-09, lines: [{sku: A, name: A, quantity: 1, unit_price: 1}]}
"""


def test_rules_across_fields_are_reported_at_the_field_to_fix() -> None:
    found = problems(CROSS)
    assert found == [
        (
            "contracts.yaml:5:21: contract 'C': customer.ids.peppol: write the peppol id as "
            "`electronic_address`, not under `ids`"
        ),
        "contracts.yaml:9:10: contract 'C': end: is before the start (2026-01-15)",
        (
            "contracts.yaml:11:19: contract 'C': anchor_month: only quarterly and yearly schedules "
            "have one"
        ),
        "contracts.yaml:12:16: contract 'C': bill_from: is before the start (2026-01-15)",
        (
            "contracts.yaml:14:60: contract 'C': lines[0].tax.exemption_reason: category E needs "
            "the exemption reason (BR-E-10)"
        ),
        "contracts.yaml:15:15: contract 'C': lines[1].sku: 'A' is already line 0; one line per sku",
        (
            "contracts.yaml:15:60: contract 'C': lines[1].tax: give either `tax` or "
            "`tax_class`/`supply` (the VAT rules), not both"
        ),
        (
            "contracts.yaml:15:60: contract 'C': lines[1].tax.rate: category S needs a rate "
            "above 0 (BR-S-05)"
        ),
        (
            "contracts.yaml:17:20: contract 'C': changes[0].effective: must be after the start "
            "(2026-01-15)"
        ),
        "contracts.yaml:20:39: contract 'C': changes[0].lines[0].tax.rate: category Z takes rate 0",
        (
            "contracts.yaml:20:60: contract 'C': changes[0].lines[0].tax.exemption_reason: "
            "category Z must not state an exemption reason"
        ),
        (
            "contracts.yaml:21:21: contract 'C': changes[1].effective: must be after the change "
            "before it (2026-01-10)"
        ),
    ]


def test_an_impossible_date_names_the_place() -> None:
    with pytest.raises(SourceFileError) as caught:
        parse_contracts_text("contracts:\n  - id: A\n    start: 2026-13-01\n", "c.yaml")
    assert caught.value.message == (
        "c.yaml:3:12: '2026-13-01' is not a date: month must be in 1..12"
    )


def test_a_file_that_is_not_a_contract_list() -> None:
    assert problems("- 1\n") == [
        "contracts.yaml:1:1: a contract file is a mapping with a `contracts:` list"
    ]
    assert problems("contract: []\n") == [
        "contracts.yaml:1:1: unknown key 'contract'; a contract file has `contracts:`"
    ]
    assert problems("contracts: {}\n") == ["contracts.yaml:1:12: contracts: should be a list"]
    assert problems("contracts: [1]\n") == [
        "contracts.yaml:1:13: contracts[0]: should be a mapping"
    ]
    assert problems("") == []


def test_the_id_must_fit_a_source_key() -> None:
    (found,) = problems(contracts_text(contract_data(id="has space")))
    assert "contract 'has space': id: string should match pattern" in found


def test_errors_raise_from_the_loader_with_every_problem(tmp_path: Path) -> None:
    file = tmp_path / "contracts.yaml"
    file.write_text(TEXT, encoding="utf-8")
    with pytest.raises(ContractsError) as caught:
        load_contract_paths([file])
    assert len(caught.value.issues) == 10
    assert caught.value.message.splitlines()[0].startswith(f"{file}:2:5: contract 'ACME'")


# --------------------------------------------------------------------------- the model


def test_the_customer_becomes_the_buyer_the_ubl_renderer_reads() -> None:
    customer = contract_data()["customer"] | {
        "contact": "Jana Keller",
        "electronic_address": "0088:4035811991021",
        "legal_id": "0204:991-12345-67",
        "ids": {"sap": "1000123"},
        "email": "ap@acme.example",
    }
    buyer = contract(customer=customer).buyer()
    assert buyer.company == "ACME Facility Services GmbH"
    assert buyer.name == "Jana Keller"
    assert buyer.tax_id == "DE123456788"
    assert buyer.external_ids == {
        "sap": "1000123",
        "peppol": "0088:4035811991021",
        "legal": "0204:991-12345-67",
    }


def test_versions_and_defaults() -> None:
    line = contract_data()["lines"][0] | {"quantity": 12}
    c = contract(changes=[{"effective": date(2026, 3, 15), "lines": [line]}])
    assert [v[0] for v in c.versions()] == [date(2026, 1, 15), date(2026, 3, 15)]
    assert (c.timing, c.billing_day, c.anchor_month, c.bill_from) == ("advance", 1, None, None)
    assert c.billing_start == date(2026, 1, 15)
    assert contract(bill_from=date(2026, 4, 1)).billing_start == date(2026, 4, 1)
    assert c.lines[0].full_amount("EUR") == Decimal("490.00")
    assert c.lines[0].tax is not None
    assert c.lines[0].tax.category is TaxCategory.STANDARD


def test_exemption_reasons_default_per_category() -> None:
    base = contract_data()["lines"][0]
    ae = contract(lines=[base | {"tax": {"category": "AE"}}]).lines[0].tax
    assert ae is not None
    assert ae.reason == "Reverse charge"
    e = contract(lines=[base | {"tax": {"category": "E", "exemption_reason": "Art. 132"}}])
    assert e.lines[0].tax is not None
    assert e.lines[0].tax.reason == "Art. 132"


# --------------------------------------------------------------------------- settings


def test_the_service_needs_vat_rules_or_explicit_tax(tmp_path: Path) -> None:
    data = contract_data()
    data["lines"][0].pop("tax")
    file = tmp_path / "c.yaml"
    file.write_text(contracts_text(data), encoding="utf-8")
    from hub.store.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    no_rules = InvoicingSettings(seller=SELLER, contracts=file)
    with pytest.raises(
        ContractsError,
        match=r"c.yaml:\d+:\d+: contract 'C-1': lines\[0\]: line "
        r"SEAT has no `tax` and no VAT rules are configured",
    ):
        BillingService(engine, None, no_rules)  # type: ignore[arg-type]
    BillingService(engine, None, settings(file))  # type: ignore[arg-type]

    file.write_text(contracts_text(contract_data(currency="USD")), encoding="utf-8")
    books = settings(file, seller=SELLER.model_copy(update={"accounting_currency": "EUR"}))
    with pytest.raises(ContractsError, match="currency: USD differs from the books' EUR"):
        BillingService(engine, None, books)  # type: ignore[arg-type]


def test_without_contracts_the_service_says_what_to_set(tmp_path: Path) -> None:
    from hub.store.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    with pytest.raises(ConfigError, match=r"set invoicing\.contracts"):
        BillingService(engine, None, settings(None))  # type: ignore[arg-type]


def test_the_settings_take_a_contracts_path_and_a_billing_interval(tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text(
        "invoicing:\n"
        "  seller: {name: Nordwerk, address: {city: Hamburg, country: DE}}\n"
        "  contracts: config/billing\n"
        "  billing_every_seconds: 600\n",
        encoding="utf-8",
    )
    loaded = load_settings(config, environ={}).invoicing
    assert loaded is not None
    # Like `pricing`: kept as written, so a relative path is relative to where `o2c` runs.
    assert loaded.contracts == tmp_path / "config/billing"  # beside the config file
    assert loaded.billing_every_seconds == 600
    assert InvoicingSettings(seller=SELLER).billing_every_seconds == 3600
    assert InvoicingSettings(seller=SELLER).contracts is None
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        InvoicingSettings(seller=SELLER, billing_every_seconds=-1)
