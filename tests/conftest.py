"""Shared fixtures: paths to the repo's mappings, samples and test fixtures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hub.mapping import CompiledMapping, load_mapping_file

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ROOT / "mappings"
SAMPLES = MAPPINGS / "magento" / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


@pytest.fixture(scope="session")
def magento_order_mapping() -> CompiledMapping:
    return load_mapping_file(MAPPINGS / "magento" / "order.inbound.yaml", "magento/order.inbound")


@pytest.fixture(scope="session")
def sap_order_mapping() -> CompiledMapping:
    return load_mapping_file(MAPPINGS / "sap" / "order.outbound.yaml", "sap/order.outbound")


@pytest.fixture(scope="session", autouse=True)
def _drop_pg_schemas() -> Iterator[None]:
    yield
    from tests.pg import drop_schemas

    drop_schemas()
