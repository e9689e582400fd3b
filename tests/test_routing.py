"""routes.yaml: checked at load with file:line:column and a reason; routes match documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import RouteError
from hub.routing import load_routes
from tests.conftest import ROOT
from tests.pipeline_support import MAPPING_DIRS

GOOD_TARGET = "targets:\n  erp: {type: http, url: 'http://127.0.0.1:9/x'}\n"


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "routes.yaml"
    path.write_text(text, encoding="utf-8")
    return load_routes(path, MAPPING_DIRS)


@pytest.mark.parametrize(
    ("body", "where", "words"),
    [
        (
            "routes:\n  - {name: r, source: {system: magento, kind: order}, target: epr}\n",
            ":4:",
            "unknown target 'epr'; did you mean 'erp'?",
        ),
        (
            (
                "routes:\n  - {name: r, source: {system: magento, kind: order}, target: erp,\n"
                "     when: 'currency == '}\n"
            ),
            ":5:",
            "invalid JMESPath",
        ),
        (
            (
                "routes:\n  - {name: r, source: {system: magento, kind: order}, target: erp,\n"
                "     mapping: nope/order.outbound}\n"
            ),
            ":5:",
            "no mapping 'nope/order.outbound'",
        ),
        (
            (
                "routes:\n  - {name: r, source: {system: magento, kind: order}, target: erp,\n"
                "     retry: {max_attempts: 0}}\n"
            ),
            ":5:",
            "max_attempts",
        ),
        ("routes:\n  - {name: r, source: {system: magento}, target: erp}\n", ":4:", "kind"),
    ],
)
def test_mistakes_are_located(tmp_path: Path, body: str, where: str, words: str) -> None:
    with pytest.raises(RouteError) as info:
        load(tmp_path, GOOD_TARGET + body)
    text = str(info.value)
    assert f"routes.yaml{where}" in text
    assert words in text


def test_missing_secret_reference_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("O2C_TEST_ERP_TOKEN", raising=False)
    text = (
        "targets:\n  erp:\n    type: http\n    url: 'http://127.0.0.1:9/x'\n"
        "    headers: {Authorization: {$env: O2C_TEST_ERP_TOKEN}}\n"
    )
    with pytest.raises(RouteError, match="environment variable O2C_TEST_ERP_TOKEN is not set"):
        load(tmp_path, text)
    monkeypatch.setenv("O2C_TEST_ERP_TOKEN", "Bearer s3cr3t-value-xyz")
    table = load(tmp_path, text)
    assert "s3cr3t" not in repr(table)  # the header is a SecretStr


def test_conditions_and_ordering_keys(tmp_path: Path) -> None:
    table = load(
        tmp_path,
        GOOD_TARGET
        + (
            "  crm: {type: http, url: 'http://127.0.0.1:9/y'}\n"
            "routes:\n"
            "  - {name: eur, source: {system: magento, kind: order}, target: erp,\n"
            "     when: \"currency == 'EUR'\", ordering_key: buyer.email}\n"
            "  - {name: all, source: {system: magento, kind: order}, target: crm}\n"
        ),
    )
    eur = {"currency": "EUR", "buyer": {"email": "a@b.c"}}
    usd = {"currency": "USD", "buyer": {"email": "a@b.c"}}
    assert [r.name for r in table.for_document("magento", "order", eur)] == ["eur", "all"]
    assert [r.name for r in table.for_document("magento", "order", usd)] == ["all"]
    assert table.for_document("magento", "shipment", eur) == []
    assert table.route("eur").ordering_key_for(eur, "X1") == "a@b.c"
    assert table.route("all").ordering_key_for(eur, "X1") == "X1"


def test_bundled_routes_load() -> None:
    table = load_routes(ROOT / "config" / "routes.yaml", [ROOT / "mappings"])
    assert {r.target for r in table.routes} == {"erp", "crm", "wms"}
