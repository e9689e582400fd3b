"""The `o2c` command line, run in a subprocess as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, SAMPLES

MAPPING = "mappings/magento/order.inbound.yaml"


def o2c(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("O2C_")}
    environ.update(env or {})
    environ["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-c", "from hub.cli.main import entry; entry()", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=environ,
        check=False,
        timeout=120,
    )


def test_version() -> None:
    result = o2c("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("o2c-hub ")


def test_help_lists_commands() -> None:
    result = o2c("--help")
    assert result.returncode == 0
    for command in ("mapping", "schema", "config", "demo"):
        assert command in result.stdout


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_mapping_test_prints_canonical_order(sample: Path) -> None:
    result = o2c("mapping", "test", MAPPING, str(sample))
    assert result.returncode == 0, result.stderr
    order = json.loads(result.stdout)
    source = json.loads(sample.read_text(encoding="utf-8"))
    assert order["kind"] == "order"
    assert order["order_number"] == source["increment_id"]
    # Decimal amounts travel as exact strings in JSON, and agree to the cent
    assert isinstance(order["totals"]["grand_total"], str)
    exact = json.loads(sample.read_text(encoding="utf-8"), parse_float=Decimal)
    assert Decimal(order["totals"]["grand_total"]) == exact["grand_total"]


def test_mapping_test_explain() -> None:
    result = o2c("mapping", "test", MAPPING, str(SAMPLES / "order-eu-b2b-vat.json"), "--explain")
    assert result.returncode == 0, result.stderr
    assert "explain:" in result.stderr
    assert "order_currency_code" in result.stderr
    json.loads(result.stdout)


def test_missing_items_fails_with_field_and_source() -> None:
    result = o2c("mapping", "test", MAPPING, str(FIXTURES / "magento/broken/no-items.json"))
    assert result.returncode == 1
    assert "lines" in result.stderr and "(source items)" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_missing_currency_fails_with_field_and_source() -> None:
    result = o2c("mapping", "test", MAPPING, str(FIXTURES / "magento/broken/no-currency.json"))
    assert result.returncode == 1
    assert "currency" in result.stderr and "order_currency_code" in result.stderr


def test_control_total_discrepancy_rejects_then_flags() -> None:
    broken = str(FIXTURES / "magento/broken/grand-total-omits-surcharge.json")
    rejected = o2c("mapping", "test", MAPPING, broken)
    assert rejected.returncode == 1
    assert "control total: totals.grand_total" in rejected.stderr
    assert "difference +4.95" in rejected.stderr
    flagged = o2c("mapping", "test", MAPPING, broken, "--on-mismatch", "flag")
    assert flagged.returncode == 0
    assert "control-total discrepancy (flagged)" in flagged.stderr
    json.loads(flagged.stdout)


@pytest.mark.parametrize(
    ("name", "where", "words"),
    [
        ("bad-jmespath.yaml", ":7:", "invalid JMESPath"),
        ("unknown-field.yaml", ":11:7:", "unknown field 'quantity_ordered'"),
        ("unknown-transform.yaml", ":9:25:", "unknown transform 'uppercase'"),
    ],
)
def test_mapping_check_reports_file_line_column(name: str, where: str, words: str) -> None:
    path = FIXTURES / "mappings" / name
    result = o2c("mapping", "check", str(path))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith(str(path) + where)
    assert words in lines[0]


def test_mapping_check_all_bundled() -> None:
    result = o2c("mapping", "check")
    assert result.returncode == 0, result.stderr
    assert "magento/order.inbound" in result.stdout
    assert "sap/order.outbound" in result.stdout


def test_schema_order() -> None:
    result = o2c("schema", "order")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert "lines" in schema["properties"]
    assert "totals" in schema["properties"]


def test_unknown_schema_kind_is_one_line_error() -> None:
    result = o2c("schema", "nonsense")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: unknown canonical kind 'nonsense'")
    assert "Traceback" not in result.stderr


def test_debug_shows_traceback() -> None:
    result = o2c("--debug", "schema", "nonsense")
    assert result.returncode == 1
    assert "Traceback" in result.stderr


def test_missing_input_file_is_one_line_error() -> None:
    result = o2c("mapping", "test", MAPPING, "does-not-exist.json")
    assert result.returncode == 1
    assert "does-not-exist.json: file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_json_input_is_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"increment_id": "1",\n  "items": [}', encoding="utf-8")
    result = o2c("mapping", "test", MAPPING, str(bad))
    assert result.returncode == 1
    assert f"{bad}:2:" in result.stderr and "invalid JSON" in result.stderr


def test_bad_config_fails_with_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text("server:\n  port: lots\n", encoding="utf-8")
    result = o2c("mapping", "check", "--config", str(config))
    assert result.returncode == 1
    assert f"{config}:2:" in result.stderr and "server.port" in result.stderr


def test_demo_maps_every_sample() -> None:
    result = o2c("demo", "--samples")
    assert result.returncode == 0, result.stderr
    count = len(list(SAMPLES.glob("*.json")))
    assert f"{count} of {count} sample orders mapped; 0 rejected." in result.stdout
