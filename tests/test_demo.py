"""`o2c demo`: order to cash on loopback. Every order reaches SAP once, every parcel is
invoiced once, and every invoice is in the SAP ledger and on the shop's order with the
same amount to the cent, whatever faults SAP injects."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path


def test_demo_order_to_cash_with_faults(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2C_")}
    result = subprocess.run(
        [
            sys.executable,
            *("-c", "from hub.cli.main import entry; entry()"),
            *("demo", "--orders", "200", "--duration", "5", "--fault-rate", "0.15"),
            *("--workdir", str(tmp_path / "demo")),
        ],
        cwd=tmp_path,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every one of 200 orders is in SAP once;" in result.stdout
    assert "with the same amount to the cent; nothing pending." in result.stdout
    assert re.search(r"amounts differing hub/SAP/shop\s*│\s*0\s*│", result.stdout)
    # the database is left to explore
    with sqlite3.connect(tmp_path / "demo" / "hub.db") as db:
        kinds = dict(
            db.execute(
                "SELECT system || '/' || kind, count(DISTINCT external_id) FROM message "
                "GROUP BY system, kind"
            )
        )
        statuses = dict(db.execute("SELECT status, count(*) FROM delivery GROUP BY status"))
        routes = dict(db.execute("SELECT route, count(*) FROM delivery GROUP BY route"))
        invoices = db.execute(
            "SELECT count(*), count(DISTINCT source_key), min(seq), max(seq) FROM issued_invoice"
        ).fetchone()
        shipped = db.execute(
            "SELECT canonical FROM message WHERE system = 'magento' AND kind = 'shipment'"
        ).fetchall()
        claimed = db.execute("SELECT quantity FROM invoice_line_claim").fetchall()
    parcels = kinds["magento/shipment"]
    assert kinds["magento/order"] == 200
    assert parcels > 200  # every fourth order leaves in two parcels
    assert kinds["hub/invoice"] == parcels
    assert invoices == (parcels, parcels, 1, parcels)  # one each, numbers without a gap
    assert set(statuses) == {"delivered"}
    # each order travels again when shipping and invoicing change it (SAP finds it there)
    assert routes.pop("magento-order-to-sap") >= 200
    assert routes == {
        "shipment-to-invoicing": parcels,
        "invoice-to-sap-ledger": parcels,
        "invoice-to-magento": parcels,
    }
    shipped_units = sum(
        Decimal(line["quantity"]) for (text,) in shipped for line in json.loads(text)["lines"]
    )
    assert sum(Decimal(q) for (q,) in claimed) == shipped_units  # exactly what shipped
