"""Snapshot tests: every bundled mapping over every bundled sample, compared in full.

A change to a mapping, a transform or a canonical model that alters any output field
shows up here as a diff. When the change is intended, refresh the snapshots with
``UPDATE_SNAPSHOTS=1 make test`` and review the diff in git.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from hub.mapping import CompiledMapping
from tests.conftest import SAMPLES, read_json

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"


def _check(name: str, actual: dict[str, Any]) -> None:
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"no snapshot {path}; run UPDATE_SNAPSHOTS=1 make test and review it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8")
    assert json.loads(text) == json.loads(expected), f"{path} differs; see the diff above"


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_magento_order_then_sap_sales_order(
    sample: Path, magento_order_mapping: CompiledMapping, sap_order_mapping: CompiledMapping
) -> None:
    inbound = magento_order_mapping.apply(read_json(sample))
    _check(
        f"magento.order.inbound/{sample.stem}",
        {
            "document": json.loads(inbound.document.model_dump_json()),
            "unmapped": inbound.unmapped,
            "discrepancies": [str(d) for d in inbound.discrepancies],
        },
    )
    outbound = sap_order_mapping.apply(inbound.document)
    _check(
        f"sap.order.outbound/{sample.stem}",
        {"document": json.loads(outbound.document.model_dump_json(exclude_none=True))},
    )
